"""The emulated chip end to end: personalize a vn-cccd-2021 card image, lock, then read it
through BAC, PACE, CA and AA exactly as a terminal would (cardkit's own protocol layer).

Known answers: ICAO 9303-11 Appendix D (BAC and secure messaging, replayed byte for byte against
the emulator with the chip's random values injected) and Appendix G.1/G.2 (PACE-GM, likewise).
"""

from __future__ import annotations

import dataclasses
import json
import os
import stat
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from testpki import in_memory_issuer

from cardkit.emulator import CardState, EmulatedCard, EmulatorConnection, EmulatorStateError
from cardkit.emulator.atr import MAX_UPDATE_DATA
from cardkit.encoding import oids, tlv
from cardkit.encoding.asn1 import CURVES, Curve
from cardkit.errors import AccessDeniedError, CardError, ProtocolError
from cardkit.iso7816.apdu import SW, Command, Response
from cardkit.iso7816.connection import Connection
from cardkit.lds import files
from cardkit.lds.card_access import CardAccess
from cardkit.lds.dg14 import Dg14
from cardkit.lds.dg15 import Dg15
from cardkit.lds.security_infos import ChipAuthenticationInfo, PaceInfo
from cardkit.profile import load_profile
from cardkit.protocol import aa, ca, pace
from cardkit.protocol.bac import MrzKey, perform_bac
from cardkit.protocol.ec import encode_point
from cardkit.protocol.sm import SecureConnection
from cardkit.records import load_records, validate_all
from cardkit.services.card_image import CardImage, ChipSecrets, secrets_aad
from cardkit.services.prepare import prepare_card

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ROOT / "profiles" / "samples"
VECTORS = ROOT / "tests" / "vectors"
TODAY = date(2026, 11, 1)  # the samples' reference day (profiles/samples/README.md)
T0 = datetime(2026, 1, 1, tzinfo=UTC)
SIGNED_AT = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)

AID = files.LDS1_AID
SELECT_APPLET = Command(0x00, 0xA4, 0x04, 0x0C, AID)
LOCK = Command(0x00, 0xDA, 0xDE, 0xAD)


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def scripted_rng(*values: bytes) -> Callable[[int], bytes]:
    queue = list(values)

    def rng(n: int) -> bytes:
        value = queue.pop(0)
        assert len(value) == n
        return value

    return rng


# --- The card image ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Prepared:
    image: CardImage
    secrets: ChipSecrets

    @property
    def mrz_key(self) -> MrzKey:
        s = self.secrets
        return MrzKey(s.document_number, s.date_of_birth, s.date_of_expiry)

    @property
    def files(self) -> dict[int, bytes]:
        return {spec.fid: data for spec, data in self.image.files.items()}

    def dg(self, n: int) -> bytes:
        return self.image.files[files.dg(n)]


@pytest.fixture(scope="module")
def prepared() -> Prepared:
    pki = in_memory_issuer("emulator test", "tk-00112233445566ff")
    transport, issuer = pki.transport, pki.issuer
    profile = load_profile("vn-cccd-2021")
    results = validate_all(load_records(SAMPLES / "citizens.csv"), profile, TODAY)
    record = results[0].record
    assert record is not None and record.can is not None and record.fingerprint_paths
    image = prepare_card(
        record,
        profile,
        issuer,
        card_id="emulator-00002",
        photo=record.photo_path.read_bytes(),
        fingerprints=[p.read_bytes() for p in record.fingerprint_paths],
        signing_time=SIGNED_AT,
    )
    sealed = transport.decrypt(image.sealed, secrets_aad(image.card_id, image.sod))
    return Prepared(image, ChipSecrets.from_bytes(sealed))


# --- The personalization protocol, host side (DOMAIN.md §7) -----------------------------------


def ok(response: Response) -> Response:
    assert response.sw == SW.OK, f"{response.sw:04X}"
    return response


def create_and_write(conn: Connection, fid: int, data: bytes) -> None:
    ok(
        conn.send(
            Command(
                0, 0xE0, 0, 0, b"\x63\x04" + len(data).to_bytes(2, "big") + fid.to_bytes(2, "big")
            )
        )
    )
    ok(conn.send(Command(0, 0xA4, 0x02, 0x0C, fid.to_bytes(2, "big"))))
    for offset in range(0, len(data), MAX_UPDATE_DATA):
        chunk = data[offset : offset + MAX_UPDATE_DATA]
        ok(conn.send(Command(0, 0xD6, offset >> 8, offset & 0xFF, chunk)))


