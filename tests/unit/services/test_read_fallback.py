"""`cardkit.services.read` on chips that are not cardkit's own: no short EF identifiers (the
JMRTD passport applet, PassportApplet.java processReadBinary), refusals that end secure
messaging, a second BAC refused until the card is reset (processGetChallenge), at most 224
bytes per READ BINARY and never 6282 — and `read_file` ending by the TLV length alone.

The chips are cardkit's emulator behind a small subclass that answers those commands the JMRTD
way (:class:`JmrtdLikeCard`), personalized with the card images of ``test_read``.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Literal, TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cardkit.emulator import EmulatedCard, EmulatorConnection, JmrtdApplet
from cardkit.emulator.atr import build_atr
from cardkit.emulator.vpcd import VirtualCard
from cardkit.encoding import tlv
from cardkit.errors import CardError, EncodingError, ProtocolError
from cardkit.iso7816.apdu import SW, Command, Response
from cardkit.lds import files
from cardkit.profile import load_profile
from cardkit.protocol.kdf import Cipher
from cardkit.protocol.sm import SecureConnection, SecureMessaging
from cardkit.services.read import (
    STEP_RESET,
    AccessKey,
    CardRead,
    ReadLimits,
    ShortIdentifierRefused,
    read_card,
    read_file,
    short_ef_identifiers_from_atr,
)
from cardkit.services.read_binary import STEP_READ
from cardkit.transport.scripted import FunctionConnection, ScriptedConnection

sys.path.insert(0, str(Path(__file__).resolve().parent))
import test_read as helpers  # the card images and the personalization helper

OK = b"\x90\x00"
JMRTD_MAX_READ = 224  # PassportApplet.java processReadBinary: buffer.length - 37
Refusal = Literal["jmrtd", "end-sm", "6A82", "6B00"]
_Card = TypeVar("_Card", bound=EmulatedCard)


# --- A chip that refuses short EF identifiers -------------------------------------------------

# cardkit's ATR with short EF identifiers no longer announced in the card capabilities (first
# software function table 94 → 90: DF name and FID selection only; ISO/IEC 7816-4 §8.1.1.2.7).
ATR_WITHOUT_SFI = build_atr(bytes.fromhex("8073900160"))


class WithoutSfiAtr(EmulatedCard):
    """cardkit's emulator behind an ATR that does not announce short EF identifiers."""

    @property
    def atr(self) -> bytes:
        return ATR_WITHOUT_SFI


class JmrtdLikeCard(WithoutSfiAtr):
    """cardkit's emulator answering as the JMRTD passport applet where it matters here.

    - READ BINARY with P1 b8 set (a short EF identifier not in ``sfi_ok``): ``refusal`` "jmrtd"
      answers 6985 when no EF is selected (protected under SM) and otherwise fails as the
      applet's negative offset does (an exception: a *plain* 6F00 and the session dropped);
      "end-sm" always fails that way; "6A82"/"6B00" answer that status (protected).
    - GET CHALLENGE after a successful BAC answers 6982 until the card is reset.
    - READ BINARY returns at most ``max_read`` bytes and never 6282.
    """

    def __init__(
        self,
        refusal: Refusal = "jmrtd",
        *,
        sfi_ok: frozenset[int] = frozenset(),
        max_read: int = JMRTD_MAX_READ,
    ) -> None:
        super().__init__()
        self.refusal = refusal
        self.sfi_ok = sfi_ok
        self.max_read = max_read
        self.mutually_authenticated = False
        self.sfi_refusals = 0
        self.asked: list[int] = []  # Ne of every READ BINARY B0, as the card received it

    def _reset(self) -> None:
        super()._reset()
        self.mutually_authenticated = False  # CLEAR_ON_RESET in the applet

    def _process(self, command: Command) -> Response:
        if command.ins == 0x84 and self.mutually_authenticated:
            return Response(b"", SW.SECURITY_STATUS_NOT_SATISFIED)
        if command.ins == 0xB0 and command.p1 & 0x80 and command.p1 & 0x1F not in self.sfi_ok:
            self.sfi_refusals += 1
            if self.refusal == "jmrtd" and self._fs.current_ef is None:
                return Response(b"", SW.CONDITIONS_NOT_SATISFIED)
            if self.refusal in ("jmrtd", "end-sm"):
                raise IndexError("a negative offset")  # the card answers a plain 6F00
            return Response(b"", int(self.refusal, 16))
        if command.ins in (0xB0, 0xB1) and command.ne is not None:
            if command.ins == 0xB0:
                self.asked.append(command.ne)
            command = dataclasses.replace(command, ne=min(command.ne, self.max_read))
        response = super()._process(command)
        if command.ins == 0x82 and response.sw == SW.OK:
            self.mutually_authenticated = True
        if response.sw == SW.WARNING_END_OF_FILE:
            return Response(response.data, SW.OK)
        return response


