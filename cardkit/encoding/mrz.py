"""The machine readable zone: TD1 (3 × 30, ICAO 9303-5) and TD3 (2 × 44, ICAO 9303-4).

Check digits follow ICAO 9303-3 §4.9 (weights 7-3-1, ``<`` = 0, ``A``–``Z`` = 10–35). The
dataclasses hold the *content* of the zone; the check digits are always computed from it, so a
value can never carry a wrong one. :meth:`Td1.parse` / :meth:`Td3.parse` verify every check
digit and raise :class:`MrzError` on the first failure; :func:`check` reports all of them.

The MRZ is a secret: the document number, date of birth and date of expiry derive the BAC keys
(9303-11 §4.3). Error messages therefore name the field and its position, never its content, and
the dataclasses leave those fields out of their ``repr``.

The Vietnamese CCCD layout (DOMAIN.md §3) is a TD1 whose document number is the last 9 digits of
the 12-digit ID number and whose line-1 optional data holds the whole ID number, ``<<`` and the
ID number's check digit: see :func:`build_vn_td1` and :attr:`Td1.vn_id_number`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from cardkit.encoding.translit import FILLER, mrz_name, split_vietnamese_name
from cardkit.errors import EncodingError

TD1_WIDTH = 30
TD3_WIDTH = 44
TD1_NAME_WIDTH = 30
TD3_NAME_WIDTH = 39

_VALUES: dict[str, int] = {str(d): d for d in range(10)}
_VALUES.update({chr(ord("A") + i): 10 + i for i in range(26)})
_VALUES[FILLER] = 0
_WEIGHTS = (7, 3, 1)

_FIELD_CHARS = re.compile(r"[A-Z0-9<]*")
_CODE_CHARS = re.compile(r"[A-Z<]+")
_VN_OPTIONAL = re.compile(r"(\d{12})<<(\d)")

#: The longest TD1 document number: 9 principal characters and an overflow that, with its check
#: digit and a filler, still fits the 15 positions of optional data (9303-5 §4.2.4: the last
#: character of the number is in positions 16–28).
TD1_MAX_DOCUMENT_NUMBER = 9 + 13


class MrzError(EncodingError):
    """An MRZ that cannot be read or a field that cannot be written.

    ``field`` names the data element (``"date_of_birth"``, ``"composite"``, ``"format"``, ...);
    the message names the field and the position, never the MRZ content.
    """

    def __init__(self, message: str, *, field: str, offset: int | None = None) -> None:
        self.field = field
        super().__init__(message, offset=offset)


@dataclass(frozen=True)
class MrzProblem:
    """One failed check or malformed field, as :func:`check` reports it (positions 1-based)."""

    field: str
    message: str
    line: int | None = None
    position: int | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "field": self.field,
            "line": self.line,
            "position": self.position,
            "message": self.message,
        }


def check_digit(value: str) -> str:
    """The ICAO 9303-3 §4.9 check digit of ``value`` (``A``–``Z``, ``0``–``9`` and ``<``)."""
    total = 0
    for i, ch in enumerate(value):
        weight = _VALUES.get(ch)
        if weight is None:
            raise EncodingError(
                f"check digit: position {i + 1} is not in the MRZ alphabet (ICAO 9303-3 §4.9)",
                offset=i,
            )
        total += weight * _WEIGHTS[i % 3]
    return str(total % 10)


# --------------------------------------------------------------------------- dates


def yymmdd(value: date) -> str:
    """``value`` as the MRZ writes dates (ICAO 9303-3 §4.8): ``YYMMDD``."""
    return f"{value.year % 100:02d}{value.month:02d}{value.day:02d}"


def _split_date(value: str, what: str) -> tuple[int, int, int]:
    if len(value) != 6 or not value.isascii() or not value.isdigit():
        raise EncodingError(f"{what}: expected six digits YYMMDD (ICAO 9303-3 §4.8)")
    return int(value[:2]), int(value[2:4]), int(value[4:])


def parse_birth_date(value: str, today: date) -> date:
    """The date of birth ``YYMMDD``, in the latest century that does not put it after ``today``.

    The MRZ has no century (9303-3 §4.8); a date of birth is never in the future, so ``05`` is
    2005 until that date is reached and 1905 before. Someone over a hundred reads a century late:
    that is inherent in the format.
    """
    yy, mm, dd = _split_date(value, "date of birth")
    for century in (2000, 1900):
        try:
            candidate = date(century + yy, mm, dd)
        except ValueError:
            continue  # 29 February exists in 2000 but not in 1900
        if candidate <= today:
            return candidate
    raise EncodingError("date of birth: not a calendar date on or before today")


def parse_expiry_date(value: str) -> date | None:
    """The date of expiry ``YYMMDD`` in 20YY, or None for ``<<<<<<`` (no expiry date).

    Documents issued from 2000 on expire in this century; the format leaves no other choice.
    """
    if value == FILLER * 6:
        return None
    yy, mm, dd = _split_date(value, "date of expiry")
    try:
        return date(2000 + yy, mm, dd)
    except ValueError:
        raise EncodingError("date of expiry: not a calendar date") from None


# --------------------------------------------------------------------------- field rules
# Each rule returns a message (naming the field, never its value) or None. They are shared by
# the constructors (which raise) and the parser (which collects).


def _bad_date(value: str, what: str, *, expiry: bool) -> str | None:
    """9303-3 §4.8: YYMMDD; unknown parts of a date of birth are fillers; no-expiry is all fillers.

    Day or month ``00`` is accepted: some issuers write an unknown part that way.
    """
    if len(value) != 6:
        return f"{what} must be 6 characters YYMMDD"
    if expiry and value == FILLER * 6:
        return None
    parts = [value[0:2], value[2:4], value[4:6]]
    for index, part in enumerate(parts):
        if part == FILLER * 2 and not expiry:
            continue
        if not (part.isascii() and part.isdigit()):
            return f"{what} must be digits YYMMDD (ICAO 9303-3 §4.8)"
        if index == 1 and int(part) > 12:
            return f"{what} has a month outside 01-12"
        if index == 2 and int(part) > 31:
            return f"{what} has a day outside 01-31"
    if all(p.isdigit() and p != "00" for p in parts[1:]):
        try:
            date(2000 + int(parts[0]), int(parts[1]), int(parts[2]))
        except ValueError:
            # 29 February: a leap year in one of the two centuries is enough.
            try:
                date(1900 + int(parts[0]), int(parts[1]), int(parts[2]))
            except ValueError:
                return f"{what} is not a calendar date"
    return None


def _bad_sex(value: str) -> str | None:
    if value not in ("M", "F", FILLER):
        return "sex must be M, F or < (unspecified) (ICAO 9303-5 §4.2.2.2)"
    return None


def _bad_state(value: str, what: str) -> str | None:
    if len(value) != 3 or not _CODE_CHARS.fullmatch(value) or value[0] == FILLER:
        return f"{what} must be a three-letter code, fillers after the letters (ICAO 9303-3 §5)"
    return None


def _bad_td1_code(value: str) -> str | None:
    if len(value) != 2 or not _CODE_CHARS.fullmatch(value) or value[0] not in "ACI":
        return "document_code of a TD1 is A, C or I and one letter or < (ICAO 9303-5 note k)"
    if value[1] == "V":
        return "document_code: V is not allowed as the second character (ICAO 9303-5 note k)"
    return None


def _bad_td3_code(value: str) -> str | None:
    if len(value) != 2 or not _CODE_CHARS.fullmatch(value) or value[0] != "P":
        return "document_code of a passport is P and one letter or < (ICAO 9303-4 §4.2.2)"
    return None


def _bad_chars(value: str, what: str) -> str | None:
    if not _FIELD_CHARS.fullmatch(value):
        return f"{what} may hold only A-Z, 0-9 and <"
    return None


def _name_field(primary: str, secondary: str) -> str:
    return primary.replace(" ", FILLER) + (
        FILLER * 2 + secondary.replace(" ", FILLER) if secondary else ""
    )


def _split_name_field(name: str) -> tuple[str, str]:
    """Primary and secondary identifier (components separated by spaces) of an MRZ name field."""
    body = name.rstrip(FILLER)
    cut = body.find(FILLER * 2)
    if cut < 0:
        return body.replace(FILLER, " "), ""
    return body[:cut].replace(FILLER, " "), body[cut + 2 :].replace(FILLER, " ")


def _bad_name(primary: str, secondary: str, width: int) -> str | None:
    for what, value in (("primary_identifier", primary), ("secondary_identifier", secondary)):
        if not re.fullmatch(r"[A-Z ]*", value):
            return f"{what} may hold only A-Z and spaces between components (ICAO 9303-3 §4.6)"
        if value.endswith(" "):
            return f"{what} must not end with a space"
    if "  " in primary:
        # Two fillers inside the primary identifier would read as the primary/secondary split.
        return "primary_identifier must not contain two consecutive spaces"
    if not primary and not secondary:
        return "the name is empty"
    if len(_name_field(primary, secondary)) > width:
        return f"the name does not fit the {width} positions of the name field (truncate it)"
    return None


def _vn_problem(issuing_state: str, document_number: str, optional_data: str) -> str | None:
    """DOMAIN.md §3: the Vietnamese layout's own check digit and document number."""
    match = _VN_OPTIONAL.fullmatch(optional_data)
    if issuing_state != "VNM" or match is None:
        return None
    if check_digit(match.group(1)) != match.group(2):
        return "the ID number's check digit (line 1 position 30) does not match (DOMAIN.md §3)"
    if document_number != match.group(1)[3:]:
        return "document_number is not the last 9 digits of the ID number (DOMAIN.md §3)"
    return None


