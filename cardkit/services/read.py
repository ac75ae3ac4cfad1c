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
   for). DG3/DG4 answering 6982 are reported as *protected* (EAC terminal authentication is not
   performed), not as failures; they are read last, so a chip that ends secure messaging on that
   refusal costs nothing else.
4. Active authentication with DG15 (and DG14's ActiveAuthenticationInfo for an EC key).

**Reading efficiently.** Every file of the LDS application is read with a short EF identifier
(READ BINARY, P1 = 80 | SFI, ISO/IEC 7816-4 §7.2.3), which also makes it the current EF, so no
SELECT is ever sent for it. The first READ BINARY asks for one full short chunk: it returns small
files whole and tells the length of large ones from their TLV header; the rest follows in as few
APDUs as the chip allows — one extended-length READ BINARY when the chip advertises extended
length (ATR card capabilities, ISO/IEC 7816-4 §8.1.1.2.7, and DO'7F66' in EF.ATR/INFO, §12.7.1),
otherwise the largest short read whose *protected* response still fits in 256 bytes (derived in
:func:`~cardkit.services.read_binary.max_protected_plaintext`: 223 bytes with AES, 231 with 3DES).
Offsets above 32767 cannot be written in P1-P2 and use READ BINARY with odd INS (B1) and DO'54'
(ISO/IEC 7816-4 §7.2.3).

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
from cardkit.errors import AccessDeniedError, CardError, EncodingError, ProtocolError
from cardkit.iso7816.apdu import EXTENDED_MAX_NE, SW, Command, Response
from cardkit.iso7816.atr import (
    ATR_INFO_FID,
    extended_length_from_atr,
    historical_bytes,
    parse_atr_info,
)
from cardkit.iso7816.connection import Connection, connection_atr, short_apdus_only
from cardkit.lds import files
from cardkit.lds.card_access import CardAccess
from cardkit.lds.com import Com
from cardkit.lds.dg14 import Dg14
from cardkit.lds.dg15 import Dg15
from cardkit.lds.files import FileSpec
from cardkit.lds.sod import Sod
from cardkit.protocol.aa import AaResult, perform_aa
from cardkit.protocol.bac import perform_bac
from cardkit.protocol.ca import CaResult, perform_ca
from cardkit.protocol.pace import PaceResult, choose_pace_info, perform_pace, verify_cam
from cardkit.protocol.sm import SecureConnection, SecureMessaging
from cardkit.services.access_key import AccessKey
from cardkit.services.read_binary import (
    DEFAULT_EXTENDED_RESPONSE_LIMIT,
    SHORT_RESPONSE_LIMIT,
    STEP_READ,
    ReadLimits,
    max_protected_plaintext,
    read_file,
    tlv_total_length,
)

__all__ = [
    "AccessKey",
    "CardRead",
    "CountingConnection",
    "ReadLimits",
    "extended_length_from_atr",
    "historical_bytes",
    "max_protected_plaintext",
    "parse_atr_info",
    "read_card",
    "read_file",
    "tlv_total_length",
]

Rng: TypeAlias = Callable[[int], bytes]
Access: TypeAlias = Literal["PACE-CAN", "PACE-MRZ", "BAC"]

INS_SELECT = 0xA4

#: Data groups protected by EAC terminal authentication (9303-11 §7.1; TR-03110-1).
EAC_DATA_GROUPS = (3, 4)

STEP_ACCESS = "access control"
STEP_CA = "chip authentication"


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
    (6A82); ``errors`` what failed without stopping the read. ``pace``, ``ca`` and ``aa`` are None
    when that protocol was not run; their secure-messaging sessions have ended (keys dropped).
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
            "extended_length": self.extended_length,
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
        self.limits = ReadLimits()

    # -- lifecycle

    def close(self) -> None:
        for sm in self.sessions:
            sm.end("the read is over")
        if self.secure is not None:
            self.secure.sm.end("the read is over")

    def _open_secure(self, sm: SecureMessaging) -> SecureConnection:
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
        if response.sw != SW.OK:
            if response.sw != SW.FILE_NOT_FOUND:
                self.errors.append(f"EF.CardAccess: SELECT refused (status {response.sw:04X})")
            return None
        try:
            data = read_file(self.counter, files.CARD_ACCESS, ReadLimits(), use_sfi=False)
        except CardError as exc:
            if exc.sw != SW.FILE_NOT_FOUND:
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
                secure = self._open_secure(pace.sm)
                response = secure.send(_select_lds_application())
                if response.sw != SW.OK:
                    raise CardError("SELECT of the LDS application refused", sw=response.sw)
                return ("PACE-CAN" if password.kind == "CAN" else "PACE-MRZ"), pace
        if self.key.mrz_key is None:
            # No PACE cardkit can run (no EF.CardAccess, none of its PACEInfos supported) and
            # BAC needs the MRZ (9303-11 §4.3.1): the CAN alone does not open this chip. The
            # person can enter the key again — the MRZ this time.
            raise AccessDeniedError("CAN", step=STEP_ACCESS)
        # 9303-11 §4.2: the application is selected in clear before BAC.
        response = self.counter.send(_select_lds_application())
        if response.sw != SW.OK:
            raise CardError("SELECT of the LDS application refused", sw=response.sw)
        self._open_secure(perform_bac(self.counter, self.key.mrz_key, self.rng))
        return "BAC", None

    # -- reading under secure messaging

    def _read(self, spec: FileSpec) -> bytes:
        assert self.secure is not None
        data = read_file(self.secure, spec, self.limits, block=self.secure.sm.block_size)
        self.files[spec] = data
        return data

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
            return perform_ca(self.secure, dg14, self.rng)
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
            pace = self._verify_cam(pace, dg14)

        ca = self._chip_authentication(dg14, pace)
        if files.SOD not in self.files:
            try:
                self._try_read(files.SOD)
            except ProtocolError as exc:
                if ca is not None:
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

        for number in sorted(n for n in wanted if n in EAC_DATA_GROUPS):
            if not self.secure.sm.active:
                self.errors.append(f"DG{number} not read: the chip ended secure messaging")
                continue
            self._try_read(files.dg(number))

        return CardRead(
            files=self.files,
            protected=tuple(self.protected),
            missing=tuple(self.missing),
            access=access,
            pace=pace,
            ca=ca,
            aa=aa,
            apdu_count=self.counter.apdu_count,
            bytes_exchanged=self.counter.bytes_exchanged,
            errors=tuple(self.errors),
            extended_length=self.limits.extended,
        )

    def _verify_cam(self, pace: PaceResult, dg14: Dg14 | None) -> PaceResult:
        if dg14 is None:
            self.errors.append("PACE-CAM not verified: no usable DG14")
            return pace
        try:
            return replace(pace, cam_verified=verify_cam(pace, dg14))
        except (ProtocolError, EncodingError) as exc:
            self.errors.append(f"PACE-CAM not verified: {exc}")
            return pace


def read_card(
    connection: Connection,
    key: AccessKey,
    *,
    rng: Rng = os.urandom,
    chip_authentication: bool = True,
    active_authentication: bool = True,
    extended_length: bool | None = None,
    data_groups: Iterable[int] | None = None,
) -> CardRead:
    """Open the chip with ``key`` and read it (module docstring; ICAO 9303-11 §4, §6, §7).

    ``extended_length`` forces (True) or forbids (False) extended-length READ BINARY; by default
    the chip's ATR and EF.ATR/INFO decide. ``data_groups`` replaces the list of EF.COM.

    Raises (only :class:`~cardkit.errors.CardkitError` subclasses, whatever the chip sends):

    - :class:`~cardkit.errors.AccessDeniedError` (a ProtocolError; ``key_kind`` "CAN" or
      "MRZ") when the key does not open the chip: the chip refuses BAC's EXTERNAL AUTHENTICATE
      or PACE's last GENERAL AUTHENTICATE (9303-11 §4.3.3.2, §4.4.3.4), or only a CAN is given
      and the chip offers no PACE that takes it (no usable EF.CardAccess, MSE:Set AT refused).
      A mistyped key, not a forgery: ask for the key again.
    - ProtocolError for a forged or damaged protected response, a chip that does not follow
      BAC/PACE/SM, or a chip that fails chip authentication (``step`` :data:`STEP_CA`).
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
    )
    try:
        return reader.run()
    finally:
        reader.close()
