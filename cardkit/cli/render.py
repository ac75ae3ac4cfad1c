"""Rendering verification reports in the terminal: the verdict first, then a table of checks."""

from __future__ import annotations

import click

from cardkit.report import Report, Status, Verdict

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
    if verdict is Verdict.INVALID:
        why = ("failed", [c.id for c in report.by_status(Status.FAIL)])
    elif verdict is Verdict.INCOMPLETE:
        why = ("not checked", [c.id for c in report.by_status(Status.SKIP) if c.essential])
    else:
        why = ("with warnings", [c.id for c in report.by_status(Status.WARN)])
    if why[1]:
        line += f" ({why[0]}: {', '.join(why[1])})"
    return line


def check_table(report: Report) -> list[str]:
    """One line per check: status, id, detail (and the spec clause when there is one)."""
    width = max((len(c.id) for c in report.checks), default=0)
    lines = []
    for check in report.checks:
        status = click.style(f"{check.status.value:<4}", fg=_STATUS_COLOURS[check.status])
        clause = f"  ({check.clause})" if check.clause and check.status is not Status.PASS else ""
        lines.append(f"  {status}  {check.id:<{width}}  {check.detail}{clause}")
    return lines
