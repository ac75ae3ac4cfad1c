"""Deny lists: documents reported lost, stolen or revoked (card usage control at a checkpoint).

ICAO 9303 leaves the check of a document against national and Interpol lost/stolen databases
to the inspection system (9303-11 §7 "inspection procedure" is about the chip; SLTD lookups are
an operational step). cardkit accepts two simple forms, chosen by the file's content:

- **CSV** (UTF-8, a header row): a ``document_number`` column (required), an optional ``reason``
  column; other columns are ignored. Lines starting with ``#`` are comments.
- **SQLite** (a file starting ``SQLite format 3``): a table ``deny_list`` with a
  ``document_number`` column and an optional ``reason`` column. The database is opened
  read-only.

Numbers are compared after removing spaces and MRZ fillers and upper-casing, so ``0930 47064``
and ``093047064`` are the same document. For the CCCD a list may hold the 9-character document
number or the 12-digit ID number: :meth:`DenyList.lookup` is given every number the card carries.
"""

from __future__ import annotations

import csv
import io
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from cardkit.errors import CardkitError

__all__ = ["DenyEntry", "DenyList", "DenyListError", "normalise_number"]

SQLITE_MAGIC = b"SQLite format 3\x00"
TABLE = "deny_list"
NUMBER_COLUMN = "document_number"
REASON_COLUMN = "reason"


class DenyListError(CardkitError):
    """A deny list that cannot be read; the message names the file and the problem."""


def normalise_number(number: str) -> str:
    """``number`` without spaces, hyphens and MRZ fillers, upper case."""
    return "".join(ch for ch in number.upper() if ch not in " -<\t")


@dataclass(frozen=True)
class DenyEntry:
    """One listed document: the number as listed and why (``""`` when the list does not say)."""

    document_number: str
    reason: str = ""


@dataclass(frozen=True)
class DenyList:
    """Listed documents by normalised number. Build with :meth:`load`, :meth:`from_csv`,
    :meth:`from_sqlite` or directly from entries."""

    entries: Mapping[str, DenyEntry] = field(default_factory=dict)
    source: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "entries", MappingProxyType(dict(self.entries)))

    @classmethod
    def of(cls, entries: Iterable[DenyEntry], source: str = "") -> DenyList:
        table: dict[str, DenyEntry] = {}
        for entry in entries:
            key = normalise_number(entry.document_number)
            if key:
                table.setdefault(key, entry)
        return cls(table, source)

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, number: object) -> bool:
        return isinstance(number, str) and normalise_number(number) in self.entries

    def lookup(self, *numbers: str | None) -> DenyEntry | None:
        """The entry of the first of ``numbers`` that is listed, or None."""
        for number in numbers:
            if number:
                entry = self.entries.get(normalise_number(number))
                if entry is not None:
                    return entry
        return None

    # --- loading ---------------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | Path) -> DenyList:
        """A CSV or SQLite deny list, recognised by its first bytes. DenyListError when the
        file cannot be read or has no ``document_number`` column."""
        file = Path(path)
        try:
            with file.open("rb") as fh:
                head = fh.read(len(SQLITE_MAGIC))
        except OSError as exc:
            raise DenyListError(f"{file}: cannot read the deny list ({exc.strerror})") from None
        if head == SQLITE_MAGIC:
            return cls.from_sqlite(file)
        try:
            text = file.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError:
            raise DenyListError(f"{file}: a CSV deny list must be UTF-8 text") from None
        except OSError as exc:
            raise DenyListError(f"{file}: cannot read the deny list ({exc.strerror})") from None
        return cls.from_csv(text, source=str(file))

    @classmethod
    def from_csv(cls, text: str, source: str = "CSV") -> DenyList:
        lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
        reader = csv.DictReader(io.StringIO("\n".join(lines)))
        columns = [c.strip().lower() for c in (reader.fieldnames or [])]
        if NUMBER_COLUMN not in columns:
            raise DenyListError(f"{source}: the header has no {NUMBER_COLUMN!r} column")
        reader.fieldnames = columns
        entries = []
        try:
            for row in reader:
                number = (row.get(NUMBER_COLUMN) or "").strip()
                if number:
                    entries.append(DenyEntry(number, (row.get(REASON_COLUMN) or "").strip()))
        except csv.Error as exc:
            raise DenyListError(f"{source}: malformed CSV ({exc})") from None
        return cls.of(entries, source)

    @classmethod
    def from_sqlite(cls, path: str | Path) -> DenyList:
        file = Path(path)
        try:
            connection = sqlite3.connect(f"{file.resolve().as_uri()}?mode=ro", uri=True)
        except sqlite3.Error as exc:
            raise DenyListError(f"{file}: cannot open the SQLite deny list ({exc})") from None
        try:
            columns = {row[1].lower() for row in connection.execute(f"PRAGMA table_info({TABLE})")}
            if NUMBER_COLUMN not in columns:
                raise DenyListError(f"{file}: no table {TABLE!r} with a {NUMBER_COLUMN!r} column")
            reason = REASON_COLUMN if REASON_COLUMN in columns else "''"
            rows = connection.execute(f"SELECT {NUMBER_COLUMN}, {reason} FROM {TABLE}").fetchall()
        except sqlite3.Error as exc:
            raise DenyListError(f"{file}: cannot read the SQLite deny list ({exc})") from None
        finally:
            connection.close()
        return cls.of(
            (DenyEntry(str(n).strip(), str(r or "").strip()) for n, r in rows if n is not None),
            str(file),
        )
