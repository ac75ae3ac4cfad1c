"""Check citizen records and report *every* problem of each one, without stopping at the first.

:func:`validate` turns one :class:`~cardkit.records.load.RawRecord` into a :class:`Validated`: the
:class:`~cardkit.records.model.CitizenRecord` when the record is good, and the list of
:class:`Problem` values otherwise. Problems are data, not exceptions, so that a batch carries on
with the good records and a person fixes all of a record's mistakes in one pass.

Rules (problem codes in brackets; codes are stable identifiers, messages may change):

- what the loader found (:mod:`cardkit.records.load` lists the codes): bytes that are not
  UTF-8 [row.encoding], broken CSV quoting [row.quote], a value over the loader's size limit
  [row.too_long], a CSV row with the wrong number of cells [row.cells], a JSON Lines line that
  is not JSON [row.json], a record that is not an object [row.object], a JSON value of the wrong
  type [field.type], a ';' inside a listed fingerprint path [fingerprint.separator], an unknown
  [field.unknown] or repeated [field.duplicate] key. A record the loader could not read at all
  is reported with those problems only.
- shape: a required value empty [field.missing]; text with leading/trailing spaces
  [text.whitespace] or control characters [text.control]; text longer than the profile's
  ``[limits]`` [text.length].
- ID number ``PPP G YY NNNNNN`` (DOMAIN.md §2, :mod:`cardkit.records.idnumber`): 12 digits
  [id.format]; a known place code [id.province]; G even for men, odd for women [id.sex]; G's
  century = the birth year's [id.century]; YY = the birth year's last two digits [id.year]; the
  same number twice in one batch [id.duplicate].
- dates (YYYY-MM-DD or dd/mm/yyyy): readable [date.format]; a real calendar day [date.invalid];
  birth < issue [date.order]; neither after ``today`` [date.future]; a given expiry equals the
  one the profile's rule gives (:mod:`cardkit.records.expiry`) [expiry.mismatch]; an empty expiry
  is computed; ``Không thời hạn`` (or ``never``) states "no expiry" explicitly.
- sex M/F (also Nam/Nữ, male/female) [sex.value]; nationality "Việt Nam" on a VNM profile
  [nationality.value].
- full name representable in the MRZ: after stripping diacritics (NFD) every letter is A–Z or Đ,
  single spaces between words [name.mrz] (ICAO 9303-3 §6 transliteration; ``<<`` would read as
  the surname separator).
- photo: a file [photo.missing] that is a whole, well-formed image [photo.decode], at least
  the profile's ``[photo]`` width × height so it is never upscaled [photo.size]; fingerprints:
  at most 2 [fingerprint.count], each a file [fingerprint.missing] that is a whole, well-formed
  image [fingerprint.decode]. By default the file's structure is checked (JPEG, JPEG 2000 and
  PNG without decoding; other formats decoded), optionally a decode too, each file once per run
  (:mod:`cardkit.records.images`); the message names the file and the fault.
- CAN: 6 digits when given [can.format]; old ID (CMND): 9 digits when given [old_id.format].

Unicode: NFC is the canonical form (DG13 carries NFC UTF-8, DOMAIN.md §4). Text in another
normalisation form (e.g. NFD from a macOS export) is accepted and normalised to NFC; the fields
concerned are listed in :attr:`Validated.normalised` so that the change is visible, never silent.

Father's and mother's names may be empty (citizens whose parents are unknown); the full name may
not. Messages name the field, never its value: ID numbers, dates and the CAN are what the chip's
access keys are made of (DOMAIN.md §1).
"""

from __future__ import annotations

import re
import unicodedata
from array import array
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING

from cardkit.errors import RecordError
from cardkit.profile import Profile
from cardkit.records.expiry import compute_expiry
from cardkit.records.idnumber import IdNumber, place_name
from cardkit.records.images import ImageChecks
from cardkit.records.load import COLUMNS, FINGERPRINT_SEPARATOR, REQUIRED_COLUMNS, RawRecord
from cardkit.records.model import NO_EXPIRY_TEXT, CitizenRecord, Sex

