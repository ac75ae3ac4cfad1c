"""DG2, the encoded face: ICAO 9303-10 §4.7.2, ISO/IEC 19794-5:2005 facial records.

Layout (tag 75)::

    75 { 7F61 { 02 01 n, 7F60 { A1 {header}, 5F2E {facial record} } ... } }

Facial record (ISO/IEC 19794-5:2005 §5.4–§5.8, big-endian)::

    Facial Record Header (14)   "FAC\\0", version "010\\0", record length (4), number of faces (2)
    per face:
      Facial Information (20)   block length (4), feature points n (2), gender (1),
                                eye colour (1), hair colour (1), feature mask (3),
                                expression (2), pose angle y/p/r (3), uncertainty y/p/r (3)
      Feature Points (8 × n)    type (1), code (1), x (2), y (2), reserved (2)
      Image Information (12)    face image type (1), image data type (1: 0 JPEG, 1 JPEG 2000),
                                width (2), height (2), colour space (1), source type (1),
                                device type (2), quality (2)
      Image Data                block length − 32 − 8n bytes

The layout was cross-checked against JMRTD (``FaceInfo``/``FaceImageInfo``) and gmrtd
(``iso19794.go``). The 2011 edition (version "030") restructures the record (capture date-time,
quality blocks, landmark points with z, a different image information block); no source at hand
states its image block reliably enough to parse, so "030" (and any other version) is refused with
an error naming it rather than guessed at.

The image format is decided from both the image-data-type byte and the image's magic bytes
(JPEG ``FF D8``, JP2 ``00 00 00 0C 6A 50 20 20``, J2K codestream ``FF 4F FF 51``): the magic
wins, since the pixels are what a reader must decode; a disagreeing type byte is reported by
:meth:`Dg2.describe` rather than rejected, as issuers in the wild get it wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from cardkit.errors import EncodingError, ImageError
from cardkit.lds import cbeff
from cardkit.lds.files import dg
from cardkit.lds.image import FaceFormat, detect_format

TAG = dg(2).tag or 0x75

FORMAT_IDENTIFIER = b"FAC\x00"
VERSION_2005 = b"010\x00"

_HEADER_LEN = 14
_FACIAL_INFO_LEN = 20
_FEATURE_POINT_LEN = 8
_IMAGE_INFO_LEN = 12

# ISO/IEC 19794-5:2005 code tables (§5.5.3–§5.7.7).
GENDER = {0x00: "unspecified", 0x01: "male", 0x02: "female", 0xFF: "unknown"}
EYE_COLOUR = {
    0x00: "unspecified", 0x01: "black", 0x02: "blue", 0x03: "brown", 0x04: "gray",
    0x05: "green", 0x06: "multi-coloured", 0x07: "pink", 0xFF: "unknown",
}  # fmt: skip
HAIR_COLOUR = {
    0x00: "unspecified", 0x01: "bald", 0x02: "black", 0x03: "blonde", 0x04: "brown",
    0x05: "gray", 0x06: "white", 0x07: "red", 0x08: "green", 0x09: "blue", 0xFF: "unknown",
}  # fmt: skip
EXPRESSION = {
    0: "unspecified", 1: "neutral", 2: "smile, closed jaw", 3: "smile, open jaw",
    4: "raised eyebrows", 5: "eyes looking away", 6: "squinting", 7: "frowning",
}  # fmt: skip
FACE_IMAGE_TYPE = {0: "basic", 1: "full frontal", 2: "token frontal"}
COLOUR_SPACE = {0: "unspecified", 1: "RGB24", 2: "YUV422", 3: "GRAY8", 4: "other"}
SOURCE_TYPE = {
    0: "unspecified", 1: "static photo, unknown source", 2: "static photo, digital camera",
    3: "static photo, scanner", 4: "video frame, unknown source",
    5: "video frame, analogue camera", 6: "video frame, digital camera", 7: "unknown",
}  # fmt: skip

FACE_IMAGE_TYPE_FULL_FRONTAL = 1
FACE_IMAGE_TYPE_TOKEN_FRONTAL = 2
IMAGE_DATA_TYPE_JPEG = 0
IMAGE_DATA_TYPE_JPEG2000 = 1
COLOUR_SPACE_RGB24 = 1
SOURCE_TYPE_STATIC_DIGITAL_CAMERA = 2

_DATA_TYPE_FORMAT: dict[int, FaceFormat] = {
    IMAGE_DATA_TYPE_JPEG: "jpeg",
    IMAGE_DATA_TYPE_JPEG2000: "jpeg2000",
}
_FORMAT_DATA_TYPE = {v: k for k, v in _DATA_TYPE_FORMAT.items()}


def _check(value: int, bits: int, what: str) -> None:
    if not 0 <= value < (1 << bits):
        raise ValueError(f"{what} must be in 0..{(1 << bits) - 1}")


def face_image_format(image: bytes) -> FaceFormat | None:
    """ "jpeg" or "jpeg2000" from the image's magic bytes, None for anything else."""
    kind = detect_format(image)
    if kind == "jpeg" or kind == "jpeg2000":
        return kind
    return None


