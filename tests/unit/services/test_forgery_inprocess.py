"""The forgery suite on cardkit's in-process emulated chip (fast; the same cards go through
real PC/SC in tests/integration/test_forgery.py): every forged card is INVALID with the expected
failing check, the genuine card is VALID — zero false accepts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import forgery  # tests/support/forgery.py: the forged-card lab
import pytest

from cardkit.emulator.card import EmulatorConnection
from cardkit.report import Status, Verdict
from cardkit.services.verify import verify_card


def _verify(lab: Any, card: Any, *, mrz: bool = False) -> Any:
    chip = forgery.emulated(card)
    if mrz:
        return verify_card(
            EmulatorConnection(chip), card.mrz_key(), lab.trust, at=forgery.VERIFIED_AT
        )
    return card.verify(EmulatorConnection(chip), lab.trust)


def test_genuine_card_is_valid(lab: Any) -> None:
    card = lab.genuine()
    inspection = _verify(lab, card)
    assert inspection.verdict is Verdict.VALID, [c.to_dict() for c in inspection.failures()]
    assert inspection.report.get("chip.authentication").status is Status.PASS
    assert inspection.report.get("active.authentication").status is Status.PASS
    assert inspection.access == "PACE-CAN"
    assert inspection.person is not None and inspection.person.source == "DG13"
    assert inspection.face is not None and inspection.face.format in ("jpeg", "jpeg2000")


def test_genuine_card_with_the_mrz_checks_dg1_against_it(lab: Any) -> None:
    inspection = _verify(lab, lab.genuine(), mrz=True)
    assert inspection.verdict is Verdict.VALID
    assert inspection.report.get("mrz.access_key").status is Status.PASS


@pytest.mark.parametrize("make", forgery.FORGERIES, ids=lambda f: f.__name__)
def test_forged_card_is_invalid_with_the_right_check(lab: Any, make: Callable[[Any], Any]) -> None:
    card = make(lab)
    inspection = _verify(lab, card)
    assert inspection.verdict is Verdict.INVALID
    failing = {c.id for c in inspection.failures()}
    assert card.expected_failure in failing, failing
    assert set(card.also_failing) <= failing


def test_zero_false_accepts(lab: Any) -> None:
    verdicts = [_verify(lab, make(lab)).verdict for make in forgery.FORGERIES]
    assert Verdict.VALID not in verdicts
    assert len(verdicts) == 34  # every forgery of issues 6 and 11
