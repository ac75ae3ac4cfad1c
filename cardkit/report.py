"""The verification report: one frozen outcome per check, and a verdict over all of them.

Verification *collects* (DESIGN.md): every check runs and reports, none stops the others, so an
inspector sees at once everything that is wrong with a card. Passive authentication (ICAO 9303-11
§5.1), active and chip authentication and the card-level consistency checks all produce
:class:`Check` values; a :class:`Report` holds them and derives the verdict.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass


class Status(enum.Enum):
    """The outcome of one check."""

    PASS = "PASS"
    FAIL = "FAIL"
    WARN = "WARN"  # passed, with a finding a person should know about (no CRL, stale CRL, ...)
    SKIP = "SKIP"  # could not be carried out (input missing, or a prerequisite failed)


class Verdict(enum.Enum):
    """The overall result of a report."""

    VALID = "VALID"  # no check failed and every essential check was carried out
    INVALID = "INVALID"  # at least one check failed
    INCOMPLETE = "INCOMPLETE"  # nothing failed, but an essential check was skipped


@dataclass(frozen=True)
class Check:
    """One verification outcome.

    ``id`` is stable (``"sod.signature"``, ``"dg.hash.2"``): scripts and tests key on it.
    ``clause`` cites the specification the check implements. ``essential`` says whether the
    verdict may be VALID without this check having run: a skipped essential check makes the
    report INCOMPLETE, a skipped optional one (a data group that was not read) does not.
    """

    id: str
    title: str
    status: Status
    detail: str
    clause: str | None = None
    essential: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id or self.id != self.id.strip():
            raise ValueError("a check id is a non-empty string without surrounding spaces")
        if not isinstance(self.status, Status):
            raise ValueError(f"check {self.id}: status must be a Status")
        if not isinstance(self.title, str) or not isinstance(self.detail, str):
            raise ValueError(f"check {self.id}: title and detail are strings")

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "title": self.title,
            "status": self.status.value,
            "detail": self.detail,
            "clause": self.clause,
            "essential": self.essential,
        }


@dataclass(frozen=True)
class Report:
    """All outcomes of one verification, in the order they were carried out."""

    checks: tuple[Check, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "checks", tuple(self.checks))
        seen: set[str] = set()
        for check in self.checks:
            if not isinstance(check, Check):
                raise ValueError("a report holds Check values")
            if check.id in seen:
                raise ValueError(f"check id {check.id!r} appears twice in one report")
            seen.add(check.id)

    @classmethod
    def of(cls, *groups: Iterable[Check]) -> Report:
        """A report from several groups of checks (passive authentication, AA, ...)."""
        return cls(tuple(check for group in groups for check in group))

    @property
    def verdict(self) -> Verdict:
        if any(c.status is Status.FAIL for c in self.checks):
            return Verdict.INVALID
        if any(c.status is Status.SKIP and c.essential for c in self.checks):
            return Verdict.INCOMPLETE
        return Verdict.VALID

    def get(self, check_id: str) -> Check | None:
        """The check with ``check_id``, or None."""
        for check in self.checks:
            if check.id == check_id:
                return check
        return None

    def by_status(self, status: Status) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.status is status)

    def to_dict(self) -> dict[str, object]:
        """A JSON-serialisable form (``json.dumps(report.to_dict())``)."""
        counts = {s.value: 0 for s in Status}
        for check in self.checks:
            counts[check.status.value] += 1
        return {
            "verdict": self.verdict.value,
            "counts": counts,
            "checks": [c.to_dict() for c in self.checks],
        }
