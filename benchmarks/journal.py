"""What the batch journal costs per card as the batch grows, and ``batch report`` at scale
(``python benchmarks/journal.py``; ``--help`` for the options).

For each journal (SQLite in a folder on disk, WAL, ``synchronous=FULL`` as stations run it;
PostgreSQL on a throwaway local server started with ``tests/integration/postgres.py``, or the
server of ``--postgres URL``) and each size N (default 1,000, 10,000 and 100,000 records):

1. N synthetic records are loaded in bulk: ``Journal.load`` (one in 50 rejected with a reason),
   then all but the last ``cards × repeat`` valid records are brought to ``printed`` with a
   verified card each (one in 10 also with a spoiled card before it) by three SQL statements,
   as though the batch had run that far on two stations;
2. one station then runs ``--cards`` cards per run through the journal exactly as
   :mod:`cardkit.batch.runner` calls it for a card that is prepared, written, verified and
   printed: ``claim`` → ``begin_image`` (when the journal has it: the intent journaled before
   the signature) → ``mark_prepared`` → ``counts`` (the "prepared" event) → ``chip_used``
   → ``begin_card`` → ``mark_personalized`` → ``mark_verified`` → ``counts`` ("verified") →
   ``mark_printed`` → ``counts`` ("printed"). Nothing else is timed (no card, no signature);
3. the per-card cost (the mean of a run) is printed min–median–max over ``--repeat`` runs, with
   the median of each call, so it shows which query grows with N.

Then ``batch report`` at the largest size (``--report-size``, default 100,000: a journal
populated the same way, every record done): what the command does — open the journal, read the
batch (``cardkit.batch.report.collect``: its records and cards), render and write the file —
for CSV and HTML, min–median–max over ``--repeat`` runs.

The benchmark asserts nothing. Figures depend on the disk (SQLite fsyncs three transitions per
card) and on whatever else runs on the machine: see benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

from cardkit.batch.journal import BatchInfo, Journal, NewRecord, open_journal
from cardkit.batch.report import collect, write_report

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_HELPER = ROOT / "tests" / "integration" / "postgres.py"
STATION = "bench"
OPS = (
    "claim", "begin_image", "mark_prepared", "chip_used", "begin_card", "mark_personalized",
    "mark_verified", "mark_printed", "counts",
)  # fmt: skip
_T = TypeVar("_T")
REJECTED = "sex: sex must be M or F [sex.value]"


# --- the journals --------------------------------------------------------------------------


@dataclass
class Backend:
    """One kind of journal: ``fresh(name)`` gives the URL of an empty journal."""

    name: str
    fresh: Callable[[str], str]
    placeholder: str

    def raw(self, url: str) -> Any:
        """A plain DB-API connection to the journal's database (for the bulk statements)."""
        if url.startswith("postgresql://"):
            import psycopg

            return psycopg.connect(url)
        return sqlite3.connect(url.removeprefix("sqlite:///"))


