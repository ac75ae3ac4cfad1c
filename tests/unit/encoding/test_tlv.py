"""BER-TLV: known encodings, round trips, and malformed input raising EncodingError only."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cardkit.encoding import tlv
from cardkit.errors import EncodingError

# Tags as ICAO 9303-10 §4.7 prints them: one byte (61 DG1), two bytes (5F1F MRZ, 7F61 biometric
# group template), and a three-byte form allowed by ISO/IEC 8825-1 §8.1.2.4.
TAGS = st.sampled_from(
    [0x01, 0x30, 0x5C, 0x60, 0x61, 0x75, 0x5F1F, 0x5F2E, 0x7F61, 0x7F2E, 0xBF8101]
)


def test_length_forms_iso_8825_1() -> None:
    # ISO/IEC 8825-1 §8.1.3: short form below 128, long form 81 xx / 82 xx xx otherwise.
    assert tlv.encode_length(0) == b"\x00"
    assert tlv.encode_length(127) == b"\x7f"
    assert tlv.encode_length(128) == b"\x81\x80"
    assert tlv.encode_length(255) == b"\x81\xff"
    assert tlv.encode_length(256) == b"\x82\x01\x00"
    assert tlv.encode_length(65536) == b"\x83\x01\x00\x00"


def test_dg1_header_from_9303_10() -> None:
    # ICAO 9303-10 §4.7.1: DG1 = 61 L { 5F1F L <MRZ> }; for the 90 characters of a TD1 the
    # lengths are 5D and 5A (5B and 58 for the 88 of a TD3).
    mrz = b"<" * 90
    encoded = tlv.encode(0x61, tlv.encode(0x5F1F, mrz))
    assert encoded[:5] == bytes.fromhex("615D5F1F5A")
    outer = tlv.decode_single(encoded, 0x61)
    (inner,) = outer.children()
    assert inner.tag == 0x5F1F and inner.value == mrz


def test_constructed_flag() -> None:
    assert tlv.is_constructed(0x7F61) and tlv.is_constructed(0x30) and tlv.is_constructed(0x61)
    assert not tlv.is_constructed(0x5F1F) and not tlv.is_constructed(0x02)


def test_bad_tag_forms_rejected_on_encode() -> None:
    with pytest.raises(ValueError):
        tlv.tag_bytes(0x5F)  # announces a second byte that is missing
    with pytest.raises(ValueError):
        tlv.tag_bytes(0x6101)  # two bytes but the first does not announce more


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "truncated"),
        (b"\x61", "length expected"),
        (b"\x61\x05\x01", "declares 5 bytes"),
        (b"\x61\x80", "indefinite"),
        (b"\x61\x85\x00\x00\x00\x00\x01", "too long"),
        (b"\x5f", "multi-byte tag"),
        (b"\x00\x00", "invalid tag"),
    ],
)
def test_malformed_examples(data: bytes, fragment: str) -> None:
    with pytest.raises(EncodingError, match=fragment):
        tlv.decode_single(data)


def test_trailing_bytes_and_wrong_tag() -> None:
    with pytest.raises(EncodingError, match="unexpected bytes"):
        tlv.decode_single(b"\x61\x00\x00", 0x61)
    with pytest.raises(EncodingError, match="expected tag 61"):
        tlv.decode_single(b"\x75\x00", 0x61, what="DG1")


@given(TAGS, st.binary(max_size=600))
def test_round_trip(tag: int, value: bytes) -> None:
    encoded = tlv.encode(tag, value)
    decoded = tlv.decode_single(encoded, tag)
    assert decoded.value == value
    assert decoded.raw == encoded == bytes(decoded)
    assert tlv.Tlv.build(tag, value) == decoded


@given(st.lists(st.tuples(TAGS, st.binary(max_size=40)), max_size=6))
def test_sequence_round_trip(items: list[tuple[int, bytes]]) -> None:
    data = b"".join(tlv.encode(t, v) for t, v in items)
    assert [(x.tag, x.value) for x in tlv.decode_all(data)] == items


@given(st.binary(max_size=64))
def test_random_bytes_raise_only_encoding_error(data: bytes) -> None:
    try:
        for item in tlv.decode_all(data):
            if item.constructed:
                item.children()
    except EncodingError:
        pass


@given(TAGS, st.binary(min_size=1, max_size=300), st.data())
def test_truncation_is_detected(tag: int, value: bytes, data: st.DataObject) -> None:
    encoded = tlv.encode(tag, value)
    cut = data.draw(st.integers(min_value=0, max_value=len(encoded) - 1))
    with pytest.raises(EncodingError):
        tlv.decode_single(encoded[:cut])
