"""Deny lists: documents reported lost, stolen or revoked (card usage control at a checkpoint).

ICAO 9303 leaves the check of a document against national and Interpol lost/stolen databases
to the inspection system (9303-11 §7 "inspection procedure" is about the chip; SLTD lookups are
an operational step). cardkit accepts two simple forms, chosen by the file's content:

- **CSV** (UTF-8, a header row): a ``document_number`` column (required), an optional ``reason``
  column; other columns are ignored. Lines starting with ``#`` are comments. Each physical line
  is one record (a quoted field cannot span lines), so one damaged line (a stray quote, an
  over-long field, bytes that are not UTF-8) is reported and the other lines still load.
- **SQLite** (a file starting ``SQLite format 3``): a table ``deny_list`` with a
  ``document_number`` column and an optional ``reason`` column. The database is opened
  read-only.

**Which numbers an entry matches.** A CCCD carries three numbers a list may hold (DOMAIN.md
§2-§4): the 12-digit personal identification number ``PPP G YY NNNNNN`` (DG13 field 1, TD1
optional data), the 9-digit document number, which is the last 9 digits of the ID number (TD1
line 1), and on some cards the old 9-digit CMND ID number (DG13 field 15). :meth:`DenyList.lookup`
is given every number the card carries and an entry matches any of them. A 9-digit entry does not
say whether it is a document number or an old ID number, so it matches both; a 12-digit ID
number is the precise form (it matches only that citizen's card).

**Spellings.** Lists are typed by people and pass through spreadsheets, so both the entries and the
card's numbers are compared in one canonical form (:func:`canonical_number`):

1. :func:`normalise_number`: Unicode NFKC (full-width ``０１２`` becomes ``012``), separators
   removed (every Unicode space including NBSP U+00A0 and narrow NBSP U+202F, format characters
   such as zero-width spaces and soft hyphens, every dash including U+2011, U+2013 and the minus
   sign U+2212, ``.``, ``<`` (the MRZ filler), ``_``, ``/`` and a leading spreadsheet apostrophe
   ``'``), upper case.
2. What is left must be 1-20 ASCII letters and digits (document numbers are MRZ characters,
   ICAO 9303-3); anything else is not a number and the entry is reported, not guessed at.
3. Alphanumeric numbers (foreign passports) compare exactly. All-digit numbers compare with
   their leading zeros dropped, because a spreadsheet stores ``001093047064`` as the number
   1093047064: ``1093047064``, ``01093047064`` and ``001 093 047 064`` all match the ID
   ``001093047064``, and ``93047064`` matches the document number ``093047064``.

**Why dropping zeros cannot make a false match between a 9-digit and a 12-digit number.** An ID
number never starts with ``000``: ``PPP`` is a province code ``001``-``096`` (DOMAIN.md §2), so an
ID keeps at least 10 digits when its zeros are dropped, while a 9-digit number keeps at most 9.
Their canonical forms therefore differ in length: an entry listing a 9-digit document number (or
old ID number) never matches a 12-digit ID number, and an entry listing an ID never matches the
document number of another citizen whose ID ends in the same 9 digits (``002093047064`` is not
``001093047064`` although both cards carry document number ``093047064``). To keep this true for
every input, zeros are dropped only as far as it holds:

- at most 9 digits: a 9-digit number, zeros dropped (``093047064`` -> ``93047064``);
- 10-12 digits with at least 10 left after dropping zeros: an ID number (``1093047064``);
- 10-12 digits with fewer left (``000093047064``: not an ID, §2): padded to 12 digits and
  compared as such, so it cannot pass for the 9-digit number ``093047064``;
- more than 12 digits: not a CCCD number, compared exactly (no zeros dropped).

These four forms (and the alphanumeric one, which has a letter) never coincide, so zero dropping
only ever identifies spellings of the same number.

**Rejected entries.** An entry whose cell is empty is skipped. Any other entry without a canonical
form, and every CSV line that cannot be parsed, is collected in :attr:`DenyList.rejected` (a
:class:`RejectedEntry` with the line number or SQLite rowid and the reason) instead of failing
the whole list: the operator fixes those lines, the checkpoint keeps the rest. Exceptions and
:meth:`RejectedEntry.describe` never show a listed number (cardkit's rule for messages,
:mod:`cardkit.errors`); the entry itself keeps the raw text for the operator.
"""

from __future__ import annotations

import csv
import re
import sqlite3
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from cardkit.errors import CardkitError

__all__ = [
    "DenyEntry",
    "DenyList",
    "DenyListError",
    "RejectedEntry",
    "canonical_number",
    "normalise_number",
]

SQLITE_MAGIC = b"SQLite format 3\x00"
TABLE = "deny_list"
NUMBER_COLUMN = "document_number"
REASON_COLUMN = "reason"

