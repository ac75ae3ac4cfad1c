"""The emulated JMRTD passport applet's persistent memory, and the Java Card runtime it runs on.

Two parts, split from :mod:`cardkit.emulator.jmrtd` (the applet) to keep each readable: the
persistent state (:class:`JmrtdState`, its JSON file), then the runtime model and the applet's
helper classes that the applet's command methods use (the APDU buffer and object, Java
exceptions and ``short`` arithmetic, BERTLVScanner, PassportUtil, PassportCrypto's secure
messaging, PassportInit's check digit and key seed, CVCertificate's parsing, raw RSA).

The state is what the genuine applet (JMRTD ``sos.passportapplet`` r945) keeps in EEPROM, and
nothing else: the volatile state (BAC, secure messaging keys and counter, the selected file, the
challenge: ``JCSystem.CLEAR_ON_RESET`` in the ``PassportApplet.java`` constructor) lives in
:class:`cardkit.emulator.jmrtd.JmrtdApplet` and is lost at every power cycle.

- ``PassportApplet.persistentState``: the ``LOCKED``, ``HAS_MUTUALAUTHENTICATION_KEYS``,
  ``HAS_MODULUS``, ``HAS_EXPONENT``, ``HAS_EC_KEY`` and ``HAS_CVCERTIFICATE`` bits; here
  :attr:`JmrtdState.locked`, a value that is not None, and :attr:`JmrtdState.has_ec_key`;
- ``FileSystem.files`` / ``FileSystem.fileSizes``: each file's array, allocated by its first
  CREATE FILE (``FileSystem.java createFile``), and its current size, a Java ``short`` (a later
  CREATE FILE may set it to any value up to the allocation, even a negative one);
- ``PassportApplet.documentNumber`` (the number as given, then its check digit) and the BAC keys
  ``KeyStore.ma_kEnc`` / ``ma_kMac`` derived by PUT DATA 62;
- ``KeyStore.rsaPrivateKey``: the AA modulus and private exponent, as the PUT DATA bytes;
- ``KeyStore.ecPrivateKey``: the components PUT DATA 63 set (a component never set keeps the
  key object's default, see :class:`EcKeyComponents`);
- the EAC trust point of PUT DATA 64 (``CVCertificate.setRootCertificate``), kept as its raw
  bytes and certificate number: terminal authentication, which uses it, is a later issue.

**This is a virtual card for tests and demos**: the state file holds the chip's private keys and
the BAC keys in clear. It is JSON (binary values in hex) with ``"applet": "jmrtd"`` at the top,
written atomically with mode 0600 (:func:`cardkit.emulator.state.write_private_atomically`);
errors name the file and the field, never a value.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from cardkit.emulator.state import FORMAT as CARDKIT_FORMAT
from cardkit.emulator.state import EmulatorStateError, write_private_atomically
from cardkit.protocol import crypto
from cardkit.protocol.kdf import ENC, MAC, kdf

FORMAT = "cardkit-jmrtd-state/1"
APPLET = "jmrtd"

#: FileSystem.java: the only file identifiers the applet knows (``getFileIndex``): DG1..DG15,
#: EF.SOD, EF.COM, EF.CVCA and the SoS log file DEAD. Any other FID has index -1.
FIDS: tuple[int, ...] = (*range(0x0101, 0x0110), 0x011D, 0x011E, 0x011C, 0xDEAD)
FID_DG3 = 0x0103
FID_DG4 = 0x0104
FID_CVCA = 0x011C

JAVA_SHORT_MAX = 0x7FFF


def java_short(value: int) -> int:
    """``(short) value``: the two's-complement 16-bit value Java keeps."""
    return ((value + 0x8000) & 0xFFFF) - 0x8000


