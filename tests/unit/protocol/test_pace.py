"""PACE (ICAO 9303-11 §4.4) against the worked examples of 9303-11 Appendix G.1 (ECDH generic
mapping, brainpoolP256r1) and G.2 (DH generic mapping, RFC 5114 1024-bit group): every
intermediate value and the whole APDU exchange, replayed through a fake connection.

Vectors: tests/vectors/pace_icao9303_11_appendix_g.json (source named in the file)."""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cardkit.encoding import oids
from cardkit.errors import AccessDeniedError, CardError, EncodingError, ProtocolError
from cardkit.iso7816.apdu import Command, Response
from cardkit.lds.card_access import CardAccess
from cardkit.lds.dg14 import Dg14
from cardkit.lds.security_infos import ChipAuthenticationPublicKeyInfo, PaceInfo
from cardkit.protocol import ec as ecmath
from cardkit.protocol import pace
from cardkit.protocol.bac import MrzKey
from cardkit.protocol.sm import SecureMessaging

VECTORS = json.loads(
    (Path(__file__).parents[2] / "vectors" / "pace_icao9303_11_appendix_g.json").read_text()
)
G1 = VECTORS["G1"]
G2 = VECTORS["G2"]
H = bytes.fromhex
# Appendix G: document number T22000129, born 640812, expires 101031.
MRZ_PASSWORD = pace.PacePassword.from_mrz("T22000129", "640812", "101031")


def _info(example: dict[str, object]) -> PaceInfo:
    access = CardAccess.from_bytes(H(str(example["card_access"])))
    (info,) = access.pace_infos
    return info


def _rng(*chunks: str) -> Callable[[int], bytes]:
    queue = [H(c) for c in chunks]

    def rng(n: int) -> bytes:
        chunk = queue.pop(0)
        assert len(chunk) == n
        return chunk

    return rng


class FakeCard:
    """A scripted connection: checks each command byte for byte, returns the canned response."""

    def __init__(self, script: list[tuple[bytes, bytes]]) -> None:
        self.script = list(script)
        self.sent: list[bytes] = []

    def send(self, command: Command) -> Response:
        raw = bytes(command)
        self.sent.append(raw)
        expected, response = self.script.pop(0)
        assert raw.hex().upper() == expected.hex().upper()
        return Response.from_bytes(response)


def _with_parameter_id(mse: str, parameter_id: int) -> bytes:
    """The appendix's MSE:Set AT plus DO'84' (cardkit always sends the parameter ID)."""
    raw = H(mse)
    body = raw[5:] + bytes([0x84, 0x01, parameter_id])
    return raw[:4] + bytes([len(body)]) + body


def _script(example: dict[str, object]) -> list[tuple[bytes, bytes]]:
    apdus = example["apdus"]
    assert isinstance(apdus, list)
    pid = example["parameter_id"]
    assert isinstance(pid, int)
    script = [(H(c), H(r)) for c, r in apdus]
    script[0] = (_with_parameter_id(apdus[0][0], pid), script[0][1])
    return script


@pytest.fixture(params=["G1", "G2"])
def example(request: pytest.FixtureRequest) -> Iterator[dict[str, object]]:
    yield VECTORS[request.param]


# --- Password and K_π --------------------------------------------------------------------------


def test_mrz_password_and_k_pi() -> None:
    assert MRZ_PASSWORD.value == VECTORS["mrz_information"].encode()
    assert MRZ_PASSWORD.key_seed() == H(VECTORS["mrz_sha1"])
    assert MRZ_PASSWORD.reference == 1
    for example in (G1, G2):
        k_pi = pace.derive_password_key(MRZ_PASSWORD, _info(example).algorithm)
        assert k_pi == H(VECTORS["k_pi"])


def test_password_from_mrz_key_and_can() -> None:
    key = MrzKey("T22000129", "640812", "101031")
    assert pace.PacePassword.from_mrz_key(key) == MRZ_PASSWORD
    can = pace.PacePassword.from_can("123456")
    assert can.reference == 2
    assert can.key_seed() == b"123456"
    assert "123456" not in repr(can)
    assert "T22000129" not in repr(MRZ_PASSWORD)
    with pytest.raises(ValueError):
        pace.PacePassword.from_can("12a456")


# --- Every intermediate value ------------------------------------------------------------------