class Reader(EmulatorConnection):
    """An in-process reader that logs every command and counts warm resets."""

    def __init__(self, card: VirtualCard, *, power_on: bool = True) -> None:
        super().__init__(card, power_on=power_on)
        self.log: list[Command] = []
        self.resets = 0

    def send(self, command: Command) -> Response:
        self.log.append(command)
        return super().send(command)

    def reconnect(self, reset: bool = True) -> None:
        self.resets += int(reset)
        super().reconnect(reset)

    def sfi_reads(self) -> int:
        return sum(1 for c in self.log if c.ins == 0xB0 and c.p1 & 0x80)


@pytest.fixture(scope="module")
def chip() -> helpers.Chip:
    return helpers.make_chip(load_profile("vn-cccd-2021"))


@pytest.fixture(scope="module")
def cam_chip() -> helpers.Chip:
    vn = load_profile("vn-cccd-2021")
    return helpers.make_chip(
        dataclasses.replace(vn, access=dataclasses.replace(vn.access, pace_mapping="CAM"))
    )


def bac_only(chip: helpers.Chip) -> helpers.Chip:
    image = dataclasses.replace(
        chip.image,
        files={s: d for s, d in chip.image.files.items() if s != files.CARD_ACCESS},
    )
    return dataclasses.replace(chip, image=image)


def load(chip: helpers.Chip, card: _Card, *, can: bool = True) -> _Card:
    helpers.personalize(card, chip.image, chip.keys, chip.can if can else None)
    return card


def sfis(*specs: files.FileSpec) -> frozenset[int]:
    return frozenset(spec.sfi for spec in specs)


def assert_fallback_note(result: CardRead, *, reset: bool) -> None:
    assert not result.sfi
    notes = [n for n in result.notes if "not an EF.CardAccess" not in n]
    assert len(notes) == 1, result.notes
    assert "short EF identifier" in notes[0]
    assert ("reset" in notes[0]) is reset
    assert result.describe()["sfi"] is False and result.describe()["notes"] == list(result.notes)


def test_the_jmrtd_like_chip_refuses_a_second_bac_until_reset(chip: helpers.Chip) -> None:
    from cardkit.protocol.bac import perform_bac

    plain = bac_only(chip)
    card = load(plain, JmrtdLikeCard("end-sm"), can=False)
    conn = EmulatorConnection(card)
    key = AccessKey.from_mrz(chip.mrz).mrz_key
    assert key is not None
    conn.send(Command.from_bytes(bytes.fromhex("00A4040C07A0000002471001")))
    secure = SecureConnection(conn, perform_bac(conn, key))
    assert secure.send(Command(0, 0xB0, 0x81, 0, ne=16)) == Response(b"", 0x6F00)  # plain
    assert not secure.sm.active
    assert conn.send(Command(0, 0x84, 0, 0, ne=8)).sw == SW.SECURITY_STATUS_NOT_SATISFIED
    conn.reconnect(reset=True)
    assert conn.send(Command(0, 0x84, 0, 0, ne=8)).sw == SW.OK


# --- Fallback without a reset: the refusal is protected, secure messaging goes on --------------


def test_jmrtd_refusal_6985_falls_back_to_select_without_a_reset(chip: helpers.Chip) -> None:
    plain = bac_only(chip)
    card = load(plain, JmrtdLikeCard("jmrtd"), can=False)
    reader = Reader(card)
    result = read_card(reader, AccessKey.from_mrz(chip.mrz))
    assert result.access == "BAC"
    helpers.assert_complete(result, plain)  # every file byte for byte, CA and AA
    assert_fallback_note(result, reset=False)
    assert reader.resets == 0
    assert card.sfi_refusals == 1 and reader.sfi_reads() == 1  # SFI is not tried again


