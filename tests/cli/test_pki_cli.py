"""`cardkit pki ...` end to end with click's CliRunner."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from cardkit.cli.main import cli

PASSWORD_VAR = "CARDKIT_PKI_CLI_TEST_PASSWORD"
PASSWORD = "pki-cli-test-password"


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("pki-cli") / "keys"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(PASSWORD_VAR, PASSWORD)
        result = invoke("pki", "init", "--keys", folder, "--password-from", f"env:{PASSWORD_VAR}")
        assert result.exit_code == 0, result.output
        assert f"PKI created in {folder}/" in result.output
        assert "CSCA CN=CSCA VN (cardkit test),C=VN" in result.output
        assert PASSWORD not in result.output
        yield folder


@pytest.fixture
def env_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_VAR, PASSWORD)


@pytest.fixture
def fresh(keys: Path, tmp_path: Path, env_password: None) -> Path:
    """A private copy of the module's keys folder for commands that change it."""
    return Path(shutil.copytree(keys, tmp_path / "keys"))


def test_init_writes_the_keys_folder(keys: Path) -> None:
    for name in ("pki.toml", "csca.key.pem", "dsc.key.pem", "mls.key.pem", "transport.key"):
        assert (keys / name).is_file(), name
    assert f'secret = "env:{PASSWORD_VAR}"' in (keys / "pki.toml").read_text(encoding="utf-8")
    assert PASSWORD.encode() not in (keys / "pki.toml").read_bytes()


def test_init_refuses_an_existing_folder(keys: Path, env_password: None) -> None:
    result = invoke("pki", "init", "--keys", keys, "--password-from", f"env:{PASSWORD_VAR}")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ")
    assert "already holds a PKI" in result.stderr


def test_a_wrong_password_exits_2_with_a_clear_error(
    fresh: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_VAR, "definitely-wrong")
    result = invoke("pki", "crl", "--keys", fresh)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ")
    assert "wrong password" in result.stderr
    assert "definitely-wrong" not in result.output and PASSWORD not in result.output
    assert result.stdout == ""


def test_a_missing_password_variable_exits_2(fresh: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PASSWORD_VAR)
    result = invoke("pki", "crl", "--keys", fresh)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ")
    assert PASSWORD_VAR in result.stderr


# --- show -------------------------------------------------------------------------------------


