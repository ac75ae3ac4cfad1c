"""The keys-folder PKI: init, DSC rotation, revocation and CRLs, master lists, passwords.

Certificates, CRLs and master lists are also checked with OpenSSL, an independent implementation
(required under CI=true, skipped elsewhere when the binary is missing).
"""

from __future__ import annotations

import csv
import json
import shutil
import stat
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Literal

import pytest
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from requirements import unavailable

from cardkit.errors import KeyStoreError, PkiError
from cardkit.lds.sod import Sod
from cardkit.pki import certs
from cardkit.pki.lint import lint_certificate
from cardkit.pki.masterlist import read_master_list, verify_master_list
from cardkit.pki.signer import LocalSigner, SignatureScheme
from cardkit.pki.trust import TrustStore
from cardkit.profile import load_profile
from cardkit.report import Status, Verdict
from cardkit.services.card_image import read_card_image
from cardkit.services.pki_admin import Pki, init_pki, load_config
from cardkit.services.prepare import Summary, prepare_batch
from cardkit.services.verify_files import verify_folder

SAMPLES = Path(__file__).resolve().parents[3] / "profiles" / "samples"
TODAY = date(2026, 11, 1)  # the samples' reference day (profiles/samples/README.md)
PASSWORD = b"pki admin test password"
NOW = datetime.now(UTC).replace(microsecond=0)
AT = NOW + timedelta(minutes=5)
PRIVATE_KEY_FILES = ("csca.key.pem", "dsc.key.pem", "mls.key.pem", "transport.key")
PUBLIC_FILES = (
    "pki.toml",
    "state.json",
    "csca.key.crt.pem",
    "dsc.key.crt.pem",
    "mls.key.crt.pem",
    "dsc.crt.pem",
    "masterlist.der",
    "trust/csca.crt.pem",
    "trust/csca.crl",
)


def _opens_without_password(data: bytes) -> bool:
    """Whether ``data`` holds a private key anyone can load (PEM or DER, no password)."""
    for load in (serialization.load_pem_private_key, serialization.load_der_private_key):
        try:
            load(data, None)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            continue
        return True
    return False


def _assert_encrypted_key(data: bytes, password: bytes) -> None:
    """An encrypted private key: refused without the password, opened with it."""
    with pytest.raises(TypeError, match="encrypted"):
        serialization.load_pem_private_key(data, None)
    serialization.load_pem_private_key(data, password)


def _openssl() -> str:
    found = shutil.which("openssl")
    if found is None:
        unavailable("openssl binary not installed")
    return found


def _run_openssl(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_openssl(), *map(str, args)], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pki") / "keys"
    init_pki(folder, country="vn", secret_spec="env:CARDKIT_TEST_PW", secret=PASSWORD, now=NOW)
    return folder


@pytest.fixture
def fresh(keys: Path, tmp_path: Path) -> Pki:
    """A private copy of the module's PKI for tests that change it (key refs are relative)."""
    return Pki.open(Path(shutil.copytree(keys, tmp_path / "keys")), PASSWORD)


def write_small_csv(path: Path, rows: int = 1) -> Path:
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


def _prepare_one(pki: Pki, base: Path, name: str) -> tuple[Path, Summary]:
    records = write_small_csv(base / f"{name}.csv")
    summary = prepare_batch(
        records,
        load_profile("vn-cccd-2021"),
        pki.issuer(),
        base / f"{name}-cards",
        today=TODAY,
        clock=lambda: NOW,
        audit=pki.config.audit,
    )
    assert summary.count("prepared") == 1
    return base / f"{name}-cards" / f"{name}-00002", summary


# --- init -------------------------------------------------------------------------------------


def test_init_creates_every_file(keys: Path) -> None:
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    for name in (*PRIVATE_KEY_FILES, *PUBLIC_FILES):
        assert (keys / name).is_file(), name
    for name in PRIVATE_KEY_FILES:
        assert stat.S_IMODE((keys / name).stat().st_mode) == 0o600, name
    for name in ("csca.key.pem", "dsc.key.pem", "mls.key.pem"):
        _assert_encrypted_key((keys / name).read_bytes(), PASSWORD)
    transport = json.loads((keys / "transport.key").read_text(encoding="utf-8"))
    assert transport["kdf"]["name"] == "scrypt" and "ciphertext" in transport
    config = load_config(keys)
    assert config.country == "VN"
    assert config.secret == "env:CARDKIT_TEST_PW"
    assert config.dsc_key == "file:dsc.key.pem"
    assert json.loads((keys / "state.json").read_text(encoding="utf-8")) == {
        "next_crl_number": 2,
        "revoked": [],
    }


