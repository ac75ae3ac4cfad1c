"""`verify_files`: passive authentication of prepared card images and of plain LDS folders."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from hypothesis import given
from hypothesis import strategies as st

from cardkit.cli.main import cli
from cardkit.encoding import tlv
from cardkit.lds.decode import identify
from cardkit.lds.sod import Sod
from cardkit.pki.sod_sign import sign_sod
from cardkit.pki.trust import TrustStore
from cardkit.profile import load_profile
from cardkit.report import Report, Status, Verdict
from cardkit.services.card_image import MANIFEST
from cardkit.services.pki_admin import Pki, init_pki
from cardkit.services.prepare import prepare_batch
from cardkit.services.verify_files import card_folders, verify_files, verify_folder

SAMPLES = Path(__file__).resolve().parents[3] / "profiles" / "samples"
TODAY = date(2026, 11, 1)  # the samples' reference day (profiles/samples/README.md)
PASSWORD = b"verify-files test password"
NOW = datetime.now(UTC).replace(microsecond=0)
AT = NOW + timedelta(minutes=5)


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
class Batch:
    pki: Pki
    trust: TrustStore
    other_trust: TrustStore  # another PKI's trust folder: a CSCA that never issued our DSC
    out: Path
    scratch: Path  # a copy of one card that tests alter and restore


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Batch:
    base = tmp_path_factory.mktemp("verify")
    pki = init_pki(base / "keys", country="VN", secret_spec="env:UNUSED", secret=PASSWORD, now=NOW)
    other = init_pki(
        base / "other-keys", country="VN", secret_spec="env:UNUSED", secret=PASSWORD, now=NOW
    )
    records = write_small_csv(base / "citizens.csv")
    out = base / "cards"
    summary = prepare_batch(
        records,
        load_profile("vn-cccd-2021"),
        pki.issuer(),
        out,
        today=TODAY,
        clock=lambda: NOW,
    )
    assert summary.count("prepared") == 3
    scratch = Path(shutil.copytree(out / "citizens-00002", base / "scratch" / "citizens-00002"))
    return Batch(
        pki,
        TrustStore.from_folder(pki.config.trust_dir),
        TrustStore.from_folder(other.config.trust_dir),
        out,
        scratch,
    )


def _status(report: Report, check_id: str) -> Status:
    check = report.get(check_id)
    assert check is not None, f"{check_id} missing from {[c.id for c in report.checks]}"
    return check.status


def _failed(report: Report) -> set[str]:
    return {c.id for c in report.by_status(Status.FAIL)}


def _rehash(folder: Path, name: str) -> None:
    """Update the manifest's hash of ``name`` so the change reaches passive authentication."""
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    data = (folder / f"{name}.bin").read_bytes()
    manifest["files"][name]["sha256"] = hashlib.sha256(data).hexdigest()
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")


def test_a_prepared_batch_is_valid(batch: Batch) -> None:
    results = verify_files(batch.out, batch.trust, AT)
    assert [r.path.name for r in results] == ["citizens-00002", "citizens-00003", "citizens-00004"]
    for result in results:
        report = result.report
        assert report.verdict is Verdict.VALID, report.to_dict()
        for check_id in ("image.manifest", "sod.parse", "sod.signature", "dsc.chain"):
            assert _status(report, check_id) is Status.PASS
        assert _status(report, "dsc.revocation") is Status.PASS  # the trust folder has a CRL
        assert _status(report, "dg.hash.1") is Status.PASS
    assert list(card_folders(batch.out / "citizens-00002")) == [batch.out / "citizens-00002"]


@given(data=st.data())
def test_any_changed_byte_of_any_data_group_fails_its_hash(
    batch: Batch, data: st.DataObject
) -> None:
    folder = batch.scratch
    dgs = sorted(p.name.removesuffix(".bin") for p in folder.glob("DG*.bin"))
    assert {"DG1", "DG2", "DG13", "DG14", "DG15"} <= set(dgs)
    name = data.draw(st.sampled_from(dgs), label="data group")
    path = folder / f"{name}.bin"
    manifest = (folder / MANIFEST).read_bytes()
    original = path.read_bytes()
    position = data.draw(st.integers(0, len(original) - 1), label="position")
    changed = bytearray(original)
    changed[position] ^= data.draw(st.integers(1, 255), label="xor")
    path.write_bytes(bytes(changed))
    _rehash(folder, name)
    try:
        report = verify_folder(folder, batch.trust, AT)
    finally:
        path.write_bytes(original)
        (folder / MANIFEST).write_bytes(manifest)
    assert _status(report, "image.manifest") is Status.PASS  # the manifest was updated too
    assert _status(report, f"dg.hash.{name.removeprefix('DG')}") is Status.FAIL
    assert _status(report, "sod.signature") is Status.PASS  # the SOD itself is intact
    assert report.verdict is Verdict.INVALID


