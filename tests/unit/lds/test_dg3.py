"""Tests for DG3 (ICAO 9303-10 §4.7.3, ISO/IEC 19794-4:2005 finger image records)."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from cardkit.encoding import tlv
from cardkit.errors import EncodingError
from cardkit.lds import cbeff, dg3
from cardkit.lds.dg3 import Dg3, FingerImage, FingerRecord, biometric_subtype, decode_finger_record
from cardkit.lds.image import fit_finger

FAKE_WSQ = bytes.fromhex("FFA0FFA8") + b"wsq body"


def _print(width: int, height: int) -> bytes:
    im = Image.radial_gradient("L").resize((width, height))
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


# ---------------------------------------------------------------- known answers


def test_finger_positions_and_subtypes() -> None:
    # ISO/IEC 19794-4:2005 Table 5 finger codes and their CBEFF subtypes as tabulated in JMRTD's
    # FingerImageInfo.toBiometricSubtype (FRH → BHT): right index 2 → 9, left index 7 → 10,
    # right thumb 1 → 5, left little 10 → 22.
    assert dg3.POSITION_RIGHT_INDEX == 2
    assert dg3.POSITION_LEFT_INDEX == 7
    table = {1: 5, 2: 9, 3: 13, 4: 17, 5: 21, 6: 6, 7: 10, 8: 14, 9: 18, 10: 22, 0: 0, 13: 0}
    assert {p: biometric_subtype(p) for p in table} == table


def test_general_header_layout() -> None:
    # ISO/IEC 19794-4:2005 §7.1 Table 2: the general record header is 32 bytes and the finger
    # image header 14 (JMRTD FingerInfo: 4+4+6+2+2+1+1+2+2+2+2+1+1+2; FingerImageInfo: +14).
    finger = FingerImage(dg3.POSITION_LEFT_INDEX, FAKE_WSQ, 300, 400, quality=60)
    record = FingerRecord((finger,), dg3.COMPRESSION_WSQ)
    encoded = record.encode()
    assert encoded[:8] == b"FIR\x00010\x00"
    assert int.from_bytes(encoded[8:14], "big") == len(encoded) == 32 + 14 + len(FAKE_WSQ)
    assert encoded[18] == 1  # number of fingers
    assert encoded[29] == dg3.COMPRESSION_WSQ == 2
    assert encoded[32 + 4] == 7  # finger position
    assert encoded[32 + 9 : 32 + 13] == (300).to_bytes(2, "big") + (400).to_bytes(2, "big")
    assert encoded[32 + 14 :] == FAKE_WSQ


# ---------------------------------------------------------------- round trips

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
fingers = st.builds(
    FingerImage,
    position=u8,
    image=st.binary(max_size=200),
    width=u16,
    height=u16,
    view_count=u8,
    view_number=u8,
    quality=u8,
    impression_type=u8,
    reserved=u8,
)
records = st.builds(
    FingerRecord,
    fingers=st.lists(fingers, min_size=1, max_size=3).map(tuple),
    compression=st.sampled_from([1, 6, 7, 200]),  # codes without an image-format check
    capture_device_id=u16,
    acquisition_level=u16,
    scale_units=u8,
    scan_resolution=st.tuples(u16, u16),
    image_resolution=st.tuples(u16, u16),
    pixel_depth=u8,
    reserved=u16,
    data_tag=st.sampled_from([cbeff.BDB_TAG, cbeff.BDB_CONSTRUCTED_TAG]),
)


@given(st.lists(records, min_size=1, max_size=3))
def test_round_trip(recs: list[FingerRecord]) -> None:
    built = Dg3.from_records(recs)
    decoded = Dg3.from_bytes(built.raw)
    assert decoded == built
    assert decoded.records == tuple(recs)
    json.dumps(decoded.describe())


@given(
    st.lists(
        st.tuples(st.integers(0, 10), st.integers(1, 2000), st.integers(1, 2000)),
        min_size=1,
        max_size=10,
    ),
    st.integers(100, 1000),
)
def test_build_round_trip(specs: list[tuple[int, int, int]], ppi: int) -> None:
    fs = [FingerImage(p, FAKE_WSQ + bytes([p]), w, h) for p, w, h in specs]
    dg = Dg3.from_bytes(bytes(Dg3.build(fs, compression=dg3.COMPRESSION_WSQ, resolution_ppi=ppi)))
    assert dg.fingers == tuple(fs)
    assert len(dg.records) == len(fs)  # one template per finger
    for record, (position, _, _) in zip(dg.records, specs, strict=True):
        assert record.compression == dg3.COMPRESSION_WSQ
        assert record.image_resolution == (ppi, ppi)
        assert record.cbeff_header.biometric_type == cbeff.BIOMETRIC_TYPE_FINGER
        assert record.cbeff_header.biometric_subtype == biometric_subtype(position)
        assert record.cbeff_header.format_type == cbeff.FORMAT_TYPE_FINGER_IMAGE


@pytest.mark.parametrize(
    ("fmt", "compression", "quality"),
    [("png", dg3.COMPRESSION_PNG, 0), ("jpeg", dg3.COMPRESSION_JPEG, 90),
     ("jpeg2000", dg3.COMPRESSION_JPEG2000, 45)],
)  # fmt: skip
def test_real_finger_images(fmt: str, compression: int, quality: int) -> None:
    fitted = fit_finger(_print(400, 500), 256, 360, fmt, 100_000, quality)  # type: ignore[arg-type]
    right = FingerImage(dg3.POSITION_RIGHT_INDEX, fitted.data, fitted.width, fitted.height)
    left = FingerImage(dg3.POSITION_LEFT_INDEX, fitted.data, fitted.width, fitted.height)
    dg = Dg3.from_bytes(Dg3.build([right, left], compression=compression).raw)
    for finger in dg.fingers:
        im = Image.open(io.BytesIO(finger.image))
        im.load()
        assert im.size == (finger.width, finger.height) == (256, 360)
        assert im.mode == "L"
        assert finger.image_format == fmt
    summary = dg.describe()
    assert summary["positions"] == ["right index", "left index"]
    assert "image_bytes" in json.dumps(summary)


def test_uncompressed_pixels() -> None:
    raw = bytes(range(256)) * 3
    finger = FingerImage(dg3.POSITION_RIGHT_THUMB, raw, 32, 24)
    dg = Dg3.from_bytes(Dg3.build([finger], compression=dg3.COMPRESSION_UNCOMPRESSED).raw)
    assert dg.fingers[0].image == raw
    assert dg.fingers[0].image_format is None


def test_build_checks_images_against_compression() -> None:
    png = _print(10, 10)
    with pytest.raises(ValueError, match="not jpeg"):
        Dg3.build([FingerImage(2, png, 10, 10)], compression=dg3.COMPRESSION_JPEG)
    with pytest.raises(ValueError, match="raw pixels"):
        Dg3.build([FingerImage(2, b"\x00" * 99, 10, 10)], compression=0)
    with pytest.raises(ValueError, match="position"):
        FingerImage(256, b"", 1, 1)
    with pytest.raises(ValueError, match="1 to 255 fingers"):
        FingerRecord((), 2)


def test_describe_never_contains_image_bytes() -> None:
    marker = b"UNIQUEMARKER" * 5
    dg = Dg3.build([FingerImage(2, FAKE_WSQ + marker, 5, 5)], compression=dg3.COMPRESSION_WSQ)
    text = json.dumps(dg.describe())
    assert "UNIQUEMARKER" not in text and marker.hex() not in text.lower()
    assert "UNIQUEMARKER" not in repr(dg)


# ---------------------------------------------------------------- malformed input

VALID = Dg3.build(
    [FingerImage(2, FAKE_WSQ, 8, 9), FingerImage(7, FAKE_WSQ + b"!", 8, 9)],
    compression=dg3.COMPRESSION_WSQ,
).raw
RECORD = FingerRecord((FingerImage(2, FAKE_WSQ, 8, 9),), dg3.COMPRESSION_WSQ).encode()


def _with_record(record: bytes) -> bytes:
    return cbeff.encode_data_group(0x63, [cbeff.BiometricInfo(cbeff.BiometricHeader(), record)])


def _patch(data: bytes, at: int, new: bytes) -> bytes:
    return data[:at] + new + data[at + len(new) :]


@pytest.mark.parametrize("cut", range(len(VALID)))
def test_every_truncation_raises_encoding_error(cut: int) -> None:
    with pytest.raises(EncodingError):
        Dg3.from_bytes(VALID[:cut])


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (_patch(RECORD, 0, b"FAC\x00"), "not 'FIR"),
        (_patch(RECORD, 4, b"020\x00"), "'020'.*not supported"),
        (_patch(RECORD, 8, (len(RECORD) + 1).to_bytes(6, "big")), "record length"),
        (_patch(RECORD, 18, b"\x00"), "no finger"),
        (_patch(RECORD, 18, b"\x02"), "truncated"),
        (_patch(RECORD, 32, (13).to_bytes(4, "big")), "block length"),
        (_patch(RECORD, 32, (999).to_bytes(4, "big")), "block length"),
        (_patch(RECORD + b"\x00", 8, (len(RECORD) + 1).to_bytes(6, "big")), "unexpected bytes"),
        (b"", "truncated"),
    ],
)
def test_malformed_finger_records(record: bytes, message: str) -> None:
    with pytest.raises(EncodingError, match=message):
        Dg3.from_bytes(_with_record(record))
    with pytest.raises(EncodingError, match=message):
        decode_finger_record(record)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (tlv.encode(0x75, VALID[2:]), "expected tag 63"),
        (VALID + b"\x00", "unexpected bytes"),
        (b"\x63\x00", "DG3: truncated"),
        (tlv.encode(0x63, tlv.encode(0x7F60, b"")), "expected tag 7F61"),
    ],
)
def test_wrong_tags_and_lengths(data: bytes, message: str) -> None:
    with pytest.raises(EncodingError, match=message):
        Dg3.from_bytes(data)


@given(st.binary(max_size=300))
def test_random_bytes_raise_encoding_error_only(data: bytes) -> None:
    try:
        Dg3.from_bytes(data)
    except EncodingError as exc:
        assert str(exc)  # a message a person can act on


@given(st.binary(max_size=120))
def test_random_finger_records_raise_encoding_error_only(record: bytes) -> None:
    try:
        Dg3.from_bytes(_with_record(b"FIR\x00010\x00" + record))
    except EncodingError as exc:
        assert str(exc)  # a message a person can act on


@given(st.data())
def test_byte_mutations_decode_or_raise_encoding_error(data: st.DataObject) -> None:
    at = data.draw(st.integers(0, len(VALID) - 1))
    value = data.draw(st.integers(0, 255))
    try:
        Dg3.from_bytes(VALID[:at] + bytes([value]) + VALID[at + 1 :])
    except EncodingError as exc:
        assert str(exc)  # a message a person can act on