@pytest.mark.parametrize("refusal", ["6A82", "6B00"])
def test_other_protected_refusals_fall_back_too(chip: helpers.Chip, refusal: Refusal) -> None:
    card = load(chip, JmrtdLikeCard(refusal))
    reader = Reader(card)
    result = read_card(reader, AccessKey.from_can(chip.can), extended_length=False)
    helpers.assert_complete(result, chip)
    assert_fallback_note(result, reset=False)
    assert reader.resets == 0 and reader.sfi_reads() == 1


# --- Fallback after the refusal ended secure messaging: reset, access again ---------------------


def test_a_refusal_that_ends_bac_resets_the_card_and_runs_bac_again(chip: helpers.Chip) -> None:
    plain = bac_only(chip)
    card = load(plain, JmrtdLikeCard("end-sm"), can=False)
    reader = Reader(card)
    result = read_card(reader, AccessKey.from_mrz(chip.mrz))
    helpers.assert_complete(result, plain)
    assert_fallback_note(result, reset=True)
    assert reader.resets == 1 and reader.sfi_reads() == 1
    # BAC twice: the second GET CHALLENGE came after the reset (the chip refuses it before).
    assert [c.ins for c in reader.log].count(0x82) == 2


def test_a_refusal_that_ends_pace_resets_the_card_and_runs_pace_again(chip: helpers.Chip) -> None:
    card = load(chip, JmrtdLikeCard("end-sm"))
    reader = Reader(card)
    result = read_card(reader, AccessKey.from_can(chip.can))
    assert result.access == "PACE-CAN" and result.pace is not None
    helpers.assert_complete(result, chip)
    assert_fallback_note(result, reset=True)
    assert reader.resets == 1
    mse_pace = [c for c in reader.log if (c.ins, c.p1, c.p2) == (0x22, 0xC1, 0xA4)]
    assert len(mse_pace) == 2  # the same PACEInfo, twice
    assert mse_pace[0] == mse_pace[1]
    assert not result.pace.sm.active


def test_chip_authentication_is_run_again_after_a_reset(chip: helpers.Chip) -> None:
    # SFI works for EF.COM and DG14; EF.SOD, read after chip authentication, ends SM.
    card = load(chip, JmrtdLikeCard("end-sm", sfi_ok=sfis(files.COM, files.dg(14))))
    reader = Reader(card)
    result = read_card(reader, AccessKey.from_can(chip.can))
    helpers.assert_complete(result, chip)
    assert_fallback_note(result, reset=True)
    assert "EF.SOD" in result.notes[0]
    assert reader.resets == 1
    mse_ca = [c for c in reader.log if (c.ins, c.p1, c.p2) == (0x22, 0x41, 0xA4)]
    assert len(mse_ca) == 2  # MSE:Set AT for CA before and after the reset
    assert result.ca is not None and result.ca.sm.active is False


def test_pace_cam_is_checked_again_after_a_reset(cam_chip: helpers.Chip) -> None:
    card = load(cam_chip, JmrtdLikeCard("end-sm", sfi_ok=sfis(files.COM, files.dg(14))))
    reader = Reader(card)
    result = read_card(reader, AccessKey.from_can(cam_chip.can))
    assert reader.resets == 1
    assert result.pace is not None and result.pace.mapping == "CAM"
    assert result.pace.cam_verified is True and result.chip_authentication == "PACE-CAM"
    assert result.errors == () and result.aa is not None and result.aa.verified
    assert_fallback_note(result, reset=True)


def test_a_reset_before_dg14_checks_cam_of_both_sessions(cam_chip: helpers.Chip) -> None:
    card = load(cam_chip, JmrtdLikeCard("end-sm"))
    reader = Reader(card)
    result = read_card(reader, AccessKey.from_can(cam_chip.can))
    assert reader.resets == 1
    assert result.pace is not None and result.pace.cam_verified is True
    assert result.errors == ()


