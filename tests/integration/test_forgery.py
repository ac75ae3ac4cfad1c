"""The forgery suite over real PC/SC: each card is personalized in process (the real
personalization protocol), saved as an emulator state file, served by ``cardkit emulator
start`` through vpcd and pcscd, and verified with ``verify_card`` on ``open_reader``. Every
forgery is INVALID with its expected failing check, the genuine card VALID: zero false accepts.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from cardkit.report import Verdict
from cardkit.services.verify import Inspection
from cardkit.transport.pcsc import open_reader


def _load_forgery() -> ModuleType:
    name = "cardkit_tests_forgery"
    if name not in sys.modules:
        path = Path(__file__).resolve().parents[1] / "forgery.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


forgery = _load_forgery()
SLOTS = 4
_next_slot = iter(range(10**6))


@pytest.fixture(scope="module")
def lab() -> Any:
    return forgery.Lab()


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
