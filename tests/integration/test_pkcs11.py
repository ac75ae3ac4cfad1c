"""PKCS#11 key store and transport key against a real SoftHSM2 token."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from cardkit.errors import KeyStoreError
from cardkit.pki.keystore import (
    certificate_of,
    generate_key,
    open_signer,
    store_certificate,
    store_key,
)
from cardkit.pki.keystore import pkcs11 as p11
from cardkit.pki.keystore.transport import create_transport_key, open_transport_key
from cardkit.pki.keystore.uri import KeyRef
from cardkit.pki.signer import HASHES, PublicKey, SignatureScheme, Signer, verify_signature

if TYPE_CHECKING:
    from tests.integration.softhsm import SoftHsmToken

pytestmark = pytest.mark.integration

MESSAGE = b"the same EF.SOD signed attributes, signed through every backend"


def _verify_independently(public: PublicKey, signature: bytes, scheme: SignatureScheme) -> None:
    algorithm = HASHES[scheme.hash]()
    if isinstance(public, ec.EllipticCurvePublicKey):
        public.verify(signature, MESSAGE, ec.ECDSA(algorithm))
    elif scheme.rsa_padding == "pss":
        pss = padding.PSS(mgf=padding.MGF1(algorithm), salt_length=algorithm.digest_size)
        public.verify(signature, MESSAGE, pss, algorithm)
    else:
        public.verify(signature, MESSAGE, padding.PKCS1v15(), algorithm)


@pytest.fixture(scope="module")
def ec_signer(softhsm_token: SoftHsmToken) -> Signer:
    return generate_key(softhsm_token.uri("dsc-ec"), "ec:secp256r1", softhsm_token.pin)


@pytest.fixture(scope="module")
def rsa_signer(softhsm_token: SoftHsmToken) -> Signer:
    return generate_key(softhsm_token.uri("dsc-rsa"), "rsa:2048", softhsm_token.pin)


@pytest.mark.parametrize(
    "scheme",
    [
        SignatureScheme("sha256"),
        SignatureScheme("sha384"),
        SignatureScheme("sha512"),
        SignatureScheme("sha256", "pkcs1v15"),
        SignatureScheme("sha512", "pkcs1v15"),
    ],
)
@pytest.mark.parametrize("kind", ["ec", "rsa"])
def test_generate_open_sign_verify(
    kind: str,
    scheme: SignatureScheme,
    ec_signer: Signer,
    rsa_signer: Signer,
    softhsm_token: SoftHsmToken,
) -> None:
    generated = ec_signer if kind == "ec" else rsa_signer
    ref = softhsm_token.uri(f"dsc-{kind}")
    signer = open_signer(ref, softhsm_token.pin)
    assert signer.public_key() == generated.public_key()
    signature = signer.sign(MESSAGE, scheme)
    _verify_independently(signer.public_key(), signature, scheme)
    assert verify_signature(signer.public_key(), signature, MESSAGE, scheme)
    if kind == "ec":
        assert signature[0] == 0x30  # DER ECDSA-Sig-Value, not PKCS#11's r‖s
    else:
        public = signer.public_key()
        assert isinstance(public, rsa.RSAPublicKey)
        assert len(signature) == public.key_size // 8


@pytest.mark.parametrize("curve", ["brainpoolP256r1", "secp384r1", "brainpoolP384r1"])
def test_other_curves_on_the_token(curve: str, softhsm_token: SoftHsmToken) -> None:
    """SoftHSM2 with Debian 12's OpenSSL 3.0 generates Brainpool keys too."""
    signer = generate_key(softhsm_token.uri(f"k-{curve}"), f"ec:{curve}", softhsm_token.pin)
    public = signer.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    assert public.curve.name.lower() == curve.lower()
    scheme = SignatureScheme("sha384")
    _verify_independently(public, signer.sign(MESSAGE, scheme), scheme)


def test_private_key_is_sensitive_and_not_extractable(
    ec_signer: Signer, softhsm_token: SoftHsmToken
) -> None:
    from pkcs11 import Attribute

    assert isinstance(ec_signer, p11.Pkcs11Signer)
    ts = p11.token_session(KeyRef.parse(softhsm_token.uri("dsc-ec")), softhsm_token.pin)
    with ts.lock:
        key = ec_signer._key
        assert key[Attribute.SENSITIVE] is True
        assert key[Attribute.EXTRACTABLE] is False
        assert key[Attribute.NEVER_EXTRACTABLE] is True
        assert key[Attribute.TOKEN] is True


def test_many_signatures_reuse_one_session(ec_signer: Signer) -> None:
    scheme = SignatureScheme("sha256")
    public = ec_signer.public_key()
    for i in range(200):
        data = MESSAGE + i.to_bytes(2, "big")
        assert verify_signature(public, ec_signer.sign(data, scheme), data, scheme)


