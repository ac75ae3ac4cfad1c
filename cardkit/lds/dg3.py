"""DG3, encoded fingerprints: ICAO 9303-10 §4.7.3, ISO/IEC 19794-4:2005 finger image records.

Layout (tag 63; EAC-protected on the card)::

    63 { 7F61 { 02 01 n, 7F60 { A1 {header}, 5F2E {finger image record} } ... } }

Finger image record (ISO/IEC 19794-4:2005 §7.1–§7.2, big-endian)::

    General Record Header (32)  "FIR\\0", version "010\\0", record length (6),
                                capture device id (2), image acquisition level (2),
                                number of fingers/palms (1), scale units (1: 1 ppi, 2 ppcm),
                                scan resolution h, v (2 + 2), image resolution h, v (2 + 2),
                                pixel depth (1), compression algorithm (1), reserved (2)
    per finger:
      Finger Image Header (14)  block length (4), finger position (1), count of views (1),
                                view number (1), quality (1), impression type (1),
                                horizontal line length (2), vertical line length (2), reserved (1)
      Image Data                block length − 14 bytes

Compression codes are those of the 2005 edition (§7.1.13 Table 3): 0 uncompressed, 1 bit-packed,
2 WSQ, 3 JPEG, 4 JPEG 2000, 5 PNG (the 2011 edition renumbers: 4 JPEG 2000 lossy, 5 lossless,
6 PNG; its version "020"/"030" records are refused here). Finger positions (§7.2.2 Table 5):
1 right thumb, 2 right index, …, 6 left thumb, 7 left index, …, 10 left little. Cross-checked
against JMRTD's ``FingerInfo``/``FingerImageInfo``.

cardkit writes one template per finger (as ICAO issuers do), so each finger gets a CBEFF header
with its own biometric subtype (ISO/IEC 7816-11 / CBEFF: right 01, left 02 | thumb 04, index 08,
middle 0C, ring 10, little 14).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cardkit.errors import EncodingError
from cardkit.lds import cbeff
from cardkit.lds.files import dg
from cardkit.lds.image import detect_format

TAG = dg(3).tag or 0x63

FORMAT_IDENTIFIER = b"FIR\x00"
VERSION_2005 = b"010\x00"

_GENERAL_HEADER_LEN = 32
_FINGER_HEADER_LEN = 14

COMPRESSION_UNCOMPRESSED = 0
COMPRESSION_BIT_PACKED = 1
COMPRESSION_WSQ = 2
COMPRESSION_JPEG = 3
COMPRESSION_JPEG2000 = 4
COMPRESSION_PNG = 5
COMPRESSION = {
    COMPRESSION_UNCOMPRESSED: "uncompressed",
    COMPRESSION_BIT_PACKED: "uncompressed, bit-packed",
    COMPRESSION_WSQ: "wsq",
    COMPRESSION_JPEG: "jpeg",
    COMPRESSION_JPEG2000: "jpeg2000",
    COMPRESSION_PNG: "png",
}
#: The magic-bytes format each compression code requires (uncompressed data has none).
_COMPRESSION_KIND = {
    COMPRESSION_WSQ: "wsq",
    COMPRESSION_JPEG: "jpeg",
    COMPRESSION_JPEG2000: "jpeg2000",
    COMPRESSION_PNG: "png",
}

POSITION_UNKNOWN = 0
POSITION_RIGHT_THUMB = 1
POSITION_RIGHT_INDEX = 2
POSITION_RIGHT_MIDDLE = 3
POSITION_RIGHT_RING = 4
POSITION_RIGHT_LITTLE = 5
POSITION_LEFT_THUMB = 6
POSITION_LEFT_INDEX = 7
POSITION_LEFT_MIDDLE = 8
POSITION_LEFT_RING = 9
POSITION_LEFT_LITTLE = 10
POSITION = {
    0: "unknown finger", 1: "right thumb", 2: "right index", 3: "right middle",
    4: "right ring", 5: "right little", 6: "left thumb", 7: "left index", 8: "left middle",
    9: "left ring", 10: "left little", 13: "plain right four fingers",
    14: "plain left four fingers", 15: "plain thumbs",
}  # fmt: skip


def position_label(position: int) -> str:
    """The ISO/IEC 19794-4:2005 Table 5 name of a finger position code (``"right index"``);
    ``"position N"`` for a code the table does not name."""
    return POSITION.get(position, f"position {position}")


def position_slug(position: int) -> str:
    """A file-name form of :func:`position_label`: ``right-index``, ``unknown-finger``,
    ``position-42``."""
    return position_label(position).replace(" ", "-")


IMPRESSION = {
    0: "live-scan plain", 1: "live-scan rolled", 2: "non-live-scan plain",
    3: "non-live-scan rolled", 7: "latent", 8: "swipe", 9: "live-scan contactless",
}  # fmt: skip
SCALE_UNITS_PPI = 1
SCALE_UNITS_PPCM = 2

# CBEFF biometric subtype bits (ISO/IEC 7816-11 Table C.2, JMRTD CBEFFInfo).
_SUBTYPE_RIGHT = 0x01
_SUBTYPE_LEFT = 0x02
_SUBTYPE_FINGER = {1: 0x04, 2: 0x08, 3: 0x0C, 4: 0x10, 5: 0x14}


def biometric_subtype(position: int) -> int:
    """The CBEFF biometric subtype of an ISO/IEC 19794-4 finger position (0 when none fits)."""
    if 1 <= position <= 5:
        return _SUBTYPE_RIGHT | _SUBTYPE_FINGER[position]
    if 6 <= position <= 10:
        return _SUBTYPE_LEFT | _SUBTYPE_FINGER[position - 5]
    return 0


def _check(value: int, bits: int, what: str) -> None:
    if not 0 <= value < (1 << bits):
        raise ValueError(f"{what} must be in 0..{(1 << bits) - 1}")


@dataclass(frozen=True)
class FingerImage:
    """One finger image data block (ISO/IEC 19794-4:2005 §7.2): its header and image bytes."""

    position: int
    image: bytes = field(repr=False)
    width: int  # horizontal line length, pixels
    height: int  # vertical line length, pixels
    view_count: int = 1
    view_number: int = 1
    quality: int = 0  # 0..100 (19794-4 §7.2.5); 0 when not assessed
    impression_type: int = 0  # live-scan plain
    reserved: int = 0

    def __post_init__(self) -> None:
        for name, bits in (
            ("position", 8), ("view_count", 8), ("view_number", 8), ("quality", 8),
            ("impression_type", 8), ("width", 16), ("height", 16), ("reserved", 8),
        ):  # fmt: skip
            _check(getattr(self, name), bits, name.replace("_", " "))

    @property
    def image_format(self) -> str | None:
        """The format the image's magic bytes announce (None for raw pixels or unknown)."""
        return detect_format(self.image)

    @property
    def label(self) -> str:
        """The finger's position in words (ISO/IEC 19794-4 Table 5): ``"left index"``."""
        return position_label(self.position)

    def encode(self) -> bytes:
        length = _FINGER_HEADER_LEN + len(self.image)
        if length > 0xFFFFFFFF:
            raise ValueError("finger image too long")
        return b"".join(
            (
                length.to_bytes(4, "big"),
                bytes([self.position, self.view_count, self.view_number, self.quality]),
                bytes([self.impression_type]),
                self.width.to_bytes(2, "big"),
                self.height.to_bytes(2, "big"),
                bytes([self.reserved]),
                self.image,
            )
        )

    def describe(self) -> dict[str, object]:
        return {
            "position": POSITION.get(self.position, self.position),
            "position_code": self.position,
            "width": self.width,
            "height": self.height,
            "image_bytes": len(self.image),
            "image_format": self.image_format,
            "view_count": self.view_count,
            "view_number": self.view_number,
            "quality": self.quality,
            "impression_type": IMPRESSION.get(self.impression_type, self.impression_type),
        }


