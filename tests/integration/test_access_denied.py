"""A wrong CAN over real PC/SC (issue 11, item 6): ``cardkit read`` and ``cardkit verify`` run as
users run them (``python -m cardkit.cli.main``) against ``cardkit emulator start`` behind pcscd +
vpcd. The chip refuses PACE's terminal token (ICAO 9303-11 §4.4.3.4): both commands exit 3 with
the one line ``error: access denied: the CAN does not open this card — enter it again`` — no
traceback, no PC/SC code, no secret — and ``cardkit verify`` first prints the verdict INCOMPLETE
(a mistyped key is not a forgery). The right CAN on the same card is not refused.

Fixtures (conftest.py): ``pcscd`` (shared, locked) and ``emulator(slot, state)``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import forgery  # tests/support/forgery.py: the forged-card lab
import pytest
from cryptography.hazmat.primitives import serialization

REPO = Path(__file__).resolve().parents[2]
DENIED = "error: access denied: the CAN does not open this card \u2014 enter it again"
SLOT = 3  # one slot for the whole file: the card stays in the reader for every command


@pytest.fixture
def card_in_reader(emulator: Any, lab: Any, tmp_path: Path) -> tuple[Any, str, Path]:
    """The genuine card served in a vpcd reader; (card, reader name, trust folder)."""
    card = lab.genuine()
    state = forgery.save_state(card, tmp_path / "genuine.state")
    emu = emulator(SLOT, state)
    trust = tmp_path / "trust"
    trust.mkdir()
    (trust / "csca.pem").write_bytes(lab.csca.public_bytes(serialization.Encoding.PEM))
    return card, emu.reader, trust


def _wrong(can: str) -> str:
    return "".join(str((int(c) + 1) % 10) for c in can)


def cardkit(*args: str, can: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cardkit.cli.main", *args],
        env={**os.environ, "CARDKIT_TEST_CAN": can},
        cwd=REPO,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )


def _assert_one_clean_line(result: subprocess.CompletedProcess[str], secrets: list[str]) -> None:
    assert result.returncode == 3, (result.returncode, result.stdout, result.stderr)
    assert DENIED in result.stderr.splitlines(), result.stderr
    assert "Traceback" not in result.stderr
    assert "0x8010" not in result.stderr and "SCARD_" not in result.stderr  # no PC/SC code
    assert "6300" not in result.stderr  # the chip's status word is for --verbose
    for secret in secrets:
        assert secret not in result.stdout and secret not in result.stderr


def test_read_and_verify_with_a_wrong_can_exit_3_with_the_access_denied_line(
    card_in_reader: tuple[Any, str, Path], tmp_path: Path
) -> None:
    card, reader, trust = card_in_reader
    right = card.secrets.can
    assert right
    wrong = _wrong(right)
    secrets = [wrong, right, card.secrets.document_number]
    key = ["--can-from", "env:CARDKIT_TEST_CAN", "--timeout", "10"]

    out = tmp_path / "read"
    read = cardkit("read", "--reader", reader, "--out", str(out), *key, can=wrong)
    _assert_one_clean_line(read, secrets)
    assert read.stderr.splitlines() == [DENIED]
    assert read.stdout == ""
    assert not (out / "read.json").exists()

    verify = cardkit("verify", "--reader", reader, "--trust", str(trust), *key, can=wrong)
    _assert_one_clean_line(verify, secrets)
    lines = verify.stdout.splitlines()
    assert lines and "INCOMPLETE" in lines[0], verify.stdout
    assert "INVALID" not in verify.stdout

    # The same card opens with the right CAN: the refusal above was the key, not the card.
    again = cardkit("verify", "--reader", reader, "--trust", str(trust), *key, can=right)
    assert again.returncode in (0, 1), (again.returncode, again.stdout, again.stderr)
    assert "access denied" not in again.stderr and "access denied" not in again.stdout