#: Longest canonical number: TD1's document number plus its optional-data extension is well
#: under this, and every CCCD number is 12 digits or fewer.
MAX_NUMBER_LENGTH = 20
#: Raw text longer than this is refused before normalising: it cannot be a spelling of a
#: 20-character number (even with a separator between every character), and refusing it early
#: keeps NFKC (which may expand a character up to 18-fold) off megabyte-long cells.
MAX_RAW_LENGTH = 256

# Separators that are not spaces, format characters (Cf) or dashes (Pd): the MRZ filler, dots
# and slashes people group digits with, and the minus sign (Sm), which spreadsheets and word
# processors substitute for a hyphen.
_EXTRA_SEPARATORS = frozenset(".<_/\u2212")
# A spreadsheet cell that held the number as a float and was exported as "1093047064.0".
# Removing the dot would make a different, 11-digit number out of it, so it is refused.
_DECIMAL_EXPORT = re.compile(r"'?[0-9]+\.0{1,2}")
# Physical line breaks as an editor counts them (str.splitlines also splits on \x0b, \x1c,
# U+2028 and others, which would shift the line numbers reported to the operator).
_LINE_BREAK = re.compile(r"\r\n|\r|\n")

_BAD_UTF8 = "not valid UTF-8"
_EMPTY = "nothing is left after removing spaces and separators"
_TOO_LONG = f"longer than {MAX_NUMBER_LENGTH} characters"
_BAD_CHARACTER = "contains a character other than the letters A-Z and the digits 0-9"
_DECIMAL = "looks like a number exported as a decimal (ends in .0); export the column as text"


class DenyListError(CardkitError):
    """A deny list that cannot be read; the message names the file and the problem."""


def _is_separator(ch: str) -> bool:
    return (
        ch.isspace()
        or ch in _EXTRA_SEPARATORS
        or unicodedata.category(ch) in ("Cf", "Pd")  # zero-width and format chars; dashes
    )


def _strip_separators(text: str) -> str:
    """``text`` after NFKC with the separators and a leading apostrophe removed (no case change)."""
    kept = "".join(ch for ch in unicodedata.normalize("NFKC", text) if not _is_separator(ch))
    # Spreadsheets mark a cell as text with a leading apostrophe ('001093047064); only there is
    # it a separator, anywhere else it is a typo.
    return kept[1:] if kept.startswith("'") else kept


def normalise_number(text: str) -> str:
    """``text`` in NFKC with the separators removed, upper case (module docstring, step 1).

    Never raises; the result need not be a valid number (see :func:`canonical_number`).
    """
    return _strip_separators(text).upper()


def _canonical(text: str) -> tuple[str, str]:
    """``(canonical form, "")`` or ``("", reason)``; the reason never quotes ``text``."""
    if len(text) > MAX_RAW_LENGTH:
        return "", _TOO_LONG
    if _DECIMAL_EXPORT.fullmatch(unicodedata.normalize("NFKC", text).strip()):
        return "", _DECIMAL
    kept = _strip_separators(text)
    if not kept:
        return "", _EMPTY
    # Checked before upper-casing: str.upper maps "ß" to "SS" and "ı" to "I", which would turn
    # a non-number into a plausible one.
    if not (kept.isascii() and kept.isalnum()):
        return "", _BAD_CHARACTER
    if len(kept) > MAX_NUMBER_LENGTH:
        return "", _TOO_LONG
    number = kept.upper()
    if not number.isdigit() or len(number) > 12:
        return number, ""  # alphanumeric, or too long for a CCCD number: exact
    significant = number.lstrip("0") or "0"
    if len(number) <= 9 or len(significant) >= 10:
        return significant, ""  # a 9-digit number or a 12-digit ID, zeros dropped
    # 10-12 digits starting 000 (no ID does, DOMAIN.md §2): padded, so that it stays apart
    # from the 9-digit number made of its last digits.
    return number.zfill(12), ""


def canonical_number(text: str) -> str | None:
    """The form deny-list numbers are compared in (module docstring), or None when ``text`` has
    none (empty, a character other than A-Z/0-9 after normalising, too long). Never raises.

    >>> canonical_number("001 093 047 064") == canonical_number("1093047064")
    True
    """
    if not isinstance(text, str):
        return None
    number, _ = _canonical(text)
    return number or None


@dataclass(frozen=True)
class DenyEntry:
    """One listed document: the number as listed and why (``""`` when the list does not say)."""

    document_number: str
    reason: str = ""


