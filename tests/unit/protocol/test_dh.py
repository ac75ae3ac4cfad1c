"""The standardized DH groups (9303-11 §9.5.1 = RFC 5114 §2.1–2.3): parameter properties,
encoding and public-value validation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cardkit.encoding import oids
from cardkit.errors import EncodingError
from cardkit.protocol import dh

BASES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37)


def _probable_prime(n: int) -> bool:
    """Miller–Rabin with fixed bases (enough to catch a transcription error)."""
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for a in BASES:
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


@pytest.mark.parametrize("parameter_id", [0, 1, 2])
def test_group_properties(parameter_id: int) -> None:
    group = dh.group(parameter_id)
    params = oids.domain_parameters(parameter_id)
    assert params.kind == "DH"
    assert group.p.bit_length() == params.bits
    assert group.q.bit_length() == {0: 160, 1: 224, 2: 256}[parameter_id]
    assert _probable_prime(group.p)
    assert _probable_prime(group.q)
    assert (group.p - 1) % group.q == 0
    assert pow(group.g, group.q, group.p) == 1
    assert group.g != 1


def test_rfc5114_known_words() -> None:
    """Spot checks against RFC 5114's printed words (first and last of each value)."""
    g0, g1, g2 = dh.group(0), dh.group(1), dh.group(2)
    assert f"{g0.p:X}".startswith("B10B8F96A080E01D") and f"{g0.p:X}".endswith("2E4A4371")
    assert f"{g0.q:X}" == "F518AA8781A8DF278ABA4E7D64B7CB9D49462353"
    assert f"{g1.q:X}" == "801C0D34C58D93FE997177101F80535A4738CEBCBF389A99B36371EB"
    assert f"{g2.q:X}" == "8CF83642A709A097B447997640129DA299B1A47D1EB3750BA308B0FE64F5FBD3"
    assert f"{g1.g:X}".endswith("191F2BFA") and f"{g2.g:X}".endswith("6CC41659")


def test_unknown_group() -> None:
    with pytest.raises(ValueError):
        dh.group(13)


@given(x=st.integers(min_value=1, max_value=2**160 - 1))
def test_encode_decode_round_trip(x: int) -> None:
    group = dh.group(0)
    y = pow(group.g, x % (group.q - 1) + 1, group.p)
    encoded = group.encode(y)
    assert len(encoded) == group.size
    assert group.decode_public(encoded) == y


@given(data=st.binary(max_size=140))
def test_decode_malformed(data: bytes) -> None:
    group = dh.group(0)
    try:
        y = group.decode_public(data)
    except EncodingError:
        return
    assert pow(y, group.q, group.p) == 1


@pytest.mark.parametrize("value", [0, 1, 2, "p-1", "p"])
def test_decode_rejects(value: int | str) -> None:
    group = dh.group(0)
    number = {"p-1": group.p - 1, "p": group.p}.get(str(value), value)
    assert isinstance(number, int)
    raw = (
        number.to_bytes(group.size + 1, "big")[-group.size :]
        if number < group.p
        else number.to_bytes(group.size, "big")
    )
    with pytest.raises(EncodingError):
        group.decode_public(raw)
    with pytest.raises(EncodingError):
        group.decode_public(bytes(group.size + 1))
