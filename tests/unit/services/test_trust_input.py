"""`load_trust`: the trust input of an inspection checked before any card is read (issue 11:
every unusable folder, certificate, CRL or master list is a PkiError naming the file)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from testpki import SCHEME, T0, make_csca, make_dsc

from cardkit.errors import PkiError
from cardkit.pki import certs
from cardkit.pki.crl import RevokedEntry, issue_crl
from cardkit.pki.masterlist import create_master_list
from cardkit.pki.signer import LocalSigner
from cardkit.services.trust_input import load_trust

PEM = serialization.Encoding.PEM
DER = serialization.Encoding.DER


@dataclass(frozen=True)
class Pki:
    """A CSCA with a Document Signer and a master-list signer, and another State's CSCA."""

    csca_signer: LocalSigner
    csca: x509.Certificate
    dsc_signer: LocalSigner
    dsc: x509.Certificate
    mls_signer: LocalSigner
    mls: x509.Certificate
    foreign_signer: LocalSigner
    foreign: x509.Certificate

    def crl(self, revoked: Sequence[RevokedEntry] = ()) -> x509.CertificateRevocationList:
        return issue_crl(
            self.csca_signer,
            self.csca,
            revoked,
            crl_number=1,
            this_update=T0,
            next_update=T0 + timedelta(days=90),
            scheme=SCHEME,
        )

    def master_list(
        self,
        signer: LocalSigner | None = None,
        signer_cert: x509.Certificate | None = None,
        cscas: Sequence[x509.Certificate] | None = None,
    ) -> bytes:
        return create_master_list(
            signer or self.mls_signer,
            signer_cert or self.mls,
            cscas or [self.csca, self.foreign],
            signing_time=T0 + timedelta(days=10),
            scheme=SCHEME,
        )


@pytest.fixture(scope="module")
def pki() -> Pki:
    csca_signer, csca = make_csca("CSCA VN trust input")
    dsc_signer, dsc = make_dsc(csca_signer, csca, "DS VN trust input")
    mls_key = ec.generate_private_key(ec.SECP256R1())
    mls = certs.issue_master_list_signer(
        csca_signer,
        csca,
        mls_key.public_key(),
        common_name="MLS VN trust input",
        serial=certs.new_serial_number(),
        not_before=T0,
        not_after=T0 + timedelta(days=3000),
        private_key_usage_end=T0 + timedelta(days=365),
        scheme=SCHEME,
    )
    foreign_signer, foreign = make_csca("CSCA DE trust input", country="DE")
    return Pki(
        csca_signer,
        csca,
        dsc_signer,
        dsc,
        LocalSigner(mls_key, "mls"),
        mls,
        foreign_signer,
        foreign,
    )


def _folder(tmp_path: Path, pki: Pki, *, crl: bool = True) -> Path:
    folder = tmp_path / "trust"
    folder.mkdir()
    (folder / "csca.pem").write_bytes(pki.csca.public_bytes(PEM))
    if crl:
        (folder / "csca.crl").write_bytes(pki.crl().public_bytes(DER))
    return folder


def _with_invalid_version(cert: x509.Certificate) -> bytes:
    """``cert``'s DER with the version INTEGER patched to 5 and nothing else fixed."""
    der = cert.public_bytes(DER)
    return der.replace(bytes.fromhex("a003020102"), bytes.fromhex("a003020105"), 1)


def _refused(path: Path, *args: object) -> str:
    """load_trust(*args)'s PkiError message, which must name ``path``."""
    with pytest.raises(PkiError) as e:
        load_trust(*args)  # type: ignore[arg-type]
    message = str(e.value)
    assert str(path) in message, message
    assert "\n" not in message  # one line for the CLI
    return message


# --- What works ---------------------------------------------------------------------------------


def test_folder_master_list_and_crls(tmp_path: Path, pki: Pki) -> None:
    folder = _folder(tmp_path, pki)
    (folder / "dsc.pem").write_bytes(pki.dsc.public_bytes(PEM))  # left out, not trusted
    ml = tmp_path / "ml.der"
    ml.write_bytes(pki.master_list())
    extra = tmp_path / "extra.crl"
    extra.write_bytes(pki.crl([RevokedEntry(pki.dsc.serial_number, T0)]).public_bytes(PEM))
    store = load_trust(folder, ml, [extra])
    assert set(store.cscas) == {pki.csca, pki.foreign}
    assert len(store.crls) == 2 and len(store.crls_for(pki.csca)) == 2
    assert [i.source for i in store.ignored] == [str(folder / "dsc.pem")]
    assert "is not a CSCA" in store.ignored[0].reason


