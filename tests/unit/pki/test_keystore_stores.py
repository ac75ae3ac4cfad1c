"""File, PKCS#12 and JKS/JCEKS key stores through the one interface (cardkit.pki.keystore)."""

from __future__ import annotations

import datetime
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from requirements import unavailable

from cardkit.errors import KeyStoreError
from cardkit.pki.keystore import (
    certificate_of,
    generate_key,
    open_signer,
    pemfile,
    store_certificate,
    store_key,
)
from cardkit.pki.secrets import InsecurePermissionsWarning
from cardkit.pki.signer import PrivateKey, SignatureScheme, verify_signature

PASSWORD = b"correct horse battery staple"
WRONG = b"Tr0ub4dor&3"
MESSAGE = b"the same EF.SOD signed attributes, signed through every backend"


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(params=["ec", "rsa"])
def key(request: pytest.FixtureRequest, ec_key: PrivateKey, rsa_key: PrivateKey) -> PrivateKey:
    return ec_key if request.param == "ec" else rsa_key


def self_signed(key: PrivateKey, name: str = "CSCA VN test") -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )


def ref_for(scheme: str, tmp_path: Path) -> str:
    return {
        "file": f"file:{tmp_path}/dsc.pem",
        "p12": f"p12:{tmp_path}/dsc.p12",
        "jks": f"jks:{tmp_path}/store.jks#dsc-2026",
    }[scheme]


def store_file(ref: str) -> Path:
    return Path(ref.split(":", 1)[1].split("#")[0])


def verify_with_cryptography(key: PrivateKey, signature: bytes, scheme: SignatureScheme) -> None:
    """Independent check, not through cardkit's verify_signature."""
    public = key.public_key()
    if isinstance(public, ec.EllipticCurvePublicKey):
        public.verify(signature, MESSAGE, ec.ECDSA(hashes.SHA256()))
    elif scheme.rsa_padding == "pss":
        public.verify(
            signature,
            MESSAGE,
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
            hashes.SHA256(),
        )
    else:
        public.verify(signature, MESSAGE, padding.PKCS1v15(), hashes.SHA256())


@pytest.mark.parametrize("scheme", ["file", "p12", "jks"])
@pytest.mark.parametrize("rsa_padding", ["pss", "pkcs1v15"])
def test_round_trip_sign_verify(
    scheme: str, rsa_padding: str, key: PrivateKey, tmp_path: Path
) -> None:
    ref = ref_for(scheme, tmp_path)
    cert = self_signed(key)
    store_key(ref, key, PASSWORD, certificate=cert)
    path = store_file(ref)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    signer = open_signer(ref, PASSWORD)
    assert signer.key_id == ref
    assert signer.public_key() == key.public_key()
    sig_scheme = SignatureScheme("sha256", rsa_padding)  # type: ignore[arg-type]
    signature = signer.sign(MESSAGE, sig_scheme)
    verify_with_cryptography(key, signature, sig_scheme)
    assert verify_signature(key.public_key(), signature, MESSAGE, sig_scheme)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        # X.509/CMS form: a DER SEQUENCE { r INTEGER, s INTEGER } (RFC 3279 §2.2.3).
        assert signature[0] == 0x30
    else:
        assert len(signature) == key.key_size // 8

    stored = certificate_of(ref, PASSWORD)
    assert stored is not None
    assert stored == cert
    assert PASSWORD.decode() not in repr(signer)


@pytest.mark.parametrize("scheme", ["file", "p12", "jks"])
def test_wrong_password(scheme: str, ec_key: PrivateKey, tmp_path: Path) -> None:
    ref = ref_for(scheme, tmp_path)
    store_key(ref, ec_key, PASSWORD, certificate=self_signed(ec_key))
    with pytest.raises(KeyStoreError, match=r"wrong .*password for") as info:
        open_signer(ref, WRONG)
    assert WRONG.decode() not in str(info.value)
    assert PASSWORD.decode() not in str(info.value)
    assert str(store_file(ref)) in str(info.value)


