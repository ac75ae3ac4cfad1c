"""Expiry rule of the Law on Citizen Identification 2014, art. 21, and the fixed-years rule.

Art. 21(1): the card is renewed at 25, 40 and 60. Art. 21(2): a card issued within 2 years before
one of those ages stays valid until the next one. The worked cases below are read off the law
text (ages at issue → expiry birthday); none is computed by cardkit.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cardkit.profile import ExpirySettings, load_profile
from cardkit.records.expiry import age_on, anniversary, compute_expiry

LAW_2014 = ExpirySettings(
    rule="vn-renewal-ages",
    renewal_ages=(25, 40, 60),
    grace_years=2,
    no_expiry_from_age=58,
    years=10,
    mrz_no_expiry="991231",
)
TEN_YEARS = ExpirySettings("fixed-years", (), 0, None, 10, "<<<<<<")
DOB = date(1990, 6, 15)


def test_shipped_profile_matches_the_law() -> None:
    assert load_profile("vn-cccd-2021").expiry == LAW_2014


@pytest.mark.parametrize(
    ("issued", "expected"),
    [
        (date(2004, 6, 15), date(2015, 6, 15)),  # at 14 → 25th birthday
        (date(2010, 1, 1), date(2015, 6, 15)),  # at 19 → 25
        (date(2013, 6, 14), date(2015, 6, 15)),  # the day before 23 → 25 (not yet in the window)
        (date(2013, 6, 15), date(2030, 6, 15)),  # at 23: within 2 years before 25 → 40
        (date(2015, 6, 14), date(2030, 6, 15)),  # the day before 25 → 40
        (date(2015, 6, 15), date(2030, 6, 15)),  # on the 25th birthday → 40
        (date(2020, 3, 1), date(2030, 6, 15)),  # at 29 → 40
        (date(2028, 6, 14), date(2030, 6, 15)),  # just before 38 → 40
        (date(2028, 6, 15), date(2050, 6, 15)),  # at 38: within 2 years before 40 → 60
        (date(2035, 1, 1), date(2050, 6, 15)),  # at 44 → 60
        (date(2048, 6, 14), date(2050, 6, 15)),  # the day before 58 → 60
        (date(2048, 6, 15), None),  # at 58: within 2 years before 60, no later age → no expiry
        (date(2050, 6, 15), None),  # at 60
        (date(2070, 1, 1), None),  # at 79
    ],
)
def test_renewal_ages(issued: date, expected: date | None) -> None:
    assert compute_expiry(DOB, issued, LAW_2014) == expected


def test_domain_example() -> None:
    # DOMAIN.md §3: born 1993-01-05, expiry 2033-01-05 (the 40th birthday) on a card issued in 2021.
    assert compute_expiry(date(1993, 1, 5), date(2021, 3, 15), LAW_2014) == date(2033, 1, 5)


def test_29_february_becomes_28_february() -> None:
    # Documented choice (cardkit.records.expiry): 28 Feb in a year without 29 Feb.
    leapling = date(2004, 2, 29)
    assert compute_expiry(leapling, date(2021, 5, 20), LAW_2014) == date(2029, 2, 28)
    # 2044 is a leap year: the 40th birthday is the real 29 Feb.
    assert compute_expiry(leapling, date(2030, 1, 1), LAW_2014) == date(2044, 2, 29)
    assert anniversary(leapling, 1) == date(2005, 2, 28)
    assert age_on(leapling, date(2005, 2, 28)) == 1
    assert age_on(leapling, date(2005, 2, 27)) == 0


def test_fixed_years() -> None:
    assert compute_expiry(DOB, date(2020, 3, 4), TEN_YEARS) == date(2030, 3, 4)
    assert compute_expiry(DOB, date(2020, 2, 29), TEN_YEARS) == date(2030, 2, 28)


def test_issue_must_follow_birth() -> None:
    with pytest.raises(ValueError):
        compute_expiry(DOB, DOB, LAW_2014)


@given(
    st.dates(min_value=date(1900, 1, 1), max_value=date(2030, 12, 31)),
    st.integers(min_value=1, max_value=100 * 366),
)
def test_expiry_properties(dob: date, days: int) -> None:
    issued = dob + timedelta(days=days)
    expiry = compute_expiry(dob, issued, LAW_2014)
    age = age_on(dob, issued)
    if expiry is None:
        assert age >= 58
    else:
        assert expiry > issued
        # It is the birthday at a renewal age, and at least two years after the issue.
        assert expiry in {anniversary(dob, a) for a in LAW_2014.renewal_ages}
        assert expiry >= anniversary(issued, 2)  # the grace window guarantees two years
        assert age < 58
