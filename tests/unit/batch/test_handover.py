"""Station hand-over (issue 14 §2) and races that are refusals (§3): leases, their expiry, a
station that waits instead of finishing while another holds records, ``batch release``, and
two stations offered the same chip."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cardkit.batch.journal import (
    BatchInfo,
    ChipUsedError,
    NewRecord,
    SqliteJournal,
    StationBusyError,
)
from cardkit.batch.runner import BatchEvent, load_batch, run_batch
from cardkit.cli.batch import batch as batch_group

INFO = BatchInfo("b-1", "b.csv", "00" * 32, "vn-cccd-2021", 2)
RECORDS = [
    NewRecord(2, "b-00002", "pending", document_number="093047064"),
    NewRecord(3, "b-00003", "pending", document_number="155502526"),
]


def prepared(j: SqliteJournal, station: str) -> int:
    rec = j.claim("b-1", station)
    assert rec is not None
    assert j.begin_image("b-1", rec.row, station, rec.card_id)
    j.mark_prepared("b-1", rec.row, station, image_id=rec.card_id, sod_digest="ab", dsc_serial="1")
    return rec.row


def test_a_crashed_station_is_waited_for_then_taken_over_after_its_lease(
    tmp_path: Path, kit: Any, make_settings: Any
) -> None:
    records = kit.write_records(tmp_path / "lease.csv", rows=3)
    path = tmp_path / "journal.sqlite"
    a_station = kit.MemoryStation(crash={0: 40})  # a dies writing its first card
    a = make_settings(records, station="a", workdir=tmp_path / "a", lease_seconds=1.0)
    with pytest.raises(kit.Crash):
        run_batch(SqliteJournal(path), a, a_station)
    events: list[BatchEvent] = []
    b_station = kit.MemoryStation(next_serial=1000)
    b = make_settings(records, station="b", workdir=tmp_path / "b", wait_poll=0.05)
    journal = SqliteJournal(path)
    stats = run_batch(journal, b, b_station, on_event=events.append)
    batch = load_batch(records, b.profile, kit.TODAY)[0].batch
    held = [e.detail for e in events if e.kind == "held"]
    assert len(held) == 1 and "station a holds 1 record(s)" in held[0]  # told once
    assert "cardkit batch release --station" in held[0]
    handed = [e.detail for e in events if e.kind == "handover"]
    assert any("card 1 spoiled" in h and "lease of station a expired" in h for h in handed)
    assert stats.verified == 3 and not stats.incomplete
    (spoiled,) = [c for c in journal.cards(batch) if c.state == "spoiled"]
    assert spoiled.station == "a" and "put chip" in (spoiled.reason or "")
    kit.check_invariants(
        journal, batch, cards_dirs=[a.cards_dir, b.cards_dir], audit=None,
        chips=a_station.cards + b_station.cards,
    )  # fmt: skip
    # a comes back: its image of the spoiled card stays (the journal names it), nothing to do.
    again = run_batch(journal, a, kit.MemoryStation(next_serial=2000))
    assert again.verified == 0 and again.destroyed == 0


def test_a_prepared_record_of_a_stopped_station_is_released_and_its_image_destroyed_later(
    tmp_path: Path, kit: Any, make_settings: Any
) -> None:
    records = kit.write_records(tmp_path / "rel.csv", rows=2)
    path = tmp_path / "journal.sqlite"
    a = make_settings(records, station="a", workdir=tmp_path / "a")
    stop = threading.Event()

    def on_event(event: BatchEvent) -> None:
        if event.kind == "prepared":
            raise kit.Crash  # a dies holding a prepared record (its image on its disk)

    with pytest.raises(kit.Crash):
        run_batch(SqliteJournal(path), a, kit.MemoryStation(), stop=stop, on_event=on_event)
    journal = SqliteJournal(path)
    batch = load_batch(records, a.profile, kit.TODAY)[0].batch
    with pytest.raises(StationBusyError, match="live lease"):
        journal.release(batch, "a")  # its lease (120 s) still runs
    lines = journal.release(batch, "a", force=True)
    assert lines == ["1 record(s) of station a handed back: station a was released"]
    (image,) = journal.images(batch)
    assert image.state == "released"
    b_station = kit.MemoryStation(next_serial=1000)
    b = make_settings(records, station="b", workdir=tmp_path / "b")
    assert run_batch(journal, b, b_station).verified == 2
    stats = run_batch(journal, a, kit.MemoryStation(next_serial=2000))
    assert stats.destroyed == 1 and not any(a.cards_dir.iterdir())
    kit.check_invariants(
        journal, batch, cards_dirs=[a.cards_dir, b.cards_dir], audit=None, chips=b_station.cards
    )


def test_leases_heartbeats_and_a_station_id_that_runs_elsewhere(tmp_path: Path) -> None:
    journal = SqliteJournal(tmp_path / "j.sqlite")
    journal.load(INFO, RECORDS)
    journal.register_station("b-1", "s1", lease_seconds=60)
    assert journal.heartbeat("b-1", "s1", "record 2 (prepared)")
    (lease,) = journal.stations("b-1")
    assert lease.holding == "record 2 (prepared)" and lease.pid > 0 and lease.stopped_at is None
    # Another host runs s1 (a live lease): refused.
    with journal._transaction() as cur:
        cur.execute("UPDATE stations SET host = 'elsewhere'")
    with pytest.raises(StationBusyError, match="running on elsewhere"):
        journal.register_station("b-1", "s1", lease_seconds=60)
    assert not journal.heartbeat("b-1", "s1")  # not this process's lease any more
    journal.end_lease("b-1", "s1")
    assert journal.take_over("b-1", "s2") == []  # nothing held


def test_a_released_live_station_stops(tmp_path: Path, kit: Any, make_settings: Any) -> None:
    records = kit.write_records(tmp_path / "lost.csv", rows=3)
    path = tmp_path / "journal.sqlite"
    settings = make_settings(records, station="a", lease_seconds=0.2)
    batch = load_batch(records, settings.profile, kit.TODAY)[0].batch
    released = threading.Event()

    def on_event(event: BatchEvent) -> None:
        if event.kind == "verified" and not released.is_set():
            released.set()
            other = SqliteJournal(path)
            other.release(batch, "a", force=True)
            other.close()
            threading.Event().wait(0.3)  # the heartbeat notices

    stats = run_batch(SqliteJournal(path), settings, kit.MemoryStation(), on_event=on_event)
    assert stats.lease_lost and stats.stopped and stats.verified == 1


def test_a_chip_used_anywhere_is_refused_in_the_same_transaction(tmp_path: Path) -> None:
    journal = SqliteJournal(tmp_path / "j.sqlite")
    journal.load(INFO, RECORDS)
    other = SqliteJournal(tmp_path / "j.sqlite")
    row1, row2 = prepared(journal, "s1"), prepared(other, "s2")
    journal.begin_card("b-1", row1, "s1", "CHIP-X")
    with pytest.raises(ChipUsedError, match="chip CHIP-X was written before: put it aside"):
        other.begin_card("b-1", row2, "s2", "CHIP-X")
    (rec,) = [r for r in other.records("b-1") if r.row == row2]
    assert rec.state == "prepared" and rec.attempts == 0  # not stuck: the next chip will do


def test_a_unique_violation_in_the_race_window_is_a_refusal_too(tmp_path: Path) -> None:
    """The check passed but another station inserted the chip first: the unique index refuses
    the row, and that is the same refusal, not a `duplicate key` crash."""

    class Blind(SqliteJournal):
        def _exec(self, cursor: Any, text: str, params: Any = ()) -> Any:
            if text.startswith("SELECT 1 FROM cards WHERE chip_serial"):
                text, params = "SELECT 1 WHERE 0", ()  # as if the other insert came after it
            return super()._exec(cursor, text, params)

    journal = SqliteJournal(tmp_path / "j.sqlite")
    journal.load(INFO, RECORDS)
    blind = Blind(tmp_path / "j.sqlite")
    row1, row2 = prepared(journal, "s1"), prepared(blind, "s2")
    journal.begin_card("b-1", row1, "s1", "CHIP-X")
    with pytest.raises(ChipUsedError):
        blind.begin_card("b-1", row2, "s2", "CHIP-X")
    assert [r.state for r in blind.records("b-1")] == ["personalizing", "prepared"]


def test_two_stations_offered_the_same_chips_write_each_chip_once(
    tmp_path: Path, kit: Any, make_settings: Any
) -> None:
    records = kit.write_records(tmp_path / "same.csv", rows=6)
    path = tmp_path / "journal.sqlite"
    # Both feeders start at serial 1: every chip is offered to both stations.
    stations = {name: kit.MemoryStation() for name in ("a", "b")}
    errors: list[BaseException] = []
    results: dict[str, Any] = {}

    def work(name: str) -> None:
        journal = SqliteJournal(path)
        try:
            results[name] = run_batch(
                journal,
                make_settings(records, station=name, workdir=tmp_path / name, wait_poll=0.05),
                stations[name],
            )
        except BaseException as exc:
            errors.append(exc)
        finally:
            journal.close()

    threads = [threading.Thread(target=work, args=(n,)) for n in stations]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    journal = SqliteJournal(path)
    batch = load_batch(records, make_settings(records).profile, kit.TODAY)[0].batch
    assert journal.counts(batch)["verified"] == 6
    assert sum(r.refused for r in results.values()) >= 1
    # Chips with the same serial are different cards here; check each station's own chips.
    for name, station in stations.items():
        mine = {c.chip_serial for c in journal.cards(batch) if c.station == name}
        for serial, card in station.cards:
            if card._state.files:
                assert f"4790-D321-0001-{serial:08X}" in mine


def test_batch_release_and_status_on_the_command_line(tmp_path: Path) -> None:
    journal = SqliteJournal(tmp_path / "journal.sqlite")
    journal.load(INFO, RECORDS)
    journal.register_station("b-1", "s1", lease_seconds=60)
    row = prepared(journal, "s1")
    journal.begin_card("b-1", row, "s1", "CHIP-7")
    journal.close()
    cli = CliRunner()
    status = cli.invoke(batch_group, ["status", "--workdir", str(tmp_path)])
    assert status.exit_code == 0, status.output
    assert "station s1: 1 personalizing" in status.output and "last heartbeat" in status.output
    refused = cli.invoke(batch_group, ["release", "--station", "s1", "--workdir", str(tmp_path)])
    assert refused.exit_code != 0 and "live lease" in str(refused.exception or refused.output)
    done = cli.invoke(
        batch_group, ["release", "--station", "s1", "--workdir", str(tmp_path), "--force"]
    )
    assert done.exit_code == 0, done.output
    assert "put chip CHIP-7 aside" in done.output and "1 record(s) of station s1" in done.output
    after = cli.invoke(batch_group, ["status", "--workdir", str(tmp_path), "--json"])
    assert '"stopped": "' in after.output and '"live": false' in after.output
