"""One bad line does not hide the others: a row's bad bytes, broken quoting, oversized value or
wrong cell count is a defect of that row (its line number, field and a stable code), and the
other rows load and validate as if it were not there. Also through validate, batch and prepare."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from testpki import in_memory_issuer

from cardkit.batch.runner import load_batch
from cardkit.errors import RecordError
from cardkit.profile import Profile, load_profile
from cardkit.records.load import COLUMNS, FIELD_LIMIT_BYTES, RawRecord, load_records
from cardkit.records.validate import Validated, validate, validate_all
from cardkit.services.prepare import prepare_batch

SAMPLES = Path(__file__).resolve().parents[3] / "profiles" / "samples"
TODAY = date(2026, 11, 1)  # the samples' reference day


@pytest.fixture(scope="module")
def profile() -> Profile:
    return load_profile("vn-cccd-2021")


def sample_rows(n: int) -> tuple[list[str], list[dict[str, str]]]:
    """The first ``n`` records of citizens.csv, image paths made absolute (valid anywhere)."""
    with (SAMPLES / "citizens.csv").open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        header = list(reader.fieldnames or ())
        rows = [row for _, row in zip(range(n), reader, strict=False)]
    for row in rows:
        row["photo_path"] = str(SAMPLES / row["photo_path"])
        prints = [p for p in row["fingerprint_paths"].split(";") if p]
        row["fingerprint_paths"] = ";".join(str(SAMPLES / p) for p in prints)
    return header, rows


def sample_lines(n: int, quote_all: bool = False, end: str = "\n") -> list[bytes]:
    """Header and ``n`` sample records, one encoded line each (no line ends)."""
    header, rows = sample_rows(n)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=header, lineterminator=end)
    if quote_all:
        writer = csv.DictWriter(buf, fieldnames=header, lineterminator=end, quoting=csv.QUOTE_ALL)
    writer.writeheader()
    writer.writerows(rows)
    return [line.encode() for line in buf.getvalue().split(end)[:-1]]


def write(path: Path, lines: list[bytes], end: bytes = b"\n") -> Path:
    path.write_bytes(end.join(lines) + end)
    return path


def codes(raw: RawRecord) -> list[tuple[str, str]]:
    return [(d.code, d.field) for d in raw.defects]


def line_breaks(data: bytes) -> int:
    return data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")


# ------------------------------------------------------------------------------------ CSV quoting


def test_sound_quoting_still_reads(tmp_path: Path) -> None:
    lines = sample_lines(1)
    cells = [
        '"Xã Đông Mỹ, Thanh Trì, Hà Nội"',  # commas inside quotes
        '"Sẹo ""chấm"""',  # doubled quotes
        '""',  # an empty quoted value
        '"Số 1\r\nHà Nội"',  # a value on two lines (CRLF inside)
    ]
    header = b"place_of_origin,identifying_marks,spouse_name,place_of_residence,"
    first = lines[1].decode().split(",")[0]
    required = "id_number,full_name,date_of_birth,sex,nationality,ethnicity,religion"
    required += ",date_of_issue,photo_path"
    row = ",".join(cells) + f",{first},Nguyễn Văn An,1993-01-05,M,Việt Nam,Kinh,Không,"
    row += "2021-03-15,a.jpg"
    p = write(tmp_path / "q.csv", [header + required.encode(), row.encode(), row.encode()])
    records = load_records(p)
    assert [r.row for r in records] == [2, 4]
    r = records[0]
    assert r.defects == ()
    assert r.fields["place_of_origin"] == "Xã Đông Mỹ, Thanh Trì, Hà Nội"
    assert r.fields["identifying_marks"] == 'Sẹo "chấm"'
    assert r.fields["spouse_name"] == ""
    assert r.fields["place_of_residence"] == "Số 1\r\nHà Nội"
    assert r.fields["full_name"] == "Nguyễn Văn An"


def cell_line(cells: list[str], index: int, raw: str) -> bytes:
    """A CSV line of ``cells`` (minimal quoting) with cell ``index`` written as ``raw``."""
    parts = []
    for i, cell in enumerate(cells):
        if i == index:
            parts.append(raw)
        elif any(c in cell for c in ',"\r\n'):
            parts.append('"' + cell.replace('"', '""') + '"')
        else:
            parts.append(cell)
    if index >= len(cells):
        parts.append(raw)
    return ",".join(parts).encode()