def _raise(message: str | None, what: str) -> None:
    if message is not None:
        raise MrzError(message, field=what)


def _td1_document_problems(document_number: str, optional_data: str) -> str | None:
    if not document_number:
        return "document_number is empty"
    bad = _bad_chars(document_number, "document_number") or _bad_chars(
        optional_data, "optional_data"
    )
    if bad:
        return bad
    if len(document_number) > TD1_MAX_DOCUMENT_NUMBER:
        return f"document_number is longer than {TD1_MAX_DOCUMENT_NUMBER} characters"
    if len(document_number) > 9:
        if FILLER in document_number:
            return "a long document_number (over 9 characters) must not contain fillers"
        used = len(document_number) - 9 + 2
        if used + len(optional_data) > 15:
            return "the long document_number and optional_data together exceed 15 positions"
    elif len(optional_data) > 15:
        return "optional_data is longer than 15 characters"
    return None


# --------------------------------------------------------------------------- TD1


@dataclass(frozen=True, kw_only=True)
class Td1:
    """A TD1 MRZ (ICAO 9303-5 §4.2.2): three lines of 30 characters.

    Text fields are in the MRZ alphabet. ``document_number`` and the optional data are kept
    without their trailing fillers (which are padding); identifiers keep their components
    separated by single spaces (``"ANNA MARIA"``). A ``document_number`` over 9 characters is
    written with the 9303-5 note j rule: its first 9 characters in positions 6–14, ``<`` in 15,
    the rest at the start of the optional data followed by the check digit and a filler.
    ``optional_data`` is what follows that.
    """

    document_code: str
    issuing_state: str
    document_number: str = field(repr=False)
    optional_data: str = field(default="", repr=False)
    date_of_birth: str = field(repr=False)
    sex: str
    date_of_expiry: str = field(repr=False)
    nationality: str
    primary_identifier: str = field(repr=False)
    secondary_identifier: str = field(default="", repr=False)
    optional_data_2: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        for name in ("document_number", "optional_data", "optional_data_2"):
            object.__setattr__(self, name, getattr(self, name).rstrip(FILLER))
        _raise(_bad_td1_code(self.document_code), "document_code")
        _raise(_bad_state(self.issuing_state, "issuing_state"), "issuing_state")
        _raise(_td1_document_problems(self.document_number, self.optional_data), "document_number")
        _raise(_bad_date(self.date_of_birth, "date_of_birth", expiry=False), "date_of_birth")
        _raise(_bad_sex(self.sex), "sex")
        _raise(_bad_date(self.date_of_expiry, "date_of_expiry", expiry=True), "date_of_expiry")
        _raise(_bad_state(self.nationality, "nationality"), "nationality")
        _raise(_bad_chars(self.optional_data_2, "optional_data_2"), "optional_data_2")
        if len(self.optional_data_2) > 11:
            _raise("optional_data_2 is longer than 11 characters", "optional_data_2")
        _raise(
            _bad_name(self.primary_identifier, self.secondary_identifier, TD1_NAME_WIDTH), "name"
        )
        _raise(
            _vn_problem(self.issuing_state, self.document_number, self.optional_data),
            "vn_id_number",
        )

    @functools.cached_property  # computed once: DG1, the MRZ printer and BAC all ask for it
    def lines(self) -> tuple[str, str, str]:
        """The three lines, check digits computed (9303-5 §4.2.4)."""
        doc = self.document_number
        if len(doc) <= 9:
            principal = doc.ljust(9, FILLER)
            doc_check = check_digit(principal)
            optional = self.optional_data
        else:
            # 9303-5 note j: the check digit covers positions 6–14 and the overflow, not 15.
            principal = doc[:9]
            doc_check = FILLER
            optional = doc[9:] + check_digit(doc) + FILLER + self.optional_data
        line1 = (
            self.document_code
            + self.issuing_state
            + principal
            + doc_check
            + optional.ljust(15, FILLER)
        )
        line2 = (
            self.date_of_birth
            + check_digit(self.date_of_birth)
            + self.sex
            + self.date_of_expiry
            + check_digit(self.date_of_expiry)
            + self.nationality
            + self.optional_data_2.ljust(11, FILLER)
        )
        line2 += check_digit(_td1_composite(line1, line2))
        line3 = _name_field(self.primary_identifier, self.secondary_identifier).ljust(
            TD1_NAME_WIDTH, FILLER
        )
        return line1, line2, line3

    def __str__(self) -> str:
        return "\n".join(self.lines)

    @property
    def vn_id_number(self) -> str | None:
        """The 12-digit ID number when the optional data has the CCCD layout (DOMAIN.md §3)."""
        match = _VN_OPTIONAL.fullmatch(self.optional_data)
        if match is None or len(self.document_number) != 9:
            return None
        if check_digit(match.group(1)) != match.group(2):
            return None
        if self.document_number != match.group(1)[3:]:
            return None
        return match.group(1)

    @classmethod
    def parse(cls, text: str) -> Td1:
        """Read a TD1 MRZ (3 lines, or 90 characters in one line); every check digit verified."""
        result = _analyse(text)
        if not isinstance(result, Td1):
            raise MrzError("format: a TD1 MRZ is 3 lines of 30 characters", field="format")
        return result


