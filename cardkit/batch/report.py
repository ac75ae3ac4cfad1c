"""Batch reports: one line per record (CSV) or one page an operator reads (HTML).

Per record: row, card id, state, MRZ document number, chip serial and DSC serial of the issued
card, station, timestamps, the reason of a rejection and every spoiled card (chip serial and
reason). The document number is the only personal datum (see :mod:`cardkit.batch.journal`).

**CSV** (:data:`COLUMNS`; RFC 4180, CRLF line ends; machine-friendly: raw values, ISO 8601 UTC
times): the columns of before, in the same order, then ``destroy_chips``: the spoiled cards of
the record whose chip must be destroyed (``"#attempt chip SERIAL"``, ``"; "`` between them).
A cell that a spreadsheet would take for a formula (it starts with ``= + - @``, a tab or a
carriage return) is prefixed with ``'``.

**HTML**: one self-contained file (no external asset; a Content-Security-Policy ``<meta>``
allows nothing but its own inline style and script, by their SHA-256). It opens with the
batch summary: records per state, the stations, the spoiled chips to destroy, the spoiled
cards that can be written again and the rejected records with their reasons; then every
record (filtered by state with a small inline script; the page reads without it) and every
card written — at most :data:`MAX_ROWS` rows in each of these two tables, those to act on first,
with a note saying so (a browser would not open a page of 100,000 rows; the CSV lists every
record). Every value from the journal is HTML-escaped.

**Destroy or not.** A spoiled card is to be destroyed unless it is known not to be locked: its
reason starts with ``not locked (rewritable)`` (the check before LOCK failed) or it was torn
before the LOCK step (``torn at step N (check|files|secrets|verify)``). A reason starting with
``locked (destroy)``, a tear at or after LOCK, and any other reason (a card found mid-write
after a crash, an error whose step is unknown) mean the chip may hold the holder's data,
locked: destroy it (:func:`card_action`).

The report groups the cards by record once (linear in records + cards: a 100,000-record
journal is reported in seconds; ``benchmarks/journal.py`` measures it).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import heapq
import html
import io
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Literal

from cardkit.batch.journal import (
    CARD_STATES,
    RECORD_STATES,
    BatchInfo,
    CardRow,
    Journal,
    JournalError,
    RecordRow,
    StationRow,
)

__all__ = [
    "COLUMNS",
    "CONTENT_SECURITY_POLICY",
    "BatchReport",
    "CardAction",
    "StationSummary",
    "card_action",
    "collect",
    "count_states",
    "render_csv",
    "render_html",
    "write_report",
]

COLUMNS = (
    "row", "card_id", "state", "document_number", "chip_serial", "dsc_serial", "station",
    "attempts", "spoiled_cards", "reason", "created_at", "prepared_at", "personalized_at",
    "verified_at", "printed_at", "updated_at", "outputs", "destroy_chips",
)  # fmt: skip

#: The records table's column headings in the HTML page (the CSV keeps :data:`COLUMNS`).
HEADINGS: Mapping[str, str] = {
    "row": "Row",
    "card_id": "Card",
    "state": "State",
    "document_number": "Document no.",
    "chip_serial": "Chip serial",
    "dsc_serial": "DSC serial",
    "station": "Station",
    "attempts": "Attempts",
    "spoiled_cards": "Spoiled cards",
    "reason": "Reason",
    "created_at": "Loaded",
    "prepared_at": "Prepared",
    "personalized_at": "Personalized",
    "verified_at": "Verified",
    "printed_at": "Printed",
    "updated_at": "Last change",
    "outputs": "Printed files",
    "destroy_chips": "Chips to destroy",
}

STATION_HEADINGS = ("Station", "Host", "Lease", "Last heartbeat", "Doing", "In progress",
                    "Verified", "Printed", "Cards written", "Spoiled", "To destroy",
                    "Last activity")  # fmt: skip
SPOILED_HEADINGS = ("Action", "Chip serial", "Row", "Document no.", "Card image", "Attempt",
                    "Station", "When", "Reason")  # fmt: skip
CARD_HEADINGS = ("Row", "Attempt", "Card image", "State", "Action", "Chip serial", "Station",
                 "Started", "Finished", "Reason")  # fmt: skip

CardAction = Literal["destroy", "rewritable"]

#: Personalization phases before LOCK (cardkit.services.personalize): a card torn there is not
#: locked and can be written again.
_UNLOCKED_PHASES = ("check", "files", "secrets", "verify")
_TORN = re.compile(r"torn at step \d+ \(([a-z-]+)\)")
_ISSUED = ("verified", "printed")
_IN_PROGRESS = ("pending", "prepared", "personalizing", "personalized")


def card_action(card: CardRow) -> CardAction | None:
    """What to do with a card's chip: None for a card that is not spoiled, ``rewritable`` when
    it is known not to be locked, else ``destroy`` (module docstring)."""
    if card.state != "spoiled":
        return None
    reason = (card.reason or "").strip()
    if reason.startswith("not locked (rewritable)"):
        return "rewritable"
    if reason.startswith("locked (destroy)"):
        return "destroy"
    torn = _TORN.match(reason)
    if torn is not None and torn.group(1) in _UNLOCKED_PHASES:
        return "rewritable"
    return "destroy"


def count_states(records: Iterable[RecordRow], cards: Iterable[CardRow]) -> dict[str, int]:
    """Records per state plus ``spoiled`` (cards), as :meth:`Journal.counts` answers."""
    out = dict.fromkeys((*RECORD_STATES, "spoiled"), 0)
    out.update(Counter(r.state for r in records))
    out["spoiled"] = sum(1 for c in cards if c.state == "spoiled")
    return out


@dataclass(frozen=True)
class StationSummary:
    """What one station did in the batch, from the records it holds and the cards it wrote."""

    station: str
    records: dict[str, int]  # records whose station it is, per state
    cards: int  # cards written (every attempt)
    spoiled: int
    destroy: int
    last_activity: str  # the latest time of its records and cards (ISO 8601), or ""
    lease: StationRow | None = None  # its lease on the batch (the journal's ``stations``)
    lease_state: Literal["live", "expired", "stopped", ""] = ""  # when the report was made

    @property
    def in_progress(self) -> int:
        return sum(self.records.get(s, 0) for s in _IN_PROGRESS)

    @property
    def issued(self) -> int:
        return sum(self.records.get(s, 0) for s in _ISSUED)


@dataclass(frozen=True)
class BatchReport:
    info: BatchInfo
    records: tuple[RecordRow, ...]
    cards: tuple[CardRow, ...]
    counts: dict[str, int]
    source: str = ""  # the journal's URL (without its password)
    generated_at: str = field(default="")
    leases: tuple[StationRow, ...] = ()  # the stations' leases and heartbeats

    @cached_property
    def _cards_by_row(self) -> dict[int, list[CardRow]]:
        grouped: dict[int, list[CardRow]] = defaultdict(list)
        for card in self.cards:
            grouped[card.row].append(card)
        return dict(grouped)

    def cards_for(self, row: int) -> list[CardRow]:
        return self._cards_by_row.get(row, [])

    def spoiled_for(self, row: int) -> list[CardRow]:
        return [c for c in self.cards_for(row) if c.state == "spoiled"]

    @cached_property
    def _document_numbers(self) -> dict[int, str]:
        return {r.row: r.document_number or "" for r in self.records}

    def document_number(self, row: int) -> str:
        return self._document_numbers.get(row, "")

    @cached_property
    def spoiled(self) -> tuple[tuple[CardRow, CardAction], ...]:
        """Every spoiled card with what to do with it: the ones to destroy first."""
        found = [(c, card_action(c) or "destroy") for c in self.cards if c.state == "spoiled"]
        return tuple(sorted(found, key=lambda ca: (ca[1] != "destroy", ca[0].row, ca[0].attempt)))

    @property
    def to_destroy(self) -> list[CardRow]:
        return [c for c, action in self.spoiled if action == "destroy"]

    @property
    def rewritable(self) -> list[CardRow]:
        return [c for c, action in self.spoiled if action == "rewritable"]

    @property
    def rejected(self) -> list[RecordRow]:
        return [r for r in self.records if r.state == "rejected"]

    @cached_property
    def stations(self) -> tuple[StationSummary, ...]:
        states: dict[str, Counter[str]] = defaultdict(Counter)
        last: dict[str, str] = defaultdict(str)
        written: Counter[str] = Counter()
        spoiled: Counter[str] = Counter()
        destroy: Counter[str] = Counter()
        for r in self.records:
            if r.station:
                states[r.station][r.state] += 1
                last[r.station] = max(last[r.station], r.updated_at)
        for c in self.cards:
            written[c.station] += 1
            last[c.station] = max(last[c.station], c.finished_at or c.started_at)
            if c.state == "spoiled":
                spoiled[c.station] += 1
                if card_action(c) == "destroy":
                    destroy[c.station] += 1
        leases = {lease.station: lease for lease in self.leases}
        now = datetime.fromisoformat(self.generated_at) if self.generated_at else None

        def lease_state(lease: StationRow | None) -> Literal["live", "expired", "stopped", ""]:
            if lease is None or now is None:
                return ""
            if lease.stopped_at is not None:
                return "stopped"
            return "live" if lease.live(now) else "expired"

        return tuple(
            StationSummary(
                s,
                dict(states[s]),
                written[s],
                spoiled[s],
                destroy[s],
                last[s],
                leases.get(s),
                lease_state(leases.get(s)),
            )
            for s in sorted(set(states) | set(written) | set(leases))
        )

    def rows(self) -> list[dict[str, str]]:
        """One dict per record, :data:`COLUMNS` → raw text (the CSV's cells)."""
        out = []
        for r in self.records:
            spoiled = self.spoiled_for(r.row)
            values: dict[str, object] = {
                "row": r.row,
                "card_id": r.image_id or r.card_id,
                "state": r.state,
                "document_number": r.document_number,
                "chip_serial": r.chip_serial,
                "dsc_serial": r.dsc_serial,
                "station": r.station,
                "attempts": r.attempts,
                "spoiled_cards": "; ".join(
                    f"#{c.attempt} chip {c.chip_serial or '?'}: {c.reason or ''}" for c in spoiled
                ),
                "reason": r.reason if r.state in ("rejected", "pending") else "",
                "created_at": r.created_at,
                "prepared_at": r.prepared_at,
                "personalized_at": r.personalized_at,
                "verified_at": r.verified_at,
                "printed_at": r.printed_at,
                "updated_at": r.updated_at,
                "outputs": r.outputs,
                "destroy_chips": "; ".join(
                    f"#{c.attempt} chip {c.chip_serial or '?'}"
                    for c in spoiled
                    if card_action(c) == "destroy"
                ),
            }
            out.append({k: "" if values[k] is None else str(values[k]) for k in COLUMNS})
        return out


def collect(journal: Journal, batch: str, *, now: datetime | None = None) -> BatchReport:
    """Read one batch from the journal: its records, its cards and its stations' leases (one
    query each), grouped here."""
    infos = [b for b in journal.batches() if b.batch == batch]
    if not infos:
        raise JournalError(f"no batch {batch!r} in the journal")
    records = tuple(journal.records(batch))
    cards = tuple(journal.cards(batch))
    leases = tuple(journal.stations(batch))
    at = (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
    return BatchReport(
        infos[0], records, cards, count_states(records, cards), journal.url, at, leases
    )


# --- CSV -----------------------------------------------------------------------------------

#: What makes a spreadsheet read a cell as a formula (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def render_csv(report: BatchReport) -> str:
    buffer = io.StringIO(newline="")
    # RFC 4180 line ends (CRLF): the csv module then quotes a cell holding a CR or LF, which
    # it does not do for a lone CR with "\n" line ends (the file would break at it).
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in report.rows():
        writer.writerow([_csv_cell(row[k]) for k in COLUMNS])
    return buffer.getvalue()


# --- HTML ----------------------------------------------------------------------------------

_STATE_COLOURS: Mapping[str, tuple[str, str]] = {  # state → (background, badge)
    "rejected": ("#fbe3e4", "#c62828"),
    "pending": ("#f1f1f1", "#6b6b6b"),
    "prepared": ("#fff6d6", "#9a7400"),
    "personalizing": ("#ffe9d1", "#b85c00"),
    "personalized": ("#e2ecfb", "#1f5fbf"),
    "verified": ("#e1f3e6", "#2e7d32"),
    "printed": ("#d3ecd9", "#1b5e20"),
    "spoiled": ("#f7dde6", "#ad1457"),
}

_CSS = (
    """
:root { color-scheme: light; }
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #1d1d1d; }
h1 { font-size: 1.5em; margin: 0 0 .2em; } h2 { margin-top: 1.6em; } h3 { margin: 1.2em 0 .4em; }
.meta { color: #555; margin: 0 0 1em; }
.tiles { display: flex; flex-wrap: wrap; gap: .5em; margin: .5em 0; }
.tile { border-radius: 6px; padding: .4em .8em; min-width: 6.5em; border-left: 6px solid; }
.tile .n { display: block; font-size: 1.6em; font-weight: 600; }
.progress { font-weight: 600; }
table { border-collapse: collapse; margin: .3em 0 1em; font-size: .9em; }
th, td { border: 1px solid #c8c8c8; padding: .2em .5em; text-align: left; vertical-align: top; }
thead th { background: #ececec; position: sticky; top: 0; }
td.num, th.num { text-align: right; }
.badge { display: inline-block; border-radius: 3px; padding: 0 .4em; color: #fff;
  font-size: .85em; font-weight: 600; white-space: nowrap; }
.destroy { background: #b00020; color: #fff; font-weight: 700; }
.destroy-row td { background: #fde7ea; }
.rewritable { background: #5f6b7a; color: #fff; }
.warn { color: #b00020; font-weight: 700; }
.ok { color: #2e7d32; }
.path, .digest { font-family: ui-monospace, monospace; }
ul.reasons { margin: 0; padding-left: 1.2em; }
table.records td, table.cards td, table.spoiled td { white-space: nowrap; }
table.records td.wrap { white-space: normal; min-width: 14em; max-width: 32em; }
table.cards td:last-child, table.spoiled td:last-child { white-space: normal; min-width: 14em; }
#state-filter { border: 1px solid #c8c8c8; border-radius: 6px; padding: .4em .8em; margin: .5em 0;
  display: inline-block; }
#state-filter[hidden] { display: none; }  /* shown by the script: no dead controls without it */
#state-filter label { margin-right: .9em; white-space: nowrap; }
#state-filter button { margin-left: .3em; }
@media print { #state-filter, #records-shown { display: none; } thead th { position: static; } }
"""
    + "".join(
        f".st-{s} td {{ background: {bg}; }}\n"
        f".tile.st-{s} {{ background: {bg}; border-color: {badge}; }}\n"
        f".badge.st-{s} {{ background: {badge}; }}\n"
        for s, (bg, badge) in _STATE_COLOURS.items()
    )
    + "".join(f"table.hide-{s} tr.st-{s} {{ display: none; }}\n" for s in RECORD_STATES)
)

# The state filter: checkboxes toggle a hide-STATE class on the records table (CSS hides the
# rows), so a click costs the same for 10 or 100,000 rows. No inline handlers (the CSP).
_SCRIPT = """
(function () {
  "use strict";
  var filter = document.getElementById("state-filter");
  var table = document.getElementById("records-table");
  var shown = document.getElementById("records-shown");
  if (!filter || !table || !shown) { return; }
  var boxes = filter.querySelectorAll("input[type=checkbox][data-state]");
  var total = Number(table.getAttribute("data-total"));
  function update() {
    var n = 0;
    for (var i = 0; i < boxes.length; i++) {
      var box = boxes[i];
      table.classList.toggle("hide-" + box.getAttribute("data-state"), !box.checked);
      if (box.checked) { n += Number(box.getAttribute("data-count")); }
    }
    shown.textContent = n + " of " + total + " records shown";
  }
  function setAll(checked) {
    for (var i = 0; i < boxes.length; i++) { boxes[i].checked = checked; }
    update();
  }
  filter.addEventListener("change", update);
  document.getElementById("filter-all").addEventListener("click", function () { setAll(true); });
  document.getElementById("filter-none").addEventListener("click", function () { setAll(false); });
  filter.hidden = false;
  update();
})();
"""


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


#: Nothing may load or run but the page's own style and script (CSP Level 2 hash sources).
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src {_csp_hash(_CSS)}; script-src {_csp_hash(_SCRIPT)}; "
    "img-src 'none'; base-uri 'none'; form-action 'none'"
)


def _e(value: object) -> str:
    """Text for HTML content or a quoted attribute value (``& < > " '`` escaped)."""
    return html.escape(value if isinstance(value, str) else str(value), quote=True)


_PLAIN_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")


def _when(ts: str | None) -> str:
    """``2026-11-01T10:00:00.123+00:00`` → ``2026-11-01 10:00:00`` (UTC, said in the header)."""
    if not ts:
        return ""
    if len(ts) >= 19 and ts[10] == "T":
        shown = f"{ts[:10]} {ts[11:19]}"
        return shown if _PLAIN_TIME.fullmatch(shown) else _e(shown)  # digits need no escaping
    return _e(ts)


def _short(text: str, *, keep: int = 28, cls: str = "path") -> str:
    """A long path or digest as its end (paths) or start (digests), the whole in a title."""
    if len(text) <= keep:
        return f'<span class="{cls}">{_e(text)}</span>'
    if cls == "path":
        parts = text.replace("\\", "/").split("/")
        shown = text
        for n in (2, 1):  # the last two components, else the file name, else its end
            if len(parts) > n and len("…/" + "/".join(parts[-n:])) <= keep:
                shown = "…/" + "/".join(parts[-n:])
                break
        if len(shown) > keep:
            shown = "…" + text[-(keep - 1) :]
    else:
        shown = text[: keep - 1] + "…"
    return f'<span class="{cls}" title="{_e(text)}">{_e(shown)}</span>'


def _paths(outputs: str | None) -> str:
    if not outputs:
        return ""
    return "<br>".join(_short(p.strip()) for p in outputs.split(";") if p.strip())


def _badge(state: str) -> str:
    return f'<span class="badge st-{_e(state)}">{_e(state)}</span>'


def _action(action: CardAction | None) -> str:
    if action == "destroy":
        return '<span class="badge destroy">DESTROY</span>'
    if action == "rewritable":
        return '<span class="badge rewritable">rewritable</span>'
    return ""


NUM = ' class="num"'


def _table(
    headers: Sequence[str], rows: Iterable[str], *, attrs: str = "", numeric: Sequence[int] = ()
) -> str:
    head = "".join(
        f'<th{NUM if i in numeric else ""} scope="col">{_e(h)}</th>' for i, h in enumerate(headers)
    )
    body = "\n".join(rows)
    return f"<table{attrs}><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>"


def _row(cells: Iterable[str], attrs: str = "") -> str:
    return f"<tr{attrs}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def _lease(s: StationSummary) -> str:
    if s.lease is None:
        return ""
    if s.lease_state == "live":
        return f'<span class="ok">live until {_when(s.lease.lease_until.isoformat())}</span>'
    if s.lease_state == "expired":
        return (
            f'<span class="warn" title="last heartbeat {_e(s.lease.heartbeat_at)}">expired</span>'
        )
    if s.lease_state == "stopped":
        return f"stopped {_when(s.lease.stopped_at)}"
    return ""


def _summary(report: BatchReport) -> str:
    counts = report.counts
    tiles = "".join(
        f'<div class="tile st-{s}"><span class="n" data-count="{s}">{counts.get(s, 0)}</span>'
        f"{'spoiled cards' if s == 'spoiled' else s}</div>"
        for s in (*RECORD_STATES, "spoiled")
    )
    valid = report.info.total - counts.get("rejected", 0) if report.info.total else 0
    issued = sum(counts.get(s, 0) for s in _ISSUED)
    destroy = report.to_destroy
    parts = [
        f'<div class="tiles" id="state-counts">{tiles}</div>',
        f'<p class="progress" id="progress">{issued} of {valid} valid records issued'
        f" ({counts.get('rejected', 0)} rejected, {len(report.records)} in the journal"
        f" of {report.info.total} in the file).</p>",
    ]
    if destroy:
        parts.append(
            f'<p class="warn" id="destroy-note">{len(destroy)} spoiled chip(s) to destroy: '
            "see below.</p>"
        )
    # Stations.
    station_rows = [
        _row(
            (
                _e(s.station),
                _e(f"{s.lease.host} (pid {s.lease.pid})") if s.lease else "",
                _lease(s),
                _when(s.lease.heartbeat_at) if s.lease else "",
                _e(s.lease.holding or "") if s.lease else "",
                str(s.in_progress),
                str(s.records.get("verified", 0)),
                str(s.records.get("printed", 0)),
                str(s.cards),
                str(s.spoiled),
                f'<span class="warn">{s.destroy}</span>' if s.destroy else "0",
                _when(s.last_activity),
            ),
            f' data-station="{_e(s.station)}"',
        )
        for s in report.stations
    ]
    parts.append(f'<h3 id="stations">Stations ({len(report.stations)})</h3>')
    parts.append(
        _table(
            STATION_HEADINGS,
            station_rows,
            attrs=' class="stations" id="stations-table"',
            numeric=(5, 6, 7, 8, 9, 10),
        )
        if station_rows
        else "<p>No station has claimed a record yet.</p>"
    )

    # Spoiled cards.
    def spoiled_rows(cards: Sequence[CardRow], action: CardAction) -> list[str]:
        return [
            _row(
                (
                    _action(action),
                    _e(c.chip_serial or "unknown (see the card image)"),
                    str(c.row),
                    _e(report.document_number(c.row)),
                    _e(c.image_id),
                    str(c.attempt),
                    _e(c.station),
                    _when(c.finished_at or c.started_at),
                    _e(c.reason or ""),
                ),
                f' class="{"destroy-row" if action == "destroy" else "rewritable-row"}"',
            )
            for c in cards
        ]

    spoiled_headers = SPOILED_HEADINGS
    parts.append(f'<h3 id="destroy">Spoiled chips to destroy ({len(destroy)})</h3>')
    parts.append(
        _table(
            spoiled_headers,
            spoiled_rows(destroy, "destroy"),
            attrs=' class="spoiled" id="destroy-table"',
        )
        if destroy
        else '<p class="ok">None.</p>'
    )
    rewritable = report.rewritable
    parts.append(
        f'<h3 id="rewritable">Spoiled cards not locked: can be written again ({len(rewritable)})'
        "</h3>"
    )
    parts.append(
        _table(
            spoiled_headers,
            spoiled_rows(rewritable, "rewritable"),
            attrs=' class="spoiled" id="rewritable-table"',
        )
        if rewritable
        else "<p>None.</p>"
    )
    # Rejected records.
    rejected = report.rejected
    parts.append(f'<h3 id="rejected">Rejected records ({len(rejected)})</h3>')
    parts.append(
        _table(
            ("Row", "Card", "Reasons"),
            (
                _row(
                    (
                        str(r.row),
                        _e(r.card_id),
                        '<ul class="reasons">'
                        + "".join(
                            f"<li>{_e(p.strip())}</li>"
                            for p in (r.reason or "").split("; ")
                            if p.strip()
                        )
                        + "</ul>",
                    )
                )
                for r in rejected
            ),
            attrs=' class="rejected" id="rejected-table"',
        )
        if rejected
        else '<p class="ok">None.</p>'
    )
    return "\n".join(parts)


#: Rows a table of the HTML page lists at most: a browser lays out some 2,000 table rows a
#: second on a small machine, so a 100,000-record page would not open. The CSV lists everything.
MAX_ROWS = 2000


def _listed_records(report: BatchReport, max_rows: int) -> list[RecordRow]:
    """Every record if they fit, else those an operator acts on first (not issued, or with a
    spoiled card), then the latest issued ones; in row order."""
    if len(report.records) <= max_rows:
        return list(report.records)
    spoiled = {c.row for c, _ in report.spoiled}
    first = [r for r in report.records if r.state not in _ISSUED or r.row in spoiled]
    chosen = first[:max_rows]
    if len(chosen) < max_rows:
        chosen += heapq.nlargest(
            max_rows - len(chosen),
            (r for r in report.records if r.state in _ISSUED and r.row not in spoiled),
            key=lambda r: (r.updated_at, r.row),
        )
    return sorted(chosen, key=lambda r: r.row)


def _listed_cards(report: BatchReport, max_rows: int) -> list[CardRow]:
    """Every card if they fit, else the spoiled and unfinished ones, then the latest verified."""
    if len(report.cards) <= max_rows:
        return list(report.cards)
    first = [c for c in report.cards if c.state != "verified"]
    chosen = first[:max_rows]
    if len(chosen) < max_rows:
        chosen += heapq.nlargest(
            max_rows - len(chosen),
            (c for c in report.cards if c.state == "verified"),
            key=lambda c: (c.finished_at or c.started_at, c.row, c.attempt),
        )
    return sorted(chosen, key=lambda c: (c.row, c.attempt))


def _not_all(listed: int, total: int, what: str, order: str) -> str:
    return (
        f'<p class="warn" id="{what}-note">{listed} of {total} {what} listed here ({order}): '
        "<code>cardkit batch report --out FILE.csv</code> lists every one.</p>"
    )


def _records_table(report: BatchReport, max_rows: int = MAX_ROWS) -> str:
    listed = _listed_records(report, max_rows)
    counts = report.counts
    shown = Counter(r.state for r in listed)
    boxes = "".join(
        f'<label><input type="checkbox" checked data-state="{s}" data-count="{shown[s]}">'
        f" {s} ({shown[s] if shown[s] == counts.get(s, 0) else f'{shown[s]} of {counts[s]}'})"
        "</label>"
        for s in RECORD_STATES
    )
    out = [
        '<div id="state-filter" role="group" aria-label="Show records in state" hidden>'
        f"<strong>Show:</strong> {boxes}"
        '<button type="button" id="filter-all">all</button>'
        '<button type="button" id="filter-none">none</button></div>',
        f'<p id="records-shown">{len(listed)} records</p>',
    ]
    if len(listed) < len(report.records):
        out.insert(
            0,
            _not_all(len(listed), len(report.records), "records",
                     "first those not issued or with a spoiled card, then the latest issued"),
        )  # fmt: skip
    rows = []
    esc, when, badges = html.escape, _when, {s: _badge(s) for s in RECORD_STATES}
    for r in listed:  # one f-string a row: this loop is most of the page
        spoiled = report.spoiled_for(r.row)
        spoiled_cell = "<br>".join(
            f"{_action(card_action(c))} #{c.attempt} chip {esc(c.chip_serial or '?')}: "
            f"{esc(c.reason or '')}"
            for c in spoiled
        )
        reason = esc(r.reason or "") if r.state in ("rejected", "pending") else ""
        rows.append(
            f'<tr class="st-{r.state}" data-row="{r.row}"><td>{r.row}</td>'
            f"<td>{esc(r.image_id or r.card_id)}</td><td>{badges[r.state]}</td>"
            f"<td>{esc(r.document_number or '')}</td><td>{esc(r.chip_serial or '')}</td>"
            f"<td>{esc(r.dsc_serial or '')}</td><td>{esc(r.station or '')}</td>"
            f'<td>{r.attempts}</td><td class="wrap">{spoiled_cell}</td>'
            f'<td class="wrap">{reason}</td><td>{when(r.created_at)}</td>'
            f"<td>{when(r.prepared_at)}</td><td>{when(r.personalized_at)}</td>"
            f"<td>{when(r.verified_at)}</td><td>{when(r.printed_at)}</td>"
            f"<td>{when(r.updated_at)}</td><td>{_paths(r.outputs)}</td></tr>"
        )
    headings = [HEADINGS[c] for c in COLUMNS if c != "destroy_chips"]
    out.append(
        _table(
            headings,
            rows,
            attrs=f' class="records" id="records-table" data-total="{len(listed)}"',
            numeric=(0, 7),
        )
    )
    return "\n".join(out)


def _cards_table(report: BatchReport, max_rows: int = MAX_ROWS) -> str:
    if not report.cards:
        return "<p>No card written yet.</p>"
    listed = _listed_cards(report, max_rows)
    note = (
        _not_all(len(listed), len(report.cards), "cards",
                 "first the spoiled and unfinished ones, then the latest verified")
        if len(listed) < len(report.cards)
        else ""
    )  # fmt: skip
    rows = [
        _row(
            (
                str(c.row),
                str(c.attempt),
                _e(c.image_id),
                _badge(c.state),
                _action(card_action(c)),
                _e(c.chip_serial or ""),
                _e(c.station),
                _when(c.started_at),
                _when(c.finished_at),
                _e(c.reason or ""),
            ),
            f' class="card-{_e(c.state)}"',
        )
        for c in listed
    ]
    return note + _table(
        CARD_HEADINGS, rows, attrs=' class="cards" id="cards-table"', numeric=(0, 1)
    )


def render_html(report: BatchReport, *, max_rows: int = MAX_ROWS) -> str:
    """The page (module docstring); the records and cards tables list at most ``max_rows``
    rows each (:data:`MAX_ROWS`), the summary every spoiled card and rejected record."""
    info = report.info
    source = f", journal {_short(report.source, keep=48)}" if report.source else ""
    generated = f" Report of {_when(report.generated_at)} UTC." if report.generated_at else ""
    assert set(CARD_STATES) <= set(_STATE_COLOURS)  # every card state has its colours
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>cardkit batch {_e(info.batch)}</title>
<style>{_CSS}</style>
</head><body>
<header><h1>Batch {_e(info.batch)}</h1>
<p class="meta">Records file {_short(info.name, keep=48)} (SHA-256
{_short(info.records_digest, keep=13, cls="digest")}), profile {_e(info.profile)},
{info.total} records{source}.{generated} Times are UTC.</p></header>
<section id="summary"><h2>Summary</h2>
{_summary(report)}
</section>
<section id="records"><h2>Records</h2>
{_records_table(report, max_rows)}
</section>
<section id="cards"><h2>Cards written ({len(report.cards)})</h2>
{_cards_table(report, max_rows)}
</section>
<script id="report-filter">{_SCRIPT}</script>
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
    out.write_text(text, encoding="utf-8", newline="")
    return kind
