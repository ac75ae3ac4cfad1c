"""Applet dialects: what one chip applet's personalization command set is, byte for byte.

cardkit writes two applets (the profile's ``[applet] dialect``, ``personalize --applet``):

- ``cardkit``: cardkit's extended protocol (DOMAIN.md §7, :mod:`cardkit.applet.commands`), the
  emulator's default: prime-curve keys, PACE with the CAN, ECDSA or RSA active authentication,
  extended length, EF.CardAccess in the master file, files up to 64 KiB (odd-INS UPDATE BINARY
  beyond 32 KiB), plain reads before LOCK, identification by GET DATA ``00 CA 00 FE``.
- ``jmrtd``: the original JMRTD passport applet (``sos.passportapplet`` r945, public source in
  martinpaljak/AppletPlayground ``src/sos/passportapplet/``), exactly as its source defines it:
  BAC only, RSA-1024 active authentication, a chip-authentication key over a binary field only,
  no CAN, short APDUs only, no SFI, files of at most 32767 bytes (Java ``short`` sizes), FID 011C
  is its EF.CVCA (not EF.CardAccess), DG3/DG4 behind EAC even before LOCK, reads only under BAC.

A :class:`Dialect` builds every PUT DATA the card is loaded with, says what an image needs that
the applet cannot hold (:meth:`Dialect.unsupported`, checked before the first APDU), how the
applet is recognised (:meth:`Dialect.identify`), and how it signals a locked applet. The writer
(:mod:`cardkit.applet.writer`) and the personalization service take everything dialect-specific
from here.

Pure: no I/O.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from cardkit.applet import commands
from cardkit.encoding import tlv
from cardkit.errors import CardError, CardkitError, EncodingError
from cardkit.iso7816.apdu import SW, Command, Response
from cardkit.lds import files

__all__ = [
    "CARDKIT",
    "DIALECTS",
    "IDENTIFY_TAG",
    "JMRTD",
    "Capabilities",
    "Dialect",
    "Identification",
    "KeyMaterial",
    "UnsupportedImageError",
    "WrongAppletError",
    "dialect_named",
]

#: GET DATA P1-P2 00 FE: cardkit's identification data object (answered in every state).
IDENTIFY_TAG = 0xFE
_TAG_NAME, _TAG_VERSION, _TAG_LIFE_CYCLE = 0x80, 0x81, 0x82
INS_GET_DATA = 0xCA

PutData = tuple[str, Command]  # (what is loaded — never its value, the command)


class UnsupportedImageError(CardkitError):
    """The card image needs what the applet cannot hold; nothing was sent to the card.
    ``features`` names each missing feature, ``hint`` what to do instead."""

    def __init__(self, message: str, *, dialect: str, features: tuple[str, ...], hint: str) -> None:
        self.dialect = dialect
        self.features = features
        self.hint = hint
        super().__init__(message)


class WrongAppletError(CardError):
    """The card's applet does not speak the dialect it is being personalized in."""


@dataclass(frozen=True)
class Capabilities:
    """What an applet can hold and how it is written."""

    extended_length: bool  # extended-length command APDUs (ISO/IEC 7816-4 §5.1)
    short_file_identifiers: bool  # READ BINARY with P1 = 80 | SFI (7816-4 §7.2.3)
    max_file_size: int  # bytes per EF
    odd_ins_update: bool  # UPDATE BINARY D7 with DO'54' offsets beyond 32 KiB (7816-4 §7.2.5)
    plain_read_before_lock: bool  # SELECT + READ BINARY in clear while personalizing
    fids: frozenset[int] | None  # the EFs the applet has slots for (None: any)
    eac_files: frozenset[int]  # EFs refused (6982) until terminal authentication
    locked: frozenset[int]  # status words of a personalization command on a locked applet
    rewrite_by_create: bool  # CREATE FILE of an existing EF (size within the allocation) works


@dataclass(frozen=True, repr=False)
class KeyMaterial:
    """The secrets one chip is loaded with (DOMAIN.md §7), as the dialect needs them."""

    document_number: str
    date_of_birth: str  # YYMMDD
    date_of_expiry: str  # YYMMDD
    can: str | None  # loaded only when the card offers PACE with the CAN
    chip_authentication: ec.EllipticCurvePrivateKey | None
    chip_authentication_key_id: int | None  # DG14's keyId, when it has one
    active_authentication: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | None
    #: The EAC trust point: the CVCA certificate (``7F21 …``, public), loaded by PUT DATA 64.
    cvca_certificate: bytes | None = None

    def __repr__(self) -> str:
        return "KeyMaterial(<redacted>)"


