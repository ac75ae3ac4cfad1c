"""`cardkit.applet.commands`: the personalization APDUs and the PUT DATA encodings."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given
from hypothesis import strategies as st

from cardkit.applet import commands
from cardkit.emulator.access import parse_ec_private_key
from cardkit.encoding import tlv
from cardkit.encoding.asn1 import CURVES
from cardkit.errors import EncodingError
from cardkit.iso7816.apdu import Command

# RFC 5639 §3.4, brainpoolP256r1: p, A, B, x, y, q (the order) and h = 1, as printed there.
RFC5639_P256R1 = {
    "p": "A9FB57DBA1EEA9BC3E660A909D838D726E3BF623D52620282013481D1F6E5377",
    "A": "7D5A0975FC2C3057EEF67530417AFFE7FB8055C126DC5C6CE94A4B44F330B5D9",
    "B": "26DC5C6CE94A4B44F330B5D9BBD77CBF958416295CF7E1CE6BCCDC18FF8C07B6",
    "x": "8BD2AEB9CB7E57CB2C4B482FFC81B7AFB9DE27E1E3BD23C23A4453BD9ACE3262",
    "y": "547EF835C3DAC4FD97F8461A14611DC9C27745132DED8E545C1D54C72F046997",
    "q": "A9FB57DBA1EEA9BC3E660A909D838D718C397AA3B561A6F7901E0E82974856A7",
}
# SEC 2 v2 §2.4.2 / FIPS 186-4 D.1.2.3, secp256r1: p, a (= p - 3), b, n.
SEC2_P256R1 = {
    "p": "FFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF",
    "a": "FFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFC",
    "b": "5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B",
    "n": "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551",
}

CURVE_NAMES = [c.name for c in CURVES]


def _h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


# --- the plain commands: bytes as DOMAIN.md §7 (the agreed protocol) writes them -------------


def test_select_create_select_lock_match_the_protocol_text() -> None:
    assert bytes(commands.select_applet()) == _h("00 A4 04 0C 07 A0 00 00 02 47 10 01")
    assert bytes(commands.create_file(0x0102, 0x1234)) == _h("00 E0 00 00 06 63 04 12 34 01 02")
    assert bytes(commands.select_file(0x011C)) == _h("00 A4 02 0C 02 01 1C")
    assert bytes(commands.lock()) == _h("00 DA DE AD")


def test_update_binary_short_and_extended_encodings() -> None:
    # ISO/IEC 7816-4 §5.1: case 3 short (Lc one byte) and extended (00 + two bytes).
    assert bytes(commands.update_binary(0x1000, b"\xaa" * 3)) == _h("00 D6 10 00 03 AA AA AA")
    long = commands.update_binary(4096, b"\x55" * 4096)
    assert bytes(long)[:7] == _h("00 D6 10 00 00 10 00") and len(bytes(long)) == 7 + 4096
    forced = commands.update_binary(0, b"\x01", extended=True)
    assert bytes(forced) == _h("00 D6 00 00 00 00 01 01")
    with pytest.raises(ValueError):
        commands.update_binary(0x8000, b"\x00")  # b15 set would mean an SFI (7816-4 §11.2.5)
    with pytest.raises(ValueError):
        commands.update_binary(0, b"")


@given(st.integers(0, 0x7FFF), st.binary(min_size=1, max_size=5000))
def test_update_binary_round_trips_through_the_apdu_parser(offset: int, chunk: bytes) -> None:
    parsed = Command.from_bytes(bytes(commands.update_binary(offset, chunk)))
    assert (parsed.ins, (parsed.p1 << 8) | parsed.p2, parsed.data) == (0xD6, offset, chunk)
    assert parsed.is_extended == (len(chunk) > 255)


def test_put_data_requires_the_tag_to_equal_p2() -> None:
    data = commands.can_data("123456")
    assert (
        bytes(commands.put_data(0x00, 0x65, data)) == _h("00 DA 00 65 0A 65 08 04 06") + b"123456"
    )
    with pytest.raises(EncodingError):
        commands.put_data(0x00, 0x62, data)


# --- PUT DATA bodies ----------------------------------------------------------------------------


def test_mrz_seed_layout() -> None:
    # DOMAIN.md §3's checked CCCD MRZ: document number 093047064, born 930105, expires 330105.
    data = commands.mrz_seed_data("093047064", "930105", "330105")
    outer = tlv.decode_single(data, 0x62)
    assert [(c.tag, c.value) for c in outer.children()] == [
        (0x04, b"093047064"),
        (0x04, b"930105"),
        (0x04, b"330105"),
    ]


def test_secret_encoders_reject_bad_values_without_echoing_them() -> None:
    calls: list[Callable[[], bytes]] = [
        lambda: commands.mrz_seed_data("0930470\n", "930105", "330105"),
        lambda: commands.mrz_seed_data("093047064", "93O105", "330105"),
        lambda: commands.can_data("12a45X"),
        lambda: commands.can_data("12345"),
    ]
    for call in calls:
        with pytest.raises(EncodingError) as info:
            call()
        assert "93O105" not in str(info.value) and "12a45X" not in str(info.value)


@given(st.integers(0, 2**40))
def test_key_id_is_a_minimal_non_negative_integer(key_id: int) -> None:
    outer = tlv.decode_single(commands.key_id_data(key_id), 0x67)
    (integer,) = outer.children()
    assert integer.tag == 0x02
    assert int.from_bytes(integer.value, "big", signed=True) == key_id
    assert len(integer.value) == 1 or integer.value[:2] not in (b"\x00\x00",)
    assert not integer.value[0] & 0x80  # DER: positive numbers have b8 of the first byte clear


def test_rsa_modulus_and_exponent() -> None:
    key = rsa.generate_private_key(65537, 1024)
    numbers = key.private_numbers()
    (mod,) = tlv.decode_single(commands.rsa_modulus_data(key), 0x60).children()
    (exp,) = tlv.decode_single(commands.rsa_exponent_data(key), 0x61).children()
    assert mod.tag == exp.tag == 0x04
    assert int.from_bytes(mod.value, "big") == numbers.public_numbers.n
    assert int.from_bytes(exp.value, "big") == numbers.d and len(exp.value) == 128


def test_ec_key_layout_with_rfc5639_brainpool_parameters() -> None:
    key = ec.generate_private_key(ec.BrainpoolP256R1())
    data = commands.ec_private_key_data(0x63, key)
    outer = tlv.decode_single(data, 0x63)
    got = {c.tag: c.value.hex().upper() for c in outer.children()}
    assert [c.tag for c in outer.children()] == [0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87]
    assert got[0x81] == RFC5639_P256R1["p"]
    assert got[0x82] == RFC5639_P256R1["A"]
    assert got[0x83] == RFC5639_P256R1["B"]
    assert got[0x84] == "04" + RFC5639_P256R1["x"] + RFC5639_P256R1["y"]
    assert got[0x85] == RFC5639_P256R1["q"]
    assert int(got[0x86], 16) == key.private_numbers().private_value and len(got[0x86]) == 64
    assert got[0x87] == "01"


def test_ec_key_layout_with_sec2_p256_parameters() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    outer = tlv.decode_single(commands.ec_private_key_data(0x66, key), 0x66)
    got = {c.tag: c.value.hex().upper() for c in outer.children()}
    assert (got[0x81], got[0x82], got[0x83], got[0x85]) == (
        SEC2_P256R1["p"],
        SEC2_P256R1["a"],
        SEC2_P256R1["b"],
        SEC2_P256R1["n"],
    )


@given(st.sampled_from(CURVE_NAMES), st.integers(min_value=1), st.sampled_from([0x63, 0x66]))
def test_ec_key_round_trip_and_the_card_side_parser_agrees(name: str, d: int, tag: int) -> None:
    curve = commands.curve_by_name(name)
    fields = commands.EcPrivateKeyFields(curve, 1 + d % (curve.n - 1))
    data = commands.ec_private_key_data(tag, fields)
    assert commands.decode_ec_private_key(data) == (tag, fields)
    # The emulator's independent parser (the card side) reads the same key.
    card_key = parse_ec_private_key(tlv.decode_single(data, tag).value)
    assert (card_key.curve, card_key.d) == (name, fields.d)


def test_ec_key_fields_are_redacted_and_checked() -> None:
    curve = commands.curve_by_name("secp256r1")
    assert "123" not in repr(commands.EcPrivateKeyFields(curve, 123))
    with pytest.raises(EncodingError):
        commands.EcPrivateKeyFields(curve, curve.n)
    with pytest.raises(EncodingError):
        commands.curve_by_name("sect283k1")  # binary curves are not part of the extension


@given(st.binary(max_size=300))
def test_decode_ec_key_random_bytes_raise_encoding_error_only(data: bytes) -> None:
    try:
        tag, fields = commands.decode_ec_private_key(data)
    except EncodingError:
        return
    assert tag in (0x63, 0x66) and 0 < fields.d < fields.curve.n


@given(st.sampled_from(CURVE_NAMES), st.data())
def test_decode_ec_key_truncated_or_altered_raises_encoding_error(
    name: str, data: st.DataObject
) -> None:
    curve = commands.curve_by_name(name)
    good = commands.ec_private_key_data(0x63, commands.EcPrivateKeyFields(curve, 7))
    cut = data.draw(st.integers(0, len(good) - 1))
    with pytest.raises(EncodingError):
        commands.decode_ec_private_key(good[:cut])
    # A changed parameter byte (inside 81..85, past the headers) is not a known curve any more.
    position = data.draw(st.integers(8, len(good) - 40))
    altered = bytearray(good)
    altered[position] ^= 0x01
    try:
        tag, fields = commands.decode_ec_private_key(bytes(altered))
    except EncodingError:
        return
    assert (tag, fields.curve) == (0x63, curve) and fields.d != 7  # only d was hit


def test_decode_ec_key_wrong_tags() -> None:
    curve = commands.curve_by_name("brainpoolP256r1")
    good = commands.ec_private_key_data(0x63, commands.EcPrivateKeyFields(curve, 5))
    with pytest.raises(EncodingError):
        commands.decode_ec_private_key(b"\x64" + good[1:])
    inner = tlv.decode_single(good, 0x63).children()
    swapped = b"".join(c.raw for c in reversed(inner))
    with pytest.raises(EncodingError):
        commands.decode_ec_private_key(tlv.encode(0x63, swapped))
