"""Validation: every problem of a record at once, with stable codes; the sample files as cases."""

from __future__ import annotations

import json
import unicodedata
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cardkit.profile import Profile, load_profile
from cardkit.records.load import COLUMNS, RawRecord, load_records
from cardkit.records.model import Sex
from cardkit.records.validate import Validated, mrz_representable, validate, validate_all

SAMPLES = Path(__file__).resolve().parents[3] / "profiles" / "samples"
TODAY = date(2026, 11, 1)  # the latest issue date of the samples


@pytest.fixture(scope="module")
def profile() -> Profile:
    return load_profile("vn-cccd-2021")


@pytest.fixture(scope="module")
def base() -> dict[str, str]:
    """The DOMAIN.md §3 citizen, first record of the good samples."""
    return dict(load_records(SAMPLES / "citizens.csv")[0].fields)


def check(profile: Profile, fields: dict[str, str], today: date = TODAY) -> Validated:
    return validate(RawRecord("test.csv", 2, fields), profile, today)


def codes(v: Validated) -> list[str]:
    return sorted(p.code for p in v.problems)


# ------------------------------------------------------------------------------- sample files


@pytest.mark.parametrize("name", ["citizens.csv", "citizens.jsonl"])
def test_every_good_sample_is_accepted(profile: Profile, name: str) -> None:
    results = validate_all(load_records(SAMPLES / name), profile, TODAY)
    assert results
    assert [(r.raw.row, r.problems) for r in results if not r.ok] == []
    assert all(r.record is not None for r in results)


def test_good_samples_cover_the_brief(profile: Profile) -> None:
    records = [
        r.record for r in validate_all(load_records(SAMPLES / "citizens.csv"), profile, TODAY)
    ]
    assert all(r is not None for r in records)
    good = [r for r in records if r is not None]
    assert len(good) >= 30
    first = good[0]
    # DOMAIN.md §3: the first record is the checked MRZ example.
    assert (first.id_number, first.sex, first.date_of_birth, first.date_of_expiry) == (
        "001093047064",
        Sex.MALE,
        date(1993, 1, 5),
        date(2033, 1, 5),
    )
    assert {r.sex for r in good} == {Sex.MALE, Sex.FEMALE}
    assert {r.date_of_birth.year // 100 for r in good} == {19, 20}
    assert any(r.date_of_expiry is None for r in good)
    assert any(r.spouse_name for r in good) and any(r.old_id_number for r in good)
    assert any(r.can for r in good) and any(len(r.fingerprint_paths) == 2 for r in good)
    assert len({r.id_number[:3] for r in good}) >= 5
    assert all(r.date_of_issue <= TODAY for r in good)


def test_every_broken_sample_is_rejected_with_its_code(profile: Profile) -> None:
    expected = json.loads((SAMPLES / "broken-expected.json").read_text(encoding="utf-8"))
    assert expected["profile"] == profile.name
    results = validate_all(load_records(SAMPLES / expected["file"]), profile, TODAY)
    got = {str(r.raw.row): codes(r) for r in results}
    assert got == {row: sorted(c) for row, c in expected["expect"].items()}
    assert len(results) >= 10
    assert all(r.record is None for r in results)
    # Each broken record breaks a different rule.
    assert len({tuple(c) for c in got.values()}) == len(got)


def test_nfd_sample_is_accepted_and_the_normalisation_reported(profile: Profile) -> None:
    first = validate_all(load_records(SAMPLES / "citizens.jsonl"), profile, TODAY)[0]
    assert first.ok and first.normalised == ("full_name",)
    assert first.record is not None
    assert unicodedata.is_normalized("NFC", first.record.full_name)


# ------------------------------------------------------------------------------- single rules


def test_base_is_valid(profile: Profile, base: dict[str, str]) -> None:
    v = check(profile, base)
    assert v.ok and v.problems == ()
    assert v.record is not None and v.record.document_number == "093047064"


def test_all_problems_are_reported_at_once(profile: Profile, base: dict[str, str]) -> None:
    bad = {
        **base,
        "id_number": "003" + base["id_number"][3:],
        "sex": "F",  # also contradicts G = 0
        "can": "12",
        "old_id_number": "1",
        "full_name": "Nguyễn Văn 007",
        "photo_path": str(SAMPLES / "nope.jpg"),
    }
    v = check(profile, bad)
    assert v.record is None
    assert codes(v) == sorted(
        ["id.province", "id.sex", "can.format", "old_id.format", "name.mrz", "photo.missing"]
    )
    assert {p.row for p in v.problems} == {2}
    secret_free = " ".join(p.message for p in v.problems)
    assert base["id_number"][3:] not in secret_free and "12" not in secret_free.split()


def test_messages_never_contain_the_can_or_id(profile: Profile, base: dict[str, str]) -> None:
    v = check(profile, {**base, "can": "98765x", "id_number": "9" + base["id_number"]})
    text = " ".join(p.message for p in v.problems)
    assert "98765" not in text and base["id_number"] not in text


def test_empty_expiry_is_computed(profile: Profile, base: dict[str, str]) -> None:
    v = check(profile, {**base, "date_of_expiry": ""})
    assert v.record is not None and v.record.date_of_expiry == date(2033, 1, 5)


def test_explicit_no_expiry(profile: Profile, base: dict[str, str]) -> None:
    old = {
        **base,
        "id_number": "001055000001",
        "date_of_birth": "1955-08-17",
        "date_of_issue": "2021-06-02",
    }
    for text in ("Không thời hạn", "never", unicodedata.normalize("NFD", "Không thời hạn")):
        v = check(profile, {**old, "date_of_expiry": text})
        assert v.ok and v.record is not None and v.record.date_of_expiry is None
    # Not true for a 28-year-old: the law gives an expiry date.
    v = check(profile, {**base, "date_of_expiry": "Không thời hạn"})
    assert codes(v) == ["expiry.mismatch"]


def test_dates_in_both_forms(profile: Profile, base: dict[str, str]) -> None:
    v = check(profile, {**base, "date_of_birth": "05/01/1993", "date_of_expiry": "05/01/2033"})
    assert v.ok


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"date_of_birth": "1993-1-5"}, ["date.format"]),
        ({"date_of_birth": "31/02/1993"}, ["date.invalid"]),
        ({"date_of_issue": "1992-01-01"}, ["date.order"]),
        ({"date_of_issue": "1993-01-05"}, ["date.order"]),
        ({"date_of_issue": "2026-11-02", "date_of_expiry": ""}, ["date.future"]),
        ({"date_of_expiry": "2033-01-04"}, ["expiry.mismatch"]),
        ({"sex": "Nam"}, []),
        ({"sex": "male"}, []),
        ({"sex": "Nữ"}, ["id.sex"]),
        ({"sex": "?"}, ["sex.value"]),
        (
            {"date_of_birth": "2093-01-05", "date_of_issue": "2094-01-01"},
            ["date.future", "date.future", "id.century", "expiry.mismatch"],
        ),
        ({"id_number": "001094047064"}, ["id.year"]),
        ({"id_number": "001293047064"}, ["id.century"]),
        ({"id_number": "00109304706A"}, ["id.format"]),
        ({"nationality": "Vietnam"}, ["nationality.value"]),
        ({"religion": ""}, ["field.missing"]),
        ({"photo_path": ""}, ["field.missing"]),
        ({"full_name": "Nguyễn  Văn An"}, ["name.mrz"]),
        ({"full_name": "N" * 61}, ["text.length"]),
        ({"father_name": "Nguyễn Văn\tBình"}, ["text.control"]),
        ({"father_name": ""}, []),
        ({"can": "123456"}, []),
        ({"can": "１２３４５６"}, ["can.format"]),  # full-width digits
        ({"fingerprint_paths": ""}, []),
        ({"fingerprint_paths": str(SAMPLES / "fingerprints/nope.png")}, ["fingerprint.missing"]),
        ({"photo_path": str(SAMPLES / "photos/broken-too-small.jpg")}, ["photo.size"]),
        (
            {"photo_path": str(SAMPLES / "fingerprints/finger-01.png")},
            [],
        ),  # any format Pillow reads
    ],
)
def test_single_rules(
    profile: Profile, base: dict[str, str], changes: dict[str, str], expected: list[str]
) -> None:
    assert codes(check(profile, {**base, **changes})) == sorted(expected)


