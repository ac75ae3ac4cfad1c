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
    verdict = report.verdict
    return f"{label}: " + click.style(verdict.value, fg=_VERDICT_COLOURS[verdict], bold=True)


def check_table(report: Report) -> list[str]:
    """One line per check: status, id, detail (and the spec clause when there is one)."""
    width = max((len(c.id) for c in report.checks), default=0)
    lines = []
    for check in report.checks:
        status = click.style(f"{check.status.value:<4}", fg=_STATUS_COLOURS[check.status])
        clause = f"  ({check.clause})" if check.clause and check.status is not Status.PASS else ""
        lines.append(f"  {status}  {check.id:<{width}}  {check.detail}{clause}")
    return lines
