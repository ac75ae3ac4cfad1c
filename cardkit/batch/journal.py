"""The batch journal: where every record of a production batch is, committed before each step.

Two tables (the same schema on SQLite and PostgreSQL):

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

**Claims.** A station takes the next unclaimed pending record in one short transaction: on
PostgreSQL ``SELECT … FOR UPDATE SKIP LOCKED`` (stations never wait for each other and never see
the same row), on SQLite under ``BEGIN IMMEDIATE`` (the database's write lock). The record then
belongs to that station (``station``) until it is issued: a station that restarts with the same
id resumes its own records, and no other station touches them.

**Personal data.** The journal keeps the MRZ document number (the 9 digits printed on the card)
because the operator needs it to match a card, an envelope and a spoiled card to destroy, and
nothing else about the person: no name, dates, ID number, MRZ or CAN. Rejection reasons name the
field and the rule, never the value. Chip serials, DSC serials, station ids, the EF.SOD digest of
each card and UTC timestamps (ISO 8601 text) complete the picture.

**Durability.** Every transition is its own committed transaction before the caller goes on, so
a killed process (kill -9) loses nothing. Against a power cut, the transitions that decide what
happens to a physical card are flushed to disk before the call returns (SQLite WAL with
``synchronous=FULL``; PostgreSQL ``synchronous_commit=on``): ``begin_card`` (before the first
byte is written to a chip), ``mark_verified``, ``spoil``, ``abandon_card``, ``mark_printed`` and
``recover``. The others (``load``, ``claim``, ``mark_prepared``, ``mark_personalized``,
``reset_prepared``) are committed without waiting for the disk (``synchronous=NORMAL`` /
``synchronous_commit=off``): both databases write their log in order, so a power cut can only
lose the *latest* of them, never one before a flushed transition, and losing one is harmless —
a lost claim or "prepared" makes the record be prepared again (an orphan card image is never
reused), a lost "personalized" leaves "personalizing", which is spoiled on restart exactly
like "personalized". This halves the fsyncs per card (the benchmark's journal share).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import random
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar, cast, get_args
from urllib.parse import unquote, urlparse

from cardkit.errors import CardkitError

__all__ = [
    "LIVE_CARD_STATES",
    "RECORD_STATES",
    "BatchInfo",
    "CardRow",
    "CardState",
    "Journal",
    "JournalError",
    "NewRecord",
    "PostgresJournal",
    "RecordRow",
    "RecordState",
    "SqliteJournal",
    "open_journal",
]

RecordState = Literal[
    "rejected", "pending", "prepared", "personalizing", "personalized", "verified", "printed"
]
CardState = Literal["personalizing", "personalized", "verified", "spoiled"]
RECORD_STATES: tuple[RecordState, ...] = get_args(RecordState)
CARD_STATES: tuple[CardState, ...] = get_args(CardState)
LIVE_CARD_STATES: tuple[CardState, ...] = ("personalizing", "personalized", "verified")
DONE_STATES: tuple[RecordState, ...] = ("rejected", "verified", "printed")


class JournalError(CardkitError):
    """The journal cannot be opened, is inconsistent, or a transition is not allowed."""


class TransientJournalError(JournalError):
    """The database aborted a transaction that may simply be run again: a deadlock between
    stations (PostgreSQL SQLSTATE 40P01) or a serialization failure (40001). PostgreSQL's
    manual (§13.2, "Transaction Isolation") asks applications to retry such transactions."""


#: How often a journal operation is tried when the database aborts it as transient.
TRANSIENT_ATTEMPTS = 10
_F = TypeVar("_F", bound=Callable[..., Any])


def _retried(operation: _F) -> _F:
    """Run ``operation`` (one whole transaction) again when the database aborted it as
    transient; its effects were rolled back, so a retry cannot apply anything twice."""

    @functools.wraps(operation)
    def run(*args: Any, **kwargs: Any) -> Any:
        for attempt in range(1, TRANSIENT_ATTEMPTS + 1):
            try:
                return operation(*args, **kwargs)
            except TransientJournalError as exc:
                if attempt == TRANSIENT_ATTEMPTS:
                    raise
                logging.getLogger(__name__).debug(
                    "%s: %s; trying again (%d)", operation.__name__, exc, attempt
                )
                # Back off, with jitter, so that the stations do not collide again: 20 ms
                # doubling to at most 1 s (about 5 s in all before giving up).
                time.sleep(min(1.0, 0.01 * 2**attempt) * (1 + random.random()))
        raise AssertionError("unreachable")

    return cast(_F, run)


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


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


_RECORD_COLUMNS = (
    "batch, row_no, card_id, document_number, state, station, attempts, image_id, sod_digest, "
    "dsc_serial, chip_serial, reason, outputs, created_at, updated_at, claimed_at, prepared_at, "
    "personalized_at, verified_at, printed_at"
)
_CARD_COLUMNS = (
    "batch, row_no, attempt, station, image_id, chip_serial, sod_digest, state, reason, "
    "started_at, finished_at"
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
)


class Journal(Protocol):
    """What the batch runner, ``cardkit batch status`` and ``report`` need of a journal. Every
    method that changes something commits before it returns."""

    @property
    def url(self) -> str: ...

    def load(self, info: BatchInfo, records: Sequence[NewRecord]) -> int:
        """Register the batch and its records unless already there (several stations may load
        the same file at once); returns how many records were new."""
        ...

    def batches(self) -> list[BatchInfo]: ...

    def recover(self, batch: str, station: str) -> list[CardRow]:
        """After a crash: spoil this station's cards that were being written or not yet
        verified (their records go back to pending); returns the cards spoiled."""
        ...

    def claim(self, batch: str, station: str, *, printing: bool = False) -> RecordRow | None:
        """This station's own unfinished record (lowest row) if any, else the next unclaimed
        pending record, now claimed; None when nothing is left for this station. With
        ``printing``, a verified record is unfinished until printed."""
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

    def reset_prepared(self, batch: str, row: int, station: str, reason: str) -> None:
        """A prepared record whose card image is gone goes back to pending."""
        ...

    def chip_used(self, chip_serial: str) -> bool: ...

    def begin_card(self, batch: str, row: int, station: str, chip_serial: str | None) -> int:
        """Committed before the first byte is written to the card: returns the attempt."""
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

    def __init__(self, url: str) -> None:
        self._url = url

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

    # --- the protocol -----------------------------------------------------------------------

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
        unfinished: tuple[str, ...] = ("pending", "prepared", "personalizing", "personalized")
        if printing:
            unfinished += ("verified",)
        with self._transaction(durable=False) as cur:
            own = self._exec(
                cur,
                "SELECT row_no FROM records WHERE batch = ? AND station = ? "
                f"AND state IN ({_states(unfinished)}) ORDER BY row_no LIMIT 1",
                (batch, station),
            ).fetchone()
            row = own[0] if own is not None else self._claim_unclaimed(cur, batch, station, now)
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
    ) -> None:
        done = self._exec(
            cur,
            f"UPDATE records SET {sets}, updated_at = ? WHERE batch = ? AND row_no = ? "
            f"AND state IN ({_states(expect)})",
            (*params, utc_now(), batch, row),
        )
        if done.rowcount != 1:
            raise JournalError(
                f"record {row}: cannot mark it {what} (it is not {' or '.join(expect)})"
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
            self._update_record(
                cur,
                batch,
                row,
                "state = 'prepared', image_id = ?, sod_digest = ?, dsc_serial = ?, "
                "prepared_at = ?, station = ?",
                (image_id, sod_digest, dsc_serial, utc_now(), station),
                expect=("pending",),
                what="prepared",
            )

    @_retried
    def reset_prepared(self, batch: str, row: int, station: str, reason: str) -> None:
        with self._transaction(durable=False) as cur:
            self._update_record(
                cur,
                batch,
                row,
                "state = 'pending', image_id = NULL, sod_digest = NULL, prepared_at = NULL, "
                "reason = ?",
                (reason,),
                expect=("prepared",),
                what="pending again",
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
        with self._transaction() as cur:
            rec = self._exec(
                cur,
                "SELECT attempts, image_id, sod_digest, station FROM records "
                "WHERE batch = ? AND row_no = ? AND state = 'prepared'",
                (batch, row),
            ).fetchone()
            if rec is None or rec[3] != station:
                raise JournalError(f"record {row}: not prepared by station {station}")
            attempt = int(rec[0]) + 1
            self._exec(
                cur,
                f"INSERT INTO cards ({_CARD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, "
                "'personalizing', NULL, ?, NULL)",
                (batch, row, attempt, station, rec[1], chip_serial, rec[2], now),
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
        if done.rowcount != 1:
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
            )

    @_retried
    def spoil(self, batch: str, row: int, attempt: int, reason: str) -> None:
        now = utc_now()
        with self._transaction() as cur:
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


class SqliteJournal(_SqlJournal):
    """The default journal: one SQLite file (WAL, ``synchronous=FULL``). Stations on the same
    machine may share it; claims are serialised by ``BEGIN IMMEDIATE``."""

    def __init__(self, path: Path, *, busy_timeout: float = 30.0) -> None:
        super().__init__(f"sqlite:///{path}")
        self.path = path
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


class PostgresJournal(_SqlJournal):
    """A journal several stations share: claims with ``SELECT … FOR UPDATE SKIP LOCKED``."""

    placeholder = "%s"

    def __init__(self, url: str, *, connect_timeout: float = 10.0) -> None:
        super().__init__(_redact_url(url))
        try:
            import psycopg
        except ImportError:  # pragma: no cover - psycopg is a dependency
            raise JournalError(
                "a postgresql:// journal needs psycopg (pip install psycopg)"
            ) from None
        self._psycopg = psycopg
        deadline = time.monotonic() + connect_timeout
        while True:
            try:
                self._db = psycopg.connect(url, connect_timeout=max(1, int(connect_timeout)))
                break
            except psycopg.OperationalError as exc:
                if time.monotonic() >= deadline:
                    raise JournalError(
                        f"cannot reach the journal {self.url}: {_first_line(exc)}"
                    ) from None
                time.sleep(0.2)
        self._create_schema()

    @contextlib.contextmanager
    def _transaction(self, durable: bool = True) -> Iterator[Any]:
        try:
            with self._db.transaction(), self._db.cursor() as cur:
                if not durable:  # module docstring: WAL order keeps this safe
                    cur.execute("SET LOCAL synchronous_commit = off")
                yield cur
        except self._psycopg.Error as exc:
            if getattr(exc, "sqlstate", None) in ("40P01", "40001"):
                raise TransientJournalError(f"journal {self.url}: {_first_line(exc)}") from None
            raise JournalError(f"journal {self.url}: {_first_line(exc)}") from None

    @_retried
    def _create_schema(self) -> None:
        # A station that joins a running line must not run DDL: CREATE INDEX ... IF NOT EXISTS
        # still takes a SHARE lock on its table first, and one on `records` held while waiting
        # for `cards` deadlocks with a station that holds `cards` (INSERT) and waits for
        # `records` (UPDATE). The schema is created in one transaction, so its last index
        # existing means all of it does.
        with self._transaction() as cur:
            found = cur.execute("SELECT to_regclass('cards_live')").fetchone()
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


def open_journal(url_or_path: str | Path) -> Journal:
    """``postgresql://…`` (or ``postgres://``) → :class:`PostgresJournal`; ``sqlite:///PATH``
    or a plain path → :class:`SqliteJournal`."""
    text = str(url_or_path)
    if text.startswith(("postgresql://", "postgres://")):
        return PostgresJournal(text)
    if text.startswith("sqlite:///"):
        return SqliteJournal(Path(unquote(text[len("sqlite:///") :])))
    if "://" in text:
        raise JournalError("journal URL: use postgresql://... or sqlite:///PATH or a file path")
    return SqliteJournal(Path(text))