ORIGIN, ETHNICITY = COLUMNS.index("place_of_origin"), COLUMNS.index("ethnicity")
BROKEN_QUOTES = [
    # (cell, how it is written, the field blamed)
    (1, lambda v: v[:2] + '"' + v[2:], "full_name"),  # a quote inside an unquoted value
    (ORIGIN, lambda v: '"' + v + '"x', "place_of_origin"),  # text after the closing quote
    (ETHNICITY, lambda v: '"' + v, "ethnicity"),  # never closed: runs into the next value
    (ORIGIN, lambda v: '"' + v, "place_of_origin"),
    (len(COLUMNS), lambda v: '"', ""),  # never closed, past the last column
]


@pytest.mark.parametrize(("cell", "breaks", "field"), BROKEN_QUOTES)
@pytest.mark.parametrize("where", [1, 2, 3])  # first, middle and last record
def test_a_stray_quote_spoils_only_its_row(
    tmp_path: Path,
    profile: Profile,
    cell: int,
    breaks: Callable[[str], str],
    field: str,
    where: int,
) -> None:
    lines = sample_lines(3)
    cells = next(csv.reader([lines[where].decode()]))
    value = cells[cell] if cell < len(cells) else ""
    broken = cell_line(cells, cell, breaks(value))
    p = write(tmp_path / "r.csv", [*lines[:where], broken, *lines[where + 1 :]])
    records = load_records(p)
    assert [r.row for r in records] == [2, 3, 4]
    bad = records[where - 1]
    assert bad.fields == {} and codes(bad) == [("row.quote", field)]
    message = bad.defects[0].message
    assert cells[1] not in message and cells[ORIGIN] not in message
    results = validate_all(records, profile, TODAY)
    assert [r.ok for r in results] == [i != where for i in (1, 2, 3)]
    assert [(p.row, p.field, p.code) for p in results[where - 1].problems] == [
        (where + 1, field, "row.quote")
    ]


def test_a_stray_quote_in_a_file_without_quotes_runs_to_the_end_and_back(tmp_path: Path) -> None:
    # No other quote anywhere: the unclosed value reaches the end of the file. Reading resumes
    # on the next line, so every later row is still there.
    header = ",".join(COLUMNS).encode()
    row = b"001093047064,An,1993-01-05,M,Vi\xe1\xbb\x87t Nam,Kinh,K,X,Y,,2021-03-15,,,,,,a.jpg,,"
    broken = row.replace(b",An,", b',"An,')
    records = load_records(write(tmp_path / "r.csv", [header, row, broken, row, row]))
    assert [(r.row, codes(r)) for r in records] == [
        (2, []),
        (3, [("row.quote", "full_name")]),
        (4, []),
        (5, []),
    ]


def test_two_stray_quotes_that_pair_up_spoil_only_their_rows(tmp_path: Path) -> None:
    # The quote opened in line 3 is closed by the stray one in line 5: a "value" spanning three
    # lines, with a wrong number of cells. Line 3 is blamed, lines 4 and 6 are read again.
    header = b"id_number,full_name,date_of_birth,sex,nationality,ethnicity,religion,"
    header += b"place_of_origin,place_of_residence,date_of_issue,photo_path"
    row = b"001093047064,An,1993-01-05,M,VN,Kinh,K,X,Y,2021-03-15,a.jpg"
    lines = [header, row, row.replace(b",X,", b',"X,'), row, row.replace(b",Y,", b',Y",'), row]
    records = load_records(write(tmp_path / "r.csv", lines))
    assert [(r.row, codes(r)) for r in records] == [
        (2, []),
        (3, [("row.quote", "place_of_origin")]),
        (4, []),
        (5, [("row.quote", "place_of_residence")]),
        (6, []),
    ]


