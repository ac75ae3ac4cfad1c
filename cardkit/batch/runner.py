"""The batch state machine: every record through prepare → personalize → verify → print, once.

One station runs :func:`run_batch`: it loads the records into the journal (invalid ones become
``rejected`` with their reasons), takes its lease, recovers its own unfinished work, then claims
records one at a time and drives each through its states, committing every transition to the
journal (:mod:`cardkit.batch.journal`) *before* the next step starts::

    pending ──prepare──► prepared ──begin card──► personalizing ──lock──► personalized
       ▲                                              │                       │ read-back ok
       └────────── card spoiled (torn, refused, read-back failed) ◄──────────┘
                                                                      verified ──print──► printed

**Preparing signs once** (issue 14 §1). The image id is journaled first (``begin_image``,
flushed), then the EF.SOD is signed and the signature appended to the audit log (which names
the image id), then the image folder is written (atomically), then the record is marked
prepared. A crash anywhere in between leaves a ``signing`` image in the journal, so every audit
signature maps to a journal image by construction; on restart the station adopts the image when
its folder is complete and matches (one signature for the document, nothing redone) and
otherwise destroys whatever is there (the sealed secrets overwritten before they are unlinked)
and journals which it did. The audit line comes before the folder, so an adopted image was
always audited.

**Resume rules** (after a crash, kill -9 or power cut, on restart with the same station id):

- a card found ``personalizing`` or ``personalized`` (not yet verified) is *spoiled*: it may hold
  part of the image, or a complete card whose read-back nobody saw. Its chip serial stays in the
  journal, so the card is never written again; the record goes back to ``pending`` and is
  prepared again (fresh chip keys, new EF.SOD) for the next blank card;
- a ``signing`` image is adopted or destroyed (above); a ``released`` one (its record was handed
  to another station meanwhile) is destroyed;
- a ``prepared`` record keeps its card image when the image folder is intact, else the folder is
  destroyed and the record prepared again;
- a ``verified`` record is printed (printing is idempotent: the files are rewritten).

**Hand-over** (issue 14 §2). A station holds a lease in the journal, renewed by a heartbeat
thread every quarter of its length. When nothing is left to claim, a station takes over the
unfinished records of any station whose lease expired or that stopped (its unverified cards are
spoiled first); while another station with a live lease still holds records it waits, saying
once what it waits for and how to release it (``cardkit batch release``), instead of finishing
while the batch is not done. A station that finds one of its records handed over (its lease had
expired, or ``release --force``) drops it; a station whose lease was taken stops.

**Cards.** A :class:`Station` hands out cards: :class:`PcscStation` waits for a card in a PC/SC
reader, and after each card waits for it to be *removed* before taking the next one (an operator
or a card feeder swaps it). Before anything is written the runner reads the chip's serial
(GlobalPlatform CPLC, GET DATA 9F7F, when the card answers it); the journal refuses a chip it
has seen before in the same transaction that records the new card (two stations offered the
same chip: one writes it, the other is told to put it aside);
:func:`~cardkit.services.personalize.personalize` refuses a card that is not blank. A refused
card is left alone (nothing written, nothing journaled) and the station waits for the next one.

**Stopping.** Setting ``stop`` (the CLI does on Ctrl-C / SIGTERM) lets the current card finish
(written, verified, printed and journaled), then the runner returns and ends its lease.

Nothing personal is logged or put into events: cards are named by their card id (records file
name and row).
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Literal, ParamSpec, Protocol, TypeVar

from cardkit.applet.dialect import UnsupportedImageError, WrongAppletError
from cardkit.applet.writer import AlreadyPersonalizedError, AppletLockedError
from cardkit.batch.journal import (
    DONE_STATES,
    UNFINISHED_STATES,
    BatchInfo,
    ChipUsedError,
    HandedOverError,
    ImageRow,
    Journal,
    JournalError,
    NewRecord,
    RecordRow,
    RecordState,
)
from cardkit.errors import CardError, CardkitError, TransportError
from cardkit.iso7816.apdu import Command
from cardkit.iso7816.connection import Connection
from cardkit.pki.audit import AuditLog
from cardkit.pki.keystore.transport import TransportKey
from cardkit.pki.trust import TrustStore
from cardkit.profile import Profile
from cardkit.records import CitizenRecord, load_records, validate_all
from cardkit.services.card_image import (
    SEALED,
    CardImage,
    CardImageError,
    ChipSecrets,
    read_card_image,
    write_card_image,
)
from cardkit.services.personalize import READ_BACK_STEP, TornCardError, personalize
from cardkit.services.prepare import Issuer, card_id_for, prepare_card

__all__ = [
    "BatchEvent",
    "BatchSettings",
    "PcscStation",
    "Printer",
    "RunStats",
    "Station",
    "batch_id_for",
    "destroy_card_image",
    "load_batch",
    "read_chip_serial",
    "run_batch",
]

_P = ParamSpec("_P")
_T = TypeVar("_T")

EventKind = Literal[
    "loaded", "rejected", "recovered", "prepared", "card", "refused", "personalized",
    "verified", "spoiled", "printed", "waiting", "remove", "notice", "handover", "held",
    "stopped", "done",
]  # fmt: skip
#: Personalization phases before LOCK (cardkit.services.personalize): a card torn there is not
#: locked and can be written again; from ``lock`` on it may be locked with the holder's data.
UNLOCKED_PHASES = ("check", "files", "secrets", "verify")
#: How a spoiled card's journal reason starts (cardkit.batch.report keys on these).
LOCKED_PREFIX = "locked (destroy): "
UNLOCKED_PREFIX = "not locked (rewritable): "
#: What the operator is told to do with a spoiled chip, by its journal reason's prefix.
DESTROY_IT = "destroy it"
REWRITE_IT = "not locked: it can be written again with cardkit personalize --rewrite"
#: Counts per state are read again at most this often for events (seconds): at 100,000
#: records a count costs milliseconds, and a card produces several events (issue 14 §6).
COUNTS_INTERVAL = 1.0
#: A station's lease, by default (seconds): ``batch run --lease``.
DEFAULT_LEASE = 120.0


_Next = Literal["verified", "pending", "prepared"]


@dataclass(frozen=True)
class BatchEvent:
    """What the runner just did, for progress displays. ``detail`` never holds personal data
    nor secrets; for the kinds the operator acts on it is the sentence to show them:

    - ``rejected``: the record's problems (``date_of_birth: … [rule]``);
    - ``waiting``: "place a blank card on R" (once per wait); ``remove``: "remove the card
      from R" (a card is done and the reader still holds it);
    - ``spoiled``: what happened and what to do with the chip ("… — put it aside: chip X is
      spoiled (destroy it)"); ``refused``: why the card was not used (and "put it aside"
      when it must not be offered again);
    - ``notice``: the reader or pcscd needs the operator ("pcscd is not running: start it
      with …"), from the station.
    """

    kind: EventKind
    row: int | None = None
    card_id: str | None = None
    detail: str = ""
    counts: dict[str, int] = field(default_factory=dict)


class Printer(Protocol):
    """Renders one issued card's face into ``out_dir``; returns the files written. Must be
    idempotent (a resumed batch may print a verified card again)."""

    def __call__(
        self, record: CitizenRecord, image: CardImage, profile: Profile, out_dir: Path
    ) -> Sequence[Path]: ...


class Station(Protocol):
    """Where blank cards come from."""

    @property
    def name(self) -> str: ...

    def wait_for_card(self, stop: threading.Event) -> Connection | None:
        """The next card, connected (None when ``stop`` was set while waiting)."""
        ...

    def release(self, connection: Connection) -> None:
        """Done with this card (disconnect); the next :meth:`wait_for_card` waits for it to
        be removed first. A station may also have ``holds_card() -> bool`` (the reader still
        holds a card): the runner then tells the operator to remove it."""
        ...


class PcscStation:
    """A PC/SC reader: a card is taken when present and not used by another application, and
    after each card the station waits until it has left the reader (pcscd polls ~400 ms).

    ``on_notice`` is told, once each time it starts and once when it is over, when pcscd does
    not answer ("pcscd is not running: start it with …") or the reader is not connected: the
    station keeps waiting meanwhile."""

    def __init__(
        self,
        reader: str,
        *,
        poll: float = 0.05,
        on_notice: Callable[[str], None] | None = None,
    ) -> None:
        self.reader = reader
        self.poll = poll
        self.on_notice = on_notice
        self._must_leave = False
        self._trouble: str | None = None

    @property
    def name(self) -> str:
        return self.reader

    def _tell(self, trouble: str | None) -> None:
        if trouble == self._trouble:
            return
        before, self._trouble = self._trouble, trouble
        if self.on_notice is None:
            return
        if trouble is not None:
            self.on_notice(f"{trouble}; waiting")
        elif before is not None:
            self.on_notice(f"reader {self.reader} answers again: going on")

    def _status(self) -> tuple[bool, bool]:
        from cardkit.transport.pcsc import reader_statuses

        try:
            for status in reader_statuses():
                if status.name == self.reader:
                    self._tell(None)
                    return status.card_present, status.in_use
        except TransportError as exc:
            self._tell(str(exc))  # "pcscd is not running: start it with …"
            return False, False
        self._tell(f"reader {self.reader} is not connected: plug it in (cardkit readers)")
        return False, False

    def holds_card(self) -> bool:
        """A card is in the reader (the one just released, until the operator takes it)."""
        return self._status()[0]

    def wait_for_card(self, stop: threading.Event) -> Connection | None:
        from cardkit.transport.pcsc import open_reader

        while self._must_leave:
            if stop.is_set():
                return None
            present, _ = self._status()
            if not present:
                self._must_leave = False
                break
            stop.wait(self.poll)
        while not stop.is_set():
            present, in_use = self._status()
            if present and not in_use:
                try:
                    connection = open_reader(self.reader, timeout=0)
                except TransportError:
                    stop.wait(self.poll)
                    continue
                self._must_leave = True
                return connection
            stop.wait(self.poll)
        return None

    def release(self, connection: Connection) -> None:
        close = getattr(connection, "close", None)
        if callable(close):
            with contextlib.suppress(TransportError):
                close()


@dataclass(frozen=True)
class BatchSettings:
    """Everything a station needs besides the journal and its cards."""

    records_file: Path
    profile: Profile
    issuer: Issuer
    transport: TransportKey  # unseals the chip secrets of the card images
    workdir: Path  # card images in workdir/cards, printed faces in workdir/printed
    station: str
    today: date
    clock: Callable[[], datetime]
    trust: TrustStore | None = None
    audit: AuditLog | None = None
    printer: Printer | None = None
    #: The CVCA certificate every chip gets as its EAC trust point (profiles with TA).
    cvca_certificate: bytes | None = None
    #: Seconds after its last heartbeat that another station may take this one's records.
    lease_seconds: float = DEFAULT_LEASE
    #: Seconds between two looks at the journal while waiting for other stations.
    wait_poll: float = 1.0

    def __post_init__(self) -> None:
        if not self.station or len(self.station) > 200:
            raise ValueError("a station id is 1..200 characters")
        if self.lease_seconds <= 0 or self.wait_poll <= 0:
            raise ValueError("the lease and the poll interval are positive")

    @property
    def cards_dir(self) -> Path:
        return self.workdir / "cards"

    @property
    def printed_dir(self) -> Path:
        return self.workdir / "printed"


@dataclass
class RunStats:
    """Figures of one :func:`run_batch` call (this station only)."""

    verified: int = 0
    printed: int = 0
    spoiled: int = 0
    refused: int = 0
    prepared: int = 0
    adopted: int = 0  # card images found complete after a crash and used
    destroyed: int = 0  # card images securely deleted (incomplete, or handed over)
    handed_over: int = 0  # hand-overs: records taken from stopped stations, or lost to one
    incomplete: bool = False  # records are left with a station this one cannot take them from
    lease_lost: bool = False  # this station's lease was released: it stopped
    seconds: float = 0.0
    journal_seconds: float = 0.0
    journal_calls: int = 0
    stopped: bool = False
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def journal_share(self) -> float:
        return self.journal_seconds / self.seconds if self.seconds > 0 else 0.0


def batch_id_for(records_file: Path, content: bytes) -> str:
    """The records file's name and the first 12 hex digits of its SHA-256: the same file on
    every station is the same batch, an edited file a new one."""
    return f"{records_file.stem}-{hashlib.sha256(content).hexdigest()[:12]}"


def load_batch(
    records_file: Path, profile: Profile, today: date
) -> tuple[BatchInfo, list[NewRecord], dict[int, CitizenRecord]]:
    """Validate the records file: the batch, its journal entries and the valid records by row."""
    content = records_file.read_bytes()
    results = validate_all(load_records(records_file), profile, today)
    entries: list[NewRecord] = []
    valid: dict[int, CitizenRecord] = {}
    for result in results:
        row = result.raw.row
        card_id = card_id_for(records_file, row)
        if result.record is None:
            reason = "; ".join(
                f"{p.field or 'row'}: {p.message} [{p.code}]" for p in result.problems
            )
            entries.append(NewRecord(row, card_id, "rejected", reason=reason or "invalid"))
        else:
            valid[row] = result.record
            entries.append(
                NewRecord(row, card_id, "pending", document_number=result.record.document_number)
            )
    info = BatchInfo(
        batch=batch_id_for(records_file, content),
        name=records_file.name,
        records_digest=hashlib.sha256(content).hexdigest(),
        profile=profile.name,
        total=len(entries),
    )
    return info, entries, valid


# GlobalPlatform Card Specification v2.3 §11.3 GET DATA, tag 9F7F: the Card Production Life
# Cycle data (CPLC, 42 bytes): IC fabricator (2), IC type (2), OS id (2), OS release date (2),
# OS release level (2), IC fabrication date (2), IC serial number (4), IC batch identifier (2), …
GET_CPLC = Command(0x80, 0xCA, 0x9F, 0x7F, ne=256)


def read_chip_serial(connection: Connection) -> str | None:
    """The chip's serial from its CPLC: "<IC fabricator>-<IC type>-<IC batch>-<IC serial>" in
    hex, or None when the card does not answer GET DATA 9F7F."""
    try:
        response = connection.send(GET_CPLC)
    except CardError:
        return None
    data = response.data
    if response.sw != 0x9000:
        return None
    if data[:2] == b"\x9f\x7f" and len(data) >= 3:
        data = data[3 : 3 + data[2]]
    if len(data) < 18:
        return None
    return f"{data[0:2].hex()}-{data[2:4].hex()}-{data[16:18].hex()}-{data[12:16].hex()}".upper()


def destroy_card_image(cards_dir: Path, image_id: str) -> bool:
    """Securely delete card image ``image_id`` and any temporary folder a crash left of it:
    the sealed chip secrets are overwritten and flushed before they are unlinked (a deleted
    file's blocks keep their content), then the folder goes. True when anything was there."""
    folders = [cards_dir / image_id]
    if cards_dir.is_dir():  # write_card_image's temporary sibling: .<image_id>.XXXXXXXX
        folders += [Path(p) for p in glob.glob(str(cards_dir / f".{glob.escape(image_id)}.*"))]
    found = False
    for folder in folders:
        if not folder.is_dir():
            continue
        found = True
        sealed = folder / SEALED
        if sealed.is_file():
            with sealed.open("r+b") as fh:
                fh.write(os.urandom(max(sealed.stat().st_size, 1)))
                fh.flush()
                os.fsync(fh.fileno())
            sealed.unlink()
        shutil.rmtree(folder)
    if found:
        dir_fd = os.open(cards_dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return found


class _Heartbeat:
    """Renews the station's lease every quarter of its length on a connection of its own (a
    journal connection is not shared between threads), also while the station waits for a
    card. ``lost`` is set when the lease is no longer this process's (released)."""

    def __init__(self, journal: Journal, batch: str, station: str, lease: float) -> None:
        self.batch, self.station = batch, station
        self.interval = max(0.05, lease / 4)
        self.holding: str | None = None
        self.lost = threading.Event()
        self._opener = journal
        self._lease = lease
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat {station}", daemon=True)

    def start(self) -> _Heartbeat:
        self._thread.start()
        return self

    def _run(self) -> None:
        journal: Journal | None = None
        log = logging.getLogger(__name__)
        try:
            while not self._done.wait(self.interval):
                try:
                    journal = journal or self._opener.reopen(unreachable_timeout=self._lease)
                    if not journal.heartbeat(self.batch, self.station, self.holding):
                        self.lost.set()
                        return
                except JournalError as exc:  # the station's own calls tell the operator
                    log.debug("heartbeat of %s: %s", self.station, exc)
        finally:
            if journal is not None:
                with contextlib.suppress(JournalError):
                    journal.close()

    def stop(self) -> None:
        self._done.set()
        self._thread.join(timeout=5)


class _Runner:
    def __init__(
        self,
        journal: Journal,
        settings: BatchSettings,
        station: Station,
        stop: threading.Event,
        on_event: Callable[[BatchEvent], None] | None,
    ) -> None:
        self.journal = journal
        self.settings = settings
        self.station = station
        self.stop = stop
        self.on_event = on_event
        self.stats = RunStats()
        self.batch = ""
        self.records: dict[int, CitizenRecord] = {}
        self._counts: dict[str, int] = {}
        self._counts_at = float("-inf")
        self._told: set[str] = set()
        self._heartbeat: _Heartbeat | None = None

    # --- plumbing ---------------------------------------------------------------------------

    def j(self, fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
        """Call the journal, timing it (the benchmark reports the journal's share)."""
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            self.stats.journal_seconds += time.perf_counter() - start
            self.stats.journal_calls += 1

    def counts(self, fresh: bool = False) -> dict[str, int]:
        """Counts per state for events: read again when older than COUNTS_INTERVAL."""
        now = time.monotonic()
        if fresh or now - self._counts_at >= COUNTS_INTERVAL:
            self._counts = self.j(self.journal.counts, self.batch)
            self._counts_at = now
        return self._counts

    def emit(self, kind: EventKind, rec: RecordRow | None = None, detail: str = "") -> None:
        if self.on_event is None:
            return
        quiet = kind in ("card", "waiting", "remove")  # no counts: spare the journal a query
        counts = {} if quiet else self.counts(fresh=kind in ("loaded", "done", "stopped"))
        self.on_event(
            BatchEvent(
                kind,
                rec.row if rec else None,
                (rec.image_id or rec.card_id) if rec else None,
                detail,
                dict(counts),
            )
        )

    def emit_quiet(self, kind: EventKind, row: int, card_id: str, detail: str) -> None:
        """An event without counts (a journal query spared), e.g. one per rejected record."""
        if self.on_event is not None:
            self.on_event(BatchEvent(kind, row, card_id, detail, {}))

    def tell_once(self, key: str, kind: EventKind, detail: str) -> None:
        """An event the operator needs once, not at every poll."""
        if key not in self._told:
            self._told.add(key)
            self.emit(kind, None, detail)

    def holding(self, what: str | None) -> None:
        if self._heartbeat is not None:
            self._heartbeat.holding = what

    # --- the run ----------------------------------------------------------------------------

    def run(self) -> RunStats:
        started = time.perf_counter()
        s = self.settings
        info, entries, self.records = load_batch(s.records_file, s.profile, s.today)
        self.batch = info.batch
        new = self.j(self.journal.load, info, entries)
        self.emit("loaded", detail=f"{new} new record(s) in batch {info.batch}")
        for entry in entries:  # every run says why, not only the report (issue 14 §5)
            if entry.state == "rejected":
                self.emit_quiet("rejected", entry.row, entry.card_id, entry.reason or "invalid")
        self.j(self.journal.register_station, self.batch, s.station, lease_seconds=s.lease_seconds)
        self._heartbeat = heartbeat = _Heartbeat(
            self.journal, self.batch, s.station, s.lease_seconds
        ).start()
        try:
            for card in self.j(self.journal.recover, self.batch, s.station):
                self.stats.spoiled += 1
                self.emit("recovered", None, f"card {card.image_id} spoiled: {card.reason}")
            for image in self.j(self.journal.unsettled_images, self.batch, s.station):
                self.settle_image(image)
            while not self.stop.is_set():
                if heartbeat.lost.is_set():
                    self.stats.lease_lost = True
                    self.emit(
                        "stopped",
                        detail=f"the lease of station {s.station} was released (cardkit batch "
                        "release): this station stops; its records went to the others",
                    )
                    break
                rec = self.j(
                    self.journal.claim, self.batch, s.station, printing=s.printer is not None
                )
                if rec is not None:
                    self.holding(f"record {rec.row} ({rec.state})")
                    self.drive(rec)
                    continue
                self.holding(None)
                if not self.wait_for_others():
                    break
        finally:
            heartbeat.stop()
        self.j(self.journal.end_lease, self.batch, s.station)
        self.stats.stopped = self.stop.is_set() or self.stats.lease_lost
        self.stats.seconds = time.perf_counter() - started
        self.stats.counts = dict(self.counts(fresh=True))
        self._counts_at = time.monotonic()
        self.emit("stopped" if self.stats.stopped else "done")
        return self.stats

    def settle_image(self, image: ImageRow) -> None:
        """A card image a crash or a hand-over left unsettled: adopt it when it is complete,
        matches and its record still waits for it; destroy it otherwise (module docstring)."""
        s = self.settings
        if image.state == "signing":
            found = self.complete_image(image.image_id)
            if found is not None:
                sod = found.metadata.get("sod")
                adopted = self.j(
                    self.journal.adopt_image,
                    self.batch,
                    image.row,
                    s.station,
                    image_id=image.image_id,
                    sod_digest=hashlib.sha256(found.sod).hexdigest(),
                    dsc_serial=str(sod.get("dsc_serial", "")) if isinstance(sod, dict) else "",
                )
                if adopted:
                    self.stats.adopted += 1
                    self.emit(
                        "recovered",
                        None,
                        f"card image {image.image_id} adopted: signed and written completely "
                        "before the station stopped",
                    )
                    return
                why = "complete, but its record no longer waits for it"
            else:
                why = "signing was interrupted: the image is missing or incomplete"
        else:
            why = "its record was handed to another station"
        destroyed = destroy_card_image(s.cards_dir, image.image_id)
        self.j(self.journal.destroy_image, self.batch, image.image_id, why)
        self.stats.destroyed += 1
        self.emit(
            "recovered",
            None,
            f"card image {image.image_id} {'destroyed' if destroyed else 'not written'}: {why}",
        )

    def complete_image(self, image_id: str) -> CardImage | None:
        """The image folder when it is complete (every file matches the manifest), is the image
        journaled under this id, for this profile, and its sealed secrets open."""
        s = self.settings
        try:
            image = read_card_image(s.cards_dir / image_id)
            if image.card_id != image_id or image.profile != s.profile.name:
                return None
            ChipSecrets.from_bytes(s.transport.decrypt(image.sealed, image.secrets_aad))
        except (CardkitError, OSError, ValueError):
            return None
        return image

    def wait_for_others(self) -> bool:
        """Nothing to claim: take over the records of stopped stations, or wait while live ones
        hold some. False when the batch holds nothing more for this station."""
        s = self.settings
        taken = self.j(self.journal.take_over, self.batch, s.station)
        for line in taken:
            self.stats.handed_over += 1
            self.emit("handover", None, line)
        if taken:
            return True
        states: tuple[RecordState, ...] = UNFINISHED_STATES
        if s.printer is not None:
            states += ("verified",)
        held = {
            name: sum(per.values())
            for name, per in self.j(self.journal.held, self.batch, states).items()
            if name != s.station
        }
        if not held:
            return False
        leases = {row.station: row for row in self.j(self.journal.stations, self.batch)}
        now = datetime.now(UTC)
        live = sorted(name for name in held if (lease := leases.get(name)) and lease.live(now))
        if live:
            waits = "; ".join(
                f"station {name} holds {held[name]} record(s) (lease until "
                f"{leases[name].lease_until:%H:%M:%S} UTC unless it beats again)"
                for name in live
            )
            self.tell_once(
                "wait " + " ".join(live),
                "held",
                f"waiting for other stations: {waits}. If one has stopped, `cardkit batch "
                "release --station ID` hands its records over now",
            )
            self.stop.wait(s.wait_poll)
            return True
        for name in sorted(held):
            if name in leases:  # expired, and take_over left these: verified, to be printed
                what = f"its {held[name]} verified card(s) are printed there: restart it"
            else:
                what = (
                    f"it holds {held[name]} record(s) without a lease (an older cardkit?): "
                    f"`cardkit batch release --station {name}` hands them over"
                )
            self.tell_once("stranded " + name, "held", f"station {name} has stopped; {what}")
        self.stats.incomplete = True
        return False

    def drive(self, rec: RecordRow) -> None:
        """Move one claimed record on until it is done, or the station stops."""
        record = self.records.get(rec.row)
        if record is None:
            raise JournalError(f"record {rec.row} is in the journal but not valid in the file")
        image: CardImage | None = None
        state = rec.state
        try:
            while state not in DONE_STATES or (state == "verified" and self.settings.printer):
                if state == "pending":
                    image = self.prepare(rec, record)
                    rec = _with_image(rec, image.card_id)
                    state = "prepared"
                elif state == "prepared":
                    if image is None:
                        image = self.load_image(rec)
                        if image is None:
                            state = "pending"
                            continue
                    outcome = self.write_card(rec, image)
                    if outcome is None:  # stopped while waiting for a card
                        return
                    state = outcome
                elif state == "verified":
                    image = image or self.load_image(rec, reset=False)
                    if image is None:
                        raise JournalError(
                            f"record {rec.row}: the card image of verified card {rec.image_id} "
                            "is gone"
                        )
                    self.print_card(rec, record, image)
                    state = "printed"
                else:  # personalizing/personalized are turned into spoiled cards by recover()
                    raise JournalError(
                        f"record {rec.row}: unexpected state {state} for this station"
                    )
        except HandedOverError as exc:
            self.stats.handed_over += 1
            self.emit("handover", rec, str(exc))

    def intend(self, rec: RecordRow) -> str:
        """Journal the next free image id of this record before anything is signed."""
        s = self.settings
        n = 0
        while True:
            image_id = rec.card_id if n == 0 else f"{rec.card_id}-{n}"
            if not (s.cards_dir / image_id).exists() and self.j(
                self.journal.begin_image, self.batch, rec.row, s.station, image_id
            ):
                return image_id
            n += 1

    def prepare(self, rec: RecordRow, record: CitizenRecord) -> CardImage:
        """Intent (journaled, flushed) → signature (audited) → image folder → prepared."""
        s = self.settings
        image_id = self.intend(rec)
        try:
            now = s.clock()
            image = prepare_card(
                record,
                s.profile,
                s.issuer,
                card_id=image_id,
                photo=record.photo_path.read_bytes(),
                fingerprints=[p.read_bytes() for p in record.fingerprint_paths],
                signing_time=now,
                cvca_certificate=s.cvca_certificate,
            )
            sod_digest = hashlib.sha256(image.sod).digest()
            if s.audit is not None:  # before the folder: an image on disk is always audited
                s.audit.record_signature(
                    time=now,
                    key_id=s.issuer.dsc_signer.key_id,
                    dsc_serial=s.issuer.dsc_certificate.serial_number,
                    document_number=record.document_number,
                    sod_digest=sod_digest,
                    card_id=image_id,
                )
            write_card_image(image, s.cards_dir)
            self.j(
                self.journal.mark_prepared,
                self.batch,
                rec.row,
                s.station,
                image_id=image_id,
                sod_digest=sod_digest.hex(),
                dsc_serial=format(s.issuer.dsc_certificate.serial_number, "X"),
            )
        except (CardkitError, OSError) as exc:
            # Settle the intent now rather than at the next start; a journal that cannot be
            # reached leaves it to the next start.
            if not isinstance(exc, JournalError) or isinstance(exc, HandedOverError):
                destroy_card_image(s.cards_dir, image_id)
                self.j(self.journal.destroy_image, self.batch, image_id, f"not prepared: {exc}")
            raise
        self.stats.prepared += 1
        self.emit("prepared", _with_image(rec, image_id))
        return image

    def load_image(self, rec: RecordRow, *, reset: bool = True) -> CardImage | None:
        s = self.settings
        image_id = rec.image_id or rec.card_id
        folder = s.cards_dir / image_id
        try:
            image = read_card_image(folder)
            if rec.sod_digest and hashlib.sha256(image.sod).hexdigest() != rec.sod_digest:
                raise CardImageError(f"{folder.name}: EF.SOD differs from the journal")
            return image
        except (CardkitError, OSError):
            if not reset:
                return None
            destroy_card_image(s.cards_dir, image_id)
            self.j(
                self.journal.reset_prepared,
                self.batch,
                rec.row,
                s.station,
                "card image missing or damaged: destroyed, prepared again",
            )
            return None

    def write_card(self, rec: RecordRow, image: CardImage) -> _Next | None:
        s = self.settings
        secrets = ChipSecrets.from_bytes(s.transport.decrypt(image.sealed, image.secrets_aad))
        rec = _with_image(rec, image.card_id)
        self.holding(f"record {rec.row} (prepared, waiting for a card)")
        self.emit("waiting", rec, f"place a blank card on {self.station.name}")
        connection = self.station.wait_for_card(self.stop)
        if connection is None:
            return None
        serial: str | None = None
        try:
            try:
                serial = read_chip_serial(connection)
            except TransportError:
                self.stats.refused += 1
                self.emit(
                    "refused", rec, "the card left the reader before it was used: place it again"
                )
                return "prepared"
            try:
                attempt = self.j(self.journal.begin_card, self.batch, rec.row, s.station, serial)
            except ChipUsedError as exc:
                self.stats.refused += 1
                self.emit("refused", rec, str(exc))
                return "prepared"
            self.holding(f"record {rec.row} (writing chip {serial or '?'})")
            self.emit("card", rec, f"writing card {attempt} (chip {serial or 'serial unknown'})")
            return self.personalize_card(rec, image, secrets, connection, attempt, serial)
        except HandedOverError as exc:
            raise HandedOverError(
                f"{exc}; chip {serial or '(serial unknown)'} in {self.station.name}: put it aside"
                if serial is not None
                else str(exc)
            ) from None
        finally:
            self.station.release(connection)
            self.tell_remove(rec)

    def tell_remove(self, rec: RecordRow) -> None:
        """A card is done with (verified, refused or spoiled): tell the operator to take it when
        the reader still holds it (stations that can tell, :class:`PcscStation`)."""
        holds = getattr(self.station, "holds_card", None)
        if callable(holds) and holds():
            self.emit("remove", rec, f"remove the card from {self.station.name}")

    def personalize_card(
        self,
        rec: RecordRow,
        image: CardImage,
        secrets: ChipSecrets,
        connection: Connection,
        attempt: int,
        serial: str | None,
    ) -> _Next:
        s = self.settings
        personalized = False

        def progress(_number: int, name: str) -> None:
            nonlocal personalized
            # The read-back is the step after LOCK: the card is now written and locked.
            if name == READ_BACK_STEP and not personalized:
                self.j(self.journal.mark_personalized, self.batch, rec.row, attempt)
                personalized = True

        try:
            result = personalize(
                connection,
                image,
                secrets,
                s.profile,
                trust=s.trust,
                progress=progress,
                clock=s.clock,
            )
        except (AppletLockedError, AlreadyPersonalizedError, WrongAppletError) as exc:
            self.j(self.journal.abandon_card, self.batch, rec.row, attempt)
            self.stats.refused += 1
            what = "not this applet" if isinstance(exc, WrongAppletError) else "not blank"
            self.emit(
                "refused",
                rec,
                f"chip {serial or '(serial unknown)'} refused, nothing written ({what}: {exc}) "
                "— put it aside",
            )
            return "prepared"
        except UnsupportedImageError:
            # The profile's images do not fit its applet: nothing was sent; no card of this
            # batch can be written, so stop instead of trying every card.
            self.j(self.journal.abandon_card, self.batch, rec.row, attempt)
            raise
        except TornCardError as exc:
            if exc.phase == "check":  # nothing was written to it
                self.j(self.journal.abandon_card, self.batch, rec.row, attempt)
                self.stats.refused += 1
                self.emit(
                    "refused", rec, "the card left the reader before it was written: place it again"
                )
                return "prepared"
            prefix = UNLOCKED_PREFIX if exc.phase in UNLOCKED_PHASES else LOCKED_PREFIX
            cause = exc.__cause__
            what = (
                f"{cause} (pcscd stopped during step {exc.step_number} ({exc.step}))"
                if isinstance(cause, TransportError) and str(cause).startswith("pcscd is not")
                else f"the card left the reader during step {exc.step_number} ({exc.step})"
            )
            return self.spoil(
                rec, attempt, f"{prefix}torn at step {exc.step_number} ({exc.phase})",
                serial, what,
            )  # fmt: skip
        except JournalError:
            raise  # the journal's own trouble (a hand-over, unreachable): not the card's
        except (CardkitError, OSError) as exc:
            return self.spoil(
                rec, attempt, f"{type(exc).__name__}: {exc}", serial, f"writing failed ({exc})"
            )
        if result.status == "unlocked":
            # Not locked: the chip can be written again (personalize --rewrite), it is not
            # a card to destroy. The journal's reason says which of the two happened.
            return self.spoil(
                rec, attempt, f"{UNLOCKED_PREFIX}check before LOCK failed: {result.detail}",
                serial, f"the check before LOCK failed ({result.detail})",
            )  # fmt: skip
        if result.status != "ok":
            return self.spoil(
                rec, attempt, f"{LOCKED_PREFIX}read-back failed: {result.detail}",
                serial, f"the read-back after LOCK failed ({result.detail})",
            )  # fmt: skip
        self.j(self.journal.mark_verified, self.batch, rec.row, attempt)
        self.stats.verified += 1
        self.emit("verified", rec, f"chip {serial or 'serial unknown'}")
        return "verified"

    def spoil(
        self, rec: RecordRow, attempt: int, reason: str, serial: str | None, what: str
    ) -> Literal["pending"]:
        """Journal ``reason`` (it starts with LOCKED_PREFIX / UNLOCKED_PREFIX when the chip is
        known to be locked / not locked; anything else counts as locked) and tell the operator
        ``what`` happened and what to do with the chip."""
        self.j(self.journal.spoil, self.batch, rec.row, attempt, reason)
        self.stats.spoiled += 1
        todo = REWRITE_IT if reason.startswith(UNLOCKED_PREFIX) else DESTROY_IT
        chip = f"chip {serial}" if serial else "the chip (serial unknown)"
        self.emit("spoiled", rec, f"{what} — put it aside: {chip} is spoiled ({todo})")
        return "pending"

    def print_card(self, rec: RecordRow, record: CitizenRecord, image: CardImage) -> None:
        s = self.settings
        assert s.printer is not None
        self.holding(f"record {rec.row} (printing)")
        out = s.printed_dir / image.card_id
        out.mkdir(parents=True, exist_ok=True)
        written = s.printer(record, image, s.profile, out)
        self.j(
            self.journal.mark_printed,
            self.batch,
            rec.row,
            [str(p.relative_to(s.workdir)) if p.is_relative_to(s.workdir) else str(p)
             for p in written],
        )  # fmt: skip
        self.stats.printed += 1
        where = out.relative_to(s.workdir) if out.is_relative_to(s.workdir) else out
        self.emit("printed", rec, f"{len(written)} file(s) in {where}")


def _with_image(rec: RecordRow, image_id: str) -> RecordRow:
    return replace(rec, image_id=image_id)


def run_batch(
    journal: Journal,
    settings: BatchSettings,
    station: Station,
    *,
    stop: threading.Event | None = None,
    on_event: Callable[[BatchEvent], None] | None = None,
) -> RunStats:
    """Run this station's share of the batch until nothing is left for it or ``stop`` is set
    (module docstring). Raises JournalError when the journal cannot be used
    (JournalUnavailableError when it stayed unreachable; StationBusyError when this station id
    runs elsewhere), and lets errors of the batch's own inputs through (records file, keys)."""
    return _Runner(journal, settings, station, stop or threading.Event(), on_event).run()
