"""ISO/IEC 9796-2 scheme 1 (cardkit.protocol.iso9796): published vectors, hand-built layouts,
round trips and malformed input."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key
from hypothesis import given
from hypothesis import strategies as st

from cardkit.errors import EncodingError
from cardkit.lds.dg15 import Dg15
from cardkit.protocol import iso9796
from cardkit.protocol.iso9796 import Representative

VECTORS = Path(__file__).parents[2] / "vectors"
ICAO = json.loads((VECTORS / "aa_icao9303_11_worked_example.json").read_text())
PUBLISHED = json.loads((VECTORS / "aa_iso9796_2_published_signatures.json").read_text())


@cache
def rsa_key(bits: int) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def raw_rsa_sign(key: rsa.RSAPrivateKey, representative: bytes) -> bytes:
    """Textbook s = F^d mod n, independent of cardkit's signer."""
    numbers = key.private_numbers()
    n = numbers.public_numbers.n
    return pow(int.from_bytes(representative, "big"), numbers.d, n).to_bytes(
        (n.bit_length() + 7) // 8, "big"
    )


# --- Known answers ---------------------------------------------------------------------------


def test_icao_worked_example_representative_decodes() -> None:
    # ICAO 9303-11 Worked Example: Active Authentication (F, M1, H, RND.IFD).
    f = bytes.fromhex(ICAO["f"])
    rep = Representative.decode(f)
    assert rep.partial
    assert rep.m1 == bytes.fromhex(ICAO["m1"])
    assert rep.digest == bytes.fromhex(ICAO["h"])
    assert rep.hash_name == "sha1"
    assert not rep.explicit_trailer
    assert hashlib.sha1(rep.m1 + bytes.fromhex(ICAO["rnd_ifd"])).digest() == rep.digest
    assert iso9796.capacity(1024) == len(rep.m1) == 106


def test_icao_worked_example_card_side_builds_the_published_f() -> None:
    # The card signer, fed the example's M1 as its random bytes, must produce exactly F.
    key = rsa_key(1024)
    m1 = bytes.fromhex(ICAO["m1"])
    signature = iso9796.sign(key, bytes.fromhex(ICAO["rnd_ifd"]), "sha1", rng=lambda n: m1[:n])
    assert iso9796.open_signature(key.public_key(), signature) == bytes.fromhex(ICAO["f"])
    assert iso9796.verify(key.public_key(), signature, bytes.fromhex(ICAO["rnd_ifd"])).valid


@pytest.mark.parametrize("case", PUBLISHED["passport"]["cases"])
def test_real_passport_signatures(case: dict[str, str]) -> None:
    public_key = Dg15.from_bytes(bytes.fromhex(PUBLISHED["passport"]["dg15"])).public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    outcome = iso9796.verify(
        public_key, bytes.fromhex(case["signature"]), bytes.fromhex(case["challenge"])
    )
    assert outcome.valid, outcome.reason
    assert outcome.representative is not None
    assert outcome.representative.m1 == bytes.fromhex(case["m1"])


def test_bouncycastle_vector() -> None:
    vector = PUBLISHED["bouncycastle"]
    public_key = load_der_public_key(bytes.fromhex(vector["spki"]))
    assert isinstance(public_key, rsa.RSAPublicKey)
    outcome = iso9796.verify(
        public_key, bytes.fromhex(vector["signature"]), bytes.fromhex(vector["challenge"])
    )
    assert outcome.valid
    assert outcome.representative is not None
    assert outcome.representative.m1 == bytes.fromhex(vector["m1"])