def test_appendix_g_intermediate_values(example: dict[str, object]) -> None:
    e = {k: v for k, v in example.items() if isinstance(v, str)}
    info = _info(example)
    alg = info.algorithm
    assert info.protocol == e["protocol"]
    k_pi = H(VECTORS["k_pi"])
    nonce = pace.decrypt_nonce(k_pi, H(e["encrypted_nonce"]), alg.cipher)
    assert nonce == H(e["nonce"])
    assert pace.encrypt_nonce(k_pi, nonce, alg.cipher) == H(e["encrypted_nonce"])

    assert info.parameter_id is not None
    domain = pace.domain_for(info.parameter_id, alg.key_agreement)
    t_map = int(e["terminal_mapping_private"], 16)
    c_map = int(e["chip_mapping_private"], 16)
    assert pace.public_key(domain, t_map) == H(e["terminal_mapping_public"])
    assert pace.public_key(domain, c_map) == H(e["chip_mapping_public"])

    # Mapping shared secret H and the mapped generator, computed from both sides.
    mapped = pace.map_nonce_gm(domain, nonce, t_map, H(e["chip_mapping_public"]))
    mapped_chip = pace.map_nonce_gm(domain, nonce, c_map, H(e["terminal_mapping_public"]))
    assert mapped == mapped_chip
    if isinstance(mapped, pace.EcDomain):
        curve = mapped.curve
        shared_h = ecmath.multiply(
            curve, t_map, ecmath.decode_point(curve, H(e["chip_mapping_public"]))
        )
        assert ecmath.encode_point(curve, shared_h) == H(e["mapping_shared_secret"])
        assert ecmath.encode_point(curve, mapped.generator) == H(e["mapped_generator"])
    else:
        grp = mapped.group
        h = pow(int(e["chip_mapping_public"], 16), t_map, grp.p)
        assert grp.encode(h) == H(e["mapping_shared_secret"])
        assert grp.encode(mapped.generator) == H(e["mapped_generator"])

    t_eph = int(e["terminal_ephemeral_private"], 16)
    c_eph = int(e["chip_ephemeral_private"], 16)
    assert pace.public_key(mapped, t_eph) == H(e["terminal_ephemeral_public"])
    assert pace.public_key(mapped, c_eph) == H(e["chip_ephemeral_public"])
    shared = pace.key_agreement(mapped, t_eph, H(e["chip_ephemeral_public"]))
    assert shared == H(e["shared_secret"])
    assert pace.key_agreement(mapped, c_eph, H(e["terminal_ephemeral_public"])) == shared

    k_enc, k_mac = pace.derive_session_keys(shared, alg)
    assert (k_enc, k_mac) == (H(e["ks_enc"]), H(e["ks_mac"]))
    chip_eph = H(e["chip_ephemeral_public"])
    term_eph = H(e["terminal_ephemeral_public"])
    assert pace.public_key_data_object(alg.oid, mapped, chip_eph) == H(e["token_input_terminal"])
    assert pace.public_key_data_object(alg.oid, mapped, term_eph) == H(e["token_input_chip"])
    assert pace.authentication_token(k_mac, alg, mapped, chip_eph) == H(e["token_terminal"])
    assert pace.authentication_token(k_mac, alg, mapped, term_eph) == H(e["token_chip"])


# --- The full exchange, terminal side and chip side ---------------------------------------------


def test_appendix_g_apdu_exchange(example: dict[str, object]) -> None:
    e = {k: v for k, v in example.items() if isinstance(v, str)}
    card = FakeCard(_script(example))
    rng = _rng(e["terminal_mapping_private"], e["terminal_ephemeral_private"])
    result = pace.perform_pace(card, MRZ_PASSWORD, _info(example), rng)
    assert not card.script
    assert result.mapping == "GM"
    assert result.chip_public_key == H(e["chip_ephemeral_public"])
    assert result.chip_mapping_public_key == H(e["chip_mapping_public"])
    assert result.cam_verified is None
    assert isinstance(result.sm, SecureMessaging)
    assert result.sm.cipher == "AES"
    if example is G2:  # the chip also names its CVCA (DO'87')
        assert result.certification_authority_references == (b"DETESTCVCA00003",)


