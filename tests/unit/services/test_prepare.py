"""`prepare_batch`: records → signed card images, every record accounted for, re-runs idempotent."""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from testpki import in_memory_issuer

from cardkit.errors import RecordError
from cardkit.lds.sod import Sod
from cardkit.pki.audit import AuditLog
from cardkit.profile import Profile, load_profile
from cardkit.records import Validated, load_records, validate_all
from cardkit.report import Verdict
from cardkit.services import prepare as prepare_module
from cardkit.services.card_image import ChipSecrets, read_card_image, secrets_aad
from cardkit.services.prepare import Outcome, Summary, card_id_for, prepare_batch
from cardkit.services.verify_files import verify_folder

SAMPLES = Path(__file__).resolve().parents[3] / "profiles" / "samples"
TODAY = date(2026, 11, 1)  # the samples' reference day (profiles/samples/README.md)
T0 = datetime(2026, 1, 1, tzinfo=UTC)
SIGNED_AT = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
VERIFIED_AT = SIGNED_AT + timedelta(days=1)


def write_small_csv(path: Path, rows: int = 3, photos_to: Path | None = None) -> Path:
    """The first ``rows`` records of citizens.csv with absolute photo and fingerprint paths;
    with ``photos_to`` the images are copied there first (for tests that delete one)."""
    with (SAMPLES / "citizens.csv").open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        fields = list(reader.fieldnames or ())
        records = [row for _, row in zip(range(rows), reader, strict=False)]

    def absolute(relative: str) -> str:
        source = SAMPLES / relative
        if photos_to is None:
            return str(source)
        photos_to.mkdir(parents=True, exist_ok=True)
        target = photos_to / source.name
        shutil.copyfile(source, target)
        return str(target)

    for row in records:
        row["photo_path"] = absolute(row["photo_path"])
        fingers = [p for p in row["fingerprint_paths"].split(";") if p]
        row["fingerprint_paths"] = ";".join(absolute(p) for p in fingers)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(records)
    return path


class Station:
    """A CSCA, a Document Signer and a transport key held in memory (no scrypt, no files)."""

    def __init__(self) -> None:
        pki = in_memory_issuer("prepare test")
        self.csca, self.transport, self.issuer, self.trust = (
            pki.csca,
            pki.transport,
            pki.issuer,
            pki.trust,
        )


@pytest.fixture(scope="module")
def station() -> Station:
    return Station()


@pytest.fixture(scope="module")
def profile() -> Profile:
    return load_profile("vn-cccd-2021")


def run(
    records: Path, profile: Profile, station: Station, out: Path, audit: AuditLog | None = None
) -> Summary:
    return prepare_batch(
        records,
        profile,
        station.issuer,
        out,
        today=TODAY,
        clock=lambda: SIGNED_AT,
        audit=audit,
    )


@pytest.fixture(scope="module")
def batch(
    tmp_path_factory: pytest.TempPathFactory, profile: Profile, station: Station
) -> tuple[Path, Path, AuditLog, Summary]:
    base = tmp_path_factory.mktemp("batch")
    records = write_small_csv(base / "citizens.csv")
    audit = AuditLog(base / "audit.jsonl")
    out = base / "cards"
    return records, out, audit, run(records, profile, station, out, audit)


def test_good_records_become_valid_card_images(
    batch: tuple[Path, Path, AuditLog, Summary], station: Station
) -> None:
    records, out, _, summary = batch
    assert [o.status for o in summary.outcomes] == ["prepared"] * 3
    assert [o.row for o in summary.outcomes] == [2, 3, 4]
    assert summary.ok and summary.count("prepared") == 3
    assert sorted(p.name for p in out.iterdir()) == [card_id_for(records, row) for row in (2, 3, 4)]
    for outcome in summary.outcomes:
        assert outcome.card_id is not None
        folder = out / outcome.card_id
        report = verify_folder(folder, station.trust, VERIFIED_AT)
        assert report.verdict is Verdict.VALID, report.to_dict()
        image = read_card_image(folder)
        assert Sod.from_bytes(image.sod).signer_infos[0].serial_number == (
            station.issuer.dsc_certificate.serial_number
        )
        secrets = ChipSecrets.from_bytes(
            station.transport.decrypt(image.sealed, secrets_aad(image.card_id, image.sod))
        )
        assert secrets.chip_authentication_key is not None
        assert secrets.active_authentication_key is not None
    # Card ids carry no personal data: the file's name and the row only.
    assert summary.outcomes[0].card_id == "citizens-00002"


