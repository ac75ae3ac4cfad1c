"""The genuine JMRTD passport applet, emulated (cardkit.emulator.jmrtd): personalized by hand with
the applet's own byte layouts, then read as a terminal reads it, over cardkit's protocol layer.

Known answers: ICAO 9303-11 Appendix D.2 (the key seed of the specimen MRZ), D.3 (BAC, replayed
byte for byte with the chip's random values injected) and D.4 (secure messaging: the protected
APDUs as printed). Every status word is checked against the source method it comes from
(martinpaljak/AppletPlayground ``src/sos/passportapplet``, JMRTD r945).
"""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cardkit.cli.main import cli
from cardkit.emulator import EmulatedCard, EmulatorConnection, EmulatorStateError, JmrtdApplet
from cardkit.emulator.jmrtd import ATR
from cardkit.emulator.jmrtd_state import (
    EAC_OID,
    RSA_SHA1_OID,
    JmrtdState,
    applet_of_state_file,
    derive_keys,
    key_seed,
)
from cardkit.emulator.state import CardState
from cardkit.encoding import tlv
from cardkit.iso7816.apdu import Command, Response
from cardkit.iso7816.atr import extended_length_from_atr, historical_bytes
from cardkit.lds.dg15 import Dg15
from cardkit.protocol import aa
from cardkit.protocol.bac import MrzKey, bac_keys, perform_bac, terminal_authentication_data
from cardkit.protocol.sm import SecureConnection, SecureMessaging

ROOT = Path(__file__).resolve().parents[3]
VECTORS = ROOT / "tests" / "vectors"
BAC = json.loads((VECTORS / "bac_icao9303_11_appendix_d.json").read_text())
D4 = json.loads((VECTORS / "sm_icao9303_11_appendix_d4.json").read_text())

SELECT_APPLET = bytes.fromhex("00A4040C07A0000002471001")
LOCK = bytes.fromhex("00DADEAD")
DG1, DG2, DG3, DG15, COM, SOD = 0x0101, 0x0102, 0x0103, 0x010F, 0x011E, 0x011D
#: The specimen MRZ of 9303-11 Appendix D (the document number padded to 9, as the applet needs).
SPECIMEN = (b"L898902C<", b"690806", b"940623")


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


def scripted_rng(*values: bytes) -> Callable[[int], bytes]:
    queue = list(values)

    def rng(n: int) -> bytes:
        value = queue.pop(0)
        assert len(value) == n
        return value

    return rng


def send(card: JmrtdApplet, apdu: bytes) -> Response:
    return Response.from_bytes(card.transmit(apdu))


def ok(card: JmrtdApplet, apdu: bytes) -> bytes:
    response = send(card, apdu)
    assert response.sw == 0x9000, f"{apdu[:4].hex()}: {response.sw:04X}"
    return response.data


# --- The applet's byte layouts (PassportApplet.java processPutData / processCreateFile) --------


def apdu(header: str, data: bytes = b"", le: int | None = None) -> bytes:
    body = bytes((len(data),)) + data if data else b""
    return h(header) + body + (bytes((le % 256,)) if le is not None else b"")


def create_file(fid: int, size: int) -> bytes:
    return apdu("00E00000", b"\x63\x04" + size.to_bytes(2, "big") + fid.to_bytes(2, "big"))


def select_file(fid: int) -> bytes:
    return apdu("00A4020C", fid.to_bytes(2, "big"))


def update_binary(offset: int, chunk: bytes) -> bytes:
    return apdu("00D6" + offset.to_bytes(2, "big").hex(), chunk)


def mrz_seed(number: bytes, birth: bytes, expiry: bytes) -> bytes:
    """PUT DATA 62: ``62 L {04 docNr}{04 DOB}{04 DOE}``."""
    body = tlv.encode(0x04, number) + tlv.encode(0x04, birth) + tlv.encode(0x04, expiry)
    return apdu("00DA0062", tlv.encode(0x62, body))


def rsa_component(p2: int, value: bytes) -> bytes:
    """PUT DATA 60 / 61: ``60 00 {04 L value}`` (outer length 00, then the 04 object)."""
    return apdu(f"00DA00{p2:02X}", bytes((p2, 0x00)) + tlv.encode(0x04, value))


def write_file(card: JmrtdApplet, fid: int, content: bytes, chunk: int = 200) -> None:
    ok(card, create_file(fid, len(content)))
    ok(card, select_file(fid))
    for offset in range(0, len(content), chunk):
        ok(card, update_binary(offset, content[offset : offset + chunk]))


@dataclass(frozen=True)
class Chip:
    card: JmrtdApplet
    connection: EmulatorConnection
    files: dict[int, bytes]
    aa_key: rsa.RSAPrivateKey


_AA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=1024)


