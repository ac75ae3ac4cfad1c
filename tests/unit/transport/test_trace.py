"""APDU traces: the TRACE level, the format, and above all what must never be logged."""

from __future__ import annotations

import itertools
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cardkit.errors import EncodingError, TransportError
from cardkit.iso7816.apdu import Command, Response
from cardkit.transport.scripted import FunctionConnection, ScriptedConnection
from cardkit.transport.trace import (
    TRACE,
    SecretRedactor,
    TracingConnection,
    format_command,
    is_secret_command,
)

h = bytes.fromhex
LOGGER = "test.cardkit.apdu"

# ICAO 9303-11 Appendix D.2: the MRZ information of the worked example (document number,
# date of birth, date of expiry, with their check digits) and the BAC key seed derived from it.
MRZ_INFORMATION = b"L898902C<369080619406236"
K_SEED = h("239AB9CB282DAF66231DC5A4DF6BFBAE")
# Appendix D.3: RND.IC, and the EXTERNAL AUTHENTICATE cryptograms built from the MRZ keys.
RND_IC = h("4608F91988702212")
EXT_AUTH_DATA = h(
    "72C29C2371CC9BDB65B779B8E8D37B29ECC154AA56A8799FAE2F498F76ED92F25F1448EEA8AD90A7"
)
EXT_AUTH_RESPONSE = h(
    "46B9342A41396CD7386BF5803104D7CEDC122B9132139BAF2EEDC94EE178534F2F2D235D074D7449"
)
# Appendix D.4: a protected SELECT EF.COM, which is ciphertext and is logged as it is.
D4_SELECT = h("0CA4020C158709016375432908C044F68E08BF8B92D635FF24F800")
D4_SELECT_RESPONSE = h("990290008E08FA855A5D4C50A8ED9000")

CAN = b"123456"


def _tlv(tag: int, value: bytes) -> bytes:
    return bytes([tag, len(value)]) + value


# DOMAIN.md §7: PUT DATA P2=62, the MRZ seed {04 document number}{04 birth}{04 expiry}.
MRZ_SEED_BODY = _tlv(0x62, _tlv(0x04, b"L898902C<") + _tlv(0x04, b"690806") + _tlv(0x04, b"940623"))


def _forms(secret: bytes) -> list[str]:
    """Every way a secret could show up in a log line."""
    forms = [secret.hex(), secret.hex().upper(), secret.hex(" "), secret.hex(" ").upper()]
    if secret.isascii() and secret.decode().isprintable():
        forms.append(secret.decode())
    return forms


