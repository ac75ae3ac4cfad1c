"""The batch journal: where every record of a production batch is, committed before each step.

Four tables (the same schema on SQLite and PostgreSQL):

``records``, one row per record of the records file, in one of these states::

    rejected      invalid record: never prepared (``reason`` lists every problem)
    pending       valid, waiting for a station (or for its next card after a spoiled one)
    prepared      card image signed and written to the station's batch folder
    personalizing a card is being written (the ``cards`` row says which)
    personalized  the card is written and locked; its read-back has not been checked yet
    verified      the card was read back and passed passive authentication: issued
    printed       the card's face was printed (the final state when a printer is configured)

``cards``, one row per physical card a record was written to, in state ``personalizing`` /
``personalized`` / ``verified`` / ``spoiled`` (a card that failed, was torn, or whose station
stopped before it was verified). A spoiled card is never reused (a chip serial is recorded once,
ever: a unique index) and its record goes back to ``pending`` to be prepared again with fresh
chip keys for the station's next blank card. The database itself enforces exactly-once issuance:
a partial unique index allows at most one live (not spoiled) card per record.

``images``, one row per card image (one EF.SOD signature), written *before* the signature
exists (issue 14 §1): ``signing`` (the intent: id chosen, committed and flushed; the audit line,
then the image folder follow), ``written`` (the folder is complete and journaled),
``released`` (its record was handed to another station; the folder, on the stopped station,
is to be destroyed when that station comes back) and ``destroyed`` (securely deleted, or never
written). The audit log names the image id of every signature, so every signature maps to a
row here by construction; a station's restart settles its ``signing`` rows (adopts a complete
image, destroys anything else) and its ``released`` ones.

``stations``, one row per station working on a batch: its host and pid, when it started, its
lease (``lease_seconds`` after the last heartbeat) and what it is doing. A station whose lease
has expired, or that stopped, can have its records taken over (:meth:`Journal.take_over`,
:meth:`Journal.release`): its cards not yet verified are spoiled first, then its unfinished
records go back to ``pending`` for any station.

**Claims.** A station takes the next unclaimed pending record in one short transaction: on
PostgreSQL ``SELECT … FOR UPDATE SKIP LOCKED`` (stations never wait for each other and never see
the same row), on SQLite under ``BEGIN IMMEDIATE`` (the database's write lock). The record then
belongs to that station (``station``) until it is issued or handed over: a station that
restarts with the same id resumes its own records, and no other station touches them while its
lease lives.

**Personal data.** The journal keeps the MRZ document number (the 9 digits printed on the card)
because the operator needs it to match a card, an envelope and a spoiled card to destroy, and
nothing else about the person: no name, dates, ID number, MRZ or CAN. Rejection reasons name the
field and the rule, never the value. Chip serials, DSC serials, station ids, host names and
pids, the EF.SOD digest of each card and UTC timestamps (ISO 8601 text) complete the picture.

**Durability.** Every transition is its own committed transaction before the caller goes on, so
a killed process (kill -9) loses nothing. Against a power cut, the transitions that decide what
happens to a physical card or a signature are flushed to disk before the call returns (SQLite
WAL with ``synchronous=FULL``; PostgreSQL ``synchronous_commit=on``): ``begin_image`` (before
the signature), ``begin_card`` (before the first byte is written to a chip), ``mark_verified``,
``spoil``, ``abandon_card``, ``mark_printed``, ``recover`` and every hand-over. The others
(``load``, ``claim``, ``mark_prepared``, ``mark_personalized``, ``reset_prepared``, heartbeats)
are committed without waiting for the disk (``synchronous=NORMAL`` / ``synchronous_commit=off``):
both databases write their log in order, so a power cut can only lose the *latest* of them,
never one before a flushed transition, and losing one is harmless — a lost claim makes the
record be claimed again, a lost "prepared" leaves the image ``signing`` (adopted on restart),
a lost "personalized" leaves "personalizing", which is spoiled on restart exactly like
"personalized". This halves the fsyncs per card (the benchmark's journal share).

**Transitions are idempotent.** When the connection to PostgreSQL breaks during COMMIT, the
client cannot know whether the transaction was applied; the operation is run again, so every
transition accepts finding its own result already there (``mark_verified`` on a verified card
of the same attempt) instead of failing.

**The database goes away.** Deadlocks and serialization failures are retried at once (a few
seconds in all); a lost connection (a PostgreSQL restart, a network blip) is retried with
exponential backoff for ``unreachable_timeout`` seconds (reconnecting each time, telling the
operator through ``on_unreachable``), then :class:`JournalUnavailableError` stops the station.

**Cost per card** stays flat as a batch grows: every query a card needs is answered by an
index (``records_by_station`` for a station's own unfinished record, ``records_by_state`` for
the next unclaimed one, ``cards_by_state`` for counts and recovery), see benchmarks/journal.py.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import random
import socket
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar, cast, get_args
from urllib.parse import unquote, urlparse

from cardkit.errors import CardkitError

__all__ = [
    "LIVE_CARD_STATES",
    "RECORD_STATES",
    "UNFINISHED_STATES",
    "BatchInfo",
    "CardRow",
    "CardState",
    "ChipUsedError",
    "HandedOverError",
    "ImageRow",
    "ImageState",
    "Journal",
    "JournalError",
    "JournalUnavailableError",
    "JournalUnreachableError",
    "NewRecord",
    "PostgresJournal",
    "RecordRow",
    "RecordState",
    "SqliteJournal",
    "StationBusyError",
    "StationRow",
    "open_journal",
]

RecordState = Literal[
    "rejected", "pending", "prepared", "personalizing", "personalized", "verified", "printed"
]
CardState = Literal["personalizing", "personalized", "verified", "spoiled"]
ImageState = Literal["signing", "written", "released", "destroyed"]
RECORD_STATES: tuple[RecordState, ...] = get_args(RecordState)
CARD_STATES: tuple[CardState, ...] = get_args(CardState)
IMAGE_STATES: tuple[ImageState, ...] = get_args(ImageState)
LIVE_CARD_STATES: tuple[CardState, ...] = ("personalizing", "personalized", "verified")
DONE_STATES: tuple[RecordState, ...] = ("rejected", "verified", "printed")
#: The states of a record a station is still working on (``verified`` too when it prints).
UNFINISHED_STATES: tuple[RecordState, ...] = (
    "pending",
    "prepared",
    "personalizing",
    "personalized",
)


class JournalError(CardkitError):
    """The journal cannot be opened, is inconsistent, or a transition is not allowed."""


class TransientJournalError(JournalError):
    """The database aborted a transaction that may simply be run again: a deadlock between
    stations (PostgreSQL SQLSTATE 40P01) or a serialization failure (40001). PostgreSQL's
    manual (§13.2, "Transaction Isolation") asks applications to retry such transactions."""


class JournalUnreachableError(JournalError):
    """One attempt could not reach the database (connection refused or lost: a PostgreSQL
    restart, a network blip). Retried with backoff by every journal operation."""


class JournalUnavailableError(JournalError):
    """The database stayed unreachable for longer than the journal timeout: the station stops
    (``cardkit batch run`` exit 4). Nothing is lost: every step was committed before the next."""


class HandedOverError(JournalError):
    """The record was handed to another station (this station's lease expired, or
    ``cardkit batch release`` gave its records back) while this station was working on it."""


class ChipUsedError(JournalError):
    """The chip's serial is already in the journal: a chip is written once, ever."""

    def __init__(self, chip_serial: str) -> None:
        super().__init__(f"chip {chip_serial} was written before: put it aside")
        self.chip_serial = chip_serial


class StationBusyError(JournalError):
    """A station id whose lease is held by a running process (refused, not taken over)."""


class _UniqueViolation(JournalError):
    """A unique index refused a row (``constraint`` names the index)."""

    def __init__(self, message: str, constraint: str) -> None:
        super().__init__(message)
        self.constraint = constraint