def test_a_connection_that_cannot_reset_raises_a_clear_protocol_error(chip: helpers.Chip) -> None:
    plain = bac_only(chip)
    card = load(plain, JmrtdLikeCard("end-sm"), can=False)
    card.power_on()
    no_reset = FunctionConnection(lambda c: Response.from_bytes(card.transmit(bytes(c))))
    with pytest.raises(ProtocolError) as info:
        read_card(no_reset, AccessKey.from_mrz(chip.mrz))
    assert info.value.step == STEP_RESET
    assert "short_file_identifiers=False" in str(info.value)
    assert "cannot reset" in str(info.value)
    # The advice works: without SFI, the same connection reads the chip (a new session).
    card.power_on()
    no_reset.sent.clear()
    result = read_card(no_reset, AccessKey.from_mrz(chip.mrz), short_file_identifiers=False)
    helpers.assert_complete(result, plain)
    assert not result.sfi and result.notes == ()
    assert not any(c.ins == 0xB0 and c.p1 & 0x80 for c in no_reset.sent)


# --- What is not a fallback ---------------------------------------------------------------------


class PlainAnswer(Reader):
    """Answers the first READ BINARY by SFI with a plain, data-less ``sw`` (ending SM)."""

    def __init__(self, card: VirtualCard, sw: int) -> None:
        super().__init__(card)
        self.sw = sw

    def send(self, command: Command) -> Response:
        response = super().send(command)
        if command.ins == 0xB0 and command.p1 & 0x80 and self.sfi_reads() == 1:
            return Response(b"", self.sw)
        return response


@pytest.mark.parametrize("sw", [0x0000, 0x9100, 0x6283, 0x6C10, 0x6982])
def test_a_plain_answer_that_is_no_iso_error_is_not_a_reason_to_reset(
    chip: helpers.Chip, sw: int
) -> None:
    reader = PlainAnswer(load(chip, WithoutSfiAtr()), sw)
    with pytest.raises(ProtocolError) as info:
        read_card(reader, AccessKey.from_can(chip.can))
    assert info.value.step == STEP_READ and reader.resets == 0
    assert "ended secure messaging when refusing EF.COM" in str(info.value)


def test_a_plain_6f00_from_a_chip_without_sfi_in_its_atr_is_recovered_by_a_reset(
    chip: helpers.Chip,
) -> None:
    reader = PlainAnswer(load(chip, WithoutSfiAtr()), 0x6F00)
    result = read_card(reader, AccessKey.from_can(chip.can))
    helpers.assert_complete(result, chip)
    assert reader.resets == 1
    assert_fallback_note(result, reset=True)


@pytest.mark.parametrize("sw", [0x6F00, 0x6A82, 0x6B00])
def test_a_plain_error_from_a_chip_announcing_sfi_ends_the_read(
    chip: helpers.Chip, sw: int
) -> None:
    """From a chip whose ATR announces short EF identifiers, a plain error in place of the
    protected answer is what a man in the middle sends: the read ends, as it always did."""
    card = chip.card()
    assert short_ef_identifiers_from_atr(card.atr) is True
    reader = PlainAnswer(card, sw)
    with pytest.raises(ProtocolError) as info:
        read_card(reader, AccessKey.from_can(chip.can))
    assert info.value.step == STEP_READ and reader.resets == 0
    assert "short_file_identifiers=False" in str(info.value)
    # The caller's way out for an applet without SFI on such a platform.
    result = read_card(Reader(card), AccessKey.from_can(chip.can), short_file_identifiers=False)
    helpers.assert_complete(result, chip)


def test_short_ef_identifiers_from_atr() -> None:
    assert short_ef_identifiers_from_atr(EmulatedCard().atr) is True
    assert short_ef_identifiers_from_atr(ATR_WITHOUT_SFI) is False
    assert short_ef_identifiers_from_atr(None) is None
    assert short_ef_identifiers_from_atr(bytes.fromhex("3B8080018080")) is None  # no capabilities
    # Category 00 with a status indicator (the last three historical bytes), T=0.
    assert short_ef_identifiers_from_atr(bytes.fromhex("3B0800739401400090 00".replace(" ", "")))
    # JCOP-style proprietary historical bytes ("JCOP41V221"): the ATR does not say.
    assert short_ef_identifiers_from_atr(bytes.fromhex("3B8A80014A434F503431563232317E")) is None


