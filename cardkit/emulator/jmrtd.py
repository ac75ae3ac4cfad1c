"""The genuine JMRTD passport applet in software: ``emulator start --applet jmrtd``.

:class:`JmrtdApplet` answers exactly as JMRTD's ``sos.passportapplet`` (revision 945, source in
martinpaljak/AppletPlayground ``src/sos/passportapplet/``) does in its PERFECTWORLD crypto mode
on a Java Card simulator, so that cardkit's host code can be tested against the applet production
lines really write. It is a port of the applet's *behaviour*, written for Python: each method
names the Java ``File.java method`` it follows. Where the behaviour depends on the Java Card
runtime, the model is stated once here:

- **The APDU buffer** is 261 bytes (:data:`~cardkit.emulator.jmrtd_state.APDU_BUFFER_LENGTH`,
  the short buffer of JCOP; current jcardsim allocates 260),
  zeroed before every command, which is copied in whole (header, Lc, data, Le): the applet reads
  its data fields and Lc straight from it, past the data too. A command that does not fit a short
  APDU (extended length) never reaches the applet: the runtime lacks
  ``javacardx.apdu.ExtendedLength`` and answers 6700, as it does for an APDU whose length does
  not match its Lc.
- **Exceptions.** ``ISOException`` and the other ``CardRuntimeException`` (``CryptoException``,
  ``APDUException``) carry a reason that ``PassportApplet.process`` catches and, under secure
  messaging, wraps: the reason *is* the status word (``CryptoException.ILLEGAL_USE`` is 0005).
  Any other Java runtime exception (array index out of bounds, negative array size) escapes
  ``process``: the runtime answers a *plain* 6F00, with no SM wrapping
  (:class:`~cardkit.emulator.jmrtd_state.JavaException`).
  Java ``short`` arithmetic (offsets in P1-P2, sizes, TLV lengths) wraps as in Java.
- **Key objects** behave as jcardsim's (``RSAKeyImpl``, ``ECPrivateKeyImpl``): no length checks
  when a component is set; an F2M EC key starts with sect163r1's domain parameters, so it is
  initialized once its private value S is set; raw RSA (``Cipher.ALG_RSA_NOPAD``) refuses an input
  that does not fill the modulus (``CryptoException.ILLEGAL_USE``) and throws a runtime exception
  for an input not below it.
- **Selection.** After power-on the card manager is the default application: SELECT by the LDS
  AID ``A0 00 00 02 47 10 01`` (CLA 00, P1 04, first occurrence) selects the applet, 9000 without
  data (``process``: ``selectingApplet()`` returns at once); before that any other SELECT answers
  6A82 and any other INS 6D00. Once selected, a SELECT of another AID is passed to the applet
  (``processSelectFile``, which ignores P1/P2). Selecting the applet again keeps the BAC session:
  the volatile state is ``CLEAR_ON_RESET``, not ``CLEAR_ON_DESELECT``. Logical channels are not
  modelled.
- **Reset** (power off, :meth:`JmrtdApplet.power_on`) clears the volatile state: BAC, the
  selected file, the challenge, the SM keys (``TYPE_DES_TRANSIENT_RESET``) and the SSC.

What the applet does (each detail cites its method below): BAC with the MRZ seed of PUT DATA 62;
secure messaging in which every answer, errors included, is wrapped (DO'99' and DO'8E'), a MAC
that does not verify answers a wrapped 6985 and keeps the session, and a plain command during SM
is processed in plain; SELECT by FID only (no SFI: READ BINARY takes P1-P2 as a signed offset);
READ BINARY only after BAC and, in plain, of 0 bytes (its Le is only read from DO'97'); AA with
raw RSA-1024; no GET DATA (INS CA answers 6D00 in every state, which is how cardkit recognises
the applet). Not done here, and answered as the source's preconditions allow: chip
authentication (MSE:Set KAT) answers as ``PassportCrypto.authenticateChip`` failing would (6985):
its key agreement on the applet's 163-bit binary-field key objects is not modelled; terminal
authentication (MSE Set DST/AT, PSO Verify Certificate, EAC EXTERNAL AUTHENTICATE) therefore never
starts (6982), and DG3/DG4 stay refused (6982) in every file operation
(``JmrtdApplet._dg_accessible`` is the hook for it). PUT DATA 64 checks the trust point's
structure as ``CVCertificate.parseCertificate`` does and keeps its bytes for that later work.

The crypto mode: ``PassportApplet.install`` builds the applet in JCOP41_MODE (its comment says
PERFECTWORLD); simulators run it constructed in PERFECTWORLD_MODE (DOMAIN.md §11), modelled here:
two-key 3DES, ``ALG_DES_MAC8_ISO9797_1_M2_ALG3`` (the retail MAC) and SHA-1 key derivation.

Persistent state: :mod:`cardkit.emulator.jmrtd_state` (a secret file, 0600).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from cardkit.emulator.atr import checksum
from cardkit.emulator.jmrtd_state import (
    FID_DG3,
    FID_DG4,
    FIDS,
    OFFSET_CDATA,
    OFFSET_LC,
    SW_CONDITIONS_NOT_SATISFIED,
    SW_DATA_INVALID,
    SW_FILE_FULL,
    SW_FILE_NOT_FOUND,
    SW_INCORRECT_P1P2,
    SW_INS_NOT_SUPPORTED,
    SW_INTERNAL_ERROR,
    SW_MEMORY_FAILURE,
    SW_NO_PRECISE_DIAGNOSIS,
    SW_OK,
    SW_SECURE_MESSAGING_NOT_SUPPORTED,
    SW_SECURITY_STATUS_NOT_SATISFIED,
    SW_WRONG_DATA,
    SW_WRONG_LENGTH,
    Apdu,
    BerTlvScanner,
    CardException,
    CvcaTrustPoint,
    JavaBuffer,
    JavaException,
    JmrtdState,
    apdu_buffer_offset,
    array_copy,
    check_digit,
    check_root_certificate,
    derive_keys,
    java_short,
    new_array,
    parse_apdu,
    parse_root_certificate,
    rsa_nopad,
    throw,
    unsigned_min,
    unwrap_command,
    wrap_response,
)
from cardkit.emulator.state import EmulatorStateError
from cardkit.lds import files
from cardkit.protocol import crypto

__all__ = ["AID", "ATR", "JmrtdApplet"]

Rng = Callable[[int], bytes]

AID = files.LDS1_AID
# PassportApplet.java volatileState bits.
CHALLENGED = 0x01
MUTUAL_AUTHENTICATED = 0x02
FILE_SELECTED = 0x04
CHIP_AUTHENTICATED = 0x10
TERMINAL_AUTHENTICATED = 0x20

INS_SELECT = 0xA4
INS_READ_BINARY = 0xB0
INS_UPDATE_BINARY = 0xD6
INS_CREATE_FILE = 0xE0
INS_PUT_DATA = 0xDA
INS_GET_CHALLENGE = 0x84
INS_EXTERNAL_AUTHENTICATE = 0x82
INS_INTERNAL_AUTHENTICATE = 0x88
INS_MSE = 0x22
INS_PSO = 0x2A

#: ATR of a JCOP41 V2.2.1 (ISO/IEC 7816-3 T=1: TA1 13, TD1 81, TD2 31, TA3 FE IFSC 254, TB3 45);
#: its historical bytes are the text "JCOP41V221" (a proprietary category): they announce no
#: extended length, which this applet does not support.
_ATR_BODY = bytes.fromhex("3BFA1300008131FE45") + b"JCOP41V221"
ATR = _ATR_BODY + bytes((checksum(_ATR_BODY),))


class JmrtdApplet:
    """The JMRTD passport applet on a card whose default application is the card manager.

    ``state`` is its persistent memory (a blank applet by default), saved to ``state_file``
    after every command that changes it. ``rng`` gives RND.ICC (8 bytes) and K.ICC (16 bytes),
    as ``RandomData`` does (tests inject it). Implements the vpcd bridge's ``VirtualCard``;
    :meth:`transmit` never raises.
    """

    def __init__(
        self,
        state: JmrtdState | None = None,
        state_file: Path | None = None,
        *,
        rng: Rng = os.urandom,
    ) -> None:
        self._state = state if state is not None else JmrtdState()
        self._state_file = state_file
        self._rng = rng
        self._lock = threading.Lock()
        self._powered = False
        self._dirty = False
        self._reset()

    @classmethod
    def open(cls, state_file: Path | None = None) -> JmrtdApplet:
        """The applet saved in ``state_file``, or a blank one created there; in memory for None.
        :class:`~cardkit.emulator.state.EmulatorStateError` for an unreadable or malformed file,
        or one of cardkit's own applet (the message says which ``--applet`` it needs)."""
        if state_file is None:
            return cls()
        if state_file.exists():
            return cls(JmrtdState.load(state_file), state_file)
        state = JmrtdState()
        state.save(state_file)
        return cls(state, state_file)

    def __repr__(self) -> str:
        where = str(self._state_file) if self._state_file else "memory"
        return f"JmrtdApplet({self.life_cycle}, {where})"

    # ------------------------------------------------------------------ the reader's view

    @property
    def atr(self) -> bytes:
        return ATR

    @property
    def life_cycle(self) -> str:
        """``personalization`` until PUT DATA DE AD, then ``locked``."""
        return self._state.life_cycle

    @property
    def state_file(self) -> Path | None:
        return self._state_file

    def power_on(self) -> bytes:
        with self._lock:
            self._reset()
            self._powered = True
        return ATR

    def power_off(self) -> None:
        with self._lock:
            self._reset()
            self._powered = False

    def _reset(self) -> None:
        """Card reset: every CLEAR_ON_RESET array and transient key is cleared, the card
        manager is selected again (PassportApplet.java constructor, KeyStore.java)."""
        self._selected = False
        self._volatile = 0  # volatileState[0]
        self._rnd = bytes(8)
        self._ssc = bytearray(8)
        self._sm_keys: tuple[bytes, bytes] | None = None  # sm_kEnc, sm_kMac
        self._selected_file = 0
        self._deselect()

    def _deselect(self) -> None:
        """CLEAR_ON_DESELECT: what terminal authentication grants (CVCertificate.accessFlag)."""
        self._eac_access = 0

    def transmit(self, apdu: bytes) -> bytes:
        """One command APDU → the response APDU. Never raises, whatever the input."""
        with self._lock:
            try:
                if not self._powered:  # a command implies a powered card (warm start)
                    self._reset()
                    self._powered = True
                response = self._runtime(bytes(apdu))
                if self._dirty:
                    self._dirty = False
                    if self._state_file is not None:
                        self._state.save(self._state_file)
                return response
            except EmulatorStateError:
                return SW_MEMORY_FAILURE.to_bytes(2, "big")
            except Exception:  # a bug in this model: the card still answers
                return SW_NO_PRECISE_DIAGNOSIS.to_bytes(2, "big")

    # ------------------------------------------------------------------ the runtime

    def _runtime(self, raw: bytes) -> bytes:
        apdu = parse_apdu(raw)
        if apdu is None:
            return SW_WRONG_LENGTH.to_bytes(2, "big")
        buf = apdu.buffer
        cla, ins, p1, p2 = (buf.byte(i) for i in range(4))
        # The runtime selects the applet for SELECT by DF name, first occurrence, of its AID.
        selecting = (cla, ins, p1) == (0x00, INS_SELECT, 0x04) and not p2 & 0xF3
        data = buf.read(OFFSET_CDATA, buf.byte(OFFSET_LC)) if len(raw) > OFFSET_CDATA else b""
        selecting = selecting and data == AID
        if selecting:
            if self._selected:
                self._deselect()
            self._selected = True
            return SW_OK.to_bytes(2, "big")  # process(): selectingApplet() → return
        if not self._selected:  # the card manager answers
            sw = SW_FILE_NOT_FOUND if ins == INS_SELECT else SW_INS_NOT_SUPPORTED
            return sw.to_bytes(2, "big")
        try:
            data, sw = self._process(apdu)
        except JavaException:
            return SW_NO_PRECISE_DIAGNOSIS.to_bytes(2, "big")
        except CardException as exc:  # thrown outside process()'s try blocks
            return exc.reason.to_bytes(2, "big")
        return data + sw.to_bytes(2, "big")

    @property
    def _bac(self) -> bool:
        """PassportApplet.java hasMutuallyAuthenticated."""
        return bool(self._volatile & MUTUAL_AUTHENTICATED)

    def _process(self, apdu: Apdu) -> tuple[bytes, int]:
        """PassportApplet.java process: unwrap (under BAC), processAPDU, wrap; every
        CardRuntimeException's reason becomes the status word, wrapped under SM."""
        buf = apdu.buffer
        cla, ins = buf.byte(0), buf.byte(1)
        protected = cla & 0x0C == 0x0C
        sw = SW_OK
        le = 0
        length = 0
        if protected and self._bac:
            try:
                assert self._sm_keys is not None
                le = unwrap_command(apdu, self._ssc, self._sm_keys)
            except CardException as exc:
                sw = exc.reason
        elif protected:
            throw(SW_SECURE_MESSAGING_NOT_SUPPORTED)  # plain 6882: no SM session to wrap in
        if sw == SW_OK:
            try:
                length = self._process_apdu(apdu, ins, protected, le)
            except CardException as exc:
                sw = exc.reason
        if protected and self._bac:
            assert self._sm_keys is not None
            offset = apdu_buffer_offset(length)
            length = wrap_response(buf, self._ssc, self._sm_keys, offset, length, sw)
        data = buf.read(0, length) if length > 0 else b""
        return data, sw

    def _process_apdu(self, apdu: Apdu, ins: int, protected: bool, le: int) -> int:
        """PassportApplet.java processAPDU: dispatch by INS; others 6D00."""
        if ins == INS_GET_CHALLENGE:
            return self._get_challenge(apdu, protected, le)
        if ins == INS_EXTERNAL_AUTHENTICATE:
            return self._mutual_authenticate(apdu, protected)
        if ins in (INS_PSO, INS_MSE):
            if not protected:
                throw(SW_SECURITY_STATUS_NOT_SATISFIED)
            return self._pso(apdu) if ins == INS_PSO else self._mse(apdu)
        if ins == INS_INTERNAL_AUTHENTICATE:
            return self._internal_authenticate(apdu, protected)
        if ins == INS_SELECT:
            self._select_file(apdu)
        elif ins == INS_READ_BINARY:
            return self._read_binary(apdu, le, protected)
        elif ins == INS_UPDATE_BINARY:
            self._update_binary(apdu)
        elif ins == INS_CREATE_FILE:
            self._create_file(apdu)
        elif ins == INS_PUT_DATA:
            self._put_data(apdu)
        else:
            throw(SW_INS_NOT_SUPPORTED)
        return 0

    # ------------------------------------------------------------------ BAC

    def _get_challenge(self, apdu: Apdu, protected: bool, le: int) -> int:
        """PassportApplet.java processGetChallenge. Plain (BAC): needs the MRZ seed and no BAC
        yet, else 6982. Protected (TA): needs chip authentication, a trust point and no TA yet,
        else 6982 (chip authentication is not modelled: always 6982). Le must be 8 (6700)."""
        if protected:
            if not self._volatile & CHIP_AUTHENTICATED or self._volatile & TERMINAL_AUTHENTICATED:
                throw(SW_SECURITY_STATUS_NOT_SATISFIED)
        elif self._state.bac_keys is None or self._bac:
            throw(SW_SECURITY_STATUS_NOT_SATISFIED)
        if not protected:
            le = apdu.le  # apdu.setOutgoing()
        if le != 8:
            throw(SW_WRONG_LENGTH)
        self._rnd = _random(self._rng, 8)
        apdu.buffer.write(apdu_buffer_offset(le) if protected else 0, self._rnd)
        self._volatile |= CHALLENGED
        return le

    def _mutual_authenticate(self, apdu: Apdu, protected: bool) -> int:
        """PassportApplet.java processMutualAuthenticate. Protected: EAC's EXTERNAL
        AUTHENTICATE, 6982 without chip authentication (never here). Plain: BAC (ICAO 9303-11
        §4.3): challenged and not authenticated yet (6982), Lc 40 (6700), the MAC under K_mac
        (6982), RND.ICC (6982); a failure keeps the challenge. Success: K.ICC from the RNG, the
        session keys, SSC = RND.ICC[4:8] ‖ RND.IFD[4:8] (computeSSC), E_ICC ‖ M_ICC."""
        if protected:
            throw(SW_SECURITY_STATUS_NOT_SATISFIED)  # !hasChipAuthenticated(): TA is later
        if not self._volatile & CHALLENGED or self._bac:
            throw(SW_SECURITY_STATUS_NOT_SATISFIED)
        buf = apdu.buffer
        if buf.byte(OFFSET_LC) != 40:
            throw(SW_WRONG_LENGTH)
        if not apdu.received:
            apdu.set_incoming_and_receive()
        assert self._state.bac_keys is not None  # CHALLENGED needs them
        k_enc, k_mac = self._state.bac_keys
        e_ifd, m_ifd = buf.read(OFFSET_CDATA, 32), buf.read(OFFSET_CDATA + 32, 8)
        if not crypto.constant_time_equal(crypto.retail_mac(k_mac, e_ifd), m_ifd):
            throw(SW_SECURITY_STATUS_NOT_SATISFIED)
        plain = crypto.des3_decrypt(k_enc, e_ifd)
        rnd_ifd, rnd_icc, k_ifd = plain[:8], plain[8:16], plain[16:]
        if rnd_icc != self._rnd:  # Util.arrayCompare
            throw(SW_SECURITY_STATUS_NOT_SATISFIED)
        k_icc = _random(self._rng, 16)
        ks_enc, ks_mac = derive_keys(bytes(a ^ b for a, b in zip(k_ifd, k_icc, strict=True)))
        self._sm_keys = (ks_enc, ks_mac)
        self._ssc = bytearray(rnd_icc[4:8] + rnd_ifd[4:8])
        e_icc = crypto.des3_encrypt(k_enc, rnd_icc + rnd_ifd + k_icc)
        buf.write(0, e_icc + crypto.retail_mac(k_mac, e_icc))
        self._volatile &= ~CHALLENGED
        self._volatile |= MUTUAL_AUTHENTICATED
        return 40

    # ------------------------------------------------------------------ AA, CA, TA

    def _internal_authenticate(self, apdu: Apdu, protected: bool) -> int:
        """PassportApplet.java processInternalAuthenticate (AA): needs the modulus and the
        exponent and BAC (6982), Lc 8 (6700). Raw RSA with the private key (ALG_RSA_NOPAD) of
        ``6A ‖ 00×106 ‖ SHA-1(00×106 ‖ RND.IFD) ‖ BC``: ISO/IEC 9796-2 scheme 1, the 106-byte
        M1 all zeros (the source's "write some random data" is commented out)."""
        state = self._state
        if state.rsa_modulus is None or state.rsa_exponent is None or not self._bac:
            throw(SW_SECURITY_STATUS_NOT_SATISFIED)
        buf = apdu.buffer
        if buf.byte(OFFSET_LC) != 8:
            throw(SW_WRONG_LENGTH)
        m2 = buf.read(OFFSET_CDATA, 8)
        m1 = bytes(106)
        message = b"\x6a" + m1 + hashlib.sha1(m1 + m2).digest() + b"\xbc"
        signature = rsa_nopad(state.rsa_modulus, state.rsa_exponent, message)
        if len(signature) != 128:
            throw(SW_INTERNAL_ERROR)
        buf.write(apdu_buffer_offset(128) if protected else 0, signature)
        return 128

    def _mse(self, apdu: Apdu) -> int:
        """PassportApplet.java processMSE (protected only). No EC key or no trust point → 6D00;
        no BAC or TA done → 6982. Set KAT (41 A6): ``91 L key [84 L id]`` checked as the source
        does (6700, 6A80), then chip authentication, which is not modelled: 6985, as when
        ``PassportCrypto.authenticateChip`` fails. Set DST/AT (81 B6/A4) needs chip
        authentication (6982). Other P1-P2 → 6A86."""
        state = self._state
        if not state.has_ec_key or state.cv_certificate is None:
            throw(SW_INS_NOT_SUPPORTED)
        if not self._bac or self._volatile & TERMINAL_AUTHENTICATED:
            throw(SW_SECURITY_STATUS_NOT_SATISFIED)
        buf = apdu.buffer
        p1, p2, lc = buf.byte(2), buf.byte(3), buf.byte(OFFSET_LC)
        if (p1, p2) == (0x41, 0xA6):
            last = lc + OFFSET_CDATA
            p = OFFSET_CDATA
            if p > last - 2:
                throw(SW_WRONG_LENGTH)
            if buf.byte(p) != 0x91:
                throw(SW_WRONG_DATA)
            key_length = buf.byte(p + 1)
            p += 2
            if p > last - key_length:
                throw(SW_WRONG_LENGTH)
            p += key_length
            if p != last:
                if p > last - 2:
                    throw(SW_WRONG_LENGTH)
                if buf.byte(p) != 0x84:
                    throw(SW_WRONG_DATA)
                id_length = buf.byte(p + 1)
                if p + 2 != last - id_length:
                    throw(SW_WRONG_LENGTH)
            # crypto.authenticateChip(): ECDH on the F2M-163 key objects, not modelled.
            throw(SW_CONDITIONS_NOT_SATISFIED)
        if p1 == 0x81 and p2 in (0xB6, 0xA4):
            # !hasChipAuthenticated(): certificate.selectSubjectId (TA) is a later issue.
            throw(SW_SECURITY_STATUS_NOT_SATISFIED)
        throw(SW_INCORRECT_P1P2)

    def _pso(self, apdu: Apdu) -> int:
        """PassportApplet.java processPSO (protected only): PSO Verify Certificate needs chip
        authentication and no TA yet, else 6982 — always here (CVCertificate.verify and the
        chained certificate buffer belong to terminal authentication, a later issue)."""
        if not self._volatile & CHIP_AUTHENTICATED or self._volatile & TERMINAL_AUTHENTICATED:
            throw(SW_SECURITY_STATUS_NOT_SATISFIED)
        throw(SW_SECURITY_STATUS_NOT_SATISFIED)  # pragma: no cover - CA is not modelled

    # ------------------------------------------------------------------ files

    def _dg_accessible(self, fid: int) -> bool:
        """CVCertificate.java isDG3Accessible / isDG4Accessible: the access terminal
        authentication granted (accessFlag, CLEAR_ON_DESELECT). Never, until TA is done."""
        bit = 0x01 if fid == FID_DG3 else 0x02
        return bool(self._eac_access & bit)

    def _file_index(self, fid: int) -> int:
        """FileSystem.java getFileIndex: DG3/DG4 without EAC access → ISOException 6982 (in
        every file operation, before lock too); an unknown FID → -1."""
        if fid in (FID_DG3, FID_DG4) and not self._dg_accessible(fid):
            throw(SW_SECURITY_STATUS_NOT_SATISFIED)
        return FIDS.index(fid) if fid in FIDS else -1

    def _get_file(self, fid: int) -> bytearray | None:
        """FileSystem.java getFile: the file's array, None when unknown or not created."""
        if self._file_index(fid) == -1:
            return None
        return self._state.files.get(fid)

    def _select_file(self, apdu: Apdu) -> None:
        """PassportApplet.java processSelectFile: locked and no BAC → 6982; Lc must be 2 (6700);
        P1-P2 ignored; a FID not created or unknown → 6A82 and no file selected."""
        if self._state.locked and not self._bac:
            throw(SW_SECURITY_STATUS_NOT_SATISFIED)
        buf = apdu.buffer
        if buf.byte(OFFSET_LC) != 2:
            throw(SW_WRONG_LENGTH)
        if not apdu.received:
            apdu.set_incoming_and_receive()
        fid = buf.get_short(OFFSET_CDATA) & 0xFFFF
        if self._get_file(fid) is not None:
            self._selected_file = fid
            self._volatile |= FILE_SELECTED
            return
        self._volatile &= ~FILE_SELECTED
        throw(SW_FILE_NOT_FOUND)

    def _read_binary(self, apdu: Apdu, le: int, protected: bool) -> int:
        """PassportApplet.java processReadBinary: BAC (6982), a selected file (6985); P1-P2 is
        a *signed* offset (no SFI: P1 bit 8 set is a negative offset → plain 6F00); returns
        min(buffer length − 37, size − offset, Le) bytes, compared as unsigned shorts, so an
        offset past the size reads up to Le bytes of the allocation, or 6F00 beyond it. Le is
        0 in plain (it is only read from DO'97'): a plain READ BINARY returns 0 bytes."""
        if not self._bac:
            throw(SW_SECURITY_STATUS_NOT_SATISFIED)
        if not self._volatile & FILE_SELECTED:
            throw(SW_CONDITIONS_NOT_SATISFIED)
        buf = apdu.buffer
        offset = buf.get_short(2)
        content = self._get_file(self._selected_file)
        if content is None:
            throw(SW_FILE_NOT_FOUND)
        size = self._state.sizes[self._selected_file]
        length = unsigned_min(java_short(len(buf) - 37), java_short(size - offset))
        length = unsigned_min(length, len(buf))
        length = unsigned_min(le, length)
        target = apdu_buffer_offset(length) if protected else 0
        array_copy(content, offset, buf.data, target, length)  # Util.arrayCopyNonAtomic
        return length

    def _update_binary(self, apdu: Apdu) -> None:
        """PassportApplet.java processUpdateBinary: a selected file and not locked (6985);
        P1-P2 a signed offset; FileSystem.java writeData: past the size → 6A84, a negative
        offset → 6F00. Under SM the data was received already: APDUException 0001."""
        if not self._volatile & FILE_SELECTED or self._state.locked:
            throw(SW_CONDITIONS_NOT_SATISFIED)
        buf = apdu.buffer
        offset = buf.get_short(2)
        count = apdu.set_incoming_and_receive()
        if count > 0:  # the loop of receiveBytes: all the data arrived at once
            content = self._get_file(self._selected_file)
            if content is None:
                throw(SW_FILE_NOT_FOUND)
            if self._state.sizes[self._selected_file] < java_short(offset + count):
                throw(SW_FILE_FULL)
            array_copy(buf.data, OFFSET_CDATA, content, offset, count)
            self._dirty = True

    def _create_file(self, apdu: Apdu) -> None:
        """PassportApplet.java processCreateFile: locked → 6985; Lc < 6 or the length byte < 4 →
        6700; a first byte other than 63 → 6984; ``63 L <size:2> <fid:2>``, both signed shorts.
        FileSystem.java createFile: an unknown FID (index -1) → 6F00; the first CREATE FILE
        allocates (a negative size → 6F00); later ones set the size up to the allocation
        (contents kept), larger → 6A84. The file is not selected."""
        if self._state.locked:
            throw(SW_CONDITIONS_NOT_SATISFIED)
        buf = apdu.buffer
        lc = buf.byte(OFFSET_LC)
        if not apdu.received:
            apdu.set_incoming_and_receive()
        if lc < 6 or buf.byte(OFFSET_CDATA + 1) < 4:
            throw(SW_WRONG_LENGTH)
        if buf.byte(OFFSET_CDATA) != 0x63:
            throw(SW_DATA_INVALID)
        size = buf.get_short(OFFSET_CDATA + 2)
        fid = buf.get_short(OFFSET_CDATA + 4) & 0xFFFF
        if self._file_index(fid) == -1:
            raise JavaException("ArrayIndexOutOfBoundsException: files[-1]")
        state = self._state
        if fid not in state.files:
            state.files[fid] = new_array(size)
            state.sizes[fid] = 0
            self._dirty = True
        # FID 011C: the array is also CVCertificate.cvcaFileReference (TA, a later issue).
        if len(state.files[fid]) < size:
            throw(SW_FILE_FULL)
        state.sizes[fid] = size
        self._dirty = True

    # ------------------------------------------------------------------ PUT DATA

    def _put_data(self, apdu: Apdu) -> None:
        """PassportApplet.java processPutData: locked → 6985 for every P1-P2; DE AD locks;
        P1 00 with P2 60 / 61 / 62 / 63; P2 64 with any P1; anything else → 6A86."""
        state = self._state
        if state.locked:
            throw(SW_CONDITIONS_NOT_SATISFIED)
        buf = apdu.buffer
        p1, p2, lc = buf.byte(2), buf.byte(3), buf.byte(OFFSET_LC)
        if (p1, p2) == (0xDE, 0xAD):
            state.locked = True
            self._dirty = True
        elif p1 == 0 and p2 in (0x60, 0x61):
            self._put_rsa(buf, modulus=p2 == 0x60)
        elif p1 == 0 and p2 == 0x62:
            self._put_mrz(buf)
        elif p1 == 0 and p2 == 0x63:
            self._put_ec_key(buf, lc)
        elif p2 == 0x64:
            self._put_cv_certificate(buf, p1, lc)
        else:
            throw(SW_INCORRECT_P1P2)

    def _put_rsa(self, buf: JavaBuffer, *, modulus: bool) -> None:
        """PUT DATA 60 / 61: ``60 00 {04 L n}`` / ``61 00 {04 L d}``: the outer object's value is
        skipped (its length must be 00 for the 04 object to be read next), one leading 00 of
        the value stripped; setModulus / setExponent take any length (RSA-1024 is only what
        INTERNAL AUTHENTICATE can use)."""
        scanner = BerTlvScanner()
        p = scanner.read_tag(buf, OFFSET_CDATA)
        scanner.read_length(buf, p)
        p = scanner.skip_value()
        p = scanner.read_tag(buf, p)
        value_offset = scanner.read_length(buf, p)
        value_length = scanner.value_length
        if buf.byte(value_offset) == 0:
            value_offset, value_length = value_offset + 1, java_short(value_length - 1)
        value = buf.read(value_offset, value_length)  # a negative length: a runtime exception
        if modulus:
            self._state.rsa_modulus = value
        else:
            self._state.rsa_exponent = value
        self._dirty = True

    def _put_mrz(self, buf: JavaBuffer) -> None:
        """PUT DATA 62: ``62 L {T L docNr}{T L dateOfBirth}{T L dateOfExpiry}`` (inner tags not
        checked). The document number (as given) gets its check digit; the key seed is
        PassportInit.java computeKeySeed (out-of-order or overlapping fields → 6D66, a character
        outside the MRZ set → 6D04); the keys are deriveKey's."""
        scanner = BerTlvScanner()
        p = scanner.read_tag(buf, OFFSET_CDATA)
        p = scanner.read_length(buf, p)
        fields: list[tuple[int, int]] = []
        for _ in range(3):
            p = scanner.read_tag(buf, p)
            offset = scanner.read_length(buf, p)
            fields.append((offset, scanner.value_length))
            p = scanner.skip_value()
        (nr_offset, nr_length), (dob_offset, dob_length), (doe_offset, _) = fields
        document_number = new_array(java_short(nr_length + 1))
        array_copy(buf.data, nr_offset, document_number, 0, nr_length)
        digit = check_digit(bytes(document_number[:nr_length]))
        document_number[nr_length] = digit  # the index is checked after the digit (JLS 15.26.1)
        self._state.document_number = bytes(document_number)  # kept even if what follows fails
        self._dirty = True
        if not nr_offset < dob_offset < doe_offset:
            throw(SW_INTERNAL_ERROR)
        if (
            java_short(nr_offset + nr_length) > dob_offset
            or java_short(dob_offset + dob_length) > doe_offset
        ):
            throw(SW_INTERNAL_ERROR)
        mrz_information = b""
        for offset, length in fields:  # copied and check-digited one field after the other
            value = buf.read(offset, length)
            mrz_information += value + bytes((check_digit(value),))
        self._state.bac_keys = derive_keys(hashlib.sha1(mrz_information).digest()[:16])
        self._dirty = True

    def _put_ec_key(self, buf: JavaBuffer, lc: int) -> None:
        """PUT DATA 63: the *bare* sequence ``{81 ..}{82 a}{83 b}{84 G}{85 r}{86 s}{87 k}``
        (DOMAIN.md §11), set into the F2M key object as it is read: 81 of 6 bytes is a
        pentanomial (three shorts), else a trinomial (one short); 86 of 20 bytes gets a leading
        00; 87 ignored; another tag → 6A80 (what was set before stays). Not initialized after
        the loop → 6A80."""
        scanner = BerTlvScanner()
        p = OFFSET_CDATA
        finish = OFFSET_CDATA + lc
        key = self._state.ec_key
        while p < finish:
            p = scanner.read_tag(buf, p)
            p = scanner.read_length(buf, p)
            length = scanner.value_length
            tag = scanner.tag
            if tag == 0x81:
                if length == 6:
                    field = (buf.get_short(p), buf.get_short(p + 2), buf.get_short(p + 4))
                else:
                    field = (buf.get_short(p), 0, 0)
                key = replace(key, field=field)
            elif tag == 0x82:
                key = replace(key, a=buf.read(p, length))
            elif tag == 0x83:
                key = replace(key, b=buf.read(p, length))
            elif tag == 0x84:
                key = replace(key, g=buf.read(p, length))
            elif tag == 0x85:
                key = replace(key, r=buf.read(p, length))
            elif tag == 0x86:
                if length == 20:
                    p, length = p - 1, 21
                    buf.put(p, 0x00)
                key = replace(key, s=buf.read(p, length))
            elif tag != 0x87:  # 87, the cofactor, is ignored
                throw(SW_WRONG_DATA)
            if key != self._state.ec_key:  # each component is set as it is read
                self._state.ec_key = key
                self._dirty = True
            p = scanner.skip_value()
        if not key.initialized():
            throw(SW_WRONG_DATA)
        self._state.has_ec_key = True
        self._dirty = True

    def _put_cv_certificate(self, buf: JavaBuffer, p1: int, lc: int) -> None:
        """PUT DATA 64, certificate number P1: the EAC trust point. A second one → 6985.
        CVCertificate.java parseCertificate (root: no signature) checks the structure (any
        error → 6A80); setRootCertificate records it for P1 1 or 2 (a holder reference over 16
        bytes → 6F00). Stored raw with P1 (:class:`CvcaTrustPoint`) for terminal
        authentication, a later issue."""
        if self._state.cv_certificate is not None:
            throw(SW_CONDITIONS_NOT_SATISFIED)
        fields = parse_root_certificate(buf, OFFSET_CDATA)
        if p1 in (1, 2):
            check_root_certificate(buf, fields)
        self._state.cv_certificate = CvcaTrustPoint(p1, buf.read(OFFSET_CDATA, lc))
        self._dirty = True


def _random(rng: Rng, length: int) -> bytes:
    value = bytes(rng(length))
    if len(value) != length:
        raise ValueError("rng returned the wrong number of bytes")
    return value