def test_row_numbers_are_lines_around_broken_and_multiline_rows(tmp_path: Path) -> None:
    lines = sample_lines(3)
    two_lines = lines[2].replace(b'"', b'"X\n', 1)
    text = [lines[0], lines[1], b"", b'"broken', two_lines, lines[3]]
    assert two_lines != lines[2]
    records = load_records(write(tmp_path / "r.csv", text, b"\r\n"))
    # header 1, record 2, blank 3, broken 4, a two-line record on 5-6, record on 7.
    assert [(r.row, [c for c, _ in codes(r)]) for r in records] == [
        (2, []),
        (4, ["row.quote"]),
        (5, []),
        (7, []),
    ]


def test_a_broken_header_is_a_file_error(tmp_path: Path) -> None:
    lines = sample_lines(1)
    for header in (lines[0] + b',"', lines[0].replace(b"sex", b's"ex'), b'"' + lines[0]):
        with pytest.raises(RecordError, match=r"h\.csv, line 1: malformed CSV header"):
            load_records(write(tmp_path / "h.csv", [header, lines[1]]))


# --------------------------------------------------------------------------------- CSV encoding


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
@pytest.mark.parametrize(
    ("junk", "field"),
    [
        (b"\xff", "full_name"),  # never UTF-8
        (b"\xc3", "full_name"),  # a sequence cut short
        (b"\xed\xa0\x80", "full_name"),  # an encoded surrogate
        (b"\xe1\xba", "full_name"),
    ],
)
def test_bad_bytes_spoil_only_their_value(
    tmp_path: Path, profile: Profile, bom: bytes, junk: bytes, field: str
) -> None:
    lines = sample_lines(3)
    lines[2] = lines[2].replace("Bích".encode(), b"B" + junk + b"ch")
    p = write(tmp_path / "r.csv", [bom + lines[0], *lines[1:]])
    records = load_records(p)
    assert [(r.row, codes(r)) for r in records] == [
        (2, []),
        (3, [("row.encoding", field)]),
        (4, []),
    ]
    assert records[1].fields[field] == ""
    # The other values of the row are still checked, and the bad one is not also "missing".
    results = validate_all(records, profile, TODAY)
    assert [r.ok for r in results] == [True, False, True]
    assert [p.code for p in results[1].problems] == ["row.encoding"]
    problems = validate(
        RawRecord(records[1].source, 3, {**records[1].fields, "can": "12"}, records[1].defects),
        profile,
        TODAY,
    ).problems
    assert [(p.field, p.code) for p in problems] == [
        (field, "row.encoding"),
        ("can", "can.format"),
    ]


# ------------------------------------------------------------------------------ oversized values


