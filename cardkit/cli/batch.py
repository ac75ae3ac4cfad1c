"""``cardkit batch``: journaled, resumable production batches (run, status, release, report).

Exit codes of ``run``: 0 nothing is left for this station and no record was rejected, 1 stopped
(Ctrl-C), the batch has rejected records, or records are left with a stopped station this one
cannot take them from, 2 unusable input (or this station id runs elsewhere), 3 reader or card
errors, 4 the journal stayed unreachable for ``--journal-timeout`` seconds. The JSON summary's
``complete`` says whether the whole batch (all stations) is done.
"""

from __future__ import annotations

import importlib
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from types import FrameType

import click

from cardkit.batch.journal import (
    RECORD_STATES,
    UNREACHABLE_TIMEOUT,
    Journal,
    JournalError,
    open_journal,
)
from cardkit.batch.report import collect, write_report
from cardkit.batch.runner import (
    DEFAULT_LEASE,
    BatchEvent,
    BatchSettings,
    PcscStation,
    Printer,
    run_batch,
)
from cardkit.cli.options import keys_option, password_option, reader_option
from cardkit.cli.render import echo_json
from cardkit.pki.secrets import read_secret
from cardkit.pki.trust import TrustStore
from cardkit.profile import Profile, load_profile
from cardkit.services.pki_admin import Pki
from cardkit.services.printing import batch_printer
from cardkit.transport.pcsc import select_reader

EXIT_INCOMPLETE = 1
FINISHED = ("verified", "printed", "rejected")


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def default_workdir(records_file: Path) -> Path:
    return records_file.parent / f"{records_file.stem}-batch"


def _journal_url(journal: str | None, workdir: Path) -> str:
    return journal if journal else str(workdir / "journal.sqlite")


def _trust_point(profile: Profile, keys_dir: Path) -> bytes | None:
    """The CVCA certificate chips of a TA profile get (None, with a warning, without a CV PKI)."""
    if not profile.access.terminal_authentication:
        return None
    from cardkit.services.eac_admin import trust_point

    cvca = trust_point(keys_dir)
    if cvca is None:
        click.echo(
            f"warning: profile {profile.name} has terminal authentication but {keys_dir} has no "
            "CV PKI (cardkit eac init): the chips get no trust point",
            err=True,
        )
    return cvca


def _printer(spec: str | None) -> Printer:
    """``MODULE:FUNCTION`` (a :class:`~cardkit.batch.runner.Printer`), else the printing
    service's card-face printer."""
    if not spec:
        return batch_printer
    module_name, _, attr = spec.partition(":")
    try:
        found = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError, ValueError):
        raise click.BadParameter(f"cannot import {spec}", param_hint="--printer") from None
    return found  # type: ignore[no-any-return]


#: Events a plain (non-TTY) run prints, one line each; the others (prepared, card,
#: personalized) are steps of a card whose outcome gets its own line, and ``done`` is the
#: command's summary line.
PLAIN_KINDS = frozenset({
    "loaded", "rejected", "recovered", "waiting", "refused", "verified", "spoiled", "printed",
    "remove", "notice", "handover", "held", "stopped",
})  # fmt: skip
#: Events a live (TTY) run prints above its status line; "place"/"remove" instructions stay
#: at the end of the status line instead.
LIVE_KINDS = PLAIN_KINDS - {"waiting", "remove", "verified", "printed"}


def operator_line(event: BatchEvent) -> str | None:
    """The one line the operator reads for ``event``, or None when it says nothing new (module
    docstring of :mod:`cardkit.batch.runner`: details never hold secrets)."""
    kind, detail = event.kind, event.detail
    if kind not in PLAIN_KINDS or (kind in ("stopped", "done") and not detail):
        return None
    if kind in ("waiting", "remove", "notice"):
        return detail
    if event.row is None:
        return f"{kind}: {detail}" if detail else kind
    if kind in ("spoiled", "refused"):  # the detail is the whole sentence
        return f"row {event.row}: {detail}"
    return f"row {event.row} {kind}: {detail}" if detail else f"row {event.row} {kind}"


