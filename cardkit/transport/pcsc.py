"""The PC/SC transport: readers and cards through pcsc-lite (or WinSCard) via pyscard.

This is the only module in cardkit that imports pyscard (``smartcard``). It talks to pyscard's
thin ``smartcard.scard`` binding of the PC/SC API (PC/SC Workgroup spec part 5: SCardConnect,
SCardTransmit, ...) rather than its object layer, because the raw ``hresult`` codes are what
tell a removed card from a vanished reader or a stopped daemon, and one PC/SC context per
connection keeps the life cycle explicit.

pyscard is imported on first use, through :func:`_scard`, so that importing cardkit never needs
libpcsclite, and so that tests can substitute a fake binding (``monkeypatch.setattr(pcsc,
"_scard", lambda: fake)``). The real pcscd + vpcd path (readers such as "Virtual PCD 00 00") is
exercised by the integration tests of the emulator.

Readers are chosen by what people type (:mod:`cardkit.transport.readers`): the exact name, a
case-insensitive part of it, or the index ``cardkit readers`` prints.

Over T=0 the reader passes case-4 commands as case 3 and the card answers ``61xx``, or ``6Cxx``
to a wrong Le (ISO/IEC 7816-3 §12.2, T=0 cases 2 and 4): a T=0 :class:`PcscConnection` handles
both itself, through :class:`cardkit.transport.wrappers.GetResponseConnection`, so every
caller of :func:`open_reader` sees whole responses.

Failures are one line a person acts on ("the card was removed from <reader> — place it
again", "the reader <name> was unplugged", "pcscd is not running: start it with ..."); the
PC/SC code is kept out of the message, in :attr:`PcscError.pcsc_code`, logged at debug level
(``cardkit --verbose``) and attached to the exception as a note (shown in tracebacks).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

from cardkit.errors import EncodingError, TransportError
from cardkit.iso7816.apdu import Command, Response
from cardkit.transport.readers import (
    NO_READERS,
    AmbiguousReaderError,
    ReaderNotFoundError,
    resolve_reader,
)
from cardkit.transport.wrappers import GetResponseConnection

__all__ = [
    "NO_PCSCD",
    "NO_READERS",
    "AmbiguousReaderError",
    "PcscConnection",
    "PcscError",
    "ReaderNotFoundError",
    "ReaderStatus",
    "list_readers",
    "open_reader",
    "reader_statuses",
    "resolve_reader",
    "select_reader",
]

_log = logging.getLogger(__name__)

NO_PCSCD = (
    "pcscd is not running: start it with `systemctl start pcscd` "
    "(or scripts/virtual-reader.sh start for the emulator)"
)

# pcscd polls its readers for card insertion every ~400 ms (DOMAIN.md §8), so a card that was
# just put on a reader (or a vpcd card that just connected) is not visible at once: retry.
POLL_INTERVAL = 0.1

# Indirections for tests: a fake clock makes the timeout tests instant.
_monotonic: Callable[[], float] = time.monotonic
_sleep: Callable[[float], None] = time.sleep

CardProtocol = Literal["T=0", "T=1"]


def _scard() -> Any:
    """pyscard's ``smartcard.scard`` module (the PC/SC C API, one function per call)."""
    try:
        from smartcard import scard
    except ImportError as exc:  # pyscard missing, or libpcsclite not installed
        raise TransportError(f"the PC/SC library cannot be loaded ({exc})") from None
    return scard


def _u32(hresult: int) -> int:
    # pcsc-lite returns LONG codes; on some builds they come back signed. Compare unsigned.
    return hresult & 0xFFFFFFFF


def _is(sc: Any, hresult: int, *names: str) -> bool:
    return any(_u32(hresult) == _u32(getattr(sc, name)) for name in names)


def _pcsc_text(sc: Any, hresult: int) -> str:
    """pcsc-lite's own words for ``hresult`` (pcsc_stringify_error), without the code."""
    try:
        text = str(sc.SCardGetErrorMessage(hresult)).strip().rstrip(".")
    except Exception:  # a binding without messages
        text = ""
    return text or "PC/SC error"


