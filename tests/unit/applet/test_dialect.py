"""Applet dialects (cardkit.applet.dialect): every PUT DATA of the `jmrtd` dialect against the
byte layout JMRTD's passport applet parses (martinpaljak/AppletPlayground
src/sos/passportapplet/PassportApplet.java r945, processPutData; FileSystem.java), the
`cardkit` dialect unchanged, what each dialect refuses before any APDU, and identification."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from cardkit.applet import commands
from cardkit.applet.dialect import (
    CARDKIT,
    JMRTD,
    KeyMaterial,
    UnsupportedImageError,
    WrongAppletError,
    dialect_named,
    identification_of,
    identify_command,
)
from cardkit.applet.writer import AppletLockedError, AppletWriter
from cardkit.encoding import tlv
from cardkit.errors import CardError, CardkitError
from cardkit.iso7816.apdu import Command, Response
from cardkit.lds import files
from cardkit.transport.scripted import FunctionConnection

RSA_1024 = rsa.generate_private_key(65537, 1024)
RSA_2048 = rsa.generate_private_key(65537, 2048)
EC_P256 = ec.generate_private_key(ec.SECP256R1())


def keys(**changes: object) -> KeyMaterial:
    values: dict[str, object] = {
        "document_number": "093047064",
        "date_of_birth": "930105",
        "date_of_expiry": "330105",
        "can": None,
        "chip_authentication": None,
        "chip_authentication_key_id": None,
        "active_authentication": RSA_1024,
    }
    values.update(changes)
    return KeyMaterial(**values)  # type: ignore[arg-type]


def by_what(commands_: list[tuple[str, Command]]) -> dict[str, Command]:
    return dict(commands_)


# --- jmrtd: byte layouts of PassportApplet.java processPutData ----------------------------------


def test_jmrtd_mrz_seed_is_the_three_octet_strings_the_applet_scans() -> None:
    # P2=62: readTag(62), readLength, then three times readTag(04) / readLength / skipValue:
    # document number, date of birth, date of expiry (the applet adds the check digits).
    command = by_what(JMRTD.put_data(keys()))["MRZ seed"]
    assert (command.cla, command.ins, command.p1, command.p2) == (0x00, 0xDA, 0x00, 0x62)
    assert (
        command.data
        == bytes.fromhex("62 1B 04 09")
        + b"093047064"
        + bytes.fromhex("04 06")
        + b"930105"
        + bytes.fromhex("04 06")
        + b"330105"
    )


def test_jmrtd_mrz_seed_pads_a_short_document_number_as_the_mrz_prints_it() -> None:
    # The applet hashes the number as sent (PassportInit.computeKeySeed): 'L898902C' must go
    # as 'L898902C<' (ICAO 9303-11 Appendix D.2's MRZ_information) for the reader's BAC keys.
    command = by_what(JMRTD.put_data(keys(document_number="L898902C")))["MRZ seed"]
    assert command.data[2:13] == bytes.fromhex("04 09") + b"L898902C<"


@pytest.mark.parametrize(
    ("what", "p2", "value"),
    [
        ("active-authentication RSA modulus", 0x60, RSA_1024.private_numbers().public_numbers.n),
        ("active-authentication RSA private exponent", 0x61, RSA_1024.private_numbers().d),
    ],
)
def test_jmrtd_rsa_key_is_tag_00_then_the_octet_string(what: str, p2: int, value: int) -> None:
    # P2=60/61: readTag(60|61), readLength → 00, skipValue (nothing), readTag(04), readLength
    # (81 80) → the 128 value bytes (one leading 00 would be stripped). RSA-1024 only.
    command = by_what(JMRTD.put_data(keys()))[what]
    assert (command.ins, command.p1, command.p2) == (0xDA, 0x00, p2)
    assert command.data[:5] == bytes((p2, 0x00, 0x04, 0x81, 0x80))
    assert command.data[5:] == value.to_bytes(128, "big")
    assert len(command.data) == 133 and command.extended is not True
    assert len(bytes(command)) == 4 + 1 + 133  # a short APDU: no Le, Lc one byte


def test_jmrtd_sends_nothing_the_applet_does_not_know() -> None:
    # processPutData knows P2 60, 61, 62, 63, 64 and DE AD; 65/66/67 would get 6A86.
    sent = JMRTD.put_data(keys())
    assert [c.p2 for _, c in sent] == [0x62, 0x60, 0x61]
    assert JMRTD.put_data(keys(active_authentication=None)) == [sent[0]]


def test_lock_and_trust_point() -> None:
    assert bytes(commands.lock()) == bytes.fromhex("00 DA DE AD")
    certificate = tlv.encode(0x7F21, b"\x01\x02")
    # processPutData P2=64: P1 is the trust point's number (CVCertificate.setRootCertificate 1|2)
    assert bytes(JMRTD.trust_point(certificate, 2)) == bytes.fromhex("00 DA 02 64 05") + certificate
    with pytest.raises(ValueError):
        JMRTD.trust_point(certificate, 3)


@pytest.mark.parametrize(
    ("change", "feature"),
    [
        ({"can": "123456"}, "PACE with a CAN"),
        ({"chip_authentication": EC_P256}, "chip authentication on secp256r1"),
        ({"active_authentication": EC_P256}, "ECDSA active authentication"),
        ({"active_authentication": RSA_2048}, "RSA-2048 active authentication"),
    ],
)
def test_jmrtd_refuses_keys_it_cannot_hold(change: dict[str, object], feature: str) -> None:
    problems = JMRTD.key_problems(keys(**change))
    assert len(problems) == 1 and problems[0].startswith(feature)
    with pytest.raises(UnsupportedImageError) as info:
        JMRTD.check({files.dg(1): 90}, keys(**change))
    assert feature in str(info.value) and "vn-cccd-jmrtd" in str(info.value)
    assert info.value.features == tuple(problems)


def test_jmrtd_refuses_files_it_cannot_hold_naming_each() -> None:
    sizes = {
        files.CARD_ACCESS: 20,  # 011C is the applet's EF.CVCA
        files.dg(3): 4000,  # behind EAC even before LOCK (FileSystem.getFileIndex)
        files.dg(2): 40_000,  # sizes are Java shorts
        files.dg(1): 90,
    }
    problems = JMRTD.unsupported(sizes, keys())
    assert problems[0].startswith("PACE (EF.CardAccess)")
    assert any(p.startswith("DG3: the applet refuses it without EAC") for p in problems)
    assert any(p.startswith("DG2 is 40000 bytes") for p in problems)
    assert len(problems) == 3
    JMRTD.check({files.dg(n): 1000 for n in (1, 2, 13, 15)} | {files.SOD: 2000}, keys())


def test_cardkit_dialect_is_the_extended_protocol() -> None:
    k = keys(can="123456", chip_authentication=EC_P256, chip_authentication_key_id=1,
             active_authentication=EC_P256)  # fmt: skip
    sent = by_what(CARDKIT.put_data(k))
    assert list(sent) == [
        "MRZ seed", "CAN", "chip-authentication key", "chip-authentication key ID",
        "active-authentication EC key",
    ]  # fmt: skip
    assert sent["CAN"].data == commands.can_data("123456")
    assert sent["chip-authentication key"].data == commands.ec_private_key_data(0x63, EC_P256)
    rsa_sent = by_what(CARDKIT.put_data(keys(active_authentication=RSA_2048)))
    assert rsa_sent["active-authentication RSA modulus"].data == commands.rsa_modulus_data(RSA_2048)
    assert CARDKIT.unsupported({files.CARD_ACCESS: 20, files.dg(2): 40_000}, k) == []
    assert CARDKIT.unsupported({files.dg(2): 70_000}, k) == [
        "DG2 is 70000 bytes: the applet's files hold at most 65535 bytes"
    ]


def test_unknown_dialect_lists_the_known_ones() -> None:
    with pytest.raises(CardkitError, match="cardkit, jmrtd"):
        dialect_named("javacard")
    assert dialect_named("jmrtd") is JMRTD


# --- identification --------------------------------------------------------------------------


def test_identification_probe_and_answers() -> None:
    assert bytes(identify_command()) == bytes.fromhex("00 CA 00 FE 00")
    # PassportApplet.java processAPDU: any other INS → ISO7816.SW_INS_NOT_SUPPORTED.
    assert identification_of(Response(b"", 0x6D00)).dialect == "jmrtd"
    cardkit = tlv.encode(0xFE, tlv.encode(0x80, b"cardkit") + bytes.fromhex("8101018201 01"))
    answer = identification_of(Response(cardkit, 0x9000))
    assert (answer.dialect, answer.life_cycle) == ("cardkit", "locked")
    assert identification_of(Response(b"\xfe\x05", 0x9000)).dialect is None
    assert identification_of(Response(b"", 0x6A88)).dialect is None


def test_a_card_of_the_other_dialect_is_refused_with_what_to_use() -> None:
    with pytest.raises(WrongAppletError, match="--applet jmrtd"):
        CARDKIT.identify(identification_of(Response(b"", 0x6D00)))
    with pytest.raises(WrongAppletError, match="not one cardkit knows"):
        JMRTD.identify(identification_of(Response(b"", 0x6E00)))
    JMRTD.identify(identification_of(Response(b"", 0x6D00)))


# --- the writer in the jmrtd dialect ------------------------------------------------------------


def test_jmrtd_writer_uses_short_chunks_and_never_asks_dg3() -> None:
    sent: list[Command] = []

    def card(command: Command) -> Response:
        sent.append(command)
        return Response(b"", 0x6A82 if command.ins == 0xA4 else 0x9000)

    writer = AppletWriter(FunctionConnection(card), extended=True, dialect=JMRTD)
    assert writer.detect_extended() is False and not sent  # no probing: the dialect says short
    writer.check_blank([("DG1", 0x0101), ("DG3", 0x0103)])
    assert [c.data for c in sent] == [bytes.fromhex("0101")]
    writer.update_file("DG2", bytes(600))
    assert [len(c.data) for c in sent[1:]] == [255, 255, 90]


def test_jmrtd_status_words_mean_what_the_applet_means() -> None:
    def locked_select(command: Command) -> Response:
        # processSelectFile: locked and no BAC → SW_SECURITY_STATUS_NOT_SATISFIED
        return Response(b"", 0x6982)

    writer = AppletWriter(FunctionConnection(locked_select), dialect=JMRTD)
    with pytest.raises(AppletLockedError, match="needs BAC"):
        writer.check_blank([("EF.COM", 0x011E)])
    with pytest.raises(CardError, match="terminal authentication") as info:
        writer.create_file("DG3", 0x0103, 100)  # FileSystem.getFileIndex: DG3 behind EAC
    assert not isinstance(info.value, AppletLockedError)

    def locked(command: Command) -> Response:
        return Response(b"", 0x6985)  # processCreateFile / processPutData: isLocked()

    writer = AppletWriter(FunctionConnection(locked), dialect=JMRTD)
    with pytest.raises(AppletLockedError):
        writer.create_file("DG1", 0x0101, 100)
    with pytest.raises(AppletLockedError):
        writer.put_data("MRZ seed", JMRTD.put_data(keys())[0][1])
    with pytest.raises(CardError, match="32768 bytes"):
        writer.update_file("DG2", bytes(40_000))


def test_odd_ins_update_beyond_32_kib() -> None:
    # ISO/IEC 7816-4 §11.2.5: odd INS D7, P1-P2 0000 (current EF), DO'54' offset, DO'53' data.
    assert bytes(commands.update_binary_odd(0x8000, b"\xaa\xbb")) == bytes.fromhex(
        "00 D7 00 00 08 54 02 80 00 53 02 AA BB"
    )
    for offset in (0x8000, 0xFFFF, 0x10000):
        room = commands.odd_update_room(255, offset)
        assert len(commands.update_binary_odd(offset, bytes(room)).data) == 255
        assert len(commands.update_binary_odd(offset, bytes(room + 1)).data) > 255
    sent: list[Command] = []

    def card(command: Command) -> Response:
        sent.append(command)
        return Response(b"", 0x9000)

    AppletWriter(FunctionConnection(card), extended=False).update_file("DG2", bytes(40_000))
    offsets = [
        (c.p1 << 8 | c.p2) if c.ins == 0xD6 else int.from_bytes(tlv.decode_all(c.data)[0].value)
        for c in sent
    ]
    lengths = [len(c.data) if c.ins == 0xD6 else len(tlv.decode_all(c.data)[1].value) for c in sent]
    assert all(c.ins == 0xD6 for c, o in zip(sent, offsets, strict=True) if o <= 0x7FFF)
    assert all(c.ins == 0xD7 for c, o in zip(sent, offsets, strict=True) if o > 0x7FFF)
    assert offsets == [sum(lengths[:i]) for i in range(len(sent))] and sum(lengths) == 40_000
    assert bytes(commands.delete_file(0x0102)) == bytes.fromhex("00 E4 02 00 02 01 02")


def test_the_jmrtd_dialects_mrz_seed_opens_bac_on_the_applet() -> None:
    """End to end on JMRTD's applet in process: the seed the dialect sends for the ICAO 9303-11
    Appendix D document (L898902C, 690806, 940623) gives the keys the reader derives."""
    from cardkit.emulator import EmulatorConnection, JmrtdApplet
    from cardkit.protocol.bac import MrzKey, perform_bac

    connection = EmulatorConnection(JmrtdApplet())
    assert connection.send(commands.select_applet()).sw == 0x9000
    seed = JMRTD.put_data(
        keys(document_number="L898902C", date_of_birth="690806", date_of_expiry="940623",
             active_authentication=None)
    )  # fmt: skip
    assert connection.send(seed[0][1]).sw == 0x9000
    sm = perform_bac(connection, MrzKey("L898902C", "690806", "940623"))
    assert sm.active
