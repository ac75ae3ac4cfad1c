"""Symmetric helpers of cardkit.protocol.crypto against published vectors.

Sources: ICAO 9303-11 Appendix D.3/D.4 (3DES-CBC and the retail MAC, tests/vectors/bac_* and
sm_*), RFC 4493 §4 (AES-CMAC), NIST SP 800-38A Appendix F.2.1 (AES-CBC), FIPS 197 Appendix C.1
(one AES block).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cardkit.errors import EncodingError
from cardkit.protocol import crypto

VECTORS = Path(__file__).parents[2] / "vectors"
BAC = json.loads((VECTORS / "bac_icao9303_11_appendix_d.json").read_text())
SM = json.loads((VECTORS / "sm_icao9303_11_appendix_d4.json").read_text())


def h(text: str) -> bytes:
    return bytes.fromhex(text)


# --------------------------------------------------------------------------- padding


def test_padding_examples_from_appendix_d4() -> None:
    # ICAO 9303-11 D.4: "Pad data" 011E → 011E800000000000, header 0CA4020C → 0CA4020C80000000.
    assert crypto.pad(h("011E"), 8) == h(SM["exchanges"][0]["padded_data"])
    assert crypto.pad(h("0CA4020C"), 8) == h(SM["exchanges"][0]["padded_header"])
    assert crypto.pad(b"", 8) == h("8000000000000000")
    assert crypto.pad(bytes(8), 8) == bytes(8) + h("8000000000000000")  # always a full block


@given(st.binary(max_size=100), st.sampled_from([8, 16]))
def test_pad_unpad_round_trip(data: bytes, block: int) -> None:
    padded = crypto.pad(data, block)
    assert len(padded) % block == 0 and len(padded) > len(data)
    assert crypto.unpad(padded) == data


@given(st.binary(max_size=64))
def test_unpad_malformed_raises_encoding_error_only(data: bytes) -> None:
    try:
        result = crypto.unpad(data)
    except EncodingError:
        return
    assert crypto.pad(result, 1) == data.rstrip(b"\x00")


@pytest.mark.parametrize("data", [b"", bytes(8), h("0102030400000000"), h("80") + b"\x01"])
def test_unpad_rejects_missing_padding(data: bytes) -> None:
    with pytest.raises(EncodingError):
        crypto.unpad(data)


# --------------------------------------------------------------------------- 3DES and retail MAC


def test_3des_appendix_d3() -> None:
    d2, d3 = BAC["d2"], BAC["d3"]
    assert crypto.des3_encrypt(h(d2["k_enc"]), h(d3["s"])) == h(d3["e_ifd"])
    assert crypto.des3_encrypt(h(d2["k_enc"]), h(d3["r"])) == h(d3["e_icc"])
    assert crypto.des3_decrypt(h(d2["k_enc"]), h(d3["e_icc"])) == h(d3["r"])


def test_3des_appendix_d4() -> None:
    first = SM["exchanges"][0]
    assert crypto.des3_encrypt(h(SM["ks_enc"]), h(first["padded_data"])) == h(
        first["encrypted_data"]
    )


def test_retail_mac_appendix_d3_pads_its_input() -> None:
    # D.3: M_IFD = MAC(K_mac, E_IFD) and M_ICC = MAC(K_mac, E_ICC), padding method 2 applied.
    k_mac = h(BAC["d2"]["k_mac"])
    assert crypto.retail_mac(k_mac, h(BAC["d3"]["e_ifd"])) == h(BAC["d3"]["m_ifd"])
    assert crypto.retail_mac(k_mac, h(BAC["d3"]["e_icc"])) == h(BAC["d3"]["m_icc"])


@pytest.mark.parametrize("exchange", SM["exchanges"], ids=lambda e: e["name"])
def test_retail_mac_appendix_d4_over_n_and_k(exchange: dict[str, str]) -> None:
    ks_mac = h(SM["ks_mac"])
    assert crypto.retail_mac(ks_mac, h(exchange["n"]), pad_input=False) == h(exchange["cc"])
    assert crypto.retail_mac(ks_mac, h(exchange["k"]), pad_input=False) == h(
        exchange["response_cc"]
    )


def test_retail_mac_rejects_unaligned_unpadded_input() -> None:
    with pytest.raises(ValueError):
        crypto.retail_mac(bytes(16), b"\x01\x02", pad_input=False)
    with pytest.raises(ValueError):
        crypto.retail_mac(bytes(8), b"")


@given(st.binary(min_size=16, max_size=16), st.binary(max_size=64))
def test_3des_round_trip(key: bytes, data: bytes) -> None:
    padded = crypto.pad(data, 8)
    assert crypto.unpad(crypto.des3_decrypt(key, crypto.des3_encrypt(key, padded))) == data


# --------------------------------------------------------------------------- AES


# RFC 4493 §4: AES-128 key, examples 1, 2 and 4 (we keep the first 8 bytes, 9303-11 §9.8.7.2).
RFC4493_KEY = h("2b7e151628aed2a6abf7158809cf4f3c")
RFC4493 = [
    ("", "bb1d6929e95937287fa37d129b756746"),
    ("6bc1bee22e409f96e93d7e117393172a", "070a16b46b4d4144f79bdd9dd04a287c"),
    (
        "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
        "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710",
        "51f0bebf7e3b9d92fc49741779363cfe",
    ),
]


@pytest.mark.parametrize(("message", "tag"), RFC4493)
def test_aes_cmac_rfc4493(message: str, tag: str) -> None:
    assert crypto.aes_cmac(RFC4493_KEY, h(message)) == h(tag)[:8]


def test_aes_cbc_sp800_38a_f21() -> None:
    # NIST SP 800-38A F.2.1 CBC-AES128.Encrypt, first two blocks.
    iv = h("000102030405060708090a0b0c0d0e0f")
    plain = h("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51")
    cipher = h("7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2")
    assert crypto.aes_encrypt(RFC4493_KEY, plain, iv) == cipher
    assert crypto.aes_decrypt(RFC4493_KEY, cipher, iv) == plain


def test_aes_block_fips197_c1() -> None:
    key = h("000102030405060708090a0b0c0d0e0f")
    assert crypto.aes_encrypt_block(key, h("00112233445566778899aabbccddeeff")) == h(
        "69c4e0d86a7b0430d8cdb78070b4c55a"
    )


@pytest.mark.parametrize("key_length", [16, 24, 32])
def test_aes_round_trip_all_key_lengths(key_length: int) -> None:
    key, iv = bytes(range(key_length)), bytes(16)
    data = crypto.pad(b"cardkit", 16)
    assert crypto.aes_decrypt(key, crypto.aes_encrypt(key, data, iv), iv) == data
    assert len(crypto.aes_cmac(key, data)) == 8


@pytest.mark.parametrize(
    "call",
    [
        lambda: crypto.aes_encrypt(bytes(15), bytes(16), bytes(16)),
        lambda: crypto.aes_encrypt(bytes(16), bytes(15), bytes(16)),
        lambda: crypto.aes_encrypt_block(bytes(16), bytes(8)),
        lambda: crypto.aes_cmac(bytes(20), b""),
        lambda: crypto.des3_encrypt(bytes(8), bytes(8)),
        lambda: crypto.des3_decrypt(bytes(16), bytes(7)),
    ],
)
def test_programming_errors_raise_value_error(call: object) -> None:
    assert callable(call)
    with pytest.raises(ValueError):
        call()


def test_constant_time_equal() -> None:
    assert crypto.constant_time_equal(b"\x01\x02", b"\x01\x02")
    assert not crypto.constant_time_equal(b"\x01\x02", b"\x01\x03")
    assert not crypto.constant_time_equal(b"\x01", b"\x01\x02")