def test_wrong_password_message_for_pem(ec_key: PrivateKey, tmp_path: Path) -> None:
    ref = f"file:{tmp_path}/dsc.pem"
    store_key(ref, ec_key, PASSWORD)
    with pytest.raises(
        KeyStoreError, match="^" + re.escape(f"wrong password for {tmp_path}/dsc.pem")
    ):
        open_signer(ref, WRONG)
    with pytest.raises(KeyStoreError, match="a key password is needed"):
        open_signer(ref, None)


@pytest.mark.parametrize("scheme", ["file", "p12", "jks"])
def test_missing_store(scheme: str, tmp_path: Path) -> None:
    with pytest.raises(KeyStoreError, match="does not exist"):
        open_signer(ref_for(scheme, tmp_path), PASSWORD)


def test_missing_alias_lists_entries(ec_key: PrivateKey, tmp_path: Path) -> None:
    store_key(f"jks:{tmp_path}/s.jks#present", ec_key, PASSWORD, certificate=self_signed(ec_key))
    with pytest.raises(KeyStoreError, match=r"no entry 'absent' \(entries: present\)"):
        open_signer(f"jks:{tmp_path}/s.jks#absent", PASSWORD)


def test_jks_aliases_are_case_insensitive_and_several_keys_coexist(
    ec_key: PrivateKey, rsa_key: PrivateKey, tmp_path: Path
) -> None:
    store_key(f"jks:{tmp_path}/s.jks#CSCA", rsa_key, PASSWORD, certificate=self_signed(rsa_key))
    store_key(f"jks:{tmp_path}/s.jks#dsc", ec_key, PASSWORD, certificate=self_signed(ec_key))
    assert open_signer(f"jks:{tmp_path}/s.jks#csca", PASSWORD).public_key() == rsa_key.public_key()
    assert open_signer(f"jks:{tmp_path}/s.jks#DSC", PASSWORD).public_key() == ec_key.public_key()
    with pytest.raises(KeyStoreError, match="refusing to overwrite"):
        store_key(f"jks:{tmp_path}/s.jks#dsc", rsa_key, PASSWORD)


@pytest.mark.parametrize("scheme", ["file", "p12", "jks"])
def test_no_silent_overwrite(scheme: str, ec_key: PrivateKey, tmp_path: Path) -> None:
    ref = ref_for(scheme, tmp_path)
    store_key(ref, ec_key, PASSWORD, certificate=self_signed(ec_key))
    other = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(KeyStoreError, match=r"(already exists|already has an entry)"):
        store_key(ref, other, PASSWORD, certificate=self_signed(other))
    assert open_signer(ref, PASSWORD).public_key() == ec_key.public_key()
    store_key(ref, other, PASSWORD, certificate=self_signed(other), overwrite=True)
    assert open_signer(ref, PASSWORD).public_key() == other.public_key()


def test_no_unencrypted_key_without_the_flag(ec_key: PrivateKey, tmp_path: Path) -> None:
    ref = f"file:{tmp_path}/plain.pem"
    with pytest.raises(KeyStoreError, match="refusing to write an unencrypted private key"):
        store_key(ref, ec_key, None)
    assert not (tmp_path / "plain.pem").exists()
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind
    store_key(ref, ec_key, None, allow_unencrypted=True)
    # Written unencrypted only because the flag said so: any reader loads it without a password.
    plain = serialization.load_pem_private_key((tmp_path / "plain.pem").read_bytes(), None)
    assert plain.public_key() == ec_key.public_key()
    assert stat.S_IMODE((tmp_path / "plain.pem").stat().st_mode) == 0o600
    assert open_signer(ref, None).public_key() == ec_key.public_key()
    with pytest.raises(KeyStoreError, match="not encrypted but a password was given"):
        open_signer(ref, PASSWORD)


