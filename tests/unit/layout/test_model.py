"""The [layout] table: the shipped layouts, ICAO MRZ geometry, errors naming file, table and key."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import pytest

from cardkit.errors import ProfileError
from cardkit.layout.model import ID1_HEIGHT_MM, ID1_WIDTH_MM, parse_layout
from cardkit.profile import load_profile

PROFILES = Path(__file__).resolve().parents[3] / "profiles"


def _raw() -> dict[str, Any]:
    data = tomllib.loads((PROFILES / "vn-cccd-2021.toml").read_text(encoding="utf-8"))
    return copy.deepcopy(data["layout"])


@pytest.mark.parametrize("name", ["vn-cccd-2021", "icao-td1-generic"])
def test_shipped_layouts(name: str) -> None:
    layout = load_profile(name).layout
    assert layout is not None
    # ISO/IEC 7810 ID-1 nominal size.
    assert (layout.width, layout.height) == (ID1_WIDTH_MM, ID1_HEIGHT_MM) == (85.60, 53.98)
    mrz = layout.mrz
    # ICAO 9303-3 §4.2.1: OCR-B size 1 at ten characters per 25.4 mm.
    assert mrz.pitch == pytest.approx(25.4 / 10)
    assert mrz.width == pytest.approx(76.2) and mrz.left + mrz.width <= layout.width
    # The three lines lie in the clear zone above the bottom edge, in order, evenly spaced.
    centres = [mrz.centre_from_top(i, layout.height) for i in range(3)]
    assert centres[0] < centres[1] < centres[2] < layout.height
    assert centres[1] - centres[0] == pytest.approx(mrz.line_spacing)
    assert layout.height - centres[2] == pytest.approx(mrz.line3_centre)
    fields = {f.field for f in layout.front.fields}
    assert {"id_number", "full_name", "date_of_birth", "sex", "nationality"} <= fields
    assert {"place_of_origin", "place_of_residence", "date_of_expiry"} <= fields
    assert {"identifying_marks", "date_of_issue", "issuing_authority"} <= {
        f.field for f in layout.back.fields
    }
    assert layout.front.photo and layout.front.qr and len(layout.back.fingerprints) == 2


def test_vietnamese_labels_carry_english_translations() -> None:
    layout = load_profile("vn-cccd-2021").layout
    assert layout is not None
    labels = {f.field: f.label for f in layout.front.fields}
    assert labels["id_number"] == "Số / No.:"
    assert labels["full_name"] == "Họ và tên / Full name:"
    texts = [t.text for t in layout.front.texts]
    assert "CỘNG HOÀ XÃ HỘI CHỦ NGHĨA VIỆT NAM" in texts and "CĂN CƯỚC CÔNG DÂN" in texts


def _broken(path: tuple[str | int, ...], value: object) -> dict[str, Any]:
    raw = _raw()
    target: Any = raw
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return raw


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("front", "photo"), [80.0, 10.0, 20.0, 26.0], r"\[layout.front\]: photo lies outside"),
        (("front", "qr"), [1, 2, 3], r"'qr' must be a box \[x, y, width, height\]"),
        (("front", "qr"), [1, 2, 0, 3], r"positive width and height"),
        (("back", "fingerprints"), [[51.0, 30.0, 14.0, 17.0]], r"enters the MRZ zone"),
        (("front", "background"), "beige", r"'background' must be a colour"),
        (("front", "field", 0, "field"), "shoe_size", r"'field' is 'shoe_size'; expected one"),
        (("front", "field", 1, "min_size"), 20.0, r"'min_size' is larger than 'size'"),
        (("front", "field", 0, "colour"), "red", r"\(field id_number\): unknown key\(s\) colour"),
        (("front", "text", 0, "align"), "middle", r"'align' is 'middle'"),
        (("mrz", "left"), 12.0, r"30 characters at this pitch overflow the card"),
        (("mrz", "line3_centre"), 15.0, r"the three lines must lie inside the zone"),
        (("mrz", "pitch"), "2.54", r"'pitch' has the wrong type"),
        (("mrz", "pitch"), True, r"'pitch' has the wrong type \(bool\)"),
        (("ink",), "#12345", r"'ink' must be a colour"),
    ],
)
def test_invalid_layouts_are_named(
    path: tuple[str | int, ...], value: object, message: str
) -> None:
    with pytest.raises(ProfileError, match=message):
        parse_layout(_broken(path, value), "vn.toml")


def test_missing_mrz_table() -> None:
    raw = _raw()
    del raw["mrz"]
    with pytest.raises(ProfileError, match=r"vn.toml \[layout\]: missing key 'mrz'"):
        parse_layout(raw, "vn.toml")
