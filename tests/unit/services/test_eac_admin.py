"""Issue 15 §2: the CV PKI of EAC in a keys folder (``KEYS/eac``): init (CVCA, DV, IS), DVs and
inspection systems from new keys or from requests (inner and outer signatures checked), the
CVCA rollover through a link certificate, validity per role, sequence numbers, the audit log
and the key stores. One IS certificate's signature is cross-checked with OpenSSL (required under
CI=true, skipped elsewhere when the binary is missing)."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from requirements import unavailable

from cardkit.encoding import oids
from cardkit.errors import EncodingError, PkiError
from cardkit.pki import cvc
from cardkit.pki.cvc import Certificate, CertificateRequest, EcPublicKey, RequestBody, Role
from cardkit.pki.signer import LocalSigner
from cardkit.services import eac_admin
from cardkit.services.eac_admin import EacPki, init_eac, load_eac_config, read_cv_file
from cardkit.services.pki_admin import init_pki

PASSWORD = b"eac admin test password"
NOW = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)
TODAY = NOW.date()


def _init(tmp_path: Path, store: str = "file", **kwargs: object) -> EacPki:
    return init_eac(
        tmp_path / "keys",
        country="VN",
        secret_spec="env:CARDKIT_EAC_TEST_PASSWORD",
        secret=PASSWORD,
        now=NOW,
        store=store,
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.fixture
def pki(tmp_path: Path) -> EacPki:
    return _init(tmp_path)


def _audit(pki: EacPki) -> list[dict[str, str]]:
    lines = pki.config.audit.path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def _foreign_request(
    chr: str = "DEIS00001", curve: ec.EllipticCurve | None = None
) -> tuple[CertificateRequest, LocalSigner]:
    key = ec.generate_private_key(curve or ec.BrainpoolP256R1())
    signer = LocalSigner(key, "test:foreign")
    body = RequestBody.build(
        public_key=cvc.public_key_from_cryptography(key.public_key(), domain_parameters=True),
        chr=chr,
        car="VNDV00001",
    )
    return cvc.sign_request(body, signer), signer


# --- init ------------------------------------------------------------------------------------


def test_init_creates_cvca_dv_and_is(pki: EacPki) -> None:
    cvca, dv, term = (pki.certificate(n) for n in ("cvca", "dv", "is"))
    assert (str(cvca.car), str(cvca.chr)) == ("VNCVCA00001", "VNCVCA00001")
    assert (str(dv.car), str(dv.chr)) == ("VNCVCA00001", "VNDV00001")
    assert (str(term.car), str(term.chr)) == ("VNDV00001", "VNIS00001")
    # TR-03110-3 C.4.1: role bits 8-7, read DG4 b2, read DG3 b1.
    assert [c.chat.template for c in (cvca, dv, term)] == [b"\xc3", b"\x83", b"\x03"]
    assert [c.role for c in (cvca, dv, term)] == [
        Role.CVCA, Role.DV_DOMESTIC, Role.INSPECTION_SYSTEM,
    ]  # fmt: skip
    # D.3.3: the CVCA's key carries its domain parameters, DV and IS keys inherit them.
    assert isinstance(cvca.public_key, EcPublicKey) and cvca.public_key.domain is not None
    assert cvca.public_key.curve().name == "brainpoolP256r1"
    for cert in (dv, term):
        assert isinstance(cert.public_key, EcPublicKey) and cert.public_key.domain is None
        assert pki.index().domain_for(cert) == cvca.public_key.domain
    effective = cvca.chat.narrowed_by(dv.chat).narrowed_by(term.chat)
    assert effective.read_dg3 and effective.read_dg4 and effective.role is Role.INSPECTION_SYSTEM


def test_init_signatures_verify_along_the_chain(pki: EacPki) -> None:
    cvca, dv, term = (pki.certificate(n) for n in ("cvca", "dv", "is"))
    assert cvc.verify_signature(cvca, cvca)
    assert cvc.verify_signature(dv, cvca)
    assert cvc.verify_signature(term, dv, domain=pki.domain())
    index = pki.index()
    for cert in (cvca, dv, term):
        assert index.check(cert).status == "valid"


def test_validity_per_role(pki: EacPki) -> None:
    cvca, dv, term = (pki.certificate(n) for n in ("cvca", "dv", "is"))
    for cert, days in ((cvca, 1095), (dv, 90), (term, 3)):
        assert cert.effective == TODAY
        assert (cert.expiration - cert.effective).days + 1 == days  # both days included
        assert cert.valid_on(TODAY)


def test_init_folder_layout_modes_and_no_plain_keys(pki: EacPki, tmp_path: Path) -> None:
    folder = tmp_path / "keys" / "eac"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    expected = {
        "eac.toml", "state.json", "cvca.cvcert", "dv.cvcert", "is.cvcert",
        "issued/VNCVCA00001.cvcert", "issued/VNDV00001.cvcert", "issued/VNIS00001.cvcert",
        "cvca-00001.key.pem", "dv-00001.key.pem", "is-00001.key.pem",
    }  # fmt: skip
    files = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}
    assert files == expected
    for name in expected:
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600, name
    for name in ("cvca-00001.key.pem", "dv-00001.key.pem", "is-00001.key.pem"):
        data = (folder / name).read_bytes()
        assert b"ENCRYPTED PRIVATE KEY" in data
        with pytest.raises(TypeError):
            serialization.load_pem_private_key(data, password=None)
    text = (folder / "eac.toml").read_text(encoding="utf-8")
    assert PASSWORD.decode() not in text and 'secret = "env:CARDKIT_EAC_TEST_PASSWORD"' in text
    assert (folder / "cvca.cvcert").read_bytes() == (
        folder / "issued/VNCVCA00001.cvcert"
    ).read_bytes()


def test_init_refuses_an_existing_cv_pki(pki: EacPki, tmp_path: Path) -> None:
    with pytest.raises(PkiError, match="already holds a CV PKI"):
        _init(tmp_path)


def test_every_signature_is_audited(pki: EacPki) -> None:
    lines = _audit(pki)
    assert [(line["event"], line["chr"], line["car"]) for line in lines] == [
        ("cvc-signed", "VNCVCA00001", "VNCVCA00001"),
        ("cvc-signed", "VNDV00001", "VNCVCA00001"),
        ("cvc-signed", "VNIS00001", "VNDV00001"),
    ]
    assert lines[1]["key"].endswith("cvca-00001.key.pem")
    assert lines[2]["key"].endswith("dv-00001.key.pem")
    assert stat.S_IMODE(pki.config.audit.path.stat().st_mode) == 0o600
    assert pki.config.audit.path.parent == pki.config.folder.parent  # shared with `pki`


def test_reopen_with_the_password(pki: EacPki, tmp_path: Path) -> None:
    again = EacPki.open(tmp_path / "keys", PASSWORD)
    assert again.certificate("is").chr == pki.certificate("is").chr
    assert load_eac_config(tmp_path / "keys").country == "VN"
    with pytest.raises(PkiError, match="eac init"):
        load_eac_config(tmp_path / "elsewhere")


# --- issuing ---------------------------------------------------------------------------------


def test_sequence_numbers_increment_per_holder(pki: EacPki) -> None:
    first = pki.issue_is(NOW)
    second = pki.issue_is(NOW)
    dv = pki.issue_dv(NOW)
    assert [str(i.certificate.chr) for i in (first, second, dv)] == [
        "VNIS00002", "VNIS00003", "VNDV00002",
    ]  # fmt: skip
    assert pki.certificate("is").chr == second.certificate.chr
    assert pki.certificate("dv").chr == dv.certificate.chr
    assert json.loads((pki.config.folder / "state.json").read_text())["sequences"] == {
        "CVCA": 1, "DV": 2, "IS": 3,
    }  # fmt: skip


def test_is_rights_and_validity_options(pki: EacPki) -> None:
    issued = pki.issue_is(NOW, read_dg4=False, days=30)
    cert = issued.certificate
    assert cert.chat.read_dg3 and not cert.chat.read_dg4
    assert cert.expiration == TODAY + timedelta(days=29)
    for days in (0, 32):
        with pytest.raises(PkiError, match="1 to 31 days"):
            pki.issue_is(NOW, days=days)
    with pytest.raises(PkiError, match="1 to 93 days"):
        pki.issue_dv(NOW, days=120)


def test_a_certificate_never_outlives_its_issuer(pki: EacPki) -> None:
    dv = pki.issue_dv(NOW, days=2)
    issued = pki.issue_is(NOW, days=10)
    assert issued.certificate.expiration == dv.certificate.expiration
    assert any("cut back" in note for note in issued.notes)


def test_an_expired_issuer_signs_nothing(pki: EacPki) -> None:
    later = NOW + timedelta(days=120)  # the DV (90 days) has expired
    with pytest.raises(PkiError, match="not valid on"):
        pki.issue_is(later)


def test_foreign_dv(pki: EacPki) -> None:
    domestic = pki.certificate("dv")
    foreign = pki.issue_dv(NOW, foreign=True, read_dg4=False)
    cert = foreign.certificate
    assert cert.role is Role.DV_FOREIGN and cert.chat.template == b"\x41"
    assert str(cert.chr) == "VNDVF00001"
    assert pki.certificate("dv").chr == domestic.chr  # a foreign DV is not the current one
    assert cvc.verify_signature(cert, pki.certificate("cvca"))


# --- requests --------------------------------------------------------------------------------


def test_issue_is_from_a_foreign_request(pki: EacPki) -> None:
    request, _ = _foreign_request()
    issued = pki.issue_is(NOW, request=request)
    cert = issued.certificate
    assert str(cert.chr) == "DEIS00001" and issued.key_ref is None
    assert isinstance(cert.public_key, EcPublicKey) and cert.public_key.domain is None
    assert cert.public_key.point == request.body.public_key.point  # type: ignore[union-attr]
    assert pki.certificate("is").chr != cert.chr  # not ours: the current IS stays
    assert cvc.verify_signature(cert, pki.certificate("dv"), domain=pki.domain())
    with pytest.raises(PkiError, match="issued already"):
        pki.issue_is(NOW, request=request)


def test_a_request_with_a_bad_inner_signature_is_refused(pki: EacPki) -> None:
    request, _ = _foreign_request()
    sig = bytearray(request.inner_signature)
    sig[-1] ^= 1
    forged = CertificateRequest.build(request.body, bytes(sig))
    with pytest.raises(PkiError, match="inner signature"):
        pki.issue_is(NOW, request=forged)


def test_a_request_on_another_curve_is_refused(pki: EacPki) -> None:
    request, _ = _foreign_request(curve=ec.SECP256R1())
    with pytest.raises(PkiError, match="brainpoolP256r1"):
        pki.issue_is(NOW, request=request)


def test_an_authenticated_request_is_checked_outside_and_in(pki: EacPki) -> None:
    # A terminal renewing: its new key's request, outer-signed by its current key.
    made = pki.request(NOW, role="is", outer="is")
    request = made.request
    assert request.is_authenticated and str(request.outer_car) == "VNIS00001"
    assert str(request.body.chr) == "VNIS00002" and str(request.body.car) == "VNDV00001"
    issued = pki.issue_is(NOW, request=request, require_outer=True)
    assert issued.key_ref == made.key_ref  # the key is ours: it becomes the current IS
    assert pki.certificate("is").chr == issued.certificate.chr
    assert any("outer signature" in n for n in issued.notes)
    events = [line["event"] for line in _audit(pki)]
    assert "cvc-request-signed" in events and "cvc-request-outer-signed" in events


def test_an_outer_signature_that_does_not_verify_is_refused(pki: EacPki) -> None:
    made = pki.request(NOW, role="is", outer="is")
    sig = bytearray(made.request.outer_signature or b"")
    sig[-1] ^= 1
    forged = CertificateRequest.build(
        made.request.body,
        made.request.inner_signature,
        outer_car=made.request.outer_car,
        outer_signature=bytes(sig),
    )
    with pytest.raises(PkiError, match="outer signature by VNIS00001 does not verify"):
        pki.issue_is(NOW, request=forged)


def test_an_outer_signer_unknown_to_the_folder(pki: EacPki, tmp_path: Path) -> None:
    other = init_eac(
        tmp_path / "other", country="DE", secret_spec="prompt", secret=PASSWORD, now=NOW
    )
    made = other.request(NOW, role="dv", outer="dv", chr="DEDV00002")
    with pytest.raises(PkiError, match="cannot be checked"):
        pki.issue_dv(NOW, foreign=True, request=made.request)
    # With the outer signer's certificate (the German DV) and its issuer (for the curve):
    issued = pki.issue_dv(
        NOW,
        foreign=True,
        request=made.request,
        outer_certificates=[other.certificate("dv"), other.certificate("cvca")],
    )
    assert str(issued.certificate.chr) == "DEDV00002"
    assert issued.certificate.role is Role.DV_FOREIGN


def test_require_outer_refuses_a_bare_request(pki: EacPki) -> None:
    request, _ = _foreign_request()
    with pytest.raises(PkiError, match="not authenticated"):
        pki.issue_is(NOW, request=request, require_outer=True)


# --- rollover --------------------------------------------------------------------------------


def test_cvca_rollover_through_a_link_certificate(pki: EacPki) -> None:
    old_cvca, old_dv = pki.certificate("cvca"), pki.certificate("dv")
    result = pki.link(NOW)
    new_cvca, link = result.cvca.certificate, result.link.certificate
    assert result.previous.chr == old_cvca.chr
    assert str(new_cvca.chr) == str(link.chr) == "VNCVCA00002"
    assert new_cvca.is_self_signed and link.car == old_cvca.chr  # CAR = the old CHR
    assert link.role is Role.CVCA and link.chat.template == b"\xc3"
    assert isinstance(link.public_key, EcPublicKey) and link.public_key.domain is not None
    assert link.public_key.raw == new_cvca.public_key.raw
    assert cvc.verify_signature(link, old_cvca)  # the chip's old trust point checks it
    assert cvc.verify_signature(new_cvca, new_cvca)
    assert result.link.path.name == "VNCVCA00001-VNCVCA00002.cvcert"
    assert pki.certificate("cvca").chr == new_cvca.chr
    # New DVs come from the new CVCA; the old DV stays valid under the old one.
    dv = pki.issue_dv(NOW).certificate
    assert dv.car == new_cvca.chr and cvc.verify_signature(dv, new_cvca)
    assert pki.index().check(old_dv).status == "valid"
    assert read_cv_file(result.link.path).signature.status == "valid"
    assert _audit(pki)[-2]["kind"] == "link"


def test_rollover_after_the_cvca_expired_is_refused(pki: EacPki) -> None:
    with pytest.raises(PkiError, match="expired"):
        pki.link(NOW + timedelta(days=4 * 365))


# --- show ------------------------------------------------------------------------------------


def test_read_cv_file_describes_certificates_and_requests(pki: EacPki, tmp_path: Path) -> None:
    info = read_cv_file(pki.config.path("is")).describe(TODAY)
    assert info["type"] == "certificate" and info["kind"] == "inspection system"
    assert (info["car"], info["chr"], info["read_dg3"], info["read_dg4"]) == (
        "VNDV00001", "VNIS00001", True, True,
    )  # fmt: skip
    assert info["effective"] == TODAY and info["valid_today"] is True
    assert info["signature"] == {
        "status": "valid", "issuer": str(pki.config.path("dv")), "detail": None,
    }  # fmt: skip
    lone = tmp_path / "lone"
    lone.mkdir()
    shutil.copy(pki.config.path("is"), lone / "is.cvcert")
    assert read_cv_file(lone / "is.cvcert").signature.status == "issuer not found"
    assert read_cv_file(lone / "is.cvcert", [pki.config.folder]).signature.status == "valid"
    made = pki.request(NOW, role="dv", outer="dv")
    (tmp_path / "dv.cvreq").write_bytes(made.request.raw)
    req = read_cv_file(tmp_path / "dv.cvreq", [pki.config.folder])
    assert req.describe()["kind"] == "authenticated request"
    assert req.signature.status == "valid" and req.outer_signature is not None
    assert req.outer_signature.status == "valid"


def test_a_tampered_certificate_shows_an_invalid_signature(pki: EacPki, tmp_path: Path) -> None:
    cert = pki.certificate("is")
    sig = bytearray(cert.signature)
    sig[5] ^= 0x40
    (pki.config.folder / "forged.cvcert").write_bytes(Certificate.build(cert.body, bytes(sig)).raw)
    assert read_cv_file(pki.config.folder / "forged.cvcert").signature.status == "invalid"


def test_garbage_is_an_encoding_error(tmp_path: Path) -> None:
    (tmp_path / "x.cvcert").write_bytes(b"\x7f\x21\x03\x01\x02\x03")
    with pytest.raises(EncodingError, match="not a CV certificate"):
        read_cv_file(tmp_path / "x.cvcert")


# --- stores, pki init, RSA -------------------------------------------------------------------


@pytest.mark.parametrize(("store", "key_file"), [("p12", "is-00002.p12"), ("jks", "eac.jks")])
def test_pkcs12_and_jks_stores(tmp_path: Path, store: str, key_file: str) -> None:
    pki = _init(tmp_path, store=store)
    assert pki.config.is_key.startswith(f"{store}:")
    again = EacPki.open(tmp_path / "keys", PASSWORD)
    issued = again.issue_is(NOW)
    assert (again.config.folder / key_file).is_file()
    assert stat.S_IMODE((again.config.folder / key_file).stat().st_mode) == 0o600
    assert cvc.verify_signature(issued.certificate, again.certificate("dv"), domain=again.domain())
    assert again.signer("is").public_key() is not None


def test_pki_init_creates_the_cv_pki_beside_the_x509_one(tmp_path: Path) -> None:
    init_pki(
        tmp_path / "keys", country="VN", secret_spec="env:X", secret=PASSWORD, now=NOW, eac=True
    )
    eac = EacPki.open(tmp_path / "keys", PASSWORD)
    assert str(eac.certificate("cvca").chr) == "VNCVCA00001"
    assert (tmp_path / "keys" / "pki.toml").is_file()
    assert eac.config.audit.path == tmp_path / "keys" / "audit.jsonl"


def test_an_rsa_cv_pki(tmp_path: Path) -> None:
    pki = _init(tmp_path, key_spec="rsa:2048")
    cvca, term = pki.certificate("cvca"), pki.certificate("is")
    assert cvca.public_key.oid == oids.ID_TA_RSA_PSS_SHA_256
    assert cvc.verify_signature(term, pki.certificate("dv"))


def test_key_refs_for_every_store() -> None:
    assert eac_admin.key_ref_for("file", "is-00001") == "file:is-00001.key.pem"
    assert eac_admin.key_ref_for("p12", "is-00001") == "p12:is-00001.p12"
    assert eac_admin.key_ref_for("jks", "is-00001") == "jks:eac.jks#is-00001"
    assert (
        eac_admin.key_ref_for("pkcs11:token=EAC", "is-00001")
        == "pkcs11:token=EAC;object=eac-is-00001"
    )
    with pytest.raises(PkiError, match="unknown key store"):
        eac_admin.key_ref_for("vault", "x")


# --- independent check -----------------------------------------------------------------------


def _openssl() -> str:
    path = shutil.which("openssl")
    if path is None:
        unavailable("openssl not installed")
    assert path is not None
    return path


def test_openssl_verifies_an_is_certificate_signature(pki: EacPki, tmp_path: Path) -> None:
    """The DV's ECDSA-SHA-256 signature over the IS certificate body (7F4E, tag and length
    included), converted from plain r‖s (TR-03111) to DER, verified by OpenSSL with the DV key."""
    term = pki.certificate("is")
    public = pki.signer("dv").public_key()
    (tmp_path / "dv.pem").write_bytes(
        public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    (tmp_path / "body.bin").write_bytes(term.body.raw)
    (tmp_path / "sig.der").write_bytes(cvc.der_ecdsa_signature(term.signature))
    result = subprocess.run(
        [_openssl(), "dgst", "-sha256", "-verify", str(tmp_path / "dv.pem"), "-signature",
         str(tmp_path / "sig.der"), str(tmp_path / "body.bin")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0 and "Verified OK" in result.stdout, result.stderr
    assert term.body.raw[:2] == b"\x7f\x4e"


def test_dates_are_days(pki: EacPki) -> None:
    cert = pki.certificate("is")
    assert isinstance(cert.effective, date)
    assert bytes(cert.raw).find(cvc.encode_date(TODAY)) > 0  # YYMMDD, unpacked BCD
