"""The trust store: loading a folder, master-list certificates, issuer and CRL lookup."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cardkit.errors import PkiError
from cardkit.pki.trust import TrustStore, names_match, public_key_of, verify_crl_signature

T0 = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
DER = serialization.Encoding.DER
PEM = serialization.Encoding.PEM


def _name(cn: str, country: str = "VN") -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, country),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _key(seed: int) -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(seed, ec.SECP256R1())


def _csca(
    key: ec.EllipticCurvePrivateKey, cn: str = "CSCA VN", serial: int = 1, ski: bool = True
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(T0)
        .not_valid_after(T0 + datetime.timedelta(days=5000))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
    )
    if ski:
        builder = builder.add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
        )
    return builder.sign(key, hashes.SHA256())


def _dsc(issuer_key: ec.EllipticCurvePrivateKey, issuer_cn: str = "CSCA VN") -> x509.Certificate:
    key = _key(0xD5C)
    return (
        x509.CertificateBuilder()
        .subject_name(_name("DS 1"))
        .issuer_name(_name(issuer_cn))
        .public_key(key.public_key())
        .serial_number(77)
        .not_valid_before(T0)
        .not_valid_after(T0 + datetime.timedelta(days=3650))
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
        .sign(issuer_key, hashes.SHA256())
    )


def _crl(key: ec.EllipticCurvePrivateKey, cn: str = "CSCA VN") -> x509.CertificateRevocationList:
    return (
        x509.CertificateRevocationListBuilder()
        .issuer_name(_name(cn))
        .last_update(T0)
        .next_update(T0 + datetime.timedelta(days=90))
        .sign(key, hashes.SHA256())
    )


K1, K2, K3 = _key(1001), _key(1002), _key(1003)


def test_from_folder_loads_pem_der_bundles_and_crls(tmp_path: Path) -> None:
    a, b, c = _csca(K1, serial=1), _csca(K2, serial=2), _csca(K3, "CSCA other", serial=3)
    (tmp_path / "a.pem").write_bytes(a.public_bytes(PEM) + b.public_bytes(PEM))  # a bundle
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.DER").write_bytes(c.public_bytes(DER))
    (tmp_path / "c-again.cer").write_bytes(c.public_bytes(PEM))  # a duplicate, PEM in .cer
    (tmp_path / "one.crl").write_bytes(_crl(K1).public_bytes(DER))
    (tmp_path / "two.crl").write_bytes(_crl(K2).public_bytes(PEM))
    (tmp_path / "README.txt").write_text("not a certificate")
    store = TrustStore.from_folder(tmp_path)
    assert set(store.cscas) == {a, b, c}
    assert len(store.cscas) == 3
    assert len(store.crls) == 2


def test_from_folder_names_the_bad_file(tmp_path: Path) -> None:
    (tmp_path / "good.pem").write_bytes(_csca(K1).public_bytes(PEM))
    (tmp_path / "broken.crt").write_bytes(b"\x30\x03\x02\x01\x01")
    with pytest.raises(PkiError, match=r"broken\.crt"):
        TrustStore.from_folder(tmp_path)


def test_from_folder_bad_crl_and_missing_folder(tmp_path: Path) -> None:
    (tmp_path / "x.crl").write_bytes(b"-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n")
    with pytest.raises(PkiError, match=r"x\.crl"):
        TrustStore.from_folder(tmp_path)
    with pytest.raises(PkiError, match="not found"):
        TrustStore.from_folder(tmp_path / "nope")


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=50)
@given(st.binary(max_size=200), st.sampled_from([".der", ".pem", ".crl", ".cer"]))
def test_from_folder_random_bytes_give_pki_error_only(
    tmp_path: Path, data: bytes, suffix: str
) -> None:
    folder = tmp_path / f"f{abs(hash((data, suffix)))}"
    folder.mkdir()
    (folder / f"x{suffix}").write_bytes(data)
    try:
        store = TrustStore.from_folder(folder)
    except PkiError as exc:
        assert f"x{suffix}" in str(exc)
        return
    assert len(store.cscas) + len(store.crls) <= 1


def test_add_master_list_certificates_is_new_and_deduplicated() -> None:
    a, b = _csca(K1), _csca(K2, serial=2)
    store = TrustStore((a,))
    bigger = store.add_master_list_certificates([a, b, b])
    assert store.cscas == (a,)
    assert bigger.cscas == (a, b)
    assert bigger.add_crls([_crl(K1)]).crls != ()


def test_issuers_of_uses_name_and_key_identifier() -> None:
    # Key rollover (9303-12): two CSCAs with the same name, different keys.
    old, new = _csca(K1, serial=1), _csca(K2, serial=2)
    other = _csca(K3, "CSCA other", serial=3)
    store = TrustStore((old, new, other))
    assert store.issuers_of(_dsc(K2)) == (new,)
    assert store.issuers_of(_dsc(K1)) == (old,)
    assert store.issuers_of(_dsc(K3, "CSCA nobody")) == ()


def test_issuers_of_falls_back_on_the_name_without_ski() -> None:
    bare = _csca(K1, ski=False)
    assert TrustStore((bare,)).issuers_of(_dsc(K1)) == (bare,)


def test_names_match_is_case_and_space_insensitive() -> None:
    assert names_match(_name("CSCA  VN"), _name("csca vn"))
    assert not names_match(_name("CSCA VN"), _name("CSCA VN", country="DE"))


def test_crls_for_checks_the_signature() -> None:
    csca = _csca(K1)
    good, forged = _crl(K1), _crl(K2)  # same issuer name, the second signed by another key
    store = TrustStore((csca,), (good, forged))
    assert store.candidate_crls(csca) == (good, forged)
    assert store.crls_for(csca) == (good,)
    assert store.crls_for(csca) == (good,)  # cached answer
    assert verify_crl_signature(good, public_key_of(csca))
    assert not verify_crl_signature(forged, public_key_of(csca))


def test_constructor_checks_types() -> None:
    with pytest.raises(TypeError):
        TrustStore(("not a certificate",))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        TrustStore((), ("not a crl",))  # type: ignore[arg-type]
