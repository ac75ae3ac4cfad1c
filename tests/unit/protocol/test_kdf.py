"""KDF of ICAO 9303-11 §9.7.1 against the worked example of Appendix D.1 (BAC key derivation)."""

from __future__ import annotations

from cardkit.protocol.kdf import ENC, MAC, adjust_parity, kdf

# ICAO 9303-11 Appendix D.1: K_seed from the MRZ information "L898902C<369080619406236".
K_SEED = bytes.fromhex("239AB9CB282DAF66231DC5A4DF6BFBAE")


def test_appendix_d1_bac_keys() -> None:
    assert kdf(K_SEED, ENC, "3DES") == bytes.fromhex("AB94FDECF2674FDFB9B391F85D7F76F2")
    assert kdf(K_SEED, MAC, "3DES") == bytes.fromhex("7962D9ECE03D1ACD4C76089DCE131543")


def test_parity() -> None:
    adjusted = adjust_parity(bytes(range(256)))
    assert all(bin(b).count("1") % 2 == 1 for b in adjusted)
    assert all(a >> 1 == b >> 1 for a, b in zip(adjusted, range(256), strict=True))
