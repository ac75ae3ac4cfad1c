"""Connections without a card, for tests: a fixed script of exchanges, or a function.

``ScriptedConnection`` replays a published exchange (ICAO 9303-11 Appendix D, BSI TR-03105
traces) and fails loudly, with both APDUs in hex, at the first command that differs.
``FunctionConnection`` lets a test (or a small fake card) compute each response.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from cardkit.errors import EncodingError
from cardkit.iso7816.apdu import Command, Response

__all__ = ["FunctionConnection", "ScriptedConnection", "from_trace"]

ScriptedReply = bytes | Response | BaseException


def _hex(data: bytes) -> str:
    return data.hex(" ").upper()


class ScriptedConnection:
    """Expects exactly the scripted commands, in order, and returns the scripted responses.

    A command is compared by its encoding (so ``Command(...)`` and its bytes are the same
    expectation). A reply may also be an exception instance, raised instead of answering: that
    is how a test pulls the card out mid-read (``TransportError("card removed from ...")``).
    """

    def __init__(self, exchanges: Sequence[tuple[bytes | Command, ScriptedReply]]) -> None:
        self._script: list[tuple[bytes, Response | BaseException]] = []
        for expected, reply in exchanges:
            command = bytes(expected)
            Command.from_bytes(command)  # a malformed script fails here, not mid-test
            if isinstance(reply, bytes | bytearray):
                reply = Response.from_bytes(bytes(reply))
            self._script.append((command, reply))
        self._position = 0
        self.sent: list[Command] = []

    @property
    def done(self) -> bool:
        """Whether every scripted exchange has been played."""
        return self._position == len(self._script)

    @property
    def remaining(self) -> int:
        return len(self._script) - self._position

    def assert_done(self) -> None:
        if not self.done:
            expected, _ = self._script[self._position]
            raise AssertionError(
                f"{self.remaining} scripted exchange(s) not played; "
                f"next expected command #{self._position + 1}: {_hex(expected)}"
            )

    def send(self, command: Command) -> Response:
        got = bytes(command)
        number = self._position + 1
        if self.done:
            raise AssertionError(
                f"unexpected command #{number} after the end of the script "
                f"({len(self._script)} exchanges): {_hex(got)}"
            )
        expected, reply = self._script[self._position]
        if got != expected:
            raise AssertionError(
                f"command #{number} differs from the script\n"
                f"  expected: {_hex(expected)}\n"
                f"  got:      {_hex(got)}"
            )
        self._position += 1
        self.sent.append(command)
        if isinstance(reply, BaseException):
            raise reply
        return reply


class FunctionConnection:
    """A Connection whose responses come from ``handler(command)``."""

    def __init__(self, handler: Callable[[Command], Response]) -> None:
        self.handler = handler
        self.sent: list[Command] = []

    def send(self, command: Command) -> Response:
        self.sent.append(command)
        return self.handler(command)


_LABEL = re.compile(r"^[^:=]*[:=]")
_QUOTES = "'\"‘’“”`"


def _trace_hex(line: str, number: int) -> bytes:
    text = _LABEL.sub("", line, count=1) if re.search(r"[:=]", line) else line
    text = "".join(text.split()).strip(_QUOTES)
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise EncodingError(f"trace line {number} is not hexadecimal", offset=number) from None


def from_trace(text: str) -> ScriptedConnection:
    """A script from a printed trace: hex lines alternating command, response.

    Accepts the forms of ICAO 9303-11 Appendix D and of pcsc/opensc logs: an optional label up to
    the first ``:`` or ``=`` (``ProtectedAPDU = '0CA4...'``, ``RAPDU: 99 02 ...``), quotes,
    spaces. Empty lines and lines starting with ``#`` are skipped. Raises EncodingError for a line
    that is not hex or an odd number of lines.
    """
    pieces: list[tuple[int, bytes]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        pieces.append((number, _trace_hex(stripped, number)))
    if len(pieces) % 2:
        raise EncodingError(
            f"trace has a command without a response (line {pieces[-1][0]})", offset=pieces[-1][0]
        )
    exchanges: list[tuple[bytes | Command, ScriptedReply]] = []
    for (c_line, command), (r_line, response) in zip(pieces[::2], pieces[1::2], strict=True):
        try:
            Command.from_bytes(command)
        except EncodingError as exc:
            raise EncodingError(f"trace line {c_line}: {exc}", offset=c_line) from None
        if len(response) < 2:
            raise EncodingError(
                f"trace line {r_line}: response shorter than its status word", offset=r_line
            )
        exchanges.append((command, response))
    return ScriptedConnection(exchanges)