_NO_SERVICE = ("SCARD_E_NO_SERVICE", "SCARD_E_SERVICE_STOPPED")
_NO_CARD = ("SCARD_E_NO_SMARTCARD", "SCARD_W_REMOVED_CARD")
# A card pulled out (or swapped) while connected: removed, or reset behind our back (with an
# exclusive connection no other application can reset the card, so a reset means it was taken
# out and put back). During SCardTransmit, pcsc-lite answers SCARD_E_NOT_TRANSACTED when the
# card leaves mid-APDU (seen with vpcd: then SCARD_W_REMOVED_CARD for the next one).
_REMOVED = (*_NO_CARD, "SCARD_W_RESET_CARD")
_REMOVED_IN_TRANSMIT = (*_REMOVED, "SCARD_E_NOT_TRANSACTED")
_READER_GONE = ("SCARD_E_UNKNOWN_READER", "SCARD_E_READER_UNAVAILABLE")
_MUTE = ("SCARD_W_UNRESPONSIVE_CARD", "SCARD_W_UNPOWERED_CARD")
# Names looked up for PcscError.pcsc_name (the result codes of PC/SC part 5, as pcsc-lite has them).
_CODE_NAMES = (
    *_NO_SERVICE,
    *_REMOVED_IN_TRANSMIT,
    *_READER_GONE,
    *_MUTE,
    "SCARD_E_SHARING_VIOLATION",
    "SCARD_E_PROTO_MISMATCH",
    "SCARD_E_NO_READERS_AVAILABLE",
    "SCARD_E_INVALID_HANDLE",
    "SCARD_E_TIMEOUT",
    "SCARD_E_CANCELLED",
    "SCARD_E_INSUFFICIENT_BUFFER",
    "SCARD_E_NOT_READY",
    "SCARD_F_COMM_ERROR",
    "SCARD_F_INTERNAL_ERROR",
    "SCARD_F_UNKNOWN_ERROR",
    "SCARD_E_UNSUPPORTED_FEATURE",
)


def _code_name(sc: Any, hresult: int) -> str | None:
    for name in _CODE_NAMES:
        value = getattr(sc, name, None)
        if isinstance(value, int) and _u32(value) == _u32(hresult):
            return name
    return None


class PcscError(TransportError):
    """A TransportError caused by a failing PC/SC call: ``pcsc_code`` is its result code
    (unsigned, e.g. 0x80100069), ``pcsc_name`` the constant's name when known
    ("SCARD_W_REMOVED_CARD"). Neither is in the message, which says what happened in words; the
    code is for ``--verbose``: logged at debug level and added as a note (tracebacks)."""

    def __init__(
        self,
        message: str,
        *,
        reader: str | None = None,
        pcsc_code: int,
        pcsc_name: str | None = None,
    ) -> None:
        self.pcsc_code = _u32(pcsc_code)
        self.pcsc_name = pcsc_name
        super().__init__(message, reader=reader)
        self.add_note(f"PC/SC code {self.describe_code()}")

    def describe_code(self) -> str:
        """``"0x80100069 (SCARD_W_REMOVED_CARD)"``."""
        name = f" ({self.pcsc_name})" if self.pcsc_name else ""
        return f"0x{self.pcsc_code:08X}{name}"


def _pcsc_error(sc: Any, hresult: int, message: str, reader: str | None = None) -> PcscError:
    error = PcscError(message, reader=reader, pcsc_code=hresult, pcsc_name=_code_name(sc, hresult))
    _log.debug("%s: PC/SC code %s", message, error.describe_code())
    return error


def _error(
    sc: Any, hresult: int, reader: str, action: str, *, transmitting: bool = False
) -> PcscError:
    """Map a failing PC/SC call on an open card to a PcscError saying what happened."""
    if _is(sc, hresult, *(_REMOVED_IN_TRANSMIT if transmitting else _REMOVED)):
        message = f"the card was removed from {reader} — place it again"
    elif _is(sc, hresult, *_READER_GONE):
        message = f"the reader {reader} was unplugged"
    elif _is(sc, hresult, *_NO_SERVICE):
        message = NO_PCSCD
    elif _is(sc, hresult, *_MUTE):
        message = f"card in {reader} does not respond"
    elif _is(sc, hresult, "SCARD_E_SHARING_VIOLATION"):
        message = f"reader {reader} is in use by another application"
    else:
        message = f"{action} on {reader} failed: {_pcsc_text(sc, hresult)}"
    return _pcsc_error(sc, hresult, message, reader)


