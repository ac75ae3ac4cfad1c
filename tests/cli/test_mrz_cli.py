"""`cardkit mrz build` / `cardkit mrz check` through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cardkit.cli.mrz import mrz
from cardkit.errors import CardkitError

VECTORS = json.loads(
    (Path(__file__).parents[1] / "vectors" / "mrz.json").read_text(encoding="utf-8")
)
TD1 = "\n".join(VECTORS["td1_specimen"]["lines"]) + "\n"
TD3 = "\n".join(VECTORS["td3_specimen"]["lines"]) + "\n"
VN = VECTORS["vn_td1"]
VN_ARGS = [
    "build",
    "--id-number", VN["id_number"],
    "--name", "Nguyễn Văn An",
    "--dob", VN["date_of_birth"],
    "--sex", VN["sex"],
    "--expiry", VN["date_of_expiry"],
]  # fmt: skip


def test_build_vietnamese() -> None:
    # Source: DOMAIN.md §3 example.
    result = CliRunner().invoke(mrz, VN_ARGS)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[:2] == VN["lines_1_2"]
    assert lines[2].startswith("NGUYEN<<VAN<AN<")


def test_build_vietnamese_json_and_no_expiry() -> None:
    args = [*VN_ARGS[:-2], "--expiry", "none", "--json"]
    result = CliRunner().invoke(mrz, args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["format"] == "TD1" and out["vn_id_number"] == VN["id_number"]
    assert out["lines"][1][8:14] == "991231"


def test_build_generic_td1_and_td3() -> None:
    # Sources: the ICAO 9303-5 and 9303-4 Appendix B specimens from their VIZ data.
    common = ["--surname", "Eriksson", "--given-names", "Anna Maria", "--dob", "1974-08-12"]
    common += ["--sex", "F", "--expiry", "2012-04-15"]
    td1 = CliRunner().invoke(mrz, ["build", "--document-number", "D23145890", *common])
    assert td1.exit_code == 0, td1.output
    assert td1.output == TD1
    td3 = CliRunner().invoke(
        mrz,
        [
            "build",
            "--td3",
            "--document-number",
            "L898902C3",
            "--optional-data",
            "ZE184226B",
            *common,
        ],
    )
    assert td3.exit_code == 0, td3.output
    assert td3.output == TD3


@pytest.mark.parametrize(
    "args",
    [
        ["build", "--dob", "1993-01-05", "--sex", "M", "--name", "A B"],  # no number
        [*VN_ARGS, "--td3"],
        ["build", "--id-number", "1", "--document-number", "2", "--name", "A", "--dob",
         "2000-01-01", "--sex", "M"],
        [*VN_ARGS[:7], "--dob", "05/01/1993", "--sex", "M"],
    ],
)  # fmt: skip
def test_build_usage_errors(args: list[str]) -> None:
    result = CliRunner().invoke(mrz, args)
    assert result.exit_code == 2


def test_build_bad_value_raises_cardkit_error_for_the_main_handler() -> None:
    args = [*VN_ARGS]
    args[args.index("--id-number") + 1] = "123"
    result = CliRunner().invoke(mrz, args)
    assert isinstance(result.exception, CardkitError)


@pytest.mark.parametrize("text", [TD1, TD3])
def test_check_valid_from_stdin(text: str) -> None:
    result = CliRunner().invoke(mrz, ["check"], input=text)
    assert result.exit_code == 0, result.output
    assert "valid" in result.output
    # The MRZ is never echoed.
    assert "ERIKSSON" not in result.output


def test_check_invalid_file_reports_every_problem(tmp_path: Path) -> None:
    lines = list(VECTORS["td1_specimen"]["lines"])
    lines[1] = lines[1][:6] + "3" + lines[1][7:]
    path = tmp_path / "mrz.txt"
    path.write_text("\n".join(lines), encoding="utf-8")
    result = CliRunner().invoke(mrz, ["check", str(path)])
    assert result.exit_code == 1
    assert "date_of_birth" in result.output and "composite" in result.output
    assert "740812" not in result.output
    as_json = CliRunner().invoke(mrz, ["check", "--json", str(path)])
    assert as_json.exit_code == 1
    report = json.loads(as_json.output)
    assert report["valid"] is False
    assert [p["field"] for p in report["problems"]] == ["date_of_birth", "composite"]


def test_check_json_valid_and_garbage() -> None:
    ok = CliRunner().invoke(mrz, ["check", "--json", "-"], input=TD3)
    assert ok.exit_code == 0
    assert json.loads(ok.output) == {
        "schema": "cardkit.mrz.check",
        "version": 1,
        "valid": True,
        "format": "TD3",
        "problems": [],
    }
    bad = CliRunner().invoke(mrz, ["check", "-"], input="hello\n")
    assert bad.exit_code == 1
    assert "format" in bad.output


def test_check_takes_no_mrz_argument() -> None:
    # A path that does not exist (e.g. someone pasting the MRZ) is a usage error.
    line = VECTORS["td1_specimen"]["lines"][0]
    result = CliRunner().invoke(mrz, ["check", line])
    assert result.exit_code == 2
    assert line not in result.output
