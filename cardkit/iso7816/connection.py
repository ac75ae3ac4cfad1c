"""The one-method transport every layer above talks through (after yubikey-manager's
``SmartCardConnection``): secure messaging, chaining and GET RESPONSE are wrappers around it."""

from __future__ import annotations

from typing import Protocol

from cardkit.iso7816.apdu import Command, Response


class Connection(Protocol):
    """Send one command APDU, get its response. Raises TransportError when the card or the
    reader is gone; status words, even errors, are returned, not raised."""

    def send(self, command: Command) -> Response: ...
