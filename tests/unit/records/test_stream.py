"""Streaming: records are read and validated as they come, in flat memory, the same as reading
the whole file at once; ``jobs`` > 1 gives the same verdicts in the same order."""

from __future__ import annotations

import csv
import importlib
import io
import json
import pickle
import tracemalloc
from collections.abc import Generator, Iterator
from datetime import date
from itertools import islice
from pathlib import Path
from typing import IO
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cardkit.errors import RecordError
from cardkit.profile import Profile, load_profile
from cardkit.records import load
from cardkit.records.images import ImageChecks
from cardkit.records.load import COLUMNS, RawRecord, iter_records, load_records
from cardkit.records.validate import FirstRows, Validated, validate_all, validate_stream

# The module: the package's ``validate`` is the function.
validate_module = importlib.import_module("cardkit.records.validate")
SAMPLES = Path(__file__).resolve().parents[3] / "profiles" / "samples"
TODAY = date(2026, 11, 1)


@pytest.fixture(scope="module")
def profile() -> Profile:
    return load_profile("vn-cccd-2021")


def sample_rows(n: int, photo: Path | None = None) -> tuple[list[str], list[dict[str, str]]]:
    """``n`` valid rows: the sample citizens cycled, each with its own ID number."""
    with (SAMPLES / "citizens.csv").open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        header = list(reader.fieldnames or ())
        samples = list(reader)
    rows = []
    for i in range(n):
        row = dict(samples[i % len(samples)])
        row["id_number"] = row["id_number"][:6] + f"{i:06d}"
        row["old_id_number"] = ""
        row["photo_path"] = str(photo or SAMPLES / row["photo_path"])
        prints = [p for p in row["fingerprint_paths"].split(";") if p]
        row["fingerprint_paths"] = ";".join(str(SAMPLES / p) for p in prints)
        rows.append(row)
    return header, rows


def write_csv(path: Path, header: list[str], rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    return path


def verdicts(results: list[Validated]) -> list[tuple[int, object, object, object]]:
    return [(r.raw.row, r.record, r.problems, r.normalised) for r in results]


# ------------------------------------------------------------------------------ lazy reading


class Tripwire(io.BufferedReader):
    """A records file that fails when read past ``limit`` bytes."""

    limit = 0

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0 or self.tell() + size > self.limit:
            raise AssertionError(f"read past byte {self.limit}")
        return super().read(size)

    def readline(self, size: int | None = -1) -> bytes:
        line = super().readline(size)
        if self.tell() > self.limit:
            raise AssertionError(f"read past byte {self.limit}")
        return line


def tripwire(limit: int) -> mock._patch[object]:
    def opener(p: Path) -> IO[bytes]:
        Tripwire.limit = limit
        return Tripwire(io.FileIO(p, "rb"))

    return mock.patch.object(load, "_open", opener)


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_records_are_read_as_they_are_wanted(tmp_path: Path, suffix: str) -> None:
    header, rows = sample_rows(2000)
    path = write_csv(tmp_path / "big.csv", header, rows)
    if suffix == ".jsonl":
        lines = [json.dumps(r, ensure_ascii=False) for r in rows]
        path = tmp_path / "big.jsonl"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert path.stat().st_size > 500_000
    with tripwire(8192):
        records = iter_records(path, read_bytes=4096)
        first = next(records)
        assert first.get("id_number") == rows[0]["id_number"]
        for _ in range(5):
            next(records)
        with pytest.raises(AssertionError, match="read past byte 8192"):
            list(records)


def test_a_file_error_comes_with_the_first_record(tmp_path: Path) -> None:
    with pytest.raises(RecordError, match="unknown records format"):
        iter_records(tmp_path / "r.xlsx")  # at once
    records = iter_records(tmp_path / "missing.csv")  # no error until it is read
    with pytest.raises(RecordError, match="cannot read the records file"):
        next(records)


# ------------------------------------------------------- property: chunks == the whole text

PIECES = st.sampled_from(
    ['"', '""', ",", "\n", "\r", "\r\n", "a", "b c", "Hà Nội", "\ufeff", "\udcff", "x" * 20]
)


def csv_bytes(body: list[str]) -> bytes:
    header = ",".join(["id_number", "full_name", *COLUMNS[2:11], "photo_path"])
    text = header + "\n" + "".join(body)
    return text.encode("utf-8", "surrogateescape")


def read_all(path: Path, read_bytes: int) -> list[RawRecord] | str:
    try:
        return list(iter_records(path, read_bytes=read_bytes))
    except RecordError as exc:
        return f"RecordError: {exc}"


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("stream")


@given(
    body=st.lists(PIECES, max_size=60),
    bom=st.booleans(),
    read_bytes=st.sampled_from([1, 2, 3, 5, 16]),
)
def test_reading_in_pieces_is_reading_the_whole_file(
    scratch: Path, body: list[str], bom: bool, read_bytes: int
) -> None:
    path = scratch / "p.csv"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + csv_bytes(body))
    # A small quote window, so that values "too long" and quotes left open are cut by reads.
    with mock.patch.object(load, "_QUOTE_WINDOW", 9):
        assert read_all(path, read_bytes) == read_all(path, 1 << 20)


def test_a_character_cut_by_a_read_is_kept_whole(tmp_path: Path) -> None:
    header, rows = sample_rows(3)
    path = write_csv(tmp_path / "r.csv", header, rows)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    whole = load_records(path)
    for read_bytes in (1, 2, 3, 7):
        assert list(iter_records(path, read_bytes=read_bytes)) == whole
    assert whole[0].get("full_name") == rows[0]["full_name"]