@given(st.binary(max_size=40))
def test_sfi_from_any_atr_never_raises(atr: bytes) -> None:
    assert short_ef_identifiers_from_atr(atr) in (True, False, None)


def test_cardkit_chip_keeps_sfi_and_a_missing_file_costs_one_select(chip: helpers.Chip) -> None:
    reader = Reader(chip.card())
    result = read_card(
        reader,
        AccessKey.from_can(chip.can),
        data_groups=[1, 5],
        chip_authentication=False,
        active_authentication=False,
    )
    assert result.missing == (5,) and result.sfi and result.notes == ()
    assert result.describe()["sfi"] is True
    protected_selects = [c for c in reader.log if (c.cla, c.ins, c.p1) == (0x0C, 0xA4, 0x02)]
    assert len(protected_selects) == 1  # DG5: SFI said 6A82, SELECT by FID confirmed it
    assert reader.sfi_reads() == 4  # EF.COM, EF.SOD, DG1, DG5


def test_dg3_refused_with_6982_is_protected_not_a_fallback(chip: helpers.Chip) -> None:
    reader = Reader(chip.card())
    result = read_card(reader, AccessKey.from_can(chip.can))
    helpers.assert_complete(result, chip)
    assert result.protected == (3,) and result.sfi and result.notes == ()
    assert reader.resets == 0


def test_short_file_identifiers_false_never_sends_one(chip: helpers.Chip) -> None:
    reader = Reader(chip.card())
    result = read_card(reader, AccessKey.from_can(chip.can), short_file_identifiers=False)
    helpers.assert_complete(result, chip)
    assert reader.sfi_reads() == 0
    assert not result.sfi and result.notes == () and result.errors == ()


def test_jmrtd_dialect_read_with_short_file_identifiers_false(chip: helpers.Chip) -> None:
    plain = bac_only(chip)
    card = load(plain, JmrtdLikeCard("end-sm"), can=False)
    reader = Reader(card)
    result = read_card(
        reader, AccessKey.from_mrz(chip.mrz), short_file_identifiers=False, extended_length=False
    )
    helpers.assert_complete(result, plain)
    assert card.sfi_refusals == 0 and reader.resets == 0
    # 3DES BAC: the reader asks 231 bytes, the chip answers 224 with 9000, never 6282.
    assert max(card.asked) == 231


# --- read_file: the end of a file is its TLV length, never 6282 ---------------------------------


def short_answers(
    content: bytes, *, most: int, eof_sw: int | None, log: list[Command]
) -> Callable[[Command], Response]:
    """READ BINARY by offset (and SFI at offset P2) answering at most ``most`` bytes with 9000;
    at the end of the file ``eof_sw`` (None: 9000 as well)."""

    def handle(command: Command) -> Response:
        log.append(command)
        if command.p1 & 0x80:
            offset = command.p2
        elif command.ins == 0xB1:
            offset = int.from_bytes(tlv.decode_single(command.data, 0x54).value, "big")
        else:
            offset = (command.p1 << 8) | command.p2
        ne = command.ne or 0
        if command.ins == 0xB1:  # room for the data once wrapped in DO'53'
            ne -= 2
            while len(tlv.encode(0x53, bytes(ne))) > (command.ne or 0):
                ne -= 1
        data = content[offset : offset + min(ne, most)]
        sw = eof_sw if eof_sw is not None and offset + len(data) >= len(content) else SW.OK
        if command.ins == 0xB1:
            return Response(tlv.encode(0x53, data), sw)
        return Response(data, sw)

    return handle


