"""Read citizen records from CSV, JSON or JSON Lines files, without judging them.

The loader turns a file into :class:`RawRecord` values (strings only). It fails with
:class:`~cardkit.errors.RecordError`, naming the file (and the line when there is one), only when
the *file* cannot be used: unreadable, empty, a CSV header that is not text, is malformed, lacks
required columns or has unknown or duplicate ones, a JSON document that does not parse or is not a
list of records. Everything about one record is a *defect* of that record (:class:`Defect`),
reported by :mod:`cardkit.records.validate` with the other problems, so that one bad line never
hides the others and a batch carries on with the good records.

Defect codes (stable identifiers; messages may change, and never quote a value, which may be
personal data):

- ``row.encoding``: a value is not valid text (an invalid UTF-8 byte; in JSON also a lone
  surrogate escape such as ``"\\ud800"``); ``field`` names it, or is "" when the bytes are outside
  any value (a JSON Lines line that does not parse because of them).
- ``row.quote``: a CSV row whose quoting is broken (a quoted field not closed on its line, text
  after a closing quote, a quote inside an unquoted field). The row cannot be split into cells, so
  it carries no fields; reading resumes on the next line.
- ``row.too_long``: a value longer than :data:`FIELD_LIMIT_BYTES`.
- ``row.cells``: a CSV row with a different number of cells from the header.
- ``row.json``: a JSON Lines line that is not valid JSON; ``row.object``: a JSON record that is
  not an object. Such a record carries no fields.
- ``field.type``: a JSON value that is not a string (or, for ``fingerprint_paths``, a list of
  strings); ``fingerprint.separator``: a path in such a list contains ``;``.
- ``field.unknown``: a JSON key that is not a record field; ``field.duplicate``: a JSON key given
  twice in one record (neither value is used).

A defective value is replaced by "" so that no later rule reads half of it.

Formats, chosen by extension (:func:`iter_records` reads CSV and JSON Lines incrementally, one
buffer at a time, so memory does not grow with the number of rows; :func:`load_records` is the
same as a list):

- ``.csv``: UTF-8 with or without BOM, RFC 4180 quoting, first row = header of column names (the
  field names of :class:`~cardkit.records.model.CitizenRecord`), ``fingerprint_paths`` separated
  by ``;``. ``RawRecord.row`` is the line number the record starts on, as an editor shows it
  (header = 1; a quoted value may span lines).
- ``.json``: a list of objects, or ``{"records": [...]}``; ``row`` is the 1-based index. The
  document is read and parsed whole (a syntax error anywhere makes the file unusable before any
  record is passed on), so its memory grows with its size: use JSON Lines for large batches.
- ``.jsonl``: one object per line (blank lines skipped); ``row`` is the line number.

Streaming keeps in memory one buffer (:data:`READ_BYTES`) plus the record being read: a CSV record
(a quoted value may span lines) or a JSON Lines line is held whole, however long it is.

JSON values must be strings or null (null = empty); ``fingerprint_paths`` may also be a list of
strings. Numbers are refused: an ID number or CAN read as a number loses its leading zeros.
Relative ``photo_path`` / ``fingerprint_paths`` resolve against the records file's folder.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any

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

#: The largest value (UTF-8 bytes) the loader passes on. Far above any profile's ``[limits]``
#: (a few hundred characters), so it never refuses real data; it bounds what a broken file (a
#: runaway quote, a binary blob) can make the loader hold and the validator look at.
FIELD_LIMIT_BYTES = 64 * 1024

#: How much of a records file is read at a time (bytes).
READ_BYTES = 1 << 20

_EXTENSIONS = (".csv", ".json", ".jsonl")
_BOM = b"\xef\xbb\xbf"

# Bytes that are not UTF-8 are decoded with "surrogateescape" (each becomes U+DC80..U+DCFF), so
# the damage stays in the value that holds them instead of failing the whole file. Valid UTF-8
# never decodes to a surrogate, so any surrogate in CSV text is a bad byte.
_SURROGATE = re.compile("[\ud800-\udfff]")

# RFC 4180 tokens. Possessive quantifiers: an unclosed quote must fail in linear time.
_QUOTED = re.compile(r'"([^"]*+(?:""[^"]*+)*+)"')
_UNQUOTED = re.compile(r'[^,"\r\n]*+')
_LINE_END = re.compile(r"\r\n?|\n")
# How far to look for the closing quote: the longest allowed value with every character a
# doubled quote, plus the two quotes around it. Bounding the search keeps a file with many
# stray quotes linear instead of rescanning to the end of the file for each one.
_QUOTE_WINDOW = 2 * FIELD_LIMIT_BYTES + 2


@dataclass(frozen=True)
class Defect:
    """A problem the loader saw in one record. ``field`` is "" when it concerns the whole row."""

    code: str
    field: str
    message: str


@dataclass(frozen=True)
class RawRecord:
    """One record as read: strings only, nothing checked yet.

    ``defects`` lists what the loader found wrong with this record (see the module docstring);
    the validator reports them with the other problems. ``fields`` is empty when the record
    could not be read at all (a CSV row with broken quoting, a JSON record that is not an
    object); such a record always has a defect saying why.
    """

    source: str
    row: int
    fields: Mapping[str, str]
    defects: tuple[Defect, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", MappingProxyType(dict(self.fields)))
        object.__setattr__(self, "defects", tuple(self.defects))

    def get(self, name: str) -> str:
        return self.fields.get(name, "")

    def __reduce__(
        self,
    ) -> tuple[type[RawRecord], tuple[str, int, dict[str, str], tuple[Defect, ...]]]:
        # A mapping proxy does not pickle; worker processes (validate --jobs) receive records.
        return (RawRecord, (self.source, self.row, dict(self.fields), self.defects))


def load_records(path: str | Path) -> list[RawRecord]:
    """Read a whole records file into a list (see :func:`iter_records`)."""
    return list(iter_records(path))


def iter_records(path: str | Path, *, read_bytes: int = READ_BYTES) -> Iterator[RawRecord]:
    """The records of a file one at a time, in file order, format chosen by extension.

    CSV and JSON Lines are read ``read_bytes`` at a time and each record is passed on as soon as
    it is complete; a JSON document is parsed whole first (see the module docstring). An unknown
    extension raises :class:`RecordError` at once; everything else about the file (unreadable, a
    bad header, not JSON…) raises it while iterating, before the first record it would spoil.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in _EXTENSIONS:
        raise RecordError(f"{p}: unknown records format; use one of {', '.join(_EXTENSIONS)}")
    if suffix == ".csv":
        return _iter_csv(p, read_bytes)
    if suffix == ".json":
        return _iter_json(p)
    return _iter_jsonl(p)