def personalize(card: JmrtdApplet, *, lock: bool = True) -> tuple[dict[int, bytes], bytes]:
    numbers = _AA_KEY.private_numbers()
    dg15 = bytes(Dg15.build(_AA_KEY.public_key()))
    contents = {
        COM: h("60155F0104303130375F36063034303030305C03616F75"),
        DG1: tlv.encode(0x61, tlv.encode(0x5F1F, b"I<NLDL898902C<3" + b"<" * 75)),
        DG2: tlv.encode(0x75, bytes(range(256)) * 6),  # several 224-byte reads
        DG15: dg15,
        SOD: tlv.encode(0x77, b"\x30" + bytes(40)),
    }
    ok(card, SELECT_APPLET)
    for fid, content in contents.items():
        write_file(card, fid, content)
    ok(card, mrz_seed(*SPECIMEN))
    ok(card, rsa_component(0x60, b"\x00" + numbers.public_numbers.n.to_bytes(128, "big")))
    ok(card, rsa_component(0x61, numbers.d.to_bytes(128, "big")))
    if lock:
        ok(card, LOCK)
    return contents, dg15


@pytest.fixture
def chip() -> Chip:
    card = JmrtdApplet()
    connection = EmulatorConnection(card)
    files, _ = personalize(card)
    connection.reconnect(reset=True)
    ok(card, SELECT_APPLET)
    return Chip(card, connection, files, _AA_KEY)


def bac(chip: Chip) -> SecureConnection:
    sm = perform_bac(chip.connection, MrzKey("L898902C", "690806", "940623"))
    return SecureConnection(chip.connection, sm)


def read_under_sm(secure: SecureConnection, fid: int, size: int, chunk: int = 224) -> bytes:
    assert secure.send(Command(0x00, 0xA4, 0x02, 0x0C, fid.to_bytes(2, "big"))).sw == 0x9000
    out = b""
    while len(out) < size:
        offset = len(out)
        response = secure.send(
            Command(0x00, 0xB0, offset >> 8, offset & 0xFF, ne=min(chunk, size - offset))
        )
        assert response.sw == 0x9000
        out += response.data
    return out


# --- ATR ----------------------------------------------------------------------------------------


def test_atr_is_t1_with_a_correct_tck_and_announces_no_extended_length() -> None:
    tck = 0
    for b in ATR[1:]:
        tck ^= b
    assert tck == 0  # ISO/IEC 7816-3 §8.2.5: T0 ⊕ … ⊕ TCK = 0
    assert ATR[:2] == b"\x3b\xfa" and ATR[5] == 0x81 and ATR[6] == 0x31  # TD1 T=1, TD2 T=1
    assert historical_bytes(ATR) == b"JCOP41V221"
    assert extended_length_from_atr(ATR) in (False, None)
    assert JmrtdApplet().power_on() == ATR


# --- Known answers: ICAO 9303-11 Appendix D --------------------------------------------------


def test_appendix_d2_key_seed_and_keys_are_what_the_applet_derives() -> None:
    d2 = BAC["d2"]
    seed = key_seed(*SPECIMEN)  # PassportInit.computeKeySeed
    assert seed.hex().upper() == d2["k_seed"]
    assert derive_keys(seed) == (h(d2["k_enc"]), h(d2["k_mac"]))  # PassportCrypto.deriveKey
    card = JmrtdApplet()
    EmulatorConnection(card)
    ok(card, SELECT_APPLET)
    ok(card, mrz_seed(*SPECIMEN))
    assert card._state.bac_keys == (h(d2["k_enc"]), h(d2["k_mac"]))
    assert card._state.document_number == b"L898902C<3"  # checkDigit appended


def test_an_unpadded_document_number_gives_other_keys() -> None:
    """computeKeySeed uses the number as sent: a personalizer must send it padded to 9."""
    assert key_seed(b"L898902C", b"690806", b"940623") != key_seed(*SPECIMEN)


def test_appendix_d3_bac_and_d4_secure_messaging_byte_for_byte() -> None:
    d3 = BAC["d3"]
    card = JmrtdApplet(rng=scripted_rng(h(d3["rnd_icc"]), h(d3["k_icc"])))
    connection = EmulatorConnection(card)
    ok(card, SELECT_APPLET)
    ok(card, mrz_seed(*SPECIMEN))
    write_file(card, COM, h("60145F0104303130365F36063034303030305C026175"))  # D.4's EF.COM
    ok(card, LOCK)
    assert ok(card, h(d3["get_challenge_command"])) == h(d3["rnd_icc"])
    assert ok(card, h(d3["external_authenticate_command"])) == h(
        d3["external_authenticate_response"]
    )
    for exchange in D4["exchanges"]:
        assert card.transmit(h(exchange["protected_command"])) == h(exchange["protected_response"])
    # The same through cardkit's terminal side (a fresh session: reset, select, BAC again).
    connection.reconnect(reset=True)
    ok(card, SELECT_APPLET)
    card._rng = scripted_rng(h(d3["rnd_icc"]), h(d3["k_icc"]))
    sm = perform_bac(
        connection,
        MrzKey("L898902C", "690806", "940623"),
        scripted_rng(h(d3["rnd_ifd"]), h(d3["k_ifd"])),
    )
    assert sm.ssc == int(d3["ssc"], 16)
    assert bytes(card._ssc).hex().upper() == d3["ssc"]  # PassportCrypto.computeSSC


