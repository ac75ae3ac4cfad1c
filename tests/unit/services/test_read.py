"""`cardkit.services.read`: access keys, extended-length detection, chunk sizes, file reads and the
access-control decisions of `read_card`, with scripted connections and a mirrored SM session."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st
from testpki import in_memory_issuer

from cardkit.encoding import tlv
from cardkit.encoding.mrz import MrzError
from cardkit.errors import (
    AccessDeniedError,
    CardError,
    EncodingError,
    ProtocolError,
    TransportError,
)
from cardkit.iso7816.apdu import Command, Response
from cardkit.iso7816.connection import Connection
from cardkit.lds import files
from cardkit.lds.dg1 import Dg1
from cardkit.profile import Profile, load_profile
from cardkit.protocol import ec as ec_math
from cardkit.protocol.kdf import Cipher
from cardkit.protocol.sm import SecureConnection, SecureMessaging
from cardkit.records import load_records, validate_all
from cardkit.services.card_image import CardImage
from cardkit.services.prepare import ChipKeys, Issuer, generate_chip_keys, prepare_card
from cardkit.services.read import (
    AccessKey,
    CountingConnection,
    ReadLimits,
    extended_length_from_atr,
    historical_bytes,
    max_protected_plaintext,
    parse_atr_info,
    read_card,
    read_file,
    tlv_total_length,
)
from cardkit.transport.scripted import FunctionConnection, ScriptedConnection

VECTORS = Path(__file__).resolve().parents[2] / "vectors"
OK = b"\x90\x00"

# ICAO 9303-11 Appendix D.1: the MRZ of the specimen passport whose BAC keys D.2 derives.
SPECIMEN_TD3 = (
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C<3UTO6908061F9406236ZE184226B<<<<<14"
)
# DOMAIN.md §3: a checked CCCD TD1 MRZ (lines 1 and 2; line 3 is the name).
CCCD_TD1 = (
    "IDVNM0930470641001093047064<<2\n9301054M3301052VNM<<<<<<<<<<<8\nNGUYEN<<VAN<A<<<<<<<<<<<<<<<<<"
)


def _vector(name: str) -> dict[str, object]:
    data = json.loads((VECTORS / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


# --- AccessKey ----------------------------------------------------------------------------------


def test_access_key_from_specimen_mrz_gives_the_appendix_d_key_seed() -> None:
    d2 = _vector("bac_icao9303_11_appendix_d.json")["d2"]
    assert isinstance(d2, dict)
    key = AccessKey.from_mrz(SPECIMEN_TD3)
    assert key.kind == "MRZ" and key.mrz_key is not None
    assert key.mrz_key.mrz_information().decode() == d2["mrz_information"]
    assert key.mrz_key.key_seed().hex().upper() == d2["k_seed"]
    fields = AccessKey.from_mrz_fields("L898902C", "690806", "940623")
    assert fields == key
    assert fields.pace_password().value == str(d2["mrz_information"]).encode()


def test_access_key_from_cccd_td1_and_one_line_form() -> None:
    key = AccessKey.from_mrz(CCCD_TD1)
    assert key.mrz_key is not None
    assert key.mrz_key.document_number == "093047064"
    assert (key.mrz_key.date_of_birth, key.mrz_key.date_of_expiry) == ("930105", "330105")
    assert AccessKey.from_mrz(CCCD_TD1.replace("\n", "")) == key


def test_access_key_repr_and_errors_never_show_the_secret() -> None:
    key = AccessKey.from_can("123456")
    assert "123456" not in repr(key) and key.kind == "CAN"
    assert "093047064" not in repr(AccessKey.from_mrz(CCCD_TD1))
    with pytest.raises(EncodingError) as bad_can:
        AccessKey.from_can("12a456")
    assert "12a456" not in str(bad_can.value)
    with pytest.raises(MrzError) as bad_date:
        AccessKey.from_mrz_fields("093047064", "93010X", "330105")
    assert "93010X" not in str(bad_date.value) and bad_date.value.field == "date_of_birth"
    with pytest.raises(MrzError):  # a wrong check digit is caught before the chip sees it
        AccessKey.from_mrz(CCCD_TD1.replace("<<2\n", "<<3\n"))
    with pytest.raises(ValueError):
        AccessKey()


# --- ATR, EF.ATR/INFO ---------------------------------------------------------------------------

# Hand-assembled per ISO/IEC 7816-3 §8.2 / 7816-4 §8.1.1.2.7: 3B 8K, TD1 81 (T=1, TD2), TD2 31
# (TA3, TB3), TA3 FE, TB3 45, historical 80 73 xx yy zz, TCK.
ATR_EXTENDED = bytes.fromhex("3B 85 81 31 FE 45 80 73 94 01 60".replace(" ", "")) + b"\x00"
ATR_SHORT = bytes.fromhex("3B 85 81 31 FE 45 80 73 94 01 00".replace(" ", "")) + b"\x00"
# T=0 ATR with category 00 and a status indicator (last three historical bytes).
ATR_CATEGORY_00 = bytes.fromhex("3B 08 00 73 94 01 40 00 90 00".replace(" ", ""))


def test_extended_length_from_atr_card_capabilities() -> None:
    assert historical_bytes(ATR_EXTENDED) == bytes.fromhex("8073940160")
    assert extended_length_from_atr(ATR_EXTENDED) is True
    assert extended_length_from_atr(ATR_SHORT) is False
    assert extended_length_from_atr(ATR_CATEGORY_00) is True
    assert extended_length_from_atr(bytes.fromhex("3B8080018080")) is None  # no capabilities
    assert extended_length_from_atr(None) is None


@given(st.binary(max_size=40))
def test_atr_parsing_never_raises(atr: bytes) -> None:
    assert extended_length_from_atr(atr) in (True, False, None)


def test_parse_atr_info_reads_do_7f66() -> None:
    # ISO/IEC 7816-4 §12.7.1: 7F66 { 02 max command, 02 max response }.
    info = bytes.fromhex("47 03 94 01 60 7F66 08 02 02 11 00 02 02 7F FF".replace(" ", ""))
    assert parse_atr_info(info) == 0x7FFF
    assert parse_atr_info(bytes.fromhex("470394016000")) is None
    with pytest.raises(EncodingError):
        parse_atr_info(bytes.fromhex("7F6603020101"))


# --- Chunk sizes ----------------------------------------------------------------------------------


def test_short_secure_messaging_chunks() -> None:
    # The figures of JMRTD's DEFAULT_MAX_BLOCKSIZE discussions and the brief: the protected
    # response of one READ BINARY must fit 256 bytes.
    assert max_protected_plaintext(16, 256) == 223
    assert max_protected_plaintext(8, 256) == 231


@given(
    block=st.sampled_from([8, 16]),
    limit=st.integers(min_value=64, max_value=4000),
    odd=st.booleans(),
)
def test_chunk_is_the_largest_that_fits_once_protected(block: int, limit: int, odd: bool) -> None:
    n = max_protected_plaintext(block, limit, odd)
    cipher: Cipher = "AES" if block == 16 else "3DES"

    def protected_length(size: int) -> int:
        card = SecureMessaging(cipher, bytes(16), bytes(range(16)), 0)
        card._last_ins = 0xB1 if odd else 0xB0  # what unwrap_command would have recorded
        return len(card.wrap_response(Response(bytes(size), 0x9000)).data)

    assert protected_length(n) <= limit
    assert protected_length(n + 1) > limit


# --- TLV header -----------------------------------------------------------------------------------


@given(
    tag=st.sampled_from([0x60, 0x61, 0x75, 0x77, 0x6E, 0x31, 0x5F1F, 0x7F61]),
    value=st.binary(max_size=70000),
)
def test_tlv_total_length_matches_the_encoding(tag: int, value: bytes) -> None:
    encoded = tlv.encode(tag, value)
    assert tlv_total_length(encoded) == len(encoded)
    header = len(encoded) - len(value)
    for cut in range(header):
        assert tlv_total_length(encoded[:cut]) is None


@given(st.binary(max_size=12))
def test_tlv_total_length_malformed_raises_encoding_error_only(data: bytes) -> None:
    try:
        result = tlv_total_length(data)
    except EncodingError:
        return
    assert result is None or result >= 2


# --- read_file ------------------------------------------------------------------------------------


def file_server(
    content: bytes, *, sfi: int, chunk_log: list[Command] | None = None
) -> Callable[[Command], Response]:
    """A chip's READ BINARY for one file: SFI, offsets in P1-P2, B1 with DO'54'; 6282 at EOF."""

    def handle(command: Command) -> Response:
        if chunk_log is not None:
            chunk_log.append(command)
        if command.ins == 0xB0:
            if command.p1 & 0x80:
                if command.p1 & 0x1F != sfi:
                    return Response(b"", 0x6A82)
                offset = command.p2
            else:
                offset = (command.p1 << 8) | command.p2
            ne = command.ne or 0
            data = content[offset : offset + ne]
            return Response(data, 0x9000 if len(data) == ne else 0x6282)
        if command.ins == 0xB1:
            offset = int.from_bytes(tlv.decode_single(command.data, 0x54).value, "big")
            ne = command.ne or 0
            want = ne - 2
            while want + 1 + len(tlv.encode_length(want)) > ne:
                want -= 1
            data = content[offset : offset + want]
            return Response(tlv.encode(0x53, data), 0x9000)
        return Response(b"", 0x6D00)

    return handle