def _cannot_read(p: Path, exc: OSError) -> RecordError:
    return RecordError(f"{p}: cannot read the records file: {exc.strerror or exc}")


def _open(p: Path) -> IO[bytes]:
    try:
        return p.open("rb")
    except OSError as exc:
        raise _cannot_read(p, exc) from None


def _read(p: Path, fh: IO[bytes], size: int = -1) -> bytes:
    try:
        return fh.read(size)
    except OSError as exc:
        raise _cannot_read(p, exc) from None


class _Text:
    """A binary file decoded as UTF-8 (surrogateescape) piece by piece, one leading BOM dropped.

    The incremental decoder keeps a multi-byte character cut by a read for the next piece, so
    the text is exactly that of decoding the whole file at once.
    """

    def __init__(self, p: Path, fh: IO[bytes]) -> None:
        self._p, self._fh = p, fh
        self._decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
        self._started = False
        self.done = False

    def read(self, size: int) -> str:
        data = _read(self._p, self._fh, size)
        self.done = not data
        text = self._decoder.decode(data, final=self.done)
        if not self._started and text:
            # Drop one leading BOM (spreadsheet exports write it) and nothing else: U+FEFF at
            # the start of the text is exactly the three BOM bytes at the start of the file.
            self._started = True
            text = text.removeprefix("\ufeff")
        return text


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def _line_breaks(text: str) -> int:
    return text.count("\n") + text.count("\r") - text.count("\r\n")