class _Context:
    """One PC/SC resource-manager context (SCardEstablishContext ... SCardReleaseContext)."""

    def __init__(self, sc: Any) -> None:
        self._sc = sc
        hresult, handle = sc.SCardEstablishContext(sc.SCARD_SCOPE_USER)
        if not _is(sc, hresult, "SCARD_S_SUCCESS"):
            if _is(sc, hresult, *_NO_SERVICE):
                raise _pcsc_error(sc, hresult, NO_PCSCD)
            raise _pcsc_error(
                sc, hresult, f"cannot reach the PC/SC service: {_pcsc_text(sc, hresult)}"
            )
        self.handle: Any = handle

    def readers(self) -> list[str]:
        sc = self._sc
        hresult, names = sc.SCardListReaders(self.handle, [])
        if _is(sc, hresult, "SCARD_E_NO_READERS_AVAILABLE"):
            return []
        if _is(sc, hresult, *_NO_SERVICE):
            raise _pcsc_error(sc, hresult, NO_PCSCD)
        if not _is(sc, hresult, "SCARD_S_SUCCESS"):
            raise _pcsc_error(sc, hresult, f"cannot list PC/SC readers: {_pcsc_text(sc, hresult)}")
        # Config-file order (DOMAIN.md §8): the indices `cardkit readers` prints.
        return [str(name) for name in names or ()]

    def release(self) -> None:
        if self.handle is not None:
            handle, self.handle = self.handle, None
            self._sc.SCardReleaseContext(handle)  # nothing useful to do if this fails

    def __enter__(self) -> _Context:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def list_readers() -> list[str]:
    """The names of the PC/SC readers, in the order pcscd lists them (empty when none).

    Raises PcscError "pcscd is not running: ..." when pcscd cannot be reached.
    """
    with _Context(_scard()) as context:
        return context.readers()


def select_reader(spec: str | None = None) -> str:
    """The name of the reader ``spec`` designates among those pcscd lists now (see
    :func:`cardkit.transport.readers.resolve_reader`): for callers that follow a reader by name
    without connecting to it, such as ``cardkit verify --watch`` and ``cardkit batch run``.

    Raises AmbiguousReaderError (exit 2), ReaderNotFoundError and PcscError (exit 3).
    """
    return resolve_reader(spec, list_readers())


@dataclass(frozen=True)
class ReaderStatus:
    """What pcscd knows about a reader without connecting to its card (SCardGetStatusChange)."""

    name: str
    card_present: bool
    atr: bytes | None  # the card's answer to reset, when a card is present
    in_use: bool  # another application holds the card (shared or exclusive)
    mute: bool  # a card is there but does not answer to reset

    def describe(self) -> dict[str, object]:
        return {
            "name": self.name,
            "card_present": self.card_present,
            "atr": self.atr.hex().upper() if self.atr is not None else None,
            "in_use": self.in_use,
            "mute": self.mute,
        }


def reader_statuses() -> list[ReaderStatus]:
    """Every reader with its card state, read without touching the cards (no reset, no
    connection): safe to call while another application is using a card."""
    sc = _scard()
    with _Context(sc) as context:
        names = context.readers()
        if not names:
            return []
        # SCARD_STATE_UNAWARE asks for the current state and returns at once (timeout 0).
        hresult, states = sc.SCardGetStatusChange(
            context.handle, 0, [(name, sc.SCARD_STATE_UNAWARE) for name in names]
        )
        if not _is(sc, hresult, "SCARD_S_SUCCESS"):
            if _is(sc, hresult, *_NO_SERVICE):
                raise _pcsc_error(sc, hresult, NO_PCSCD)
            raise _pcsc_error(
                sc, hresult, f"cannot read the reader states: {_pcsc_text(sc, hresult)}"
            )
        out = []
        for state in states:
            name, event = str(state[0]), int(state[1])
            atr = bytes(state[2]) if len(state) > 2 and state[2] else None
            present = bool(event & sc.SCARD_STATE_PRESENT)
            out.append(
                ReaderStatus(
                    name=name,
                    card_present=present,
                    atr=atr if present else None,
                    in_use=bool(event & (sc.SCARD_STATE_INUSE | sc.SCARD_STATE_EXCLUSIVE)),
                    mute=bool(event & sc.SCARD_STATE_MUTE),
                )
            )
        return out