def test_read_file_small_file_in_one_sfi_read() -> None:
    com = tlv.encode(0x60, bytes.fromhex("5F0104303130375F36063034303030305C026175"))
    script = ScriptedConnection([(bytes.fromhex("00B09E0000"), com + b"\x62\x82")])
    assert read_file(script, files.COM) == com
    script.assert_done()


def test_read_file_large_file_short_reads() -> None:
    content = tlv.encode(0x75, bytes(range(256)) * 4)  # 1028 bytes
    log: list[Command] = []
    got = read_file(FunctionConnection(file_server(content, sfi=2, chunk_log=log)), files.dg(2))
    assert got == content
    assert log[0].p1 == 0x82 and log[0].ne == 256
    assert [c.ne for c in log] == [256, 256, 256, 256, 4]
    assert all(c.p1 & 0x80 == 0 for c in log[1:])  # the SFI read made the EF current


def test_read_file_offsets_above_32767_use_read_binary_b1() -> None:
    content = tlv.encode(0x75, bytes(range(256)) * 140)  # 35844 bytes: short reads cross 32767
    log: list[Command] = []
    conn = FunctionConnection(file_server(content, sfi=2, chunk_log=log))
    assert read_file(conn, files.dg(2)) == content
    assert all(c.ins == 0xB0 for c in log if c.ins != 0xB1)
    assert [c.ins for c in log].count(0xB1) >= 1
    first_odd = next(c for c in log if c.ins == 0xB1)
    assert int.from_bytes(tlv.decode_single(first_odd.data, 0x54).value, "big") > 32767


