"""`cardkit prepare` and `cardkit verify-files` end to end with click's CliRunner."""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cardkit.cli import prepare as prepare_module
from cardkit.cli.main import cli
from cardkit.services.pki_admin import init_pki

SAMPLES = Path(__file__).resolve().parents[2] / "profiles" / "samples"
PASSWORD_VAR = "CARDKIT_PREPARE_CLI_TEST_PASSWORD"
PASSWORD = "prepare-cli-test-password"


class _SamplesDay(date):
    """`date.today()` pinned to the samples' reference day (profiles/samples/README.md)."""

    @classmethod
    def today(cls) -> _SamplesDay:
        return cls(2026, 11, 1)


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def write_small_csv(path: Path, rows: int = 3) -> Path:
    """The first ``rows`` records of citizens.csv, with absolute photo and fingerprint paths."""
    with (SAMPLES / "citizens.csv").open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        fields = list(reader.fieldnames or ())
        records = [row for _, row in zip(range(rows), reader, strict=False)]
    for row in records:
        row["photo_path"] = str(SAMPLES / row["photo_path"])
        fingers = [p for p in row["fingerprint_paths"].split(";") if p]
        row["fingerprint_paths"] = ";".join(str(SAMPLES / p) for p in fingers)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(records)
    return path


@dataclass(frozen=True)
class Setup:
    keys: Path
    records: Path
    out: Path
    first_run: dict[str, object]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    base = tmp_path_factory.mktemp("prepare-cli")
    keys = base / "keys"
    init_pki(
        keys,
        country="VN",
        secret_spec=f"env:{PASSWORD_VAR}",
        secret=PASSWORD.encode(),
        now=datetime.now(UTC).replace(microsecond=0),
    )
    records = write_small_csv(base / "citizens.csv")
    out = base / "cards"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(PASSWORD_VAR, PASSWORD)
        patch.setattr(prepare_module, "date", _SamplesDay)
        result = invoke("prepare", records, "--keys", keys, "--out", out, "--json")
        assert result.exit_code == 0, result.output
        yield Setup(keys, records, out, json.loads(result.stdout))


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_VAR, PASSWORD)
    monkeypatch.setattr(prepare_module, "date", _SamplesDay)


# --- prepare ----------------------------------------------------------------------------------


