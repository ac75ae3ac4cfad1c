"""EF.DG1 (ICAO 9303-10 §4.7.1): template 61 holding the MRZ characters in 5F1F."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cardkit.encoding.mrz import Td1, Td3, build_vn_td1
from cardkit.errors import EncodingError
from cardkit.lds.dg1 import Dg1

VECTORS = json.loads(
    (Path(__file__).parents[2] / "vectors" / "mrz.json").read_text(encoding="utf-8")
)
TD1_CHARS = "".join(VECTORS["td1_specimen"]["lines"]).encode("ascii")
TD3_CHARS = "".join(VECTORS["td3_specimen"]["lines"]).encode("ascii")
# 9303-10 §4.7.1: 61 L { 5F1F L <MRZ> }; 90 = 0x5A (+3 header bytes = 0x5D), 88 = 0x58 (0x5B).
TD1_DG1 = bytes.fromhex("615D5F1F5A") + TD1_CHARS
TD3_DG1 = bytes.fromhex("615B5F1F58") + TD3_CHARS


@pytest.mark.parametrize(("data", "kind"), [(TD1_DG1, Td1), (TD3_DG1, Td3)])
def test_specimens(data: bytes, kind: type) -> None:
    # Sources: ICAO 9303-5 Appendix B / 9303-4 Appendix B specimens in the 9303-10 §4.7.1 layout.
    dg1 = Dg1.from_bytes(data)
    assert isinstance(dg1.mrz, kind)
    assert bytes(dg1) == data and dg1.raw == data
    assert Dg1.build(dg1.mrz) == dg1
    described = dg1.describe()
    assert described["file"] == "DG1"
    assert described["document_type"] == kind.__name__.upper()
    assert described["date_of_birth"] == "740812"
    assert "".join(described["mrz"]) == data[5:].decode()  # type: ignore[arg-type]
    json.dumps(described)


def test_vietnamese_describe() -> None:
    from datetime import date

    mrz = build_vn_td1("001093047064", "Nguyễn Văn An", date(1993, 1, 5), "M", date(2033, 1, 5))
    described = Dg1.build(mrz).describe()
    assert described["vn_id_number"] == "001093047064"
    assert described["document_number"] == "093047064"


def test_raw_is_kept_as_read() -> None:
    # A long-form length is legal BER; the file must keep its bytes for the EF.SOD hash.
    data = bytes.fromhex("61815D5F1F5A") + TD1_CHARS
    dg1 = Dg1.from_bytes(data)
    assert dg1.raw == data
    assert Dg1.build(dg1.mrz).raw == TD1_DG1


@pytest.mark.parametrize(
    "data",
    [
        b"",
        bytes.fromhex("625D5F1F5A") + TD1_CHARS,  # wrong outer tag
        bytes.fromhex("615D5F1E5A") + TD1_CHARS,  # wrong inner tag
        bytes.fromhex("615C5F1F59") + TD1_CHARS[:-1],  # 89 characters
        bytes.fromhex("615D5F1F5A") + TD1_CHARS[:-1] + b"\xff",  # not ASCII
        bytes.fromhex("615D5F1F5A") + TD1_CHARS[:-1] + b"7",  # name field: digit
        bytes.fromhex("615D5F1F5A") + TD1_CHARS[:36] + b"3" + TD1_CHARS[37:],  # check digit
        bytes.fromhex("615D5F1F5A") + TD1_CHARS[:30] + b"\n" + TD1_CHARS[31:],  # whitespace
        bytes.fromhex("61605F1F5A") + TD1_CHARS + bytes.fromhex("5301"),  # extra element
        TD1_DG1 + b"\x00",  # trailing byte
    ],
)
def test_malformed(data: bytes) -> None:
    with pytest.raises(EncodingError):
        Dg1.from_bytes(data)


@pytest.mark.parametrize("cut", range(len(TD1_DG1)))
def test_every_truncation(cut: int) -> None:
    with pytest.raises(EncodingError):
        Dg1.from_bytes(TD1_DG1[:cut])


@given(st.binary(max_size=120))
def test_random_bytes_raise_only_encoding_error(data: bytes) -> None:
    try:
        dg1 = Dg1.from_bytes(data)
    except EncodingError:
        return
    assert dg1.raw == data


@given(st.binary(min_size=88, max_size=90), st.sampled_from([b"\x61", b"\x62"]))
def test_random_content_raises_only_encoding_error(content: bytes, tag: bytes) -> None:
    inner = b"\x5f\x1f" + bytes([len(content)]) + content
    try:
        dg1 = Dg1.from_bytes(tag + bytes([len(inner)]) + inner)
    except EncodingError:
        return
    assert Dg1.build(dg1.mrz).raw == dg1.raw


@given(st.sampled_from([TD1_DG1, TD3_DG1]), st.data())
def test_single_byte_corruption(data: bytes, draw: st.DataObject) -> None:
    index = draw.draw(st.integers(0, len(data) - 1))
    value = draw.draw(st.integers(0, 255))
    corrupted = data[:index] + bytes([value]) + data[index + 1 :]
    try:
        dg1 = Dg1.from_bytes(corrupted)
    except EncodingError:
        return
    assert dg1.raw == corrupted


@given(
    st.text(alphabet="0123456789", min_size=12, max_size=12),
    st.lists(st.text(alphabet="abcdeđêôơưy", min_size=1, max_size=7), min_size=1, max_size=4),
    st.dates(),
    st.sampled_from("MF"),
    st.one_of(st.none(), st.dates()),
)
def test_round_trip(
    id_number: str, words: list[str], born: object, sex: str, expiry: object
) -> None:
    from datetime import date

    assert isinstance(born, date)
    assert expiry is None or isinstance(expiry, date)
    dg1 = Dg1.build(build_vn_td1(id_number, " ".join(words), born, sex, expiry))
    again = Dg1.from_bytes(bytes(dg1))
    assert again == dg1 and again.mrz.lines == dg1.mrz.lines