# --- Reading a personalized, locked chip ----------------------------------------------------


def test_bac_then_every_file_read_under_sm_and_aa_verifies(chip: Chip) -> None:
    assert chip.card.life_cycle == "locked"
    secure = bac(chip)
    for fid, content in chip.files.items():
        assert read_under_sm(secure, fid, len(content)) == content
    dg15 = Dg15.from_bytes(read_under_sm(secure, DG15, len(chip.files[DG15])))
    result = aa.perform_aa(secure, dg15, None)  # ISO/IEC 9796-2, SHA-1 trailer BC
    assert result.verified, result.detail
    challenge = bytes(range(8))
    answer = secure.send(Command(0x00, 0x88, 0x00, 0x00, challenge, ne=256))
    assert answer.sw == 0x9000 and len(answer.data) == 128
    assert aa.verify_aa_signature(dg15.public_key(), challenge, answer.data, None)
    # processInternalAuthenticate: raw RSA of 6A ‖ 00×106 ‖ SHA-1(00×106 ‖ RND.IFD) ‖ BC
    numbers = chip.aa_key.public_key().public_numbers()
    opened = pow(int.from_bytes(answer.data, "big"), numbers.e, numbers.n).to_bytes(128, "big")
    assert opened[0] == 0x6A and opened[1:107] == bytes(106) and opened[-1] == 0xBC


def test_read_binary_sizes(chip: Chip) -> None:
    """processReadBinary: min(261 − 37, size − offset, Le); Le only from DO'97' (00 → 0)."""
    secure = bac(chip)
    assert secure.send(Command(0x00, 0xA4, 0x02, 0x0C, b"\x01\x02")).sw == 0x9000
    assert secure.send(Command(0x00, 0xB0, 0, 0, ne=255)).data == chip.files[DG2][:224]
    assert secure.send(Command(0x00, 0xB0, 0, 0, ne=256)) == Response(b"", 0x9000)  # DO'97' 00
    assert secure.send(Command(0x00, 0xB0, 0, 0)) == Response(b"", 0x9000)  # no DO'97'
    plain = send(chip.card, h("00B0000008"))  # plain during SM: processed in plain, Le = 0
    assert plain == Response(b"", 0x9000)
    assert secure.send(Command(0x00, 0xB0, 0, 2, ne=4)).data == chip.files[DG2][2:6]


def test_sfi_read_is_a_negative_offset_answered_by_a_plain_6f00(chip: Chip) -> None:
    """No SFI: ``0C B0 9E 00`` → Util.makeShort → a negative offset → the array copy throws."""
    secure = bac(chip)
    sm = secure.sm
    assert secure.send(Command(0x00, 0xA4, 0x02, 0x0C, b"\x01\x01")).sw == 0x9000
    wrapped = sm.wrap(Command(0x00, 0xB0, 0x9E, 0x00, ne=8))
    assert chip.card.transmit(bytes(wrapped)) == h("6F00")  # plain, no DO'99'/DO'8E'
    # The command's SSC increment happened, the response's did not: the next command verifies.
    assert secure.send(Command(0x00, 0xB0, 0, 0, ne=4)).data == chip.files[DG1][:4]


def test_a_mac_failure_is_a_wrapped_6985_and_the_session_stays(chip: Chip) -> None:
    secure = bac(chip)
    sm = secure.sm
    wrapped = sm.wrap(Command(0x00, 0xA4, 0x02, 0x0C, b"\x01\x01"))
    forged = bytearray(bytes(wrapped))
    forged[-2] ^= 0x01  # the last MAC byte (before Le)
    raw = chip.card.transmit(bytes(forged))
    assert raw[-2:] == h("6985") and h("99026985") in raw and raw[-12:-10] == h("8E08")
    assert sm.unwrap(Response.from_bytes(raw)) == Response(b"", 0x6985)  # MAC verifies
    assert read_under_sm(secure, DG1, 16) == chip.files[DG1][:16]


