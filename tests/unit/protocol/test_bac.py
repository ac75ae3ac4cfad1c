"""Basic access control (ICAO 9303-11 §4.3) against the worked example of Appendix D.2–D.4.

Vectors: tests/vectors/bac_icao9303_11_appendix_d.json and sm_icao9303_11_appendix_d4.json. The
long document number case uses the TD1 specimen of ICAO 9303-5 (``I<UTOD23145890<7349``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cardkit.encoding.mrz import Td1, Td3
from cardkit.errors import AccessDeniedError, CardError, ProtocolError
from cardkit.iso7816.apdu import Command, Response
from cardkit.protocol.bac import (
    MrzKey,
    bac_keys,
    card_mutual_authenticate,
    initial_ssc,
    perform_bac,
    session_keys,
    terminal_authentication_data,
    verify_chip_authentication_data,
)
from cardkit.protocol.sm import SecureConnection, SecureMessaging

VECTORS = Path(__file__).parents[2] / "vectors"
BAC = json.loads((VECTORS / "bac_icao9303_11_appendix_d.json").read_text())
D2, D3 = BAC["d2"], BAC["d3"]
D4 = json.loads((VECTORS / "sm_icao9303_11_appendix_d4.json").read_text())

KEY = MrzKey(D2["document_number"], D2["date_of_birth"], D2["date_of_expiry"])


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def scripted_rng(*values: bytes) -> Callable[[int], bytes]:
    queue = list(values)

    def rng(n: int) -> bytes:
        value = queue.pop(0)
        assert len(value) == n
        return value

    return rng


class FakeConnection:
    """A tiny scripted connection: checks each sent APDU, answers from the script."""

    def __init__(self, script: list[tuple[bytes | None, bytes]]) -> None:
        self.script = list(script)
        self.sent: list[bytes] = []

    def send(self, command: Command) -> Response:
        expected, answer = self.script.pop(0)
        self.sent.append(bytes(command))
        if expected is not None:
            assert bytes(command) == expected
        return Response.from_bytes(answer)


class FakeChip:
    """A chip that answers BAC with cardkit's card-side helper, then speaks SM."""

    def __init__(self, key: MrzKey, rnd_icc: bytes, k_icc: bytes) -> None:
        self.k_enc, self.k_mac = bac_keys(key.key_seed())
        self.rnd_icc, self.k_icc = rnd_icc, k_icc
        self.sm: SecureMessaging | None = None

    def send(self, command: Command) -> Response:
        if self.sm is not None:
            plain = self.sm.unwrap_command(command)
            return self.sm.wrap_response(Response(plain.data[::-1], 0x9000))
        if command.ins == 0x84:
            return Response(self.rnd_icc, 0x9000)
        try:
            data, self.sm = card_mutual_authenticate(
                self.k_enc, self.k_mac, self.rnd_icc, self.k_icc, command.data
            )
        except ProtocolError:
            return Response(b"", 0x6300)
        return Response(data, 0x9000)


# --------------------------------------------------------------------------- D.2


def test_appendix_d2_mrz_information_and_keys() -> None:
    assert KEY.mrz_information() == D2["mrz_information"].encode()
    assert hashlib.sha1(KEY.mrz_information()).digest() == h(D2["sha1"])
    assert KEY.key_seed() == h(D2["k_seed"])
    assert bac_keys(KEY.key_seed()) == (h(D2["k_enc"]), h(D2["k_mac"]))


def test_key_from_the_td3_specimen() -> None:
    # ICAO 9303-4 specimen: P<UTOERIKSSON<<ANNA<MARIA / L898902C<3UTO6908061F9406236ZE184226B...
    td3 = Td3(
        document_code="P<",
        issuing_state="UTO",
        document_number="L898902C",
        date_of_birth="690806",
        sex="F",
        date_of_expiry="940623",
        nationality="UTO",
        primary_identifier="ERIKSSON",
        secondary_identifier="ANNA MARIA",
        optional_data="ZE184226B",
    )
    assert MrzKey.from_mrz(td3).key_seed() == h(D2["k_seed"])
    assert MrzKey.from_mrz(td3) == KEY  # trailing fillers do not matter