@dataclass(frozen=True)
class RejectedEntry:
    """An entry or CSV line that could not be used, reported when the list is loaded.

    ``row`` is where it is in the source: the physical line number of a CSV file (counting the
    header, comment and blank lines, as an editor shows it), the rowid of a SQLite row, or the
    position (from 1) in what :meth:`DenyList.of` was given; ``location`` says which
    (``"line"``, ``"rowid"``, ``"row"``, ``"entry"``). ``text`` is the raw cell (the whole line
    when the line itself could not be parsed); it is the operator's own data, kept so that they
    can find it, but left out of ``repr`` and :meth:`describe` so that logs do not copy it.
    """

    row: int
    text: str = field(repr=False)
    reason: str
    location: str = "line"

    def describe(self) -> str:
        """``"line 7: contains a character other than ..."``: where and why, not the value."""
        return f"{self.location} {self.row}: {self.reason}"


def _build(
    rows: Iterable[tuple[int, str, str]], location: str
) -> tuple[dict[str, DenyEntry], list[RejectedEntry]]:
    """``(row, number, reason)`` rows -> entries by canonical number, rejected rows."""
    table: dict[str, DenyEntry] = {}
    rejected: list[RejectedEntry] = []
    for row, number, reason in rows:
        if not number.strip():
            continue  # an empty cell is not an entry (str.strip also removes NBSP)
        key, why = _canonical(number)
        if not key:
            rejected.append(RejectedEntry(row, number, why, location))
        else:
            # The first listing of a number wins, as a person reading the file top down expects.
            table.setdefault(key, DenyEntry(number.strip(), reason.strip()))
    return table, rejected


@dataclass(frozen=True)
class DenyList:
    """Listed documents by canonical number (:func:`canonical_number`) and the entries that
    could not be used (:attr:`rejected`). Build with :meth:`load`, :meth:`from_csv`,
    :meth:`from_sqlite`, :meth:`of`, or directly from a mapping (its keys are canonicalised;
    a key without a canonical form is a ValueError)."""

    entries: Mapping[str, DenyEntry] = field(default_factory=dict)
    source: str = ""
    rejected: tuple[RejectedEntry, ...] = ()

    def __post_init__(self) -> None:
        table: dict[str, DenyEntry] = {}
        for number, entry in self.entries.items():
            key = canonical_number(number)
            if key is None:
                # The number itself stays out of the message (module docstring).
                raise ValueError("DenyList: a key has no canonical form; use DenyList.of")
            table.setdefault(key, entry)
        object.__setattr__(self, "entries", MappingProxyType(table))
        object.__setattr__(self, "rejected", tuple(self.rejected))

    @classmethod
    def of(cls, entries: Iterable[DenyEntry], source: str = "") -> DenyList:
        """A list of ``entries``; those without a canonical number go to :attr:`rejected`
        (``location`` ``"entry"``, ``row`` their position from 1)."""
        rows = (
            (index, entry.document_number, entry.reason)
            for index, entry in enumerate(entries, start=1)
        )
        table, rejected = _build(rows, "entry")
        return cls(table, source, tuple(rejected))

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, number: object) -> bool:
        return isinstance(number, str) and canonical_number(number) in self.entries

    def lookup(self, *numbers: str | None) -> DenyEntry | None:
        """The entry of the first of ``numbers`` that is listed, or None.

        Pass every number the card carries (document number, ID number, old ID number; module
        docstring); None and numbers without a canonical form are passed over. Never raises.
        """
        for number in numbers:
            if isinstance(number, str):
                key = canonical_number(number)
                if key is not None:
                    entry = self.entries.get(key)
                    if entry is not None:
                        return entry
        return None

    # --- loading ---------------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | Path) -> DenyList:
        """A CSV or SQLite deny list, recognised by its first bytes. DenyListError when the
        file cannot be read or has no ``document_number`` column; bad entries and lines are
        in :attr:`rejected`."""
        file = Path(path)
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise DenyListError(f"{file}: cannot read the deny list ({exc.strerror})") from None
        if data.startswith(SQLITE_MAGIC):
            return cls.from_sqlite(file)
        return cls.from_csv(data, source=str(file))

    @classmethod
    def from_csv(cls, data: str | bytes, source: str = "CSV") -> DenyList:
        """A CSV deny list (module docstring) from its text or its bytes (UTF-8, optional BOM).

        Lines are parsed one at a time so that a damaged line is a :class:`RejectedEntry` with
        its line number, not the end of the list. DenyListError (naming ``source``) only when
        the header cannot be read or has no ``document_number`` column.
        """
        if isinstance(data, bytes) and data.startswith((b"\xff\xfe", b"\xfe\xff")):
            # Excel's "Unicode text" export: every line would be rejected, say why instead.
            raise DenyListError(f"{source}: a CSV deny list must be UTF-8 text, not UTF-16")
        rejected: list[RejectedEntry] = []
        header: list[str] | None = None
        number_at = reason_at = -1
        rows: list[tuple[int, str, str]] = []
        for lineno, line, decoded in _physical_lines(data):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if header is None:
                # A header with bytes that are not UTF-8 is still read (they show as \xNN): a
                # mangled extra column name must not hide a good document_number column.
                try:
                    header = [c.strip().lower() for c in _parse_line(line)]
                except csv.Error as exc:
                    raise DenyListError(f"{source}: malformed CSV header ({exc})") from None
                if NUMBER_COLUMN not in header:
                    raise DenyListError(f"{source}: the header has no {NUMBER_COLUMN!r} column")
                number_at = header.index(NUMBER_COLUMN)
                reason_at = header.index(REASON_COLUMN) if REASON_COLUMN in header else -1
                continue
            if not decoded:
                rejected.append(RejectedEntry(lineno, line, _BAD_UTF8))
                continue
            try:
                cells = _parse_line(line)
            except csv.Error as exc:
                # csv's messages name the problem ("unexpected end of data"), never the data.
                rejected.append(RejectedEntry(lineno, line, f"malformed CSV ({exc})"))
                continue
            number = cells[number_at] if number_at < len(cells) else ""
            reason = cells[reason_at] if 0 <= reason_at < len(cells) else ""
            rows.append((lineno, number, reason))
        if header is None:
            raise DenyListError(f"{source}: the header has no {NUMBER_COLUMN!r} column")
        table, bad = _build(rows, "line")
        # In file order, whichever way each line went wrong.
        rejected = sorted([*rejected, *bad], key=lambda entry: entry.row)
        return cls(table, source, tuple(rejected))

    @classmethod
    def from_sqlite(cls, path: str | Path) -> DenyList:
        """A SQLite deny list (module docstring), opened read-only. Rows whose number has no
        canonical form are in :attr:`rejected` with their rowid."""
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
            select = f"{NUMBER_COLUMN}, {reason} FROM {TABLE}"
            try:
                fetched = connection.execute(f"SELECT rowid, {select}").fetchall()
                location = "rowid"
            except sqlite3.OperationalError:
                # A WITHOUT ROWID table or a view: number the rows in the order SQLite gives.
                fetched = [
                    (index, *row)
                    for index, row in enumerate(connection.execute(f"SELECT {select}"), start=1)
                ]
                location = "row"
        except sqlite3.Error as exc:
            raise DenyListError(f"{file}: cannot read the SQLite deny list ({exc})") from None
        finally:
            connection.close()
        rows: list[tuple[int, str, str]] = []
        rejected: list[RejectedEntry] = []
        for rowid, value, why in fetched:
            number, problem = _sqlite_text(value)
            if problem:
                rejected.append(RejectedEntry(int(rowid), number, problem, location))
            else:
                rows.append((int(rowid), number, _sqlite_text(why)[0]))
        table, bad = _build(rows, location)
        rejected = sorted([*rejected, *bad], key=lambda entry: entry.row)
        return cls(table, str(file), tuple(rejected))