def test_broken_records_are_rejected_with_their_codes_and_none_is_lost(
    tmp_path: Path, profile: Profile, station: Station
) -> None:
    expected = json.loads((SAMPLES / "broken-expected.json").read_text(encoding="utf-8"))
    source = SAMPLES / "broken.csv"
    summary = run(source, profile, station, tmp_path / "cards")
    with source.open(encoding="utf-8", newline="") as fh:
        data_rows = sum(1 for _ in csv.DictReader(fh))
    rows = [o.row for o in summary.outcomes]
    # Every row of the input exactly once, in order (CSV line numbers: the header is line 1).
    assert rows == list(range(2, 2 + data_rows))
    assert len(summary.outcomes) == len(load_records(source))
    by_row = {o.row: o for o in summary.outcomes}
    for line, codes in expected["expect"].items():
        outcome = by_row[int(line)]
        assert outcome.status == "rejected", (line, outcome)
        assert outcome.card_id is None
        reported = {p.rsplit("[", 1)[1].rstrip("]") for p in outcome.problems}
        assert reported == set(codes), (line, outcome.problems)
        assert outcome.detail == f"{len(outcome.problems)} problem(s)"
    # The rows the expectation does not list are good: prepared, not dropped.
    for outcome in summary.outcomes:
        if str(outcome.row) not in expected["expect"]:
            assert outcome.status == "prepared", outcome
    assert not summary.ok
    prepared = {o.card_id for o in summary.outcomes if o.status == "prepared"}
    out = tmp_path / "cards"
    written = {p.name for p in out.iterdir()} if out.exists() else set()
    assert written == prepared


def test_rerun_skips_prepared_cards_and_signs_nothing_again(
    tmp_path: Path, profile: Profile, station: Station
) -> None:
    records = write_small_csv(tmp_path / "citizens.csv")
    audit = AuditLog(tmp_path / "audit.jsonl")
    out = tmp_path / "cards"
    first = run(records, profile, station, out, audit)
    assert first.count("prepared") == 3
    sods = {p.name: (p / "EF.SOD.bin").read_bytes() for p in out.iterdir()}
    log = audit.path.read_bytes()
    second = run(records, profile, station, out, audit)
    assert [(o.row, o.status, o.detail) for o in second.outcomes] == [
        (2, "skipped", "already prepared"),
        (3, "skipped", "already prepared"),
        (4, "skipped", "already prepared"),
    ]
    assert second.ok
    assert audit.path.read_bytes() == log  # no second signature
    assert {p.name: (p / "EF.SOD.bin").read_bytes() for p in out.iterdir()} == sods
    # After a crash that lost one card image, a re-run prepares exactly that one.
    shutil.rmtree(out / "citizens-00003")
    third = run(records, profile, station, out, audit)
    assert [o.status for o in third.outcomes] == ["skipped", "prepared", "skipped"]
    assert len(audit.path.read_text(encoding="utf-8").splitlines()) == 4


