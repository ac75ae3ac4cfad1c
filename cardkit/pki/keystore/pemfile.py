"""Encrypted PKCS#8 PEM key files (``file:keys/dsc.pem``), and safe file writing for all stores.

The key is written as ``-----BEGIN ENCRYPTED PRIVATE KEY-----`` (RFC 5958 EncryptedPrivateKeyInfo)
with cryptography's ``BestAvailableEncryption`` (PBES2: PBKDF2-HMAC-SHA256 + AES-256-CBC).
Its certificate (and chain) live next to it in ``keys/dsc.crt.pem``: not secret, world readable.

Writing: a key file is created with mode 0600 and made visible atomically (temporary file in
the same directory created 0600, fsync, rename/link, fsync of the directory), so a crash never
leaves a half-written key or a window in which it is readable by others. A plaintext key is
refused unless ``allow_unencrypted=True`` (the CLI's ``--insecure-plaintext-keys``, for tests).

Reading: a key file readable by group or others only *warns*
(:class:`~cardkit.pki.secrets.InsecurePermissionsWarning`) — the key is encrypted, and
refusing would break read-only secret mounts; the warning names the ``chmod`` to run.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from cardkit.errors import KeyStoreError
from cardkit.pki.secrets import warn_if_shared
from cardkit.pki.signer import PrivateKey

KEY_FILE_MODE = 0o600
PUBLIC_FILE_MODE = 0o644


def atomic_write(path: Path, data: bytes, *, mode: int = KEY_FILE_MODE, overwrite: bool) -> None:
    """Write ``data`` to ``path`` atomically with permissions ``mode``.

    The temporary file is created by :func:`tempfile.mkstemp` (always 0600) in the target
    directory, so the rename stays on one file system and the content is never exposed with
    looser permissions. Without ``overwrite`` an existing file is left untouched (``os.link``
    fails atomically if the name exists) and :class:`KeyStoreError` is raised.
    """
    directory = path.parent
    if not directory.is_dir():
        raise KeyStoreError(f"cannot write {path}: directory {directory} does not exist")
    try:
        fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise KeyStoreError(f"cannot write {path}: {exc.strerror}") from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            if mode != KEY_FILE_MODE:
                os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise KeyStoreError(
                    f"{path} already exists: refusing to overwrite it (remove it first)"
                ) from None
    except OSError as exc:
        raise KeyStoreError(f"cannot write {path}: {exc.strerror}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    _fsync_directory(directory)


def _fsync_directory(directory: Path) -> None:
    """Make the rename durable (POSIX: the directory entry lives in the directory)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_store_file(path: Path, what: str) -> bytes:
    """Read a key store file; KeyStoreError naming it when missing or unreadable."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise KeyStoreError(f"{what} {path} does not exist") from None
    except OSError as exc:
        raise KeyStoreError(f"cannot read {what} {path}: {exc.strerror}") from None
    warn_if_shared(path, what)
    return data


def check_key_type(key: object, where: str) -> PrivateKey:
    """Only EC and RSA keys sign ICAO documents (9303-12 §4.1)."""
    if isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        return key
    raise KeyStoreError(f"{where} holds a {type(key).__name__}: only EC and RSA keys are supported")


def encode_private_key(key: PrivateKey, secret: bytes | None, *, allow_unencrypted: bool) -> bytes:
    """PKCS#8 PEM, encrypted unless explicitly allowed otherwise."""
    if not secret:
        if not allow_unencrypted:
            raise KeyStoreError(
                "refusing to write an unencrypted private key: give a password "
                "(or --insecure-plaintext-keys, for tests only)"
            )
        encryption: serialization.KeySerializationEncryption = serialization.NoEncryption()
    else:
        encryption = serialization.BestAvailableEncryption(secret)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def load_private_key(path: Path, secret: bytes | None) -> PrivateKey:
    """Load an (encrypted) PEM private key; clear KeyStoreErrors for every failure."""
    data = read_store_file(path, "key file")
    if b"-----BEGIN" not in data:
        raise KeyStoreError(f"{path} is not a PEM private key file")
    # Both PKCS#8 ("ENCRYPTED PRIVATE KEY") and legacy OpenSSL ("Proc-Type: 4,ENCRYPTED")
    # encrypted keys carry this marker.
    encrypted = b"ENCRYPTED" in data
    if encrypted and not secret:
        raise KeyStoreError(f"{path} is encrypted: a key password is needed")
    if not encrypted and secret:
        raise KeyStoreError(
            f"{path} is not encrypted but a password was given: re-encrypt it "
            "(cardkit keys import) or drop the password"
        )
    try:
        key = serialization.load_pem_private_key(data, password=secret if encrypted else None)
    except UnsupportedAlgorithm:
        raise KeyStoreError(f"{path}: unsupported key or encryption algorithm") from None
    except (ValueError, TypeError):
        if encrypted:
            raise KeyStoreError(f"wrong password for {path} (or the file is damaged)") from None
        raise KeyStoreError(f"{path} is not a valid PEM private key") from None
    return check_key_type(key, str(path))


def store_private_key(
    path: Path,
    key: PrivateKey,
    secret: bytes | None,
    *,
    allow_unencrypted: bool = False,
    overwrite: bool = False,
) -> None:
    """Write ``key`` encrypted with ``secret`` to ``path`` (mode 0600, atomically)."""
    atomic_write(
        path,
        encode_private_key(key, secret, allow_unencrypted=allow_unencrypted),
        overwrite=overwrite,
    )


def certificate_path(key_path: Path) -> Path:
    """``keys/dsc.pem`` → ``keys/dsc.crt.pem`` (also for ``.key``; else append ``.crt.pem``)."""
    if key_path.suffix in (".pem", ".key"):
        return key_path.with_suffix(".crt.pem")
    return key_path.with_name(key_path.name + ".crt.pem")


def load_certificate(key_path: Path) -> x509.Certificate | None:
    """The first certificate of the sibling ``.crt.pem`` file, or None when there is none."""
    cert_path = certificate_path(key_path)
    try:
        data = cert_path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise KeyStoreError(f"cannot read certificate file {cert_path}: {exc.strerror}") from None
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise KeyStoreError(f"{cert_path} is not a PEM certificate file") from None
    return certs[0] if certs else None


def store_certificates(
    key_path: Path, certificate: x509.Certificate, chain: Sequence[x509.Certificate] = ()
) -> None:
    """Write the certificate then its chain (leaf first) to the sibling ``.crt.pem``."""
    pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (certificate, *chain))
    atomic_write(certificate_path(key_path), pem, mode=PUBLIC_FILE_MODE, overwrite=True)