@pytest.mark.parametrize("scheme", ["p12", "jks"])
def test_password_protected_stores_need_a_password(
    scheme: str, ec_key: PrivateKey, tmp_path: Path
) -> None:
    with pytest.raises(KeyStoreError, match="without a"):
        store_key(ref_for(scheme, tmp_path), ec_key, None)


def test_pem_is_encrypted_pkcs8(ec_key: PrivateKey, tmp_path: Path) -> None:
    store_key(f"file:{tmp_path}/dsc.pem", ec_key, PASSWORD)
    data = (tmp_path / "dsc.pem").read_bytes()
    assert data.startswith(b"-----BEGIN ENCRYPTED ")  # PKCS#8 EncryptedPrivateKeyInfo
    with pytest.raises(TypeError, match="encrypted"):
        serialization.load_pem_private_key(data, None)
    # Independent reader: cryptography decrypts it with the password.
    loaded = serialization.load_pem_private_key(data, PASSWORD)
    assert loaded.public_key() == ec_key.public_key()


def test_p12_uses_pbes2_aes256(ec_key: PrivateKey, tmp_path: Path) -> None:
    store_key(f"p12:{tmp_path}/dsc.p12", ec_key, PASSWORD, certificate=self_signed(ec_key))
    data = (tmp_path / "dsc.p12").read_bytes()
    # id-PBES2 (RFC 8018 A.4) and aes256-CBC-PAD (NIST CSOR 2.16.840.1.101.3.4.1.42) OIDs.
    assert bytes.fromhex("06092a864886f70d01050d") in data
    assert bytes.fromhex("060960864801650304012a") in data


def test_group_readable_key_warns_on_read(ec_key: PrivateKey, tmp_path: Path) -> None:
    ref = f"file:{tmp_path}/dsc.pem"
    store_key(ref, ec_key, PASSWORD)
    (tmp_path / "dsc.pem").chmod(0o640)
    with pytest.warns(InsecurePermissionsWarning, match="chmod 600"):
        open_signer(ref, PASSWORD)


def test_certificate_must_match_key(
    ec_key: PrivateKey, rsa_key: PrivateKey, tmp_path: Path
) -> None:
    for scheme in ("file", "p12", "jks"):
        ref = ref_for(scheme, tmp_path)
        with pytest.raises(KeyStoreError, match="does not belong to this key"):
            store_key(ref, ec_key, PASSWORD, certificate=self_signed(rsa_key))


@pytest.mark.parametrize("scheme", ["file", "p12", "jks"])
def test_generate_then_store_certificate(scheme: str, tmp_path: Path) -> None:
    ref = ref_for(scheme, tmp_path)
    signer = generate_key(ref, "ec:brainpoolP256r1", PASSWORD)
    public = signer.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    assert isinstance(public.curve, ec.BrainpoolP256R1)
    assert certificate_of(ref, PASSWORD) is None

    issuer = ec.generate_private_key(ec.SECP256R1())
    issuer_cert = self_signed(issuer, "issuer")
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "DSC")]))
        .issuer_name(issuer_cert.subject)
        .public_key(public)
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(issuer, hashes.SHA256())
    )
    store_certificate(ref, cert, PASSWORD, chain=(issuer_cert,))
    assert certificate_of(ref, PASSWORD) == cert
    reopened = open_signer(ref, PASSWORD)
    assert reopened.public_key() == public
    scheme_ = SignatureScheme("sha256")
    assert verify_signature(public, reopened.sign(MESSAGE, scheme_), MESSAGE, scheme_)
    with pytest.raises(KeyStoreError, match="does not belong"):
        store_certificate(ref, issuer_cert, PASSWORD)


def test_generate_refuses_existing(tmp_path: Path) -> None:
    ref = f"file:{tmp_path}/k.pem"
    generate_key(ref, "ec:secp256r1", PASSWORD)
    with pytest.raises(KeyStoreError, match="already exists"):
        generate_key(ref, "ec:secp256r1", PASSWORD)


