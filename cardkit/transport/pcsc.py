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

Over T=0 the reader passes case-4 commands as case 3 and the card answers ``61xx``: wrap the
connection in :class:`cardkit.transport.wrappers.GetResponseConnection` when :attr:`protocol`
is ``"T=0"``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

from cardkit.errors import EncodingError, TransportError
from cardkit.transport.apdu import Command, Response

__all__ = [
    "PcscConnection",
    "ReaderStatus",
    "list_readers",
    "open_reader",
    "reader_statuses",
]

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


def _pcsc_message(sc: Any, hresult: int) -> str:
    try:
        text = str(sc.SCardGetErrorMessage(hresult)).strip().rstrip(".")
    except Exception:  # a binding without messages must not hide the code
        text = "PC/SC error"
    return f"{text} (0x{_u32(hresult):08X})"


_NO_SERVICE = ("SCARD_E_NO_SERVICE", "SCARD_E_SERVICE_STOPPED")
_NO_CARD = ("SCARD_E_NO_SMARTCARD", "SCARD_W_REMOVED_CARD")
_READER_GONE = ("SCARD_E_UNKNOWN_READER", "SCARD_E_READER_UNAVAILABLE")
_MUTE = ("SCARD_W_UNRESPONSIVE_CARD", "SCARD_W_UNPOWERED_CARD")


def _error(sc: Any, hresult: int, reader: str, action: str) -> TransportError:
    """Map a failing PC/SC call on an open card to a TransportError saying what happened."""
    if _is(sc, hresult, *_NO_CARD):
        return TransportError(f"card removed from {reader}", reader=reader)
    if _is(sc, hresult, *_READER_GONE):
        return TransportError(f"reader {reader} is gone", reader=reader)
    if _is(sc, hresult, *_NO_SERVICE):
        return TransportError(
            f"the PC/SC service stopped while using {reader} (is pcscd running?)", reader=reader
        )
    if _is(sc, hresult, "SCARD_W_RESET_CARD"):
        return TransportError(f"card in {reader} was reset by another application", reader=reader)
    if _is(sc, hresult, *_MUTE):
        return TransportError(f"card in {reader} does not respond", reader=reader)
    if _is(sc, hresult, "SCARD_E_SHARING_VIOLATION"):
        return TransportError(f"reader {reader} is in use by another application", reader=reader)
    return TransportError(
        f"{action} on {reader} failed: {_pcsc_message(sc, hresult)}", reader=reader
    )