#: How often a journal operation is tried when the database aborts it as transient.
TRANSIENT_ATTEMPTS = 10
#: How long (seconds) an unreachable database is retried before the station stops.
UNREACHABLE_TIMEOUT = 300.0
#: The longest wait between two attempts to reach the database (backoff 0.25 s doubling).
UNREACHABLE_MAX_BACKOFF = 10.0
_F = TypeVar("_F", bound=Callable[..., Any])


def _notify(journal: object, attempt: int, reason: str | None) -> None:
    callback = getattr(journal, "on_unreachable", None)
    if callable(callback):
        callback(attempt, reason)


def _retried(operation: _F) -> _F:
    """Run ``operation`` (one whole transaction) again when the database aborted it as
    transient (at once, a few times), or could not be reached (with exponential backoff, for
    the journal's ``unreachable_timeout``, telling ``on_unreachable``). Its effects were rolled
    back — or, when the connection broke during COMMIT, applied, which every transition accepts
    finding (module docstring) — so a retry cannot apply anything twice."""

    @functools.wraps(operation)
    def run(*args: Any, **kwargs: Any) -> Any:
        journal = args[0] if args else None
        transient = unreachable = 0
        deadline: float | None = None
        while True:
            try:
                result = operation(*args, **kwargs)
            except JournalUnreachableError as exc:
                unreachable += 1
                now = time.monotonic()
                timeout = float(getattr(journal, "unreachable_timeout", UNREACHABLE_TIMEOUT))
                deadline = now + timeout if deadline is None else deadline
                if now >= deadline:
                    raise JournalUnavailableError(
                        f"the journal {getattr(journal, 'url', '')} has been unreachable for "
                        f"{timeout:.0f} s ({exc}): this station stops. Nothing is lost; run it "
                        "again when the database is back"
                    ) from None
                _notify(journal, unreachable, str(exc))
                backoff = min(UNREACHABLE_MAX_BACKOFF, 0.25 * 2 ** (unreachable - 1))
                time.sleep(max(0.0, min(backoff * (1 + 0.25 * random.random()), deadline - now)))
                continue
            except TransientJournalError as exc:
                transient += 1
                if transient == TRANSIENT_ATTEMPTS:
                    raise
                logging.getLogger(__name__).debug(
                    "%s: %s; trying again (%d)", operation.__name__, exc, transient
                )
                # Back off, with jitter, so that the stations do not collide again: 20 ms
                # doubling to at most 1 s (about 5 s in all before giving up).
                time.sleep(min(1.0, 0.01 * 2**transient) * (1 + random.random()))
                continue
            if unreachable:
                _notify(journal, 0, None)
            return result

    return cast(_F, run)


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _process_alive(pid: int) -> bool:
    """Whether a process with this pid runs on this host (signal 0 checks without sending)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class BatchInfo:
    """One batch: ``batch`` is its id (records file name + digest of its content), so stations
    loading the same file on different machines share it."""

    batch: str
    name: str
    records_digest: str
    profile: str
    total: int

    def __post_init__(self) -> None:
        if not self.batch or self.total < 0:
            raise ValueError("a batch needs an id and a non-negative record count")


@dataclass(frozen=True)
class NewRecord:
    """A record as it enters the journal: ``pending`` (valid) or ``rejected`` with a reason."""

    row: int
    card_id: str
    state: Literal["pending", "rejected"]
    document_number: str | None = None
    reason: str | None = None

    def __post_init__(self) -> None:
        if self.state == "rejected" and not self.reason:
            raise ValueError("a rejected record needs its reason")
        if self.state not in ("pending", "rejected"):
            raise ValueError("a new record is pending or rejected")


@dataclass(frozen=True)
class RecordRow:
    batch: str
    row: int
    card_id: str
    document_number: str | None
    state: RecordState
    station: str | None
    attempts: int
    image_id: str | None
    sod_digest: str | None
    dsc_serial: str | None
    chip_serial: str | None
    reason: str | None
    outputs: str | None
    created_at: str
    updated_at: str
    claimed_at: str | None
    prepared_at: str | None
    personalized_at: str | None
    verified_at: str | None
    printed_at: str | None

    def __post_init__(self) -> None:
        if self.state not in RECORD_STATES:
            raise JournalError(f"record {self.row}: unknown state in the journal")


@dataclass(frozen=True)
class CardRow:
    batch: str
    row: int
    attempt: int
    station: str
    image_id: str
    chip_serial: str | None
    sod_digest: str
    state: CardState
    reason: str | None
    started_at: str
    finished_at: str | None

    def __post_init__(self) -> None:
        if self.state not in CARD_STATES:
            raise JournalError(f"card {self.image_id}: unknown state in the journal")


@dataclass(frozen=True)
class ImageRow:
    """One card image, i.e. one EF.SOD signature (the audit log names its ``image_id``)."""

    batch: str
    image_id: str
    row: int
    station: str
    state: ImageState
    sod_digest: str | None
    reason: str | None
    started_at: str
    finished_at: str | None

    def __post_init__(self) -> None:
        if self.state not in IMAGE_STATES:
            raise JournalError(f"card image {self.image_id}: unknown state in the journal")


@dataclass(frozen=True)
class StationRow:
    """A station's lease on a batch: it holds while the station has not stopped and its last
    heartbeat is less than ``lease_seconds`` old."""

    batch: str
    station: str
    host: str
    pid: int
    lease_seconds: float
    started_at: str
    heartbeat_at: str
    stopped_at: str | None
    holding: str | None

    @property
    def lease_until(self) -> datetime:
        return datetime.fromisoformat(self.heartbeat_at) + timedelta(seconds=self.lease_seconds)

    def live(self, now: datetime) -> bool:
        return self.stopped_at is None and now < self.lease_until

    def heartbeat_age(self, now: datetime) -> float:
        return (now - datetime.fromisoformat(self.heartbeat_at)).total_seconds()


_RECORD_COLUMNS = (
    "batch, row_no, card_id, document_number, state, station, attempts, image_id, sod_digest, "
    "dsc_serial, chip_serial, reason, outputs, created_at, updated_at, claimed_at, prepared_at, "
    "personalized_at, verified_at, printed_at"
)
_CARD_COLUMNS = (
    "batch, row_no, attempt, station, image_id, chip_serial, sod_digest, state, reason, "
    "started_at, finished_at"
)
_IMAGE_COLUMNS = (
    "batch, image_id, row_no, station, state, sod_digest, reason, started_at, finished_at"
)
_STATION_COLUMNS = (
    "batch, station, host, pid, lease_seconds, started_at, heartbeat_at, stopped_at, holding"
)


def _states(values: Sequence[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


SCHEMA = (
    """CREATE TABLE IF NOT EXISTS batches (
        batch TEXT PRIMARY KEY, name TEXT NOT NULL, records_digest TEXT NOT NULL,
        profile TEXT NOT NULL, total INTEGER NOT NULL, created_at TEXT NOT NULL)""",
    f"""CREATE TABLE IF NOT EXISTS records (
        batch TEXT NOT NULL REFERENCES batches (batch), row_no INTEGER NOT NULL,
        card_id TEXT NOT NULL, document_number TEXT,
        state TEXT NOT NULL CHECK (state IN ({_states(RECORD_STATES)})),
        station TEXT, attempts INTEGER NOT NULL DEFAULT 0, image_id TEXT, sod_digest TEXT,
        dsc_serial TEXT, chip_serial TEXT, reason TEXT, outputs TEXT,
        created_at TEXT NOT NULL, updated_at TEXT NOT NULL, claimed_at TEXT, prepared_at TEXT,
        personalized_at TEXT, verified_at TEXT, printed_at TEXT,
        PRIMARY KEY (batch, row_no))""",
    # The next unclaimed record (state, station IS NULL, lowest row) and counts per state.
    "CREATE INDEX IF NOT EXISTS records_by_state ON records (batch, state, station, row_no)",
    f"""CREATE TABLE IF NOT EXISTS cards (
        batch TEXT NOT NULL, row_no INTEGER NOT NULL, attempt INTEGER NOT NULL,
        station TEXT NOT NULL, image_id TEXT NOT NULL, chip_serial TEXT,
        sod_digest TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ({_states(CARD_STATES)})),
        reason TEXT, started_at TEXT NOT NULL, finished_at TEXT,
        PRIMARY KEY (batch, row_no, attempt),
        FOREIGN KEY (batch, row_no) REFERENCES records (batch, row_no))""",
    # A chip is written once, ever (a spoiled card is never reused) ...
    "CREATE UNIQUE INDEX IF NOT EXISTS cards_chip ON cards (chip_serial) "
    "WHERE chip_serial IS NOT NULL",
    # ... and a record has at most one live card: exactly-once issuance, enforced by the database.
    "CREATE UNIQUE INDEX IF NOT EXISTS cards_live ON cards (batch, row_no) "
    f"WHERE state IN ({_states(LIVE_CARD_STATES)})",
    # Every signature, journaled before it exists (issue 14 §1).
    f"""CREATE TABLE IF NOT EXISTS images (
        batch TEXT NOT NULL, image_id TEXT NOT NULL, row_no INTEGER NOT NULL,
        station TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ({_states(IMAGE_STATES)})),
        sod_digest TEXT, reason TEXT, started_at TEXT NOT NULL, finished_at TEXT,
        PRIMARY KEY (batch, image_id))""",
    "CREATE INDEX IF NOT EXISTS images_by_station ON images (batch, station, state)",
    """CREATE TABLE IF NOT EXISTS stations (
        batch TEXT NOT NULL, station TEXT NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL,
        lease_seconds REAL NOT NULL, started_at TEXT NOT NULL, heartbeat_at TEXT NOT NULL,
        stopped_at TEXT, holding TEXT,
        PRIMARY KEY (batch, station))""",
    # A station's own unfinished record without scanning the batch (issue 14 §6).
    "CREATE INDEX IF NOT EXISTS records_by_station ON records (batch, station, state, row_no)",
    # Spoiled cards counted and unverified cards recovered without scanning the batch. Keep it
    # last: PostgreSQL stations take its existence for "the whole schema is there".
    "CREATE INDEX IF NOT EXISTS cards_by_state ON cards (batch, state, station)",
)
SCHEMA_SENTINEL = "cards_by_state"


class Journal(Protocol):
    """What the batch runner, ``cardkit batch status`` and ``report`` need of a journal. Every
    method that changes something commits before it returns."""

    @property
    def url(self) -> str: ...

    def reopen(self, *, unreachable_timeout: float | None = None) -> Journal:
        """Another connection to the same journal (a station's heartbeat runs on its own)."""
        ...

    def load(self, info: BatchInfo, records: Sequence[NewRecord]) -> int:
        """Register the batch and its records unless already there (several stations may load
        the same file at once); returns how many records were new."""
        ...

    def batches(self) -> list[BatchInfo]: ...

    # --- stations and their leases --------------------------------------------------------

    def register_station(self, batch: str, station: str, *, lease_seconds: float) -> None:
        """Take this station's lease (this host and process). Raises StationBusyError when a
        live lease under this id belongs to another process that still runs."""
        ...

    def heartbeat(self, batch: str, station: str, holding: str | None = None) -> bool:
        """Renew this process's lease; False when it is no longer ours (released)."""
        ...

    def end_lease(self, batch: str, station: str) -> None:
        """The station stops: its lease ends now (its unfinished records may be taken over)."""
        ...

    def stations(self, batch: str) -> list[StationRow]: ...

    def held(
        self, batch: str, states: Sequence[RecordState] = UNFINISHED_STATES
    ) -> dict[str, dict[str, int]]:
        """Records in ``states`` per station that holds them, per state."""
        ...

    def take_over(self, batch: str, station: str) -> list[str]:
        """Settle and hand back the unfinished records of every station (but ``station``)
        whose lease expired or that stopped: their unverified cards are spoiled, their records
        go back to pending for any station. Returns what was done, one line each."""
        ...

    def release(self, batch: str, station: str, *, force: bool = False) -> list[str]:
        """``cardkit batch release``: as :meth:`take_over` for one station, at once; refused
        (StationBusyError) while its lease is live unless ``force``."""
        ...

    # --- records, images and cards --------------------------------------------------------

    def recover(self, batch: str, station: str) -> list[CardRow]:
        """After a crash: spoil this station's cards that were being written or not yet
        verified (their records go back to pending); returns the cards spoiled."""
        ...

    def claim(self, batch: str, station: str, *, printing: bool = False) -> RecordRow | None:
        """This station's own unfinished record (lowest row) if any, else the next unclaimed
        pending record, now claimed; None when nothing is left for this station. With
        ``printing``, a verified record is unfinished until printed."""
        ...

    def begin_image(self, batch: str, row: int, station: str, image_id: str) -> bool:
        """The intent to sign a card image under ``image_id``, flushed before the signature
        exists; False when that id is taken (choose another)."""
        ...

    def mark_prepared(
        self,
        batch: str,
        row: int,
        station: str,
        *,
        image_id: str,
        sod_digest: str,
        dsc_serial: str,
    ) -> None: ...

    def unsettled_images(self, batch: str, station: str) -> list[ImageRow]:
        """This station's images left ``signing`` by a crash, or ``released`` by a hand-over."""
        ...

    def adopt_image(
        self, batch: str, row: int, station: str, *, image_id: str, sod_digest: str,
        dsc_serial: str,
    ) -> bool:  # fmt: skip
        """A complete image found after a crash becomes its record's prepared image; False
        when the record is no longer waiting for it (destroy it instead)."""
        ...

    def destroy_image(self, batch: str, image_id: str, reason: str) -> None:
        """The image's folder was securely deleted (or never written)."""
        ...

    def images(self, batch: str) -> list[ImageRow]: ...

    def reset_prepared(self, batch: str, row: int, station: str, reason: str) -> None:
        """A prepared record whose card image is gone goes back to pending."""
        ...

    def chip_used(self, chip_serial: str) -> bool: ...

    def begin_card(self, batch: str, row: int, station: str, chip_serial: str | None) -> int:
        """Committed before the first byte is written to the card: returns the attempt. The
        chip check is part of it: ChipUsedError when the serial is in the journal already."""
        ...

    def mark_personalized(self, batch: str, row: int, attempt: int) -> None: ...

    def mark_verified(self, batch: str, row: int, attempt: int) -> None: ...

    def spoil(self, batch: str, row: int, attempt: int, reason: str) -> None: ...

    def abandon_card(self, batch: str, row: int, attempt: int) -> None:
        """The card refused the write before anything was written (not blank): forget the
        attempt, the record stays prepared."""
        ...

    def mark_printed(self, batch: str, row: int, outputs: Sequence[str]) -> None: ...

    def records(self, batch: str) -> list[RecordRow]: ...

    def cards(self, batch: str) -> list[CardRow]: ...

    def counts(self, batch: str) -> dict[str, int]:
        """Records per state, plus ``spoiled``: the number of spoiled cards."""
        ...

    def close(self) -> None: ...


class _SqlJournal:
    """The SQL shared by both databases; subclasses supply the connection, the transaction
    and the claim (which is where SQLite and PostgreSQL differ)."""

    placeholder = "?"

    def __init__(
        self,
        url: str,
        *,
        unreachable_timeout: float = UNREACHABLE_TIMEOUT,
        on_unreachable: Callable[[int, str | None], None] | None = None,
    ) -> None:
        self._url = url
        #: Seconds an unreachable database is retried (:func:`_retried`).
        self.unreachable_timeout = unreachable_timeout
        #: Told ``(attempt, reason)`` at each retry, ``(0, None)`` once it is back.
        self.on_unreachable = on_unreachable

    @property
    def url(self) -> str:
        return self._url

    # --- to be provided ------------------------------------------------------------------

    def _transaction(self, durable: bool = True) -> contextlib.AbstractContextManager[Any]:
        raise NotImplementedError

    def _claim_unclaimed(self, cursor: Any, batch: str, station: str, now: str) -> int | None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def _serialise_load(self, cursor: Any) -> None:
        """Stations loading the same batch at once take turns (SQLite: BEGIN IMMEDIATE does)."""

    def _serialise_takeover(self, cursor: Any) -> None:
        """Stations taking over records take turns (SQLite: BEGIN IMMEDIATE does)."""

    # --- helpers --------------------------------------------------------------------------

    def _sql(self, text: str) -> str:
        return text if self.placeholder == "?" else text.replace("?", self.placeholder)

    def _exec(self, cursor: Any, text: str, params: Sequence[object] = ()) -> Any:
        cursor.execute(self._sql(text), tuple(params))
        return cursor

    def _create_schema(self) -> None:
        with self._transaction() as cur:
            for statement in SCHEMA:
                cur.execute(statement)

    # --- batches --------------------------------------------------------------------------

    @_retried
    def load(self, info: BatchInfo, records: Sequence[NewRecord]) -> int:
        now = utc_now()
        with self._transaction(durable=False) as cur:
            self._serialise_load(cur)
            self._exec(
                cur,
                "INSERT INTO batches (batch, name, records_digest, profile, total, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (info.batch, info.name, info.records_digest, info.profile, info.total, now),
            )
            existing = {
                r[0]
                for r in self._exec(
                    cur, "SELECT row_no FROM records WHERE batch = ?", (info.batch,)
                ).fetchall()
            }
            new = [r for r in records if r.row not in existing]
            if new:
                cur.executemany(
                    self._sql(
                        "INSERT INTO records (batch, row_no, card_id, document_number, state, "
                        "reason, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                        "ON CONFLICT DO NOTHING"
                    ),
                    [
                        (info.batch, r.row, r.card_id, r.document_number, r.state, r.reason,
                         now, now)
                        for r in new
                    ],
                )  # fmt: skip
        return len(new)

    @_retried
    def batches(self) -> list[BatchInfo]:
        with self._transaction(durable=False) as cur:
            rows = self._exec(
                cur,
                "SELECT batch, name, records_digest, profile, total FROM batches "
                "ORDER BY created_at, batch",
            ).fetchall()
        return [BatchInfo(r[0], r[1], r[2], r[3], int(r[4])) for r in rows]

    # --- stations -------------------------------------------------------------------------

    def _station(self, cur: Any, batch: str, station: str) -> StationRow | None:
        found = self._exec(
            cur,
            f"SELECT {_STATION_COLUMNS} FROM stations WHERE batch = ? AND station = ?",
            (batch, station),
        ).fetchone()
        return _station_row(found) if found is not None else None

    @_retried
    def register_station(self, batch: str, station: str, *, lease_seconds: float) -> None:
        if lease_seconds <= 0:
            raise ValueError("a lease lasts more than 0 seconds")
        host, pid, now = socket.gethostname(), os.getpid(), utc_now()
        with self._transaction(durable=False) as cur:
            held = self._station(cur, batch, station)
            if held is not None and held.live(datetime.now(UTC)):
                ours = held.host == host and (held.pid == pid or not _process_alive(held.pid))
                if not ours:
                    raise StationBusyError(
                        f"station {station} is running on {held.host} (pid {held.pid}, last "
                        f"heartbeat {held.heartbeat_age(datetime.now(UTC)):.0f} s ago): stop it "
                        "first, or give this station another --station id"
                    )
            self._exec(
                cur,
                f"INSERT INTO stations ({_STATION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, "
                "NULL) ON CONFLICT (batch, station) DO UPDATE SET host = excluded.host, "
                "pid = excluded.pid, lease_seconds = excluded.lease_seconds, "
                "started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, "
                "stopped_at = NULL, holding = NULL",
                (batch, station, host, pid, float(lease_seconds), now, now),
            )

    @_retried
    def heartbeat(self, batch: str, station: str, holding: str | None = None) -> bool:
        with self._transaction(durable=False) as cur:
            done = self._exec(
                cur,
                "UPDATE stations SET heartbeat_at = ?, holding = ? WHERE batch = ? AND "
                "station = ? AND host = ? AND pid = ? AND stopped_at IS NULL",
                (utc_now(), holding, batch, station, socket.gethostname(), os.getpid()),
            )
            return bool(done.rowcount == 1)

    @_retried
    def end_lease(self, batch: str, station: str) -> None:
        with self._transaction() as cur:
            self._exec(
                cur,
                "UPDATE stations SET stopped_at = ?, holding = NULL WHERE batch = ? AND "
                "station = ? AND host = ? AND pid = ? AND stopped_at IS NULL",
                (utc_now(), batch, station, socket.gethostname(), os.getpid()),
            )

    @_retried
    def stations(self, batch: str) -> list[StationRow]:
        with self._transaction(durable=False) as cur:
            rows = self._exec(
                cur,
                f"SELECT {_STATION_COLUMNS} FROM stations WHERE batch = ? ORDER BY station",
                (batch,),
            ).fetchall()
        return [_station_row(r) for r in rows]

    @_retried
    def held(
        self, batch: str, states: Sequence[RecordState] = UNFINISHED_STATES
    ) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        with self._transaction(durable=False) as cur:
            for station, state, n in self._exec(
                cur,
                "SELECT station, state, COUNT(*) FROM records WHERE batch = ? "
                f"AND state IN ({_states(states)}) AND station IS NOT NULL "
                "GROUP BY station, state",
                (batch,),
            ).fetchall():
                out.setdefault(str(station), {})[str(state)] = int(n)
        return out

    def _hand_over(self, cur: Any, batch: str, holder: str, why: str) -> list[str]:
        """Settle ``holder``'s cards and give its unfinished records back (one transaction)."""
        now = utc_now()
        out: list[str] = []
        for row_no, attempt, chip in self._exec(
            cur,
            "SELECT row_no, attempt, chip_serial FROM cards WHERE batch = ? AND station = ? "
            "AND state IN ('personalizing', 'personalized') ORDER BY row_no, attempt",
            (batch, holder),
        ).fetchall():
            reason = f"{why} before this card was verified: put chip {chip or '?'} aside"
            self._exec(
                cur,
                "UPDATE cards SET state = 'spoiled', reason = ?, finished_at = ? "
                "WHERE batch = ? AND row_no = ? AND attempt = ?",
                (reason, now, batch, row_no, attempt),
            )
            out.append(f"record {row_no}: card {attempt} spoiled: {reason}")
        # The images of records not yet written to a card stay on the stopped station: it
        # destroys them when it comes back. The images of spoiled cards stay written.
        self._exec(
            cur,
            "UPDATE images SET state = 'released', reason = ?, finished_at = ? WHERE batch = ? "
            "AND station = ? AND (state = 'signing' OR (state = 'written' AND image_id IN "
            "(SELECT image_id FROM records WHERE batch = ? AND station = ? "
            "AND state = 'prepared')))",
            (f"handed over: {why}", now, batch, holder, batch, holder),
        )
        moved = self._exec(
            cur,
            "UPDATE records SET state = 'pending', station = NULL, image_id = NULL, "
            "sod_digest = NULL, chip_serial = NULL, claimed_at = NULL, prepared_at = NULL, "
            "personalized_at = NULL, reason = ?, updated_at = ? WHERE batch = ? AND "
            f"station = ? AND state IN ({_states(UNFINISHED_STATES)})",
            (f"handed over from station {holder}: {why}", now, batch, holder),
        ).rowcount
        if moved:
            out.append(f"{moved} record(s) of station {holder} handed back: {why}")
        return out

    @_retried
    def take_over(self, batch: str, station: str) -> list[str]:
        now = datetime.now(UTC)
        out: list[str] = []
        with self._transaction() as cur:
            self._serialise_takeover(cur)
            rows = self._exec(
                cur, f"SELECT {_STATION_COLUMNS} FROM stations WHERE batch = ?", (batch,)
            ).fetchall()
            for holder in (_station_row(r) for r in rows):
                if holder.station == station or holder.live(now):
                    continue
                why = (
                    f"station {holder.station} stopped"
                    if holder.stopped_at
                    else f"the lease of station {holder.station} expired "
                    f"(no heartbeat for {holder.heartbeat_age(now):.0f} s)"
                )
                out += self._hand_over(cur, batch, holder.station, why)
        return out

    @_retried
    def release(self, batch: str, station: str, *, force: bool = False) -> list[str]:
        now = datetime.now(UTC)
        with self._transaction() as cur:
            self._serialise_takeover(cur)
            holder = self._station(cur, batch, station)
            if holder is not None and holder.live(now) and not force:
                raise StationBusyError(
                    f"station {station} holds a live lease (last heartbeat "
                    f"{holder.heartbeat_age(now):.0f} s ago on {holder.host}, pid {holder.pid}; "
                    f"it expires at {holder.lease_until.isoformat(timespec='seconds')}): stop it "
                    "first, or give --force if it is gone"
                )
            out = self._hand_over(cur, batch, station, f"station {station} was released")
            if holder is None and not out:
                raise JournalError(
                    f"no station {station} in batch {batch}: `cardkit batch status` lists them"
                )
            self._exec(
                cur,
                "UPDATE stations SET stopped_at = ?, holding = NULL WHERE batch = ? AND "
                "station = ? AND stopped_at IS NULL",
                (utc_now(), batch, station),
            )
        return out

    # --- records --------------------------------------------------------------------------

    @_retried
    def recover(self, batch: str, station: str) -> list[CardRow]:
        now = utc_now()
        reason = "the station stopped before this card was verified (found on restart)"
        with self._transaction() as cur:
            rows = self._exec(
                cur,
                f"SELECT {_CARD_COLUMNS} FROM cards WHERE batch = ? AND station = ? "
                "AND state IN ('personalizing', 'personalized') ORDER BY row_no, attempt",
                (batch, station),
            ).fetchall()
            for r in rows:
                self._exec(
                    cur,
                    "UPDATE cards SET state = 'spoiled', reason = ?, finished_at = ? "
                    "WHERE batch = ? AND row_no = ? AND attempt = ?",
                    (reason, now, batch, r[1], r[2]),
                )
                self._exec(
                    cur,
                    "UPDATE records SET state = 'pending', image_id = NULL, sod_digest = NULL, "
                    "chip_serial = NULL, prepared_at = NULL, personalized_at = NULL, "
                    "updated_at = ? WHERE batch = ? AND row_no = ? "
                    "AND state IN ('personalizing', 'personalized')",
                    (now, batch, r[1]),
                )
        return [
            _card((*r[:7], "spoiled", reason, r[9], now))  # as they are now
            for r in rows
        ]

    @_retried
    def claim(self, batch: str, station: str, *, printing: bool = False) -> RecordRow | None:
        now = utc_now()
        unfinished: tuple[str, ...] = UNFINISHED_STATES
        if printing:
            unfinished += ("verified",)
        with self._transaction(durable=False) as cur:
            # One index seek per state on records_by_station, instead of one query that the
            # planner may answer by walking the primary key in row order (issue 14 §6).
            own = [
                found[0]
                for state in unfinished
                if (
                    found := self._exec(
                        cur,
                        "SELECT MIN(row_no) FROM records WHERE batch = ? AND station = ? "
                        "AND state = ?",
                        (batch, station, state),
                    ).fetchone()
                )
                is not None
                and found[0] is not None
            ]
            row = min(own) if own else self._claim_unclaimed(cur, batch, station, now)
            if row is None:
                return None
            found = self._exec(
                cur,
                f"SELECT {_RECORD_COLUMNS} FROM records WHERE batch = ? AND row_no = ?",
                (batch, row),
            ).fetchone()
        return _record(found)

    def _update_record(
        self,
        cur: Any,
        batch: str,
        row: int,
        sets: str,
        params: Sequence[object],
        *,
        expect: Sequence[RecordState],
        what: str,
        done_if: RecordState | None = None,
        station: str | None = None,
    ) -> None:
        """Move a record from one of ``expect`` on. Finding it in ``done_if`` already is a
        retried transition that was committed (module docstring); finding it with another
        station (given ``station``) means it was handed over."""
        owner = " AND station = ?" if station is not None else ""
        done = self._exec(
            cur,
            f"UPDATE records SET {sets}, updated_at = ? WHERE batch = ? AND row_no = ? "
            f"AND state IN ({_states(expect)}){owner}",
            (*params, utc_now(), batch, row, *(() if station is None else (station,))),
        )
        if done.rowcount == 1:
            return
        found = self._exec(
            cur, "SELECT state, station FROM records WHERE batch = ? AND row_no = ?", (batch, row)
        ).fetchone()
        if found is not None and done_if is not None and found[0] == done_if:
            return
        if found is not None and station is not None and found[1] != station:
            raise HandedOverError(
                f"record {row} was handed over to another station: this station may not mark "
                f"it {what}"
            )
        raise JournalError(f"record {row}: cannot mark it {what} (it is not {' or '.join(expect)})")

    @_retried
    def begin_image(self, batch: str, row: int, station: str, image_id: str) -> bool:
        with self._transaction() as cur:
            rec = self._exec(
                cur,
                "SELECT state, station FROM records WHERE batch = ? AND row_no = ?",
                (batch, row),
            ).fetchone()
            if rec is None or rec[1] != station:
                raise HandedOverError(f"record {row} is not claimed by station {station}")
            if rec[0] != "pending":
                raise JournalError(f"record {row}: cannot sign an image for it (not pending)")
            existing = self._exec(
                cur,
                "SELECT row_no, station, state FROM images WHERE batch = ? AND image_id = ?",
                (batch, image_id),
            ).fetchone()
            if existing is not None:
                # Our own intent, committed by an attempt whose answer was lost, is ours to use.
                return bool(tuple(existing) == (row, station, "signing"))
            self._exec(
                cur,
                f"INSERT INTO images ({_IMAGE_COLUMNS}) VALUES (?, ?, ?, ?, 'signing', NULL, "
                "NULL, ?, NULL)",
                (batch, image_id, row, station, utc_now()),
            )
        return True

    def _image_written(
        self, cur: Any, batch: str, row: int, station: str, image_id: str, sod_digest: str
    ) -> None:
        now = utc_now()
        done = self._exec(
            cur,
            "UPDATE images SET state = 'written', sod_digest = ?, finished_at = ? "
            "WHERE batch = ? AND image_id = ? AND state IN ('signing', 'written')",
            (sod_digest, now, batch, image_id),
        )
        if done.rowcount == 0:  # a caller that journaled no intent (e.g. benchmarks/journal.py)
            self._exec(
                cur,
                f"INSERT INTO images ({_IMAGE_COLUMNS}) VALUES (?, ?, ?, ?, 'written', ?, "
                "NULL, ?, ?) ON CONFLICT DO NOTHING",
                (batch, image_id, row, station, sod_digest, now, now),
            )

    @_retried
    def mark_prepared(
        self,
        batch: str,
        row: int,
        station: str,
        *,
        image_id: str,
        sod_digest: str,
        dsc_serial: str,
    ) -> None:
        with self._transaction(durable=False) as cur:
            found = self._exec(
                cur,
                "SELECT state, station, image_id FROM records WHERE batch = ? AND row_no = ?",
                (batch, row),
            ).fetchone()
            if found is not None and tuple(found) == ("prepared", station, image_id):
                return  # committed by an attempt whose answer was lost
            self._update_record(
                cur,
                batch,
                row,
                "state = 'prepared', image_id = ?, sod_digest = ?, dsc_serial = ?, prepared_at = ?",
                (image_id, sod_digest, dsc_serial, utc_now()),
                expect=("pending",),
                what="prepared",
                station=station,
            )
            self._image_written(cur, batch, row, station, image_id, sod_digest)

    @_retried
    def unsettled_images(self, batch: str, station: str) -> list[ImageRow]:
        with self._transaction(durable=False) as cur:
            rows = self._exec(
                cur,
                f"SELECT {_IMAGE_COLUMNS} FROM images WHERE batch = ? AND station = ? "
                "AND state IN ('signing', 'released') ORDER BY row_no, image_id",
                (batch, station),
            ).fetchall()
        return [_image(r) for r in rows]

    @_retried
    def adopt_image(
        self, batch: str, row: int, station: str, *, image_id: str, sod_digest: str,
        dsc_serial: str,
    ) -> bool:  # fmt: skip
        with self._transaction() as cur:
            image = self._exec(
                cur,
                "SELECT row_no, station, state FROM images WHERE batch = ? AND image_id = ?",
                (batch, image_id),
            ).fetchone()
            rec = self._exec(
                cur,
                "SELECT state, station, image_id FROM records WHERE batch = ? AND row_no = ?",
                (batch, row),
            ).fetchone()
            if image is None or rec is None:
                return False
            if tuple(image) == (row, station, "written") and tuple(rec) == (
                "prepared", station, image_id,
            ):  # fmt: skip
                return True  # committed by an attempt whose answer was lost
            if tuple(image) != (row, station, "signing") or tuple(rec) != (
                "pending", station, None,
            ):  # fmt: skip
                return False
            self._update_record(
                cur,
                batch,
                row,
                "state = 'prepared', image_id = ?, sod_digest = ?, dsc_serial = ?, prepared_at = ?",
                (image_id, sod_digest, dsc_serial, utc_now()),
                expect=("pending",),
                what="prepared",
                station=station,
            )
            self._image_written(cur, batch, row, station, image_id, sod_digest)
        return True

    @_retried
    def destroy_image(self, batch: str, image_id: str, reason: str) -> None:
        with self._transaction() as cur:
            self._exec(
                cur,
                "UPDATE images SET state = 'destroyed', reason = ?, finished_at = ? "
                "WHERE batch = ? AND image_id = ? AND state != 'destroyed'",
                (reason, utc_now(), batch, image_id),
            )

    @_retried
    def images(self, batch: str) -> list[ImageRow]:
        with self._transaction(durable=False) as cur:
            rows = self._exec(
                cur,
                f"SELECT {_IMAGE_COLUMNS} FROM images WHERE batch = ? ORDER BY row_no, "
                "started_at, image_id",
                (batch,),
            ).fetchall()
        return [_image(r) for r in rows]

    @_retried
    def reset_prepared(self, batch: str, row: int, station: str, reason: str) -> None:
        with self._transaction(durable=False) as cur:
            found = self._exec(
                cur,
                "SELECT state, station, image_id FROM records WHERE batch = ? AND row_no = ?",
                (batch, row),
            ).fetchone()
            if found is not None and tuple(found) == ("pending", station, None):
                return  # committed by an attempt whose answer was lost
            self._update_record(
                cur,
                batch,
                row,
                "state = 'pending', image_id = NULL, sod_digest = NULL, prepared_at = NULL, "
                "reason = ?",
                (reason,),
                expect=("prepared",),
                what="pending again",
                station=station,
            )
            if found is not None and found[2] is not None:
                self._exec(
                    cur,
                    "UPDATE images SET state = 'destroyed', reason = ?, finished_at = ? "
                    "WHERE batch = ? AND image_id = ?",
                    (reason, utc_now(), batch, found[2]),
                )

    @_retried
    def chip_used(self, chip_serial: str) -> bool:
        with self._transaction(durable=False) as cur:
            found = self._exec(
                cur, "SELECT 1 FROM cards WHERE chip_serial = ?", (chip_serial,)
            ).fetchone()
        return found is not None

    @_retried
    def begin_card(self, batch: str, row: int, station: str, chip_serial: str | None) -> int:
        now = utc_now()
        try:
            with self._transaction() as cur:
                rec = self._exec(
                    cur,
                    "SELECT attempts, image_id, sod_digest, station, state, chip_serial "
                    "FROM records WHERE batch = ? AND row_no = ?",
                    (batch, row),
                ).fetchone()
                if rec is None:
                    raise JournalError(f"record {row} is not in batch {batch}")
                attempts, image_id, sod_digest, owner, state, serial = rec
                if owner != station:
                    raise HandedOverError(
                        f"record {row} was handed over to another station: not written"
                    )
                if state == "personalizing" and serial == chip_serial:
                    card = self._exec(
                        cur,
                        "SELECT station, state FROM cards WHERE batch = ? AND row_no = ? "
                        "AND attempt = ?",
                        (batch, row, attempts),
                    ).fetchone()
                    if card is not None and tuple(card) == (station, "personalizing"):
                        return int(attempts)  # committed by an attempt whose answer was lost
                if state != "prepared":
                    raise JournalError(f"record {row}: not prepared by station {station}")
                # The check and the insert are one transaction; a concurrent insert of the same
                # chip by another station is refused by the unique index (below).
                if (
                    chip_serial is not None
                    and self._exec(
                        cur, "SELECT 1 FROM cards WHERE chip_serial = ?", (chip_serial,)
                    ).fetchone()
                ):
                    raise ChipUsedError(chip_serial)
                attempt = int(attempts) + 1
                self._exec(
                    cur,
                    f"INSERT INTO cards ({_CARD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, "
                    "'personalizing', NULL, ?, NULL)",
                    (batch, row, attempt, station, image_id, chip_serial, sod_digest, now),
                )
                self._update_record(
                    cur,
                    batch,
                    row,
                    "state = 'personalizing', attempts = ?, chip_serial = ?",
                    (attempt, chip_serial),
                    expect=("prepared",),
                    what="personalizing",
                )
        except _UniqueViolation as exc:
            if exc.constraint == "cards_chip" and chip_serial is not None:
                raise ChipUsedError(chip_serial) from None
            raise JournalError(f"record {row}: {exc}") from None
        return attempt

    def _update_card(
        self, cur: Any, batch: str, row: int, attempt: int, sets: str, params: Sequence[object]
    ) -> None:
        done = self._exec(
            cur,
            f"UPDATE cards SET {sets} WHERE batch = ? AND row_no = ? AND attempt = ? "
            f"AND state IN ({_states(LIVE_CARD_STATES)})",
            (*params, batch, row, attempt),
        )
        if done.rowcount == 1:
            return
        card = self._exec(
            cur,
            "SELECT state, reason FROM cards WHERE batch = ? AND row_no = ? AND attempt = ?",
            (batch, row, attempt),
        ).fetchone()
        if card is not None and card[0] == "spoiled":
            raise HandedOverError(f"record {row}: card {attempt} was spoiled meanwhile ({card[1]})")
        raise JournalError(f"record {row}: card attempt {attempt} is not in progress")

    @_retried
    def mark_personalized(self, batch: str, row: int, attempt: int) -> None:
        now = utc_now()
        with self._transaction(durable=False) as cur:
            self._update_card(cur, batch, row, attempt, "state = 'personalized'", ())
            self._update_record(
                cur,
                batch,
                row,
                "state = 'personalized', personalized_at = ?",
                (now,),
                expect=("personalizing",),
                what="personalized",
                done_if="personalized",
            )

    @_retried
    def mark_verified(self, batch: str, row: int, attempt: int) -> None:
        now = utc_now()
        with self._transaction() as cur:
            self._update_card(
                cur, batch, row, attempt, "state = 'verified', finished_at = ?", (now,)
            )
            self._update_record(
                cur,
                batch,
                row,
                "state = 'verified', verified_at = ?, reason = NULL",
                (now,),
                expect=("personalizing", "personalized"),
                what="verified",
                done_if="verified",
            )

    @_retried
    def spoil(self, batch: str, row: int, attempt: int, reason: str) -> None:
        now = utc_now()
        with self._transaction() as cur:
            card = self._exec(
                cur,
                "SELECT state FROM cards WHERE batch = ? AND row_no = ? AND attempt = ?",
                (batch, row, attempt),
            ).fetchone()
            if card is not None and card[0] == "spoiled":
                return  # spoiled already: by an attempt whose answer was lost, or a hand-over
            self._update_card(
                cur,
                batch,
                row,
                attempt,
                "state = 'spoiled', reason = ?, finished_at = ?",
                (reason, now),
            )
            self._update_record(
                cur,
                batch,
                row,
                "state = 'pending', image_id = NULL, sod_digest = NULL, chip_serial = NULL, "
                "prepared_at = NULL, personalized_at = NULL, reason = ?",
                (f"card {attempt} spoiled: {reason}",),
                expect=("personalizing", "personalized"),
                what="pending after a spoiled card",
            )

    @_retried
    def abandon_card(self, batch: str, row: int, attempt: int) -> None:
        with self._transaction() as cur:
            card = self._exec(
                cur,
                "SELECT state, reason FROM cards WHERE batch = ? AND row_no = ? AND attempt = ?",
                (batch, row, attempt),
            ).fetchone()
            if card is not None and card[0] == "spoiled":
                raise HandedOverError(
                    f"record {row}: card {attempt} was spoiled meanwhile ({card[1]})"
                )
            found = self._exec(
                cur,
                "SELECT state, attempts FROM records WHERE batch = ? AND row_no = ?",
                (batch, row),
            ).fetchone()
            if card is None and found is not None and tuple(found) == ("prepared", attempt - 1):
                return  # committed by an attempt whose answer was lost
            self._exec(
                cur,
                "DELETE FROM cards WHERE batch = ? AND row_no = ? AND attempt = ? "
                "AND state = 'personalizing'",
                (batch, row, attempt),
            )
            self._update_record(
                cur,
                batch,
                row,
                "state = 'prepared', attempts = ?, chip_serial = NULL",
                (attempt - 1,),
                expect=("personalizing",),
                what="prepared again",
            )

    @_retried
    def mark_printed(self, batch: str, row: int, outputs: Sequence[str]) -> None:
        with self._transaction() as cur:
            self._update_record(
                cur,
                batch,
                row,
                "state = 'printed', printed_at = ?, outputs = ?",
                (utc_now(), "; ".join(outputs)),
                expect=("verified",),
                what="printed",
                done_if="printed",
            )

    @_retried
    def records(self, batch: str) -> list[RecordRow]:
        with self._transaction(durable=False) as cur:
            rows = self._exec(
                cur,
                f"SELECT {_RECORD_COLUMNS} FROM records WHERE batch = ? ORDER BY row_no",
                (batch,),
            ).fetchall()
        return [_record(r) for r in rows]

    @_retried
    def cards(self, batch: str) -> list[CardRow]:
        with self._transaction(durable=False) as cur:
            rows = self._exec(
                cur,
                f"SELECT {_CARD_COLUMNS} FROM cards WHERE batch = ? ORDER BY row_no, attempt",
                (batch,),
            ).fetchall()
        return [_card(r) for r in rows]

    @_retried
    def counts(self, batch: str) -> dict[str, int]:
        out = dict.fromkeys((*RECORD_STATES, "spoiled"), 0)
        with self._transaction(durable=False) as cur:
            # Both answered from an index (records_by_state, cards_by_state) without the rows.
            for state, n in self._exec(
                cur, "SELECT state, COUNT(*) FROM records WHERE batch = ? GROUP BY state", (batch,)
            ).fetchall():
                out[str(state)] = int(n)
            spoiled = self._exec(
                cur, "SELECT COUNT(*) FROM cards WHERE batch = ? AND state = 'spoiled'", (batch,)
            ).fetchone()
        out["spoiled"] = int(spoiled[0])
        return out


def _record(r: Sequence[Any]) -> RecordRow:
    return RecordRow(
        batch=str(r[0]),
        row=int(r[1]),
        card_id=str(r[2]),
        document_number=r[3],
        state=cast(RecordState, r[4]),
        station=r[5],
        attempts=int(r[6]),
        image_id=r[7],
        sod_digest=r[8],
        dsc_serial=r[9],
        chip_serial=r[10],
        reason=r[11],
        outputs=r[12],
        created_at=str(r[13]),
        updated_at=str(r[14]),
        claimed_at=r[15],
        prepared_at=r[16],
        personalized_at=r[17],
        verified_at=r[18],
        printed_at=r[19],
    )


def _card(r: Sequence[Any]) -> CardRow:
    return CardRow(
        batch=str(r[0]),
        row=int(r[1]),
        attempt=int(r[2]),
        station=str(r[3]),
        image_id=str(r[4]),
        chip_serial=r[5],
        sod_digest=str(r[6]),
        state=cast(CardState, r[7]),
        reason=r[8],
        started_at=str(r[9]),
        finished_at=r[10],
    )


def _image(r: Sequence[Any]) -> ImageRow:
    return ImageRow(
        batch=str(r[0]),
        image_id=str(r[1]),
        row=int(r[2]),
        station=str(r[3]),
        state=cast(ImageState, r[4]),
        sod_digest=r[5],
        reason=r[6],
        started_at=str(r[7]),
        finished_at=r[8],
    )


def _station_row(r: Sequence[Any]) -> StationRow:
    return StationRow(
        batch=str(r[0]),
        station=str(r[1]),
        host=str(r[2]),
        pid=int(r[3]),
        lease_seconds=float(r[4]),
        started_at=str(r[5]),
        heartbeat_at=str(r[6]),
        stopped_at=r[7],
        holding=r[8],
    )


# SQLite names the columns of the index that refused a row ("UNIQUE constraint failed: …").
_SQLITE_UNIQUE = {"cards.chip_serial": "cards_chip", "cards.batch, cards.row_no": "cards_live"}


class SqliteJournal(_SqlJournal):
    """The default journal: one SQLite file (WAL, ``synchronous=FULL``). Stations on the same
    machine may share it; claims are serialised by ``BEGIN IMMEDIATE``."""

    def __init__(self, path: Path, *, busy_timeout: float = 30.0) -> None:
        super().__init__(f"sqlite:///{path}")
        self.path = path
        self._busy_timeout = busy_timeout
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # isolation_level=None: we issue BEGIN IMMEDIATE / COMMIT ourselves.
            self._db = sqlite3.connect(str(path), timeout=busy_timeout, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._durable = True
            self._db.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as exc:
            raise JournalError(f"cannot open the journal {path}: {exc}") from None
        self._create_schema()

    def reopen(self, *, unreachable_timeout: float | None = None) -> SqliteJournal:
        return SqliteJournal(self.path, busy_timeout=self._busy_timeout)

    @contextlib.contextmanager
    def _transaction(self, durable: bool = True) -> Iterator[sqlite3.Cursor]:
        cur = self._db.cursor()
        try:
            if durable != self._durable:  # only outside a transaction (module docstring)
                cur.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
                self._durable = durable
            # The write lock is taken up front: two stations never interleave a claim.
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")
        except sqlite3.IntegrityError as exc:
            text = str(exc)
            if text.startswith("UNIQUE constraint failed: "):
                columns = text.removeprefix("UNIQUE constraint failed: ")
                raise _UniqueViolation(
                    f"journal {self.path}: {text}", _SQLITE_UNIQUE.get(columns, columns)
                ) from None
            raise JournalError(f"journal {self.path}: {exc}") from None
        except sqlite3.Error as exc:
            raise JournalError(f"journal {self.path}: {exc}") from None
        finally:
            cur.close()

    def _claim_unclaimed(self, cursor: Any, batch: str, station: str, now: str) -> int | None:
        found = self._exec(
            cursor,
            "SELECT row_no FROM records WHERE batch = ? AND state = 'pending' "
            "AND station IS NULL ORDER BY row_no LIMIT 1",
            (batch,),
        ).fetchone()
        if found is None:
            return None
        self._exec(
            cursor,
            "UPDATE records SET station = ?, claimed_at = ?, updated_at = ? "
            "WHERE batch = ? AND row_no = ? AND station IS NULL",
            (station, now, now, batch, found[0]),
        )
        return int(found[0])

    def close(self) -> None:
        self._db.close()


# SQLSTATEs of a server that is going away or not there yet (PostgreSQL appendix A: class 08
# "connection exception", 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now).
_PG_UNREACHABLE = ("57P01", "57P02", "57P03")


class PostgresJournal(_SqlJournal):
    """A journal several stations share: claims with ``SELECT … FOR UPDATE SKIP LOCKED``. A
    lost connection is opened again at the next transaction (module docstring)."""

    placeholder = "%s"

    def __init__(
        self,
        url: str,
        *,
        connect_timeout: float = 10.0,
        unreachable_timeout: float = UNREACHABLE_TIMEOUT,
        on_unreachable: Callable[[int, str | None], None] | None = None,
    ) -> None:
        super().__init__(
            _redact_url(url),
            unreachable_timeout=unreachable_timeout,
            on_unreachable=on_unreachable,
        )
        try:
            import psycopg
        except ImportError:  # pragma: no cover - psycopg is a dependency
            raise JournalError(
                "a postgresql:// journal needs psycopg (pip install psycopg)"
            ) from None
        self._psycopg = psycopg
        self._connect_url = url  # with its password: never shown (self.url is redacted)
        self._connect_timeout = connect_timeout
        deadline = time.monotonic() + connect_timeout
        while True:
            try:
                self._db = self._connect()
                break
            except psycopg.OperationalError as exc:
                if time.monotonic() >= deadline:
                    raise JournalUnavailableError(
                        f"cannot reach the journal {self.url}: {_first_line(exc)}"
                    ) from None
                time.sleep(0.2)
        self._create_schema()

    def _connect(self) -> Any:
        return self._psycopg.connect(
            self._connect_url, connect_timeout=max(1, int(min(self._connect_timeout, 10)))
        )

    def reopen(self, *, unreachable_timeout: float | None = None) -> PostgresJournal:
        return PostgresJournal(
            self._connect_url,
            connect_timeout=self._connect_timeout,
            unreachable_timeout=(
                self.unreachable_timeout if unreachable_timeout is None else unreachable_timeout
            ),
        )

    def _lost(self, exc: BaseException) -> bool:
        psycopg = self._psycopg
        if not isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
            return False
        sqlstate = getattr(exc, "sqlstate", None)
        return bool(
            self._db.closed
            or getattr(self._db, "broken", False)
            or sqlstate is None
            or sqlstate.startswith("08")
            or sqlstate in _PG_UNREACHABLE
        )

    @contextlib.contextmanager
    def _transaction(self, durable: bool = True) -> Iterator[Any]:
        psycopg = self._psycopg
        if self._db.closed:  # lost earlier: connect again
            try:
                self._db = self._connect()
            except psycopg.OperationalError as exc:
                raise JournalUnreachableError(_first_line(exc)) from None
        try:
            with self._db.transaction(), self._db.cursor() as cur:
                if not durable:  # module docstring: WAL order keeps this safe
                    cur.execute("SET LOCAL synchronous_commit = off")
                yield cur
        except psycopg.errors.UniqueViolation as exc:
            raise _UniqueViolation(
                f"journal {self.url}: {_first_line(exc)}", exc.diag.constraint_name or ""
            ) from None
        except psycopg.Error as exc:
            if self._lost(exc):
                with contextlib.suppress(Exception):
                    self._db.close()
                raise JournalUnreachableError(_first_line(exc)) from None
            if getattr(exc, "sqlstate", None) in ("40P01", "40001"):
                raise TransientJournalError(f"journal {self.url}: {_first_line(exc)}") from None
            raise JournalError(f"journal {self.url}: {_first_line(exc)}") from None

    @_retried
    def _create_schema(self) -> None:
        # A station that joins a running line must not run DDL: CREATE INDEX ... IF NOT EXISTS
        # still takes a SHARE lock on its table first, and one on `records` held while waiting
        # for `cards` deadlocks with a station that holds `cards` (INSERT) and waits for
        # `records` (UPDATE). The schema is created in one transaction, so its last index
        # existing means all of it does (a journal of an older cardkit gets the new tables and
        # indexes once, from the first station of the new version).
        with self._transaction() as cur:
            found = cur.execute("SELECT to_regclass(%s)", (SCHEMA_SENTINEL,)).fetchone()
            if found is not None and found[0] is not None:
                return
        # Several stations may start at once on an empty database: serialise CREATE ... IF NOT
        # EXISTS (which races on PostgreSQL's catalogues) with a transaction-level advisory lock.
        with self._transaction() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(7348201)")
            for statement in SCHEMA:
                cur.execute(statement)

    def _serialise_load(self, cursor: Any) -> None:
        # Concurrent inserts of the same keys by several stations can deadlock on the unique
        # indexes: one station loads at a time (a transaction-level advisory lock).
        cursor.execute("SELECT pg_advisory_xact_lock(7348202)")

    def _serialise_takeover(self, cursor: Any) -> None:
        # Two stations taking over the same stopped station's records would update the same
        # rows in different orders (deadlocks): one at a time.
        cursor.execute("SELECT pg_advisory_xact_lock(7348203)")

    def _claim_unclaimed(self, cursor: Any, batch: str, station: str, now: str) -> int | None:
        # SKIP LOCKED: a row another station is claiming right now is passed over, not waited
        # for; the UPDATE happens in the same transaction, so the claim is atomic.
        found = cursor.execute(
            "SELECT row_no FROM records WHERE batch = %s AND state = 'pending' "
            "AND station IS NULL ORDER BY row_no LIMIT 1 FOR UPDATE SKIP LOCKED",
            (batch,),
        ).fetchone()
        if found is None:
            return None
        cursor.execute(
            "UPDATE records SET station = %s, claimed_at = %s, updated_at = %s "
            "WHERE batch = %s AND row_no = %s",
            (station, now, now, batch, found[0]),
        )
        return int(found[0])

    def close(self) -> None:
        self._db.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _redact_url(url: str) -> str:
    """The URL without its password (it is shown in messages and reports)."""
    parsed = urlparse(url)
    if parsed.password is None:
        return url
    netloc = parsed.netloc.replace(f":{parsed.password}@", ":***@")
    return parsed._replace(netloc=netloc).geturl()


def open_journal(
    url_or_path: str | Path,
    *,
    unreachable_timeout: float = UNREACHABLE_TIMEOUT,
    on_unreachable: Callable[[int, str | None], None] | None = None,
    connect_timeout: float = 10.0,
) -> Journal:
    """``postgresql://…`` (or ``postgres://``) → :class:`PostgresJournal`; ``sqlite:///PATH``
    or a plain path → :class:`SqliteJournal`. ``unreachable_timeout`` / ``on_unreachable``:
    how long a lost database is retried, and who is told (PostgreSQL)."""
    text = str(url_or_path)
    if text.startswith(("postgresql://", "postgres://")):
        return PostgresJournal(
            text,
            connect_timeout=connect_timeout,
            unreachable_timeout=unreachable_timeout,
            on_unreachable=on_unreachable,
        )
    if text.startswith("sqlite:///"):
        return SqliteJournal(Path(unquote(text[len("sqlite:///") :])))
    if "://" in text:
        raise JournalError("journal URL: use postgresql://... or sqlite:///PATH or a file path")
    return SqliteJournal(Path(text))
