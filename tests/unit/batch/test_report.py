"""Batch reports: the summary an operator reads, destroy or not, escaping, the CSP, the CSV's
columns and formula guard, and a report of 100,000 records grouped once (not per record)."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import itertools
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import cast

import pytest

from cardkit.batch.journal import (
    BatchInfo,
    CardRow,
    CardState,
    NewRecord,
    RecordRow,
    SqliteJournal,
)
from cardkit.batch.report import (
    COLUMNS,
    CONTENT_SECURITY_POLICY,
    MAX_ROWS,
    BatchReport,
    card_action,
    collect,
    count_states,
    render_csv,
    render_html,
)

B = "rep-1"
HOSTILE = '<img src=x onerror="alert(1)">&amp;'
LONG_OUTPUT = (
    "printed/rep-00009/a-very-long-folder-name-for-the-printed-faces/rep-00009-front.pdf; "
    "printed/rep-00009/a-very-long-folder-name-for-the-printed-faces/rep-00009-back.pdf"
)


class Builder:
    """A small batch driven through the journal's own transitions (SQLite)."""

    def __init__(self, journal: SqliteJournal) -> None:
        self.j = journal
        self.serials = (f"CHIP-{n:04d}" for n in itertools.count(1))

    def prepare(self, station: str) -> int:
        rec = self.j.claim(B, station)
        assert rec is not None
        self.j.mark_prepared(
            B, rec.row, station, image_id=f"{rec.card_id}-img", sod_digest="ab", dsc_serial="1F"
        )
        return rec.row

    def spoil(self, station: str, reason: str, *, personalized: bool = False) -> int:
        row = self.prepare(station)
        attempt = self.j.begin_card(B, row, station, next(self.serials))
        if personalized:
            self.j.mark_personalized(B, row, attempt)
        self.j.spoil(B, row, attempt, reason)
        return row

    def issue(self, station: str, *, stop: str = "", outputs: str = "") -> int:
        row = self.prepare(station)
        if stop == "prepared":
            return row
        attempt = self.j.begin_card(B, row, station, next(self.serials))
        if stop == "personalizing":
            return row
        self.j.mark_personalized(B, row, attempt)
        if stop == "personalized":
            return row
        self.j.mark_verified(B, row, attempt)
        if stop == "verified":
            return row
        self.j.mark_printed(B, row, outputs.split("; ") if outputs else ["x.pdf"])
        return row


def build(journal: SqliteJournal) -> None:
    """Rows 2–12: every state, two chips to destroy, two rewritable, two rejected, three
    stations (one with a hostile name)."""
    records = [
        NewRecord(row, f"rep-{row:05d}", "pending", document_number=f"0930470{row:02d}")
        for row in range(2, 11)
    ]
    records += [
        NewRecord(11, "rep-00011", "rejected", reason="sex: sex must be M or F [sex.value]; "
                  "date_of_birth: not a date [date.format]"),
        NewRecord(12, "rep-00012", "rejected", reason=f"=1+1 {HOSTILE}"),
    ]  # fmt: skip
    journal.load(BatchInfo(B, "citizens.csv", "ab" * 32, "vn-cccd-2021", 11), records)
    b = Builder(journal)
    # Row 2: locked and spoiled (destroy), then torn before LOCK (rewritable), then issued.
    b.spoil("s1", "locked (destroy): read-back failed: DG2 hash", personalized=True)
    b.spoil("s1", "torn at step 7 (files)")
    b.issue("s1", outputs="front.pdf; back.pdf")  # printed
    # Row 3: not locked (rewritable), then issued.
    b.spoil("s1", "not locked (rewritable): check before LOCK failed: DG1 differs")
    b.issue("s1", stop="verified")
    # Row 4: torn at LOCK (destroy), then verified.
    b.spoil("s1", "torn at step 12 (lock)")
    b.issue("s1", stop="verified")
    # Row 5: issued and printed; row 6 prepared (s1 stops there).
    b.issue("s1", outputs=LONG_OUTPUT)
    b.issue("s1", stop="prepared")
    # Station s2: row 7 personalizing; a hostile station name holds row 8 personalized.
    b.issue("s2", stop="personalizing")
    b.issue(HOSTILE, stop="personalized")
    # Rows 9, 10 stay pending, unclaimed. Leases: s1 live, s2 stopped, the third expired.
    journal.register_station(B, "s1", lease_seconds=600)
    journal.heartbeat(B, "s1", holding="waiting for a blank card")
    journal.register_station(B, "s2", lease_seconds=600)
    journal.end_lease(B, "s2")
    journal.register_station(B, HOSTILE, lease_seconds=1)


@pytest.fixture
def report(tmp_path: Path) -> BatchReport:
    journal = SqliteJournal(tmp_path / "j.sqlite")
    try:
        build(journal)
        return collect(journal, B, now=datetime.now(UTC) + timedelta(seconds=30))
    finally:
        journal.close()