class Progress:
    """One status line on a terminal (rate, ETA, counts per state, what the operator is to do
    now) with the events to act on printed above it; plain lines otherwise, one per event the
    operator reads (:func:`operator_line`), never the same line twice in a row."""

    def __init__(self, live: bool, quiet: bool) -> None:
        self.live = live
        self.quiet = quiet
        self.started = time.monotonic()
        self.first_done: int | None = None
        self.counts: dict[str, int] = {}
        self.width = 0
        self.todo = ""  # the last place/remove instruction (live mode)
        self.last: str | None = None

    def line(self) -> str:
        counts = self.counts
        total = sum(counts.get(s, 0) for s in RECORD_STATES)
        done = sum(counts.get(s, 0) for s in FINISHED)
        issued = counts.get("verified", 0) + counts.get("printed", 0)
        if self.first_done is None:
            self.first_done = issued
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = (issued - self.first_done) / elapsed * 60
        left = total - done
        eta = f"{left / rate:.1f} min" if rate > 0 else "—"
        filled = int(24 * done / total) if total else 0
        states = " ".join(f"{s} {counts[s]}" for s in (*RECORD_STATES, "spoiled") if counts.get(s))
        todo = f"  — {self.todo}" if self.todo else ""
        return (
            f"[{'#' * filled}{'.' * (24 - filled)}] {done}/{total}  {rate:.1f} cards/min  "
            f"ETA {eta}  | {states}{todo}"
        )

    def __call__(self, event: BatchEvent) -> None:
        if self.quiet:
            return
        if event.counts:
            self.counts = event.counts
        message = operator_line(event)
        if not self.live:
            if message is not None and message != self.last:
                click.echo(message, err=True)
                self.last = message
            return
        if event.kind in ("waiting", "remove"):
            self.todo = event.detail
        elif event.kind == "card":
            self.todo = ""
        line = self.line()
        pad = max(self.width - len(line), 0)
        self.width = len(line)
        if message is not None and event.kind in LIVE_KINDS:
            click.echo("\r" + message + " " * max(self.width + pad - len(message), 0), err=True)
        click.echo("\r" + line + " " * pad, nl=False, err=True)
        if event.kind in ("done", "stopped"):
            click.echo("", err=True)


def _notice(text: str) -> BatchEvent:
    return BatchEvent("notice", detail=text)


def _tell_unreachable(attempt: int, reason: str | None) -> None:
    """The operator is told at each retry, and once the journal answers again (issue 14 §4)."""
    if attempt == 0:
        click.echo("journal reachable again: going on", err=True)
    else:
        click.echo(f"journal unreachable, retrying ({attempt})… [{reason}]", err=True)


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """First Ctrl-C / SIGTERM: finish the current card, then stop. Second Ctrl-C: abort."""

    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()
        click.echo("\nstopping after the current card (Ctrl-C again to abort at once)", err=True)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@click.group("batch")
def batch() -> None:
    """Journaled production batches: prepare, personalize, verify and print every record
    exactly once, resumable after any crash, on one or several stations."""


