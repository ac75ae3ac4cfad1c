"""Signing EF.SOD: cardkit's parser and OpenSSL both accept what sign_sod produces."""

from __future__ import annotations

import datetime
import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st
from requirements import unavailable

from cardkit.encoding import oids
from cardkit.errors import PkiError
from cardkit.lds.sod import Sod
from cardkit.pki.signer import LocalSigner, PrivateKey, SignatureScheme
from cardkit.pki.sod_sign import PreparedDsc, _signature_algorithm, prepare_dsc, sign_sod

T0 = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
SIGNED_AT = datetime.datetime(2024, 3, 15, 8, 30, 5, tzinfo=datetime.UTC)
VECTORS = Path(__file__).parents[2] / "vectors"

# --- A test PKI built with cryptography directly -----------------------------------------------


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


CSCA_KEY = ec.derive_private_key(0xC5CA, ec.SECP384R1())
CSCA = (
    x509.CertificateBuilder()
    .subject_name(_name("CSCA test"))
    .issuer_name(_name("CSCA test"))
    .public_key(CSCA_KEY.public_key())
    .serial_number(1)
    .not_valid_before(T0)
    .not_valid_after(T0 + datetime.timedelta(days=5000))
    .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
    .add_extension(
        x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
    )
    .add_extension(x509.SubjectKeyIdentifier.from_public_key(CSCA_KEY.public_key()), False)
    .sign(CSCA_KEY, hashes.SHA384())
)


def _dsc(key: PrivateKey, serial: int) -> x509.Certificate:
    return (
        x509.CertificateBuilder()
        .subject_name(_name(f"DS {serial}"))
        .issuer_name(CSCA.subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(T0)
        .not_valid_after(T0 + datetime.timedelta(days=3650))
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False), True
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(CSCA_KEY.public_key()), False
        )
        .sign(CSCA_KEY, hashes.SHA384())
    )


RSA_KEY = rsa.generate_private_key(65537, 2048)
KEYS: dict[str, tuple[PrivateKey, SignatureScheme]] = {
    "P-256": (ec.derive_private_key(0x256, ec.SECP256R1()), SignatureScheme("sha256")),
    "P-384": (ec.derive_private_key(0x384, ec.SECP384R1()), SignatureScheme("sha384")),
    "brainpoolP256r1": (
        ec.derive_private_key(0xB256, ec.BrainpoolP256R1()),
        SignatureScheme("sha256"),
    ),
    "RSA-PKCS1v15": (RSA_KEY, SignatureScheme("sha256", "pkcs1v15")),
    "RSA-PSS": (RSA_KEY, SignatureScheme("sha512", "pss")),
}
DSCS = {name: _dsc(key, 100 + i) for i, (name, (key, _)) in enumerate(KEYS.items())}
DGS = {
    1: bytes.fromhex("615B5F1F58") + b"IDVNM0123456789001234567890<<<" * 3,
    2: b"\x75\x05face!",
    13: b"\x6d\x03vn!",
    14: b"\x6e\x02\x31\x00",
}


def _sign(kind: str, **kwargs: Any) -> Sod:
    key, scheme = KEYS[kind]
    return sign_sod(
        DGS, LocalSigner(key, kind), DSCS[kind], signing_time=SIGNED_AT, scheme=scheme, **kwargs
    )


