"""Small symmetric-crypto helpers shared by secure messaging, BAC, PACE and CA (ICAO 9303-11 §9.8).

- ISO/IEC 7816-4 padding (= ISO/IEC 9797-1 padding method 2): ``80`` then ``00`` up to a block
  boundary, *always* added (a full block when the data is already aligned).
- 3DES (two-key, EDE) in CBC mode with a zero IV (9303-11 §9.8.6.1 / §4.3.3 for BAC).
- ISO/IEC 9797-1 MAC algorithm 3 ("retail MAC"): single-DES CBC-MAC under K1, the last block
  finished with 3DES under K1‖K2 (9303-11 §9.8.6.2).
- AES in CBC mode (the SM IV is E(K_enc, SSC), see :func:`aes_encrypt_block`).
- AES-CMAC (NIST SP 800-38B) truncated to 8 bytes (9303-11 §9.8.7.2).
- A constant-time comparison for MACs and tokens.

Programming errors (a key or IV of the wrong size, unaligned data where alignment is a caller's
duty) raise :class:`ValueError`; malformed *received* data (bad padding) raises
:class:`~cardkit.errors.EncodingError`. Messages never contain key material.
"""

from __future__ import annotations

import hmac

from cryptography.hazmat.primitives.ciphers import Cipher, modes
from cryptography.hazmat.primitives.ciphers.algorithms import AES
from cryptography.hazmat.primitives.cmac import CMAC

from cardkit.errors import EncodingError

try:  # cryptography ≥ 43 moved TripleDES to "decrepit"; older releases only have it here.
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
except ImportError:  # pragma: no cover - depends on the installed cryptography
    from cryptography.hazmat.primitives.ciphers.algorithms import (  # type: ignore[attr-defined,no-redef,unused-ignore]
        TripleDES,
    )

DES_BLOCK = 8
AES_BLOCK = 16
MAC_LENGTH = 8

_ZERO_IV_DES = bytes(DES_BLOCK)


# --------------------------------------------------------------------------- padding


def pad(data: bytes, block_size: int) -> bytes:
    """ISO/IEC 7816-4 §5.6.3 / ISO/IEC 9797-1 method 2: ``80`` then zeros to the block boundary."""
    padded = data + b"\x80"
    return padded + bytes(-len(padded) % block_size)


def unpad(data: bytes) -> bytes:
    """Remove ISO/IEC 7816-4 padding; :class:`EncodingError` when there is none."""
    stripped = data.rstrip(b"\x00")
    if not stripped or stripped[-1] != 0x80:
        raise EncodingError("ISO/IEC 7816-4 padding (80 00 ..) not found")
    return stripped[:-1]


# --------------------------------------------------------------------------- 3DES


def _check_aligned(data: bytes, block_size: int, what: str) -> None:
    if len(data) % block_size:
        raise ValueError(f"{what}: length {len(data)} is not a multiple of {block_size}")


def _des3_key(key: bytes) -> bytes:
    """The 24-byte form of ``key``: two-key 3DES K1‖K2 is three-key K1‖K2‖K1 (cryptography
    deprecates 16-byte keys, the encryption is the same)."""
    if len(key) == 16:
        return key + key[:8]
    if len(key) == 24:
        return key
    raise ValueError("a 3DES key is 16 (two-key) or 24 bytes")


def des3_encrypt(key: bytes, data: bytes, iv: bytes = _ZERO_IV_DES) -> bytes:
    """3DES-EDE-CBC encryption of block-aligned ``data`` (zero IV by default, 9303-11 §9.8.6.1)."""
    _check_aligned(data, DES_BLOCK, "3DES plaintext")
    encryptor = Cipher(TripleDES(_des3_key(key)), modes.CBC(iv)).encryptor()
    return encryptor.update(data) + encryptor.finalize()


def des3_decrypt(key: bytes, data: bytes, iv: bytes = _ZERO_IV_DES) -> bytes:
    """3DES-EDE-CBC decryption of block-aligned ``data`` (zero IV by default)."""
    _check_aligned(data, DES_BLOCK, "3DES ciphertext")
    decryptor = Cipher(TripleDES(_des3_key(key)), modes.CBC(iv)).decryptor()
    return decryptor.update(data) + decryptor.finalize()


def retail_mac(key: bytes, data: bytes, *, pad_input: bool = True) -> bytes:
    """ISO/IEC 9797-1 MAC algorithm 3 with DES (the ICAO "retail MAC"), 8 bytes.

    ``key`` is K1‖K2 (16 bytes). ``pad_input`` applies padding method 2 first (9303-11 §9.8.6.2);
    secure messaging passes already padded N/K blocks and ``pad_input=False``.
    """
    if len(key) != 16:
        raise ValueError("the retail MAC key is 16 bytes (K1 ‖ K2)")
    message = pad(data, DES_BLOCK) if pad_input else data
    if not message:
        raise ValueError("the retail MAC needs at least one block")
    _check_aligned(message, DES_BLOCK, "MAC input")
    # Single DES is 3DES with K1 = K2 = K3: the CBC chain over all blocks but the last ...
    head, last = message[:-DES_BLOCK], message[-DES_BLOCK:]
    chain = _ZERO_IV_DES
    if head:
        chain = des3_encrypt(key[:8] * 3, head)[-DES_BLOCK:]
    # ... then the output transformation: the last block through 3DES-EDE under K1, K2, K1.
    return des3_encrypt(key, last, chain)


# --------------------------------------------------------------------------- AES


def _check_aes_key(key: bytes) -> None:
    if len(key) not in (16, 24, 32):
        raise ValueError("an AES key is 16, 24 or 32 bytes")


def aes_encrypt(key: bytes, data: bytes, iv: bytes) -> bytes:
    """AES-CBC encryption of block-aligned ``data`` with ``iv`` (9303-11 §9.8.7.1)."""
    _check_aes_key(key)
    _check_aligned(data, AES_BLOCK, "AES plaintext")
    encryptor = Cipher(AES(key), modes.CBC(iv)).encryptor()
    return encryptor.update(data) + encryptor.finalize()


def aes_decrypt(key: bytes, data: bytes, iv: bytes) -> bytes:
    """AES-CBC decryption of block-aligned ``data`` with ``iv``."""
    _check_aes_key(key)
    _check_aligned(data, AES_BLOCK, "AES ciphertext")
    decryptor = Cipher(AES(key), modes.CBC(iv)).decryptor()
    return decryptor.update(data) + decryptor.finalize()


def aes_encrypt_block(key: bytes, block: bytes) -> bytes:
    """One AES block encryption (ECB of a single block): the SM IV is E(K_enc, SSC)."""
    if len(block) != AES_BLOCK:
        raise ValueError("an AES block is 16 bytes")
    return aes_encrypt(key, block, bytes(AES_BLOCK))  # CBC with a zero IV on one block = ECB


def aes_cmac(key: bytes, data: bytes) -> bytes:
    """AES-CMAC (NIST SP 800-38B) of ``data``, truncated to 8 bytes (9303-11 §9.8.7.2)."""
    _check_aes_key(key)
    mac = CMAC(AES(key))
    mac.update(data)
    return mac.finalize()[:MAC_LENGTH]


# --------------------------------------------------------------------------- comparison


def constant_time_equal(a: bytes, b: bytes) -> bool:
    """Compare MACs and tokens without leaking, through timing, where they first differ."""
    return hmac.compare_digest(a, b)
