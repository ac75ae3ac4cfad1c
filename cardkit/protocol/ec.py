"""Prime-curve arithmetic for PACE: points, Jacobian-coordinate scalar multiplication, encoding.

PACE's generic mapping (ICAO 9303-11 §4.4.3.3.1) computes on a *mapped* generator
``G' = s·G + H`` that no library exposes, so the points are handled here in pure Python.
Everything that can be done on the curve's standard generator or as a plain ECDH (the mapping
key pair, the final key agreement) goes through ``cryptography`` instead (see
:func:`base_multiply` and :func:`ecdh_x`), which is faster and constant time.

Points are affine ``(x, y)`` tuples; ``None`` is the point at infinity. Curves are the
:class:`cardkit.encoding.asn1.Curve` table entries (SEC 2, RFC 5639). Encoded points are the
uncompressed form ``04 ‖ X ‖ Y`` of SEC 1 §2.3.3 with both coordinates left-padded to the field
length (9303-11 §9.4.1 / BSI TR-03111 §3.2.1).

The pure-Python code is not constant time: it is used on the terminal side and in cardkit's
chip emulator, never on a secret that outlives the session.
"""

from __future__ import annotations

from typing import TypeAlias

from cryptography.hazmat.primitives.asymmetric import ec as _ec

from cardkit.encoding.asn1 import CURVES, Curve
from cardkit.errors import EncodingError

Point: TypeAlias = tuple[int, int] | None  # None: the point at infinity
_Jacobian: TypeAlias = tuple[int, int, int]  # (X, Y, Z) with x = X/Z², y = Y/Z³; Z = 0: infinity

_INFINITY: _Jacobian = (1, 1, 0)

# Curves ``cryptography`` computes on (OpenSSL built-ins), by cardkit's curve name.
_LIBRARY_CURVES: dict[str, type[_ec.EllipticCurve]] = {
    "secp192r1": _ec.SECP192R1,
    "secp224r1": _ec.SECP224R1,
    "secp256r1": _ec.SECP256R1,
    "secp384r1": _ec.SECP384R1,
    "secp521r1": _ec.SECP521R1,
    "brainpoolP256r1": _ec.BrainpoolP256R1,
    "brainpoolP384r1": _ec.BrainpoolP384R1,
    "brainpoolP512r1": _ec.BrainpoolP512R1,
}


def curve_by_name(name: str) -> Curve:
    """The curve of :data:`cardkit.encoding.asn1.CURVES` called ``name`` (ValueError if none)."""
    for curve in CURVES:
        if curve.name == name:
            return curve
    raise ValueError(f"unknown curve {name!r}")


def generator(curve: Curve) -> tuple[int, int]:
    """The curve's standard base point G."""
    return (curve.gx, curve.gy)


def is_on_curve(curve: Curve, point: Point) -> bool:
    """Whether ``point`` is a finite point of ``curve`` (coordinates in [0, p), y² = x³+ax+b)."""
    if point is None:
        return False
    x, y = point
    p = curve.p
    if not (0 <= x < p and 0 <= y < p):
        return False
    return (y * y - (x * x * x + curve.a * x + curve.b)) % p == 0


# --- Jacobian arithmetic (formulas of Cohen–Miyaji–Ono, "add-2007-bl" / "dbl-2007-bl") -------


def _to_jacobian(point: Point) -> _Jacobian:
    return _INFINITY if point is None else (point[0], point[1], 1)


def _from_jacobian(curve: Curve, q: _Jacobian) -> Point:
    x, y, z = q
    if z == 0:
        return None
    p = curve.p
    z_inv = pow(z, -1, p)
    z_inv2 = z_inv * z_inv % p
    return (x * z_inv2 % p, y * z_inv2 * z_inv % p)


def _double(curve: Curve, q: _Jacobian) -> _Jacobian:
    x1, y1, z1 = q
    if z1 == 0 or y1 == 0:
        return _INFINITY
    p = curve.p
    xx = x1 * x1 % p
    yy = y1 * y1 % p
    yyyy = yy * yy % p
    zz = z1 * z1 % p
    s = 2 * ((x1 + yy) * (x1 + yy) - xx - yyyy) % p
    m = (3 * xx + curve.a * zz * zz) % p
    x3 = (m * m - 2 * s) % p
    y3 = (m * (s - x3) - 8 * yyyy) % p
    z3 = ((y1 + z1) * (y1 + z1) - yy - zz) % p
    return (x3, y3, z3)


def _add(curve: Curve, q1: _Jacobian, q2: _Jacobian) -> _Jacobian:
    x1, y1, z1 = q1
    x2, y2, z2 = q2
    if z1 == 0:
        return q2
    if z2 == 0:
        return q1
    p = curve.p
    z1z1 = z1 * z1 % p
    z2z2 = z2 * z2 % p
    u1 = x1 * z2z2 % p
    u2 = x2 * z1z1 % p
    s1 = y1 * z2 * z2z2 % p
    s2 = y2 * z1 * z1z1 % p
    if u1 == u2:
        return _double(curve, q1) if s1 == s2 else _INFINITY
    h = (u2 - u1) % p
    i = 4 * h * h % p
    j = h * i % p
    r = 2 * (s2 - s1) % p
    v = u1 * i % p
    x3 = (r * r - j - 2 * v) % p
    y3 = (r * (v - x3) - 2 * s1 * j) % p
    z3 = ((z1 + z2) * (z1 + z2) - z1z1 - z2z2) * h % p
    return (x3, y3, z3)


