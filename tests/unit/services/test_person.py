"""The holder's data (:class:`cardkit.PersonalData`): ISO dates and a Sex enum from DG13 and
from DG1, the chip's strings kept beside them, "Không thời hạn", and nothing a hostile chip
writes there makes it raise."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import cardkit as ck
from cardkit.encoding.mrz import build_td3, build_vn_td1
from cardkit.lds.dg1 import Dg1
from cardkit.lds.dg13 import Dg13
from cardkit.records.model import NO_EXPIRY_TEXT
from cardkit.services.person import PersonalData, Sex

TODAY = date(2026, 11, 1)
# DOMAIN.md §3's checked example: 001093047064, born 05/01/1993, male, expiry 05/01/2033.
ID_NUMBER = "001093047064"


def _dg13(**changes: str | None) -> Dg13:
    fields: dict[str, Any] = {
        "id_number": ID_NUMBER,
        "full_name": "Võ Văn Hiếu",
        "date_of_birth": "05/01/1993",
        "sex": "Nam",
        "nationality": "Việt Nam",
        "ethnicity": "Kinh",
        "religion": "Không",
        "place_of_origin": "Hà Nội",
        "place_of_residence": "Hà Nội",
        "date_of_issue": "10/08/2021",
        "date_of_expiry": "05/01/2033",
        "old_id_number": "012345678",
    }
    fields.update(changes)
    return Dg13.from_bytes(bytes(Dg13.build(**fields)))


def _dg1(expiry: date | None = date(2033, 1, 5), *, no_expiry: str = "991231") -> Dg1:
    mrz = build_vn_td1(ID_NUMBER, "Võ Văn Hiếu", date(1993, 1, 5), "M", expiry, no_expiry=no_expiry)
    return Dg1.from_bytes(Dg1.build(mrz).raw)


def test_from_dg13_dates_are_dates_and_the_chip_strings_are_kept() -> None:
    person = PersonalData.from_dg13(_dg13(), _dg1())
    assert person.source == "DG13"
    assert person.date_of_birth == date(1993, 1, 5)
    assert person.date_of_birth_raw == "05/01/1993"
    assert person.date_of_issue == date(2021, 8, 10) and person.date_of_issue_raw == "10/08/2021"
    assert person.date_of_expiry == date(2033, 1, 5) and not person.never_expires
    assert person.sex is Sex.MALE and person.sex_raw == "Nam"
    assert person.document_number == "093047064"  # from DG1
    assert person.full_name == "Võ Văn Hiếu" and person.old_id_number == "012345678"


def test_female_and_a_card_that_never_expires() -> None:
    person = PersonalData.from_dg13(_dg13(sex="Nữ", date_of_expiry=NO_EXPIRY_TEXT))
    assert person.sex is Sex.FEMALE
    assert person.never_expires and person.date_of_expiry is None
    assert person.date_of_expiry_raw == NO_EXPIRY_TEXT
    assert person.document_number is None  # no DG1 given


def test_what_is_not_a_date_or_a_known_word_is_none_with_the_raw_kept() -> None:
    person = PersonalData.from_dg13(
        _dg13(date_of_birth="1993-01-05", sex="khác", date_of_issue="31/02/2021")
    )
    assert person.date_of_birth is None and person.date_of_birth_raw == "1993-01-05"
    assert person.date_of_issue is None and person.date_of_issue_raw == "31/02/2021"
    assert person.sex is None and person.sex_raw == "khác"
    assert not person.never_expires


def test_from_dg1_century_from_the_id_number_and_expiry_in_20yy() -> None:
    person = PersonalData.from_dg1(_dg1(), today=TODAY)
    assert person.source == "DG1"
    assert person.id_number == ID_NUMBER and person.document_number == "093047064"
    assert person.full_name == "VO VAN HIEU"
    assert person.date_of_birth == date(1993, 1, 5) and person.date_of_birth_raw == "930105"
    assert person.date_of_expiry == date(2033, 1, 5) and person.date_of_expiry_raw == "330105"
    assert person.sex is Sex.MALE and person.sex_raw == "M"
    assert person.date_of_issue is None and person.ethnicity is None


def test_from_dg1_the_profiles_no_expiry_date_means_never_expires() -> None:
    dg1 = _dg1(None, no_expiry="991231")
    as_written = PersonalData.from_dg1(dg1, today=TODAY)
    assert as_written.date_of_expiry == date(2099, 12, 31) and not as_written.never_expires
    person = PersonalData.from_dg1(dg1, today=TODAY, no_expiry={"<<<<<<", "991231"})
    assert person.never_expires and person.date_of_expiry is None
    assert person.date_of_expiry_raw == "991231"


def test_from_dg1_td3_unspecified_sex_and_the_century_from_today() -> None:
    # ICAO 9303-4 Appendix B specimen data, sex unspecified ("<" in the MRZ, X on the page).
    mrz = build_td3(
        issuing_state="UTO", document_number="L898902C3", date_of_birth="740812", sex="<",
        date_of_expiry="120415", nationality="UTO", primary_identifier="ERIKSSON",
        secondary_identifier="ANNA MARIA",
    )  # fmt: skip
    person = PersonalData.from_dg1(Dg1.from_bytes(Dg1.build(mrz).raw), today=TODAY)
    assert person.sex is Sex.UNSPECIFIED and person.sex_raw == "<"
    assert person.date_of_birth == date(1974, 8, 12)
    assert person.id_number is None and person.document_number == "L898902C3"


@pytest.mark.parametrize(
    ("text", "sex"),
    [("M", Sex.MALE), ("F", Sex.FEMALE), ("<", Sex.UNSPECIFIED), ("X", Sex.UNSPECIFIED),
     ("", None), ("Q", None), (None, None)],
)  # fmt: skip
def test_sex_from_the_mrz(text: str | None, sex: Sex | None) -> None:
    assert Sex.from_mrz(text) is sex


@pytest.mark.parametrize(
    ("text", "sex"),
    [("Nam", Sex.MALE), ("nam ", Sex.MALE), ("Nữ", Sex.FEMALE), ("Nu\u031b\u0303", Sex.FEMALE),
     ("NỮ", Sex.FEMALE), ("Nu", Sex.FEMALE), ("M", None), (None, None)],
)  # fmt: skip
def test_sex_from_dg13_words_in_any_normal_form(text: str | None, sex: Sex | None) -> None:
    assert Sex.from_dg13(text) is sex


def test_describe_has_every_field_iso_dates_and_the_icao_letter() -> None:
    out = PersonalData.from_dg13(_dg13(date_of_expiry=NO_EXPIRY_TEXT), _dg1()).describe()
    assert list(out) == [f for f in PersonalData.__dataclass_fields__]
    assert out["date_of_birth"] == "1993-01-05" and out["date_of_birth_raw"] == "05/01/1993"
    assert out["date_of_issue"] == "2021-08-10"
    assert out["date_of_expiry"] is None and out["never_expires"] is True
    assert out["sex"] == "M" and out["sex_raw"] == "Nam"
    assert json.loads(json.dumps(out)) == out  # JSON as it is


def test_repr_never_shows_personal_data() -> None:
    person = PersonalData.from_dg13(_dg13())
    assert repr(person) == "PersonalData(source='DG13', <redacted>)"
    assert ID_NUMBER not in repr(person) and "Hiếu" not in str(person)


def test_exported_from_the_package() -> None:
    assert ck.PersonalData is PersonalData and ck.Sex is Sex
    assert {"PersonalData", "Sex"} <= set(ck.__all__)


_TEXT = st.one_of(st.none(), st.text(max_size=20))
#: What a PrintableString field (dates of birth and issue, DOMAIN.md §4) can hold.
_PRINTABLE = st.one_of(st.none(), st.text(alphabet="0123456789/-.:() Aaz", max_size=12))


@given(birth=_PRINTABLE, sex=_TEXT, issue=_PRINTABLE, expiry=_TEXT)
def test_hostile_dg13_strings_never_raise(
    birth: str | None, sex: str | None, issue: str | None, expiry: str | None
) -> None:
    dg13 = Dg13.build(
        id_number=ID_NUMBER, date_of_birth=birth, sex=sex, date_of_issue=issue,
        date_of_expiry=expiry,
    )  # fmt: skip
    person = PersonalData.from_dg13(Dg13.from_bytes(bytes(dg13)))
    described = person.describe()
    assert json.loads(json.dumps(described)) == described
    assert described["date_of_birth_raw"] == birth
    if person.date_of_birth is not None:
        assert described["date_of_birth"] == person.date_of_birth.isoformat()
