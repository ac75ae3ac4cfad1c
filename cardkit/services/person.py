"""The holder's details as a chip states them (:class:`PersonalData`), for
:attr:`cardkit.services.verify.Inspection.person` and scripts.

Dates are :class:`datetime.date` values and sex a :class:`Sex`, with the strings exactly as the
chip encodes them kept beside them (``*_raw``, ``sex_raw``): DG13 writes ``dd/mm/yyyy`` and
"Nam"/"Nữ" (DOMAIN.md §4), DG1's MRZ ``YYMMDD`` and ``M``/``F``/``<`` (ICAO 9303-3 §4.8,
9303-4/5 §4.2.2). A value that does not parse is ``None`` with its raw string kept: building a
:class:`PersonalData` never raises on what a hostile chip sends.
"""

from __future__ import annotations

import datetime
import enum
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass, fields
from typing import Literal

from cardkit.encoding.mrz import Td1, parse_birth_date, parse_expiry_date
from cardkit.errors import EncodingError
from cardkit.lds.dg1 import Dg1
from cardkit.lds.dg13 import Dg13
from cardkit.records.model import NO_EXPIRY_TEXT

__all__ = ["PersonalData", "Sex", "dg13_date", "is_no_expiry_text"]

#: The MRZ's own "no date of expiry" (ICAO 9303-3 §4.8: all fillers).
NO_EXPIRY_MRZ = "<<<<<<"


class Sex(enum.Enum):
    """Sex as ICAO 9303-4/5 §4.2.2 states it: ``M``, ``F`` or ``X`` (unspecified; the MRZ
    writes ``<`` for it). The value is the ICAO letter."""

    MALE = "M"
    FEMALE = "F"
    UNSPECIFIED = "X"

    @classmethod
    def from_mrz(cls, text: str | None) -> Sex | None:
        """``M``, ``F``, ``<`` (or ``X``) → a Sex; anything else → None."""
        return _MRZ_SEX.get((text or "").strip().upper())

    @classmethod
    def from_dg13(cls, text: str | None) -> Sex | None:
        """DG13 field 4: "Nam" → MALE, "Nữ" (or "Nu") → FEMALE; anything else → None."""
        word = unicodedata.normalize("NFC", (text or "").strip()).casefold()
        return _DG13_SEX.get(word)


_MRZ_SEX = {"M": Sex.MALE, "F": Sex.FEMALE, "<": Sex.UNSPECIFIED, "X": Sex.UNSPECIFIED}
_DG13_SEX = {"nam": Sex.MALE, "nữ": Sex.FEMALE, "nu": Sex.FEMALE}