def big_row(lines: list[bytes], value: bytes) -> bytes:
    return lines[1].replace(b"Kinh", value, 1)


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (b"K" * FIELD_LIMIT_BYTES, None),  # at the limit: fine for the loader
        (b"K" * (FIELD_LIMIT_BYTES + 1), "row.too_long"),
        ("ệ".encode() * (FIELD_LIMIT_BYTES // 3 + 1), "row.too_long"),  # bytes, not characters
        (b"K" * (1 << 20), "row.too_long"),  # above csv's own field limit, too
        (b'"' + b"K" * (FIELD_LIMIT_BYTES + 1) + b'"', "row.too_long"),
        (b'"' + b"K" * (1 << 20) + b'"', "row.too_long"),  # past the quote search window
        (b'"' + b'""' * (FIELD_LIMIT_BYTES // 2) + b'"', None),  # 32 Ki escaped quotes
    ],
)
def test_an_oversized_value_spoils_only_its_row(
    tmp_path: Path, value: bytes, code: str | None
) -> None:
    lines = sample_lines(2)
    p = write(tmp_path / "r.csv", [lines[0], big_row(lines, value), lines[2]])
    t0 = time.perf_counter()
    records = load_records(p)
    assert time.perf_counter() - t0 < 5
    assert [r.row for r in records] == [2, 3]
    assert records[1].defects == ()
    if code is None:
        assert records[0].defects == ()
    else:
        assert codes(records[0]) == [(code, "ethnicity")]
        assert str(FIELD_LIMIT_BYTES) in records[0].defects[0].message
        assert "KKKK" not in records[0].defects[0].message


def test_a_runaway_quote_over_the_limit_is_a_quote_problem(tmp_path: Path) -> None:
    # A value "on many lines" longer than any address: a stray quote, whose row is blamed.
    header = ",".join(COLUMNS).encode()
    row = b"001093047064,An,1993-01-05,M,VN,Kinh,K,X,Y,,2021-03-15,,,,,,a.jpg,,"
    filler = [b"x" * 1000] * (FIELD_LIMIT_BYTES // 1000 + 2)
    bad = row.replace(b",Kinh,", b',"Kinh,')
    records = load_records(write(tmp_path / "r.csv", [header, bad, *filler, b'x",', row]))
    assert codes(records[0]) == [("row.quote", "ethnicity")] and records[0].row == 2
    assert records[-1].row == len(filler) + 4 and records[-1].defects == ()


def test_many_stray_quotes_stay_fast(tmp_path: Path) -> None:
    lines = sample_lines(2)
    plain = b"x" * 60
    body = [b'"' + plain if i % 50 == 0 else plain for i in range(20_000)]
    p = write(tmp_path / "r.csv", [lines[0], *body, lines[1]])
    t0 = time.perf_counter()
    records = load_records(p)
    assert time.perf_counter() - t0 < 10
    assert records[-1].defects == () and records[-1].row == len(body) + 2
    assert sum(1 for r in records if codes(r) == [("row.quote", "id_number")]) == 400


# ---------------------------------------------------------------------------------- cell counts


def test_a_wrong_cell_count_is_a_row_problem(tmp_path: Path, profile: Profile) -> None:
    lines = sample_lines(3)
    lines[1] = lines[1] + b",extra"
    lines[3] = lines[3].rsplit(b",", 1)[0]
    results = validate_all(load_records(write(tmp_path / "r.csv", lines)), profile, TODAY)
    assert [(r.raw.row, [p.code for p in r.problems]) for r in results] == [
        (2, ["row.cells"]),
        (3, []),
        (4, ["row.cells"]),
    ]
    assert results[0].problems[0].field == "" and "20 cells" in results[0].problems[0].message


# ---------------------------------------------------------------------------------- JSON Lines


def test_jsonl_one_bad_line_among_good_ones(tmp_path: Path, profile: Profile) -> None:
    good = [json.dumps(row, ensure_ascii=False).encode() for row in sample_rows(2)[1]]
    lines = [
        good[0],
        b'{"id_number": "0010930',  # cut short
        good[1].replace(b"Kinh", b"K\xffnh"),  # a bad byte inside a string value
        b'{"id_number": \xff}',  # a bad byte outside any string
        b"",
        b"42",
        good[0],
    ]
    records = load_records(write(tmp_path / "r.jsonl", lines))
    assert [(r.row, codes(r)) for r in records] == [
        (1, []),
        (2, [("row.json", "")]),
        (3, [("row.encoding", "ethnicity")]),
        (4, [("row.encoding", "")]),
        (6, [("row.object", "")]),
        (7, []),
    ]
    assert records[1].fields == {} and records[2].fields["ethnicity"] == ""
    results = validate_all(records, profile, TODAY)
    # Line 7 repeats line 1: the usual duplicate, proof that it was read and checked.
    assert [[p.code for p in r.problems] for r in results] == [
        [],
        ["row.json"],
        ["row.encoding"],
        ["row.encoding"],
        ["row.object"],
        ["id.duplicate"],
    ]


def test_json_bad_bytes_inside_a_value(tmp_path: Path) -> None:
    good = {c: "" for c in ("id_number", "full_name", "sex")}
    doc = json.dumps([good, {**good, "full_name": "Kinh"}, good]).encode()
    records = load_records(write(tmp_path / "r.json", [doc.replace(b"Kinh", b"K\xffnh")]))
    assert [(r.row, codes(r)) for r in records] == [
        (1, []),
        (2, [("row.encoding", "full_name")]),
        (3, []),
    ]


def test_json_oversized_value(tmp_path: Path) -> None:
    doc = json.dumps([{"full_name": "N" * (FIELD_LIMIT_BYTES + 1)}, {"full_name": "N"}])
    records = load_records(write(tmp_path / "r.json", [doc.encode()]))
    assert [codes(r) for r in records] == [[("row.too_long", "full_name")], []]


# -------------------------------------------------------------------------------- consumers


def broken_file(path: Path) -> Path:
    """Three sample records; the second has a stray quote, the fourth line bad bytes."""
    lines = sample_lines(4)
    lines[2] = lines[2].replace(b",Kinh,", b',"Kinh,', 1)
    lines[4] = lines[4].replace("Hạnh".encode(), b"H\xe1nh", 1)
    return write(path, lines)


def test_batch_rejects_the_bad_rows_and_keeps_the_others(tmp_path: Path, profile: Profile) -> None:
    _, entries, valid = load_batch(broken_file(tmp_path / "b.csv"), profile, TODAY)
    assert [(e.row, e.state) for e in entries] == [
        (2, "pending"),
        (3, "rejected"),
        (4, "pending"),
        (5, "rejected"),
    ]
    assert "[row.quote]" in (entries[1].reason or "")
    assert "[row.encoding]" in (entries[3].reason or "")
    assert sorted(valid) == [2, 4]


def test_prepare_rejects_the_bad_rows_and_prepares_the_others(
    tmp_path: Path, profile: Profile
) -> None:
    issuer = in_memory_issuer("load rows test").issuer
    summary = prepare_batch(
        broken_file(tmp_path / "p.csv"),
        profile,
        issuer,
        tmp_path / "cards",
        today=TODAY,
        clock=lambda: datetime(2026, 11, 1, 10, 0, tzinfo=UTC),
    )
    assert [(o.row, o.status) for o in summary.outcomes] == [
        (2, "prepared"),
        (3, "rejected"),
        (4, "prepared"),
        (5, "rejected"),
    ]
    assert any("[row.quote]" in p for p in summary.outcomes[1].problems)


# ------------------------------------------------------------------ property: bytes in one row

ROWS = 5
JUNK = st.one_of(
    st.binary(min_size=1, max_size=24),
    st.lists(
        st.sampled_from(
            [b'"', b",", b"\n", b"\r", b"\r\n", b'""', b'",', b',"', b"\xff", b"\xc3", b"\x00"]
        ),
        min_size=1,
        max_size=10,
    ).map(b"".join),
)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rows")


@pytest.fixture(scope="module")
def baselines(
    scratch: Path, profile: Profile
) -> dict[tuple[bool, bytes], tuple[list[bytes], list[Validated]]]:
    """For each quoting style and line end: the file's lines and how they validate."""
    out = {}
    for quote_all in (False, True):
        for end in (b"\n", b"\r\n"):
            lines = sample_lines(ROWS, quote_all, end.decode())
            p = write(scratch / "base.csv", lines, end)
            results = validate_all(load_records(p), profile, TODAY)
            assert [r.raw.row for r in results] == list(range(2, ROWS + 2))
            assert all(r.ok for r in results)
            out[quote_all, end] = lines, results
    return out


@given(
    style=st.sampled_from([(q, e) for q in (False, True) for e in (b"\n", b"\r\n")]),
    index=st.integers(min_value=1, max_value=ROWS),
    where=st.integers(min_value=0),
    junk=JUNK,
)
def test_random_bytes_in_one_row_leave_the_other_rows_alone(
    scratch: Path,
    profile: Profile,
    baselines: dict[tuple[bool, bytes], tuple[list[bytes], list[Validated]]],
    style: tuple[bool, bytes],
    index: int,
    where: int,
    junk: bytes,
) -> None:
    lines, before = baselines[style]
    end = style[1]
    target = lines[index]
    at = where % (len(target) + 1)
    damaged = [*lines[:index], target[:at] + junk + target[at:], *lines[index + 1 :]]
    p = write(scratch / "fuzz.csv", damaged, end)
    # The header is intact, so nothing about one row may make the file unusable.
    records = load_records(p)
    after = {r.raw.row: r for r in validate_all(records, profile, TODAY)}
    # Rows after the damaged one move down by the line breaks the junk added.
    shift = line_breaks(p.read_bytes()) - line_breaks(end.join(lines) + end)
    bad_row = index + 1
    for old in before:
        if old.raw.row == bad_row:
            continue
        row = old.raw.row + (shift if old.raw.row > bad_row else 0)
        assert row in after, f"row {old.raw.row} (now {row}) was not read"
        new = after[row]
        assert dict(new.raw.fields) == dict(old.raw.fields)
        assert new.raw.defects == ()
        assert new.ok and new.record == old.record