def _label(name: str) -> str:
    """A column or key name for a message: names come from the file, so keep them short."""
    return repr(name if len(name) <= 40 else name[:40] + "…")


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


def _value_defect(name: str, value: str) -> Defect | None:
    """The defect of one value read from the file (bad text, too long), or None."""
    if _SURROGATE.search(value):
        return Defect(
            "row.encoding",
            name,
            f"{name} is not valid text (an invalid UTF-8 byte or a lone surrogate)",
        )
    if _too_long(value):
        return Defect("row.too_long", name, f"{name} is longer than {FIELD_LIMIT_BYTES} bytes")
    return None


def _too_long(value: str) -> bool:
    # A character is at most 4 UTF-8 bytes: most values need no encoding to be measured. Bad
    # bytes (surrogateescape) count as the one byte they were.
    return (
        len(value) * 4 > FIELD_LIMIT_BYTES
        and len(value.encode("utf-8", "surrogateescape")) > FIELD_LIMIT_BYTES
    )


def _check_columns(names: list[str], where: str) -> None:
    unknown = [n for n in names if n not in COLUMNS]
    if unknown:
        raise RecordError(
            f"{where}: unknown column(s) {', '.join(_label(n) for n in unknown)}; "
            f"columns are the record fields: {', '.join(COLUMNS)}"
        )
    missing = [n for n in REQUIRED_COLUMNS if n not in names]
    if missing:
        raise RecordError(f"{where}: missing required column(s) {', '.join(missing)}")


# ------------------------------------------------------------------------------------------ CSV


@dataclass(frozen=True)
class _Split:
    """One CSV record cut out of the text at some offset.

    ``cells`` is None when the quoting is broken (``error`` says how, at cell ``error_cell``).
    ``spans_from`` is the index of the first cell whose quoted value ran past the end of the
    record's first line (None when the record is one line): legitimate for an address written on
    two lines, but also what a stray opening quote looks like.
    """

    cells: list[str] | None
    end: int  # offset just past the record's line break (where it broke, when broken)
    spans_from: int | None
    error: str = ""
    error_cell: int = 0


def _split_record(text: str, pos: int, final: bool = True) -> _Split | None:
    """Cut one RFC 4180 record (comma, double quote, ``""`` escapes) starting at ``pos``.

    ``text`` may be the start of a longer text (``final`` False): then None means the record
    cannot be decided yet, and a result is always the one the whole text gives. Every decision
    below looks at no character past the one it is made at (one past a closing quote or a CR),
    and at most :data:`_QUOTE_WINDOW` ahead of an opening quote.
    """
    n = len(text)
    # Most lines have no quote at all: then the record is the line, cut at each comma.
    line_end = _LINE_END.search(text, pos)
    stop = n if line_end is None else line_end.start()
    if text.find('"', pos, stop) < 0:
        if not final and (line_end is None or (line_end[0] == "\r" and line_end.end() == n)):
            return None  # the line may go on (or be a CRLF)
        return _Split(text[pos:stop].split(","), n if line_end is None else line_end.end(), None)
    cells: list[str] = []
    spans_from: int | None = None
    while True:
        cell = len(cells)
        if text.startswith('"', pos):
            limit = pos + _QUOTE_WINDOW
            window = min(n, limit)
            m = _QUOTED.match(text, pos, window)
            if not final and (n <= limit if m is None else m.end() >= n):
                return None  # the closing quote, or what follows it, is not read yet
            if m is None:
                # Not closed within the window. If the value never even reached a line end, it
                # is one enormous value; otherwise an opening quote with no partner.
                crosses_line = _LINE_END.search(text, pos, window) is not None
                if window < n and not crosses_line:
                    return _Split(None, pos, spans_from, "too_long", cell)
                if crosses_line and spans_from is None:
                    spans_from = cell
                return _Split(None, pos, spans_from, "unclosed", cell)
            value = m[1]
            if spans_from is None and ("\n" in value or "\r" in value):
                spans_from = cell
            cells.append(value.replace('""', '"'))
            pos = m.end()
            if pos < n and text[pos] not in ",\r\n":
                return _Split(None, pos, spans_from, "after_quote", cell)
        else:
            m = _UNQUOTED.match(text, pos)
            assert m is not None  # the pattern matches the empty string
            if not final and m.end() >= n:
                return None  # the value may go on
            cells.append(m[0])
            pos = m.end()
            if pos < n and text[pos] == '"':
                return _Split(None, pos, spans_from, "inner_quote", cell)
        if pos >= n:
            return _Split(cells, n, spans_from)
        if text[pos] == ",":
            pos += 1
            continue
        if text[pos] == "\r" and pos + 1 == n and not final:
            return None  # CR or CRLF?
        pos += 2 if text.startswith("\r\n", pos) else 1
        return _Split(cells, pos, spans_from)