def test_long_document_number_td1() -> None:
    # ICAO 9303-5 TD1 specimen with a 12-character number: line 1 "I<UTOD23145890<7349<<...":
    # the whole number D23145890734 and its check digit 9 (printed after the overflow) go into
    # MRZ_information (9303-11 §4.3.1 with the 9303-5 note j rule).
    td1 = Td1(
        document_code="I<",
        issuing_state="UTO",
        document_number="D23145890734",
        date_of_birth="740812",
        sex="F",
        date_of_expiry="120415",
        nationality="UTO",
        primary_identifier="ERIKSSON",
        secondary_identifier="ANNA MARIA",
    )
    assert td1.lines[0].startswith("I<UTOD23145890<7349")
    assert MrzKey.from_mrz(td1).mrz_information() == b"D2314589073497408122" + b"1204159"


def test_mrz_key_is_secret_and_validated() -> None:
    assert "L898902C" not in repr(KEY) and "690806" not in repr(KEY)
    for bad in (
        ("", "690806", "940623"),
        ("L89890-2C", "690806", "940623"),
        ("L898902C", "6908O6", "940623"),
        ("L898902C", "690806", "9406231"),
        ("A" * 23, "690806", "940623"),
    ):
        with pytest.raises(ValueError) as info:
            MrzKey(*bad)
        assert "L898902C" not in str(info.value) and "6908O6" not in str(info.value)


# --------------------------------------------------------------------------- D.3


def test_appendix_d3_pure_helpers() -> None:
    k_enc, k_mac = h(D2["k_enc"]), h(D2["k_mac"])
    data = terminal_authentication_data(
        k_enc, k_mac, h(D3["rnd_ifd"]), h(D3["rnd_icc"]), h(D3["k_ifd"])
    )
    assert data == h(D3["e_ifd"] + D3["m_ifd"])
    assert session_keys(h(D3["k_ifd"]), h(D3["k_icc"])) == (h(D3["ks_enc"]), h(D3["ks_mac"]))
    assert initial_ssc(h(D3["rnd_icc"]), h(D3["rnd_ifd"])) == int(D3["ssc"], 16)
    sm = verify_chip_authentication_data(
        k_enc,
        k_mac,
        h(D3["rnd_ifd"]),
        h(D3["rnd_icc"]),
        h(D3["k_ifd"]),
        h(D3["external_authenticate_response"]),
    )
    assert sm.cipher == "3DES" and sm.ssc == int(D3["ssc"], 16)


def test_appendix_d3_card_side() -> None:
    response, sm = card_mutual_authenticate(
        h(D2["k_enc"]),
        h(D2["k_mac"]),
        h(D3["rnd_icc"]),
        h(D3["k_icc"]),
        h(D3["e_ifd"] + D3["m_ifd"]),
    )
    assert response == h(D3["external_authenticate_response"])
    assert response == h(D3["e_icc"] + D3["m_icc"])
    assert sm.ssc == int(D3["ssc"], 16)
    # The card's session answers D.4's first protected command as printed there.
    first = D4["exchanges"][0]
    sm.unwrap_command(Command.from_bytes(h(first["protected_command"])))
    assert bytes(sm.wrap_response(Response(b"", 0x9000))) == h(first["protected_response"])


def test_appendix_d3_and_d4_replayed_through_perform_bac() -> None:
    script: list[tuple[bytes | None, bytes]] = [
        (h(D3["get_challenge_command"]), h(D3["rnd_icc"] + "9000")),
        (
            h(D3["external_authenticate_command"]),
            h(D3["external_authenticate_response"] + "9000"),
        ),
    ]
    script += [(h(ex["protected_command"]), h(ex["protected_response"])) for ex in D4["exchanges"]]
    fake = FakeConnection(script)
    sm = perform_bac(fake, KEY, rng=scripted_rng(h(D3["rnd_ifd"]), h(D3["k_ifd"])))
    assert sm.ssc == int(D3["ssc"], 16)
    secure = SecureConnection(fake, sm)
    answers = [secure.send(Command.from_bytes(h(ex["command"]))) for ex in D4["exchanges"]]
    assert [bytes(a) for a in answers] == [h(ex["response"]) for ex in D4["exchanges"]]
    assert not fake.script


# --------------------------------------------------------------------------- wrong MRZ


WRONG = MrzKey("L898902C", "690806", "940624")