def _negate(curve: Curve, q: _Jacobian) -> _Jacobian:
    return (q[0], (-q[1]) % curve.p, q[2])


def _wnaf(k: int, width: int) -> list[int]:
    """Width-w non-adjacent form of ``k`` (least significant digit first)."""
    digits: list[int] = []
    modulus = 1 << width
    half = modulus >> 1
    while k:
        if k & 1:
            d = k % modulus
            if d >= half:
                d -= modulus
            k -= d
        else:
            d = 0
        digits.append(d)
        k >>= 1
    return digits


def add(curve: Curve, p1: Point, p2: Point) -> Point:
    """``p1 + p2`` on ``curve``."""
    return _from_jacobian(curve, _add(curve, _to_jacobian(p1), _to_jacobian(p2)))


def double(curve: Curve, point: Point) -> Point:
    """``2·point`` on ``curve``."""
    return _from_jacobian(curve, _double(curve, _to_jacobian(point)))


def negate(curve: Curve, point: Point) -> Point:
    """``-point`` on ``curve``."""
    return None if point is None else (point[0], (-point[1]) % curve.p)


def multiply(curve: Curve, k: int, point: Point) -> Point:
    """``k·point`` (pure Python: Jacobian coordinates, width-4 NAF)."""
    if point is None:
        return None
    k %= curve.n * curve.h
    if k == 0:
        return None
    base = _to_jacobian(point)
    twice = _double(curve, base)
    # Precompute the odd multiples P, 3P, 5P, 7P for the window.
    table = [base]
    for _ in range(3):
        table.append(_add(curve, table[-1], twice))
    acc = _INFINITY
    for digit in reversed(_wnaf(k, 4)):
        acc = _double(curve, acc)
        if digit > 0:
            acc = _add(curve, acc, table[digit >> 1])
        elif digit < 0:
            acc = _add(curve, acc, _negate(curve, table[(-digit) >> 1]))
    return _from_jacobian(curve, acc)


# --- Encoding (SEC 1 §2.3.3 uncompressed, 9303-11 §9.4.1) ------------------------------------


def encode_point(curve: Curve, point: Point) -> bytes:
    """``04 ‖ X ‖ Y`` with both coordinates left-padded to the field length."""
    if point is None:
        raise ValueError("the point at infinity has no uncompressed encoding here")
    size = curve.field_length
    return b"\x04" + point[0].to_bytes(size, "big") + point[1].to_bytes(size, "big")


def decode_point(curve: Curve, data: bytes) -> tuple[int, int]:
    """Decode an uncompressed point and check it is a finite point of ``curve``.

    A point from the other side of a key agreement must be validated before use (BSI TR-03111
    §3.2.2.1): otherwise an invalid-curve point could leak the private key.
    """
    size = curve.field_length
    if len(data) != 1 + 2 * size:
        raise EncodingError(
            f"{curve.name} point: {len(data)} bytes, expected {1 + 2 * size} (04 ‖ X ‖ Y)"
        )
    if data[0] != 0x04:
        raise EncodingError(
            f"{curve.name} point: first byte {data[0]:02X}, only the uncompressed form 04 "
            "is used by PACE (9303-11 §9.4.1)",
            offset=0,
        )
    point = (int.from_bytes(data[1 : 1 + size], "big"), int.from_bytes(data[1 + size :], "big"))
    if not is_on_curve(curve, point):
        raise EncodingError(f"{curve.name} point is not on the curve")
    return point


# --- Library-accelerated operations ----------------------------------------------------------


def library_curve(curve: Curve) -> _ec.EllipticCurve | None:
    """The ``cryptography`` curve object for ``curve``, or None when it must stay pure Python."""
    factory = _LIBRARY_CURVES.get(curve.name)
    return factory() if factory is not None else None


def base_multiply(curve: Curve, k: int) -> tuple[int, int]:
    """``k·G`` on the standard generator, through ``cryptography`` where the curve allows."""
    if not 0 < k < curve.n:
        raise ValueError("scalar out of range [1, n-1]")
    lib = library_curve(curve)
    if lib is not None:
        numbers = _ec.derive_private_key(k, lib).public_key().public_numbers()
        return (numbers.x, numbers.y)
    result = multiply(curve, k, generator(curve))
    assert result is not None  # k in [1, n-1] on a prime-order group
    return result


def ecdh_x(curve: Curve, k: int, point: tuple[int, int]) -> int:
    """The x coordinate of ``k·point`` (plain ECDH, 9303-11 §9.6 / TR-03111 §4.3.1).

    ``point`` must already be validated. Raises ValueError when the result is infinity.
    """
    if not 0 < k < curve.n:
        raise ValueError("scalar out of range [1, n-1]")
    lib = library_curve(curve)
    if lib is not None:
        private = _ec.derive_private_key(k, lib)
        peer = _ec.EllipticCurvePublicNumbers(point[0], point[1], lib).public_key()
        return int.from_bytes(private.exchange(_ec.ECDH(), peer), "big")
    result = multiply(curve, k, point)
    if result is None:
        raise ValueError("ECDH result is the point at infinity")
    return result[0]