@dataclass(frozen=True)
class Identification:
    """What answered the identification probe: the dialect it speaks (None: not known)."""

    dialect: str | None
    life_cycle: str | None  # "personalization" / "locked" when the applet says so
    detail: str


def identify_command() -> Command:
    """GET DATA ``00 CA 00 FE 00``: harmless in every state of both applets (JMRTD's answers
    6D00, PassportApplet.java processAPDU default branch; cardkit's answers its DO'FE')."""
    return Command(0x00, INS_GET_DATA, 0x00, IDENTIFY_TAG, ne=256)


def identification_of(response: Response) -> Identification:
    """Interpret the answer to :func:`identify_command`."""
    if response.sw == SW.INS_NOT_SUPPORTED:
        return Identification(
            "jmrtd", None, "GET DATA is not supported (6D00), as in JMRTD's passport applet"
        )
    if response.sw != SW.OK:
        return Identification(None, None, f"GET DATA 00FE answered {response.sw:04X}")
    try:
        outer = tlv.decode_single(response.data, IDENTIFY_TAG, what="identification DO'FE'")
        values = {child.tag: child.value for child in tlv.decode_all(outer.value)}
    except EncodingError:
        return Identification(None, None, "GET DATA 00FE answered an unreadable data object")
    name = values.get(_TAG_NAME, b"").decode("ascii", "replace") or None
    life = {b"\x00": "personalization", b"\x01": "locked"}.get(values.get(_TAG_LIFE_CYCLE, b""))
    return Identification(name, life, f"the applet says it speaks the {name!r} dialect")


class Dialect(ABC):
    """One applet's personalization command set."""

    name: str
    capabilities: Capabilities
    #: What to do when an image does not fit (e.g. "use profile vn-cccd-jmrtd").
    hint: str

    @abstractmethod
    def put_data(self, keys: KeyMaterial) -> list[PutData]:
        """Every PUT DATA that loads ``keys``, in order. UnsupportedImageError for a key the
        applet cannot hold (call :meth:`unsupported` first to learn all of them at once)."""

    @abstractmethod
    def key_problems(self, keys: KeyMaterial) -> list[str]:
        """The features ``keys`` need that the applet lacks."""

    def identify(self, identification: Identification) -> None:
        """Raise WrongAppletError when the probe's answer is not this dialect's applet."""
        if identification.dialect == self.name:
            return
        if identification.dialect in DIALECTS:
            raise WrongAppletError(
                f"the card's applet speaks the {identification.dialect!r} dialect, not "
                f"{self.name!r} ({identification.detail}): personalize it with "
                f"--applet {identification.dialect} or a profile for that applet",
                sw=0,
            )
        raise WrongAppletError(
            f"the card's applet is not one cardkit knows ({identification.detail}); "
            f"it was expected to speak the {self.name!r} dialect",
            sw=0,
        )

    def unsupported(self, sizes: Mapping[files.FileSpec, int], keys: KeyMaterial) -> list[str]:
        """Every feature the image (file sizes by file, and the keys) needs that the applet
        lacks; empty when the card can hold it."""
        caps = self.capabilities
        problems: list[str] = []
        for spec, size in sizes.items():
            if caps.fids is not None and spec.fid not in caps.fids:
                problems.append(f"{spec.name}: the applet has no file {spec.fid:04X}")
            elif spec.fid in caps.eac_files:
                problems.append(
                    f"{spec.name}: the applet refuses it without EAC terminal authentication"
                )
            if size > caps.max_file_size:
                problems.append(
                    f"{spec.name} is {size} bytes: the applet's files hold at most "
                    f"{caps.max_file_size} bytes"
                )
        return problems + self.key_problems(keys)

    def check(self, sizes: Mapping[files.FileSpec, int], keys: KeyMaterial) -> None:
        """UnsupportedImageError naming every missing feature (nothing sent to a card)."""
        problems = self.unsupported(sizes, keys)
        if problems:
            raise UnsupportedImageError(
                f"the {self.name} applet cannot hold this card image: "
                + "; ".join(problems)
                + f" ({self.hint})",
                dialect=self.name,
                features=tuple(problems),
                hint=self.hint,
            )

    def trust_point(self, certificate: bytes, number: int = 1) -> Command:
        """PUT DATA ``00 DA <number> 64 <CV certificate>``: the EAC trust point (the CVCA
        certificate; JMRTD's applet takes 1 or 2, PassportApplet.java processPutData P2=64,
        CVCertificate.java setRootCertificate)."""
        if number not in (1, 2):
            raise ValueError("the applet keeps trust points 1 and 2")
        return Command(0x00, commands.INS_PUT_DATA, number, 0x64, bytes(certificate))


# --- cardkit ------------------------------------------------------------------------------------


