"""The batch transport key: encrypts chip private keys (AA, CA) at rest inside card images.

Every message is AES-256-GCM (NIST SP 800-38D) with a fresh random 96-bit nonce, stored in
front of the ciphertext: ``nonce (12) ‖ ciphertext ‖ tag (16)``. The caller's ``aad`` binds a
blob to its context (card image id, file name) so blobs cannot be swapped between cards. Any
failure to decrypt — wrong key, wrong aad, a flipped bit — is the same :class:`KeyStoreError`,
without saying which (an oracle would help an attacker, and the operator's fix is the same).

Random nonces are safe for up to 2^32 messages per key (SP 800-38D §8.3); a transport key per
batch stays far below that.

Backends:

``file:keys/transport.key``
    the 32-byte key wrapped with a key derived from a password by scrypt (RFC 7914), in a small
    JSON document (format, version, key id, KDF parameters, salt, nonce, wrapped key); the
    header is the GCM associated data of the wrapping, so editing it (e.g. weakening the KDF
    parameters) makes the file unreadable. Written 0600, atomically.
``pkcs11:token=...;object=...``
    an AES-256 secret-key object on the token (sensitive, never extractable); CKM_AES_GCM runs
    on the token. SoftHSM2 2.6 supports it through python-pkcs11's ``GCMParams`` (checked), so
    no wrapping fallback is needed.

``key_id`` (``tk-`` + 16 hex digits) is random, chosen at creation and stored with the key
(in the file, or as the token object's CKA_ID): card images record it to find their key again,
even after the key file moves.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from cardkit.errors import KeyStoreError
from cardkit.pki.keystore.pemfile import atomic_write, read_store_file
from cardkit.pki.keystore.uri import KeyRef, as_keyref

NONCE_SIZE = 12
TAG_SIZE = 16
KEY_SIZE = 32
FILE_FORMAT = "cardkit-transport-key"
FILE_VERSION = 1
DEFAULT_SCRYPT_N = 2**17  # ~0.4 s and 128 MiB with r=8: OWASP's scrypt recommendation
MIN_SCRYPT_N = 2**14
MAX_SCRYPT_N = 2**20  # refuse files that would make us allocate more than 1 GiB
_DECRYPT_ERROR = "cannot decrypt: wrong transport key or tampered data"


class TransportKey(Protocol):
    """A symmetric key that protects chip private keys inside card images."""

    @property
    def key_id(self) -> str: ...

    def encrypt(self, plaintext: bytes, aad: bytes) -> bytes:
        """``nonce ‖ ciphertext ‖ tag`` under a fresh random nonce."""
        ...

    def decrypt(self, blob: bytes, aad: bytes) -> bytes:
        """Inverse of :meth:`encrypt`; KeyStoreError on any authentication failure."""
        ...


def _new_key_id(raw: bytes | None = None) -> str:
    return "tk-" + (raw or os.urandom(8)).hex()


@dataclass(frozen=True, repr=False)
class FileTransportKey:
    """A transport key held in this process (unwrapped from a ``file:`` key file)."""

    key_id: str
    _aead: AESGCM = field(compare=False)

    def encrypt(self, plaintext: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(NONCE_SIZE)
        return nonce + self._aead.encrypt(nonce, plaintext, aad)

    def decrypt(self, blob: bytes, aad: bytes) -> bytes:
        if len(blob) < NONCE_SIZE + TAG_SIZE:
            raise KeyStoreError(_DECRYPT_ERROR)
        try:
            return self._aead.decrypt(blob[:NONCE_SIZE], blob[NONCE_SIZE:], aad)
        except InvalidTag:
            raise KeyStoreError(_DECRYPT_ERROR) from None

    def __repr__(self) -> str:
        return f"FileTransportKey(key_id={self.key_id!r})"


class Pkcs11TransportKey:
    """A transport key that never leaves the token: AES-GCM runs on it."""

    def __init__(self, ts: Any, key: Any, key_id: str) -> None:
        self._ts = ts
        self._key = key
        self.key_id = key_id

    def _params(self, nonce: bytes, aad: bytes) -> Any:
        from pkcs11.mechanisms import GCMParams

        return GCMParams(nonce, aad or None, TAG_SIZE * 8)

    def encrypt(self, plaintext: bytes, aad: bytes) -> bytes:
        from pkcs11 import Mechanism
        from pkcs11.exceptions import PKCS11Error

        nonce = os.urandom(NONCE_SIZE)
        try:
            with self._ts.lock:
                sealed = self._key.encrypt(
                    plaintext, mechanism=Mechanism.AES_GCM, mechanism_param=self._params(nonce, aad)
                )
        except PKCS11Error as exc:
            raise KeyStoreError(
                f"transport key {self.key_id}: the token refused to encrypt ({type(exc).__name__})"
            ) from None
        return nonce + cast(bytes, sealed)

    def decrypt(self, blob: bytes, aad: bytes) -> bytes:
        from pkcs11 import Mechanism
        from pkcs11.exceptions import PKCS11Error

        if len(blob) < NONCE_SIZE + TAG_SIZE:
            raise KeyStoreError(_DECRYPT_ERROR)
        try:
            with self._ts.lock:
                return cast(
                    bytes,
                    self._key.decrypt(
                        blob[NONCE_SIZE:],
                        mechanism=Mechanism.AES_GCM,
                        mechanism_param=self._params(blob[:NONCE_SIZE], aad),
                    ),
                )
        except PKCS11Error:
            # SoftHSM2 reports a failed tag check as CKR_GENERAL_ERROR, others as
            # CKR_ENCRYPTED_DATA_INVALID: all mean the same to the caller.
            raise KeyStoreError(_DECRYPT_ERROR) from None

    def __repr__(self) -> str:
        return f"Pkcs11TransportKey(key_id={self.key_id!r})"


# --- file backend ------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(value: object, name: str, path: object) -> bytes:
    if not isinstance(value, str):
        raise KeyStoreError(f"{path}: field {name} is missing or not base64 text")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise KeyStoreError(f"{path}: field {name} is not valid base64") from None


def _header_aad(header: dict[str, Any]) -> bytes:
    """Canonical JSON of everything but nonce and ciphertext: authenticated, not secret."""
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _kek(password: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=KEY_SIZE, n=n, r=r, p=p).derive(password)


def _check_scrypt(n: object, r: object, p: object, path: object) -> tuple[int, int, int]:
    if not (isinstance(n, int) and isinstance(r, int) and isinstance(p, int)):
        raise KeyStoreError(f"{path}: scrypt parameters must be integers")
    if n < MIN_SCRYPT_N or n > MAX_SCRYPT_N or n & (n - 1):
        raise KeyStoreError(
            f"{path}: scrypt n={n} must be a power of two in [{MIN_SCRYPT_N}, {MAX_SCRYPT_N}]"
        )
    if not 1 <= r <= 32 or not 1 <= p <= 16 or 128 * r * n * p > 2**31:
        raise KeyStoreError(f"{path}: scrypt parameters r={r}, p={p} out of range")
    return n, r, p


def encode_key_file(key: bytes, password: bytes, key_id: str, *, scrypt_n: int) -> bytes:
    """The JSON key file for ``key`` wrapped under ``password``."""
    n, r, p = _check_scrypt(scrypt_n, 8, 1, "transport key")
    salt = os.urandom(16)
    header: dict[str, Any] = {
        "format": FILE_FORMAT,
        "version": FILE_VERSION,
        "key_id": key_id,
        "kdf": {"name": "scrypt", "n": n, "r": r, "p": p, "salt": _b64(salt)},
        "cipher": "aes-256-gcm",
    }
    nonce = os.urandom(NONCE_SIZE)
    wrapped = AESGCM(_kek(password, salt, n, r, p)).encrypt(nonce, key, _header_aad(header))
    document = {**header, "nonce": _b64(nonce), "ciphertext": _b64(wrapped)}
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode("utf-8")


def decode_key_file(data: bytes, password: bytes, path: object) -> FileTransportKey:
    """Unwrap a key file; KeyStoreError for a damaged file or a wrong password."""
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise KeyStoreError(f"{path} is not a cardkit transport key file") from None
    if not isinstance(document, dict) or document.get("format") != FILE_FORMAT:
        raise KeyStoreError(f"{path} is not a cardkit transport key file")
    if document.get("version") != FILE_VERSION:
        raise KeyStoreError(f"{path}: unsupported transport key file version")
    kdf = document.get("kdf")
    key_id = document.get("key_id")
    if not isinstance(kdf, dict) or kdf.get("name") != "scrypt" or not isinstance(key_id, str):
        raise KeyStoreError(f"{path}: missing or unsupported kdf / key_id")
    if document.get("cipher") != "aes-256-gcm":
        raise KeyStoreError(f"{path}: unsupported cipher")
    n, r, p = _check_scrypt(kdf.get("n"), kdf.get("r"), kdf.get("p"), path)
    salt = _unb64(kdf.get("salt"), "kdf.salt", path)
    nonce = _unb64(document.get("nonce"), "nonce", path)
    wrapped = _unb64(document.get("ciphertext"), "ciphertext", path)
    if len(nonce) != NONCE_SIZE:
        raise KeyStoreError(f"{path}: nonce must be {NONCE_SIZE} bytes")
    header = {k: v for k, v in document.items() if k not in ("nonce", "ciphertext")}
    try:
        key = AESGCM(_kek(password, salt, n, r, p)).decrypt(nonce, wrapped, _header_aad(header))
    except InvalidTag:
        raise KeyStoreError(f"wrong password for {path} (or the file was modified)") from None
    if len(key) != KEY_SIZE:
        raise KeyStoreError(f"{path}: the wrapped key is not {KEY_SIZE} bytes")
    return FileTransportKey(key_id, AESGCM(key))


# --- the one interface -------------------------------------------------------------------


def _check_scheme(ref: KeyRef) -> None:
    if ref.scheme not in ("file", "pkcs11"):
        raise KeyStoreError(
            f"{ref}: transport keys live in file:PATH or pkcs11:token=...;object=... stores"
        )


def open_transport_key(ref: str | KeyRef, secret: bytes | None) -> TransportKey:
    """Open the transport key named by ``ref`` (password for ``file:``, PIN for ``pkcs11:``)."""
    key_ref = as_keyref(ref)
    _check_scheme(key_ref)
    if key_ref.scheme == "file":
        if not secret:
            raise KeyStoreError(f"{key_ref}: a password is needed")
        data = read_store_file(key_ref.file, "transport key file")
        return decode_key_file(data, secret, key_ref.file)
    from cardkit.pki.keystore import pkcs11 as p11

    ts = p11.token_session(key_ref, secret)
    key = p11.find_secret_key(ts, key_ref)
    if key is None:
        raise KeyStoreError(f"no transport key {key_ref.object!r} on token {key_ref.token!r}")
    return Pkcs11TransportKey(ts, key, _pkcs11_key_id(ts, key))


def create_transport_key(
    ref: str | KeyRef,
    secret: bytes | None,
    *,
    overwrite: bool = False,
    scrypt_n: int = DEFAULT_SCRYPT_N,
) -> TransportKey:
    """Create a new random transport key at ``ref`` and return it, opened."""
    key_ref = as_keyref(ref)
    _check_scheme(key_ref)
    if key_ref.scheme == "file":
        if not secret:
            raise KeyStoreError(f"refusing to write {key_ref.file} without a password")
        key = AESGCM.generate_key(bit_length=256)
        key_id = _new_key_id()
        data = encode_key_file(key, secret, key_id, scrypt_n=scrypt_n)
        atomic_write(key_ref.file, data, overwrite=overwrite)
        return FileTransportKey(key_id, AESGCM(key))
    from cardkit.pki.keystore import pkcs11 as p11

    if not key_ref.object:
        raise KeyStoreError(f"{key_ref}: name the new key with object=LABEL")
    ts = p11.token_session(key_ref, secret)
    raw_id = key_ref.id or os.urandom(8)
    obj = p11.generate_aes_key(ts, key_ref, raw_id)
    return Pkcs11TransportKey(ts, obj, _new_key_id(raw_id))


def _pkcs11_key_id(ts: Any, key: Any) -> str:
    from pkcs11 import Attribute

    with ts.lock:
        raw = cast(bytes, key[Attribute.ID])
    return _new_key_id(raw) if raw else "tk-unnamed"
