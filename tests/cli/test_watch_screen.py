"""Issue 12 §3: ``cardkit verify --watch`` made for a checkpoint screen. One line per card
(verdict, name, ID number, the checks that decided it), the full table with ``--details``,
JSON Lines with ``--json``; a refused CAN/MRZ or a card that cannot be read is one line and
the loop goes on; the CAN/MRZ is read again for every card, and ``--help`` says how.

The real checkpoint loop (:func:`cardkit.services.verify.watch_reader`) runs over a fake
pcscd that shows each card once and then takes it away; ``open_reader`` hands out the next
emulated chip."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import forgery  # tests/support/forgery.py: the forged-card lab
import pytest
from click.testing import CliRunner, Result

import cardkit.cli.verify as verify_cli
from cardkit.cli.render import SCHEMAS
from cardkit.emulator.card import EmulatedCard
from cardkit.errors import TransportError
from cardkit.transport import pcsc

READER = "Virtual PCD 00 00"
DENIED = "access denied: the CAN does not open this card \u2014 enter it again"


def checkpoint(monkeypatch: pytest.MonkeyPatch, chips: list[EmulatedCard | None]) -> None:
    """Each chip in turn is placed on the reader, inspected and taken away; None is a card
    that is gone before it can be read. Then the officer presses Ctrl-C."""
    queue = list(chips)
    script = [present for _ in chips for present in (True, False)]

    @contextmanager
    def fake_open(name: str | None = None, **_: Any) -> Iterator[forgery.ChipReader]:
        chip = queue.pop(0)
        if chip is None:
            raise TransportError("the card was removed during the read", reader=name)
        yield forgery.ChipReader(chip)

    def statuses() -> list[SimpleNamespace]:
        if not script:
            raise KeyboardInterrupt
        return [SimpleNamespace(name=READER, card_present=script.pop(0), mute=False)]

    monkeypatch.setattr(verify_cli, "open_reader", fake_open)
    monkeypatch.setattr(pcsc, "reader_statuses", statuses)
    # The reader is followed by name in watch mode: resolving it needs no pcscd here.
    monkeypatch.setattr(
        verify_cli, "select_reader", lambda spec=None: spec or READER, raising=False
    )
    monkeypatch.setattr(pcsc, "select_reader", lambda spec=None: spec or READER, raising=False)


def watch(trust_dir: Path, keys: list[str], *extra: str) -> Result:
    """``verify --watch`` with one CAN per card on standard input (re-read per card)."""
    return CliRunner().invoke(
        verify_cli.verify,
        ["--reader", READER, "--can-from", "-", "--trust", str(trust_dir), "--watch", *extra],
        input="".join(f"{key}\n" for key in keys),
    )


@pytest.fixture(scope="module")
def cards(lab: Any) -> dict[str, Any]:
    genuine = lab.genuine()
    return {
        "genuine": genuine,
        "forged": forgery.forge_dg_byte_changed(lab),
        "wrong": "000000" if genuine.secrets.can != "000000" else "111111",
    }


def _session(monkeypatch: pytest.MonkeyPatch, cards: dict[str, Any]) -> list[str]:
    genuine, forged = cards["genuine"], cards["forged"]
    checkpoint(
        monkeypatch,
        [forgery.emulated(genuine), forgery.emulated(forged), forgery.emulated(genuine), None,
         forgery.emulated(genuine)],
    )  # fmt: skip
    return [genuine.secrets.can, forged.secrets.can, cards["wrong"], "123456", genuine.secrets.can]


def test_one_line_per_card_and_the_loop_goes_on(
    trust_dir: Path, cards: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = _session(monkeypatch, cards)
    result = watch(trust_dir, keys)
    assert result.exit_code == 0, result.output  # Ctrl-C ends a checkpoint normally
    record = forgery.sample_records()[0]
    holder = f"{record.full_name}  {record.id_number}"
    assert result.stdout.splitlines() == [
        f"VALID       {holder}",
        f"INVALID     {holder}  failed: dg.hash.2",
        f"INCOMPLETE  {DENIED}",
        "ERROR       the card was removed during the read",
        f"VALID       {holder}",
    ]
    # The screen is not cluttered: "waiting" once, no "card removed" per card.
    assert result.stderr.splitlines() == [
        f"waiting for a card in {READER} (Ctrl-C to stop)",
        "stopped after 5 card(s)",
    ]
    for key in keys:
        assert key not in result.output


def test_details_shows_every_check_of_every_card(
    trust_dir: Path, cards: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = _session(monkeypatch, cards)
    result = watch(trust_dir, keys, "--details")
    assert result.exit_code == 0, result.output
    out = result.stdout.splitlines()
    assert [line for line in out if line.startswith("--- card")] == [
        f"--- card {n}" for n in (1, 2, 3, 5)
    ]
    assert "card: VALID" in out and "card: INVALID (failed: dg.hash.2)" in out
    assert "card: INCOMPLETE (not checked: chip.access)" in out
    assert "card 4: error: the card was removed during the read" in out
    assert sum("dsc.chain" in line for line in out) == 3  # the table of each card read
    assert f"error: {DENIED}" in result.stderr
    assert result.stderr.count("card removed") == 5


def test_json_is_json_lines_one_object_per_card(
    trust_dir: Path, cards: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = _session(monkeypatch, cards)
    result = watch(trust_dir, keys, "--json")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(d["schema"], d["version"], d["card"]) for d in lines] == [
        ("cardkit.verify", SCHEMAS["verify"], 1),
        ("cardkit.verify", SCHEMAS["verify"], 2),
        ("cardkit.verify", SCHEMAS["verify"], 3),
        ("cardkit.verify.error", SCHEMAS["verify.error"], 4),
        ("cardkit.verify", SCHEMAS["verify"], 5),
    ]
    verdicts = [d.get("verdict") for d in lines]
    assert verdicts == ["VALID", "INVALID", "INCOMPLETE", None, "VALID"]
    assert lines[2]["access_denied"] is True
    assert lines[3] == {
        "schema": "cardkit.verify.error",
        "version": 1,
        "card": 4,
        "error": "the card was removed during the read",
    }
    assert "waiting" not in result.stderr  # nothing but JSON on stdout, nothing chatty


def test_the_saved_face_is_named_on_the_line(
    trust_dir: Path, cards: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    genuine = cards["genuine"]
    checkpoint(monkeypatch, [forgery.emulated(genuine), forgery.emulated(genuine)])
    photo = tmp_path / "face.png"
    result = watch(trust_dir, [genuine.secrets.can] * 2, "--photo-out", str(photo))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].endswith(f"photo {tmp_path / 'face-1.png'}")
    assert lines[1].endswith(f"photo {tmp_path / 'face-2.png'}")
    assert (tmp_path / "face-1.png").is_file() and (tmp_path / "face-2.png").is_file()


def test_a_face_that_cannot_be_saved_does_not_lose_the_verdict(
    trust_dir: Path, cards: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    genuine = cards["genuine"]
    checkpoint(monkeypatch, [forgery.emulated(genuine)])
    photo = tmp_path / "missing-folder" / "face.png"
    result = watch(trust_dir, [genuine.secrets.can], "--photo-out", str(photo))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("VALID ")
    assert "card 1: error:" in result.stderr


def test_help_tells_how_the_key_is_read_for_each_card() -> None:
    result = CliRunner().invoke(verify_cli.verify, ["--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "The CAN/MRZ is read again for every card" in text
    for source in (
        "prompt asked for each card",
        "stdin (or -) one line per card",
        "file:PATH re-read for each card",
        "env:VAR the same key for every card",
    ):
        assert source in text, source
    assert "--details" in text and "one line per card" in text
