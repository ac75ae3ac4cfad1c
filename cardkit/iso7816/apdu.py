"""APDU values (ISO/IEC 7816-4 §5.1): commands with short or extended length, responses.

``ne`` is the *number* of response bytes expected (Ne), not its encoding (Le): 1–256 fits a short
Le (256 is written ``00``), up to 65536 needs extended length (65536 is written ``00 00``).
``None`` means no Le field at all (no response data expected).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from cardkit.errors import EncodingError

SHORT_MAX_DATA = 255
SHORT_MAX_NE = 256
EXTENDED_MAX_DATA = 65535
EXTENDED_MAX_NE = 65536


class SW:
    """Status words cardkit acts on (ISO/IEC 7816-4 §5.6, ICAO 9303-11)."""

    OK = 0x9000
    WARNING_END_OF_FILE = 0x6282  # fewer bytes than Le: end of file reached
    VERIFICATION_FAILED = 0x6300  # e.g. a PACE step the chip rejected
    WRONG_LENGTH = 0x6700
    SM_DATA_OBJECTS_MISSING = 0x6987
    SM_DATA_OBJECTS_INCORRECT = 0x6988
    SECURITY_STATUS_NOT_SATISFIED = 0x6982  # e.g. DG3 without terminal authentication
    AUTHENTICATION_BLOCKED = 0x6983
    CONDITIONS_NOT_SATISFIED = 0x6985
    COMMAND_NOT_ALLOWED = 0x6986
    WRONG_DATA = 0x6A80
    FUNCTION_NOT_SUPPORTED = 0x6A81
    FILE_NOT_FOUND = 0x6A82
    INCORRECT_P1P2 = 0x6A86
    WRONG_P1P2 = 0x6B00
    INS_NOT_SUPPORTED = 0x6D00
    CLA_NOT_SUPPORTED = 0x6E00
    # Families: 61xx more data (GET RESPONSE with Le=xx), 6Cxx wrong Le (resend with Le=xx).
    MORE_DATA_SW1 = 0x61
    WRONG_LE_SW1 = 0x6C


@dataclass(frozen=True)
class Command:
    """A command APDU. ``extended`` forces (True) or forbids (False) extended length; by
    default the short form is used whenever the data and Ne fit it."""

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    ne: int | None = None
    extended: bool | None = None

    def __post_init__(self) -> None:
        for name in ("cla", "ins", "p1", "p2"):
            if not 0 <= getattr(self, name) <= 0xFF:
                raise ValueError(f"{name} must be one byte")
        if len(self.data) > EXTENDED_MAX_DATA:
            raise ValueError("command data longer than 65535 bytes")
        if self.ne is not None and not 1 <= self.ne <= EXTENDED_MAX_NE:
            raise ValueError("ne must be 1..65536 or None")
        if self.extended is False and not self.fits_short:
            raise ValueError("this command needs extended length")

    @property
    def fits_short(self) -> bool:
        return len(self.data) <= SHORT_MAX_DATA and (self.ne is None or self.ne <= SHORT_MAX_NE)

    @property
    def is_extended(self) -> bool:
        return self.extended if self.extended is not None else not self.fits_short

    @property
    def header(self) -> bytes:
        return bytes((self.cla, self.ins, self.p1, self.p2))

    def __bytes__(self) -> bytes:
        """The encoding of ISO/IEC 7816-4 §5.1 (cases 1, 2, 3, 4; short or extended)."""
        out = bytearray(self.header)
        if self.is_extended:
            if self.data:
                out += b"\x00" + len(self.data).to_bytes(2, "big") + self.data
            if self.ne is not None:
                le = (self.ne % 65536).to_bytes(2, "big")
                out += le if self.data else b"\x00" + le
        else:
            if self.data:
                out += bytes([len(self.data)]) + self.data
            if self.ne is not None:
                out += bytes([self.ne % 256])
        return bytes(out)

    @classmethod
    def from_bytes(cls, raw: bytes) -> Command:
        """Parse a command APDU (what a card, or cardkit's emulator, receives)."""
        if len(raw) < 4:
            raise EncodingError("command APDU shorter than its 4-byte header", offset=len(raw))
        cla, ins, p1, p2 = raw[:4]
        body = raw[4:]
        if not body:  # case 1
            return cls(cla, ins, p1, p2)
        if len(body) == 1:  # case 2S
            return cls(cla, ins, p1, p2, ne=body[0] or 256, extended=False)
        if body[0] != 0:  # short: Lc ≠ 0
            lc = body[0]
            if len(body) == 1 + lc:  # case 3S
                return cls(cla, ins, p1, p2, body[1:], extended=False)
            if len(body) == 2 + lc:  # case 4S
                return cls(cla, ins, p1, p2, body[1 : 1 + lc], body[-1] or 256, extended=False)
            raise EncodingError(f"short Lc {lc} does not match the APDU length", offset=4)
        # Extended length: 00 followed by two length bytes.
        if len(body) == 3:  # case 2E
            return cls(cla, ins, p1, p2, ne=int.from_bytes(body[1:], "big") or 65536, extended=True)
        if len(body) < 3:
            raise EncodingError("truncated extended length field", offset=4)
        lc = int.from_bytes(body[1:3], "big")
        if lc == 0:
            raise EncodingError("extended Lc of zero", offset=5)
        if len(body) == 3 + lc:  # case 3E
            return cls(cla, ins, p1, p2, body[3:], extended=True)
        if len(body) == 5 + lc:  # case 4E
            ne = int.from_bytes(body[-2:], "big") or 65536
            return cls(cla, ins, p1, p2, body[3 : 3 + lc], ne, extended=True)
        raise EncodingError(f"extended Lc {lc} does not match the APDU length", offset=5)


class Response(NamedTuple):
    """A response APDU: ``data, sw = connection.send(command)`` unpacks it."""

    data: bytes
    sw: int

    @property
    def sw1(self) -> int:
        return self.sw >> 8

    @property
    def sw2(self) -> int:
        return self.sw & 0xFF

    @property
    def ok(self) -> bool:
        return self.sw == SW.OK

    def __bytes__(self) -> bytes:
        return self.data + self.sw.to_bytes(2, "big")

    @classmethod
    def from_bytes(cls, raw: bytes) -> Response:
        if len(raw) < 2:
            raise EncodingError("response APDU shorter than its status word", offset=len(raw))
        return cls(bytes(raw[:-2]), int.from_bytes(raw[-2:], "big"))
