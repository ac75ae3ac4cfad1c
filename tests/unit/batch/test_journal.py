"""The SQLite journal's rules (the PostgreSQL one runs the same SQL: tests/integration)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from cardkit.batch.journal import (
    BatchInfo,
    JournalError,
    NewRecord,
    SqliteJournal,
    _redact_url,
    open_journal,
)
from cardkit.batch.report import collect, render_csv, render_html, write_report

INFO = BatchInfo("b-1", "b.csv", "00" * 32, "vn-cccd-2021", 3)
RECORDS = [
    NewRecord(2, "b-00002", "pending", document_number="093047064"),
    NewRecord(3, "b-00003", "pending", document_number="155502526"),
    NewRecord(4, "b-00004", "rejected", reason="sex: sex must be M or F [sex.value]"),
]


@pytest.fixture
def journal(tmp_path: Path) -> SqliteJournal:
    j = SqliteJournal(tmp_path / "j.sqlite")
    j.load(INFO, RECORDS)
    return j


def prepared(j: SqliteJournal, station: str = "s1") -> int:
    rec = j.claim("b-1", station)
    assert rec is not None
    j.mark_prepared("b-1", rec.row, station, image_id=rec.card_id, sod_digest="ab", dsc_serial="1F")
    return rec.row


def test_loading_twice_adds_nothing(journal: SqliteJournal) -> None:
    assert journal.load(INFO, RECORDS) == 0
    assert journal.counts("b-1")["pending"] == 2 and journal.counts("b-1")["rejected"] == 1


def test_claims_never_hand_a_record_to_two_stations(journal: SqliteJournal, tmp_path: Path) -> None:
    other = SqliteJournal(tmp_path / "j.sqlite")
    a, b = journal.claim("b-1", "s1"), other.claim("b-1", "s2")
    assert a is not None and b is not None and a.row != b.row
    assert other.claim("b-1", "s3") is None  # nothing left unclaimed
    again = journal.claim("b-1", "s1")
    assert again is not None and again.row == a.row  # a station resumes its own record


def test_a_record_has_at_most_one_live_card_and_a_chip_is_written_once(
    journal: SqliteJournal,
) -> None:
    row = prepared(journal)
    attempt = journal.begin_card("b-1", row, "s1", "CHIP-1")
    with pytest.raises(JournalError):
        journal.begin_card("b-1", row, "s1", "CHIP-2")  # not prepared any more
    journal.spoil("b-1", row, attempt, "torn at step 9 (files)")
    assert journal.chip_used("CHIP-1")
    row2 = prepared(journal)
    assert row2 == row  # the same station takes its record back, to prepare it again
    with pytest.raises(JournalError):
        journal.begin_card("b-1", row, "s1", "CHIP-1")  # a spoiled chip is never reused
    attempt2 = journal.begin_card("b-1", row, "s1", "CHIP-2")
    journal.mark_personalized("b-1", row, attempt2)
    journal.mark_verified("b-1", row, attempt2)
    (rec,) = [r for r in journal.records("b-1") if r.row == row]
    assert rec.state == "verified" and rec.attempts == 2 and rec.chip_serial == "CHIP-2"
    assert journal.counts("b-1")["spoiled"] == 1


def test_recover_spoils_unverified_cards_of_this_station_only(journal: SqliteJournal) -> None:
    row1 = prepared(journal, "s1")
    row2 = prepared(journal, "s2")
    journal.begin_card("b-1", row1, "s1", "C1")
    a2 = journal.begin_card("b-1", row2, "s2", "C2")
    journal.mark_personalized("b-1", row2, a2)
    spoiled = journal.recover("b-1", "s1")
    assert [c.chip_serial for c in spoiled] == ["C1"] and spoiled[0].state == "spoiled"
    states = {r.row: r.state for r in journal.records("b-1")}
    assert states[row1] == "pending" and states[row2] == "personalized"
    assert [c.chip_serial for c in journal.recover("b-1", "s2")] == ["C2"]


def test_a_refused_card_is_forgotten_and_the_record_stays_prepared(
    journal: SqliteJournal,
) -> None:
    row = prepared(journal)
    attempt = journal.begin_card("b-1", row, "s1", None)
    journal.abandon_card("b-1", row, attempt)
    (rec,) = [r for r in journal.records("b-1") if r.row == row]
    assert rec.state == "prepared" and rec.attempts == 0 and not journal.cards("b-1")


def test_printing_only_after_verification(journal: SqliteJournal) -> None:
    row = prepared(journal)
    with pytest.raises(JournalError):
        journal.mark_printed("b-1", row, ["x.pdf"])


def test_reports_list_every_record_with_reasons_and_quote_formulas(
    journal: SqliteJournal, tmp_path: Path
) -> None:
    row = prepared(journal)
    attempt = journal.begin_card("b-1", row, "s1", "=HYPERLINK(1)")
    journal.spoil("b-1", row, attempt, "read-back failed: <script>")
    report = collect(journal, "b-1")
    rows = list(csv.DictReader(io.StringIO(render_csv(report))))
    assert [r["row"] for r in rows] == ["2", "3", "4"]
    assert rows[2]["state"] == "rejected" and "[sex.value]" in rows[2]["reason"]
    assert rows[0]["spoiled_cards"] == "#1 chip =HYPERLINK(1): read-back failed: <script>"
    info2 = BatchInfo("b-2", "c.csv", "11" * 32, "vn-cccd-2021", 1)
    journal.load(info2, [NewRecord(2, "c-00002", "rejected", reason="=1+1")])
    (formula,) = csv.DictReader(io.StringIO(render_csv(collect(journal, "b-2"))))
    assert formula["reason"] == "'=1+1"  # never a formula in a spreadsheet
    assert formula["spoiled_cards"] == ""  # an empty cell stays empty
    page = render_html(report)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert write_report(report, tmp_path / "r.html") == "html"
    with pytest.raises(ValueError):
        write_report(report, tmp_path / "r.txt")


def test_urls() -> None:
    assert _redact_url("postgresql://u:secret@h:5/db") == "postgresql://u:***@h:5/db"
    with pytest.raises(JournalError):
        open_journal("mysql://x")