def _next_line(text: str, pos: int, final: bool = True) -> int | None:
    """Where the line after ``pos`` starts; None when that is not known yet (``final`` False)."""
    m = _LINE_END.search(text, pos)
    if not final and (m is None or (m[0] == "\r" and m.end() == len(text))):
        return None
    return m.end() if m else len(text)


_QUOTE_MESSAGES = {
    "unclosed": "the quoted value is not closed on this line (a stray '\"'?)",
    "after_quote": "text after the closing '\"' (quote the whole value and double each '\"' in it)",
    "inner_quote": "a '\"' in a value that is not quoted (quote the whole value and double each "
    "'\"' in it)",
}


def _broken_row(split: _Split, header: list[str]) -> Defect:
    """The defect of a row that cannot be split into cells."""
    if split.error == "too_long":
        cell, code = split.error_cell, "row.too_long"
        why = f"is longer than {FIELD_LIMIT_BYTES} bytes"
    else:
        # A value that ran past its line and then broke: the quote that opened it is the
        # mistake (everything after it was read as part of that value).
        cell = split.error_cell if split.spans_from is None else split.spans_from
        code = "row.quote"
        why = _QUOTE_MESSAGES[split.error if split.spans_from is None else "unclosed"]
    name = header[cell] if cell < len(header) else ""
    label = name or f"cell {cell + 1}"
    sep = " " if code == "row.too_long" else ": "
    return Defect(code, name, f"{label}{sep}{why}")


def _iter_csv(p: Path, read_bytes: int) -> Iterator[RawRecord]:
    with _open(p) as fh:
        yield from _parse_csv(_Text(p, fh), str(p), p.parent, read_bytes)


def _parse_csv(reader: _Text, source: str, base: Path, read_bytes: int) -> Iterator[RawRecord]:
    """The records of the text ``reader`` gives, read ``read_bytes`` at a time.

    The buffer holds the unread rest of the last piece plus the next one; a record it does not
    hold whole is cut again once more text is in (the piece read doubling each time, so a record
    far longer than ``read_bytes`` costs a few passes, not one per piece).
    """
    text, pos, line = "", 0, 1
    header: list[str] | None = None
    want = read_bytes
    while True:
        final = reader.done
        split = _split_record(text, pos, final) if pos < len(text) else None
        resume = None
        if split is not None:
            cells = split.cells
            if cells is not None and split.spans_from is not None and header is not None:
                # A value spanning lines is accepted only when the record it closes has the
                # header's cells and no oversized value. Otherwise it most likely was a stray
                # quote that swallowed the lines after it: blame the row it started on and read
                # on from the next line, so the rows it swallowed are still read (a genuine
                # two-line address in a row with a wrong cell count is then reported as broken
                # quoting: bad either way).
                sound = len(cells) == len(header) and not any(_too_long(c) for c in cells)
                if not sound:
                    cells = None
                    split = _Split(None, split.end, split.spans_from, "unclosed", split.spans_from)
            if cells is None:
                resume = _next_line(text, pos, final)
                if resume is None:
                    split = None  # read on to the end of this line, then decide again
        if split is None:
            if final and pos >= len(text):
                break
            # Keep the unread text, add the next piece. Still on the same record: read more.
            want = want * 2 if pos == 0 and text else read_bytes
            text, pos = text[pos:] + reader.read(want), 0
            continue
        if cells is None:
            assert resume is not None
            where = f"{source}, line {line}"
            if header is None:
                raise RecordError(
                    f"{where}: malformed CSV header: {_broken_row(split, []).message}"
                )
            yield RawRecord(source, line, {}, (_broken_row(split, header),))
            pos, line = resume, line + 1
            continue
        start = line
        line += _line_breaks(text[pos : split.end]) if split.spans_from is not None else 1
        pos = split.end
        if len(cells) == 1 and not cells[0].strip():
            continue  # blank line
        if header is None:
            header = _read_header(cells, f"{source}, line {start}")
            continue
        yield _csv_record(cells, header, source, start, base)
    if header is None:
        raise RecordError(f"{source}: empty file; expected a header row of column names")