def put_data(conn: Connection, tag: int, value: bytes) -> Response:
    return conn.send(Command(0, 0xDA, 0x00, tag, tlv.encode(tag, value)))


def curve_named(name: str) -> Curve:
    return next(c for c in CURVES if c.name == name)


def ec_key_value(key: ec.EllipticCurvePrivateKey) -> bytes:
    """``{81 p}{82 a}{83 b}{84 G}{85 n}{86 d}{87 h}`` of PUT DATA 63/66."""
    curve = curve_named(key.curve.name)
    size = curve.field_length
    d = key.private_numbers().private_value
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


def mrz_seed(key: MrzKey) -> bytes:
    return b"".join(
        tlv.encode(0x04, v.encode())
        for v in (key.document_number, key.date_of_birth, key.date_of_expiry)
    )


def personalize(
    card: EmulatedCard,
    prepared: Prepared,
    *,
    lock: bool = True,
    replace: dict[int, bytes] | None = None,
) -> None:
    conn = EmulatorConnection(card)
    ok(conn.send(SELECT_APPLET))
    for fid, data in {**prepared.files, **(replace or {})}.items():
        create_and_write(conn, fid, data)
    s = prepared.secrets
    ok(put_data(conn, 0x62, mrz_seed(prepared.mrz_key)))
    assert s.can is not None
    ok(put_data(conn, 0x65, tlv.encode(0x04, s.can.encode())))
    ca_key = s.private_key("chip_authentication")
    aa_key = s.private_key("active_authentication")
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    assert isinstance(aa_key, ec.EllipticCurvePrivateKey)
    ok(put_data(conn, 0x63, ec_key_value(ca_key)))
    ok(put_data(conn, 0x66, ec_key_value(aa_key)))
    if lock:
        ok(conn.send(LOCK))
    card.power_off()


@pytest.fixture
def card(prepared: Prepared) -> EmulatedCard:
    card = EmulatedCard.open()
    personalize(card, prepared)
    return card


# --- Reading ---------------------------------------------------------------------------------


def select(conn: Connection, fid: int) -> Response:
    return conn.send(Command(0, 0xA4, 0x02, 0x0C, fid.to_bytes(2, "big")))


def read_file(conn: Connection, fid: int, chunk: int = 0xE0) -> bytes:
    ok(select(conn, fid))
    out = b""
    while True:
        r = conn.send(Command(0, 0xB0, len(out) >> 8, len(out) & 0xFF, ne=chunk))
        if r.sw == SW.WRONG_P1P2 and out:  # offset at the end of the file
            return out
        assert r.sw in (SW.OK, SW.WARNING_END_OF_FILE), f"{r.sw:04X}"
        out += r.data
        if r.sw == SW.WARNING_END_OF_FILE:
            return out


def bac_connection(card: EmulatedCard, key: MrzKey) -> SecureConnection:
    conn = EmulatorConnection(card)
    ok(conn.send(SELECT_APPLET))
    return SecureConnection(conn, perform_bac(conn, key))


def pace_connection(card: EmulatedCard, password: pace.PacePassword) -> SecureConnection:
    conn = EmulatorConnection(card)
    access = CardAccess.from_bytes(read_file(conn, files.CARD_ACCESS.fid))
    info = pace.choose_pace_info(access)
    assert info is not None
    result = pace.perform_pace(conn, password, info)
    secure = SecureConnection(conn, result.sm)
    ok(secure.send(SELECT_APPLET))
    return secure


LDS_FILES = [files.COM, files.SOD, *(files.dg(n) for n in (1, 2, 13, 14, 15))]