def test_no_key_or_password_is_stored_in_clear(keys: Path) -> None:
    for path in (p for p in keys.rglob("*") if p.is_file()):
        data = path.read_bytes()
        assert not _opens_without_password(data), path.name
        assert PASSWORD not in data, path.name
    # The private keys open only with the password, and match their certificates.
    pki = Pki.open(keys, PASSWORD)
    for name in ("csca", "dsc", "mls"):
        assert pki.signer(name).public_key() == pki.certificate(name).public_key()


def test_certificates_pass_openssl_verify(keys: Path) -> None:
    csca = keys / "trust" / "csca.crt.pem"
    result = _run_openssl("verify", "-x509_strict", "-CAfile", csca, csca)
    assert result.returncode == 0, result.stderr
    for leaf in ("dsc.crt.pem", "mls.key.crt.pem"):
        result = _run_openssl(
            "verify", "-x509_strict", "-crl_check", "-CRLfile", keys / "trust" / "csca.crl",
            "-CAfile", csca, "-partial_chain", keys / leaf,
        )  # fmt: skip
        assert result.returncode == 0, (leaf, result.stdout, result.stderr)
        assert ": OK" in result.stdout
    crl = _run_openssl("crl", "-in", keys / "trust" / "csca.crl", "-CAfile", csca, "-noout")
    assert crl.returncode == 0 and "verify OK" in crl.stdout + crl.stderr


def test_certificates_conform_to_the_9303_profile(keys: Path) -> None:
    pki = Pki.open(keys, PASSWORD)
    kinds: tuple[Literal["csca", "dsc", "mls"], ...] = ("csca", "dsc", "mls")
    for kind in kinds:
        errors = [f for f in lint_certificate(pki.certificate(kind), kind) if f.severity == "error"]
        assert errors == [], (kind, errors)


def test_init_refuses_an_existing_pki(keys: Path) -> None:
    before = {p: p.read_bytes() for p in keys.rglob("*") if p.is_file()}
    with pytest.raises(PkiError, match="already holds a PKI"):
        init_pki(keys, country="VN", secret_spec="env:X", secret=b"another password", now=NOW)
    assert {p: p.read_bytes() for p in keys.rglob("*") if p.is_file()} == before


def test_a_wrong_password_is_a_clear_key_store_error(keys: Path) -> None:
    wrong = b"not the password at all"
    pki = Pki.open(keys, wrong)
    for action in (lambda: pki.signer("dsc"), pki.issuer):
        with pytest.raises(KeyStoreError) as info:
            action()
        message = str(info.value)
        assert "wrong password" in message  # says what failed ...
        assert wrong.decode() not in message and PASSWORD.decode() not in message  # ... not how


# --- Document Signer rotation -----------------------------------------------------------------


def test_issue_dsc_rotates_to_a_new_named_key(fresh: Pki, tmp_path: Path) -> None:
    folder = fresh.config.folder
    old_cert = fresh.certificate("dsc")
    old_key = (folder / "dsc.key.pem").read_bytes()
    _, before = _prepare_one(fresh, tmp_path, "before")

    new_cert = fresh.issue_dsc("ec:secp256r1", NOW, "Document Signer VN 2", key_name="dsc-2")
    assert new_cert.serial_number != old_cert.serial_number
    assert new_cert.public_key() != old_cert.public_key()
    assert (folder / "dsc-2.key.pem").is_file()
    assert stat.S_IMODE((folder / "dsc-2.key.pem").stat().st_mode) == 0o600
    _assert_encrypted_key((folder / "dsc-2.key.pem").read_bytes(), PASSWORD)
    assert (folder / "dsc.key.pem").read_bytes() == old_key  # the old key is kept untouched
    assert load_config(folder).dsc_key == "file:dsc-2.key.pem"
    assert x509.load_pem_x509_certificate((folder / "dsc.crt.pem").read_bytes()) == new_cert
    with pytest.raises(PkiError, match="key name"):
        fresh.issue_dsc("ec:secp256r1", NOW, "bad", key_name="../escape")

    reopened = Pki.open(folder, PASSWORD)
    assert reopened.certificate("dsc") == new_cert
    card, _ = _prepare_one(reopened, tmp_path, "after")
    image = read_card_image(card)
    assert image.metadata["sod"]["dsc_serial"] == format(new_cert.serial_number, "X")
    sod = Sod.from_bytes(image.sod)
    assert sod.signer_infos[0].serial_number == new_cert.serial_number
    assert sod.certificates == (new_cert.public_bytes(serialization.Encoding.DER),)
    report = verify_folder(card, TrustStore.from_folder(folder / "trust"), AT)
    assert report.verdict is Verdict.VALID, report.to_dict()
    # Cards signed before the rotation still verify.
    assert before.outcomes[0].card_id is not None
    old_card = tmp_path / "before-cards" / before.outcomes[0].card_id
    assert verify_folder(old_card, TrustStore.from_folder(folder / "trust"), AT).verdict is (
        Verdict.VALID
    )
    result = _run_openssl(
        "verify", "-CAfile", folder / "trust" / "csca.crt.pem", folder / "dsc.crt.pem"
    )
    assert result.returncode == 0, result.stderr


