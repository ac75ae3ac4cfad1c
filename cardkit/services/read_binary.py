"""Reading one whole LDS file with READ BINARY, in as few APDUs as the chip allows.

Files are BER-TLV (ICAO 9303-10 §4.4) read with READ BINARY (ISO/IEC 7816-4 §7.2.3): the first
command selects the EF by its short identifier (P1 = 80 | SFI) and asks for one full short chunk,
which returns small files whole and tells the length of large ones from their TLV header
(:func:`tlv_total_length`); the rest follows in chunks of :meth:`ReadLimits.chunk` bytes — up to
the chip's extended length (ISO/IEC 7816-4 §5.1), otherwise the largest short read whose
*protected* response still fits in 256 bytes (:func:`max_protected_plaintext`, from the secure
messaging encoding of 9303-11 §9.8: 223 bytes with AES, 231 with 3DES). Offsets above 32767
cannot be written in P1-P2 and use READ BINARY with odd INS (B1) and DO'54' (ISO/IEC 7816-4
§7.2.3), whose answer wraps the data in DO'53'.

**The end of a file is its TLV length, never a status word.** A chip may answer every chunk with
9000 and fewer bytes than asked (the JMRTD passport applet returns at most 224 bytes per READ
BINARY whatever Le says, PassportApplet.java processReadBinary) and may never send 6282 ("end of
file reached before Ne bytes", ISO/IEC 7816-4 §5.6): :func:`read_file` asks again from the next
offset until the length its header declares is in. A 6282 *before* that length is a truncated
file (EncodingError).

**Short EF identifiers.** Not every chip has them: the JMRTD applet takes P1 b8 as part of an
offset and fails. The refusal of the first, SFI-addressed READ BINARY raises
:class:`ShortIdentifierRefused` (a CardError), so that a caller can tell it from a refusal of the
file itself and fall back to SELECT by file identifier (:mod:`cardkit.services.read`).

:func:`read_file` works over any :class:`~cardkit.iso7816.connection.Connection`, in clear or
under secure messaging; the file comes back exactly as read.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from cardkit.encoding import tlv
from cardkit.errors import CardError, EncodingError, ProtocolError
from cardkit.iso7816.apdu import EXTENDED_MAX_NE, SHORT_MAX_NE, SW, Command
from cardkit.iso7816.connection import Connection
from cardkit.lds.files import FileSpec
from cardkit.protocol import crypto

__all__ = [
    "DEFAULT_EXTENDED_RESPONSE_LIMIT",
    "MAX_FILE_LENGTH",
    "SHORT_RESPONSE_LIMIT",
    "STEP_READ",
    "ReadLimits",
    "ShortIdentifierRefused",
    "max_protected_plaintext",
    "read_file",
    "tlv_total_length",
]

INS_READ_BINARY = 0xB0
INS_READ_BINARY_ODD = 0xB1
TAG_OFFSET = 0x54  # DO'54': offset data object of READ BINARY B1 (ISO/IEC 7816-4 §7.2.3)
TAG_DISCRETIONARY = 0x53  # DO'53': the data read by READ BINARY B1
MAX_EVEN_OFFSET = 0x7FFF  # P1-P2 of READ BINARY B0 carry a 15-bit offset (P1 b8 = 0)

#: A response APDU with a short Le carries at most 256 data bytes (ISO/IEC 7816-4 §5.1).
SHORT_RESPONSE_LIMIT = SHORT_MAX_NE
#: When the chip says it supports extended length but not how much: the largest Ne.
DEFAULT_EXTENDED_RESPONSE_LIMIT = EXTENDED_MAX_NE
#: No LDS file comes near this; a header announcing more is treated as malformed, so a hostile
#: chip cannot keep a reader looping.
MAX_FILE_LENGTH = 1 << 20

#: The ``step`` of the ProtocolErrors a READ BINARY raises.
STEP_READ = "READ BINARY"


class ShortIdentifierRefused(CardError):
    """The chip refused the READ BINARY that addressed the file by its short EF identifier
    (P1 = 80 | SFI, ISO/IEC 7816-4 §7.2.3): the file may be absent or protected (6A82, 6982), or
    the chip may not support short EF identifiers at all (any other status). ``sw`` says which."""


# --- Chunk sizes ----------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def max_protected_plaintext(block: int, limit: int, odd: bool = False) -> int:
    """The largest number of plaintext bytes whose secure-messaging response fits ``limit``
    response data bytes (9303-11 §9.8): ``DO'87' (01 ‖ E(pad(data)))`` — or DO'85' without the
    padding indicator for an odd INS — then ``DO'99' 02 SW`` (4 bytes) and ``DO'8E' 08 MAC``
    (10 bytes). Padding (ISO/IEC 9797-1 method 2) always adds 1 to ``block`` bytes.

    With the short limit of 256 bytes this is 223 bytes for AES and 231 for 3DES.
    """
    padded = (limit // block) * block
    while padded > 0:
        value = padded + (0 if odd else 1)
        total = 1 + len(tlv.encode_length(value)) + value + 4 + 2 + crypto.MAC_LENGTH
        if total <= limit:
            return padded - 1
        padded -= block
    raise ValueError(f"no secure-messaging response fits {limit} bytes")


@dataclass(frozen=True)
class ReadLimits:
    """How much one READ BINARY may ask for. ``response_limit`` is the largest response data
    field the chip sends (256 without extended length)."""

    extended: bool = False
    response_limit: int = SHORT_RESPONSE_LIMIT

    def __post_init__(self) -> None:
        if not 64 <= self.response_limit <= EXTENDED_MAX_NE:
            raise ValueError("response_limit must be 64..65536 bytes")
        if not self.extended and self.response_limit > SHORT_RESPONSE_LIMIT:
            raise ValueError("a response over 256 bytes needs extended length")

    def chunk(self, block: int | None, *, odd: bool = False, short: bool = False) -> int:
        """Bytes per READ BINARY: the whole response in clear (``block`` None), or the plaintext
        that fits once protected with a ``block``-byte cipher."""
        limit = SHORT_RESPONSE_LIMIT if short or not self.extended else self.response_limit
        if block is None:
            return limit
        return max_protected_plaintext(block, limit, odd)


# --- Reading one file ---------------------------------------------------------------------------


def tlv_total_length(prefix: bytes) -> int | None:
    """The length of the whole TLV that ``prefix`` starts (header + value), or None when
    ``prefix`` is too short to tell. EncodingError for a header that no LDS file can have
    (tag 00/FF, indefinite length, over 4 length octets, more than :data:`MAX_FILE_LENGTH`)."""
    if not prefix:
        return None
    first = prefix[0]
    if first in (0x00, 0xFF):
        raise EncodingError(f"file starts with {first:02X}: not a BER-TLV tag", offset=0)
    position = 1
    if first & 0x1F == 0x1F:
        while True:
            if position >= len(prefix):
                return None
            byte = prefix[position]
            position += 1
            if position > 4:
                raise EncodingError("file tag longer than 4 bytes", offset=0)
            if not byte & 0x80:
                break
    if position >= len(prefix):
        return None
    length_byte = prefix[position]
    position += 1
    if length_byte < 0x80:
        length = length_byte
    else:
        count = length_byte & 0x7F
        if count == 0 or count > 4:
            raise EncodingError("file length field is indefinite or too long", offset=position - 1)
        if position + count > len(prefix):
            return None
        length = int.from_bytes(prefix[position : position + count], "big")
        position += count
    total = position + length
    if total > MAX_FILE_LENGTH:
        raise EncodingError(f"file header declares {total} bytes, more than an LDS file holds")
    return total


def _read_command(offset: int, ne: int, *, sfi: int | None, first: bool) -> Command:
    if first and sfi is not None:
        # P1 = 1 0 0 SFI selects the EF by its short identifier; P2 = offset (0..255).
        return Command(0x00, INS_READ_BINARY, 0x80 | sfi, offset, ne=ne)
    if offset <= MAX_EVEN_OFFSET:
        return Command(0x00, INS_READ_BINARY, offset >> 8, offset & 0xFF, ne=ne)
    # Odd INS: P1-P2 = 0000 (the current EF), the offset in DO'54'.
    data = tlv.encode(TAG_OFFSET, offset.to_bytes(max(1, (offset.bit_length() + 7) // 8), "big"))
    return Command(0x00, INS_READ_BINARY_ODD, 0x00, 0x00, data, ne=ne)


def _odd_request(remaining: int, chunk: int) -> tuple[int, int]:
    """(data bytes wanted, Ne) for READ BINARY B1, whose answer wraps the data in DO'53'."""
    wanted = min(remaining, chunk - 4)  # DO'53' header: at most 1 + 3 bytes below 64 KiB
    return wanted, min(wanted + 1 + len(tlv.encode_length(wanted)), chunk)


def read_file(
    connection: Connection,
    spec: FileSpec,
    limits: ReadLimits = ReadLimits(),
    *,
    block: int | None = None,
    use_sfi: bool = True,
) -> bytes:
    """Read one whole BER-TLV file (9303-10 §4.4): with its SFI (``use_sfi``) or, when False,
    the EF already selected. ``block`` is the cipher block size of the secure messaging under
    ``connection`` (None: no secure messaging), which decides the chunk sizes.

    The read ends when the length of the file's TLV header is in (a chip may answer 9000 with
    fewer bytes than asked at every chunk, and need never send 6282).

    Raises CardError (``sw``: 6A82 not found, 6982 access denied, ...) when the chip refuses a
    READ BINARY — :class:`ShortIdentifierRefused` when it refused the first one, sent with the
    SFI —, EncodingError when the file or a DO'53' is malformed or ends (6282) before its TLV
    length, ProtocolError when the chip answers with more data than asked or with none before
    the file's end.
    """
    buffer = bytearray()
    total: int | None = None
    sfi = spec.sfi if use_sfi else None
    first = True
    while total is None or len(buffer) < total:
        offset = len(buffer)
        remaining = None if total is None else total - offset
        odd = offset > MAX_EVEN_OFFSET and not first
        if remaining is None:
            # One full short chunk: small files come whole, large ones show their length.
            ne = wanted = limits.chunk(block, short=True)
        elif odd:
            wanted, ne = _odd_request(remaining, limits.chunk(block, odd=True))
        else:
            ne = wanted = min(remaining, limits.chunk(block))
        response = connection.send(_read_command(offset, ne, sfi=sfi, first=first))
        by_sfi = first and sfi is not None
        first = False
        if response.sw not in (SW.OK, SW.WARNING_END_OF_FILE):
            if by_sfi:
                raise ShortIdentifierRefused(
                    f"READ BINARY of {spec.name} by short EF identifier refused", sw=response.sw
                )
            raise CardError(f"READ BINARY of {spec.name} refused", sw=response.sw)
        data = response.data
        if len(data) > ne:
            raise ProtocolError(
                f"the chip returned {len(data)} bytes of {spec.name} for {ne} asked",
                step=STEP_READ,
            )
        if odd:
            data = tlv.decode_single(data, TAG_DISCRETIONARY, what=f"{spec.name} DO'53'").value
            if len(data) > wanted:
                raise ProtocolError(
                    f"the chip returned {len(data)} bytes of {spec.name} for {wanted} asked",
                    step=STEP_READ,
                )
        if not data:
            raise ProtocolError(
                f"the chip returned no data before the end of {spec.name}", step=STEP_READ
            )
        buffer += data
        if total is None:
            total = tlv_total_length(bytes(buffer))
        if response.sw == SW.WARNING_END_OF_FILE and (total is None or len(buffer) < total):
            raise EncodingError(
                f"{spec.name} ends after {len(buffer)} bytes, before the end of its TLV",
                offset=len(buffer),
            )
    return bytes(buffer[:total])
