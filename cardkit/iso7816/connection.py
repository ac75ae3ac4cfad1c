"""The one-method transport every layer above talks through (after yubikey-manager's
``SmartCardConnection``): secure messaging, chaining and GET RESPONSE are wrappers around it."""

from __future__ import annotations

from typing import Protocol

from cardkit.iso7816.apdu import Command, Response


class Connection(Protocol):
    """Send one command APDU, get its response. Raises TransportError when the card or the
    reader is gone; status words, even errors, are returned, not raised."""

    def send(self, command: Command) -> Response: ...


def short_apdus_only(connection: object) -> bool:
    """Whether ``connection`` runs over T=0 (its ``protocol``, looking through wrappers'
    ``inner``): T=0 carries no extended-length command APDU except inside ENVELOPE (ISO/IEC
    7816-3 §12.1, 7816-4 §5.1), so a reader or writer must keep to short APDUs there."""
    holder: object | None = connection
    for _ in range(8):  # wrappers nest a few levels deep at most
        if holder is None:
            return False
        if getattr(holder, "protocol", None) == "T=0":
            return True
        holder = getattr(holder, "inner", None)
    return False


def reset_card(connection: object) -> bool:
    """Warm-reset the card behind ``connection`` (the first ``reconnect(reset=True)`` found
    looking through wrappers' ``inner``): the chip forgets its selected application and any
    secure-messaging or authentication state. False when no layer can reset the card.

    Some applets refuse a second BAC in one session (JMRTD's passport applet answers GET
    CHALLENGE with 6982 once mutually authenticated, PassportApplet.java processGetChallenge):
    only a reset lets a reader open access again."""
    holder: object | None = connection
    for _ in range(8):  # wrappers nest a few levels deep at most
        if holder is None:
            return False
        reconnect = getattr(holder, "reconnect", None)
        if callable(reconnect):
            reconnect(reset=True)
            return True
        holder = getattr(holder, "inner", None)
    return False


def connection_atr(connection: object) -> bytes | None:
    """The ATR of a PC/SC (``.atr``) or emulator (``.card.atr``) connection, looking through
    wrappers (``.inner``), when one exposes it."""
    holder: object | None = connection
    for _ in range(8):  # wrappers nest a few levels deep at most
        if holder is None:
            return None
        for candidate in (holder, getattr(holder, "card", None)):
            atr = getattr(candidate, "atr", None)
            if isinstance(atr, bytes | bytearray) and atr:
                return bytes(atr)
        holder = getattr(holder, "inner", None)
    return None
