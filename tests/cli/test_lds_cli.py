"""`cardkit lds build` and `cardkit lds dump` end to end with click's CliRunner."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from cardkit.cli.main import cli

SAMPLES = Path(__file__).resolve().parents[2] / "profiles" / "samples"


def _public_pem(path: Path, curve: ec.EllipticCurve) -> Path:
    key = ec.generate_private_key(curve).public_key()
    path.write_bytes(
        key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


def test_build_then_dump(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "lds"
    result = runner.invoke(
        cli,
        [
            "lds", "build", str(SAMPLES / "citizens.csv"), "--id-number", "001093047064",
            "--ca-public-key", str(_public_pem(tmp_path / "ca.pem", ec.BrainpoolP256R1())),
            "--aa-public-key", str(_public_pem(tmp_path / "aa.pem", ec.SECP256R1())),
            "--out", str(out),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in out.iterdir())
    assert written == sorted(
        f"{n}.bin" for n in ("EF.COM", "DG1", "DG2", "DG3", "DG13", "DG14", "DG15", "EF.CardAccess")
    )
    # The files hold personal data: readable by their owner only.
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in out.iterdir())

    result = runner.invoke(cli, ["lds", "dump", str(out)])
    assert result.exit_code == 0, result.output
    assert "IDVNM0930470641001093047064<<2" in result.output
    assert "full_name: Võ Văn Hiếu" in result.output
    assert "id-CA-ECDH-AES-CBC-CMAC-128" in result.output

    result = runner.invoke(cli, ["lds", "dump", str(out), "--json"])
    assert result.exit_code == 0
    entries = {e["file"]: e for e in json.loads(result.output)["files"]}
    assert entries["DG2"]["content"]["format"] == "jpeg"
    assert entries["DG2"]["content"]["width"] == 240
    assert entries["DG13"]["content"]["fields"]["sex"] == "Nam"
    assert entries["EF.COM"]["content"]["data_groups"] == [1, 2, 3, 13, 14, 15]


def test_dump_reports_bad_files_and_goes_on(tmp_path: Path) -> None:
    good = tmp_path / "com.bin"
    good.write_bytes(bytes.fromhex("60165F0104303130375F36063034303030305C046175766C"))
    (tmp_path / "truncated.bin").write_bytes(bytes.fromhex("6116"))
    result = CliRunner().invoke(cli, ["lds", "dump", str(tmp_path)])
    assert result.exit_code == 1
    assert "EF.COM" in result.output and "lds_version: 1.7" in result.output
    assert "truncated.bin: ERROR" in result.output


def test_build_refuses_an_invalid_record(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["lds", "build", str(SAMPLES / "broken.csv"), "--row", "3", "--out", str(tmp_path)]
    )
    assert result.exit_code != 0
    assert "not a valid record" in result.output
    assert not any(tmp_path.iterdir())


def test_unknown_row_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["lds", "build", str(SAMPLES / "citizens.csv"), "--row", "999", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "no record at row 999" in result.output
