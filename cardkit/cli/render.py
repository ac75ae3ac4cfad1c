"""Rendering for the terminal and for scripts.

Terminal: a verification report as its verdict first, then a table of checks; ``verify
--watch`` as one line per card (:func:`card_line`).

Scripts: every ``--json`` output is one JSON object, :func:`envelope` — ``"schema":
"cardkit.<kind>"`` and ``"version"`` first, then the command's fields (docs/SCHEMAS.md). A
command that can take several inputs puts them in a list under a named key (``cards``,
``files``, ``readers`` …) whether there is one input or many, so that its shape never depends
on its input. Dates and times are ISO 8601 (:func:`json_text`).
"""

from __future__ import annotations

import datetime
import enum
from collections.abc import Mapping
from pathlib import Path

import click

from cardkit.report import Report, Status, Verdict

#: Every kind of JSON document the CLI prints, with its current version. A version changes
#: when a field is removed or changes meaning (adding a field keeps it); docs/SCHEMAS.md
#: describes each.
SCHEMAS: Mapping[str, int] = {
    "batch.run": 1,
    "batch.status": 1,
    "cvc": 1,
    "lds.dump": 1,
    "mrz.build": 1,
    "mrz.check": 1,
    "personalize": 1,
    "pki.lint": 1,
    "pki.show": 1,
    "prepare": 1,
    "print": 1,
    "read": 1,
    "readers": 1,
    "records.check": 1,
    "verify": 1,
    "verify.error": 1,
    "verify-files": 1,
}


def envelope(kind: str, payload: Mapping[str, object]) -> dict[str, object]:
    """``{"schema": "cardkit.<kind>", "version": N, **payload}`` (``kind`` from
    :data:`SCHEMAS`). Lists go under a named key of ``payload``."""
    version = SCHEMAS.get(kind)
    if version is None:
        raise ValueError(f"unknown JSON schema kind {kind!r}")
    if "schema" in payload or "version" in payload:
        raise ValueError("the payload must not carry its own schema or version")
    return {"schema": f"cardkit.{kind}", "version": version, **payload}


def _json_default(value: object) -> object:
    if isinstance(value, datetime.date):  # datetime too: ISO 8601
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex().upper()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def json_text(document: Mapping[str, object], *, line: bool = False) -> str:
    """``document`` as JSON: UTF-8 text as is (Vietnamese names stay readable), dates ISO 8601,
    bytes as upper-case hex; indented, or on one line for JSON Lines (``line=True``)."""
    import json  # only for --json: the verdict and the check table need none

    return json.dumps(
        document, ensure_ascii=False, indent=None if line else 2, default=_json_default
    )


def echo_json(kind: str, payload: Mapping[str, object], *, line: bool = False) -> None:
    """Print ``envelope(kind, payload)`` on standard output."""
    click.echo(json_text(envelope(kind, payload), line=line))


_STATUS_COLOURS = {
    Status.PASS: "green",
    Status.FAIL: "red",
    Status.WARN: "yellow",
    Status.SKIP: "cyan",
}
_VERDICT_COLOURS = {Verdict.VALID: "green", Verdict.INVALID: "red", Verdict.INCOMPLETE: "yellow"}


def verdict_line(label: str, report: Report) -> str:
    """``label: VERDICT`` and, so that nothing important hides in the table, the checks that
    decided it: those that failed (INVALID), the essential ones not carried out (INCOMPLETE),
    or the warnings a VALID carries (no CRL, BAC only, a weak algorithm the policy tolerates)."""
    verdict = report.verdict
    line = f"{label}: " + click.style(verdict.value, fg=_VERDICT_COLOURS[verdict], bold=True)
    why = _decisive(report)
    if why is not None:
        line += f" ({why})"
    return line


def _decisive(report: Report) -> str | None:
    """``failed: a, b`` (INVALID), ``not checked: …`` (INCOMPLETE: the essential checks not
    carried out) or ``with warnings: …`` (VALID); None when there is nothing to name."""
    verdict = report.verdict
    if verdict is Verdict.INVALID:
        what, ids = "failed", [c.id for c in report.by_status(Status.FAIL)]
    elif verdict is Verdict.INCOMPLETE:
        what, ids = "not checked", [c.id for c in report.by_status(Status.SKIP) if c.essential]
    else:
        what, ids = "with warnings", [c.id for c in report.by_status(Status.WARN)]
    return f"{what}: {', '.join(ids)}" if ids else None


_WIDTH = max(len(v.value) for v in Verdict)


def card_line(
    report: Report,
    *,
    name: str | None,
    number: str | None,
    denied: str | None = None,
    photo: Path | None = None,
) -> str:
    """One line for one card at a checkpoint (``verify --watch``): the verdict, the holder's
    name and ID number, and what decided the verdict, e.g.
    ``INVALID     Võ Văn Hiếu  001093047064  failed: dsc.chain, dg.hash.2``. ``denied`` is the
    message of a chip that refused the CAN/MRZ: it replaces everything after the verdict."""
    verdict = report.verdict
    parts = [click.style(f"{verdict.value:<{_WIDTH}}", fg=_VERDICT_COLOURS[verdict], bold=True)]
    if denied is not None:
        parts.append(denied)
    else:
        holder = [v for v in (name, number) if v]
        parts.extend(holder or ["holder not read"])
        why = _decisive(report)
        if why is not None:
            parts.append(why)
        if photo is not None:
            parts.append(f"photo {photo}")
    return "  ".join(parts)


def error_line(message: str) -> str:
    """The line of a card that could not be inspected at all (``verify --watch``)."""
    return click.style(f"{'ERROR':<{_WIDTH}}", fg="magenta", bold=True) + f"  {message}"


def check_table(report: Report) -> list[str]:
    """One line per check: status, id, detail (and the spec clause when there is one)."""
    width = max((len(c.id) for c in report.checks), default=0)
    lines = []
    for check in report.checks:
        status = click.style(f"{check.status.value:<4}", fg=_STATUS_COLOURS[check.status])
        clause = f"  ({check.clause})" if check.clause and check.status is not Status.PASS else ""
        lines.append(f"  {status}  {check.id:<{width}}  {check.detail}{clause}")
    return lines
