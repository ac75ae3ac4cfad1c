"""The trust store: loading a folder, master-list certificates, issuer and CRL lookup."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import CRLEntryExtensionOID, ExtensionOID, NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cardkit.errors import PkiError
from cardkit.pki.trust import (
    IgnoredItem,
    TrustStore,
    check_certificate,
    load_certificates,
    load_crls,
    names_match,
    public_key_of,
    trust_anchors,
    verify_crl_signature,
)

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


def _usage(
    *, digital_signature: bool = False, cert_sign: bool = False, crl_sign: bool = False
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _ca_usage(*, crl_sign: bool = True) -> x509.KeyUsage:
    return _usage(cert_sign=True, crl_sign=crl_sign)


def _csca(
    key: ec.EllipticCurvePrivateKey,
    cn: str = "CSCA VN",
    serial: int = 1,
    ski: bool = True,
    *,
    crl_sign: bool = True,
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
        .add_extension(_ca_usage(crl_sign=crl_sign), critical=True)
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
        .add_extension(_usage(digital_signature=True), critical=True)
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
        # The file when it is unreadable, else the folder (no CSCA in it).
        assert f"x{suffix}" in str(exc) or f"{folder}: no CSCA" in str(exc)
        return
    assert len(store.cscas) == 1


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


# --- Trust input checked at load (issue 11 item 7) ----------------------------------------------


def _with_invalid_version(cert: x509.Certificate) -> bytes:
    """The DER of ``cert`` with its version INTEGER (``[0] { INTEGER 2 }``) patched to 5, nothing
    else fixed: ``cryptography`` raises InvalidVersion (not a ValueError) on it."""
    der = cert.public_bytes(DER)
    version = bytes.fromhex("a003020102")
    assert der.count(version) == 1
    return der.replace(version, bytes.fromhex("a003020105"))


def test_empty_folder_has_no_csca(tmp_path: Path) -> None:
    with pytest.raises(
        PkiError, match=r"no CSCA certificate \(\.pem \.crt \.cer \.der\) found"
    ) as e:
        TrustStore.from_folder(tmp_path)
    assert str(tmp_path) in str(e.value)
    (tmp_path / "only.crl").write_bytes(_crl(K1).public_bytes(DER))
    (tmp_path / "notes.txt").write_text("a CSCA certificate, honest")
    with pytest.raises(PkiError, match="no CSCA certificate"):
        TrustStore.from_folder(tmp_path)


def test_folder_with_only_a_document_signer(tmp_path: Path) -> None:
    (tmp_path / "dsc.pem").write_bytes(_dsc(K1).public_bytes(PEM))
    with pytest.raises(PkiError) as e:
        TrustStore.from_folder(tmp_path)
    message = str(e.value)
    assert message.startswith(f"{tmp_path}: no CSCA certificate among 1 certificate(s)")
    assert "dsc.pem" in message and "BasicConstraints cA TRUE missing" in message
    assert "9303-12" in message


def test_no_csca_lists_a_few_files(tmp_path: Path) -> None:
    for i in range(5):
        (tmp_path / f"dsc{i}.der").write_bytes(_dsc(K1).public_bytes(DER))
    with pytest.raises(PkiError, match=r"dsc0\.der.*dsc2\.der.*and 2 more") as e:
        TrustStore.from_folder(tmp_path)
    assert "dsc3.der" not in str(e.value)


def test_non_csca_certificates_are_ignored_not_trusted(tmp_path: Path) -> None:
    csca, dsc = _csca(K1), _dsc(K1)
    (tmp_path / "csca.pem").write_bytes(csca.public_bytes(PEM) + dsc.public_bytes(PEM))
    (tmp_path / "ds.cer").write_bytes(dsc.public_bytes(DER))
    store = TrustStore.from_folder(tmp_path)
    assert store.cscas == (csca,)
    assert [i.source for i in store.ignored] == [
        f"{tmp_path / 'csca.pem'} (certificate 2 of 2)",
        str(tmp_path / "ds.cer"),
    ]
    assert all("is not a CSCA" in i.reason for i in store.ignored)
    # Master-list additions and CRLs keep the record of what was left out.
    assert store.add_crls([_crl(K1)]).add_master_list_certificates([]).ignored == store.ignored


def test_direct_construction_drops_nothing() -> None:
    dsc = _dsc(K1)
    store = TrustStore((dsc,), (), (("x", "y"),))  # type: ignore[arg-type]
    assert store.cscas == (dsc,)
    assert store.ignored == (IgnoredItem("x", "y"),)
    assert store.add_ignored([("a", "b")]).ignored[-1] == ("a", "b")
    with pytest.raises(TypeError):
        TrustStore((), (), ((1, 2),))  # type: ignore[arg-type]


def test_garbage_certificate_file(tmp_path: Path) -> None:
    (tmp_path / "csca.pem").write_bytes(_csca(K1).public_bytes(PEM))
    (tmp_path / "garbage.cer").write_bytes(b"\x00garbage, not DER")
    with pytest.raises(PkiError, match=r"garbage\.cer: not a readable X\.509 certificate"):
        TrustStore.from_folder(tmp_path)


def test_invalid_x509_version_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "v6.der").write_bytes(_with_invalid_version(_csca(K1)))
    with pytest.raises(PkiError, match=r"v6\.der: .*invalid X\.509 version"):
        TrustStore.from_folder(tmp_path)


def test_truncated_certificate(tmp_path: Path) -> None:
    der = _csca(K1).public_bytes(DER)
    (tmp_path / "cut.crt").write_bytes(der[: len(der) // 2])
    with pytest.raises(PkiError, match=r"cut\.crt: not a readable X\.509 certificate"):
        TrustStore.from_folder(tmp_path)


def test_bad_certificate_in_a_pem_bundle_is_named(tmp_path: Path) -> None:
    good = _csca(K1).public_bytes(PEM)
    bad = good.replace(good.splitlines()[3], b"A" * len(good.splitlines()[3]))
    (tmp_path / "bundle.pem").write_bytes(good + bad)
    with pytest.raises(PkiError, match=r"bundle\.pem \(certificate 2 of 2\)"):
        TrustStore.from_folder(tmp_path)


def test_pem_without_a_certificate(tmp_path: Path) -> None:
    key = K1.private_bytes(PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    (tmp_path / "key.pem").write_bytes(key)
    with pytest.raises(PkiError, match=r"key\.pem: no PEM CERTIFICATE block \(only PRIVATE KEY\)"):
        TrustStore.from_folder(tmp_path)


def test_unreadable_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "csca.pem").symlink_to(tmp_path / "missing.pem")
    with pytest.raises(PkiError, match=r"csca\.pem: cannot be read"):
        TrustStore.from_folder(tmp_path)


def _csca_builder(key: ec.EllipticCurvePrivateKey | None) -> x509.CertificateBuilder:
    builder = x509.CertificateBuilder()
    if key is not None:
        builder = builder.public_key(key.public_key())
    return (
        builder.subject_name(_name("CSCA VN"))
        .issuer_name(_name("CSCA VN"))
        .serial_number(5)
        .not_valid_before(T0)
        .not_valid_after(T0 + datetime.timedelta(days=5000))
    )


def test_lazily_decoded_fields_are_checked_at_load(tmp_path: Path) -> None:
    # cryptography loads this certificate and fails only when its extensions are read.
    broken = (
        _csca_builder(K1)
        .add_extension(x509.UnrecognizedExtension(ExtensionOID.KEY_USAGE, b"\x05\x00"), True)
        .sign(K1, hashes.SHA256())
    )
    (tmp_path / "lazy.pem").write_bytes(broken.public_bytes(PEM))
    with pytest.raises(PkiError, match=r"lazy\.pem: malformed certificate: extensions"):
        TrustStore.from_folder(tmp_path)
    with pytest.raises(PkiError, match="extensions"):
        check_certificate(broken)


def test_malformed_public_key_is_checked_at_load(tmp_path: Path) -> None:
    der = _csca(K1).public_bytes(DER)
    point = K1.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    bad_point = b"\x04" + bytes(64)  # (0, 0): not on the curve
    (tmp_path / "key.der").write_bytes(der.replace(point, bad_point))
    with pytest.raises(PkiError, match=r"key\.der: malformed certificate: public key"):
        TrustStore.from_folder(tmp_path)


def test_garbage_and_lazily_broken_crls(tmp_path: Path) -> None:
    assert load_crls(tmp_path / "x.crl", _crl(K1).public_bytes(PEM) * 2)[1][0] == (
        f"{tmp_path / 'x.crl'} (CRL 2 of 2)"
    )
    with pytest.raises(PkiError, match=r"g\.crl: not a readable X\.509 CRL"):
        load_crls(tmp_path / "g.crl", b"garbage")
    entry = (
        x509.RevokedCertificateBuilder()
        .serial_number(77)
        .revocation_date(T0)
        .add_extension(
            x509.UnrecognizedExtension(CRLEntryExtensionOID.CRL_REASON, b"\xff\xff"), False
        )
        .build()
    )
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(_name("CSCA VN"))
        .last_update(T0)
        .next_update(T0 + datetime.timedelta(days=90))
        .add_revoked_certificate(entry)
        .sign(K1, hashes.SHA256())
    )
    (tmp_path / "csca.pem").write_bytes(_csca(K1).public_bytes(PEM))
    (tmp_path / "entry.crl").write_bytes(crl.public_bytes(DER))
    with pytest.raises(PkiError, match=r"entry\.crl: malformed CRL: revoked certificates"):
        TrustStore.from_folder(tmp_path)


def test_load_certificates_labels_and_trust_anchors(tmp_path: Path) -> None:
    a, dsc = _csca(K1), _dsc(K1)
    items = load_certificates(tmp_path / "b.pem", a.public_bytes(PEM) + dsc.public_bytes(PEM))
    assert [label for label, _ in items] == [
        f"{tmp_path / 'b.pem'} (certificate 1 of 2)",
        f"{tmp_path / 'b.pem'} (certificate 2 of 2)",
    ]
    anchors, ignored = trust_anchors(items, "here")
    assert anchors == (a,) and len(ignored) == 1
    with pytest.raises(PkiError, match=r"^here: no CSCA certificate among 1"):
        trust_anchors(items[1:], "here")


# --- CRL issuers: the CSCA, its key, cRLSign (issue 11 item 1) ----------------------------------


def _crl_named(
    signer: ec.EllipticCurvePrivateKey, name: x509.Name
) -> x509.CertificateRevocationList:
    return (
        x509.CertificateRevocationListBuilder()
        .issuer_name(name)
        .last_update(T0)
        .next_update(T0 + datetime.timedelta(days=90))
        .sign(signer, hashes.SHA256())
    )


def test_a_crl_signed_by_a_document_signer_key_is_not_used() -> None:
    csca = _csca(K1)
    dsc_key = _key(0xD5C)  # the key of _dsc(K1): a Document Signer of this very CSCA
    assert public_key_of(_dsc(K1)) == dsc_key.public_key()
    by_dsc = _crl_named(dsc_key, csca.subject)  # the CSCA's name, the DSC's signature
    store = TrustStore((csca,), (by_dsc,))
    assert store.candidate_crls(csca) == (by_dsc,)
    assert store.crls_for(csca) == ()
    problem = store.crl_problem(by_dsc)
    assert problem is not None and "does not verify" in problem
    assert store.named_issuers_of(by_dsc) == (csca,)


def test_a_csca_without_crl_sign_issues_no_crl() -> None:
    csca = _csca(K1, crl_sign=False)
    crl = _crl(K1)
    store = TrustStore((csca,), (crl,))
    assert verify_crl_signature(crl, public_key_of(csca))
    assert store.crls_for(csca) == ()
    problem = store.crl_problem(crl)
    assert problem is not None and "cRLSign" in problem


def test_crl_problem() -> None:
    csca = _csca(K1)
    store = TrustStore((csca,))
    assert store.crl_problem(_crl(K1)) is None
    unknown = store.crl_problem(_crl(K3, "CSCA other"))
    assert unknown is not None and "no trusted CSCA is" in unknown
    assert store.named_issuers_of(_crl(K3, "CSCA other")) == ()


def test_an_unsupported_self_signature_algorithm_is_no_malformation(tmp_path: Path) -> None:
    # A well-formed AlgorithmIdentifier cryptography does not implement (here an unassigned
    # ecdsa-with-SHA2 arc, as ecdsa-plain is for it): the CSCA key is still usable.
    der = _csca(K1).public_bytes(DER)
    sha256 = bytes.fromhex("06082a8648ce3d040302")  # ecdsa-with-SHA256
    assert der.count(sha256) == 2  # in the TBSCertificate and around it
    (tmp_path / "odd.der").write_bytes(der.replace(sha256, bytes.fromhex("06082a8648ce3d040309")))
    store = TrustStore.from_folder(tmp_path)
    assert len(store.cscas) == 1


def test_a_key_cardkit_cannot_use_is_refused(tmp_path: Path) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    cert = (
        _csca_builder(None)
        .public_key(key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_ca_usage(), critical=True)
        .sign(key, None)
    )
    (tmp_path / "ed.pem").write_bytes(cert.public_bytes(PEM))
    with pytest.raises(PkiError, match=r"ed\.pem: malformed certificate: public key: unsupported"):
        TrustStore.from_folder(tmp_path)


_CSCA_DER = _csca(K1).public_bytes(DER)
_CRL_DER = _crl(K1).public_bytes(DER)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=150)
@given(st.integers(0, len(_CSCA_DER) - 1), st.integers(1, 255), st.booleans())
def test_damaged_certificates_and_crls_give_pki_error_only(
    tmp_path: Path, position: int, xor: int, crl: bool
) -> None:
    # Every byte of a valid certificate (or CRL) changed in turn: a store or a PkiError naming
    # the file, never another exception (in particular none later, when the store is used).
    original = _CRL_DER if crl else _CSCA_DER
    data = bytearray(original)
    data[position % len(data)] ^= xor
    folder = tmp_path / f"d{position}-{xor}-{crl}"
    folder.mkdir()
    if crl:
        (folder / "csca.der").write_bytes(_CSCA_DER)
    name = "x.crl" if crl else "x.der"
    (folder / name).write_bytes(bytes(data))
    try:
        store = TrustStore.from_folder(folder)
    except PkiError as exc:
        assert name in str(exc) or f"{folder}: no CSCA" in str(exc)
        return
    for csca in store.cscas:
        store.issuers_of(_dsc(K1))
        store.crls_for(csca)
        store.candidate_crls(csca)
    for item in store.crls:
        store.crl_problem(item)