# --- Revocation -------------------------------------------------------------------------------


def test_revoked_dsc_is_listed_and_its_cards_fail(fresh: Pki, tmp_path: Path) -> None:
    folder = fresh.config.folder
    card, _ = _prepare_one(fresh, tmp_path, "signed")
    serial = fresh.certificate("dsc").serial_number
    crl = fresh.revoke(serial, NOW, "keyCompromise")

    entry = crl.get_revoked_certificate_by_serial_number(serial)
    assert entry is not None
    reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
    assert reason is x509.ReasonFlags.key_compromise
    on_disk = x509.load_pem_x509_crl((folder / "trust" / "csca.crl").read_bytes())
    assert on_disk == crl
    assert on_disk.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 2
    state = json.loads((folder / "state.json").read_text(encoding="utf-8"))
    assert state["revoked"][0]["serial"] == format(serial, "X")
    assert state["next_crl_number"] == 3
    with pytest.raises(PkiError, match="already revoked"):
        fresh.revoke(serial, NOW, None)

    report = verify_folder(card, TrustStore.from_folder(folder / "trust"), AT)
    check = report.get("dsc.revocation")
    assert check is not None and check.status is Status.FAIL
    assert "keyCompromise" in check.detail and format(serial, "X") in check.detail
    assert report.verdict is Verdict.INVALID

    result = _run_openssl(
        "verify", "-crl_check", "-CRLfile", folder / "trust" / "csca.crl",
        "-CAfile", folder / "trust" / "csca.crt.pem", folder / "dsc.crt.pem",
    )  # fmt: skip
    assert result.returncode != 0 and "revoked" in (result.stdout + result.stderr)


def test_a_new_crl_increments_its_number(fresh: Pki) -> None:
    first = fresh.issue_crl(NOW)
    second = fresh.issue_crl(NOW + timedelta(seconds=1))
    numbers = [c.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
               for c in (first, second)]  # fmt: skip
    assert numbers == [2, 3]
    assert second.next_update_utc is not None and second.next_update_utc > AT


# --- Master lists -----------------------------------------------------------------------------


def _foreign_csca() -> x509.Certificate:
    return certs.create_csca(
        LocalSigner(ec.generate_private_key(ec.SECP256R1()), "foreign"),
        country="LA",
        common_name="CSCA LA (test)",
        serial=certs.new_serial_number(),
        not_before=NOW,
        not_after=NOW + timedelta(days=4000),
        private_key_usage_end=NOW + timedelta(days=1000),
        scheme=SignatureScheme("sha256"),
    )


def test_master_list_verifies_with_openssl_and_cardkit(fresh: Pki, tmp_path: Path) -> None:
    folder = fresh.config.folder
    foreign = _foreign_csca()
    data = fresh.create_master_list(NOW, (foreign,))
    assert (folder / "masterlist.der").read_bytes() == data
    content = tmp_path / "content.der"
    result = _run_openssl(
        "cms", "-verify", "-inform", "DER", "-in", folder / "masterlist.der", "-binary",
        "-purpose", "any", "-CAfile", folder / "trust" / "csca.crt.pem", "-out", content,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Verification successful" in result.stderr

    ml = read_master_list(data)
    csca = fresh.certificate("csca")
    assert set(ml.certificates) == {csca, foreign}
    verify_master_list(ml, (csca,))
    # The verified content is the CscaMasterList holding both certificates' DER.
    signed = content.read_bytes()
    for cert in (csca, foreign):
        assert cert.public_bytes(serialization.Encoding.DER) in signed
    with pytest.raises(PkiError):
        verify_master_list(ml, (foreign,))  # the signer chains to our CSCA only
    # A master list signed by another State's CSCA does not pass openssl either.
    foreign_pem = tmp_path / "foreign.pem"
    foreign_pem.write_bytes(foreign.public_bytes(serialization.Encoding.PEM))
    result = _run_openssl(
        "cms", "-verify", "-inform", "DER", "-in", folder / "masterlist.der", "-binary",
        "-purpose", "any", "-CAfile", foreign_pem, "-out", tmp_path / "x.der",
    )  # fmt: skip
    assert result.returncode != 0


def test_init_master_list_holds_the_csca(keys: Path) -> None:
    ml = read_master_list((keys / "masterlist.der").read_bytes())
    csca = x509.load_pem_x509_certificate((keys / "trust" / "csca.crt.pem").read_bytes())
    assert ml.certificates == (csca,)
    verify_master_list(ml, (csca,))
