"""The batch state machine on in-process emulated cards: exactly-once issuance, spoiled cards,
refused cards, crashes at every kind of point, Ctrl-C, printing."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cardkit.batch.journal import Journal, SqliteJournal
from cardkit.batch.runner import BatchEvent, load_batch, read_chip_serial, run_batch
from cardkit.emulator.card import EmulatedCard, EmulatorConnection
from cardkit.lds import files


def card_sod(card: EmulatedCard) -> bytes | None:
    state = card._state  # the test looks inside the chip, as a card inspector would
    data = state.files.get(files.SOD.fid)
    return bytes(data) if data else None


def check_exactly_once(journal: Journal, batch: str, cards: list[tuple[int, EmulatedCard]]) -> None:
    """Every valid record issued on exactly one locked chip holding its journaled EF.SOD; every
    other chip with anything on it is a spoiled card of the journal; no chip used twice."""
    records = journal.records(batch)
    journal_cards = journal.cards(batch)
    serial_of = {f"4790-D321-0001-{s:08X}": (s, card) for s, card in cards}
    serials = [c.chip_serial for c in journal_cards]
    assert len(serials) == len(set(serials)), "a chip was written twice"
    for rec in records:
        if rec.state == "rejected":
            assert not [c for c in journal_cards if c.row == rec.row]
            continue
        assert rec.state == "verified", rec
        live = [c for c in journal_cards if c.row == rec.row and c.state != "spoiled"]
        assert len(live) == 1 and live[0].state == "verified"
        _, chip = serial_of[live[0].chip_serial or ""]
        assert chip.life_cycle == "locked"
        sod = card_sod(chip)
        assert sod is not None and hashlib.sha256(sod).hexdigest() == rec.sod_digest
    accounted = {c.chip_serial for c in journal_cards}
    for serial, card in cards:
        used = bool(card._state.files) or card.life_cycle == "locked"
        if used:
            assert f"4790-D321-0001-{serial:08X}" in accounted, f"chip {serial} is not journaled"


def test_a_batch_issues_every_valid_record_once_and_rejects_the_bad(
    tmp_path: Path, kit: Any, make_settings: Any
) -> None:
    records = kit.write_records(tmp_path / "mixed.csv", rows=3, broken=4)
    settings = make_settings(records)
    journal = SqliteJournal(tmp_path / "work" / "journal.sqlite")
    station = kit.MemoryStation()
    events: list[BatchEvent] = []
    stats = run_batch(journal, settings, station, on_event=events.append)
    info, _, valid = load_batch(records, settings.profile, kit.TODAY)
    counts = journal.counts(info.batch)
    assert counts["verified"] == 3 and counts["rejected"] == 4 and counts["spoiled"] == 0
    assert stats.verified == 3 and not stats.stopped
    check_exactly_once(journal, info.batch, station.cards)
    for rec in journal.records(info.batch):
        if rec.state == "rejected":
            assert rec.reason and "[" in rec.reason  # field, message and rule code
            assert rec.document_number is None
        else:
            assert rec.document_number == valid[rec.row].document_number
            assert rec.dsc_serial == format(settings.issuer.dsc_certificate.serial_number, "X")
            assert rec.chip_serial and rec.station == "st-1" and rec.verified_at
    assert events[-1].kind == "done" and events[-1].counts["verified"] == 3
    # Running again does nothing more: nothing is redone.
    again = run_batch(journal, settings, kit.MemoryStation())
    assert again.verified == 0 and again.prepared == 0


def test_a_torn_card_is_spoiled_and_the_record_goes_to_the_next_card(
    tmp_path: Path, kit: Any, make_settings: Any
) -> None:
    records = kit.write_records(tmp_path / "torn.csv", rows=2)
    settings = make_settings(records)
    journal = SqliteJournal(tmp_path / "j.sqlite")
    station = kit.MemoryStation(tear={0: 20})  # the first card leaves after 20 APDUs
    stats = run_batch(journal, settings, station)
    batch = load_batch(records, settings.profile, kit.TODAY)[0].batch
    spoiled = [c for c in journal.cards(batch) if c.state == "spoiled"]
    assert stats.spoiled == 1 and len(spoiled) == 1
    assert spoiled[0].reason and spoiled[0].reason.startswith(
        "not locked (rewritable): torn at step"
    )
    assert journal.counts(batch)["verified"] == 2
    check_exactly_once(journal, batch, station.cards)
    first = next(r for r in journal.records(batch) if r.row == spoiled[0].row)
    assert first.attempts == 2 and first.image_id != first.card_id  # prepared again


def test_a_used_chip_or_a_non_blank_card_is_refused_without_writing(
    tmp_path: Path, kit: Any, make_settings: Any
) -> None:
    records = kit.write_records(tmp_path / "refuse.csv", rows=2)
    settings = make_settings(records)
    journal = SqliteJournal(tmp_path / "j.sqlite")
    station = kit.MemoryStation(offer_used={1})  # the first (issued) card comes back once
    stats = run_batch(journal, settings, station)
    batch = load_batch(records, settings.profile, kit.TODAY)[0].batch
    assert stats.refused == 1 and stats.verified == 2
    check_exactly_once(journal, batch, station.cards)


def test_a_card_without_a_serial_that_is_not_blank_is_refused(
    tmp_path: Path, kit: Any, make_settings: Any
) -> None:
    records = kit.write_records(tmp_path / "blank.csv", rows=1)
    settings = make_settings(records)
    journal = SqliteJournal(tmp_path / "j.sqlite")
    used = EmulatedCard()
    run_batch(journal, settings, _OneCardStation([used]))  # issue row 1 on it
    other = kit.write_records(tmp_path / "blank2.csv", rows=2)
    journal2 = SqliteJournal(tmp_path / "j2.sqlite")
    station = _OneCardStation([used, EmulatedCard(), EmulatedCard()])
    stats = run_batch(journal2, make_settings(other, workdir=tmp_path / "w2"), station)
    assert stats.refused == 1 and stats.verified == 2


class _OneCardStation:
    """Cards without a CPLC (the emulator as is): serial unknown."""

    def __init__(self, cards: list[EmulatedCard]) -> None:
        self.cards = cards

    @property
    def name(self) -> str:
        return "plain"

    def wait_for_card(self, stop: threading.Event) -> EmulatorConnection | None:
        return EmulatorConnection(self.cards.pop(0)) if self.cards and not stop.is_set() else None

    def release(self, connection: object) -> None:
        pass


def test_read_chip_serial_from_cplc_or_none(kit: Any) -> None:
    conn = kit.MemoryConnection(EmulatedCard(), 0x2A, None, None)
    assert read_chip_serial(conn) == "4790-D321-0001-0000002A"
    assert read_chip_serial(EmulatorConnection(EmulatedCard())) is None


class _CrashingJournal:
    """Forwards to a journal; raises Crash before (or after) its n-th state-changing call."""

    CHANGING = frozenset({
        "load", "recover", "claim", "mark_prepared", "begin_card", "mark_personalized",
        "mark_verified", "spoil", "abandon_card", "mark_printed", "reset_prepared",
    })  # fmt: skip

    def __init__(self, inner: Journal, crash_at: int, after: bool, kit: Any) -> None:
        self.inner, self.crash_at, self.after, self.kit = inner, crash_at, after, kit
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.inner, name)
        if name not in self.CHANGING:
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            if self.calls == self.crash_at and not self.after:
                raise self.kit.Crash
            result = target(*args, **kwargs)
            if self.calls == self.crash_at and self.after:
                raise self.kit.Crash
            return result

        return call


@settings(max_examples=12, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    crashes=st.lists(
        st.tuples(st.sampled_from(["journal-before", "journal-after", "apdu"]),
                  st.integers(1, 40)),
        min_size=1, max_size=4,
    )
)  # fmt: skip
def test_crashes_anywhere_then_resume_issue_every_card_exactly_once(
    tmp_path_factory: pytest.TempPathFactory, kit: Any, make_settings: Any, crashes: list[Any]
) -> None:
    folder = tmp_path_factory.mktemp("crash")
    records = kit.write_records(folder / "crash.csv", rows=2, broken=1)
    settings = make_settings(records, workdir=folder / "work")
    path = folder / "journal.sqlite"
    station = kit.MemoryStation()
    for kind, n in crashes:
        journal: Any = SqliteJournal(path)
        if kind == "apdu":
            station.crash = {station.handed: n * 8}
        else:
            journal = _CrashingJournal(journal, n, kind == "journal-after", kit)
        try:
            run_batch(journal, settings, station)
        except kit.Crash:
            pass
        finally:
            station.crash = {}
            (journal.inner if isinstance(journal, _CrashingJournal) else journal).close()
    journal = SqliteJournal(path)
    run_batch(journal, settings, station)
    batch = load_batch(records, settings.profile, kit.TODAY)[0].batch
    counts = journal.counts(batch)
    assert counts["verified"] == 2 and counts["rejected"] == 1
    check_exactly_once(journal, batch, station.cards)


def test_stop_finishes_the_current_card_and_returns(
    tmp_path: Path, kit: Any, make_settings: Any
) -> None:
    records = kit.write_records(tmp_path / "stop.csv", rows=3)
    settings = make_settings(records)
    journal = SqliteJournal(tmp_path / "j.sqlite")
    stop = threading.Event()

    def on_event(event: BatchEvent) -> None:
        if event.kind == "card":  # Ctrl-C while the first card is being written
            stop.set()

    station = kit.MemoryStation()
    stats = run_batch(journal, settings, station, stop=stop, on_event=on_event)
    batch = load_batch(records, settings.profile, kit.TODAY)[0].batch
    assert stats.stopped and stats.verified == 1
    assert journal.counts(batch)["verified"] == 1
    stats = run_batch(journal, settings, station)  # resume
    assert stats.verified == 2
    check_exactly_once(journal, batch, station.cards)


def test_printing_is_the_last_state_and_is_redone_after_a_crash(
    tmp_path: Path, kit: Any, make_settings: Any
) -> None:
    printed: list[str] = []

    def printer(record: Any, image: Any, profile: Any, out_dir: Path) -> list[Path]:
        if not printed:
            printed.append("crash")
            raise kit.Crash
        target = out_dir / "front.png"
        target.write_bytes(b"png")
        printed.append(image.card_id)
        return [target]

    records = kit.write_records(tmp_path / "print.csv", rows=1)
    settings = make_settings(records, printer=printer)
    journal = SqliteJournal(tmp_path / "j.sqlite")
    station = kit.MemoryStation()
    with pytest.raises(kit.Crash):
        run_batch(journal, settings, station)
    batch = load_batch(records, settings.profile, kit.TODAY)[0].batch
    assert journal.counts(batch)["verified"] == 1
    run_batch(journal, settings, station)
    (rec,) = journal.records(batch)
    assert rec.state == "printed" and rec.outputs and rec.outputs.endswith("front.png")
    assert len(station.cards) == 1  # the card was not written again to print it


def test_several_stations_on_one_sqlite_journal_never_share_a_record(
    tmp_path: Path, kit: Any, make_settings: Any
) -> None:
    records = kit.write_records(tmp_path / "multi.csv", rows=6)
    path = tmp_path / "j.sqlite"
    stations = {name: kit.MemoryStation(next_serial=1000 * (i + 1)) for i, name in
                enumerate(("a", "b", "c"))}  # fmt: skip
    errors: list[BaseException] = []

    def work(name: str) -> None:
        journal = SqliteJournal(path)
        try:
            run_batch(journal, make_settings(records, station=name), stations[name])
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
    all_cards = [c for s in stations.values() for c in s.cards]
    by_row: dict[int, set[str]] = {}
    for card in journal.cards(batch):
        by_row.setdefault(card.row, set()).add(card.station)
    assert all(len(s) == 1 for s in by_row.values()) and len(by_row) == 6
    assert {r.station for r in journal.records(batch)} <= set(stations)
    serial_cards = [(s, c) for s, c in all_cards]
    check_exactly_once(journal, batch, serial_cards)
