"""Personalization: a prepared card image → a blank chip, locked, then read back and checked
(``cardkit personalize``; DOMAIN.md §7, ICAO 9303-10/-11).

Every command is built by the applet's dialect (:mod:`cardkit.applet.dialect`: the profile's
``[applet] dialect``, or ``dialect=``), and before the first APDU the image is checked against
it: an image the applet cannot hold (PACE on JMRTD's applet, an ECDSA or RSA-2048 key where it
signs with RSA-1024, a file over its size) raises UnsupportedImageError naming every missing
feature, with nothing sent.

The order of work, each APDU a numbered step (an operator log says "step 17: UPDATE BINARY DG2
at offset 4096 (4096 bytes)"):

1. *check*: decide the chunk size (extended length, see :mod:`cardkit.applet.writer`), SELECT the
   applet, identify it (the dialect's probe: a card whose applet speaks another dialect is
   refused) and make sure the card is blank — a SELECT of each file of the image must answer
   6A82. A locked or already personalized card is refused here, before anything is written
   (``rewrite=True`` writes an unlocked card that holds files again).
2. *files*: CREATE FILE, SELECT, UPDATE BINARY of every file of the image, EF.CardAccess included.
3. *secrets*: PUT DATA of the MRZ seed (BAC), the CAN (only when the card offers PACE with it),
   the chip-authentication key and its key ID (from DG14), the active-authentication key.
4. *verify*: before the irreversible step, every file is read back and compared with the image —
   in clear where the applet allows it (cardkit's), else under BAC (JMRTD's applet reads only
   under secure messaging, even before LOCK), with active authentication. A difference leaves
   the card *unlocked* (status ``"unlocked"``): nothing is spoiled, it can be written again.
5. *lock*: PUT DATA DE AD (then a card reset when step 4 opened a secure channel: JMRTD's
   applet refuses a second BAC in one session).
6. *read-back*: the whole card is read through secure messaging as a verifier would
   (:func:`cardkit.services.read.read_card`: PACE-CAN when the profile offers the CAN and the card
   has one, else the MRZ), with chip and active authentication; every file read must equal the
   image's bytes, and passive authentication (ICAO 9303-11 §5.1: DG hashes and the SOD signature;
   with a trust store also the Document Signer's chain) must pass.

A card that leaves the reader (:class:`~cardkit.errors.TransportError`) raises
:class:`TornCardError` naming the step and phase: before *lock* the card is not locked and can
be written again; from *lock* on it cannot. Secrets never appear in results, messages or logs.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Literal

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from cardkit.applet.dialect import Dialect, KeyMaterial, dialect_named
from cardkit.applet.writer import AppletWriter
from cardkit.errors import CardError, EncodingError, ProtocolError, TransportError
from cardkit.iso7816.apdu import Command, Response
from cardkit.iso7816.connection import Connection, connection_atr, reset_card, short_apdus_only
from cardkit.lds import files
from cardkit.lds.com import Com
from cardkit.lds.dg14 import Dg14
from cardkit.lds.files import FileSpec
from cardkit.pki.passive import passive_authentication
from cardkit.pki.trust import TrustStore
from cardkit.profile import Profile
from cardkit.report import Check, Status
from cardkit.services.card_image import CardImage, CardImageError, ChipSecrets
from cardkit.services.read import AccessKey, CardRead, CountingConnection, read_card
from cardkit.services.read_binary import ReadLimits, read_file

__all__ = [
    "READ_BACK_STEP",
    "PersonalizeResult",
    "ReadBackVerdict",
    "TornCardError",
    "access_key_for",
    "check_read_back",
    "image_digest",
    "personalize",
    "write_order",
]

Rng = Callable[[int], bytes]
#: ok: locked and verified; failed: locked, but the read-back found a problem (do not issue it);
#: unlocked: the check before LOCK found a difference, the card was left unlocked (rewritable).
PersonalizeStatus = Literal["ok", "failed", "unlocked"]
Phase = Literal["check", "files", "secrets", "verify", "lock", "read-back"]

#: Data groups a verifier cannot read without EAC terminal authentication (9303-11 §7): the card
#: must refuse them (6982), so they are not compared with the image.
EAC_DATA_GROUPS = frozenset({3, 4})
#: The step after LOCK (and the reset): from here on the card is written and locked.
READ_BACK_STEP = "read back through secure messaging, CA and AA"
#: Passive-authentication checks that do not need a trust store (the others need a CSCA).
_CHECKS_WITHOUT_TRUST = ("sod.parse", "dg.hash", "sod.signature", "dsc.validity", "com.consistency")


class TornCardError(TransportError):
    """The card left the reader during personalization. ``step`` names what was being done,
    ``step_number`` its number in the operator log, ``phase`` the phase."""

    def __init__(
        self, message: str, *, step: str, step_number: int, phase: str, reader: str | None = None
    ) -> None:
        self.step = step
        self.step_number = step_number
        self.phase = phase
        super().__init__(message, reader=reader)


@dataclass(frozen=True)
class ReadBackVerdict:
    """What the read-back found. ``problems`` name the file or check, never its content."""

    ok: bool
    access: str | None
    chip_authentication: str
    active_authentication: str
    files_checked: tuple[str, ...]
    protected: tuple[str, ...]
    problems: tuple[str, ...]
    notes: tuple[str, ...] = ()
    passive: tuple[Check, ...] = field(default=(), repr=False)
    apdu_count: int = 0
    bytes_exchanged: int = 0

    def describe(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "access": self.access,
            "chip_authentication": self.chip_authentication,
            "active_authentication": self.active_authentication,
            "files_checked": list(self.files_checked),
            "protected": list(self.protected),
            "problems": list(self.problems),
            "notes": list(self.notes),
            "passive_authentication": [c.to_dict() for c in self.passive],
            "apdu_count": self.apdu_count,
            "bytes_exchanged": self.bytes_exchanged,
        }


@dataclass(frozen=True)
class PersonalizeResult:
    """One personalized card: counts of the writing phases (``apdu_count``, ``bytes_exchanged``
    cover check, files, secrets and lock; the read-back has its own in ``verdict``), the file
    bytes written, the seconds spent per phase, and the read-back verdict. No secrets."""

    card_id: str
    status: PersonalizeStatus
    steps_done: int
    apdu_count: int
    bytes_exchanged: int
    file_bytes: int
    extended_length: bool
    durations: Mapping[str, float]
    verdict: ReadBackVerdict
    detail: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "durations", MappingProxyType(dict(self.durations)))

    @property
    def total_apdus(self) -> int:
        return self.apdu_count + self.verdict.apdu_count

    @property
    def seconds(self) -> float:
        return sum(self.durations.values())

    def describe(self) -> dict[str, object]:
        return {
            "card_id": self.card_id,
            "status": self.status,
            "detail": self.detail,
            "steps_done": self.steps_done,
            "apdu_count": self.apdu_count,
            "bytes_exchanged": self.bytes_exchanged,
            "file_bytes": self.file_bytes,
            "extended_length": self.extended_length,
            "durations": {k: round(v, 6) for k, v in self.durations.items()},
            "read_back": self.verdict.describe(),
        }


def write_order(image: CardImage) -> list[FileSpec]:
    """EF.CardAccess, EF.COM, the data groups by number, EF.SOD last: a card torn mid-way
    never holds an EF.SOD that vouches for files it does not have."""

    def key(spec: FileSpec) -> tuple[int, int]:
        if spec == files.CARD_ACCESS:
            return (0, 0)
        if spec == files.COM:
            return (1, 0)
        if spec.dg is not None:
            return (2, spec.dg)
        return (3, spec.fid)

    return sorted(image.files, key=key)


def access_key_for(profile: Profile, secrets: ChipSecrets, image: CardImage) -> AccessKey:
    """PACE-CAN when the profile offers the CAN, the card has one and EF.CardAccess is on it;
    else the MRZ (PACE-MRZ or BAC, as the chip offers)."""
    if "CAN" in profile.access.pace_passwords and secrets.can and files.CARD_ACCESS in image.files:
        return AccessKey.from_can(secrets.can)
    return AccessKey.from_mrz_fields(
        secrets.document_number, secrets.date_of_birth, secrets.date_of_expiry
    )


def _validate_image(image: CardImage) -> None:
    for spec, data in image.files.items():
        if not data:
            raise CardImageError(f"{image.card_id}: {spec.name} is empty")


def _ca_key_id(image: CardImage) -> int | None:
    raw = image.files.get(files.dg(14))
    if raw is None:
        return None
    try:
        keys = Dg14.from_bytes(raw).security_infos.chip_authentication_public_keys
    except (EncodingError, ValueError):
        return None
    return keys[0].key_id if keys else None


def key_material(image: CardImage, secrets: ChipSecrets, profile: Profile) -> KeyMaterial:
    """The secrets to load, as the dialects take them. The CAN goes to the chip only when the
    card offers PACE with it (the profile's CAN and EF.CardAccess on the card): a chip without
    PACE has no use for it. The image's CVCA certificate is the EAC trust point (public, its
    digest bound to the sealed secrets). CardImageError for keys that cannot be loaded (never
    their value)."""
    try:
        ca = secrets.private_key("chip_authentication")
        aa = secrets.private_key("active_authentication")
    except (ValueError, TypeError):
        raise CardImageError(f"{image.card_id}: the sealed chip keys cannot be loaded") from None
    if ca is not None and not isinstance(ca, ec.EllipticCurvePrivateKey):
        raise CardImageError(f"{image.card_id}: the chip-authentication key is not an EC key")
    if aa is not None and not isinstance(aa, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise CardImageError(f"{image.card_id}: the active-authentication key type is unsupported")
    offers_can = "CAN" in profile.access.pace_passwords and files.CARD_ACCESS in image.files
    return KeyMaterial(
        document_number=secrets.document_number,
        date_of_birth=secrets.date_of_birth,
        date_of_expiry=secrets.date_of_expiry,
        can=secrets.can if offers_can else None,
        chip_authentication=ca,
        chip_authentication_key_id=_ca_key_id(image) if ca is not None else None,
        active_authentication=aa,
        cvca_certificate=image.cvca_certificate,
    )


def _first_difference(a: bytes, b: bytes) -> int:
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return i
    return min(len(a), len(b))


def compare_files(image: CardImage, got: Mapping[FileSpec, bytes]) -> list[str]:
    """Each file of the image that ``got`` lacks or holds differently (EAC-protected data
    groups the chip did not serve are left out: it refuses them without terminal
    authentication); names and offsets, never content."""
    problems = []
    for spec, data in image.files.items():
        if spec.dg in EAC_DATA_GROUPS and spec not in got:
            continue
        read = got.get(spec)
        if read is None:
            problems.append(f"{spec.name} could not be read back")
        elif read != data:
            problems.append(
                f"{spec.name} read back differs from the image (at byte "
                f"{_first_difference(read, data)}; {len(read)} bytes read, {len(data)} written)"
            )
    return problems


def check_read_back(
    image: CardImage,
    read: CardRead,
    key: AccessKey,
    *,
    trust: TrustStore | None,
    at: datetime.datetime,
) -> ReadBackVerdict:
    """Compare what the chip served with the image and run passive authentication on it."""
    problems: list[str] = []
    notes: list[str] = list(read.errors)
    checked: list[str] = []
    protected: list[str] = []
    expected_access = "PACE-CAN" if key.kind == "CAN" else None
    if expected_access is not None and read.access != expected_access:
        problems.append(f"the card was opened with {read.access}, not {expected_access}")
    problems += compare_files(image, read.files)
    for spec in image.files:
        if spec.dg in EAC_DATA_GROUPS and read.files.get(spec) is None:
            if spec.dg in read.protected:
                protected.append(spec.name)
            else:
                problems.append(f"{spec.name} was neither read nor refused as EAC-protected")
        elif read.files.get(spec) == image.files[spec]:
            checked.append(spec.name)
    for spec in read.files:
        if spec not in image.files:
            problems.append(f"{spec.name} is on the card but not in the image")

    passive: tuple[Check, ...] = ()
    sod = read.files.get(files.SOD)
    if sod is None:
        problems.append("passive authentication: EF.SOD was not read back")
    else:
        com_groups = None
        com = read.files.get(files.COM)
        if com is not None:
            try:
                com_groups = Com.from_bytes(com).data_groups
            except EncodingError:
                problems.append("EF.COM read back is malformed")
        passive = passive_authentication(
            sod, read.data_groups(), trust or TrustStore(), at=at, com_data_groups=com_groups
        )
        for check in passive:
            counted = trust is not None or check.id.startswith(_CHECKS_WITHOUT_TRUST)
            if check.status is Status.FAIL and counted:
                problems.append(f"passive authentication {check.id}: {check.detail}")
    dg14 = image.files.get(files.dg(14))
    if dg14 is not None and _ca_public_keys(dg14) and read.chip_authentication not in (
        "CA", "PACE-CAM",
    ):  # fmt: skip
        problems.append(f"chip authentication: {read.chip_authentication}")
    aa_state = "not performed"
    if read.aa is not None:
        aa_state = "verified" if read.aa.verified else "failed"
    if files.dg(15) in image.files and aa_state != "verified":
        problems.append(f"active authentication: {aa_state}")
    return ReadBackVerdict(
        ok=not problems,
        access=read.access,
        chip_authentication=read.chip_authentication,
        active_authentication=aa_state,
        files_checked=tuple(checked),
        protected=tuple(protected),
        problems=tuple(problems),
        notes=tuple(notes),
        passive=passive,
        apdu_count=read.apdu_count,
        bytes_exchanged=read.bytes_exchanged,
    )


def _ca_public_keys(dg14: bytes) -> bool:
    try:
        return bool(Dg14.from_bytes(dg14).security_infos.chip_authentication_public_keys)
    except (EncodingError, ValueError):
        return False


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class _Steps:
    """Numbers the steps as they are carried out (the writer reports each one)."""

    def __init__(self, progress: Callable[[int, str], None] | None) -> None:
        self.number = 0
        self.name = "not started"
        self.phase: Phase = "check"
        self.progress = progress

    def __call__(self, name: str) -> None:
        self.number += 1
        self.name = name
        if self.progress is not None:
            self.progress(self.number, name)


def personalize(
    connection: Connection,
    image: CardImage,
    secrets: ChipSecrets,
    profile: Profile,
    *,
    trust: TrustStore | None = None,
    rng: Rng = os.urandom,
    progress: Callable[[int, str], None] | None = None,
    extended_length: bool | None = None,
    clock: Callable[[], datetime.datetime] = _utc_now,
    dialect: Dialect | None = None,
    rewrite: bool = False,
) -> PersonalizeResult:
    """Write ``image`` and ``secrets`` to the blank chip on ``connection``, check it, lock it,
    read it back and check it again (module docstring).

    ``progress(step_number, step_name)`` is called before each step. ``extended_length`` forces
    (True) or forbids (False) extended-length UPDATE BINARY; by default the card decides.
    ``dialect`` overrides the profile's applet dialect. ``rewrite`` writes a card that is not
    locked but holds files (left ``"unlocked"`` by an earlier attempt) instead of refusing it.
    The image's CVCA certificate, when it has one, is loaded as the EAC trust point.

    Returns a result with status ``"ok"``, ``"failed"`` (the read-back after LOCK found a
    problem: the card is locked but must not be issued) or ``"unlocked"`` (the check before LOCK
    found a difference: the card was not locked and can be written again). Raises
    :class:`TornCardError` when the card leaves the reader;
    :class:`~cardkit.applet.writer.AppletLockedError` /
    :class:`~cardkit.applet.writer.AlreadyPersonalizedError` for a card that is not blank, and
    :class:`~cardkit.applet.dialect.WrongAppletError` for an applet of another dialect (nothing
    written); :class:`~cardkit.errors.CardError` naming the step for any other refusal;
    CardImageError or :class:`~cardkit.applet.dialect.UnsupportedImageError` for an image the
    applet cannot take (nothing sent).
    """
    dialect = dialect if dialect is not None else dialect_named(profile.applet.dialect)
    _validate_image(image)
    keys = key_material(image, secrets, profile)
    dialect.check({spec: len(data) for spec, data in image.files.items()}, keys)
    order = write_order(image)
    put_data = dialect.put_data(keys)
    key = access_key_for(profile, secrets, image)
    sfi = dialect.capabilities.short_file_identifiers

    steps = _Steps(progress)
    counter = CountingConnection(connection)
    if extended_length is None and short_apdus_only(connection):
        extended_length = False  # T=0: short APDUs only (ISO/IEC 7816-3 §12.1)
    writer = AppletWriter(
        counter,
        extended=extended_length,
        atr=connection_atr(connection),
        on_step=steps,
        dialect=dialect,
    )
    durations: dict[str, float] = {}
    started = time.perf_counter()

    def phase_done(name: Phase) -> None:
        nonlocal started
        now = time.perf_counter()
        durations[name] = durations.get(name, 0.0) + now - started
        started = now

    def result(status: PersonalizeStatus, verdict: ReadBackVerdict) -> PersonalizeResult:
        return PersonalizeResult(
            card_id=image.card_id,
            status=status,
            steps_done=steps.number,
            apdu_count=counter.apdu_count,
            bytes_exchanged=counter.bytes_exchanged,
            file_bytes=writer.data_bytes,
            extended_length=writer.extended,
            durations=durations,
            verdict=verdict,
            detail="; ".join(verdict.problems),
        )

    try:
        steps.phase = "check"
        writer.detect_extended()
        writer.select_applet()
        writer.identify()
        if not rewrite:
            writer.check_blank((spec.name, spec.fid) for spec in order)
        phase_done("check")
        steps.phase = "files"
        for spec in order:
            writer.write_file(spec.name, spec.fid, image.files[spec], rewrite=rewrite)
        phase_done("files")
        steps.phase = "secrets"
        for what, command in put_data:
            writer.put_data(what, command)
        phase_done("secrets")
        steps.phase = "verify"
        before_lock = _verify_before_lock(writer, image, secrets, order, rng, steps)
        phase_done("verify")
        if before_lock.problems:
            return result("unlocked", before_lock)
        steps.phase = "lock"
        writer.lock()
        if before_lock.access is not None:  # a secure channel is open: start afresh
            steps("reset the card")
            if not reset_card(connection):
                raise ProtocolError(
                    "the card cannot be reset to open access again after LOCK", step="reset"
                )
        phase_done("lock")
        steps.phase = "read-back"
        steps(READ_BACK_STEP)
        read = read_card(connection, key, rng=rng, short_file_identifiers=sfi)
        phase_done("read-back")
    except TransportError as exc:
        if isinstance(exc, TornCardError):
            raise
        after = {
            "check": "nothing was written: the card can be put back",
            "files": "the card holds part of the image and is not locked: it can only be "
            "written again (personalize --rewrite)",
            "secrets": "the card holds the files and part of its keys and is not locked: it can "
            "only be written again (personalize --rewrite)",
            "verify": "the card holds the image and is not locked: it can be written again "
            "(personalize --rewrite)",
            "lock": "the card may or may not be locked: it cannot be used",
            "read-back": "the card is personalized and locked but was not verified: "
            "read it with `cardkit verify` before issuing it",
        }[steps.phase]
        raise TornCardError(
            f"card {image.card_id}: the card left the reader at step {steps.number} "
            f"({steps.name}); {after} [{exc}]",
            step=steps.name,
            step_number=steps.number,
            phase=steps.phase,
            reader=exc.reader,
        ) from exc

    verdict = check_read_back(image, read, key, trust=trust, at=clock())
    return result("ok" if verdict.ok else "failed", verdict)


def _verify_before_lock(
    writer: AppletWriter,
    image: CardImage,
    secrets: ChipSecrets,
    order: list[FileSpec],
    rng: Rng,
    steps: _Steps,
) -> ReadBackVerdict:
    """Read every written file back before LOCK and compare it with the image: SELECT + READ
    BINARY in clear where the dialect allows it, else through BAC with the MRZ seed just loaded
    (then ``access`` is set: a secure channel is open) with active authentication, as JMRTD's
    applet reads only under BAC (PassportApplet.java processReadBinary)."""
    caps = writer.dialect.capabilities
    if caps.plain_read_before_lock:
        got: dict[FileSpec, bytes] = {}
        limits = ReadLimits(True, writer.chunk) if writer.extended else ReadLimits()
        for spec in order:
            if spec.dg in EAC_DATA_GROUPS:
                continue
            writer.select_file(spec.name, spec.fid)
            reads = _Stepping(writer.connection, steps, f"READ BINARY {spec.name} before LOCK")
            try:
                got[spec] = read_file(reads, spec, limits, use_sfi=False)
            except (CardError, EncodingError, ProtocolError) as exc:
                return _unlocked([f"{spec.name} could not be read back before LOCK: {exc}"])
        return _unlocked(compare_files(image, got))
    key = AccessKey.from_mrz_fields(
        secrets.document_number, secrets.date_of_birth, secrets.date_of_expiry
    )
    try:
        read = read_card(
            _Stepping(writer.connection, steps, "check before LOCK: read under BAC"),
            key,
            rng=rng,
            chip_authentication=False,
            short_file_identifiers=caps.short_file_identifiers,
        )
    except (CardError, EncodingError, ProtocolError) as exc:
        return _unlocked([f"the card could not be read back before LOCK: {exc}"])
    problems = compare_files(image, read.files)
    if files.dg(15) in image.files and not (read.aa is not None and read.aa.verified):
        problems.append("active authentication before LOCK: not verified")
    return replace(_unlocked(problems), access=read.access)


class _Stepping:
    """A connection that numbers each APDU as a step (``name``): the operator log and a torn
    card's report say which one was under way."""

    def __init__(self, inner: Connection, steps: _Steps, name: str) -> None:
        self.inner = inner
        self.steps = steps
        self.name = name

    def send(self, command: Command) -> Response:
        self.steps(self.name)
        return self.inner.send(command)


def _unlocked(problems: list[str]) -> ReadBackVerdict:
    """The verdict of the check before LOCK (``problems``: what differs)."""
    return ReadBackVerdict(
        ok=not problems,
        access=None,
        chip_authentication="not performed",
        active_authentication="not performed",
        files_checked=(),
        protected=(),
        problems=tuple(
            f"before LOCK: {p} — the card was left unlocked and can be written again"
            for p in problems
        ),
    )


def image_digest(image: CardImage) -> str:
    """A short fingerprint of the image's EF.SOD (for logs: no personal data)."""
    return hashlib.sha256(image.sod).hexdigest()[:16]