class _NotYet(Exception):
    """A condition that may clear while waiting (no card yet, reader busy or not yet listed)."""

    def __init__(
        self, message: str, reader: str, *, code: int, name: str | None, waited: bool = True
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reader = reader
        self.code = code
        self.name = name
        self.waited = waited  # whether "after N s" makes sense at the end of the message

    def final(self, timeout: float) -> TransportError:
        after = f" after {timeout:g} s" if timeout > 0 and self.waited else ""
        return PcscError(
            f"{self.message}{after}", reader=self.reader, pcsc_code=self.code, pcsc_name=self.name
        )


class _NoReaderYet(Exception):
    """No listed reader matches the spec yet: a reader plugged in later may."""

    def __init__(self, error: ReaderNotFoundError) -> None:
        super().__init__(str(error))
        self.error = error

    def final(self, timeout: float) -> TransportError:
        return self.error


class _Transmitter:
    """The bare SCardTransmit of a PcscConnection, as the inner Connection of its
    GetResponseConnection (T=0)."""

    def __init__(self, transmit: Callable[[Command], Response]) -> None:
        self._transmit = transmit

    def send(self, command: Command) -> Response:
        return self._transmit(command)


class PcscConnection:
    """A card in a PC/SC reader, as a :class:`cardkit.iso7816.connection.Connection`.

    Made by :func:`open_reader`. Status words are returned, not raised; TransportError means the
    card, the reader or pcscd went away. Closing resets the card (SCARD_RESET_CARD), so no
    authenticated secure-messaging session survives for the next application.

    Over T=0, :meth:`send` returns whole responses: ``61xx`` is followed by GET RESPONSE and
    ``6Cxx`` by the same command with Ne = xx (ISO/IEC 7816-3 §12.2, the T=0 cases 2 and 4;
    ISO/IEC 7816-4 GET RESPONSE), as :class:`~cardkit.transport.wrappers.GetResponseConnection`
    does. Over T=1 the card's status words are returned as they come. T=0 transports short
    APDUs only (extended ones would need ENVELOPE): callers send short ones there.
    """

    def __init__(
        self,
        sc: Any,
        context: _Context,
        card: Any,
        reader: str,
        protocol: CardProtocol,
        share: int,
    ) -> None:
        self._sc = sc
        self._context = context
        self._card: Any = card
        self._reader = reader
        self._protocol: CardProtocol = protocol
        self._share = share
        self._atr = self._read_atr()
        # The protocol stays the same across reconnect (it asks for the same one).
        self._t0: GetResponseConnection | None = (
            GetResponseConnection(_Transmitter(self._transmit)) if protocol == "T=0" else None
        )

    @property
    def reader(self) -> str:
        return self._reader

    @property
    def atr(self) -> bytes:
        """The answer to reset (ISO/IEC 7816-3 §8), as read at connect or last reconnect."""
        return self._atr

    @property
    def protocol(self) -> CardProtocol:
        return self._protocol

    @property
    def closed(self) -> bool:
        return self._card is None

    def _handle(self) -> Any:
        if self._card is None:
            raise TransportError(f"the connection to {self._reader} is closed", reader=self._reader)
        return self._card

    def _read_atr(self) -> bytes:
        sc = self._sc
        result = sc.SCardStatus(self._handle())
        hresult = result[0]
        if not _is(sc, hresult, "SCARD_S_SUCCESS"):
            raise _error(sc, hresult, self._reader, "reading the card status")
        try:
            atr = result[4]
            if not isinstance(atr, list | tuple | bytes | bytearray):
                raise TypeError
            return bytes(atr)
        except (TypeError, ValueError, IndexError):
            raise TransportError(
                f"reader {self._reader} reported a malformed ATR", reader=self._reader
            ) from None

    def send(self, command: Command) -> Response:
        """Exchange one command APDU; over T=0 the 61xx/6Cxx round trips are done here."""
        if self._t0 is not None:
            return self._t0.send(command)
        return self._transmit(command)

    def _transmit(self, command: Command) -> Response:
        """One SCardTransmit (PC/SC part 5): this APDU, this response."""
        sc = self._sc
        pci = sc.SCARD_PCI_T1 if self._protocol == "T=1" else sc.SCARD_PCI_T0
        hresult, raw = sc.SCardTransmit(self._handle(), pci, list(bytes(command)))
        if not _is(sc, hresult, "SCARD_S_SUCCESS"):
            raise _error(sc, hresult, self._reader, "transmitting an APDU", transmitting=True)
        try:
            if not isinstance(raw, list | tuple | bytes | bytearray):
                raise TypeError  # bytes(n) of an int would make n zero bytes
            return Response.from_bytes(bytes(raw))
        except (EncodingError, TypeError, ValueError):
            raise TransportError(
                f"reader {self._reader} returned a response without a status word",
                reader=self._reader,
            ) from None

    def reconnect(self, reset: bool = True) -> None:
        """Reconnect to the card: with ``reset`` a warm reset (the card forgets its selected
        application and any secure-messaging session), without it just re-acquire the card."""
        sc = self._sc
        disposition = sc.SCARD_RESET_CARD if reset else sc.SCARD_LEAVE_CARD
        wanted = sc.SCARD_PROTOCOL_T1 if self._protocol == "T=1" else sc.SCARD_PROTOCOL_T0
        hresult, _active = sc.SCardReconnect(self._handle(), self._share, wanted, disposition)
        if not _is(sc, hresult, "SCARD_S_SUCCESS"):
            raise _error(sc, hresult, self._reader, "reconnecting to the card")
        self._atr = self._read_atr()

    def close(self) -> None:
        """Release the card (resetting it) and the PC/SC context. Safe to call twice, and after
        the card or the reader went away."""
        card, self._card = self._card, None
        if card is not None:
            # The result is ignored: when the card is gone there is nothing left to release.
            self._sc.SCardDisconnect(card, self._sc.SCARD_RESET_CARD)
        self._context.release()

    def __enter__(self) -> PcscConnection:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else self._protocol
        return f"PcscConnection({self._reader!r}, {state})"


def _connect(sc: Any, context: _Context, reader: str, share: int) -> tuple[Any, CardProtocol]:
    """SCardConnect, T=1 preferred (no GET RESPONSE round trips, extended length), then T=0."""
    hresult: int = sc.SCARD_E_PROTO_MISMATCH
    attempts: tuple[tuple[int, CardProtocol], ...] = (
        (sc.SCARD_PROTOCOL_T1, "T=1"),
        (sc.SCARD_PROTOCOL_T0, "T=0"),
    )
    for protocol_flag, protocol in attempts:
        hresult, card, _active = sc.SCardConnect(context.handle, reader, share, protocol_flag)
        if _is(sc, hresult, "SCARD_S_SUCCESS"):
            return card, protocol
        if not _is(sc, hresult, "SCARD_E_PROTO_MISMATCH"):
            break
    name = _code_name(sc, hresult)
    if _is(sc, hresult, *_NO_CARD):
        raise _NotYet(f"no card in {reader}", reader, code=hresult, name=name)
    if _is(sc, hresult, "SCARD_E_SHARING_VIOLATION"):
        raise _NotYet(
            f"reader {reader} is in use by another application", reader, code=hresult, name=name
        )
    if _is(sc, hresult, *_MUTE):
        # A card just inserted may not have answered to reset yet.
        raise _NotYet(f"card in {reader} does not respond", reader, code=hresult, name=name)
    if _is(sc, hresult, *_READER_GONE):  # unplugged between listing and connecting
        unplugged = f"the reader {reader} was unplugged"
        raise _NotYet(unplugged, reader, code=hresult, name=name, waited=False)
    if _is(sc, hresult, "SCARD_E_PROTO_MISMATCH"):
        raise _pcsc_error(sc, hresult, f"card in {reader} speaks neither T=1 nor T=0", reader)
    raise _error(sc, hresult, reader, "connecting to the card")


def _try_open(sc: Any, spec: str | None, share: int) -> PcscConnection:
    context = _Context(sc)
    try:
        try:
            reader = resolve_reader(spec, context.readers())
        except ReaderNotFoundError as missing:
            raise _NoReaderYet(missing) from None
        card, protocol = _connect(sc, context, reader, share)
        try:
            return PcscConnection(sc, context, card, reader, protocol, share)
        except BaseException:
            sc.SCardDisconnect(card, sc.SCARD_LEAVE_CARD)
            raise
    except BaseException:
        context.release()
        raise


def open_reader(
    spec: str | None = None, *, timeout: float = 0, exclusive: bool = True
) -> PcscConnection:
    """Connect to the card in the reader ``spec`` designates: its exact name ("Virtual PCD 00
    00"), a case-insensitive part of it ("00 01"), its index in ``cardkit readers`` ("1"), or
    ``None`` for the only reader (:func:`cardkit.transport.readers.resolve_reader`). Over T=0
    the connection handles 61xx and 6Cxx itself (see :class:`PcscConnection`).

    With ``timeout`` > 0, wait up to that many seconds for a matching reader to appear (an
    exact name plugged in later is found) and a card to be present and free, polling (pcscd
    notices a new card only every ~400 ms). ``exclusive`` (SCARD_SHARE_EXCLUSIVE, the default)
    keeps other applications off the card while cardkit runs a protocol whose state they would
    disturb.

    Raises AmbiguousReaderError (several readers match, or ``None`` with several readers: a
    usage error), ReaderNotFoundError ("no reader matches 'x'; readers: 0 A, 1 B", "no PC/SC
    readers (is pcscd running?)") and PcscError ("no card in <name> after N s", "reader <name>
    is in use by another application", "pcscd is not running: ...").
    """
    if timeout < 0:
        raise ValueError("timeout must not be negative")
    sc = _scard()
    share = sc.SCARD_SHARE_EXCLUSIVE if exclusive else sc.SCARD_SHARE_SHARED
    deadline = _monotonic() + timeout
    while True:
        try:
            return _try_open(sc, spec, share)
        except (_NotYet, _NoReaderYet) as pending:
            if _monotonic() >= deadline:
                raise pending.final(timeout) from None
        _sleep(POLL_INTERVAL)
