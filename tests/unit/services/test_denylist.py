"""Deny lists (CSV and SQLite): loading, normalised lookup, errors naming the file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cardkit.services.denylist import DenyEntry, DenyList, DenyListError, normalise_number


def test_csv_with_reason_and_comments(tmp_path: Path) -> None:
    path = tmp_path / "deny.csv"
    path.write_text(
        "# lost and stolen\nDocument_Number,reason,extra\n093047064,stolen,x\n 123 456 789 ,,\n",
        encoding="utf-8",
    )
    deny = DenyList.load(path)
    assert len(deny) == 2
    assert deny.lookup("093047064") == DenyEntry("093047064", "stolen")
    assert deny.lookup(None, "123456789") == DenyEntry("123 456 789", "")
    assert "999999999" not in deny and deny.lookup("999999999") is None


def test_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "deny.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE deny_list (document_number TEXT, reason TEXT)")
        db.execute("INSERT INTO deny_list VALUES ('001093047064', 'revoked')")
    db.close()
    deny = DenyList.load(path)
    assert deny.lookup("093047064", "001093047064") == DenyEntry("001093047064", "revoked")


def test_sqlite_without_the_table_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (x TEXT)")
    db.close()
    with pytest.raises(DenyListError, match="deny_list"):
        DenyList.load(path)


@pytest.mark.parametrize("text", ["number,reason\n1,x\n", ""])
def test_csv_without_the_column_is_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DenyListError, match="document_number"):
        DenyList.load(path)


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(DenyListError):
        DenyList.load(tmp_path / "missing.csv")
    binary = tmp_path / "bin.csv"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(DenyListError):
        DenyList.load(binary)


@given(st.text(alphabet="0123456789ABC <-", min_size=1, max_size=20))
def test_normalisation_is_idempotent_and_lookup_agrees(number: str) -> None:
    once = normalise_number(number)
    assert normalise_number(once) == once
    deny = DenyList.of([DenyEntry(number)])
    assert (deny.lookup(once) is not None) == bool(once)


@given(st.text(max_size=200))
def test_any_csv_text_loads_or_raises_deny_list_error(text: str) -> None:
    try:
        deny = DenyList.from_csv("document_number\n" + text)
    except DenyListError:
        return
    assert all(key and normalise_number(key) == key for key in deny.entries)
    assert len(deny) <= len(text.splitlines()) + 1
