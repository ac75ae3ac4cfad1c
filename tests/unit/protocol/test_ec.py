"""Prime-curve arithmetic (cardkit.protocol.ec) against ``cryptography`` (OpenSSL) and SEC 1."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec as lib_ec
from hypothesis import given
from hypothesis import strategies as st

from cardkit.encoding.asn1 import CURVES
from cardkit.errors import EncodingError
from cardkit.protocol import ec

NAMES = [c.name for c in CURVES]


@pytest.mark.parametrize("name", NAMES)
def test_generator_on_curve_and_order(name: str) -> None:
    curve = ec.curve_by_name(name)
    g = ec.generator(curve)
    assert ec.is_on_curve(curve, g)
    # n·G = O, (n-1)·G = -G: checks the window code on a full-length scalar.
    assert ec.multiply(curve, curve.n - 1, g) == ec.negate(curve, g)
    assert ec.add(curve, ec.multiply(curve, curve.n - 1, g), g) is None


@pytest.mark.parametrize("name", [n for n in NAMES if ec.library_curve(ec.curve_by_name(n))])
@given(k=st.integers(min_value=1))
def test_multiply_matches_openssl(name: str, k: int) -> None:
    curve = ec.curve_by_name(name)
    k = k % (curve.n - 1) + 1
    lib = ec.library_curve(curve)
    assert lib is not None
    numbers = lib_ec.derive_private_key(k, lib).public_key().public_numbers()
    assert ec.multiply(curve, k, ec.generator(curve)) == (numbers.x, numbers.y)
    assert ec.base_multiply(curve, k) == (numbers.x, numbers.y)


@given(a=st.integers(1, 2**200), b=st.integers(1, 2**200))
def test_group_laws(a: int, b: int) -> None:
    curve = ec.curve_by_name("brainpoolP224r1")  # pure Python only (not in OpenSSL's list here)
    g = ec.generator(curve)
    pa, pb = ec.multiply(curve, a, g), ec.multiply(curve, b, g)
    assert ec.add(curve, pa, pb) == ec.multiply(curve, a + b, g)
    assert ec.multiply(curve, b, pa) == ec.multiply(curve, a * b, g)
    assert ec.double(curve, pa) == ec.add(curve, pa, pa)
    assert ec.add(curve, pa, None) == pa
    assert pa is not None and pb is not None
    product = ec.multiply(curve, a * b, g)
    assert product is not None and ec.ecdh_x(curve, b, pa) == product[0]


@pytest.mark.parametrize("name", NAMES)
@given(k=st.integers(min_value=1, max_value=2**160))
def test_encode_decode_round_trip(name: str, k: int) -> None:
    curve = ec.curve_by_name(name)
    point = ec.multiply(curve, k, ec.generator(curve))
    encoded = ec.encode_point(curve, point)
    assert len(encoded) == 1 + 2 * curve.field_length  # left-padded coordinates
    assert ec.decode_point(curve, encoded) == point


def test_left_padding() -> None:
    """SEC 1 §2.3.5: a coordinate with leading zero bytes keeps its full field length."""
    curve = ec.curve_by_name("secp256r1")
    k = 1
    while True:  # find a point whose x has a leading zero byte
        point = ec.multiply(curve, k, ec.generator(curve))
        assert point is not None
        if point[0] < 1 << 248:
            break
        k += 1
    encoded = ec.encode_point(curve, point)
    assert encoded[1] == 0 and len(encoded) == 65
    lib = lib_ec.EllipticCurvePublicKey.from_encoded_point(lib_ec.SECP256R1(), encoded)
    assert (lib.public_numbers().x, lib.public_numbers().y) == point


@given(data=st.binary(max_size=140))
def test_decode_malformed(data: bytes) -> None:
    curve = ec.curve_by_name("brainpoolP256r1")
    try:
        point = ec.decode_point(curve, data)
    except EncodingError:
        return
    assert ec.is_on_curve(curve, point)


def test_decode_rejects() -> None:
    curve = ec.curve_by_name("brainpoolP256r1")
    good = ec.encode_point(curve, ec.generator(curve))
    for bad in (
        good[:-1],
        b"\x02" + good[1:33],
        b"\x03" + good[1:],
        good[:-1] + bytes([good[-1] ^ 1]),
    ):
        with pytest.raises(EncodingError):
            ec.decode_point(curve, bad)
    too_big = b"\x04" + curve.p.to_bytes(32, "big") + good[33:]
    with pytest.raises(EncodingError):
        ec.decode_point(curve, too_big)
    with pytest.raises(ValueError):
        ec.encode_point(curve, None)
    with pytest.raises(ValueError):
        ec.base_multiply(curve, 0)