def test_a_plain_command_during_sm_keeps_the_session(chip: Chip) -> None:
    secure = bac(chip)
    assert send(chip.card, select_file(DG2)).sw == 0x9000  # plain, BAC done: allowed
    assert send(chip.card, h("00CA010100")).sw == 0x6D00
    assert read_under_sm(secure, DG1, 8) == chip.files[DG1][:8]


def test_reselecting_keeps_bac_and_a_reset_ends_it(chip: Chip) -> None:
    secure = bac(chip)
    ok(chip.card, SELECT_APPLET)  # CLEAR_ON_RESET, not CLEAR_ON_DESELECT
    assert read_under_sm(secure, DG1, 8) == chip.files[DG1][:8]
    assert send(chip.card, h("0084000008")).sw == 0x6982  # a second BAC: refused
    chip.connection.reconnect(reset=True)
    assert send(chip.card, h("00A4020C020101")).sw == 0x6A82  # the card manager again
    ok(chip.card, SELECT_APPLET)
    assert send(chip.card, bytes(secure.sm.wrap(Command(0, 0xB0, 0, 0, ne=4)))).sw == 0x6882
    assert send(chip.card, select_file(DG1)).sw == 0x6982  # locked, no BAC
    secure = bac(chip)  # a fresh BAC works after the reset
    assert read_under_sm(secure, DG1, 8) == chip.files[DG1][:8]


def test_external_authenticate_failure_keeps_the_challenge() -> None:
    card = JmrtdApplet()
    connection = EmulatorConnection(card)
    ok(card, SELECT_APPLET)
    ok(card, mrz_seed(*SPECIMEN))
    challenge = ok(card, h("0084000008"))
    assert len(challenge) == 8
    assert send(card, apdu("00820000", bytes(40), 40)).sw == 0x6982  # the MAC does not verify
    assert send(card, apdu("00820000", bytes(39), 40)).sw == 0x6700  # Lc must be 40
    k_enc, k_mac = bac_keys(MrzKey("L898902C", "690806", "940623").key_seed())
    wrong = terminal_authentication_data(k_enc, k_mac, bytes(8), bytes(8), bytes(16))
    assert send(card, apdu("00820000", wrong, 40)).sw == 0x6982  # RND.ICC does not match
    right = terminal_authentication_data(k_enc, k_mac, bytes(8), challenge, bytes(16))
    assert len(ok(card, apdu("00820000", right, 40))) == 40  # the same challenge, still valid
    assert send(card, apdu("00820000", right, 40)).sw == 0x6982  # authenticated: no second BAC
    del connection


# --- Every status word, with the method it comes from ---------------------------------------


def _ec_key_body(s_length: int = 20) -> bytes:
    return (
        tlv.encode(0x81, h("00A3 0007 0006"))
        + tlv.encode(0x82, b"\x01" * 21)
        + tlv.encode(0x83, b"\x02" * 21)
        + tlv.encode(0x84, b"\x04" + b"\x03" * 42)
        + tlv.encode(0x85, b"\x04" * 21)
        + tlv.encode(0x86, b"\x05" * s_length)
        + tlv.encode(0x87, b"\x02")
    )


def cv_trust_point(holder: bytes = b"NLCVCA00001") -> bytes:
    """A root CV certificate body as CVCertificate.parseCertificate(root = true) reads it."""
    key = tlv.encode(
        0x7F49,
        tlv.encode(0x06, RSA_SHA1_OID)
        + tlv.encode(0x81, b"\xc1" * 128)
        + tlv.encode(0x82, h("010001")),
    )
    body = (
        tlv.encode(0x5F29, b"\x00")
        + tlv.encode(0x42, holder)
        + key
        + tlv.encode(0x5F20, holder)
        + tlv.encode(0x7F4C, tlv.encode(0x06, EAC_OID) + tlv.encode(0x53, b"\xc3"))
        + tlv.encode(0x5F25, h("000901010001"))
        + tlv.encode(0x5F24, h("010001010001"))
    )
    return tlv.encode(0x7F4E, body)


def blank() -> JmrtdApplet:
    card = JmrtdApplet()
    EmulatorConnection(card)
    return card


def selected() -> JmrtdApplet:
    card = blank()
    ok(card, SELECT_APPLET)
    return card


def with_mrz() -> JmrtdApplet:
    card = selected()
    ok(card, mrz_seed(*SPECIMEN))
    return card


def with_file() -> JmrtdApplet:
    card = with_mrz()
    write_file(card, DG1, bytes(range(100)))
    return card


def locked() -> JmrtdApplet:
    card = with_file()
    ok(card, LOCK)
    return card


