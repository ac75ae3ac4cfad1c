"""`cardkit eac ...` end to end with click's CliRunner: init → issue-dv → request → issue-is from
the request → link → show, in the file store and in PKCS#12 and JKS stores; `pki init` creates
the CV PKI too."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cardkit.cli.main import cli
from cardkit.pki import cvc
from cardkit.pki.cvc import Certificate, CertificateRequest, Role

PASSWORD_VAR = "CARDKIT_EAC_CLI_TEST_PASSWORD"
PASSWORD = "eac-cli-test-password"


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("eac-cli") / "keys"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(PASSWORD_VAR, PASSWORD)
        result = invoke("eac", "init", "--keys", folder, "--password-from", f"env:{PASSWORD_VAR}")
        assert result.exit_code == 0, result.output
        yield folder


@pytest.fixture
def fresh(keys: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(PASSWORD_VAR, PASSWORD)
    return Path(shutil.copytree(keys, tmp_path / "keys"))


def _cert(path: Path) -> Certificate:
    return Certificate.from_bytes(path.read_bytes())


def test_init_prints_the_chain(keys: Path) -> None:
    eac = keys / "eac"
    for name in ("eac.toml", "cvca.cvcert", "dv.cvcert", "is.cvcert", "cvca-00001.key.pem"):
        assert (eac / name).is_file(), name
    assert PASSWORD.encode() not in (eac / "eac.toml").read_bytes()
    assert _cert(eac / "is.cvcert").car == _cert(eac / "dv.cvcert").chr


def test_init_output_and_refusals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_VAR, PASSWORD)
    folder = tmp_path / "keys"
    result = invoke(
        "eac", "init", "--keys", folder, "--country", "vn", "--password-from", f"env:{PASSWORD_VAR}"
    )
    assert result.exit_code == 0, result.output
    assert f"CV PKI created in {folder}/eac/" in result.output
    assert "CVCA  VNCVCA00001  CAR VNCVCA00001  CVCA, read DG3+DG4" in result.output
    assert "IS    VNIS00001  CAR VNDV00001  inspection system, read DG3+DG4" in result.output
    assert PASSWORD not in result.output
    again = invoke("eac", "init", "--keys", folder, "--password-from", f"env:{PASSWORD_VAR}")
    assert again.exit_code == 2 and "already holds a CV PKI" in again.output
    monkeypatch.setenv("SHORT_PW", "short")
    weak = invoke("eac", "init", "--keys", tmp_path / "k2", "--password-from", "env:SHORT_PW")
    assert weak.exit_code == 2 and "at least 12" in weak.output


def test_init_takes_the_password_spec_of_the_pki(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_VAR, PASSWORD)
    folder = tmp_path / "keys"
    made = invoke(
        "pki", "init", "--keys", folder, "--password-from", f"env:{PASSWORD_VAR}", "--no-eac"
    )
    assert made.exit_code == 0, made.output
    assert not (folder / "eac").exists()
    result = invoke("eac", "init", "--keys", folder)  # no --password-from: pki.toml's
    assert result.exit_code == 0, result.output
    assert f"password from env:{PASSWORD_VAR}" in result.output


def test_pki_init_creates_the_cvca(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_VAR, PASSWORD)
    folder = tmp_path / "keys"
    result = invoke("pki", "init", "--keys", folder, "--password-from", f"env:{PASSWORD_VAR}")
    assert result.exit_code == 0, result.output
    assert "CV PKI created in" in result.output and "VNCVCA00001" in result.output
    assert _cert(folder / "eac" / "cvca.cvcert").role is Role.CVCA


def test_issue_dv_domestic_and_foreign(fresh: Path) -> None:
    result = invoke("eac", "issue-dv", "--keys", fresh, "--days", "60")
    assert result.exit_code == 0, result.output
    assert "VNDV00002  CAR VNCVCA00001  DV (domestic)" in result.output
    dv = _cert(fresh / "eac" / "dv.cvcert")
    assert str(dv.chr) == "VNDV00002" and (dv.expiration - dv.effective).days == 59
    foreign = invoke("eac", "issue-dv", "--keys", fresh, "--foreign", "--no-dg4",
                     "--out", fresh / "f.cvcert")  # fmt: skip
    assert foreign.exit_code == 0, foreign.output
    cert = _cert(fresh / "f.cvcert")
    assert cert.role is Role.DV_FOREIGN and not cert.chat.read_dg4
    assert str(_cert(fresh / "eac" / "dv.cvcert").chr) == "VNDV00002"


def test_request_then_issue_is_from_it(fresh: Path) -> None:
    req_path = fresh / "is.cvreq"
    made = invoke("eac", "request", "--keys", fresh, "--role", "is", "--outer", "is",
                  "--out", req_path)  # fmt: skip
    assert made.exit_code == 0, made.output
    assert "request for VNIS00002 (CAR VNDV00001, outer signature by VNIS00001)" in made.output
    request = CertificateRequest.from_bytes(req_path.read_bytes())
    assert request.is_authenticated and cvc.verify_inner_signature(request)
    issued = invoke("eac", "issue-is", "--keys", fresh, "--request", req_path, "--require-outer",
                    "--out", fresh / "is2.cvcert")  # fmt: skip
    assert issued.exit_code == 0, issued.output
    assert "outer signature by VNIS00001 verified" in issued.output
    cert = _cert(fresh / "is2.cvcert")
    assert cert.chr == request.body.chr and cert.role is Role.INSPECTION_SYSTEM
    assert _cert(fresh / "eac" / "is.cvcert").chr == cert.chr  # its key is ours: current
    again = invoke("eac", "issue-is", "--keys", fresh, "--request", req_path)
    assert again.exit_code == 2 and "issued already" in again.output


def test_a_tampered_request_is_refused(fresh: Path) -> None:
    req_path = fresh / "is.cvreq"
    assert (
        invoke("eac", "request", "--keys", fresh, "--role", "is", "--out", req_path).exit_code == 0
    )
    data = bytearray(req_path.read_bytes())
    data[-3] ^= 0x01  # inside the inner signature
    req_path.write_bytes(bytes(data))
    result = invoke("eac", "issue-is", "--keys", fresh, "--request", req_path)
    assert result.exit_code == 2 and "inner signature" in result.output


def test_issue_is_validity_policy(fresh: Path) -> None:
    result = invoke("eac", "issue-is", "--keys", fresh, "--days", "45")
    assert result.exit_code == 2 and "1 to 31 days" in result.output


def test_link_and_show(fresh: Path) -> None:
    result = invoke("eac", "link", "--keys", fresh)
    assert result.exit_code == 0, result.output
    assert "CVCA rollover VNCVCA00001 -> VNCVCA00002" in result.output
    link = fresh / "eac" / "links" / "VNCVCA00001-VNCVCA00002.cvcert"
    shown = invoke("eac", "show", link, "--keys", fresh)
    assert shown.exit_code == 0, shown.output
    assert "kind: CVCA link" in shown.output and "car: VNCVCA00001" in shown.output
    assert "signature: status valid" in shown.output
    dv = invoke("eac", "issue-dv", "--keys", fresh)
    assert "CAR VNCVCA00002" in dv.output


def test_show_json(fresh: Path) -> None:
    result = invoke("eac", "show", fresh / "eac" / "is.cvcert", "--json", "--keys", fresh)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert list(doc)[:2] == ["schema", "version"]
    assert doc["schema"] == "cardkit.cvc" and doc["version"] == 1
    assert doc["type"] == "certificate" and doc["kind"] == "inspection system"
    assert (doc["car"], doc["chr"], doc["read_dg3"]) == ("VNDV00001", "VNIS00001", True)
    assert len(doc["effective"]) == 10 and doc["effective"][4] == "-"  # ISO 8601 day
    assert doc["signature"]["status"] == "valid"
    assert doc["public_key"]["domain_parameters"] == "inherited"
    req = fresh / "dv.cvreq"
    assert invoke("eac", "request", "--keys", fresh, "--role", "dv", "--out", req).exit_code == 0
    shown = json.loads(invoke("eac", "show", req, "--json").stdout)
    assert shown["type"] == "request" and shown["signature"]["status"] == "valid"
    assert shown["outer_signature"] is None and shown["car"] == "VNCVCA00001"


def test_show_without_the_issuer_and_garbage(tmp_path: Path, keys: Path) -> None:
    lone = tmp_path / "is.cvcert"
    shutil.copy(keys / "eac" / "is.cvcert", lone)
    result = invoke("eac", "show", lone, "--keys", tmp_path / "none")
    assert result.exit_code == 0 and "status issuer not found" in result.output
    (tmp_path / "junk.cvcert").write_bytes(b"\x30\x00")
    bad = invoke("eac", "show", tmp_path / "junk.cvcert")
    assert bad.exit_code == 2 and "not a CV certificate" in bad.output


@pytest.mark.parametrize("store", ["p12", "jks"])
def test_other_stores_end_to_end(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_VAR, PASSWORD)
    folder = tmp_path / "keys"
    secret = f"env:{PASSWORD_VAR}"
    request = folder / "r.cvreq"
    steps = [
        ("eac", "init", "--keys", folder, "--store", store, "--password-from", secret),
        ("eac", "issue-dv", "--keys", folder),
        ("eac", "request", "--keys", folder, "--role", "is", "--outer", "is", "--out", request),
        ("eac", "issue-is", "--keys", folder, "--request", request),
        ("eac", "link", "--keys", folder),
    ]  # fmt: skip
    for step in steps:
        result = invoke(*step)
        assert result.exit_code == 0, (step, result.output)
    eac = folder / "eac"
    assert f'store = "{store}"' in (eac / "eac.toml").read_text(encoding="utf-8")
    term, dv = _cert(eac / "is.cvcert"), _cert(eac / "dv.cvcert")
    assert term.car == dv.chr and str(term.chr) == "VNIS00002"
    shown = json.loads(invoke("eac", "show", eac / "is.cvcert", "--json").stdout)
    assert shown["signature"]["status"] == "valid"
    assert not list(eac.glob("*.key.pem"))  # the keys are in the store