@dataclass(frozen=True, repr=False)
class EcKeyComponents:
    """``KeyStore.ecPrivateKey`` (``TYPE_EC_F2M_PRIVATE``, ``LENGTH_EC_F2M_163``) as PUT DATA 63
    left it (``PassportApplet.java processPutData``).

    ``field`` is what ``setFieldF2M`` received (pentanomial ``e1, e2, e3``; a trinomial is
    ``e, 0, 0``), the others the bytes of ``setA``/``setB``/``setG``/``setR``/``setS``. None means
    never set: the key object then keeps its default, which in the Java Card simulator the
    applet runs on (jcardsim ``ECKeyImpl``) is the domain parameters of sect163r1 with no
    private value. So the key counts as initialized (``ECPrivateKey.isInitialized``) as soon as
    S is set, unless a domain component was set to zero bytes.
    """

    field: tuple[int, int, int] | None = None
    a: bytes | None = None
    b: bytes | None = None
    g: bytes | None = None
    r: bytes | None = None
    s: bytes | None = None

    def __repr__(self) -> str:
        given = [name for name in ("field", "a", "b", "g", "r", "s") if getattr(self, name)]
        return f"EcKeyComponents(set={given!r}, values=<redacted>)"

    def initialized(self) -> bool:
        """jcardsim ``ECPrivateKeyImpl.isInitialized``: domain parameters (defaults count) and S."""
        domain = all(v is None or len(v) > 0 for v in (self.a, self.b, self.g, self.r))
        return domain and self.s is not None and len(self.s) > 0


@dataclass(frozen=True, repr=False)
class CvcaTrustPoint:
    """The EAC trust point PUT DATA 64 installed: ``number`` is P1 (``setRootCertificate``'s
    certificate number; the applet only records holder data for 1 and 2), ``certificate`` the
    command data as sent (a CV certificate body without signature, ``CVCertificate.java
    parseCertificate`` with ``root = true``). Kept for terminal authentication, a later issue."""

    number: int
    certificate: bytes

    def __repr__(self) -> str:
        return f"CvcaTrustPoint(number={self.number}, {len(self.certificate)} bytes)"


@dataclass(repr=False)
class JmrtdState:
    """The applet's persistent memory (mutable: the applet changes it). See the module docstring."""

    locked: bool = False
    files: dict[int, bytearray] = field(default_factory=dict)
    sizes: dict[int, int] = field(default_factory=dict)
    document_number: bytes | None = None
    bac_keys: tuple[bytes, bytes] | None = None  # (K_enc, K_mac)
    rsa_modulus: bytes | None = None
    rsa_exponent: bytes | None = None
    ec_key: EcKeyComponents = field(default_factory=EcKeyComponents)
    has_ec_key: bool = False
    cv_certificate: CvcaTrustPoint | None = None

    def __repr__(self) -> str:  # never the secrets
        return (
            f"JmrtdState(locked={self.locked}, files={[f'{fid:04X}' for fid in sorted(self.files)]}"
            ", secrets=<redacted>)"
        )

    @property
    def life_cycle(self) -> str:
        return "locked" if self.locked else "personalization"

    # ------------------------------------------------------------------ JSON

    def to_json(self) -> dict[str, Any]:
        def hexed(value: bytes | None) -> str | None:
            return None if value is None else value.hex()

        ec = self.ec_key
        return {
            "applet": APPLET,
            "format": FORMAT,
            "locked": self.locked,
            "files": {
                f"{fid:04X}": {"size": self.sizes[fid], "data": bytes(self.files[fid]).hex()}
                for fid in sorted(self.files)
            },
            "document_number": hexed(self.document_number),
            "bac_keys": None
            if self.bac_keys is None
            else {"enc": self.bac_keys[0].hex(), "mac": self.bac_keys[1].hex()},
            "rsa_modulus": hexed(self.rsa_modulus),
            "rsa_exponent": hexed(self.rsa_exponent),
            "ec_key": {
                "field": list(ec.field) if ec.field is not None else None,
                **{name: hexed(getattr(ec, name)) for name in ("a", "b", "g", "r", "s")},
            },
            "has_ec_key": self.has_ec_key,
            "cv_certificate": None
            if self.cv_certificate is None
            else {
                "number": self.cv_certificate.number,
                "certificate": self.cv_certificate.certificate.hex(),
            },
        }

    @classmethod
    def from_json(cls, obj: Any, source: str = "state") -> JmrtdState:
        """Rebuild the state; :class:`EmulatorStateError` naming the bad field otherwise."""
        if not isinstance(obj, dict):
            raise EmulatorStateError(f"{source}: not a JSON object")
        if obj.get("applet") != APPLET:
            if obj.get("format") == CARDKIT_FORMAT:
                raise EmulatorStateError(
                    f"{source}: this state file holds a card of cardkit's own applet, not of the "
                    "JMRTD applet: start it with --applet cardkit, or give another --state file"
                )
            raise EmulatorStateError(
                f'{source}: not a JMRTD applet state file (no "applet": "jmrtd")'
            )
        if obj.get("format") != FORMAT:
            raise EmulatorStateError(f"{source}: format is not {FORMAT!r}")
        locked = obj.get("locked")
        if not isinstance(locked, bool):
            raise EmulatorStateError(f"{source}: locked must be true or false")
        files, sizes = _files(obj.get("files"), source)
        has_ec_key = obj.get("has_ec_key")
        if not isinstance(has_ec_key, bool):
            raise EmulatorStateError(f"{source}: has_ec_key must be true or false")
        return cls(
            locked=locked,
            files=files,
            sizes=sizes,
            document_number=_optional_hex(obj.get("document_number"), "document_number", source),
            bac_keys=_bac_keys(obj.get("bac_keys"), source),
            rsa_modulus=_optional_hex(obj.get("rsa_modulus"), "rsa_modulus", source),
            rsa_exponent=_optional_hex(obj.get("rsa_exponent"), "rsa_exponent", source),
            ec_key=_ec_key(obj.get("ec_key"), source),
            has_ec_key=has_ec_key,
            cv_certificate=_cv_certificate(obj.get("cv_certificate"), source),
        )

    # ------------------------------------------------------------------ files on disk

    def save(self, path: Path) -> None:
        """Write the state to ``path`` atomically with mode 0600."""
        payload = json.dumps(self.to_json(), separators=(",", ":")).encode("ascii")
        write_private_atomically(path, payload)

    @classmethod
    def load(cls, path: Path) -> JmrtdState:
        return cls.from_json(_read_json(path), str(path))