@dataclass(frozen=True)
class FeaturePoint:
    """One MPEG-4 feature point (ISO/IEC 19794-5:2005 §5.6). ``code``: major ≪ 4 | minor."""

    point_type: int
    code: int
    x: int
    y: int
    reserved: int = 0

    def __post_init__(self) -> None:
        _check(self.point_type, 8, "feature point type")
        _check(self.code, 8, "feature point code")
        _check(self.x, 16, "feature point x")
        _check(self.y, 16, "feature point y")
        _check(self.reserved, 16, "feature point reserved field")

    def encode(self) -> bytes:
        return (
            bytes([self.point_type, self.code])
            + self.x.to_bytes(2, "big")
            + self.y.to_bytes(2, "big")
            + self.reserved.to_bytes(2, "big")
        )


@dataclass(frozen=True)
class FaceImage:
    """One facial record data block (ISO/IEC 19794-5:2005 §5.5–§5.8): metadata and image.

    ``image_format`` follows from the image's magic bytes; ``image_data_type`` is the byte as
    stored (0 JPEG, 1 JPEG 2000), which may disagree on decoded documents (see
    :attr:`data_type_mismatch`). Pose angles are kept in their encoded form (§5.5.8).
    """

    image: bytes = field(repr=False)
    width: int
    height: int
    image_data_type: int = IMAGE_DATA_TYPE_JPEG
    gender: int = 0
    eye_colour: int = 0
    hair_colour: int = 0
    feature_mask: int = 0
    expression: int = 0
    pose_angle: tuple[int, int, int] = (0, 0, 0)
    pose_angle_uncertainty: tuple[int, int, int] = (0, 0, 0)
    feature_points: tuple[FeaturePoint, ...] = ()
    face_image_type: int = FACE_IMAGE_TYPE_FULL_FRONTAL
    colour_space: int = COLOUR_SPACE_RGB24
    source_type: int = SOURCE_TYPE_STATIC_DIGITAL_CAMERA
    device_type: int = 0
    quality: int = 0

    def __post_init__(self) -> None:
        _check(self.width, 16, "width")
        _check(self.height, 16, "height")
        for name, bits in (
            ("image_data_type", 8), ("gender", 8), ("eye_colour", 8), ("hair_colour", 8),
            ("feature_mask", 24), ("expression", 16), ("face_image_type", 8),
            ("colour_space", 8), ("source_type", 8), ("device_type", 16), ("quality", 16),
        ):  # fmt: skip
            _check(getattr(self, name), bits, name.replace("_", " "))
        if len(self.pose_angle) != 3 or len(self.pose_angle_uncertainty) != 3:
            raise ValueError("pose angle and its uncertainty have three parts (yaw, pitch, roll)")
        for v in (*self.pose_angle, *self.pose_angle_uncertainty):
            _check(v, 8, "pose angle")
        if len(self.feature_points) > 0xFFFF:
            raise ValueError("at most 65535 feature points")
        if face_image_format(self.image) is None:
            raise ValueError(
                "the face image is neither JPEG nor JPEG 2000 (ISO/IEC 19794-5 §5.7.2)"
            )

    @property
    def image_format(self) -> FaceFormat:
        fmt = face_image_format(self.image)
        assert fmt is not None  # checked on construction
        return fmt

    @property
    def data_type_mismatch(self) -> bool:
        """Whether the stored image-data-type byte disagrees with the image's magic bytes."""
        return _DATA_TYPE_FORMAT.get(self.image_data_type) != self.image_format

    @property
    def block_length(self) -> int:
        return (
            _FACIAL_INFO_LEN
            + _FEATURE_POINT_LEN * len(self.feature_points)
            + _IMAGE_INFO_LEN
            + len(self.image)
        )

    def encode(self) -> bytes:
        """The facial record data block, 19794-5:2005 §5.5–§5.8."""
        return b"".join(
            (
                self.block_length.to_bytes(4, "big"),
                len(self.feature_points).to_bytes(2, "big"),
                bytes([self.gender, self.eye_colour, self.hair_colour]),
                self.feature_mask.to_bytes(3, "big"),
                self.expression.to_bytes(2, "big"),
                bytes(self.pose_angle),
                bytes(self.pose_angle_uncertainty),
                *(p.encode() for p in self.feature_points),
                bytes([self.face_image_type, self.image_data_type]),
                self.width.to_bytes(2, "big"),
                self.height.to_bytes(2, "big"),
                bytes([self.colour_space, self.source_type]),
                self.device_type.to_bytes(2, "big"),
                self.quality.to_bytes(2, "big"),
                self.image,
            )
        )

    def describe(self) -> dict[str, object]:
        out: dict[str, object] = {
            "format": self.image_format,
            "width": self.width,
            "height": self.height,
            "image_bytes": len(self.image),
            "image_data_type": self.image_data_type,
            "gender": GENDER.get(self.gender, self.gender),
            "eye_colour": EYE_COLOUR.get(self.eye_colour, self.eye_colour),
            "hair_colour": HAIR_COLOUR.get(self.hair_colour, self.hair_colour),
            "feature_mask": f"{self.feature_mask:06X}",
            "expression": EXPRESSION.get(self.expression, self.expression),
            "pose_angle": list(self.pose_angle),
            "pose_angle_uncertainty": list(self.pose_angle_uncertainty),
            "feature_points": len(self.feature_points),
            "face_image_type": FACE_IMAGE_TYPE.get(self.face_image_type, self.face_image_type),
            "colour_space": COLOUR_SPACE.get(self.colour_space, self.colour_space),
            "source_type": SOURCE_TYPE.get(self.source_type, self.source_type),
            "device_type": self.device_type,
            "quality": self.quality,
        }
        if self.data_type_mismatch:
            out["warning"] = (
                f"image data type {self.image_data_type} disagrees with the image, "
                f"which is {self.image_format}"
            )
        return out


