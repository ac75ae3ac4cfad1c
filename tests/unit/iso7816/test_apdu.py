"""APDU encoding: the ISO/IEC 7816-4 §5.1 cases, round trips, malformed input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cardkit.errors import EncodingError
from cardkit.iso7816.apdu import Command, Response


def test_cases_short() -> None:
    # ICAO 9303-11 Appendix D.3: SELECT the LDS application, then READ BINARY (unprotected forms).
    assert bytes(Command(0x00, 0xA4, 0x04, 0x0C, bytes.fromhex("A0000002471001"))) == bytes.fromhex(
        "00A4040C07A0000002471001"
    )
    assert bytes(Command(0x00, 0xB0, 0x00, 0x00, ne=4)) == bytes.fromhex("00B0000004")
    assert bytes(Command(0x00, 0xB0, 0x00, 0x00, ne=256)) == bytes.fromhex("00B0000000")
    assert bytes(Command(0x00, 0x84, 0x00, 0x00, ne=8)) == bytes.fromhex(
        "0084000008"
    )  # GET CHALLENGE
    assert bytes(Command(0x00, 0x22, 0xC1, 0xA4)) == bytes.fromhex("0022C1A4")


def test_cases_extended() -> None:
    assert bytes(Command(0x00, 0xB1, 0x00, 0x00, b"\x54\x02\x00\x00", ne=65536)) == bytes.fromhex(
        "00B1000000000454020000" + "0000"
    )
    assert bytes(Command(0x00, 0xB0, 0x00, 0x00, ne=1000)) == bytes.fromhex("00B00000" + "0003E8")
    long = bytes(300)
    assert bytes(Command(0x0C, 0xD6, 0, 0, long)) == bytes.fromhex("0CD60000" + "00012C") + long
    assert bytes(Command(0x00, 0xB0, 0, 0, ne=5, extended=True)) == bytes.fromhex("00B00000000005")
    with pytest.raises(ValueError):
        Command(0x00, 0xD6, 0, 0, long, extended=False)


commands = st.builds(
    Command,
    st.integers(0, 255),
    st.integers(0, 255),
    st.integers(0, 255),
    st.integers(0, 255),
    st.binary(max_size=400),
    st.one_of(st.none(), st.integers(1, 65536)),
)


@given(commands)
def test_round_trip(command: Command) -> None:
    parsed = Command.from_bytes(bytes(command))
    assert (parsed.header, parsed.data, parsed.ne) == (command.header, command.data, command.ne)
    assert parsed.is_extended == command.is_extended or (not command.data and command.ne is None)


@given(st.binary(max_size=300))
def test_parser_raises_encoding_error_only(raw: bytes) -> None:
    try:
        parsed = Command.from_bytes(raw)
    except EncodingError:
        return
    assert bytes(parsed) == raw


def test_response() -> None:
    data, sw = Response.from_bytes(bytes.fromhex("01029000"))
    assert (data, sw) == (b"\x01\x02", 0x9000)
    response = Response(b"", 0x6982)
    assert (response.sw1, response.sw2, response.ok) == (0x69, 0x82, False)
    assert bytes(response) == b"\x69\x82"
    with pytest.raises(EncodingError):
        Response.from_bytes(b"\x90")


def test_t0_connections_keep_to_short_apdus() -> None:
    """ISO/IEC 7816-3 §12.1: no extended-length APDU over T=0 — seen through wrappers too."""
    from cardkit.iso7816.connection import short_apdus_only

    class Link:
        def __init__(self, protocol: str | None = None, inner: object | None = None) -> None:
            self.protocol = protocol
            self.inner = inner

    assert short_apdus_only(Link("T=0"))
    assert short_apdus_only(Link(None, Link(None, Link("T=0"))))
    assert not short_apdus_only(Link("T=1"))
    assert not short_apdus_only(object())
