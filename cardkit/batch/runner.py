"""The batch state machine: every record through prepare → personalize → verify → print, once.

One station runs :func:`run_batch`: it loads the records into the journal (invalid ones become
``rejected`` with their reasons), recovers its own unfinished work, then claims records one at a
time and drives each through its states, committing every transition to the journal
(:mod:`cardkit.batch.journal`) *before* the next step starts::

    pending ──prepare──► prepared ──begin card──► personalizing ──lock──► personalized
       ▲                                              │                       │ read-back ok
       └────────── card spoiled (torn, refused, read-back failed) ◄──────────┘
                                                                      verified ──print──► printed

**Resume rules** (after a crash, kill -9 or power cut, on restart with the same station id):

- a card found ``personalizing`` or ``personalized`` (not yet verified) is *spoiled*: it may hold
  part of the image, or a complete card whose read-back nobody saw. Its chip serial stays in the
  journal, so the card is never written again; the record goes back to ``pending`` and is
  prepared again (fresh chip keys, new EF.SOD) for the next blank card;
- a ``prepared`` record keeps its card image when the image folder is intact, else it is
  prepared again (a crash during preparation leaves no journal trace but an audited signature);
- a ``verified`` record is printed (printing is idempotent: the files are rewritten).

**Cards.** A :class:`Station` hands out cards: :class:`PcscStation` waits for a card in a PC/SC
reader, and after each card waits for it to be *removed* before taking the next one (an operator
or a card feeder swaps it). Before anything is written the runner reads the chip's serial
(GlobalPlatform CPLC, GET DATA 9F7F, when the card answers it) and refuses a chip the journal has
seen before; :func:`~cardkit.services.personalize.personalize` refuses a card that is not blank.
A refused card is left alone (nothing written, nothing journaled) and the station waits for the
next one.

**Stopping.** Setting ``stop`` (the CLI does on Ctrl-C / SIGTERM) lets the current card finish
(written, verified, printed and journaled), then the runner returns.

Nothing personal is logged or put into events: cards are named by their card id (records file
name and row).
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Literal, ParamSpec, Protocol, TypeVar

from cardkit.applet.dialect import UnsupportedImageError, WrongAppletError
from cardkit.applet.writer import AlreadyPersonalizedError, AppletLockedError
from cardkit.batch.journal import (
    DONE_STATES,
    BatchInfo,
    Journal,
    JournalError,
    NewRecord,
    RecordRow,
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
    CardImage,
    CardImageError,
    ChipSecrets,
    read_card_image,
    secrets_aad,
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
    "load_batch",
    "read_chip_serial",
    "run_batch",
]

_P = ParamSpec("_P")
_T = TypeVar("_T")

EventKind = Literal[
    "loaded", "recovered", "prepared", "card", "refused", "personalized", "verified",
    "spoiled", "printed", "waiting", "stopped", "done",
]  # fmt: skip


_Next = Literal["verified", "pending", "prepared"]


@dataclass(frozen=True)
class BatchEvent:
    """What the runner just did, for progress displays. ``detail`` never holds personal data."""

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
        be removed first."""
        ...