def test_reads_without_a_secure_channel_are_refused(card: EmulatedCard, prepared: Prepared) -> None:
    conn = EmulatorConnection(card)
    ok(conn.send(SELECT_APPLET))
    for spec in [*LDS_FILES, files.dg(3)]:
        ok(select(conn, spec.fid))  # selection is allowed, reading is not
        assert conn.send(Command(0, 0xB0, 0, 0, ne=4)).sw == SW.SECURITY_STATUS_NOT_SATISFIED
        sfi_read = Command(0, 0xB0, 0x80 | spec.sfi, 0, ne=4)
        assert conn.send(sfi_read).sw == SW.SECURITY_STATUS_NOT_SATISFIED
    # EF.CardAccess stays readable (a terminal needs it to start PACE), from any DF.
    assert read_file(conn, files.CARD_ACCESS.fid) == prepared.files[files.CARD_ACCESS.fid]
    # Active authentication outside secure messaging is refused too.
    assert conn.send(Command(0, 0x88, 0, 0, bytes(8), ne=256)).sw == 0x6982


def test_bac_then_every_file(card: EmulatedCard, prepared: Prepared) -> None:
    secure = bac_connection(card, prepared.mrz_key)
    for spec in LDS_FILES:
        assert read_file(secure, spec.fid) == prepared.image.files[spec], spec.name
    # DG3 stays behind terminal authentication, which the chip does not offer.
    ok(secure.send(Command(0, 0xA4, 0x02, 0x0C, files.dg(3).fid_bytes)))
    assert secure.send(Command(0, 0xB0, 0, 0, ne=16)).sw == SW.SECURITY_STATUS_NOT_SATISFIED
    # Short EF identifier and odd-INS reads under secure messaging.
    dg1 = prepared.dg(1)
    r = secure.send(Command(0, 0xB0, 0x80 | 1, 0, ne=256))
    assert r == Response(dg1, SW.WARNING_END_OF_FILE)
    r = secure.send(Command(0, 0xB1, 0, 0, tlv.encode(0x54, b"\x02"), ne=256))
    assert tlv.decode_single(r.data, 0x53).value == dg1[2:]


def test_bac_with_a_wrong_mrz_fails(card: EmulatedCard, prepared: Prepared) -> None:
    key = prepared.mrz_key
    wrong = MrzKey(key.document_number, key.date_of_birth, "991231")
    conn = EmulatorConnection(card)
    with pytest.raises(ProtocolError) as info:
        perform_bac(conn, wrong)
    assert info.value.step == "BAC mutual authentication"
    # The chip is still usable with the right MRZ.
    secure = SecureConnection(conn, perform_bac(conn, key))
    ok(secure.send(SELECT_APPLET))
    assert read_file(secure, files.dg(1).fid) == prepared.dg(1)


@pytest.mark.parametrize("kind", ["CAN", "MRZ"])
def test_pace(card: EmulatedCard, prepared: Prepared, kind: str) -> None:
    assert prepared.secrets.can is not None
    password = (
        pace.PacePassword.from_can(prepared.secrets.can)
        if kind == "CAN"
        else pace.PacePassword.from_mrz_key(prepared.mrz_key)
    )
    secure = pace_connection(card, password)
    assert secure.sm.cipher == "AES"
    for spec in LDS_FILES:
        assert read_file(secure, spec.fid) == prepared.image.files[spec], spec.name


def test_pace_with_a_wrong_can_is_refused_with_6300(card: EmulatedCard, prepared: Prepared) -> None:
    conn = EmulatorConnection(card)
    info = pace.choose_pace_info(CardAccess.from_bytes(prepared.files[files.CARD_ACCESS.fid]))
    assert info is not None
    wrong = "000000" if prepared.secrets.can != "000000" else "111111"
    with pytest.raises(AccessDeniedError) as raised:
        pace.perform_pace(conn, pace.PacePassword.from_can(wrong), info)
    refusal = raised.value.__cause__  # the chip's answer to the terminal token (step 4)
    assert isinstance(refusal, CardError) and refusal.sw == SW.VERIFICATION_FAILED
    ok(conn.send(SELECT_APPLET))
    assert conn.send(Command(0, 0xB0, 0x81, 0, ne=4)).sw == SW.SECURITY_STATUS_NOT_SATISFIED


