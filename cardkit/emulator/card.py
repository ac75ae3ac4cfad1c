"""cardkit's eMRTD chip in software: the JMRTD passport applet's command set, extended.

:class:`EmulatedCard` answers command APDUs as a chip with the ICAO LDS1 application would
(ICAO 9303-10, 9303-11; ISO/IEC 7816-4): SELECT, READ BINARY (even and odd INS, short and
extended length), GET CHALLENGE, BAC, PACE (GM, CAM), chip and active authentication, all under
secure messaging; and, before it is locked, the open personalization protocol (DOMAIN.md §7):
CREATE FILE, UPDATE BINARY, PUT DATA (MRZ seed, keys, CAN) and PUT DATA DE AD (LOCK), extended
with the commands below.

cardkit dialect, personalization extensions (before LOCK; afterwards 6985 like every
personalization command, and 6985 too while the LDS application is not the current DF):

- CREATE FILE ``00 E0 00 00 06 63 04 <size:2> <fid:2>``: a transparent EF of 0..65535 bytes.
- UPDATE BINARY with even INS ``00 D6 <offset:2> Lc <data>`` (offset 0..32767, P1 b8 = 0; or
  P1 = 80 | SFI, P2 = offset 0..255), ISO/IEC 7816-4:2013 §11.2.5 (§7.2.5 in the 2005 edition).
- UPDATE BINARY with **odd INS**, for offsets above 32767 (ISO/IEC 7816-4:2013 §11.2.5, with
  the P1-P2 and DO'54' rules of §11.2.2; §7.2.5 and §7.2.2 in the 2005 edition)::

      00 D7 00 00  Lc  54 L <offset: 1-3 bytes, big-endian>  53 L <data: 1..4096 bytes>

  P1-P2 ``0000`` is the current EF (the usual form: SELECT the EF first); ``00 <SFI>`` (the
  first eleven bits zero) a short EF identifier, any other value a file identifier. The data
  field holds exactly DO'54' then DO'53', in that order (``53`` with a BER length: ``81 xx``
  or ``82 xx xx`` beyond 127 bytes). Lc is short (data field ≤ 255 bytes) or extended (``00``
  plus two bytes, up to the chip's largest command APDU); no Le. Answers: 9000; 6B00 offset at
  or beyond the end of the file; 6700 data running past the end, empty, or over 4096 bytes;
  6A80 a data field that is not exactly DO'54' DO'53'; 6986 no current EF; 6A82 no such file.
  A 40 KiB DG2 is written with D6 up to offset 32767 and D7 above.
- DELETE FILE ``00 E4 02 00 02 <fid>`` (ISO/IEC 7816-9 §8, §6.2 in the 2000 edition; P1 coded
  as for SELECT in ISO/IEC 7816-4: 02 an EF under the current DF, by file identifier; P2 00), also
  ``00 E4 00 00 02 <fid>`` (P1 = 00, selection by file identifier, as OpenSC sends it) and
  ``00 E4 00 00`` without data (the current EF): deletes an EF of the LDS application, so that an
  unlocked, partially written card can be written again. 9000 (the deleted EF, when current, is
  no longer current); 6A82 no such file; 6986 no current EF (the form without data); 6700 a
  data field that is not two bytes, or an Le; 6A86 other P1-P2.

cardkit dialect, identification (every life-cycle state, in plain and under secure messaging):
GET DATA ``00 CA 00 FE 00`` (ISO/IEC 7816-4 GET DATA with even INS: P1-P2 from 0040 to 00FF
is a one-byte BER-TLV tag in P2) answers::

    FE 0F  80 07 "cardkit"  81 01 01  82 01 <00 personalization | 01 locked>   90 00

DO'80' the applet dialect's name (ASCII), DO'81' the protocol version, DO'82' the life cycle.
A shorter Le answers 6Cxx (xx: the length to ask for), no Le 6700, a data field 6700, any other
P1-P2 6A88.

Life cycle and access rules:

- *personalization*: every file can be created, written, deleted and read in plain (SELECT by
  FID then READ BINARY, or READ BINARY by SFI: the host verifies what it wrote before LOCK),
  DG3 and DG4 included; BAC and PACE work as soon as the MRZ seed / CAN / EF.CardAccess are
  there;
- *locked*: no personalization command works (6985); EF.CardAccess and EF.ATR/INFO stay free to
  read; every other file needs a secure channel (BAC or PACE), else 6982; DG3 and DG4 (biometrics
  behind EAC) only after chip and terminal authentication, and only as the effective CHAT allows
  (read DG3 / read DG4, TR-03110-3 C.4.1), else 6982.

Terminal authentication version 1 (:mod:`cardkit.emulator.ta`; TR-03110-1 §2.5, 9303-11 §7.1):
the trust point is loaded before LOCK by PUT DATA ``00 DA 01 64 <CVCA certificate>`` (``02``: a
second trust point, during a CVCA rollover; JMRTD's applet's P2=64 as cardkit's dialect sends
it), kept in the state with the chip's current date. PSO:Verify Certificate ``00 2A 00 BE``
takes a certificate longer than one command by command chaining (CLA b5) as well as by
extended length.

Secure messaging (9303-11 §9.8): a protected command is unwrapped with the session's keys, the
answer wrapped with them; a protected command that does not verify is answered by a *plain* 6988
(or 6987) and ends the session; a plain command received during secure messaging ends it too
(9303-11 §9.8: the chip aborts SM when a plain APDU arrives) and is then processed in plain.

:meth:`EmulatedCard.transmit` never raises: malformed APDUs get an error status word.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import ClassVar, TypeVar

from cardkit.emulator import atr as atr_module
from cardkit.emulator.access import (
    MEMORY_FAILURE,
    NO_PRECISE_DIAGNOSIS,
    REFERENCED_DATA_NOT_FOUND,
    AccessSession,
    Rng,
    aa_ec_private_key,
    parse_ec_private_key,
    status,
)
from cardkit.emulator.filesystem import FID_ATR_INFO, FID_CARD_ACCESS, RESERVED_FIDS, FileSystem
from cardkit.emulator.state import CardState, EmulatorStateError
from cardkit.emulator.ta import load_trust_point
from cardkit.emulator.vpcd import VirtualCard
from cardkit.encoding import tlv
from cardkit.errors import EncodingError, ProtocolError
from cardkit.iso7816.apdu import SW, Command, Response
from cardkit.lds import files
from cardkit.lds.card_access import CardAccess
from cardkit.lds.dg14 import Dg14
from cardkit.lds.dg15 import Dg15
from cardkit.protocol.bac import MrzKey
from cardkit.protocol.pace import PacePassword
from cardkit.protocol.sm import SmCommandError

_T = TypeVar("_T")

COMMAND_CHAINING_NOT_SUPPORTED = 0x6884
FILE_EXISTS = 0x6A89

INS_SELECT = 0xA4
INS_READ_BINARY = 0xB0
INS_READ_BINARY_ODD = 0xB1
INS_UPDATE_BINARY = 0xD6
INS_UPDATE_BINARY_ODD = 0xD7
INS_CREATE_FILE = 0xE0
INS_DELETE_FILE = 0xE4
INS_GET_DATA = 0xCA
INS_PUT_DATA = 0xDA
INS_GET_CHALLENGE = 0x84
INS_EXTERNAL_AUTHENTICATE = 0x82
INS_MSE = 0x22
INS_GENERAL_AUTHENTICATE = 0x86
INS_INTERNAL_AUTHENTICATE = 0x88
INS_PSO = 0x2A
#: PUT DATA P2 of the EAC trust point (a CVCA certificate; P1 1 or 2).
P2_TRUST_POINT = 0x64
#: Commands this chip takes in chained parts (CLA b5, ISO/IEC 7816-4 §5.1.1.1).
CHAINED_INS = frozenset({INS_GENERAL_AUTHENTICATE, INS_PSO})
#: The most data a chain of commands may gather (a CV certificate with domain parameters).
MAX_CHAINED_DATA = 4096

TAG_OFFSET = 0x54  # DO'54': offset data object of the odd-INS READ BINARY (ISO/IEC 7816-4 §7.2.2)
TAG_DISCRETIONARY = 0x53  # DO'53': the data read by the odd-INS READ BINARY

#: GET DATA 00 CA 00 FE: the cardkit dialect's identification data object (module docstring).
TAG_IDENTIFICATION = 0xFE
DIALECT_NAME = b"cardkit"
PROTOCOL_VERSION = 1
LIFE_CYCLE_CODES = {"personalization": 0x00, "locked": 0x01}

#: Files that stay free to read after LOCK (master-file files a terminal needs to start PACE).
FREE_FILES = frozenset({FID_CARD_ACCESS, FID_ATR_INFO})
#: Biometrics behind EAC terminal authentication (9303-11 §7.1), by file identifier.
EAC_FILES = {files.dg(3).fid: 3, files.dg(4).fid: 4}

#: Response data kept small enough that secure messaging (padding, DO'87', DO'99', DO'8E')
#: still fits :data:`cardkit.emulator.atr.MAX_RESPONSE_APDU`.
_SM_OVERHEAD = 64
MAX_READ = atr_module.MAX_RESPONSE_APDU - 2 - _SM_OVERHEAD


class EmulatedCard:
    """One emulated chip. Several cards (one per reader slot) are several objects; nothing is
    shared between them. ``rng`` feeds challenges, nonces and ephemeral keys (tests inject it).

    The card's state is saved to ``state_file`` (when given) after every command that changes
    it; see :mod:`cardkit.emulator.state` — the file holds private keys: keep it secret.
    ``today`` is the day the chip is personalized on (its first current date for terminal
    authentication, TR-03110-1 §2.5.1); the chip has no clock beyond that.
    """

    def __init__(
        self,
        state: CardState | None = None,
        state_file: Path | None = None,
        *,
        rng: Rng = os.urandom,
        today: Callable[[], date] = date.today,
    ) -> None:
        self._state = state if state is not None else CardState()
        self._state_file = state_file
        self._fs = FileSystem(self._state.files)
        self._parsed: dict[int, object] = {}
        self._today = today
        self._chained: tuple[int, int, int, bytes] | None = None  # (ins, p1, p2, data so far)
        self._session = AccessSession(self._state, self, rng, today)
        self._lock = threading.Lock()
        self._powered = False

    @classmethod
    def open(cls, state_file: Path | None = None) -> EmulatedCard:
        """The card saved in ``state_file``, or a blank card created there; in memory for None.

        Raises :class:`~cardkit.emulator.state.EmulatorStateError` for an unreadable or
        malformed state file.
        """
        if state_file is None:
            return cls()
        if state_file.exists():
            return cls(CardState.load(state_file), state_file)
        state = CardState()
        state.save(state_file)
        return cls(state, state_file)

    def __repr__(self) -> str:
        where = str(self._state_file) if self._state_file else "memory"
        return f"EmulatedCard({self._state.life_cycle}, {where})"

    # ------------------------------------------------------------------ the reader's view

    @property
    def atr(self) -> bytes:
        return atr_module.ATR

    @property
    def life_cycle(self) -> str:
        return self._state.life_cycle

    @property
    def state_file(self) -> Path | None:
        return self._state_file

    def power_on(self) -> bytes:
        """Cold reset: the MF is current, no secure messaging, no pending BAC/PACE/CA."""
        with self._lock:
            self._reset()
            self._powered = True
        return self.atr

    def power_off(self) -> None:
        with self._lock:
            self._reset()
            self._powered = False

    def _reset(self) -> None:
        self._chained = None
        self._session.drop_sm()
        self._session.reset()
        self._fs.reset()

    def transmit(self, apdu: bytes) -> bytes:
        """One command APDU → the response APDU. Never raises, whatever the input."""
        with self._lock:
            try:
                if not self._powered:  # a command implies a powered card (warm start)
                    self._reset()
                    self._powered = True
                return bytes(self._transmit(bytes(apdu)))
            except Exception:  # the chip answers, it never crashes
                self._session.drop_sm()
                return bytes(status(NO_PRECISE_DIAGNOSIS))

    # ------------------------------------------------------------------ ChipFiles

    def card_access(self) -> CardAccess | None:
        return self._parse(FID_CARD_ACCESS, CardAccess.from_bytes)

    def dg14(self) -> Dg14 | None:
        return self._parse(files.dg(14).fid, Dg14.from_bytes)

    def dg15(self) -> Dg15 | None:
        return self._parse(files.dg(15).fid, Dg15.from_bytes)

    def _parse(self, fid: int, parser: Callable[[bytes], _T]) -> _T | None:
        """Parse a file once; the cache entry is dropped whenever the file is written."""
        if fid in self._parsed:
            return self._parsed[fid]  # type: ignore[return-value]
        content = self._state.files.get(fid)
        value: _T | None = None
        if content is not None:
            try:
                value = parser(bytes(content))
            except (EncodingError, ValueError):
                value = None
        self._parsed[fid] = value
        return value

    # ------------------------------------------------------------------ dispatch

    def _transmit(self, apdu: bytes) -> Response:
        if len(apdu) > atr_module.MAX_COMMAND_APDU:
            return status(SW.WRONG_LENGTH)
        try:
            command = Command.from_bytes(apdu)
        except (EncodingError, ValueError):
            return status(SW.WRONG_LENGTH)
        if command.cla & 0xE3:  # interindustry CLA, basic channel only (ISO/IEC 7816-4 §5.4.1)
            return status(SW.CLA_NOT_SUPPORTED)
        session = self._session
        if not command.cla & 0x0C:
            if session.sm is not None:
                session.drop_sm()  # 9303-11 §9.8: a plain APDU aborts secure messaging
            response = self._process(command)
            session.install_next()
            return response
        sm = session.sm
        if sm is None or not sm.active:
            session.drop_sm()
            return status(SW.SM_DATA_OBJECTS_INCORRECT)
        try:
            plain = sm.unwrap_command(command)
        except SmCommandError as exc:
            session.drop_sm()
            return status(exc.sw)
        except (ProtocolError, EncodingError, ValueError):
            session.drop_sm()
            return status(SW.SM_DATA_OBJECTS_INCORRECT)
        response = self._process(plain)
        wrapped = sm.wrap_response(response) if sm is session.sm and sm.active else response
        session.install_next()
        return wrapped

    def _process(self, command: Command) -> Response:
        if command.cla & 0x10 and command.ins not in CHAINED_INS:
            self._chained = None
            return status(COMMAND_CHAINING_NOT_SUPPORTED)
        if command.ins == INS_PSO:
            return self._pso(command)
        self._chained = None
        handler = self._handlers.get(command.ins)
        if handler is None:
            return status(SW.INS_NOT_SUPPORTED)
        return handler(self, command)

    # ------------------------------------------------------------------ SELECT

    def _select(self, command: Command) -> Response:
        p1, p2, data = command.p1, command.p2, command.data
        if p2 not in (0x00, 0x04, 0x0C):
            return status(SW.INCORRECT_P1P2)
        if p1 == 0x04:
            if not self._fs.select_application(data):
                return status(SW.FILE_NOT_FOUND)
            if p2 == 0x0C:
                return status(SW.OK)
            fci = tlv.encode(0x6F, tlv.encode(0x84, files.LDS1_AID))
            return Response(fci, SW.OK)
        if p1 not in (0x00, 0x02):
            return status(SW.INCORRECT_P1P2)  # selection by path is not offered
        if p1 == 0x00 and data in (b"", b"\x3f\x00"):
            self._fs.select_master_file()
            return status(SW.OK)
        if len(data) != 2:
            return status(SW.WRONG_LENGTH)
        fid = int.from_bytes(data, "big")
        if not self._fs.select_ef(fid):
            return status(SW.FILE_NOT_FOUND)
        if p2 == 0x0C:
            return status(SW.OK)
        return Response(self._fs.fcp(fid), SW.OK)

    # ------------------------------------------------------------------ READ BINARY

    def _read_binary(self, command: Command) -> Response:
        if command.data:
            return status(SW.WRONG_LENGTH)
        if command.p1 & 0x80:
            if command.p1 & 0x60:
                return status(SW.INCORRECT_P1P2)
            fid = self._fs.fid_of_sfi(command.p1 & 0x1F)
            if fid is None:
                return status(SW.FILE_NOT_FOUND)
            self._fs.current_ef = fid  # ISO/IEC 7816-4 §7.2.2: the EF becomes current
            offset = command.p2
        else:
            if self._fs.current_ef is None:
                return status(SW.COMMAND_NOT_ALLOWED)  # no current EF
            fid = self._fs.current_ef
            offset = (command.p1 << 8) | command.p2
        return self._read(fid, offset, command.ne, odd=False)

    def _read_binary_odd(self, command: Command) -> Response:
        """READ BINARY B1 (ISO/IEC 7816-4 §7.2.3): the offset in DO'54', for files > 32767."""
        target = self._odd_ins_file(command)
        if isinstance(target, Response):
            return target
        try:
            offset_do = tlv.decode_single(command.data, TAG_OFFSET, what="DO'54'")
        except EncodingError:
            return status(SW.WRONG_DATA)
        if not 1 <= len(offset_do.value) <= 3:
            return status(SW.WRONG_DATA)
        self._fs.current_ef = target
        return self._read(target, int.from_bytes(offset_do.value, "big"), command.ne, odd=True)

    def _read(self, fid: int, offset: int, ne: int | None, *, odd: bool) -> Response:
        locked = self._state.locked and fid not in FREE_FILES
        if locked and not self._session.secure:
            return status(SW.SECURITY_STATUS_NOT_SATISFIED)
        if locked and fid in EAC_FILES and not self._session.ta.may_read(EAC_FILES[fid]):
            return status(SW.SECURITY_STATUS_NOT_SATISFIED)  # EAC: TA with the right CHAT
        if ne is None:
            return status(SW.WRONG_LENGTH)
        size = self._fs.size(fid)
        if offset > size or (offset == size and size):
            return status(SW.WRONG_P1P2)  # offset beyond the end of the file
        remaining = size - offset
        room = min(ne, MAX_READ)
        if odd:
            room = _odd_room(room)
        count = min(remaining, room)
        data = self._fs.read(fid, offset, count)
        if odd:
            data = tlv.encode(TAG_DISCRETIONARY, data)
        # 6282: end of file reached before Ne bytes could be read (ISO/IEC 7816-4 §5.6).
        return Response(data, SW.WARNING_END_OF_FILE if remaining < room else SW.OK)

    # ------------------------------------------------------------------ access control

    def _get_challenge(self, command: Command) -> Response:
        return self._session.get_challenge(command)

    def _external_authenticate(self, command: Command) -> Response:
        return self._session.external_authenticate(command)

    def _mse(self, command: Command) -> Response:
        return self._session.manage_security_environment(command)

    def _general_authenticate(self, command: Command) -> Response:
        return self._session.general_authenticate(command)

    def _pso(self, command: Command) -> Response:
        """PSO:Verify Certificate ``00 2A 00 BE``, whole or in chained parts (CLA b5)."""
        key = (command.ins, command.p1, command.p2)
        data = command.data
        if self._chained is not None:
            if self._chained[:3] != key:
                self._chained = None
                return status(SW.CONDITIONS_NOT_SATISFIED)  # a chain interrupted
            data = self._chained[3] + data
            self._chained = None
        if len(data) > MAX_CHAINED_DATA:
            return status(SW.WRONG_LENGTH)
        if command.cla & 0x10:
            self._chained = (*key, data)
            return status(SW.OK)
        if (command.p1, command.p2) != (0x00, 0xBE):
            return status(SW.INCORRECT_P1P2)
        response = self._session.verify_certificate(data)
        if self._session.ta.changed:  # the chip's date or its trust points moved
            self._session.ta.changed = False
            saved = self._save()
            if response.sw == SW.OK:
                return saved
        return response

    def _internal_authenticate(self, command: Command) -> Response:
        if self._state.locked and not self._session.secure:
            return status(SW.SECURITY_STATUS_NOT_SATISFIED)
        return self._session.internal_authenticate(command)

    # ------------------------------------------------------------------ personalization

    def _personalizing(self) -> Response | None:
        """None when personalization commands are allowed, else the refusal."""
        if self._state.locked or self._fs.current_df != "LDS":
            return status(SW.CONDITIONS_NOT_SATISFIED)
        return None

    def _save(self) -> Response:
        """Persist a change: 9000, or 6581 (memory failure) when the state file cannot be
        written (the change then lives in memory only)."""
        if self._state_file is not None:
            try:
                self._state.save(self._state_file)
            except EmulatorStateError:
                return status(MEMORY_FAILURE)
        return status(SW.OK)

    def _create_file(self, command: Command) -> Response:
        refused = self._personalizing()
        if refused is not None:
            return refused
        if command.p1 or command.p2:
            return status(SW.INCORRECT_P1P2)
        if len(command.data) != 6:
            return status(SW.WRONG_LENGTH)
        if command.data[:2] != b"\x63\x04":
            return status(SW.WRONG_DATA)
        size = int.from_bytes(command.data[2:4], "big")
        fid = int.from_bytes(command.data[4:6], "big")
        if fid in RESERVED_FIDS:
            return status(SW.WRONG_DATA)
        if not self._fs.create(fid, size):
            return status(FILE_EXISTS)
        self._parsed.pop(fid, None)
        self._fs.current_ef = fid
        return self._save()

    def _update_binary(self, command: Command) -> Response:
        """UPDATE BINARY D6 (ISO/IEC 7816-4:2013 §11.2.5): offset in P1-P2 or SFI + P2."""
        refused = self._personalizing()
        if refused is not None:
            return refused
        if command.p1 & 0x80:
            if command.p1 & 0x60:
                return status(SW.INCORRECT_P1P2)
            fid = self._fs.fid_of_sfi(command.p1 & 0x1F)
            offset = command.p2
        else:
            fid = self._fs.current_ef
            offset = (command.p1 << 8) | command.p2
            if fid is None:
                return status(SW.COMMAND_NOT_ALLOWED)
        return self._write(fid, offset, command.data)

    def _update_binary_odd(self, command: Command) -> Response:
        """UPDATE BINARY D7 (ISO/IEC 7816-4:2013 §11.2.5): ``{54 offset}{53 data}``, for offsets
        above 32767 (module docstring)."""
        refused = self._personalizing()
        if refused is not None:
            return refused
        target = self._odd_ins_file(command)
        if isinstance(target, Response):
            return target
        try:
            children = tlv.decode_all(command.data)
        except EncodingError:
            return status(SW.WRONG_DATA)
        if [c.tag for c in children] != [TAG_OFFSET, TAG_DISCRETIONARY]:
            return status(SW.WRONG_DATA)
        offset_do, data_do = children
        if not 1 <= len(offset_do.value) <= 3:
            return status(SW.WRONG_DATA)
        return self._write(target, int.from_bytes(offset_do.value, "big"), data_do.value)

    def _odd_ins_file(self, command: Command) -> int | Response:
        """The EF that P1-P2 of an odd-INS data-unit command names (ISO/IEC 7816-4:2013 §11.2.2):
        0000 the current EF, 00 + SFI (first eleven bits zero), else a file identifier."""
        p1p2 = (command.p1 << 8) | command.p2
        if p1p2 == 0:
            if self._fs.current_ef is None:
                return status(SW.COMMAND_NOT_ALLOWED)
            return self._fs.current_ef
        if command.p1 == 0 and not command.p2 & 0xE0:
            fid = self._fs.fid_of_sfi(command.p2 & 0x1F)
        else:
            fid = p1p2 if self._fs.exists(p1p2) else None
        return status(SW.FILE_NOT_FOUND) if fid is None else fid

    def _write(self, fid: int | None, offset: int, data: bytes) -> Response:
        """Write ``data`` at ``offset`` of an EF created before (UPDATE BINARY D6 and D7)."""
        if fid is None or fid not in self._state.files:
            return status(SW.FILE_NOT_FOUND)
        if not data or len(data) > atr_module.MAX_UPDATE_DATA:
            return status(SW.WRONG_LENGTH)
        size = len(self._state.files[fid])
        if offset >= size:
            return status(SW.WRONG_P1P2)
        if offset + len(data) > size:
            return status(SW.WRONG_LENGTH)
        self._fs.current_ef = fid
        self._fs.write(fid, offset, data)
        self._parsed.pop(fid, None)
        return self._save()

    def _delete_file(self, command: Command) -> Response:
        """DELETE FILE (ISO/IEC 7816-9 §8): an EF of the LDS application, before LOCK."""
        refused = self._personalizing()
        if refused is not None:
            return refused
        p1p2 = (command.p1 << 8) | command.p2
        if p1p2 not in (0x0000, 0x0200):
            return status(SW.INCORRECT_P1P2)
        if command.ne is not None:
            return status(SW.WRONG_LENGTH)
        if not command.data and p1p2 == 0x0000:
            fid = self._fs.current_ef  # no data: the current EF
            if fid is None:
                return status(SW.COMMAND_NOT_ALLOWED)
        elif len(command.data) == 2:
            fid = int.from_bytes(command.data, "big")
        else:
            return status(SW.WRONG_LENGTH)
        if fid in RESERVED_FIDS or not self._fs.delete(fid):
            return status(SW.FILE_NOT_FOUND)
        self._parsed.pop(fid, None)
        return self._save()

    def _get_data(self, command: Command) -> Response:
        """GET DATA 00 CA 00 FE: the cardkit dialect's identification (module docstring)."""
        if (command.p1, command.p2) != (0x00, TAG_IDENTIFICATION):
            return status(REFERENCED_DATA_NOT_FOUND)
        if command.data or command.ne is None:
            return status(SW.WRONG_LENGTH)
        value = identification(self._state.life_cycle)
        if command.ne < len(value):
            return status((SW.WRONG_LE_SW1 << 8) | len(value))
        return Response(value, SW.OK)

    def _put_data(self, command: Command) -> Response:
        refused = self._personalizing()
        if refused is not None:
            return refused
        if (command.p1, command.p2) == (0xDE, 0xAD):
            self._state.life_cycle = "locked"
            return self._save()
        if command.p2 == P2_TRUST_POINT and command.p1 in (0x01, 0x02):
            try:
                load_trust_point(self._state, command.p1, command.data, self._today())
            except (EncodingError, ValueError):
                return status(SW.WRONG_DATA)
            return self._save()
        if command.p1 != 0x00 or command.p2 not in _PUT_DATA:
            return status(SW.INCORRECT_P1P2)
        try:
            do = tlv.decode_single(command.data, command.p2, what="PUT DATA")
            _PUT_DATA[command.p2](self._state, do.value)
        except (EncodingError, ValueError):
            return status(SW.WRONG_DATA)  # the message may name a secret field: not passed on
        return self._save()

    _handlers: ClassVar[dict[int, Callable[[EmulatedCard, Command], Response]]] = {
        INS_SELECT: _select,
        INS_READ_BINARY: _read_binary,
        INS_READ_BINARY_ODD: _read_binary_odd,
        INS_UPDATE_BINARY: _update_binary,
        INS_UPDATE_BINARY_ODD: _update_binary_odd,
        INS_CREATE_FILE: _create_file,
        INS_DELETE_FILE: _delete_file,
        INS_GET_DATA: _get_data,
        INS_PUT_DATA: _put_data,
        INS_GET_CHALLENGE: _get_challenge,
        INS_EXTERNAL_AUTHENTICATE: _external_authenticate,
        INS_MSE: _mse,
        INS_GENERAL_AUTHENTICATE: _general_authenticate,
        INS_INTERNAL_AUTHENTICATE: _internal_authenticate,
    }


