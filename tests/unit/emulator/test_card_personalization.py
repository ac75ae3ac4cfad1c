"""cardkit's emulated chip, the cardkit dialect's personalization extensions and identification
(module docstring of `cardkit.emulator.card`): UPDATE BINARY with odd INS (ISO/IEC 7816-4:2013
§11.2.5), files up to 65535 bytes, DELETE FILE (ISO/IEC 7816-9 §8), GET DATA 00 CA 00 FE, and
plain reads of every written file before LOCK."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cardkit.emulator import CardState, EmulatedCard, EmulatorConnection
from cardkit.emulator.atr import MAX_UPDATE_DATA
from cardkit.encoding import tlv
from cardkit.iso7816.apdu import SW, Command, Response
from cardkit.iso7816.connection import Connection
from cardkit.lds import files
from cardkit.lds.com import Com
from cardkit.protocol.bac import MrzKey, perform_bac
from cardkit.protocol.sm import SecureConnection
from cardkit.services.read import AccessKey, ReadLimits, read_card
from cardkit.services.read_binary import read_file

SELECT_APPLET = Command(0x00, 0xA4, 0x04, 0x0C, files.LDS1_AID)
LOCK = Command(0x00, 0xDA, 0xDE, 0xAD)
GET_IDENTIFICATION = Command(0x00, 0xCA, 0x00, 0xFE, ne=256)  # 00 CA 00 FE 00
# ICAO 9303-11 Appendix D.1: the specimen's document number and dates.
KEY = MrzKey("L898902C", "690806", "940623")
DG2 = files.dg(2)


def ok(response: Response) -> Response:
    assert response.sw == SW.OK, f"{response.sw:04X}"
    return response


def create(conn: Connection, fid: int, size: int) -> Response:
    body = b"\x63\x04" + size.to_bytes(2, "big") + fid.to_bytes(2, "big")
    return conn.send(Command(0, 0xE0, 0, 0, body))


def select(conn: Connection, fid: int) -> Response:
    return conn.send(Command(0, 0xA4, 0x02, 0x0C, fid.to_bytes(2, "big")))


def update_odd(conn: Connection, offset: int, data: bytes, p1: int = 0, p2: int = 0) -> Response:
    """``00 D7 P1 P2 Lc {54 offset}{53 data}`` (the encoding the card.py docstring documents)."""
    offset_bytes = offset.to_bytes(max(1, (offset.bit_length() + 7) // 8), "big")
    body = tlv.encode(0x54, offset_bytes) + tlv.encode(0x53, data)
    return conn.send(Command(0, 0xD7, p1, p2, body))


def write(conn: Connection, fid: int, data: bytes) -> None:
    """CREATE FILE, SELECT, then D6 below offset 32768 and D7 from there on."""
    ok(create(conn, fid, len(data)))
    ok(select(conn, fid))
    for offset in range(0, len(data), MAX_UPDATE_DATA):
        chunk = data[offset : offset + MAX_UPDATE_DATA]
        if offset <= 0x7FFF:
            ok(conn.send(Command(0, 0xD6, offset >> 8, offset & 0xFF, chunk)))
        else:
            ok(update_odd(conn, offset, chunk))


def identification(life_cycle: int) -> bytes:
    return bytes.fromhex("FE0F 8007") + b"cardkit" + bytes.fromhex(f"810101 8201{life_cycle:02X}")


def mrz_seed() -> bytes:
    values = (KEY.document_number, KEY.date_of_birth, KEY.date_of_expiry)
    return tlv.encode(0x62, b"".join(tlv.encode(0x04, v.encode()) for v in values))


def large_dg2(size: int = 40 * 1024) -> bytes:
    header = len(tlv.encode(0x75, bytes(size))) - size
    return tlv.encode(0x75, os.urandom(size - header))


# --- UPDATE BINARY with odd INS, files up to 65535 bytes -----------------------------------------


def test_a_40_kib_file_written_with_d6_and_d7_reads_back_in_plain_and_under_bac() -> None:
    content = large_dg2()
    assert len(content) == 40 * 1024
    card = EmulatedCard()
    conn = EmulatorConnection(card)
    ok(conn.send(SELECT_APPLET))
    write(conn, DG2.fid, content)
    # Before LOCK, in plain: SELECT then READ BINARY (B0, then B1 with DO'54' above 32767).
    ok(select(conn, DG2.fid))
    assert read_file(conn, DG2, use_sfi=False) == content
    assert read_file(conn, DG2, ReadLimits(True, 30000), use_sfi=False) == content
    ok(conn.send(Command(0, 0xDA, 0x00, 0x62, mrz_seed())))
    ok(conn.send(LOCK))
    card.power_on()
    ok(conn.send(SELECT_APPLET))
    secure = SecureConnection(conn, perform_bac(conn, KEY))
    assert read_file(secure, DG2, block=8) == content  # by SFI, short protected reads
    assert read_file(secure, DG2, ReadLimits(True, 32000), block=8) == content


@pytest.mark.parametrize("extended", [True, False])
def test_read_card_reads_a_40_kib_data_group_end_to_end(extended: bool) -> None:
    content = large_dg2()
    card = EmulatedCard()
    conn = EmulatorConnection(card)
    ok(conn.send(SELECT_APPLET))
    write(conn, files.COM.fid, bytes(Com.build("0107", "040000", [2])))
    write(conn, DG2.fid, content)
    ok(conn.send(Command(0, 0xDA, 0x00, 0x62, mrz_seed())))
    ok(conn.send(LOCK))
    result = read_card(
        EmulatorConnection(card),
        AccessKey.from_mrz_fields(KEY.document_number, KEY.date_of_birth, KEY.date_of_expiry),
        chip_authentication=False,
        active_authentication=False,
        extended_length=extended,
    )
    assert result.files[DG2] == content
    assert result.extended_length is extended and result.sfi
    assert result.errors[-1] == "EF.SOD could not be read"  # this card has none
    assert result.missing == () and result.notes == ()


def test_create_file_takes_sizes_up_to_65535_and_d7_writes_its_last_byte() -> None:
    card = EmulatedCard()
    conn = EmulatorConnection(card)
    ok(conn.send(SELECT_APPLET))
    ok(create(conn, DG2.fid, 0xFFFF))
    ok(select(conn, DG2.fid))
    ok(update_odd(conn, 0xFFFE, b"\xab"))
    ok(update_odd(conn, 0x8000, b"\x01\x02"))
    assert card._state.files[DG2.fid][0xFFFE] == 0xAB
    assert card._state.files[DG2.fid][0x8000:0x8002] == b"\x01\x02"
    r = conn.send(Command(0, 0xB1, 0, 0, tlv.encode(0x54, b"\xff\xfe"), ne=16))
    assert tlv.decode_single(r.data, 0x53).value == b"\xab"


def test_d7_extended_length_with_4096_bytes_and_the_other_p1p2_forms() -> None:
    card = EmulatedCard()
    conn = EmulatorConnection(card)
    ok(conn.send(SELECT_APPLET))
    ok(create(conn, DG2.fid, 50000))
    ok(select(conn, DG2.fid))
    data = os.urandom(MAX_UPDATE_DATA)
    body = tlv.encode(0x54, (40000).to_bytes(2, "big")) + tlv.encode(0x53, data)
    command = Command(0, 0xD7, 0, 0, body)
    assert command.is_extended  # Lc = 00 xx xx
    ok(conn.send(command))
    assert bytes(card._state.files[DG2.fid][40000 : 40000 + MAX_UPDATE_DATA]) == data
    ok(update_odd(conn, 0x9000, b"sfi", p1=0x00, p2=DG2.sfi))  # 00 <SFI>
    ok(update_odd(conn, 0x9100, b"fid", p1=0x01, p2=0x02))  # P1-P2 = the FID 0102
    assert card._state.files[DG2.fid][0x9000:0x9003] == b"sfi"
    assert card._state.files[DG2.fid][0x9100:0x9103] == b"fid"
    # Under secure messaging too (DO'85' for the odd INS), before LOCK.
    ok(conn.send(Command(0, 0xDA, 0x00, 0x62, mrz_seed())))
    secure = SecureConnection(conn, perform_bac(conn, KEY))
    ok(select(secure, DG2.fid))
    ok(update_odd(secure, 45000, b"protected"))
    assert card._state.files[DG2.fid][45000:45009] == b"protected"


def test_d7_status_words() -> None:
    card = EmulatedCard()
    conn = EmulatorConnection(card)
    ok(conn.send(SELECT_APPLET))
    assert update_odd(conn, 0, b"x").sw == SW.COMMAND_NOT_ALLOWED  # no current EF
    ok(create(conn, DG2.fid, 0x9000))
    assert update_odd(conn, 0x9000, b"x").sw == SW.WRONG_P1P2  # offset at the end
    assert update_odd(conn, 0x8FFF, b"xy").sw == SW.WRONG_LENGTH  # past the end
    assert update_odd(conn, 0x8000, bytes(MAX_UPDATE_DATA + 1)).sw == SW.WRONG_LENGTH
    assert update_odd(conn, 0x8000, b"").sw == SW.WRONG_LENGTH
    assert update_odd(conn, 0, b"x", p1=0x01, p2=0x0F).sw == SW.FILE_NOT_FOUND  # FID 010F
    swapped = tlv.encode(0x53, b"x") + tlv.encode(0x54, b"\x00")
    too_long_offset = tlv.encode(0x54, bytes(4)) + tlv.encode(0x53, b"x")
    for body in (swapped, tlv.encode(0x54, b"\x00"), b"\x54\x05\x00", too_long_offset):
        assert conn.send(Command(0, 0xD7, 0, 0, body)).sw == SW.WRONG_DATA, body.hex()
    ok(update_odd(conn, 0x8000, b"x"))


# --- DELETE FILE ---------------------------------------------------------------------------------


def test_delete_file_lets_a_partially_written_card_be_written_again() -> None:
    card = EmulatedCard()
    conn = EmulatorConnection(card)
    ok(conn.send(SELECT_APPLET))
    ok(create(conn, DG2.fid, 100))  # a write that stopped half-way
    ok(select(conn, DG2.fid))
    ok(conn.send(Command(0, 0xD6, 0, 0, b"half")))
    assert create(conn, DG2.fid, 200).sw == 0x6A89  # exists
    ok(conn.send(Command(0, 0xE4, 0x02, 0x00, DG2.fid_bytes)))  # 00 E4 02 00 02 0102
    assert DG2.fid not in card._state.files
    assert conn.send(Command(0, 0xB0, 0, 0, ne=4)).sw == SW.COMMAND_NOT_ALLOWED  # not current
    assert select(conn, DG2.fid).sw == SW.FILE_NOT_FOUND
    assert conn.send(Command(0, 0xE4, 0x02, 0x00, DG2.fid_bytes)).sw == SW.FILE_NOT_FOUND
    content = large_dg2(200)
    write(conn, DG2.fid, content)
    ok(select(conn, DG2.fid))
    assert read_file(conn, DG2, use_sfi=False) == content
    # P1-P2 0000: by FID (as OpenSC sends it), or without data the current EF.
    ok(conn.send(Command(0, 0xE4, 0x00, 0x00, DG2.fid_bytes)))
    write(conn, files.COM.fid, b"\x60\x00")
    ok(conn.send(Command(0, 0xE4, 0x00, 0x00)))
    assert card._state.files == {}
    # EF.CardAccess (in the MF) is an EF the host writes as well.
    write(conn, files.CARD_ACCESS.fid, b"\x31\x00")
    ok(conn.send(Command(0, 0xE4, 0x02, 0x00, files.CARD_ACCESS.fid_bytes)))


def test_delete_file_status_words_and_after_lock() -> None:
    card = EmulatedCard()
    conn = EmulatorConnection(card)
    assert conn.send(Command(0, 0xE4, 0x02, 0x00, DG2.fid_bytes)).sw == 0x6985  # MF current
    ok(conn.send(SELECT_APPLET))
    write(conn, DG2.fid, b"\x75\x01\x00")
    assert conn.send(Command(0, 0xE4, 0x02, 0x00, b"\x2f\x01")).sw == SW.FILE_NOT_FOUND
    assert conn.send(Command(0, 0xE4, 0x02, 0x00, b"\x01")).sw == SW.WRONG_LENGTH
    assert conn.send(Command(0, 0xE4, 0x02, 0x00)).sw == SW.WRONG_LENGTH
    assert conn.send(Command(0, 0xE4, 0x01, 0x00, DG2.fid_bytes)).sw == SW.INCORRECT_P1P2
    assert conn.send(Command(0, 0xE4, 0x02, 0x00, DG2.fid_bytes, ne=1)).sw == SW.WRONG_LENGTH
    ok(conn.send(LOCK))
    assert conn.send(Command(0, 0xE4, 0x02, 0x00, DG2.fid_bytes)).sw == 0x6985
    odd = Command(0, 0xD7, 0, 0, tlv.encode(0x54, b"\x00") + tlv.encode(0x53, b"x"))
    assert conn.send(odd).sw == 0x6985
    assert DG2.fid in card._state.files


def test_delete_file_is_saved_in_the_state_file(tmp_path: Path) -> None:
    path = tmp_path / "card.json"
    card = EmulatedCard.open(path)
    conn = EmulatorConnection(card)
    ok(conn.send(SELECT_APPLET))
    write(conn, DG2.fid, b"\x75\x01\x00")
    ok(conn.send(Command(0, 0xE4, 0x02, 0x00, DG2.fid_bytes)))
    assert EmulatedCard.open(path)._state.files == {}


# --- GET DATA: the identification data object ----------------------------------------------------


def test_identification_in_every_life_cycle_state_plain_and_secure() -> None:
    card = EmulatedCard()
    conn = EmulatorConnection(card)
    assert bytes(GET_IDENTIFICATION) == bytes.fromhex("00CA00FE00")
    assert ok(conn.send(GET_IDENTIFICATION)).data == identification(0x00)  # MF current
    ok(conn.send(SELECT_APPLET))
    assert ok(conn.send(GET_IDENTIFICATION)).data == identification(0x00)
    ok(conn.send(Command(0, 0xDA, 0x00, 0x62, mrz_seed())))
    secure = SecureConnection(conn, perform_bac(conn, KEY))
    assert ok(secure.send(GET_IDENTIFICATION)).data == identification(0x00)
    ok(secure.send(LOCK))
    assert ok(secure.send(GET_IDENTIFICATION)).data == identification(0x01)  # SM still up
    assert ok(conn.send(GET_IDENTIFICATION)).data == identification(0x01)  # plain, locked
    card.power_on()
    assert ok(conn.send(GET_IDENTIFICATION)).data == identification(0x01)
    value = tlv.decode_single(identification(0x01), 0xFE).children()
    assert [(c.tag, c.value) for c in value] == [
        (0x80, b"cardkit"),
        (0x81, b"\x01"),
        (0x82, b"\x01"),
    ]


def test_identification_status_words() -> None:
    conn = EmulatorConnection(EmulatedCard(CardState(life_cycle="locked")))
    assert conn.send(Command(0, 0xCA, 0x00, 0xFE, ne=4)).sw == 0x6C11  # the length to ask for
    assert ok(conn.send(Command(0, 0xCA, 0x00, 0xFE, ne=0x11))).data == identification(1)
    assert conn.send(Command(0, 0xCA, 0x00, 0xFE)).sw == SW.WRONG_LENGTH  # no Le
    assert conn.send(Command(0, 0xCA, 0x00, 0xFE, b"\x00", ne=256)).sw == SW.WRONG_LENGTH
    assert conn.send(Command(0, 0xCA, 0x00, 0x66, ne=256)).sw == 0x6A88
    assert conn.send(Command(0, 0xCA, 0x01, 0xFE, ne=256)).sw == 0x6A88


# --- Plain reads before LOCK (the host verifies what it wrote) ---------------------------------


def test_every_written_file_reads_in_plain_before_lock() -> None:
    contents = {
        files.CARD_ACCESS: b"\x31\x03\x02\x01\x01",
        files.COM: bytes(Com.build("0107", "040000", [1, 2, 3, 14])),
        files.SOD: tlv.encode(0x77, os.urandom(1500)),
        files.dg(1): tlv.encode(0x61, b"\x5f\x1f" + bytes([90]) + b"X" * 90),
        DG2: large_dg2(36000),
        files.dg(3): tlv.encode(0x63, os.urandom(3000)),  # EAC-protected only once locked
        files.dg(4): tlv.encode(0x76, os.urandom(300)),
        files.dg(14): tlv.encode(0x6E, os.urandom(400)),
    }
    card = EmulatedCard()
    conn = EmulatorConnection(card)
    ok(conn.send(SELECT_APPLET))
    for spec, data in contents.items():
        write(conn, spec.fid, data)
    for spec, data in contents.items():
        ok(select(conn, spec.fid))
        assert read_file(conn, spec, use_sfi=False) == data, spec.name
        assert read_file(conn, spec) == data, spec.name  # by SFI as well
    # After a BAC session, a plain command ends it and is answered in plain: still readable.
    ok(conn.send(Command(0, 0xDA, 0x00, 0x62, mrz_seed())))
    perform_bac(conn, KEY)
    ok(select(conn, files.dg(3).fid))
    assert read_file(conn, files.dg(3), use_sfi=False) == contents[files.dg(3)]
    # Once locked, plain reads are refused (the free files excepted).
    ok(conn.send(LOCK))
    ok(select(conn, files.dg(1).fid))
    assert conn.send(Command(0, 0xB0, 0, 0, ne=4)).sw == SW.SECURITY_STATUS_NOT_SATISFIED
    ok(select(conn, files.CARD_ACCESS.fid))
    assert read_file(conn, files.CARD_ACCESS, use_sfi=False) == contents[files.CARD_ACCESS]


@settings(max_examples=60)
@given(
    ins=st.sampled_from([0xD7, 0xE4, 0xCA]),
    p1=st.integers(0, 255),
    p2=st.integers(0, 255),
    data=st.binary(max_size=40),
    ne=st.none() | st.integers(1, 300),
    locked=st.booleans(),
)
def test_new_commands_never_raise(
    ins: int, p1: int, p2: int, data: bytes, ne: int | None, locked: bool
) -> None:
    card = EmulatedCard(
        CardState(
            life_cycle="locked" if locked else "personalization",
            files={DG2.fid: bytearray(40000)},
        )
    )
    card.transmit(bytes(SELECT_APPLET))
    raw = card.transmit(bytes(Command(0, ins, p1, p2, data, ne)))
    response = Response.from_bytes(raw)
    if locked and ins != 0xCA:
        assert response.sw == SW.CONDITIONS_NOT_SATISFIED
    if response.sw == SW.OK and ins == 0xE4:
        assert DG2.fid not in card._state.files