@pytest.mark.parametrize("kind", list(KEYS))
def test_signed_sod_reads_back_and_verifies(kind: str) -> None:
    _, scheme = KEYS[kind]
    sod = _sign(kind)
    assert sod.raw[0] == 0x77
    assert Sod.from_bytes(sod.raw) == sod
    lso = sod.lds_security_object
    assert lso.version == 0
    assert lso.hash_algorithm == "sha256"
    assert dict(lso.hashes) == {n: hashlib.sha256(d).digest() for n, d in DGS.items()}
    assert sod.econtent_type == oids.LDS_SECURITY_OBJECT
    assert sod.certificates == (DSCS[kind].public_bytes(serialization.Encoding.DER),)
    (signer,) = sod.signer_infos
    assert signer.serial_number == DSCS[kind].serial_number
    assert signer.issuer == CSCA.subject.public_bytes()
    assert signer.digest_algorithm == oids.HASH_OIDS[scheme.hash]
    assert sod.digest_algorithms == (oids.HASH_OIDS[scheme.hash],)
    assert signer.content_type == oids.LDS_SECURITY_OBJECT
    assert signer.message_digest == hashlib.new(scheme.hash, sod.econtent).digest()
    # RFC 5652 versions, checked with an independent parser (asn1crypto).
    signed_data = cms.ContentInfo.load(sod.content_info)["content"]
    assert signed_data["version"].native == "v3"
    signer_info = signed_data["signer_infos"][0]
    assert signer_info["version"].native == "v1"
    attributes = {a["type"].native: a["values"][0].native for a in signer_info["signed_attrs"]}
    assert attributes["signing_time"] == SIGNED_AT
    # The signature is over the signed attributes as a SET (tag 31), with the DSC key.
    assert signer.signed_attrs is not None and signer.signed_attrs[0] == 0x31
    public_key = DSCS[kind].public_key()
    hash_algorithm = {
        "sha256": hashes.SHA256(),
        "sha384": hashes.SHA384(),
        "sha512": hashes.SHA512(),
    }[scheme.hash]
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        assert (
            signer.signature_algorithm
            == {
                "sha256": oids.ECDSA_WITH_SHA256,
                "sha384": oids.ECDSA_WITH_SHA384,
            }[scheme.hash]
        )
        public_key.verify(signer.signature, signer.signed_attrs, ec.ECDSA(hash_algorithm))
    else:
        assert isinstance(public_key, rsa.RSAPublicKey)
        pad: padding.AsymmetricPadding
        if scheme.rsa_padding == "pss":
            assert signer.signature_algorithm == oids.RSASSA_PSS
            pad = padding.PSS(padding.MGF1(hash_algorithm), hash_algorithm.digest_size)
        else:
            assert signer.signature_algorithm == oids.SHA256_WITH_RSA
            assert signer.signature_algorithm_parameters == b"\x05\x00"
            pad = padding.PKCS1v15()
        public_key.verify(signer.signature, signer.signed_attrs, pad, hash_algorithm)


def _openssl() -> str:
    found = shutil.which("openssl")
    if found is None:
        unavailable("openssl binary not installed")
    return found


