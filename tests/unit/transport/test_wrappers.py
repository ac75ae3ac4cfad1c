"""GET RESPONSE / wrong-Le handling and command chaining (ISO/IEC 7816-3 §12.2, 7816-4 §5.3)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cardkit.errors import EncodingError, TransportError
from cardkit.iso7816.apdu import Command, Response
from cardkit.transport.scripted import FunctionConnection, ScriptedConnection
from cardkit.transport.wrappers import ChainingConnection, GetResponseConnection, checked_response

h = bytes.fromhex
SELECT_LDS = h("00A4040C07A0000002471001")  # ICAO 9303-10 §3.1.1: the eMRTD application


def test_ok_passes_through() -> None:
    inner = ScriptedConnection([(SELECT_LDS, h("9000"))])
    assert GetResponseConnection(inner).send(Command.from_bytes(SELECT_LDS)) == Response(
        b"", 0x9000
    )
    inner.assert_done()


def test_61xx_fetches_the_rest_with_get_response() -> None:
    # ISO/IEC 7816-3 §12.2.3: T=0 case 4, the card answers 61xx, the terminal sends 00 C0 00 00 xx.
    first, second = bytes(range(0x10)), bytes(range(0x20, 0x25))
    inner = ScriptedConnection(
        [
            (h("00B0000000"), b"\x61\x10"),
            (h("00C0000010"), first + b"\x61\x05"),
            (h("00C0000005"), second + b"\x90\x00"),
        ]
    )
    response = GetResponseConnection(inner).send(Command(0x00, 0xB0, 0, 0, ne=256))
    assert response == Response(first + second, 0x9000)
    inner.assert_done()


def test_6100_means_256_bytes() -> None:
    inner = ScriptedConnection(
        [(h("0084000008"), h("6100")), (h("00C0000000"), bytes(256) + h("9000"))]
    )
    assert GetResponseConnection(inner).send(Command(0, 0x84, 0, 0, ne=8)).data == bytes(256)


def test_data_before_61xx_is_kept() -> None:
    inner = ScriptedConnection([(h("00B0000000"), h("AABB6102")), (h("00C0000002"), h("CCDD9000"))])
    assert GetResponseConnection(inner).send(Command(0, 0xB0, 0, 0, ne=256)).data == h("AABBCCDD")


def test_6cxx_resends_with_the_right_le_once() -> None:
    # ISO/IEC 7816-3 §12.2.2: 6Cxx, "wrong Le; xx is the exact length": resend with Le = xx.
    inner = ScriptedConnection([(h("00B0000000"), h("6C04")), (h("00B0000004"), h("60145F019000"))])
    assert GetResponseConnection(inner).send(Command(0, 0xB0, 0, 0, ne=256)) == Response(
        h("60145F01"), 0x9000
    )
    inner.assert_done()
    stubborn = ScriptedConnection([(h("00B0000000"), h("6C04")), (h("00B0000004"), h("6C02"))])
    assert GetResponseConnection(stubborn).send(Command(0, 0xB0, 0, 0, ne=256)).sw == 0x6C02
    stubborn.assert_done()


def test_6cxx_on_get_response() -> None:
    inner = ScriptedConnection(
        [
            (h("00B0000000"), h("6110")),
            (h("00C0000010"), h("6C08")),
            (h("00C0000008"), bytes(8) + h("9000")),
        ]
    )
    assert GetResponseConnection(inner).send(Command(0, 0xB0, 0, 0, ne=256)).data == bytes(8)
    inner.assert_done()


@pytest.mark.parametrize(
    ("cla", "get_response_cla"),
    [(0x01, 0x01), (0x0C, 0x00), (0x0D, 0x01), (0x10, 0x00), (0x45, 0x45), (0x6F, 0x4F)],
)
def test_get_response_keeps_the_channel_drops_sm_and_chaining(
    cla: int, get_response_cla: int
) -> None:
    inner = ScriptedConnection(
        [
            (Command(cla, 0xB0, 0, 0, ne=256), h("6101")),
            (Command(get_response_cla, 0xC0, 0, 0, ne=1), h("019000")),
        ]
    )
    assert GetResponseConnection(inner).send(Command(cla, 0xB0, 0, 0, ne=256)).data == b"\x01"


def test_endless_61xx_is_bounded() -> None:
    inner = FunctionConnection(lambda command: Response(b"\x00", 0x6101))
    with pytest.raises(TransportError, match="GET RESPONSE"):
        GetResponseConnection(inner, max_rounds=10).send(Command(0, 0xB0, 0, 0, ne=256))
    assert len(inner.sent) == 11


def _card_in_pieces(payload: bytes, piece: int) -> FunctionConnection:
    """A T=0 card that hands out ``payload`` ``piece`` bytes at a time, announcing the rest."""
    left = bytearray(payload)

    def answer(command: Command) -> Response:
        take = bytes(left[: min(piece, command.ne or 256)])
        del left[: len(take)]
        if left:
            return Response(take, 0x6100 | (min(len(left), 256) % 256))
        return Response(take, 0x9000)

    return FunctionConnection(answer)


@given(st.binary(min_size=1, max_size=2000), st.integers(1, 256))
def test_get_response_reassembles_any_payload(payload: bytes, piece: int) -> None:
    inner = _card_in_pieces(payload, piece)
    assert GetResponseConnection(inner).send(Command(0, 0xB0, 0, 0, ne=256)) == Response(
        payload, 0x9000
    )
    assert all(c.ins == 0xC0 for c in inner.sent[1:])


responses = st.builds(Response, st.binary(max_size=300), st.integers(0, 0xFFFF))
junk = st.one_of(
    responses,
    st.tuples(st.binary(max_size=4), st.integers(-5, 0x1FFFF)),
    st.tuples(st.text(max_size=3), st.integers(0, 0xFFFF)),
    st.none(),
    st.binary(max_size=4),
    st.tuples(st.binary(max_size=4)),
)


@given(st.lists(junk, min_size=1, max_size=20), st.booleans())
def test_junk_from_the_inner_connection(answers: list[object], chaining: bool) -> None:
    feed = iter(answers)

    def answer(command: Command) -> Response:
        try:
            return next(feed)  # type: ignore[return-value]  # junk on purpose
        except StopIteration:
            raise TransportError("card removed from Virtual PCD 00 00") from None

    inner = FunctionConnection(answer)
    outer = ChainingConnection(inner) if chaining else GetResponseConnection(inner, max_rounds=8)
    try:
        result = outer.send(Command(0x00, 0xD6, 0, 0, bytes(600)))
    except (EncodingError, TransportError):
        return
    assert isinstance(result, Response) and 0 <= result.sw <= 0xFFFF


def test_checked_response() -> None:
    assert checked_response(Response(b"\x01", 0x9000)) == Response(b"\x01", 0x9000)
    assert checked_response((bytearray(b"\x01"), 0x9000)) == Response(b"\x01", 0x9000)
    for bad in (None, (b"", 0x10000), (b"", -1), ("x", 0x9000), (b"", True), b"\x90\x00"):
        with pytest.raises(EncodingError):
            checked_response(bad)


# --- command chaining ------------------------------------------------------------------------


def test_chaining_splits_long_data() -> None:
    # ISO/IEC 7816-4 §5.3.3: CLA b5 set on every command of the chain but the last.
    data = bytes(i % 256 for i in range(600))
    ok = h("9000")
    inner = ScriptedConnection(
        [
            (Command(0x10, 0xDA, 0x00, 0x62, data[:255]), ok),
            (Command(0x10, 0xDA, 0x00, 0x62, data[255:510]), ok),
            (Command(0x00, 0xDA, 0x00, 0x62, data[510:], ne=256), h("01029000")),
        ]
    )
    response = ChainingConnection(inner).send(Command(0x00, 0xDA, 0x00, 0x62, data, ne=65536))
    assert response == Response(h("0102"), 0x9000)
    inner.assert_done()


def test_chaining_stops_at_a_refused_link() -> None:
    data = bytes(300)
    inner = ScriptedConnection([(Command(0x10, 0xD6, 0, 0, data[:255]), h("6883"))])
    assert ChainingConnection(inner).send(Command(0x00, 0xD6, 0, 0, data)).sw == 0x6883
    inner.assert_done()


@pytest.mark.parametrize(
    "command",
    [
        Command(0x00, 0xD6, 0, 0, bytes(255)),  # fits a short APDU
        Command(0x00, 0xD6, 0, 0, bytes(300), extended=True),  # the caller asked for extended
        Command(0x80, 0xE2, 0, 0, bytes(300)),  # proprietary class: chaining is not defined
        Command(0x00, 0xB0, 0, 0, ne=1000),  # only Ne is long: chaining cannot help
    ],
)
def test_chaining_leaves_other_commands_alone(command: Command) -> None:
    inner = ScriptedConnection([(command, h("9000"))])
    assert ChainingConnection(inner).send(command).sw == 0x9000
    inner.assert_done()


@given(st.binary(min_size=256, max_size=3000), st.integers(1, 255), st.integers(0, 0x0F))
def test_chaining_round_trip(data: bytes, chunk: int, cla: int) -> None:
    inner = FunctionConnection(lambda command: Response(b"", 0x9000))
    ChainingConnection(inner, chunk=chunk).send(Command(cla, 0xDA, 0, 0x62, data))
    assert b"".join(c.data for c in inner.sent) == data
    assert all(c.cla == cla | 0x10 for c in inner.sent[:-1])
    assert inner.sent[-1].cla == cla
    assert all(len(c.data) <= chunk and not c.is_extended for c in inner.sent)


def test_chunk_size_is_validated() -> None:
    with pytest.raises(ValueError):
        ChainingConnection(FunctionConnection(lambda c: Response(b"", 0x9000)), chunk=256)