STATUS_WORDS: list[tuple[str, Callable[[], JmrtdApplet], str, int, str]] = [
    # (what, state, APDU, status word, where in the source it comes from)
    ("SELECT before the applet", blank, "00A4020C020101", 0x6A82, "card manager (runtime)"),
    ("another INS before the applet", blank, "00B0000000", 0x6D00, "card manager (runtime)"),
    ("SELECT by AID", blank, "00A4040C07A0000002471001", 0x9000, "process: selectingApplet"),
    ("extended length", selected, "00B00000000004", 0x6700, "runtime: no ExtendedLength"),
    ("Lc and length disagree", selected, "00A4020C0301", 0x6700, "runtime"),
    ("GET DATA", selected, "00CA000000", 0x6D00, "processAPDU default"),
    ("GET DATA after lock", locked, "00CA010100", 0x6D00, "processAPDU default"),
    ("protected before BAC", with_file, "0CB0000000", 0x6882, "process"),
    ("GET CHALLENGE without MRZ", selected, "0084000008", 0x6982, "processGetChallenge"),
    ("GET CHALLENGE Le 10", with_mrz, "008400000A", 0x6700, "processGetChallenge"),
    ("GET CHALLENGE no Le", with_mrz, "00840000", 0x6700, "processGetChallenge"),
    (
        "EXTERNAL AUTH unchallenged",
        with_mrz,
        "0082000028" + "00" * 40,
        0x6982,
        "processMutualAuthenticate",
    ),
    (
        "INTERNAL AUTH without key",
        with_mrz,
        "0088000008" + "00" * 8,
        0x6982,
        "processInternalAuthenticate",
    ),
    ("MSE in plain", with_mrz, "002241A600", 0x6982, "processAPDU"),
    ("PSO in plain", with_mrz, "002A00BE00", 0x6982, "processAPDU"),
    ("SELECT Lc 1", selected, "00A4020C0101", 0x6700, "processSelectFile"),
    ("SELECT unknown FID", selected, "00A4020C020120", 0x6A82, "processSelectFile"),
    ("SELECT not created", selected, "00A4020C020101", 0x6A82, "processSelectFile"),
    ("SELECT DG3", selected, "00A4020C020103", 0x6982, "FileSystem.getFileIndex"),
    ("SELECT P1 P2 ignored", with_file, "00A40F77020101", 0x9000, "processSelectFile"),
    (
        "SELECT other AID when selected",
        selected,
        "00A4040C07A0000002471002",
        0x6700,
        "processSelectFile (Lc 7)",
    ),
    ("SELECT locked no BAC", locked, "00A4020C020101", 0x6982, "processSelectFile"),
    ("READ BINARY without BAC", with_file, "00B0000008", 0x6982, "processReadBinary"),
    ("UPDATE BINARY no file", with_mrz, "00D6000001AA", 0x6985, "processUpdateBinary"),
    ("UPDATE BINARY past size", with_file, "00D6006205" + "AA" * 5, 0x6A84, "FileSystem.writeData"),
    (
        "UPDATE BINARY negative offset",
        with_file,
        "00D6FFFF01AA",
        0x6F00,
        "FileSystem.writeData: arrayCopy",
    ),
    ("UPDATE BINARY after lock", locked, "00D6000001AA", 0x6985, "processUpdateBinary"),
    ("CREATE FILE Lc 5", selected, "00E00000056304001001", 0x6700, "processCreateFile"),
    ("CREATE FILE length byte 3", selected, "00E0000006630300100101", 0x6700, "processCreateFile"),
    ("CREATE FILE tag 64", selected, "00E0000006640400100101", 0x6984, "processCreateFile"),
    (
        "CREATE FILE unknown FID",
        selected,
        "00E0000006630400100120",
        0x6F00,
        "FileSystem.createFile: files[-1]",
    ),
    ("CREATE FILE DG3", selected, "00E0000006630400100103", 0x6982, "FileSystem.getFileIndex"),
    (
        "CREATE FILE size > 32767",
        selected,
        "00E0000006630480000101",
        0x6F00,
        "FileSystem.createFile: new byte[negative]",
    ),
    (
        "CREATE FILE larger again",
        with_file,
        "00E0000006630400650101",
        0x6A84,
        "FileSystem.createFile",
    ),
    (
        "CREATE FILE smaller again",
        with_file,
        "00E0000006630400320101",
        0x9000,
        "FileSystem.createFile",
    ),
    ("CREATE FILE after lock", locked, "00E0000006630400100102", 0x6985, "processCreateFile"),
    ("PUT DATA 65 (CAN)", selected, "00DA00650A65080406313233343536", 0x6A86, "processPutData"),
    ("PUT DATA 66", selected, "00DA00660166", 0x6A86, "processPutData"),
    ("PUT DATA 67", selected, "00DA0067056703020101", 0x6A86, "processPutData"),
    ("PUT DATA P1 01 P2 60", selected, "00DA0160026000", 0x6A86, "processPutData"),
    ("PUT DATA 63 unknown tag", selected, "00DA0063038801AA", 0x6A80, "processPutData"),
    (
        "PUT DATA 63 without S",
        selected,
        "00DA006303820101",
        0x6A80,
        "processPutData: not initialized",
    ),
    (
        "PUT DATA 64 malformed",
        selected,
        "00DA016404" + "7F4E0100",
        0x6A80,
        "CVCertificate.parseCertificate",
    ),
    ("PUT DATA after lock", locked, "00DA0062026200", 0x6985, "processPutData"),
    ("LOCK after lock", locked, "00DADEAD", 0x6985, "processPutData"),
    ("unknown INS", selected, "00C0000000", 0x6D00, "processAPDU default"),
]