class Page(HTMLParser):
    """What the tests look at in the HTML: tags with attributes, text by element id, scripts."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self._raw: str | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag in ("script", "style"):
            self._raw = ""

    def handle_data(self, data: str) -> None:
        if self._raw is not None:
            self._raw += data

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._raw is not None:
            (self.scripts if tag == "script" else self.styles).append(self._raw)
            self._raw = None

    def attr(self, name: str) -> list[str]:
        return [a[name] or "" for _, a in self.tags if name in a]


def test_the_summary_counts_every_state(report: BatchReport) -> None:
    assert report.counts == {
        "rejected": 2, "pending": 2, "prepared": 1, "personalizing": 1, "personalized": 1,
        "verified": 2, "printed": 2, "spoiled": 4,
    }  # fmt: skip
    assert report.counts == count_states(report.records, report.cards)
    page = render_html(report)
    shown = dict(re.findall(r'data-count="(\w+)">(\d+)<', page))
    assert shown == {k: str(v) for k, v in report.counts.items()}
    assert "4 of 9 valid records issued" in page


def test_spoiled_chips_to_destroy_and_rewritable_ones(report: BatchReport) -> None:
    assert [(c.row, c.reason) for c in report.to_destroy] == [
        (2, "locked (destroy): read-back failed: DG2 hash"),
        (4, "torn at step 12 (lock)"),
    ]
    assert [c.row for c in report.rewritable] == [2, 3]
    page = render_html(report)
    destroy_table = page.split('id="destroy-table"')[1].split("</table>")[0]
    assert destroy_table.count("DESTROY") == 2 and "093047002" in destroy_table
    assert "CHIP-0001" in destroy_table and "CHIP-0002" not in destroy_table
    rows = {r["row"]: r for r in csv.DictReader(io.StringIO(render_csv(report)))}
    assert rows["2"]["destroy_chips"] == "#1 chip CHIP-0001"
    assert rows["2"]["spoiled_cards"].startswith("#1 chip CHIP-0001: locked (destroy)")
    assert rows["3"]["destroy_chips"] == "" and rows["5"]["destroy_chips"] == ""


def card(reason: str | None, state: str = "spoiled") -> CardRow:
    return CardRow(B, 2, 1, "s1", "img", "C", "ab", cast(CardState, state), reason, "t0", "t1")


@pytest.mark.parametrize(
    ("reason", "action"),
    [
        ("locked (destroy): read-back failed: x", "destroy"),
        ("not locked (rewritable): check before LOCK failed: x", "rewritable"),
        ("torn at step 3 (check)", "rewritable"),
        ("torn at step 9 (files)", "rewritable"),
        ("torn at step 20 (secrets)", "rewritable"),
        ("torn at step 21 (verify)", "rewritable"),
        ("torn at step 22 (lock)", "destroy"),
        ("torn at step 23 (read-back)", "destroy"),
        # Not known to be unlocked: the chip may hold the holder's data, locked.
        ("the station stopped before this card was verified (found on restart)", "destroy"),
        ("ProtocolError: something", "destroy"),
        (None, "destroy"),
    ],
)
def test_a_spoiled_card_is_destroyed_unless_known_not_locked(reason: str, action: str) -> None:
    assert card_action(card(reason)) == action
    assert card_action(card(None, state="verified")) is None


def test_the_stations_are_summarised_from_records_and_cards(report: BatchReport) -> None:
    by_name = {s.station: s for s in report.stations}
    assert set(by_name) == {"s1", "s2", HOSTILE}
    s1 = by_name["s1"]
    assert (s1.issued, s1.in_progress, s1.cards, s1.spoiled, s1.destroy) == (4, 1, 8, 4, 2)
    assert s1.last_activity and by_name["s2"].in_progress == 1 and by_name["s2"].cards == 1
    assert [by_name[s].lease_state for s in ("s1", "s2", HOSTILE)] == ["live", "stopped", "expired"]
    table = render_html(report).split('id="stations-table"')[1].split("</table>")[0]
    assert "waiting for a blank card" in table and "live until" in table
    assert ">expired</span>" in table and "stopped " in table


def test_everything_from_the_journal_is_escaped(report: BatchReport) -> None:
    page = render_html(report)
    assert "<img" not in page and 'onerror="' not in page
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;amp;" in page
    parsed = Page(page)
    assert [t for t, _ in parsed.tags if t == "img"] == []
    assert parsed.attr("onerror") == [] and parsed.attr("onclick") == []
    assert parsed.attr("src") == [] and parsed.attr("href") == []  # nothing external, no link


def test_the_page_is_self_contained_under_a_strict_csp(report: BatchReport) -> None:
    parsed = Page(render_html(report))
    (csp,) = [a["content"] for t, a in parsed.tags if t == "meta" and "http-equiv" in a]
    assert csp == CONTENT_SECURITY_POLICY
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'none'" and "unsafe" not in csp

    def sha(text: str) -> str:
        return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"

    (script,), (style,) = parsed.scripts, parsed.styles
    assert directives["script-src"] == sha(script) and directives["style-src"] == sha(style)
    assert parsed.attr("style") == []  # an inline style attribute would need 'unsafe-inline'


def test_columns_are_readable_and_paths_shortened(report: BatchReport) -> None:
    page = render_html(report)
    for heading in ("Document no.", "Chip serial", "Spoiled cards", "Printed files"):
        assert f'scope="col">{heading}</th>' in page
    assert "document_number</th>" not in page
    full = "printed/rep-00009/a-very-long-folder-name-for-the-printed-faces/rep-00009-front.pdf"
    assert f'title="{full}"' in page
    shown = page.split(f'title="{full}">')[1].split("<")[0]
    assert shown.startswith("…") and shown.endswith("rep-00009-front.pdf") and len(shown) < 30
    assert f">{full}<" not in page


def test_the_csv_keeps_its_columns_and_guards_formulas(report: BatchReport) -> None:
    text = render_csv(report)
    reader = csv.reader(io.StringIO(text))
    assert tuple(next(reader)) == COLUMNS
    assert COLUMNS[:17] == (
        "row",
        "card_id",
        "state",
        "document_number",
        "chip_serial",
        "dsc_serial",
        "station",
        "attempts",
        "spoiled_cards",
        "reason",
        "created_at",
        "prepared_at",
        "personalized_at",
        "verified_at",
        "printed_at",
        "updated_at",
        "outputs",
    )  # fmt: skip  (the columns of before, in their order; new ones only after them)
    rows = {r["row"]: r for r in csv.DictReader(io.StringIO(text))}
    assert rows["12"]["reason"] == f"'=1+1 {HOSTILE}"  # raw text, never a formula
    assert rows["5"]["outputs"] == LONG_OUTPUT  # machine-friendly: nothing shortened
    assert rows["2"]["verified_at"].endswith("+00:00")  # ISO 8601 kept
    for start in ("=", "+", "-", "@", "\t", "\r"):
        edited = replace(report.records[-1], reason=f"{start}cmd|' /C calc'!A0")
        one = replace(report, records=(edited,), cards=())
        (row,) = csv.DictReader(io.StringIO(render_csv(one)))
        assert row["reason"] == f"'{start}cmd|' /C calc'!A0"


class CountingCards(tuple[CardRow, ...]):
    """A tuple that counts how often it is walked."""

    walks = 0

    def __iter__(self) -> Iterator[CardRow]:
        CountingCards.walks += 1
        return super().__iter__()


def synthetic(n: int) -> BatchReport:
    """``n`` records: one in 50 rejected, the rest printed, one in 10 after a spoiled card."""
    t = "2026-11-01T10:00:00.000+00:00"
    records, cards = [], []
    for row in range(2, n + 2):
        rejected = row % 50 == 0
        records.append(
            RecordRow(B, row, f"rep-{row:06d}", None if rejected else f"{row:09d}",
                      "rejected" if rejected else "printed", None if rejected else "s1",
                      0 if rejected else 1 + (row % 10 == 0), None, None, "1F", f"C{row}",
                      "bad [x.y]" if rejected else None, None if rejected else "printed/f.pdf",
                      t, t, t, t, t, t, t)
        )  # fmt: skip
        if rejected:
            continue
        if row % 10 == 0:
            cards.append(CardRow(B, row, 1, "s1", "i", f"S{row}", "ab", "spoiled",
                                 "torn at step 22 (lock)", t, t))  # fmt: skip
        cards.append(CardRow(B, row, 1 + (row % 10 == 0), "s1", "i", f"C{row}", "ab", "verified",
                             None, t, t))  # fmt: skip
    return BatchReport(BatchInfo(B, "c.csv", "ab" * 32, "p", n), tuple(records),
                       CountingCards(cards), count_states(records, cards))  # fmt: skip


def test_a_report_of_100000_records_groups_the_cards_once() -> None:
    report = synthetic(100_000)
    CountingCards.walks = 0
    rows = list(csv.DictReader(io.StringIO(render_csv(report))))
    page = render_html(report)
    # The cards are walked a fixed number of times, not once per record (it was 100,000).
    assert CountingCards.walks <= 10
    assert len(rows) == 100_000 and report.counts["printed"] == 98_000
    assert report.counts["spoiled"] == 8_000 and len(report.to_destroy) == 8_000
    assert rows[8]["destroy_chips"] == "#1 chip S10"
    # The page lists every chip to destroy, but at most MAX_ROWS records and cards, and says so.
    assert page.split('id="destroy-table"')[1].split("</table>")[0].count("<tr") == 8_001
    records = page.split('id="records-table"')[1].split("</table>")[0]
    assert records.count('<tr class="st-') == MAX_ROWS
    assert f"{MAX_ROWS} of 100000 records listed here" in page
    assert f"{MAX_ROWS} of 106000 cards listed here" in page


def test_a_long_batch_lists_the_records_to_act_on_first(report: BatchReport) -> None:
    page = render_html(report, max_rows=10)
    listed = re.findall(r'<tr class="st-\w+" data-row="(\d+)"', page)
    # Row 5 (printed, never spoiled) is the one left out; every other is not issued or spoiled.
    assert listed == ["2", "3", "4", "6", "7", "8", "9", "10", "11", "12"]
    assert "10 of 11 records listed here" in page and 'data-total="10"' in page
    assert "printed (1 of 2)" in page and "verified (2)" in page
    assert render_html(report).count('<tr class="st-') == 11  # everything when it fits