@pytest.mark.parametrize("kind", list(KEYS))
def test_openssl_accepts_the_sod(kind: str, tmp_path: Path) -> None:
    openssl = _openssl()
    sod = _sign(kind)
    (tmp_path / "sod.der").write_bytes(sod.content_info)  # the CMS without the 77 wrapper
    (tmp_path / "csca.pem").write_bytes(CSCA.public_bytes(serialization.Encoding.PEM))
    out = tmp_path / "content.bin"
    # -purpose any: a DSC carries no emailProtection EKU (9303-12 profile), which OpenSSL's
    # default smimesign purpose would demand. -attime: judge validity at the signing time, so
    # the test does not depend on today's date. -binary: output the eContent untouched.
    result = subprocess.run(
        [
            openssl,
            "cms",
            "-verify",
            "-inform",
            "DER",
            "-in",
            str(tmp_path / "sod.der"),
            "-CAfile",
            str(tmp_path / "csca.pem"),
            "-binary",
            "-purpose",
            "any",
            "-attime",
            str(int(SIGNED_AT.timestamp())),
            "-out",
            str(out),
        ],
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    assert out.read_bytes() == sod.lds_security_object.raw


def test_version_info_makes_a_v1_security_object() -> None:
    sod = _sign("P-256", lds_version="0108", unicode_version="040000", hash_name="sha384")
    lso = sod.lds_security_object
    assert (lso.version, lso.lds_version, lso.unicode_version) == (1, "0108", "040000")
    assert lso.hashes[13] == hashlib.sha384(DGS[13]).digest()


def test_prepared_dsc_gives_the_same_bytes() -> None:
    # RSA PKCS#1 v1.5 signatures are deterministic: the two paths must agree byte for byte.
    key, scheme = KEYS["RSA-PKCS1v15"]
    dsc = DSCS["RSA-PKCS1v15"]
    signer = LocalSigner(key, "rsa")
    prepared = PreparedDsc.of(dsc)
    a = sign_sod(DGS, signer, dsc, signing_time=SIGNED_AT, scheme=scheme)
    b = sign_sod(DGS, signer, prepared, signing_time=SIGNED_AT, scheme=scheme)
    assert a.raw == b.raw
    assert prepare_dsc(dsc) is prepare_dsc(dsc)
    assert prepared.der.hex() not in repr(prepared) and prepared.key_kind == "RSA"


def test_signing_time_after_2049_is_generalized_time() -> None:
    # RFC 5652 §11.3: UTCTime for 1950..2049, GeneralizedTime from 2050 on.
    key, scheme = KEYS["P-256"]
    when = datetime.datetime(2051, 6, 1, 12, 0, tzinfo=datetime.UTC)
    sod = sign_sod(DGS, LocalSigner(key, "k"), DSCS["P-256"], signing_time=when, scheme=scheme)
    signer_info = cms.ContentInfo.load(sod.content_info)["content"]["signer_infos"][0]
    (time_attr,) = [a for a in signer_info["signed_attrs"] if a["type"].native == "signing_time"]
    assert time_attr["values"][0].name == "generalized_time"
    assert time_attr["values"][0].native == when
    assert b"\x18\x0f20510601120000Z" in sod.raw


def test_utc_time_encoding_known_answer() -> None:
    # RFC 5652 §11.3 / X.690 §11.8: UTCTime YYMMDDHHMMSSZ, converted to UTC.
    key, scheme = KEYS["P-256"]
    plus7 = datetime.timezone(datetime.timedelta(hours=7))  # Vietnam (ICT)
    when = datetime.datetime(2024, 3, 15, 15, 30, 5, tzinfo=plus7)
    sod = sign_sod(DGS, LocalSigner(key, "k"), DSCS["P-256"], signing_time=when, scheme=scheme)
    assert b"\x17\x0d240315083005Z" in sod.raw


def test_pss_parameters_match_the_bsi_reference_encoding() -> None:
    # BSI TR-03105-5 reference EF.SOD: RSASSA-PSS with SHA-256, MGF1-SHA-256, salt 32, encoded
    # with NULL hash parameters as RFC 4055 §2.1 lists them.
    vector = json.loads((VECTORS / "sod_bsi_tr03105_5_reference.json").read_text())
    reference = Sod.from_bytes(bytes.fromhex(vector["sod"])).signer_infos[0]
    ours = _signature_algorithm("RSA", SignatureScheme("sha256", "pss"))
    assert ours == (
        b"\x30"
        + bytes([len(reference.signature_algorithm_parameters or b"") + 11])
        + oids.der(oids.RSASSA_PSS)
        + (reference.signature_algorithm_parameters or b"")
    )


def test_ecdsa_and_rsa_algorithm_identifiers_known_answer() -> None:
    # RFC 5758 §3.2: ecdsa-with-SHA256 { 1 2 840 10045 4 3 2 }, parameters absent.
    assert _signature_algorithm("EC", SignatureScheme("sha256")).hex() == (
        "300a06082a8648ce3d040302"
    )
    # RFC 4055 §5: sha256WithRSAEncryption { 1 2 840 113549 1 1 11 } with NULL parameters.
    assert _signature_algorithm("RSA", SignatureScheme("sha256", "pkcs1v15")).hex() == (
        "300d06092a864886f70d01010b0500"
    )


def test_wrong_key_is_refused() -> None:
    key, _ = KEYS["P-384"]
    with pytest.raises(PkiError, match="does not hold"):
        sign_sod(DGS, LocalSigner(key, "wrong"), DSCS["P-256"], signing_time=SIGNED_AT)


def test_bad_arguments() -> None:
    key, _ = KEYS["P-256"]
    signer = LocalSigner(key, "k")
    with pytest.raises(ValueError, match="timezone"):
        sign_sod(DGS, signer, DSCS["P-256"], signing_time=datetime.datetime(2024, 1, 1))
    with pytest.raises(ValueError):
        sign_sod({1: b"only one"}, signer, DSCS["P-256"], signing_time=SIGNED_AT)
    with pytest.raises(ValueError):
        sign_sod({1: b"a", 17: b"b"}, signer, DSCS["P-256"], signing_time=SIGNED_AT)


@settings(max_examples=25)
@given(
    st.dictionaries(st.integers(1, 16), st.binary(min_size=1, max_size=64), min_size=2),
    st.sampled_from(["sha256", "sha384", "sha512"]),
    st.datetimes(
        min_value=datetime.datetime(1950, 1, 1),
        max_value=datetime.datetime(2200, 1, 1),
        timezones=st.just(datetime.UTC),
    ),
)
def test_round_trip_property(
    groups: dict[int, bytes], hash_name: str, when: datetime.datetime
) -> None:
    key, scheme = KEYS["P-256"]
    sod = sign_sod(
        groups,
        LocalSigner(key, "k"),
        DSCS["P-256"],
        signing_time=when,
        scheme=scheme,
        hash_name=hash_name,  # type: ignore[arg-type]
    )
    again = Sod.from_bytes(sod.raw)
    assert again == sod
    assert dict(again.lds_security_object.hashes) == {
        n: hashlib.new(hash_name, d).digest() for n, d in groups.items()
    }
    signer_info = cms.ContentInfo.load(sod.content_info)["content"]["signer_infos"][0]
    times = [
        a["values"][0].native
        for a in signer_info["signed_attrs"]
        if a["type"].native == "signing_time"
    ]
    assert times == [when.replace(microsecond=0)]