def _decode_face(reader: cbeff.RecordReader, index: int) -> FaceImage:
    start = reader.offset
    what = f"face {index + 1}"
    block_length = reader.u32(f"{what} block length")
    n_points = reader.u16(f"{what} feature point count")
    minimum = _FACIAL_INFO_LEN + _FEATURE_POINT_LEN * n_points + _IMAGE_INFO_LEN
    if block_length < minimum:
        raise reader.error(
            f"{what}: block length {block_length} is shorter than its headers ({minimum})",
            at=start,
        )
    if block_length > len(reader.data) - start:
        raise reader.error(
            f"{what}: block length {block_length} exceeds the {len(reader.data) - start} "
            "bytes left in the record",
            at=start,
        )
    gender = reader.u8(f"{what} gender")
    eye = reader.u8(f"{what} eye colour")
    hair = reader.u8(f"{what} hair colour")
    mask = reader.uint(3, f"{what} feature mask")
    expression = reader.u16(f"{what} expression")
    pose = reader.take(3, f"{what} pose angle")
    pose_unc = reader.take(3, f"{what} pose angle uncertainty")
    points = []
    for i in range(n_points):
        name = f"{what} feature point {i + 1}"
        points.append(
            FeaturePoint(
                point_type=reader.u8(name),
                code=reader.u8(name),
                x=reader.u16(name),
                y=reader.u16(name),
                reserved=reader.u16(name),
            )
        )
    face_type = reader.u8(f"{what} face image type")
    data_type = reader.u8(f"{what} image data type")
    width = reader.u16(f"{what} width")
    height = reader.u16(f"{what} height")
    colour = reader.u8(f"{what} colour space")
    source = reader.u8(f"{what} source type")
    device = reader.u16(f"{what} device type")
    quality = reader.u16(f"{what} quality")
    image_at = reader.offset
    image = reader.take(block_length - minimum, f"{what} image data")
    if face_image_format(image) is None:
        kind = detect_format(image)
        found = f"{kind} data" if kind else f"bytes starting {image[:4].hex().upper() or '(none)'}"
        raise reader.error(
            f"{what}: image is neither JPEG nor JPEG 2000 (found {found}; ISO/IEC 19794-5 §5.7.2)",
            at=image_at,
        )
    return FaceImage(
        image=image,
        width=width,
        height=height,
        image_data_type=data_type,
        gender=gender,
        eye_colour=eye,
        hair_colour=hair,
        feature_mask=mask,
        expression=expression,
        pose_angle=(pose[0], pose[1], pose[2]),
        pose_angle_uncertainty=(pose_unc[0], pose_unc[1], pose_unc[2]),
        feature_points=tuple(points),
        face_image_type=face_type,
        colour_space=colour,
        source_type=source,
        device_type=device,
        quality=quality,
    )