@pytest.mark.parametrize(
    ("state", "command", "expected"),
    [
        pytest.param(state, command, sw, id=f"{what} [{where}]")
        for what, state, command, sw, where in STATUS_WORDS
    ],
)
def test_status_word(state: Callable[[], JmrtdApplet], command: str, expected: int) -> None:
    card = state()
    assert send(card, h(command)).sw == expected


def test_mrz_characters_outside_the_mrz_set_are_6d04() -> None:
    card = selected()
    assert send(card, mrz_seed(b"L8989#2C<", b"690806", b"940623")).sw == 0x6D04  # checkDigit
    assert send(card, mrz_seed(b"l898902c<", b"690806", b"940623")).sw == 0x9000  # lower case ok
    # The check digit is the same, but the seed hashes the bytes as sent: other keys.
    assert card._state.bac_keys != derive_keys(key_seed(*SPECIMEN))


def test_create_file_again_resets_the_size_and_keeps_the_contents() -> None:
    card = with_mrz()
    write_file(card, DG1, bytes(range(200)))
    ok(card, create_file(DG1, 100))  # size ≤ allocation: 9000, contents kept
    assert card._state.sizes[DG1] == 100 and card._state.files[DG1] == bytes(range(200))
    ok(card, LOCK)
    chip = Chip(card, EmulatorConnection(card, power_on=False), {}, _AA_KEY)
    secure = bac(chip)
    assert secure.send(Command(0, 0xA4, 0x02, 0x0C, b"\x01\x01")).sw == 0x9000
    # Past the size but inside the allocation: min() of unsigned shorts gives Le bytes.
    assert secure.send(Command(0, 0xB0, 0, 150, ne=8)).data == bytes(range(150, 158))
    wrapped = secure.sm.wrap(Command(0, 0xB0, 0, 250, ne=8))  # past the allocation
    assert card.transmit(bytes(wrapped)) == h("6F00")


def test_status_words_under_secure_messaging(chip: Chip) -> None:
    secure = bac(chip)
    cases = [
        (Command(0, 0x88, 0, 0, bytes(7), ne=256), 0x6700, "processInternalAuthenticate Lc"),
        (Command(0, 0x84, 0, 0, ne=8), 0x6982, "processGetChallenge: TA needs CA"),
        (Command(0, 0x82, 0, 0, bytes(8)), 0x6982, "processMutualAuthenticate: EAC needs CA"),
        (Command(0, 0x22, 0x41, 0xA6, h("9103010203")), 0x6D00, "processMSE: no EC key"),
        (Command(0, 0x2A, 0x00, 0xBE, bytes(4)), 0x6982, "processPSO: no CA"),
        (Command(0, 0xD6, 0, 0, b"\x01"), 0x6985, "processUpdateBinary: locked"),
        (Command(0, 0xDA, 0xDE, 0xAD), 0x6985, "processPutData: locked"),
        (Command(0, 0xB0, 0, 0, ne=8), 0x6985, "processReadBinary: no file selected"),
        (Command(0, 0xCA, 0, 0, ne=256), 0x6D00, "processAPDU default"),
    ]
    for command, expected, where in cases:
        assert secure.send(command).sw == expected, where
    assert secure.sm.active  # every error came wrapped