@pytest.mark.parametrize("sw", ["6300", "6982", "6A80", "63C2", "6F00"])
def test_wrong_mrz_status_is_access_denied(sw: str) -> None:
    """9303-11 §4.3.3.2: the chip refuses EXTERNAL AUTHENTICATE when M_IFD does not verify under
    its own keys. Whatever status word it picks, that is a key it did not accept."""
    fake = FakeConnection([(None, h(D3["rnd_icc"] + "9000")), (None, h(sw))])
    with pytest.raises(AccessDeniedError) as info:
        perform_bac(fake, WRONG)
    assert info.value.key_kind == "MRZ"
    assert info.value.step == "BAC mutual authentication"
    assert str(info.value) == (
        "access denied: the MRZ does not open this card \u2014 enter it again"
    )
    assert "L898902C" not in str(info.value) and "940624" not in str(info.value)
    cause = info.value.__cause__
    assert isinstance(cause, CardError) and cause.sw == int(sw, 16)  # kept for --verbose


def test_chip_answer_that_does_not_verify_is_not_access_denied() -> None:
    # A chip that accepts the terminal's cryptogram although the MRZ is wrong (it answers under
    # the real keys): it does not hold the keys of this MRZ, so it is not a genuine chip.
    fake = FakeConnection(
        [
            (None, h(D3["rnd_icc"] + "9000")),
            (None, h(D3["external_authenticate_response"] + "9000")),
        ]
    )
    with pytest.raises(ProtocolError) as info:
        perform_bac(fake, WRONG, rng=scripted_rng(h(D3["rnd_ifd"]), h(D3["k_ifd"])))
    assert not isinstance(info.value, AccessDeniedError)
    assert info.value.step == "BAC mutual authentication"
    assert "response MAC does not verify" in str(info.value)


def test_wrong_mrz_against_the_card_side() -> None:
    chip = FakeChip(KEY, h(D3["rnd_icc"]), h(D3["k_icc"]))
    with pytest.raises(AccessDeniedError) as info:
        perform_bac(chip, WRONG)
    assert info.value.key_kind == "MRZ"
    assert chip.sm is None  # the chip opened no session


def test_wrong_rnd_ifd_is_rejected() -> None:
    other_rnd_ifd = bytes(8)
    with pytest.raises(ProtocolError, match=r"RND\.IFD"):
        verify_chip_authentication_data(
            h(D2["k_enc"]),
            h(D2["k_mac"]),
            other_rnd_ifd,
            h(D3["rnd_icc"]),
            h(D3["k_ifd"]),
            h(D3["external_authenticate_response"]),
        )


@pytest.mark.parametrize("answer", ["6D00", "0102039000"])
def test_get_challenge_failures(answer: str) -> None:
    with pytest.raises(ProtocolError) as info:
        perform_bac(FakeConnection([(None, h(answer))]), KEY)
    assert info.value.step == "BAC get challenge"


def test_short_chip_answer_is_rejected() -> None:
    fake = FakeConnection([(None, h(D3["rnd_icc"] + "9000")), (None, h("01029000"))])
    with pytest.raises(ProtocolError):
        perform_bac(fake, KEY)


def test_rng_must_return_the_requested_length() -> None:
    fake = FakeConnection([(None, h(D3["rnd_icc"] + "9000"))])
    with pytest.raises(ValueError):
        perform_bac(fake, KEY, rng=lambda n: bytes(n - 1))


# --------------------------------------------------------------------------- properties

MRZ_KEYS = st.builds(
    MrzKey,
    st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=22),
    st.text("0123456789", min_size=6, max_size=6),
    st.text("0123456789", min_size=6, max_size=6),
)


@given(
    MRZ_KEYS,
    st.binary(min_size=8, max_size=8),
    st.binary(min_size=16, max_size=16),
    st.binary(min_size=8, max_size=8),
    st.binary(min_size=16, max_size=16),
    st.binary(max_size=64),
)
def test_terminal_and_card_agree(
    key: MrzKey, rnd_icc: bytes, k_icc: bytes, rnd_ifd: bytes, k_ifd: bytes, payload: bytes
) -> None:
    chip = FakeChip(key, rnd_icc, k_icc)
    sm = perform_bac(chip, key, rng=scripted_rng(rnd_ifd, k_ifd))
    assert chip.sm is not None and sm.ssc == chip.sm.ssc
    answer = SecureConnection(chip, sm).send(Command(0x00, 0xDA, 0x00, 0x00, payload, ne=256))
    assert answer == Response(payload[::-1], 0x9000)


@given(st.binary(max_size=60))
def test_card_side_fuzz_raises_protocol_error_only(data: bytes) -> None:
    k_enc, k_mac = bac_keys(KEY.key_seed())
    with pytest.raises(ProtocolError) as info:
        card_mutual_authenticate(k_enc, k_mac, h(D3["rnd_icc"]), h(D3["k_icc"]), data)
    assert info.value.step == "BAC mutual authentication"