def test_raw_records_pickle(tmp_path: Path) -> None:
    raw = load_records(SAMPLES / "broken.csv")[-1]
    assert raw.defects
    assert pickle.loads(pickle.dumps(raw)) == raw


# ------------------------------------------------------------------------------ lazy validation


def counting(raws: list[RawRecord], fail_after: int) -> tuple[Iterator[RawRecord], list[int]]:
    taken: list[int] = []

    def gen() -> Iterator[RawRecord]:
        for raw in raws:
            if len(taken) == fail_after:
                raise AssertionError(f"record {fail_after + 1} taken")
            taken.append(raw.row)
            yield raw

    return gen(), taken


def test_validation_takes_one_record_per_verdict(profile: Profile) -> None:
    raws = load_records(SAMPLES / "citizens.csv")
    source, taken = counting(raws, fail_after=3)
    results = validate_stream(source, profile, TODAY)
    assert taken == []  # nothing before the first verdict is wanted
    assert [next(results).raw.row for _ in range(3)] == [2, 3, 4]
    assert taken == [2, 3, 4]


def test_workers_take_a_bounded_number_of_records_ahead(
    profile: Profile, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(validate_module, "CHUNK_RECORDS", 2)
    raws = load_records(SAMPLES / "citizens.csv")
    ahead = 2 * 4 * 2  # jobs x chunks ahead per worker x records per chunk
    source, taken = counting(raws, fail_after=ahead + 2)
    results = validate_stream(source, profile, TODAY, jobs=2)
    assert next(results).raw.row == 2
    assert len(taken) <= ahead + 2
    assert isinstance(results, Generator)
    results.close()  # the workers stop


def test_memory_stays_flat(tmp_path: Path, profile: Profile) -> None:
    # Rows share one photo (checked once): this measures the records, not the images.
    photo = SAMPLES / "photos" / "citizen-01.jpg"
    header, rows = sample_rows(3000, photo=photo)
    path = write_csv(tmp_path / "big.csv", header, rows)
    # A first run, not measured: the interpreter's own tables (interned strings, Pillow's
    # plugins) grow once, on first use.
    assert all(r.ok for r in validate_stream(iter_records(path), profile, TODAY))
    tracemalloc.start()
    try:
        held = validate_all(islice(iter_records(path), 300), profile, TODAY)
        per_row = tracemalloc.get_traced_memory()[0] / len(held)
        del held
        tracemalloc.reset_peak()
        start = tracemalloc.get_traced_memory()[0]
        results = validate_stream(iter_records(path, read_bytes=1 << 16), profile, TODAY)
        good = sum(r.ok for r in results)
        peak = tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()
    assert good == len(rows)
    # Holding the 3000 records and verdicts would take per_row x 3000 (some 10 MB); streaming
    # holds a read buffer, the record in hand, the image cache and 3000 ID numbers.
    assert per_row > 2000
    assert peak < per_row * len(rows) / 4, (peak, per_row)


# -------------------------------------------------------------------------- jobs, duplicates


def test_jobs_give_the_same_verdicts_in_the_same_order(
    tmp_path: Path, profile: Profile, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(validate_module, "CHUNK_RECORDS", 3)  # duplicates across chunks
    header, rows = sample_rows(20)
    rows[7]["id_number"] = rows[1]["id_number"]
    rows[15]["id_number"] = rows[1]["id_number"]
    rows[9]["photo_path"] = str(tmp_path / "gone.jpg")
    rows[12]["date_of_birth"] = "1993-02-30"
    path = write_csv(tmp_path / "r.csv", header, rows)
    for source in (path, SAMPLES / "broken.csv", SAMPLES / "citizens.jsonl"):
        one = list(validate_stream(iter_records(source), profile, TODAY))
        two = list(validate_stream(iter_records(source), profile, TODAY, jobs=2))
        assert [r.raw for r in two] == [r.raw for r in one]
        assert verdicts(two) == verdicts(one)
    dups = [(r.raw.row, p.message) for r in one for p in r.problems if p.code == "id.duplicate"]
    assert dups == []  # (one is citizens.jsonl)
    first = list(validate_stream(iter_records(path), profile, TODAY, jobs=2))
    dups = [(r.raw.row, p.message) for r in first for p in r.problems if p.code == "id.duplicate"]
    assert dups == [
        (9, "id_number repeats the record at row 3"),
        (17, "id_number repeats the record at row 3"),
    ]
    assert validate_all(load_records(path), profile, TODAY, jobs=2) == first


def test_jobs_must_be_positive(profile: Profile) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        validate_stream([], profile, TODAY, jobs=0)


def test_a_custom_image_check_reaches_the_workers(profile: Profile) -> None:
    raws = load_records(SAMPLES / "citizens.csv")
    results = list(validate_stream(raws, profile, TODAY, jobs=2, images=RefuseAll()))
    assert {p.code for r in results for p in r.problems} == {"photo.decode", "fingerprint.decode"}


class RefuseAll(ImageChecks):
    def problem(self, path: str | Path, min_size: tuple[int, int] | None) -> tuple[str, str]:
        return "decode", "refused"


@given(
    st.lists(
        st.one_of(
            st.integers(0, 999).map(lambda i: f"{i:012d}"),
            st.integers(0, 10**12 - 1).map(lambda i: f"{i:012d}"),
            st.text(max_size=13),
        ),
        max_size=3000,
    )
)
def test_first_rows_is_a_dict_of_first_rows(ids: list[str]) -> None:
    table, expected = FirstRows(), dict[str, int]()
    for row, id_text in enumerate(ids):
        assert table.seen(id_text, row) == expected.get(id_text)
        expected.setdefault(id_text, row)
    assert len(table) == len(expected)