class PcscStation:
    """A PC/SC reader: a card is taken when present and not used by another application, and
    after each card the station waits until it has left the reader (pcscd polls ~400 ms)."""

    def __init__(self, reader: str, *, poll: float = 0.05) -> None:
        self.reader = reader
        self.poll = poll
        self._must_leave = False

    @property
    def name(self) -> str:
        return self.reader

    def _status(self) -> tuple[bool, bool]:
        from cardkit.transport.pcsc import reader_statuses

        try:
            for status in reader_statuses():
                if status.name == self.reader:
                    return status.card_present, status.in_use
        except TransportError:
            pass
        return False, False

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

    def __post_init__(self) -> None:
        if not self.station or len(self.station) > 200:
            raise ValueError("a station id is 1..200 characters")

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

    # --- plumbing ---------------------------------------------------------------------------

    def j(self, fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
        """Call the journal, timing it (the benchmark reports the journal's share)."""
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            self.stats.journal_seconds += time.perf_counter() - start
            self.stats.journal_calls += 1

    def emit(self, kind: EventKind, rec: RecordRow | None = None, detail: str = "") -> None:
        if self.on_event is None:
            return
        quiet = kind in ("card", "waiting")  # no counts needed: spare the journal a query
        counts = {} if quiet else self.j(self.journal.counts, self.batch)
        self.on_event(
            BatchEvent(
                kind,
                rec.row if rec else None,
                (rec.image_id or rec.card_id) if rec else None,
                detail,
                counts,
            )
        )

    # --- the run ----------------------------------------------------------------------------

    def run(self) -> RunStats:
        started = time.perf_counter()
        s = self.settings
        info, entries, self.records = load_batch(s.records_file, s.profile, s.today)
        self.batch = info.batch
        new = self.j(self.journal.load, info, entries)
        self.emit("loaded", detail=f"{new} new record(s) in batch {info.batch}")
        for card in self.j(self.journal.recover, self.batch, s.station):
            self.stats.spoiled += 1
            self.emit("recovered", None, f"card {card.image_id} spoiled: {card.reason}")
        while not self.stop.is_set():
            rec = self.j(self.journal.claim, self.batch, s.station, printing=s.printer is not None)
            if rec is None:
                break
            self.drive(rec)
        self.stats.stopped = self.stop.is_set()
        self.stats.seconds = time.perf_counter() - started
        self.stats.counts = self.j(self.journal.counts, self.batch)
        self.emit("stopped" if self.stats.stopped else "done")
        return self.stats

    def drive(self, rec: RecordRow) -> None:
        """Move one claimed record on until it is done, or the station stops."""
        record = self.records.get(rec.row)
        if record is None:
            raise JournalError(f"record {rec.row} is in the journal but not valid in the file")
        image: CardImage | None = None
        state = rec.state
        while state not in DONE_STATES or (state == "verified" and self.settings.printer):
            if state == "pending":
                image = self.prepare(rec, record)
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
                        f"record {rec.row}: the card image of verified card {rec.image_id} is gone"
                    )
                self.print_card(rec, record, image)
                state = "printed"
            else:  # personalizing/personalized are turned into spoiled cards by recover()
                raise JournalError(f"record {rec.row}: unexpected state {state} for this station")

    def prepare(self, rec: RecordRow, record: CitizenRecord) -> CardImage:
        s = self.settings
        # A crash after writing an image but before journaling it leaves an orphan folder:
        # never overwrite (card images are immutable), take the next free name.
        image_id, n = rec.card_id, 0
        while (s.cards_dir / image_id).exists():
            n += 1
            image_id = f"{rec.card_id}-{n}"
        now = s.clock()
        image = prepare_card(
            record,
            s.profile,
            s.issuer,
            card_id=image_id,
            photo=record.photo_path.read_bytes(),
            fingerprints=[p.read_bytes() for p in record.fingerprint_paths],
            signing_time=now,
        )
        sod_digest = hashlib.sha256(image.sod).digest()
        if s.audit is not None:  # audited before the image exists (as cardkit prepare does)
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
        self.stats.prepared += 1
        self.emit("prepared", _with_image(rec, image_id))
        return image

    def load_image(self, rec: RecordRow, *, reset: bool = True) -> CardImage | None:
        folder = self.settings.cards_dir / (rec.image_id or rec.card_id)
        try:
            image = read_card_image(folder)
            if rec.sod_digest and hashlib.sha256(image.sod).hexdigest() != rec.sod_digest:
                raise CardImageError(f"{folder.name}: EF.SOD differs from the journal")
            return image
        except (CardkitError, OSError):
            if not reset:
                return None
            self.j(
                self.journal.reset_prepared,
                self.batch,
                rec.row,
                self.settings.station,
                "card image missing or damaged: prepared again",
            )
            return None

    def write_card(self, rec: RecordRow, image: CardImage) -> _Next | None:
        s = self.settings
        secrets = ChipSecrets.from_bytes(
            s.transport.decrypt(image.sealed, secrets_aad(image.card_id, image.sod))
        )
        rec = _with_image(rec, image.card_id)
        self.emit("waiting", rec, f"waiting for a blank card on {self.station.name}")
        connection = self.station.wait_for_card(self.stop)
        if connection is None:
            return None
        try:
            try:
                serial = read_chip_serial(connection)
            except TransportError:
                self.stats.refused += 1
                self.emit("refused", rec, "the card left the reader before it was used")
                return "prepared"
            if serial is not None and self.j(self.journal.chip_used, serial):
                self.stats.refused += 1
                self.emit("refused", rec, f"chip {serial} was written before: put it aside")
                return "prepared"
            attempt = self.j(self.journal.begin_card, self.batch, rec.row, s.station, serial)
            self.emit("card", rec, f"writing card {attempt} (chip {serial or 'serial unknown'})")
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
                self.emit("refused", rec, f"{what}: {exc}")
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
                    self.emit("refused", rec, "the card left the reader before it was written")
                    return "prepared"
                return self.spoil(rec, attempt, f"torn at step {exc.step_number} ({exc.phase})")
            except (CardkitError, OSError) as exc:
                return self.spoil(rec, attempt, f"{type(exc).__name__}: {exc}")
            if result.status == "unlocked":
                # Not locked: the chip can be written again (personalize --rewrite), it is not
                # a card to destroy. The journal's reason says which of the two happened.
                return self.spoil(
                    rec, attempt, f"not locked (rewritable): check before LOCK failed: "
                    f"{result.detail}"
                )  # fmt: skip
            if result.status != "ok":
                return self.spoil(
                    rec, attempt, f"locked (destroy): read-back failed: {result.detail}"
                )
            self.j(self.journal.mark_verified, self.batch, rec.row, attempt)
            self.stats.verified += 1
            self.emit("verified", rec, f"chip {serial or 'serial unknown'}")
            return "verified"
        finally:
            self.station.release(connection)

    def spoil(self, rec: RecordRow, attempt: int, reason: str) -> Literal["pending"]:
        self.j(self.journal.spoil, self.batch, rec.row, attempt, reason)
        self.stats.spoiled += 1
        self.emit("spoiled", rec, reason)
        return "pending"

    def print_card(self, rec: RecordRow, record: CitizenRecord, image: CardImage) -> None:
        s = self.settings
        assert s.printer is not None
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
        self.emit("printed", rec)


def _with_image(rec: RecordRow, image_id: str) -> RecordRow:
    from dataclasses import replace

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
    (module docstring). Raises JournalError when the journal cannot be used, and lets
    errors of the batch's own inputs through (records file, keys)."""
    return _Runner(journal, settings, station, stop or threading.Event(), on_event).run()
