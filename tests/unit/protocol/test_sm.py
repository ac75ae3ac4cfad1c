"""Secure messaging (ICAO 9303-11 §9.8): known answers, failure handling, fuzzing, round trips.

Known answers: ICAO 9303-11 Appendix D.4 (3DES, tests/vectors/sm_icao9303_11_appendix_d4.json,
every intermediate value) and AES-128 vectors from gmrtd's test suite
(tests/vectors/sm_aes_gmrtd_sm_test.json; 9303-11 prints no protected AES APDUs).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cardkit.errors import EncodingError, ProtocolError, TransportError
from cardkit.iso7816.apdu import Command, Response
from cardkit.protocol.sm import SecureConnection, SecureMessaging, SmCommandError

VECTORS = Path(__file__).parents[2] / "vectors"
D4 = json.loads((VECTORS / "sm_icao9303_11_appendix_d4.json").read_text())
AES = json.loads((VECTORS / "sm_aes_gmrtd_sm_test.json").read_text())


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def d4_session() -> SecureMessaging:
    return SecureMessaging("3DES", h(D4["ks_enc"]), h(D4["ks_mac"]), int(D4["ssc"], 16))


class FakeConnection:
    """A tiny scripted connection: checks each sent APDU, answers from the script."""

    def __init__(self, script: list[tuple[bytes | None, bytes | Exception]]) -> None:
        self.script = list(script)
        self.sent: list[bytes] = []

    def send(self, command: Command) -> Response:
        expected, answer = self.script.pop(0)
        self.sent.append(bytes(command))
        if expected is not None:
            assert bytes(command) == expected
        if isinstance(answer, Exception):
            raise answer
        return Response.from_bytes(answer)


# --------------------------------------------------------------------------- Appendix D.4


def test_appendix_d4_every_intermediate_value() -> None:
    sm = d4_session()
    for ex in D4["exchanges"]:
        wrapped, trace = sm.wrap_traced(Command.from_bytes(h(ex["command"])))
        assert trace.ssc == h(ex["command_ssc"])
        assert trace.padded_data == h(ex["padded_data"])
        assert trace.encrypted_data == h(ex["encrypted_data"])
        assert trace.data_do == h(ex["do87"])
        assert trace.le_do == h(ex["do97"])
        assert trace.mac_data == h(ex["m"])
        assert trace.mac_input == h(ex["n"])
        assert trace.mac == h(ex["cc"])
        assert wrapped.header == h(ex["masked_header"])
        assert bytes(wrapped) == h(ex["protected_command"])
        assert bytes(wrapped).endswith(h(ex["do8e"]) + b"\x00")

        plain, rtrace = sm.unwrap_traced(Response.from_bytes(h(ex["protected_response"])))
        assert rtrace.ssc == h(ex["response_ssc"])
        assert rtrace.data_do == h(ex["response_do87"])
        assert rtrace.status_do == h(ex["response_do99"])
        assert rtrace.mac_input == h(ex["k"])
        assert rtrace.mac == h(ex["response_cc"])
        assert bytes(plain) == h(ex["response"])
    assert sm.active


def test_appendix_d4_through_secure_connection() -> None:
    fake = FakeConnection(
        [(h(ex["protected_command"]), h(ex["protected_response"])) for ex in D4["exchanges"]]
    )
    connection = SecureConnection(fake, d4_session())
    answers = [connection.send(Command.from_bytes(h(ex["command"]))) for ex in D4["exchanges"]]
    assert [bytes(a) for a in answers] == [h(ex["response"]) for ex in D4["exchanges"]]
    # EF.COM as D.4 reads it: 60 14 5F01 04 "0106" 5F36 06 "040000" 5C 02 61 75.
    assert answers[1].data + answers[2].data == h("60145F0104303130365F36063034303030305C026175")


def test_appendix_d4_card_side_mirrors_the_terminal() -> None:
    card = d4_session()
    for ex in D4["exchanges"]:
        command = card.unwrap_command(Command.from_bytes(h(ex["protected_command"])))
        expected = Command.from_bytes(h(ex["command"]))
        assert (command.cla, command.ins, command.p1, command.p2, command.data, command.ne) == (
            expected.cla,
            expected.ins,
            expected.p1,
            expected.p2,
            expected.data,
            expected.ne,
        )
        answer = card.wrap_response(Response.from_bytes(h(ex["response"])))
        assert bytes(answer) == h(ex["protected_response"])


# --------------------------------------------------------------------------- AES


def test_aes_command_gmrtd_vector() -> None:
    v = AES["command"]
    sm = SecureMessaging("AES", h(v["ks_enc"]), h(v["ks_mac"]), int(v["ssc_before"], 16))
    assert bytes(sm.wrap(Command.from_bytes(h(v["plain"])))) == h(v["protected"])
    assert sm.ssc == int(v["ssc_after"], 16)
    card = SecureMessaging("AES", h(v["ks_enc"]), h(v["ks_mac"]), int(v["ssc_before"], 16))
    unwrapped = card.unwrap_command(Command.from_bytes(h(v["protected"])))
    assert unwrapped.data == Command.from_bytes(h(v["plain"])).data


def test_aes_response_gmrtd_vector_long_do87() -> None:
    v = AES["response"]
    sm = SecureMessaging("AES", h(v["ks_enc"]), h(v["ks_mac"]), int(v["ssc_before"], 16))
    assert bytes(sm.unwrap(Response.from_bytes(h(v["protected"])))) == h(v["plain"])
    assert sm.ssc == int(v["ssc_after"], 16)
    card = SecureMessaging("AES", h(v["ks_enc"]), h(v["ks_mac"]), int(v["ssc_before"], 16))
    assert bytes(card.wrap_response(Response.from_bytes(h(v["plain"])))) == h(v["protected"])


# --------------------------------------------------------------------------- failures


def _assert_ended(sm: SecureMessaging) -> None:
    assert not sm.active
    with pytest.raises(ProtocolError) as info:
        sm.wrap(Command(0x00, 0xB0, 0, 0, ne=4))
    assert info.value.step == "SM session"
    with pytest.raises(ProtocolError):
        sm.unwrap(Response(b"", 0x9000))


def _after_select() -> SecureMessaging:
    sm = d4_session()
    sm.wrap(Command.from_bytes(h(D4["exchanges"][0]["command"])))
    return sm


def test_tampered_response_mac_ends_the_session() -> None:
    sm = _after_select()
    bad = bytearray(h(D4["exchanges"][0]["protected_response"]))
    bad[-3] ^= 0x01  # last MAC byte
    with pytest.raises(ProtocolError) as info:
        sm.unwrap(Response.from_bytes(bytes(bad)))
    assert info.value.step == "SM response"
    assert "MAC" in str(info.value)
    _assert_ended(sm)


def test_tampered_cryptogram_fails_the_mac_not_the_padding() -> None:
    ex = D4["exchanges"][1]
    sm = SecureMessaging("3DES", h(D4["ks_enc"]), h(D4["ks_mac"]), int(ex["command_ssc"], 16))
    bad = bytearray(h(D4["exchanges"][1]["protected_response"]))
    bad[4] ^= 0x80
    with pytest.raises(ProtocolError, match="MAC"):
        sm.unwrap(Response.from_bytes(bytes(bad)))
    _assert_ended(sm)


@pytest.mark.parametrize("cut", [1, 3, 8, 12])
def test_truncated_response_ends_the_session(cut: int) -> None:
    sm = _after_select()
    raw = h(D4["exchanges"][0]["protected_response"])
    with pytest.raises(ProtocolError) as info:
        sm.unwrap(Response(raw[:-2][:-cut], 0x9000))
    assert info.value.step == "SM response"
    _assert_ended(sm)


def test_missing_do99_ends_the_session() -> None:
    sm = _after_select()
    with pytest.raises(ProtocolError, match="DO'99'") as info:
        sm.unwrap(Response(h("8E08FA855A5D4C50A8ED"), 0x9000))
    assert info.value.step == "SM response"
    _assert_ended(sm)


def test_plain_success_without_data_objects_is_an_error() -> None:
    sm = _after_select()
    with pytest.raises(ProtocolError, match="DO'99'"):
        sm.unwrap(Response(b"", 0x9000))
    _assert_ended(sm)


@pytest.mark.parametrize("sw", [0x6982, 0x6987, 0x6988, 0x6A82])
def test_unprotected_error_is_returned_and_ends_the_session(sw: int) -> None:
    fake = FakeConnection([(None, sw.to_bytes(2, "big"))])
    connection = SecureConnection(fake, d4_session())
    answer = connection.send(Command.from_bytes(h(D4["exchanges"][0]["command"])))
    assert answer == Response(b"", sw)
    assert connection.sm.end_reason is not None and f"{sw:04X}" in connection.sm.end_reason
    _assert_ended(connection.sm)
    with pytest.raises(ProtocolError):
        connection.send(Command(0x00, 0xB0, 0, 0, ne=4))
    assert len(fake.sent) == 1  # nothing sent after the session ended


def test_protected_error_status_keeps_the_session() -> None:
    terminal, card = d4_session(), d4_session()
    card.unwrap_command(terminal.wrap(Command(0x00, 0xA4, 0x02, 0x0C, h("0101"))))
    answer = terminal.unwrap(card.wrap_response(Response(b"", 0x6A82)))
    assert answer == Response(b"", 0x6A82)
    assert terminal.active


def test_transport_error_ends_the_session() -> None:
    fake = FakeConnection([(None, TransportError("card removed", reader="r"))])
    connection = SecureConnection(fake, d4_session())
    with pytest.raises(TransportError):
        connection.send(Command(0x00, 0xB0, 0, 0, ne=4))
    _assert_ended(connection.sm)


def test_sm_is_replaceable_on_the_connection() -> None:
    fake = FakeConnection([(h(D4["exchanges"][0]["protected_command"]), h("6982"))])
    connection = SecureConnection(fake, SecureMessaging("AES", bytes(16), bytes(16)))
    connection.sm = d4_session()
    connection.send(Command.from_bytes(h(D4["exchanges"][0]["command"])))
    assert fake.sent == [h(D4["exchanges"][0]["protected_command"])]


def test_card_side_rejects_bad_mac_with_6988() -> None:
    card = d4_session()
    bad = bytearray(h(D4["exchanges"][0]["protected_command"]))
    bad[-2] ^= 0xFF
    with pytest.raises(SmCommandError) as info:
        card.unwrap_command(Command.from_bytes(bytes(bad)))
    assert info.value.sw == 0x6988 and info.value.step == "SM command"
    assert not card.active
    with pytest.raises(ProtocolError):
        card.wrap_response(Response(b"", 0x9000))


@pytest.mark.parametrize(
    "raw",
    [
        "00A4020C02011E",  # a plain command
        "0CB0000000",  # SM CLA, no data objects at all
        "0CB00000059701048E08",  # DO'8E' truncated
    ],
)
def test_card_side_rejects_missing_or_plain(raw: str) -> None:
    card = d4_session()
    with pytest.raises(SmCommandError) as info:
        card.unwrap_command(Command.from_bytes(h(raw)))
    assert info.value.sw in (0x6987, 0x6988)
    assert not card.active


def test_construction_is_validated_and_repr_hides_keys() -> None:
    with pytest.raises(ValueError):
        SecureMessaging("3DES", bytes(24), bytes(24))
    with pytest.raises(ValueError):
        SecureMessaging("AES", bytes(16), bytes(32))
    with pytest.raises(ValueError):
        SecureMessaging("DES", bytes(16), bytes(16))  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        SecureMessaging("3DES", bytes(16), bytes(16), ssc=1 << 64)
    sm = SecureMessaging("AES", b"\xab" * 16, b"\xcd" * 16, ssc=5)
    assert "ab" not in repr(sm).lower() and "cd" not in repr(sm).lower()
    with pytest.raises(ValueError):
        sm.wrap(Command(0x0C, 0xB0, 0, 0, ne=1))  # already protected


def test_ssc_wraps_around() -> None:
    sm = SecureMessaging("3DES", bytes(16), bytes(16), ssc=(1 << 64) - 1)
    sm.wrap(Command(0x00, 0x84, 0, 0, ne=8))
    assert sm.ssc == 0


# --------------------------------------------------------------------------- extended length


def test_extended_ne_uses_two_byte_do97_and_extended_le() -> None:
    terminal, card = d4_session(), d4_session()
    wrapped = terminal.wrap(Command(0x00, 0xB0, 0x00, 0x00, ne=1000))
    raw = bytes(wrapped)
    assert wrapped.is_extended and raw[4] == 0x00 and raw.endswith(b"\x00\x00")
    assert b"\x97\x02\x03\xe8" in wrapped.data
    assert card.unwrap_command(Command.from_bytes(raw)).ne == 1000


def test_long_data_makes_the_protected_command_extended() -> None:
    terminal, card = d4_session(), d4_session()
    command = Command(0x00, 0xD6, 0x00, 0x00, bytes(range(250)))  # short itself
    wrapped = terminal.wrap(command)
    assert wrapped.is_extended and len(wrapped.data) > 255
    assert card.unwrap_command(Command.from_bytes(bytes(wrapped))).data == command.data


def test_odd_ins_uses_do85() -> None:
    terminal, card = d4_session(), d4_session()
    wrapped = terminal.wrap(Command(0x00, 0xB1, 0x00, 0x00, h("5402000A"), ne=256))
    assert wrapped.data[0] == 0x85
    assert card.unwrap_command(wrapped).data == h("5402000A")
    answer = card.wrap_response(Response(h("5303010203"), 0x9000))
    assert answer.data[0] == 0x85
    assert terminal.unwrap(answer) == Response(h("5303010203"), 0x9000)


# --------------------------------------------------------------------------- properties

SESSIONS = st.one_of(
    st.tuples(st.just("3DES"), st.just(16)),
    st.tuples(st.just("AES"), st.sampled_from([16, 24, 32])),
)


@st.composite
def sessions(draw: st.DrawFn) -> tuple[SecureMessaging, SecureMessaging]:
    cipher, length = draw(SESSIONS)
    k_enc = draw(st.binary(min_size=length, max_size=length))
    k_mac = draw(st.binary(min_size=length, max_size=length))
    bits = 64 if cipher == "3DES" else 128
    ssc = draw(st.integers(0, (1 << bits) - 1))
    return (
        SecureMessaging(cipher, k_enc, k_mac, ssc),  # type: ignore[arg-type]
        SecureMessaging(cipher, k_enc, k_mac, ssc),  # type: ignore[arg-type]
    )


@st.composite
def commands(draw: st.DrawFn) -> Command:
    cla = draw(st.integers(0, 255).filter(lambda c: c & 0x0C == 0))
    data = draw(st.one_of(st.binary(max_size=40), st.binary(min_size=240, max_size=700)))
    ne = draw(st.one_of(st.none(), st.integers(1, 256), st.integers(257, 65536)))
    extended = draw(st.sampled_from([None, True]))
    return Command(
        cla,
        draw(st.integers(0, 255)),
        draw(st.integers(0, 255)),
        draw(st.integers(0, 255)),
        data,
        ne,
        extended,
    )


@given(
    sessions(),
    st.lists(
        st.tuples(commands(), st.binary(max_size=300), st.integers(0x6000, 0x9FFF)),
        min_size=1,
        max_size=4,
    ),
)
def test_round_trips_terminal_and_card(
    pair: tuple[SecureMessaging, SecureMessaging],
    exchanges: list[tuple[Command, bytes, int]],
) -> None:
    terminal, card = pair
    for command, data, sw in exchanges:
        wrapped = terminal.wrap(command)
        received = card.unwrap_command(Command.from_bytes(bytes(wrapped)))
        assert (received.cla, received.ins, received.p1, received.p2) == (
            command.cla,
            command.ins,
            command.p1,
            command.p2,
        )
        assert received.data == command.data and received.ne == command.ne
        assert terminal.unwrap(card.wrap_response(Response(data, sw))) == Response(data, sw)
    assert terminal.ssc == card.ssc and terminal.active and card.active


@given(sessions(), st.binary(max_size=120), st.integers(0, 0xFFFF))
def test_unwrap_fuzz_raises_protocol_or_encoding_error_only(
    pair: tuple[SecureMessaging, SecureMessaging], data: bytes, sw: int
) -> None:
    sm = pair[0]
    try:
        answer = sm.unwrap(Response(data, sw))
    except (ProtocolError, EncodingError):
        assert not sm.active
        return
    assert answer == Response(b"", sw) and sw != 0x9000 and not sm.active


@given(sessions(), st.binary(max_size=120), st.sampled_from([0x0C, 0x00, 0x8C]))
def test_unwrap_command_fuzz_raises_sm_command_error_only(
    pair: tuple[SecureMessaging, SecureMessaging], data: bytes, cla: int
) -> None:
    card = pair[1]
    with pytest.raises(SmCommandError):
        card.unwrap_command(Command(cla, 0xB0, 0, 0, data, ne=256))
    assert not card.active


@given(sessions(), st.integers(0, 40), st.integers(0, 7))
def test_any_flipped_bit_in_a_protected_response_is_detected(
    pair: tuple[SecureMessaging, SecureMessaging], position: int, bit: int
) -> None:
    terminal, card = pair
    card.unwrap_command(terminal.wrap(Command(0x00, 0xB0, 0, 0, ne=16)))
    protected = card.wrap_response(Response(b"EF.COM content", 0x9000))
    raw = bytearray(protected.data)
    raw[position % len(raw)] ^= 1 << bit
    with pytest.raises(ProtocolError):
        terminal.unwrap(Response(bytes(raw), protected.sw))
    assert not terminal.active
