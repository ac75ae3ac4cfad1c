"""Card-verifiable (CV) certificates and certificate requests of the EAC PKI (BSI TR-03110-3).

The CV PKI of Extended Access Control is not X.509: a CVCA (the issuing state's trust point, stored
in the chip) certifies Document Verifiers, which certify inspection systems, and each certificate
is a DER-encoded BER-TLV structure the chip can parse with a few hundred bytes of code
(TR-03110-3 appendix C, data objects of appendix D)::

    7F21 CV certificate                                  C.1, Table C.1
       7F4E certificate body                             the signed bytes (tag and length too)
          5F29 certificate profile identifier   00       D.2 unsigned integer (version 1)
          42   certification authority reference (CAR)   D.2 character string, ≤ 16 chars
          7F49 public key { 06 id-TA-* OID, … }           D.3
          5F20 certificate holder reference (CHR)
          7F4C certificate holder authorization template  C.1.5 { 06 id-IS, 53 rights }
          5F25 effective date   YYMMDD, one unpacked BCD digit an octet (D.2)
          5F24 expiration date
          65   certificate extensions { 73 { 06 OID, … }, … }   C.3 (optional)
       5F37 signature                                     plain r‖s for ECDSA (TR-03111)

A certificate request (C.2, Table C.2) has the same ``7F21`` shape with a shorter body
(profile identifier, recommended CAR, public key, CHR, optional extensions) signed with the
requested key itself (the inner signature: proof of possession), optionally wrapped in
``67 { 7F21 …, 42 outer CAR, 5F37 outer signature }`` by a key the requester already holds a
certificate for (the outer signature covers the encoded ``7F21`` and ``42``, both with their tags).

Decoding is strict: data objects in the order of the tables, every mandatory one present, DER
lengths, unsigned integers without leading zero octets, dates of six valid digits, character
strings of ISO/IEC 8859-1 assigned characters, nothing after the last data object; each failure
is an :class:`~cardkit.errors.EncodingError` with the offset of the offending data object. Every
value keeps the exact bytes it was read from (``raw``): the signature is over the body as read.

Only the signature is asked of a :class:`~cardkit.pki.signer.Signer` (:func:`sign_body`), so a
PKCS#11 key signs a CV certificate exactly as a file key does; the ECDSA signature the Signer
returns in DER is converted to the plain ``r ‖ s`` of TR-03111 §5.2.1. The signature algorithm
of a certificate is the one its *issuer's* public key names (the ``id-TA-*`` OID in 7F49 of the
issuer's certificate): TR-03110-3 D.3 ties the OID of a public key to its use.

This module is pure: no files, no clock (validity is judged against a date passed in).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import Literal

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from cardkit.encoding import asn1, oids, tlv
from cardkit.errors import EncodingError, PkiError
from cardkit.pki import algorithms
from cardkit.pki.signer import HashName, PublicKey, SignatureScheme, Signer

# --- Tags (TR-03110-3 Table D.1) ---------------------------------------------------------------

TAG_CV_CERTIFICATE = 0x7F21
TAG_CERTIFICATE_BODY = 0x7F4E
TAG_PROFILE_IDENTIFIER = 0x5F29
TAG_CAR = 0x42
TAG_PUBLIC_KEY = 0x7F49
TAG_CHR = 0x5F20
TAG_CHAT = 0x7F4C
TAG_EFFECTIVE_DATE = 0x5F25
TAG_EXPIRATION_DATE = 0x5F24
TAG_EXTENSIONS = 0x65
TAG_DISCRETIONARY_TEMPLATE = 0x73
TAG_SIGNATURE = 0x5F37
TAG_AUTHENTICATION = 0x67
TAG_OID = 0x06
TAG_DISCRETIONARY_DATA = 0x53

#: The certificate profile identifier of TR-03110-3 C.1.1: version 1 is encoded as 0.
PROFILE_IDENTIFIER = 0
#: TR-03110-3 A.6.1 / D.2: a CAR or CHR is at most 16 characters (2 + 9 + 5).
MAX_REFERENCE_LENGTH = 16

# Public-key data objects (TR-03110-3 D.3.1 RSA, D.3.3 EC).
_RSA_MODULUS, _RSA_EXPONENT = 0x81, 0x82
_EC_P, _EC_A, _EC_B, _EC_G, _EC_R, _EC_Y, _EC_F = 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87

# --- Terminal-authentication signature algorithms (TR-03110-3 appendix A: id-TA; D.3) -------

HashAlgorithm = Literal["sha1", "sha224", "sha256", "sha384", "sha512"]

_HASHES: Mapping[str, type[hashes.HashAlgorithm]] = MappingProxyType(
    {
        "sha1": hashes.SHA1,
        "sha224": hashes.SHA224,
        "sha256": hashes.SHA256,
        "sha384": hashes.SHA384,
        "sha512": hashes.SHA512,
    }
)
# The hashes a Signer can be asked for (cardkit.pki.signer.HashName).
_SIGNER_HASHES: Mapping[str, HashName] = MappingProxyType(
    {"sha256": "sha256", "sha384": "sha384", "sha512": "sha512"}
)


@dataclass(frozen=True)
class TaAlgorithm:
    """What an ``id-TA-*`` OID means: the key type, the hash and, for RSA, the padding.

    RSASSA-PSS uses MGF1 over the same hash and a salt as long as the hash (as EJBCA's and
    JMRTD's ``SHA*withRSAandMGF1`` and :func:`cardkit.pki.signer.rsa_padding`).
    """

    oid: str
    key_type: Literal["EC", "RSA"]
    hash: HashAlgorithm
    rsa_padding: Literal["pkcs1v15", "pss"] | None = None

    @property
    def name(self) -> str:
        return oids.name_of(self.oid)

    def hash_algorithm(self) -> hashes.HashAlgorithm:
        return _HASHES[self.hash]()

    def scheme(self) -> SignatureScheme:
        """The :class:`SignatureScheme` to ask a Signer for (SHA-256, -384, -512 only)."""
        hash_name = _SIGNER_HASHES.get(self.hash)
        if hash_name is None:
            raise PkiError(
                f"{self.name}: cardkit signs with SHA-256, SHA-384 or SHA-512 only "
                f"({self.hash.upper()} is verified, never produced)"
            )
        return SignatureScheme(hash=hash_name, rsa_padding=self.rsa_padding or "pss")


_TA = (
    TaAlgorithm(oids.ID_TA_RSA_V1_5_SHA_1, "RSA", "sha1", "pkcs1v15"),
    TaAlgorithm(oids.ID_TA_RSA_V1_5_SHA_256, "RSA", "sha256", "pkcs1v15"),
    TaAlgorithm(oids.ID_TA_RSA_PSS_SHA_1, "RSA", "sha1", "pss"),
    TaAlgorithm(oids.ID_TA_RSA_PSS_SHA_256, "RSA", "sha256", "pss"),
    TaAlgorithm(oids.ID_TA_RSA_V1_5_SHA_512, "RSA", "sha512", "pkcs1v15"),
    TaAlgorithm(oids.ID_TA_RSA_PSS_SHA_512, "RSA", "sha512", "pss"),
    TaAlgorithm(oids.ID_TA_ECDSA_SHA_1, "EC", "sha1"),
    TaAlgorithm(oids.ID_TA_ECDSA_SHA_224, "EC", "sha224"),
    TaAlgorithm(oids.ID_TA_ECDSA_SHA_256, "EC", "sha256"),
    TaAlgorithm(oids.ID_TA_ECDSA_SHA_384, "EC", "sha384"),
    TaAlgorithm(oids.ID_TA_ECDSA_SHA_512, "EC", "sha512"),
)
#: ``id-TA-*`` OID → its meaning (TR-03110-3 appendix A: 0.4.0.127.0.7.2.2.2.{1 RSA, 2 ECDSA}.x).
TA_ALGORITHMS: Mapping[str, TaAlgorithm] = MappingProxyType({a.oid: a for a in _TA})


def ta_algorithm(oid: str) -> TaAlgorithm:
    """The terminal-authentication algorithm ``oid`` names; :class:`PkiError` when it is none."""
    found = TA_ALGORITHMS.get(oid)
    if found is None:
        raise PkiError(f"{oids.name_of(oid)} is not a terminal authentication algorithm")
    return found


def default_algorithm(public_key: PublicKey) -> str:
    """The ``id-TA-*`` cardkit uses for a key by default: ECDSA with the hash of the curve's
    size (matching strengths), RSASSA-PSS with SHA-256."""
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        bits = public_key.curve.key_size
        if bits <= 256:
            return oids.ID_TA_ECDSA_SHA_256
        if bits <= 384:
            return oids.ID_TA_ECDSA_SHA_384
        return oids.ID_TA_ECDSA_SHA_512
    if isinstance(public_key, rsa.RSAPublicKey):
        return oids.ID_TA_RSA_PSS_SHA_256
    raise PkiError(f"unsupported public key type {type(public_key).__name__}")


# --- Strict reading of nested data objects ----------------------------------------------------

_Item = tuple[int, tlv.Tlv]  # (absolute offset of the TLV, the TLV)


def _value_offset(item: _Item) -> int:
    offset, t = item
    return offset + len(t.raw) - len(t.value)


def _read_items(data: bytes, start: int, end: int) -> list[_Item]:
    """The DER data objects filling ``data[start:end]`` exactly, with absolute offsets."""
    items: list[_Item] = []
    offset = start
    while offset < end:
        t, following = tlv.decode_one(data, offset)
        if following > end:
            raise EncodingError(
                f"data object {t.tag:X} runs past the end of its template", offset=offset
            )
        try:
            canonical = tlv.encode(t.tag, t.value)
        except ValueError:
            canonical = b""
        if canonical != t.raw:
            raise EncodingError(
                f"data object {t.tag:X} is not DER-encoded (TR-03110-3 appendix D: minimal "
                "tag and length)",
                offset=offset,
            )
        items.append((offset, t))
        offset = following
    return items


def _children(data: bytes, item: _Item) -> list[_Item]:
    start = _value_offset(item)
    return _read_items(data, start, start + len(item[1].value))


def _single(data: bytes, tag: int, what: str) -> _Item:
    """The one data object ``tag`` covering all of ``data``."""
    if not data:
        raise EncodingError(f"{what}: no data", offset=0)
    first = tlv.decode_one(data, 0)[0]
    if first.tag != tag:
        raise EncodingError(f"{what}: expected tag {tag:X}, found {first.tag:X}", offset=0)
    item = _read_items(data, 0, len(first.raw))[0]
    if len(first.raw) != len(data):
        raise EncodingError(
            f"{what}: {len(data) - len(first.raw)} unexpected bytes after the data object",
            offset=len(first.raw),
        )
    return item


def _ordered(
    items: list[_Item], layout: Sequence[tuple[int, bool, str]], what: str, end: int
) -> dict[int, _Item]:
    """Match ``items`` to ``layout`` ((tag, mandatory, name), in the table's order): every
    mandatory data object present, no other, none twice, none out of order."""
    found: dict[int, _Item] = {}
    index = 0
    for tag, mandatory, name in layout:
        if index < len(items) and items[index][1].tag == tag:
            found[tag] = items[index]
            index += 1
        elif mandatory:
            where = items[index][0] if index < len(items) else end
            seen = f"found {items[index][1].tag:X}" if index < len(items) else "found nothing"
            raise EncodingError(f"{what}: {name} ({tag:X}) expected, {seen}", offset=where)
    if index < len(items):
        offset, extra = items[index]
        known = {tag for tag, _, _ in layout}
        reason = "out of order or repeated" if extra.tag in known else "not allowed here"
        raise EncodingError(f"{what}: data object {extra.tag:X} is {reason}", offset=offset)
    return found


def _end(item: _Item) -> int:
    return item[0] + len(item[1].raw)


# --- D.2 data object encodings ----------------------------------------------------------------


def encode_unsigned(value: int) -> bytes:
    """TR-03110-3 D.2: big-endian, the fewest octets (no leading 00); zero is one 00."""
    if value < 0:
        raise EncodingError("an unsigned integer cannot be negative")
    return value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")


def decode_unsigned(value: bytes, what: str, offset: int | None = None) -> int:
    if not value:
        raise EncodingError(f"{what}: an unsigned integer has at least one octet", offset=offset)
    if len(value) > 1 and value[0] == 0:
        raise EncodingError(
            f"{what}: unsigned integer with a leading 00 octet (TR-03110-3 D.2)",
            offset=offset,
        )
    return int.from_bytes(value, "big")


def encode_date(day: date) -> bytes:
    """TR-03110-3 D.2: YYMMDD (GMT), each digit one octet of unpacked BCD, year 20YY."""
    if not 2000 <= day.year <= 2099:
        raise EncodingError(f"CV certificate dates lie in 2000-2099, not {day.year}")
    digits = f"{day.year - 2000:02d}{day.month:02d}{day.day:02d}"
    return bytes(int(c) for c in digits)


def decode_date(value: bytes, what: str, offset: int | None = None) -> date:
    if len(value) != 6:
        raise EncodingError(
            f"{what}: a date is six octets YYMMDD (TR-03110-3 D.2), not {len(value)}",
            offset=offset,
        )
    for i, digit in enumerate(value):
        if digit > 9:
            raise EncodingError(
                f"{what}: octet {digit:02X} is not an unpacked BCD digit",
                offset=None if offset is None else offset + i,
            )
    yy, mm, dd = (value[0] * 10 + value[1], value[2] * 10 + value[3], value[4] * 10 + value[5])
    try:
        return date(2000 + yy, mm, dd)
    except ValueError:
        raise EncodingError(
            f"{what}: {yy:02d}{mm:02d}{dd:02d} is not a date", offset=offset
        ) from None


def _assigned(char: str) -> bool:
    # TR-03110-3 D.2: ISO/IEC 8859-1, where 00-1F and 7F-9F are unassigned.
    code = ord(char)
    return 0x20 <= code <= 0x7E or 0xA0 <= code <= 0xFF


def _check_string(text: str, what: str, offset: int | None = None) -> None:
    for i, char in enumerate(text):
        if not _assigned(char):
            raise EncodingError(
                f"{what}: character {ord(char):02X} is not an assigned ISO/IEC 8859-1 character "
                "(TR-03110-3 D.2)",
                offset=None if offset is None else offset + i,
            )


@dataclass(frozen=True)
class CertificateReference:
    """A CAR or CHR (TR-03110-3 A.6.1, D.2): country code ‖ holder mnemonic ‖ sequence number.

    TR-03110-3 defines a 2-letter ISO 3166-1 country code, a mnemonic of up to 9 characters and a
    5-character sequence number; :meth:`build` holds to that. A decoded reference is only held to
    D.2 (at most 16 assigned ISO/IEC 8859-1 characters), because early EAC certificates use other
    splits (``DECVCAEPASS001``); :attr:`country`, :attr:`mnemonic` and :attr:`sequence` read the
    split of A.6.1.
    """

    value: str

    def __post_init__(self) -> None:
        if not 1 <= len(self.value) <= MAX_REFERENCE_LENGTH:
            raise EncodingError(
                f"a certificate reference has 1 to {MAX_REFERENCE_LENGTH} characters, "
                f"not {len(self.value)} (TR-03110-3 D.2)"
            )
        _check_string(self.value, "certificate reference")

    @classmethod
    def build(cls, country: str, mnemonic: str, sequence: str) -> CertificateReference:
        """The TR-03110-3 A.6.1 form: ``VN`` + ``CVCA`` + ``00001`` → ``VNCVCA00001``."""
        if len(country) != 2 or not (country.isascii() and country.isalpha() and country.isupper()):
            raise EncodingError("the country code is two letters A-Z (ISO 3166-1 alpha-2)")
        if not 1 <= len(mnemonic) <= 9:
            raise EncodingError("the holder mnemonic has 1 to 9 characters (TR-03110-3 A.6.1)")
        _check_string(mnemonic, "holder mnemonic")
        if len(sequence) != 5 or not (sequence.isascii() and sequence.isalnum()):
            raise EncodingError(
                "the sequence number is 5 alphanumeric characters (TR-03110-3 A.6.1)"
            )
        return cls(country + mnemonic + sequence)

    @classmethod
    def from_bytes(cls, value: bytes, offset: int | None = None) -> CertificateReference:
        """From the content octets of a ``42`` or ``5F20`` data object."""
        if not 1 <= len(value) <= MAX_REFERENCE_LENGTH:
            raise EncodingError(
                f"a certificate reference has 1 to {MAX_REFERENCE_LENGTH} characters, "
                f"not {len(value)} (TR-03110-3 D.2)",
                offset=offset,
            )
        text = value.decode("latin-1")
        _check_string(text, "certificate reference", offset)
        return cls(text)

    @property
    def country(self) -> str:
        return self.value[:2]

    @property
    def mnemonic(self) -> str:
        return self.value[2:-5] if len(self.value) > 7 else ""

    @property
    def sequence(self) -> str:
        return self.value[-5:] if len(self.value) > 7 else ""

    def __bytes__(self) -> bytes:
        return self.value.encode("latin-1")

    def __str__(self) -> str:
        return self.value


def _reference(value: CertificateReference | str) -> CertificateReference:
    return value if isinstance(value, CertificateReference) else CertificateReference(value)


# --- C.1.5 / C.4 certificate holder authorization template ------------------------------------


class Role(enum.IntEnum):
    """Bits 8-7 of the relative authorization (TR-03110-3 C.4; C.4.1 for id-IS).

    For id-AT and id-ST the last role is the terminal itself, as the inspection system is for id-IS.
    """

    CVCA = 0b11
    DV_DOMESTIC = 0b10  # "DV (official domestic)"
    DV_FOREIGN = 0b01  # "DV (non-official / foreign)"
    INSPECTION_SYSTEM = 0b00

    @property
    def label(self) -> str:
        return _ROLE_LABELS[self]

    def may_certify(self, subject: Role) -> bool:
        """Whether a holder of this role may issue a certificate of ``subject``'s role
        (TR-03110-3 C.4): CVCA → CVCA (link) and DVs; DVs → terminals."""
        if self is Role.CVCA:
            return subject in (Role.CVCA, Role.DV_DOMESTIC, Role.DV_FOREIGN)
        if self in (Role.DV_DOMESTIC, Role.DV_FOREIGN):
            return subject is Role.INSPECTION_SYSTEM
        return False


_ROLE_LABELS = {
    Role.CVCA: "CVCA",
    Role.DV_DOMESTIC: "DV (domestic)",
    Role.DV_FOREIGN: "DV (foreign)",
    Role.INSPECTION_SYSTEM: "inspection system",
}
# Length of the relative authorization (the 53 discretionary data) per terminal type: C.4.1
# inspection systems one octet, C.4.2 authentication terminals five, C.4.3 signature terminals one.
_TEMPLATE_LENGTHS: Mapping[str, int] = MappingProxyType(
    {oids.ID_IS: 1, oids.ID_AT: 5, oids.ID_ST: 1}
)
_READ_DG3 = 0x01  # C.4.1: b1 read access to ePassport DG3 (fingerprint)
_READ_DG4 = 0x02  # C.4.1: b2 read access to ePassport DG4 (iris)


@dataclass(frozen=True)
class Chat:
    """A certificate holder authorization template: ``7F4C { 06 terminal type, 53 rights }``.

    ``template`` is the relative authorization as encoded (the ``53`` content). For the eMRTD's
    id-IS it is one octet: the role in bits 8-7, read DG4 (iris) in b2, read DG3 (fingerprint)
    in b1, the other bits RFU and kept as read (TR-03110-3 C.4.1).
    """

    oid: str
    template: bytes
    raw: bytes = field(repr=False)

    def __post_init__(self) -> None:
        expected = _TEMPLATE_LENGTHS.get(self.oid)
        if not self.template:
            raise EncodingError("CHAT: the relative authorization is empty (TR-03110-3 C.1.5)")
        if expected is not None and len(self.template) != expected:
            raise EncodingError(
                f"CHAT: {oids.name_of(self.oid)} has a relative authorization of {expected} "
                f"octet(s), not {len(self.template)} (TR-03110-3 C.4)"
            )

    @classmethod
    def build(cls, role: Role, *, read_dg3: bool = False, read_dg4: bool = False) -> Chat:
        """The eMRTD CHAT (id-IS) for ``role`` and the DG3/DG4 read rights."""
        rights = role.value << 6 | (_READ_DG3 if read_dg3 else 0) | (_READ_DG4 if read_dg4 else 0)
        return cls.from_template(oids.ID_IS, bytes([rights]))

    @classmethod
    def from_template(cls, oid: str, template: bytes) -> Chat:
        """A CHAT of any terminal type from its relative authorization octets."""
        try:
            oid_der = oids.der(oid)
        except ValueError as exc:
            raise EncodingError(f"CHAT: {exc}") from None
        raw = tlv.encode(TAG_CHAT, oid_der + tlv.encode(TAG_DISCRETIONARY_DATA, template))
        return cls(oid, bytes(template), raw)

    @classmethod
    def from_bytes(cls, data: bytes) -> Chat:
        data = bytes(data)
        return _decode_chat(data, _single(data, TAG_CHAT, "CHAT"))

    @property
    def role(self) -> Role:
        return Role(self.template[0] >> 6)

    @property
    def is_emrtd(self) -> bool:
        """Whether this is the inspection-system CHAT of the eMRTD (id-IS)."""
        return self.oid == oids.ID_IS

    @property
    def read_dg3(self) -> bool:
        """Read access to DG3 (fingerprints); False for a CHAT that is not id-IS."""
        return self.is_emrtd and bool(self.template[0] & _READ_DG3)

    @property
    def read_dg4(self) -> bool:
        """Read access to DG4 (iris); False for a CHAT that is not id-IS."""
        return self.is_emrtd and bool(self.template[0] & _READ_DG4)

    def narrowed_by(self, subject: Chat) -> Chat:
        """The effective authorization of ``subject``'s holder when this CHAT is its issuer's
        (effective) one: the bitwise AND of the relative authorizations along the chain
        (TR-03110-3 C.4; TR-03110-1, effective authorization). Along a well-formed chain the
        role bits AND to the subject's role (11 ∧ 10 ∧ 00 = 00), so
        ``cvca.narrowed_by(dv).narrowed_by(terminal)`` is the terminal's effective CHAT."""
        if subject.oid != self.oid:
            raise PkiError(
                f"CHAT of {oids.name_of(subject.oid)} under a CHAT of {oids.name_of(self.oid)}: "
                "a chain has one terminal type"
            )
        if len(subject.template) != len(self.template):
            raise PkiError("CHATs of different lengths cannot be intersected")
        narrowed = bytes(a & b for a, b in zip(self.template, subject.template, strict=True))
        return Chat.from_template(self.oid, narrowed)

    def __bytes__(self) -> bytes:
        return self.raw

    def describe(self) -> dict[str, object]:
        role = self.role.label
        if not self.is_emrtd and self.role is Role.INSPECTION_SYSTEM:
            role = "terminal"  # an authentication or signature terminal
        out: dict[str, object] = {
            "terminal_type": oids.name_of(self.oid),
            "role": role,
            "relative_authorization": self.template.hex().upper(),
        }
        if self.is_emrtd:
            out.update({"read_dg3": self.read_dg3, "read_dg4": self.read_dg4})
        return out


def _decode_oid(item: _Item, what: str) -> str:
    offset, t = item
    try:
        return oids.from_der(t.raw)
    except EncodingError as exc:
        raise EncodingError(f"{what}: malformed OBJECT IDENTIFIER", offset=offset) from exc


def _decode_chat(data: bytes, item: _Item) -> Chat:
    children = _children(data, item)
    found = _ordered(
        children,
        (
            (TAG_OID, True, "terminal type"),
            (TAG_DISCRETIONARY_DATA, True, "relative authorization"),
        ),
        "CHAT",
        _end(item),
    )
    oid = _decode_oid(found[TAG_OID], "CHAT terminal type")
    template_item = found[TAG_DISCRETIONARY_DATA]
    try:
        return Chat(oid, template_item[1].value, item[1].raw)
    except EncodingError as exc:
        raise EncodingError(str(exc), offset=template_item[0]) from None


# --- D.3 public keys --------------------------------------------------------------------------


@dataclass(frozen=True)
class EcDomainParameters:
    """EC domain parameters as CV public keys carry them (TR-03110-3 D.3.3): prime p,
    coefficients a and b, base point G (uncompressed), order r and, optionally, cofactor f."""

    p: int
    a: int
    b: int
    g: bytes
    r: int
    f: int | None = None

    @property
    def field_length(self) -> int:
        """Octets in one coordinate."""
        return (self.p.bit_length() + 7) // 8

    @property
    def order_length(self) -> int:
        """Octets in r and in s of a plain signature (TR-03111 §5.2.1)."""
        return (self.r.bit_length() + 7) // 8

    @property
    def curve(self) -> asn1.Curve | None:
        """The named curve these parameters are (SEC 2 / RFC 5639), or None."""
        size = self.field_length
        for c in asn1.CURVES:
            if (c.p, c.a, c.b, c.n) != (self.p, self.a, self.b, self.r):
                continue
            if self.f is not None and self.f != c.h:
                continue
            generator = b"\x04" + c.gx.to_bytes(size, "big") + c.gy.to_bytes(size, "big")
            if self.g == generator:
                return c
        return None

    @classmethod
    def from_curve(cls, curve: asn1.Curve) -> EcDomainParameters:
        size = curve.field_length
        g = b"\x04" + curve.gx.to_bytes(size, "big") + curve.gy.to_bytes(size, "big")
        return cls(curve.p, curve.a, curve.b, g, curve.n, curve.h)

    @classmethod
    def named(cls, name: str) -> EcDomainParameters:
        """The parameters of a curve by its name (``brainpoolP256r1``, ``secp384r1`` …)."""
        for c in asn1.CURVES:
            if c.name == name:
                return cls.from_curve(c)
        raise PkiError(f"unknown elliptic curve {name!r}")

    def encode(self, point: bytes) -> bytes:
        """The 81-87 data objects around the public point ``point``."""
        out = (
            tlv.encode(_EC_P, encode_unsigned(self.p))
            + tlv.encode(_EC_A, encode_unsigned(self.a))
            + tlv.encode(_EC_B, encode_unsigned(self.b))
            + tlv.encode(_EC_G, self.g)
            + tlv.encode(_EC_R, encode_unsigned(self.r))
            + tlv.encode(_EC_Y, point)
        )
        if self.f is not None:
            out += tlv.encode(_EC_F, encode_unsigned(self.f))
        return out


def _check_point(point: bytes, what: str, field_length: int | None, offset: int | None) -> None:
    # TR-03110-3 D.2 / TR-03111 §3.2: the uncompressed form 04 ‖ X ‖ Y.
    if len(point) < 3 or point[0] != 0x04 or len(point) % 2 != 1:
        raise EncodingError(
            f"{what}: not an uncompressed elliptic curve point (TR-03110-3 D.2)", offset=offset
        )
    if field_length is not None and len(point) != 1 + 2 * field_length:
        raise EncodingError(
            f"{what}: {len(point)} octets, the curve's points have {1 + 2 * field_length}",
            offset=offset,
        )


def _check_key_algorithm(oid: str, key_type: str, offset: int | None = None) -> None:
    algorithm = TA_ALGORITHMS.get(oid)
    if algorithm is None:
        raise EncodingError(
            f"public key: {oids.name_of(oid)} is not an id-TA-* algorithm (TR-03110-3 D.3)",
            offset=offset,
        )
    if algorithm.key_type != key_type:
        raise EncodingError(
            f"public key: {algorithm.name} is not an algorithm for {key_type} keys", offset=offset
        )


@dataclass(frozen=True)
class EcPublicKey:
    """``7F49 { 06 id-TA-ECDSA-*, [81 p, 82 a, 83 b, 84 G, 85 r,] 86 Y[, 87 f] }`` (D.3.3).

    The domain parameters are mandatory in CVCA certificates and in requests; DV and terminal
    keys inherit them from the CVCA (:meth:`to_cryptography` takes them as ``inherited``).
    """

    oid: str
    point: bytes
    domain: EcDomainParameters | None
    raw: bytes = field(repr=False)

    @property
    def algorithm(self) -> TaAlgorithm:
        return TA_ALGORITHMS[self.oid]

    @classmethod
    def build(cls, oid: str, point: bytes, domain: EcDomainParameters | None = None) -> EcPublicKey:
        _check_key_algorithm(oid, "EC")
        _check_point(point, "public point Y", domain.field_length if domain else None, None)
        if domain is not None:
            _check_point(domain.g, "base point G", domain.field_length, None)
        content = oids.der(oid) + (
            domain.encode(point) if domain is not None else tlv.encode(_EC_Y, point)
        )
        return cls(oid, bytes(point), domain, tlv.encode(TAG_PUBLIC_KEY, content))

    @classmethod
    def from_cryptography(
        cls, key: ec.EllipticCurvePublicKey, oid: str, *, domain_parameters: bool = True
    ) -> EcPublicKey:
        """A CV public key of ``key`` for algorithm ``oid``, with or without its domain
        parameters (explicit, as D.3.3 writes them)."""
        curve = _curve_named(key.curve.name)
        point = key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        domain = EcDomainParameters.from_curve(curve) if domain_parameters else None
        return cls.build(oid, point, domain)

    def with_domain(self, domain: EcDomainParameters | None) -> EcPublicKey:
        """The same key and algorithm with ``domain`` (or without domain parameters)."""
        return EcPublicKey.build(self.oid, self.point, domain)

    def curve(self, inherited: EcDomainParameters | None = None) -> asn1.Curve:
        """The named curve of this key (its own parameters, else ``inherited``)."""
        domain = self.domain or inherited
        if domain is None:
            raise PkiError(
                "the key carries no domain parameters: give those of the CVCA it inherits them "
                "from (TR-03110-3 D.3.3)"
            )
        curve = domain.curve
        if curve is None:
            raise PkiError("the domain parameters match no named curve (SEC 2 / RFC 5639)")
        return curve

    def to_cryptography(
        self, inherited: EcDomainParameters | None = None
    ) -> ec.EllipticCurvePublicKey:
        curve = self.curve(inherited)
        factory = algorithms.CURVES.get(curve.name)
        if factory is None:
            raise PkiError(f"elliptic curve {curve.name} is not supported for EAC keys")
        try:
            return ec.EllipticCurvePublicKey.from_encoded_point(factory(), self.point)
        except (ValueError, UnsupportedAlgorithm):
            raise PkiError(f"the public point is not a point of {curve.name}") from None

    @classmethod
    def from_bytes(cls, data: bytes) -> EcPublicKey:
        key = decode_public_key(data)
        if not isinstance(key, EcPublicKey):
            raise EncodingError("public key: an RSA key, not an EC key", offset=0)
        return key

    def __bytes__(self) -> bytes:
        return self.raw

    def describe(self) -> dict[str, object]:
        out: dict[str, object] = {"type": "EC", "algorithm": self.algorithm.name}
        curve = self.domain.curve if self.domain else None
        if self.domain is None:
            out["domain_parameters"] = "inherited"
        else:
            out["domain_parameters"] = "explicit"
            out["curve"] = curve.name if curve else "unknown"
            out["key_size"] = curve.bits if curve else self.domain.p.bit_length()
        return out


@dataclass(frozen=True)
class RsaPublicKey:
    """``7F49 { 06 id-TA-RSA-*, 81 n, 82 e }`` (TR-03110-3 D.3.1)."""

    oid: str
    modulus: int
    exponent: int
    raw: bytes = field(repr=False)

    @property
    def algorithm(self) -> TaAlgorithm:
        return TA_ALGORITHMS[self.oid]

    @classmethod
    def build(cls, oid: str, modulus: int, exponent: int) -> RsaPublicKey:
        _check_key_algorithm(oid, "RSA")
        content = (
            oids.der(oid)
            + tlv.encode(_RSA_MODULUS, encode_unsigned(modulus))
            + tlv.encode(_RSA_EXPONENT, encode_unsigned(exponent))
        )
        return cls(oid, modulus, exponent, tlv.encode(TAG_PUBLIC_KEY, content))

    @classmethod
    def from_cryptography(cls, key: rsa.RSAPublicKey, oid: str) -> RsaPublicKey:
        numbers = key.public_numbers()
        return cls.build(oid, numbers.n, numbers.e)

    def to_cryptography(self, inherited: EcDomainParameters | None = None) -> rsa.RSAPublicKey:
        """``inherited`` is ignored: RSA keys have no domain parameters."""
        try:
            return rsa.RSAPublicNumbers(self.exponent, self.modulus).public_key()
        except (ValueError, UnsupportedAlgorithm):
            raise PkiError("not a usable RSA public key") from None

    @classmethod
    def from_bytes(cls, data: bytes) -> RsaPublicKey:
        key = decode_public_key(data)
        if not isinstance(key, RsaPublicKey):
            raise EncodingError("public key: an EC key, not an RSA key", offset=0)
        return key

    def __bytes__(self) -> bytes:
        return self.raw

    def describe(self) -> dict[str, object]:
        return {
            "type": "RSA",
            "algorithm": self.algorithm.name,
            "key_size": self.modulus.bit_length(),
        }


CvPublicKey = EcPublicKey | RsaPublicKey


def public_key_from_cryptography(
    key: PublicKey, algorithm: str | None = None, *, domain_parameters: bool = True
) -> CvPublicKey:
    """A CV public key of ``key`` for ``algorithm`` (default: :func:`default_algorithm`);
    ``domain_parameters`` only matters for EC keys."""
    oid = algorithm or default_algorithm(key)
    if isinstance(key, ec.EllipticCurvePublicKey):
        return EcPublicKey.from_cryptography(key, oid, domain_parameters=domain_parameters)
    return RsaPublicKey.from_cryptography(key, oid)


def decode_public_key(data: bytes) -> CvPublicKey:
    """Strict decode of one ``7F49`` public key data object (TR-03110-3 D.3)."""
    data = bytes(data)
    return _decode_public_key(data, _single(data, TAG_PUBLIC_KEY, "public key"))


_EC_LAYOUT = (
    (TAG_OID, True, "algorithm"),
    (_EC_P, False, "prime modulus p"),
    (_EC_A, False, "coefficient a"),
    (_EC_B, False, "coefficient b"),
    (_EC_G, False, "base point G"),
    (_EC_R, False, "order r"),
    (_EC_Y, True, "public point Y"),
    (_EC_F, False, "cofactor f"),
)
_RSA_LAYOUT = (
    (TAG_OID, True, "algorithm"),
    (_RSA_MODULUS, True, "modulus n"),
    (_RSA_EXPONENT, True, "public exponent e"),
)


def _decode_public_key(data: bytes, item: _Item) -> CvPublicKey:
    children = _children(data, item)
    if not children or children[0][1].tag != TAG_OID:
        where = children[0][0] if children else _end(item)
        raise EncodingError("public key: the algorithm OID (06) comes first", offset=where)
    oid = _decode_oid(children[0], "public key algorithm")
    algorithm = TA_ALGORITHMS.get(oid)
    if algorithm is None:
        raise EncodingError(
            f"public key: {oids.name_of(oid)} is not an id-TA-* algorithm (TR-03110-3 D.3)",
            offset=children[0][0],
        )
    raw = item[1].raw
    if algorithm.key_type == "RSA":
        found = _ordered(children, _RSA_LAYOUT, "RSA public key", _end(item))
        n_item, e_item = found[_RSA_MODULUS], found[_RSA_EXPONENT]
        modulus = decode_unsigned(n_item[1].value, "RSA modulus", n_item[0])
        exponent = decode_unsigned(e_item[1].value, "RSA public exponent", e_item[0])
        return RsaPublicKey(oid, modulus, exponent, raw)
    found = _ordered(children, _EC_LAYOUT, "EC public key", _end(item))
    parameters = [t for t in (_EC_P, _EC_A, _EC_B, _EC_G, _EC_R) if t in found]
    if parameters and len(parameters) != 5:
        missing = next(t for t in (_EC_P, _EC_A, _EC_B, _EC_G, _EC_R) if t not in found)
        raise EncodingError(
            f"EC public key: domain parameters are all present or all absent (TR-03110-3 "
            f"D.3.3), {missing:X} is missing",
            offset=found[_EC_Y][0],
        )
    if not parameters and _EC_F in found:
        raise EncodingError(
            "EC public key: a cofactor without the other domain parameters", offset=found[_EC_F][0]
        )
    domain: EcDomainParameters | None = None
    if parameters:

        def unsigned(tag: int, what: str) -> int:
            offset, t = found[tag]
            return decode_unsigned(t.value, what, offset)

        domain = EcDomainParameters(
            p=unsigned(_EC_P, "prime modulus p"),
            a=unsigned(_EC_A, "coefficient a"),
            b=unsigned(_EC_B, "coefficient b"),
            g=found[_EC_G][1].value,
            r=unsigned(_EC_R, "order r"),
            f=unsigned(_EC_F, "cofactor f") if _EC_F in found else None,
        )
        _check_point(domain.g, "base point G", domain.field_length, found[_EC_G][0])
    y_offset, y = found[_EC_Y]
    _check_point(y.value, "public point Y", domain.field_length if domain else None, y_offset)
    return EcPublicKey(oid, y.value, domain, raw)


def _curve_named(name: str) -> asn1.Curve:
    for c in asn1.CURVES:
        if c.name == name:
            return c
    raise PkiError(f"unsupported elliptic curve {name}")


# --- C.3 certificate extensions ---------------------------------------------------------------


@dataclass(frozen=True)
class Extension:
    """One discretionary data template ``73 { 06 OID, data objects … }`` of the certificate
    extensions (TR-03110-3 C.3), kept exactly as encoded whatever its OID."""

    oid: str
    data_objects: bytes  # the encoded data objects after the OID
    raw: bytes = field(repr=False)

    @classmethod
    def build(cls, oid: str, data_objects: bytes = b"") -> Extension:
        data_objects = bytes(data_objects)
        _read_items(data_objects, 0, len(data_objects))  # well-formed DER data objects
        try:
            oid_der = oids.der(oid)
        except ValueError as exc:
            raise EncodingError(f"extension: {exc}") from None
        return cls(
            oid, data_objects, tlv.encode(TAG_DISCRETIONARY_TEMPLATE, oid_der + data_objects)
        )

    @property
    def name(self) -> str:
        return oids.name_of(self.oid)

    def __bytes__(self) -> bytes:
        return self.raw


def _decode_extensions(data: bytes, item: _Item) -> tuple[Extension, ...]:
    templates = _children(data, item)
    if not templates:
        raise EncodingError("certificate extensions (65) without any template", offset=item[0])
    out: list[Extension] = []
    for template in templates:
        offset, t = template
        if t.tag != TAG_DISCRETIONARY_TEMPLATE:
            raise EncodingError(
                f"certificate extensions: {t.tag:X} is not a discretionary data template (73)",
                offset=offset,
            )
        inner = _children(data, template)
        if not inner or inner[0][1].tag != TAG_OID:
            raise EncodingError(
                "certificate extension: the template starts with its OID (TR-03110-3 C.3)",
                offset=inner[0][0] if inner else offset,
            )
        oid = _decode_oid(inner[0], "certificate extension")
        rest = b"".join(child.raw for _, child in inner[1:])
        out.append(Extension(oid, rest, t.raw))
    return tuple(out)


def _encode_extensions(extensions: Sequence[Extension]) -> bytes:
    if not extensions:
        return b""
    return tlv.encode(TAG_EXTENSIONS, b"".join(e.raw for e in extensions))


# --- C.1 certificate body and certificate ------------------------------------------------------


def _check_domain_rule(public_key: CvPublicKey, what: str) -> None:
    if isinstance(public_key, EcPublicKey) and public_key.domain is None:
        raise EncodingError(
            f"{what}: the EC public key must carry its domain parameters (TR-03110-3 D.3.3)"
        )


@dataclass(frozen=True)
class CertificateBody:
    """The certificate body ``7F4E`` (TR-03110-3 C.1, Table C.1); ``raw`` is what is signed."""

    profile_identifier: int
    car: CertificateReference
    public_key: CvPublicKey
    chr: CertificateReference
    chat: Chat
    effective: date
    expiration: date
    extensions: tuple[Extension, ...]
    raw: bytes = field(repr=False)

    @classmethod
    def build(
        cls,
        *,
        car: CertificateReference | str,
        public_key: CvPublicKey,
        chr: CertificateReference | str,
        chat: Chat,
        effective: date,
        expiration: date,
        extensions: Iterable[Extension] = (),
    ) -> CertificateBody:
        """Encode a body. The EC key of a CVCA certificate must carry its domain parameters;
        those of DV and terminal keys are inherited from the CVCA and normally left out."""
        car, chr = _reference(car), _reference(chr)
        extensions = tuple(extensions)
        if expiration < effective:
            raise EncodingError("the expiration date precedes the effective date")
        if chat.role is Role.CVCA:
            _check_domain_rule(public_key, "CVCA certificate")
        content = (
            tlv.encode(TAG_PROFILE_IDENTIFIER, encode_unsigned(PROFILE_IDENTIFIER))
            + tlv.encode(TAG_CAR, bytes(car))
            + public_key.raw
            + tlv.encode(TAG_CHR, bytes(chr))
            + chat.raw
            + tlv.encode(TAG_EFFECTIVE_DATE, encode_date(effective))
            + tlv.encode(TAG_EXPIRATION_DATE, encode_date(expiration))
            + _encode_extensions(extensions)
        )
        return cls(
            PROFILE_IDENTIFIER,
            car,
            public_key,
            chr,
            chat,
            effective,
            expiration,
            extensions,
            tlv.encode(TAG_CERTIFICATE_BODY, content),
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> CertificateBody:
        data = bytes(data)
        return _decode_body(data, _single(data, TAG_CERTIFICATE_BODY, "certificate body"))

    @property
    def is_self_signed(self) -> bool:
        return self.car == self.chr

    def __bytes__(self) -> bytes:
        return self.raw


_BODY_LAYOUT = (
    (TAG_PROFILE_IDENTIFIER, True, "certificate profile identifier"),
    (TAG_CAR, True, "certification authority reference"),
    (TAG_PUBLIC_KEY, True, "public key"),
    (TAG_CHR, True, "certificate holder reference"),
    (TAG_CHAT, True, "certificate holder authorization template"),
    (TAG_EFFECTIVE_DATE, True, "certificate effective date"),
    (TAG_EXPIRATION_DATE, True, "certificate expiration date"),
    (TAG_EXTENSIONS, False, "certificate extensions"),
)


def _decode_profile_identifier(item: _Item) -> int:
    offset, t = item
    value = decode_unsigned(t.value, "certificate profile identifier", offset)
    if value != PROFILE_IDENTIFIER:
        raise EncodingError(
            f"certificate profile identifier {value}: only version 1 (00) exists "
            "(TR-03110-3 C.1.1)",
            offset=offset,
        )
    return value


def _decode_reference(item: _Item) -> CertificateReference:
    return CertificateReference.from_bytes(item[1].value, _value_offset(item))


def _decode_body(data: bytes, item: _Item) -> CertificateBody:
    found = _ordered(_children(data, item), _BODY_LAYOUT, "certificate body", _end(item))
    profile = _decode_profile_identifier(found[TAG_PROFILE_IDENTIFIER])
    car = _decode_reference(found[TAG_CAR])
    public_key = _decode_public_key(data, found[TAG_PUBLIC_KEY])
    chr = _decode_reference(found[TAG_CHR])
    chat = _decode_chat(data, found[TAG_CHAT])
    dates = []
    for tag, what in (
        (TAG_EFFECTIVE_DATE, "effective date"),
        (TAG_EXPIRATION_DATE, "expiration date"),
    ):
        date_item = found[tag]
        dates.append(decode_date(date_item[1].value, what, _value_offset(date_item)))
    extensions = _decode_extensions(data, found[TAG_EXTENSIONS]) if TAG_EXTENSIONS in found else ()
    self_signed_cvca = chat.role is Role.CVCA and car == chr
    if self_signed_cvca and isinstance(public_key, EcPublicKey) and public_key.domain is None:
        raise EncodingError(
            "self-signed CVCA certificate without domain parameters (TR-03110-3 D.3.3)",
            offset=found[TAG_PUBLIC_KEY][0],
        )
    return CertificateBody(
        profile, car, public_key, chr, chat, dates[0], dates[1], extensions, item[1].raw
    )


@dataclass(frozen=True)
class Certificate:
    """A CV certificate ``7F21 { 7F4E body, 5F37 signature }`` (TR-03110-3 C.1)."""

    body: CertificateBody
    signature: bytes
    raw: bytes = field(repr=False)

    @classmethod
    def build(cls, body: CertificateBody, signature: bytes) -> Certificate:
        if not signature:
            raise EncodingError("a CV certificate needs its signature")
        raw = tlv.encode(TAG_CV_CERTIFICATE, body.raw + tlv.encode(TAG_SIGNATURE, signature))
        return cls(body, bytes(signature), raw)

    @classmethod
    def from_bytes(cls, data: bytes) -> Certificate:
        """Strict decode of one CV certificate filling ``data`` exactly."""
        data = bytes(data)
        return _decode_certificate(data, _single(data, TAG_CV_CERTIFICATE, "CV certificate"))

    @property
    def car(self) -> CertificateReference:
        """The certification authority reference: whose key signed this certificate."""
        return self.body.car

    @property
    def chr(self) -> CertificateReference:
        """The certificate holder reference: the name of the certified key."""
        return self.body.chr

    @property
    def public_key(self) -> CvPublicKey:
        return self.body.public_key

    @property
    def chat(self) -> Chat:
        return self.body.chat

    @property
    def role(self) -> Role:
        return self.body.chat.role

    @property
    def effective(self) -> date:
        return self.body.effective

    @property
    def expiration(self) -> date:
        return self.body.expiration

    @property
    def is_self_signed(self) -> bool:
        return self.body.is_self_signed

    def valid_on(self, day: date) -> bool:
        """Whether ``day`` lies within effective … expiration, both included (TR-03110-3 C.1.6)."""
        return self.body.effective <= day <= self.body.expiration

    def __bytes__(self) -> bytes:
        return self.raw

    def describe(self) -> dict[str, object]:
        """A JSON-able summary (for ``cardkit eac show``)."""
        return {
            "type": "CV certificate",
            "profile_identifier": self.body.profile_identifier,
            "car": str(self.car),
            "chr": str(self.chr),
            "self_signed": self.is_self_signed,
            "chat": self.chat.describe(),
            "effective": self.effective.isoformat(),
            "expiration": self.expiration.isoformat(),
            "public_key": self.public_key.describe(),
            "extensions": [e.name for e in self.body.extensions],
            "signature_length": len(self.signature),
        }


def _decode_signature(item: _Item) -> bytes:
    offset, t = item
    if not t.value:
        raise EncodingError("empty signature", offset=offset)
    return t.value


_CERTIFICATE_LAYOUT = (
    (TAG_CERTIFICATE_BODY, True, "certificate body"),
    (TAG_SIGNATURE, True, "signature"),
)


def _decode_certificate(data: bytes, item: _Item) -> Certificate:
    found = _ordered(_children(data, item), _CERTIFICATE_LAYOUT, "CV certificate", _end(item))
    body = _decode_body(data, found[TAG_CERTIFICATE_BODY])
    return Certificate(body, _decode_signature(found[TAG_SIGNATURE]), item[1].raw)


# --- C.2 certificate requests -------------------------------------------------------------------


@dataclass(frozen=True)
class RequestBody:
    """The body of a certificate request (TR-03110-3 C.2, Table C.2): profile identifier, the
    recommended CAR (the CVCA the requester expects to be certified by), the public key with its
    domain parameters, the requested CHR and optional extensions."""

    profile_identifier: int
    car: CertificateReference | None
    public_key: CvPublicKey
    chr: CertificateReference
    extensions: tuple[Extension, ...]
    raw: bytes = field(repr=False)

    @classmethod
    def build(
        cls,
        *,
        public_key: CvPublicKey,
        chr: CertificateReference | str,
        car: CertificateReference | str | None = None,
        extensions: Iterable[Extension] = (),
    ) -> RequestBody:
        chr_ref = _reference(chr)
        car_ref = _reference(car) if car is not None else None
        extensions = tuple(extensions)
        _check_domain_rule(public_key, "certificate request")
        content = (
            tlv.encode(TAG_PROFILE_IDENTIFIER, encode_unsigned(PROFILE_IDENTIFIER))
            + (tlv.encode(TAG_CAR, bytes(car_ref)) if car_ref is not None else b"")
            + public_key.raw
            + tlv.encode(TAG_CHR, bytes(chr_ref))
            + _encode_extensions(extensions)
        )
        return cls(
            PROFILE_IDENTIFIER,
            car_ref,
            public_key,
            chr_ref,
            extensions,
            tlv.encode(TAG_CERTIFICATE_BODY, content),
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> RequestBody:
        data = bytes(data)
        return _decode_request_body(data, _single(data, TAG_CERTIFICATE_BODY, "request body"))

    def __bytes__(self) -> bytes:
        return self.raw


_REQUEST_BODY_LAYOUT = (
    (TAG_PROFILE_IDENTIFIER, True, "certificate profile identifier"),
    (TAG_CAR, False, "certification authority reference"),
    (TAG_PUBLIC_KEY, True, "public key"),
    (TAG_CHR, True, "certificate holder reference"),
    (TAG_EXTENSIONS, False, "certificate extensions"),
)


def _decode_request_body(data: bytes, item: _Item) -> RequestBody:
    found = _ordered(_children(data, item), _REQUEST_BODY_LAYOUT, "request body", _end(item))
    profile = _decode_profile_identifier(found[TAG_PROFILE_IDENTIFIER])
    car = _decode_reference(found[TAG_CAR]) if TAG_CAR in found else None
    key_item = found[TAG_PUBLIC_KEY]
    public_key = _decode_public_key(data, key_item)
    if isinstance(public_key, EcPublicKey) and public_key.domain is None:
        raise EncodingError(
            "certificate request: the EC public key must carry its domain parameters "
            "(TR-03110-3 D.3.3)",
            offset=key_item[0],
        )
    chr = _decode_reference(found[TAG_CHR])
    extensions = _decode_extensions(data, found[TAG_EXTENSIONS]) if TAG_EXTENSIONS in found else ()
    return RequestBody(profile, car, public_key, chr, extensions, item[1].raw)


@dataclass(frozen=True)
class CertificateRequest:
    """A certificate request (TR-03110-3 C.2): ``7F21 { 7F4E body, 5F37 inner signature }``,
    or with the authentication wrapper ``67 { 7F21 …, 42 outer CAR, 5F37 outer signature }``.

    The inner signature is made with the requested key (:attr:`body`'s own public key and its
    algorithm); the outer one with a key already certified under :attr:`outer_car`, over
    :attr:`outer_signed_data` (the encoded ``7F21`` followed by the encoded ``42``).
    """

    body: RequestBody
    inner_signature: bytes
    outer_car: CertificateReference | None
    outer_signature: bytes | None
    raw: bytes = field(repr=False)

    @classmethod
    def build(
        cls,
        body: RequestBody,
        inner_signature: bytes,
        *,
        outer_car: CertificateReference | str | None = None,
        outer_signature: bytes | None = None,
    ) -> CertificateRequest:
        if not inner_signature:
            raise EncodingError("a certificate request needs its inner signature")
        if (outer_car is None) != (outer_signature is None):
            raise EncodingError(
                "an authenticated request has both the outer CAR and the outer signature"
            )
        inner = tlv.encode(
            TAG_CV_CERTIFICATE, body.raw + tlv.encode(TAG_SIGNATURE, inner_signature)
        )
        if outer_car is None or outer_signature is None:
            return cls(body, bytes(inner_signature), None, None, inner)
        if not outer_signature:
            raise EncodingError("an authenticated request needs its outer signature")
        car = _reference(outer_car)
        raw = tlv.encode(
            TAG_AUTHENTICATION,
            _outer_signed_data(inner, car) + tlv.encode(TAG_SIGNATURE, outer_signature),
        )
        return cls(body, bytes(inner_signature), car, bytes(outer_signature), raw)

    @classmethod
    def from_bytes(cls, data: bytes) -> CertificateRequest:
        """Strict decode of a request, bare (``7F21``) or authenticated (``67``)."""
        data = bytes(data)
        if data[:1] == bytes([TAG_AUTHENTICATION]):
            outer = _single(data, TAG_AUTHENTICATION, "authenticated request")
            found = _ordered(
                _children(data, outer),
                (
                    (TAG_CV_CERTIFICATE, True, "certificate request"),
                    (TAG_CAR, True, "outer certification authority reference"),
                    (TAG_SIGNATURE, True, "outer signature"),
                ),
                "authenticated request",
                _end(outer),
            )
            body, inner_signature = _decode_inner_request(data, found[TAG_CV_CERTIFICATE])
            return cls(
                body,
                inner_signature,
                _decode_reference(found[TAG_CAR]),
                _decode_signature(found[TAG_SIGNATURE]),
                data,
            )
        item = _single(data, TAG_CV_CERTIFICATE, "certificate request")
        body, inner_signature = _decode_inner_request(data, item)
        return cls(body, inner_signature, None, None, data)

    @property
    def is_authenticated(self) -> bool:
        return self.outer_car is not None

    @property
    def inner_raw(self) -> bytes:
        """The encoded ``7F21`` request, inside the ``67`` wrapper when there is one."""
        if not self.is_authenticated:
            return self.raw
        return tlv.decode_single(self.raw, TAG_AUTHENTICATION).children()[0].raw

    @property
    def outer_signed_data(self) -> bytes:
        """What the outer signature covers (TR-03110-3 C.2): ``7F21 …`` ‖ ``42 …``."""
        if self.outer_car is None:
            raise PkiError("the request has no outer signature")
        return _outer_signed_data(self.inner_raw, self.outer_car)

    def __bytes__(self) -> bytes:
        return self.raw

    def describe(self) -> dict[str, object]:
        return {
            "type": "CV certificate request",
            "profile_identifier": self.body.profile_identifier,
            "car": str(self.body.car) if self.body.car is not None else None,
            "chr": str(self.body.chr),
            "public_key": self.body.public_key.describe(),
            "extensions": [e.name for e in self.body.extensions],
            "authenticated": self.is_authenticated,
            "outer_car": str(self.outer_car) if self.outer_car is not None else None,
        }


def _outer_signed_data(inner: bytes, car: CertificateReference) -> bytes:
    return inner + tlv.encode(TAG_CAR, bytes(car))


def _decode_inner_request(data: bytes, item: _Item) -> tuple[RequestBody, bytes]:
    found = _ordered(
        _children(data, item),
        ((TAG_CERTIFICATE_BODY, True, "request body"), (TAG_SIGNATURE, True, "inner signature")),
        "certificate request",
        _end(item),
    )
    body = _decode_request_body(data, found[TAG_CERTIFICATE_BODY])
    return body, _decode_signature(found[TAG_SIGNATURE])


# --- Signatures (TR-03110-3 appendix A, id-TA; TR-03111 §5.2.1 plain ECDSA) --------------------


def _order_length(key: ec.EllipticCurvePublicKey) -> int:
    return (_curve_named(key.curve.name).n.bit_length() + 7) // 8


def _is_der_ecdsa(signature: bytes) -> bool:
    try:
        r, s = decode_dss_signature(signature)
    except ValueError:
        return False
    return encode_dss_signature(r, s) == signature


def plain_ecdsa_signature(signature: bytes, order_length: int) -> bytes:
    """``r ‖ s``, each ``order_length`` octets (TR-03111 §5.2.1), from a DER
    ``ECDSA-Sig-Value``; a signature that is already plain is returned as it is."""
    if not _is_der_ecdsa(signature):
        if len(signature) == 2 * order_length:
            return bytes(signature)
        raise PkiError("the ECDSA signature is neither DER nor plain r ‖ s of the curve's size")
    r, s = decode_dss_signature(signature)
    limit = 1 << (8 * order_length)
    if not (0 < r < limit and 0 < s < limit):
        raise PkiError("the ECDSA signature does not fit the curve's order")
    return r.to_bytes(order_length, "big") + s.to_bytes(order_length, "big")


def der_ecdsa_signature(plain: bytes) -> bytes:
    """The DER ``ECDSA-Sig-Value`` of a plain ``r ‖ s`` signature (for X.509 tools)."""
    if not plain or len(plain) % 2:
        raise PkiError("a plain ECDSA signature has an even, non-zero length")
    half = len(plain) // 2
    return encode_dss_signature(
        int.from_bytes(plain[:half], "big"), int.from_bytes(plain[half:], "big")
    )


def _check_key_type(key: PublicKey, algorithm: TaAlgorithm) -> None:
    is_ec = isinstance(key, ec.EllipticCurvePublicKey)
    if is_ec != (algorithm.key_type == "EC"):
        kind = "an EC" if is_ec else "an RSA"
        raise PkiError(f"{algorithm.name} cannot be used with {kind} key")


def _verify_with(key: PublicKey, algorithm: TaAlgorithm, signature: bytes, data: bytes) -> bool:
    _check_key_type(key, algorithm)
    hash_algorithm = algorithm.hash_algorithm()
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            size = _order_length(key)
            if len(signature) != 2 * size:
                return False
            key.verify(der_ecdsa_signature(signature), data, ec.ECDSA(hash_algorithm))
        else:
            pad: padding.AsymmetricPadding = padding.PKCS1v15()
            if algorithm.rsa_padding == "pss":
                pad = padding.PSS(
                    mgf=padding.MGF1(hash_algorithm), salt_length=hash_algorithm.digest_size
                )
            key.verify(signature, data, pad, hash_algorithm)
    except (InvalidSignature, ValueError):
        return False
    return True


def sign_body(data: bytes, signer: Signer, *, algorithm: str | None = None) -> bytes:
    """Have ``signer`` sign ``data`` (a certificate body, a request, TA's challenge) under the
    ``id-TA-*`` ``algorithm`` and return the signature as CV certificates carry it: plain
    ``r ‖ s`` for ECDSA (converted from the Signer's DER), the RSA signature as it is.

    ``algorithm`` must be the OID of the signer's own CV public key (the issuer's certificate
    names it); the default is :func:`default_algorithm` of the signer's key. The signature is
    verified before it is returned, so a token that signs wrongly is caught here.
    """
    key = signer.public_key()
    chosen = ta_algorithm(algorithm or default_algorithm(key))
    _check_key_type(key, chosen)
    signature = signer.sign(bytes(data), chosen.scheme())
    if isinstance(key, ec.EllipticCurvePublicKey):
        signature = plain_ecdsa_signature(signature, _order_length(key))
    if not _verify_with(key, chosen, signature, bytes(data)):
        raise PkiError(f"the signature made by key {signer.key_id!r} does not verify")
    return signature


IssuerKey = Certificate | EcPublicKey | RsaPublicKey


def _issuer_key(
    issuer: IssuerKey | PublicKey, algorithm: str | None, domain: EcDomainParameters | None
) -> tuple[PublicKey, TaAlgorithm]:
    if isinstance(issuer, Certificate):
        issuer = issuer.public_key
    if isinstance(issuer, (EcPublicKey, RsaPublicKey)):
        return issuer.to_cryptography(domain), ta_algorithm(algorithm or issuer.oid)
    if algorithm is None:
        raise PkiError("name the signature algorithm (id-TA-*) of a key given without its OID")
    return issuer, ta_algorithm(algorithm)


def verify_data(
    data: bytes,
    signature: bytes,
    issuer: IssuerKey | PublicKey,
    *,
    algorithm: str | None = None,
    domain: EcDomainParameters | None = None,
) -> bool:
    """Whether ``signature`` over ``data`` verifies with ``issuer``'s key.

    ``issuer`` is a CV certificate, a CV public key (its OID names the algorithm) or a
    ``cryptography`` key with ``algorithm``. ``domain`` supplies the EC domain parameters of a
    key that inherits them (a DV or terminal key: give the CVCA's). :class:`PkiError` when the
    key cannot be used at all (no or unknown domain parameters, unsupported curve).
    """
    key, chosen = _issuer_key(issuer, algorithm, domain)
    return _verify_with(key, chosen, bytes(signature), bytes(data))


def verify_signature(
    certificate: Certificate,
    issuer: IssuerKey | PublicKey,
    *,
    algorithm: str | None = None,
    domain: EcDomainParameters | None = None,
) -> bool:
    """Whether ``certificate``'s signature over its body (``7F4E``, tag and length included)
    verifies with the issuer's key: the CVCA's for a CVCA or DV certificate, the DV's (with the
    CVCA's ``domain``) for a terminal certificate. See :func:`verify_data`."""
    return verify_data(
        certificate.body.raw, certificate.signature, issuer, algorithm=algorithm, domain=domain
    )


def verify_inner_signature(request: CertificateRequest) -> bool:
    """Whether the request is signed by the key it asks to be certified (proof of possession)."""
    key = request.body.public_key
    return verify_data(
        request.body.raw,
        request.inner_signature,
        key,
        domain=key.domain if isinstance(key, EcPublicKey) else None,
    )


def verify_outer_signature(
    request: CertificateRequest,
    issuer: IssuerKey | PublicKey,
    *,
    algorithm: str | None = None,
    domain: EcDomainParameters | None = None,
) -> bool:
    """Whether the outer signature verifies with the key certified under ``outer_car``."""
    if request.outer_signature is None:
        return False
    return verify_data(
        request.outer_signed_data,
        request.outer_signature,
        issuer,
        algorithm=algorithm,
        domain=domain,
    )


def _same_key(cv_key: CvPublicKey, key: PublicKey) -> bool:
    if isinstance(cv_key, EcPublicKey) and isinstance(key, ec.EllipticCurvePublicKey):
        point = key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return point == cv_key.point
    if isinstance(cv_key, RsaPublicKey) and isinstance(key, rsa.RSAPublicKey):
        numbers = key.public_numbers()
        return (numbers.n, numbers.e) == (cv_key.modulus, cv_key.exponent)
    return False


def sign_certificate(
    body: CertificateBody, signer: Signer, *, algorithm: str | None = None
) -> Certificate:
    """Sign ``body`` with the issuer's ``signer``. ``algorithm`` is the OID of the issuer's
    certificate public key; a self-signed CVCA certificate uses its own key's OID by default."""
    if algorithm is None:
        if not body.is_self_signed:
            raise PkiError(
                "name the issuer's algorithm: the OID of the public key in the certificate "
                f"of {body.car} (TR-03110-3 D.3)"
            )
        algorithm = body.public_key.oid
    if body.is_self_signed and not _same_key(body.public_key, signer.public_key()):
        raise PkiError("a self-signed certificate is signed by the key it certifies")
    return Certificate.build(body, sign_body(body.raw, signer, algorithm=algorithm))


def sign_request(
    body: RequestBody,
    signer: Signer,
    *,
    outer_car: CertificateReference | str | None = None,
    outer_signer: Signer | None = None,
    outer_algorithm: str | None = None,
) -> CertificateRequest:
    """Sign a request with the requested key (``signer``, under the algorithm of the body's own
    key) and, for an authenticated request, with ``outer_signer``, the key certified as
    ``outer_car`` (under ``outer_algorithm``, the OID of that certificate's key)."""
    if not _same_key(body.public_key, signer.public_key()):
        raise PkiError("the inner signature is made with the key the request is for")
    inner_signature = sign_body(body.raw, signer, algorithm=body.public_key.oid)
    if outer_car is None:
        if outer_signer is not None:
            raise PkiError("an outer signature needs the outer CAR")
        return CertificateRequest.build(body, inner_signature)
    if outer_signer is None:
        raise PkiError("an authenticated request needs the outer signer")
    car = _reference(outer_car)
    inner = CertificateRequest.build(body, inner_signature).raw
    outer_signature = sign_body(
        _outer_signed_data(inner, car), outer_signer, algorithm=outer_algorithm
    )
    return CertificateRequest.build(
        body, inner_signature, outer_car=car, outer_signature=outer_signature
    )
