"""APDUs of the personalization protocol and the encodings of what PUT DATA loads.

The protocol is JMRTD's passport applet's (DOMAIN.md §7), extended:

- SELECT applet ``00 A4 04 0C 07 A0 00 00 02 47 10 01`` (ICAO 9303-10 §4.1 AID);
- CREATE FILE ``00 E0 00 00 06 63 04 <size:2> <fid:2>``; SELECT EF ``00 A4 02 0C 02 <fid>``;
  UPDATE BINARY ``00 D6 <offset:2, b15 = 0> <chunk>`` (ISO/IEC 7816-4 §11.2.5), beyond 32 KiB with
  odd INS ``00 D7 00 00 {54 offset}{53 chunk}`` (the current EF; offset and data in data objects);
  DELETE FILE ``00 E4 02 00 02 <fid>`` (ISO/IEC 7816-9) of an EF before LOCK, to write it again;
- PUT DATA ``00 DA P1 P2 <one BER-TLV whose tag is P2>``: 62 MRZ seed, 60/61 RSA AA modulus and
  private exponent, 63 EC chip-authentication key, 65 CAN, 66 EC active-authentication key,
  67 chip-authentication key ID; ``00 DA DE AD`` locks the applet.

EC private keys use JMRTD's layout ``{81 p}{82 a}{83 b}{84 G}{85 n}{86 d}{87 h}`` over PRIME
fields, with the curve's explicit parameters (SEC 2 §2, RFC 5639 §3) taken from
:data:`cardkit.encoding.asn1.CURVES`. Field elements and the generator's coordinates are written
with the field's byte length, the private value with the order's byte length (BSI TR-03111
§3.1.3, Octet-String conversion), so the encoding never depends on leading zeros of a value.

Pure: no I/O. The builders return :class:`~cardkit.iso7816.apdu.Command` values; commands that
carry secrets are never logged by cardkit (traces redact PUT DATA, see cardkit.transport.trace).
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from cardkit.encoding import tlv
from cardkit.encoding.asn1 import CURVES, Curve
from cardkit.errors import EncodingError
from cardkit.iso7816.apdu import EXTENDED_MAX_DATA, Command
from cardkit.lds import files

__all__ = [
    "MAX_EVEN_OFFSET",
    "MAX_UPDATE_DATA",
    "EcPrivateKeyFields",
    "can_data",
    "create_file",
    "curve_by_name",
    "decode_ec_private_key",
    "delete_file",
    "ec_private_key_data",
    "ec_private_key_fields",
    "key_id_data",
    "lock",
    "mrz_seed_data",
    "odd_update_room",
    "put_data",
    "rsa_exponent_data",
    "rsa_modulus_data",
    "select_applet",
    "select_file",
    "update_binary",
    "update_binary_odd",
]

INS_SELECT = 0xA4
INS_CREATE_FILE = 0xE0
INS_UPDATE_BINARY = 0xD6
INS_UPDATE_BINARY_ODD = 0xD7
INS_DELETE_FILE = 0xE4
INS_PUT_DATA = 0xDA

#: PUT DATA P2 values (= the tag of the data object carried), P1 = 00.
TAG_RSA_MODULUS = 0x60
TAG_RSA_PRIVATE_EXPONENT = 0x61
TAG_MRZ_SEED = 0x62
TAG_CA_PRIVATE_KEY = 0x63
TAG_CAN = 0x65
TAG_AA_EC_PRIVATE_KEY = 0x66
TAG_CA_KEY_ID = 0x67
#: PUT DATA DE AD: the lock (JMRTD's "LOCK" command).
LOCK_P1P2 = (0xDE, 0xAD)

#: The file control parameter of CREATE FILE: DO'63' length 4 = size (2) ‖ FID (2).
CREATE_FILE_TAG = 0x63

#: The applet accepts up to 4096 data bytes in one UPDATE BINARY (the agreed protocol).
MAX_UPDATE_DATA = 4096
#: UPDATE BINARY with even INS carries a 15-bit offset in P1-P2 (ISO/IEC 7816-4 §11.2.5: b15 of
#: P1 set would mean a short EF identifier).
MAX_EVEN_OFFSET = 0x7FFF

_EC_TAGS = (0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87)


# --- The plain commands -------------------------------------------------------------------------


def select_applet() -> Command:
    """SELECT the LDS1 application by AID, no FCI (ICAO 9303-10 §4.1)."""
    return Command(0x00, INS_SELECT, 0x04, 0x0C, files.LDS1_AID)


def _fid(fid: int) -> bytes:
    if not 0 <= fid <= 0xFFFF:
        raise ValueError("a file identifier is two bytes")
    return fid.to_bytes(2, "big")


def select_file(fid: int) -> Command:
    """SELECT EF by file identifier, no response data (``00 A4 02 0C 02 <fid>``)."""
    return Command(0x00, INS_SELECT, 0x02, 0x0C, _fid(fid))


def create_file(fid: int, size: int) -> Command:
    """CREATE FILE ``00 E0 00 00 06 63 04 <size:2> <fid:2>`` (a transparent EF of ``size``)."""
    if not 0 < size <= 0xFFFF:
        raise ValueError("a file size is 1..65535 bytes")
    return Command(
        0x00,
        INS_CREATE_FILE,
        0x00,
        0x00,
        tlv.encode(CREATE_FILE_TAG, size.to_bytes(2, "big") + _fid(fid)),
    )


def update_binary(offset: int, chunk: bytes, *, extended: bool | None = None) -> Command:
    """UPDATE BINARY of the current EF at ``offset`` (ISO/IEC 7816-4 §11.2.5), short or
    extended length (``extended=None``: short whenever the chunk fits 255 bytes)."""
    if not 0 <= offset <= MAX_EVEN_OFFSET:
        raise ValueError(f"UPDATE BINARY offsets are 0..{MAX_EVEN_OFFSET}")
    if not 1 <= len(chunk) <= EXTENDED_MAX_DATA:
        raise ValueError("UPDATE BINARY needs 1..65535 data bytes")
    return Command(
        0x00, INS_UPDATE_BINARY, offset >> 8, offset & 0xFF, bytes(chunk), extended=extended
    )


def update_binary_odd(offset: int, chunk: bytes, *, extended: bool | None = None) -> Command:
    """UPDATE BINARY with odd INS (ISO/IEC 7816-4 §11.2.5): P1-P2 0000 (the current EF), the
    offset in DO'54' (minimal big-endian) and the data in DO'53', for offsets beyond 32767."""
    if not 0 <= offset <= 0xFFFFFF:
        raise ValueError("odd-INS UPDATE BINARY offsets are 0..16777215")
    if not chunk:
        raise ValueError("UPDATE BINARY needs data")
    body = tlv.encode(0x54, offset.to_bytes(max(1, (offset.bit_length() + 7) // 8), "big"))
    body += tlv.encode(0x53, bytes(chunk))
    if len(body) > EXTENDED_MAX_DATA:
        raise ValueError("the odd-INS UPDATE BINARY data field exceeds 65535 bytes")
    return Command(0x00, INS_UPDATE_BINARY_ODD, 0x00, 0x00, body, extended=extended)


def odd_update_room(limit: int, offset: int) -> int:
    """The data bytes one odd-INS UPDATE BINARY at ``offset`` carries when its data field may be
    ``limit`` bytes: DO'54' and DO'53''s header come off."""
    offset_do = 2 + max(1, (offset.bit_length() + 7) // 8)
    room = limit - offset_do - 2
    while room > 0 and offset_do + 1 + len(tlv.encode_length(room)) + room > limit:
        room -= 1
    return room


def delete_file(fid: int) -> Command:
    """DELETE FILE ``00 E4 02 00 02 <fid>`` (ISO/IEC 7816-9 §8.3: P1 = 02, an EF under the
    current DF by its identifier): cardkit's applet, before LOCK only."""
    return Command(0x00, INS_DELETE_FILE, 0x02, 0x00, _fid(fid))


def put_data(p1: int, p2: int, data: bytes) -> Command:
    """PUT DATA ``00 DA P1 P2 <data>``; ``data`` of the personalization objects is one BER-TLV
    whose tag equals P2 (checked here, so a mislabelled object never reaches the card)."""
    if p1 == 0x00:
        obj = tlv.decode_single(data, p2, what=f"PUT DATA {p2:02X}")
        if obj.tag != p2:
            raise EncodingError(f"PUT DATA {p2:02X}: the data object's tag must equal P2")
    return Command(0x00, INS_PUT_DATA, p1, p2, bytes(data))


def lock() -> Command:
    """PUT DATA DE AD: no personalization command works afterwards; reads need BAC or PACE."""
    return Command(0x00, INS_PUT_DATA, *LOCK_P1P2)


# --- PUT DATA bodies ----------------------------------------------------------------------------


def _octets(value: bytes) -> bytes:
    return tlv.encode(0x04, value)


def _ascii(text: str, what: str) -> bytes:
    if not text or not text.isascii() or not text.isprintable():
        raise EncodingError(f"{what}: printable ASCII expected")  # never the value: it is a secret
    return text.encode("ascii")


def _yymmdd(text: str, what: str) -> bytes:
    if len(text) != 6 or not text.isascii() or not text.isdigit():
        raise EncodingError(f"{what}: YYMMDD expected")
    return text.encode("ascii")


def mrz_seed_data(document_number: str, date_of_birth: str, date_of_expiry: str) -> bytes:
    """``62 L {04 document number}{04 date of birth}{04 date of expiry}``: the chip derives its
    BAC keys from these (ICAO 9303-11 §9.7.2), dates ``YYMMDD`` as in the MRZ."""
    body = (
        _octets(_ascii(document_number, "document number"))
        + _octets(_yymmdd(date_of_birth, "date of birth"))
        + _octets(_yymmdd(date_of_expiry, "date of expiry"))
    )
    return tlv.encode(TAG_MRZ_SEED, body)


def can_data(can: str) -> bytes:
    """``65 L {04 CAN digits}``: the PACE password of 9303-11 §9.7.3 (extension)."""
    if not can.isascii() or not can.isdigit() or not 6 <= len(can) <= 12:
        raise EncodingError("CAN: 6 to 12 decimal digits expected")
    return tlv.encode(TAG_CAN, _octets(can.encode("ascii")))


def key_id_data(key_id: int) -> bytes:
    """``67 L {02 keyId}``: the chip-authentication key ID of DG14 (9303-11 §9.2.5), as a
    DER INTEGER content (non-negative, minimal, a leading 00 when the top bit is set)."""
    if key_id < 0:
        raise EncodingError("key ID: a non-negative integer expected")
    return tlv.encode(
        TAG_CA_KEY_ID, tlv.encode(0x02, key_id.to_bytes(key_id.bit_length() // 8 + 1, "big"))
    )


def _unsigned(value: int, length: int | None = None) -> bytes:
    size = length if length is not None else max(1, (value.bit_length() + 7) // 8)
    return value.to_bytes(size, "big")


def rsa_modulus_data(key: rsa.RSAPrivateKey) -> bytes:
    """``60 L {04 modulus}`` (big-endian, no sign byte)."""
    return tlv.encode(TAG_RSA_MODULUS, _octets(_unsigned(key.private_numbers().public_numbers.n)))


def rsa_exponent_data(key: rsa.RSAPrivateKey) -> bytes:
    """``61 L {04 private exponent}``, as long as the modulus (a fixed-size field)."""
    numbers = key.private_numbers()
    length = (numbers.public_numbers.n.bit_length() + 7) // 8
    return tlv.encode(TAG_RSA_PRIVATE_EXPONENT, _octets(_unsigned(numbers.d, length)))


def curve_by_name(name: str) -> Curve:
    """The prime curve of :data:`cardkit.encoding.asn1.CURVES` called ``name``."""
    for curve in CURVES:
        if curve.name == name:
            return curve
    raise EncodingError(f"EC key on {name}: not a prime curve cardkit knows")


@dataclass(frozen=True, repr=False)
class EcPrivateKeyFields:
    """An EC private key as the applet receives it: the curve and the private value ``d``."""

    curve: Curve
    d: int

    def __post_init__(self) -> None:
        if not 0 < self.d < self.curve.n:
            raise EncodingError("EC private key: the private value is out of range [1, n-1]")

    def __repr__(self) -> str:
        return f"EcPrivateKeyFields({self.curve.name}, <redacted>)"


def ec_private_key_fields(key: ec.EllipticCurvePrivateKey) -> EcPrivateKeyFields:
    return EcPrivateKeyFields(curve_by_name(key.curve.name), key.private_numbers().private_value)


def ec_private_key_data(tag: int, key: ec.EllipticCurvePrivateKey | EcPrivateKeyFields) -> bytes:
    """``tag L {81 p}{82 a}{83 b}{84 G}{85 n}{86 d}{87 h}`` (``tag`` 63 for chip
    authentication, 66 for active authentication), explicit prime-curve parameters.

    G is uncompressed (``04 ‖ x ‖ y``, SEC 1 §2.3.3); p, a, b, x, y have the field's length,
    ``d`` the order's; n and h are minimal big-endian.
    """
    if tag not in (TAG_CA_PRIVATE_KEY, TAG_AA_EC_PRIVATE_KEY):
        raise ValueError("EC private keys go to PUT DATA 63 or 66")
    fields = key if isinstance(key, EcPrivateKeyFields) else ec_private_key_fields(key)
    c = fields.curve
    size = c.field_length
    order_size = (c.n.bit_length() + 7) // 8
    body = b"".join(
        (
            tlv.encode(0x81, _unsigned(c.p, size)),
            tlv.encode(0x82, _unsigned(c.a % c.p, size)),
            tlv.encode(0x83, _unsigned(c.b, size)),
            tlv.encode(0x84, b"\x04" + _unsigned(c.gx, size) + _unsigned(c.gy, size)),
            tlv.encode(0x85, _unsigned(c.n)),
            tlv.encode(0x86, _unsigned(fields.d, order_size)),
            tlv.encode(0x87, _unsigned(c.h)),
        )
    )
    return tlv.encode(tag, body)


def decode_ec_private_key(data: bytes) -> tuple[int, EcPrivateKeyFields]:
    """Inverse of :func:`ec_private_key_data`: the tag and the key. Strict: all seven data
    objects in order, lengths as written, parameters of a known curve. EncodingError otherwise
    (the message never holds the private value)."""
    outer = tlv.decode_single(data, what="EC private key")
    if outer.tag not in (TAG_CA_PRIVATE_KEY, TAG_AA_EC_PRIVATE_KEY):
        raise EncodingError(f"EC private key: unexpected tag {outer.tag:X} (63 or 66 expected)")
    children = tlv.decode_all(outer.value)
    if tuple(c.tag for c in children) != _EC_TAGS:
        raise EncodingError("EC private key: data objects 81..87 expected, in order")
    values = {c.tag: c.value for c in children}
    point = values[0x84]
    p = int.from_bytes(values[0x81], "big")
    for curve in CURVES:
        size = curve.field_length
        if curve.p != p or len(values[0x81]) != size:
            continue
        expected = b"\x04" + _unsigned(curve.gx, size) + _unsigned(curve.gy, size)
        if (
            values[0x82] == _unsigned(curve.a % curve.p, size)
            and values[0x83] == _unsigned(curve.b, size)
            and point == expected
            and values[0x85] == _unsigned(curve.n)
            and values[0x87] == _unsigned(curve.h)
            and len(values[0x86]) == (curve.n.bit_length() + 7) // 8
        ):
            return outer.tag, EcPrivateKeyFields(curve, int.from_bytes(values[0x86], "big"))
    raise EncodingError("EC private key: the domain parameters are not a known prime curve")