def _read_header(cells: list[str], where: str) -> list[str]:
    header = [c.strip() for c in cells]
    if any(_SURROGATE.search(c) for c in header):
        raise RecordError(f"{where}: the header is not UTF-8 text")
    dupes = sorted({n for n in header if header.count(n) > 1})
    if dupes:
        raise RecordError(f"{where}: duplicate column(s) {', '.join(_label(n) for n in dupes)}")
    _check_columns(header, where)
    return header


def _csv_record(
    cells: list[str], header: list[str], source: str, row: int, base: Path
) -> RawRecord:
    defects: list[Defect] = []
    if len(cells) != len(header):
        defects.append(
            Defect(
                "row.cells",
                "",
                f"row has {len(cells)} cells; the header has {len(header)} columns",
            )
        )
    values: dict[str, str] = {}
    if _SURROGATE.search("".join(cells)) or any(len(c) * 4 > FIELD_LIMIT_BYTES for c in cells):
        for name, value in zip(header, cells, strict=False):
            if found := _value_defect(name, value):
                defects.append(found)
                value = ""
            values[name] = value
    else:  # no value can have a defect: the common case, checked in one pass
        values = dict(zip(header, cells, strict=False))
    return RawRecord(source, row, _finish(values, base), tuple(defects))


# ----------------------------------------------------------------------------------------- JSON


class _JsonObject(dict[str, Any]):
    """A decoded JSON object; ``duplicates`` lists the keys it had more than once."""

    duplicates: tuple[str, ...] = ()


