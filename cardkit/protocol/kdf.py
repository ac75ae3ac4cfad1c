"""Key derivation of ICAO 9303-11 §9.7.1, shared by BAC, PACE and chip authentication.

KDF(K, c) = H(K ‖ c) with c a 32-bit big-endian counter: 1 for the encryption key, 2 for the
MAC key, 3 for PACE's password key. 3DES keys take the first 16 bytes of SHA-1 with DES parity
adjusted (§9.7.1.1); AES-128 the first 16 bytes of SHA-1, AES-192 the first 24 of SHA-256,
AES-256 all 32 bytes of SHA-256 (§9.7.1.2).
"""

from __future__ import annotations

import hashlib
from typing import Literal

Cipher = Literal["3DES", "AES"]

ENC = 1
MAC = 2
PACE_PASSWORD = 3


def adjust_parity(key: bytes) -> bytes:
    """Set each byte's least significant bit so the byte has odd parity (DES keys)."""
    return bytes((b & 0xFE) | ((bin(b >> 1).count("1") + 1) % 2) for b in key)


def kdf(shared_secret: bytes, counter: int, cipher: Cipher, key_length: int = 16) -> bytes:
    """Derive a key (``key_length`` bytes: 16 for 3DES and AES-128, 24, 32) from K and c."""
    data = shared_secret + counter.to_bytes(4, "big")
    if cipher == "3DES":
        if key_length != 16:
            raise ValueError("3DES keys here are two-key (16 bytes)")
        return adjust_parity(hashlib.sha1(data).digest()[:16])
    if key_length == 16:
        return hashlib.sha1(data).digest()[:16]
    if key_length in (24, 32):
        return hashlib.sha256(data).digest()[:key_length]
    raise ValueError("AES keys are 16, 24 or 32 bytes")
