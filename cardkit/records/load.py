"""Read citizen records from CSV, JSON or JSON Lines files, without judging them.

The loader turns a file into :class:`RawRecord` values (strings only) and fails with
:class:`~cardkit.errors.RecordError`, naming the file and the line, when the *file* cannot be used:
unreadable, not UTF-8, not valid JSON, a header without the required columns or with unknown
ones. Everything about one record (a bad date, a short CSV row) is left to
:mod:`cardkit.records.validate`, so a batch carries on with the good records.

Formats, chosen by extension:

- ``.csv``: UTF-8 with or without BOM, first row = header of column names (the field names of
  :class:`~cardkit.records.model.CitizenRecord`), ``fingerprint_paths`` separated by ``;``.
  ``RawRecord.row`` is the line number the record starts on, as an editor shows it (header = 1).
- ``.json``: a list of objects, or ``{"records": [...]}``; ``row`` is the 1-based index.
- ``.jsonl``: one object per line (blank lines skipped); ``row`` is the line number.

JSON values must be strings or null (null = empty); ``fingerprint_paths`` may also be a list of
strings. Numbers are refused: an ID number or CAN read as a number loses its leading zeros.
Relative ``photo_path`` / ``fingerprint_paths`` resolve against the records file's folder.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any

from cardkit.errors import RecordError
from cardkit.records.model import CitizenRecord

#: Every column a records file may have: the CitizenRecord fields.
COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(CitizenRecord))

#: Columns a file must have; the others default to "" (none / compute it).
REQUIRED_COLUMNS: tuple[str, ...] = (
    "id_number",
    "full_name",
    "date_of_birth",
    "sex",
    "nationality",
    "ethnicity",
    "religion",
    "place_of_origin",
    "place_of_residence",
    "date_of_issue",
    "photo_path",
)

FINGERPRINT_SEPARATOR = ";"

_EXTENSIONS = (".csv", ".json", ".jsonl")


@dataclass(frozen=True)
class RawRecord:
    """One record as read: strings only, nothing checked yet.

    ``defects`` lists problems the loader saw in this record's *shape* (a CSV row with the wrong
    number of cells); the validator reports them with the other problems.
    """

    source: str
    row: int
    fields: Mapping[str, str]
    defects: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", MappingProxyType(dict(self.fields)))

    def get(self, name: str) -> str:
        return self.fields.get(name, "")


def load_records(path: str | Path) -> list[RawRecord]:
    """Read a records file, choosing the format by extension (.csv, .json, .jsonl)."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in _EXTENSIONS:
        raise RecordError(f"{p}: unknown records format; use one of {', '.join(_EXTENSIONS)}")
    text = _read_text(p)
    base = p.parent
    if suffix == ".csv":
        return _parse_csv(text, str(p), base)
    if suffix == ".json":
        return _parse_json(text, str(p), base)
    return _parse_jsonl(text, str(p), base)


def _read_text(p: Path) -> str:
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise RecordError(f"{p}: cannot read the records file: {exc.strerror or exc}") from None
    try:
        # utf-8-sig drops one leading BOM (spreadsheet exports write it) and nothing else.
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise RecordError(f"{p}, line {line}: not UTF-8 text (byte offset {exc.start})") from None


def _resolve(value: str, base: Path) -> str:
    if not value:
        return value
    candidate = Path(value)
    return str(candidate if candidate.is_absolute() else base / candidate)


def _finish(fields: dict[str, str], base: Path) -> dict[str, str]:
    """Fill optional columns with "" and resolve relative image paths."""
    out = {name: fields.get(name, "") for name in COLUMNS}
    out["photo_path"] = _resolve(out["photo_path"], base)
    prints = out["fingerprint_paths"]
    if prints.strip():
        out["fingerprint_paths"] = FINGERPRINT_SEPARATOR.join(
            _resolve(part.strip(), base) for part in prints.split(FINGERPRINT_SEPARATOR)
        )
    return out


def _check_columns(names: list[str], where: str) -> None:
    unknown = [n for n in names if n not in COLUMNS]
    if unknown:
        raise RecordError(
            f"{where}: unknown column(s) {', '.join(repr(n) for n in unknown)}; "
            f"columns are the record fields: {', '.join(COLUMNS)}"
        )
    missing = [n for n in REQUIRED_COLUMNS if n not in names]
    if missing:
        raise RecordError(f"{where}: missing required column(s) {', '.join(missing)}")