@pytest.fixture
def traced(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(TRACE, logger=LOGGER)
    return caplog


def _log(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(record.getMessage() for record in caplog.records)


def test_trace_level_is_registered_below_debug() -> None:
    assert TRACE < logging.DEBUG
    assert logging.getLevelName(TRACE) == "TRACE"


def test_logs_command_response_and_time(traced: pytest.LogCaptureFixture) -> None:
    inner = ScriptedConnection([(h("00A4020C02011E"), h("9000"))])
    ticks = itertools.count(step=0.0025)
    connection = TracingConnection(inner, logging.getLogger(LOGGER), clock=lambda: next(ticks))
    connection.send(Command(0x00, 0xA4, 0x02, 0x0C, h("011E")))
    assert [r.getMessage() for r in traced.records] == [
        "> 00 A4 02 0C 02 01 1E",
        "< 90 00 [2.5 ms]",
    ]
    assert {r.levelname for r in traced.records} == {"TRACE"}


def test_protected_apdus_are_logged_as_ciphertext(traced: pytest.LogCaptureFixture) -> None:
    inner = ScriptedConnection([(D4_SELECT, D4_SELECT_RESPONSE)])
    TracingConnection(inner, logging.getLogger(LOGGER)).send(Command.from_bytes(D4_SELECT))
    log = _log(traced)
    assert D4_SELECT.hex(" ").upper() in log
    assert D4_SELECT_RESPONSE.hex(" ").upper() in log


def test_bac_exchange_is_redacted(traced: pytest.LogCaptureFixture) -> None:
    # ICAO 9303-11 Appendix D.3, as sent by the terminal.
    inner = ScriptedConnection(
        [
            (h("0084000008"), RND_IC + h("9000")),
            (h("0082000028") + EXT_AUTH_DATA + h("28"), EXT_AUTH_RESPONSE + h("9000")),
        ]
    )
    connection = TracingConnection(inner, logging.getLogger(LOGGER))
    connection.send(Command(0x00, 0x84, 0x00, 0x00, ne=8))
    connection.send(Command(0x00, 0x82, 0x00, 0x00, EXT_AUTH_DATA, ne=0x28))
    log = _log(traced)
    for secret in (RND_IC, EXT_AUTH_DATA, EXT_AUTH_RESPONSE, EXT_AUTH_DATA[:8], K_SEED):
        assert not any(form in log for form in _forms(secret))
    assert [r.getMessage().split(" [")[0] for r in traced.records] == [
        "> 00 84 00 00 08",
        "< <8 bytes redacted> 90 00",
        "> 00 82 00 00 <40 bytes redacted> Ne=40",
        "< <40 bytes redacted> 90 00",
    ]


def test_mrz_and_can_never_reach_the_log(traced: pytest.LogCaptureFixture) -> None:
    dg1 = h("615B5F1F58") + b"I<UTOD231458907<<<<<<<<<<<<<<<" + MRZ_INFORMATION  # DG1-like
    inner = FunctionConnection(
        lambda command: Response(dg1 if command.ins == 0xB0 else b"", 0x9000)
    )
    connection = TracingConnection(inner, logging.getLogger(LOGGER))
    commands = [
        Command(0x00, 0xDA, 0x00, 0x62, MRZ_SEED_BODY),  # personalization: the MRZ seed
        Command(0x00, 0xDA, 0x00, 0x65, _tlv(0x04, CAN)),  # personalization: a CAN
        Command(0x00, 0x20, 0x00, 0x02, CAN),  # VERIFY with the CAN as reference data
        Command(0x00, 0x22, 0xC1, 0xA4, h("800A04007F00070202040202830102")),  # MSE:Set AT (CAN)
        Command(0x00, 0xA4, 0x02, 0x0C, h("0101")),  # SELECT DG1 ...
        Command(0x00, 0xB0, 0x00, 0x00, ne=256),  # ... and read it in clear
        Command(0x00, 0xD6, 0x00, 0x00, dg1),  # ... or write it
        Command(0x00, 0xB0, 0x81, 0x00, ne=256),  # DG1 by its short EF identifier
        Command(0x00, 0xB1, 0x01, 0x0D, h("5402000000"), ne=256),  # DG13 by FID, odd INS
    ]
    for command in commands:
        connection.send(command)
    log = _log(traced)
    for secret in (MRZ_INFORMATION, b"L898902C", b"690806", b"940623", CAN, MRZ_SEED_BODY, dg1):
        hits = [form for form in _forms(secret) if form in log]
        assert not hits, f"{secret!r} leaked into the trace"
    assert log.count("bytes redacted") >= len(commands) - 1  # all but the SELECT of DG1


def test_other_files_are_shown(traced: pytest.LogCaptureFixture) -> None:
    com = h("60145F0104303130365F36063034303030305C026175")  # ICAO 9303-11 D.4: EF.COM
    inner = FunctionConnection(lambda c: Response(com if c.ins == 0xB0 else b"", 0x9000))
    connection = TracingConnection(inner, logging.getLogger(LOGGER))
    connection.send(Command(0x00, 0xA4, 0x02, 0x0C, h("0101")))
    connection.send(Command(0x00, 0xA4, 0x02, 0x0C, h("011E")))  # DG1 no longer selected
    connection.send(Command(0x00, 0xB0, 0x00, 0x00, ne=256))
    assert com.hex(" ").upper() in _log(traced)


def test_no_records_and_no_overhead_above_trace(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    inner = ScriptedConnection([(h("0084000008"), RND_IC + h("9000"))])
    response = TracingConnection(inner, logging.getLogger(LOGGER)).send(
        Command(0x00, 0x84, 0x00, 0x00, ne=8)
    )
    assert response.data == RND_IC
    assert not caplog.records


def test_errors_are_logged_and_reraised(traced: pytest.LogCaptureFixture) -> None:
    removed = TransportError("card removed from Virtual PCD 00 00", reader="Virtual PCD 00 00")
    inner = ScriptedConnection([(h("00B0000004"), removed)])
    connection = TracingConnection(inner, logging.getLogger(LOGGER))
    with pytest.raises(TransportError):
        connection.send(Command(0x00, 0xB0, 0x00, 0x00, ne=4))
    assert "TransportError: card removed from Virtual PCD 00 00" in _log(traced)


def test_foreign_exception_messages_are_not_logged(traced: pytest.LogCaptureFixture) -> None:
    # A ScriptedConnection mismatch message echoes the APDU, here secret: only its type is logged.
    inner = ScriptedConnection(
        [(h("00DA0062") + bytes([len(MRZ_SEED_BODY)]) + bytes(len(MRZ_SEED_BODY)), h("9000"))]
    )
    connection = TracingConnection(inner, logging.getLogger(LOGGER))
    with pytest.raises(AssertionError):
        connection.send(Command(0x00, 0xDA, 0x00, 0x62, MRZ_SEED_BODY))
    log = _log(traced)
    assert "AssertionError" in log
    assert not any(form in log for form in _forms(b"L898902C"))


def test_custom_redaction_policy(traced: pytest.LogCaptureFixture) -> None:
    inner = FunctionConnection(lambda c: Response(b"\x01\x02", 0x9000))
    connection = TracingConnection(inner, logging.getLogger(LOGGER), redact=lambda c: False)
    connection.send(Command(0x00, 0x84, 0x00, 0x00, ne=2))
    assert "< 01 02 90 00" in _log(traced)


@pytest.mark.parametrize("ins", [0x22, 0x86, 0x82, 0x84, 0x88, 0xDA])
def test_access_control_instructions_are_secret(ins: int) -> None:
    assert is_secret_command(Command(0x00, ins, 0, 0))
    assert is_secret_command(Command(0x0C, ins, 0, 0))  # also under secure messaging


def test_redactor_ignores_protected_selects() -> None:
    redact = SecretRedactor()
    assert not redact(Command(0x00, 0xA4, 0x02, 0x0C, h("0101")))
    assert redact(Command(0x00, 0xB0, 0x00, 0x00, ne=8))
    # A protected SELECT's data is ciphertext: the file is unknown, so READ BINARY is not redacted
    # (its protected response is ciphertext too).
    assert not redact(Command.from_bytes(D4_SELECT))
    assert not redact(Command(0x0C, 0xB0, 0x00, 0x00, h("9701048E08ED6705417E96BA55"), ne=256))


def test_format_command_without_data_is_plain() -> None:
    assert format_command(Command(0x00, 0x84, 0x00, 0x00, ne=8), redact=True) == "00 84 00 00 08"


@given(
    st.lists(
        st.one_of(st.none(), st.binary(max_size=4), st.tuples(st.binary(), st.integers())),
        min_size=1,
    )
)
def test_junk_from_the_inner_connection(answers: list[object]) -> None:
    logger = logging.getLogger(LOGGER + ".junk")
    logger.setLevel(TRACE)
    feed = iter(answers)
    connection = TracingConnection(FunctionConnection(lambda c: next(feed)), logger)  # type: ignore[arg-type,return-value]
    try:
        response = connection.send(Command(0x00, 0xB0, 0x00, 0x00, ne=256))
    except EncodingError:
        return
    assert 0 <= response.sw <= 0xFFFF