def test_appendix_g_chip_side(example: dict[str, object]) -> None:
    """cardkit's chip side, fed the appendix's chip keys, answers exactly as the appendix."""
    e = {k: v for k, v in example.items() if isinstance(v, str)}
    rng = _rng(e["nonce"], e["chip_mapping_private"], e["chip_ephemeral_private"])
    chip = pace.PaceChip(MRZ_PASSWORD, _info(example), rng)
    for command, response in _script(example)[1:]:
        data = Command.from_bytes(command).data
        out = chip.general_authenticate(data)
        expected = Response.from_bytes(response).data
        if example is G2 and command[1] == 0x86 and command[0] == 0x00:
            expected = expected[: 2 + 10]  # cardkit's chip sends no CAR (DO'87')
            expected = bytes([0x7C, 0x0A]) + expected[2:]
        assert out == expected
    assert chip.completed
    assert chip.session_keys == (H(e["ks_enc"]), H(e["ks_mac"]))


def test_sm_keys_interoperate() -> None:
    """The session keys drive cardkit's secure messaging: terminal wraps, chip unwraps."""
    terminal = SecureMessaging("AES", H(G1["ks_enc"]), H(G1["ks_mac"]), 0)
    chip = SecureMessaging("AES", H(G1["ks_enc"]), H(G1["ks_mac"]), 0)
    command = Command(0x00, 0xA4, 0x02, 0x0C, b"\x01\x1e")
    assert chip.unwrap_command(terminal.wrap(command)) == command
    response = Response(b"\x01\x02", 0x9000)
    assert terminal.unwrap(chip.wrap_response(response)) == response


# --- Failures -----------------------------------------------------------------------------------


@pytest.mark.parametrize("sw", ["6300", "63C2", "6982", "6A80"])
def test_refused_terminal_token_is_access_denied(sw: str) -> None:
    """9303-11 §4.4.3.4: only the last step can fail because of the password; chips answer a
    wrong one with 6300, 63Cx, 6982 or 6A80."""
    script = _script(G1)
    script[-1] = (script[-1][0], H(sw))
    card = FakeCard(script)
    rng = _rng(G1["terminal_mapping_private"], G1["terminal_ephemeral_private"])
    with pytest.raises(AccessDeniedError) as info:
        pace.perform_pace(card, MRZ_PASSWORD, _info(G1), rng)
    assert info.value.key_kind == "MRZ"
    assert info.value.step == "PACE mutual authentication"
    assert str(info.value) == "access denied: the MRZ does not open this card \u2014 enter it again"
    assert "T22000129" not in str(info.value)
    cause = info.value.__cause__
    assert isinstance(cause, CardError) and cause.sw == int(sw, 16)


@pytest.mark.parametrize("at", [1, 2, 3])
@pytest.mark.parametrize("sw", ["6300", "6982", "6A80"])
def test_refusal_before_the_token_step_is_not_access_denied(at: int, sw: str) -> None:
    """The chip cannot know the password is wrong before it sees T_IFD (steps 1-3)."""
    script = _script(G1)[: at + 1]
    script[at] = (script[at][0], H(sw))
    rng = _rng(G1["terminal_mapping_private"], G1["terminal_ephemeral_private"])
    with pytest.raises(ProtocolError) as info:
        pace.perform_pace(FakeCard(script), MRZ_PASSWORD, _info(G1), rng)
    assert not isinstance(info.value, AccessDeniedError)
    assert sw in str(info.value)


def test_wrong_chip_token_is_not_access_denied() -> None:
    """A chip that accepts T_IFD but answers a T_IC that does not verify does not know the
    password: a forgery (or damage), never "enter the key again"."""
    script = _script(G1)
    bad = bytearray(script[-1][1])
    bad[5] ^= 1
    script[-1] = (script[-1][0], bytes(bad))
    rng = _rng(G1["terminal_mapping_private"], G1["terminal_ephemeral_private"])
    with pytest.raises(ProtocolError, match="token") as info:
        pace.perform_pace(FakeCard(script), MRZ_PASSWORD, _info(G1), rng)
    assert not isinstance(info.value, AccessDeniedError)
    assert info.value.step == "PACE mutual authentication"


def test_chip_point_not_on_curve() -> None:
    script = _script(G1)
    bad = bytearray(script[2][1])
    bad[-3] ^= 1  # last byte of the chip's mapping key's y
    script[2] = (script[2][0], bytes(bad))
    rng = _rng(G1["terminal_mapping_private"], G1["terminal_ephemeral_private"])
    with pytest.raises(ProtocolError, match="not on the curve"):
        pace.perform_pace(FakeCard(script), MRZ_PASSWORD, _info(G1), rng)


