"""Reading a chip: access control, secure messaging, every LDS file, chip and active authentication.

The reader side of ICAO 9303-11 §4 (access control), §6 (chip and active authentication) and §9.8
(secure messaging) over the file system of ICAO 9303-10 §3–§4, reusable by ``cardkit read``,
``cardkit verify`` and the read-back check of ``cardkit personalize``.

The order of work (9303-11 §4.2 / §7 "inspection procedure"):

1. EF.CardAccess is read from the master file **without selecting 3F00** (real cards refuse that
   SELECT; ``00 A4 02 0C 02 01 1C`` works, DOMAIN.md §1). Absent (6A82) means no PACE.
2. PACE (the best PACEInfo cardkit supports, with the MRZ or the CAN), then SELECT of the LDS1
   application under secure messaging; or, without PACE, SELECT of the application in clear and
   BAC (which needs the MRZ: a CAN alone cannot open a BAC-only chip). A key the chip refuses —
   or a CAN on a chip without a PACE cardkit can run — raises
   :class:`~cardkit.errors.AccessDeniedError`: a mistyped key, not a forgery.
3. EF.COM, then DG14 → chip authentication (secure messaging restarts with the new keys; PACE-CAM
   is checked against DG14 instead), EF.SOD and every data group EF.COM lists (or those asked
   for). DG3/DG4 answering 6982 are reported as *protected* (no terminal authentication, or
   one whose CHAT does not grant them), not as failures; they are read last, so a chip that ends
   secure messaging on that refusal costs nothing else.
4. Active authentication with DG15 (and DG14's ActiveAuthenticationInfo for an EC key).
5. With a terminal key (:class:`~cardkit.protocol.ta.TerminalKey`: the inspection system's
   Signer and its CV chain) and DG3/DG4 wanted: terminal authentication version 1 after chip
   authentication (TR-03110-1 §2.5, 9303-11 §7.1; :func:`cardkit.protocol.ta.perform_ta`), then
   DG3/DG4. ID_PICC is the MRZ document number with its check digit after BAC, Comp() of the
   chip's ephemeral PACE key after PACE; the chip's trust points are those PACE names (DO'87'/
   '88') when it does, else the chip skips link certificates it has no use for. A refused TA
   is recorded (:attr:`CardRead.ta_error`), and DG3/DG4 then stay *protected*.

**Reading efficiently.** Every file of the LDS application is read with a short EF identifier
(READ BINARY, P1 = 80 | SFI, ISO/IEC 7816-4 §7.2.3), which also makes it the current EF, so no
SELECT is ever sent for it. The first READ BINARY asks for one full short chunk: it returns small
files whole and tells the length of large ones from their TLV header; the rest follows in as few
APDUs as the chip allows — one extended-length READ BINARY when the chip advertises extended
length (ATR card capabilities, ISO/IEC 7816-4 §8.1.1.2.7, and DO'7F66' in EF.ATR/INFO, §12.7.1),
otherwise the largest short read whose *protected* response still fits in 256 bytes (derived in
:func:`~cardkit.services.read_binary.max_protected_plaintext`: 223 bytes with AES, 231 with 3DES).
Offsets above 32767 cannot be written in P1-P2 and use READ BINARY with odd INS (B1) and DO'54'
(ISO/IEC 7816-4 §7.2.3). A file ends at the length its TLV header declares, never at a status
word: a chip may answer every chunk with 9000 and fewer bytes than asked, and never send 6282.

**Chips without short EF identifiers** (the genuine JMRTD passport applet takes P1 b8 as part of
a signed offset: PassportApplet.java processReadBinary answers 6985 when no file is selected, else
a *plain* 6F00 that ends secure messaging). When the READ BINARY by SFI is refused — any status
but 9000/6282, except 6982 (access denied: the file is protected, not the SFI unknown) and except
6A82 when a SELECT by file identifier then says "not found" too — the file is selected by its FID
(``00 A4 02 0C 02 <fid>``) and read with offsets, and so is every later file of that read
(:attr:`CardRead.sfi` is then False). When the refusal ended secure messaging — a plain error
status (SW1 64–6F, ISO/IEC 7816-4 §5.6) from a chip whose ATR does not announce short EF
identifiers (card capabilities, first software function table b3, §8.1.1.2.7) —, the card is reset
(:func:`~cardkit.iso7816.connection.reset_card`: such a chip also refuses a second BAC in one
session, GET CHALLENGE → 6982), the LDS application selected and access opened again with the
same key and the same protocol as the first time (BAC, or PACE with the same PACEInfo; chip
authentication again when it was done, PACE-CAM checked again against DG14), then the read goes
on. The fallback is recorded in :attr:`CardRead.notes` (information, not a failure). A connection
that cannot reset the card then raises ProtocolError (``step`` :data:`STEP_RESET`); a caller who
knows the chip has no SFI passes ``short_file_identifiers=False`` and no SFI is ever sent.

A plain error in place of a protected answer is also what a man in the middle can send. From a
chip that announces short EF identifiers it is therefore what it always was — the end of the
read (ProtocolError) — not a reason to reset: every protected response that changed still ends
the read on such a chip (the hostile-chip property of ``tests/unit/services/
test_verify_hostile.py``). From a chip that does not announce them, the reset re-opens access
with the same protocol (never a weaker one) and every file is read under the new session.

Files are returned exactly as read (no re-encoding: EF.SOD hashes them as written). A failed read
leaves nothing behind: the secure-messaging sessions are ended (their keys dropped) whatever
happens, and :func:`read_card` always starts from scratch.

This module is the orchestrator (:func:`read_card`, its result :class:`CardRead`); the parts live
beside it: :mod:`cardkit.services.access_key` (the MRZ key or CAN), :mod:`cardkit.iso7816.atr`
(what the ATR and EF.ATR/INFO advertise) and :mod:`cardkit.services.read_binary` (one file, in as
few READ BINARY commands as the chip allows). Their public names are re-exported here.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Literal, TypeAlias

from cardkit.encoding import oids
from cardkit.errors import AccessDeniedError, CardError, EncodingError, PkiError, ProtocolError
from cardkit.iso7816.apdu import EXTENDED_MAX_NE, SW, Command, Response
from cardkit.iso7816.atr import (
    ATR_INFO_FID,
    extended_length_from_atr,
    historical_bytes,
    parse_atr_info,
    short_ef_identifiers_from_atr,
)
from cardkit.iso7816.connection import (
    Connection,
    connection_atr,
    reset_card,
    short_apdus_only,
)
from cardkit.lds import files
from cardkit.lds.card_access import CardAccess
from cardkit.lds.com import Com
from cardkit.lds.dg14 import Dg14
from cardkit.lds.dg15 import Dg15
from cardkit.lds.files import FileSpec
from cardkit.lds.security_infos import PaceInfo
from cardkit.lds.sod import Sod
from cardkit.pki.cvc import CertificateReference
from cardkit.protocol.aa import AaResult, perform_aa
from cardkit.protocol.bac import MrzKey, perform_bac
from cardkit.protocol.ca import CaResult
from cardkit.protocol.pace import PaceResult, choose_pace_info, perform_pace, verify_cam
from cardkit.protocol.sm import SecureConnection, SecureMessaging
from cardkit.protocol.ta import TaResult, TerminalKey, id_picc_bac, id_picc_pace, perform_ta
from cardkit.protocol.ta import perform_ca_for_ta as _perform_ca
from cardkit.services.access_key import AccessKey
from cardkit.services.read_binary import (
    DEFAULT_EXTENDED_RESPONSE_LIMIT,
    SHORT_RESPONSE_LIMIT,
    STEP_READ,
    ReadLimits,
    ShortIdentifierRefused,
    max_protected_plaintext,
    read_file,
    tlv_total_length,
)

__all__ = [
    "AccessKey",
    "CardRead",
    "CountingConnection",
    "ReadLimits",
    "ShortIdentifierRefused",
    "TerminalKey",
    "extended_length_from_atr",
    "historical_bytes",
    "max_protected_plaintext",
    "parse_atr_info",
    "read_card",
    "read_file",
    "short_ef_identifiers_from_atr",
    "tlv_total_length",
]

Rng: TypeAlias = Callable[[int], bytes]
Access: TypeAlias = Literal["PACE-CAN", "PACE-MRZ", "BAC"]

INS_SELECT = 0xA4

#: Data groups protected by EAC terminal authentication (9303-11 §7.1; TR-03110-1).
EAC_DATA_GROUPS = (3, 4)

STEP_ACCESS = "access control"
STEP_CA = "chip authentication"
STEP_TA = "terminal authentication"
#: The largest data field of a PSO:Verify Certificate link sent to a chip without extended
#: length: its protected form (DO'87' with padding, DO'8E') must still fit 255 bytes.
TA_SHORT_CHUNK = 223
#: The ``step`` of the ProtocolError raised when access must be opened again after a reset and
#: the connection cannot reset the card.
STEP_RESET = "card reset"


# --- Counting -----------------------------------------------------------------------------------


class CountingConnection:
    """A Connection that counts the APDUs and bytes (command + response, status words included)
    crossing it. Placed under secure messaging, it counts what goes over the air."""

    def __init__(self, inner: Connection) -> None:
        self.inner = inner
        self.apdu_count = 0
        self.bytes_exchanged = 0

    def send(self, command: Command) -> Response:
        raw = bytes(command)
        self.apdu_count += 1
        self.bytes_exchanged += len(raw)
        response = self.inner.send(command)
        self.bytes_exchanged += len(response.data) + 2
        return response


# --- The result ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CardRead:
    """Everything one read of a chip gave.

    ``files`` holds each file exactly as read (EF.CardAccess, EF.COM, EF.SOD, DGs); ``protected``
    the EAC data groups the chip refused (6982) and ``missing`` the data groups it does not have
    (6A82); ``errors`` what failed without stopping the read; ``notes`` what the read did
    differently without anything failing (a fallback from short EF identifiers to SELECT by file
    identifier, a reset of the card to open access again). ``sfi`` says whether files were read
    by short EF identifier to the end (False when the caller said not to or the chip refused
    them). ``pace``, ``ca`` and ``aa`` are None when that protocol was not run (after a reset,
    the results of the last session); their secure-messaging sessions have ended (keys dropped).
    CA and AA only *count* once passive authentication has validated DG14/DG15 (``cardkit
    verify``): this object records what the chip did.
    """

    files: Mapping[FileSpec, bytes] = field(repr=False)
    protected: tuple[int, ...]
    missing: tuple[int, ...]
    access: Access
    pace: PaceResult | None
    ca: CaResult | None
    aa: AaResult | None
    apdu_count: int
    bytes_exchanged: int
    errors: tuple[str, ...] = ()
    extended_length: bool = False
    sfi: bool = True
    notes: tuple[str, ...] = ()
    ta: TaResult | None = None
    ta_error: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "files", MappingProxyType(dict(self.files)))
        if self.access not in ("PACE-CAN", "PACE-MRZ", "BAC"):
            raise ValueError("access must be PACE-CAN, PACE-MRZ or BAC")

    def data_groups(self) -> dict[int, bytes]:
        """The data groups read, by number."""
        return {spec.dg: data for spec, data in self.files.items() if spec.dg is not None}

    @property
    def chip_authentication(self) -> str:
        """``"CA"`` (chip authentication run and the chip kept answering under its keys),
        ``"PACE-CAM"`` (verified against DG14), ``"failed"`` (CAM data did not match DG14) or
        ``"not performed"``."""
        if self.ca is not None:
            return "CA"
        if self.pace is not None and self.pace.mapping == "CAM":
            if self.pace.cam_verified is None:
                return "not performed"
            return "PACE-CAM" if self.pace.cam_verified else "failed"
        return "not performed"

    @property
    def terminal_authentication(self) -> str:
        """``"passed"`` (the chip accepted the terminal), ``"failed"`` (it refused the chain or
        the signature, or TA could not run) or ``"not performed"`` (no terminal key, or no
        DG3/DG4 to read)."""
        if self.ta is not None:
            return "passed"
        return "failed" if self.ta_error is not None else "not performed"

    def describe(self) -> dict[str, object]:
        """A JSON-serialisable summary without secrets (``read.json``)."""
        pace: dict[str, object] | None = None
        if self.pace is not None:
            pace = {
                "mapping": self.pace.mapping,
                "protocol": oids.name_of(self.pace.protocol) if self.pace.protocol else None,
                "parameter_id": self.pace.parameter_id,
                "cam_verified": self.pace.cam_verified,
            }
        ca = None
        if self.ca is not None:
            ca = {"protocol": oids.name_of(self.ca.protocol), "key_id": self.ca.key_id}
        aa = None
        if self.aa is not None:
            aa = {
                "verified": self.aa.verified,
                "algorithm": self.aa.algorithm,
                "detail": self.aa.detail,
            }
        return {
            "access": self.access,
            "pace": pace,
            "chip_authentication": self.chip_authentication,
            "ca": ca,
            "aa": aa,
            "terminal_authentication": {
                "status": self.terminal_authentication,
                "terminal": self.ta.terminal if self.ta is not None else None,
                "verified": list(self.ta.verified) if self.ta is not None else [],
                "skipped": list(self.ta.skipped) if self.ta is not None else [],
                "error": self.ta_error,
            },
            "extended_length": self.extended_length,
            "sfi": self.sfi,
            "files": {
                spec.name: {
                    "fid": f"{spec.fid:04X}",
                    "size": len(data),
                    "sha256": hashlib.sha256(data).hexdigest(),
                }
                for spec, data in self.files.items()
            },
            "protected": list(self.protected),
            "missing": list(self.missing),
            "errors": list(self.errors),
            "notes": list(self.notes),
            "apdu_count": self.apdu_count,
            "bytes_exchanged": self.bytes_exchanged,
        }


# --- The read -----------------------------------------------------------------------------------


def _select_fid(fid: int) -> Command:
    """SELECT EF by file identifier, no response data (``00 A4 02 0C 02 <fid>``)."""
    return Command(0x00, INS_SELECT, 0x02, 0x0C, fid.to_bytes(2, "big"))


def _select_lds_application() -> Command:
    """SELECT the LDS1 application by AID (9303-10 §4.1), no response data."""
    return Command(0x00, INS_SELECT, 0x04, 0x0C, files.LDS1_AID)


#: Card capabilities, first software function table, b3: "short EF identifier supported"
#: (ISO/IEC 7816-4 §8.1.1.2.7).
def _is_error_status(sw: int) -> bool:
    """An execution or checking error (SW1 64–6F, ISO/IEC 7816-4 §5.6), not a procedure byte
    (6Cxx)."""
    return 0x64 <= sw >> 8 <= 0x6F and sw >> 8 != 0x6C


#: EF.CardAccess is free to read wherever it exists (9303-11 §4.4.1): a protected 011C is another
#: file — JMRTD's applet keeps its EF.CVCA there (FileSystem.java EF_CVCA_FID; its SELECT needs
#: BAC once locked, processSelectFile). No PACE; the downgrade check (DG14) still applies.
_PROTECTED_011C = "011C is access-protected: not an EF.CardAccess, so no PACE"


class _Reader:
    """One run of :func:`read_card`; holds the sessions it must end whatever happens."""

    def __init__(
        self,
        connection: Connection,
        key: AccessKey,
        rng: Rng,
        chip_authentication: bool,
        active_authentication: bool,
        extended_length: bool | None,
        data_groups: tuple[int, ...] | None,
        short_file_identifiers: bool = True,
        terminal: TerminalKey | None = None,
    ) -> None:
        self.raw = connection
        self.counter = CountingConnection(connection)
        self.key = key
        self.rng = rng
        self.do_ca = chip_authentication
        self.do_aa = active_authentication
        self.extended_override = extended_length
        self.requested = data_groups
        self.sessions: list[SecureMessaging] = []
        self.secure: SecureConnection | None = None
        self.files: dict[FileSpec, bytes] = {}
        self.errors: list[str] = []
        self.protected: list[int] = []
        self.missing: list[int] = []
        self.notes: list[str] = []
        self.limits = ReadLimits()
        self.use_sfi = short_file_identifiers
        self.sfi_announced = short_ef_identifiers_from_atr(connection_atr(connection))
        # What re-opening access after a reset needs: the PACEInfo of the first PACE (None: BAC),
        # every PACE run (for PACE-CAM, each session's chip is checked against DG14), DG14 and
        # the chip authentication done so far.
        self.pace_info: PaceInfo | None = None
        self.pace_runs: list[PaceResult] = []
        self.cam_checked = False
        self.dg14: Dg14 | None = None
        self.ca: CaResult | None = None
        self.resets = 0
        self.terminal = terminal
        #: The terminal's ephemeral CA public key of the last chip authentication (TA signs it).
        self.ca_ephemeral: bytes | None = None
        self.ta: TaResult | None = None
        self.ta_error: str | None = None

    # -- lifecycle

    def close(self) -> None:
        for sm in self.sessions:
            sm.end("the read is over")
        if self.secure is not None:
            self.secure.sm.end("the read is over")

    def _open_secure(self, sm: SecureMessaging) -> SecureConnection:
        if self.secure is not None:  # a session replaced after a reset (its keys are dropped)
            self.secure.sm.end("replaced by a new session after a reset")
        self.sessions.append(sm)
        self.secure = SecureConnection(self.counter, sm)
        return self.secure

    # -- before access control

    def _decide_limits(self) -> ReadLimits:
        if self.extended_override is False or (
            self.extended_override is None and short_apdus_only(self.raw)
        ):
            return ReadLimits()
        if self.extended_override is True:
            return ReadLimits(True, DEFAULT_EXTENDED_RESPONSE_LIMIT)
        announced = extended_length_from_atr(connection_atr(self.raw))
        if announced is False:
            return ReadLimits()
        limit = self._read_atr_info()
        if limit is None:
            # The ATR alone (no EF.ATR/INFO): trust it with the largest Ne; no ATR: short only.
            return ReadLimits(True, DEFAULT_EXTENDED_RESPONSE_LIMIT) if announced else ReadLimits()
        limit -= 2  # the maximum counts the response APDU, status word included
        if limit <= SHORT_RESPONSE_LIMIT:
            return ReadLimits()
        return ReadLimits(True, min(limit, EXTENDED_MAX_NE))

    def _read_atr_info(self) -> int | None:
        """DO'7F66' of EF.ATR/INFO (2F01, in the master file), when the chip has one."""
        spec = FileSpec("EF.ATR/INFO", fid=ATR_INFO_FID, sfi=0x01, tag=None, in_master_file=True)
        if self.counter.send(_select_fid(ATR_INFO_FID)).sw != SW.OK:
            return None
        try:
            data = read_file(self.counter, spec, ReadLimits(), use_sfi=False)
            return parse_atr_info(data)
        except CardError:
            return None
        except EncodingError as exc:
            self.errors.append(f"EF.ATR/INFO ignored: {exc}")
            return None

    def _read_card_access(self) -> CardAccess | None:
        """EF.CardAccess, selected by FID from wherever the chip is (never SELECT 3F00)."""
        response = self.counter.send(_select_fid(files.CARD_ACCESS.fid))
        if response.sw == SW.SECURITY_STATUS_NOT_SATISFIED:
            self.notes.append(_PROTECTED_011C)
            return None
        if response.sw != SW.OK:
            if response.sw != SW.FILE_NOT_FOUND:
                self.errors.append(f"EF.CardAccess: SELECT refused (status {response.sw:04X})")
            return None
        try:
            data = read_file(self.counter, files.CARD_ACCESS, ReadLimits(), use_sfi=False)
        except CardError as exc:
            if exc.sw == SW.SECURITY_STATUS_NOT_SATISFIED:
                self.notes.append(_PROTECTED_011C)
            elif exc.sw != SW.FILE_NOT_FOUND:
                self.errors.append(f"EF.CardAccess: {exc}")
            return None
        self.files[files.CARD_ACCESS] = data
        try:
            return CardAccess.from_bytes(data)
        except EncodingError as exc:
            self.errors.append(f"EF.CardAccess is malformed, PACE not possible: {exc}")
            return None

    # -- access control

    def _access(self, card_access: CardAccess | None) -> tuple[Access, PaceResult | None]:
        info = choose_pace_info(card_access) if card_access is not None else None
        if card_access is not None and info is None:
            self.errors.append("EF.CardAccess offers no PACE variant cardkit supports")
        if info is not None:
            password = self.key.pace_password()
            try:
                pace = perform_pace(self.counter, password, info, self.rng)
            except CardError as exc:
                if self.key.mrz_key is None:
                    # MSE:Set AT refused for the CAN (9303-11 §4.4.4.1; e.g. 6A88, no CAN on
                    # this chip) and no MRZ for BAC: the CAN does not open this card.
                    raise AccessDeniedError("CAN", step=STEP_ACCESS) from exc
                self.errors.append(f"PACE could not start ({exc}); BAC used instead")
            else:
                self.pace_info = info
                self.pace_runs.append(pace)
                self._select_application_secure(pace)
                return ("PACE-CAN" if password.kind == "CAN" else "PACE-MRZ"), pace
        if self.key.mrz_key is None:
            # No PACE cardkit can run (no EF.CardAccess, none of its PACEInfos supported) and
            # BAC needs the MRZ (9303-11 §4.3.1): the CAN alone does not open this chip. The
            # person can enter the key again — the MRZ this time.
            raise AccessDeniedError("CAN", step=STEP_ACCESS)
        self._bac(self.key.mrz_key)
        return "BAC", None

    def _select_application_secure(self, pace: PaceResult) -> None:
        """After PACE: the LDS1 application is selected under the new secure messaging."""
        secure = self._open_secure(pace.sm)
        response = secure.send(_select_lds_application())
        if response.sw != SW.OK:
            raise CardError("SELECT of the LDS application refused", sw=response.sw)

    def _bac(self, mrz_key: MrzKey) -> None:
        # 9303-11 §4.2: the application is selected in clear before BAC.
        response = self.counter.send(_select_lds_application())
        if response.sw != SW.OK:
            raise CardError("SELECT of the LDS application refused", sw=response.sw)
        self._open_secure(perform_bac(self.counter, mrz_key, self.rng))

    def _reopen(self, spec: FileSpec, refusal: CardError) -> None:
        """The chip ended secure messaging when refusing an SFI READ BINARY: reset the card and
        open access again as the first time (module docstring)."""
        assert self.secure is not None
        if not reset_card(self.raw):
            raise ProtocolError(
                f"the chip ended secure messaging when refusing READ BINARY of {spec.name} by "
                f"short EF identifier (status {refusal.sw:04X}), and this connection cannot "
                "reset the card to open access again; read this chip with "
                "short_file_identifiers=False (SELECT by file identifier from the start)",
                step=STEP_RESET,
            )
        self.resets += 1
        self.secure.sm.end("the card was reset")
        if self.pace_info is not None:
            pace = perform_pace(self.counter, self.key.pace_password(), self.pace_info, self.rng)
            self.pace_runs.append(pace)
            self._select_application_secure(pace)
        else:
            assert self.key.mrz_key is not None  # BAC was run with it the first time
            self._bac(self.key.mrz_key)
        if self.ca is not None and self.dg14 is not None:
            try:
                self.ca, self.ca_ephemeral = _perform_ca(self.secure, self.dg14, self.rng)
            except (CardError, ProtocolError) as exc:
                raise ProtocolError(
                    f"the chip failed chip authentication after the reset ({exc})", step=STEP_CA
                ) from exc
        if self.cam_checked:
            self._check_cam()

    # -- reading under secure messaging

    def _read(self, spec: FileSpec) -> bytes:
        assert self.secure is not None
        if self.use_sfi:
            try:
                data = read_file(self.secure, spec, self.limits, block=self.secure.sm.block_size)
            except ShortIdentifierRefused as exc:
                data = self._read_after_sfi_refusal(spec, exc)
        else:
            self._select(spec)
            data = self._read_selected(spec)
        self.files[spec] = data
        return data

    def _select(self, spec: FileSpec) -> None:
        """SELECT by file identifier under secure messaging; CardError when refused."""
        assert self.secure is not None
        response = self.secure.send(_select_fid(spec.fid))
        if response.sw != SW.OK:
            raise CardError(f"SELECT of {spec.name} refused", sw=response.sw)

    def _read_selected(self, spec: FileSpec) -> bytes:
        assert self.secure is not None
        block = self.secure.sm.block_size
        return read_file(self.secure, spec, self.limits, block=block, use_sfi=False)

    def _read_after_sfi_refusal(self, spec: FileSpec, refusal: ShortIdentifierRefused) -> bytes:
        """The SFI READ BINARY was refused: 6982 stands (access denied); otherwise the file is
        selected by FID (after a reset when secure messaging ended) and read with offsets. Only
        a 6A82 that the SELECT confirms keeps short EF identifiers in use."""
        assert self.secure is not None
        if refusal.sw == SW.SECURITY_STATUS_NOT_SATISFIED:
            raise refusal
        session_ended = not self.secure.sm.active
        if session_ended:
            if self.sfi_announced:
                raise ProtocolError(
                    f"the chip ended secure messaging when refusing READ BINARY of {spec.name} "
                    f"by short EF identifier (status {refusal.sw:04X}) although its ATR "
                    "announces them: a damaged or forged answer — or an applet without short "
                    "EF identifiers: read it with short_file_identifiers=False",
                    step=STEP_READ,
                ) from refusal
            if not _is_error_status(refusal.sw):
                raise refusal  # not a refusal ISO/IEC 7816-4 §5.6 knows: no reason to reset
            self._reopen(spec, refusal)
        try:
            self._select(spec)
        except CardError as exc:
            if exc.sw == SW.FILE_NOT_FOUND and refusal.sw == SW.FILE_NOT_FOUND:
                raise refusal from None  # the file is absent: nothing said against SFI
            self._stop_sfi(spec, refusal, session_ended)
            raise
        self._stop_sfi(spec, refusal, session_ended)
        return self._read_selected(spec)

    def _stop_sfi(self, spec: FileSpec, refusal: CardError, reset: bool) -> None:
        if not self.use_sfi:
            return
        self.use_sfi = False
        how = (
            "; it ended secure messaging, so the card was reset and access opened again"
            if reset
            else ""
        )
        self.notes.append(
            f"the chip refused READ BINARY by short EF identifier ({spec.name}, status "
            f"{refusal.sw:04X}){how}: files were selected by file identifier instead"
        )

    def _try_read(self, spec: FileSpec) -> bytes | None:
        """Read a file, recording (not raising) what the chip refuses while SM stays up."""
        assert self.secure is not None
        try:
            return self._read(spec)
        except CardError as exc:
            number = spec.dg
            if exc.sw == SW.SECURITY_STATUS_NOT_SATISFIED and number in EAC_DATA_GROUPS:
                self.protected.append(number)
            elif exc.sw == SW.FILE_NOT_FOUND and number is not None:
                self.missing.append(number)
            else:
                self.errors.append(f"{spec.name}: {exc}")
            if not self.secure.sm.active and number not in EAC_DATA_GROUPS:
                raise ProtocolError(
                    f"the chip ended secure messaging when refusing {spec.name}", step=STEP_READ
                ) from exc
            return None
        except EncodingError as exc:
            self.errors.append(f"{spec.name}: {exc}")
            return None

    def _listed_data_groups(self) -> tuple[int, ...]:
        com_bytes = self._try_read(files.COM)
        if com_bytes is not None:
            try:
                return Com.from_bytes(com_bytes).data_groups
            except EncodingError as exc:
                self.errors.append(f"EF.COM: {exc}")
        # Without EF.COM, EF.SOD's hash list names the data groups (9303-10 §4.6.2).
        sod_bytes = self._try_read(files.SOD)
        if sod_bytes is not None:
            try:
                return tuple(Sod.from_bytes(sod_bytes).lds_security_object.hashes)
            except EncodingError as exc:
                self.errors.append(f"EF.SOD: {exc}")
        return ()

    def _chip_authentication(self, dg14: Dg14 | None, pace: PaceResult | None) -> CaResult | None:
        if not self.do_ca or (pace is not None and pace.cam_verified):
            return None  # PACE-CAM already authenticated the chip (9303-11 §4.4.3.5)
        if dg14 is None:
            self.errors.append("chip authentication not performed: no usable DG14")
            return None
        if not dg14.security_infos.chip_authentication_public_keys:
            self.errors.append("chip authentication not performed: DG14 has no CA public key")
            return None
        assert self.secure is not None
        try:
            result, self.ca_ephemeral = _perform_ca(self.secure, dg14, self.rng)
            return result
        except (CardError, ProtocolError) as exc:
            if not self.secure.sm.active:
                raise
            self.errors.append(f"chip authentication failed: {exc}")
            return None

    def _active_authentication(self, dg15: Dg15 | None, dg14: Dg14 | None) -> AaResult | None:
        if dg15 is None:
            return None
        assert self.secure is not None
        try:
            return perform_aa(self.secure, dg15, dg14, self.rng)
        except (CardError, ProtocolError) as exc:
            if not self.secure.sm.active:
                raise
            self.errors.append(f"active authentication failed: {exc}")
            return None

    def run(self) -> CardRead:
        self.limits = self._decide_limits()
        access, pace = self._access(self._read_card_access())
        assert self.secure is not None

        listed = self._listed_data_groups()
        wanted = set(self.requested if self.requested is not None else listed)
        want_dg14 = 14 in wanted or (
            14 in listed
            and (self.do_ca or self.do_aa or (pace is not None and pace.mapping == "CAM"))
        )
        want_dg15 = 15 in wanted or (15 in listed and self.do_aa)

        dg14: Dg14 | None = None
        if want_dg14:
            raw14 = self._try_read(files.dg(14))
            if raw14 is not None:
                try:
                    dg14 = Dg14.from_bytes(raw14)
                except EncodingError as exc:
                    self.errors.append(f"DG14: {exc}")
        if pace is not None and pace.mapping == "CAM":
            self.dg14 = dg14
            self._check_cam()
            pace = self.pace_runs[-1]

        self.dg14 = dg14
        self.ca = self._chip_authentication(dg14, pace)
        if files.SOD not in self.files:
            try:
                self._try_read(files.SOD)
            except ProtocolError as exc:
                if self.ca is not None and exc.step not in (STEP_RESET, STEP_CA):
                    # The first response under the CA keys did not verify: the chip does not
                    # hold the private key of DG14 (9303-11 §6.2: authentication is implicit).
                    raise ProtocolError(
                        f"the chip failed chip authentication ({exc})", step=STEP_CA
                    ) from exc
                raise
        if files.SOD not in self.files:
            self.errors.append("EF.SOD could not be read")

        ordinary = sorted(n for n in wanted if n not in (14, 15, *EAC_DATA_GROUPS))
        for number in ordinary:
            self._try_read(files.dg(number))

        dg15: Dg15 | None = None
        if want_dg15:
            raw15 = self._try_read(files.dg(15))
            if raw15 is not None:
                try:
                    dg15 = Dg15.from_bytes(raw15)
                except EncodingError as exc:
                    self.errors.append(f"DG15: {exc}")
        aa = self._active_authentication(dg15, dg14) if self.do_aa else None

        eac_wanted = sorted(n for n in wanted if n in EAC_DATA_GROUPS)
        if self.terminal is not None and eac_wanted and self.secure.sm.active:
            self._terminal_authentication(access)
        for number in eac_wanted:
            if not self.secure.sm.active:
                self.errors.append(f"DG{number} not read: the chip ended secure messaging")
                continue
            self._try_read(files.dg(number))

        pace = self.pace_runs[-1] if self.pace_runs else None  # the last session's, after a reset
        return CardRead(
            files=self.files,
            protected=tuple(self.protected),
            missing=tuple(self.missing),
            access=access,
            pace=pace,
            ca=self.ca,
            aa=aa,
            apdu_count=self.counter.apdu_count,
            bytes_exchanged=self.counter.bytes_exchanged,
            errors=tuple(self.errors),
            extended_length=self.limits.extended,
            sfi=self.use_sfi,
            notes=tuple(self.notes),
            ta=self.ta,
            ta_error=self.ta_error,
        )

    def _terminal_authentication(self, access: Access) -> None:
        """TA v1 after chip authentication (module docstring, step 5); failures recorded."""
        assert self.secure is not None and self.terminal is not None
        pace = self.pace_runs[-1] if self.pace_runs else None
        if self.ca is None or self.ca_ephemeral is None:
            self._ta_failed("chip authentication was not performed (TA version 1 follows it)")
            return
        if access == "BAC":
            assert self.key.mrz_key is not None
            id_picc = id_picc_bac(self.key.mrz_key.document_number)
        else:
            assert pace is not None
            id_picc = id_picc_pace(pace.chip_public_key)
        trust_points = []
        for car in pace.certification_authority_references if pace is not None else ():
            try:
                trust_points.append(CertificateReference.from_bytes(car))
            except EncodingError:
                continue
        try:
            self.ta = perform_ta(
                self.secure,
                self.terminal,
                id_picc=id_picc,
                terminal_ephemeral_public_key=self.ca_ephemeral,
                trust_points=trust_points,
                max_data=None if self.limits.extended else TA_SHORT_CHUNK,
            )
        except (CardError, ProtocolError, PkiError, EncodingError) as exc:
            if not self.secure.sm.active:
                raise ProtocolError(
                    f"the chip ended secure messaging during terminal authentication ({exc})",
                    step=STEP_TA,
                ) from exc
            self._ta_failed(str(exc))

    def _ta_failed(self, reason: str) -> None:
        self.ta_error = reason
        self.errors.append(f"terminal authentication failed: {reason}")

    def _check_cam(self) -> None:
        """Check PACE-CAM of every PACE run so far (one more after each reset) against DG14: the
        last run's ``cam_verified`` is True only when every session's chip proved DG14's key."""
        first = not self.cam_checked
        self.cam_checked = True
        if self.dg14 is None:
            if first:
                self.errors.append("PACE-CAM not verified: no usable DG14")
            return
        try:
            verdicts = [verify_cam(run, self.dg14) for run in self.pace_runs]
        except (ProtocolError, EncodingError) as exc:
            if first:
                self.errors.append(f"PACE-CAM not verified: {exc}")
            return
        self.pace_runs[-1] = replace(self.pace_runs[-1], cam_verified=all(verdicts))


