"""Secure messaging of ICAO 9303-11 §9.8 (ISO/IEC 7816-4 §6), with 3DES or AES session keys.

One :class:`SecureMessaging` object is one SM session: the two session keys and the send sequence
counter (SSC). The SSC is incremented *before* every command MAC and again *before* every response
MAC, so one exchange consumes two values (9303-11 §9.8.6/§9.8.7; 8 bytes for 3DES, 16 for AES).

Terminal side: :meth:`~SecureMessaging.wrap` protects a command, :meth:`~SecureMessaging.unwrap`
checks and decrypts the chip's answer. Card side (cardkit's emulator):
:meth:`~SecureMessaging.unwrap_command` and :meth:`~SecureMessaging.wrap_response` mirror them
exactly. :class:`SecureConnection` is a :class:`~cardkit.iso7816.connection.Connection` that
wraps and unwraps every APDU.

A protected command (9303-11 §9.8.6.1, §9.8.7.1)::

    CLA|0C INS P1 P2  Lc  [DO'87' 01‖E(pad(data)) | DO'85' E(pad(data))]  [DO'97' Le]  DO'8E' CC  00

DO'85' (no padding-content indicator) is used for odd INS such as READ BINARY B1, DO'87' otherwise.
CC = MAC(pad(SSC ‖ pad(CLA INS P1 P2) ‖ DOs)); 3DES uses the retail MAC, AES uses CMAC truncated
to 8 bytes, and AES encrypts with IV = E(K_enc, SSC). The protected command is extended when its
data or the expected response length needs it; its own Le is ``00`` (``00 00`` extended).

A protected response: ``[DO'87'|DO'85']  DO'99' SW  DO'8E' MAC(pad(SSC ‖ DOs))`` then SW.

**Session end.** A MAC that does not verify means an attack or a lost SSC: it is never retried.
9303-11 §9.8.6 allows the chip to answer an SM error with a *plain* status word (e.g. 6987, 6988,
or 6982 without any data object) — and a chip that does so has aborted secure messaging and
deleted its session keys. So:

- :meth:`~SecureMessaging.unwrap` of a response without any data object and an error status
  returns that status as a plain :class:`Response` (the caller sees *why* the chip refused), and
  **ends the session**;
- a response that is malformed, lacks DO'99'/DO'8E' or whose MAC does not verify raises
  :class:`ProtocolError` (``step="SM response"``) and **ends the session**;
- a transport failure inside :meth:`SecureConnection.send` ends the session too (the command
  consumed an SSC value whose response never came);
- once ended (:attr:`~SecureMessaging.active` is False) every method raises
  :class:`ProtocolError` (``step="SM session"``) and the session keys are dropped: a new BAC or
  PACE is needed. The card side ends the same way on a bad protected command
  (:class:`SmCommandError`, whose ``sw`` is the plain status word to answer with).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cardkit.encoding.tlv import Tlv, decode_all, encode
from cardkit.errors import EncodingError, ProtocolError
from cardkit.iso7816.apdu import (
    EXTENDED_MAX_NE,
    SHORT_MAX_DATA,
    SHORT_MAX_NE,
    SW,
    Command,
    Response,
)
from cardkit.iso7816.connection import Connection
from cardkit.protocol import crypto
from cardkit.protocol.kdf import Cipher

TAG_ENCRYPTED_ODD = 0x85  # cryptogram, no padding-content indicator (odd INS)
TAG_ENCRYPTED = 0x87  # padding-content indicator 01 ‖ cryptogram
TAG_LE = 0x97
TAG_STATUS = 0x99
TAG_MAC = 0x8E

#: CLA bits b4 b3 = 11: "secure messaging, command header authenticated" (ISO/IEC 7816-4 §5.4.1).
SM_CLA_BITS = 0x0C
PADDING_INDICATOR = 0x01

STEP_RESPONSE = "SM response"
STEP_COMMAND = "SM command"
STEP_SESSION = "SM session"


class SmCommandError(ProtocolError):
    """Card side: a protected command the chip must refuse. ``sw`` is the plain status word to
    answer with (6987: SM data objects missing, 6988: SM data objects incorrect, 9303-11 §9.8).
    The session has ended when this is raised."""

    def __init__(self, message: str, *, sw: int) -> None:
        self.sw = sw
        super().__init__(message, step=STEP_COMMAND)


@dataclass(frozen=True)
class SmTrace:
    """The intermediate values of one wrap or unwrap, named as in 9303-11 Appendix D.4.

    ``mac_data`` is M (pad(header) ‖ DOs) for a command, the DOs before DO'8E' for a response;
    ``mac_input`` is N (or K) = pad(SSC ‖ mac_data); ``mac`` is CC. Empty when not applicable.
    """

    ssc: bytes
    padded_data: bytes = field(default=b"", repr=False)
    encrypted_data: bytes = b""
    data_do: bytes = b""
    le_do: bytes = b""
    status_do: bytes = b""
    mac_data: bytes = b""
    mac_input: bytes = b""
    mac: bytes = b""


def _le_do(ne: int, two_bytes: bool) -> bytes:
    """DO'97': Le as in ISO/IEC 7816-4, 1 byte (256 → 00) or 2 bytes (65536 → 00 00)."""
    if two_bytes:
        return encode(TAG_LE, (ne % 65536).to_bytes(2, "big"))
    return encode(TAG_LE, bytes([ne % 256]))


def _ne_from_le_do(value: bytes) -> int:
    if len(value) == 1:
        return value[0] or SHORT_MAX_NE
    if len(value) == 2:
        return int.from_bytes(value, "big") or EXTENDED_MAX_NE
    raise EncodingError(f"DO'97' of {len(value)} bytes: Le is 1 or 2 bytes")


class SecureMessaging:
    """One SM session (9303-11 §9.8): session keys and the SSC; mutable, not thread-safe.

    ``cipher`` is ``"3DES"`` (two-key, 16-byte keys, retail MAC) or ``"AES"`` (16, 24 or 32-byte
    keys, CMAC). ``ssc`` is the initial counter (BAC: RND.ICC[4:] ‖ RND.IFD[4:]; PACE and CA: 0).
    """

    def __init__(self, cipher: Cipher, k_enc: bytes, k_mac: bytes, ssc: int = 0) -> None:
        if cipher == "3DES":
            if len(k_enc) != 16 or len(k_mac) != 16:
                raise ValueError("3DES session keys are 16 bytes each")
            self._block = crypto.DES_BLOCK
        elif cipher == "AES":
            if len(k_enc) not in (16, 24, 32) or len(k_mac) != len(k_enc):
                raise ValueError("AES session keys are 16, 24 or 32 bytes each, of equal length")
            self._block = crypto.AES_BLOCK
        else:
            raise ValueError("cipher must be '3DES' or 'AES'")
        if not 0 <= ssc < 1 << (8 * self._block):
            raise ValueError(f"the SSC of {cipher} secure messaging is {self._block} bytes")
        self.cipher: Cipher = cipher
        self._k_enc = bytes(k_enc)
        self._k_mac = bytes(k_mac)
        self._ssc = ssc
        self._ended: str | None = None
        self._last_ins: int | None = None  # card side: INS of the last unwrapped command

    def __repr__(self) -> str:  # never the keys or the counter
        state = "active" if self.active else "ended"
        return f"SecureMessaging(cipher={self.cipher!r}, {state})"

    # ----------------------------------------------------------------- state

    @property
    def block_size(self) -> int:
        return self._block

    @property
    def ssc(self) -> int:
        """The current send sequence counter (the value used by the last MAC)."""
        return self._ssc

    @property
    def active(self) -> bool:
        return self._ended is None

    @property
    def end_reason(self) -> str | None:
        """Why the session ended (no secrets), or None while it is active."""
        return self._ended

    def end(self, reason: str) -> None:
        """End the session: forget the keys; every later use raises :class:`ProtocolError`."""
        if self._ended is None:
            self._ended = reason
        self._k_enc = b""
        self._k_mac = b""

    def _check_active(self) -> None:
        if self._ended is not None:
            raise ProtocolError(
                f"secure messaging has ended ({self._ended}); establish a new session "
                "(BAC or PACE) first",
                step=STEP_SESSION,
            )

    def _next_ssc(self) -> bytes:
        self._ssc = (self._ssc + 1) % (1 << (8 * self._block))
        return self._ssc.to_bytes(self._block, "big")

    # ----------------------------------------------------------------- primitives

    def _iv(self, ssc: bytes) -> bytes:
        # 3DES: zero IV (§9.8.6.1); AES: IV = E(K_enc, SSC) (§9.8.7.1).
        if self.cipher == "AES":
            return crypto.aes_encrypt_block(self._k_enc, ssc)
        return bytes(crypto.DES_BLOCK)

    def _encrypt(self, padded: bytes, ssc: bytes) -> bytes:
        if self.cipher == "AES":
            return crypto.aes_encrypt(self._k_enc, padded, self._iv(ssc))
        return crypto.des3_encrypt(self._k_enc, padded)

    def _decrypt(self, cryptogram: bytes, ssc: bytes) -> bytes:
        if not cryptogram or len(cryptogram) % self._block:
            raise EncodingError(f"cryptogram is not a whole number of {self._block}-byte blocks")
        if self.cipher == "AES":
            plain = crypto.aes_decrypt(self._k_enc, cryptogram, self._iv(ssc))
        else:
            plain = crypto.des3_decrypt(self._k_enc, cryptogram)
        return crypto.unpad(plain)

    def _mac(self, mac_input: bytes) -> bytes:
        if self.cipher == "AES":
            return crypto.aes_cmac(self._k_mac, mac_input)
        return crypto.retail_mac(self._k_mac, mac_input, pad_input=False)

    def _data_do(self, data: bytes, ins: int, ssc: bytes) -> tuple[bytes, bytes, bytes]:
        padded = crypto.pad(data, self._block)
        cryptogram = self._encrypt(padded, ssc)
        if ins & 1:  # odd INS: BER-TLV data, DO'85' (ISO/IEC 7816-4 §10.4)
            return padded, cryptogram, encode(TAG_ENCRYPTED_ODD, cryptogram)
        return padded, cryptogram, encode(TAG_ENCRYPTED, bytes([PADDING_INDICATOR]) + cryptogram)

    def _decrypt_data_do(self, do: Tlv, ssc: bytes) -> bytes:
        if do.tag == TAG_ENCRYPTED:
            if not do.value or do.value[0] != PADDING_INDICATOR:
                raise EncodingError("DO'87' does not start with the padding indicator 01")
            return self._decrypt(do.value[1:], ssc)
        return self._decrypt(do.value, ssc)

    # ----------------------------------------------------------------- terminal side

    def wrap(self, command: Command) -> Command:
        """Protect ``command`` (9303-11 §9.8.6.1 / §9.8.7.1). Consumes one SSC value."""
        return self.wrap_traced(command)[0]

    def wrap_traced(self, command: Command) -> tuple[Command, SmTrace]:
        """:meth:`wrap`, also returning the intermediate values (for tests and traces)."""
        self._check_active()
        if command.cla & SM_CLA_BITS:
            raise ValueError("the command is already secure-messaging protected (CLA has 0C)")
        ssc = self._next_ssc()
        cla = command.cla | SM_CLA_BITS
        header = bytes((cla, command.ins, command.p1, command.p2))
        padded = cryptogram = data_do = b""
        if command.data:
            padded, cryptogram, data_do = self._data_do(command.data, command.ins, ssc)
        le_do = b""
        if command.ne is not None:
            le_do = _le_do(command.ne, command.ne > SHORT_MAX_NE or command.is_extended)
        m = crypto.pad(header, self._block) + data_do + le_do
        n = crypto.pad(ssc + m, self._block)
        cc = self._mac(n)
        protected = data_do + le_do + encode(TAG_MAC, cc)
        extended = (
            command.is_extended
            or len(protected) > SHORT_MAX_DATA
            or (command.ne is not None and command.ne > SHORT_MAX_NE)
        )
        wrapped = Command(
            cla,
            command.ins,
            command.p1,
            command.p2,
            protected,
            ne=EXTENDED_MAX_NE if extended else SHORT_MAX_NE,  # Le = 00 (or 00 00)
            extended=extended,
        )
        trace = SmTrace(ssc, padded, cryptogram, data_do, le_do, b"", m, n, cc)
        return wrapped, trace

    def unwrap(self, response: Response) -> Response:
        """Verify and decrypt the chip's protected response (9303-11 §9.8.6.2 / §9.8.7.2).

        Consumes one SSC value. An unprotected error status is returned as is and ends the
        session; a malformed or forged response raises :class:`ProtocolError` and ends it.
        """
        return self.unwrap_traced(response)[0]

    def unwrap_traced(self, response: Response) -> tuple[Response, SmTrace]:
        """:meth:`unwrap`, also returning the intermediate values (for tests and traces)."""
        self._check_active()
        ssc = self._next_ssc()
        if not response.data and response.sw != SW.OK:
            # §9.8.6: an SM error answered in plain; the chip has aborted SM.
            self.end(f"the chip answered with the unprotected status {response.sw:04X}")
            return Response(b"", response.sw), SmTrace(ssc)
        try:
            return self._unwrap(response, ssc)
        except EncodingError as exc:
            self.end("a malformed protected response")
            raise ProtocolError(f"malformed protected response: {exc}", step=STEP_RESPONSE) from exc
        except ProtocolError as exc:
            self.end(str(exc))
            raise

    def _unwrap(self, response: Response, ssc: bytes) -> tuple[Response, SmTrace]:
        dos = decode_all(response.data)
        data_do: Tlv | None = None
        index = 0
        if index < len(dos) and dos[index].tag in (TAG_ENCRYPTED, TAG_ENCRYPTED_ODD):
            data_do = dos[index]
            index += 1
        if index >= len(dos) or dos[index].tag != TAG_STATUS:
            raise ProtocolError("DO'99' (the protected status word) is missing", step=STEP_RESPONSE)
        status_do = dos[index]
        index += 1
        if len(status_do.value) != 2:
            raise ProtocolError("DO'99' is not 2 bytes", step=STEP_RESPONSE)
        if index >= len(dos) or dos[index].tag != TAG_MAC:
            raise ProtocolError("DO'8E' (the MAC) is missing", step=STEP_RESPONSE)
        mac_do = dos[index]
        if index != len(dos) - 1:
            raise ProtocolError("data objects follow DO'8E'", step=STEP_RESPONSE)
        if len(mac_do.value) != crypto.MAC_LENGTH:
            raise ProtocolError("DO'8E' is not 8 bytes", step=STEP_RESPONSE)
        # MAC over the DOs exactly as received (their raw encoding), then decrypt.
        mac_data = (data_do.raw if data_do else b"") + status_do.raw
        k = crypto.pad(ssc + mac_data, self._block)
        cc = self._mac(k)
        if not crypto.constant_time_equal(cc, mac_do.value):
            raise ProtocolError(
                "the response MAC does not verify (forged or damaged response, or lost "
                "synchronisation)",
                step=STEP_RESPONSE,
            )
        plain = self._decrypt_data_do(data_do, ssc) if data_do else b""
        sw = int.from_bytes(status_do.value, "big")
        cryptogram = b""
        if data_do is not None:
            cryptogram = data_do.value[1:] if data_do.tag == TAG_ENCRYPTED else data_do.value
        trace = SmTrace(
            ssc,
            b"",
            cryptogram,
            data_do.raw if data_do else b"",
            b"",
            status_do.raw,
            mac_data,
            k,
            cc,
        )
        return Response(plain, sw), trace

    # ----------------------------------------------------------------- card side

    def unwrap_command(self, command: Command) -> Command:
        """Card side: verify and decrypt a protected command; the inverse of :meth:`wrap`.

        Consumes one SSC value. On failure raises :class:`SmCommandError` (its ``sw`` is the
        plain status word to answer with) and ends the session, as 9303-11 §9.8 requires.
        """
        self._check_active()
        ssc = self._next_ssc()
        try:
            return self._unwrap_command(command, ssc)
        except EncodingError as exc:
            self.end("a malformed protected command")
            raise SmCommandError(
                f"malformed protected command: {exc}", sw=SW.SM_DATA_OBJECTS_INCORRECT
            ) from exc
        except SmCommandError as exc:
            self.end(str(exc))
            raise

    def _unwrap_command(self, command: Command, ssc: bytes) -> Command:
        if command.cla & SM_CLA_BITS != SM_CLA_BITS:
            raise SmCommandError(
                "a plain command during secure messaging", sw=SW.SM_DATA_OBJECTS_MISSING
            )
        dos = decode_all(command.data)
        if not dos or dos[-1].tag != TAG_MAC:
            raise SmCommandError("DO'8E' (the MAC) is missing", sw=SW.SM_DATA_OBJECTS_MISSING)
        mac_do = dos[-1]
        body = dos[:-1]
        data_do: Tlv | None = None
        le_do: Tlv | None = None
        index = 0
        if index < len(body) and body[index].tag in (TAG_ENCRYPTED, TAG_ENCRYPTED_ODD):
            data_do = body[index]
            index += 1
        if index < len(body) and body[index].tag == TAG_LE:
            le_do = body[index]
            index += 1
        if index != len(body) or len(mac_do.value) != crypto.MAC_LENGTH:
            raise SmCommandError(
                "unexpected data objects in the protected command",
                sw=SW.SM_DATA_OBJECTS_INCORRECT,
            )
        header = command.header
        mac_data = crypto.pad(header, self._block) + b"".join(do.raw for do in body)
        cc = self._mac(crypto.pad(ssc + mac_data, self._block))
        if not crypto.constant_time_equal(cc, mac_do.value):
            raise SmCommandError("the command MAC does not verify", sw=SW.SM_DATA_OBJECTS_INCORRECT)
        data = self._decrypt_data_do(data_do, ssc) if data_do else b""
        ne = _ne_from_le_do(le_do.value) if le_do else None
        self._last_ins = command.ins
        return Command(
            command.cla & ~SM_CLA_BITS & 0xFF, command.ins, command.p1, command.p2, data, ne
        )

    def wrap_response(self, response: Response) -> Response:
        """Card side: protect the chip's answer; the inverse of :meth:`unwrap`.

        Consumes one SSC value. Data is sent in DO'85' when the command just unwrapped had an odd
        INS, in DO'87' otherwise.
        """
        self._check_active()
        ssc = self._next_ssc()
        data_do = b""
        if response.data:
            ins = self._last_ins if self._last_ins is not None else 0
            data_do = self._data_do(response.data, ins, ssc)[2]
        status_do = encode(TAG_STATUS, response.sw.to_bytes(2, "big"))
        cc = self._mac(crypto.pad(ssc + data_do + status_do, self._block))
        return Response(data_do + status_do + encode(TAG_MAC, cc), response.sw)


class SecureConnection:
    """A :class:`~cardkit.iso7816.connection.Connection` that protects every APDU with ``sm``.

    ``sm`` may be replaced (chip authentication installs new session keys, 9303-11 §6.2).
    Status words, even errors, are returned, not raised, as by any Connection.
    """

    def __init__(self, connection: Connection, sm: SecureMessaging) -> None:
        self.connection = connection
        self.sm = sm

    def send(self, command: Command) -> Response:
        sm = self.sm
        protected = sm.wrap(command)
        try:
            response = self.connection.send(protected)
        except BaseException:
            # The command consumed an SSC value whose response never arrived: out of sync.
            sm.end("no response to a protected command")
            raise
        return sm.unwrap(response)
