"""The exception hierarchy: few classes, structured attributes, one root.

Every error cardkit raises on bad input is a :class:`CardkitError`, so a caller (and the CLI,
which maps them to exit codes in one place) can catch exactly what cardkit means to report.
Messages never contain secrets (MRZ, CAN, PINs, keys): say *which* field is wrong, not its value.
"""

from __future__ import annotations


class CardkitError(Exception):
    """Root of every error cardkit raises deliberately."""


class EncodingError(CardkitError):
    """Malformed bytes or text: BER-TLV, ASN.1, MRZ, an LDS file.

    ``offset`` is the byte (or character) position where decoding failed, when known.
    """

    def __init__(self, message: str, *, offset: int | None = None) -> None:
        self.offset = offset
        super().__init__(message if offset is None else f"{message} (at offset {offset})")


class ImageError(CardkitError):
    """A face or finger image that cannot be decoded, converted or fitted to the profile."""


class ProfileError(CardkitError):
    """A card profile (profiles/*.toml) that is missing, malformed or inconsistent."""


class RecordError(CardkitError):
    """A citizen-record input that cannot be read at all (unreadable file, bad header, bad JSON).

    Per-record validation problems are not exceptions: they are collected into a report so that a
    batch carries on with the good records (see :mod:`cardkit.records.validate`).
    """


class PkiError(CardkitError):
    """A certificate, CRL, master list or signature that is malformed, invalid or not trusted."""


class KeyStoreError(PkiError):
    """A key store that cannot be opened or used: missing key, wrong password or PIN, bad URI.

    Messages name the store and the key, never a password, PIN or key material.
    """


class TransportError(CardkitError):
    """The reader or the card went away, or the PC/SC layer failed: nothing was exchanged.

    ``reader`` names the reader when known.
    """

    def __init__(self, message: str, *, reader: str | None = None) -> None:
        self.reader = reader
        super().__init__(message)


class CardError(CardkitError):
    """The card answered a command with an unexpected status word (``sw``, e.g. 0x6982)."""

    def __init__(self, message: str, *, sw: int) -> None:
        self.sw = sw
        super().__init__(f"{message} (status {sw:04X})")


class ProtocolError(CardkitError):
    """An access-control or secure-messaging protocol failed at ``step`` (e.g. "BAC mutual
    authentication", "SM response MAC"): wrong MRZ/CAN, a forged or damaged response, a chip
    that does not follow ICAO 9303-11. Messages never include keys, MRZ or CAN."""

    def __init__(self, message: str, *, step: str) -> None:
        self.step = step
        super().__init__(f"{step}: {message}")


class AccessDeniedError(ProtocolError):
    """The chip refused the access key: a wrong (mistyped) CAN or MRZ, not a forged chip.

    Raised when the chip answers the terminal's authentication step (BAC EXTERNAL AUTHENTICATE,
    PACE mutual authentication; ICAO 9303-11 §4.3, §4.4) with an error status, or when only a
    CAN is known and the chip offers no PACE that accepts it. ``key_kind`` is ``"CAN"`` or
    ``"MRZ"``. The message is the one line a person acts on (no step prefix, no secret).
    """

    def __init__(self, key_kind: str, *, step: str) -> None:
        self.key_kind = key_kind
        self.step = step
        CardkitError.__init__(
            self, f"access denied: the {key_kind} does not open this card \u2014 enter it again"
        )