def _header_for(fingers: Sequence[FingerImage]) -> cbeff.BiometricHeader:
    positions = {f.position for f in fingers}
    subtype = biometric_subtype(positions.pop()) if len(positions) == 1 else 0
    return cbeff.BiometricHeader.build(
        biometric_type=cbeff.BIOMETRIC_TYPE_FINGER,
        biometric_subtype=subtype,
        format_owner=cbeff.FORMAT_OWNER_SC37,
        format_type=cbeff.FORMAT_TYPE_FINGER_IMAGE,
    )


@dataclass(frozen=True)
class FingerRecord:
    """One finger image record (general header + fingers) and its CBEFF header."""

    fingers: tuple[FingerImage, ...]
    compression: int
    capture_device_id: int = 0
    acquisition_level: int = 31  # 19794-4 Table 1: level 31 = 500 ppi, 8-bit grey
    scale_units: int = SCALE_UNITS_PPI
    scan_resolution: tuple[int, int] = (500, 500)
    image_resolution: tuple[int, int] = (500, 500)
    pixel_depth: int = 8
    reserved: int = 0
    header: cbeff.BiometricHeader | None = None  # None: derived from the fingers
    data_tag: int = cbeff.BDB_TAG

    def __post_init__(self) -> None:
        if not 1 <= len(self.fingers) <= 0xFF:
            raise ValueError("a finger image record holds 1 to 255 fingers")
        for name, bits in (
            ("compression", 8), ("capture_device_id", 16), ("acquisition_level", 16),
            ("scale_units", 8), ("pixel_depth", 8), ("reserved", 16),
        ):  # fmt: skip
            _check(getattr(self, name), bits, name.replace("_", " "))
        if len(self.scan_resolution) != 2 or len(self.image_resolution) != 2:
            raise ValueError("resolutions are (horizontal, vertical) pairs")
        for v in (*self.scan_resolution, *self.image_resolution):
            _check(v, 16, "resolution")
        if self.header is None:
            object.__setattr__(self, "header", _header_for(self.fingers))

    @property
    def cbeff_header(self) -> cbeff.BiometricHeader:
        assert self.header is not None  # set in __post_init__
        return self.header

    def validate_images(self) -> None:
        """Check each image against the compression code (used when building, not decoding).

        Raises ValueError when a compressed image's magic bytes disagree with ``compression``
        or an uncompressed image's size disagrees with width × height × depth.
        """
        kind = _COMPRESSION_KIND.get(self.compression)
        for i, f in enumerate(self.fingers):
            if kind is not None and detect_format(f.image) != kind:
                raise ValueError(
                    f"finger {i + 1}: image is not {kind} data but compression says {kind}"
                )
            if self.compression == COMPRESSION_UNCOMPRESSED:
                expected = f.width * f.height * ((self.pixel_depth + 7) // 8)
                if len(f.image) != expected:
                    raise ValueError(
                        f"finger {i + 1}: {len(f.image)} bytes of raw pixels, expected {expected}"
                    )

    def encode(self) -> bytes:
        """The ISO/IEC 19794-4:2005 finger image record."""
        blocks = b"".join(f.encode() for f in self.fingers)
        length = _GENERAL_HEADER_LEN + len(blocks)
        return b"".join(
            (
                FORMAT_IDENTIFIER,
                VERSION_2005,
                length.to_bytes(6, "big"),
                self.capture_device_id.to_bytes(2, "big"),
                self.acquisition_level.to_bytes(2, "big"),
                bytes([len(self.fingers), self.scale_units]),
                self.scan_resolution[0].to_bytes(2, "big"),
                self.scan_resolution[1].to_bytes(2, "big"),
                self.image_resolution[0].to_bytes(2, "big"),
                self.image_resolution[1].to_bytes(2, "big"),
                bytes([self.pixel_depth, self.compression]),
                self.reserved.to_bytes(2, "big"),
                blocks,
            )
        )

    def info(self) -> cbeff.BiometricInfo:
        return cbeff.BiometricInfo(self.cbeff_header, self.encode(), self.data_tag)

    def describe(self) -> dict[str, object]:
        return {
            "header": self.cbeff_header.describe(),
            "compression": COMPRESSION.get(self.compression, self.compression),
            "capture_device_id": self.capture_device_id,
            "acquisition_level": self.acquisition_level,
            "scale_units": {1: "ppi", 2: "ppcm"}.get(self.scale_units, self.scale_units),
            "scan_resolution": list(self.scan_resolution),
            "image_resolution": list(self.image_resolution),
            "pixel_depth": self.pixel_depth,
            "fingers": [f.describe() for f in self.fingers],
        }


def decode_finger_record(
    data: bytes, header: cbeff.BiometricHeader | None = None, data_tag: int = cbeff.BDB_TAG
) -> FingerRecord:
    """Decode an ISO/IEC 19794-4:2005 finger image record."""
    reader = cbeff.RecordReader(data, "finger image record (ISO/IEC 19794-4)")
    magic = reader.take(4, "format identifier")
    if magic != FORMAT_IDENTIFIER:
        raise reader.error(f"format identifier is {magic.hex().upper()}, not 'FIR\\0'", at=0)
    version = reader.take(4, "version")
    if version != VERSION_2005:
        label = version.rstrip(b"\x00").decode("ascii", "replace")
        raise reader.error(
            f"version {label!r} is not supported: only '010' (ISO/IEC 19794-4:2005) is", at=4
        )
    record_length = reader.uint(6, "record length")
    if record_length != len(data):
        raise reader.error(
            f"record length {record_length} does not match the {len(data)} bytes present", at=8
        )
    device = reader.u16("capture device id")
    level = reader.u16("image acquisition level")
    count = reader.u8("number of fingers")
    units = reader.u8("scale units")
    scan = (reader.u16("horizontal scan resolution"), reader.u16("vertical scan resolution"))
    res = (reader.u16("horizontal image resolution"), reader.u16("vertical image resolution"))
    depth = reader.u8("pixel depth")
    compression = reader.u8("compression algorithm")
    reserved = reader.u16("reserved")
    if count == 0:
        raise reader.error("holds no finger image", at=18)
    fingers = []
    for i in range(count):
        start = reader.offset
        what = f"finger {i + 1}"
        length = reader.u32(f"{what} block length")
        if length < _FINGER_HEADER_LEN or length > len(data) - start:
            raise reader.error(
                f"{what}: block length {length} is not between {_FINGER_HEADER_LEN} and the "
                f"{len(data) - start} bytes left",
                at=start,
            )
        fingers.append(
            FingerImage(
                position=reader.u8(f"{what} position"),
                view_count=reader.u8(f"{what} count of views"),
                view_number=reader.u8(f"{what} view number"),
                quality=reader.u8(f"{what} quality"),
                impression_type=reader.u8(f"{what} impression type"),
                width=reader.u16(f"{what} horizontal line length"),
                height=reader.u16(f"{what} vertical line length"),
                reserved=reader.u8(f"{what} reserved"),
                image=reader.take(length - _FINGER_HEADER_LEN, f"{what} image data"),
            )
        )
    if reader.remaining:
        raise reader.error(f"{reader.remaining} unexpected bytes after the last finger")
    return FingerRecord(
        fingers=tuple(fingers),
        compression=compression,
        capture_device_id=device,
        acquisition_level=level,
        scale_units=units,
        scan_resolution=scan,
        image_resolution=res,
        pixel_depth=depth,
        reserved=reserved,
        header=header,
        data_tag=data_tag,
    )


@dataclass(frozen=True)
class Dg3:
    """DG3 (tag 63): fingerprint images, ICAO 9303-10 §4.7.3."""

    records: tuple[FingerRecord, ...]
    raw: bytes = field(repr=False, compare=True)

    @property
    def fingers(self) -> tuple[FingerImage, ...]:
        return tuple(f for r in self.records for f in r.fingers)

    def finger_images(self) -> tuple[tuple[FingerRecord, FingerImage], ...]:
        """Every finger image with the record that says how it is encoded (compression,
        pixel depth, resolution), in file order."""
        return tuple((r, f) for r in self.records for f in r.fingers)

    @classmethod
    def build(
        cls,
        fingers: Iterable[FingerImage],
        *,
        compression: int,
        resolution_ppi: int = 500,
        acquisition_level: int = 31,
        capture_device_id: int = 0,
        pixel_depth: int = 8,
    ) -> Dg3:
        """A DG3 with one template (and one finger image record) per finger.

        Raises ValueError when an image does not match ``compression`` (e.g. PNG bytes with
        compression JPEG) or a field is out of range.
        """
        records = [
            FingerRecord(
                fingers=(finger,),
                compression=compression,
                capture_device_id=capture_device_id,
                acquisition_level=acquisition_level,
                scan_resolution=(resolution_ppi, resolution_ppi),
                image_resolution=(resolution_ppi, resolution_ppi),
                pixel_depth=pixel_depth,
            )
            for finger in fingers
        ]
        return cls.from_records(records)

    @classmethod
    def from_records(cls, records: Sequence[FingerRecord]) -> Dg3:
        for record in records:
            record.validate_images()
        raw = cbeff.encode_data_group(TAG, [r.info() for r in records])
        return cls(records=tuple(records), raw=raw)

    @classmethod
    def from_bytes(cls, data: bytes) -> Dg3:
        """Strict decode of a DG3 file; :class:`EncodingError` on anything malformed."""
        data = bytes(data)
        try:
            infos = cbeff.decode_data_group(data, TAG, "DG3")
            records = []
            for i, info in enumerate(infos):
                try:
                    records.append(decode_finger_record(info.data, info.header, info.data_tag))
                except EncodingError as exc:
                    raise EncodingError(f"DG3 template {i + 1}: {exc}") from None
        except EncodingError:
            raise
        except (ValueError, IndexError, TypeError) as exc:  # defensive: never leak these
            raise EncodingError(f"DG3: malformed content ({exc})") from None
        return cls(records=tuple(records), raw=data)

    def __bytes__(self) -> bytes:
        return self.raw

    def describe(self) -> dict[str, object]:
        """A JSON-serialisable summary (never the image bytes)."""
        return {
            "data_group": "DG3",
            "fingers": len(self.fingers),
            "positions": [POSITION.get(f.position, f.position) for f in self.fingers],
            "records": [r.describe() for r in self.records],
            "size": len(self.raw),
        }
