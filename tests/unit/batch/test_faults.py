"""Fault injection at every step boundary of the runner (issue 14 §1): a "kill -9" before and
after the journaled intent, the audit line, the card image, each journal transition, in the
middle of the image folder and of the card write, and after LOCK — then a resume, checking the
exactly-once invariants (conftest.check_invariants) and that a complete image is adopted, not
signed again."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from cardkit.batch import runner
from cardkit.batch.journal import SqliteJournal
from cardkit.batch.runner import BatchEvent, destroy_card_image, load_batch, run_batch
from cardkit.pki.audit import AuditLog
from cardkit.services.card_image import SEALED, CardImage


class CrashAt:
    """A journal that "dies" before or after the first call of one method."""

    def __init__(self, inner: SqliteJournal, method: str, after: bool, kit: Any) -> None:
        self.inner, self.method, self.after, self.kit = inner, method, after, kit
        self.fired = False

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.inner, name)
        if name != self.method:
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            if self.fired:
                return target(*args, **kwargs)
            self.fired = True
            if not self.after:
                raise self.kit.Crash
            target(*args, **kwargs)
            raise self.kit.Crash

        return call


class CrashingAudit:
    """The audit log, dying just before or just after appending its first line."""

    def __init__(self, log: AuditLog, after: bool, kit: Any) -> None:
        self.log, self.after, self.kit = log, after, kit
        self.fired = False

    def record_signature(self, **fields: Any) -> None:
        if not self.fired:
            self.fired = True
            if not self.after:
                raise self.kit.Crash
            self.log.record_signature(**fields)
            raise self.kit.Crash
        self.log.record_signature(**fields)


# boundary → (how to crash, what the resume must have done with the first image)
BOUNDARIES = {
    "before the intent": ("journal-before", "begin_image"),
    "after the intent": ("journal-after", "begin_image"),
    "before the audit line": ("audit-before", None),
    "after the audit line": ("audit-after", None),
    "in the middle of the image folder": ("image-mid", None),
    "after the image folder": ("image-after", None),
    "after prepared": ("journal-after", "mark_prepared"),
    "after the card is begun": ("journal-after", "begin_card"),
    "in the middle of the card write": ("apdu", None),
    "after LOCK (personalized)": ("journal-after", "mark_personalized"),
    "after verified": ("journal-after", "mark_verified"),
}


@pytest.mark.parametrize("boundary", sorted(BOUNDARIES))
def test_a_crash_at_every_step_boundary_then_resume_keeps_every_invariant(
    boundary: str,
    tmp_path: Path,
    kit: Any,
    make_settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kind, method = BOUNDARIES[boundary]
    records = kit.write_records(tmp_path / "faults.csv", rows=2, broken=1)
    audit = AuditLog(tmp_path / "keys" / "audit.jsonl")
    path = tmp_path / "journal.sqlite"
    station = kit.MemoryStation()
    settings = make_settings(records, audit=audit)
    crashing = make_settings(records, audit=CrashingAudit(audit, kind == "audit-after", kit))
    journal: Any = SqliteJournal(path)
    if kind.startswith("journal"):
        journal = CrashAt(journal, method or "", kind == "journal-after", kit)
    elif kind.startswith("audit"):
        settings = crashing
    elif kind == "apdu":
        station.crash = {0: 40}
    elif kind.startswith("image"):
        real = runner.write_card_image

        def write(image: CardImage, parent: Path) -> Path:
            if kind == "image-mid":  # what kill -9 leaves: a temporary folder, part written
                tmp = parent / f".{image.card_id}.crashed"
                tmp.mkdir(parents=True)
                (tmp / SEALED).write_bytes(image.sealed)
                raise kit.Crash
            written = real(image, parent)
            raise kit.Crash
            return written  # pragma: no cover

        monkeypatch.setattr(runner, "write_card_image", write)
    with pytest.raises(kit.Crash):
        run_batch(journal, settings, station)
    (journal.inner if isinstance(journal, CrashAt) else journal).close()
    monkeypatch.undo()
    station.crash = {}

    events: list[BatchEvent] = []
    resumed = SqliteJournal(path)
    stats = run_batch(resumed, make_settings(records, audit=audit), station, on_event=events.append)
    batch = load_batch(records, settings.profile, kit.TODAY)[0].batch
    kit.check_invariants(
        resumed, batch, cards_dirs=[settings.cards_dir], audit=audit.path, chips=station.cards
    )
    signatures = Counter(line["card_id"].split("-")[1] for line in kit.audit_lines(audit.path))
    first = f"{min(r.row for r in resumed.records(batch) if r.state != 'rejected'):05d}"
    if kind == "image-after":
        # The image was complete: adopted, so the document was signed exactly once.
        assert stats.adopted == 1 and stats.destroyed == 0
        assert signatures[first] == 1
        assert any("adopted" in e.detail for e in events if e.kind == "recovered")
    if kind in ("audit-after", "image-mid"):
        # Signed, but no complete image: destroyed securely, journaled, signed again.
        assert stats.destroyed == 1
        assert signatures[first] == 2
        (gone,) = [i for i in resumed.images(batch) if i.state == "destroyed"]
        assert gone.reason and "interrupted" in gone.reason
    if kind in ("journal-before", "audit-before") or method == "begin_image":
        assert signatures[first] == 1  # no signature was made before the crash
    if method in ("begin_card", "mark_personalized") or kind == "apdu":
        assert stats.spoiled == 1  # the card found mid-write or unverified is spoiled
    resumed.close()


def test_a_destroyed_image_leaves_no_secret_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cards = tmp_path / "cards"
    (cards / "b-00002").mkdir(parents=True)
    (cards / "b-00002" / SEALED).write_bytes(b"secret" * 10)
    (cards / "b-00002" / "EF.SOD.bin").write_bytes(b"sod")
    (cards / ".b-00002.x1y2").mkdir()
    (cards / ".b-00002.x1y2" / SEALED).write_bytes(b"secret")
    (cards / "b-00002-1").mkdir()  # another image of the same record: untouched
    seen: list[bytes] = []
    unlink = Path.unlink

    def spy(self: Path, missing_ok: bool = False) -> None:
        seen.append(self.read_bytes())  # what is left in the file when it is unlinked
        unlink(self, missing_ok)

    monkeypatch.setattr(Path, "unlink", spy)
    assert destroy_card_image(cards, "b-00002")
    assert sorted(p.name for p in cards.iterdir()) == ["b-00002-1"]
    assert len(seen) == 2 and all(b"secret" not in data for data in seen)  # overwritten first
    assert not destroy_card_image(cards, "b-00002")


def test_an_image_whose_record_was_handed_over_is_destroyed_not_adopted(
    tmp_path: Path, kit: Any, make_settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Crash after the image folder; the records go to another station (release) before this
    one comes back: its image is complete but no longer wanted, so it is destroyed."""
    records = kit.write_records(tmp_path / "gone.csv", rows=1)
    path = tmp_path / "journal.sqlite"
    real = runner.write_card_image

    def write(image: CardImage, parent: Path) -> Path:
        real(image, parent)
        raise kit.Crash

    monkeypatch.setattr(runner, "write_card_image", write)
    a = make_settings(records, station="a", workdir=tmp_path / "a")
    with pytest.raises(kit.Crash):
        run_batch(SqliteJournal(path), a, kit.MemoryStation())
    monkeypatch.undo()
    journal = SqliteJournal(path)
    batch = load_batch(records, a.profile, kit.TODAY)[0].batch
    assert journal.release(batch, "a", force=True)
    b_station = kit.MemoryStation()
    run_batch(journal, make_settings(records, station="b", workdir=tmp_path / "b"), b_station)
    stats = run_batch(journal, a, kit.MemoryStation())  # a comes back: nothing left for it
    assert stats.destroyed == 1 and stats.adopted == 0 and stats.verified == 0
    assert not any((tmp_path / "a" / "cards").iterdir())
    kit.check_invariants(
        journal,
        batch,
        cards_dirs=[tmp_path / "a" / "cards", tmp_path / "b" / "cards"],
        audit=None,
        chips=b_station.cards,
    )


