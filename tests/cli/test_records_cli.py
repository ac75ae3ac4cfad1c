"""`cardkit records check` end to end through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from cardkit.cli.main import cli

SAMPLES = Path(__file__).resolve().parents[2] / "profiles" / "samples"
TODAY = ["--today", "2026-11-01"]


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["records", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_good_files_exit_0() -> None:
    for name in ("citizens.csv", "citizens.jsonl"):
        code, out, _ = run("check", str(SAMPLES / name), *TODAY)
        assert code == 0, out
        assert "0 with problems" in out.splitlines()[-1]
    code, out, _ = run("check", str(SAMPLES / "citizens.jsonl"), *TODAY)
    assert "normalised to Unicode NFC: full_name" in out


def test_broken_file_exit_1_lists_every_problem() -> None:
    expected = json.loads((SAMPLES / "broken-expected.json").read_text(encoding="utf-8"))
    code, out, _ = run("check", str(SAMPLES / "broken.csv"), *TODAY)
    assert code == 1
    for row, codes in expected["expect"].items():
        for c in codes:
            assert f"broken.csv:{row}: " in out and f"[{c}]" in out
    n = len(expected["expect"])
    assert f"{n} records: 0 good, {n} with problems" in out.splitlines()[-1]
    # Field then message, e.g. "…:21: can must be 6 digits [can.format]".
    assert "broken.csv:21: can must be 6 digits [can.format]" in out


def test_json_report() -> None:
    code, out, _ = run("check", str(SAMPLES / "broken.csv"), "--json", *TODAY)
    assert code == 1
    report = json.loads(out)
    assert report["profile"] == "vn-cccd-2021"
    assert report["today"] == "2026-11-01"
    assert report["summary"]["bad"] == report["summary"]["records"] >= 10
    first = report["records"][0]
    assert first["row"] == 2 and not first["ok"]
    assert first["problems"][0]["code"] == "id.format"
    assert set(first["problems"][0]) == {"row", "field", "code", "message"}

    code, out, _ = run("check", str(SAMPLES / "citizens.csv"), "--json", *TODAY)
    assert code == 0 and json.loads(out)["summary"]["bad"] == 0


def test_profile_option() -> None:
    # The generic profile uses fixed 10-year expiry: the Vietnamese expiry dates mismatch.
    code, out, _ = run(
        "check", str(SAMPLES / "citizens.csv"), "--profile", "icao-td1-generic", *TODAY
    )
    assert code == 1 and "[expiry.mismatch]" in out


def test_file_errors_exit_2(tmp_path: Path) -> None:
    code, out, err = run("check", str(tmp_path / "missing.csv"))
    assert code == 2 and "cannot read" in err and out == ""
    bad = tmp_path / "bad.csv"
    bad.write_text("id_number,full_name\n1,2\n", encoding="utf-8")
    code, _, err = run("check", str(bad))
    assert code == 2 and "bad.csv, line 1: missing required column(s)" in err
    code, _, err = run("check", str(SAMPLES / "citizens.csv"), "--profile", "no-such-profile")
    assert code == 2 and "no profile named" in err


def test_future_issue_dates_against_an_earlier_today() -> None:
    code, out, _ = run("check", str(SAMPLES / "citizens.csv"), "--today", "2021-01-01")
    assert code == 1 and "[date.future]" in out


def test_one_bad_line_does_not_hide_the_others(tmp_path: Path) -> None:
    # The sample records, relative image paths and all, with a stray quote in line 3 and a byte
    # that is not UTF-8 in line 5: those two rows are reported, the others checked as usual.
    for folder in ("photos", "fingerprints"):
        (tmp_path / folder).symlink_to(SAMPLES / folder)
    lines = (SAMPLES / "citizens.csv").read_bytes().split(b"\n")[:6]
    assert b",Kinh," in lines[2] and "Hạnh".encode() in lines[4]
    lines[2] = lines[2].replace(b",Kinh,", b',"Kinh,', 1)
    lines[4] = lines[4].replace("Hạnh".encode(), b"H\xe1nh", 1)
    bad = tmp_path / "mixed.csv"
    bad.write_bytes(b"\n".join(lines) + b"\n")

    code, out, err = run("check", str(bad), *TODAY)
    assert code == 1 and err == ""
    assert f"{bad}:3: ethnicity: text after the closing" in out and "[row.quote]" in out
    assert f"{bad}:5: full_name is not valid text" in out and "[row.encoding]" in out
    assert out.splitlines()[-1] == "5 records: 3 good, 2 with problems (2 problems)"
    assert "Hoàng Thu" not in out and "Bùi Bích" not in out  # the values stay out of the report

    code, out, _ = run("check", str(bad), "--json", *TODAY)
    report = json.loads(out)
    assert code == 1 and report["summary"]["good"] == 3
    assert [(r["row"], [p["code"] for p in r["problems"]]) for r in report["records"]] == [
        (2, []),
        (3, ["row.quote"]),
        (4, []),
        (5, ["row.encoding"]),
        (6, []),
    ]
    assert report["records"][3]["problems"][0]["field"] == "full_name"
