"""``cardkit batch run`` in plain mode (not a terminal): each card a clean sequence of lines on
stderr, no dangling ``prepared:`` line, one ``done:`` line (the summary, on stdout), rejected
records with their reason; pcscd not running is one line and exit 3, never a traceback
(issue 14 §5). The station is an in-process emulated card, not pcscd."""

from __future__ import annotations

import csv
import threading
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from smartcard import scard as real

from cardkit.cli import batch as batch_module
from cardkit.cli.main import cli
from cardkit.emulator.card import EmulatedCard, EmulatorConnection
from cardkit.services.pki_admin import init_pki
from cardkit.transport import pcsc

SAMPLES = Path(__file__).resolve().parents[2] / "profiles" / "samples"
PASSWORD_VAR = "CARDKIT_BATCH_CLI_TEST_PASSWORD"
PASSWORD = "batch-cli-test-password"
READER = "Virtual PCD 00 00"


class _SamplesDay(date):
    @classmethod
    def today(cls) -> _SamplesDay:
        return cls(2026, 11, 1)  # the samples' reference day (profiles/samples/README.md)


class _Station:
    """A fresh blank emulated card each time (no CPLC: serial unknown); the reader still holds
    it after the station lets it go."""

    def __init__(self, reader: str, **_: Any) -> None:
        self.name = reader

    def wait_for_card(self, stop: threading.Event) -> EmulatorConnection | None:
        return None if stop.is_set() else EmulatorConnection(EmulatedCard())

    def release(self, connection: object) -> None:
        pass

    def holds_card(self) -> bool:
        return True


def _one_file(record: object, image: object, profile: object, out_dir: Path) -> Sequence[Path]:
    (out_dir / "front.png").write_bytes(b"png")
    return [out_dir / "front.png"]


def _records(path: Path) -> Path:
    """citizens.csv's first record (absolute image paths), then broken.csv's first."""
    rows: list[dict[str, str]] = []
    fields: list[str] = []
    for name in ("citizens.csv", "broken.csv"):
        with (SAMPLES / name).open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            fields = fields or list(reader.fieldnames or ())
            rows.append(next(reader))
    for row in rows:
        for key in ("photo_path", "fingerprint_paths"):
            parts = [p for p in (row.get(key) or "").split(";") if p]
            row[key] = ";".join(str(SAMPLES / p) for p in parts)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("batch-cli") / "keys"
    init_pki(
        folder,
        country="VN",
        secret_spec=f"env:{PASSWORD_VAR}",
        secret=PASSWORD.encode(),
        now=datetime.now(UTC).replace(microsecond=0),
    )
    return folder


def test_plain_run_prints_each_card_once_and_one_done_line(
    keys: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_VAR, PASSWORD)
    monkeypatch.setattr(batch_module, "date", _SamplesDay)
    monkeypatch.setattr(batch_module, "select_reader", lambda spec: READER)
    monkeypatch.setattr(batch_module, "PcscStation", _Station)
    monkeypatch.setattr(batch_module, "batch_printer", _one_file)
    records = _records(tmp_path / "line.csv")
    result = CliRunner().invoke(
        cli, ["batch", "run", str(records), "--keys", str(keys), "--station", "st-1"]
    )
    assert result.exit_code == 1, result.output  # a record was rejected
    # (the test keys have no CV PKI: a warning first, not the operator's concern here)
    lines = [x for x in result.stderr.splitlines() if not x.startswith("warning: profile")]
    assert lines[0].startswith("loaded: 2 new record(s) in batch line-")
    assert lines[1:] == [
        "row 3 rejected: id_number: id_number must be exactly 12 digits [id.format]",
        f"place a blank card on {READER}",
        "row 2 verified: chip serial unknown",
        f"remove the card from {READER}",
        "row 2 printed: 1 file(s) in printed/line-00002",
    ]
    (done,) = result.stdout.splitlines()
    assert done.startswith("done: 1 rejected, 1 printed (this station: 1 issued, 0 spoiled in ")
    assert "Traceback" not in result.output


def test_pcscd_not_running_is_one_line_and_exit_3(tmp_path: Path, monkeypatch: Any) -> None:
    class NoService:
        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        def SCardEstablishContext(self, scope: int) -> tuple[int, int]:
            return real.SCARD_E_NO_SERVICE, 0

    monkeypatch.setattr(pcsc, "_scard", NoService)
    (tmp_path / "keys").mkdir()
    records = tmp_path / "records.csv"
    records.write_text("id_number\n")
    result = CliRunner().invoke(
        cli, ["batch", "run", str(records), "--keys", str(tmp_path / "keys")]
    )
    assert result.exit_code == 3
    assert result.stderr.splitlines() == [f"error: {pcsc.NO_PCSCD}"]
    assert "Traceback" not in result.output