def test_audit_log_has_one_line_per_signature_and_no_document_number(
    batch: tuple[Path, Path, AuditLog, Summary], profile: Profile, station: Station
) -> None:
    records, out, audit, summary = batch
    text = audit.path.read_text(encoding="utf-8")
    lines = [json.loads(line) for line in text.splitlines()]
    assert len(lines) == summary.count("prepared") == 3
    key = audit.key_path.read_bytes()
    good = [v.record for v in validate_all(load_records(records), profile, TODAY)]
    for line, record, outcome in zip(lines, good, summary.outcomes, strict=True):
        assert record is not None
        sod = (out / str(outcome.card_id) / "EF.SOD.bin").read_bytes()
        assert line["event"] == "sod-signed"
        assert line["card_id"] == outcome.card_id
        assert line["sod_sha256"] == hashlib.sha256(sod).hexdigest()
        assert line["key"] == station.issuer.dsc_signer.key_id
        assert line["dsc_serial"] == format(station.issuer.dsc_certificate.serial_number, "X")
        assert line["time"] == SIGNED_AT.isoformat()
        # The document is identified by a keyed hash only.
        expected = hmac.new(key, record.document_number.encode(), hashlib.sha256).hexdigest()
        assert line["document"] == expected
        assert line["document"] != hashlib.sha256(record.document_number.encode()).hexdigest()
        for clear in (record.document_number, record.id_number, record.full_name):
            assert clear not in text
        assert record.can is None or record.can not in text


def test_a_missing_photo_fails_that_record_and_the_batch_continues(
    tmp_path: Path, profile: Profile, station: Station, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = write_small_csv(tmp_path / "citizens.csv", photos_to=tmp_path / "photos")
    raw = load_records(records)
    victim = validate_all(raw, profile, TODAY)[1].record
    assert victim is not None
    audit = AuditLog(tmp_path / "audit.jsonl")
    seen: list[tuple[int, int]] = []

    def progress(outcome: Outcome, done: int, total: int) -> None:
        seen.append((done, total))

    # Records are validated one at a time, just before each is prepared: the victim's photo
    # disappears in between (validated already, its card not prepared yet).
    validate_stream = prepare_module.validate_stream

    def photo_lost_after_validation(*args: Any, **kwargs: Any) -> Iterator[Validated]:
        for result in validate_stream(*args, **kwargs):
            if result.record == victim:
                victim.photo_path.unlink()
            yield result

    monkeypatch.setattr(prepare_module, "validate_stream", photo_lost_after_validation)
    summary = prepare_batch(
        records,
        profile,
        station.issuer,
        tmp_path / "cards",
        today=TODAY,
        clock=lambda: SIGNED_AT,
        audit=audit,
        progress=progress,
    )
    assert seen == [(1, 3), (2, 3), (3, 3)]
    assert [o.status for o in summary.outcomes] == ["prepared", "failed", "prepared"]
    failed = summary.outcomes[1]
    assert failed.row == 3 and failed.card_id == "citizens-00003"
    assert "No such file" in failed.detail
    assert victim.document_number not in failed.detail
    assert not summary.ok
    assert not (tmp_path / "cards" / "citizens-00003").exists()
    assert sorted(p.name for p in (tmp_path / "cards").iterdir()) == [
        "citizens-00002",
        "citizens-00004",
    ]
    assert len(audit.path.read_text(encoding="utf-8").splitlines()) == 2  # nothing was signed


def test_validation_in_worker_processes_gives_the_same_outcomes(
    tmp_path: Path, profile: Profile, station: Station
) -> None:
    source = SAMPLES / "broken.csv"
    one = run(source, profile, station, tmp_path / "one")
    two = prepare_batch(
        source,
        profile,
        station.issuer,
        tmp_path / "two",
        today=TODAY,
        clock=lambda: SIGNED_AT,
        jobs=2,
    )
    assert two.outcomes == one.outcomes


def test_an_unusable_file_fails_before_any_card_is_prepared(
    tmp_path: Path, profile: Profile, station: Station
) -> None:
    records = write_small_csv(tmp_path / "citizens.csv")
    with records.open("a", encoding="utf-8") as fh:
        fh.write("\n")
    records.write_bytes(records.read_bytes().replace(b"can\r\n", b"can,nope\r\n", 1))
    with pytest.raises(RecordError, match="unknown column"):
        run(records, profile, station, tmp_path / "cards")
    assert not (tmp_path / "cards").exists()
