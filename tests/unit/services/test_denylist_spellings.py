"""Deny lists match the way people write numbers (issue 11, item 8; cardkit.services.denylist).

An entry matches the 12-digit ID number, the 9-digit document number (its last 9 digits) or the
old 9-digit ID number (DOMAIN.md §2-§4), however it was typed or mangled by a spreadsheet, and
never another citizen's number. Example numbers: DOMAIN.md §3 (ID 001093047064).
"""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from cardkit.services.denylist import DenyEntry, DenyList, canonical_number, normalise_number

ID_NUMBER = "001093047064"
DOCUMENT_NUMBER = "093047064"


def _matches(entry: str, *card_numbers: str | None) -> bool:
    return DenyList.of([DenyEntry(entry)]).lookup(*card_numbers) is not None


# --- every spelling in the issue -------------------------------------------------------------

ID_SPELLINGS = [
    "001093047064",
    "01093047064",  # one zero dropped by a spreadsheet: the 12-digit number it came from
    "1093047064",  # both zeros dropped
    "'001093047064",  # the spreadsheet's text-cell apostrophe
    "001 093 047 064",
    "  001093047064  ",
    "001\u00a0093\u00a0047\u00a0064",  # NBSP
    "001\u202f093\u202f047\u202f064",  # narrow NBSP (French-style grouping)
    "001.093.047.064",
    "001-093-047-064",
    "001\u2011093\u2011047\u2011064",  # non-breaking hyphen
    "001\u2013093\u2013047\u2013064",  # en dash
    "001\u2212093\u2212047\u2212064",  # minus sign
    "001_093_047_064",
    "001/093/047/064",
    "001\u200b093047064",  # zero-width space
    "0010930\u00ad47064",  # soft hyphen
    "\ufeff001093047064",  # a BOM pasted along
    "001\t093\t047\t064",
    "００１０９３０４７０６４",  # full-width digits (Vietnamese IMEs type these)
    "００１　０９３　０４７　０６４",  # full-width digits and ideographic spaces
    "１０９３０４７０６４",  # full-width, zeros dropped
    "001093047064<<",  # MRZ fillers
]

DOCUMENT_SPELLINGS = [
    "093047064",
    "93047064",  # the leading zero dropped
    "093 047 064",
    "093.047.064",
    "093-047-064",
    "093047064<",  # as in the MRZ's document number field
    "０９３０４７０６４",
    "'093047064",
]


@pytest.mark.parametrize("spelling", ID_SPELLINGS)
def test_id_number_spellings_match_the_id(spelling: str) -> None:
    assert canonical_number(spelling) == canonical_number(ID_NUMBER) == "1093047064"
    assert _matches(spelling, ID_NUMBER)
    assert _matches(ID_NUMBER, spelling)
    # As the verifier calls it: document number first, then the ID number (twice).
    assert _matches(spelling, DOCUMENT_NUMBER, ID_NUMBER, ID_NUMBER)


@pytest.mark.parametrize("spelling", ID_SPELLINGS)
def test_id_number_spellings_do_not_match_the_document_number_alone(spelling: str) -> None:
    # 002093047064 is another citizen with the same document number 093047064.
    assert not _matches(spelling, DOCUMENT_NUMBER)
    assert not _matches(spelling, DOCUMENT_NUMBER, "002093047064")


@pytest.mark.parametrize("spelling", DOCUMENT_SPELLINGS)
def test_document_number_spellings_match_the_document_number(spelling: str) -> None:
    assert canonical_number(spelling) == canonical_number(DOCUMENT_NUMBER) == "93047064"
    assert _matches(spelling, DOCUMENT_NUMBER)
    assert _matches(spelling, DOCUMENT_NUMBER, ID_NUMBER, ID_NUMBER)
    assert not _matches(spelling, ID_NUMBER)


def test_the_old_id_number_matches_as_a_nine_digit_number() -> None:
    # DG13 field 15 (DOMAIN.md §4): the verifier passes it after the other numbers.
    assert _matches("012 345 678", DOCUMENT_NUMBER, ID_NUMBER, ID_NUMBER, "012345678")
    assert _matches("12345678", None, None, None, "012345678")


@pytest.mark.parametrize(
    "spelling", ["C01X00T47", "c01x00t47", "C01 X00 T47", "Ｃ０１Ｘ００Ｔ４７"]
)
def test_alphanumeric_numbers_compare_exactly_after_normalising(spelling: str) -> None:
    assert _matches(spelling, "C01X00T47")
    assert not _matches(spelling, "C1X00T47")  # no zeros dropped in an alphanumeric number
    assert not _matches("0C01X00T47", "C01X00T47")


def test_a_12_digit_string_starting_000_is_not_a_nine_digit_number() -> None:
    # No ID starts with 000 (DOMAIN.md §2); such a string must not match document numbers.
    assert not _matches("000093047064", DOCUMENT_NUMBER)
    assert not _matches(DOCUMENT_NUMBER, "000093047064")
    assert _matches("0093047064", "000093047064")  # but it is still itself, zeros dropped


def test_more_than_12_digits_compare_exactly() -> None:
    assert _matches("0001093047064", "0001093047064")
    assert not _matches("0001093047064", ID_NUMBER)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("0930470é4", "character"),  # a letter with a diacritic
        ("Đ93047064", "character"),
        ("09304?064", "character"),
        ("0930470641,", "character"),
        ("ß12345678", "character"),  # upper-casing would make "SS12345678" of it
        ("٠٩٣٠٤٧٠٦٤", "character"),  # Arabic-Indic digits: not MRZ characters
        ("123456789012345678901", "longer than 20"),
        ("1" * 300, "longer than 20"),
        ("- . <", "nothing is left"),
        ("1093047064.0", "decimal"),  # would otherwise be 10930470640, another ID
        ("93047064.00", "decimal"),
    ],
)
def test_what_cannot_be_normalised_is_rejected(text: str, reason: str) -> None:
    assert canonical_number(text) is None
    deny = DenyList.of([DenyEntry(text)])
    assert len(deny) == 0
    (rejected,) = deny.rejected
    assert reason in rejected.reason and rejected.text == text


