"""Active authentication (cardkit.protocol.aa): APDU, RSA and ECDSA verification, clones."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given
from hypothesis import strategies as st

from cardkit.encoding import oids
from cardkit.errors import CardError, EncodingError
from cardkit.iso7816.apdu import Command, Response
from cardkit.lds.dg14 import Dg14
from cardkit.lds.dg15 import Dg15
from cardkit.lds.security_infos import ActiveAuthenticationInfo, TerminalAuthenticationInfo
from cardkit.protocol import aa

VECTORS = Path(__file__).parents[2] / "vectors"
PUBLISHED = json.loads((VECTORS / "aa_iso9796_2_published_signatures.json").read_text())

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@cache
def rsa_key(bits: int, n: int = 0) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


@cache
def ec_key(curve: str, n: int = 0) -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key({"p256": ec.SECP256R1(), "bp256": ec.BrainpoolP256R1()}[curve])


class FakeChip:
    """Answers INTERNAL AUTHENTICATE with the card-side signer; records the APDUs."""

    def __init__(self, key: PrivateKey, algorithm: str | None, sw: int = 0x9000) -> None:
        self.key, self.algorithm, self.sw = key, algorithm, sw
        self.commands: list[Command] = []

    def send(self, command: Command) -> Response:
        self.commands.append(command)
        if self.sw != 0x9000:
            return Response(b"", self.sw)
        return Response(aa.sign_aa_challenge(self.key, command.data, self.algorithm), 0x9000)


def dg14_with(signature_algorithm: str) -> Dg14:
    return Dg14.build(
        [ActiveAuthenticationInfo.build(signature_algorithm), TerminalAuthenticationInfo.build()]
    )


def fixed_rng(value: bytes):  # type: ignore[no-untyped-def]
    return lambda n: value[:n]


CHALLENGE = bytes.fromhex("F173589974BF40C6")


def test_internal_authenticate_apdu() -> None:
    chip = FakeChip(rsa_key(1024), None)
    result = aa.perform_aa(chip, Dg15.build(rsa_key(1024).public_key()), None, fixed_rng(CHALLENGE))
    assert result.verified
    # 9303-11 §6.1: 00 88 00 00, Lc 08, RND.IFD, Le 00 (Ne = 256).
    assert bytes(chip.commands[0]) == bytes.fromhex("0088000008F173589974BF40C600")


@pytest.mark.parametrize(
    ("bits", "algorithm", "expected"),
    [
        (1024, None, "RSA ISO/IEC 9796-2 SHA1"),
        (2048, None, "RSA ISO/IEC 9796-2 SHA1"),
        (1024, oids.SHA256_WITH_RSA, "RSA ISO/IEC 9796-2 SHA256"),
        (2048, oids.SHA256_WITH_RSA, "RSA ISO/IEC 9796-2 SHA256"),
    ],
)
def test_rsa(bits: int, algorithm: str | None, expected: str) -> None:
    key = rsa_key(bits)
    result = aa.perform_aa(FakeChip(key, algorithm), Dg15.build(key.public_key()), None)
    assert result.verified, result.detail
    assert result.algorithm == expected


@pytest.mark.parametrize("curve", ["p256", "bp256"])
@pytest.mark.parametrize(
    "algorithm",
    [oids.ECDSA_PLAIN_SHA1, oids.ECDSA_PLAIN_SHA224, oids.ECDSA_PLAIN_SHA256,
     oids.ECDSA_PLAIN_SHA384, oids.ECDSA_PLAIN_SHA512, oids.ECDSA_WITH_SHA256],
)  # fmt: skip
def test_ecdsa(curve: str, algorithm: str) -> None:
    key = ec_key(curve)
    chip = FakeChip(key, algorithm)
    result = aa.perform_aa(chip, Dg15.build(key.public_key()), dg14_with(algorithm))
    assert result.verified, result.detail
    assert result.algorithm.startswith("ECDSA SHA")


def test_ecdsa_signature_is_plain_r_s() -> None:
    key = ec_key("p256")
    signature = aa.sign_aa_challenge(key, CHALLENGE, oids.ECDSA_PLAIN_SHA256)
    assert len(signature) == 64  # TR-03111 §5.2.1: r ‖ s, 32 bytes each on P-256
    assert aa.verify_aa_signature(key.public_key(), CHALLENGE, signature, oids.ECDSA_PLAIN_SHA256)
    assert not aa.verify_aa_signature(
        key.public_key(), CHALLENGE, signature, oids.ECDSA_PLAIN_SHA384
    )


def test_ec_without_aa_info_assumes_sha256() -> None:
    key = ec_key("p256")
    result = aa.perform_aa(FakeChip(key, None), Dg15.build(key.public_key()), None)
    assert result.verified
    assert "SHA-256 assumed" in result.detail


@pytest.mark.parametrize(
    ("clone", "genuine", "algorithm"),
    [
        (rsa_key(1024, 1), rsa_key(1024), None),
        (rsa_key(2048, 1), rsa_key(2048), oids.SHA256_WITH_RSA),
        (ec_key("p256", 1), ec_key("p256"), oids.ECDSA_PLAIN_SHA256),
        (ec_key("bp256", 1), ec_key("bp256"), oids.ECDSA_PLAIN_SHA256),
    ],
)
def test_cloned_chip_is_not_verified(
    clone: PrivateKey, genuine: PrivateKey, algorithm: str | None
) -> None:
    # A clone copies DG15 but not the private key: it signs with another key.
    dg14 = (
        dg14_with(algorithm)
        if algorithm and isinstance(genuine, ec.EllipticCurvePrivateKey)
        else None
    )
    result = aa.perform_aa(FakeChip(clone, algorithm), Dg15.build(genuine.public_key()), dg14)
    assert result.verified is False
    assert result.detail


def test_replayed_signature_for_another_challenge_fails() -> None:
    key = rsa_key(1024)
    old = aa.sign_aa_challenge(key, b"AAAAAAAA", None)
    assert not aa.verify_aa_signature(key.public_key(), b"BBBBBBBB", old, None)


@pytest.mark.parametrize("case", PUBLISHED["passport"]["cases"])
def test_real_passport_answer_through_perform_aa(case: dict[str, str]) -> None:
    # Published AA answers of a real passport (ZeroPass/pymrtd tests), replayed byte for byte.
    signature = bytes.fromhex(case["signature"])

    class Replay:
        def send(self, command: Command) -> Response:
            assert command.data == bytes.fromhex(case["challenge"])
            return Response(signature, 0x9000)

    dg15 = Dg15.from_bytes(bytes.fromhex(PUBLISHED["passport"]["dg15"]))
    result = aa.perform_aa(Replay(), dg15, None, fixed_rng(bytes.fromhex(case["challenge"])))
    assert result == aa.AaResult(True, "RSA ISO/IEC 9796-2 SHA1", result.detail)


def test_refused_command_raises_card_error() -> None:
    key = rsa_key(1024)
    with pytest.raises(CardError) as info:
        aa.perform_aa(FakeChip(key, None, sw=0x6982), Dg15.build(key.public_key()), None)
    assert info.value.sw == 0x6982


def test_der_ecdsa_signature_accepted() -> None:
    key = ec_key("p256")
    der = key.sign(CHALLENGE, ec.ECDSA(aa._HASHES["sha256"]()))
    assert aa.verify_aa_signature(key.public_key(), CHALLENGE, der, oids.ECDSA_PLAIN_SHA256)


@given(st.binary(max_size=80))
def test_parse_plain_signature_random_bytes(data: bytes) -> None:
    try:
        r, s = aa.parse_plain_signature(data, 32)
    except EncodingError:
        return
    assert r >= 0 and s >= 0


@given(st.binary(max_size=300), st.binary(min_size=8, max_size=8))
def test_verify_random_signatures_is_false_not_an_exception(
    signature: bytes, challenge: bytes
) -> None:
    assert aa.verify_aa_signature(rsa_key(1024).public_key(), challenge, signature, None) is False
    assert aa.verify_aa_signature(ec_key("p256").public_key(), challenge, signature, None) is False