def test_show_a_certificate(keys: Path) -> None:
    cert = x509.load_pem_x509_certificate((keys / "dsc.crt.pem").read_bytes())
    result = invoke("pki", "show", keys / "dsc.crt.pem")
    assert result.exit_code == 0, result.output
    assert "type: certificate" in result.output
    assert f"serial: {cert.serial_number:X}" in result.output
    result = invoke("pki", "show", keys / "trust" / "csca.crt.pem", "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    csca = x509.load_pem_x509_certificate((keys / "trust" / "csca.crt.pem").read_bytes())
    assert info["type"] == "certificate"
    assert info["subject"] == info["issuer"] == csca.subject.rfc4514_string()
    assert info["sha256"] == csca.fingerprint(hashes.SHA256()).hex()
    assert info["signature_algorithm"] == "ecdsa-with-SHA256"  # P-384 key, --hash sha256


def test_show_a_crl(keys: Path) -> None:
    result = invoke("pki", "show", keys / "trust" / "csca.crl", "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["type"] == "CRL"
    assert info["crl_number"] == 1
    assert info["revoked"] == []
    assert info["issuer"] == "CN=CSCA VN (cardkit test),C=VN"


def test_show_a_master_list(keys: Path) -> None:
    result = invoke("pki", "show", keys / "masterlist.der", "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["type"] == "master list"
    assert info["certificates"] == 1
    assert info["countries"] == ["VN"]
    assert info["signer"] == "CN=Master List Signer VN (cardkit test),C=VN"


# --- lint -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["trust/csca.crt.pem", "dsc.crt.pem", "mls.key.crt.pem"])
def test_lint_the_pki_certificates(keys: Path, name: str) -> None:
    result = invoke("pki", "lint", keys / name)
    assert result.exit_code == 0, result.output
    assert "conforms to the 9303-12 profile" in result.output
    assert "error" not in result.output


def _bad_certificate(path: Path) -> Path:
    """A self-signed 'CSCA' with none of the 9303-12 extensions and a far too long validity."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "not a CSCA")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=365 * 40))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=False)
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def test_lint_a_bad_certificate_exits_1(tmp_path: Path) -> None:
    bad = _bad_certificate(tmp_path / "bad.pem")
    result = invoke("pki", "lint", bad, "--kind", "csca")
    assert result.exit_code == 1, result.output
    assert "conforms" not in result.output
    assert "error" in result.output
    result = invoke("pki", "lint", bad, "--kind", "csca", "--json")
    assert result.exit_code == 1
    findings = json.loads(result.output)["findings"]
    assert any(f["severity"] == "error" for f in findings)
    assert all(f["clause"] for f in findings)  # every finding cites its clause


# --- issue-dsc, revoke, crl, masterlist ----------------------------------------------------------


def test_issue_dsc_then_revoke_the_old_one(fresh: Path) -> None:
    old = x509.load_pem_x509_certificate((fresh / "dsc.crt.pem").read_bytes())
    (fresh / "old-dsc.pem").write_bytes(old.public_bytes(serialization.Encoding.PEM))
    result = invoke("pki", "issue-dsc", "--keys", fresh, "--name", "dsc-2")
    assert result.exit_code == 0, result.output
    new = x509.load_pem_x509_certificate((fresh / "dsc.crt.pem").read_bytes())
    assert f"serial {new.serial_number:X}" in result.output
    assert new.serial_number != old.serial_number
    assert (fresh / "dsc-2.key.pem").is_file()
    assert 'dsc = "file:dsc-2.key.pem"' in (fresh / "pki.toml").read_text(encoding="utf-8")

    result = invoke(
        "pki", "revoke", "--keys", fresh, fresh / "old-dsc.pem", "--reason", "superseded"
    )
    assert result.exit_code == 0, result.output
    assert f"revoked serial {old.serial_number:X}; CRL 2" in result.output
    result = invoke("pki", "show", fresh / "trust" / "csca.crl", "--json")
    info = json.loads(result.output)
    assert info["revoked"] == [format(old.serial_number, "X")]
    assert info["crl_number"] == 2

    again = invoke("pki", "revoke", "--keys", fresh, format(old.serial_number, "X"))
    assert again.exit_code == 2
    assert "already revoked" in again.stderr
    bad = invoke("pki", "revoke", "--keys", fresh, "not-hex-nor-a-file")
    assert bad.exit_code == 2


def test_crl_command_issues_the_next_crl(fresh: Path) -> None:
    result = invoke("pki", "crl", "--keys", fresh)
    assert result.exit_code == 0, result.output
    assert "CRL 2 written to" in result.output
    crl = x509.load_pem_x509_crl((fresh / "trust" / "csca.crl").read_bytes())
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 2


def test_masterlist_create_and_verify(fresh: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.pem"
    other.write_bytes(_bad_certificate(tmp_path / "o.pem").read_bytes())
    result = invoke("pki", "masterlist", "create", "--keys", fresh, "--add", other)
    assert result.exit_code == 0, result.output
    assert "master list of 2 CSCA(s)" in result.output
    result = invoke("pki", "masterlist", "verify", fresh / "masterlist.der", "--trust",
                    fresh / "trust")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "valid master list: 2 CSCA certificate(s)" in result.output
    result = invoke("pki", "masterlist", "verify", fresh / "masterlist.der", "--trust", other)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ")


# --- issue 12 §6: what users trip on ------------------------------------------------------------


def test_init_refuses_a_short_password_unless_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_VAR, "short-pw")
    spec = f"env:{PASSWORD_VAR}"
    refused = invoke("pki", "init", "--keys", tmp_path / "a", "--password-from", spec)
    assert refused.exit_code == 2
    assert "at least 12" in refused.output and "short-pw" not in refused.output
    assert not (tmp_path / "a" / "csca.key.pem").exists()
    allowed = invoke(
        "pki", "init", "--keys", tmp_path / "b", "--password-from", spec, "--weak-password-ok"
    )
    assert allowed.exit_code == 0, allowed.output


def test_the_dsc_of_init_lints_without_warnings(keys: Path) -> None:
    result = invoke("pki", "lint", keys / "dsc.crt.pem")
    assert result.exit_code == 0, result.output
    assert "conforms to the 9303-12 profile" in result.stdout
    assert "warning" not in result.stdout, result.stdout


def test_the_master_list_is_signed_strictly_after_its_signer_became_valid(keys: Path) -> None:
    from cardkit.pki.masterlist import read_master_list

    ml = read_master_list((keys / "masterlist.der").read_bytes())
    signer = ml.signer_certificate
    assert signer is not None and ml.signing_time is not None
    assert ml.signing_time > signer.not_valid_before_utc