def test_normalise_number_removes_separators_and_upper_cases() -> None:
    assert normalise_number(" 'c01-x00\u00a0t47<< ") == "C01X00T47"
    assert normalise_number("００１.０９３") == "001093"
    assert normalise_number("") == ""


# --- properties ------------------------------------------------------------------------------

SEPARATORS = [
    " ", "\u00a0", "\u202f", "\u2009", "\u3000", "\t", ".", "\uff0e", "-", "\u2010", "\u2011",
    "\u2013", "\u2014", "\u2212", "\uff0d", "<", "_", "/", "\u200b", "\u00ad", "\u2060",
]  # fmt: skip

provinces = st.integers(1, 96).map(lambda p: f"{p:03d}")
id_numbers = st.builds(
    lambda ppp, rest: ppp + rest, provinces, st.text("0123456789", min_size=9, max_size=9)
)
nine_digits = st.text("0123456789", min_size=9, max_size=9)  # document or old ID numbers
passports = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=6, max_size=9).filter(
    lambda n: not n.isdigit()
)
numbers = st.one_of(id_numbers, nine_digits, passports)


def _fullwidth(ch: str) -> str:
    return chr(ord(ch) + 0xFEE0)  # U+FF10 FULLWIDTH DIGIT ZERO, U+FF21 FULLWIDTH LATIN A


@st.composite
def spellings(draw: st.DrawFn, number: str) -> str:
    """``number`` as a person or a spreadsheet might write it."""
    if number.isdigit():
        zeros = len(number) - len(number.lstrip("0"))
        number = number[draw(st.integers(0, min(zeros, len(number) - 1))) :]
    out = []
    for ch in number:
        style = draw(st.sampled_from(["plain", "fullwidth", "lower"]))
        ch = _fullwidth(ch) if style == "fullwidth" else ch.lower() if style == "lower" else ch
        out.append(draw(st.lists(st.sampled_from(SEPARATORS), max_size=2)))
        out.append([ch])
    text = "".join("".join(part) for part in out)
    if draw(st.booleans()):
        text = "'" + text
    text = draw(st.sampled_from(["", " ", "\u00a0"])) + text + draw(st.sampled_from(["", "<<"]))
    # "1093047064.0" is refused on purpose (a float export); a spelling may form it by chance.
    assume(not re.fullmatch(r"'?[0-9]+\.0{1,2}", unicodedata.normalize("NFKC", text).strip()))
    return text


any_text = st.text(
    st.one_of(st.characters(), st.characters(categories=["Cs"]), st.sampled_from(SEPARATORS))
)


@given(any_text)
def test_normalise_number_never_raises(text: str) -> None:
    assert isinstance(normalise_number(text), str)
    key = canonical_number(text)
    if key is not None:
        assert re.fullmatch("[A-Z0-9]{1,20}", key)
        assert canonical_number(key) == key


@given(st.text(max_size=5000))
def test_canonical_number_of_long_text_never_raises(text: str) -> None:
    canonical_number(text * 3)


@given(
    st.lists(st.one_of(st.none(), any_text, numbers), max_size=6),
    st.lists(st.one_of(any_text, numbers), max_size=6),
)
def test_lookup_never_raises(candidates: list[str | None], listed: list[str]) -> None:
    deny = DenyList.of(DenyEntry(number) for number in listed)
    entry = deny.lookup(*candidates)
    assert entry is None or entry in deny.entries.values()
    assert len(deny) + len(deny.rejected) <= len(listed)


@given(st.data(), numbers)
def test_every_spelling_matches_the_number(data: st.DataObject, number: str) -> None:
    spelling = data.draw(spellings(number))
    assert _matches(spelling, number)
    assert _matches(number, spelling)
    assert spelling in DenyList.of([DenyEntry(number)])


@given(st.data(), id_numbers)
def test_a_listed_id_matches_the_card(data: st.DataObject, id_number: str) -> None:
    spelling = data.draw(spellings(id_number))
    assert _matches(spelling, id_number[3:], id_number, id_number)


@given(st.data(), numbers, numbers)
def test_a_different_number_does_not_match(data: st.DataObject, listed: str, other: str) -> None:
    assume(canonical_number(listed) != canonical_number(other))
    assert not _matches(data.draw(spellings(listed)), other)
    assert not _matches(listed, data.draw(spellings(other)))


@given(st.data(), id_numbers, nine_digits)
def test_nine_digit_numbers_and_ids_never_match(
    data: st.DataObject, id_number: str, nine: str
) -> None:
    # Even when the 9 digits are the ID's own last 9 (then they are a document number, which
    # the verifier passes separately): dropping zeros keeps the two kinds apart.
    for nine_digit in (nine, id_number[3:]):
        assert not _matches(data.draw(spellings(nine_digit)), id_number)
        assert not _matches(data.draw(spellings(id_number)), nine_digit)


@given(st.data(), id_numbers, st.integers(1, 96))
def test_another_citizen_with_the_same_document_number(
    data: st.DataObject, id_number: str, province: int
) -> None:
    other = f"{province:03d}" + id_number[3:]
    assume(other != id_number)
    # The other card carries the same document number; the listed ID must not catch it.
    assert not _matches(data.draw(spellings(id_number)), other[3:], other, other)
