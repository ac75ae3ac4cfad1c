"""``cardkit records``: check citizen-record files before any card is built.

``cardkit records check FILE`` loads a CSV / JSON / JSON Lines records file, validates every
record against a card profile and prints each record's problems (row, field, message) and a
summary. Exit status: 0 when every record is good, 1 when any record has a problem, 2 when the
file (or the profile) cannot be used at all.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import click

from cardkit.cli.exits import EXIT_PROBLEMS
from cardkit.profile import load_profile
from cardkit.records.load import load_records
from cardkit.records.validate import Validated, validate_all


@click.group("records")
def records() -> None:
    """Citizen records: load and validate CSV, JSON and JSON Lines files."""


def _summary(results: list[Validated]) -> dict[str, int]:
    bad = sum(1 for r in results if not r.ok)
    return {
        "records": len(results),
        "good": len(results) - bad,
        "bad": bad,
        "problems": sum(len(r.problems) for r in results),
        "normalised": sum(1 for r in results if r.normalised),
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
def check(file: Path, profile_name: str, as_json: bool, today: datetime | None) -> None:
    """Validate every record of FILE; exit 1 when any record has a problem."""
    day = today.date() if today is not None else date.today()
    # An unusable records file or profile is a CardkitError: cardkit's main maps it to exit 2.
    profile = load_profile(profile_name)
    raws = load_records(file)
    results = validate_all(raws, profile, day)
    summary = _summary(results)

    if as_json:
        report = {
            "file": str(file),
            "profile": profile.name,
            "today": day.isoformat(),
            "summary": summary,
            "records": [
                {
                    "row": r.raw.row,
                    "ok": r.ok,
                    "normalised": list(r.normalised),
                    "problems": [
                        {"row": p.row, "field": p.field, "code": p.code, "message": p.message}
                        for p in r.problems
                    ],
                }
                for r in results
            ],
        }
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        for r in results:
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
        click.echo(
            f"{summary['records']} records: {summary['good']} good, {summary['bad']} with "
            f"problems ({summary['problems']} problems)"
        )
    if summary["bad"]:
        raise SystemExit(EXIT_PROBLEMS)
