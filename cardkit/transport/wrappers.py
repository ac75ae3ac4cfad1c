"""Connection wrappers for the transmission-level status words and long commands.

Each wrapper is itself a :class:`cardkit.iso7816.connection.Connection` around an inner one,
pure (no I/O of its own), so they stack: ``GetResponseConnection(inner)`` under
``SecureConnection`` is the order for a T=0 card. A T=0 ``PcscConnection`` (from
:func:`cardkit.transport.pcsc.open_reader`) already has it inside, so callers need not add it.

- ``61xx``: more response bytes are waiting, fetch them with GET RESPONSE (ISO/IEC 7816-4
  §5.3.4 and §7.6.1; ISO/IEC 7816-3 §12.2.3 on T=0 case 4).
- ``6Cxx``: wrong Le, the card says how many bytes it has: resend with Ne = xx (7816-3 §12.2.2).
- Command chaining (ISO/IEC 7816-4 §5.3.3, CLA bit b5 = 0x10) for data longer than a short APDU
  carries, to cards without extended length.
"""

from __future__ import annotations

from dataclasses import replace

from cardkit.errors import EncodingError, TransportError
from cardkit.iso7816.apdu import SHORT_MAX_DATA, SHORT_MAX_NE, SW, Command, Response
from cardkit.iso7816.connection import Connection

__all__ = ["ChainingConnection", "GetResponseConnection", "checked_response"]

INS_GET_RESPONSE = 0xC0
CLA_CHAINING = 0x10  # ISO/IEC 7816-4 §5.4.1: "command is not the last command of a chain"


def checked_response(response: object) -> Response:
    """``response`` as a well-formed Response, or EncodingError: what an inner connection
    returns is input, and junk there must not surface as an IndexError three layers up."""
    if not isinstance(response, tuple) or len(response) != 2:
        raise EncodingError("the connection returned something that is not a response APDU")
    data, sw = response
    if not isinstance(data, bytes | bytearray) or not isinstance(sw, int) or isinstance(sw, bool):
        raise EncodingError("the connection returned a response APDU of the wrong types")
    if not 0 <= sw <= 0xFFFF:
        raise EncodingError(f"status word {sw} is not two bytes")
    return Response(bytes(data), sw)


def _interindustry_cla(cla: int) -> int:
    """The CLA for GET RESPONSE: interindustry (7816-4 §5.4.1), keeping the logical channel,
    without secure messaging (the fetched bytes are already the protected response) and
    without the chaining bit."""
    if cla & 0x40:  # further interindustry class: channels 4-19 in b4-b1
        return 0x40 | (cla & 0x0F)
    return cla & 0x03  # first interindustry class: channels 0-3 in b2-b1


def _ne_from_sw2(sw2: int) -> int:
    return sw2 or SHORT_MAX_NE  # xx = 00 means 256 bytes


class GetResponseConnection:
    """Handles ``61xx`` (GET RESPONSE ``00 C0 00 00 xx``, concatenating the pieces) and ``6Cxx``
    (resend the same command once with Ne = xx), so the layers above see one response.

    ``max_rounds`` bounds the GET RESPONSE loop: a card that keeps answering 61xx is broken,
    and a reader must not spin on it (TransportError).
    """

    def __init__(self, inner: Connection, *, max_rounds: int = 256) -> None:
        if max_rounds < 1:
            raise ValueError("max_rounds must be at least 1")
        self.inner = inner
        self.max_rounds = max_rounds

    def _send_fixing_le(self, command: Command) -> Response:
        response = checked_response(self.inner.send(command))
        if response.sw1 == SW.WRONG_LE_SW1:
            # Once only: a card that answers 6Cxx again to its own Le is not going to agree.
            retry = replace(command, ne=_ne_from_sw2(response.sw2))
            response = checked_response(self.inner.send(retry))
        return response

    def send(self, command: Command) -> Response:
        response = self._send_fixing_le(command)
        if response.sw1 != SW.MORE_DATA_SW1:
            return response
        data = bytearray(response.data)
        cla = _interindustry_cla(command.cla)
        for _ in range(self.max_rounds):
            get_response = Command(cla, INS_GET_RESPONSE, 0, 0, ne=_ne_from_sw2(response.sw2))
            response = self._send_fixing_le(get_response)
            data += response.data
            if response.sw1 != SW.MORE_DATA_SW1:
                return Response(bytes(data), response.sw)
        raise TransportError(
            f"the card still had more data after {self.max_rounds} GET RESPONSE commands"
        )


class ChainingConnection:
    """Splits a command whose data does not fit a short APDU into a chain of short commands
    (ISO/IEC 7816-4 §5.3.3): CLA bit 0x10 on every command but the last, ``chunk`` bytes each.

    Only commands left to choose their length (``extended=None``) with more than 255 data bytes
    are chained; the response of the last command is returned, unless a link of the chain is
    refused, whose response is then returned at once. Ne travels with the last command, limited
    to 256 (the remainder then comes as 61xx, see :class:`GetResponseConnection`). Chaining is
    only defined for the interindustry classes (CLA b8 = 0).
    """

    def __init__(self, inner: Connection, *, chunk: int = SHORT_MAX_DATA) -> None:
        if not 1 <= chunk <= SHORT_MAX_DATA:
            raise ValueError("chunk must be 1..255 bytes")
        self.inner = inner
        self.chunk = chunk

    def send(self, command: Command) -> Response:
        if (
            command.extended is not None
            or len(command.data) <= SHORT_MAX_DATA
            or command.cla & 0x80
        ):
            return checked_response(self.inner.send(command))
        data = command.data
        pieces = [data[i : i + self.chunk] for i in range(0, len(data), self.chunk)]
        for piece in pieces[:-1]:
            link = Command(
                command.cla | CLA_CHAINING, command.ins, command.p1, command.p2, piece, None, False
            )
            response = checked_response(self.inner.send(link))
            if response.sw != SW.OK:
                return response
        ne = None if command.ne is None else min(command.ne, SHORT_MAX_NE)
        last = Command(command.cla, command.ins, command.p1, command.p2, pieces[-1], ne, False)
        return checked_response(self.inner.send(last))
