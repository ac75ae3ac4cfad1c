"""The batch transport key (AES-256-GCM) and its password-wrapped key file."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cardkit.errors import KeyStoreError
from cardkit.pki.keystore.transport import (
    MIN_SCRYPT_N,
    FileTransportKey,
    create_transport_key,
    decode_key_file,
    open_transport_key,
)

PASSWORD = b"transport key password"
FAST_N = MIN_SCRYPT_N  # keep unit tests fast; the default is 2**17

# McGrew & Viega, "The Galois/Counter Mode of Operation (GCM)", Test Case 16
# (AES-256, 96-bit IV, with additional authenticated data).
GCM16_KEY = bytes.fromhex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308")
GCM16_IV = bytes.fromhex("cafebabefacedbaddecaf888")
GCM16_AAD = bytes.fromhex("feedfacedeadbeeffeedfacedeadbeefabaddad2")
GCM16_PT = bytes.fromhex(
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"
)
GCM16_CT = bytes.fromhex(
    "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
    "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
)
GCM16_TAG = bytes.fromhex("76fc6ece0f4e1768cddf8853bb2d551b")


@pytest.fixture(scope="module")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tk") / "transport.key"
    create_transport_key(f"file:{path}", PASSWORD, scrypt_n=FAST_N)
    return path


def test_known_answer_blob_layout() -> None:
    """A blob is nonce ‖ ciphertext ‖ tag: the published GCM test case decrypts as such."""
    key = FileTransportKey("tk-test", AESGCM(GCM16_KEY))
    blob = GCM16_IV + GCM16_CT + GCM16_TAG
    assert key.decrypt(blob, GCM16_AAD) == GCM16_PT
    with pytest.raises(KeyStoreError, match="wrong transport key or tampered data"):
        key.decrypt(blob, GCM16_AAD[:-1])


def test_file_round_trip(key_file: Path) -> None:
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = open_transport_key(f"file:{key_file}", PASSWORD)
    assert key.key_id.startswith("tk-")
    assert len(key.key_id) == 3 + 16
    blob = key.encrypt(b"chip private key", b"card-0001/aa-key")
    assert len(blob) == 12 + len(b"chip private key") + 16
    reopened = open_transport_key(f"file:{key_file}", PASSWORD)
    assert reopened.key_id == key.key_id
    assert reopened.decrypt(blob, b"card-0001/aa-key") == b"chip private key"
    assert PASSWORD.decode() not in repr(key)


def test_nonces_are_fresh(key_file: Path) -> None:
    key = open_transport_key(f"file:{key_file}", PASSWORD)
    blobs = {key.encrypt(b"same", b"")[:12] for _ in range(50)}
    assert len(blobs) == 50


def test_create_returns_the_key_it_wrote(tmp_path: Path) -> None:
    created = create_transport_key(f"file:{tmp_path}/t.key", PASSWORD, scrypt_n=FAST_N)
    blob = created.encrypt(b"x", b"aad")
    opened = open_transport_key(f"file:{tmp_path}/t.key", PASSWORD)
    assert opened.key_id == created.key_id
    assert opened.decrypt(blob, b"aad") == b"x"
    with pytest.raises(KeyStoreError, match="already exists"):
        create_transport_key(f"file:{tmp_path}/t.key", PASSWORD, scrypt_n=FAST_N)


def test_wrong_password(key_file: Path) -> None:
    with pytest.raises(KeyStoreError, match="wrong password for") as info:
        open_transport_key(f"file:{key_file}", b"not it")
    assert "not it" not in str(info.value)


def test_header_is_authenticated(key_file: Path, tmp_path: Path) -> None:
    document = json.loads(key_file.read_bytes())
    document["key_id"] = "tk-0000000000000000"
    with pytest.raises(KeyStoreError, match="wrong password for"):
        decode_key_file(json.dumps(document).encode(), PASSWORD, "edited.key")


def test_weak_or_absurd_kdf_parameters_refused(key_file: Path) -> None:
    for n in (2**10, 2**21, 3 * 2**14):
        document = json.loads(key_file.read_bytes())
        document["kdf"]["n"] = n
        with pytest.raises(KeyStoreError, match="scrypt n="):
            decode_key_file(json.dumps(document).encode(), PASSWORD, "edited.key")


def test_other_key_cannot_decrypt(key_file: Path, tmp_path: Path) -> None:
    mine = open_transport_key(f"file:{key_file}", PASSWORD)
    other = create_transport_key(f"file:{tmp_path}/o.key", PASSWORD, scrypt_n=FAST_N)
    with pytest.raises(KeyStoreError, match="cannot decrypt: wrong transport key or tampered data"):
        other.decrypt(mine.encrypt(b"secret", b"aad"), b"aad")


@pytest.mark.parametrize("ref", ["p12:x.p12", "jks:x.jks#a"])
def test_unsupported_backends(ref: str) -> None:
    with pytest.raises(KeyStoreError, match="transport keys live in"):
        open_transport_key(ref, PASSWORD)


def test_password_required(tmp_path: Path) -> None:
    with pytest.raises(KeyStoreError, match="without a password"):
        create_transport_key(f"file:{tmp_path}/t.key", None)
    assert not (tmp_path / "t.key").exists()


_KEY = FileTransportKey("tk-prop", AESGCM(bytes(range(32))))


@given(plaintext=st.binary(max_size=2048), aad=st.binary(max_size=64))
def test_round_trip_property(plaintext: bytes, aad: bytes) -> None:
    assert _KEY.decrypt(_KEY.encrypt(plaintext, aad), aad) == plaintext


@given(
    plaintext=st.binary(max_size=256),
    aad=st.binary(max_size=32),
    position=st.integers(min_value=0),
    flip=st.integers(min_value=1, max_value=255),
)
def test_any_tampering_is_detected(plaintext: bytes, aad: bytes, position: int, flip: int) -> None:
    blob = bytearray(_KEY.encrypt(plaintext, aad))
    blob[position % len(blob)] ^= flip
    with pytest.raises(KeyStoreError, match="wrong transport key or tampered data"):
        _KEY.decrypt(bytes(blob), aad)


@given(plaintext=st.binary(max_size=256), cut=st.integers(min_value=0))
def test_truncation_is_detected(plaintext: bytes, cut: int) -> None:
    blob = _KEY.encrypt(plaintext, b"")
    with pytest.raises(KeyStoreError):
        _KEY.decrypt(blob[: cut % len(blob)], b"")


@given(st.binary(max_size=64))
def test_random_blobs_raise_keystoreerror_only(blob: bytes) -> None:
    with pytest.raises(KeyStoreError):
        _KEY.decrypt(blob, b"")


@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(st.binary(max_size=400), st.text(max_size=400).map(str.encode)))
def test_damaged_key_files_raise_keystoreerror_only(data: bytes) -> None:
    with pytest.raises(KeyStoreError):
        decode_key_file(data, PASSWORD, "damaged.key")


@settings(max_examples=60)
@given(
    field=st.sampled_from(["format", "version", "key_id", "kdf", "cipher", "nonce", "ciphertext"]),
    value=st.one_of(st.none(), st.integers(), st.text(max_size=20), st.lists(st.integers())),
)
def test_edited_key_file_fields_raise_keystoreerror_only(field: str, value: object) -> None:
    document = json.loads(_TEMPLATE)
    assume(document[field] != value)
    document[field] = value
    with pytest.raises(KeyStoreError):
        decode_key_file(json.dumps(document).encode(), PASSWORD, "edited.key")


def _template() -> str:
    from cardkit.pki.keystore.transport import encode_key_file

    return encode_key_file(bytes(32), PASSWORD, "tk-0123456789abcdef", scrypt_n=FAST_N).decode()


_TEMPLATE = _template()
