"""Batch reports: one line per record (CSV) or a page with a summary and every card (HTML).

Per record: row, card id, state, MRZ document number, chip serial and DSC serial of the issued
card, station, timestamps, the reason of a rejection and every spoiled card (chip serial and
reason). The document number is the only personal datum (see :mod:`cardkit.batch.journal`).
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cardkit.batch.journal import RECORD_STATES, BatchInfo, CardRow, Journal, RecordRow

__all__ = ["COLUMNS", "BatchReport", "collect", "render_csv", "render_html", "write_report"]

COLUMNS = (
    "row", "card_id", "state", "document_number", "chip_serial", "dsc_serial", "station",
    "attempts", "spoiled_cards", "reason", "created_at", "prepared_at", "personalized_at",
    "verified_at", "printed_at", "updated_at", "outputs",
)  # fmt: skip


@dataclass(frozen=True)
class BatchReport:
    info: BatchInfo
    records: tuple[RecordRow, ...]
    cards: tuple[CardRow, ...]
    counts: dict[str, int]

    def spoiled_for(self, row: int) -> list[CardRow]:
        return [c for c in self.cards if c.row == row and c.state == "spoiled"]

    def rows(self) -> list[dict[str, str]]:
        out = []
        for r in self.records:
            spoiled = "; ".join(
                f"#{c.attempt} chip {c.chip_serial or '?'}: {c.reason or ''}"
                for c in self.spoiled_for(r.row)
            )
            values: dict[str, object] = {
                "row": r.row,
                "card_id": r.image_id or r.card_id,
                "state": r.state,
                "document_number": r.document_number,
                "chip_serial": r.chip_serial,
                "dsc_serial": r.dsc_serial,
                "station": r.station,
                "attempts": r.attempts,
                "spoiled_cards": spoiled,
                "reason": r.reason if r.state in ("rejected", "pending") else "",
                "created_at": r.created_at,
                "prepared_at": r.prepared_at,
                "personalized_at": r.personalized_at,
                "verified_at": r.verified_at,
                "printed_at": r.printed_at,
                "updated_at": r.updated_at,
                "outputs": r.outputs,
            }
            out.append({k: "" if values[k] is None else str(values[k]) for k in COLUMNS})
        return out


def collect(journal: Journal, batch: str) -> BatchReport:
    infos = [b for b in journal.batches() if b.batch == batch]
    if not infos:
        from cardkit.batch.journal import JournalError

        raise JournalError(f"no batch {batch!r} in the journal")
    return BatchReport(
        infos[0],
        tuple(journal.records(batch)),
        tuple(journal.cards(batch)),
        journal.counts(batch),
    )


FORMULA_STARTS = ("=", "+", "-", "@")


def render_csv(report: BatchReport) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in report.rows():
        # A cell starting with = + - @ would be a formula in a spreadsheet: quote it away.
        writer.writerow({k: "'" + v if v.startswith(FORMULA_STARTS) else v for k, v in row.items()})
    return buffer.getvalue()


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], cls: str = "") -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "\n".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>'


def render_html(report: BatchReport) -> str:
    info = report.info
    counts = [
        (state, str(report.counts.get(state, 0)))
        for state in (*RECORD_STATES, "spoiled")
        if report.counts.get(state, 0)
    ]
    records = [[row[c] for c in COLUMNS] for row in report.rows()]
    cards = [
        [str(c.row), str(c.attempt), c.image_id, c.state, c.chip_serial or "", c.station,
         c.started_at, c.finished_at or "", c.reason or ""]
        for c in report.cards
    ]  # fmt: skip
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>cardkit batch {html.escape(info.batch)}</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; }}
table {{ border-collapse: collapse; margin-bottom: 1.5em; font-size: 0.85em; }}
th, td {{ border: 1px solid #bbb; padding: 0.2em 0.5em; text-align: left; }}
th {{ background: #eee; }}
</style></head><body>
<h1>Batch {html.escape(info.batch)}</h1>
<p>Records file {html.escape(info.name)} (SHA-256 {html.escape(info.records_digest)}),
profile {html.escape(info.profile)}, {info.total} records.</p>
<h2>Summary</h2>
{_table(("state", "count"), counts, "summary")}
<h2>Records</h2>
{_table(COLUMNS, records, "records")}
<h2>Cards written</h2>
{
        _table(
            (
                "row",
                "attempt",
                "card image",
                "state",
                "chip serial",
                "station",
                "started",
                "finished",
                "reason",
            ),
            cards,
            "cards",
        )
    }
</body></html>
"""


def write_report(report: BatchReport, out: Path) -> str:
    """Write ``out`` as CSV or HTML by its extension; returns the format written."""
    suffix = out.suffix.lower()
    if suffix == ".csv":
        text, kind = render_csv(report), "csv"
    elif suffix in (".html", ".htm"):
        text, kind = render_html(report), "html"
    else:
        raise ValueError("the report file must end in .csv or .html")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return kind
