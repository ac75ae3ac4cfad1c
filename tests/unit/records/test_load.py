"""Loaders: CSV, JSON, JSON Lines → RawRecord; unusable files raise RecordError, nothing else.

What one record gets wrong is a defect of that record (test_load_rows.py has those cases)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cardkit.errors import RecordError
from cardkit.records.load import COLUMNS, REQUIRED_COLUMNS, Defect, RawRecord, load_records

ROW = {
    "id_number": "001093047064",
    "full_name": "Nguyễn Văn An",
    "date_of_birth": "1993-01-05",
    "sex": "M",
    "nationality": "Việt Nam",
    "ethnicity": "Kinh",
    "religion": "Không",
    "place_of_origin": "Xã Đông Mỹ, Thanh Trì, Hà Nội",
    "place_of_residence": "Hà Nội",
    "date_of_issue": "15/03/2021",
    "photo_path": "photos/a.jpg",
    "fingerprint_paths": "f/1.png; f/2.png",
}


def csv_text(rows: list[dict[str, str]], columns: list[str] | None = None) -> str:
    cols = columns or list(ROW)
    lines = [",".join(cols)]
    for r in rows:
        lines.append(",".join('"' + r.get(c, "").replace('"', '""') + '"' for c in cols))
    return "\n".join(lines) + "\n"


def write(tmp: Path, name: str, text: str | bytes) -> Path:
    p = tmp / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
def test_csv_with_and_without_bom(tmp_path: Path, bom: bytes) -> None:
    p = write(tmp_path, "r.csv", bom + csv_text([ROW, ROW]).encode())
    records = load_records(p)
    assert [r.row for r in records] == [2, 3]
    r = records[0]
    assert r.source == str(p)
    assert r.fields["full_name"] == "Nguyễn Văn An"
    assert r.fields["id_number"] == "001093047064"
    assert set(r.fields) == set(COLUMNS)
    assert r.fields["can"] == ""  # optional column absent → empty
    # Relative paths resolve against the records file's folder.
    assert r.fields["photo_path"] == str(tmp_path / "photos/a.jpg")
    assert r.fields["fingerprint_paths"] == f"{tmp_path / 'f/1.png'};{tmp_path / 'f/2.png'}"


def test_csv_absolute_paths_kept(tmp_path: Path) -> None:
    p = write(tmp_path, "r.csv", csv_text([{**ROW, "photo_path": "/srv/x.jpg"}]))
    assert load_records(p)[0].fields["photo_path"] == "/srv/x.jpg"


def test_csv_rows_are_the_lines_a_person_sees(tmp_path: Path) -> None:
    text = csv_text([ROW]).rstrip("\n").split("\n")
    multi = {**ROW, "place_of_residence": "Số 1\nHà Nội"}
    body = [text[0], "", text[1], csv_text([multi]).split("\n", 1)[1].rstrip("\n"), "", text[1]]
    p = write(tmp_path, "r.csv", "\n".join(body) + "\n")
    rows = [r.row for r in load_records(p)]
    # header line 1, blank line 2, record on 3, a two-line record on 4-5, blank 6, record on 7.
    assert rows == [3, 4, 7]
    assert load_records(p)[1].fields["place_of_residence"] == "Số 1\nHà Nội"


def test_csv_wrong_cell_count_is_a_record_defect(tmp_path: Path) -> None:
    good = csv_text([ROW]).split("\n")
    short = good[1].rsplit(",", 1)[0]
    long = good[1] + ',"extra"'
    p = write(tmp_path, "r.csv", "\n".join([good[0], short, long, good[1]]) + "\n")
    records = load_records(p)
    assert [len(r.defects) for r in records] == [1, 1, 0]
    assert records[0].defects[0].code == records[1].defects[0].code == "row.cells"
    assert "cells" in records[0].defects[0].message


@pytest.mark.parametrize("missing", REQUIRED_COLUMNS)
def test_csv_missing_required_column(tmp_path: Path, missing: str) -> None:
    cols = [c for c in ROW if c != missing]
    p = write(tmp_path, "r.csv", csv_text([ROW], cols))
    with pytest.raises(RecordError, match=rf"r\.csv, line 1: missing .*{missing}"):
        load_records(p)


def test_csv_unknown_and_duplicate_columns(tmp_path: Path) -> None:
    p = write(tmp_path, "r.csv", csv_text([ROW], [*ROW, "shoe_size"]))
    with pytest.raises(RecordError, match=r"unknown column.*shoe_size"):
        load_records(p)
    p = write(tmp_path, "d.csv", csv_text([ROW], [*ROW, "sex"]))
    with pytest.raises(RecordError, match="duplicate"):
        load_records(p)


def test_csv_bad_encoding_is_a_defect_of_its_row(tmp_path: Path) -> None:
    # Was: the whole file rejected ("line 2: not UTF-8"). Now only that row's value is bad.
    good = csv_text([ROW]).split("\n")
    latin1 = good[1].encode().replace("Văn".encode(), "V\xe3n".encode("latin-1"))
    lines = [good[0].encode(), latin1, good[1].encode()]
    records = load_records(write(tmp_path, "r.csv", b"\n".join(lines) + b"\n"))
    assert [r.row for r in records] == [2, 3]
    assert [(d.code, d.field) for d in records[0].defects] == [("row.encoding", "full_name")]
    assert records[0].fields["full_name"] == ""  # never half a value
    assert records[1].defects == () and records[1].fields["full_name"] == "Nguyễn Văn An"


def test_csv_bad_encoding_in_the_header_is_a_file_error(tmp_path: Path) -> None:
    data = csv_text([ROW]).encode().replace(b"full_name", b"full_n\xe4me", 1)
    with pytest.raises(RecordError, match=r"r\.csv, line 1: the header is not UTF-8"):
        load_records(write(tmp_path, "r.csv", data))


def test_csv_empty_and_malformed(tmp_path: Path) -> None:
    with pytest.raises(RecordError, match="empty"):
        load_records(write(tmp_path, "e.csv", ""))
    # Was: the whole file rejected ("malformed CSV"). Now the broken row is a defect of its own.
    bad = csv_text([ROW]) + '"unterminated,\n'
    records = load_records(write(tmp_path, "m.csv", bad))
    assert [r.row for r in records] == [2, 3]
    assert records[0].defects == ()
    assert records[1].fields == {}
    assert [(d.code, d.field) for d in records[1].defects] == [("row.quote", "id_number")]
    with pytest.raises(RecordError, match=r"line 1: malformed CSV header"):
        load_records(write(tmp_path, "h.csv", 'id_number,"full_name\n'))


def test_unreadable_and_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(RecordError, match="cannot read"):
        load_records(tmp_path / "missing.csv")
    (tmp_path / "dir.json").mkdir()
    with pytest.raises(RecordError, match="cannot read"):
        load_records(tmp_path / "dir.json")
    with pytest.raises(RecordError, match="unknown records format"):
        load_records(write(tmp_path, "r.xlsx", "x"))


def test_json_list_and_records_object(tmp_path: Path) -> None:
    obj = {**ROW, "fingerprint_paths": ["f/1.png", "f/2.png"], "can": None}
    for doc in ([obj, obj], {"records": [obj, obj]}):
        p = write(tmp_path, "r.json", json.dumps(doc, ensure_ascii=False))
        records = load_records(p)
        assert [r.row for r in records] == [1, 2]
        assert records[0].fields["fingerprint_paths"].split(";") == [
            str(tmp_path / "f/1.png"),
            str(tmp_path / "f/2.png"),
        ]
        assert records[0].fields["can"] == ""


def test_jsonl_rows_are_line_numbers(tmp_path: Path) -> None:
    line = json.dumps(ROW, ensure_ascii=False)
    p = write(tmp_path, "r.jsonl", f"{line}\n\n{line}\n")
    assert [r.row for r in load_records(p)] == [1, 3]


@pytest.mark.parametrize(
    ("name", "text", "pattern"),
    [
        ("r.json", '[{"id_number": "1",\n', r"line 2: not valid JSON"),
        ("r.json", '{"rows": []}', "expected a JSON list"),
        ("r.json", '{"records": [], "records": []}', "duplicate key 'records'"),
        ("r.json", "[" * 100_000 + "]" * 100_000, "JSON"),
        ("r.json", b"[\xff]", r"line 1: not UTF-8 text"),
    ],
)
def test_json_file_errors(tmp_path: Path, name: str, text: str | bytes, pattern: str) -> None:
    with pytest.raises(RecordError, match=pattern):
        load_records(write(tmp_path, name, text))


# Was: each of these rejected the whole file (test_json_file_errors). Now they are defects of the
# one record, and the good record after it loads as before.
@pytest.mark.parametrize(
    ("name", "bad", "code", "field"),
    [
        ("r.json", "1", "row.object", ""),
        ("r.json", json.dumps({**ROW, "can": 123456}), "field.type", "can"),
        ("r.json", json.dumps({**ROW, "id_number": 1093047064}), "field.type", "id_number"),
        ("r.json", '{"sex": "M", "sex": "F"}', "field.duplicate", "sex"),
        ("r.json", json.dumps({**ROW, "shoe": "42"}), "field.unknown", ""),
        ("r.json", json.dumps({**ROW, "full_name": "\ud800"}), "row.encoding", "full_name"),
        (
            "r.json",
            json.dumps({**ROW, "fingerprint_paths": ["a;b"]}),
            "fingerprint.separator",
            "fingerprint_paths",
        ),
        ("r.jsonl", "{oops}", "row.json", ""),
        ("r.jsonl", "[]", "row.object", ""),
        ("r.jsonl", "[" * 100_000 + "]" * 100_000, "row.json", ""),
    ],
)
def test_json_record_defects(tmp_path: Path, name: str, bad: str, code: str, field: str) -> None:
    good = json.dumps(ROW, ensure_ascii=False)
    text = f"[{bad},\n{good}]" if name == "r.json" else f"{bad}\n{good}\n"
    records = load_records(write(tmp_path, name, text))
    assert [r.row for r in records] == [1, 2]
    assert (code, field) in [(d.code, d.field) for d in records[0].defects]
    assert records[1].defects == () and records[1].fields["id_number"] == ROW["id_number"]


def test_json_missing_keys_are_empty_values(tmp_path: Path) -> None:
    # Was: "record 1: missing required column(s)" for the whole file. A JSON record has no
    # header: an absent key is an empty value, which validation reports as field.missing.
    records = load_records(write(tmp_path, "r.json", '[{"id_number": "1"}]'))
    assert records[0].defects == () and records[0].fields["full_name"] == ""


def test_raw_record_is_frozen() -> None:
    r = RawRecord("x.csv", 2, {"a": "b"})
    with pytest.raises(TypeError):
        r.fields["a"] = "c"  # type: ignore[index]
    assert r.get("missing") == ""


# ------------------------------------------------------------------ malformed input, hypothesis


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _load_or_record_error(path: Path) -> None:
    try:
        records = load_records(path)
    except RecordError as exc:
        assert str(path) in str(exc)
    else:
        assert all(isinstance(r, RawRecord) for r in records)
        for r in records:
            assert r.row >= 1
            assert all(isinstance(d, Defect) and d.code and d.message for d in r.defects)
            # Either every column, or (a record the loader could not read) none and a reason.
            assert set(r.fields) == set(COLUMNS) or (not r.fields and r.defects)


@given(data=st.binary(max_size=400), ext=st.sampled_from([".csv", ".json", ".jsonl"]))
def test_random_bytes_raise_record_error_only(scratch: Path, data: bytes, ext: str) -> None:
    p = scratch / f"fuzz{ext}"
    p.write_bytes(data)
    _load_or_record_error(p)


@given(
    cut=st.integers(min_value=0, max_value=2000),
    junk=st.text(max_size=20),
    ext=st.sampled_from([".csv", ".json", ".jsonl"]),
)
def test_truncated_and_spliced_files(scratch: Path, cut: int, junk: str, ext: str) -> None:
    if ext == ".csv":
        text = csv_text([ROW, ROW])
    elif ext == ".json":
        text = json.dumps([ROW, ROW], ensure_ascii=False, indent=1)
    else:
        text = "\n".join(json.dumps(r, ensure_ascii=False) for r in (ROW, ROW))
    cut %= len(text) + 1
    p = scratch / f"cut{ext}"
    p.write_text(text[:cut] + junk + text[cut:], encoding="utf-8", errors="surrogatepass")
    _load_or_record_error(p)


@given(st.lists(st.lists(st.text(max_size=8), max_size=6), max_size=5))
def test_random_csv_cells(scratch: Path, rows: list[list[str]]) -> None:
    import csv
    import io

    buf = io.StringIO()
    csv.writer(buf).writerows([list(ROW), *rows])
    p = scratch / "cells.csv"
    p.write_text(buf.getvalue(), encoding="utf-8", errors="surrogatepass")
    _load_or_record_error(p)