def read_card(
    connection: Connection,
    key: AccessKey,
    *,
    rng: Rng = os.urandom,
    chip_authentication: bool = True,
    active_authentication: bool = True,
    extended_length: bool | None = None,
    data_groups: Iterable[int] | None = None,
    short_file_identifiers: bool = True,
    terminal: TerminalKey | None = None,
) -> CardRead:
    """Open the chip with ``key`` and read it (module docstring; ICAO 9303-11 §4, §6, §7).

    ``extended_length`` forces (True) or forbids (False) extended-length READ BINARY; by default
    the chip's ATR and EF.ATR/INFO decide. ``data_groups`` replaces the list of EF.COM.
    ``short_file_identifiers`` False selects every file by its FID and never sends a READ
    BINARY by short EF identifier (a chip known to have none, such as the JMRTD passport applet);
    by default they are tried, and a chip that refuses them is read by FID from then on (module
    docstring: after a reset when the refusal ended secure messaging).
    ``terminal`` (the inspection system's key and CV chain) runs terminal authentication after
    chip authentication and reads DG3/DG4 as the chip then allows (module docstring, step 5).

    Raises (only :class:`~cardkit.errors.CardkitError` subclasses, whatever the chip sends):

    - :class:`~cardkit.errors.AccessDeniedError` (a ProtocolError; ``key_kind`` "CAN" or
      "MRZ") when the key does not open the chip: the chip refuses BAC's EXTERNAL AUTHENTICATE
      or PACE's last GENERAL AUTHENTICATE (9303-11 §4.3.3.2, §4.4.3.4), or only a CAN is given
      and the chip offers no PACE that takes it (no usable EF.CardAccess, MSE:Set AT refused).
      A mistyped key, not a forgery: ask for the key again.
    - ProtocolError for a forged or damaged protected response, a chip that does not follow
      BAC/PACE/SM, a chip that fails chip authentication (``step`` :data:`STEP_CA`, also when
      it fails it again after a reset), or a chip that ended secure messaging on a READ BINARY
      by short EF identifier behind a connection that cannot reset it (``step``
      :data:`STEP_RESET`: read it again with ``short_file_identifiers=False``).
    - CardError when the chip refuses a step the read cannot do without (SELECT of the LDS
      application, a refusal that ends secure messaging).
    - EncodingError for malformed bytes the read cannot do without.
    - TransportError when the card or reader goes away.

    Whatever happens, the secure-messaging keys of this read are dropped before returning.
    """
    wanted: tuple[int, ...] | None = None
    if data_groups is not None:
        wanted = tuple(sorted(set(data_groups)))
        for number in wanted:
            files.dg(number)  # ValueError for a number outside 1..16
    reader = _Reader(
        connection,
        key,
        rng,
        chip_authentication,
        active_authentication,
        extended_length,
        wanted,
        short_file_identifiers,
        terminal,
    )
    try:
        return reader.run()
    finally:
        reader.close()