def identification(life_cycle: str) -> bytes:
    """The value of GET DATA 00 CA 00 FE (module docstring: cardkit dialect, identification)."""
    return tlv.encode(
        TAG_IDENTIFICATION,
        tlv.encode(0x80, DIALECT_NAME)
        + tlv.encode(0x81, bytes((PROTOCOL_VERSION,)))
        + tlv.encode(0x82, bytes((LIFE_CYCLE_CODES[life_cycle],))),
    )


def _odd_room(room: int) -> int:
    """Bytes of file data that fit ``room`` once wrapped in DO'53'."""
    count = room - 2
    while count > 0 and len(tlv.encode(TAG_DISCRETIONARY, bytes(count))) > room:
        count -= 1
    return max(count, 0)


# --- PUT DATA bodies (DOMAIN.md §7, extended) -----------------------------------------------


def _octet_strings(value: bytes, count: int) -> list[bytes]:
    children = tlv.decode_all(value)
    if len(children) != count or any(c.tag != 0x04 for c in children):
        raise EncodingError(f"expected {count} OCTET STRING data objects (04)")
    return [c.value for c in children]


def _put_mrz(state: CardState, value: bytes) -> None:
    number, birth, expiry = (v.decode("ascii") for v in _octet_strings(value, 3))
    key = MrzKey(number, birth, expiry)  # ValueError when malformed
    state.mrz = (key.document_number, key.date_of_birth, key.date_of_expiry)