def test_prepare_json_counts(setup: Setup) -> None:
    summary = setup.first_run
    assert summary["counts"] == {"prepared": 3, "skipped": 0, "rejected": 0, "failed": 0}
    assert summary["out"] == str(setup.out)
    records = summary["records"]
    assert isinstance(records, list)
    assert [(r["row"], r["status"], r["card_id"]) for r in records] == [
        (2, "prepared", "citizens-00002"),
        (3, "prepared", "citizens-00003"),
        (4, "prepared", "citizens-00004"),
    ]
    assert sorted(p.name for p in setup.out.iterdir()) == [
        "citizens-00002",
        "citizens-00003",
        "citizens-00004",
    ]
    audit = (setup.keys / "audit.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(audit) == 3


def test_prepare_again_skips_everything(setup: Setup) -> None:
    result = invoke("prepare", setup.records, "--keys", setup.keys, "--out", setup.out)
    assert result.exit_code == 0, result.output
    assert "3 records: 0 prepared, 3 skipped, 0 rejected, 0 failed" in result.output
    assert len((setup.keys / "audit.jsonl").read_text(encoding="utf-8").splitlines()) == 3


def test_prepare_broken_records_exits_1_and_lists_them(setup: Setup, tmp_path: Path) -> None:
    expected = json.loads((SAMPLES / "broken-expected.json").read_text(encoding="utf-8"))
    source = SAMPLES / "broken.csv"
    out = tmp_path / "cards"
    result = invoke("prepare", source, "--keys", setup.keys, "--out", out)
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    for line, codes in expected["expect"].items():
        header = f"{source}:{line}: rejected: "
        index = next(i for i, text in enumerate(lines) if text.startswith(header))
        detail = lines[index + 1 : index + 1 + len(codes)]
        for code in codes:
            assert any(text.strip().endswith(f"[{code}]") for text in detail), (line, detail)
    total = len(expected["expect"])
    assert f"{total} records: 0 prepared, 0 skipped, {total} rejected, 0 failed" in result.stdout
    result = invoke("prepare", source, "--keys", setup.keys, "--out", out, "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["counts"]["rejected"] == total


def test_prepare_with_a_wrong_password_exits_2(
    setup: Setup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_VAR, "wrong-password")
    result = invoke("prepare", setup.records, "--keys", setup.keys, "--out", tmp_path / "c")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and "wrong password" in result.stderr
    assert "wrong-password" not in result.output
    assert not (tmp_path / "c").exists()


# --- verify-files -----------------------------------------------------------------------------


def test_verify_files_on_the_batch_exits_0(setup: Setup) -> None:
    result = invoke("verify-files", setup.out, "--trust", setup.keys / "trust")
    assert result.exit_code == 0, result.output
    assert "3 of 3 card(s) VALID" in result.output
    assert "citizens-00002: VALID" in result.output
    result = invoke("verify-files", setup.out, "--trust", setup.keys / "trust", "--json")
    assert result.exit_code == 0, result.output
    reports = json.loads(result.stdout)["cards"]
    assert [Path(r["path"]).name for r in reports] == [
        "citizens-00002",
        "citizens-00003",
        "citizens-00004",
    ]
    assert {r["verdict"] for r in reports} == {"VALID"}
    assert all(c["status"] != "FAIL" for r in reports for c in r["checks"])


def test_verify_files_with_a_master_list(setup: Setup) -> None:
    result = invoke(
        "verify-files", setup.out / "citizens-00003", "--trust", setup.keys / "trust",
        "--masterlist", setup.keys / "masterlist.der", "--quiet",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].endswith("citizens-00003: VALID")


def test_verify_files_after_tampering_exits_1(setup: Setup, tmp_path: Path) -> None:
    batch = Path(shutil.copytree(setup.out, tmp_path / "cards"))
    dg13 = batch / "citizens-00003" / "DG13.bin"
    data = bytearray(dg13.read_bytes())
    data[len(data) // 2] ^= 0x01
    dg13.write_bytes(bytes(data))
    result = invoke("verify-files", batch, "--trust", setup.keys / "trust", "--json")
    assert result.exit_code == 1, result.output
    verdicts = {Path(r["path"]).name: r for r in json.loads(result.stdout)["cards"]}
    assert verdicts["citizens-00002"]["verdict"] == "VALID"
    assert verdicts["citizens-00004"]["verdict"] == "VALID"
    tampered = verdicts["citizens-00003"]
    assert tampered["verdict"] == "INVALID"
    failed = {c["id"] for c in tampered["checks"] if c["status"] == "FAIL"}
    assert {"image.manifest", "dg.hash.13"} <= failed
    result = invoke("verify-files", batch, "--trust", setup.keys / "trust")
    assert result.exit_code == 1
    assert "2 of 3 card(s) VALID" in result.output


@pytest.mark.parametrize(
    "arguments",
    [
        pytest.param((), id="no-trust"),
        pytest.param(("--masterlist", "ML"), id="masterlist-without-trust"),
        pytest.param(("--trust", "TRUST", "--masterlist", "NOT-A-ML"), id="bad-masterlist"),
    ],
)
def test_verify_files_usage_errors_exit_2(
    setup: Setup, tmp_path: Path, arguments: tuple[str, ...]
) -> None:
    not_a_ml = tmp_path / "not-a-master-list.der"
    not_a_ml.write_bytes(b"\x30\x03\x02\x01\x01")
    replace = {
        "ML": str(setup.keys / "masterlist.der"),
        "TRUST": str(setup.keys / "trust"),
        "NOT-A-ML": str(not_a_ml),
    }
    result = invoke("verify-files", setup.out, *(replace.get(a, a) for a in arguments))
    assert result.exit_code == 2, result.output
    assert result.stdout == ""


def test_verify_files_on_an_empty_folder_exits_2(setup: Setup, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = invoke("verify-files", tmp_path / "empty", "--trust", setup.keys / "trust")
    assert result.exit_code == 2
    assert "no card image or LDS files" in result.output


def test_prepare_with_two_jobs_reports_the_same(setup: Setup, tmp_path: Path) -> None:
    source = SAMPLES / "broken.csv"
    one = invoke("prepare", source, "--keys", setup.keys, "--out", tmp_path / "a")
    two = invoke("prepare", source, "--keys", setup.keys, "--out", tmp_path / "b", "--jobs", "2")
    assert one.exit_code == two.exit_code == 1
    assert one.stdout.replace(str(tmp_path / "a"), "OUT") == two.stdout.replace(
        str(tmp_path / "b"), "OUT"
    )
