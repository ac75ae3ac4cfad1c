"""Java KeyStores (``jks:keys/store.jks#alias``, ``jceks:keys/store.jceks#alias``) via pyjks.

Many CA back ends (EJBCA, in-house Java signers) hand keys over as JKS/JCEKS. pyjks reads both
and writes JKS only, so ``jceks:`` is read only. Entry keys are protected with the store
password (keytool's default); a store whose entry uses a different key password cannot be
opened with one secret and is reported as such.

Caveat, documented rather than hidden: JKS protects private keys with Sun's proprietary
SHA-1-keystream scheme and the store with a SHA-1 MAC. That is weak against offline guessing;
prefer ``p12:`` (PBES2/AES-256) or a PKCS#11 token for new keys and use JKS for interchange.

pyjks is untyped: every value taken from it is converted to a typed value in this module.
Java aliases are case-insensitive (pyjks stores them lower-cased), so lookups are too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

import jks  # untyped third-party module (mypy: ignore_missing_imports)
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from cardkit.errors import KeyStoreError
from cardkit.pki.keystore.pemfile import atomic_write, check_key_type, read_store_file
from cardkit.pki.secrets import secret_text
from cardkit.pki.signer import PrivateKey

StoreType = Literal["jks", "jceks"]


@dataclass(frozen=True, repr=False)
class JksEntry:
    """A decrypted private-key entry. ``repr`` never shows the key."""

    alias: str
    private_key: PrivateKey
    chain: tuple[x509.Certificate, ...]  # the key's certificate first

    @property
    def certificate(self) -> x509.Certificate | None:
        return self.chain[0] if self.chain else None

    def __repr__(self) -> str:
        return f"JksEntry(alias={self.alias!r}, chain={len(self.chain)})"


def _load_store(path: Path, secret: bytes | None, store_type: StoreType) -> Any:
    if not secret:
        raise KeyStoreError(f"{store_type}:{path}: a store password is needed")
    password = secret_text(secret, f"password for {path}")
    data = read_store_file(path, f"{store_type.upper()} file")
    try:
        store = jks.KeyStore.loads(data, password, try_decrypt_keys=True)
    except jks.util.KeystoreSignatureException:
        raise KeyStoreError(f"wrong store password for {path}") from None
    except Exception:
        # pyjks raises struct/pyasn1/IndexError as well as its own exceptions on damaged
        # input; none of them may leak, and none carries the password.
        raise KeyStoreError(f"{path} is not a readable JKS/JCEKS key store") from None
    if cast(str, store.store_type) not in ("jks", "jceks"):
        raise KeyStoreError(f"{path} is not a JKS/JCEKS key store")
    return store


def _entry(store: Any, path: Path, alias: str) -> Any:
    entries = cast(dict[str, Any], store.entries)
    entry = entries.get(alias.lower())
    if entry is None:
        available = ", ".join(sorted(entries)) or "none"
        raise KeyStoreError(f"{path} has no entry {alias!r} (entries: {available})")
    if not isinstance(entry, jks.PrivateKeyEntry):
        raise KeyStoreError(f"{path} entry {alias!r} is not a private key entry")
    if not entry.is_decrypted():
        raise KeyStoreError(
            f"{path} entry {alias!r}: wrong key password "
            "(cardkit expects the key password to equal the store password)"
        )
    return entry


def load(path: Path, alias: str, secret: bytes | None, store_type: StoreType) -> JksEntry:
    """Open a private-key entry and its certificate chain."""
    store = _load_store(path, secret, store_type)
    entry = _entry(store, path, alias)
    pkcs8 = cast(bytes, entry.pkey_pkcs8)
    try:
        key = serialization.load_der_private_key(pkcs8, password=None)
    except (ValueError, TypeError):
        raise KeyStoreError(f"{path} entry {alias!r}: unreadable private key") from None
    except Exception:  # UnsupportedAlgorithm and friends
        raise KeyStoreError(f"{path} entry {alias!r}: unsupported key type") from None
    chain: list[x509.Certificate] = []
    for cert_type, der in cast(list[tuple[str, bytes]], entry.cert_chain):
        if cert_type != "X.509":
            continue
        try:
            chain.append(x509.load_der_x509_certificate(der))
        except ValueError:
            raise KeyStoreError(f"{path} entry {alias!r}: unreadable certificate") from None
    return JksEntry(alias, check_key_type(key, f"{path} entry {alias!r}"), tuple(chain))


def store(
    path: Path,
    alias: str,
    private_key: PrivateKey,
    secret: bytes | None,
    chain: Sequence[x509.Certificate] = (),
    *,
    overwrite: bool = False,
) -> None:
    """Add (or with ``overwrite`` replace) a private-key entry in a JKS file, creating it if
    needed. ``chain`` starts with the key's own certificate. Java tools expect at least one
    certificate per private-key entry: store it as soon as it is issued."""
    if not secret:
        raise KeyStoreError(f"refusing to write {path} without a store password")
    password = secret_text(secret, f"password for {path}")
    if path.exists():
        existing = _load_store(path, secret, "jks")
        if cast(str, existing.store_type) != "jks":
            raise KeyStoreError(f"{path} is a JCEKS store: cardkit can read but not write JCEKS")
        entries = dict(cast(dict[str, Any], existing.entries))
    else:
        entries = {}
    key_alias = alias.lower()
    if key_alias in entries and not overwrite:
        raise KeyStoreError(f"{path} already has an entry {alias!r}: refusing to overwrite it")
    pkcs8 = private_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),  # pyjks encrypts the entry itself on save
    )
    certs = [c.public_bytes(serialization.Encoding.DER) for c in chain]
    entries[key_alias] = jks.PrivateKeyEntry.new(key_alias, certs, pkcs8, "pkcs8")
    try:
        data = cast(bytes, jks.KeyStore.new("jks", list(entries.values())).saves(password))
    except Exception:
        raise KeyStoreError(f"cannot encode JKS store {path}") from None
    atomic_write(path, data, overwrite=True)


def set_chain(
    path: Path, alias: str, secret: bytes | None, chain: Sequence[x509.Certificate]
) -> None:
    """Replace the certificate chain of an existing entry (e.g. once the DSC is issued)."""
    entry = load(path, alias, secret, "jks")
    store(path, alias, entry.private_key, secret, chain, overwrite=True)
