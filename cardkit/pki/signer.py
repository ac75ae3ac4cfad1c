"""One signing interface for every key store (in-process keys, PKCS#12, JKS, PKCS#11 HSMs).

Everything the PKI signs — certificates, CRLs, master lists, EF.SOD — is encoded by cardkit
(asn1crypto) and only the signature is asked of a :class:`Signer`. That is what lets an HSM key,
which never leaves its token, sign exactly what an in-process key signs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

HashName = Literal["sha256", "sha384", "sha512"]
RsaPadding = Literal["pkcs1v15", "pss"]
PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


@dataclass(frozen=True)
class SignatureScheme:
    """How to sign: the hash, and for RSA the padding (PSS uses MGF1 with the same hash and a
    salt as long as the hash, the RFC 4055 / 9303-12 §4.1 recommendation)."""

    hash: HashName = "sha256"
    rsa_padding: RsaPadding = "pss"


class Signer(Protocol):
    """A private key that can sign, wherever it lives."""

    @property
    def key_id(self) -> str:
        """A stable, non-secret label for logs and the audit trail (e.g. the key URI)."""
        ...

    def public_key(self) -> PublicKey: ...

    def sign(self, data: bytes, scheme: SignatureScheme) -> bytes:
        """Sign ``data`` (hashing it with ``scheme.hash``) and return the signature as X.509
        and CMS carry it: DER ``ECDSA-Sig-Value`` for EC keys, the raw RSA signature for RSA."""
        ...


def rsa_padding(scheme: SignatureScheme) -> padding.AsymmetricPadding:
    hash_algorithm = HASHES[scheme.hash]()
    if scheme.rsa_padding == "pss":
        return padding.PSS(mgf=padding.MGF1(hash_algorithm), salt_length=hash_algorithm.digest_size)
    return padding.PKCS1v15()


@dataclass(frozen=True)
class LocalSigner:
    """A private key held in this process (loaded from an encrypted file, PKCS#12 or JKS)."""

    private_key: PrivateKey
    key_id: str

    def public_key(self) -> PublicKey:
        return self.private_key.public_key()

    def sign(self, data: bytes, scheme: SignatureScheme) -> bytes:
        hash_algorithm = HASHES[scheme.hash]()
        if isinstance(self.private_key, ec.EllipticCurvePrivateKey):
            return self.private_key.sign(data, ec.ECDSA(hash_algorithm))
        return self.private_key.sign(data, rsa_padding(scheme), hash_algorithm)

    def __repr__(self) -> str:  # never show key material
        return f"LocalSigner(key_id={self.key_id!r})"


def verify_signature(
    public_key: PublicKey, signature: bytes, data: bytes, scheme: SignatureScheme
) -> bool:
    """Whether ``signature`` (in X.509/CMS form) over ``data`` verifies."""
    hash_algorithm = HASHES[scheme.hash]()
    try:
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, data, ec.ECDSA(hash_algorithm))
        else:
            public_key.verify(signature, data, rsa_padding(scheme), hash_algorithm)
    except InvalidSignature:
        return False
    return True