@batch.command("run")
@click.argument("records_file", metavar="RECORDS", type=click.Path(exists=True, path_type=Path))
@click.option("--profile", "profile_name", default="vn-cccd-2021", show_default=True)
@keys_option("Document Signer, transport key, trust anchors")
@password_option
@reader_option(what="PC/SC reader of this station's blank cards")
@click.option(
    "--journal",
    metavar="URL",
    help="postgresql://user@host:port/db to share the batch between stations; default "
    "WORKDIR/journal.sqlite.",
)
@click.option(
    "--station",
    help="This station's id (default HOST:READER). Restart a station with the same id to "
    "resume its cards.",
)
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for card images (cards/), printed faces (printed/) and the SQLite journal "
    "(default: RECORDS' folder / <records name>-batch).",
)
@click.option(
    "--trust",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="CSCA certificates and CRLs for the read-back check (default: KEYS/trust).",
)
@click.option(
    "--printer",
    metavar="MODULE:FUNCTION",
    help="The print step as MODULE:FUNCTION (default: cardkit's card-face printer: a PDF and "
    "300-dpi PNGs per card).",
)
@click.option(
    "--lease",
    "lease_seconds",
    type=click.FloatRange(min=1.0),
    default=DEFAULT_LEASE,
    show_default=True,
    metavar="SECONDS",
    help="How long after this station's last heartbeat (every quarter of it) other stations "
    "may take over its records.",
)
@click.option(
    "--journal-timeout",
    type=click.FloatRange(min=0.0),
    default=UNREACHABLE_TIMEOUT,
    show_default=True,
    metavar="SECONDS",
    help="How long an unreachable journal is retried (with backoff) before the station stops "
    "with exit 4.",
)
@click.option("--quiet", is_flag=True, help="No progress output.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary for scripts.")
def run(
    records_file: Path,
    profile_name: str,
    keys_dir: Path,
    password_from: str | None,
    reader: str | None,
    journal: str | None,
    station: str | None,
    workdir: Path | None,
    trust: Path | None,
    printer: str | None,
    lease_seconds: float,
    journal_timeout: float,
    quiet: bool,
    as_json: bool,
) -> None:
    """Run the batch of RECORDS on this station until every record is done.

    Every record goes through rejected | pending → prepared → personalizing → personalized →
    verified → printed, each state committed to the journal before the next step. Run it again
    after a crash: it resumes; a card that was being written is marked spoiled and its record
    goes to the next blank card.

    \b
    Cards: the station takes the card in READER when it is present and free, writes it, then
    waits for it to be REMOVED before taking the next one. A card that is not blank, or whose
    chip serial the journal knows, is refused (nothing is written) and must be swapped. With
    the emulator, scripts/card_feeder.py plays the operator: it serves a fresh blank card in a
    vpcd reader each time the station lets go of the current one.

    \b
    Stations: each holds a lease in the journal, renewed every LEASE/4 seconds. When nothing is
    left to claim, a station takes over the records of stations whose lease expired (their
    unverified cards are spoiled first), and waits while live stations still hold records.
    `cardkit batch release --station ID` hands a stopped station's records over at once.
    """
    workdir = workdir or default_workdir(records_file)
    # The name itself (before any password prompt): the station follows it, its id contains it.
    reader = select_reader(reader)
    profile = load_profile(profile_name)
    secret = read_secret(password_from, "key password") if password_from else None
    pki = Pki.open(keys_dir, secret)
    issuer = pki.issuer()
    if trust is None and (keys_dir / "trust").is_dir():
        trust = keys_dir / "trust"
    store = TrustStore.from_folder(trust) if trust is not None else None
    from cardkit.pki.keystore.transport import open_transport_key

    transport = open_transport_key(
        pki.config.ref(pki.config.transport_key),
        secret if secret is not None else pki.config.read_secret(),
    )
    settings = BatchSettings(
        records_file=records_file,
        profile=profile,
        issuer=issuer,
        transport=transport,
        workdir=workdir,
        station=station or f"{socket.gethostname()}:{reader}",
        today=date.today(),
        clock=_now,
        trust=store,
        audit=pki.config.audit,
        printer=_printer(printer),
        lease_seconds=lease_seconds,
        cvca_certificate=_trust_point(profile, keys_dir),
    )
    opened = open_journal(
        _journal_url(journal, workdir),
        unreachable_timeout=journal_timeout,
        on_unreachable=None if quiet else _tell_unreachable,
        connect_timeout=max(journal_timeout, 1.0),
    )
    stop = threading.Event()
    progress = Progress(live=not quiet and not as_json and sys.stderr.isatty(), quiet=quiet)
    try:
        with _stop_on_signals(stop):
            cards = PcscStation(reader, on_notice=lambda text: progress(_notice(text)))
            stats = run_batch(opened, settings, cards, stop=stop, on_event=progress)
    finally:
        opened.close()
    counts = stats.counts
    complete = counts.get("pending", 0) + sum(
        counts.get(s, 0) for s in ("prepared", "personalizing", "personalized")
    ) == 0 and (settings.printer is None or counts.get("verified", 0) == 0)
    if as_json:
        echo_json(
            "batch.run",
            {
                "journal": opened.url,
                "station": settings.station,
                "counts": counts,
                "this_run": {
                    "verified": stats.verified,
                    "printed": stats.printed,
                    "spoiled": stats.spoiled,
                    "refused": stats.refused,
                    "seconds": round(stats.seconds, 3),
                    "journal_seconds": round(stats.journal_seconds, 3),
                },
                "stopped": stats.stopped,
                "complete": complete,
                "left_with_stopped_stations": stats.incomplete,
            },
        )
    elif not quiet:
        summary = ", ".join(f"{counts[s]} {s}" for s in (*RECORD_STATES, "spoiled") if counts[s])
        click.echo(
            f"{'stopped' if stats.stopped else 'done'}: {summary} (this station: "
            f"{stats.verified} issued, {stats.spoiled} spoiled in {stats.seconds:.1f} s); "
            f"journal {opened.url}"
        )
    # Other stations may still be working on the batch: this station is done when it was not
    # stopped and nothing is left for it to claim.
    if stats.stopped or stats.incomplete or counts.get("rejected", 0):
        raise SystemExit(EXIT_INCOMPLETE)


