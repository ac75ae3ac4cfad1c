"""`cardkit print` end to end with click's CliRunner: records files, a prepared batch, errors."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from requirements import need_fonts

from cardkit.cli.main import cli
from cardkit.cli.print import print_command
from cardkit.errors import ProfileError
from cardkit.services.pki_admin import init_pki

SAMPLES = Path(__file__).resolve().parents[2] / "profiles" / "samples"
PASSWORD_VAR = "CARDKIT_PRINT_CLI_TEST_PASSWORD"


@pytest.fixture(autouse=True, scope="module")
def _fonts() -> None:
    need_fonts()


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(print_command, [str(a) for a in args])


def write_csv(path: Path, rows: int, broken_id: bool = False) -> Path:
    with (SAMPLES / "citizens.csv").open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        fields = list(reader.fieldnames or ())
        records = [row for _, row in zip(range(rows), reader, strict=False)]
    for row in records:
        row["photo_path"] = str(SAMPLES / row["photo_path"])
        fingers = [p for p in row["fingerprint_paths"].split(";") if p]
        row["fingerprint_paths"] = ";".join(str(SAMPLES / p) for p in fingers)
    if broken_id:
        records.append(dict(records[0], id_number="00109304706"))  # 11 digits: rejected
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(records)
    return path


def test_records_file_to_pdf_and_pngs(tmp_path: Path) -> None:
    records = write_csv(tmp_path / "people.csv", 2)
    out = tmp_path / "faces.pdf"
    result = run(
        records, "--out", out, "--png", tmp_path / "png", "--today", "2026-11-01", "--json"
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["printed"] == ["people-00002", "people-00003"]
    assert summary["pages"] == 4  # front and back of each card
    assert out.read_bytes().startswith(b"%PDF-")
    names = sorted(p.name for p in (tmp_path / "png").iterdir())
    assert names == [
        "people-00002-back.png", "people-00002-front.png",
        "people-00003-back.png", "people-00003-front.png",
    ]  # fmt: skip


def test_invalid_records_are_reported_and_the_rest_printed(tmp_path: Path) -> None:
    records = write_csv(tmp_path / "mixed.csv", 1, broken_id=True)
    result = run(records, "--out", tmp_path / "x.pdf", "--sheet", "a4", "--today", "2026-11-01")
    assert result.exit_code == 1
    assert "mixed.csv:3: rejected" in result.output and "[id.format]" in result.output
    assert "1 card(s) printed" in result.output and "(1 pages)" in result.output


def test_profile_without_layout_is_a_clear_error(tmp_path: Path) -> None:
    text = (Path(__file__).resolve().parents[2] / "profiles" / "vn-cccd-2021.toml").read_text(
        encoding="utf-8"
    )
    bare = tmp_path / "bare.toml"
    bare.write_text(text[: text.index("\n[layout]")], encoding="utf-8")
    records = write_csv(tmp_path / "one.csv", 1)
    result = run(records, "--out", tmp_path / "x.pdf", "--profile", bare)
    assert isinstance(result.exception, ProfileError)
    assert "no [layout] table" in str(result.exception)


def test_prepared_batch_prints_from_the_chip_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cardkit.cli import prepare as prepare_module

    class Day(prepare_module.date):  # type: ignore[name-defined,misc]
        @classmethod
        def today(cls) -> Day:
            return cls(2026, 11, 1)

    keys = tmp_path / "keys"
    init_pki(
        keys, country="VN", secret_spec=f"env:{PASSWORD_VAR}", secret=b"print-cli-test",
        now=datetime.now(UTC).replace(microsecond=0),
    )  # fmt: skip
    monkeypatch.setenv(PASSWORD_VAR, "print-cli-test")
    monkeypatch.setattr(prepare_module, "date", Day)
    records = write_csv(tmp_path / "batch.csv", 2)
    prepared = CliRunner().invoke(
        cli, ["prepare", str(records), "--keys", str(keys), "--out", str(tmp_path / "cards")]
    )
    assert prepared.exit_code == 0, prepared.output
    # The batch folder, then one card image on its own (its manifest names its profile).
    result = run(tmp_path / "cards", "--out", tmp_path / "batch.pdf", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["printed"] == ["batch-00002", "batch-00003"]
    one = run(tmp_path / "cards" / "batch-00002", "--out", tmp_path / "one.pdf", "--png", tmp_path)
    assert one.exit_code == 0, one.output
    assert (tmp_path / "batch-00002-front.png").is_file()
    # A folder without card images is a usage error, not an empty PDF.
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run(empty, "--out", tmp_path / "e.pdf").exit_code != 0
