"""`cardkit records check` end to end through click's CliRunner."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from cardkit.cli import records as records_cli
from cardkit.cli.main import cli
from cardkit.errors import RecordError
from cardkit.records.load import RawRecord, load_records

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


# ------------------------------------------------------------------------ streaming, --jobs


def mixed_file(tmp_path: Path) -> Path:
    """The good samples with a repeated ID number, a missing photo and a broken row."""
    for folder in ("photos", "fingerprints"):
        (tmp_path / folder).symlink_to(SAMPLES / folder)
    lines = (SAMPLES / "citizens.csv").read_bytes().split(b"\n")
    lines[20] = lines[20].replace(lines[20].split(b",")[0], lines[3].split(b",")[0], 1)
    lines[9] = lines[9].replace(b"photos/citizen-", b"photos/nobody-", 1)
    lines[16] = lines[16].replace(b",Kinh,", b',"Kinh,', 1)
    path = tmp_path / "mixed.csv"
    path.write_bytes(b"\n".join(lines))
    return path


def test_jobs_do_not_change_the_output(tmp_path: Path) -> None:
    for path in (mixed_file(tmp_path), SAMPLES / "broken.csv", SAMPLES / "citizens.jsonl"):
        for mode in ([], ["--json"]):
            one = run("check", str(path), *TODAY, *mode)
            two = run("check", str(path), *TODAY, *mode, "--jobs", "2")
            assert two == one
    code, out, _ = run("check", str(tmp_path / "mixed.csv"), *TODAY, "-j", "2")
    assert code == 1
    assert "mixed.csv:21: id_number repeats the record at row 4 [id.duplicate]" in out
    assert "mixed.csv:10: photo_path: file not found [photo.missing]" in out
    assert "mixed.csv:17: ethnicity: text after the closing" in out
    assert out.splitlines()[-1] == "32 records: 29 good, 3 with problems (4 problems)"  # + id.year
    code, _, err = run("check", str(path), "--jobs", "0")
    assert code == 2 and "--jobs" in err


def test_problems_are_printed_as_the_records_come(monkeypatch: pytest.MonkeyPatch) -> None:
    # The file fails after its first records (a disk error, say): what was checked is out.
    def failing(path: Path) -> Iterator[RawRecord]:
        yield from load_records(SAMPLES / "broken.csv")[:2]
        raise RecordError(f"{path}: cannot read the records file: Input/output error")

    monkeypatch.setattr(records_cli, "iter_records", failing)
    code, out, err = run("check", str(SAMPLES / "broken.csv"), *TODAY)
    assert code == 2 and "Input/output error" in err
    assert "broken.csv:2: id_number must be exactly 12 digits [id.format]" in out
    assert "[id.province]" in out and "records:" not in out  # no summary: it did not finish


def test_json_report_streams_one_object(tmp_path: Path) -> None:
    code, out, _ = run("check", str(SAMPLES / "citizens.jsonl"), "--json", *TODAY)
    report = json.loads(out)
    assert code == 0
    assert list(report) == ["schema", "version", "file", "profile", "today", "records", "summary"]
    assert report["schema"] == "cardkit.records.check"
    assert [r["row"] for r in report["records"]] == [1, 2, 3]
    assert report["summary"] == {"records": 3, "good": 3, "bad": 0, "problems": 0, "normalised": 1}
    header = (SAMPLES / "citizens.csv").read_text(encoding="utf-8").splitlines()[0]
    empty = tmp_path / "empty.csv"
    empty.write_text(header + "\n", encoding="utf-8")
    code, out, _ = run("check", str(empty), "--json", *TODAY)
    assert code == 0 and json.loads(out)["records"] == []
    assert json.loads(out)["summary"]["records"] == 0


def test_decode_images_catches_damage_the_structural_walk_lets_through(tmp_path: Path) -> None:
    """A PNG fingerprint whose compressed data is damaged but whose chunk CRCs were fixed up
    passes the default structural check (chunks, CRCs, IEND) and fails --decode-images."""
    import csv
    import shutil
    import struct
    import zlib

    rows = (SAMPLES / "citizens.csv").read_text(encoding="utf-8").splitlines()
    header, first = rows[0], rows[1]
    for folder in ("photos", "fingerprints"):
        shutil.copytree(SAMPLES / folder, tmp_path / folder)
    finger = next(csv.DictReader([header, first]))["fingerprint_paths"].split(";")[0]
    path = tmp_path / finger
    data = bytearray(path.read_bytes())
    at = data.index(b"IDAT")
    length = struct.unpack(">I", data[at - 4 : at])[0]
    body = bytearray(data[at + 4 : at + 4 + length])
    body[2:] = bytes(len(body) - 2)  # keep the zlib header, zero the deflate stream
    crc = zlib.crc32(b"IDAT" + body)
    data[at + 4 : at + 4 + length] = body
    data[at + 4 + length : at + 8 + length] = struct.pack(">I", crc)
    path.write_bytes(bytes(data))
    records = tmp_path / "one.csv"
    records.write_text(header + "\n" + first + "\n", encoding="utf-8")
    code, out, _ = run("check", str(records), *TODAY)
    assert code == 0, out
    code, out, _ = run("check", str(records), "--decode-images", *TODAY)
    assert code == 1 and "fingerprint" in out, out
