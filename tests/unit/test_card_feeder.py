"""scripts/card_feeder.py starts a new card only once pcscd reports the slot empty (DOMAIN.md
§13: a card started before pcscd saw the old one leave fails its first transmit, 0x80100016).

pcscd and the card process are replaced: ``reader_statuses`` by a script of states, Popen by a
recorder."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from cardkit.errors import TransportError
from cardkit.transport.pcsc import ReaderStatus

REPO = Path(__file__).resolve().parents[2]
READER = "Virtual PCD 00 01"


def _feeder_module() -> ModuleType:
    name = "cardkit_scripts_card_feeder"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / "card_feeder.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


class _Process:
    def poll(self) -> int | None:
        return None


def _status(present: bool) -> list[ReaderStatus]:
    return [ReaderStatus(READER, present, b"\x3b\x00" if present else None, False, False)]


def test_waits_for_the_slot_to_be_empty_before_the_next_card(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    feeder_module = _feeder_module()
    # The old card is still reported for three polls, then the slot is empty; once the new
    # process runs, pcscd sees the new card.
    events: list[str] = []
    states = iter([True, True, True, False])

    def statuses() -> list[ReaderStatus]:
        if "popen" in events:
            events.append("status: new card")
            return _status(True)
        present = next(states)
        events.append(f"status: {'card' if present else 'empty'}")
        return _status(present)

    def popen(args: list[str], **kwargs: Any) -> _Process:
        events.append("popen")
        return _Process()

    monkeypatch.setattr(feeder_module, "reader_statuses", statuses)
    monkeypatch.setattr(feeder_module.subprocess, "Popen", popen)
    feeder = feeder_module.CardFeeder(1, tmp_path, poll=0.001)
    feeder._insert()
    assert events[:5] == ["status: card", "status: card", "status: card", "status: empty", "popen"]
    assert feeder.fed == [1]


def test_pcscd_unreachable_does_not_block_the_feeder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    feeder_module = _feeder_module()
    started: list[list[str]] = []

    def statuses() -> list[ReaderStatus]:
        if started:
            return _status(True)
        raise TransportError("pcscd is not running")

    monkeypatch.setattr(feeder_module, "reader_statuses", statuses)
    monkeypatch.setattr(
        feeder_module.subprocess, "Popen", lambda args, **kw: started.append(args) or _Process()
    )
    feeder_module.CardFeeder(1, tmp_path, poll=0.001)._insert()
    assert len(started) == 1
