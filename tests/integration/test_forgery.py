"""The forgery suite over real PC/SC: each card is personalized in process (the real
personalization protocol), saved as an emulator state file, served by ``cardkit emulator
start`` through vpcd and pcscd, and verified with ``verify_card`` on ``open_reader``. Every
forgery is INVALID with its expected failing check, the genuine card VALID: zero false accepts.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import forgery  # tests/support/forgery.py: the forged-card lab
import pytest

from cardkit.report import Verdict
from cardkit.services.verify import Inspection
from cardkit.transport.pcsc import open_reader

SLOTS = 4
_next_slot = iter(range(10**6))


def over_pcsc(emulator: Callable[..., Any], lab: Any, card: Any, tmp_path: Path) -> Inspection:
    state = forgery.save_state(card, tmp_path / f"{card.name}.state")
    # Rotate the slots: a slot just emptied must stay empty a moment (pcsc.REINSERT_DELAY).
    emu = emulator(next(_next_slot) % SLOTS, state)
    try:
        with open_reader(emu.reader, timeout=10) as connection:
            return card.verify(connection, lab.trust)
    finally:
        emu.stop()


def test_genuine_card_is_valid_over_pcsc(emulator: Any, lab: Any, tmp_path: Path) -> None:
    inspection = over_pcsc(emulator, lab, lab.genuine(), tmp_path)
    assert inspection.verdict is Verdict.VALID, [c.to_dict() for c in inspection.failures()]
    assert inspection.access == "PACE-CAN"


@pytest.mark.parametrize("make", forgery.FORGERIES, ids=lambda f: f.__name__)
def test_forgery_is_invalid_over_pcsc(
    emulator: Any, lab: Any, tmp_path: Path, make: Callable[[Any], Any]
) -> None:
    card = make(lab)
    inspection = over_pcsc(emulator, lab, card, tmp_path)
    assert inspection.verdict is Verdict.INVALID  # zero false accepts
    failing = {c.id for c in inspection.failures()}
    assert card.expected_failure in failing, failing
    assert set(card.also_failing) <= failing
