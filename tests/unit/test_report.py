"""The verification report: Check validation, the verdict rule, JSON form."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cardkit.report import Check, Report, Status, Verdict


def _check(check_id: str, status: Status, *, essential: bool = True) -> Check:
    return Check(check_id, f"title {check_id}", status, "detail", "ICAO 9303-11 §5.1", essential)


def test_all_pass_is_valid() -> None:
    report = Report((_check("a", Status.PASS), _check("b", Status.WARN)))
    assert report.verdict is Verdict.VALID


def test_a_fail_makes_it_invalid_whatever_else() -> None:
    report = Report((_check("a", Status.SKIP), _check("b", Status.FAIL, essential=False)))
    assert report.verdict is Verdict.INVALID


def test_skipped_essential_check_makes_it_incomplete() -> None:
    assert Report((_check("a", Status.PASS), _check("b", Status.SKIP))).verdict is (
        Verdict.INCOMPLETE
    )


def test_skipped_optional_check_keeps_it_valid() -> None:
    report = Report((_check("a", Status.PASS), _check("dg.hash.13", Status.SKIP, essential=False)))
    assert report.verdict is Verdict.VALID


def test_empty_report_is_valid_and_serialises() -> None:
    assert Report(()).to_dict() == {
        "verdict": "VALID",
        "counts": {"PASS": 0, "FAIL": 0, "WARN": 0, "SKIP": 0},
        "checks": [],
    }


def test_to_dict_is_json() -> None:
    report = Report.of([_check("a", Status.PASS)], [_check("b", Status.FAIL)])
    data = json.loads(json.dumps(report.to_dict()))
    assert data["verdict"] == "INVALID"
    assert data["counts"] == {"PASS": 1, "FAIL": 1, "WARN": 0, "SKIP": 0}
    assert data["checks"][1] == {
        "id": "b",
        "title": "title b",
        "status": "FAIL",
        "detail": "detail",
        "clause": "ICAO 9303-11 §5.1",
        "essential": True,
    }


def test_lookup_helpers() -> None:
    report = Report((_check("a", Status.PASS), _check("b", Status.WARN)))
    assert report.get("b") == _check("b", Status.WARN)
    assert report.get("zz") is None
    assert report.by_status(Status.PASS) == (_check("a", Status.PASS),)


def test_validation() -> None:
    with pytest.raises(ValueError, match="twice"):
        Report((_check("a", Status.PASS), _check("a", Status.FAIL)))
    with pytest.raises(ValueError):
        Check("", "t", Status.PASS, "d", None)
    with pytest.raises(ValueError):
        Check(" a", "t", Status.PASS, "d", None)
    with pytest.raises(ValueError):
        Check("a", "t", "PASS", "d", None)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Report(("not a check",))  # type: ignore[arg-type]


def test_frozen() -> None:
    check = _check("a", Status.PASS)
    with pytest.raises(AttributeError):
        check.status = Status.FAIL  # type: ignore[misc]


@given(st.lists(st.tuples(st.sampled_from(list(Status)), st.booleans()), max_size=20))
def test_verdict_property(outcomes: list[tuple[Status, bool]]) -> None:
    checks = tuple(_check(f"c{i}", s, essential=e) for i, (s, e) in enumerate(outcomes))
    report = Report(checks)
    failed = any(s is Status.FAIL for s, _ in outcomes)
    skipped_essential = any(s is Status.SKIP and e for s, e in outcomes)
    assert (report.verdict is Verdict.INVALID) == failed
    assert (report.verdict is Verdict.INCOMPLETE) == (not failed and skipped_essential)
    assert json.loads(json.dumps(report.to_dict()))["verdict"] == report.verdict.value
    assert sum(report.to_dict()["counts"].values()) == len(outcomes)  # type: ignore[attr-defined]
