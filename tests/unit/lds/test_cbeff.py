"""Tests for the CBEFF Biometric Information Group Template (9303-10 §4.7.2, ISO/IEC 7816-11)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cardkit.encoding import tlv
from cardkit.errors import EncodingError
from cardkit.lds import cbeff

VECTORS = Path(__file__).resolve().parents[2] / "vectors"


def _vector(name: str) -> bytes:
    lines = (VECTORS / name).read_text().splitlines()
    return bytes.fromhex("".join(line for line in lines if not line.startswith("#")))


opt_bytes = st.none() | st.binary(min_size=0, max_size=10)
headers = st.builds(
    cbeff.BiometricHeader.build,
    biometric_type=st.none() | st.integers(0, 0xFFFFFF),
    biometric_subtype=st.none() | st.integers(0, 0xFF),
    format_owner=st.none() | st.integers(0, 0xFFFF),
    format_type=st.none() | st.integers(0, 0xFFFF),
    version=opt_bytes,
    creation_date=opt_bytes,
    validity_period=opt_bytes,
    creator=opt_bytes,
)


@given(headers)
def test_header_round_trip(header: cbeff.BiometricHeader) -> None:
    decoded = cbeff.BiometricHeader.from_bytes(header.raw)
    assert decoded == header
    assert bytes(decoded) == header.raw


@given(
    st.lists(
        st.tuples(headers, st.binary(max_size=300), st.sampled_from([0x5F2E, 0x7F2E])),
        min_size=1,
        max_size=5,
    )
)
def test_group_round_trip(items: list[tuple[cbeff.BiometricHeader, bytes, int]]) -> None:
    infos = [cbeff.BiometricInfo(h, d, t) for h, d, t in items]
    encoded = cbeff.encode_data_group(0x75, infos)
    decoded = cbeff.decode_data_group(encoded, 0x75, "DG2")
    assert list(decoded) == infos
    assert [(i.header, i.data, i.data_tag) for i in decoded] == items


def test_header_known_answer_from_published_dg2() -> None:
    # Source: gmrtd's published DG2 test vector (tests/vectors/dg2_gmrtd_jpeg.hex), whose BHT is
    # A1 0C { 80 02 0101, 87 02 0101, 88 02 0008 }: patron header version 1.1, format owner
    # ISO/IEC JTC 1/SC 37 (0101), format type face image (0008), per 9303-10 §4.7.2.1.
    infos = cbeff.decode_data_group(_vector("dg2_gmrtd_jpeg.hex"), 0x75, "DG2")
    assert len(infos) == 1
    header = infos[0].header
    assert header.raw == bytes.fromhex("A10C 8002 0101 8702 0101 8802 0008")
    assert header.version == b"\x01\x01"
    assert header.format_owner == cbeff.FORMAT_OWNER_SC37 == 0x0101
    assert header.format_type == cbeff.FORMAT_TYPE_FACE_IMAGE == 0x0008
    assert header.biometric_type is None
    assert infos[0].data_tag == cbeff.BDB_TAG
    assert infos[0].data[:4] == b"FAC\x00"
    # Built from the decoded fields, the header encodes to the very same bytes.
    rebuilt = cbeff.BiometricHeader.build(
        biometric_type=None, format_owner=0x0101, format_type=0x0008
    )
    assert rebuilt.raw == header.raw


def _bit(header: bytes, block: bytes) -> bytes:
    return tlv.encode(0x7F60, header + block)


HEADER = cbeff.BiometricHeader.build(biometric_type=2, format_type=8).raw
BLOCK = tlv.encode(0x5F2E, b"FAC\x00")


def _group(*parts: bytes, count: int | None = None) -> tlv.Tlv:
    n = len(parts) if count is None else count
    return tlv.Tlv.build(0x7F61, tlv.encode(0x02, bytes([n])) + b"".join(parts))


def test_tolerates_a2_header_unknown_elements_7f2e_and_trailing_objects() -> None:
    header = tlv.encode(0xA2, tlv.encode(0x81, b"\x02") + tlv.encode(0x8A, b"\x99"))
    group = _group(
        _bit(header, tlv.encode(0x7F2E, tlv.encode(0x80, b"x"))),
        tlv.encode(0x53, b"random"),
        count=1,
    )
    (info,) = cbeff.decode_group(group)
    assert info.header.biometric_type == 2
    assert info.header.other == ((0x8A, b"\x99"),)
    assert info.header.raw == header
    assert info.data_tag == 0x7F2E


@pytest.mark.parametrize(
    ("group", "message"),
    [
        (_group(_bit(HEADER, BLOCK), count=2), "announces 2"),
        (_group(_bit(HEADER, BLOCK), count=0), "no templates"),
        (tlv.Tlv.build(0x7F61, _bit(HEADER, BLOCK)), "must come first"),
        (tlv.Tlv.build(0x7F61, tlv.encode(2, b"\x00\x01") + _bit(HEADER, BLOCK)), "one byte"),
        (_group(_bit(HEADER, tlv.encode(0x5F2F, b""))), "5F2E or 7F2E"),
        (_group(_bit(HEADER, BLOCK + BLOCK)), "found 3 objects"),
        (_group(_bit(tlv.encode(0xB1, b""), BLOCK)), "expected tag A1"),
        (_group(_bit(tlv.encode(0x7D, b""), BLOCK)), "statically protected"),
        (_group(tlv.encode(0x7D, b"")), "statically protected"),
        (
            _group(_bit(tlv.encode(0xA1, tlv.encode(0x81, b"\x02") * 2), BLOCK)),
            "appears twice",
        ),
        (_group(_bit(tlv.encode(0xA1, tlv.encode(0x87, b"\x01\x01\x01")), BLOCK)), "3 bytes"),
        (_group(_bit(tlv.encode(0xA1, tlv.encode(0xA0, b"")), BLOCK)), "must be primitive"),
        (tlv.Tlv.build(0x7F62, b""), "expected tag 7F61"),
    ],
)
def test_structural_errors(group: tlv.Tlv, message: str) -> None:
    with pytest.raises(EncodingError, match=message):
        cbeff.decode_group(group)


def test_data_group_wrappers() -> None:
    good = cbeff.encode_data_group(0x75, [cbeff.BiometricInfo(cbeff.BiometricHeader(), b"x")])
    with pytest.raises(EncodingError, match="expected tag 63"):
        cbeff.decode_data_group(good, 0x63, "DG3")
    with pytest.raises(EncodingError, match="unexpected bytes"):
        cbeff.decode_data_group(good + b"\x00", 0x75, "DG2")
    with pytest.raises(EncodingError, match="expected tag 7F61"):
        cbeff.decode_data_group(tlv.encode(0x75, tlv.encode(0x7F60, b"")), 0x75, "DG2")


@given(st.binary(max_size=200))
def test_random_bytes_raise_encoding_error_only(data: bytes) -> None:
    try:
        cbeff.decode_data_group(data, 0x75, "DG2")
    except EncodingError as exc:
        assert str(exc)  # a message a person can act on


@given(st.data())
def test_truncations_raise_encoding_error(data: st.DataObject) -> None:
    encoded = cbeff.encode_data_group(
        0x75, [cbeff.BiometricInfo(cbeff.BiometricHeader.build(biometric_type=2), b"abc" * 20)]
    )
    cut = data.draw(st.integers(0, len(encoded) - 1))
    with pytest.raises(EncodingError):
        cbeff.decode_data_group(encoded[:cut], 0x75, "DG2")


def test_value_validation() -> None:
    with pytest.raises(ValueError, match="biometric subtype"):
        cbeff.BiometricHeader(biometric_subtype=256)
    with pytest.raises(ValueError, match="own field"):
        cbeff.BiometricHeader(other=((0x81, b"\x02"),))
    with pytest.raises(ValueError, match="data_tag"):
        cbeff.BiometricInfo(cbeff.BiometricHeader(), b"", data_tag=0x5F2F)
    with pytest.raises(ValueError, match="1 to 127"):
        cbeff.encode_group([])


def test_record_reader_reports_field_and_offset() -> None:
    reader = cbeff.RecordReader(b"\x00\x01\x02", "record", base=10)
    assert reader.u16("first") == 1
    with pytest.raises(EncodingError, match=r"truncated in second.*at offset 12"):
        reader.u16("second")
