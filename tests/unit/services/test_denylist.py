"""Deny lists (CSV and SQLite): loading, lookup by every number a card carries, the report of
entries that cannot be used, errors naming the file (cardkit.services.denylist).

The numbers are DOMAIN.md §3's checked example: ID number 001093047064, document number
093047064 (its last 9 digits). Spellings and the property tests are in test_denylist_spellings.py.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cardkit.services.denylist import (
    DenyEntry,
    DenyList,
    DenyListError,
    RejectedEntry,
    canonical_number,
    normalise_number,
)

ID_NUMBER = "001093047064"
DOCUMENT_NUMBER = "093047064"
OLD_ID_NUMBER = "168123456"


def _sqlite(path: Path, schema: str, rows: list[tuple[object, ...]]) -> Path:
    with sqlite3.connect(path) as db:
        db.execute(schema)
        if rows:
            marks = ", ".join("?" * len(rows[0]))
            db.executemany(f"INSERT INTO deny_list VALUES ({marks})", rows)
    db.close()
    return path


# --- loading ---------------------------------------------------------------------------------


def test_csv_with_reason_and_comments(tmp_path: Path) -> None:
    path = tmp_path / "deny.csv"
    path.write_text(
        "# lost and stolen\nDocument_Number,reason,extra\n093047064,stolen,x\n 123 456 789 ,,\n",
        encoding="utf-8",
    )
    deny = DenyList.load(path)
    assert len(deny) == 2
    assert deny.rejected == ()
    assert deny.source == str(path)
    assert deny.lookup("093047064") == DenyEntry("093047064", "stolen")
    assert deny.lookup(None, "123456789") == DenyEntry("123 456 789", "")
    assert "999999999" not in deny and deny.lookup("999999999") is None


def test_csv_bom_crlf_and_columns_in_any_order(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbfReason , DOCUMENT_NUMBER\r\nlost,001093047064\r\n")
    deny = DenyList.load(path)
    assert deny.lookup(ID_NUMBER) == DenyEntry(ID_NUMBER, "lost")


def test_from_csv_takes_text_or_bytes() -> None:
    text = "document_number\n093047064\n"
    assert DenyList.from_csv(text).entries == DenyList.from_csv(text.encode()).entries


def test_empty_cells_are_skipped_silently() -> None:
    deny = DenyList.from_csv("document_number,reason\n,no number\n   ,x\n\u00a0,x\n\n093047064\n")
    assert len(deny) == 1 and deny.rejected == ()


def test_the_first_listing_of_a_number_wins() -> None:
    deny = DenyList.from_csv("document_number,reason\n001093047064,stolen\n1093047064,lost\n")
    assert len(deny) == 1
    assert deny.lookup(ID_NUMBER) == DenyEntry("001093047064", "stolen")


def test_sqlite(tmp_path: Path) -> None:
    path = _sqlite(
        tmp_path / "deny.sqlite",
        "CREATE TABLE deny_list (document_number TEXT, reason TEXT)",
        [("001093047064", "revoked")],
    )
    deny = DenyList.load(path)
    assert deny.lookup("093047064", "001093047064") == DenyEntry("001093047064", "revoked")
    assert deny.rejected == ()


def test_sqlite_numbers_stored_as_numbers(tmp_path: Path) -> None:
    # A spreadsheet imported into SQLite stores the ID as the integer 1093047064, or as a REAL.
    path = _sqlite(
        tmp_path / "numeric.sqlite",
        "CREATE TABLE deny_list (document_number, reason)",
        [(1093047064, "int"), (93047064.0, "real")],
    )
    deny = DenyList.load(path)
    assert deny.lookup(ID_NUMBER) == DenyEntry("1093047064", "int")
    assert deny.lookup(DOCUMENT_NUMBER) == DenyEntry("93047064", "real")


def test_sqlite_without_a_reason_column(tmp_path: Path) -> None:
    path = _sqlite(tmp_path / "bare.sqlite", "CREATE TABLE deny_list (document_number)", [("1",)])
    assert DenyList.load(path).lookup("000000001") == DenyEntry("1", "")


def test_sqlite_without_the_table_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (x TEXT)")
    db.close()
    with pytest.raises(DenyListError, match="deny_list"):
        DenyList.load(path)


@pytest.mark.parametrize("text", ["number,reason\n1,x\n", "", "# only a comment\n\n"])
def test_csv_without_the_column_is_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DenyListError, match="document_number") as caught:
        DenyList.load(path)
    assert str(path) in str(caught.value)


def test_malformed_header_is_refused_without_the_line() -> None:
    with pytest.raises(DenyListError, match=r"list\.csv: malformed CSV header") as caught:
        DenyList.from_csv('"document_number,reason\n001093047064\n', source="list.csv")
    assert ID_NUMBER not in str(caught.value)


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(DenyListError, match=r"missing\.csv"):
        DenyList.load(tmp_path / "missing.csv")
    binary = tmp_path / "bin.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00garbage")
    with pytest.raises(DenyListError, match=r"bin\.csv"):
        DenyList.load(binary)


def test_utf16_csv_is_refused_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "unicode.csv"
    path.write_bytes("document_number\n093047064\n".encode("utf-16"))
    with pytest.raises(DenyListError, match="UTF-8"):
        DenyList.load(path)


# --- lookup ----------------------------------------------------------------------------------


def test_lookup_takes_every_number_the_card_carries() -> None:
    # verify.py passes (MRZ document number, TD1 ID number, DG13 ID number[, DG13 old ID]).
    deny = DenyList.of([DenyEntry(OLD_ID_NUMBER, "old card reported stolen")])
    assert deny.lookup(DOCUMENT_NUMBER, ID_NUMBER, ID_NUMBER) is None
    found = deny.lookup(DOCUMENT_NUMBER, ID_NUMBER, ID_NUMBER, OLD_ID_NUMBER)
    assert found == DenyEntry(OLD_ID_NUMBER, "old card reported stolen")
    assert deny.lookup() is None
    assert deny.lookup(None, "", "???", None) is None


def test_lookup_returns_the_first_listed_candidate() -> None:
    deny = DenyList.of([DenyEntry(DOCUMENT_NUMBER, "doc"), DenyEntry(ID_NUMBER, "id")])
    assert deny.lookup(ID_NUMBER, DOCUMENT_NUMBER) == DenyEntry(ID_NUMBER, "id")
    assert deny.lookup(DOCUMENT_NUMBER, ID_NUMBER) == DenyEntry(DOCUMENT_NUMBER, "doc")


def test_contains_and_len() -> None:
    deny = DenyList.of([DenyEntry("001 093 047 064"), DenyEntry("1093047064")])
    assert len(deny) == 1
    assert ID_NUMBER in deny and "1093047064" in deny
    assert DOCUMENT_NUMBER not in deny
    assert 1093047064 not in deny  # not text: never an error
    assert len(DenyList()) == 0 and DenyList().lookup(ID_NUMBER) is None


def test_a_mapping_is_keyed_canonically() -> None:
    deny = DenyList({"001 093 047 064": DenyEntry("001 093 047 064")})
    assert list(deny.entries) == [canonical_number(ID_NUMBER)]
    assert deny.lookup(ID_NUMBER) is not None
    with pytest.raises(ValueError) as caught:
        DenyList({"0930470é4": DenyEntry("0930470é4")})
    assert "0930470é4" not in str(caught.value)


# --- the report of rejected entries ----------------------------------------------------------


BAD_CSV = (
    b"# deny list of the Ha Noi police\n"  # line 1
    b"\n"  # line 2
    b"document_number,reason\n"  # line 3: the header
    b"001 093 047 064,stolen\n"  # line 4: good
    b"0930470\xc3\xa94,diacritic\n"  # line 5: e with acute accent
    b"09304?064,typo\n"  # line 6
    b"123456789012345678901,too long\n"  # line 7: 21 characters
    b"---,only separators\n"  # line 8
    b'"123456789,unclosed quote\n'  # line 9
    b'"123"456789,stray quote\n'  # line 10
    b"1093047064.0,float export\n"  # line 11
    b"0930\xff47064,latin-1 byte\n"  # line 12
    b"# a comment in the middle \xff is not an entry\n"  # line 13
    b"," + b"9" * 200_000 + b"\n"  # line 14: a field over csv's limit
    b"C01X00T47,passport\n"  # line 15: good
)
BAD_LINES = {
    5: ("0930470é4", "character other than"),
    6: ("09304?064", "character other than"),
    7: ("123456789012345678901", "longer than 20"),
    8: ("---", "nothing is left"),
    9: ('"123456789,unclosed quote', "malformed CSV"),
    10: ('"123"456789,stray quote', "malformed CSV"),
    11: ("1093047064.0", "decimal"),
    12: ("0930\\xff47064,latin-1 byte", "UTF-8"),
    14: ("," + "9" * 200_000, "malformed CSV"),
}


def test_csv_bad_lines_are_reported_and_the_rest_loads(tmp_path: Path) -> None:
    path = tmp_path / "deny.csv"
    path.write_bytes(BAD_CSV)
    deny = DenyList.load(path)
    assert len(deny) == 2
    assert deny.lookup(DOCUMENT_NUMBER, ID_NUMBER) == DenyEntry("001 093 047 064", "stolen")
    assert deny.lookup("c01x00t47") == DenyEntry("C01X00T47", "passport")
    assert [entry.row for entry in deny.rejected] == sorted(BAD_LINES)
    for entry in deny.rejected:
        text, reason = BAD_LINES[entry.row]
        assert entry.location == "line"
        assert entry.text == text
        assert reason in entry.reason
        assert entry.describe() == f"line {entry.row}: {entry.reason}"


def test_the_report_does_not_repeat_the_numbers() -> None:
    deny = DenyList.from_csv(BAD_CSV)
    for entry in deny.rejected:
        for shown in (entry.describe(), repr(entry), entry.reason):
            assert entry.text not in shown
            assert "093047" not in shown and "1234567" not in shown


def test_rejected_entry_is_frozen() -> None:
    entry = RejectedEntry(3, "?", "bad", "rowid")
    assert entry.describe() == "rowid 3: bad"
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.row = 4  # type: ignore[misc]


def test_line_numbers_count_every_kind_of_line_break() -> None:
    deny = DenyList.from_csv("document_number\r\n?\r?\n\n\n?\n")
    assert [entry.row for entry in deny.rejected] == [2, 3, 6]


def test_sqlite_bad_rows_are_reported_by_rowid(tmp_path: Path) -> None:
    path = _sqlite(
        tmp_path / "deny.sqlite",
        "CREATE TABLE deny_list (document_number, reason)",
        [],
    )
    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT INTO deny_list (rowid, document_number, reason) VALUES (?, ?, ?)",
            [
                (1, "001093047064", "good"),
                (2, None, "null: skipped"),
                (3, "", "empty: skipped"),
                (7, "0930470é4", "diacritic"),
                (9, "A?B", "question mark"),
                (10, b"\xff\xfe", "blob, not UTF-8"),
                (11, 12.5, "not whole"),
                (12, -93047064, "negative"),
                (13, b"C01X00T47", "blob, UTF-8"),
                (20, "x" * 300, "far too long"),
            ],
        )
    db.close()
    deny = DenyList.load(path)
    assert len(deny) == 2
    assert deny.lookup(ID_NUMBER) == DenyEntry("001093047064", "good")
    assert deny.lookup("C01X00T47") == DenyEntry("C01X00T47", "blob, UTF-8")
    assert DOCUMENT_NUMBER not in deny  # not matched by the negative number
    assert [(e.row, e.location) for e in deny.rejected] == [
        (7, "rowid"), (9, "rowid"), (10, "rowid"), (11, "rowid"), (12, "rowid"), (20, "rowid"),
    ]  # fmt: skip
    assert deny.rejected[0].text == "0930470é4"
    assert deny.rejected[2].text == "\\xff\\xfe" and "UTF-8" in deny.rejected[2].reason
    assert "longer than 20" in deny.rejected[-1].reason


def test_sqlite_without_rowid_numbers_the_rows(tmp_path: Path) -> None:
    path = _sqlite(
        tmp_path / "norowid.sqlite",
        "CREATE TABLE deny_list (document_number TEXT PRIMARY KEY, reason TEXT) WITHOUT ROWID",
        [("001093047064", "good"), ("?", "bad")],
    )
    deny = DenyList.load(path)
    assert deny.lookup(ID_NUMBER) is not None
    # Rows come in primary-key order: "001093047064" sorts before "?".
    assert [(e.row, e.location) for e in deny.rejected] == [(2, "row")]


def test_of_reports_entries_by_position() -> None:
    deny = DenyList.of([DenyEntry(ID_NUMBER), DenyEntry(""), DenyEntry("??"), DenyEntry("-")])
    assert len(deny) == 1
    assert [(e.row, e.location, e.text) for e in deny.rejected] == [
        (3, "entry", "??"), (4, "entry", "-"),
    ]  # fmt: skip


# --- any text --------------------------------------------------------------------------------


@given(st.text(alphabet="0123456789ABC <-", min_size=1, max_size=20))
def test_lookup_agrees_with_the_canonical_form(number: str) -> None:
    deny = DenyList.of([DenyEntry(number)])
    key = canonical_number(number)
    assert (deny.lookup(normalise_number(number)) is not None) == (key is not None)
    assert len(deny) + len(deny.rejected) == (1 if number.strip() else 0)


@given(st.text(max_size=200))
def test_any_csv_text_loads(text: str) -> None:
    # With a header, no line of text can make the list fail: it loads or reports the line.
    deny = DenyList.from_csv("document_number,reason\n" + text)
    assert all(canonical_number(key) == key for key in deny.entries)
    assert len(deny) + len(deny.rejected) <= text.count("\n") + text.count("\r") + 1


@given(st.binary(max_size=200))
def test_any_csv_bytes_load(data: bytes) -> None:
    deny = DenyList.from_csv(b"document_number,reason\n" + data)
    assert all(entry.row >= 2 for entry in deny.rejected)
