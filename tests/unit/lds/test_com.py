"""EF.COM (9303-10 §4.6.1): Appendix A.1 known answers, round trips, malformed input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cardkit.encoding import tlv
from cardkit.errors import EncodingError
from cardkit.lds.com import Com

VECTORS = json.loads(
    (Path(__file__).parents[2] / "vectors" / "com_icao9303_10_appendix_a1.json").read_text()
)


@pytest.mark.parametrize("case", VECTORS["cases"], ids=lambda c: c["lds_version"])
def test_icao_appendix_a1_decodes(case: dict[str, object]) -> None:
    # Source: ICAO 9303-10 Appendix A.1 (see the vector file).
    data = bytes.fromhex(str(case["hex"]))
    com = Com.from_bytes(data)
    assert com.lds_version == case["lds_version"]
    assert com.unicode_version == case["unicode_version"]
    assert list(com.data_groups) == case["data_groups"]
    assert bytes(com) == data


@pytest.mark.parametrize("case", VECTORS["cases"], ids=lambda c: c["lds_version"])
def test_icao_appendix_a1_builds_the_same_bytes(case: dict[str, object]) -> None:
    built = Com.build(
        str(case["lds_version"]),
        str(case["unicode_version"]),
        case["data_groups"],  # type: ignore[arg-type]
    )
    assert bytes(built) == bytes.fromhex(str(case["hex"]))


def test_describe_is_readable() -> None:
    com = Com.from_bytes(bytes.fromhex(VECTORS["cases"][0]["hex"]))
    assert com.describe() == {
        "file": "EF.COM",
        "lds_version": "1.7",
        "unicode_version": "4.0.0",
        "data_groups": [1, 2, 4, 12],
    }


versions = st.text(alphabet="0123456789", min_size=4, max_size=4)
unicode_versions = st.text(alphabet="0123456789", min_size=6, max_size=6)
dg_sets = st.sets(st.integers(1, 16))


@given(versions, unicode_versions, dg_sets)
def test_round_trip(lds: str, uni: str, dgs: set[int]) -> None:
    built = Com.build(lds, uni, dgs)
    decoded = Com.from_bytes(bytes(built))
    assert decoded == built
    assert decoded.data_groups == tuple(sorted(dgs))
    assert (decoded.lds_version, decoded.unicode_version) == (lds, uni)


@pytest.mark.parametrize(
    ("lds", "uni", "dgs"),
    [("107", "040000", [1]), ("01a7", "040000", [1]), ("0107", "4000", [1]),
     ("0107", "040000", [17]), ("0107", "040000", [0]), ("0107", "040000", [1, 1]),
     ("０１０７", "040000", [1])],
)  # fmt: skip
def test_build_rejects_bad_content(lds: str, uni: str, dgs: list[int]) -> None:
    with pytest.raises(EncodingError):
        Com.build(lds, uni, dgs)


def _decode_or_encoding_error(data: bytes) -> None:
    try:
        com = Com.from_bytes(data)
    except EncodingError:
        return
    assert bytes(com) == data


@given(st.binary(max_size=64))
def test_random_bytes_only_raise_encoding_error(data: bytes) -> None:
    _decode_or_encoding_error(data)


@given(versions, unicode_versions, dg_sets, st.data())
def test_truncations_are_rejected(lds: str, uni: str, dgs: set[int], data: st.DataObject) -> None:
    raw = bytes(Com.build(lds, uni, dgs))
    cut = data.draw(st.integers(0, len(raw) - 1))
    with pytest.raises(EncodingError):
        Com.from_bytes(raw[:cut])


@given(versions, unicode_versions, dg_sets, st.sampled_from([-1, 1]))
def test_wrong_outer_length_is_rejected(lds: str, uni: str, dgs: set[int], delta: int) -> None:
    value = tlv.decode_single(bytes(Com.build(lds, uni, dgs))).value
    bad = b"\x60" + tlv.encode_length(len(value) + delta) + value
    with pytest.raises(EncodingError):
        Com.from_bytes(bad)


@given(st.integers(0x01, 0xFE).filter(lambda t: t != 0x60))
def test_wrong_tag_is_rejected(tag: int) -> None:
    raw = bytearray(bytes.fromhex(VECTORS["cases"][0]["hex"]))
    raw[0] = tag
    with pytest.raises(EncodingError):
        Com.from_bytes(bytes(raw))


@pytest.mark.parametrize(
    "hex_",
    [
        "60105F0104303130375F3606303430303030",  # no tag list
        "600D5F36063034303030305C026175",  # no LDS version
        "60195F0104303130375F36063034303030305C046175766C010100",  # unknown element 01
        "60165F0104303130375F36063034303030305C046175756C",  # DG2 listed twice
        "60165F0104303130375F36063034303030305C046175776C",  # 77 (EF.SOD) is no DG
        "60165F0104303130375F36063034303030305C04617576FF",  # not a tag
        "60175F0105303130373 75F36063034303030305C046175766C".replace(" ", ""),  # 5 digits
        "60165F01043031E1375F36063034303030305C046175766C",  # not ASCII
    ],
)
def test_malformed_com_is_rejected(hex_: str) -> None:
    with pytest.raises(EncodingError):
        Com.from_bytes(bytes.fromhex(hex_))