def _td1_composite(line1: str, line2: str) -> str:
    # 9303-5 §4.2.4: upper line 6–30, middle line 1–7, 9–15, 19–29.
    return line1[5:30] + line2[0:7] + line2[8:15] + line2[18:29]


# --------------------------------------------------------------------------- TD3


@dataclass(frozen=True, kw_only=True)
class Td3:
    """A TD3 MRZ (ICAO 9303-4 §4.2.2): two lines of 44 characters.

    ``optional_data`` is the personal number / optional data field (14 positions, line 2
    positions 29–42). Conventions as for :class:`Td1`.
    """

    document_code: str
    issuing_state: str
    document_number: str = field(repr=False)
    optional_data: str = field(default="", repr=False)
    date_of_birth: str = field(repr=False)
    sex: str
    date_of_expiry: str = field(repr=False)
    nationality: str
    primary_identifier: str = field(repr=False)
    secondary_identifier: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        for name in ("document_number", "optional_data"):
            object.__setattr__(self, name, getattr(self, name).rstrip(FILLER))
        _raise(_bad_td3_code(self.document_code), "document_code")
        _raise(_bad_state(self.issuing_state, "issuing_state"), "issuing_state")
        if not self.document_number:
            _raise("document_number is empty", "document_number")
        _raise(_bad_chars(self.document_number, "document_number"), "document_number")
        if len(self.document_number) > 9:
            _raise("document_number of a TD3 has at most 9 characters", "document_number")
        _raise(_bad_chars(self.optional_data, "optional_data"), "optional_data")
        if len(self.optional_data) > 14:
            _raise("optional_data (personal number) is longer than 14 characters", "optional_data")
        _raise(_bad_date(self.date_of_birth, "date_of_birth", expiry=False), "date_of_birth")
        _raise(_bad_sex(self.sex), "sex")
        _raise(_bad_date(self.date_of_expiry, "date_of_expiry", expiry=True), "date_of_expiry")
        _raise(_bad_state(self.nationality, "nationality"), "nationality")
        _raise(
            _bad_name(self.primary_identifier, self.secondary_identifier, TD3_NAME_WIDTH), "name"
        )

    @functools.cached_property
    def lines(self) -> tuple[str, str]:
        """The two lines, check digits computed (9303-4 §4.2.4)."""
        line1 = (
            self.document_code
            + self.issuing_state
            + _name_field(self.primary_identifier, self.secondary_identifier).ljust(
                TD3_NAME_WIDTH, FILLER
            )
        )
        number = self.document_number.ljust(9, FILLER)
        optional = self.optional_data.ljust(14, FILLER)
        line2 = (
            number
            + check_digit(number)
            + self.nationality
            + self.date_of_birth
            + check_digit(self.date_of_birth)
            + self.sex
            + self.date_of_expiry
            + check_digit(self.date_of_expiry)
            + optional
            + check_digit(optional)  # "0" for an empty field, as in 9303-3 Appendix A example 3
        )
        line2 += check_digit(_td3_composite(line2))
        return line1, line2

    def __str__(self) -> str:
        return "\n".join(self.lines)

    @classmethod
    def parse(cls, text: str) -> Td3:
        """Read a TD3 MRZ (2 lines, or 88 characters in one line); every check digit verified."""
        result = _analyse(text)
        if not isinstance(result, Td3):
            raise MrzError("format: a TD3 MRZ is 2 lines of 44 characters", field="format")
        return result