#: Real passports declare a record length a few bytes off (gmrtd reports NZ: −8, UK: −1);
#: tolerate up to this many trailing bytes beyond the declared record.
_RECORD_LENGTH_SLACK = 8


def decode_facial_record(data: bytes, base: int = 0) -> tuple[FaceImage, ...]:
    """Decode an ISO/IEC 19794-5:2005 facial record into its faces."""
    reader = cbeff.RecordReader(data, "facial record (ISO/IEC 19794-5)", base)
    magic = reader.take(4, "format identifier")
    if magic != FORMAT_IDENTIFIER:
        raise reader.error(f"format identifier is {magic.hex().upper()}, not 'FAC\\0'", at=0)
    version = reader.take(4, "version")
    if version != VERSION_2005:
        label = version.rstrip(b"\x00").decode("ascii", "replace")
        edition = " (ISO/IEC 19794-5:2011)" if version == b"030\x00" else ""
        raise reader.error(
            f"version {label!r}{edition} is not supported: only '010' "
            "(ISO/IEC 19794-5:2005, the ICAO 9303 format) is",
            at=4,
        )
    record_length = reader.u32("record length")
    count = reader.u16("number of faces")
    if not record_length <= len(data) <= record_length + _RECORD_LENGTH_SLACK:
        raise reader.error(
            f"record length {record_length} does not match the {len(data)} bytes present", at=8
        )
    if count == 0:
        raise reader.error("holds no face", at=12)
    faces = tuple(_decode_face(reader, i) for i in range(count))
    if reader.remaining > _RECORD_LENGTH_SLACK:
        raise reader.error(f"{reader.remaining} unexpected bytes after the last face")
    return faces


def encode_facial_record(faces: Sequence[FaceImage]) -> bytes:
    """An ISO/IEC 19794-5:2005 facial record holding ``faces``."""
    if not 1 <= len(faces) <= 0xFFFF:
        raise ValueError("a facial record holds 1 to 65535 faces")
    blocks = b"".join(f.encode() for f in faces)
    length = _HEADER_LEN + len(blocks)
    if length > 0xFFFFFFFF:
        raise ValueError("facial record too long")
    return (
        FORMAT_IDENTIFIER
        + VERSION_2005
        + length.to_bytes(4, "big")
        + len(faces).to_bytes(2, "big")
        + blocks
    )


def default_header() -> cbeff.BiometricHeader:
    """The BHT cardkit writes for a face (9303-10 §4.7.2.1): version, type, owner, format."""
    return cbeff.BiometricHeader.build(
        biometric_type=cbeff.BIOMETRIC_TYPE_FACE,
        format_owner=cbeff.FORMAT_OWNER_SC37,
        format_type=cbeff.FORMAT_TYPE_FACE_IMAGE,
    )