def test_pace_cam_authenticates_the_chip(prepared: Prepared) -> None:
    # The same card with EF.CardAccess offering PACE-CAM on the chip-authentication curve.
    cam = CardAccess.build([PaceInfo.build(oids.ID_PACE_ECDH_CAM_AES_CBC_CMAC_128, 13)])
    card = EmulatedCard.open()
    personalize(card, prepared, replace={files.CARD_ACCESS.fid: bytes(cam)})
    conn = EmulatorConnection(card)
    assert prepared.secrets.can is not None
    result = pace.perform_pace(
        conn, pace.PacePassword.from_can(prepared.secrets.can), cam.pace_infos[0]
    )
    assert result.mapping == "CAM"
    assert pace.verify_cam(result, Dg14.from_bytes(prepared.dg(14)))
    secure = SecureConnection(conn, result.sm)
    ok(secure.send(SELECT_APPLET))
    assert read_file(secure, files.dg(1).fid) == prepared.dg(1)


@pytest.mark.parametrize("after", ["BAC", "PACE"])
def test_chip_authentication_restarts_secure_messaging(
    card: EmulatedCard, prepared: Prepared, after: str
) -> None:
    if after == "BAC":
        secure = bac_connection(card, prepared.mrz_key)
    else:
        assert prepared.secrets.can is not None
        secure = pace_connection(card, pace.PacePassword.from_can(prepared.secrets.can))
    old = secure.sm
    dg14 = Dg14.from_bytes(read_file(secure, files.dg(14).fid))
    result = ca.perform_ca(secure, dg14)
    assert secure.sm is result.sm and result.sm is not old and result.sm.ssc == 0
    # Every file still reads under the new keys: the chip derived the same ones.
    for spec in LDS_FILES:
        assert read_file(secure, spec.fid) == prepared.image.files[spec], spec.name


def test_chip_authentication_3des_with_mse_set_kat(card: EmulatedCard, prepared: Prepared) -> None:
    secure = bac_connection(card, prepared.mrz_key)
    dg14 = Dg14.from_bytes(prepared.dg(14))
    # The same key announced with the 3DES algorithm: the terminal then uses MSE:Set KAT.
    keys = dg14.security_infos.chip_authentication_public_keys
    dg14_3des = Dg14.build([ChipAuthenticationInfo.build(oids.ID_CA_ECDH_3DES_CBC_CBC), *keys])
    result = ca.perform_ca(secure, dg14_3des)
    assert result.sm.cipher == "3DES"
    assert read_file(secure, files.dg(1).fid) == prepared.dg(1)


def test_active_authentication(card: EmulatedCard, prepared: Prepared) -> None:
    secure = bac_connection(card, prepared.mrz_key)
    result = aa.perform_aa(
        secure, Dg15.from_bytes(prepared.dg(15)), Dg14.from_bytes(prepared.dg(14))
    )
    assert result.verified, result.detail


