"""Card profiles: the shipped ones load, broken ones fail with the file, table and key named."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import pytest

from cardkit.errors import ProfileError
from cardkit.profile import load_profile, parse_profile

PROFILES = Path(__file__).resolve().parents[2] / "profiles"


def _vn() -> dict[str, Any]:
    return tomllib.loads((PROFILES / "vn-cccd-2021.toml").read_text(encoding="utf-8"))


def test_shipped_profiles_load() -> None:
    vn = load_profile("vn-cccd-2021")
    assert vn.document.document_code == "ID" and vn.document.issuing_state == "VNM"
    assert vn.lds.data_groups == (1, 2, 13, 14, 15) and vn.lds.optional_data_groups == (3,)
    assert vn.access.bac and "CAN" in vn.access.pace_passwords
    assert vn.access.active_authentication == "ECDSA" and vn.access.chip_authentication
    assert vn.expiry.renewal_ages == (25, 40, 60) and vn.expiry.no_expiry_from_age == 58
    generic = load_profile(PROFILES / "icao-td1-generic.toml")
    assert generic.document.mrz_layout == "icao" and 11 in generic.lds.data_groups
    assert generic.photo.format == "jpeg2000"


def test_unknown_name() -> None:
    with pytest.raises(ProfileError, match=r"no profile named 'nope'; available: .*vn-cccd-2021"):
        load_profile("nope")


def test_not_toml(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[profile\nname=", encoding="utf-8")
    with pytest.raises(ProfileError, match="not valid TOML"):
        load_profile(bad)


@pytest.mark.parametrize(
    ("table", "key", "value", "message"),
    [
        ("photo", "format", "gif", r"\[photo\]: 'format' is 'gif'; expected one of jpeg, jpeg2000"),
        ("photo", "width", 5, r"'width' = 5 is outside"),
        ("photo", "width", "240", r"'width' has the wrong type"),
        ("access", "bac", "yes", r"'bac' has the wrong type"),
        ("access", "pace_passwords", ["PIN"], r"'pace_passwords' has \['PIN'\]"),
        ("lds", "data_groups", [2, 13], r"DG1 and DG2 are mandatory"),
        ("lds", "data_groups", [1, 2, 13, 15], r"chip authentication needs DG14"),
        ("document", "issuing_state", "VN", r"issuing_state must be a 3-letter code"),
        ("expiry", "renewal_ages", [40, 25], r"renewal_ages must be increasing"),
        ("limits", "full_nam", 30, r"unknown key\(s\) full_nam"),
    ],
)
def test_invalid_values_are_named(table: str, key: str, value: object, message: str) -> None:
    data = copy.deepcopy(_vn())
    data[table][key] = value
    with pytest.raises(ProfileError, match=message):
        parse_profile(data)


def test_missing_table_and_key() -> None:
    data = _vn()
    del data["photo"]
    with pytest.raises(ProfileError, match=r"missing table \[photo\]"):
        parse_profile(data)
    data = _vn()
    del data["access"]["bac"]
    with pytest.raises(ProfileError, match=r"\[access\]: missing key 'bac'"):
        parse_profile(data)
    data = _vn()
    data["extra"] = {}
    with pytest.raises(ProfileError, match="unknown table"):
        parse_profile(data)


# --- the card face layout ([layout], issue 7) ----------------------------------------------------


def test_shipped_profiles_have_a_layout() -> None:
    for name in ("vn-cccd-2021", "icao-td1-generic"):
        layout = load_profile(name).layout
        assert layout is not None and layout.mrz.pitch == 2.54  # ICAO 9303-3 §4.2.1


def test_layout_is_optional() -> None:
    data = _vn()
    del data["layout"]
    assert parse_profile(data).layout is None


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("width", "85.6", r"\[layout\]: 'width' has the wrong type"),
        ("accent", "red", r"\[layout\]: 'accent' must be a colour"),
        ("paper", "matte", r"\[layout\]: unknown key\(s\) paper"),
    ],
)
def test_invalid_layout_values_are_named(key: str, value: object, message: str) -> None:
    data = copy.deepcopy(_vn())
    data["layout"][key] = value
    with pytest.raises(ProfileError, match=message):
        parse_profile(data, source=Path("vn.toml"))


def test_layout_element_in_the_mrz_zone_is_refused() -> None:
    data = copy.deepcopy(_vn())
    data["layout"]["back"]["chip"] = [4.0, 40.0, 10.0, 8.0]
    with pytest.raises(ProfileError, match=r"\[layout.back\]: chip enters the MRZ zone"):
        parse_profile(data)
