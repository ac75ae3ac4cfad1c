"""DG11 (9303-10 §4.7.11): Appendix A.5 example, round trips, tag-list checks, malformed input."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cardkit.encoding import tlv
from cardkit.errors import EncodingError
from cardkit.lds.dg11 import Dg11

VECTOR = json.loads(
    (Path(__file__).parents[2] / "vectors" / "dg11_icao9303_10_appendix_a5.json").read_text()
)
A5 = bytes.fromhex(VECTOR["hex"])
TEXT_NAMES = ("full_name", "place_of_birth", "address", "telephone", "profession")


def test_icao_appendix_a5_decodes() -> None:
    # Source: ICAO 9303-10 Appendix A.5 (lengths corrected, see the vector file).
    dg = Dg11.from_bytes(A5)
    for name in TEXT_NAMES:
        assert getattr(dg, name) == VECTOR[name]
    assert dg.other_names == ()
    assert dg.title is None
    assert bytes(dg) == A5


def test_icao_appendix_a5_builds_the_same_bytes() -> None:
    built = Dg11.build(**{name: VECTOR[name] for name in TEXT_NAMES})
    assert bytes(built) == A5


def test_bare_other_name_as_on_a_real_passport() -> None:
    # gmrtd document/dg11_test.go, TestNewDG11China: 5F0F directly in 6B, without the A0 group.
    data = bytes.fromhex("6B1B5C045F0E5F0F5F0E06E8B5B5E5BDAC5F0F095A48414F3C3C42494E")
    dg = Dg11.from_bytes(data)
    assert dg.full_name == "赵彬"
    assert dg.other_names == ("ZHAO<<BIN",)


# Vietnamese letters, precomposed and as base letter + combining tone mark (U+0300 grave,
# U+0301 acute, U+0303 tilde, U+0309 hook above, U+0323 dot below).
vietnamese = st.text(
    alphabet="aăâbcdđeêghiklmnoôơpqrstuưvxyAĂÂĐÊÔƠƯễợ <'-,.0123456789"
    "\u0300\u0301\u0303\u0309\u0323",
    max_size=30,
)
opt_text = st.none() | vietnamese
digits8 = st.text(alphabet="0123456789", min_size=8, max_size=8)


@st.composite
def dg11_content(draw: st.DrawFn) -> dict[str, object]:
    return {
        "full_name": draw(opt_text),
        "other_names": draw(st.lists(vietnamese, max_size=3)),
        "personal_number": draw(opt_text),
        "full_date_of_birth": draw(st.none() | digits8),
        "place_of_birth": draw(opt_text),
        "address": draw(opt_text),
        "telephone": draw(opt_text),
        "profession": draw(opt_text),
        "title": draw(opt_text),
        "personal_summary": draw(opt_text),
        "proof_of_citizenship": draw(st.none() | st.binary(max_size=40)),
        "other_td_numbers": draw(opt_text),
        "custody_information": draw(opt_text),
    }


@given(dg11_content())
def test_round_trip(content: dict[str, object]) -> None:
    built = Dg11.build(**content)  # type: ignore[arg-type]
    decoded = Dg11.from_bytes(bytes(built))
    assert decoded == built
    assert decoded.other_names == tuple(content["other_names"])  # type: ignore[arg-type]
    assert decoded.full_name == content["full_name"]
    assert bytes(decoded) == bytes(built)
    assert isinstance(decoded.describe(), dict)


def test_text_is_utf8() -> None:
    name = unicodedata.normalize("NFC", "NGUYỄN<<VĂN<A")
    built = Dg11.build(full_name=name)
    assert name.encode("utf-8") in bytes(built)


def test_tag_list_must_match_elements() -> None:
    body = tlv.encode(0x5F0E, b"SMITH")
    missing = tlv.encode(0x6B, tlv.encode(0x5C, b"") + body)
    extra = tlv.encode(0x6B, tlv.encode(0x5C, bytes.fromhex("5F0E5F10")) + body)
    for data in (missing, extra):
        with pytest.raises(EncodingError, match="tag list"):
            Dg11.from_bytes(data)


@pytest.mark.parametrize(
    "hex_",
    [
        "6B0E5C025F0EA0080201025F0F0141",  # count 2, one name (wrong count)
        "6B0D5C025F0FA0070201005F0F0141",  # count 0
        "6B0B5C025F0E5F0E0141 5F0E0142".replace(" ", ""),  # element twice
        "6B085C025F2B5F2B0131",  # date of birth not 8 digits
        "6B075C025F0E5F0E01FF",  # not UTF-8
        "6B075C025F995F990141",  # unknown element
        "6B055F0E0141",  # no tag list
        "6B045C025F",  # truncated tag list entry
    ],
)
def test_malformed_dg11_is_rejected(hex_: str) -> None:
    with pytest.raises(EncodingError):
        Dg11.from_bytes(bytes.fromhex(hex_))


@given(st.binary(max_size=80))
def test_random_bytes_only_raise_encoding_error(data: bytes) -> None:
    try:
        dg = Dg11.from_bytes(data)
    except EncodingError:
        return
    assert bytes(dg) == data


@given(st.binary(max_size=60))
def test_random_content_under_the_dg11_tag(body: bytes) -> None:
    data = tlv.encode(0x6B, body)
    try:
        dg = Dg11.from_bytes(data)
    except EncodingError:
        return
    assert bytes(dg) == data


@given(dg11_content(), st.data())
def test_truncations_are_rejected(content: dict[str, object], data: st.DataObject) -> None:
    raw = bytes(Dg11.build(**content))  # type: ignore[arg-type]
    cut = data.draw(st.integers(0, len(raw) - 1))
    with pytest.raises(EncodingError):
        Dg11.from_bytes(raw[:cut])


@given(dg11_content(), st.sampled_from([-1, 1]))
def test_wrong_outer_length_is_rejected(content: dict[str, object], delta: int) -> None:
    value = tlv.decode_single(bytes(Dg11.build(**content))).value  # type: ignore[arg-type]
    with pytest.raises(EncodingError):
        Dg11.from_bytes(b"\x6b" + tlv.encode_length(len(value) + delta) + value)


@given(st.integers(0x01, 0xFE).filter(lambda t: t != 0x6B))
def test_wrong_tag_is_rejected(tag: int) -> None:
    with pytest.raises(EncodingError):
        Dg11.from_bytes(bytes([tag]) + A5[1:])


def test_build_rejects_a_bad_date() -> None:
    with pytest.raises(EncodingError):
        Dg11.build(full_date_of_birth="1970-01-01")