def test_signing_time_is_not_needed_to_match_an_adopted_image(
    tmp_path: Path, kit: Any, make_settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An adopted image keeps the EF.SOD signed before the crash (the resume's clock may say
    another time): the chip receives exactly the audited signature."""
    records = kit.write_records(tmp_path / "time.csv", rows=1)
    audit = AuditLog(tmp_path / "audit.jsonl")
    path = tmp_path / "journal.sqlite"
    real = runner.write_card_image

    def write(image: CardImage, parent: Path) -> Path:
        real(image, parent)
        raise kit.Crash

    monkeypatch.setattr(runner, "write_card_image", write)
    with pytest.raises(kit.Crash):
        run_batch(SqliteJournal(path), make_settings(records, audit=audit), kit.MemoryStation())
    monkeypatch.undo()
    later = make_settings(records, audit=audit, clock=lambda: datetime(2027, 1, 1, tzinfo=kit.UTC))
    station = kit.MemoryStation()
    journal = SqliteJournal(path)
    run_batch(journal, later, station)
    batch = load_batch(records, later.profile, kit.TODAY)[0].batch
    kit.check_invariants(journal, batch, cards_dirs=[later.cards_dir], audit=audit.path,
                         chips=station.cards)  # fmt: skip
    assert len(kit.audit_lines(audit.path)) == 1