class _CardkitDialect(Dialect):
    name = "cardkit"
    hint = "use a profile for the cardkit applet, e.g. vn-cccd-2021"
    capabilities = Capabilities(
        extended_length=True,
        short_file_identifiers=True,
        max_file_size=0xFFFF,
        odd_ins_update=True,
        plain_read_before_lock=True,
        fids=None,
        eac_files=frozenset(),
        locked=frozenset({SW.CONDITIONS_NOT_SATISFIED}),
        rewrite_by_create=False,
    )

    def key_problems(self, keys: KeyMaterial) -> list[str]:
        problems = []
        for what, key in (
            ("chip-authentication key", keys.chip_authentication),
            ("active-authentication key", keys.active_authentication),
        ):
            if isinstance(key, ec.EllipticCurvePrivateKey):
                try:
                    commands.curve_by_name(key.curve.name)
                except EncodingError:
                    problems.append(f"{what} on {key.curve.name}: not a prime curve cardkit knows")
        return problems

    def put_data(self, keys: KeyMaterial) -> list[PutData]:
        """``62`` MRZ seed, ``65`` CAN, ``63`` + ``67`` chip authentication, ``66`` EC or
        ``60``/``61`` RSA active authentication, each one BER-TLV whose tag is P2; then the
        EAC trust point, PUT DATA ``00 DA 01 64 <CVCA certificate>`` (:meth:`trust_point`)."""

        def put(p2: int, data: bytes) -> Command:
            return commands.put_data(0x00, p2, data)

        out: list[PutData] = [("MRZ seed", put(commands.TAG_MRZ_SEED, _mrz_seed(keys)))]
        if keys.can:
            out.append(("CAN", put(commands.TAG_CAN, commands.can_data(keys.can))))
        ca = keys.chip_authentication
        if ca is not None:
            data = commands.ec_private_key_data(commands.TAG_CA_PRIVATE_KEY, ca)
            out.append(("chip-authentication key", put(commands.TAG_CA_PRIVATE_KEY, data)))
            if keys.chip_authentication_key_id is not None:
                key_id = commands.key_id_data(keys.chip_authentication_key_id)
                out.append(("chip-authentication key ID", put(commands.TAG_CA_KEY_ID, key_id)))
        aa = keys.active_authentication
        if isinstance(aa, ec.EllipticCurvePrivateKey):
            data = commands.ec_private_key_data(commands.TAG_AA_EC_PRIVATE_KEY, aa)
            out.append(("active-authentication EC key", put(commands.TAG_AA_EC_PRIVATE_KEY, data)))
        elif isinstance(aa, rsa.RSAPrivateKey):
            out.append(
                ("active-authentication RSA modulus",
                 put(commands.TAG_RSA_MODULUS, commands.rsa_modulus_data(aa)))
            )  # fmt: skip
            out.append(
                ("active-authentication RSA private exponent",
                 put(commands.TAG_RSA_PRIVATE_EXPONENT, commands.rsa_exponent_data(aa)))
            )  # fmt: skip
        if keys.cvca_certificate is not None:
            out.append(("EAC trust point (CVCA)", self.trust_point(keys.cvca_certificate, 1)))
        return out


# --- JMRTD's passport applet -------------------------------------------------------------------

#: FileSystem.java getFileIndex: DG1..DG15, EF.SOD, EF.COM, EF.CVCA (and its DEAD log file).
_JMRTD_FIDS = frozenset(
    {files.dg(n).fid for n in range(1, 16)} | {files.SOD.fid, files.COM.fid, 0x011C}
)
#: KeyStore.java builds an RSA-1024 private key; processInternalAuthenticate signs 128 bytes.
JMRTD_RSA_BITS = 1024


