"""The PostgreSQL journal on a real server: a station that joins a running line runs no DDL, so it
cannot deadlock with stations at work (CREATE INDEX takes a SHARE lock on its table even when the
index exists, which waited behind — and, with a second table, deadlocked against — the working
stations' row locks); two stations offered the same chip (one writes it, the other is told);
a server restarted mid-batch (the station retries, tells, resumes) or gone for longer than the
journal timeout (exit 4)."""

from __future__ import annotations

import csv
import threading
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from testpki import in_memory_issuer

from cardkit.batch.journal import (
    BatchInfo,
    ChipUsedError,
    JournalUnavailableError,
    NewRecord,
    PostgresJournal,
)
from cardkit.batch.runner import BatchEvent, BatchSettings, run_batch
from cardkit.cli.exits import exit_code_for
from cardkit.emulator.card import EmulatedCard
from cardkit.iso7816.apdu import Command, Response
from cardkit.profile import load_profile


def test_a_station_joining_a_busy_line_takes_no_table_lock(postgres_server: Any) -> None:
    url = postgres_server.database("journal_join")
    PostgresJournal(url).close()  # the first station creates the schema
    with psycopg.connect(url) as busy:  # another station, mid-transaction on `cards`
        busy.execute("LOCK TABLE cards IN ROW EXCLUSIVE MODE")
        opened: list[object] = []

        def join() -> None:
            journal = PostgresJournal(url)
            opened.append(journal)
            journal.close()

        joiner = threading.Thread(target=join, daemon=True)
        joiner.start()
        joiner.join(timeout=10)
        joined = bool(opened)
        busy.rollback()
    joiner.join(timeout=10)
    assert joined, "opening the journal waited for a lock held by a working station"


# --- issue 14: races are refusals, the journal comes back ---------------------------------------

SAMPLES = Path(__file__).resolve().parents[2] / "profiles" / "samples"
TODAY = date(2026, 11, 1)  # the samples' reference day (profiles/samples/README.md)
INFO = BatchInfo("b-1", "b.csv", "00" * 32, "vn-cccd-2021", 2)
RECORDS = [
    NewRecord(2, "b-00002", "pending", document_number="093047064"),
    NewRecord(3, "b-00003", "pending", document_number="155502526"),
]


class _Blind(PostgresJournal):
    """Skips the "chip used before?" SELECT: the insert meets the other station's row in the
    unique index, as when both checked before either inserted."""

    def _exec(self, cursor: Any, text: str, params: Any = ()) -> Any:
        if text.startswith("SELECT 1 FROM cards WHERE chip_serial"):
            text, params = "SELECT 1 WHERE false", ()
        return super()._exec(cursor, text, params)


