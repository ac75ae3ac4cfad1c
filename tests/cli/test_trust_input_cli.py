"""Trust input checked before any card is read (issue 11): `cardkit verify-files PATH --trust
DIR` with each kind of unusable trust input exits 2 with one line naming the file, never a
traceback, never a verdict. (`cardkit verify` loads its trust through the same function.)"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from testpki import SCHEME, T0, make_csca, make_dsc, transport_key

from cardkit.cli.main import cli
from cardkit.pki import certs
from cardkit.pki.crl import issue_crl
from cardkit.pki.masterlist import create_master_list
from cardkit.pki.signer import LocalSigner
from cardkit.profile import load_profile
from cardkit.services.prepare import Issuer, prepare_batch

SAMPLES = Path(__file__).resolve().parents[2] / "profiles" / "samples"
TODAY = date(2026, 11, 1)  # the samples' reference day (profiles/samples/README.md)
PEM = serialization.Encoding.PEM
DER = serialization.Encoding.DER


@dataclass(frozen=True)
class Setup:
    card: Path  # one prepared card image
    csca_signer: LocalSigner
    csca: x509.Certificate
    dsc_signer: LocalSigner
    dsc: x509.Certificate
    mls_signer: LocalSigner
    mls: x509.Certificate
    foreign_signer: LocalSigner
    foreign: x509.Certificate

    def crl(self, signer: LocalSigner, cert: x509.Certificate) -> bytes:
        return issue_crl(
            signer,
            cert,
            (),
            crl_number=1,
            this_update=T0,
            next_update=T0 + timedelta(days=3000),
            scheme=SCHEME,
        ).public_bytes(DER)

    def master_list(self, signer: LocalSigner, signer_cert: x509.Certificate) -> bytes:
        return create_master_list(
            signer,
            signer_cert,
            [self.csca, self.foreign],
            signing_time=T0 + timedelta(days=1),
            scheme=SCHEME,
        )


def _one_record(path: Path) -> Path:
    with (SAMPLES / "citizens.csv").open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        fields = list(reader.fieldnames or ())
        row = next(reader)
    row["photo_path"] = str(SAMPLES / row["photo_path"])
    row["fingerprint_paths"] = ";".join(
        str(SAMPLES / p) for p in row["fingerprint_paths"].split(";") if p
    )
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerow(row)
    return path


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Setup:
    base = tmp_path_factory.mktemp("trust-input-cli")
    csca_signer, csca = make_csca("CSCA VN trust cli")
    dsc_signer, dsc = make_dsc(csca_signer, csca, "DS VN trust cli")
    mls_key = ec.generate_private_key(ec.SECP256R1())
    mls = certs.issue_master_list_signer(
        csca_signer,
        csca,
        mls_key.public_key(),
        common_name="MLS VN trust cli",
        serial=certs.new_serial_number(),
        not_before=T0,
        not_after=T0 + timedelta(days=3000),
        private_key_usage_end=T0 + timedelta(days=365),
        scheme=SCHEME,
    )
    foreign_signer, foreign = make_csca("CSCA DE trust cli", country="DE")
    now = datetime.now(UTC).replace(microsecond=0)
    summary = prepare_batch(
        _one_record(base / "citizens.csv"),
        load_profile("vn-cccd-2021"),
        Issuer(dsc_signer, dsc, transport_key(), SCHEME),
        base / "cards",
        today=TODAY,
        clock=lambda: now,
    )
    assert summary.count("prepared") == 1
    (card,) = (base / "cards").iterdir()
    return Setup(
        card,
        csca_signer,
        csca,
        dsc_signer,
        dsc,
        LocalSigner(mls_key, "mls"),
        mls,
        foreign_signer,
        foreign,
    )


def _trust(tmp_path: Path, setup: Setup, **files: bytes) -> Path:
    """A trust folder with the CSCA (unless ``csca_pem=b""``) and ``files`` (name → bytes,
    ``_`` in a name standing for ``.``)."""
    folder = tmp_path / "trust"
    folder.mkdir()
    files.setdefault("csca_pem", setup.csca.public_bytes(PEM))
    for name, data in files.items():
        if data:
            (folder / name.replace("_", ".")).write_bytes(data)
    return folder


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, ["verify-files", *(str(a) for a in args)])


def assert_refused(result: Result, named: Path, *words: str) -> None:
    """Exit 2, one ``error:`` line on stderr naming ``named``, no traceback, no verdict."""
    assert isinstance(result.exception, SystemExit), result.exception  # not an unhandled error
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert str(named) in lines[0], lines[0]
    for word in words:
        assert word in lines[0], lines[0]
    assert "VALID" not in result.stdout  # no card was verified


def test_good_trust_input_verifies_the_card(tmp_path: Path, setup: Setup) -> None:
    folder = _trust(tmp_path, setup, csca_crl=setup.crl(setup.csca_signer, setup.csca))
    ml = tmp_path / "ml.der"
    ml.write_bytes(setup.master_list(setup.mls_signer, setup.mls))
    crl = tmp_path / "extra.crl"
    crl.write_bytes(setup.crl(setup.csca_signer, setup.csca))
    result = invoke(setup.card, "--trust", folder, "--masterlist", ml, "--crl", crl)
    assert result.exit_code == 0, result.output
    assert "1 of 1 card(s) VALID" in result.output


# --- The trust folder ---------------------------------------------------------------------------


def test_empty_trust_folder(tmp_path: Path, setup: Setup) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    assert_refused(invoke(setup.card, "--trust", folder), folder, "no CSCA certificate")


def test_folder_with_only_a_document_signer(tmp_path: Path, setup: Setup) -> None:
    folder = _trust(tmp_path, setup, csca_pem=b"", dsc_pem=setup.dsc.public_bytes(PEM))
    result = invoke(setup.card, "--trust", folder)
    assert_refused(result, folder / "dsc.pem", "no CSCA certificate", "not a CA certificate")


def test_garbage_certificate(tmp_path: Path, setup: Setup) -> None:
    folder = _trust(tmp_path, setup, junk_crt=b"\x00 this is not a certificate")
    assert_refused(invoke(setup.card, "--trust", folder), folder / "junk.crt", "not a readable")


def test_certificate_with_an_invalid_x509_version(tmp_path: Path, setup: Setup) -> None:
    der = setup.foreign.public_bytes(DER)
    bad = der.replace(bytes.fromhex("a003020102"), bytes.fromhex("a003020105"), 1)
    folder = _trust(tmp_path, setup, v6_der=bad)
    result = invoke(setup.card, "--trust", folder)
    assert_refused(result, folder / "v6.der", "invalid X.509 version")
    assert "InvalidVersion" not in result.output  # no raw exception name or traceback


def test_truncated_certificate(tmp_path: Path, setup: Setup) -> None:
    der = setup.foreign.public_bytes(DER)
    folder = _trust(tmp_path, setup, cut_cer=der[: len(der) - 30])
    assert_refused(invoke(setup.card, "--trust", folder), folder / "cut.cer", "truncated")


def test_garbage_crl_in_the_folder(tmp_path: Path, setup: Setup) -> None:
    folder = _trust(tmp_path, setup, csca_crl=b"garbage")
    assert_refused(invoke(setup.card, "--trust", folder), folder / "csca.crl", "CRL")


def test_folder_crl_signed_by_the_document_signer(tmp_path: Path, setup: Setup) -> None:
    # Needs verify-files to load its trust through cardkit.services.trust_input.load_trust.
    key = setup.dsc_signer.private_key
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    forged = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(setup.csca.subject)
        .last_update(T0)
        .next_update(T0 + timedelta(days=3000))
        .sign(key, hashes.SHA256())
    )
    folder = _trust(tmp_path, setup, csca_crl=forged.public_bytes(DER))
    result = invoke(setup.card, "--trust", folder)
    assert_refused(result, folder / "csca.crl", "not issued by any trusted CSCA")


# --- The master list ----------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"\x30\x00", b"garbage", b"\x30\x82\x01\x00truncated"])
def test_malformed_master_list(tmp_path: Path, setup: Setup, data: bytes) -> None:
    ml = tmp_path / "ml.der"
    ml.write_bytes(data)
    result = invoke(setup.card, "--trust", _trust(tmp_path, setup), "--masterlist", ml)
    assert_refused(result, ml, "master list")


def test_master_list_signed_by_the_csca(tmp_path: Path, setup: Setup) -> None:
    ml = tmp_path / "ml.der"
    ml.write_bytes(setup.master_list(setup.csca_signer, setup.csca))
    result = invoke(setup.card, "--trust", _trust(tmp_path, setup), "--masterlist", ml)
    assert_refused(result, ml, "a CSCA certificate", "keyCertSign")


def test_master_list_signed_by_a_document_signer(tmp_path: Path, setup: Setup) -> None:
    ml = tmp_path / "ml.der"
    ml.write_bytes(setup.master_list(setup.dsc_signer, setup.dsc))
    result = invoke(setup.card, "--trust", _trust(tmp_path, setup), "--masterlist", ml)
    assert_refused(result, ml, "cscaMasterListSigningKey")


# --- CRLs given with --crl ----------------------------------------------------------------------


def test_crl_option_with_garbage(tmp_path: Path, setup: Setup) -> None:
    crl = tmp_path / "x.crl"
    crl.write_bytes(b"not a CRL at all")
    result = invoke(setup.card, "--trust", _trust(tmp_path, setup), "--crl", crl)
    assert_refused(result, crl, "CRL")


def test_crl_option_not_issued_by_a_trusted_csca(tmp_path: Path, setup: Setup) -> None:
    # Needs verify-files to load its trust through cardkit.services.trust_input.load_trust.
    crl = tmp_path / "de.crl"
    crl.write_bytes(setup.crl(setup.foreign_signer, setup.foreign))
    result = invoke(setup.card, "--trust", _trust(tmp_path, setup), "--crl", crl)
    assert_refused(result, crl, "not issued by any trusted CSCA")