if TYPE_CHECKING:
    from concurrent.futures import Future


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one record. ``field`` is "" when it concerns the whole row."""

    row: int
    field: str
    code: str
    message: str


@dataclass(frozen=True)
class Validated:
    """The verdict on one raw record: ``record`` is set exactly when ``problems`` is empty."""

    raw: RawRecord
    record: CitizenRecord | None
    problems: tuple[Problem, ...]
    normalised: tuple[str, ...] = field(default=())  # fields normalised to NFC

    def __post_init__(self) -> None:
        if (self.record is None) == (not self.problems):
            raise ValueError("a Validated has a record exactly when it has no problems")

    @property
    def ok(self) -> bool:
        return self.record is not None


#: Fields that must not be empty (father/mother may be: parents unknown).
REQUIRED_VALUES = REQUIRED_COLUMNS

_SEX_VALUES = {
    "m": Sex.MALE,
    "male": Sex.MALE,
    "nam": Sex.MALE,
    "f": Sex.FEMALE,
    "female": Sex.FEMALE,
    "nữ": Sex.FEMALE,
}
_NO_EXPIRY_VALUES = {NO_EXPIRY_TEXT.casefold(), "never"}
_CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_VN_DATE = re.compile(r"([0-9]{2})/([0-9]{2})/([0-9]{4})")


class DateShapeError(ValueError):
    """The text is not shaped like YYYY-MM-DD or dd/mm/yyyy."""


def parse_date(text: str) -> date:
    """Read ``YYYY-MM-DD`` or ``dd/mm/yyyy`` (DG13's form, DOMAIN.md §4).

    Raises DateShapeError when the text has neither shape, ValueError when there is no such day.
    """
    if m := _ISO_DATE.fullmatch(text):
        y, mo, d = int(m[1]), int(m[2]), int(m[3])
    elif m := _VN_DATE.fullmatch(text):
        d, mo, y = int(m[1]), int(m[2]), int(m[3])
    else:
        raise DateShapeError
    return date(y, mo, d)


def mrz_representable(name: str) -> bool:
    """True when every letter transliterates to A–Z (ICAO 9303-3 §6) and spaces are single.

    Vietnamese letters decompose (NFD) into a base letter A–Z plus combining marks (breve,
    circumflex, horn, tone marks), which the MRZ drops; Đ/đ is the one letter that does not
    decompose (→ D).
    """
    if not name or name != name.strip() or "  " in name:
        return False
    for ch in unicodedata.normalize("NFD", name):
        if unicodedata.combining(ch):
            continue
        if not ("A" <= ch <= "Z" or "a" <= ch <= "z" or ch in " Đđ"):
            return False
    return True


def _limits(profile: Profile) -> dict[str, int]:
    li = profile.limits
    return {
        "full_name": li.full_name,
        "place_of_origin": li.place_of_origin,
        "place_of_residence": li.place_of_residence,
        "identifying_marks": li.identifying_marks,
        "nationality": li.other_text,
        "ethnicity": li.other_text,
        "religion": li.other_text,
        "father_name": li.other_text,
        "mother_name": li.other_text,
        "spouse_name": li.other_text,
    }


def validate(
    raw: RawRecord, profile: Profile, today: date, *, images: ImageChecks | None = None
) -> Validated:
    """Check one raw record against the rules above; pure apart from reading the image files.

    ``images`` remembers the image files already checked (pass one for a whole run, as
    :func:`validate_stream` does); without it the record's files are checked afresh.
    """
    if images is None:
        images = ImageChecks()
    problems: list[Problem] = []

    def add(name: str, code: str, message: str) -> None:
        problems.append(Problem(raw.row, name, code, message))

    # What the loader saw (bad bytes, broken quoting, a wrong cell count…) comes first. A value it
    # could not use is "" now: do not also call it missing.
    damaged = {d.field for d in raw.defects if d.field}
    for defect in raw.defects:
        add(defect.field, defect.code, defect.message)
    if raw.defects and not raw.fields:
        # The loader could not read the record at all: every other rule would report noise.
        return Validated(raw, None, tuple(problems))

    # Text hygiene first: every other rule looks at the NFC form.
    values: dict[str, str] = {}
    normalised: list[str] = []
    for name in COLUMNS:
        value = raw.get(name)
        nfc = unicodedata.normalize("NFC", value)
        if nfc != value:
            normalised.append(name)
        values[name] = nfc
        # str.isprintable() is False for every character of those categories (and for spaces
        # other than ' '): only then is each character looked at.
        if not value.isprintable() and any(
            unicodedata.category(c) in _CONTROL_CATEGORIES for c in value
        ):
            add(name, "text.control", f"{name} contains control or unassigned characters")
        if value != value.strip():
            add(name, "text.whitespace", f"{name} has leading or trailing spaces")
    for name in REQUIRED_VALUES:
        if name not in damaged and not values[name].strip():
            add(name, "field.missing", f"{name} is required")
    for name, limit in _limits(profile).items():
        if len(values[name]) > limit:
            add(name, "text.length", f"{name} is longer than the profile's {limit} characters")

    # Sex and nationality.
    sex: Sex | None = None
    if values["sex"].strip():
        sex = _SEX_VALUES.get(values["sex"].strip().casefold())
        if sex is None:
            add("sex", "sex.value", "sex must be M or F (Nam or Nữ)")
    nationality = values["nationality"]
    if (
        nationality.strip()
        and profile.document.issuing_state == "VNM"
        and nationality != "Việt Nam"
    ):
        add("nationality", "nationality.value", "nationality must be 'Việt Nam' on this card")

    # Dates.
    def read_date(name: str) -> date | None:
        text = values[name].strip()
        if not text:
            return None
        try:
            return parse_date(text)
        except DateShapeError:
            add(name, "date.format", f"{name} is not a date: write YYYY-MM-DD or dd/mm/yyyy")
        except ValueError:
            add(name, "date.invalid", f"{name} is not a real calendar day")
        return None

    dob = read_date("date_of_birth")
    issued = read_date("date_of_issue")
    expiry_text = values["date_of_expiry"].strip()
    explicit_no_expiry = expiry_text.casefold() in _NO_EXPIRY_VALUES
    given_expiry = None if explicit_no_expiry else read_date("date_of_expiry")
    if dob is not None and dob > today:
        add("date_of_birth", "date.future", "date_of_birth is after today")
    if issued is not None and issued > today:
        add("date_of_issue", "date.future", "date_of_issue is after today")
    expiry: date | None = None
    expiry_known = False
    if dob is not None and issued is not None:
        if dob >= issued:
            add("date_of_issue", "date.order", "date_of_issue must be after date_of_birth")
        else:
            expected = compute_expiry(dob, issued, profile.expiry)
            if not expiry_text:
                expiry, expiry_known = expected, True
            elif explicit_no_expiry or given_expiry is not None:
                expiry, expiry_known = given_expiry, True
                if given_expiry != expected:
                    rule = profile.expiry.rule
                    add(
                        "date_of_expiry",
                        "expiry.mismatch",
                        f"date_of_expiry does not follow the profile's {rule} rule for this "
                        "date_of_birth and date_of_issue (leave it empty to compute it)",
                    )

    # ID number PPP G YY NNNNNN.
    id_text = values["id_number"].strip()
    if id_text:
        try:
            number: IdNumber | None = IdNumber.parse(id_text)
        except RecordError:
            number = None
            add("id_number", "id.format", "id_number must be exactly 12 digits")
        if number is not None:
            if place_name(number.place_code) is None:
                add(
                    "id_number",
                    "id.province",
                    "id_number: the first 3 digits are not a province code "
                    "(Circular 07/2016/TT-BCA, Annex I)",
                )
            if sex is not None and number.sex is not sex:
                add("id_number", "id.sex", "id_number: the 4th digit does not match sex")
            if dob is not None:
                if number.century != dob.year // 100 * 100:
                    add(
                        "id_number",
                        "id.century",
                        "id_number: the 4th digit does not match the century of date_of_birth",
                    )
                if number.year_digits != f"{dob.year % 100:02d}":
                    add(
                        "id_number",
                        "id.year",
                        "id_number: digits 5-6 are not the last two digits of the birth year",
                    )

    # Names.
    full_name = values["full_name"]
    if full_name.strip() and not mrz_representable(full_name):
        add(
            "full_name",
            "name.mrz",
            "full_name has a character the MRZ cannot transliterate (letters A-Z with "
            "Vietnamese marks, Đ, single spaces)",
        )

    # Images.
    photo_text = values["photo_path"].strip()
    if photo_text:
        min_size = (profile.photo.width, profile.photo.height)
        if found := images.problem(photo_text, min_size):
            add("photo_path", f"photo.{found[0]}", f"photo_path: {found[1]}")
    prints_text = values["fingerprint_paths"].strip()
    prints = [p.strip() for p in prints_text.split(FINGERPRINT_SEPARATOR)] if prints_text else []
    if len(prints) > 2:
        add(
            "fingerprint_paths",
            "fingerprint.count",
            f"fingerprint_paths lists {len(prints)} images; at most 2 (right and left index)",
        )
    for index, text in enumerate(prints, start=1):
        if not text:
            add("fingerprint_paths", "fingerprint.missing", f"fingerprint {index}: empty path")
        elif found := images.problem(text, None):
            add("fingerprint_paths", f"fingerprint.{found[0]}", f"fingerprint {index}: {found[1]}")

    # Numbers that are optional.
    can = values["can"].strip()
    if can and not (len(can) == 6 and all("0" <= c <= "9" for c in can)):
        add("can", "can.format", "can must be 6 digits")
    old_id = values["old_id_number"].strip()
    if old_id and not (len(old_id) == 9 and all("0" <= c <= "9" for c in old_id)):
        add("old_id_number", "old_id.format", "old_id_number must be 9 digits (CMND)")

    record: CitizenRecord | None = None
    if not problems:
        assert sex is not None and dob is not None and issued is not None and expiry_known
        try:
            record = CitizenRecord(
                id_number=id_text,
                full_name=full_name,
                date_of_birth=dob,
                sex=sex,
                nationality=nationality,
                ethnicity=values["ethnicity"],
                religion=values["religion"],
                place_of_origin=values["place_of_origin"],
                place_of_residence=values["place_of_residence"],
                identifying_marks=values["identifying_marks"],
                date_of_issue=issued,
                date_of_expiry=expiry,
                father_name=values["father_name"],
                mother_name=values["mother_name"],
                spouse_name=values["spouse_name"],
                old_id_number=old_id,
                photo_path=Path(photo_text),
                fingerprint_paths=tuple(Path(p) for p in prints),
                can=can or None,
            )
        except RecordError as exc:  # a rule above should have caught it; report, never crash
            add("", "record.invalid", str(exc))
    return Validated(raw, record, tuple(problems), tuple(normalised))


def validate_all(
    raws: Iterable[RawRecord], profile: Profile, today: date, *, jobs: int = 1
) -> list[Validated]:
    """Validate each record, then flag ID numbers that occur more than once in the batch.

    The list :func:`validate_stream` yields; use that to keep memory flat on large files.
    """
    return list(validate_stream(raws, profile, today, jobs=jobs))


#: Records per task a worker process is given (``validate_stream(..., jobs=N)``).
CHUNK_RECORDS = 256
_CHUNKS_AHEAD = 4  # tasks queued per worker: enough to keep it busy, few enough to bound memory


def validate_stream(
    raws: Iterable[RawRecord],
    profile: Profile,
    today: date,
    *,
    jobs: int = 1,
    images: ImageChecks | None = None,
) -> Iterator[Validated]:
    """Validate records as they come, yielding each verdict in input order.

    Memory does not grow with the number of records, apart from the ID numbers already seen
    (a repeat is flagged ``id.duplicate`` on the later record, naming the row of the first):
    16 to 48 bytes each (:class:`FirstRows`). ``raws`` is read lazily: no record is taken
    before the verdicts of those before it are wanted (with ``jobs`` > 1, at most ``jobs`` × 4
    chunks of :data:`CHUNK_RECORDS` records ahead).

    ``jobs`` > 1 spreads the records over that many worker processes, in chunks; the verdicts
    are the same, in the same order, as with ``jobs`` = 1 (duplicates are found here, in order).
    ``images`` checks the image files (a fresh :class:`ImageChecks` by default); with ``jobs``
    > 1 each worker gets its own copy.
    """
    if jobs < 1:
        raise ValueError("jobs must be at least 1")
    checks = images if images is not None else ImageChecks()
    if jobs == 1:
        results: Iterator[Validated] = (
            validate(raw, profile, today, images=checks) for raw in raws
        )
    else:
        results = _validate_in_workers(raws, profile, today, jobs, checks)
    return _flag_duplicates(results)


class FirstRows:
    """The row on which each ID number was first seen, in little memory.

    A 12-digit number (every valid one) is kept as two 8-byte integers (the number and its row)
    in an open-addressing table at most two-thirds full: 16 to 48 bytes a number, against some
    120 for a dict entry and 3 KB for a record held in memory. Other text (an invalid ID, rare)
    goes in a dict.
    """

    _MIN_BITS = 10

    def __init__(self) -> None:
        self._bits = self._MIN_BITS
        self._keys = array("q", bytes(8 << self._bits))  # number + 1; 0 = empty slot
        self._rows = array("q", bytes(8 << self._bits))
        self._used = 0
        self._texts: dict[str, int] = {}

    def __len__(self) -> int:
        return self._used + len(self._texts)

    def seen(self, id_text: str, row: int) -> int | None:
        """The row ``id_text`` was first seen on; None (and ``row`` remembered) the first time."""
        if not (len(id_text) == 12 and id_text.isascii() and id_text.isdigit()):
            earlier = self._texts.get(id_text)
            if earlier is None:
                self._texts[id_text] = row
            return earlier
        key = int(id_text) + 1
        slot = self._slot(key)
        if self._keys[slot] == key:
            return self._rows[slot]
        self._keys[slot], self._rows[slot] = key, row
        self._used += 1
        if 3 * self._used > 2 << self._bits:
            self._grow()
        return None

    def _slot(self, key: int) -> int:
        """The slot holding ``key``, or the empty one where it goes (linear probing)."""
        mask = (1 << self._bits) - 1
        # Fibonacci hashing: ID numbers are dense runs (one place, year and sex): spread them.
        slot = ((key * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF) >> (64 - self._bits)
        keys = self._keys
        while (found := keys[slot]) != key and found:
            slot = (slot + 1) & mask
        return slot

    def _grow(self) -> None:
        keys, rows = self._keys, self._rows
        self._bits += 1
        self._keys = array("q", bytes(8 << self._bits))
        self._rows = array("q", bytes(8 << self._bits))
        for key, row in zip(keys, rows, strict=True):
            if key:
                slot = self._slot(key)
                self._keys[slot], self._rows[slot] = key, row


def _flag_duplicates(results: Iterable[Validated]) -> Iterator[Validated]:
    first_rows = FirstRows()
    for result in results:
        id_text = unicodedata.normalize("NFC", result.raw.get("id_number")).strip()
        earlier = first_rows.seen(id_text, result.raw.row) if id_text else None
        if earlier is None:
            yield result
            continue
        dup = Problem(
            result.raw.row,
            "id_number",
            "id.duplicate",
            f"id_number repeats the record at row {earlier}",
        )
        yield replace(result, record=None, problems=(*result.problems, dup))


# ---------------------------------------------------------------------------- worker processes

# What a worker sends back for one record: its raw record stays with the parent.
_Verdict = tuple[CitizenRecord | None, tuple[Problem, ...], tuple[str, ...]]

_worker: tuple[Profile, date, ImageChecks] | None = None


def _start_worker(profile: Profile, today: date, images: ImageChecks) -> None:
    global _worker
    _worker = (profile, today, images)


def _validate_chunk(chunk: list[RawRecord]) -> list[_Verdict]:
    assert _worker is not None, "not started with _start_worker"
    profile, today, images = _worker
    out: list[_Verdict] = []
    for raw in chunk:
        v = validate(raw, profile, today, images=images)
        out.append((v.record, v.problems, v.normalised))
    return out


def _chunks(raws: Iterable[RawRecord], size: int) -> Iterator[list[RawRecord]]:
    it = iter(raws)
    while chunk := list(islice(it, size)):
        yield chunk


def _validate_in_workers(
    raws: Iterable[RawRecord], profile: Profile, today: date, jobs: int, images: ImageChecks
) -> Iterator[Validated]:
    from concurrent.futures import ProcessPoolExecutor  # multiprocessing: only when used

    pool = ProcessPoolExecutor(jobs, initializer=_start_worker, initargs=(profile, today, images))
    pending: deque[tuple[list[RawRecord], Future[list[_Verdict]]]] = deque()

    def collect() -> Iterator[Validated]:
        chunk, task = pending.popleft()
        for raw, (record, problems, normalised) in zip(chunk, task.result(), strict=True):
            yield Validated(raw, record, problems, normalised)

    try:
        for chunk in _chunks(raws, CHUNK_RECORDS):
            pending.append((chunk, pool.submit(_validate_chunk, chunk)))
            if len(pending) >= jobs * _CHUNKS_AHEAD:
                yield from collect()
        while pending:
            yield from collect()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