@dataclass(frozen=True)
class FacialRecord:
    """One biometric information template of DG2: its CBEFF header and its faces."""

    faces: tuple[FaceImage, ...]
    header: cbeff.BiometricHeader = field(default_factory=default_header)
    data_tag: int = cbeff.BDB_TAG

    def __post_init__(self) -> None:
        if not 1 <= len(self.faces) <= 0xFFFF:
            raise ValueError("a facial record holds 1 to 65535 faces")

    def info(self) -> cbeff.BiometricInfo:
        return cbeff.BiometricInfo(self.header, encode_facial_record(self.faces), self.data_tag)


@dataclass(frozen=True)
class Dg2:
    """DG2 (tag 75): face images, ICAO 9303-10 §4.7.2."""

    records: tuple[FacialRecord, ...]
    raw: bytes = field(repr=False, compare=True)

    @property
    def faces(self) -> tuple[FaceImage, ...]:
        """Every face of every record, in file order."""
        return tuple(face for record in self.records for face in record.faces)

    @classmethod
    def build(
        cls,
        image: bytes,
        width: int,
        height: int,
        *,
        header: cbeff.BiometricHeader | None = None,
        gender: int = 0,
        eye_colour: int = 0,
        hair_colour: int = 0,
        feature_mask: int = 0,
        expression: int = 0,
        face_image_type: int = FACE_IMAGE_TYPE_FULL_FRONTAL,
        colour_space: int = COLOUR_SPACE_RGB24,
        source_type: int = SOURCE_TYPE_STATIC_DIGITAL_CAMERA,
        device_type: int = 0,
        quality: int = 0,
        feature_points: Sequence[FeaturePoint] = (),
    ) -> Dg2:
        """A DG2 with one face. The image-data-type byte follows the image's magic bytes.

        Raises :class:`ImageError` when ``image`` is neither JPEG nor JPEG 2000.
        """
        fmt = face_image_format(image)
        if fmt is None:
            raise ImageError(
                "DG2 face image must be JPEG or JPEG 2000 (ISO/IEC 19794-5 §5.7.2); "
                "prepare it with cardkit.lds.image.fit_face"
            )
        face = FaceImage(
            image=image,
            width=width,
            height=height,
            image_data_type=_FORMAT_DATA_TYPE[fmt],
            gender=gender,
            eye_colour=eye_colour,
            hair_colour=hair_colour,
            feature_mask=feature_mask,
            expression=expression,
            feature_points=tuple(feature_points),
            face_image_type=face_image_type,
            colour_space=colour_space,
            source_type=source_type,
            device_type=device_type,
            quality=quality,
        )
        return cls.from_records([FacialRecord((face,), header or default_header())])

    @classmethod
    def from_records(cls, records: Sequence[FacialRecord]) -> Dg2:
        """A DG2 with one biometric information template per record."""
        raw = cbeff.encode_data_group(TAG, [r.info() for r in records])
        return cls(records=tuple(records), raw=raw)

    @classmethod
    def from_bytes(cls, data: bytes) -> Dg2:
        """Strict decode of a DG2 file; :class:`EncodingError` on anything malformed."""
        data = bytes(data)
        try:
            infos = cbeff.decode_data_group(data, TAG, "DG2")
            records = []
            for i, info in enumerate(infos):
                # The data block's position is not tracked through the TLV layers: offsets in
                # facial-record errors are relative to the record's start.
                try:
                    faces = decode_facial_record(info.data)
                except EncodingError as exc:
                    raise EncodingError(f"DG2 template {i + 1}: {exc}") from None
                records.append(FacialRecord(faces, info.header, info.data_tag))
        except EncodingError:
            raise
        except (ValueError, IndexError, TypeError) as exc:  # defensive: never leak these
            raise EncodingError(f"DG2: malformed content ({exc})") from None
        return cls(records=tuple(records), raw=data)

    def __bytes__(self) -> bytes:
        return self.raw

    def describe(self) -> dict[str, object]:
        """A JSON-serialisable summary (never the image bytes)."""
        faces = self.faces
        first = faces[0] if faces else None
        return {
            "data_group": "DG2",
            "faces": len(faces),
            "format": first.image_format if first else None,
            "width": first.width if first else None,
            "height": first.height if first else None,
            "image_bytes": len(first.image) if first else 0,
            "records": [
                {"header": r.header.describe(), "faces": [f.describe() for f in r.faces]}
                for r in self.records
            ],
            "size": len(self.raw),
        }
