"""Key stores: one interface over encrypted PEM files, PKCS#12, JKS/JCEKS and PKCS#11 tokens.

Every function takes a key reference (:mod:`cardkit.pki.keystore.uri`) and the store's secret
(password or PIN, read through :mod:`cardkit.pki.secrets`) and hands back a
:class:`~cardkit.pki.signer.Signer`, so the PKI code signs the same way whether the key sits in
a file or on an HSM.

==========  ======  ========  ===========================================================
scheme      read    write     certificate next to the key
==========  ======  ========  ===========================================================
file        yes     yes       sibling ``name.crt.pem`` (leaf first, then chain)
p12         yes     yes       the PKCS#12 certificate bag (+ chain)
jks         yes     yes       the entry's certificate chain
jceks       yes     no        the entry's certificate chain (pyjks cannot write JCEKS)
pkcs11      yes     generate  a certificate object with the key's label and CKA_ID
==========  ======  ========  ===========================================================

PKCS#11 private keys are only ever generated on the token (:func:`generate_key`); importing
software keys into an HSM defeats its purpose and is left to the vendor's tools.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography import x509

from cardkit.errors import KeyStoreError
from cardkit.pki.keystore import jks, pemfile, pkcs12
from cardkit.pki.keystore.uri import KeyRef, KeySpec, as_keyref
from cardkit.pki.signer import LocalSigner, PrivateKey, Signer

__all__ = [
    "KeyRef",
    "KeySpec",
    "certificate_of",
    "generate_key",
    "open_signer",
    "store_certificate",
    "store_key",
]


def open_signer(ref: str | KeyRef, secret: bytes | None) -> Signer:
    """Open the private key named by ``ref``. ``key_id`` of the result is the canonical URI."""
    key_ref = as_keyref(ref)
    if key_ref.scheme == "pkcs11":
        from cardkit.pki.keystore import pkcs11 as p11

        return p11.open_signer(key_ref, secret)
    return LocalSigner(_load_private_key(key_ref, secret), str(key_ref))


def _load_private_key(ref: KeyRef, secret: bytes | None) -> PrivateKey:
    if ref.scheme == "file":
        return pemfile.load_private_key(ref.file, secret)
    if ref.scheme == "p12":
        return pkcs12.load(ref.file, secret).private_key
    if ref.scheme in ("jks", "jceks"):
        return jks.load(ref.file, ref.alias or "", secret, _store_type(ref)).private_key
    raise KeyStoreError(f"{ref}: not an in-process key store")


def _store_type(ref: KeyRef) -> jks.StoreType:
    return "jceks" if ref.scheme == "jceks" else "jks"


def certificate_of(ref: str | KeyRef, secret: bytes | None) -> x509.Certificate | None:
    """The certificate stored next to the key, or None when the store has none yet."""
    key_ref = as_keyref(ref)
    if key_ref.scheme == "file":
        return pemfile.load_certificate(key_ref.file)
    if key_ref.scheme == "p12":
        return pkcs12.load(key_ref.file, secret).certificate
    if key_ref.scheme in ("jks", "jceks"):
        return jks.load(key_ref.file, key_ref.alias or "", secret, _store_type(key_ref)).certificate
    from cardkit.pki.keystore import pkcs11 as p11

    return p11.certificate(p11.token_session(key_ref, secret), key_ref)


def _check_writable(ref: KeyRef) -> None:
    if ref.scheme == "jceks":
        raise KeyStoreError(f"{ref}: JCEKS stores are read only: write a jks: or p12: store")
    if ref.scheme == "pkcs11":
        raise KeyStoreError(
            f"{ref}: cardkit does not import private keys into a token; "
            "generate them on it (cardkit keys generate) instead"
        )


def _check_matches(ref: KeyRef, private_key: PrivateKey, cert: x509.Certificate | None) -> None:
    if cert is not None and cert.public_key() != private_key.public_key():
        raise KeyStoreError(f"{ref}: the certificate does not belong to this key")


def store_key(
    ref: str | KeyRef,
    private_key: PrivateKey,
    secret: bytes | None,
    certificate: x509.Certificate | None = None,
    chain: Sequence[x509.Certificate] = (),
    *,
    allow_unencrypted: bool = False,
    overwrite: bool = False,
) -> None:
    """Store a private key (and its certificate and chain) in a file, PKCS#12 or JKS store.

    Files are written 0600, atomically; an existing key is never replaced unless
    ``overwrite``. ``allow_unencrypted`` (``file:`` only) permits a plaintext key, for tests.
    """
    key_ref = as_keyref(ref)
    _check_writable(key_ref)
    _check_matches(key_ref, private_key, certificate)
    if chain and certificate is None:
        raise KeyStoreError(f"{key_ref}: a chain needs the key's own certificate first")
    if key_ref.scheme == "file":
        pemfile.store_private_key(
            key_ref.file,
            private_key,
            secret,
            allow_unencrypted=allow_unencrypted,
            overwrite=overwrite,
        )
        if certificate is not None:
            pemfile.store_certificates(key_ref.file, certificate, chain)
    elif key_ref.scheme == "p12":
        pkcs12.store(key_ref.file, private_key, secret, certificate, chain, overwrite=overwrite)
    else:
        certs = (certificate, *chain) if certificate is not None else ()
        jks.store(
            key_ref.file, key_ref.alias or "", private_key, secret, certs, overwrite=overwrite
        )


def generate_key(
    ref: str | KeyRef,
    spec: str | KeySpec,
    secret: bytes | None,
    *,
    allow_unencrypted: bool = False,
) -> Signer:
    """Generate a key pair at ``ref``: ON the token for ``pkcs11:`` (sensitive, never
    extractable), otherwise in this process and then stored (never over an existing key)."""
    key_ref = as_keyref(ref)
    key_spec = spec if isinstance(spec, KeySpec) else KeySpec.parse(spec)
    if key_ref.scheme == "pkcs11":
        from cardkit.pki.keystore import pkcs11 as p11

        return p11.generate_key(key_ref, key_spec, secret)
    _check_writable(key_ref)
    private_key = key_spec.generate()
    store_key(key_ref, private_key, secret, allow_unencrypted=allow_unencrypted)
    return LocalSigner(private_key, str(key_ref))


def store_certificate(
    ref: str | KeyRef,
    cert: x509.Certificate,
    secret: bytes | None,
    chain: Sequence[x509.Certificate] = (),
) -> None:
    """Put the issued certificate (and chain) next to its key; it must match the key."""
    key_ref = as_keyref(ref)
    if key_ref.scheme == "pkcs11":
        from cardkit.pki.keystore import pkcs11 as p11

        p11.store_certificate(key_ref, cert, secret)
        return
    _check_writable(key_ref)
    if key_ref.scheme == "file":
        # The key file stays untouched; only the public sibling file is (re)written, but
        # the password is checked so that a certificate is never paired with the wrong key.
        private_key = pemfile.load_private_key(key_ref.file, secret)
        _check_matches(key_ref, private_key, cert)
        pemfile.store_certificates(key_ref.file, cert, chain)
    elif key_ref.scheme == "p12":
        contents = pkcs12.load(key_ref.file, secret)
        _check_matches(key_ref, contents.private_key, cert)
        pkcs12.store(key_ref.file, contents.private_key, secret, cert, chain, overwrite=True)
    else:
        entry = jks.load(key_ref.file, key_ref.alias or "", secret, "jks")
        _check_matches(key_ref, entry.private_key, cert)
        jks.store(
            key_ref.file,
            key_ref.alias or "",
            entry.private_key,
            secret,
            (cert, *chain),
            overwrite=True,
        )
