"""Reading a chip: access control, secure messaging, every LDS file, chip and active authentication.

The reader side of ICAO 9303-11 §4 (access control), §6 (chip and active authentication) and §9.8
(secure messaging) over the file system of ICAO 9303-10 §3–§4, reusable by ``cardkit read``,
``cardkit verify`` and the read-back check of ``cardkit personalize``.

The order of work (9303-11 §4.2 / §7 "inspection procedure"):

1. EF.CardAccess is read from the master file **without selecting 3F00** (real cards refuse that
   SELECT; ``00 A4 02 0C 02 01 1C`` works, DOMAIN.md §1). Absent (6A82) means no PACE.
2. PACE (the best PACEInfo cardkit supports, with the MRZ or the CAN), then SELECT of the LDS1
   application under secure messaging; or, without PACE, SELECT of the application in clear and
   BAC (which needs the MRZ: a CAN alone cannot open a BAC-only chip). A key the chip refuses —
   or a CAN on a chip without a PACE cardkit can run — raises
   :class:`~cardkit.errors.AccessDeniedError`: a mistyped key, not a forgery.
3. EF.COM, then DG14 → chip authentication (secure messaging restarts with the new keys; PACE-CAM
   is checked against DG14 instead), EF.SOD and every data group EF.COM lists (or those asked
   for). DG3/DG4 answering 6982 are reported as *protected* (EAC terminal authentication is not
   performed), not as failures; they are read last, so a chip that ends secure messaging on that
   refusal costs nothing else.
4. Active authentication with DG15 (and DG14's ActiveAuthenticationInfo for an EC key).

**Reading efficiently.** Every file of the LDS application is read with a short EF identifier
(READ BINARY, P1 = 80 | SFI, ISO/IEC 7816-4 §7.2.3), which also makes it the current EF, so no
SELECT is ever sent for it. The first READ BINARY asks for one full short chunk: it returns small
files whole and tells the length of large ones from their TLV header; the rest follows in as few
APDUs as the chip allows — one extended-length READ BINARY when the chip advertises extended
length (ATR card capabilities, ISO/IEC 7816-4 §8.1.1.2.7, and DO'7F66' in EF.ATR/INFO, §12.7.1),
otherwise the largest short read whose *protected* response still fits in 256 bytes (derived in
:func:`max_protected_plaintext`: 223 bytes with AES, 231 with 3DES). Offsets above 32767 cannot be
written in P1-P2 and use READ BINARY with odd INS (B1) and DO'54' (ISO/IEC 7816-4 §7.2.3).

Files are returned exactly as read (no re-encoding: EF.SOD hashes them as written). A failed read
leaves nothing behind: the secure-messaging sessions are ended (their keys dropped) whatever
happens, and :func:`read_card` always starts from scratch.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from types import MappingProxyType
from typing import Literal, TypeAlias

from cardkit.encoding import oids, tlv
from cardkit.encoding.mrz import MrzError, parse_mrz
from cardkit.errors import AccessDeniedError, CardError, EncodingError, ProtocolError
from cardkit.iso7816.apdu import EXTENDED_MAX_NE, SHORT_MAX_NE, SW, Command, Response
from cardkit.iso7816.connection import Connection
from cardkit.lds import files
from cardkit.lds.card_access import CardAccess
from cardkit.lds.com import Com
from cardkit.lds.dg14 import Dg14
from cardkit.lds.dg15 import Dg15
from cardkit.lds.files import FileSpec
from cardkit.lds.sod import Sod
from cardkit.protocol import crypto
from cardkit.protocol.aa import AaResult, perform_aa
from cardkit.protocol.bac import MrzKey, perform_bac
from cardkit.protocol.ca import CaResult, perform_ca
from cardkit.protocol.pace import (
    PacePassword,
    PaceResult,
    choose_pace_info,
    perform_pace,
    verify_cam,
)
from cardkit.protocol.sm import SecureConnection, SecureMessaging

__all__ = [
    "AccessKey",
    "CardRead",
    "CountingConnection",
    "ReadLimits",
    "extended_length_from_atr",
    "historical_bytes",
    "max_protected_plaintext",
    "parse_atr_info",
    "read_card",
    "read_file",
    "tlv_total_length",
]

Rng: TypeAlias = Callable[[int], bytes]
Access: TypeAlias = Literal["PACE-CAN", "PACE-MRZ", "BAC"]

INS_SELECT = 0xA4
INS_READ_BINARY = 0xB0
INS_READ_BINARY_ODD = 0xB1
TAG_OFFSET = 0x54  # DO'54': offset data object of READ BINARY B1 (ISO/IEC 7816-4 §7.2.3)
TAG_DISCRETIONARY = 0x53  # DO'53': the data read by READ BINARY B1
MAX_EVEN_OFFSET = 0x7FFF  # P1-P2 of READ BINARY B0 carry a 15-bit offset (P1 b8 = 0)

#: EF.ATR/INFO (ISO/IEC 7816-4 §8.2.1.1), in the master file, and its extended length DO.
ATR_INFO_FID = 0x2F01
TAG_EXTENDED_LENGTH_INFO = 0x7F66
#: Card capabilities, third software function byte, b7: "extended Lc and Le fields"
#: (ISO/IEC 7816-4 §8.1.1.2.7, Table 118).
CAPABILITY_EXTENDED_LENGTH = 0x40

#: A response APDU with a short Le carries at most 256 data bytes (ISO/IEC 7816-4 §5.1).
SHORT_RESPONSE_LIMIT = SHORT_MAX_NE
#: When the chip says it supports extended length but not how much: the largest Ne.
DEFAULT_EXTENDED_RESPONSE_LIMIT = EXTENDED_MAX_NE
#: No LDS file comes near this; a header announcing more is treated as malformed, so a hostile
#: chip cannot keep a reader looping.
MAX_FILE_LENGTH = 1 << 20

#: Data groups protected by EAC terminal authentication (9303-11 §7.1; TR-03110-1).
EAC_DATA_GROUPS = (3, 4)

STEP_READ = "READ BINARY"
STEP_ACCESS = "access control"
STEP_CA = "chip authentication"


# --- The access key ----------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class AccessKey:
    """What opens the chip: the MRZ key (document number, date of birth, date of expiry) or the
    CAN printed on the card (9303-11 §4.3.1, §9.7.3). A secret: ``repr`` is redacted and errors
    name the field, never its value. Build it with :meth:`from_mrz`, :meth:`from_mrz_fields` or
    :meth:`from_can`."""

    mrz_key: MrzKey | None = None
    can: str | None = None

    def __post_init__(self) -> None:
        if (self.mrz_key is None) == (self.can is None):
            raise ValueError("an access key is either an MRZ key or a CAN")
        if self.can is not None and not _valid_can(self.can):
            raise EncodingError("CAN: 6 to 12 decimal digits expected")

    def __repr__(self) -> str:
        return f"AccessKey({self.kind}, <redacted>)"

    @property
    def kind(self) -> Literal["MRZ", "CAN"]:
        return "MRZ" if self.mrz_key is not None else "CAN"

    @classmethod
    def from_mrz(cls, text: str) -> AccessKey:
        """The key of a whole TD1 (3 × 30) or TD3 (2 × 44) MRZ, lines separated or joined.

        Check digits are verified (ICAO 9303-3 §4.9): a misread MRZ fails here, not at the chip.
        Raises :class:`~cardkit.encoding.mrz.MrzError` naming the field.
        """
        return cls(mrz_key=MrzKey.from_mrz(parse_mrz(text)))

    @classmethod
    def from_mrz_fields(
        cls, document_number: str, date_of_birth: str, date_of_expiry: str
    ) -> AccessKey:
        """The key from the three BAC fields (dates ``YYMMDD``, 9303-11 §4.3.1)."""
        try:
            return cls(mrz_key=MrzKey(document_number.strip(), date_of_birth, date_of_expiry))
        except ValueError as exc:  # MrzKey names the field, never the value
            field_name = str(exc).split(":", 1)[0]
            raise MrzError(f"MRZ key: {exc}", field=field_name) from None

    @classmethod
    def from_can(cls, can: str) -> AccessKey:
        """The key from the Card Access Number (PACE only, 9303-11 §4.4)."""
        return cls(can=can.strip())

    def pace_password(self) -> PacePassword:
        if self.mrz_key is not None:
            return PacePassword.from_mrz_key(self.mrz_key)
        assert self.can is not None
        return PacePassword.from_can(self.can)


def _valid_can(can: str) -> bool:
    return can.isascii() and can.isdigit() and 6 <= len(can) <= 12


# --- Counting -----------------------------------------------------------------------------------


class CountingConnection:
    """A Connection that counts the APDUs and bytes (command + response, status words included)
    crossing it. Placed under secure messaging, it counts what goes over the air."""

    def __init__(self, inner: Connection) -> None:
        self.inner = inner
        self.apdu_count = 0
        self.bytes_exchanged = 0

    def send(self, command: Command) -> Response:
        raw = bytes(command)
        self.apdu_count += 1
        self.bytes_exchanged += len(raw)
        response = self.inner.send(command)
        self.bytes_exchanged += len(response.data) + 2
        return response


# --- Extended length: what the chip advertises -------------------------------------------------


def historical_bytes(atr: bytes) -> bytes | None:
    """The historical bytes of an ATR (ISO/IEC 7816-3 §8.2): T0's low nibble K bytes after the
    interface bytes. None when the ATR is too short for what it announces."""
    if len(atr) < 2:
        return None
    k = atr[1] & 0x0F
    indicator = atr[1] >> 4
    position = 2
    while True:
        count = bin(indicator & 0x0F).count("1")  # TA, TB, TC, TD present
        has_td = bool(indicator & 0x08)
        position += count
        if position > len(atr):
            return None
        if not has_td:
            break
        indicator = atr[position - 1] >> 4
    if position + k > len(atr):
        return None
    return bytes(atr[position : position + k])


def extended_length_from_atr(atr: bytes | None) -> bool | None:
    """Whether the ATR's card capabilities announce extended Lc/Le (ISO/IEC 7816-4 §8.1.1.2.7:
    compact-TLV ``7x`` in historical bytes of category 00 or 80, third byte b7). None when the
    ATR does not say (no ATR, no card capabilities, a proprietary category)."""
    if atr is None:
        return None
    history = historical_bytes(atr)
    if not history:
        return None
    category = history[0]
    if category == 0x80:
        body = history[1:]
    elif category == 0x00 and len(history) >= 4:
        body = history[1:-3]  # the last three bytes are the status indicator
    else:
        return None
    position = 0
    while position < len(body):
        tag, length = body[position] >> 4, body[position] & 0x0F
        value = body[position + 1 : position + 1 + length]
        if len(value) != length:
            return None
        if tag == 0x7:
            return len(value) >= 3 and bool(value[2] & CAPABILITY_EXTENDED_LENGTH)
        position += 1 + length
    return None


def parse_atr_info(data: bytes) -> int | None:
    """The maximum response APDU length in EF.ATR/INFO's DO'7F66' (ISO/IEC 7816-4 §12.7.1:
    ``7F66 { 02 max command bytes, 02 max response bytes }``), or None when it has none.
    EncodingError when the file is not BER-TLV or the DO is malformed."""
    found = _find_tag(tlv.decode_all(data.rstrip(b"\x00")), TAG_EXTENDED_LENGTH_INFO, depth=0)
    if found is None:
        return None
    integers = [c for c in found.children() if c.tag == 0x02]
    if len(integers) < 2 or not all(1 <= len(i.value) <= 4 for i in integers[:2]):
        raise EncodingError("EF.ATR/INFO: DO'7F66' needs two INTEGERs (command and response)")
    return int.from_bytes(integers[1].value, "big")


def _find_tag(items: list[tlv.Tlv], tag: int, depth: int) -> tlv.Tlv | None:
    for item in items:
        if item.tag == tag:
            return item
        if depth < 2 and item.constructed:
            found = _find_tag(item.children(), tag, depth + 1)
            if found is not None:
                return found
    return None


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

    Raises CardError (``sw``: 6A82 not found, 6982 access denied, ...) when the chip refuses a
    READ BINARY, EncodingError when the file or a DO'53' is malformed, ProtocolError when the
    chip answers with more data than asked or with none before the file's end.
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
        first = False
        if response.sw not in (SW.OK, SW.WARNING_END_OF_FILE):
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


# --- The result ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CardRead:
    """Everything one read of a chip gave.

    ``files`` holds each file exactly as read (EF.CardAccess, EF.COM, EF.SOD, DGs); ``protected``
    the EAC data groups the chip refused (6982) and ``missing`` the data groups it does not have
    (6A82); ``errors`` what failed without stopping the read. ``pace``, ``ca`` and ``aa`` are None
    when that protocol was not run; their secure-messaging sessions have ended (keys dropped).
    CA and AA only *count* once passive authentication has validated DG14/DG15 (``cardkit
    verify``): this object records what the chip did.
    """

    files: Mapping[FileSpec, bytes] = field(repr=False)
    protected: tuple[int, ...]
    missing: tuple[int, ...]
    access: Access
    pace: PaceResult | None
    ca: CaResult | None
    aa: AaResult | None
    apdu_count: int
    bytes_exchanged: int
    errors: tuple[str, ...] = ()
    extended_length: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "files", MappingProxyType(dict(self.files)))
        if self.access not in ("PACE-CAN", "PACE-MRZ", "BAC"):
            raise ValueError("access must be PACE-CAN, PACE-MRZ or BAC")

    def data_groups(self) -> dict[int, bytes]:
        """The data groups read, by number."""
        return {spec.dg: data for spec, data in self.files.items() if spec.dg is not None}

    @property
    def chip_authentication(self) -> str:
        """``"CA"`` (chip authentication run and the chip kept answering under its keys),
        ``"PACE-CAM"`` (verified against DG14), ``"failed"`` (CAM data did not match DG14) or
        ``"not performed"``."""
        if self.ca is not None:
            return "CA"
        if self.pace is not None and self.pace.mapping == "CAM":
            if self.pace.cam_verified is None:
                return "not performed"
            return "PACE-CAM" if self.pace.cam_verified else "failed"
        return "not performed"

    def describe(self) -> dict[str, object]:
        """A JSON-serialisable summary without secrets (``read.json``)."""
        pace: dict[str, object] | None = None
        if self.pace is not None:
            pace = {
                "mapping": self.pace.mapping,
                "protocol": oids.name_of(self.pace.protocol) if self.pace.protocol else None,
                "parameter_id": self.pace.parameter_id,
                "cam_verified": self.pace.cam_verified,
            }
        ca = None
        if self.ca is not None:
            ca = {"protocol": oids.name_of(self.ca.protocol), "key_id": self.ca.key_id}
        aa = None
        if self.aa is not None:
            aa = {
                "verified": self.aa.verified,
                "algorithm": self.aa.algorithm,
                "detail": self.aa.detail,
            }
        return {
            "access": self.access,
            "pace": pace,
            "chip_authentication": self.chip_authentication,
            "ca": ca,
            "aa": aa,
            "extended_length": self.extended_length,
            "files": {
                spec.name: {
                    "fid": f"{spec.fid:04X}",
                    "size": len(data),
                    "sha256": hashlib.sha256(data).hexdigest(),
                }
                for spec, data in self.files.items()
            },
            "protected": list(self.protected),
            "missing": list(self.missing),
            "errors": list(self.errors),
            "apdu_count": self.apdu_count,
            "bytes_exchanged": self.bytes_exchanged,
        }


# --- The read -----------------------------------------------------------------------------------


def _select_fid(fid: int) -> Command:
    """SELECT EF by file identifier, no response data (``00 A4 02 0C 02 <fid>``)."""
    return Command(0x00, INS_SELECT, 0x02, 0x0C, fid.to_bytes(2, "big"))


def _select_lds_application() -> Command:
    """SELECT the LDS1 application by AID (9303-10 §4.1), no response data."""
    return Command(0x00, INS_SELECT, 0x04, 0x0C, files.LDS1_AID)


def _connection_atr(connection: Connection) -> bytes | None:
    """The ATR of a PC/SC (``.atr``) or emulator (``.card.atr``) connection, looking through
    wrappers (``.inner``), when one exposes it."""
    holder: object = connection
    for _ in range(8):
        for candidate in (holder, getattr(holder, "card", None)):
            atr = getattr(candidate, "atr", None)
            if isinstance(atr, bytes | bytearray) and atr:
                return bytes(atr)
        holder = getattr(holder, "inner", None)
        if holder is None:
            return None
    return None


class _Reader:
    """One run of :func:`read_card`; holds the sessions it must end whatever happens."""

    def __init__(
        self,
        connection: Connection,
        key: AccessKey,
        rng: Rng,
        chip_authentication: bool,
        active_authentication: bool,
        extended_length: bool | None,
        data_groups: tuple[int, ...] | None,
    ) -> None:
        self.raw = connection
        self.counter = CountingConnection(connection)
        self.key = key
        self.rng = rng
        self.do_ca = chip_authentication
        self.do_aa = active_authentication
        self.extended_override = extended_length
        self.requested = data_groups
        self.sessions: list[SecureMessaging] = []
        self.secure: SecureConnection | None = None
        self.files: dict[FileSpec, bytes] = {}
        self.errors: list[str] = []
        self.protected: list[int] = []
        self.missing: list[int] = []
        self.limits = ReadLimits()

    # -- lifecycle

    def close(self) -> None:
        for sm in self.sessions:
            sm.end("the read is over")
        if self.secure is not None:
            self.secure.sm.end("the read is over")

    def _open_secure(self, sm: SecureMessaging) -> SecureConnection:
        self.sessions.append(sm)
        self.secure = SecureConnection(self.counter, sm)
        return self.secure

    # -- before access control

    def _decide_limits(self) -> ReadLimits:
        if self.extended_override is False:
            return ReadLimits()
        if self.extended_override is True:
            return ReadLimits(True, DEFAULT_EXTENDED_RESPONSE_LIMIT)
        announced = extended_length_from_atr(_connection_atr(self.raw))
        if announced is False:
            return ReadLimits()
        limit = self._read_atr_info()
        if limit is None:
            # The ATR alone (no EF.ATR/INFO): trust it with the largest Ne; no ATR: short only.
            return ReadLimits(True, DEFAULT_EXTENDED_RESPONSE_LIMIT) if announced else ReadLimits()
        limit -= 2  # the maximum counts the response APDU, status word included
        if limit <= SHORT_RESPONSE_LIMIT:
            return ReadLimits()
        return ReadLimits(True, min(limit, EXTENDED_MAX_NE))

    def _read_atr_info(self) -> int | None:
        """DO'7F66' of EF.ATR/INFO (2F01, in the master file), when the chip has one."""
        spec = FileSpec("EF.ATR/INFO", fid=ATR_INFO_FID, sfi=0x01, tag=None, in_master_file=True)
        if self.counter.send(_select_fid(ATR_INFO_FID)).sw != SW.OK:
            return None
        try:
            data = read_file(self.counter, spec, ReadLimits(), use_sfi=False)
            return parse_atr_info(data)
        except CardError:
            return None
        except EncodingError as exc:
            self.errors.append(f"EF.ATR/INFO ignored: {exc}")
            return None

    def _read_card_access(self) -> CardAccess | None:
        """EF.CardAccess, selected by FID from wherever the chip is (never SELECT 3F00)."""
        response = self.counter.send(_select_fid(files.CARD_ACCESS.fid))
        if response.sw != SW.OK:
            if response.sw != SW.FILE_NOT_FOUND:
                self.errors.append(f"EF.CardAccess: SELECT refused (status {response.sw:04X})")
            return None
        try:
            data = read_file(self.counter, files.CARD_ACCESS, ReadLimits(), use_sfi=False)
        except CardError as exc:
            if exc.sw != SW.FILE_NOT_FOUND:
                self.errors.append(f"EF.CardAccess: {exc}")
            return None
        self.files[files.CARD_ACCESS] = data
        try:
            return CardAccess.from_bytes(data)
        except EncodingError as exc:
            self.errors.append(f"EF.CardAccess is malformed, PACE not possible: {exc}")
            return None

    # -- access control

    def _access(self, card_access: CardAccess | None) -> tuple[Access, PaceResult | None]:
        info = choose_pace_info(card_access) if card_access is not None else None
        if card_access is not None and info is None:
            self.errors.append("EF.CardAccess offers no PACE variant cardkit supports")
        if info is not None:
            password = self.key.pace_password()
            try:
                pace = perform_pace(self.counter, password, info, self.rng)
            except CardError as exc:
                if self.key.mrz_key is None:
                    # MSE:Set AT refused for the CAN (9303-11 §4.4.4.1; e.g. 6A88, no CAN on
                    # this chip) and no MRZ for BAC: the CAN does not open this card.
                    raise AccessDeniedError("CAN", step=STEP_ACCESS) from exc
                self.errors.append(f"PACE could not start ({exc}); BAC used instead")
            else:
                secure = self._open_secure(pace.sm)
                response = secure.send(_select_lds_application())
                if response.sw != SW.OK:
                    raise CardError("SELECT of the LDS application refused", sw=response.sw)
                return ("PACE-CAN" if password.kind == "CAN" else "PACE-MRZ"), pace
        if self.key.mrz_key is None:
            # No PACE cardkit can run (no EF.CardAccess, none of its PACEInfos supported) and
            # BAC needs the MRZ (9303-11 §4.3.1): the CAN alone does not open this chip. The
            # person can enter the key again — the MRZ this time.
            raise AccessDeniedError("CAN", step=STEP_ACCESS)
        # 9303-11 §4.2: the application is selected in clear before BAC.
        response = self.counter.send(_select_lds_application())
        if response.sw != SW.OK:
            raise CardError("SELECT of the LDS application refused", sw=response.sw)
        self._open_secure(perform_bac(self.counter, self.key.mrz_key, self.rng))
        return "BAC", None

    # -- reading under secure messaging

    def _read(self, spec: FileSpec) -> bytes:
        assert self.secure is not None
        data = read_file(self.secure, spec, self.limits, block=self.secure.sm.block_size)
        self.files[spec] = data
        return data

    def _try_read(self, spec: FileSpec) -> bytes | None:
        """Read a file, recording (not raising) what the chip refuses while SM stays up."""
        assert self.secure is not None
        try:
            return self._read(spec)
        except CardError as exc:
            number = spec.dg
            if exc.sw == SW.SECURITY_STATUS_NOT_SATISFIED and number in EAC_DATA_GROUPS:
                self.protected.append(number)
            elif exc.sw == SW.FILE_NOT_FOUND and number is not None:
                self.missing.append(number)
            else:
                self.errors.append(f"{spec.name}: {exc}")
            if not self.secure.sm.active and number not in EAC_DATA_GROUPS:
                raise ProtocolError(
                    f"the chip ended secure messaging when refusing {spec.name}", step=STEP_READ
                ) from exc
            return None
        except EncodingError as exc:
            self.errors.append(f"{spec.name}: {exc}")
            return None

    def _listed_data_groups(self) -> tuple[int, ...]:
        com_bytes = self._try_read(files.COM)
        if com_bytes is not None:
            try:
                return Com.from_bytes(com_bytes).data_groups
            except EncodingError as exc:
                self.errors.append(f"EF.COM: {exc}")
        # Without EF.COM, EF.SOD's hash list names the data groups (9303-10 §4.6.2).
        sod_bytes = self._try_read(files.SOD)
        if sod_bytes is not None:
            try:
                return tuple(Sod.from_bytes(sod_bytes).lds_security_object.hashes)
            except EncodingError as exc:
                self.errors.append(f"EF.SOD: {exc}")
        return ()

    def _chip_authentication(self, dg14: Dg14 | None, pace: PaceResult | None) -> CaResult | None:
        if not self.do_ca or (pace is not None and pace.cam_verified):
            return None  # PACE-CAM already authenticated the chip (9303-11 §4.4.3.5)
        if dg14 is None:
            self.errors.append("chip authentication not performed: no usable DG14")
            return None
        if not dg14.security_infos.chip_authentication_public_keys:
            self.errors.append("chip authentication not performed: DG14 has no CA public key")
            return None
        assert self.secure is not None
        try:
            return perform_ca(self.secure, dg14, self.rng)
        except (CardError, ProtocolError) as exc:
            if not self.secure.sm.active:
                raise
            self.errors.append(f"chip authentication failed: {exc}")
            return None

    def _active_authentication(self, dg15: Dg15 | None, dg14: Dg14 | None) -> AaResult | None:
        if dg15 is None:
            return None
        assert self.secure is not None
        try:
            return perform_aa(self.secure, dg15, dg14, self.rng)
        except (CardError, ProtocolError) as exc:
            if not self.secure.sm.active:
                raise
            self.errors.append(f"active authentication failed: {exc}")
            return None

    def run(self) -> CardRead:
        self.limits = self._decide_limits()
        access, pace = self._access(self._read_card_access())
        assert self.secure is not None

        listed = self._listed_data_groups()
        wanted = set(self.requested if self.requested is not None else listed)
        want_dg14 = 14 in wanted or (
            14 in listed
            and (self.do_ca or self.do_aa or (pace is not None and pace.mapping == "CAM"))
        )
        want_dg15 = 15 in wanted or (15 in listed and self.do_aa)

        dg14: Dg14 | None = None
        if want_dg14:
            raw14 = self._try_read(files.dg(14))
            if raw14 is not None:
                try:
                    dg14 = Dg14.from_bytes(raw14)
                except EncodingError as exc:
                    self.errors.append(f"DG14: {exc}")
        if pace is not None and pace.mapping == "CAM":
            pace = self._verify_cam(pace, dg14)

        ca = self._chip_authentication(dg14, pace)
        if files.SOD not in self.files:
            try:
                self._try_read(files.SOD)
            except ProtocolError as exc:
                if ca is not None:
                    # The first response under the CA keys did not verify: the chip does not
                    # hold the private key of DG14 (9303-11 §6.2: authentication is implicit).
                    raise ProtocolError(
                        f"the chip failed chip authentication ({exc})", step=STEP_CA
                    ) from exc
                raise
        if files.SOD not in self.files:
            self.errors.append("EF.SOD could not be read")

        ordinary = sorted(n for n in wanted if n not in (14, 15, *EAC_DATA_GROUPS))
        for number in ordinary:
            self._try_read(files.dg(number))

        dg15: Dg15 | None = None
        if want_dg15:
            raw15 = self._try_read(files.dg(15))
            if raw15 is not None:
                try:
                    dg15 = Dg15.from_bytes(raw15)
                except EncodingError as exc:
                    self.errors.append(f"DG15: {exc}")
        aa = self._active_authentication(dg15, dg14) if self.do_aa else None

        for number in sorted(n for n in wanted if n in EAC_DATA_GROUPS):
            if not self.secure.sm.active:
                self.errors.append(f"DG{number} not read: the chip ended secure messaging")
                continue
            self._try_read(files.dg(number))

        return CardRead(
            files=self.files,
            protected=tuple(self.protected),
            missing=tuple(self.missing),
            access=access,
            pace=pace,
            ca=ca,
            aa=aa,
            apdu_count=self.counter.apdu_count,
            bytes_exchanged=self.counter.bytes_exchanged,
            errors=tuple(self.errors),
            extended_length=self.limits.extended,
        )

    def _verify_cam(self, pace: PaceResult, dg14: Dg14 | None) -> PaceResult:
        if dg14 is None:
            self.errors.append("PACE-CAM not verified: no usable DG14")
            return pace
        try:
            return replace(pace, cam_verified=verify_cam(pace, dg14))
        except (ProtocolError, EncodingError) as exc:
            self.errors.append(f"PACE-CAM not verified: {exc}")
            return pace


def read_card(
    connection: Connection,
    key: AccessKey,
    *,
    rng: Rng = os.urandom,
    chip_authentication: bool = True,
    active_authentication: bool = True,
    extended_length: bool | None = None,
    data_groups: Iterable[int] | None = None,
) -> CardRead:
    """Open the chip with ``key`` and read it (module docstring; ICAO 9303-11 §4, §6, §7).

    ``extended_length`` forces (True) or forbids (False) extended-length READ BINARY; by default
    the chip's ATR and EF.ATR/INFO decide. ``data_groups`` replaces the list of EF.COM.

    Raises (only :class:`~cardkit.errors.CardkitError` subclasses, whatever the chip sends):

    - :class:`~cardkit.errors.AccessDeniedError` (a ProtocolError; ``key_kind`` "CAN" or
      "MRZ") when the key does not open the chip: the chip refuses BAC's EXTERNAL AUTHENTICATE
      or PACE's last GENERAL AUTHENTICATE (9303-11 §4.3.3.2, §4.4.3.4), or only a CAN is given
      and the chip offers no PACE that takes it (no usable EF.CardAccess, MSE:Set AT refused).
      A mistyped key, not a forgery: ask for the key again.
    - ProtocolError for a forged or damaged protected response, a chip that does not follow
      BAC/PACE/SM, or a chip that fails chip authentication (``step`` :data:`STEP_CA`).
    - CardError when the chip refuses a step the read cannot do without (SELECT of the LDS
      application, a refusal that ends secure messaging).
    - EncodingError for malformed bytes the read cannot do without.
    - TransportError when the card or reader goes away.

    Whatever happens, the secure-messaging keys of this read are dropped before returning.
    """
    wanted: tuple[int, ...] | None = None
    if data_groups is not None:
        wanted = tuple(sorted(set(data_groups)))
        for number in wanted:
            files.dg(number)  # ValueError for a number outside 1..16
    reader = _Reader(
        connection,
        key,
        rng,
        chip_authentication,
        active_authentication,
        extended_length,
        wanted,
    )
    try:
        return reader.run()
    finally:
        reader.close()