@pytest.mark.parametrize("value", ["00" * 127 + "01", "00" * 127 + "02", "FF" * 128])
def test_dh_value_out_of_subgroup(value: str) -> None:
    script = _script(G2)
    response = H("7C8183828180" + value + "9000")
    script[2] = (script[2][0], response)
    rng = _rng(G2["terminal_mapping_private"], G2["terminal_ephemeral_private"])
    with pytest.raises(ProtocolError):
        pace.perform_pace(FakeCard(script), MRZ_PASSWORD, _info(G2), rng)


def test_mse_refused() -> None:
    script = _script(G1)[:1]
    script[0] = (script[0][0], H("6A80"))
    with pytest.raises(CardError) as info:
        pace.perform_pace(FakeCard(script), MRZ_PASSWORD, _info(G1), _rng())
    assert info.value.sw == 0x6A80


def test_integrated_mapping_refused() -> None:
    im = PaceInfo.build(oids.ID_PACE_ECDH_IM_AES_CBC_CMAC_128, 13)
    with pytest.raises(ProtocolError, match="integrated mapping"):
        pace.perform_pace(FakeCard([]), MRZ_PASSWORD, im, _rng())


@given(
    data=st.binary(max_size=80), sw=st.sampled_from([0x9000, 0x6300, 0x6A80]), at=st.integers(1, 4)
)
def test_malformed_general_authenticate(data: bytes, sw: int, at: int) -> None:
    """Whatever the chip answers to a GENERAL AUTHENTICATE, only cardkit's errors come out."""
    script = _script(G1)
    script[at] = (script[at][0], data + sw.to_bytes(2, "big"))
    rng = _rng(G1["terminal_mapping_private"], G1["terminal_ephemeral_private"])
    with pytest.raises((ProtocolError, EncodingError)):
        pace.perform_pace(FakeCard(script[: at + 1]), MRZ_PASSWORD, _info(G1), rng)


# --- Round trips with cardkit's own chip side ---------------------------------------------------


class ChipConnection:
    """A connection answering MSE:Set AT and GENERAL AUTHENTICATE with a PaceChip."""

    def __init__(self, chip: pace.PaceChip) -> None:
        self.chip = chip

    def send(self, command: Command) -> Response:
        if command.ins == 0x22:
            return Response(b"", 0x9000)
        try:
            return Response(self.chip.general_authenticate(command.data), 0x9000)
        except ProtocolError:
            return Response(b"", 0x6300)


ALGORITHMS = [
    (oids.ID_PACE_ECDH_GM_AES_CBC_CMAC_128, 12),
    (oids.ID_PACE_ECDH_GM_AES_CBC_CMAC_256, 16),
    (oids.ID_PACE_ECDH_GM_3DES_CBC_CBC, 9),
    (oids.ID_PACE_ECDH_GM_AES_CBC_CMAC_192, 14),
    (oids.ID_PACE_DH_GM_AES_CBC_CMAC_128, 2),
    (oids.ID_PACE_DH_GM_3DES_CBC_CBC, 1),
]


@pytest.mark.parametrize(("protocol", "parameter_id"), ALGORITHMS)
def test_round_trip(protocol: str, parameter_id: int) -> None:
    info = PaceInfo.build(protocol, parameter_id)
    password = pace.PacePassword.from_can("123456")
    chip = pace.PaceChip(password, info)
    result = pace.perform_pace(ChipConnection(chip), password, info)
    assert chip.session_keys is not None
    terminal_sm = result.sm
    chip_sm = SecureMessaging(info.algorithm.cipher, *chip.session_keys, 0)
    command = Command(0x00, 0xB0, 0x9E, 0x00, ne=4)
    assert chip_sm.unwrap_command(terminal_sm.wrap(command)) == command


def test_private_keys_on_p521_do_not_run_out_of_attempts() -> None:
    """P-521's order has 521 bits in 66 bytes: unmasked rejection sampling would reject 127
    draws in 128 and give up (64 attempts) in about 60 % of the runs."""
    domain = pace.domain_for(18, "ECDH")  # NIST P-521 (9303-11 §9.5.1)
    rng = random.Random(521).randbytes
    order = pace._order(domain)
    keys = [pace.generate_private_key(domain, rng) for _ in range(200)]
    assert all(0 < k < order for k in keys)
    assert len(set(keys)) == len(keys)