@pytest.mark.parametrize("name", ["DG1", "DG2", "DG13", "DG14", "DG15", "EF.COM"])
def test_a_changed_file_without_manifest_update_fails_the_manifest_check(
    batch: Batch, tmp_path: Path, name: str
) -> None:
    folder = Path(shutil.copytree(batch.out / "citizens-00003", tmp_path / "card"))
    path = folder / f"{name}.bin"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01
    path.write_bytes(bytes(data))
    report = verify_folder(folder, batch.trust, AT)
    assert _status(report, "image.manifest") is Status.FAIL
    assert f"{name}.bin" in report.get("image.manifest").detail  # type: ignore[union-attr]
    assert report.verdict is Verdict.INVALID
    if name.startswith("DG"):
        assert _status(report, f"dg.hash.{name[2:]}") is Status.FAIL


def _sod_regions(sod: bytes) -> tuple[range, range]:
    """Where the embedded DSC and its signed part (tbsCertificate) lie in EF.SOD."""
    cert_der = Sod.from_bytes(sod).certificates[0]
    from cryptography import x509

    tbs = x509.load_der_x509_certificate(cert_der).tbs_certificate_bytes
    start = sod.index(cert_der)
    tbs_start = sod.index(tbs, start)
    return range(start, start + len(cert_der)), range(tbs_start, tbs_start + len(tbs))


def _verify_changed_sod(batch: Batch, position: int, flip: int) -> Report:
    folder = batch.scratch
    path = folder / "EF.SOD.bin"
    manifest = (folder / MANIFEST).read_bytes()
    original = path.read_bytes()
    changed = bytearray(original)
    changed[position] ^= flip
    path.write_bytes(bytes(changed))
    _rehash(folder, "EF.SOD")
    try:
        return verify_folder(folder, batch.trust, AT)
    finally:
        path.write_bytes(original)
        (folder / MANIFEST).write_bytes(manifest)


@given(data=st.data())
def test_a_changed_sod_byte_fails_its_signature_or_parse(batch: Batch, data: st.DataObject) -> None:
    sod = (batch.scratch / "EF.SOD.bin").read_bytes()
    certificate, _ = _sod_regions(sod)
    outside = [i for i in range(len(sod)) if i not in certificate]
    position = data.draw(st.sampled_from(outside), label="position")
    report = _verify_changed_sod(batch, position, data.draw(st.integers(1, 255), label="xor"))
    assert _status(report, "image.manifest") is Status.PASS
    assert _failed(report) & {"sod.parse", "sod.signature"}, report.to_dict()
    assert report.verdict is Verdict.INVALID


@given(data=st.data())
def test_a_changed_byte_of_the_embedded_dsc_fails(batch: Batch, data: st.DataObject) -> None:
    sod = (batch.scratch / "EF.SOD.bin").read_bytes()
    certificate, _ = _sod_regions(sod)
    position = data.draw(st.sampled_from(certificate), label="position")
    report = _verify_changed_sod(batch, position, data.draw(st.integers(1, 255), label="xor"))
    # The CSCA's signature over the DSC breaks (or the DSC no longer matches the signer).
    assert _failed(report) & {"sod.parse", "sod.signature", "dsc.chain"}, report.to_dict()
    assert report.verdict is Verdict.INVALID


def test_unused_bits_in_the_dsc_signature_are_refused(batch: Batch) -> None:
    """The DSC's signatureValue BIT STRING with its unused-bits count changed from 0 to 1:
    ``cryptography`` alone ignores the count, OpenSSL refuses it, and so must cardkit."""
    sod = (batch.scratch / "EF.SOD.bin").read_bytes()
    certificate, _ = _sod_regions(sod)
    cert_der = sod[certificate.start : certificate.stop]
    signature_value = tlv.decode_single(cert_der, 0x30).children()[-1]
    assert signature_value.tag == 0x03 and signature_value.value[0] == 0
    header = len(signature_value.raw) - len(signature_value.value)
    position = certificate.start + cert_der.rindex(signature_value.raw) + header
    report = _verify_changed_sod(batch, position, 0x01)
    assert _status(report, "dsc.chain") is Status.FAIL
    assert report.verdict is Verdict.INVALID


def test_the_sod_signature_value_is_checked(batch: Batch) -> None:
    sod = (batch.scratch / "EF.SOD.bin").read_bytes()
    report = _verify_changed_sod(batch, len(sod) - 1, 0x01)  # last byte: the signature
    assert _status(report, "sod.parse") is Status.PASS
    assert _status(report, "sod.signature") is Status.FAIL
    assert all(_status(report, f"dg.hash.{n}") is Status.PASS for n in (1, 2, 13, 14, 15))


