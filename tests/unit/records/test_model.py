"""CitizenRecord: structural invariants checked on construction, NFC text, document number."""

from __future__ import annotations

import unicodedata
from dataclasses import FrozenInstanceError, replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from cardkit.errors import RecordError
from cardkit.records.model import CitizenRecord, Sex


def make(**changes: Any) -> CitizenRecord:
    fields: dict[str, Any] = {
        "id_number": "001093047064",
        "full_name": "Nguyễn Văn An",
        "date_of_birth": date(1993, 1, 5),
        "sex": Sex.MALE,
        "nationality": "Việt Nam",
        "ethnicity": "Kinh",
        "religion": "Không",
        "place_of_origin": "Hà Nội",
        "place_of_residence": "Hà Nội",
        "identifying_marks": "Nốt ruồi",
        "date_of_issue": date(2021, 3, 15),
        "date_of_expiry": date(2033, 1, 5),
        "father_name": "Nguyễn Văn Bình",
        "mother_name": "Trần Thị Lan",
        "spouse_name": "",
        "old_id_number": "",
        "photo_path": Path("photo.jpg"),
        "fingerprint_paths": (),
        "can": None,
    }
    fields.update(changes)
    return CitizenRecord(**fields)


def test_document_number_is_last_nine_digits() -> None:
    # DOMAIN.md §3: ID 001093047064 → MRZ document number 093047064.
    assert make().document_number == "093047064"


def test_frozen() -> None:
    with pytest.raises(FrozenInstanceError):
        make().full_name = "x"  # type: ignore[misc]


def test_sex_values_and_words() -> None:
    assert Sex("M") is Sex.MALE and Sex("F") is Sex.FEMALE
    assert (Sex.MALE.vietnamese, Sex.FEMALE.vietnamese) == ("Nam", "Nữ")


def test_text_is_normalised_to_nfc() -> None:
    nfd = unicodedata.normalize("NFD", "Nguyễn Văn An")
    assert nfd != "Nguyễn Văn An"
    record = make(full_name=nfd, place_of_origin=unicodedata.normalize("NFD", "Hà Nội"))
    assert record.full_name == "Nguyễn Văn An"
    assert record.place_of_origin == "Hà Nội"


def test_never_expires() -> None:
    assert make(date_of_expiry=None).never_expires


@pytest.mark.parametrize(
    "changes",
    [
        {"id_number": "00109304706"},
        {"id_number": "00109304706x"},
        {"id_number": "٠٠١٠٩٣٠٤٧٠٦٤"},  # Arabic-Indic digits are not 0-9
        {"date_of_issue": date(1990, 1, 1)},
        {"date_of_expiry": date(2020, 1, 1)},
        {"full_name": " "},
        {"old_id_number": "12345678"},
        {"can": "12345"},
        {"can": "1234567"},
        {"fingerprint_paths": (Path("a"), Path("b"), Path("c"))},
        {"sex": "M"},
    ],
)
def test_invalid_construction(changes: dict[str, Any]) -> None:
    with pytest.raises(RecordError) as info:
        make(**changes)
    for value in changes.values():
        if isinstance(value, str) and len(value) >= 5:
            assert value not in str(info.value)


def test_describe_withholds_can() -> None:
    d = make(can="123456", fingerprint_paths=(Path("r.png"),)).describe()
    assert d["can"] == "(set)"
    assert "123456" not in repr(d)
    assert d["date_of_birth"] == "1993-01-05"
    assert d["sex"] == "M"
    assert d["fingerprint_paths"] == ["r.png"]
    assert replace(make(), can=None).describe()["can"] is None