def test_chip_and_terminal_authentication_answer_per_the_preconditions() -> None:
    card = with_mrz()
    ok(card, apdu("00DA0063", _ec_key_body()))
    assert card._state.has_ec_key and card._state.ec_key.s == b"\x00" + b"\x05" * 20
    ok(card, apdu("00DA0164", cv_trust_point()))
    assert card._state.cv_certificate is not None and card._state.cv_certificate.number == 1
    assert send(card, apdu("00DA0164", cv_trust_point())).sw == 0x6985  # already there
    ok(card, LOCK)
    connection = EmulatorConnection(card, power_on=False)
    secure = SecureConnection(
        connection, perform_bac(connection, MrzKey("L898902C", "690806", "940623"))
    )
    key = b"\x04" + bytes(42)
    cases = [
        (h("91") + bytes((len(key),)) + key, 0x6985, "authenticateChip (not modelled)"),
        (h("91") + bytes((len(key),)) + key + h("840101"), 0x6985, "with a key id"),
        (h("92") + bytes((len(key),)) + key, 0x6A80, "not DO'91'"),
        (h("91FF") + key, 0x6700, "DO'91' longer than the data"),
        (h("91") + bytes((len(key),)) + key + h("840201"), 0x6700, "key id length"),
    ]
    for data, expected, where in cases:
        assert secure.send(Command(0, 0x22, 0x41, 0xA6, data)).sw == expected, where
    assert secure.send(Command(0, 0x22, 0x81, 0xB6, h("830101"))).sw == 0x6982  # DST: no CA
    assert secure.send(Command(0, 0x22, 0x41, 0xA4, h("830101"))).sw == 0x6A86
    assert secure.send(Command(0, 0x84, 0, 0, ne=8)).sw == 0x6982


def test_cv_trust_point_with_a_long_holder_reference_is_6f00() -> None:
    """setRootCertificate copies the CHR into a 17-byte array: 17 bytes or more overflow it."""
    card = selected()
    assert send(card, apdu("00DA0164", cv_trust_point(b"X" * 17))).sw == 0x6F00
    assert send(card, apdu("00DA0364", cv_trust_point(b"X" * 17))).sw == 0x9000  # P1 3: no copy


def test_ec_key_components_accumulate_and_a_bad_tag_keeps_them() -> None:
    card = selected()
    assert send(card, apdu("00DA0063", tlv.encode(0x82, b"\x07" * 21) + h("8801AA"))).sw == 0x6A80
    assert card._state.ec_key.a == b"\x07" * 21 and not card._state.has_ec_key
    ok(card, apdu("00DA0063", tlv.encode(0x86, b"\x09" * 21)))  # S: initialized (jcardsim)
    assert card._state.has_ec_key


def test_update_binary_under_sm_before_lock_is_apdu_exception_0001() -> None:
    """unwrapCommandAPDU received the data already; processUpdateBinary receives it again."""
    card = with_file()
    connection = EmulatorConnection(card, power_on=False)
    secure = SecureConnection(
        connection, perform_bac(connection, MrzKey("L898902C", "690806", "940623"))
    )
    assert secure.send(Command(0, 0xA4, 0x02, 0x0C, b"\x01\x01")).sw == 0x9000
    assert secure.send(Command(0, 0xD6, 0, 0, b"\x55")).sw == 0x0001
    assert secure.send(Command(0, 0xE0, 0, 0, h("630400100102"))).sw == 0x9000  # CREATE: fine