def test_a_folder_crl_of_another_csca_is_left_out(tmp_path: Path, pki: Pki) -> None:
    folder = _folder(tmp_path, pki)
    other = issue_crl(
        pki.foreign_signer,
        pki.foreign,
        (),
        crl_number=3,
        this_update=T0,
        next_update=T0 + timedelta(days=90),
        scheme=SCHEME,
    )
    (folder / "de.crl").write_bytes(other.public_bytes(DER))
    store = load_trust(folder)
    assert len(store.crls) == 1
    assert store.ignored[0].source == str(folder / "de.crl")
    assert "no trusted CSCA is" in store.ignored[0].reason
    # With the master list that brings the German CSCA, the same folder CRL is used.
    ml = tmp_path / "ml.der"
    ml.write_bytes(pki.master_list())
    assert len(load_trust(folder, ml).crls) == 2


# --- The trust folder ---------------------------------------------------------------------------


def test_empty_folder(tmp_path: Path) -> None:
    message = _refused(tmp_path, tmp_path)
    assert "no CSCA certificate (.pem .crt .cer .der) found" in message


def test_only_a_document_signer(tmp_path: Path, pki: Pki) -> None:
    (tmp_path / "dsc.crt").write_bytes(pki.dsc.public_bytes(DER))
    message = _refused(tmp_path / "dsc.crt", tmp_path)
    assert message.startswith(f"{tmp_path}: no CSCA certificate among 1 certificate(s)")
    assert "BasicConstraints cA TRUE missing" in message


def test_garbage_file(tmp_path: Path, pki: Pki) -> None:
    folder = _folder(tmp_path, pki)
    (folder / "junk.cer").write_bytes(b"\x00\x01 not a certificate")
    assert "not a readable X.509 certificate" in _refused(folder / "junk.cer", folder)


def test_invalid_x509_version(tmp_path: Path, pki: Pki) -> None:
    folder = _folder(tmp_path, pki)
    (folder / "v6.der").write_bytes(_with_invalid_version(pki.foreign))
    assert "invalid X.509 version" in _refused(folder / "v6.der", folder)


def test_truncated_certificate(tmp_path: Path, pki: Pki) -> None:
    folder = _folder(tmp_path, pki)
    der = pki.foreign.public_bytes(DER)
    (folder / "cut.der").write_bytes(der[:-20])
    assert "truncated" in _refused(folder / "cut.der", folder)


def test_garbage_crl_in_the_folder(tmp_path: Path, pki: Pki) -> None:
    folder = _folder(tmp_path, pki, crl=False)
    (folder / "bad.crl").write_bytes(b"-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n")
    assert "not a readable X.509 CRL" in _refused(folder / "bad.crl", folder)


def test_a_folder_crl_in_the_cscas_name_signed_by_its_dsc(tmp_path: Path, pki: Pki) -> None:
    folder = _folder(tmp_path, pki, crl=False)
    forged = _crl_signed_by_dsc(pki)
    (folder / "csca.crl").write_bytes(forged.public_bytes(DER))
    message = _refused(folder / "csca.crl", folder)
    assert "does not verify" in message


def test_no_trust_at_all() -> None:
    with pytest.raises(PkiError, match="no trusted CSCA certificate"):
        load_trust()


def test_missing_folder(tmp_path: Path) -> None:
    assert "not found" in _refused(tmp_path / "nope", tmp_path / "nope")


# --- The master list ----------------------------------------------------------------------------


def test_master_list_without_a_trust_folder(tmp_path: Path, pki: Pki) -> None:
    ml = tmp_path / "ml.der"
    ml.write_bytes(pki.master_list())
    assert "trusted through its signer" in _refused(ml, None, ml)


def test_malformed_master_list(tmp_path: Path, pki: Pki) -> None:
    folder = _folder(tmp_path, pki)
    ml = tmp_path / "ml.der"
    for data in (b"\x30\x00", pki.master_list()[:-7], b"garbage", pki.csca.public_bytes(DER)):
        ml.write_bytes(data)
        assert "not a readable CSCA master list" in _refused(ml, folder, ml)


def test_unreadable_master_list(tmp_path: Path, pki: Pki) -> None:
    folder = _folder(tmp_path, pki)
    assert "cannot read the master list" in _refused(tmp_path, folder, tmp_path)  # a folder


def test_master_list_signed_by_the_csca_itself(tmp_path: Path, pki: Pki) -> None:
    ml = tmp_path / "ml.der"
    ml.write_bytes(pki.master_list(pki.csca_signer, pki.csca))
    message = _refused(ml, _folder(tmp_path, pki), ml)
    assert "a CSCA certificate" in message and "keyCertSign is set" in message
    assert "9303-12 §9" in message


def test_master_list_signed_by_a_document_signer(tmp_path: Path, pki: Pki) -> None:
    ml = tmp_path / "ml.der"
    ml.write_bytes(pki.master_list(pki.dsc_signer, pki.dsc))
    message = _refused(ml, _folder(tmp_path, pki), ml)
    assert "profile of a Document Signer" in message
    assert "cscaMasterListSigningKey" in message