def test_a_csca_of_another_pki_is_not_trusted(batch: Batch) -> None:
    report = verify_folder(batch.out / "citizens-00004", batch.other_trust, AT)
    assert _status(report, "dsc.chain") is Status.FAIL
    assert _status(report, "sod.signature") is Status.PASS
    assert report.verdict is Verdict.INVALID
    empty = verify_folder(batch.out / "citizens-00004", TrustStore(), AT)
    assert _status(empty, "dsc.chain") is Status.FAIL
    assert empty.verdict is Verdict.INVALID


def test_a_folder_of_lds_files_built_by_the_cli_with_a_sod(batch: Batch, tmp_path: Path) -> None:
    out = tmp_path / "lds"
    result = CliRunner().invoke(
        cli, ["lds", "build", str(write_small_csv(tmp_path / "one.csv", 1)), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    groups: dict[int, bytes] = {}
    for path in out.iterdir():
        spec = identify(path.read_bytes())
        if spec.dg is not None:
            groups[spec.dg] = path.read_bytes()
    assert {1, 2, 13} <= set(groups)
    sod = sign_sod(groups, batch.pki.signer("dsc"), batch.pki.certificate("dsc"), signing_time=NOW)
    (out / "EF.SOD.bin").write_bytes(bytes(sod))
    # Files are identified by their tags, not their names.
    (out / "DG1.bin").rename(out / "first.bin")
    assert list(card_folders(out)) == [out]
    report = verify_folder(out, batch.trust, AT)
    assert report.get("image.manifest") is None  # no manifest: a plain LDS folder
    # `lds build` writes no chip keys, so DG14/DG15 are missing: the profile (inferred from
    # DG1: vn-cccd-2021) mandates them, and that is the only failure.
    failed = [c.id for c in report.by_status(Status.FAIL)]
    assert failed == ["profile.data_groups"], report.to_dict()
    assert "DG14, DG15" in report.get("profile.data_groups").detail  # type: ignore[union-attr]
    assert _status(report, "com.consistency") is Status.PASS
    assert _status(report, "dg.hash.1") is Status.PASS
    # And a changed data group in such a folder fails its hash.
    dg13 = bytearray((out / "DG13.bin").read_bytes())
    dg13[-1] ^= 0x20
    (out / "DG13.bin").write_bytes(bytes(dg13))
    report = verify_folder(out, batch.trust, AT)
    assert _status(report, "dg.hash.13") is Status.FAIL
    assert report.verdict is Verdict.INVALID


def test_the_csca_certificate_in_the_trust_folder_is_the_pki_one(batch: Batch) -> None:
    pem = batch.pki.certificate("csca").public_bytes(serialization.Encoding.PEM)
    assert (batch.pki.config.trust_dir / "csca.crt.pem").read_bytes() == pem
    assert batch.trust.cscas == (batch.pki.certificate("csca"),)


def test_jmrtd_style_dumps_without_extensions_are_verified(batch: Batch, tmp_path: Path) -> None:
    """JMRTD writes COM, SOD, DG1 … without extensions: files are LDS files by their tags."""
    image = next(p for p in sorted(batch.out.iterdir()) if (p / "manifest.json").exists())
    dump = tmp_path / "jmrtd-dump"
    dump.mkdir()
    for path in image.glob("*.bin"):
        name = path.stem.replace("EF.", "")
        (dump / name).write_bytes(path.read_bytes())
    (dump / "notes").write_text("a note, not an LDS file (it starts like DG1's tag 61)")
    assert list(card_folders(dump)) == [dump]
    report = verify_folder(dump, batch.trust, AT)
    assert _status(report, "dg.hash.1") is Status.PASS
    assert _status(report, "sod.signature") is Status.PASS


def test_a_reader_that_leaves_early_does_not_change_the_exit_code(batch: Batch) -> None:
    """`cardkit verify-files … | head -1`: the cards are VALID, so the exit code stays 0."""
    import fcntl
    import subprocess
    import sys

    command = [sys.executable, "-m", "cardkit.cli.main", "verify-files", str(batch.out),
               "--trust", str(batch.pki.config.trust_dir)]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    fcntl.fcntl(process.stdout.fileno(), 1031, 4096)  # F_SETPIPE_SZ: less than the output
    first = process.stdout.readline()
    process.stdout.close()  # head -1 has what it wanted
    assert b"VALID" in first
    assert process.wait(60) == 0, process.stderr.read()
    assert b"BrokenPipe" not in process.stderr.read()
