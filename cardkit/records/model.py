"""The citizen record: what one Vietnamese chip ID card (CCCD) says about its holder.

The field names are the contract between the record loaders (:mod:`cardkit.records.load`), the
validator (:mod:`cardkit.records.validate`) and the builders of DG1, DG13, the card face and the QR
code; they match the columns of the records files (CSV, JSON, JSON Lines).

Text is Unicode NFC (the form DG13 carries, DOMAIN.md §4). A record is built by the validator
only after every check passed; construction re-checks the structural invariants so a record built
by hand cannot carry a malformed ID number or CAN either.
"""

from __future__ import annotations

import enum
import unicodedata
from dataclasses import dataclass, fields
from datetime import date
from pathlib import Path

from cardkit.errors import RecordError

#: The printed value of the expiry field of a card that never expires (DOMAIN.md §2, §4 field 12).
NO_EXPIRY_TEXT = "Không thời hạn"

#: Fields holding free text: NFC-normalised on construction.
TEXT_FIELDS = (
    "full_name",
    "nationality",
    "ethnicity",
    "religion",
    "place_of_origin",
    "place_of_residence",
    "identifying_marks",
    "father_name",
    "mother_name",
    "spouse_name",
)


class Sex(enum.Enum):
    """Sex as the MRZ writes it (ICAO 9303-3 §4.2: ``M``/``F``); DG13 prints Nam/Nữ."""

    MALE = "M"
    FEMALE = "F"

    @property
    def vietnamese(self) -> str:
        """The word DG13 field 4 and the card face print (DOMAIN.md §4)."""
        return "Nam" if self is Sex.MALE else "Nữ"


def _is_digits(value: str, n: int) -> bool:
    # str.isdigit() accepts non-ASCII digits ("١٢"); the card only knows 0-9.
    return len(value) == n and all("0" <= c <= "9" for c in value)


@dataclass(frozen=True)
class CitizenRecord:
    """One citizen, ready to be turned into a card.

    ``date_of_expiry`` None means the card never expires (printed ``Không thời hạn``).
    ``spouse_name`` / ``old_id_number`` "" mean none. ``fingerprint_paths`` holds 0–2 images
    (right index finger, then left index finger). ``can`` is the 6-digit card access number for
    PACE, or None when the card has none. ``photo_path`` and ``fingerprint_paths`` are resolved
    paths (the loader resolves them against the records file's folder).
    """

    id_number: str
    full_name: str
    date_of_birth: date
    sex: Sex
    nationality: str
    ethnicity: str
    religion: str
    place_of_origin: str
    place_of_residence: str
    identifying_marks: str
    date_of_issue: date
    date_of_expiry: date | None
    father_name: str
    mother_name: str
    spouse_name: str
    old_id_number: str
    photo_path: Path
    fingerprint_paths: tuple[Path, ...]
    can: str | None

    def __post_init__(self) -> None:
        # Messages name the field, never its value: ID numbers, dates and the CAN are the
        # ingredients of the chip's access keys (DOMAIN.md §1).
        if not _is_digits(self.id_number, 12):
            raise RecordError("id_number must be 12 digits (DOMAIN.md §2)")
        if not isinstance(self.sex, Sex):
            raise RecordError("sex must be a Sex value")
        for name in ("date_of_birth", "date_of_issue"):
            if not isinstance(getattr(self, name), date):
                raise RecordError(f"{name} must be a date")
        if self.date_of_expiry is not None and not isinstance(self.date_of_expiry, date):
            raise RecordError("date_of_expiry must be a date or None")
        if not self.date_of_birth < self.date_of_issue:
            raise RecordError("date_of_birth must be before date_of_issue")
        if self.date_of_expiry is not None and not self.date_of_issue < self.date_of_expiry:
            raise RecordError("date_of_expiry must be after date_of_issue")
        for name in TEXT_FIELDS:
            value = getattr(self, name)
            if not isinstance(value, str):
                raise RecordError(f"{name} must be text")
            # NFC is the canonical form (DG13 carries NFC UTF-8): normalising is not a change of
            # meaning, so it is done here rather than refused.
            object.__setattr__(self, name, unicodedata.normalize("NFC", value))
        if not self.full_name.strip():
            raise RecordError("full_name must not be empty")
        if self.old_id_number and not _is_digits(self.old_id_number, 9):
            raise RecordError("old_id_number must be empty or 9 digits")
        if self.can is not None and not _is_digits(self.can, 6):
            raise RecordError("can must be None or 6 digits")
        if not isinstance(self.photo_path, Path):
            object.__setattr__(self, "photo_path", Path(self.photo_path))
        prints = self.fingerprint_paths
        if not (isinstance(prints, tuple) and all(isinstance(p, Path) for p in prints)):
            object.__setattr__(self, "fingerprint_paths", tuple(Path(p) for p in prints))
        if len(self.fingerprint_paths) > 2:
            raise RecordError("fingerprint_paths holds at most 2 images (right and left index)")

    @property
    def document_number(self) -> str:
        """The MRZ document number: the last 9 digits of the ID number (DOMAIN.md §3)."""
        return self.id_number[-9:]

    @property
    def never_expires(self) -> bool:
        return self.date_of_expiry is None

    def describe(self) -> dict[str, object]:
        """JSON-serialisable summary (dates ISO 8601, paths as strings); the CAN is withheld."""
        out: dict[str, object] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "can":
                value = None if value is None else "(set)"
            elif isinstance(value, date):
                value = value.isoformat()
            elif isinstance(value, Sex):
                value = value.value
            elif isinstance(value, Path):
                value = str(value)
            elif isinstance(value, tuple):
                value = [str(p) for p in value]
            out[f.name] = value
        return out
