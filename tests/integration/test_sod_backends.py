"""EF.SOD signed through every key-store backend: file, PKCS#12, JKS and PKCS#11 (SoftHSM2).

The same data groups are signed with a Document Signer key held in each store, each DSC issued by
one CSCA (cardkit.pki.certs). Every SOD must pass cardkit's passive authentication and OpenSSL's
``cms -verify`` (an independent CMS implementation).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from requirements import unavailable

from cardkit.lds.build import build_lds
from cardkit.lds.sod import Sod
from cardkit.pki import certs
from cardkit.pki.keystore import certificate_of, generate_key, open_signer, store_certificate
from cardkit.pki.passive import passive_authentication
from cardkit.pki.signer import LocalSigner, SignatureScheme, Signer
from cardkit.pki.sod_sign import sign_sod
from cardkit.pki.trust import TrustStore
from cardkit.profile import load_profile
from cardkit.records import load_records, validate_all
from cardkit.report import Report, Status, Verdict
from cardkit.services.prepare import generate_chip_keys

if TYPE_CHECKING:
    from tests.integration.softhsm import SoftHsmToken

pytestmark = pytest.mark.integration

SAMPLES = Path(__file__).resolve().parents[2] / "profiles" / "samples"
PASSWORD = b"sod backends test password"
NOW = datetime.now(UTC).replace(microsecond=0)
SIGNED_AT = NOW + timedelta(minutes=1)
AT = NOW + timedelta(minutes=2)
BACKENDS = ("file", "p12", "jks", "pkcs11")
KEYS = {
    "ec": ("ec:secp256r1", SignatureScheme("sha256")),
    "rsa": ("rsa:2048", SignatureScheme("sha256", "pss")),
}


@dataclass(frozen=True)
class Csca:
    signer: Signer
    certificate: x509.Certificate
    pem: Path


@pytest.fixture(scope="module")
def csca(tmp_path_factory: pytest.TempPathFactory) -> Csca:
    signer = generate_key(
        f"file:{tmp_path_factory.mktemp('csca') / 'csca.key.pem'}", "ec:secp384r1", PASSWORD
    )
    certificate = certs.create_csca(
        signer,
        country="VN",
        common_name="CSCA VN key store backends",
        serial=certs.new_serial_number(),
        not_before=NOW,
        not_after=NOW + timedelta(days=6000),
        private_key_usage_end=NOW + timedelta(days=1000),
        scheme=SignatureScheme("sha384"),
    )
    pem = tmp_path_factory.mktemp("trust") / "csca.pem"
    pem.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return Csca(signer, certificate, pem)


@pytest.fixture(scope="module")
def data_groups() -> dict[int, bytes]:
    """The LDS data groups of the first sample citizen (with DG14/DG15 chip keys)."""
    profile = load_profile("vn-cccd-2021")
    record = validate_all(load_records(SAMPLES / "citizens.csv"), profile, date(2026, 11, 1))[0]
    assert record.record is not None
    lds = build_lds(
        record.record,
        profile,
        photo=record.record.photo_path.read_bytes(),
        fingerprints=[p.read_bytes() for p in record.record.fingerprint_paths],
        keys=generate_chip_keys(profile).public(),
    )
    groups = lds.data_groups()
    assert {1, 2, 13, 14, 15} <= set(groups)
    return dict(groups)


def _reference(backend: str, name: str, folder: Path, token: SoftHsmToken | None) -> str:
    if backend == "file":
        return f"file:{folder / f'{name}.key.pem'}"
    if backend == "p12":
        return f"p12:{folder / f'{name}.p12'}"
    if backend == "jks":
        return f"jks:{folder / 'store.jks'}#{name}"
    assert token is not None
    return token.uri(name)


def _openssl() -> str:
    found = shutil.which("openssl")
    if found is None:
        unavailable("openssl binary not installed")
    return found


@pytest.mark.parametrize("kind", list(KEYS))
@pytest.mark.parametrize("backend", BACKENDS)
def test_sod_signed_through_each_backend_verifies(
    backend: str,
    kind: str,
    csca: Csca,
    data_groups: dict[int, bytes],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    token: SoftHsmToken | None = None
    secret = PASSWORD
    if backend == "pkcs11":
        token = request.getfixturevalue("softhsm_token")
        assert token is not None
        secret = token.pin
    key_spec, scheme = KEYS[kind]
    ref = _reference(backend, f"sod-dsc-{kind}", tmp_path, token)

    generated = generate_key(ref, key_spec, secret)
    dsc = certs.issue_dsc(
        csca.signer,
        csca.certificate,
        generated.public_key(),
        common_name=f"DS VN {backend} {kind}",
        serial=certs.new_serial_number(),
        not_before=NOW,
        not_after=NOW + timedelta(days=4000),
        private_key_usage_end=NOW + timedelta(days=90),
        scheme=SignatureScheme("sha384"),
    )
    store_certificate(ref, dsc, secret, chain=() if backend == "pkcs11" else (csca.certificate,))
    # Reopen both the key and its certificate from the store, as `cardkit prepare` does.
    signer = open_signer(ref, secret)
    assert isinstance(signer, LocalSigner) is (backend != "pkcs11")
    stored = certificate_of(ref, secret)
    assert stored == dsc

    sod = sign_sod(data_groups, signer, stored, signing_time=SIGNED_AT, scheme=scheme)
    parsed = Sod.from_bytes(bytes(sod))
    assert dict(parsed.lds_security_object.hashes) == {
        n: hashlib.sha256(d).digest() for n, d in data_groups.items()
    }

    report = Report(
        passive_authentication(bytes(sod), data_groups, TrustStore((csca.certificate,)), at=AT)
    )
    assert report.verdict is Verdict.VALID, report.to_dict()
    for check_id in ("sod.parse", "sod.signature", "dsc.chain", "dsc.validity"):
        check = report.get(check_id)
        assert check is not None and check.status is Status.PASS, check
    for number in data_groups:
        check = report.get(f"dg.hash.{number}")
        assert check is not None and check.status is Status.PASS, check

    # OpenSSL: the CMS without the 77 wrapper (ICAO 9303-10 §4.6.2), DSC from the SOD itself.
    der = tmp_path / "sod.der"
    der.write_bytes(sod.content_info)
    content = tmp_path / "content.der"
    result = subprocess.run(
        [
            _openssl(), "cms", "-verify", "-inform", "DER", "-binary", "-purpose", "any",
            "-CAfile", str(csca.pem), "-in", str(der), "-out", str(content),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Verification successful" in result.stderr
    assert content.read_bytes() == parsed.econtent  # the signed LDSSecurityObject