class _JmrtdDialect(Dialect):
    name = "jmrtd"
    hint = "use profile vn-cccd-jmrtd (BAC, RSA-1024 active authentication, no CA, no DG3)"
    capabilities = Capabilities(
        extended_length=False,  # the JCRE answers 6700 (no javacardx.apdu.ExtendedLength)
        short_file_identifiers=False,  # processReadBinary takes P1-P2 as an offset
        max_file_size=0x7FFF,  # FileSystem.createFile: sizes are Java shorts
        odd_ins_update=False,
        plain_read_before_lock=False,  # processReadBinary needs BAC, even before LOCK
        fids=_JMRTD_FIDS,
        # FileSystem.getFileIndex: 6982 for DG3/DG4 until CVCertificate grants access (EAC)
        eac_files=frozenset({files.dg(3).fid, files.dg(4).fid}),
        # processPutData / processCreateFile / processUpdateBinary on a locked applet
        locked=frozenset({SW.CONDITIONS_NOT_SATISFIED}),
        rewrite_by_create=True,  # FileSystem.createFile: the first CREATE fixes the allocation
    )

    def key_problems(self, keys: KeyMaterial) -> list[str]:
        problems = []
        if keys.can:
            problems.append("PACE with a CAN: the applet has no PACE")
        if keys.chip_authentication is not None:
            problems.append(
                f"chip authentication on {keys.chip_authentication.curve.name}: the applet's "
                "chip-authentication key is over a binary field only (PUT DATA 63)"
            )
        aa = keys.active_authentication
        if isinstance(aa, ec.EllipticCurvePrivateKey):
            problems.append("ECDSA active authentication: the applet signs with RSA only")
        elif isinstance(aa, rsa.RSAPrivateKey) and aa.key_size != JMRTD_RSA_BITS:
            problems.append(
                f"RSA-{aa.key_size} active authentication: the applet holds RSA-1024 keys only"
            )
        return problems

    def unsupported(self, sizes: Mapping[files.FileSpec, int], keys: KeyMaterial) -> list[str]:
        problems = super().unsupported(sizes, keys)
        if files.CARD_ACCESS in sizes:
            # FID 011C is the applet's EF.CVCA (FileSystem.EF_CVCA_FID): writing EF.CardAccess
            # there would put PACE parameters in the EAC trust point's file.
            problems.insert(0, "PACE (EF.CardAccess): the applet has no PACE; its 011C is EF.CVCA")
        return problems

    def put_data(self, keys: KeyMaterial) -> list[PutData]:
        """``62`` MRZ seed as cardkit sends it; ``60 00 {04 L n}`` / ``61 00 {04 L d}``
        (PassportApplet.java processPutData: the outer length byte is 00 and skipped, then the
        04 object is read; RSA-1024 only)."""
        problems = self.key_problems(keys)
        if problems:
            raise UnsupportedImageError(
                "; ".join(problems), dialect=self.name, features=tuple(problems), hint=self.hint
            )
        # The applet hashes the document number exactly as sent, after its own check digit
        # (PassportApplet.java processPutData P2=62, PassportInit.computeKeySeed): send it as
        # the MRZ prints it, padded with '<' to 9 characters (9303-11 §4.3.1; JMRTD's host
        # sends MRZInfo's padded number), or a short number would give other BAC keys.
        number = keys.document_number.upper().rstrip("<").ljust(9, "<")
        seed = commands.mrz_seed_data(number, keys.date_of_birth, keys.date_of_expiry)
        out: list[PutData] = [("MRZ seed", commands.put_data(0x00, commands.TAG_MRZ_SEED, seed))]
        aa = keys.active_authentication
        if isinstance(aa, rsa.RSAPrivateKey):
            numbers = aa.private_numbers()
            size = (numbers.public_numbers.n.bit_length() + 7) // 8
            for what, tag, value in (
                ("active-authentication RSA modulus", commands.TAG_RSA_MODULUS,
                 numbers.public_numbers.n),
                ("active-authentication RSA private exponent", commands.TAG_RSA_PRIVATE_EXPONENT,
                 numbers.d),
            ):  # fmt: skip
                body = bytes((tag, 0x00)) + tlv.encode(0x04, value.to_bytes(size, "big"))
                out.append((what, Command(0x00, commands.INS_PUT_DATA, 0x00, tag, body)))
        if keys.cvca_certificate is not None:
            # PassportApplet.java processPutData P2=64 → CVCertificate.setRootCertificate (P1 1
            # or 2, the whole 7F21 certificate). The applet then writes its EF.CVCA (011C) itself
            # (CVCertificate.setupCVCA: ``42 L CAR`` per trust point, padded with 00 to 36
            # bytes); its TA verifies RSA-1024 with SHA-1 only (id-TA-RSA-v1-5-SHA-1), so an
            # ECDSA CVCA is loaded but TA against it cannot succeed on the genuine applet.
            out.append(("EAC trust point (CVCA)", self.trust_point(keys.cvca_certificate, 1)))
        return out


def _mrz_seed(keys: KeyMaterial) -> bytes:
    return commands.mrz_seed_data(keys.document_number, keys.date_of_birth, keys.date_of_expiry)


CARDKIT: Dialect = _CardkitDialect()
JMRTD: Dialect = _JmrtdDialect()
DIALECTS: Mapping[str, Dialect] = {d.name: d for d in (CARDKIT, JMRTD)}


def dialect_named(name: str) -> Dialect:
    """The dialect called ``name``; CardkitError listing the known ones otherwise."""
    try:
        return DIALECTS[name]
    except KeyError:
        raise CardkitError(
            f"unknown applet dialect {name!r}: choose one of {', '.join(DIALECTS)}"
        ) from None