def test_today_is_an_input(profile: Profile, base: dict[str, str]) -> None:
    assert check(profile, base, today=date(2021, 3, 15)).ok
    assert codes(check(profile, base, today=date(2021, 3, 14))) == ["date.future"]


def test_fixed_years_profile(base: dict[str, str]) -> None:
    generic = load_profile("icao-td1-generic")
    v = validate(
        RawRecord("t", 1, {**base, "date_of_expiry": "", "nationality": "Lào"}), generic, TODAY
    )
    assert v.record is not None and v.record.date_of_expiry == date(2031, 3, 15)
    assert codes(validate(RawRecord("t", 1, base), generic, TODAY)) == ["expiry.mismatch"]


def test_duplicates_in_a_batch(profile: Profile, base: dict[str, str]) -> None:
    raws = [RawRecord("t.csv", n, base) for n in (2, 3, 4)]
    results = validate_all(raws, profile, TODAY)
    assert [codes(r) for r in results] == [[], ["id.duplicate"], ["id.duplicate"]]
    assert "row 2" in results[2].problems[0].message


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("Nguyễn Văn An", True),
        ("ĐẶNG THỊ ƯỚC", True),
        ("Đỗ Ngọc Ẩn", True),
        ("Lê Thị Hoa-Mai", False),
        ("O'Brien", False),
        ("Straße", False),
        ("Ngô  Bảo", False),
        (" Ngô Bảo", False),
        ("Ω", False),
        ("", False),
    ],
)
def test_mrz_representable(name: str, ok: bool) -> None:
    assert mrz_representable(name) is ok


@given(st.dictionaries(st.sampled_from(COLUMNS), st.text(max_size=30)))
def test_validate_never_raises(profile: Profile, fields: dict[str, str]) -> None:
    v = validate(RawRecord("fuzz.csv", 5, fields), profile, TODAY)
    assert v.ok == (not v.problems)
    assert all(p.row == 5 and p.code for p in v.problems)


def test_samples_readme_documents_the_expected_codes() -> None:
    expected = json.loads((SAMPLES / "broken-expected.json").read_text(encoding="utf-8"))
    readme = (SAMPLES / "README.md").read_text(encoding="utf-8")
    table = {}
    for line in readme.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 3 and cells[0].isdigit():
            table[cells[0]] = [cells[1]]
    assert table == expected["expect"]


@given(st.text(max_size=12))
def test_text_control_is_any_control_format_surrogate_private_or_unassigned_character(
    profile: Profile, base: dict[str, str], text: str
) -> None:
    # The check looks at each character only when str.isprintable() says there is one to find.
    v = check(profile, {**base, "identifying_marks": text})
    expected = any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn") for c in text)
    assert ("text.control" in codes(v)) is expected