def of_size(tag: int, size: int) -> bytes:
    """A TLV of exactly ``size`` bytes (or the nearest above, around a length-field step)."""
    value = size - 2
    while value > 0 and len(tlv.encode(tag, bytes(value))) > size:
        value -= 1
    return tlv.encode(tag, bytes(range(256)) * (value // 256) + bytes(value % 256))


@pytest.mark.parametrize("size", [5, 224, 225, 1000, 4481, 40000])
def test_a_chip_answering_224_bytes_with_9000_and_never_6282(size: int) -> None:
    content = of_size(0x75, size)
    log: list[Command] = []
    conn = FunctionConnection(short_answers(content, most=224, eof_sw=None, log=log))
    assert read_file(conn, files.dg(2)) == content
    assert sum(1 for _ in log) == -(-len(content) // 224)  # no read after the last byte
    assert log[0].p1 == 0x82


@pytest.mark.parametrize(("cipher", "block"), [("3DES", 8), ("AES", 16)])
def test_under_secure_messaging_224_byte_answers_complete_the_file(
    cipher: Cipher, block: int
) -> None:
    content = tlv.encode(0x77, bytes(2000))
    log: list[Command] = []
    keys = bytes(range(16)), bytes(range(16, 32))
    card = SecureMessaging(cipher, *keys, 0)
    serve = short_answers(content, most=224, eof_sw=None, log=log)
    conn = SecureConnection(
        FunctionConnection(lambda c: card.wrap_response(serve(card.unwrap_command(c)))),
        SecureMessaging(cipher, *keys, 0),
    )
    assert read_file(conn, files.SOD, block=block) == content
    assert all(c.ne is not None and c.ne < 256 for c in log)  # never DO'97' 00 (JMRTD: 0 bytes)
    assert len(log) == -(-len(content) // 224)


def test_6282_at_the_end_is_fine_and_6282_early_is_a_truncated_file() -> None:
    content = tlv.encode(0x75, bytes(1000))
    log: list[Command] = []
    conn = FunctionConnection(
        short_answers(content, most=224, eof_sw=SW.WARNING_END_OF_FILE, log=log)
    )
    assert read_file(conn, files.dg(2)) == content
    # 6282 after 300 bytes of a file whose header says 1004.
    script = ScriptedConnection(
        [
            (bytes.fromhex("00B0820000"), content[:256] + OK),
            (bytes.fromhex("00B00100") + bytes([0]), content[256:300] + b"\x62\x82"),
        ]
    )
    with pytest.raises(EncodingError) as info:
        read_file(script, files.dg(2))
    assert info.value.offset == 300


def test_the_sfi_refusal_is_told_apart_from_a_later_refusal() -> None:
    script = ScriptedConnection([(bytes.fromhex("00B09E0000"), b"\x6f\x00")])
    with pytest.raises(ShortIdentifierRefused) as sfi:
        read_file(script, files.COM)
    assert sfi.value.sw == 0x6F00 and isinstance(sfi.value, CardError)
    content = tlv.encode(0x75, bytes(1000))
    script = ScriptedConnection(
        [
            (bytes.fromhex("00B0820000"), content[:256] + OK),
            (bytes.fromhex("00B00100") + bytes([0]), b"\x6b\x00"),
        ]
    )
    with pytest.raises(CardError) as later:
        read_file(script, files.dg(2))
    assert not isinstance(later.value, ShortIdentifierRefused) and later.value.sw == 0x6B00
    # Without SFI, a refusal of the first READ BINARY is a plain CardError too.
    script = ScriptedConnection([(bytes.fromhex("00B0000000"), b"\x69\x85")])
    with pytest.raises(CardError) as by_fid:
        read_file(script, files.COM, use_sfi=False)
    assert not isinstance(by_fid.value, ShortIdentifierRefused)


@given(
    size=st.integers(min_value=2, max_value=3000),
    most=st.integers(min_value=1, max_value=300),
    eof=st.sampled_from([None, SW.WARNING_END_OF_FILE]),
    extended=st.booleans(),
)
def test_any_answer_size_reads_the_whole_file(
    size: int, most: int, eof: int | None, extended: bool
) -> None:
    content = of_size(0x6E, size)
    log: list[Command] = []
    conn = FunctionConnection(short_answers(content, most=most, eof_sw=eof, log=log))
    limits = ReadLimits(True, 4000) if extended else ReadLimits()
    assert read_file(conn, files.dg(14), limits) == content
    offsets = [0] + [(c.p1 << 8) | c.p2 for c in log[1:]]
    assert offsets == sorted(set(offsets))  # each byte asked for once, in order


# --- The JMRTD passport applet emulator (cardkit.emulator.jmrtd) --------------------------------

JMRTD_FILES = (files.COM, files.SOD, files.dg(1), files.dg(2), files.dg(13))


def jmrtd_applet(chip: helpers.Chip, *, lock: bool, cvca: bool = False) -> JmrtdApplet:
    """The applet personalized by hand (DOMAIN.md §7) with the files it can hold: no DG3 (EAC
    even before lock), DG14/DG15 (its CA and AA keys are not cardkit's) or EF.CardAccess (011C
    is its EF.CVCA, written only when ``cvca``)."""
    applet = JmrtdApplet()
    conn = EmulatorConnection(applet)

    def ok(command: Command) -> None:
        assert conn.send(command).sw == SW.OK, bytes(command)[:4].hex()

    ok(Command(0x00, 0xA4, 0x04, 0x0C, files.LDS1_AID))
    contents = {spec.fid: chip.image.files[spec] for spec in JMRTD_FILES}
    if cvca:
        contents[files.CARD_ACCESS.fid] = bytes.fromhex("42085554434356434130") + bytes(26)
    for fid, data in contents.items():
        size = len(data).to_bytes(2, "big")
        ok(Command(0, 0xE0, 0, 0, b"\x63\x04" + size + fid.to_bytes(2, "big")))
        ok(Command(0, 0xA4, 0x02, 0x0C, fid.to_bytes(2, "big")))
        for offset in range(0, len(data), 200):
            ok(Command(0, 0xD6, offset >> 8, offset & 0xFF, data[offset : offset + 200]))
    key = AccessKey.from_mrz(chip.mrz).mrz_key
    assert key is not None
    seed = b"".join(
        tlv.encode(0x04, v.encode())
        for v in (key.document_number, key.date_of_birth, key.date_of_expiry)
    )
    ok(Command(0, 0xDA, 0x00, 0x62, tlv.encode(0x62, seed)))
    if lock:
        ok(Command(0, 0xDA, 0xDE, 0xAD))
    return applet


def assert_jmrtd_read(result: CardRead, chip: helpers.Chip) -> None:
    for spec in JMRTD_FILES:
        assert result.files[spec] == chip.image.files[spec], spec.name
    assert result.access == "BAC" and result.protected == (3,) and result.missing == (14, 15)


def test_the_locked_jmrtd_applet_is_read_after_a_6985_without_a_reset(chip: helpers.Chip) -> None:
    applet = jmrtd_applet(chip, lock=True)
    reader = Reader(applet)
    result = read_card(reader, AccessKey.from_mrz(chip.mrz))
    assert_jmrtd_read(result, chip)
    assert_fallback_note(result, reset=False)
    assert "6985" in result.notes[0] and reader.resets == 0 and reader.sfi_reads() == 1


def test_the_unlocked_jmrtd_applet_with_a_file_selected_is_read_after_a_reset(
    chip: helpers.Chip,
) -> None:
    """The personalization read-back case, in the session that wrote the card (the applet is
    selected): EF.CVCA (011C) answers the SELECT of EF.CardAccess, so a file is selected when
    EF.COM is read by SFI: a negative offset, a plain 6F00, SM ends and GET CHALLENGE answers
    6982 until the card is reset."""
    applet = jmrtd_applet(chip, lock=False, cvca=True)
    reader = Reader(applet, power_on=False)
    result = read_card(reader, AccessKey.from_mrz(chip.mrz))
    assert_jmrtd_read(result, chip)
    assert_fallback_note(result, reset=True)
    assert "6F00" in result.notes[-1] and reader.resets == 1
    # EF.CVCA is not readable before BAC: it is not an EF.CardAccess, so no PACE — a note.
    assert "not an EF.CardAccess" in result.notes[0]
    assert not any("EF.CardAccess" in e for e in result.errors)


def test_the_jmrtd_dialect_read_never_sends_an_sfi(chip: helpers.Chip) -> None:
    applet = jmrtd_applet(chip, lock=True)
    reader = Reader(applet)
    result = read_card(reader, AccessKey.from_mrz(chip.mrz), short_file_identifiers=False)
    assert_jmrtd_read(result, chip)
    assert reader.sfi_reads() == 0 and not result.sfi and result.notes == ()