def _td3_composite(line2: str) -> str:
    # 9303-4 §4.2.4: lower line 1–10, 14–20, 22–43.
    return line2[0:10] + line2[13:20] + line2[21:43]


# --------------------------------------------------------------------------- reading


class _Collector:
    """Problems found while reading, with positions; the MRZ content never enters a message."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.problems: list[MrzProblem] = []

    def add(self, what: str, message: str | None, line: int, position: int) -> None:
        if message is not None:
            where = f" (line {line}, position {position})"
            self.problems.append(MrzProblem(what, message + where, line, position))

    def digit(self, what: str, data: str, found: str, line: int, position: int) -> None:
        if check_digit(data) != found:
            self.add(
                what,
                f"{what}: check digit does not match (ICAO 9303-3 §4.9)",
                line,
                position,
            )


def _split_text(text: str) -> tuple[list[str], MrzProblem | None]:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if len(lines) == 1 and len(lines[0]) in (3 * TD1_WIDTH, 2 * TD3_WIDTH):
        width = TD1_WIDTH if len(lines[0]) == 3 * TD1_WIDTH else TD3_WIDTH
        one = lines[0]
        lines = [one[i : i + width] for i in range(0, len(one), width)]
    shapes = {(3, TD1_WIDTH), (2, TD3_WIDTH)}
    if not lines or (len(lines), len(lines[0])) not in shapes or len({len(x) for x in lines}) != 1:
        return lines, MrzProblem(
            "format",
            "format: expected a TD1 MRZ (3 lines of 30 characters, or 90 in one line) or a TD3 "
            "MRZ (2 lines of 44, or 88 in one line)",
        )
    return lines, None


def _analyse_lines(lines: list[str]) -> tuple[Td1 | Td3 | None, list[MrzProblem]]:
    width = len(lines[0])
    found = _Collector(width)
    for n, line in enumerate(lines, start=1):
        for p, ch in enumerate(line, start=1):
            if ch not in _VALUES:
                found.add("format", "character not in the MRZ alphabet (A-Z, 0-9, <)", n, p)
    if found.problems:
        return None, found.problems
    build: Callable[[], Td1 | Td3]
    build = _read_td1(lines, found) if width == TD1_WIDTH else _read_td3(lines, found)
    if found.problems:
        return None, found.problems
    try:
        return build(), []
    except MrzError as exc:  # a rule the constructor checks and the reader did not position
        return None, [MrzProblem(exc.field, str(exc))]


def _read_td1(lines: list[str], found: _Collector) -> Callable[[], Td1]:
    line1, line2, line3 = lines
    found.add("document_code", _bad_td1_code(line1[0:2]), 1, 1)
    found.add("issuing_state", _bad_state(line1[2:5], "issuing_state"), 1, 3)
    principal, doc_check, optional = line1[5:14], line1[14], line1[15:30]
    if doc_check == FILLER:
        # 9303-5 note j: long document number, continued in the optional data.
        end = optional.find(FILLER)
        if FILLER in principal or end < 2:
            found.add(
                "document_number",
                "document_number: position 15 announces a long number (ICAO 9303-5 note j) but "
                "the number does not continue into the optional data with a check digit and <",
                1,
                15,
            )
            number, rest = principal.rstrip(FILLER), optional
        else:
            number = principal + optional[: end - 1]
            found.digit("document_number", number, optional[end - 1], 1, 15 + end)
            rest = optional[end + 1 :]
    else:
        found.digit("document_number", principal, doc_check, 1, 15)
        number, rest = principal.rstrip(FILLER), optional
    if not number:
        found.add("document_number", "document_number is empty", 1, 6)
    found.add("date_of_birth", _bad_date(line2[0:6], "date_of_birth", expiry=False), 2, 1)
    found.digit("date_of_birth", line2[0:6], line2[6], 2, 7)
    found.add("sex", _bad_sex(line2[7]), 2, 8)
    found.add("date_of_expiry", _bad_date(line2[8:14], "date_of_expiry", expiry=True), 2, 9)
    found.digit("date_of_expiry", line2[8:14], line2[14], 2, 15)
    found.add("nationality", _bad_state(line2[15:18], "nationality"), 2, 16)
    found.digit("composite", _td1_composite(line1, line2), line2[29], 2, 30)
    primary, secondary = _split_name_field(line3)
    found.add("name", _bad_name(primary, secondary, TD1_NAME_WIDTH), 3, 1)
    found.add("vn_id_number", _vn_problem(line1[2:5], number, rest.rstrip(FILLER)), 1, 16)

    def build() -> Td1:
        return Td1(
            document_code=line1[0:2],
            issuing_state=line1[2:5],
            document_number=number,
            optional_data=rest,
            date_of_birth=line2[0:6],
            sex=line2[7],
            date_of_expiry=line2[8:14],
            nationality=line2[15:18],
            primary_identifier=primary,
            secondary_identifier=secondary,
            optional_data_2=line2[18:29],
        )

    return build


def _read_td3(lines: list[str], found: _Collector) -> Callable[[], Td3]:
    line1, line2 = lines
    found.add("document_code", _bad_td3_code(line1[0:2]), 1, 1)
    found.add("issuing_state", _bad_state(line1[2:5], "issuing_state"), 1, 3)
    primary, secondary = _split_name_field(line1[5:44])
    found.add("name", _bad_name(primary, secondary, TD3_NAME_WIDTH), 1, 6)
    number = line2[0:9].rstrip(FILLER)
    if not number:
        found.add("document_number", "document_number is empty", 2, 1)
    found.digit("document_number", line2[0:9], line2[9], 2, 10)
    found.add("nationality", _bad_state(line2[10:13], "nationality"), 2, 11)
    found.add("date_of_birth", _bad_date(line2[13:19], "date_of_birth", expiry=False), 2, 14)
    found.digit("date_of_birth", line2[13:19], line2[19], 2, 20)
    found.add("sex", _bad_sex(line2[20]), 2, 21)
    found.add("date_of_expiry", _bad_date(line2[21:27], "date_of_expiry", expiry=True), 2, 22)
    found.digit("date_of_expiry", line2[21:27], line2[27], 2, 28)
    optional = line2[28:42]
    # 9303-4 §4.2.2.2: with an all-filler personal number the check digit may be < or 0.
    if not (optional == FILLER * 14 and line2[42] == FILLER):
        found.digit("optional_data", optional, line2[42], 2, 43)
    found.digit("composite", _td3_composite(line2), line2[43], 2, 44)

    def build() -> Td3:
        return Td3(
            document_code=line1[0:2],
            issuing_state=line1[2:5],
            document_number=number,
            optional_data=optional,
            date_of_birth=line2[13:19],
            sex=line2[20],
            date_of_expiry=line2[21:27],
            nationality=line2[10:13],
            primary_identifier=primary,
            secondary_identifier=secondary,
        )

    return build


def _analyse(text: str) -> Td1 | Td3:
    lines, shape = _split_text(text)
    if shape is not None:
        raise MrzError(shape.message, field=shape.field)
    value, problems = _analyse_lines(lines)
    if value is None:
        first = problems[0]
        offset = None
        if first.line is not None and first.position is not None:
            offset = (first.line - 1) * len(lines[0]) + first.position - 1
        raise MrzError(first.message, field=first.field, offset=offset)
    return value


def parse_mrz(text: str) -> Td1 | Td3:
    """Read a TD1 or TD3 MRZ, chosen by its shape; :class:`MrzError` on the first problem."""
    return _analyse(text)


def check(text: str) -> list[MrzProblem]:
    """Every problem of an MRZ at once (empty when it is valid): bad characters, malformed
    fields, failed check digits. Never raises on any text."""
    lines, shape = _split_text(text)
    if shape is not None:
        return [shape]
    return _analyse_lines(lines)[1]


# --------------------------------------------------------------------------- building


def _date_field(value: date | str | None) -> str:
    if value is None:
        return FILLER * 6
    if isinstance(value, date):
        return yymmdd(value)
    return value


def _sex_field(value: str) -> str:
    # The VIZ writes X for unspecified; the MRZ writes < (9303-5 note f).
    return FILLER if value.upper() in ("X", FILLER) else value.upper()


def _text_field(value: str) -> str:
    # "Spaces shall be replaced by filler characters" (9303-5 §4.2.2.1).
    return value.strip().upper().replace(" ", FILLER)


def build_td1(
    *,
    issuing_state: str,
    document_number: str,
    date_of_birth: date | str,
    sex: str,
    date_of_expiry: date | str | None,
    nationality: str,
    primary_identifier: str,
    secondary_identifier: str = "",
    document_code: str = "I<",
    optional_data: str = "",
    optional_data_2: str = "",
) -> Td1:
    """A TD1 from its components; names are transliterated and truncated (9303-3 §4.6, §6).

    Dates are :class:`~datetime.date` or ``YYMMDD`` text; ``None`` as the date of expiry writes
    ``<<<<<<``.
    """
    name = mrz_name(primary_identifier, secondary_identifier, TD1_NAME_WIDTH)
    primary, secondary = _split_name_field(name)
    return Td1(
        document_code=document_code.upper(),
        issuing_state=issuing_state.upper(),
        document_number=_text_field(document_number),
        optional_data=_text_field(optional_data),
        date_of_birth=_date_field(date_of_birth),
        sex=_sex_field(sex),
        date_of_expiry=_date_field(date_of_expiry),
        nationality=nationality.upper(),
        primary_identifier=primary,
        secondary_identifier=secondary,
        optional_data_2=_text_field(optional_data_2),
    )


def build_td3(
    *,
    issuing_state: str,
    document_number: str,
    date_of_birth: date | str,
    sex: str,
    date_of_expiry: date | str | None,
    nationality: str,
    primary_identifier: str,
    secondary_identifier: str = "",
    document_code: str = "P<",
    optional_data: str = "",
) -> Td3:
    """A TD3 from its components; names are transliterated and truncated (9303-3 §4.6, §6)."""
    name = mrz_name(primary_identifier, secondary_identifier, TD3_NAME_WIDTH)
    primary, secondary = _split_name_field(name)
    return Td3(
        document_code=document_code.upper(),
        issuing_state=issuing_state.upper(),
        document_number=_text_field(document_number),
        optional_data=_text_field(optional_data),
        date_of_birth=_date_field(date_of_birth),
        sex=_sex_field(sex),
        date_of_expiry=_date_field(date_of_expiry),
        nationality=nationality.upper(),
        primary_identifier=primary,
        secondary_identifier=secondary,
    )


def build_vn_td1(
    id_number: str,
    full_name: str,
    date_of_birth: date,
    sex: str,
    date_of_expiry: date | None,
    no_expiry: str = "991231",
    issuing_state: str = "VNM",
    document_code: str = "ID",
    nationality: str = "VNM",
) -> Td1:
    """The TD1 of a Vietnamese CCCD (DOMAIN.md §3).

    Line 1: ``ID`` ``VNM``, the last 9 digits of the 12-digit ID number and their check digit,
    then the optional data: the 12 digits, ``<<`` and the ID number's check digit (position 30).
    The name is ``SURNAME<<GIVEN<NAMES``: the first word of ``full_name`` is the surname.
    ``date_of_expiry`` None (a card that never expires) writes ``no_expiry``, the profile's
    ``mrz_no_expiry``.
    """
    if len(id_number) != 12 or not id_number.isascii() or not id_number.isdigit():
        raise MrzError("id_number must be 12 digits (DOMAIN.md §2)", field="id_number")
    expiry = yymmdd(date_of_expiry) if date_of_expiry is not None else no_expiry
    surname, given = split_vietnamese_name(full_name)
    return build_td1(
        document_code=document_code,
        issuing_state=issuing_state,
        document_number=id_number[3:],
        optional_data=id_number + FILLER * 2 + check_digit(id_number),
        date_of_birth=date_of_birth,
        sex=sex,
        date_of_expiry=expiry,
        nationality=nationality,
        primary_identifier=surname,
        secondary_identifier=given,
    )