def _read_json(path: Path) -> Any:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise EmulatorStateError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise EmulatorStateError(f"{path}: not valid JSON") from None


def applet_of_state_file(path: Path) -> str | None:
    """Which emulated applet a state file belongs to: ``"jmrtd"``, ``"cardkit"`` (the format of
    :mod:`cardkit.emulator.state`), or None when it says neither (the loader then explains).
    :class:`EmulatorStateError` when the file cannot be read or is not JSON."""
    obj = _read_json(path)
    if not isinstance(obj, dict):
        return None
    if obj.get("applet") == APPLET:
        return APPLET
    if obj.get("format") == CARDKIT_FORMAT:
        return "cardkit"
    return None


# --- field decoders (each names the field, never the value) --------------------------------


def _optional_hex(value: Any, name: str, source: str) -> bytes | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise EmulatorStateError(f"{source}: {name} must be a hex string")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise EmulatorStateError(f"{source}: {name} is not valid hex") from None


def _short(value: Any, name: str, source: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or java_short(value) != value:
        raise EmulatorStateError(f"{source}: {name} must be a Java short (-32768..32767)")
    return value


def _files(value: Any, source: str) -> tuple[dict[int, bytearray], dict[int, int]]:
    if not isinstance(value, dict):
        raise EmulatorStateError(f"{source}: files must be an object")
    files: dict[int, bytearray] = {}
    sizes: dict[int, int] = {}
    for key, entry in value.items():
        try:
            fid = int(key, 16) if isinstance(key, str) and len(key) == 4 else -1
        except ValueError:
            fid = -1
        if fid not in FIDS:
            raise EmulatorStateError(
                f"{source}: files: {key!r} is not a file identifier of the applet's FileSystem"
            )
        if not isinstance(entry, dict):
            raise EmulatorStateError(f"{source}: file {key} must be an object (size, data)")
        data = _optional_hex(entry.get("data"), f"file {key} data", source)
        if data is None or len(data) > JAVA_SHORT_MAX:
            raise EmulatorStateError(f"{source}: file {key} data must be 0..32767 bytes of hex")
        size = _short(entry.get("size"), f"file {key} size", source)
        if size > len(data):
            raise EmulatorStateError(f"{source}: file {key} size is larger than its allocation")
        files[fid] = bytearray(data)
        sizes[fid] = size
    return files, sizes


def _bac_keys(value: Any, source: str) -> tuple[bytes, bytes] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise EmulatorStateError(f"{source}: bac_keys must be an object (enc, mac)")
    enc = _optional_hex(value.get("enc"), "bac_keys.enc", source)
    mac = _optional_hex(value.get("mac"), "bac_keys.mac", source)
    if enc is None or mac is None or len(enc) != 16 or len(mac) != 16:
        raise EmulatorStateError(f"{source}: bac_keys.enc and bac_keys.mac are 16 bytes each")
    return enc, mac


def _ec_key(value: Any, source: str) -> EcKeyComponents:
    if not isinstance(value, dict):
        raise EmulatorStateError(f"{source}: ec_key must be an object")
    raw_field = value.get("field")
    ec_field: tuple[int, int, int] | None = None
    if raw_field is not None:
        if not isinstance(raw_field, list) or len(raw_field) != 3:
            raise EmulatorStateError(f"{source}: ec_key.field must be three Java shorts")
        e1, e2, e3 = (_short(v, "ec_key.field", source) for v in raw_field)
        ec_field = (e1, e2, e3)
    parts = {n: _optional_hex(value.get(n), f"ec_key.{n}", source) for n in "abgrs"}
    return EcKeyComponents(ec_field, parts["a"], parts["b"], parts["g"], parts["r"], parts["s"])


def _cv_certificate(value: Any, source: str) -> CvcaTrustPoint | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise EmulatorStateError(f"{source}: cv_certificate must be an object")
    number = value.get("number")
    if not isinstance(number, int) or isinstance(number, bool) or not 0 <= number <= 0xFF:
        raise EmulatorStateError(f"{source}: cv_certificate.number must be a byte (P1)")
    certificate = _optional_hex(value.get("certificate"), "cv_certificate.certificate", source)
    if certificate is None:
        raise EmulatorStateError(f"{source}: cv_certificate.certificate is missing")
    return CvcaTrustPoint(number, certificate)


# --- The Java Card runtime the applet runs on, and the applet's helper classes ---------------
# (the model of cardkit.emulator.jmrtd's docstring: the APDU buffer, exceptions, Java shorts,
# BERTLVScanner, PassportUtil, PassportCrypto's secure messaging, PassportInit, CVCertificate).

#: The short APDU buffer of JCOP and jcardsim: READ BINARY returns at most 261 - 37 = 224 bytes.
APDU_BUFFER_LENGTH = 261
OFFSET_LC = 4
OFFSET_CDATA = 5

# ISO7816.java / PassportApplet.java status words.
SW_OK = 0x9000
SW_NO_PRECISE_DIAGNOSIS = 0x6F00  # the runtime, for an uncaught Java runtime exception
SW_WRONG_LENGTH = 0x6700
SW_SECURE_MESSAGING_NOT_SUPPORTED = 0x6882
SW_SECURITY_STATUS_NOT_SATISFIED = 0x6982
SW_DATA_INVALID = 0x6984
SW_CONDITIONS_NOT_SATISFIED = 0x6985
SW_WRONG_DATA = 0x6A80
SW_FILE_NOT_FOUND = 0x6A82
SW_FILE_FULL = 0x6A84
SW_INCORRECT_P1P2 = 0x6A86
SW_REFERENCE_DATA_NOT_FOUND = 0x6A88
SW_INS_NOT_SUPPORTED = 0x6D00
SW_MRZ_CHARACTER = 0x6D04  # PassportInit.java decodeMRZDigit
SW_INTERNAL_ERROR = 0x6D66  # PassportApplet.SW_INTERNAL_ERROR
#: The emulator's own answer when its state file cannot be written (not the applet's).
SW_MEMORY_FAILURE = 0x6581
# Reasons of CardRuntimeExceptions that become status words (javacard.security, javacard.framework).
APDU_ILLEGAL_USE = 0x0001
CRYPTO_UNINITIALIZED_KEY = 0x0002
CRYPTO_ILLEGAL_USE = 0x0005

PAD_DATA = bytes((0x80, 0, 0, 0, 0, 0, 0, 0))  # PassportCrypto.PAD_DATA
RSA_SHA1_OID = bytes.fromhex("04007F00070202020101")  # CVCertificate.RSA_SHA1_OID
EAC_OID = bytes.fromhex("04007F000703010201")  # CVCertificate.EAC_OID


class JavaException(Exception):
    """A Java runtime exception that is no CardRuntimeException: it escapes process()."""


class CardException(Exception):
    """ISOException (or another CardRuntimeException): ``reason`` becomes the status word."""

    def __init__(self, reason: int) -> None:
        super().__init__(f"{reason:04X}")
        self.reason = reason & 0xFFFF


def throw(sw: int) -> NoReturn:
    raise CardException(sw)


class JavaBuffer:
    """A Java ``byte[]``: every access outside it raises :class:`JavaException` (Java has no
    negative indexing)."""

    def __init__(self, data: bytes | bytearray) -> None:
        self.data = bytearray(data)

    def __len__(self) -> int:
        return len(self.data)

    def _check(self, offset: int, length: int) -> None:
        _check_bounds(len(self.data), offset, length)

    def byte(self, index: int) -> int:
        """``b[i] & 0xFF``."""
        self._check(index, 1)
        return self.data[index]

    def sbyte(self, index: int) -> int:
        """``b[i]``, a signed Java byte."""
        value = self.byte(index)
        return value - 0x100 if value & 0x80 else value

    def get_short(self, index: int) -> int:
        """``Util.getShort``."""
        self._check(index, 2)
        return java_short((self.data[index] << 8) | self.data[index + 1])

    def read(self, offset: int, length: int) -> bytes:
        self._check(offset, length)
        return bytes(self.data[offset : offset + length])

    def write(self, offset: int, value: bytes) -> None:
        self._check(offset, len(value))
        self.data[offset : offset + len(value)] = value

    def put(self, index: int, value: int) -> None:
        self._check(index, 1)
        self.data[index] = value & 0xFF


def new_array(length: int) -> bytearray:
    """``new byte[length]``: NegativeArraySizeException for a negative length."""
    if length < 0:
        raise JavaException("NegativeArraySizeException")
    return bytearray(length)


def array_copy(
    src: bytearray, src_offset: int, dst: bytearray, dst_offset: int, length: int
) -> None:
    """``Util.arrayCopy`` between two arrays, with Java's bounds checks."""
    _check_bounds(len(src), src_offset, length)
    _check_bounds(len(dst), dst_offset, length)
    dst[dst_offset : dst_offset + length] = src[src_offset : src_offset + length]


def _check_bounds(size: int, offset: int, length: int) -> None:
    if offset < 0 or length < 0 or offset + length > size:
        raise JavaException("ArrayIndexOutOfBoundsException")


class BerTlvScanner:
    """BERTLVScanner.java: readTag (skips 00 and FF bytes first; a skipped byte makes the next
    one read as a *signed* byte, so ``00 81`` is tag FF81, not 81), readLength, skipValue."""

    tag = 0
    value_offset = 0
    value_length = 0

    def read_tag(self, buf: JavaBuffer, offset: int) -> int:
        p = offset
        b = buf.byte(p)
        while b in (0x00, 0xFF):
            p += 1
            b = buf.sbyte(p)
        if b & 0x1F == 0x1F:
            tag = b
            p += 1
            b = buf.sbyte(p)
            while b & 0x80:
                tag = java_short(java_short(tag << 8) | (b & 0x7F))
                p += 1
                b = buf.sbyte(p)
            tag = java_short(java_short(tag << 8) | (b & 0x7F))
        else:
            tag = b
        self.tag = tag
        return java_short(p + 1)

    def read_length(self, buf: JavaBuffer, offset: int) -> int:
        p = offset
        b = buf.byte(offset)
        if not b & 0x80:
            self.value_length = b
        else:
            self.value_length = 0
            for _ in range(b & 0x7F):
                p += 1
                self.value_length = java_short(java_short(self.value_length << 8) + buf.byte(p))
        self.value_offset = java_short(p + 1)
        return self.value_offset

    def skip_value(self) -> int:
        return java_short(self.value_offset + self.value_length)


def unsigned_min(a: int, b: int) -> int:
    """PassportUtil.java min: the smaller of two shorts read as unsigned."""
    if (a < 0) == (b < 0):
        return min(a, b)
    return b if a < 0 else a


def length_with_padding(length: int) -> int:
    """PassportUtil.java lengthWithPadding: the next multiple of 8 strictly above ``length``."""
    return java_short(java_short(length + 8) // 8 * 8)


def apdu_buffer_offset(plain_length: int) -> int:
    """PassportCrypto.java getApduBufferOffset: where response data goes so that DO'87''s
    header fits in front of it (tag, length bytes, padding indicator 01)."""
    do87_bytes = 2
    do87_data_length = length_with_padding(plain_length) + 1
    if do87_data_length < 0x80:
        do87_bytes += 1
    elif do87_data_length <= 0xFF:
        do87_bytes += 2
    else:
        do87_bytes += 2 if plain_length > 0xFF else 1
    return do87_bytes


def calc_lc(plain: bytes) -> int:
    """PassportUtil.java calcLcFromPaddedData: the length before the ``80 00..`` padding; the
    whole length when the last non-zero byte is not 80; 0 when every byte is 00."""
    for i in range(len(plain) - 1, -1, -1):
        if plain[i]:
            return (i if plain[i] == 0x80 else len(plain)) & 0xFF
    return 0


def increment_ssc(ssc: bytearray) -> None:
    """PassportCrypto.java incrementSSC: big-endian +1 of the 8-byte counter, wrapping."""
    value = (int.from_bytes(ssc, "big") + 1) % (1 << 64)
    ssc[:] = value.to_bytes(8, "big")


_MRZ_VALUES = {
    **{ord(str(d)): d for d in range(10)},
    ord("<"): 0,
    **{ord(c): 10 + i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZ")},
    **{ord(c): 10 + i for i, c in enumerate("abcdefghijklmnopqrstuvwxyz")},
}


def check_digit(chars: bytes) -> int:
    """PassportInit.java checkDigit: the 7-3-1 check digit as an ASCII byte; lower-case letters
    count as upper case; any other character throws ISOException 6D04 (decodeMRZDigit)."""
    result = 0
    for i, ch in enumerate(chars):
        value = _MRZ_VALUES.get(ch)
        if value is None:
            raise CardException(SW_MRZ_CHARACTER)
        result = (result + (7, 3, 1)[i % 3] * value) % 10
    return 0x30 + result


def key_seed(document_number: bytes, date_of_birth: bytes, date_of_expiry: bytes) -> bytes:
    """PassportInit.java computeKeySeed: SHA-1 of each field *as given* followed by its check
    digit, first 16 bytes. The document number is not padded to 9 characters: the terminal
    derives its keys from the padded number, so a personalizer must send it padded."""
    mrz_information = b"".join(
        value + bytes((check_digit(value),))
        for value in (document_number, date_of_birth, date_of_expiry)
    )
    return hashlib.sha1(mrz_information).digest()[:16]


def derive_keys(seed: bytes) -> tuple[bytes, bytes]:
    """PassportCrypto.java deriveKey, ENC_MODE then MAC_MODE: SHA-1(seed ‖ 00 00 00 c), first
    16 bytes, DES parity (ICAO 9303-11 §9.7.1): ``(K_enc, K_mac)``."""
    return kdf(seed, ENC, "3DES"), kdf(seed, MAC, "3DES")


@dataclass(frozen=True)
class CertificateFields:
    """CVCertificate.data: offsets and lengths found by parseCertificate."""

    modulus: tuple[int, int]
    exponent: tuple[int, int]
    subject: tuple[int, int]
    authorization: int
    effective_date: int
    expiry_date: int


def parse_root_certificate(buf: JavaBuffer, offset: int) -> CertificateFields:
    """CVCertificate.java parseCertificate with ``root = true``: ``7F4E`` body with ``5F29``
    (one byte 00), ``42`` CAR, ``7F49 {06 id-TA-RSA-v1-5-SHA-1, 81 n, 82 e}``, ``5F20`` CHR,
    ``7F4C`` (14 bytes) ``{06 id-EAC 9 bytes, 53 one byte}``, ``5F25``, ``5F24`` (6 bytes each),
    in this order; every failure, even reading past the buffer, is 6A80."""
    s = BerTlvScanner()

    def expect(condition: bool) -> None:
        if not condition:
            throw(SW_WRONG_DATA)

    try:
        o = s.read_tag(buf, offset)
        expect(s.tag == 0x7F4E)
        o = s.read_length(buf, o)
        o = s.read_tag(buf, o)
        o = s.read_length(buf, o)
        expect(s.tag == 0x5F29 and s.value_length == 1 and buf.byte(o) == 0)
        o = s.read_tag(buf, s.skip_value())
        expect(s.tag == 0x42)
        s.read_length(buf, o)
        o = s.read_tag(buf, s.skip_value())
        expect(s.tag == 0x7F49)
        o = s.read_length(buf, o)
        o = s.read_tag(buf, o)
        o = s.read_length(buf, o)
        expect(s.tag == 0x06 and s.value_length == 10 and buf.read(o, 10) == RSA_SHA1_OID)
        components = []
        o = s.skip_value()
        for tag in (0x81, 0x82):
            o = s.read_tag(buf, o)
            expect(s.tag == tag)
            value_offset, value_length = s.read_length(buf, o), s.value_length
            o = s.skip_value()
            if buf.byte(value_offset) == 0:
                value_offset, value_length = value_offset + 1, java_short(value_length - 1)
            components.append((value_offset, value_length))
        o = s.read_tag(buf, o)
        expect(s.tag == 0x5F20)
        subject = (s.read_length(buf, o), s.value_length)
        o = s.read_tag(buf, s.skip_value())
        o = s.read_length(buf, o)
        expect(s.tag == 0x7F4C and s.value_length == 14)
        o = s.read_tag(buf, o)
        o = s.read_length(buf, o)
        expect(s.tag == 0x06 and s.value_length == 9 and buf.read(o, 9) == EAC_OID)
        offsets = []
        o = s.skip_value()
        for tag, length in ((0x53, 1), (0x5F25, 6), (0x5F24, 6)):
            o = s.read_tag(buf, o)
            offsets.append(s.read_length(buf, o))
            expect(s.tag == tag and s.value_length == length)
            o = s.skip_value()
    except (CardException, JavaException):
        raise CardException(SW_WRONG_DATA) from None
    return CertificateFields(components[0], components[1], subject, *offsets)


def check_root_certificate(buf: JavaBuffer, fields: CertificateFields) -> None:
    """The copies of CVCertificate.java setRootCertificate (into a 17-byte holder reference and
    a new array for e ‖ n): outside the arrays → a runtime exception, 6F00."""
    subject_offset, subject_length = fields.subject
    array_copy(buf.data, subject_offset, bytearray(17), 1, subject_length)
    (mod_offset, mod_length), (exp_offset, exp_length) = fields.modulus, fields.exponent
    key_data = new_array(java_short(exp_length + mod_length))
    array_copy(buf.data, exp_offset, key_data, 0, exp_length)
    array_copy(buf.data, mod_offset, key_data, exp_length, mod_length)
    buf.byte(fields.authorization)
    buf.read(fields.effective_date, 6)
    buf.read(fields.expiry_date, 6)


def rsa_nopad(modulus: bytes, exponent: bytes, message: bytes) -> bytes:
    """Cipher.ALG_RSA_NOPAD encryption with the private key, as jcardsim's AsymmetricCipherImpl
    on BouncyCastle's RSAEngine does it: an uninitialized key → CryptoException 0002; an input
    that is not exactly the modulus length (input block size + 1) → 0005; an input not below
    the modulus → a runtime exception (DataLengthException), 6F00."""
    if not modulus or not exponent:
        throw(CRYPTO_UNINITIALIZED_KEY)
    n = int.from_bytes(modulus, "big")
    d = int.from_bytes(exponent, "big")
    output_size = (n.bit_length() + 7) // 8
    input_size = output_size - 1
    if len(message) > input_size + 1 or len(message) < input_size:
        throw(CRYPTO_ILLEGAL_USE)
    m = int.from_bytes(message, "big")
    if m >= n:
        raise JavaException("DataLengthException: input too large for RSA cipher")
    return pow(m, d, n).to_bytes(output_size, "big")


@dataclass
class Apdu:
    """The runtime's APDU object for one command: the buffer, the Le that ``setOutgoing``
    returns (256 when the command has none) and whether the data was received yet."""

    buffer: JavaBuffer
    le: int
    received: bool = False

    def set_incoming_and_receive(self) -> int:
        """``APDU.setIncomingAndReceive``: the data is already in the buffer; a second call is
        ``APDUException.ILLEGAL_USE``."""
        if self.received:
            raise CardException(APDU_ILLEGAL_USE)
        self.received = True
        return self.buffer.byte(OFFSET_LC)


def parse_apdu(raw: bytes) -> Apdu | None:
    """A short command APDU (cases 1-4) in a fresh 261-byte buffer; None when it is extended or
    its length does not match its Lc (the runtime answers 6700)."""
    if len(raw) < 4:
        return None
    le = 256
    if len(raw) == 5:
        le = raw[4] or 256
    elif len(raw) > 5:
        lc = raw[4]
        if lc == 0 or len(raw) not in (5 + lc, 6 + lc):
            return None
        if len(raw) == 6 + lc:
            le = raw[-1] or 256
    buffer = JavaBuffer(bytes(raw) + bytes(APDU_BUFFER_LENGTH - len(raw)))
    return Apdu(buffer, le)


def unwrap_command(apdu: Apdu, ssc: bytearray, keys: tuple[bytes, bytes]) -> int:
    """PassportCrypto.java unwrapCommandAPDU: SSC+1 first; only DO'87' (01 marker), a
    one-byte DO'97' (its value is Le, 00 meaning 0) and DO'8E' of 8 bytes, in that order
    (else 6D66, 6984 for a MAC that is not 8 bytes); a MAC that does not verify → 6985. The
    plaintext replaces the data at offset 5 and its unpadded length the Lc byte."""
    k_enc, k_mac = keys
    buf = apdu.buffer
    p = start = OFFSET_CDATA
    le = 0
    data_length = 0
    data_offset = 0
    apdu.set_incoming_and_receive()
    increment_ssc(ssc)
    if buf.byte(p) == 0x87:
        p += 1
        length_bytes = 1
        if buf.byte(p) > 0x80:
            length_bytes = buf.byte(p) & 0x7F
            p += 1
        if length_bytes > 2:
            throw(SW_INTERNAL_ERROR)
        for i in range(length_bytes):
            shift = (length_bytes - 1 - i) * 8
            data_length = java_short(data_length + java_short(buf.byte(p + i) << shift))
        p = java_short(p + length_bytes)
        if buf.byte(p) != 0x01:
            throw(SW_INTERNAL_ERROR)
        data_offset = java_short(p + 1)
        p = java_short(p + data_length)
        data_length = java_short(data_length - 1)  # the 01 marker
    if buf.byte(p) == 0x97:
        p += 1
        if buf.byte(p) != 0x01:
            throw(SW_INTERNAL_ERROR)
        p += 1
        le = buf.byte(p)
        p += 1
    if buf.byte(p) != 0x8E:
        throw(SW_INTERNAL_ERROR)
    p += 1
    if buf.byte(p) != 0x08:
        throw(SW_DATA_INVALID)
    mac_input = bytes(ssc) + buf.read(0, 4) + PAD_DATA[:4]
    mac_input += buf.read(start, java_short(p - 1 - start))
    mac = buf.read(java_short(p + 1), 8)
    if not crypto.constant_time_equal(crypto.retail_mac(k_mac, mac_input), mac):
        throw(SW_CONDITIONS_NOT_SATISFIED)
    if data_length != 0:
        cryptogram = buf.read(data_offset, data_length)
        if len(cryptogram) % 8:
            throw(CRYPTO_ILLEGAL_USE)  # Cipher ALG_DES_CBC_NOPAD: not block aligned
        plain = crypto.des3_decrypt(k_enc, cryptogram)
        buf.write(OFFSET_CDATA, plain)
        buf.put(OFFSET_LC, calc_lc(plain))
    return le


def wrap_response(
    buf: JavaBuffer,
    ssc: bytearray,
    keys: tuple[bytes, bytes],
    plain_offset: int,
    plain_length: int,
    sw: int,
) -> int:
    """PassportCrypto.java wrapResponseAPDU: SSC+1; DO'87' (01 ‖ 3DES-CBC of the padded
    data, when there is data), DO'99' (the status word, also for errors), DO'8E' (retail MAC
    over SSC ‖ the DOs). Returns the response length."""
    k_enc, k_mac = keys
    do87_data_length = length_with_padding(plain_length) + 1
    header = apdu_buffer_offset(plain_length)
    increment_ssc(ssc)
    p = 0
    if plain_length > 0:
        padded = buf.read(plain_offset, plain_length) + PAD_DATA
        padded = padded[: length_with_padding(plain_length)]  # PassportUtil.pad in place
        buf.write(plain_offset, padded)
        cryptogram = crypto.des3_encrypt(k_enc, padded)
        buf.write(header, cryptogram)
        if do87_data_length - 1 != len(cryptogram):
            throw(SW_INTERNAL_ERROR)  # the sanity check; unreachable for short responses
        buf.put(0, 0x87)
        p = 1
        if do87_data_length < 0x80:
            buf.put(p, do87_data_length)
            p += 1
        else:
            length_bytes = 2 if do87_data_length > 0xFF else 1
            buf.put(p, 0x80 + length_bytes)
            p += 1
            for i in range(length_bytes - 1, -1, -1):
                buf.put(p, do87_data_length >> (i * 8))
                p += 1
        buf.put(p, 0x01)
        p = header + do87_data_length - 1
    buf.write(p, bytes((0x99, 0x02)) + sw.to_bytes(2, "big"))
    p += 4
    buf.write(p + 2, crypto.retail_mac(k_mac, bytes(ssc) + buf.read(0, p)))
    buf.write(p, bytes((0x8E, 0x08)))
    return p + 10