class _Context:
    """One PC/SC resource-manager context (SCardEstablishContext ... SCardReleaseContext)."""

    def __init__(self, sc: Any) -> None:
        self._sc = sc
        hresult, handle = sc.SCardEstablishContext(sc.SCARD_SCOPE_USER)
        if not _is(sc, hresult, "SCARD_S_SUCCESS"):
            if _is(sc, hresult, *_NO_SERVICE):
                raise TransportError("no PC/SC readers (is pcscd running?)")
            raise TransportError(f"cannot reach the PC/SC service: {_pcsc_message(sc, hresult)}")
        self.handle: Any = handle

    def readers(self) -> list[str]:
        sc = self._sc
        hresult, names = sc.SCardListReaders(self.handle, [])
        if _is(sc, hresult, "SCARD_E_NO_READERS_AVAILABLE"):
            return []
        if _is(sc, hresult, *_NO_SERVICE):
            raise TransportError("no PC/SC readers (is pcscd running?)")
        if not _is(sc, hresult, "SCARD_S_SUCCESS"):
            raise TransportError(f"cannot list PC/SC readers: {_pcsc_message(sc, hresult)}")
        # Config-file order (DOMAIN.md §8); callers select by exact name, never by index.
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

    Raises TransportError "no PC/SC readers (is pcscd running?)" when pcscd cannot be reached.
    """
    with _Context(_scard()) as context:
        return context.readers()


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
                raise TransportError("no PC/SC readers (is pcscd running?)")
            raise TransportError(f"cannot read the reader states: {_pcsc_message(sc, hresult)}")
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

    def __init__(self, message: str, reader: str, *, waited: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.reader = reader
        self.waited = waited  # whether "after N s" makes sense at the end of the message

    def final(self, timeout: float) -> TransportError:
        after = f" after {timeout:g} s" if timeout > 0 and self.waited else ""
        return TransportError(f"{self.message}{after}", reader=self.reader)


class PcscConnection:
    """A card in a PC/SC reader, as a :class:`cardkit.transport.connection.Connection`.

    Made by :func:`open_reader`. Status words are returned, not raised; TransportError means the
    card, the reader or pcscd went away. Closing resets the card (SCARD_RESET_CARD), so no
    authenticated secure-messaging session survives for the next application.
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
        sc = self._sc
        pci = sc.SCARD_PCI_T1 if self._protocol == "T=1" else sc.SCARD_PCI_T0
        hresult, raw = sc.SCardTransmit(self._handle(), pci, list(bytes(command)))
        if not _is(sc, hresult, "SCARD_S_SUCCESS"):
            raise _error(sc, hresult, self._reader, "transmitting an APDU")
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
    if _is(sc, hresult, *_NO_CARD):
        raise _NotYet(f"no card in {reader}", reader)
    if _is(sc, hresult, "SCARD_E_SHARING_VIOLATION"):
        raise _NotYet(f"reader {reader} is in use by another application", reader)
    if _is(sc, hresult, *_MUTE):
        # A card just inserted may not have answered to reset yet.
        raise _NotYet(f"card in {reader} does not respond", reader)
    if _is(sc, hresult, *_READER_GONE):  # unplugged between listing and connecting
        raise _not_found(reader, context.readers())
    if _is(sc, hresult, "SCARD_E_PROTO_MISMATCH"):
        raise TransportError(f"card in {reader} speaks neither T=1 nor T=0", reader=reader)
    raise _error(sc, hresult, reader, "connecting to the card")


def _not_found(reader: str, names: list[str]) -> _NotYet:
    listed = ", ".join(repr(name) for name in names) if names else "none"
    return _NotYet(f"reader {reader!r} not found; readers: {listed}", reader, waited=False)


def _try_open(sc: Any, reader: str, share: int) -> PcscConnection:
    context = _Context(sc)
    try:
        names = context.readers()
        if reader not in names:  # exact name: pcscd's order is config order, not stable
            raise _not_found(reader, names)
        card, protocol = _connect(sc, context, reader, share)
        try:
            return PcscConnection(sc, context, card, reader, protocol, share)
        except BaseException:
            sc.SCardDisconnect(card, sc.SCARD_LEAVE_CARD)
            raise
    except BaseException:
        context.release()
        raise


def open_reader(name: str, *, timeout: float = 0, exclusive: bool = True) -> PcscConnection:
    """Connect to the card in the reader called exactly ``name`` (e.g. "Virtual PCD 00 00").

    With ``timeout`` > 0, wait up to that many seconds for the reader to appear and a card to be
    present and free, polling (pcscd notices a new card only every ~400 ms). ``exclusive``
    (SCARD_SHARE_EXCLUSIVE, the default) keeps other applications off the card while cardkit
    runs a protocol whose state they would disturb.

    Raises TransportError: "reader <name> not found; readers: ...", "no card in <name> after
    N s", "reader <name> is in use by another application", "no PC/SC readers (is pcscd
    running?)".
    """
    if timeout < 0:
        raise ValueError("timeout must not be negative")
    sc = _scard()
    share = sc.SCARD_SHARE_EXCLUSIVE if exclusive else sc.SCARD_SHARE_SHARED
    deadline = _monotonic() + timeout
    while True:
        try:
            return _try_open(sc, name, share)
        except _NotYet as pending:
            if _monotonic() >= deadline:
                raise pending.final(timeout) from None
        _sleep(POLL_INTERVAL)