@pytest.mark.parametrize("case", PUBLISHED["passport"]["cases"])
def test_real_passport_signature_tampered(case: dict[str, str]) -> None:
    public_key = Dg15.from_bytes(bytes.fromhex(PUBLISHED["passport"]["dg15"])).public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    signature = bytearray(bytes.fromhex(case["signature"]))
    challenge = bytes.fromhex(case["challenge"])
    for position in (0, len(signature) // 2, len(signature) - 1):
        bad = bytearray(signature)
        bad[position] ^= 0x01
        assert not iso9796.verify(public_key, bytes(bad), challenge).valid
    wrong_challenge = bytes([challenge[0] ^ 1]) + challenge[1:]
    outcome = iso9796.verify(public_key, bytes(signature), wrong_challenge)
    assert not outcome.valid
    assert "hash" in outcome.reason


# --- Independently built layouts (no published vector for SHA-2 trailers) ---------------------

# ISO/IEC 10118-3 hash identifiers, as listed in ISO/IEC 9796-2 Table 1.
ISO_10118_3 = {"sha1": 0x33, "sha256": 0x34, "sha384": 0x36, "sha512": 0x35, "sha224": 0x38}


@pytest.mark.parametrize("hash_name", sorted(ISO_10118_3))
def test_hand_built_explicit_trailer_signature_verifies(hash_name: str) -> None:
    key = rsa_key(2048)
    m2 = bytes(range(8))
    size = 256
    h_len = hashlib.new(hash_name).digest_size
    m1 = bytes([0x5A]) * (size - 1 - h_len - 2)
    f = (
        b"\x6a"
        + m1
        + hashlib.new(hash_name, m1 + m2).digest()
        + bytes([ISO_10118_3[hash_name], 0xCC])
    )
    outcome = iso9796.verify(key.public_key(), raw_rsa_sign(key, f), m2)
    assert outcome.valid, outcome.reason
    assert outcome.hash_name == hash_name


@pytest.mark.parametrize("hash_name", sorted(ISO_10118_3))
def test_card_signer_writes_the_standard_trailer(hash_name: str) -> None:
    key = rsa_key(2048)
    signature = iso9796.sign(key, b"challenge", hash_name)
    f = iso9796.open_signature(key.public_key(), signature)
    assert f[0] == 0x6A
    if hash_name == "sha1":
        assert f[-1] == 0xBC
    else:
        assert f[-2:] == bytes([ISO_10118_3[hash_name], 0xCC])
    assert iso9796.verify(key.public_key(), signature, b"challenge").valid


def test_signature_as_n_minus_s_is_accepted() -> None:
    # ISO/IEC 9796-2 lets the signer output min(s, n - s); the verifier recovers either.
    key = rsa_key(1024)
    n = key.public_key().public_numbers().n
    signature = iso9796.sign(key, b"12345678")
    other = (n - int.from_bytes(signature, "big")).to_bytes(128, "big")
    assert iso9796.verify(key.public_key(), other, b"12345678").valid


def test_total_recovery_hand_built() -> None:
    key = rsa_key(1024)
    message = b"\x11" * 8
    digest = hashlib.sha1(message).digest()
    padding_length = 128 - len(message) - len(digest) - 1
    f = b"\x4b" + b"\xbb" * (padding_length - 2) + b"\xba" + message + digest + b"\xbc"
    signature = raw_rsa_sign(key, f)
    assert iso9796.verify(key.public_key(), signature, message).valid
    assert not iso9796.verify(key.public_key(), signature, b"\x12" * 8).valid


def test_wrong_length_and_range_are_invalid_not_exceptions() -> None:
    key = rsa_key(1024)
    assert not iso9796.verify(key.public_key(), b"\x01" * 127, b"x").valid
    assert not iso9796.verify(key.public_key(), b"\x00" * 128, b"x").valid
    assert not iso9796.verify(key.public_key(), b"\xff" * 128, b"x").valid


def test_unknown_hash_identifier() -> None:
    with pytest.raises(EncodingError, match="hash identifier 37"):
        Representative.decode(b"\x6a" + bytes(40) + b"\x37\xcc")


def test_bad_header_padding_trailer() -> None:
    with pytest.raises(EncodingError, match="header"):
        Representative.decode(b"\x2a" + bytes(40) + b"\xbc")
    with pytest.raises(EncodingError, match="padding"):
        Representative.decode(b"\x4b\xbb\xb0" + bytes(40) + b"\xbc")
    with pytest.raises(EncodingError, match="trailer"):
        Representative.decode(b"\x6a" + bytes(40) + b"\xbd")


# --- Properties --------------------------------------------------------------------------------


@given(
    partial=st.booleans(),
    hash_name=st.sampled_from(sorted(ISO_10118_3)),
    m1=st.binary(max_size=60),
    length=st.integers(min_value=64, max_value=160),
    explicit=st.booleans(),
)
def test_representative_round_trip(
    partial: bool, hash_name: str, m1: bytes, length: int, explicit: bool
) -> None:
    explicit = explicit or hash_name != "sha1"
    digest = hashlib.new(hash_name, m1).digest()
    rep = Representative(partial, m1, digest, hash_name, explicit)
    try:
        encoded = rep.encode(length)
    except ValueError:
        assert length - len(digest) - len(rep.trailer) - len(m1) < 1
        return
    assert len(encoded) == length
    assert Representative.decode(encoded) == rep


@given(st.binary(max_size=300))
def test_decode_random_bytes_raises_only_encoding_error(data: bytes) -> None:
    try:
        rep = Representative.decode(data)
    except EncodingError:
        return
    assert isinstance(rep, Representative)


@given(st.binary(min_size=128, max_size=128), st.binary(max_size=16))
def test_verify_never_raises_on_random_signatures(signature: bytes, m2: bytes) -> None:
    outcome = iso9796.verify(rsa_key(1024).public_key(), signature, m2)
    assert isinstance(outcome.valid, bool)
    assert outcome.reason