def test_file_certificate_sibling_name(tmp_path: Path) -> None:
    assert pemfile.certificate_path(tmp_path / "dsc.pem") == tmp_path / "dsc.crt.pem"
    assert pemfile.certificate_path(tmp_path / "dsc.key") == tmp_path / "dsc.crt.pem"
    assert pemfile.certificate_path(tmp_path / "dsc") == tmp_path / "dsc.crt.pem"


def test_pkcs11_refuses_imports_and_jceks_is_read_only(ec_key: PrivateKey, tmp_path: Path) -> None:
    with pytest.raises(KeyStoreError, match="does not import private keys"):
        store_key("pkcs11:token=T;object=k", ec_key, b"1234")
    with pytest.raises(KeyStoreError, match="read only"):
        store_key(f"jceks:{tmp_path}/s.jceks#a", ec_key, PASSWORD)


@settings(max_examples=50, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=600), scheme=st.sampled_from(["file", "p12", "jks", "jceks"]))
def test_damaged_stores_raise_keystoreerror_only(data: bytes, scheme: str, tmp_path: Path) -> None:
    name = {"file": "k.pem", "p12": "k.p12", "jks": "k.jks", "jceks": "k.jceks"}[scheme]
    path = tmp_path / name
    path.write_bytes(data)
    path.chmod(0o600)
    ref = f"{scheme}:{path}" + ("#a" if scheme in ("jks", "jceks") else "")
    with pytest.raises(KeyStoreError):
        open_signer(ref, PASSWORD)


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(min_value=0, max_value=10_000))
def test_truncated_jks_raises_keystoreerror(cut: int, ec_key: PrivateKey, tmp_path: Path) -> None:
    path = tmp_path / "t.jks"
    if not path.exists():
        store_key(f"jks:{path}#a", ec_key, PASSWORD, certificate=self_signed(ec_key))
    full = path.read_bytes()
    damaged = tmp_path / "cut.jks"
    damaged.write_bytes(full[: cut % len(full)])
    damaged.chmod(0o600)
    with pytest.raises(KeyStoreError):
        open_signer(f"jks:{damaged}#a", PASSWORD)


@pytest.mark.parametrize("key_kind", ["ec", "rsa"])
def test_keytool_reads_our_jks_and_we_read_its_jceks(
    key_kind: str, ec_key: PrivateKey, rsa_key: PrivateKey, tmp_path: Path
) -> None:
    """Interoperability with the JDK: keytool converts our JKS to JCEKS, we read that back."""
    if shutil.which("keytool") is None:
        unavailable("Java's keytool not installed (Debian package openjdk-17-jre-headless)")
    key = ec_key if key_kind == "ec" else rsa_key
    cert = self_signed(key)
    store_key(f"jks:{tmp_path}/s.jks#dsc", key, PASSWORD, certificate=cert)
    password = PASSWORD.decode()
    subprocess.run(
        [
            "keytool", "-importkeystore", "-noprompt",
            "-srckeystore", str(tmp_path / "s.jks"), "-srcstoretype", "JKS",
            "-srcstorepass", password,
            "-destkeystore", str(tmp_path / "s.jceks"), "-deststoretype", "JCEKS",
            "-deststorepass", password,
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    (tmp_path / "s.jceks").chmod(0o600)
    ref = f"jceks:{tmp_path}/s.jceks#dsc"
    signer = open_signer(ref, PASSWORD)
    assert signer.public_key() == key.public_key()
    assert certificate_of(ref, PASSWORD) == cert
    scheme = SignatureScheme("sha256")
    assert verify_signature(key.public_key(), signer.sign(MESSAGE, scheme), MESSAGE, scheme)
    with pytest.raises(KeyStoreError, match="wrong store password"):
        open_signer(ref, WRONG)
