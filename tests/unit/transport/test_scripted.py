"""ScriptedConnection, FunctionConnection and traces printed as in ICAO 9303-11 Appendix D."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cardkit.errors import EncodingError, TransportError
from cardkit.iso7816.apdu import Command, Response
from cardkit.transport.scripted import FunctionConnection, ScriptedConnection, from_trace

h = bytes.fromhex

# ICAO 9303-11 Appendix D.4 (secure messaging after the D.3 BAC example): SELECT EF.COM and the
# two READ BINARY commands, protected, with the chip's protected responses.
D4 = [
    (
        "0CA4020C158709016375432908C044F68E08BF8B92D635FF24F800",
        "990290008E08FA855A5D4C50A8ED9000",
    ),
    (
        "0CB000000D9701048E08ED6705417E96BA5500",
        "8709019FF0EC34F9922651990290008E08AD55CC17140B2DED9000",
    ),
    (
        "0CB000040D9701128E082EA28A70F3C7B53500",
        "871901FB9235F4E4037F2327DCC8964F1F9B8C30F42C8E2FFF224A990290008E08C8B2787EAEA07D749000",
    ),
]

# The same exchange as the appendix prints it ("ProtectedAPDU = '...'", "RAPDU = '...'").
D4_TEXT = """
# ICAO 9303-11 Appendix D.4
ProtectedAPDU = ‘0CA4020C158709016375432908C044F68E08BF8B92D635FF24F800’
RAPDU = ‘990290008E08FA855A5D4C50A8ED9000’

ProtectedAPDU = ‘0CB000000D9701048E08ED6705417E96BA5500’
RAPDU = ‘8709019FF0EC34F9922651990290008E08AD55CC17140B2DED9000’
ProtectedAPDU = ‘0CB000040D9701128E082EA28A70F3C7B53500’
RAPDU: 87 19 01 FB 92 35 F4 E4 03 7F 23 27 DC C8 96 4F 1F 9B 8C 30 F4 2C 8E 2F FF 22 4A 99 02 90\
 00 8E 08 C8 B2 78 7E AE A0 7D 74 90 00
"""


def _play(connection: ScriptedConnection) -> list[Response]:
    return [connection.send(Command.from_bytes(h(c))) for c, _ in D4]


def test_replays_the_appendix_d4_exchange() -> None:
    connection = ScriptedConnection([(h(c), h(r)) for c, r in D4])
    assert not connection.done and connection.remaining == 3
    responses = _play(connection)
    assert [bytes(r) for r in responses] == [h(r) for _, r in D4]
    assert connection.done
    connection.assert_done()
    assert [bytes(c) for c in connection.sent] == [h(c) for c, _ in D4]


def test_from_trace_reads_the_appendix_layout() -> None:
    connection = from_trace(D4_TEXT)
    assert [bytes(r) for r in _play(connection)] == [h(r) for _, r in D4]
    connection.assert_done()


def test_commands_and_responses_as_values() -> None:
    # ICAO 9303-11 Appendix D.3: GET CHALLENGE, RND.IC = 4608F91988702212.
    connection = ScriptedConnection(
        [(Command(0x00, 0x84, 0x00, 0x00, ne=8), Response(h("4608F91988702212"), 0x9000))]
    )
    assert connection.send(Command.from_bytes(h("0084000008"))).data == h("4608F91988702212")


def test_mismatch_shows_expected_and_got() -> None:
    connection = ScriptedConnection([(h("0084000008"), h("9000"))])
    with pytest.raises(AssertionError) as caught:
        connection.send(Command(0x00, 0x84, 0x00, 0x00, ne=16))
    message = str(caught.value)
    assert "expected: 00 84 00 00 08" in message
    assert "got:      00 84 00 00 10" in message
    assert not connection.done


def test_command_past_the_end() -> None:
    connection = ScriptedConnection([])
    with pytest.raises(AssertionError, match=r"unexpected command #1 .*00 84 00 00 08"):
        connection.send(Command(0x00, 0x84, 0x00, 0x00, ne=8))


def test_assert_done_names_what_is_left() -> None:
    connection = ScriptedConnection([(h(c), h(r)) for c, r in D4])
    connection.send(Command.from_bytes(h(D4[0][0])))
    with pytest.raises(AssertionError, match=r"2 scripted exchange\(s\) not played.*#2: 0C B0"):
        connection.assert_done()


def test_scripted_exception_pulls_the_card() -> None:
    removed = TransportError("card removed from Virtual PCD 00 00", reader="Virtual PCD 00 00")
    connection = ScriptedConnection(
        [(h("00B0000004"), h("60145F019000")), (h("00B0040012"), removed)]
    )
    connection.send(Command(0x00, 0xB0, 0x00, 0x00, ne=4))
    with pytest.raises(TransportError, match="card removed"):
        connection.send(Command(0x00, 0xB0, 0x04, 0x00, ne=0x12))
    assert connection.done


def test_malformed_script_fails_at_construction() -> None:
    with pytest.raises(EncodingError):
        ScriptedConnection([(h("00A4"), h("9000"))])
    with pytest.raises(EncodingError):
        ScriptedConnection([(h("0084000008"), h("90"))])


def test_function_connection() -> None:
    connection = FunctionConnection(lambda command: Response(command.header, 0x9000))
    assert connection.send(Command(1, 2, 3, 4)) == Response(h("01020304"), 0x9000)
    assert connection.sent == [Command(1, 2, 3, 4)]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("0084000008\n", "command without a response"),
        ("0084000008\nnot hex\n", "line 2 is not hexadecimal"),
        ("00A4\n9000\n", "line 1"),
        ("0084000008\n90\n", "line 2: response shorter"),
    ],
)
def test_malformed_traces(text: str, problem: str) -> None:
    with pytest.raises(EncodingError, match=problem):
        from_trace(text)


@given(st.text(max_size=200))
def test_any_text_is_a_script_or_encoding_error(text: str) -> None:
    try:
        connection = from_trace(text)
    except EncodingError:
        return
    assert connection.remaining * 2 <= len(text.splitlines())


@given(
    st.lists(
        st.tuples(st.binary(min_size=4, max_size=40), st.binary(min_size=2, max_size=40)),
        max_size=5,
    )
)
def test_trace_round_trip(pairs: list[tuple[bytes, bytes]]) -> None:
    exchanges = []
    for raw, response in pairs:
        try:
            encoded = bytes(Command.from_bytes(raw))
        except EncodingError:
            continue
        exchanges.append((encoded, response))
    text = "\n".join(f"C: {c.hex(' ')}\nR = '{r.hex()}'" for c, r in exchanges)
    connection = from_trace(text)
    for command, response in exchanges:
        assert bytes(connection.send(Command.from_bytes(command))) == response
    connection.assert_done()