def test_rsa_active_authentication(prepared: Prepared) -> None:
    """PUT DATA 60/61 (modulus, private exponent) as in the JMRTD applet; e comes from DG15."""
    key = rsa.generate_private_key(65537, 1024)
    dg15 = Dg15.build(key.public_key())
    card = EmulatedCard.open()
    conn = EmulatorConnection(card)
    ok(conn.send(SELECT_APPLET))
    create_and_write(conn, files.dg(15).fid, bytes(dg15))
    numbers = key.private_numbers()
    n = numbers.public_numbers.n
    ok(put_data(conn, 0x60, tlv.encode(0x04, n.to_bytes((n.bit_length() + 7) // 8, "big"))))
    ok(put_data(conn, 0x61, tlv.encode(0x04, numbers.d.to_bytes(128, "big"))))
    ok(put_data(conn, 0x62, mrz_seed(prepared.mrz_key)))
    ok(conn.send(LOCK))
    secure = bac_connection(card, prepared.mrz_key)
    result = aa.perform_aa(secure, dg15, None)
    assert result.verified, result.detail


def test_personalization_after_lock_is_refused(card: EmulatedCard, prepared: Prepared) -> None:
    conn = EmulatorConnection(card)
    ok(conn.send(SELECT_APPLET))
    refused = [
        Command(0, 0xE0, 0, 0, h("63040010010B")),
        Command(0, 0xD6, 0, 0, b"x"),
        Command(0, 0xDA, 0, 0x65, tlv.encode(0x65, tlv.encode(0x04, b"123456"))),
        Command(0, 0xDA, 0, 0x62, tlv.encode(0x62, mrz_seed(prepared.mrz_key))),
        LOCK,
    ]
    for command in refused:
        assert conn.send(command).sw == SW.CONDITIONS_NOT_SATISFIED
    secure = bac_connection(card, prepared.mrz_key)  # under secure messaging as well
    ok(select(secure, files.dg(1).fid))
    assert secure.send(Command(0, 0xD6, 0, 0, b"x")).sw == SW.CONDITIONS_NOT_SATISFIED


def test_state_survives_a_restart(prepared: Prepared, tmp_path: Path) -> None:
    path = tmp_path / "slot0.json"
    card = EmulatedCard.open(path)
    assert card.life_cycle == "personalization"
    personalize(card, prepared)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["slot0.json"]  # no temporary file left
    again = EmulatedCard.open(path)
    assert again.life_cycle == "locked"
    secure = bac_connection(again, prepared.mrz_key)
    for spec in LDS_FILES:
        assert read_file(secure, spec.fid) == prepared.image.files[spec], spec.name
    result = aa.perform_aa(
        secure, Dg15.from_bytes(prepared.dg(15)), Dg14.from_bytes(prepared.dg(14))
    )
    assert result.verified
    # Secrets are not in the repr.
    assert prepared.secrets.document_number not in repr(again)


def test_two_cards_are_independent(prepared: Prepared, tmp_path: Path) -> None:
    a = EmulatedCard.open(tmp_path / "a.json")
    b = EmulatedCard.open(tmp_path / "b.json")
    personalize(a, prepared)
    assert a.life_cycle == "locked" and b.life_cycle == "personalization"
    assert EmulatedCard.open(tmp_path / "b.json").life_cycle == "personalization"


def test_malformed_state_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text("{not json")
    with pytest.raises(EmulatorStateError):
        EmulatedCard.open(path)
    path.write_text(json.dumps({"format": "cardkit-emulator-state/1", "life_cycle": "x"}))
    with pytest.raises(EmulatorStateError, match="life_cycle"):
        EmulatedCard.open(path)


# --- ISO/IEC 7816-4 behaviour -----------------------------------------------------------------


def blank_card_with_file(
    size: int, *, locked: bool, key: MrzKey | None = None
) -> tuple[EmulatedCard, bytes]:
    content = os.urandom(size)
    card = EmulatedCard.open()
    conn = EmulatorConnection(card)
    ok(conn.send(SELECT_APPLET))
    create_and_write(conn, files.dg(2).fid, content)
    if key is not None:
        ok(put_data(conn, 0x62, mrz_seed(key)))
    if locked:
        ok(conn.send(LOCK))
    return card, content


def test_extended_length_read_of_20_kb_in_one_apdu(prepared: Prepared) -> None:
    card, content = blank_card_with_file(20 * 1024, locked=True, key=prepared.mrz_key)
    secure = bac_connection(card, prepared.mrz_key)
    ok(select(secure, files.dg(2).fid))
    read = Command(0, 0xB0, 0, 0, ne=65536)
    r = secure.send(read)
    assert r == Response(content, SW.WARNING_END_OF_FILE)
    assert bytes(read)[4:] == b"\x00\x00\x00"  # Le = 00 00 00: Ne = 65536, extended length


def test_odd_ins_read_beyond_32767() -> None:
    # UPDATE BINARY offsets stop at 32767 (b15 = 0): such a file is written into the state.
    content = os.urandom(40000)
    card = EmulatedCard(CardState(files={files.dg(2).fid: bytearray(content)}))
    conn = EmulatorConnection(card)
    ok(conn.send(SELECT_APPLET))
    ok(select(conn, files.dg(2).fid))
    offset = 39000
    r = conn.send(Command(0, 0xB1, 0, 0, tlv.encode(0x54, offset.to_bytes(2, "big")), ne=4096))
    assert r.sw == SW.WARNING_END_OF_FILE
    assert tlv.decode_single(r.data, 0x53).value == content[offset:]
    # By FID in P1-P2, and by short EF identifier in P2.
    r = conn.send(Command(0, 0xB1, 0x01, 0x02, tlv.encode(0x54, b"\x00"), ne=100))
    assert r.sw == SW.OK and len(r.data) <= 100
    assert tlv.decode_single(r.data, 0x53).value == content[: len(r.data) - 2]
    r = conn.send(Command(0, 0xB1, 0x00, 0x02, tlv.encode(0x54, b"\x10"), ne=10))
    assert tlv.decode_single(r.data, 0x53).value == content[16:24]


def test_read_binary_end_of_file_and_beyond() -> None:
    card, content = blank_card_with_file(300, locked=False)
    conn = EmulatorConnection(card)
    ok(conn.send(SELECT_APPLET))
    ok(select(conn, files.dg(2).fid))
    assert conn.send(Command(0, 0xB0, 0, 0, ne=256)) == Response(content[:256], SW.OK)
    assert conn.send(Command(0, 0xB0, 0x01, 0x00, ne=256)) == Response(
        content[256:], SW.WARNING_END_OF_FILE
    )
    assert conn.send(Command(0, 0xB0, 0x01, 0x2C, ne=1)).sw == SW.WRONG_P1P2  # offset 300
    assert conn.send(Command(0, 0xB0, 0x7F, 0xFF, ne=1)).sw == SW.WRONG_P1P2


def test_select_and_personalization_status_words() -> None:
    card = EmulatedCard.open()
    conn = EmulatorConnection(card)
    assert conn.send(Command(0, 0xA4, 0x04, 0x0C, h("A0000002471002"))).sw == SW.FILE_NOT_FOUND
    # Personalization needs the applet selected.
    assert conn.send(Command(0, 0xE0, 0, 0, h("63040010011E"))).sw == SW.CONDITIONS_NOT_SATISFIED
    fci = ok(conn.send(Command(0, 0xA4, 0x04, 0x00, AID, ne=256))).data
    assert tlv.find(tlv.decode_single(fci, 0x6F).children(), 0x84) == tlv.Tlv.build(0x84, AID)
    ok(conn.send(Command(0, 0xE0, 0, 0, h("63040010011E"))))
    assert conn.send(Command(0, 0xE0, 0, 0, h("63040010011E"))).sw == 0x6A89  # exists
    assert conn.send(Command(0, 0xE0, 0, 0, h("630400"))).sw == SW.WRONG_LENGTH
    assert select(conn, 0x0101).sw == SW.FILE_NOT_FOUND
    fcp = ok(conn.send(Command(0, 0xA4, 0x02, 0x04, h("011E"), ne=256))).data
    assert tlv.find(tlv.decode_single(fcp, 0x62).children(), 0x80) == tlv.Tlv.build(0x80, h("0010"))
    assert conn.send(Command(0, 0xD6, 0x00, 0x10, b"x")).sw == SW.WRONG_P1P2  # offset 16 of 16
    assert conn.send(Command(0, 0xD6, 0x00, 0x0F, b"xy")).sw == SW.WRONG_LENGTH
    assert put_data(conn, 0x62, b"\x04\x01A").sw == SW.WRONG_DATA
    assert conn.send(Command(0, 0xDA, 0, 0x62, tlv.encode(0x63, b""))).sw == SW.WRONG_DATA
    assert put_data(conn, 0x65, tlv.encode(0x04, b"12a456")).sw == SW.WRONG_DATA
    assert conn.send(Command(0, 0xDA, 0x01, 0x64, b"\x64\x00")).sw == SW.WRONG_DATA
    assert conn.send(Command(0, 0x42, 0, 0)).sw == SW.INS_NOT_SUPPORTED
    assert conn.send(Command(0x80, 0xB0, 0, 0, ne=1)).sw == SW.CLA_NOT_SUPPORTED
    r = conn.send(Command(0, 0x84, 0, 0, ne=8))
    assert r.sw == SW.OK and len(r.data) == 8


def test_ef_atr_info_and_card_access_from_the_master_file(
    prepared: Prepared, card: EmulatedCard
) -> None:
    conn = EmulatorConnection(card)
    info = read_file(conn, 0x2F01)
    children = tlv.decode_all(info)
    capabilities = tlv.require(children, 0x47, "EF.ATR/INFO").value
    # ISO/IEC 7816-4 §8.1.1.2.7 third software function table: b7 (40) extended Lc/Le,
    # b6 (20) extended length information in EF.ATR/INFO (OpenSC iso7816.h names them so).
    assert capabilities[2] & 0x40 and capabilities[2] & 0x20
    limits = tlv.require(children, 0x7F66, "EF.ATR/INFO").children()
    assert [c.tag for c in limits] == [0x02, 0x02]
    max_command, max_response = (int.from_bytes(c.value, "big") for c in limits)
    assert max_command >= 4 + 3 + MAX_UPDATE_DATA + 2 and max_response > 20 * 1024
    # EF.CardAccess through its short EF identifier, from the MF (fresh session).
    card.power_on()
    r = conn.send(Command(0, 0xB0, 0x80 | 0x1C, 0, ne=256))
    assert r.data == prepared.files[files.CARD_ACCESS.fid]
    # DG1 is not in the MF.
    assert select(conn, files.dg(1).fid).sw == SW.FILE_NOT_FOUND


# --- Secure-messaging errors ------------------------------------------------------------------


def test_a_bad_mac_ends_the_session_with_a_plain_6988(
    card: EmulatedCard, prepared: Prepared
) -> None:
    secure = bac_connection(card, prepared.mrz_key)
    conn = secure.connection
    protected = bytearray(bytes(secure.sm.wrap(Command(0, 0xA4, 0x02, 0x0C, h("0101")))))
    protected[-3] ^= 0x01  # inside DO'8E'
    r = conn.send(Command.from_bytes(bytes(protected)))
    assert r == Response(b"", SW.SM_DATA_OBJECTS_INCORRECT)
    # The chip dropped the session: the next protected command is refused in plain too ...
    r = conn.send(secure.sm.wrap(Command(0, 0xB0, 0x81, 0, ne=4)))
    assert r == Response(b"", SW.SM_DATA_OBJECTS_INCORRECT)
    # ... and a fresh BAC works.
    fresh = SecureConnection(conn, perform_bac(conn, prepared.mrz_key))
    assert fresh.send(Command(0, 0xB0, 0x81, 0, ne=4)).data == prepared.dg(1)[:4]


def test_a_plain_command_ends_secure_messaging(card: EmulatedCard, prepared: Prepared) -> None:
    secure = bac_connection(card, prepared.mrz_key)
    conn = secure.connection
    ok(conn.send(Command(0, 0xA4, 0x02, 0x0C, h("0101"))))  # plain: SM aborted
    assert conn.send(Command(0, 0xB0, 0, 0, ne=4)).sw == SW.SECURITY_STATUS_NOT_SATISFIED
    r = conn.send(secure.sm.wrap(Command(0, 0xB0, 0, 0, ne=4)))
    assert r == Response(b"", SW.SM_DATA_OBJECTS_INCORRECT)


# --- Known answers: ICAO 9303-11 Appendix D and G replayed against the chip --------------------


def test_icao_appendix_d_bac_and_secure_messaging_byte_for_byte() -> None:
    bac = json.loads((VECTORS / "bac_icao9303_11_appendix_d.json").read_text())
    d2, d3 = bac["d2"], bac["d3"]
    d4 = json.loads((VECTORS / "sm_icao9303_11_appendix_d4.json").read_text())
    # EF.COM as the appendix reads it: 4 bytes, then the remaining 18.
    ef_com = (
        Response.from_bytes(h(d4["exchanges"][1]["response"])).data
        + Response.from_bytes(h(d4["exchanges"][2]["response"])).data
    )
    card = EmulatedCard(rng=scripted_rng(h(d3["rnd_icc"]), h(d3["k_icc"])))
    conn = EmulatorConnection(card)
    ok(conn.send(SELECT_APPLET))
    create_and_write(conn, files.COM.fid, ef_com)
    key = MrzKey(d2["document_number"], d2["date_of_birth"], d2["date_of_expiry"])
    ok(put_data(conn, 0x62, mrz_seed(key)))
    ok(conn.send(LOCK))
    card.power_on()
    assert card.transmit(bytes(SELECT_APPLET)) == h("9000")
    assert card.transmit(h(d3["get_challenge_command"])) == h(d3["rnd_icc"] + "9000")
    answer = card.transmit(h(d3["external_authenticate_command"]))
    assert answer == h(d3["external_authenticate_response"] + "9000")
    for exchange in d4["exchanges"]:
        assert card.transmit(h(exchange["protected_command"])) == h(exchange["protected_response"])


@pytest.mark.parametrize("example", ["G1", "G2"])
def test_icao_appendix_g_pace_byte_for_byte(example: str) -> None:
    vectors = json.loads((VECTORS / "pace_icao9303_11_appendix_g.json").read_text())
    e = vectors[example]
    info = vectors["mrz_information"]  # T22000129 3 640812 5 101031 8
    key = MrzKey(info[:9], info[10:16], info[17:23])
    assert key.mrz_information().decode() == info
    rng = scripted_rng(h(e["nonce"]), h(e["chip_mapping_private"]), h(e["chip_ephemeral_private"]))
    card = EmulatedCard(rng=rng)
    conn = EmulatorConnection(card)
    ok(conn.send(SELECT_APPLET))
    create_and_write(conn, files.CARD_ACCESS.fid, h(e["card_access"]))
    ok(put_data(conn, 0x62, mrz_seed(key)))
    ok(conn.send(LOCK))
    card.power_on()
    *steps, (last_command, last_response) = e["apdus"]
    for command, response in steps:
        assert card.transmit(h(command)) == h(response)
    # G.2's chip also names its CVCA (DO'87', for terminal authentication, which this chip does
    # not offer): the token, DO'86', must match byte for byte.
    expected = Response.from_bytes(h(last_response))
    answer = Response.from_bytes(card.transmit(h(last_command)))
    assert answer.sw == expected.sw == SW.OK
    token = tlv.decode_single(answer.data, 0x7C).children()
    assert token == [tlv.require(tlv.decode_single(expected.data, 0x7C).children(), 0x86, "G")]
    assert token[0].value == h(e["token_chip"])


# --- Malformed input --------------------------------------------------------------------------


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300))
def test_random_apdus_never_raise(card: EmulatedCard, apdu: bytes) -> None:
    response = card.transmit(apdu)
    assert len(response) >= 2


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    ins=st.sampled_from([0xA4, 0xB0, 0xB1, 0xD6, 0xE0, 0xDA, 0x84, 0x82, 0x22, 0x86, 0x88]),
    p1=st.integers(0, 255),
    p2=st.integers(0, 255),
    data=st.binary(max_size=80),
    ne=st.none() | st.integers(1, 300),
)
def test_malformed_commands_answer_an_error_status(
    card: EmulatedCard, ins: int, p1: int, p2: int, data: bytes, ne: int | None
) -> None:
    """Every command with random parameters is answered, never raised; on a locked card
    without a secure channel nothing but GET CHALLENGE, SELECT and the free files succeeds."""
    card.power_on()
    raw = card.transmit(bytes(Command(0, ins, p1, p2, data, ne)))
    response = Response.from_bytes(raw)
    if response.sw in (SW.OK, SW.WARNING_END_OF_FILE):
        assert ins in (0xA4, 0x84, 0xB0, 0xB1, 0x22)  # MSE may legitimately set up PACE


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=50)
@given(body=st.binary(max_size=60))
def test_malformed_protected_commands_end_the_session(
    card: EmulatedCard, prepared: Prepared, body: bytes
) -> None:
    secure = bac_connection(card, prepared.mrz_key)
    raw = card.transmit(bytes(Command(0x0C, 0xB0, 0, 0, body, 256)))
    sm_errors = (SW.SM_DATA_OBJECTS_MISSING, SW.SM_DATA_OBJECTS_INCORRECT)
    assert Response.from_bytes(raw) in [Response(b"", sw) for sw in sm_errors]
    # The session is gone: a correctly protected command is now refused, in plain.
    raw = card.transmit(bytes(secure.sm.wrap(Command(0, 0xB0, 0x81, 0, ne=4))))
    assert raw == SW.SM_DATA_OBJECTS_INCORRECT.to_bytes(2, "big")


def test_wrong_length_encodings() -> None:
    card = EmulatedCard.open()
    card.power_on()
    for raw in ("00B0", "00B0000002AA", "00B000000000", "00D600000300AA", "00A4020C0501"):
        assert card.transmit(h(raw)) == h("6700"), raw
