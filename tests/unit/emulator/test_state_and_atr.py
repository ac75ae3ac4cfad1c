"""The emulator's state file, its ATR and EF.ATR/INFO, and the PUT DATA key layout."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given
from hypothesis import strategies as st

from cardkit.emulator import atr
from cardkit.emulator.access import parse_ec_private_key, rsa_private_key
from cardkit.emulator.state import CardState, EcKey, EmulatorStateError
from cardkit.encoding import tlv
from cardkit.encoding.asn1 import CURVES
from cardkit.errors import EncodingError
from cardkit.protocol.ec import encode_point

# --- ATR (ISO/IEC 7816-3 §8) -----------------------------------------------------------------


def parse_atr(data: bytes) -> tuple[list[int], bytes, int]:
    """An independent ISO/IEC 7816-3 §8.2 reading: (protocols indicated, historical bytes, TCK)."""
    assert data[0] in (0x3B, 0x3F)
    t0 = data[1]
    k = t0 & 0x0F
    y = t0 >> 4
    i = 2
    protocols: list[int] = []
    while True:
        i += bin(y & 0x7).count("1")  # TAi, TBi, TCi
        if not y & 0x8:
            break
        td = data[i]
        i += 1
        protocols.append(td & 0x0F)
        y = td >> 4
    historical = data[i : i + k]
    rest = data[i + k :]
    assert len(rest) == 1, "exactly one TCK"
    return protocols, historical, rest[0]


def test_published_atr_checksum() -> None:
    # NXP JCOP 2.4.1 (the smartcard ATR list of L. Rousseau): TCK B7 over T0 … last byte.
    jcop = bytes.fromhex("3BF81300008131FE454A434F5076323431B7")
    assert atr.checksum(jcop[:-1]) == jcop[-1]


def test_atr_is_valid_for_t1_and_advertises_extended_length() -> None:
    protocols, historical, tck = parse_atr(atr.ATR)
    assert 1 in protocols and protocols[-1] == 1
    xor = 0
    for b in atr.ATR[1:]:
        xor ^= b
    assert xor == 0  # 7816-3 §8.2.5: T0 ⊕ … ⊕ TCK = 0
    assert historical[0] == 0x80  # category indicator: COMPACT-TLV
    objects = historical[1:]
    assert objects[0] >> 4 == 0x7 and objects[0] & 0x0F == 3  # card capabilities, 3 bytes
    third = objects[3]
    assert third & 0x40  # 7816-4 §8.1.1.2.7: extended Lc and Le fields
    assert third & 0x20  # extended length information in EF.ATR/INFO
    assert tck == atr.ATR[-1]


def test_ef_atr_info_extended_length_information() -> None:
    children = tlv.decode_all(atr.EF_ATR_INFO)
    assert tlv.require(children, 0x47, "EF.ATR/INFO").value == atr.CARD_CAPABILITIES
    limits = tlv.require(children, 0x7F66, "EF.ATR/INFO").children()
    assert [c.tag for c in limits] == [0x02, 0x02]
    command, response = (int.from_bytes(c.value, "big") for c in limits)
    assert (command, response) == (atr.MAX_COMMAND_APDU, atr.MAX_RESPONSE_APDU)
    assert all(not c.value[0] & 0x80 for c in limits)  # positive as DER INTEGERs too


def test_build_atr_with_other_historical_bytes() -> None:
    protocols, historical, _ = parse_atr(atr.build_atr(b"\x80\x01\x02"))
    assert historical == b"\x80\x01\x02" and protocols == [1, 1]
    with pytest.raises(ValueError):
        atr.build_atr(bytes(16))


# --- The state file ---------------------------------------------------------------------------

CURVE_NAMES = [c.name for c in CURVES]

ec_keys = st.builds(
    lambda curve, seed: EcKey(curve.name, 1 + seed % (curve.n - 1)),
    st.sampled_from(CURVES),
    st.integers(min_value=0, max_value=2**600),
)

states = st.builds(
    CardState,
    life_cycle=st.sampled_from(["personalization", "locked"]),
    files=st.dictionaries(
        st.integers(0, 0xFFFF), st.binary(max_size=64).map(bytearray), max_size=5
    ),
    mrz=st.none()
    | st.tuples(
        st.text("ABC0123456789<", min_size=1, max_size=12),
        st.text("0123456789", min_size=6, max_size=6),
        st.text("0123456789", min_size=6, max_size=6),
    ),
    can=st.none() | st.text("0123456789", min_size=1, max_size=10),
    ca_key=st.none() | ec_keys,
    ca_key_id=st.none() | st.integers(0, 2**32),
    aa_ec_key=st.none() | ec_keys,
    aa_rsa_modulus=st.none() | st.integers(1, 2**2048),
    aa_rsa_exponent=st.none() | st.integers(1, 2**2048),
)


@given(states)
def test_state_json_round_trip(state: CardState) -> None:
    text = json.dumps(state.to_json())
    assert CardState.from_json(json.loads(text)) == state


def test_state_file_is_private_and_atomic(tmp_path: Path) -> None:
    state = CardState(mrz=("AB1234567", "900101", "300101"), can="123456")
    path = tmp_path / "card.json"
    state.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    state.life_cycle = "locked"
    state.save(path)  # replaces the file
    assert CardState.load(path) == state
    assert sorted(p.name for p in tmp_path.iterdir()) == ["card.json"]
    assert "AB1234567" not in repr(state) and "123456" not in repr(state)
    assert "d=<redacted>" in repr(EcKey("secp256r1", 5))


def test_unwritable_state_file(tmp_path: Path) -> None:
    with pytest.raises(EmulatorStateError):
        CardState().save(tmp_path / "missing-folder" / "card.json")
    with pytest.raises(EmulatorStateError, match="cannot read"):
        CardState.load(tmp_path / "absent.json")


BAD_FIELDS = [
    {"life_cycle": "dead"},
    {"files": []},
    {"files": {"01": "00"}},
    {"files": {"0101": "zz"}},
    {"files": {"0101": 5}},
    {"mrz": ["A", "1"]},
    {"mrz": ["", "900101", "300101"]},
    {"can": "12a"},
    {"ca_key": {"curve": "nope", "d": "01"}},
    {"ca_key": {"curve": "secp256r1", "d": "00"}},
    {"ca_key": {"curve": "secp256r1", "d": "f" * 80}},
    {"ca_key": "x"},
    {"ca_key_id": -1},
    {"ca_key_id": True},
    {"aa_rsa_modulus": "xyz"},
    {"aa_rsa_exponent": 12},
    {"format": "other"},
]


@pytest.mark.parametrize("bad", BAD_FIELDS)
def test_malformed_state_names_the_field(bad: dict[str, object]) -> None:
    obj = CardState(mrz=("SECRETDOC", "900101", "300101")).to_json()
    obj.update(bad)
    with pytest.raises(EmulatorStateError) as info:
        CardState.from_json(obj)
    assert "SECRETDOC" not in str(info.value)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda c: st.lists(c) | st.dictionaries(st.text(), c),
    )
)
def test_random_json_raises_only_emulator_state_error(obj: object) -> None:
    with pytest.raises(EmulatorStateError):
        CardState.from_json(obj)


@given(st.binary(max_size=200))
def test_random_state_files_raise_only_emulator_state_error(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    path = tmp_path_factory.mktemp("state") / "card.json"
    path.write_bytes(data)
    with pytest.raises(EmulatorStateError):
        CardState.load(path)


# --- PUT DATA 63/66: the EC private key layout --------------------------------------------------


def ec_key_value(curve_name: str, d: int) -> bytes:
    curve = next(c for c in CURVES if c.name == curve_name)
    size = curve.field_length
    return b"".join(
        (
            tlv.encode(0x81, curve.p.to_bytes(size, "big")),
            tlv.encode(0x82, (curve.a % curve.p).to_bytes(size, "big")),
            tlv.encode(0x83, curve.b.to_bytes(size, "big")),
            tlv.encode(0x84, encode_point(curve, (curve.gx, curve.gy))),
            tlv.encode(0x85, curve.n.to_bytes(size, "big")),
            tlv.encode(0x86, d.to_bytes(size, "big")),
            tlv.encode(0x87, bytes([curve.h])),
        )
    )


@given(ec_keys)
def test_ec_key_layout_round_trip(key: EcKey) -> None:
    assert parse_ec_private_key(ec_key_value(key.curve, key.d)) == key


@pytest.mark.parametrize("name", CURVE_NAMES)
def test_ec_key_layout_refuses_bad_keys(name: str) -> None:
    curve = next(c for c in CURVES if c.name == name)
    good = tlv.decode_all(ec_key_value(name, 1))
    variants = {
        "d = 0": [t if t.tag != 0x86 else tlv.Tlv.build(0x86, b"\x00") for t in good],
        "d = n": [
            t if t.tag != 0x86 else tlv.Tlv.build(0x86, curve.n.to_bytes(curve.field_length, "big"))
            for t in good
        ],
        "other b": [t if t.tag != 0x83 else tlv.Tlv.build(0x83, b"\x07") for t in good],
        "cofactor": [t if t.tag != 0x87 else tlv.Tlv.build(0x87, b"\x09") for t in good],
        "no G": [t for t in good if t.tag != 0x84],
        "extra": [*good, tlv.Tlv.build(0x88, b"")],
    }
    for what, tlvs in variants.items():
        with pytest.raises(EncodingError, match="EC private key"):
            parse_ec_private_key(b"".join(t.raw for t in tlvs))
        assert what  # each variant is refused


@given(st.binary(max_size=200))
def test_ec_key_layout_malformed_raises_encoding_error_only(data: bytes) -> None:
    with pytest.raises(EncodingError):
        parse_ec_private_key(data)


def test_rsa_key_from_modulus_and_exponents() -> None:
    key = rsa.generate_private_key(65537, 1024)
    n = key.public_key().public_numbers().n
    d = key.private_numbers().d
    rebuilt = rsa_private_key(n, d, 65537)
    assert rebuilt.private_numbers() == key.private_numbers()
    with pytest.raises(EncodingError):
        rsa_private_key(n, d + 2, 65537)