def test_master_list_signer_without_the_eku(tmp_path: Path, pki: Pki) -> None:
    # Made for digitalSignature by the CSCA, like a master-list signer, but without the EKU.
    key = ec.generate_private_key(ec.SECP256R1())
    no_eku = certs.issue_dsc(
        pki.csca_signer,
        pki.csca,
        key.public_key(),
        common_name="MLS without EKU",
        serial=certs.new_serial_number(),
        not_before=T0,
        not_after=T0 + timedelta(days=3000),
        private_key_usage_end=T0 + timedelta(days=365),
        scheme=SCHEME,
    )
    ml = tmp_path / "ml.der"
    ml.write_bytes(pki.master_list(LocalSigner(key, "k"), no_eku))
    assert "no ExtendedKeyUsage cscaMasterListSigningKey" in _refused(
        ml, _folder(tmp_path, pki), ml
    )


def test_master_list_of_an_untrusted_signer(tmp_path: Path, pki: Pki) -> None:
    folder = tmp_path / "trust"
    folder.mkdir()
    (folder / "de.pem").write_bytes(pki.foreign.public_bytes(PEM))
    ml = tmp_path / "ml.der"
    ml.write_bytes(pki.master_list())
    assert "not issued by a trusted CSCA" in _refused(ml, folder, ml)


def test_master_list_with_no_csca_in_it(tmp_path: Path, pki: Pki) -> None:
    ml = tmp_path / "ml.der"
    ml.write_bytes(pki.master_list(cscas=[pki.dsc]))
    assert "no CSCA certificate among 1" in _refused(ml, _folder(tmp_path, pki), ml)


# --- CRLs given on their own (--crl) ------------------------------------------------------------


def _crl_signed_by_dsc(pki: Pki) -> x509.CertificateRevocationList:
    """A CRL with the CSCA's name, signed by its Document Signer's key."""
    key = pki.dsc_signer.private_key
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return (
        x509.CertificateRevocationListBuilder()
        .issuer_name(pki.csca.subject)
        .last_update(T0)
        .next_update(T0 + timedelta(days=90))
        .sign(key, hashes.SHA256())
    )


def test_crl_garbage(tmp_path: Path, pki: Pki) -> None:
    crl = tmp_path / "x.crl"
    crl.write_bytes(b"not a crl")
    assert "not a readable X.509 CRL" in _refused(crl, _folder(tmp_path, pki), None, [crl])


def test_crl_unreadable(tmp_path: Path, pki: Pki) -> None:
    crl = tmp_path / "gone.crl"
    crl.symlink_to(tmp_path / "missing")
    assert "cannot be read" in _refused(crl, _folder(tmp_path, pki), None, [crl])


def test_crl_of_an_untrusted_csca(tmp_path: Path, pki: Pki) -> None:
    other = issue_crl(
        pki.foreign_signer,
        pki.foreign,
        (),
        crl_number=2,
        this_update=T0,
        next_update=T0 + timedelta(days=90),
        scheme=SCHEME,
    )
    crl = tmp_path / "de.crl"
    crl.write_bytes(other.public_bytes(DER))
    message = _refused(crl, _folder(tmp_path, pki), None, [crl])
    assert f"{crl}: not issued by any trusted CSCA" in message


def test_crl_signed_by_a_document_signer(tmp_path: Path, pki: Pki) -> None:
    crl = tmp_path / "by-dsc.crl"
    crl.write_bytes(_crl_signed_by_dsc(pki).public_bytes(PEM))
    message = _refused(crl, _folder(tmp_path, pki), None, [crl])
    assert "not issued by any trusted CSCA" in message and "does not verify" in message


def test_crl_of_a_csca_without_crl_sign(tmp_path: Path, pki: Pki) -> None:
    key = pki.csca_signer.private_key
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    usage = x509.KeyUsage(False, False, False, False, False, True, False, False, False)
    no_crl_sign = (
        x509.CertificateBuilder()
        .subject_name(pki.csca.subject)
        .issuer_name(pki.csca.subject)
        .public_key(key.public_key())
        .serial_number(certs.new_serial_number())
        .not_valid_before(T0)
        .not_valid_after(T0 + timedelta(days=3000))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage, critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path / "trust"
    folder.mkdir()
    (folder / "csca.pem").write_bytes(no_crl_sign.public_bytes(PEM))
    crl = tmp_path / "csca.crl"
    crl.write_bytes(pki.crl().public_bytes(DER))  # the right key, but not allowed to sign CRLs
    assert "cRLSign" in _refused(crl, folder, None, [crl])


def test_a_crl_without_any_csca(tmp_path: Path, pki: Pki) -> None:
    crl = tmp_path / "csca.crl"
    crl.write_bytes(pki.crl().public_bytes(DER))
    with pytest.raises(PkiError, match="no trusted CSCA certificate"):
        load_trust(None, None, [crl])