def _object_pairs(pairs: list[tuple[str, Any]]) -> _JsonObject:
    # Duplicates are recorded, not raised: a raise here would abort the whole document, and a
    # key given twice is a problem of the one record that has it.
    obj = _JsonObject(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        dupes: list[str] = []
        for key, _ in pairs:
            if key in seen and key not in dupes:
                dupes.append(key)
            seen.add(key)
        obj.duplicates = tuple(dupes)
    return obj


def _json_loads(text: str) -> Any:
    """Decode one JSON document; the caller turns the exceptions into its own report."""
    return json.loads(text, object_pairs_hook=_object_pairs)


def _not_utf8_line(data: bytes) -> tuple[int, int] | None:
    """(line, byte offset) of the first byte of ``data`` that is not UTF-8, or None."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return data.count(b"\n", 0, exc.start) + 1, exc.start
    return None


def _json_record(obj: Any, source: str, row: int, base: Path) -> RawRecord:
    if not isinstance(obj, dict):
        defect = Defect("row.object", "", "a record must be a JSON object")
        return RawRecord(source, row, {}, (defect,))
    defects: list[Defect] = []
    duplicates = getattr(obj, "duplicates", ())
    values: dict[str, str] = {}
    for key, value in obj.items():
        if key not in COLUMNS:
            defects.append(
                Defect("field.unknown", "", f"unknown field {_label(key)}: not a record field")
            )
            continue
        if key in duplicates:
            # Which of the values was meant is anybody's guess: use neither.
            defects.append(Defect("field.duplicate", key, f"{key} is given more than once"))
            values[key] = ""
            continue
        text: str | None = None
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
                defects.append(
                    Defect(
                        "fingerprint.separator",
                        key,
                        f"{key}: a path in the list contains '{FINGERPRINT_SEPARATOR}'",
                    )
                )
            else:
                text = FINGERPRINT_SEPARATOR.join(value)
        else:
            defects.append(
                Defect("field.type", key, f"{key} must be a string (numbers lose leading zeros)")
            )
        if text is not None and (found := _value_defect(key, text)):
            defects.append(found)
            text = None
        values[key] = text or ""
    return RawRecord(source, row, _finish(values, base), tuple(defects))


def _iter_json(p: Path) -> Iterator[RawRecord]:
    # Parsed whole: a JSON document is only known to be well-formed once its last byte is read.
    with _open(p) as fh:
        data = _read(p, fh).removeprefix(_BOM)
    yield from _parse_json(data, str(p), p.parent)


def _parse_json(data: bytes, source: str, base: Path) -> list[RawRecord]:
    try:
        doc = _json_loads(_decode(data))
    except json.JSONDecodeError as exc:
        # Bad bytes outside any string break the syntax: say so rather than "Expecting value".
        if bad := _not_utf8_line(data):
            raise RecordError(
                f"{source}, line {bad[0]}: not UTF-8 text (byte offset {bad[1]})"
            ) from None
        raise RecordError(f"{source}, line {exc.lineno}: not valid JSON: {exc.msg}") from None
    except (ValueError, RecursionError) as exc:  # e.g. too deeply nested, huge integers
        raise RecordError(f"{source}: not usable JSON ({type(exc).__name__})") from None
    if isinstance(doc, _JsonObject) and set(doc) == {"records"}:
        if doc.duplicates:
            raise RecordError(f"{source}: duplicate key 'records'")
        doc = doc["records"]
    if not isinstance(doc, list):
        raise RecordError(f'{source}: expected a JSON list of records or {{"records": [...]}}')
    return [_json_record(obj, source, i, base) for i, obj in enumerate(doc, start=1)]


def _iter_jsonl(p: Path) -> Iterator[RawRecord]:
    source, base = str(p), p.parent
    with _open(p) as fh:
        # Split on \n only: str.splitlines() would also split on U+2028 etc. inside JSON
        # strings. Splitting the bytes is safe: no byte of a multi-byte UTF-8 character is 0x0A.
        number = 0
        while raw_line := _read_line(p, fh):
            number += 1
            if number == 1:
                raw_line = raw_line.removeprefix(_BOM)
            if record := _jsonl_record(raw_line.removesuffix(b"\n"), source, number, base):
                yield record


def _read_line(p: Path, fh: IO[bytes]) -> bytes:
    try:
        return fh.readline()
    except OSError as exc:
        raise _cannot_read(p, exc) from None


def _jsonl_record(raw_line: bytes, source: str, number: int, base: Path) -> RawRecord | None:
    """The record on one JSON Lines line, or None for a blank line."""
    line = _decode(raw_line)
    if not line.strip():
        return None
    defect: Defect | None = None
    try:
        obj = _json_loads(line)
    except json.JSONDecodeError as exc:
        if _not_utf8_line(raw_line):
            defect = Defect("row.encoding", "", "the line is not UTF-8 text")
        else:
            why = f"not valid JSON: {exc.msg} (column {exc.colno})"
            defect = Defect("row.json", "", why)
    except (ValueError, RecursionError) as exc:  # too deeply nested, huge integers
        defect = Defect("row.json", "", f"not usable JSON ({type(exc).__name__})")
    if defect is not None:
        return RawRecord(source, number, {}, (defect,))
    return _json_record(obj, source, number, base)