def load_postgres_helper() -> ModuleType:
    """tests/integration/postgres.py, imported by path: cardkit itself carries no test helpers."""
    spec = importlib.util.spec_from_file_location("cardkit_bench_postgres", POSTGRES_HELPER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@contextmanager
def sqlite_backend(folder: Path) -> Iterator[Backend]:
    def fresh(name: str) -> str:
        path = folder / f"{name}.sqlite"
        for old in folder.glob(f"{name}.sqlite*"):
            old.unlink()
        return f"sqlite:///{path}"

    yield Backend("sqlite", fresh, "?")


@contextmanager
def postgres_backend(url: str | None) -> Iterator[Backend | str]:
    """The server of ``url`` (it must allow CREATE DATABASE), else a throwaway local one."""
    server = None
    if url is None:
        helper = load_postgres_helper()
        reason = helper.missing_reason()
        if reason is not None:
            yield reason
            return
        server = helper.start()
        url = server.url
    import psycopg

    admin = url

    def fresh(name: str) -> str:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return admin.rsplit("/", 1)[0] + f"/{name}"

    try:
        yield Backend("postgresql", fresh, "%s")
    finally:
        if server is not None:
            server.stop()


# --- a synthetic batch ---------------------------------------------------------------------


def populate(backend: Backend, url: str, n: int, tail: int) -> tuple[str, float]:
    """Load ``n`` records (1 in 50 rejected) and bring all but the last ``tail`` valid ones to
    ``printed``; returns the batch id and the seconds it took."""
    started = time.perf_counter()
    batch = f"bench-{n}"
    info = BatchInfo(batch, f"{batch}.csv", "ab" * 32, "vn-cccd-2021", n)
    records = [
        NewRecord(row, f"{batch}-{row:06d}", "rejected", reason=REJECTED)
        if row % 50 == 0
        else NewRecord(row, f"{batch}-{row:06d}", "pending", document_number=f"{row:09d}")
        for row in range(2, n + 2)
    ]  # fmt: skip
    journal = open_journal(url)
    try:
        journal.load(info, records)
    finally:
        journal.close()
    valid = [r.row for r in records if r.state == "pending"]
    last_done = valid[-tail - 1] if tail < len(valid) else 0
    at = datetime.now(UTC).isoformat(timespec="milliseconds")
    p = backend.placeholder
    m = "%%" if p == "%s" else "%"  # the modulo operator, escaped for psycopg's placeholders
    statements: list[tuple[str, tuple[object, ...]]] = [
        (
            "UPDATE records SET state = 'printed', "
            f"station = CASE WHEN row_no {m} 4 = 0 THEN 'line-b' ELSE 'line-a' END, "
            f"attempts = CASE WHEN row_no {m} 10 = 0 THEN 2 ELSE 1 END, image_id = card_id, "
            "sod_digest = 'ab', dsc_serial = '1F', chip_serial = 'SYN-' || row_no, "
            "outputs = 'printed/' || card_id || '/front.pdf; printed/' || card_id || '/back.pdf', "
            f"claimed_at = {p}, prepared_at = {p}, personalized_at = {p}, verified_at = {p}, "
            f"printed_at = {p}, updated_at = {p} "
            f"WHERE batch = {p} AND state = 'pending' AND row_no <= {p}",
            (at, at, at, at, at, at, batch, last_done),
        ),
        (
            "INSERT INTO cards (batch, row_no, attempt, station, image_id, chip_serial, "
            "sod_digest, state, reason, started_at, finished_at) "
            "SELECT batch, row_no, 1, station, image_id, 'SPOILED-' || row_no, sod_digest, "
            f"'spoiled', 'torn at step 22 (lock)', {p}, {p} FROM records "
            f"WHERE batch = {p} AND state = 'printed' AND row_no {m} 10 = 0",
            (at, at, batch),
        ),
        (
            "INSERT INTO cards (batch, row_no, attempt, station, image_id, chip_serial, "
            "sod_digest, state, reason, started_at, finished_at) "
            "SELECT batch, row_no, attempts, station, image_id, chip_serial, sod_digest, "
            f"'verified', NULL, {p}, {p} FROM records WHERE batch = {p} AND state = 'printed'",
            (at, at, batch),
        ),
    ]
    with closing(backend.raw(url)) as conn:
        cur = conn.cursor()
        if has_table(backend, cur, "images"):  # every signature has its image row (issue 14 §1)
            statements.append(
                (
                    "INSERT INTO images (batch, image_id, row_no, station, state, sod_digest, "
                    f"reason, started_at, finished_at) SELECT batch, image_id, row_no, station, "
                    f"'written', sod_digest, NULL, {p}, {p} FROM records "
                    f"WHERE batch = {p} AND state = 'printed'",
                    (at, at, batch),
                )
            )
        for sql, params in statements:
            cur.execute(sql, params)
        conn.commit()
        if backend.name == "postgresql":
            conn.autocommit = True
            conn.execute("VACUUM ANALYZE")  # as autovacuum would soon after a bulk load
        else:
            conn.execute("ANALYZE")
    return batch, time.perf_counter() - started


def has_table(backend: Backend, cur: Any, name: str) -> bool:
    if backend.name == "postgresql":
        cur.execute("SELECT to_regclass(%s)", (name,))
    else:
        cur.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?", (name,))
    found = cur.fetchone()
    return found is not None and found[0] is not None


# --- the per-card journal cost ---------------------------------------------------------------


def timed(times: dict[str, float], op: str, fn: Callable[..., _T], *args: Any, **kw: Any) -> _T:
    start = time.perf_counter()
    try:
        return fn(*args, **kw)
    finally:
        times[op] = times.get(op, 0.0) + time.perf_counter() - start


def one_card(journal: Journal, batch: str, serial: str) -> dict[str, float]:
    """The journal calls of one card, as the runner makes them (module docstring)."""
    t: dict[str, float] = {}
    rec = timed(t, "claim", journal.claim, batch, STATION, printing=True)
    if rec is None or rec.state != "pending":
        raise SystemExit(f"benchmark: no pending record left for the station ({rec})")
    begin_image = getattr(journal, "begin_image", None)  # the journal of issue 14 §1 on
    if begin_image is not None:  # the intent is journaled before the signature
        timed(t, "begin_image", begin_image, batch, rec.row, STATION, rec.card_id)
    timed(t, "mark_prepared", journal.mark_prepared, batch, rec.row, STATION,
          image_id=rec.card_id, sod_digest="cd", dsc_serial="1F")  # fmt: skip
    timed(t, "counts", journal.counts, batch)
    timed(t, "chip_used", journal.chip_used, serial)
    attempt = timed(t, "begin_card", journal.begin_card, batch, rec.row, STATION, serial)
    timed(t, "mark_personalized", journal.mark_personalized, batch, rec.row, attempt)
    timed(t, "mark_verified", journal.mark_verified, batch, rec.row, attempt)
    timed(t, "counts", journal.counts, batch)
    timed(t, "mark_printed", journal.mark_printed, batch, rec.row,
          [f"printed/{rec.card_id}/front.pdf", f"printed/{rec.card_id}/back.pdf"])  # fmt: skip
    timed(t, "counts", journal.counts, batch)
    return t


@dataclass
class CardFigures:
    per_card: list[float]  # seconds, the mean of each run
    per_op: dict[str, float]  # seconds per card, median over every card of every run
    load_seconds: float


def measure_cards(backend: Backend, n: int, cards: int, repeat: int) -> CardFigures:
    url = backend.fresh(f"cardkit_bench_{n}")
    batch, load_seconds = populate(backend, url, n, cards * repeat)
    journal = open_journal(url)
    per_card: list[float] = []
    ops: dict[str, list[float]] = defaultdict(list)
    try:
        for run in range(repeat):
            started = time.perf_counter()
            for i in range(cards):
                for op, seconds in one_card(journal, batch, f"BENCH-{n}-{run}-{i}").items():
                    ops[op].append(seconds)
            per_card.append((time.perf_counter() - started) / cards)
    finally:
        journal.close()
    return CardFigures(per_card, {op: statistics.median(v) for op, v in ops.items()}, load_seconds)


# --- batch report ----------------------------------------------------------------------------


def measure_report(backend: Backend, n: int, repeat: int, folder: Path) -> dict[str, list[float]]:
    url = backend.fresh(f"cardkit_bench_report_{n}")
    batch, _ = populate(backend, url, n, 0)
    out: dict[str, list[float]] = defaultdict(list)
    for _ in range(repeat):
        for suffix in ("csv", "html"):
            started = time.perf_counter()
            journal = open_journal(url)  # what `cardkit batch report` does, without click
            try:
                report = collect(journal, batch)
            finally:
                journal.close()
            read = time.perf_counter()
            write_report(report, folder / f"report-{n}.{suffix}")
            done = time.perf_counter()
            out[suffix].append(done - started)
            out[f"{suffix}: reading the journal"].append(read - started)
    return out


# --- output ----------------------------------------------------------------------------------


def spread(values: Sequence[float], scale: float = 1000.0) -> str:
    return (
        f"{min(values) * scale:7.2f} {statistics.median(values) * scale:7.2f} "
        f"{max(values) * scale:7.2f}"
    )


def describe_code() -> str:
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, check=True, timeout=10,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", "cardkit"],
            capture_output=True, text=True, check=True, timeout=10,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return "commit unknown"
    return f"commit {head}" + (" + uncommitted changes in cardkit/" if dirty else "")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="1000,10000,100000", help="records per batch")
    parser.add_argument("--cards", type=int, default=100, help="cards timed per run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure")
    parser.add_argument("--report-size", type=int, default=100_000, help="0: no report timing")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument(
        "--postgres", metavar="URL", help="a server to use (default: a throwaway local one)"
    )
    parser.add_argument(
        "--dir", type=Path, help="where the SQLite journals go (default: a temporary folder)"
    )
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    folder = Path(tempfile.mkdtemp(prefix="cardkit-bench-journal-", dir=args.dir))
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {describe_code()}, Python "
        f"{platform.python_version()}, {os.cpu_count()} cores, SQLite {sqlite3.sqlite_version}, "
        f"journal files in {folder}"
    )
    print(
        "\nJournal cost per card: claim, [begin_image], mark_prepared, counts, chip_used, "
        "begin_card, mark_personalized, mark_verified, counts, mark_printed, counts\n"
        f"({args.cards} cards a run, {args.repeat} runs; ms per card, the mean of a run)\n"
    )
    print(f"{'journal':<11}{'records':>8} {'bulk load':>9}   {'min':>7} {'median':>7} {'max':>7}")
    per_op: list[tuple[str, int, dict[str, float]]] = []
    try:
        with started_backends(args, folder) as backends:
            for backend in backends:
                for n in sizes:
                    figures = measure_cards(backend, n, args.cards, args.repeat)
                    per_op.append((backend.name, n, figures.per_op))
                    print(
                        f"{backend.name:<11}{n:>8} {figures.load_seconds:>8.1f}s   "
                        f"{spread(figures.per_card)}",
                        flush=True,
                    )
            shown = [op for op in OPS if any(op in ops for _, _, ops in per_op)]
            print("\nmedian ms per card, by call (counts: its three calls together)\n")
            print(f"{'journal':<11}{'records':>8}  " + " ".join(f"{op:>{len(op)}}" for op in shown))
            for name, n, ops in per_op:
                print(
                    f"{name:<11}{n:>8}  "
                    + " ".join(f"{ops.get(op, 0) * 1000:>{len(op)}.2f}" for op in shown)
                )
            if args.report_size:
                print(
                    f"\nbatch report at {args.report_size} records (every record done, one in 10 "
                    f"with a spoiled card; {args.repeat} runs): seconds min / median / max\n"
                )
                for backend in backends:
                    figures_r = measure_report(backend, args.report_size, args.repeat, folder)
                    for what, values in figures_r.items():
                        print(f"{backend.name:<11}{what:<28}{spread(values, 1.0)}", flush=True)
                sizes_out = {
                    p.suffix: p.stat().st_size for p in folder.glob(f"report-{args.report_size}.*")
                }
                print(
                    "files: " + ", ".join(f"{k[1:]} {v / 1e6:.1f} MB" for k, v in sizes_out.items())
                )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


@contextmanager
def started_backends(args: argparse.Namespace, folder: Path) -> Iterator[list[Backend]]:
    """The backends asked for, started (PostgreSQL) and stopped around the run."""
    with ExitStack() as stack:
        backends: list[Backend] = []
        if not args.skip_sqlite:
            backends.append(stack.enter_context(sqlite_backend(folder)))
        if not args.skip_postgres:
            found = stack.enter_context(postgres_backend(args.postgres))
            if isinstance(found, str):
                print(f"PostgreSQL skipped: {found}", file=sys.stderr)
            else:
                backends.append(found)
        yield backends


if __name__ == "__main__":
    raise SystemExit(main())