def _physical_lines(data: str | bytes) -> Iterator[tuple[int, str, bool]]:
    """``(line number from 1, text, decoded cleanly)`` for each physical line of ``data``.

    Bytes are decoded line by line, so that bytes that are not UTF-8 spoil only their own line;
    such a line comes with its bad bytes shown as ``\\xNN`` and ``False``.
    """
    lines: Iterable[str | bytes] = (
        _LINE_BREAK.split(data) if isinstance(data, str) else data.splitlines()
    )
    for lineno, raw in enumerate(lines, start=1):
        if isinstance(raw, str):
            text, clean = raw, True
        else:
            try:
                text, clean = raw.decode("utf-8"), True
            except UnicodeDecodeError:
                text, clean = raw.decode("utf-8", "backslashreplace"), False
        if lineno == 1:
            text = text.removeprefix("\ufeff")  # the BOM Excel writes before UTF-8 CSV
        yield lineno, text, clean


def _parse_line(line: str) -> list[str]:
    """The cells of one CSV line. strict: a stray quote is an error, not silently kept."""
    return next(csv.reader([line], strict=True), [])


def _sqlite_text(value: object) -> tuple[str, str]:
    """A SQLite cell as text: ``(text, "")`` or ``(text shown to the operator, reason)``."""
    if value is None:
        return "", ""
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8"), ""
        except UnicodeDecodeError:
            return value.decode("utf-8", "backslashreplace"), _BAD_UTF8
    if isinstance(value, float):
        # A number column imported from a spreadsheet: 1093047064.0 is exactly 1093047064 (the
        # ID 001093047064 with its zeros dropped); str() would give "1093047064.0" and removing
        # the dot would make another number. Beyond 2**53 a float no longer holds every integer.
        if value.is_integer() and 0 <= value < 2**53:
            return str(int(value)), ""
        return repr(value), "a number that is negative, not whole, or too large to be exact"
    if isinstance(value, int) and value < 0:
        # str() would give "-5", and the hyphen is a separator: refuse rather than match 5.
        return str(value), "a negative number"
    return str(value), ""
