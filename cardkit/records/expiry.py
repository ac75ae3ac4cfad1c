"""A card's date of expiry, from the date of birth and the date of issue.

``vn-renewal-ages`` — Law on Citizen Identification 2014 (Luật Căn cước công dân), art. 21:

1. "Thẻ Căn cước công dân phải được đổi khi công dân đủ 25 tuổi, đủ 40 tuổi và đủ 60 tuổi."
   (the card is renewed when the citizen turns 25, 40 and 60);
2. "Trường hợp thẻ Căn cước công dân được cấp, đổi, cấp lại trong thời hạn 2 năm trước tuổi quy
   định tại khoản 1 Điều này thì vẫn có giá trị sử dụng đến tuổi đổi thẻ tiếp theo." (a card issued
   within 2 years before one of those ages stays valid until the following one).

So a card expires on the citizen's birthday at the first renewal age that is still ahead at issue
and not within ``grace_years`` of it; a card issued within the grace window of the last age (from
58), or from ``no_expiry_from_age`` on, never expires (printed "Không thời hạn").
Boundaries: a card issued *on* the 25th birthday is past that age (valid to 40); a card issued on
the 23rd birthday is inside the two-year window before 25 (valid to 40).

``fixed-years``: the issue date plus ``years`` years.

29 February: in a year without that day the anniversary is **28 February** — the day before the
birthday would fall, so a card never outlives the legal renewal date (1 March would add a day of
validity the law does not give). The same rule applies to ``fixed-years`` from a 29 Feb issue date.
"""

from __future__ import annotations

from datetime import date

from cardkit.profile import ExpirySettings


def anniversary(start: date, years: int) -> date:
    """``start`` plus ``years`` calendar years; 29 Feb becomes 28 Feb in a non-leap year."""
    try:
        return start.replace(year=start.year + years)
    except ValueError:  # only 29 February in a common year
        return date(start.year + years, 2, 28)


def age_on(dob: date, day: date) -> int:
    """Completed years of age on ``day`` (the birthday counts from its anniversary date)."""
    years = day.year - dob.year
    return years if anniversary(dob, years) <= day else years - 1


def compute_expiry(dob: date, issued: date, settings: ExpirySettings) -> date | None:
    """The date of expiry a card issued on ``issued`` to a citizen born ``dob`` must carry.

    None means the card never expires. Raises ValueError when ``issued`` is not after ``dob``
    (the validator reports that as a date-order problem before calling this).
    """
    if issued <= dob:
        raise ValueError("the date of issue must be after the date of birth")
    if settings.rule == "fixed-years":
        return anniversary(issued, settings.years)
    if settings.no_expiry_from_age is not None and issued >= anniversary(
        dob, settings.no_expiry_from_age
    ):
        return None
    for age in settings.renewal_ages:
        due = anniversary(dob, age)
        if issued >= due:
            continue  # this renewal age is already reached
        if issued >= anniversary(dob, age - settings.grace_years):
            continue  # issued within the grace window: valid until the following age
        return due
    return None  # past (or within the window of) the last renewal age: never expires