def _open_for_reading(journal: str | None, workdir: Path | None) -> Journal:
    if journal is None and workdir is None:
        raise click.UsageError("give --journal URL or --workdir DIR")
    if journal is None and workdir is not None and not (workdir / "journal.sqlite").exists():
        raise click.UsageError(f"no journal in {workdir}")
    url = _journal_url(journal, workdir or Path("."))
    if not url.startswith(("postgresql://", "postgres://")):
        path = Path(url.removeprefix("sqlite:///"))
        if not path.is_file():
            raise click.UsageError(f"no journal at {path}")
    return open_journal(url)


def _pick_batch(opened: Journal, batch_id: str | None) -> str:
    ids = [b.batch for b in opened.batches()]
    if batch_id is not None:
        if batch_id not in ids:
            raise JournalError(f"no batch {batch_id!r} in the journal")
        return batch_id
    if not ids:
        raise JournalError("the journal holds no batch yet")
    if len(ids) > 1:
        raise click.UsageError(
            f"the journal holds several batches; give --batch ({', '.join(ids)})"
        )
    return ids[0]


_journal_option = click.option("--journal", metavar="URL", help="The batch's journal URL.")
_workdir_option = click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    help="The batch folder (its journal.sqlite).",
)
_batch_option = click.option("--batch", "batch_id", help="Batch id, when the journal has several.")