def _check_text(value: str, where: str) -> None:
    # A lone surrogate (JSON "\ud800") is not text: it cannot be encoded for DG13 or a terminal.
    if any("\ud800" <= c <= "\udfff" for c in value):
        raise RecordError(f"{where}: invalid Unicode (lone surrogate)")


def _parse_csv(text: str, source: str, base: Path) -> list[RawRecord]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[RawRecord] = []
    header: list[str] | None = None
    last_line = 0
    try:
        for cells in reader:
            start, last_line = last_line + 1, reader.line_num
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                continue  # blank line
            if header is None:
                header = [c.strip() for c in cells]
                dupes = sorted({n for n in header if header.count(n) > 1})
                if dupes:
                    raise RecordError(f"{source}, line {start}: duplicate column(s) {dupes}")
                _check_columns(header, f"{source}, line {start}")
                continue
            for c in cells:
                _check_text(c, f"{source}, line {start}")
            defects: tuple[str, ...] = ()
            if len(cells) != len(header):
                defects = (f"row has {len(cells)} cells; the header has {len(header)} columns",)
            fields = dict(zip(header, cells, strict=False))
            records.append(RawRecord(source, start, _finish(fields, base), defects))
    except csv.Error as exc:
        raise RecordError(f"{source}, line {reader.line_num}: malformed CSV: {exc}") from None
    if header is None:
        raise RecordError(f"{source}: empty file; expected a header row of column names")
    return records


def _pairs_no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _json_loads(text: str, source: str, first_line: int | None = None) -> Any:
    """Decode a JSON document (the whole file, or line ``first_line`` of a JSON Lines file)."""
    where = source if first_line is None else f"{source}, line {first_line}"
    try:
        return json.loads(text, object_pairs_hook=_pairs_no_duplicates)
    except json.JSONDecodeError as exc:
        line = exc.lineno + (first_line or 1) - 1
        raise RecordError(f"{source}, line {line}: not valid JSON: {exc.msg}") from None
    except _DuplicateKey as exc:
        raise RecordError(f"{where}: duplicate key {exc.key!r}") from None
    except (ValueError, RecursionError) as exc:  # e.g. too deeply nested, huge integers
        raise RecordError(f"{where}: not usable JSON ({type(exc).__name__})") from None


def _object_fields(obj: Any, where: str) -> dict[str, str]:
    if not isinstance(obj, dict):
        raise RecordError(f"{where}: a record must be a JSON object")
    _check_columns(list(obj), where)
    fields: dict[str, str] = {}
    for key, value in obj.items():
        if value is None:
            text = ""
        elif isinstance(value, str):
            text = value
        elif (
            key == "fingerprint_paths"
            and isinstance(value, list)
            and all(isinstance(v, str) for v in value)
        ):
            if any(FINGERPRINT_SEPARATOR in v for v in value):
                raise RecordError(f"{where}: a fingerprint path contains ';'")
            text = FINGERPRINT_SEPARATOR.join(value)
        else:
            raise RecordError(
                f"{where}: field {key!r} must be a string (numbers lose leading zeros)"
            )
        _check_text(text, where)
        fields[key] = text
    return fields


def _parse_json(text: str, source: str, base: Path) -> list[RawRecord]:
    doc = _json_loads(text, source)
    if isinstance(doc, dict) and set(doc) == {"records"}:
        doc = doc["records"]
    if not isinstance(doc, list):
        raise RecordError(f'{source}: expected a JSON list of records or {{"records": [...]}}')
    return [
        RawRecord(source, i, _finish(_object_fields(obj, f"{source}, record {i}"), base))
        for i, obj in enumerate(doc, start=1)
    ]


def _parse_jsonl(text: str, source: str, base: Path) -> list[RawRecord]:
    records: list[RawRecord] = []
    # Split on \n only: str.splitlines() would also split on U+2028 etc. inside JSON strings.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{source}, line {number}"
        obj = _json_loads(line, source, first_line=number)
        records.append(RawRecord(source, number, _finish(_object_fields(obj, where), base)))
    return records
