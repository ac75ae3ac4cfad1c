"""The Biometric Information Group Template shared by DG2, DG3 and DG4.

ICAO 9303-10 §4.7.2 (DG2), §4.7.3 (DG3), §4.7.4 (DG4) wrap each biometric record in the nested
CBEFF structure of ISO/IEC 7816-11 (Annex C)::

    7F61  Biometric Information Group Template
      02 01 n                       number of Biometric Information Templates that follow
      7F60  Biometric Information Template (n times)
        A1  Biometric Header Template (BHT)
          80 patron header version    81 biometric type      82 biometric subtype
          83 creation date            85 validity period     86 creator of the reference data
          87 format owner             88 format type
        5F2E (or 7F2E) biometric data block (the ISO/IEC 19794 record)

Every header element is optional in the ASN.1 sense; 9303-10 requires 87 and 88. The decoder
keeps each template's exact bytes (``raw``), so a file that is read and written back is unchanged
(re-encoding would break its EF.SOD hash). It tolerates what real documents carry: a BHT tagged
A2…AF instead of A1 (JMRTD warns and carries on), the constructed data-block tag 7F2E, unknown
header elements (kept), and trailing data objects in the group (e.g. tag 53, 9303 supplement
R7-p1_v2_sIII_0057). It rejects structural errors with :class:`~cardkit.errors.EncodingError`.

:class:`RecordReader` is a bounds-checked big-endian reader for the fixed-layout ISO/IEC 19794
records that DG2 and DG3 carry inside the data block.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cardkit.encoding import tlv
from cardkit.errors import EncodingError

BIT_GROUP_TAG = 0x7F61
BIT_TAG = 0x7F60
BIT_COUNT_TAG = 0x02
BHT_TAG = 0xA1
BDB_TAG = 0x5F2E
BDB_CONSTRUCTED_TAG = 0x7F2E
#: ISO/IEC 7816-11 Annex D secure-messaging template: a statically protected BIT.
SMT_TAG = 0x7D

#: Header element tags (ISO/IEC 7816-11 Table C.2 / ICAO 9303-10 Table 39).
TAG_VERSION = 0x80
TAG_BIOMETRIC_TYPE = 0x81
TAG_BIOMETRIC_SUBTYPE = 0x82
TAG_CREATION_DATE = 0x83
TAG_VALIDITY_PERIOD = 0x85
TAG_CREATOR = 0x86
TAG_FORMAT_OWNER = 0x87
TAG_FORMAT_TYPE = 0x88

#: CBEFF biometric types (ISO/IEC 7816-11 Table C.2, CBEFF "BDB biometric type").
BIOMETRIC_TYPE_FACE = 0x02
BIOMETRIC_TYPE_FINGER = 0x08
BIOMETRIC_TYPE_IRIS = 0x10

#: Format owner ISO/IEC JTC 1/SC 37 and its format types (IBIA CBEFF registry; 9303-10 §4.7.2).
FORMAT_OWNER_SC37 = 0x0101
FORMAT_TYPE_FACE_IMAGE = 0x0008
FORMAT_TYPE_FINGER_IMAGE = 0x0007
FORMAT_TYPE_IRIS_IMAGE = 0x0009

_KNOWN_HEADER_TAGS = (
    TAG_VERSION,
    TAG_BIOMETRIC_TYPE,
    TAG_BIOMETRIC_SUBTYPE,
    TAG_CREATION_DATE,
    TAG_VALIDITY_PERIOD,
    TAG_CREATOR,
    TAG_FORMAT_OWNER,
    TAG_FORMAT_TYPE,
)


def _uint_bytes(value: int, width: int) -> bytes:
    return value.to_bytes(width, "big")


def _check_uint(value: int | None, bits: int, what: str) -> None:
    if value is not None and not 0 <= value < (1 << bits):
        raise ValueError(f"{what} must be in 0..{(1 << bits) - 1}")


@dataclass(frozen=True)
class BiometricHeader:
    """One Biometric Header Template (tag A1), ISO/IEC 7816-11 Annex C, 9303-10 §4.7.2.1.

    Integer elements are held as numbers; dates and the creator as their bytes (83: 7-byte
    date-time, 85: 8-byte validity period, 86: creator PID). ``other`` keeps elements with tags
    this module does not know, in their order. ``raw`` is the whole A1 TLV.
    """

    version: bytes | None = None
    biometric_type: int | None = None
    biometric_subtype: int | None = None
    creation_date: bytes | None = None
    validity_period: bytes | None = None
    creator: bytes | None = None
    format_owner: int | None = None
    format_type: int | None = None
    other: tuple[tuple[int, bytes], ...] = ()
    raw: bytes = field(default=b"", repr=False, compare=True)

    def __post_init__(self) -> None:
        _check_uint(self.biometric_type, 24, "biometric type (81)")
        _check_uint(self.biometric_subtype, 8, "biometric subtype (82)")
        _check_uint(self.format_owner, 16, "format owner (87)")
        _check_uint(self.format_type, 16, "format type (88)")
        for tag, _ in self.other:
            if tag in _KNOWN_HEADER_TAGS:
                raise ValueError(f"header element {tag:02X} belongs in its own field")
        if not self.raw:
            object.__setattr__(self, "raw", self._encode())

    @classmethod
    def build(
        cls,
        *,
        biometric_type: int | None = None,
        biometric_subtype: int | None = None,
        format_owner: int | None = FORMAT_OWNER_SC37,
        format_type: int | None = None,
        version: bytes | None = b"\x01\x01",
        creation_date: bytes | None = None,
        validity_period: bytes | None = None,
        creator: bytes | None = None,
    ) -> BiometricHeader:
        """A header with elements in ascending tag order (as JMRTD writes them)."""
        return cls(
            version=version,
            biometric_type=biometric_type,
            biometric_subtype=biometric_subtype,
            creation_date=creation_date,
            validity_period=validity_period,
            creator=creator,
            format_owner=format_owner,
            format_type=format_type,
        )

    def _encode(self) -> bytes:
        elements: list[tuple[int, bytes]] = []
        if self.version is not None:
            elements.append((TAG_VERSION, self.version))
        if self.biometric_type is not None:
            # One byte for the ICAO single-modality types, three for the full CBEFF field.
            width = 1 if self.biometric_type < 0x100 else 3
            elements.append((TAG_BIOMETRIC_TYPE, _uint_bytes(self.biometric_type, width)))
        if self.biometric_subtype is not None:
            elements.append((TAG_BIOMETRIC_SUBTYPE, _uint_bytes(self.biometric_subtype, 1)))
        if self.creation_date is not None:
            elements.append((TAG_CREATION_DATE, self.creation_date))
        if self.validity_period is not None:
            elements.append((TAG_VALIDITY_PERIOD, self.validity_period))
        if self.creator is not None:
            elements.append((TAG_CREATOR, self.creator))
        if self.format_owner is not None:
            elements.append((TAG_FORMAT_OWNER, _uint_bytes(self.format_owner, 2)))
        if self.format_type is not None:
            elements.append((TAG_FORMAT_TYPE, _uint_bytes(self.format_type, 2)))
        elements.extend(self.other)
        return tlv.encode(BHT_TAG, b"".join(tlv.encode(t, v) for t, v in elements))

    @classmethod
    def from_tlv(cls, header: tlv.Tlv) -> BiometricHeader:
        """Decode a BHT (A1; A2…AF tolerated) from its decoded TLV."""
        if not 0xA1 <= header.tag <= 0xAF:
            raise EncodingError(
                f"biometric header template: expected tag A1, found {header.tag:X} "
                "(ISO/IEC 7816-11 Annex C)"
            )
        values: dict[int, bytes] = {}
        other: list[tuple[int, bytes]] = []
        for element in header.children():
            if element.constructed:
                raise EncodingError(
                    f"biometric header template: element {element.tag:X} must be primitive"
                )
            if element.tag in values or any(t == element.tag for t, _ in other):
                raise EncodingError(
                    f"biometric header template: element {element.tag:X} appears twice"
                )
            if element.tag in _KNOWN_HEADER_TAGS:
                values[element.tag] = element.value
            else:
                other.append((element.tag, element.value))
        return cls(
            version=values.get(TAG_VERSION),
            biometric_type=_int_element(values, TAG_BIOMETRIC_TYPE, 3, "biometric type"),
            biometric_subtype=_int_element(values, TAG_BIOMETRIC_SUBTYPE, 1, "biometric subtype"),
            creation_date=values.get(TAG_CREATION_DATE),
            validity_period=values.get(TAG_VALIDITY_PERIOD),
            creator=values.get(TAG_CREATOR),
            format_owner=_int_element(values, TAG_FORMAT_OWNER, 2, "format owner"),
            format_type=_int_element(values, TAG_FORMAT_TYPE, 2, "format type"),
            other=tuple(other),
            raw=header.raw,
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> BiometricHeader:
        return cls.from_tlv(tlv.decode_single(data, what="biometric header template"))

    def __bytes__(self) -> bytes:
        return self.raw

    def describe(self) -> dict[str, object]:
        out: dict[str, object] = {}
        if self.version is not None:
            out["version"] = self.version.hex().upper()
        if self.biometric_type is not None:
            out["biometric_type"] = self.biometric_type
        if self.biometric_subtype is not None:
            out["biometric_subtype"] = self.biometric_subtype
        if self.creation_date is not None:
            out["creation_date"] = self.creation_date.hex().upper()
        if self.validity_period is not None:
            out["validity_period"] = self.validity_period.hex().upper()
        if self.creator is not None:
            out["creator"] = self.creator.hex().upper()
        if self.format_owner is not None:
            out["format_owner"] = f"{self.format_owner:04X}"
        if self.format_type is not None:
            out["format_type"] = f"{self.format_type:04X}"
        if self.other:
            out["other"] = {f"{t:X}": v.hex().upper() for t, v in self.other}
        return out


def _int_element(values: dict[int, bytes], tag: int, max_len: int, what: str) -> int | None:
    value = values.get(tag)
    if value is None:
        return None
    if not 1 <= len(value) <= max_len:
        raise EncodingError(
            f"biometric header template: {what} ({tag:02X}) has {len(value)} bytes, "
            f"expected 1 to {max_len}"
        )
    return int.from_bytes(value, "big")


@dataclass(frozen=True)
class BiometricInfo:
    """One Biometric Information Template (7F60): a header and its biometric data block.

    ``data`` is the data block's value (for DG2 an ISO/IEC 19794-5 record); ``data_tag`` is
    5F2E (primitive, the ICAO norm) or 7F2E (constructed, ISO/IEC 7816-11: used by some
    issuers for encrypted or proprietary content). ``raw`` is the whole 7F60 TLV.
    """

    header: BiometricHeader
    data: bytes = field(repr=False)
    data_tag: int = BDB_TAG
    raw: bytes = field(default=b"", repr=False, compare=True)

    def __post_init__(self) -> None:
        if self.data_tag not in (BDB_TAG, BDB_CONSTRUCTED_TAG):
            raise ValueError("data_tag must be 5F2E or 7F2E (ISO/IEC 7816-11 Annex C)")
        if not self.raw:
            body = self.header.raw + tlv.encode(self.data_tag, self.data)
            object.__setattr__(self, "raw", tlv.encode(BIT_TAG, body))

    @classmethod
    def from_tlv(cls, template: tlv.Tlv, index: int = 0) -> BiometricInfo:
        where = f"biometric information template {index + 1}"
        if template.tag == SMT_TAG:
            raise EncodingError(
                f"{where} is statically protected (tag 7D, ISO/IEC 7816-11 Annex D): not supported"
            )
        if template.tag != BIT_TAG:
            raise EncodingError(f"{where}: expected tag 7F60, found {template.tag:X}")
        children = template.children()
        if len(children) != 2:
            raise EncodingError(
                f"{where}: expected a header and a data block, found {len(children)} objects"
            )
        header_tlv, block = children
        if header_tlv.tag == SMT_TAG:
            raise EncodingError(
                f"{where}: header is statically protected (tag 7D, ISO/IEC 7816-11 Annex D): "
                "not supported"
            )
        try:
            header = BiometricHeader.from_tlv(header_tlv)
        except EncodingError as exc:
            raise EncodingError(f"{where}: {exc}") from None
        if block.tag not in (BDB_TAG, BDB_CONSTRUCTED_TAG):
            raise EncodingError(
                f"{where}: expected biometric data block tag 5F2E or 7F2E, found {block.tag:X}"
            )
        return cls(header=header, data=block.value, data_tag=block.tag, raw=template.raw)

    def __bytes__(self) -> bytes:
        return self.raw


def encode_group(infos: Iterable[BiometricInfo]) -> bytes:
    """The Biometric Information Group Template (7F61) holding ``infos`` in order."""
    items = list(infos)
    if not 1 <= len(items) <= 127:
        # 02 01 n: a one-byte DER INTEGER, so at most 127 templates.
        raise ValueError("a biometric information group holds 1 to 127 templates")
    body = tlv.encode(BIT_COUNT_TAG, bytes([len(items)])) + b"".join(i.raw for i in items)
    return tlv.encode(BIT_GROUP_TAG, body)


def decode_group(group: tlv.Tlv) -> tuple[BiometricInfo, ...]:
    """Decode a decoded 7F61 TLV into its biometric information templates."""
    if group.tag != BIT_GROUP_TAG:
        raise EncodingError(
            f"biometric information group template: expected tag 7F61, found {group.tag:X}"
        )
    children = group.children()
    if not children or children[0].tag != BIT_COUNT_TAG:
        raise EncodingError(
            "biometric information group template: the number of templates (02 01 n) "
            "must come first"
        )
    count_tlv = children[0]
    if len(count_tlv.value) != 1:
        raise EncodingError(
            "biometric information group template: the number of templates must be one byte, "
            f"found {len(count_tlv.value)}"
        )
    count = count_tlv.value[0]
    templates = [c for c in children[1:] if c.tag in (BIT_TAG, SMT_TAG)]
    if count == 0:
        raise EncodingError("biometric information group template: holds no templates")
    if len(templates) != count:
        raise EncodingError(
            f"biometric information group template: announces {count} templates, "
            f"found {len(templates)}"
        )
    # Data objects other than templates (e.g. 53 discretionary data) are tolerated and kept in
    # the file's raw bytes; they carry nothing this layer interprets.
    return tuple(BiometricInfo.from_tlv(t, i) for i, t in enumerate(templates))


def decode_data_group(data: bytes, tag: int, name: str) -> tuple[BiometricInfo, ...]:
    """Decode a DG2/DG3/DG4 file: ``tag`` { 7F61 { ... } } exactly filling ``data``."""
    outer = tlv.decode_single(data, tag, what=name)
    if not outer.constructed:
        raise EncodingError(f"{name}: tag {tag:X} must be constructed")
    try:
        group = tlv.decode_single(outer.value, BIT_GROUP_TAG, what="content")
        return decode_group(group)
    except EncodingError as exc:
        # Offsets inside the group are relative to the group; the message says where.
        raise EncodingError(f"{name}: {exc}") from None


def encode_data_group(tag: int, infos: Sequence[BiometricInfo]) -> bytes:
    """``tag`` { 7F61 { 02 01 n, 7F60 ... } }."""
    return tlv.encode(tag, encode_group(infos))


class RecordReader:
    """Bounds-checked big-endian reader for fixed-layout ISO/IEC 19794 records.

    Every read past the end raises :class:`EncodingError` naming the field and the offset
    (relative to ``base``, the record's position inside its data group, when given).
    """

    def __init__(self, data: bytes, what: str, base: int = 0) -> None:
        self.data = data
        self.offset = 0
        self.what = what
        self.base = base

    @property
    def remaining(self) -> int:
        return len(self.data) - self.offset

    def take(self, n: int, field_name: str) -> bytes:
        if n < 0 or self.offset + n > len(self.data):
            raise EncodingError(
                f"{self.what}: truncated in {field_name} (needs {n} bytes, "
                f"{self.remaining} remain)",
                offset=self.base + self.offset,
            )
        chunk = self.data[self.offset : self.offset + n]
        self.offset += n
        return bytes(chunk)

    def uint(self, n: int, field_name: str) -> int:
        return int.from_bytes(self.take(n, field_name), "big")

    def u8(self, field_name: str) -> int:
        return self.uint(1, field_name)

    def u16(self, field_name: str) -> int:
        return self.uint(2, field_name)

    def u32(self, field_name: str) -> int:
        return self.uint(4, field_name)

    def error(self, message: str, at: int | None = None) -> EncodingError:
        return EncodingError(
            f"{self.what}: {message}", offset=self.base + (self.offset if at is None else at)
        )