def test_two_stations_offered_the_same_chip_one_writes_it_the_other_is_told(
    postgres_server: Any,
) -> None:
    url = postgres_server.database("journal_same_chip")
    journals = [_Blind(url), _Blind(url)]
    journals[0].load(INFO, RECORDS)
    rows = []
    for i, j in enumerate(journals):
        rec = j.claim("b-1", f"s{i}")
        assert rec is not None
        assert j.begin_image("b-1", rec.row, f"s{i}", rec.card_id)
        j.mark_prepared("b-1", rec.row, f"s{i}", image_id=rec.card_id, sod_digest="ab",
                        dsc_serial="1")  # fmt: skip
        rows.append(rec.row)
    start = threading.Barrier(2)
    outcomes: list[object] = [None, None]

    def offer(i: int) -> None:
        start.wait()
        try:
            outcomes[i] = journals[i].begin_card("b-1", rows[i], f"s{i}", "CHIP-SAME")
        except ChipUsedError as exc:
            outcomes[i] = exc

    threads = [threading.Thread(target=offer, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    refused = [o for o in outcomes if isinstance(o, ChipUsedError)]
    assert len(refused) == 1 and outcomes.count(1) == 1, outcomes
    assert "chip CHIP-SAME was written before: put it aside" in str(refused[0])
    states = sorted(r.state for r in journals[0].records("b-1"))
    assert states == ["personalizing", "prepared"]  # the refused record is not stuck
    for j in journals:
        j.close()


def _write_records(path: Path, rows: int) -> Path:
    with (SAMPLES / "citizens.csv").open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        fields = list(reader.fieldnames or ())
        good = [r for _, r in zip(range(rows), reader, strict=False)]
    for row in good:
        for key in ("photo_path", "fingerprint_paths"):
            parts = [p for p in (row.get(key) or "").split(";") if p]
            row[key] = ";".join(str(SAMPLES / p) for p in parts)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(good)
    return path


class _Connection:
    """An in-process emulated chip answering GET DATA 9F7F with a CPLC holding its serial."""

    def __init__(self, card: EmulatedCard, serial: int) -> None:
        self.card, self.serial = card, serial
        card.power_on()

    def send(self, command: Command) -> Response:
        if (command.cla, command.ins, command.p1, command.p2) == (0x80, 0xCA, 0x9F, 0x7F):
            body = bytearray(42)
            body[0:4] = bytes.fromhex("4790D321")
            body[12:16] = self.serial.to_bytes(4, "big")
            body[16:18] = b"\x00\x01"
            return Response(b"\x9f\x7f\x2a" + bytes(body), 0x9000)
        return Response.from_bytes(self.card.transmit(bytes(command)))


class _Station:
    name = "in-process"

    def __init__(self) -> None:
        self.cards: list[tuple[int, EmulatedCard]] = []

    def wait_for_card(self, stop: threading.Event) -> _Connection | None:
        if stop.is_set():
            return None
        self.cards.append((len(self.cards) + 1, EmulatedCard()))
        return _Connection(self.cards[-1][1], self.cards[-1][0])

    def release(self, connection: object) -> None:
        pass


def _settings(records: Path, workdir: Path) -> BatchSettings:
    pki = in_memory_issuer("journal restart")
    return BatchSettings(
        records_file=records,
        profile=load_profile("vn-cccd-2021"),
        issuer=pki.issuer,
        transport=pki.transport,
        workdir=workdir,
        station="pg-station",
        today=TODAY,
        clock=lambda: datetime(2026, 11, 1, 10, tzinfo=UTC),
        trust=pki.trust,
    )


def test_postgresql_restarted_mid_batch_the_station_is_told_and_resumes(
    postgres_server: Any, tmp_path: Path
) -> None:
    url = postgres_server.database("journal_restart")
    records = _write_records(tmp_path / "restart.csv", rows=4)
    told: list[tuple[int, str | None]] = []
    journal = PostgresJournal(
        url, unreachable_timeout=120, on_unreachable=lambda a, r: told.append((a, r))
    )
    restarted = threading.Event()

    def on_event(event: BatchEvent) -> None:
        if event.kind == "verified" and not restarted.is_set():
            restarted.set()
            postgres_server.pause()  # the next journal call finds no server
            threading.Timer(3.0, postgres_server.resume).start()

    station = _Station()
    try:
        stats = run_batch(journal, _settings(records, tmp_path / "work"), station,
                          on_event=on_event)  # fmt: skip
    finally:
        if not _reachable(postgres_server.url):
            postgres_server.resume()
    assert restarted.is_set() and stats.verified == 4
    assert told and told[0][0] == 1 and told[-1] == (0, None)  # retried, then back
    batch = journal.batches()[0].batch
    cards = journal.cards(batch)
    assert all(r.state == "verified" for r in journal.records(batch))
    assert len({c.chip_serial for c in cards}) == len(cards)
    assert sum(1 for c in cards if c.state == "verified") == 4
    journal.close()


def _reachable(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


def test_a_journal_unreachable_past_the_timeout_stops_the_station_with_exit_4(
    postgres_server: Any, tmp_path: Path
) -> None:
    url = postgres_server.database("journal_gone")
    records = _write_records(tmp_path / "gone.csv", rows=1)
    journal = PostgresJournal(url, unreachable_timeout=3)
    postgres_server.pause()
    try:
        with pytest.raises(JournalUnavailableError, match="unreachable for 3 s") as raised:
            run_batch(journal, _settings(records, tmp_path / "work"), _Station())
    finally:
        postgres_server.resume()
    assert exit_code_for(raised.value) == 4
    journal.close()
