"""The 12-digit personal identification number (DOMAIN.md §2).

Known answers come from the legal texts named in each test, and from the checked MRZ example of
DOMAIN.md §3 (ID 001093047064, male, born 1993).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cardkit.errors import RecordError
from cardkit.records.idnumber import (
    COUNTRY_CODES,
    PROVINCE_CODES,
    IdNumber,
    century_sex_digit,
    place_name,
)
from cardkit.records.model import Sex


def test_province_table_is_circular_07_2016_annex_i() -> None:
    # Circular 07/2016/TT-BCA Annex I lists 63 provinces, codes with a leading zero.
    assert len(PROVINCE_CODES) == 63
    assert all(len(c) == 3 and c.isdigit() and c[0] == "0" for c in PROVINCE_CODES)
    # Examples quoted by Circular 59/2021/TT-BCA art. 4: "Hà Nội là 001, TP.HCM là 079".
    assert PROVINCE_CODES["001"] == "Hà Nội"
    assert PROVINCE_CODES["079"] == "Hồ Chí Minh"
    # First and last rows of the annex, and codes that the annex skips.
    assert PROVINCE_CODES["002"] == "Hà Giang"
    assert PROVINCE_CODES["096"] == "Cà Mau"
    for gap in ("003", "005", "097", "000"):
        assert place_name(gap) is None
    assert len(set(PROVINCE_CODES.values())) == 63


def test_country_codes_are_a_documented_gap() -> None:
    assert COUNTRY_CODES == {}


def test_domain_example() -> None:
    # DOMAIN.md §3: 001093047064, male, born 5 Jan 1993 in Hà Nội.
    n = IdNumber.parse("001093047064")
    assert (n.place_code, n.century_sex, n.year_digits, n.serial) == ("001", 0, "93", "047064")
    assert n.sex is Sex.MALE
    assert n.century == 1900
    assert n.birth_year == 1993
    assert n.place == "Hà Nội"


@pytest.mark.parametrize(
    ("year", "sex", "digit"),
    [
        # Circular 59/2021/TT-BCA art. 4: 20th century male 0 / female 1; 21st male 2 / female 3.
        (1900, Sex.MALE, 0),
        (1999, Sex.FEMALE, 1),
        (2000, Sex.MALE, 2),
        (2099, Sex.FEMALE, 3),
        # Circular 07/2016/TT-BCA art. 7: 22nd century 4 / 5, 23rd 6 / 7, 24th 8 / 9.
        (2100, Sex.MALE, 4),
        (2150, Sex.FEMALE, 5),
        (2200, Sex.MALE, 6),
        (2299, Sex.FEMALE, 7),
        (2300, Sex.MALE, 8),
        (2399, Sex.FEMALE, 9),
    ],
)
def test_century_sex_digit(year: int, sex: Sex, digit: int) -> None:
    assert century_sex_digit(year, sex) == digit
    n = IdNumber.parse(f"001{digit}{year % 100:02d}000001")
    assert n.sex is sex
    assert n.birth_year == year


def test_year_digits_example() -> None:
    # Circular 59/2021/TT-BCA art. 4: born 1989 → the 5th and 6th digits are 8 and 9.
    assert IdNumber.parse("079189000123").year_digits == "89"
    assert IdNumber.parse("079189000123").birth_year == 1989


def test_century_out_of_range() -> None:
    with pytest.raises(RecordError):
        century_sex_digit(1899, Sex.MALE)


@given(st.text(alphabet="0123456789", min_size=12, max_size=12))
def test_parse_round_trip(text: str) -> None:
    n = IdNumber.parse(text)
    assert str(n) == text
    assert n.century == 1900 + 100 * (int(text[3]) // 2)
    assert (n.sex is Sex.MALE) == (int(text[3]) % 2 == 0)


@given(st.text(max_size=20).filter(lambda t: not (len(t) == 12 and t.isascii() and t.isdigit())))
def test_parse_rejects_anything_else(text: str) -> None:
    with pytest.raises(RecordError) as info:
        IdNumber.parse(text)
    if len(text) >= 6:
        assert text not in str(info.value)  # never echo the number
