"""The QR code printed on the CCCD's face (DOMAIN.md §5).

UTF-8 text, fields separated by ``|``::

    ID number|old ID|full name|date of birth ddmmyyyy|sex|place of residence|date of issue ddmmyyyy

The old ID may be empty; some cards carry a six-field variant without it, which :meth:`parse`
accepts too. The printed QR code and the chip come from the same record, so a verifier can compare
them (``cardkit verify --qr``).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date, datetime

from cardkit.errors import EncodingError
from cardkit.records.model import CitizenRecord, Sex

SEPARATOR = "|"
_SEX_WORDS = {"nam": Sex.MALE, "nữ": Sex.FEMALE, "nu": Sex.FEMALE, "m": Sex.MALE, "f": Sex.FEMALE}


def _ddmmyyyy(value: date) -> str:
    return value.strftime("%d%m%Y")


def _parse_date(text: str, field: str) -> date:
    try:
        return datetime.strptime(text, "%d%m%Y").date()
    except ValueError:
        raise EncodingError(f"QR payload: {field} is not a ddmmyyyy date") from None


@dataclass(frozen=True)
class QrPayload:
    id_number: str
    old_id_number: str  # "" when none (or absent in the six-field variant)
    full_name: str
    date_of_birth: date
    sex: Sex
    place_of_residence: str
    date_of_issue: date

    @classmethod
    def from_record(cls, record: CitizenRecord) -> QrPayload:
        return cls(
            id_number=record.id_number,
            old_id_number=record.old_id_number,
            full_name=record.full_name,
            date_of_birth=record.date_of_birth,
            sex=record.sex,
            place_of_residence=record.place_of_residence,
            date_of_issue=record.date_of_issue,
        )

    def to_text(self) -> str:
        fields = (
            self.id_number,
            self.old_id_number,
            self.full_name,
            _ddmmyyyy(self.date_of_birth),
            self.sex.vietnamese,
            self.place_of_residence,
            _ddmmyyyy(self.date_of_issue),
        )
        if any(SEPARATOR in f for f in fields):
            raise EncodingError(f"QR payload: a field contains the separator {SEPARATOR!r}")
        return SEPARATOR.join(fields)

    @classmethod
    def parse(cls, text: str) -> QrPayload:
        """Parse the seven-field payload or the six-field variant without the old ID."""
        fields = unicodedata.normalize("NFC", text.strip()).split(SEPARATOR)
        if len(fields) == 6:
            fields.insert(1, "")
        if len(fields) != 7:
            raise EncodingError(
                f"QR payload: expected 6 or 7 fields separated by '|', got {len(fields)}"
            )
        id_number, old_id, name, dob, sex, residence, issued = fields
        if not (len(id_number) == 12 and id_number.isdigit()):
            raise EncodingError("QR payload: the ID number is not 12 digits")
        if old_id and not (len(old_id) == 9 and old_id.isdigit()):
            raise EncodingError("QR payload: the old ID number is not 9 digits")
        sex_value = _SEX_WORDS.get(sex.strip().lower())
        if sex_value is None:
            raise EncodingError("QR payload: sex is neither Nam nor Nữ")
        if not name.strip():
            raise EncodingError("QR payload: the name is empty")
        return cls(
            id_number=id_number,
            old_id_number=old_id,
            full_name=name,
            date_of_birth=_parse_date(dob, "date of birth"),
            sex=sex_value,
            place_of_residence=residence,
            date_of_issue=_parse_date(issued, "date of issue"),
        )