def test_round_trip_on_p521() -> None:
    info = PaceInfo.build(oids.ID_PACE_ECDH_GM_AES_CBC_CMAC_256, 18)
    password = pace.PacePassword.from_can("123456")
    for seed in range(3):
        chip = pace.PaceChip(password, info, random.Random(seed).randbytes)
        result = pace.perform_pace(
            ChipConnection(chip), password, info, random.Random(seed + 100).randbytes
        )
        assert chip.session_keys is not None and result.sm.active


@pytest.mark.parametrize(("protocol", "parameter_id"), ALGORITHMS)
def test_round_trip_wrong_can_is_access_denied(protocol: str, parameter_id: int) -> None:
    info = PaceInfo.build(protocol, parameter_id)
    chip = pace.PaceChip(pace.PacePassword.from_can("123456"), info)
    with pytest.raises(AccessDeniedError) as denied:
        pace.perform_pace(ChipConnection(chip), pace.PacePassword.from_can("654321"), info)
    assert denied.value.key_kind == "CAN"
    assert "654321" not in str(denied.value) and "123456" not in str(denied.value)


def _dg14_with_key(curve_name: str, private: int) -> Dg14:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    curve = ecmath.library_curve(ecmath.curve_by_name(curve_name))
    assert curve is not None
    spki = (
        ec.derive_private_key(private, curve)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    info = ChipAuthenticationPublicKeyInfo.build(oids.ID_PK_ECDH, spki, 1)
    return Dg14.build([info])


def test_cam_round_trip_and_verification() -> None:
    info = PaceInfo.build(oids.ID_PACE_ECDH_CAM_AES_CBC_CMAC_128, 13)
    password = pace.PacePassword.from_can("500540")
    ca_private = 0x107CF58696EF6155053340FD633392BA81909DF7B9706F226F32086C7AFF974A
    chip = pace.PaceChip(password, info, ca_private_key=ca_private)
    result = pace.perform_pace(ChipConnection(chip), password, info)
    assert result.mapping == "CAM"
    assert result.cam_verified is None
    assert result.chip_authentication_data is not None
    assert pace.verify_cam(result, _dg14_with_key("brainpoolP256r1", ca_private))
    assert not pace.verify_cam(result, _dg14_with_key("brainpoolP256r1", ca_private + 1))
    with pytest.raises(ProtocolError):
        pace.verify_cam(result, _dg14_with_key("secp256r1", ca_private))
    gm = dataclasses.replace(result, mapping="GM", chip_authentication_data=None)
    with pytest.raises(ProtocolError):
        pace.verify_cam(gm, _dg14_with_key("brainpoolP256r1", ca_private))


# --- Choosing a PACEInfo ------------------------------------------------------------------------


def test_choose_pace_info() -> None:
    infos = [
        PaceInfo.build(oids.ID_PACE_DH_GM_AES_CBC_CMAC_256, 2),
        PaceInfo.build(oids.ID_PACE_ECDH_GM_AES_CBC_CMAC_128, 13),
        PaceInfo.build(oids.ID_PACE_ECDH_IM_AES_CBC_CMAC_256, 13),
        PaceInfo.build(oids.ID_PACE_ECDH_GM_AES_CBC_CMAC_256, None),
    ]
    chosen = pace.choose_pace_info(CardAccess.build(infos))
    assert chosen is not None
    assert chosen.protocol == oids.ID_PACE_ECDH_GM_AES_CBC_CMAC_128
    with_cam = CardAccess.build(
        [*infos, PaceInfo.build(oids.ID_PACE_ECDH_CAM_AES_CBC_CMAC_128, 13)]
    )
    chosen = pace.choose_pace_info(with_cam)
    assert chosen is not None and chosen.algorithm.mapping == "CAM"
    only_im = CardAccess.build([PaceInfo.build(oids.ID_PACE_DH_IM_AES_CBC_CMAC_128, 0)])
    assert pace.choose_pace_info(only_im) is None


def test_mse_set_at_always_sends_parameter_id() -> None:
    command = pace.mse_set_at(_info(G1), MRZ_PASSWORD)
    assert bytes(command) == _with_parameter_id(G1["apdus"][0][0], 13)
    assert bytes(pace.mse_set_at(_info(G1), pace.PacePassword.from_can("123456"))).endswith(
        H("8301028401") + b"\x0d"
    )
