"""Tests for DG2 (ICAO 9303-10 §4.7.2, ISO/IEC 19794-5:2005 facial records)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from cardkit.encoding import tlv
from cardkit.errors import EncodingError, ImageError
from cardkit.lds import cbeff
from cardkit.lds.dg2 import (
    Dg2,
    FaceImage,
    FacialRecord,
    FeaturePoint,
    decode_facial_record,
    encode_facial_record,
)
from cardkit.lds.image import fit_face

VECTORS = Path(__file__).resolve().parents[2] / "vectors"

# Stand-ins with the right magic bytes: the DG2 layer looks at the magic, not the pixels.
FAKE_JPEG = bytes.fromhex("FFD8FFE0") + b"jpeg body"
FAKE_JP2 = bytes.fromhex("0000000C6A5020200D0A870A") + b"jp2 body"
FAKE_J2K = bytes.fromhex("FF4FFF51") + b"codestream"


def _vector(name: str) -> bytes:
    lines = (VECTORS / name).read_text().splitlines()
    return bytes.fromhex("".join(line for line in lines if not line.startswith("#")))


def _photo(width: int, height: int) -> bytes:
    im = Image.linear_gradient("L").resize((width * 2, height)).convert("RGB")
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


# ---------------------------------------------------------------- known answer


def test_known_answer_gmrtd_dg2() -> None:
    # Source: gmrtd, document/dg2_test.go TestNewDG2 (tests/vectors/dg2_gmrtd_jpeg.hex): a DG2
    # with one JPEG face; that test asserts the face's image data is 5099 bytes.
    data = _vector("dg2_gmrtd_jpeg.hex")
    dg2 = Dg2.from_bytes(data)
    assert bytes(dg2) == data
    assert len(dg2.faces) == 1
    face = dg2.faces[0]
    assert len(face.image) == 5099
    assert face.image_format == "jpeg"
    # The record's declared size agrees with the JPEG's own frame header, as Pillow reads it.
    im = Image.open(io.BytesIO(face.image))
    im.load()
    assert (face.width, face.height) == im.size
    # This real-world record labels its JPEG as data type 1 (JPEG 2000): tolerated, reported.
    assert face.image_data_type == 1
    assert face.data_type_mismatch
    summary = dg2.describe()
    assert summary["format"] == "jpeg"
    assert summary["image_bytes"] == 5099
    assert "warning" in json.dumps(summary)
    # Re-encoding the decoded content reproduces the independent implementation's bytes.
    assert Dg2.from_records(dg2.records).raw == data


# ---------------------------------------------------------------- round trips

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
points = st.builds(FeaturePoint, u8, u8, u16, u16, u16)
faces = st.builds(
    FaceImage,
    image=st.sampled_from([FAKE_JPEG, FAKE_JP2, FAKE_J2K]).flatmap(
        lambda magic: st.binary(max_size=200).map(lambda tail: magic + tail)
    ),
    width=u16,
    height=u16,
    image_data_type=u8,
    gender=u8,
    eye_colour=u8,
    hair_colour=u8,
    feature_mask=st.integers(0, 0xFFFFFF),
    expression=u16,
    pose_angle=st.tuples(u8, u8, u8),
    pose_angle_uncertainty=st.tuples(u8, u8, u8),
    feature_points=st.lists(points, max_size=4).map(tuple),
    face_image_type=u8,
    colour_space=u8,
    source_type=u8,
    device_type=u16,
    quality=u16,
)
records = st.builds(
    FacialRecord,
    faces=st.lists(faces, min_size=1, max_size=3).map(tuple),
    header=st.builds(
        cbeff.BiometricHeader.build,
        biometric_type=st.none() | st.just(2),
        format_type=st.none() | st.just(8),
    ),
    data_tag=st.sampled_from([cbeff.BDB_TAG, cbeff.BDB_CONSTRUCTED_TAG]),
)


@given(st.lists(records, min_size=1, max_size=3))
def test_round_trip(recs: list[FacialRecord]) -> None:
    dg2 = Dg2.from_records(recs)
    decoded = Dg2.from_bytes(dg2.raw)
    assert decoded == dg2
    assert decoded.records == tuple(recs)
    json.dumps(decoded.describe())


@given(st.lists(faces, min_size=1, max_size=4))
def test_facial_record_round_trip(fs: list[FaceImage]) -> None:
    assert decode_facial_record(encode_facial_record(fs)) == tuple(fs)


@given(
    st.integers(1, 0xFFFF),
    st.integers(1, 0xFFFF),
    st.sampled_from([(FAKE_JPEG, 0, "jpeg"), (FAKE_JP2, 1, "jpeg2000"), (FAKE_J2K, 1, "jpeg2000")]),
    st.sampled_from([0, 1, 2, 0xFF]),
)
def test_build_round_trip(w: int, h: int, kind: tuple[bytes, int, str], gender: int) -> None:
    image, data_type, fmt = kind
    dg2 = Dg2.build(image, w, h, gender=gender)
    face = Dg2.from_bytes(bytes(dg2)).faces[0]
    assert (face.width, face.height, face.image, face.gender) == (w, h, image, gender)
    assert face.image_data_type == data_type
    assert face.image_format == fmt
    assert not face.data_type_mismatch
    assert dg2.raw[:1] == b"\x75"


def test_default_header_is_the_icao_face_header() -> None:
    # 9303-10 §4.7.2.1: format owner 0101 (SC 37), format type 0008 (face image); type 02 face.
    header = Dg2.build(FAKE_JPEG, 1, 1).records[0].header
    assert header.raw == bytes.fromhex("A10F 8002 0101 8101 02 8702 0101 8802 0008")


@pytest.mark.parametrize(("fmt", "quality"), [("jpeg", 80), ("jpeg2000", 40)])
def test_real_images_decode_back_at_the_right_size(fmt: str, quality: int) -> None:
    fitted = fit_face(_photo(200, 260), 120, 160, fmt, 15_000, quality)  # type: ignore[arg-type]
    dg2 = Dg2.from_bytes(bytes(Dg2.build(fitted.data, fitted.width, fitted.height)))
    face = dg2.faces[0]
    assert face.image_format == fmt
    im = Image.open(io.BytesIO(face.image))
    im.load()
    assert im.size == (face.width, face.height) == (120, 160)
    summary = dg2.describe()
    assert (summary["format"], summary["width"], summary["height"]) == (fmt, 120, 160)
    assert summary["image_bytes"] == len(fitted.data)
    assert summary["faces"] == 1


def test_jp2_file_is_recognised() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (10, 12)).save(buf, "JPEG2000")
    face = Dg2.from_bytes(Dg2.build(buf.getvalue(), 10, 12).raw).faces[0]
    assert face.image_format == "jpeg2000"
    assert face.image_data_type == 1


def test_describe_never_contains_image_bytes() -> None:
    marker = b"UNIQUEMARKER" * 10
    dg2 = Dg2.build(FAKE_JPEG + marker, 10, 10)
    text = json.dumps(dg2.describe())
    assert "UNIQUEMARKER" not in text
    assert marker.hex() not in text.lower()
    assert "UNIQUEMARKER" not in repr(dg2)


def test_build_rejects_non_face_images() -> None:
    png = _photo(4, 4)
    with pytest.raises(ImageError, match="JPEG or JPEG 2000"):
        Dg2.build(png, 4, 4)
    with pytest.raises(ValueError, match="width"):
        Dg2.build(FAKE_JPEG, 70_000, 4)
    with pytest.raises(ValueError, match="gender"):
        Dg2.build(FAKE_JPEG, 4, 4, gender=256)


# ---------------------------------------------------------------- malformed input

VALID = Dg2.build(FAKE_JPEG + b"x" * 50, 30, 40, feature_points=[FeaturePoint(1, 0x11, 5, 6)]).raw


def _with_record(record: bytes, data_tag: int = 0x5F2E) -> bytes:
    info = cbeff.BiometricInfo(cbeff.BiometricHeader.build(), record, data_tag)
    return cbeff.encode_data_group(0x75, [info])


RECORD = encode_facial_record([FaceImage(FAKE_JPEG + b"y" * 20, 3, 4)])


def test_valid_fixture_decodes() -> None:
    assert Dg2.from_bytes(VALID).faces[0].feature_points == (FeaturePoint(1, 0x11, 5, 6),)
    assert Dg2.from_bytes(_with_record(RECORD)).faces[0].width == 3


@pytest.mark.parametrize("cut", range(len(VALID)))
def test_every_truncation_raises_encoding_error(cut: int) -> None:
    with pytest.raises(EncodingError):
        Dg2.from_bytes(VALID[:cut])


def _patch(data: bytes, at: int, new: bytes) -> bytes:
    return data[:at] + new + data[at + len(new) :]


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (_patch(RECORD, 0, b"FAX\x00"), "not 'FAC"),
        (_patch(RECORD, 4, b"030\x00"), r"'030'.*2011.*not supported"),
        (_patch(RECORD, 4, b"020\x00"), "'020'.*not supported"),
        (_patch(RECORD, 8, (len(RECORD) + 1).to_bytes(4, "big")), "record length"),
        (_patch(RECORD, 8, (len(RECORD) - 20).to_bytes(4, "big")), "record length"),
        (_patch(RECORD, 12, b"\x00\x00"), "no face"),
        (_patch(RECORD, 12, b"\x00\x02"), "truncated"),
        (_patch(RECORD, 14, (31).to_bytes(4, "big")), "shorter than its headers"),
        (_patch(RECORD, 14, (999).to_bytes(4, "big")), "exceeds"),
        (_patch(RECORD, 18, b"\x00\x05"), "shorter than its headers"),
        (_patch(RECORD, 14 + 32, b"\x89PNG"), "neither JPEG nor JPEG 2000"),
        (RECORD + b"\x00" * 9, "record length"),
        (b"", "truncated"),
    ],
)
def test_malformed_facial_records(record: bytes, message: str) -> None:
    with pytest.raises(EncodingError, match=message):
        Dg2.from_bytes(_with_record(record))


def test_tolerates_small_record_length_discrepancy() -> None:
    # gmrtd observed NZ and UK passports whose record length is 1-8 bytes short of the data.
    padded = _patch(RECORD + b"\x00\x00", 8, len(RECORD).to_bytes(4, "big"))
    assert Dg2.from_bytes(_with_record(padded)).faces[0].width == 3


def test_7f2e_data_block_is_decoded_too() -> None:
    dg2 = Dg2.from_bytes(_with_record(RECORD, data_tag=0x7F2E))
    assert dg2.records[0].data_tag == 0x7F2E
    assert dg2.faces[0].height == 4


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (tlv.encode(0x63, VALID[4:]), "expected tag 75"),
        (VALID + b"\x00", "unexpected bytes"),
        (b"\x75\x00", "DG2: truncated"),
        (b"", "truncated"),
        (tlv.encode(0x75, tlv.encode(0x7F60, b"")), "DG2: content: expected tag 7F61"),
        (b"\x55\x00", "expected tag 75"),
    ],
)
def test_wrong_tags_and_lengths(data: bytes, message: str) -> None:
    with pytest.raises(EncodingError, match=message):
        Dg2.from_bytes(data)


@given(st.binary(max_size=300))
def test_random_bytes_raise_encoding_error_only(data: bytes) -> None:
    try:
        Dg2.from_bytes(data)
    except EncodingError as exc:
        assert str(exc)  # a message a person can act on


@given(st.binary(max_size=120))
def test_random_facial_records_raise_encoding_error_only(record: bytes) -> None:
    try:
        Dg2.from_bytes(_with_record(b"FAC\x00010\x00" + record))
    except EncodingError as exc:
        assert str(exc)  # a message a person can act on


@given(st.data())
def test_byte_mutations_decode_or_raise_encoding_error(data: st.DataObject) -> None:
    at = data.draw(st.integers(0, len(VALID) - 1))
    value = data.draw(st.integers(0, 255))
    mutated = VALID[:at] + bytes([value]) + VALID[at + 1 :]
    try:
        Dg2.from_bytes(mutated)
    except EncodingError as exc:
        assert str(exc)  # a message a person can act on