@batch.command("status")
@_journal_option
@_workdir_option
@_batch_option
@click.option("--json", "as_json", is_flag=True)
def status(journal: str | None, workdir: Path | None, batch_id: str | None, as_json: bool) -> None:
    """Counts per state and per station of a batch, and each station's lease: its last
    heartbeat and what it holds (no personal data)."""
    opened = _open_for_reading(journal, workdir)
    try:
        chosen = _pick_batch(opened, batch_id)
        counts = opened.counts(chosen)
        stations = opened.held(chosen, RECORD_STATES)
        leases = opened.stations(chosen)
    finally:
        opened.close()
    now = datetime.now(UTC)
    if as_json:
        echo_json(
            "batch.status",
            {
                "journal": opened.url,
                "batch": chosen,
                "counts": counts,
                "stations": stations,
                "leases": [
                    {
                        "station": lease.station,
                        "host": lease.host,
                        "pid": lease.pid,
                        "started": lease.started_at,
                        "last_heartbeat": lease.heartbeat_at,
                        "lease_seconds": lease.lease_seconds,
                        "stopped": lease.stopped_at,
                        "live": lease.live(now),
                        "doing": lease.holding,
                    }
                    for lease in leases
                ],
            },
        )
        return
    click.echo(f"batch {chosen} ({opened.url})")
    for state in (*RECORD_STATES, "spoiled"):
        click.echo(
            f"  {state:<14}{counts.get(state, 0):>6}{'  (cards)' if state == 'spoiled' else ''}"
        )
    by_name = {lease.station: lease for lease in leases}
    for name in sorted(set(stations) | set(by_name)):
        per = stations.get(name, {})
        held = ", ".join(f"{n} {s}" for s, n in sorted(per.items())) or "nothing"
        lease = by_name.get(name)
        if lease is None:
            beat = "no lease (never ran with this cardkit)"
        else:
            age = f"last heartbeat {lease.heartbeat_age(now):.0f} s ago"
            if lease.stopped_at:
                beat = f"stopped {lease.stopped_at}"
            elif lease.live(now):
                beat = f"running on {lease.host} pid {lease.pid}, {age}"
                if lease.holding:
                    beat += f", {lease.holding}"
            else:
                beat = f"lease expired ({age}; on {lease.host} pid {lease.pid})"
        click.echo(f"  station {name}: {held} — {beat}")


@batch.command("release")
@click.option("--station", "station_id", required=True, help="The stopped station's id.")
@_journal_option
@_workdir_option
@_batch_option
@click.option(
    "--force",
    is_flag=True,
    help="Release even though its lease is live (only when the station is surely stopped: a "
    "running station loses the records it is working on).",
)
def release(
    station_id: str, journal: str | None, workdir: Path | None, batch_id: str | None, force: bool
) -> None:
    """Hand a stopped station's unfinished records to the other stations at once, instead of
    waiting for its lease to expire. Its cards not yet verified are spoiled first (put them
    aside); its prepared card images are destroyed when it starts again."""
    opened = _open_for_reading(journal, workdir)
    try:
        chosen = _pick_batch(opened, batch_id)
        done = opened.release(chosen, station_id, force=force)
    finally:
        opened.close()
    for line in done:
        click.echo(line)
    if not done:
        click.echo(f"station {station_id} held no unfinished record; its lease is ended")


@batch.command("report")
@_journal_option
@_workdir_option
@_batch_option
@click.option(
    "--out",
    "out_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="FILE.csv or FILE.html",
)
def report(journal: str | None, workdir: Path | None, batch_id: str | None, out_file: Path) -> None:
    """Write the per-record report (state, document number, chip and DSC serials, station,
    times, reasons for rejection or spoilage) as CSV or HTML."""
    if out_file.suffix.lower() not in (".csv", ".html", ".htm"):
        raise click.BadParameter("must end in .csv or .html", param_hint="--out")
    opened = _open_for_reading(journal, workdir)
    try:
        chosen = _pick_batch(opened, batch_id)
        collected = collect(opened, chosen)
    finally:
        opened.close()
    write_report(collected, out_file)
    click.echo(f"{len(collected.records)} records of batch {chosen} → {out_file}")


def main() -> None:
    """``python -m cardkit.cli.batch``: the group on its own, with the CLI's error mapping."""
    from cardkit.cli.exits import exit_code_for
    from cardkit.errors import CardkitError

    try:
        batch(prog_name="cardkit batch", standalone_mode=False)
    except click.exceptions.Abort:
        raise SystemExit(130) from None
    except click.ClickException as exc:
        exc.show()
        raise SystemExit(exc.exit_code) from None
    except CardkitError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(exit_code_for(exc)) from None


if __name__ == "__main__":
    main()
