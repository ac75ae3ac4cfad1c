"""PKCS#12 files (``p12:keys/dsc.p12``): one private key, its certificate and chain (RFC 7292).

Written with PBES2 (PBKDF2-HMAC-SHA256 + AES-256-CBC, RFC 8018) for both the key bag and the
certificate bag, and an HMAC-SHA256 MAC — not the legacy 40-bit RC2 / 3DES defaults that old
tools still produce. OpenSSL 1.1.1+ and Java 8u301+ read these files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from cardkit.errors import KeyStoreError
from cardkit.pki.keystore.pemfile import atomic_write, check_key_type, read_store_file
from cardkit.pki.signer import PrivateKey


@dataclass(frozen=True, repr=False)
class Pkcs12Contents:
    """What a PKCS#12 file holds. ``repr`` never shows the key."""

    private_key: PrivateKey
    certificate: x509.Certificate | None
    chain: tuple[x509.Certificate, ...]

    def __repr__(self) -> str:
        return f"Pkcs12Contents(certificate={self.certificate!r}, chain={len(self.chain)})"


def load(path: Path, secret: bytes | None) -> Pkcs12Contents:
    """Read and decrypt a PKCS#12 file."""
    data = read_store_file(path, "PKCS#12 file")
    try:
        parsed = pkcs12.load_pkcs12(data, secret or None)
    except ValueError:
        # cryptography reports both a wrong password and a damaged file as ValueError.
        raise KeyStoreError(f"wrong password for {path} (or not a PKCS#12 file)") from None
    if parsed.key is None:
        raise KeyStoreError(f"{path} holds no private key")
    key = check_key_type(parsed.key, str(path))
    cert = parsed.cert.certificate if parsed.cert is not None else None
    chain = tuple(c.certificate for c in parsed.additional_certs)
    return Pkcs12Contents(key, cert, chain)


def encode(
    private_key: PrivateKey,
    secret: bytes,
    certificate: x509.Certificate | None = None,
    chain: Sequence[x509.Certificate] = (),
    *,
    name: str = "cardkit",
) -> bytes:
    """Serialise with strong PBES2/AES-256 encryption (see module docstring)."""
    if not secret:
        raise KeyStoreError("refusing to write a PKCS#12 file without a password")
    encryption = (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(100_000)
        .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
        .hmac_hash(hashes.SHA256())
        .build(secret)
    )
    return pkcs12.serialize_key_and_certificates(
        name.encode("utf-8"), private_key, certificate, list(chain) or None, encryption
    )


def store(
    path: Path,
    private_key: PrivateKey,
    secret: bytes | None,
    certificate: x509.Certificate | None = None,
    chain: Sequence[x509.Certificate] = (),
    *,
    overwrite: bool = False,
) -> None:
    """Write a PKCS#12 file (mode 0600, atomically)."""
    if not secret:
        raise KeyStoreError(f"refusing to write {path} without a password")
    data = encode(private_key, secret, certificate, chain, name=path.stem)
    atomic_write(path, data, overwrite=overwrite)
