"""DG12 (9303-10 §4.7.12): the 9303 Supplement sample, round trips, malformed input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cardkit.encoding import tlv
from cardkit.errors import EncodingError
from cardkit.lds.dg12 import Dg12

VECTOR = json.loads(
    (Path(__file__).parents[2] / "vectors" / "dg12_icao9303_supplement_sample.json").read_text()
)
SAMPLE = bytes.fromhex(VECTOR["hex"])


def test_supplement_sample_decodes() -> None:
    # Source: ICAO Supplement to Doc 9303 DG12 sample (see the vector file).
    dg = Dg12.from_bytes(SAMPLE)
    assert dg.issuing_authority == VECTOR["issuing_authority"]
    assert dg.date_of_issue == VECTOR["date_of_issue"]
    assert list(dg.other_persons) == VECTOR["other_persons"]
    assert bytes(dg) == SAMPLE


def test_supplement_sample_builds_the_same_bytes() -> None:
    built = Dg12.build(
        issuing_authority=VECTOR["issuing_authority"],
        date_of_issue=VECTOR["date_of_issue"],
        other_persons=VECTOR["other_persons"],
    )
    assert bytes(built) == SAMPLE


def test_real_passport_bcd_and_ascii_dates() -> None:
    # gmrtd document/dg12_test.go: NZ sample (ASCII 5F55) and a 4-byte BCD 5F26.
    nz = Dg12.from_bytes(
        bytes.fromhex("6C205C045F555F565F550E32303136313131353031333631325F56064E2D34393632")
    )
    assert nz.personalization_time == "20161115013612"
    assert nz.personalization_serial == "N-4962"
    bcd = Dg12.from_bytes(bytes.fromhex("6C0B5C025F265F260420210915"))
    assert bcd.date_of_issue == "20210915"


text = st.text(max_size=30)
opt_text = st.none() | text


@st.composite
def dg12_content(draw: st.DrawFn) -> dict[str, object]:
    return {
        "issuing_authority": draw(opt_text),
        "date_of_issue": draw(st.none() | st.text(alphabet="0123456789", min_size=8, max_size=8)),
        "other_persons": draw(st.lists(text, max_size=3)),
        "endorsements": draw(opt_text),
        "tax_exit_requirements": draw(opt_text),
        "image_front": draw(st.none() | st.binary(max_size=40)),
        "image_rear": draw(st.none() | st.binary(max_size=40)),
        "personalization_time": draw(
            st.none() | st.text(alphabet="0123456789", min_size=14, max_size=14)
        ),
        "personalization_serial": draw(opt_text),
    }


@given(dg12_content())
def test_round_trip(content: dict[str, object]) -> None:
    built = Dg12.build(**content)  # type: ignore[arg-type]
    decoded = Dg12.from_bytes(bytes(built))
    assert decoded == built
    assert decoded.other_persons == tuple(content["other_persons"])  # type: ignore[arg-type]
    assert decoded.image_front == content["image_front"]
    assert isinstance(decoded.describe(), dict)


@pytest.mark.parametrize(
    "hex_",
    [
        "6C045C025F00",  # listed element missing (and unknown)
        "6C035C015F",  # truncated tag in the tag list
        "6C0B5C025F265F260532303231",  # truncated value
        "6C0C5C025F265F26053230323131",  # 5-digit date
        "6C0D5C025F1AA0070201015F1A01FF",  # other person not UTF-8
        "6C0A5C025F1AA00402020001",  # two-byte count, no names
        "6C095C025F195F1902C328",  # issuing authority not UTF-8
    ],
)
def test_malformed_dg12_is_rejected(hex_: str) -> None:
    with pytest.raises(EncodingError):
        Dg12.from_bytes(bytes.fromhex(hex_))


@given(st.binary(max_size=80))
def test_random_bytes_only_raise_encoding_error(data: bytes) -> None:
    try:
        dg = Dg12.from_bytes(data)
    except EncodingError:
        return
    assert bytes(dg) == data


@given(st.binary(max_size=60))
def test_random_content_under_the_dg12_tag(body: bytes) -> None:
    data = tlv.encode(0x6C, body)
    try:
        dg = Dg12.from_bytes(data)
    except EncodingError:
        return
    assert bytes(dg) == data


@given(dg12_content(), st.data())
def test_truncations_are_rejected(content: dict[str, object], data: st.DataObject) -> None:
    raw = bytes(Dg12.build(**content))  # type: ignore[arg-type]
    cut = data.draw(st.integers(0, len(raw) - 1))
    with pytest.raises(EncodingError):
        Dg12.from_bytes(raw[:cut])


@given(dg12_content(), st.sampled_from([-1, 1]))
def test_wrong_outer_length_is_rejected(content: dict[str, object], delta: int) -> None:
    value = tlv.decode_single(bytes(Dg12.build(**content))).value  # type: ignore[arg-type]
    with pytest.raises(EncodingError):
        Dg12.from_bytes(b"\x6c" + tlv.encode_length(len(value) + delta) + value)


@given(st.integers(0x01, 0xFE).filter(lambda t: t != 0x6C))
def test_wrong_tag_is_rejected(tag: int) -> None:
    with pytest.raises(EncodingError):
        Dg12.from_bytes(bytes([tag]) + SAMPLE[1:])