@pytest.mark.parametrize(("sw", "exc"), [(0x6A82, CardError), (0x6982, CardError)])
def test_read_file_refusals(sw: int, exc: type[Exception]) -> None:
    script = ScriptedConnection([(bytes.fromhex("00B0830000"), sw.to_bytes(2, "big"))])
    with pytest.raises(exc) as info:
        read_file(script, files.dg(3))
    assert isinstance(info.value, CardError) and info.value.sw == sw


def test_read_file_truncated_file_and_empty_answers() -> None:
    script = ScriptedConnection([(bytes.fromhex("00B0810000"), bytes.fromhex("615A5F1F6282"))])
    with pytest.raises(EncodingError):
        read_file(script, files.dg(1))
    script = ScriptedConnection([(bytes.fromhex("00B0810000"), OK)])
    with pytest.raises(ProtocolError):
        read_file(script, files.dg(1))


@given(
    st.lists(
        st.tuples(
            st.binary(max_size=300),
            st.sampled_from([0x9000, 0x6282, 0x6A82, 0x6982, 0x6B00, 0x6700, 0x6F00]),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_read_file_random_answers_raise_only_cardkit_errors(
    answers: list[tuple[bytes, int]],
) -> None:
    queue = list(answers)

    def handle(command: Command) -> Response:
        if not queue:
            return Response(b"", 0x6A82)
        data, sw = queue.pop(0)
        return Response(data, sw)

    try:
        data = read_file(FunctionConnection(handle), files.dg(2), ReadLimits(True, 30000))
    except (EncodingError, ProtocolError, CardError):
        return
    assert tlv_total_length(data) == len(data)


# --- Secure messaging: chunk sizes over a mirrored session ----------------------------------------


def secure_file_server(
    content: bytes, cipher: Cipher, sfi: int, log: list[Command]
) -> SecureConnection:
    """A terminal SecureConnection talking to a card-side SM session with the same keys."""
    k_enc, k_mac = bytes(range(16)), bytes(range(16, 32))
    card = SecureMessaging(cipher, k_enc, k_mac, 0)
    serve = file_server(content, sfi=sfi, chunk_log=log)

    def handle(protected: Command) -> Response:
        plain = card.unwrap_command(protected)
        response = card.wrap_response(serve(plain))
        assert len(response.data) <= (256 if not protected.is_extended else 65536)
        return response

    terminal = SecureMessaging(cipher, k_enc, k_mac, 0)
    return SecureConnection(FunctionConnection(handle), terminal)


@pytest.mark.parametrize(("cipher", "chunk"), [("AES", 223), ("3DES", 231)])
def test_secure_reads_use_the_largest_short_chunk(cipher: Cipher, chunk: int) -> None:
    content = tlv.encode(0x77, bytes(996))  # 1000 bytes
    log: list[Command] = []
    conn = secure_file_server(content, cipher, 0x1D, log)
    block = 16 if cipher == "AES" else 8
    assert read_file(conn, files.SOD, block=block) == content
    sizes = [c.ne for c in log]
    assert sizes[:-1] == [chunk] * (len(sizes) - 1)
    assert sum(s or 0 for s in sizes) >= 1000 and len(sizes) == -(-1000 // chunk)


def test_secure_extended_read_takes_the_rest_in_one_apdu() -> None:
    content = tlv.encode(0x75, bytes(20000))
    log: list[Command] = []
    conn = secure_file_server(content, "AES", 2, log)
    assert read_file(conn, files.dg(2), ReadLimits(True, 32765), block=16) == content
    assert len(log) == 2 and log[0].ne == 223 and log[1].ne == len(content) - 223


# --- read_card: the access-control decisions ------------------------------------------------

CARD_ACCESS_G1 = bytes.fromhex(
    str(_vector("card_access_icao9303_11_appendix_g.json")["g1_ecdh_gm"])
)
SELECT_ATR_INFO = bytes.fromhex("00A4020C022F01")
SELECT_CARD_ACCESS = bytes.fromhex("00A4020C02011C")
SELECT_LDS = bytes.fromhex("00A4040C07A0000002471001")
READ_SELECTED = bytes.fromhex("00B0000000")
GET_CHALLENGE = bytes.fromhex("0084000008")
REMOVED = TransportError("card removed from test reader", reader="test reader")


def test_pace_is_chosen_when_card_access_offers_it() -> None:
    script = ScriptedConnection(
        [
            (SELECT_ATR_INFO, b"\x6a\x82"),
            (SELECT_CARD_ACCESS, OK),
            (READ_SELECTED, CARD_ACCESS_G1 + OK),
            # MSE:Set AT, PACE-ECDH-GM-AES-128, password 02 (CAN), parameter 0D (9303-11 §4.4.4.1).
            (bytes.fromhex("0022C1A412800A04007F0007020204020283010284010D"), REMOVED),
        ]
    )
    with pytest.raises(TransportError):
        read_card(script, AccessKey.from_can("123456"))
    script.assert_done()


def test_bac_when_there_is_no_card_access() -> None:
    script = ScriptedConnection(
        [
            (SELECT_CARD_ACCESS, b"\x6a\x82"),
            (SELECT_LDS, OK),  # selected in clear before BAC (9303-11 §4.2)
            (GET_CHALLENGE, REMOVED),
        ]
    )
    with pytest.raises(TransportError):
        read_card(script, AccessKey.from_mrz(CCCD_TD1), extended_length=False)
    script.assert_done()


def test_can_without_pace_is_access_denied() -> None:
    script = ScriptedConnection([(SELECT_CARD_ACCESS, b"\x6a\x82")])
    with pytest.raises(AccessDeniedError) as info:
        read_card(script, AccessKey.from_can("123456"), extended_length=False)
    assert info.value.key_kind == "CAN"
    assert "123456" not in str(info.value)
    script.assert_done()


def test_can_refused_by_mse_set_at_is_access_denied() -> None:
    script = ScriptedConnection(
        [
            (SELECT_ATR_INFO, b"\x6a\x82"),
            (SELECT_CARD_ACCESS, OK),
            (READ_SELECTED, CARD_ACCESS_G1 + OK),
            # 6A88 referenced data not found: this chip has no CAN (9303-11 §4.4.4.1).
            (bytes.fromhex("0022C1A412800A04007F0007020204020283010284010D"), b"\x6a\x88"),
        ]
    )
    with pytest.raises(AccessDeniedError) as info:
        read_card(script, AccessKey.from_can("123456"))
    assert info.value.key_kind == "CAN"
    script.assert_done()


def test_atr_without_extended_length_skips_ef_atr_info() -> None:
    class WithAtr(ScriptedConnection):
        atr = ATR_SHORT

    script = WithAtr([(SELECT_CARD_ACCESS, b"\x6a\x82"), (SELECT_LDS, b"\x6a\x82")])
    with pytest.raises(CardError) as info:
        read_card(script, AccessKey.from_mrz(CCCD_TD1))
    assert info.value.sw == 0x6A82
    script.assert_done()


def test_wrong_mrz_is_a_protocol_error() -> None:
    script = ScriptedConnection(
        [(SELECT_CARD_ACCESS, b"\x6a\x82"), (SELECT_LDS, OK), (GET_CHALLENGE, bytes(8) + OK)]
    )

    def handle(command: Command) -> Response:
        if script.remaining:
            return script.send(command)
        # EXTERNAL AUTHENTICATE answered 6300: the chip's check of the terminal's MAC failed.
        assert command.ins == 0x82
        return Response(b"", 0x6300)

    with pytest.raises(AccessDeniedError) as info:
        read_card(
            FunctionConnection(handle),
            AccessKey.from_mrz(CCCD_TD1),
            extended_length=False,
            rng=lambda n: bytes(n),
        )
    assert info.value.key_kind == "MRZ"


def test_counting_connection_counts_both_directions() -> None:
    script = ScriptedConnection([(SELECT_LDS, OK)])
    counter = CountingConnection(script)
    counter.send(Command.from_bytes(SELECT_LDS))
    assert counter.apdu_count == 1 and counter.bytes_exchanged == len(SELECT_LDS) + 2


def test_data_groups_are_validated() -> None:
    with pytest.raises(ValueError):
        read_card(ScriptedConnection([]), AccessKey.from_can("123456"), data_groups=[17])


# --- End to end: cardkit's emulated chip, personalized with a prepared card image -----------------

import cardkit.emulator.card as emulator_card  # noqa: E402

SAMPLES = Path(__file__).resolve().parents[3] / "profiles" / "samples"
TODAY = date(2026, 11, 1)  # the samples' reference day (profiles/samples/README.md)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _issuer() -> Issuer:
    return in_memory_issuer("read test", "tk-read-test").issuer


def _ec_key_data(tag: int, key: ec.EllipticCurvePrivateKey) -> bytes:
    """PUT DATA body of an EC private key (DOMAIN.md §7): 81 p 82 a 83 b 84 G 85 n 86 d 87 h."""
    curve = ec_math.curve_by_name(key.curve.name)
    size = curve.field_length
    order_size = (curve.n.bit_length() + 7) // 8

    def num(value: int, length: int) -> bytes:
        return value.to_bytes(length, "big")

    body = (
        tlv.encode(0x81, num(curve.p, size))
        + tlv.encode(0x82, num(curve.a % curve.p, size))
        + tlv.encode(0x83, num(curve.b, size))
        + tlv.encode(0x84, b"\x04" + num(curve.gx, size) + num(curve.gy, size))
        + tlv.encode(0x85, num(curve.n, order_size))
        + tlv.encode(0x86, num(key.private_numbers().private_value, order_size))
        + tlv.encode(0x87, bytes([curve.h]))
    )
    return tlv.encode(tag, body)


def personalize(
    card: emulator_card.EmulatedCard, image: CardImage, keys: ChipKeys, can: str | None
) -> None:
    """Load ``image`` into an emulated chip with the open personalization protocol, then lock."""
    conn = emulator_card.EmulatorConnection(card)

    def ok(command: Command) -> None:
        response = conn.send(command)
        assert response.sw == 0x9000, f"{bytes(command)[:4].hex()} → {response.sw:04X}"

    ok(Command(0x00, 0xA4, 0x04, 0x0C, files.LDS1_AID))
    for spec, data in image.files.items():
        fid = spec.fid_bytes
        ok(Command(0x00, 0xE0, 0x00, 0x00, b"\x63\x04" + len(data).to_bytes(2, "big") + fid))
        ok(Command(0x00, 0xA4, 0x02, 0x0C, fid))
        for offset in range(0, len(data), 4096):
            ok(Command(0x00, 0xD6, offset >> 8, offset & 0xFF, data[offset : offset + 4096]))
    mrz = Dg1.from_bytes(image.files[files.dg(1)]).mrz
    seed = b"".join(
        tlv.encode(0x04, v.encode())
        for v in (mrz.document_number, mrz.date_of_birth, mrz.date_of_expiry)
    )
    ok(Command(0x00, 0xDA, 0x00, 0x62, tlv.encode(0x62, seed)))
    assert keys.chip_authentication is not None
    ok(Command(0x00, 0xDA, 0x00, 0x63, _ec_key_data(0x63, keys.chip_authentication)))
    aa_key = keys.active_authentication
    assert isinstance(aa_key, ec.EllipticCurvePrivateKey)
    ok(Command(0x00, 0xDA, 0x00, 0x66, _ec_key_data(0x66, aa_key)))
    if can is not None:
        ok(Command(0x00, 0xDA, 0x00, 0x65, tlv.encode(0x65, tlv.encode(0x04, can.encode()))))
    ok(Command(0x00, 0xDA, 0xDE, 0xAD))


@dataclasses.dataclass(frozen=True)
class Chip:
    image: CardImage
    keys: ChipKeys
    can: str
    mrz: str  # the three MRZ lines, as printed

    def card(self, *, can: bool = True) -> emulator_card.EmulatedCard:
        card = emulator_card.EmulatedCard.open(None)
        personalize(card, self.image, self.keys, self.can if can else None)
        return card


def make_chip(profile: Profile, photo: bytes | None = None) -> Chip:
    """A prepared card image of the first sample citizen with a CAN (``photo``: another face)."""
    results = validate_all(load_records(SAMPLES / "citizens.csv"), profile, TODAY)
    record = next(r.record for r in results if r.record is not None and r.record.can)
    assert record.can is not None
    keys = generate_chip_keys(profile)
    image = prepare_card(
        record,
        profile,
        _issuer(),
        card_id="read-test",
        photo=photo if photo is not None else record.photo_path.read_bytes(),
        fingerprints=[p.read_bytes() for p in record.fingerprint_paths],
        signing_time=datetime(2026, 11, 1, 10, 0, tzinfo=UTC),
        chip_keys=keys,
    )
    mrz = Dg1.from_bytes(image.files[files.dg(1)]).mrz
    return Chip(image, keys, record.can, "\n".join(mrz.lines))


@pytest.fixture(scope="module")
def chip() -> Chip:
    return make_chip(load_profile("vn-cccd-2021"))


def connect(card: emulator_card.EmulatedCard) -> Connection:
    connection: Connection = emulator_card.EmulatorConnection(card)
    return connection


def assert_complete(result: object, chip: Chip) -> None:
    from cardkit.services.read import CardRead

    assert isinstance(result, CardRead)
    expected = dict(chip.image.files)
    dg3 = files.dg(3)
    protected = dg3 in expected
    expected.pop(dg3, None)
    assert dict(result.files) == expected  # every file, byte for byte
    assert result.protected == ((3,) if protected else ())
    assert result.missing == ()
    assert result.errors == ()
    assert result.ca is not None
    assert result.aa is not None and result.aa.verified, result.aa


def test_read_pace_can_with_ca_and_aa(chip: Chip) -> None:
    card = chip.card()
    result = read_card(connect(card), AccessKey.from_can(chip.can))
    assert result.access == "PACE-CAN" and result.pace is not None
    assert_complete(result, chip)
    assert result.extended_length
    assert result.apdu_count <= 30, result.apdu_count
    assert not result.pace.sm.active  # the session keys are gone


def test_read_pace_mrz(chip: Chip) -> None:
    result = read_card(connect(chip.card()), AccessKey.from_mrz(chip.mrz))
    assert result.access == "PACE-MRZ"
    assert_complete(result, chip)


def test_read_bac_when_the_chip_has_no_pace(chip: Chip) -> None:
    image = dataclasses.replace(
        chip.image,
        files={s: d for s, d in chip.image.files.items() if s != files.CARD_ACCESS},
    )
    no_pace = dataclasses.replace(chip, image=image)
    result = read_card(connect(no_pace.card(can=False)), AccessKey.from_mrz(chip.mrz))
    assert result.access == "BAC" and result.pace is None
    assert_complete(result, no_pace)


def test_read_short_length_only(chip: Chip) -> None:
    long_read = read_card(connect(chip.card()), AccessKey.from_can(chip.can))
    short = read_card(
        connect(chip.card()),
        AccessKey.from_can(chip.can),
        extended_length=False,
    )
    assert not short.extended_length
    assert_complete(short, chip)
    assert short.apdu_count > long_read.apdu_count


def test_requested_data_groups_and_missing(chip: Chip) -> None:
    result = read_card(
        connect(chip.card()),
        AccessKey.from_can(chip.can),
        data_groups=[1, 5],
        chip_authentication=False,
        active_authentication=False,
    )
    assert result.missing == (5,)
    assert files.dg(1) in result.files and files.dg(2) not in result.files
    assert result.ca is None and result.aa is None


def test_wrong_can_is_access_denied(chip: Chip) -> None:
    wrong = "000000" if chip.can != "000000" else "111111"
    with pytest.raises(AccessDeniedError) as info:
        read_card(connect(chip.card()), AccessKey.from_can(wrong))
    assert info.value.key_kind == "CAN"


def test_wrong_mrz_is_access_denied(chip: Chip) -> None:
    key = AccessKey.from_mrz_fields("000000000", "900101", "300101")
    with pytest.raises(AccessDeniedError) as info:
        read_card(connect(chip.card()), key, extended_length=False)
    assert info.value.key_kind == "MRZ"


class Tamper:
    """Flips one bit of the MAC of the ``target``-th response (a protected one)."""

    def __init__(self, inner: Connection, target: int) -> None:
        self.inner = inner
        self.count = 0
        self.target = target

    def send(self, command: Command) -> Response:
        response = self.inner.send(command)
        self.count += 1
        if self.count == self.target:
            data = bytearray(response.data)
            data[-1] ^= 0x01
            return Response(bytes(data), response.sw)
        return response


def test_tampered_response_mac_is_a_protocol_error(chip: Chip) -> None:
    # APDU 12 is well inside secure messaging (after PACE's 7 exchanges and the first reads).
    tampered = Tamper(connect(chip.card()), 12)
    with pytest.raises(ProtocolError) as info:
        read_card(tampered, AccessKey.from_can(chip.can))
    assert not isinstance(info.value, AccessDeniedError)  # damage, not a wrong key


class PullOut:
    """The card leaves the field after ``after`` APDUs."""

    def __init__(self, inner: Connection, after: int) -> None:
        self.inner = inner
        self.left = after

    def send(self, command: Command) -> Response:
        if self.left == 0:
            raise TransportError("card removed from test reader", reader="test reader")
        self.left -= 1
        return self.inner.send(command)


@pytest.mark.parametrize("after", [3, 9, 14, 20])
def test_card_removed_mid_read_then_a_fresh_read_works(chip: Chip, after: int) -> None:
    card = chip.card()
    with pytest.raises(TransportError):
        read_card(PullOut(connect(card), after), AccessKey.from_can(chip.can))
    again = read_card(connect(card), AccessKey.from_can(chip.can))
    assert_complete(again, chip)


def test_read_pace_cam_is_verified_against_dg14() -> None:
    vn = load_profile("vn-cccd-2021")
    cam = dataclasses.replace(vn, access=dataclasses.replace(vn.access, pace_mapping="CAM"))
    chip = make_chip(cam)
    result = read_card(connect(chip.card()), AccessKey.from_can(chip.can))
    assert result.pace is not None and result.pace.mapping == "CAM"
    assert result.pace.cam_verified is True
    assert result.chip_authentication == "PACE-CAM" and result.ca is None  # CA not needed
    assert result.aa is not None and result.aa.verified
    assert result.errors == ()