def test_aa_with_a_modulus_that_is_not_1024_bits() -> None:
    """jcardsim's ALG_RSA_NOPAD: 128 input bytes need a 1024-bit modulus (ILLEGAL_USE 0005)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    numbers = key.private_numbers()
    card = with_mrz()
    write_file(card, DG1, bytes(4))
    ok(card, rsa_component(0x60, numbers.public_numbers.n.to_bytes(256, "big")[:200]))
    ok(card, rsa_component(0x61, b"\x01\x01"))
    connection = EmulatorConnection(card, power_on=False)
    secure = SecureConnection(
        connection, perform_bac(connection, MrzKey("L898902C", "690806", "940623"))
    )
    assert secure.send(Command(0, 0x88, 0, 0, bytes(8), ne=256)).sw == 0x0005


# --- The state file -----------------------------------------------------------------------------


def test_state_round_trip_through_a_file(tmp_path: Path) -> None:
    path = tmp_path / "jmrtd.json"
    card = JmrtdApplet.open(path)
    assert path.exists() and stat.S_IMODE(path.stat().st_mode) == 0o600
    files, _ = personalize(card)
    obj = json.loads(path.read_text())
    assert obj["applet"] == "jmrtd" and obj["locked"] is True
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert applet_of_state_file(path) == "jmrtd"

    again = JmrtdApplet.open(path)
    assert again.life_cycle == "locked" and again.state_file == path
    chip = Chip(again, EmulatorConnection(again), files, _AA_KEY)
    ok(again, SELECT_APPLET)
    secure = bac(chip)
    assert read_under_sm(secure, DG2, len(files[DG2])) == files[DG2]
    assert JmrtdState.from_json(obj).to_json() == obj


def test_secrets_are_not_in_repr(tmp_path: Path) -> None:
    card = with_mrz()
    ok(card, apdu("00DA0063", _ec_key_body()))
    text = repr(card) + repr(card._state) + repr(card._state.ec_key)
    k_enc, k_mac = card._state.bac_keys or (b"", b"")
    for secret in (k_enc.hex(), k_mac.hex(), "L898902C", "05050505"):
        assert secret.lower() not in text.lower()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{", "not valid JSON"),
        (b"[]", "not a JSON object"),
        (b'{"applet": "jmrtd", "format": "x"}', "format"),
        (b'{"applet": "other"}', "not a JMRTD applet state file"),
    ],
)
def test_malformed_state_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(EmulatorStateError, match=message):
        JmrtdApplet.open(path)


def test_malformed_fields_name_the_field(tmp_path: Path) -> None:
    good = JmrtdState().to_json()
    for field, value, message in [
        ("locked", "yes", "locked"),
        ("files", {"0120": {"size": 1, "data": "00"}}, "file identifier"),
        ("files", {"0101": {"size": 2, "data": "00"}}, "larger than its allocation"),
        ("files", {"0101": {"size": 40000, "data": "00"}}, "Java short"),
        ("bac_keys", {"enc": "00", "mac": "00"}, "16 bytes"),
        ("ec_key", {"field": [1, 2], "a": None}, "ec_key.field"),
        ("rsa_modulus", "zz", "rsa_modulus"),
        ("cv_certificate", {"number": 300, "certificate": "00"}, "cv_certificate.number"),
    ]:
        obj = dict(good, **{field: value})
        with pytest.raises(EmulatorStateError, match=message):
            JmrtdState.from_json(obj, "state.json")


def test_a_state_file_of_the_other_applet_is_refused(tmp_path: Path) -> None:
    cardkit_file = tmp_path / "cardkit.json"
    CardState().save(cardkit_file)
    with pytest.raises(EmulatorStateError, match="--applet cardkit"):
        JmrtdApplet.open(cardkit_file)
    jmrtd_file = tmp_path / "jmrtd.json"
    JmrtdApplet.open(jmrtd_file)
    with pytest.raises(EmulatorStateError):
        EmulatedCard.open(jmrtd_file)
    assert applet_of_state_file(cardkit_file) == "cardkit"

    runner = CliRunner()
    for applet, path, other in (
        ("jmrtd", cardkit_file, "cardkit"),
        ("cardkit", jmrtd_file, "jmrtd"),
    ):
        result = runner.invoke(
            cli, ["emulator", "start", "--applet", applet, "--state", str(path), "--wait", "0"]
        )
        assert result.exit_code == 2, result.output
        assert f"--applet {other}" in result.output


def test_the_state_file_cannot_be_written_answers_6581(tmp_path: Path) -> None:
    folder = tmp_path / "gone"
    folder.mkdir()
    card = JmrtdApplet.open(folder / "state.json")
    EmulatorConnection(card)
    ok(card, SELECT_APPLET)
    (folder / "state.json").unlink()
    folder.rmdir()
    assert send(card, mrz_seed(*SPECIMEN)).sw == 0x6581


# --- Malformed APDUs never raise -------------------------------------------------------------

_INS = st.sampled_from([0xA4, 0xB0, 0xD6, 0xE0, 0xDA, 0x84, 0x82, 0x88, 0x22, 0x2A, 0xCA])


@st.composite
def short_apdus(draw: st.DrawFn) -> bytes:
    header = bytes((draw(st.sampled_from([0x00, 0x0C, 0x04, 0x80])), draw(_INS))) + draw(
        st.binary(min_size=2, max_size=2)
    )
    data = draw(st.binary(max_size=255))
    le = draw(st.one_of(st.none(), st.integers(0, 255)))
    body = (bytes((len(data),)) + data if data else b"") + (bytes((le,)) if le is not None else b"")
    return header + body


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(commands=st.lists(st.one_of(short_apdus(), st.binary(max_size=300)), max_size=8))
def test_malformed_apdus_never_raise(chip: Chip, commands: list[bytes]) -> None:
    for command in commands:
        response = chip.card.transmit(command)
        assert 2 <= len(response) <= 258


@settings(max_examples=200, deadline=None)
@given(commands=st.lists(short_apdus(), max_size=6))
def test_malformed_commands_under_secure_messaging_never_raise(commands: list[bytes]) -> None:
    card = with_file()
    connection = EmulatorConnection(card, power_on=False)
    sm: SecureMessaging = perform_bac(connection, MrzKey("L898902C", "690806", "940623"))
    for command in commands:
        try:
            parsed = Command.from_bytes(command)
            wrapped = bytes(
                sm.wrap(
                    Command(
                        parsed.cla & 0xF3, parsed.ins, parsed.p1, parsed.p2, parsed.data, parsed.ne
                    )
                )
            )
        except Exception:
            wrapped = command
        response = card.transmit(wrapped)
        assert len(response) >= 2
        if sm.active and wrapped is not command:
            try:
                sm.unwrap(Response.from_bytes(response))
            except Exception:
                return  # out of sync after a 6F00: the session is over for the host