def test_certificate_object(ec_signer: Signer, softhsm_token: SoftHsmToken) -> None:
    ref = softhsm_token.uri("dsc-ec")
    assert certificate_of(ref, softhsm_token.pin) is None
    issuer = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "DSC on token")])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
    )
    cert = builder.serial_number(6).public_key(ec_signer.public_key()).sign(issuer, hashes.SHA256())
    store_certificate(ref, cert, softhsm_token.pin)
    assert certificate_of(ref, softhsm_token.pin) == cert
    # Renewal replaces it rather than leaving two objects with one label.
    renewed = (
        builder.serial_number(7).public_key(ec_signer.public_key()).sign(issuer, hashes.SHA256())
    )
    store_certificate(ref, renewed, softhsm_token.pin)
    assert certificate_of(ref, softhsm_token.pin) == renewed
    wrong = builder.serial_number(8).public_key(issuer.public_key()).sign(issuer, hashes.SHA256())
    with pytest.raises(KeyStoreError, match="does not belong"):
        store_certificate(ref, wrong, softhsm_token.pin)


def test_wrong_pin_fresh_login(ec_signer: Signer, softhsm_token: SoftHsmToken) -> None:
    p11.close_all_sessions()  # make the token itself check the PIN
    with pytest.raises(KeyStoreError, match="wrong PIN for PKCS#11 token 'cardkit-test'") as info:
        open_signer(softhsm_token.uri("dsc-ec"), b"000000")
    assert "000000" not in str(info.value)
    assert softhsm_token.pin.decode() not in str(info.value)
    # The right PIN still works afterwards.
    assert open_signer(softhsm_token.uri("dsc-ec"), softhsm_token.pin).public_key() is not None


def test_wrong_pin_while_logged_in(ec_signer: Signer, softhsm_token: SoftHsmToken) -> None:
    open_signer(softhsm_token.uri("dsc-ec"), softhsm_token.pin)
    with pytest.raises(KeyStoreError, match="wrong PIN"):
        open_signer(softhsm_token.uri("dsc-ec"), b"999999")


def test_missing_object_and_token(softhsm_token: SoftHsmToken) -> None:
    with pytest.raises(KeyStoreError, match="no private key 'absent' on token 'cardkit-test'"):
        open_signer(softhsm_token.uri("absent"), softhsm_token.pin)
    other = softhsm_token.uri("x").replace("token=cardkit-test", "token=nope")
    with pytest.raises(KeyStoreError, match=r"no PKCS#11 token labelled 'nope'.*cardkit-test"):
        open_signer(other, softhsm_token.pin)


def test_missing_module() -> None:
    with pytest.raises(KeyStoreError, match=r"module /nonexistent/lib\.so not found"):
        open_signer("pkcs11:token=T;object=k?module-path=/nonexistent/lib.so", b"1234")


def test_duplicate_generation_and_import_refused(
    ec_signer: Signer, softhsm_token: SoftHsmToken
) -> None:
    with pytest.raises(KeyStoreError, match="already exists"):
        generate_key(softhsm_token.uri("dsc-ec"), "ec:secp256r1", softhsm_token.pin)
    with pytest.raises(KeyStoreError, match="does not import private keys"):
        store_key(softhsm_token.uri("imp"), ec.generate_private_key(ec.SECP256R1()), b"x")


def test_transport_key_on_token(softhsm_token: SoftHsmToken) -> None:
    ref = softhsm_token.uri("transport-batch-1")
    created = create_transport_key(ref, softhsm_token.pin)
    blob = created.encrypt(b"chip AA private key", b"card-42")
    assert len(blob) == 12 + len(b"chip AA private key") + 16
    opened = open_transport_key(ref, softhsm_token.pin)
    assert opened.key_id == created.key_id
    assert opened.decrypt(blob, b"card-42") == b"chip AA private key"
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    for bad_blob, aad in ((tampered, b"card-42"), (blob, b"card-43"), (blob[:20], b"card-42")):
        with pytest.raises(KeyStoreError, match="wrong transport key or tampered data"):
            opened.decrypt(bad_blob, aad)
    with pytest.raises(KeyStoreError, match="already exists"):
        create_transport_key(ref, softhsm_token.pin)


def test_transport_key_is_not_extractable(softhsm_token: SoftHsmToken) -> None:
    from pkcs11 import Attribute

    ref = KeyRef.parse(softhsm_token.uri("transport-batch-2"))
    create_transport_key(ref, softhsm_token.pin)
    ts = p11.token_session(ref, softhsm_token.pin)
    key = p11.find_secret_key(ts, ref)
    assert key is not None
    with ts.lock:
        assert key[Attribute.SENSITIVE] is True
        assert key[Attribute.EXTRACTABLE] is False
        assert key[Attribute.VALUE_LEN] == 32
