"""``cardkit records``: check citizen-record files before any card is built.

``cardkit records check FILE`` reads a CSV / JSON / JSON Lines records file, validates every
record against a card profile and prints each record's problems (row, field, message) as it
goes, then a summary. It streams: memory does not grow with the number of rows (a JSON document,
not JSON Lines, is parsed whole first). ``--jobs N`` validates in N worker processes; the output
is the same as with one. ``--decode-images`` decodes every image as well as checking its
structure. Exit status: 0 when every record is good, 1 when any record has a problem, 2 when
the file (or the profile) cannot be used at all.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import click

from cardkit.cli.exits import EXIT_PROBLEMS
from cardkit.cli.render import envelope
from cardkit.profile import load_profile
from cardkit.records.images import ImageChecks
from cardkit.records.load import iter_records
from cardkit.records.validate import Validated, validate_stream


@click.group("records")
def records() -> None:
    """Citizen records: load and validate CSV, JSON and JSON Lines files."""


@dataclass
class _Counts:
    """The summary, counted as the verdicts go by."""

    records: int = 0
    bad: int = 0
    problems: int = 0
    normalised: int = 0

    def add(self, result: Validated) -> None:
        self.records += 1
        self.bad += not result.ok
        self.problems += len(result.problems)
        self.normalised += bool(result.normalised)

    def summary(self) -> dict[str, int]:
        return {
            "records": self.records,
            "good": self.records - self.bad,
            "bad": self.bad,
            "problems": self.problems,
            "normalised": self.normalised,
        }


@records.command("check")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--profile",
    "profile_name",
    default="vn-cccd-2021",
    show_default=True,
    help="Card profile (name or path to a .toml file).",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON report instead of text.")
@click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Check dates against this day (YYYY-MM-DD) instead of the system date.",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Worker processes validating the records (the output does not depend on it).",
)
@click.option(
    "--decode-images",
    is_flag=True,
    help="Also decode each photo and fingerprint (at reduced size), not only check that the "
    "file is whole and well formed: about 4 times slower a record.",
)
def check(
    file: Path,
    profile_name: str,
    as_json: bool,
    today: datetime | None,
    jobs: int,
    decode_images: bool,
) -> None:
    """Validate every record of FILE; exit 1 when any record has a problem.

    Each photo and fingerprint file is checked once: by default that it is whole and well
    formed (a JPEG's, JPEG 2000's or PNG's structure read through to its end marker, a PNG's
    CRCs; other formats decoded), with --decode-images that its compressed data decodes too.
    """
    day = today.date() if today is not None else date.today()
    # An unusable records file or profile is a CardkitError: cardkit's main maps it to exit 2.
    # The file's own errors (unreadable, bad header) come with the first record, before any
    # output.
    profile = load_profile(profile_name)
    images = ImageChecks(depth="decode" if decode_images else "structure")
    results = validate_stream(iter_records(file), profile, day, jobs=jobs, images=images)
    counts = _echo_json(file, profile.name, day, results) if as_json else _echo_text(file, results)
    if counts.bad:
        raise SystemExit(EXIT_PROBLEMS)


def _echo_text(file: Path, results: Iterable[Validated]) -> _Counts:
    counts = _Counts()
    for r in results:
        counts.add(r)
        for p in r.problems:
            # Messages usually start with the field they concern: do not say it twice.
            text = (
                p.message
                if p.field and p.message.startswith(p.field)
                else (f"{p.field or '(row)'}: {p.message}")
            )
            click.echo(f"{file}:{p.row}: {text} [{p.code}]")
        if r.normalised:
            fields = ", ".join(r.normalised)
            click.echo(f"{file}:{r.raw.row}: note: normalised to Unicode NFC: {fields}")
    summary = counts.summary()
    click.echo(
        f"{summary['records']} records: {summary['good']} good, {summary['bad']} with "
        f"problems ({summary['problems']} problems)"
    )
    return counts


def _dumps(value: object, indent: int) -> str:
    """``value`` as the indented JSON of a value nested ``indent`` spaces deep."""
    text = json.dumps(value, ensure_ascii=False, indent=2)
    return text.replace("\n", "\n" + " " * indent)


def _echo_json(file: Path, profile: str, day: date, results: Iterable[Validated]) -> _Counts:
    """One JSON object, written as the verdicts come: ``records`` and then ``summary`` last
    (it is only known at the end), each record as soon as it is validated."""
    head = envelope(
        "records.check", {"file": str(file), "profile": profile, "today": day.isoformat()}
    )
    opening = _dumps(head, 0).removesuffix("\n}") + ',\n  "records": ['
    counts = _Counts()
    for r in results:
        if not counts.records:
            # Only now: an unusable file raises before the first record, and prints nothing.
            click.echo(opening)
        else:
            click.echo(",")
        counts.add(r)
        record = {
            "row": r.raw.row,
            "ok": r.ok,
            "normalised": list(r.normalised),
            "problems": [
                {"row": p.row, "field": p.field, "code": p.code, "message": p.message}
                for p in r.problems
            ],
        }
        click.echo("    " + _dumps(record, 4), nl=False)
    if not counts.records:
        click.echo(opening + "],")
    else:
        click.echo("\n  ],")
    click.echo(f'  "summary": {_dumps(counts.summary(), 2)}\n}}')
    return counts