@dataclass(frozen=True, kw_only=True)
class PersonalData:
    """The holder's details as the chip states them: from DG13 when it was read and decoded
    (``source`` ``"DG13"``), else from DG1's MRZ (``"DG1"``, the name transliterated).
    Fields the source does not carry are ``None``.

    ``date_of_birth``, ``date_of_issue``, ``date_of_expiry`` are dates (None when absent or not
    a date); ``*_raw`` hold the chip's strings (DG13 ``dd/mm/yyyy``, DG1 ``YYMMDD``).
    ``never_expires`` is True when the card has no date of expiry (DG13 "Không thời hạn", the
    MRZ's ``<<<<<<`` or the profile's placeholder date); ``date_of_expiry`` is then None.
    ``sex`` is a :class:`Sex` (None when the chip's word is not one cardkit knows), ``sex_raw``
    the chip's string ("Nam"/"Nữ" or ``M``/``F``/``<``).
    """

    source: Literal["DG13", "DG1"]
    id_number: str | None = None
    document_number: str | None = None
    full_name: str | None = None
    date_of_birth: datetime.date | None = None
    date_of_birth_raw: str | None = None
    sex: Sex | None = None
    sex_raw: str | None = None
    nationality: str | None = None
    ethnicity: str | None = None
    religion: str | None = None
    place_of_origin: str | None = None
    place_of_residence: str | None = None
    identifying_marks: str | None = None
    date_of_issue: datetime.date | None = None
    date_of_issue_raw: str | None = None
    date_of_expiry: datetime.date | None = None
    date_of_expiry_raw: str | None = None
    never_expires: bool = False
    old_id_number: str | None = None

    def __repr__(self) -> str:  # personal data: not in logs by accident
        return f"PersonalData(source={self.source!r}, <redacted>)"

    @classmethod
    def from_dg13(cls, dg13: Dg13, dg1: Dg1 | None = None) -> PersonalData:
        """The details of DG13 (DOMAIN.md §4); the document number from ``dg1`` when given."""
        expiry_raw = dg13.date_of_expiry
        never = expiry_raw is not None and is_no_expiry_text(expiry_raw)
        return cls(
            source="DG13",
            id_number=dg13.id_number,
            document_number=dg1.mrz.document_number if dg1 is not None else None,
            full_name=dg13.full_name,
            date_of_birth=dg13_date(dg13.date_of_birth),
            date_of_birth_raw=dg13.date_of_birth,
            sex=Sex.from_dg13(dg13.sex),
            sex_raw=dg13.sex,
            nationality=dg13.nationality,
            ethnicity=dg13.ethnicity,
            religion=dg13.religion,
            place_of_origin=dg13.place_of_origin,
            place_of_residence=dg13.place_of_residence,
            identifying_marks=dg13.identifying_marks,
            date_of_issue=dg13_date(dg13.date_of_issue),
            date_of_issue_raw=dg13.date_of_issue,
            date_of_expiry=None if never else dg13_date(expiry_raw),
            date_of_expiry_raw=expiry_raw,
            never_expires=never,
            old_id_number=dg13.old_id_number,
        )

    @classmethod
    def from_dg1(
        cls,
        dg1: Dg1,
        *,
        today: datetime.date,
        no_expiry: Collection[str] = (NO_EXPIRY_MRZ,),
    ) -> PersonalData:
        """The details of DG1's MRZ. The MRZ has no century: the date of birth takes the
        century of the CCCD ID number in the optional data (its digit G, DOMAIN.md §2) when
        there is one, else the latest century that does not put it after ``today``; the date
        of expiry is in 20YY (9303-3 §4.8). ``no_expiry`` holds the MRZ dates that mean "does
        not expire" (``<<<<<<`` and a profile's placeholder, DOMAIN.md §2)."""
        mrz = dg1.mrz
        id_number = mrz.vn_id_number if isinstance(mrz, Td1) else None
        name = " ".join(p for p in (mrz.primary_identifier, mrz.secondary_identifier) if p)
        never = mrz.date_of_expiry in no_expiry or mrz.date_of_expiry == NO_EXPIRY_MRZ
        return cls(
            source="DG1",
            id_number=id_number,
            document_number=mrz.document_number,
            full_name=name,
            date_of_birth=_mrz_birth(mrz.date_of_birth, id_number, today),
            date_of_birth_raw=mrz.date_of_birth,
            sex=Sex.from_mrz(mrz.sex),
            sex_raw=mrz.sex,
            nationality=mrz.nationality,
            date_of_expiry=None if never else _mrz_expiry(mrz.date_of_expiry),
            date_of_expiry_raw=mrz.date_of_expiry,
            never_expires=never,
        )

    def describe(self) -> dict[str, object]:
        """JSON-serialisable, every field present (null when absent): dates ISO 8601
        (``YYYY-MM-DD``), ``sex`` the ICAO letter (``M``/``F``/``X``)."""
        out: dict[str, object] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, datetime.date):
                value = value.isoformat()
            elif isinstance(value, Sex):
                value = value.value
            out[item.name] = value
        return out


def is_no_expiry_text(text: str) -> bool:
    """Whether DG13's date of expiry is "Không thời hạn" (spacing, case and NFC aside)."""
    return unicodedata.normalize("NFC", " ".join(text.split())).casefold() == (
        NO_EXPIRY_TEXT.casefold()
    )


def dg13_date(text: str | None) -> datetime.date | None:
    """DG13's ``dd/mm/yyyy`` (DOMAIN.md §4); None when absent or not a calendar date."""
    if not text:
        return None
    try:
        return datetime.datetime.strptime(text.strip(), "%d/%m/%Y").date()
    except ValueError:
        return None


def _mrz_birth(text: str, id_number: str | None, today: datetime.date) -> datetime.date | None:
    if id_number is not None and id_number[4:6] == text[:2]:
        century = 1900 + 100 * (int(id_number[3]) // 2)  # DOMAIN.md §2: digit G
        try:
            return datetime.date(century + int(text[:2]), int(text[2:4]), int(text[4:6]))
        except ValueError:
            pass
    try:
        return parse_birth_date(text, today)
    except EncodingError:
        return None


def _mrz_expiry(text: str) -> datetime.date | None:
    try:
        return parse_expiry_date(text)
    except EncodingError:
        return None