def _positive(value: bytes) -> int:
    number = int.from_bytes(_octet_strings(value, 1)[0], "big")
    if number <= 0:
        raise EncodingError("expected a positive number")
    return number


def _put_rsa_modulus(state: CardState, value: bytes) -> None:
    state.aa_rsa_modulus = _positive(value)


def _put_rsa_exponent(state: CardState, value: bytes) -> None:
    state.aa_rsa_exponent = _positive(value)


def _put_ca_key(state: CardState, value: bytes) -> None:
    state.ca_key = parse_ec_private_key(value)


def _put_can(state: CardState, value: bytes) -> None:
    can = _octet_strings(value, 1)[0].decode("ascii")
    PacePassword.from_can(can)  # ValueError unless decimal digits
    state.can = can


def _put_aa_key(state: CardState, value: bytes) -> None:
    key = parse_ec_private_key(value)
    aa_ec_private_key(key)  # EncodingError when cryptography cannot sign on the curve
    state.aa_ec_key = key


def _put_ca_key_id(state: CardState, value: bytes) -> None:
    children = tlv.decode_all(value)
    if len(children) != 1 or children[0].tag != 0x02 or not children[0].value:
        raise EncodingError("expected one INTEGER data object (02)")
    state.ca_key_id = int.from_bytes(children[0].value, "big")


_PUT_DATA: dict[int, Callable[[CardState, bytes], None]] = {
    0x60: _put_rsa_modulus,
    0x61: _put_rsa_exponent,
    0x62: _put_mrz,
    0x63: _put_ca_key,
    0x65: _put_can,
    0x66: _put_aa_key,
    0x67: _put_ca_key_id,
}


class EmulatorConnection:
    """A :class:`~cardkit.iso7816.connection.Connection` to a software card in this process (an
    :class:`EmulatedCard`, or any :class:`~cardkit.emulator.vpcd.VirtualCard`: no PC/SC, no
    socket): fast protocol tests. Powers the card on when created."""

    def __init__(self, card: VirtualCard, *, power_on: bool = True) -> None:
        self.card = card
        if power_on:
            card.power_on()

    def send(self, command: Command) -> Response:
        return Response.from_bytes(self.card.transmit(bytes(command)))

    def reconnect(self, reset: bool = True) -> None:
        """Like :meth:`cardkit.transport.pcsc.PcscConnection.reconnect`: with ``reset`` the card
        is powered off and on again (it forgets its session), else nothing happens."""
        if reset:
            self.card.power_off()
            self.card.power_on()
