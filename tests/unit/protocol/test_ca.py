"""Chip authentication (cardkit.protocol.ca): ICAO key-agreement vectors, DG14 choice, APDUs,
and end to end against a test-local chip that runs sm.py's card side and the card-side helper."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from asn1crypto import core
from asn1crypto import keys as asn1_keys
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st

from cardkit.encoding import asn1, oids, tlv
from cardkit.errors import CardError, EncodingError, ProtocolError
from cardkit.iso7816.apdu import Command, Response
from cardkit.lds.dg14 import Dg14
from cardkit.lds.security_infos import ChipAuthenticationInfo, ChipAuthenticationPublicKeyInfo
from cardkit.protocol import ca
from cardkit.protocol.sm import SecureConnection, SecureMessaging

VECTORS = Path(__file__).parents[2] / "vectors"
KA = json.loads((VECTORS / "ca_icao9303_11_key_agreement.json").read_text())
BSI_DG14 = json.loads((VECTORS / "dg14_bsi_tr03105_5_reference.json").read_text())["dg14"]

AES128 = oids.CaAlgorithm.from_oid(oids.ID_CA_ECDH_AES_CBC_CMAC_128)
DH_AES128 = oids.CaAlgorithm.from_oid(oids.ID_CA_DH_AES_CBC_CMAC_128)


def h(value: str) -> bytes:
    return bytes.fromhex(value)


def dh_group() -> ca.DhGroup:
    v = KA["dh"]
    return ca.DhGroup(int(v["p"], 16), int(v["g"], 16), int(v["q"], 16))


# --- Known answers (ICAO 9303-11 worked examples of the same key agreement and KDF) ----------


def test_ecdh_key_agreement_icao_appendix_h() -> None:
    v = KA["ecdh"]
    terminal = ec.derive_private_key(int(v["terminal_private"], 16), ec.BrainpoolP256R1())
    shared = ca.key_agreement(terminal, h(v["chip_public"]))
    assert shared == h(v["shared_secret"])
    assert ca.session_keys(shared, AES128) == (h(v["k_enc"]), h(v["k_mac"]))
    # The pure-Python path (curves cryptography lacks) gives the same answer.
    curve = asn1.curve_by_oid(oids.BRAINPOOL_P256R1)
    pure = ca.EcPrivateKey(curve, int(v["terminal_private"], 16))
    assert ca.key_agreement(pure, h(v["chip_public"])) == h(v["shared_secret"])
    # DH is symmetric: the card-side helper computes the same keys from the other half.
    keys = ca.card_chip_authentication(terminal, h(v["chip_public"]), AES128.oid)
    assert keys == (h(v["k_enc"]), h(v["k_mac"]))


def test_dh_key_agreement_icao_appendix_g2() -> None:
    v = KA["dh"]
    terminal = ca.DhPrivateKey(dh_group(), int(v["terminal_private"], 16))
    shared = ca.key_agreement(terminal, h(v["chip_public"]))
    assert shared == h(v["shared_secret"])
    assert ca.session_keys(shared, DH_AES128) == (h(v["k_enc"]), h(v["k_mac"]))


def test_invalid_peer_keys_rejected() -> None:
    v = KA["ecdh"]
    terminal = ec.derive_private_key(int(v["terminal_private"], 16), ec.BrainpoolP256R1())
    off_curve = bytearray(h(v["chip_public"]))
    off_curve[-1] ^= 1
    with pytest.raises(ValueError):
        ca.key_agreement(terminal, bytes(off_curve))
    with pytest.raises(ProtocolError) as info:
        ca.card_chip_authentication(terminal, bytes(off_curve), AES128.oid)
    assert info.value.step == "chip authentication"
    dh = ca.DhPrivateKey(dh_group(), 5)
    for bad in (1, dh_group().p - 1, 2):  # 2 is not in the order-q subgroup
        with pytest.raises(ValueError):
            ca.key_agreement(dh, bad.to_bytes(128, "big"))


# --- Choosing the key and algorithm ----------------------------------------------------------


def test_bsi_reference_dg14() -> None:
    # BSI TR-03105-5 reference DG14: id-CA-ECDH-3DES-CBC-CBC, brainpoolP224r1 explicit params.
    dg14 = Dg14.from_bytes(h(BSI_DG14))
    info, pk, algorithm = ca.choose_ca(dg14)
    assert info is not None and algorithm.oid == oids.ID_CA_ECDH_3DES_CBC_CBC
    key = ca.chip_key(pk.public_key_info)
    assert key.kind == "ECDH" and key.curve is not None and key.curve.name == "brainpoolP224r1"
    ephemeral = ca.generate_ephemeral_key(key, rng=lambda n: b"\x42" * n)
    assert isinstance(ephemeral, ca.EcPrivateKey)  # cryptography has no brainpoolP224r1
    assert len(ca.key_agreement(ephemeral, key.public_bytes)) == 28


def ec_spki(private_key: ec.EllipticCurvePrivateKey) -> bytes:
    return private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def pure_ec_spki(key: ca.EcPrivateKey) -> bytes:
    return bytes(
        asn1_keys.PublicKeyInfo(
            {
                "algorithm": {"algorithm": "ec", "parameters": ("named", key.curve.oid)},
                "public_key": key.public_bytes(),
            }
        ).dump()
    )


def dh_spki(key: ca.DhPrivateKey) -> bytes:
    group = key.group
    return bytes(
        asn1_keys.PublicKeyInfo(
            {
                "algorithm": {
                    "algorithm": "dh",
                    "parameters": {"p": group.p, "g": group.g, "q": group.q},
                },
                "public_key": core.Integer(key.public_value),
            }
        ).dump()
    )


def test_choose_by_key_id_and_preference() -> None:
    k1, k2 = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP384R1())
    dg14 = Dg14.build(
        [
            ChipAuthenticationPublicKeyInfo.build(oids.ID_PK_ECDH, ec_spki(k1), key_id=1),
            ChipAuthenticationPublicKeyInfo.build(oids.ID_PK_ECDH, ec_spki(k2), key_id=2),
            ChipAuthenticationInfo.build(oids.ID_CA_ECDH_3DES_CBC_CBC, 1, key_id=1),
            ChipAuthenticationInfo.build(oids.ID_CA_ECDH_AES_CBC_CMAC_256, 1, key_id=2),
        ]
    )
    _, pk, algorithm = ca.choose_ca(dg14)
    assert (pk.key_id, algorithm.oid) == (2, oids.ID_CA_ECDH_AES_CBC_CMAC_256)
    _, pk, algorithm = ca.choose_ca(dg14, key_id=1)
    assert (pk.key_id, algorithm.oid) == (1, oids.ID_CA_ECDH_3DES_CBC_CBC)
    with pytest.raises(ProtocolError, match="keyId 7"):
        ca.choose_ca(dg14, key_id=7)


def test_dg14_without_ca_info_falls_back_to_3des() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    dg14 = Dg14.build([ChipAuthenticationPublicKeyInfo.build(oids.ID_PK_ECDH, ec_spki(key))])
    info, _, algorithm = ca.choose_ca(dg14)
    assert info is None and algorithm.oid == oids.ID_CA_ECDH_3DES_CBC_CBC


def test_family_mismatch_is_a_protocol_error() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    dg14 = Dg14.build(
        [
            ChipAuthenticationPublicKeyInfo.build(oids.ID_PK_ECDH, ec_spki(key)),
            ChipAuthenticationInfo.build(oids.ID_CA_DH_AES_CBC_CMAC_128, 1),
        ]
    )
    with pytest.raises(ProtocolError, match="do not match"):
        ca.choose_ca(dg14)


# --- APDUs -----------------------------------------------------------------------------------


def test_apdu_layouts() -> None:
    pk = b"\x04" + bytes(range(64))
    # TR-03110-3 §B.11.1 MSE:Set KAT: 00 22 41 A6, DO'91' key, DO'84' key reference.
    assert bytes(ca.mse_set_kat(pk, 1)) == h("002241A646") + b"\x91\x41" + pk + h("840101")
    assert bytes(ca.mse_set_kat(pk, None)) == h("002241A643") + b"\x91\x41" + pk
    # MSE:Set AT: DO'80' = the OID's content bytes (id-CA-ECDH-AES-CBC-CMAC-128).
    assert bytes(ca.mse_set_at(AES128.oid, 0x1234)) == h(
        "002241A410800A04007F0007020203020284021234"
    )
    # GENERAL AUTHENTICATE 7C { 80 key }, Le 00.
    assert bytes(ca.general_authenticate(pk)) == (
        h("0086000045") + b"\x7c\x43\x80\x41" + pk + b"\x00"
    )


@given(st.binary(max_size=40))
def test_general_authenticate_response_parser(data: bytes) -> None:
    try:
        ca.parse_general_authenticate_response(data)
    except EncodingError:
        assert data != b"\x7c\x00"
        return
    assert data == b"\x7c\x00"


@given(st.binary(max_size=200))
def test_chip_key_random_bytes_raise_only_encoding_error(data: bytes) -> None:
    try:
        key = ca.chip_key(data)
    except EncodingError:
        return
    assert key.kind in ("ECDH", "DH")


def raw_dh_spki(p: int, g: int, q: int, y: int) -> bytes:
    """A dhpublicnumber SubjectPublicKeyInfo with X9.42 parameters, whatever the numbers."""
    parameters = asn1_keys.DomainParameters({"p": p, "g": g, "q": q})
    algorithm = asn1_keys.PublicKeyAlgorithm({"algorithm": "dh", "parameters": parameters})
    info = asn1_keys.PublicKeyInfo({"algorithm": algorithm, "public_key": core.Integer(y)})
    return bytes(info.dump())


@pytest.mark.parametrize(
    ("p", "g", "q", "y"),
    [
        (15, 3, -2, 4),  # q < 0: the subgroup check passes, the exponent can be negative
        (23, 5, 1, 2),  # q = 1: the exponent range is empty
        (23, 5, 0, 2),  # q = 0
        (23, 5, 23, 2),  # q = p
        ((1 << ca.MAX_DH_BITS) + 1, 2, 11, 4),  # a modulus no chip has
    ],
)
def test_degenerate_dh_parameters_from_the_chip_are_refused(p: int, g: int, q: int, y: int) -> None:
    with pytest.raises(ValueError):
        ca.DhGroup(p, g, q)
    try:
        key = ca.chip_key(raw_dh_spki(p, g, q, y))
    except EncodingError:
        return
    # PKCS #3 reading of the same SEQUENCE (q taken as privateValueLength): no q to misuse.
    assert key.group is not None and key.group.q is None


@given(
    p=st.integers(-3, 1 << 80),
    g=st.integers(-3, 1 << 80),
    q=st.integers(-(1 << 20), 1 << 80),
    y=st.integers(-3, 1 << 80),
    seed=st.binary(min_size=32, max_size=32),
)
def test_hostile_dh_parameters_raise_only_encoding_or_value_errors(
    p: int, g: int, q: int, y: int, seed: bytes
) -> None:
    """DG14 comes from the chip: whatever DH numbers it holds, chip_key either refuses them
    (EncodingError) or the key agreement runs (a bad result is ValueError, which perform_ca
    reports as ProtocolError) — never an arithmetic error from a negative or tiny q."""
    try:
        key = ca.chip_key(raw_dh_spki(p, g, q, y))
    except EncodingError:
        return
    stream = iter(seed * 64)
    ephemeral = ca.generate_ephemeral_key(key, lambda n: bytes(next(stream) for _ in range(n)))
    ca.public_key_bytes(ephemeral)
    with contextlib.suppress(ValueError):
        ca.key_agreement(ephemeral, key.public_bytes)


def test_chip_key_truncations() -> None:
    spki = ec_spki(ec.generate_private_key(ec.SECP256R1()))
    for cut in range(len(spki)):
        with pytest.raises(EncodingError):
            ca.chip_key(spki[:cut])


# --- End to end: a test-local chip ----------------------------------------------------------


class Chip:
    """The chip side: sm.py's card half plus ca.card_chip_authentication. After the key
    agreement command it answers with the OLD keys, then switches (9303-11 §6.2)."""

    def __init__(self, sm: SecureMessaging, private_key: ca.PrivateKey, protocol: str) -> None:
        self.sm, self.private_key, self.protocol = sm, private_key, protocol
        self.plain: list[Command] = []
        self.file = b"EF.COM contents"

    def _keys(self, public: bytes) -> SecureMessaging:
        k_enc, k_mac = ca.card_chip_authentication(self.private_key, public, self.protocol)
        return SecureMessaging(oids.CaAlgorithm.from_oid(self.protocol).cipher, k_enc, k_mac)

    def send(self, command: Command) -> Response:
        plain = self.sm.unwrap_command(command)
        self.plain.append(plain)
        next_sm: SecureMessaging | None = None
        response = Response(b"", 0x9000)
        if (plain.ins, plain.p1, plain.p2) == (0x22, 0x41, 0xA6):
            next_sm = self._keys(tlv.decode_all(plain.data)[0].value)
        elif (plain.ins, plain.p1, plain.p2) == (0x22, 0x41, 0xA4):
            assert (
                oids.from_der(b"\x06" + bytes([plain.data[1]]) + plain.data[2:12]) == self.protocol
            )
        elif plain.ins == 0x86:
            outer = tlv.decode_single(plain.data, 0x7C)
            next_sm = self._keys(outer.children()[0].value)
            response = Response(b"\x7c\x00", 0x9000)
        elif plain.ins == 0xB0:
            response = Response(self.file, 0x9000)
        protected = self.sm.wrap_response(response)  # still the old keys
        if next_sm is not None:
            self.sm = next_sm
        return protected


def connect(private_key: ca.PrivateKey, protocol: str) -> tuple[SecureConnection, Chip]:
    # Session keys as if from BAC (random here: CA does not care how SM started).
    keys = (b"\x01" * 16, b"\x02" * 16)
    chip = Chip(SecureMessaging("3DES", *keys, ssc=7), private_key, protocol)
    return SecureConnection(chip, SecureMessaging("3DES", *keys, ssc=7)), chip


READ = Command(0x00, 0xB0, 0x00, 0x00, ne=256)


def scenarios() -> list[tuple[str, ca.PrivateKey, bytes, str]]:
    bp224 = asn1.curve_by_oid(oids.BRAINPOOL_P224R1)
    p256 = ec.generate_private_key(ec.SECP256R1())
    bp256 = ec.generate_private_key(ec.BrainpoolP256R1())
    p384 = ec.generate_private_key(ec.SECP384R1())
    dh = ca.DhPrivateKey(dh_group(), 0x1234567890ABCDEF1234567890ABCDEF)
    return [
        ("P-256 3DES", p256, ec_spki(p256), oids.ID_CA_ECDH_3DES_CBC_CBC),
        ("bp256 AES-128", bp256, ec_spki(bp256), oids.ID_CA_ECDH_AES_CBC_CMAC_128),
        ("P-384 AES-256", p384, ec_spki(p384), oids.ID_CA_ECDH_AES_CBC_CMAC_256),
        ("bp224 3DES pure", ca.EcPrivateKey(bp224, 99991), b"", oids.ID_CA_ECDH_3DES_CBC_CBC),
        ("DH 3DES", dh, dh_spki(dh), oids.ID_CA_DH_3DES_CBC_CBC),
        ("DH AES-192", dh, dh_spki(dh), oids.ID_CA_DH_AES_CBC_CMAC_192),
    ]


@pytest.mark.parametrize("scenario", scenarios(), ids=lambda s: s[0])
def test_end_to_end(scenario: tuple[str, ca.PrivateKey, bytes, str]) -> None:
    _, private_key, spki, protocol = scenario
    if isinstance(private_key, ca.EcPrivateKey):
        spki = pure_ec_spki(private_key)
    pk_id = "ECDH" if "ECDH" in oids.name_of(protocol) else "DH"
    dg14 = Dg14.build(
        [
            ChipAuthenticationPublicKeyInfo.build(
                oids.ID_PK_ECDH if pk_id == "ECDH" else oids.ID_PK_DH, spki, key_id=3
            ),
            ChipAuthenticationInfo.build(protocol, 1, key_id=3),
        ]
    )
    connection, chip = connect(private_key, protocol)
    old_sm = connection.sm
    result = ca.perform_ca(connection, dg14)
    assert connection.sm is result.sm and result.sm is not old_sm
    assert result.sm.ssc == 0
    assert (result.protocol, result.key_id) == (protocol, 3)
    # The first command under the new keys works: both sides derived the same keys.
    assert connection.send(READ) == Response(b"EF.COM contents", 0x9000)
    first = chip.plain[0]
    if oids.CaAlgorithm.from_oid(protocol).cipher == "3DES":
        assert (first.ins, first.p1, first.p2) == (0x22, 0x41, 0xA6)
        assert tlv.decode_all(first.data)[1].raw == h("840103")
    else:
        assert (first.ins, first.p1, first.p2) == (0x22, 0x41, 0xA4)
        assert chip.plain[1].ins == 0x86


def test_cloned_chip_fails_at_first_protected_response() -> None:
    genuine = ec.generate_private_key(ec.SECP256R1())
    clone_key = ec.generate_private_key(ec.SECP256R1())
    dg14 = Dg14.build(
        [
            ChipAuthenticationPublicKeyInfo.build(oids.ID_PK_ECDH, ec_spki(genuine)),
            ChipAuthenticationInfo.build(oids.ID_CA_ECDH_AES_CBC_CMAC_128, 1),
        ]
    )
    connection, _ = connect(clone_key, oids.ID_CA_ECDH_AES_CBC_CMAC_128)
    ca.perform_ca(connection, dg14)  # CA v1 authenticates implicitly...
    with pytest.raises(ProtocolError):  # ...the clone's first new-key response fails its MAC
        connection.send(READ)


def test_deterministic_with_injected_rng() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    dg14 = Dg14.build(
        [
            ChipAuthenticationPublicKeyInfo.build(oids.ID_PK_ECDH, ec_spki(key)),
            ChipAuthenticationInfo.build(oids.ID_CA_ECDH_3DES_CBC_CBC, 1),
        ]
    )
    sent = []
    for _ in range(2):
        connection, chip = connect(key, oids.ID_CA_ECDH_3DES_CBC_CBC)
        ca.perform_ca(connection, dg14, rng=lambda n: b"\x5a" * n)
        sent.append(chip.plain[0].data)
    assert sent[0] == sent[1]


class Refusing:
    def __init__(self, sw: int, data: bytes = b"") -> None:
        self.sm = SecureMessaging("3DES", b"\x01" * 16, b"\x02" * 16)
        self.sw, self.data = sw, data

    def send(self, command: Command) -> Response:
        return Response(self.data if command.ins == 0x86 else b"", self.sw)


def aes_dg14() -> Dg14:
    key = ec.generate_private_key(ec.SECP256R1())
    return Dg14.build(
        [
            ChipAuthenticationPublicKeyInfo.build(oids.ID_PK_ECDH, ec_spki(key)),
            ChipAuthenticationInfo.build(oids.ID_CA_ECDH_AES_CBC_CMAC_128, 1),
        ]
    )


def test_refusal_is_card_error_and_keeps_old_sm() -> None:
    connection = Refusing(0x6A80)
    old = connection.sm
    with pytest.raises(CardError) as info:
        ca.perform_ca(connection, aes_dg14())  # type: ignore[arg-type]
    assert info.value.sw == 0x6A80
    assert connection.sm is old


def test_ca_version_2_token_is_rejected() -> None:
    connection = Refusing(0x9000, data=h("7C0A8108") + bytes(8))
    with pytest.raises(ProtocolError, match="version 2"):
        ca.perform_ca(connection, aes_dg14())  # type: ignore[arg-type]
