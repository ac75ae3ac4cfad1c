"""Data preparation: validated records → signed, sealed card images (``cardkit prepare``).

For each good record: generate the chip's key pairs, build the LDS files, sign EF.SOD with the
Document Signer, seal the chip's secrets under the batch transport key, write the card image
atomically and append the signature to the audit log. Bad records are reported with all their
problems and skipped; a record whose card image already exists is skipped, so a re-run after a
crash finishes the batch without preparing any card twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Literal, Protocol

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from cardkit.errors import CardkitError
from cardkit.lds import files
from cardkit.lds.build import ChipPublicKeys, build_lds
from cardkit.lds.image import FittedImage
from cardkit.pki.algorithms import CURVES
from cardkit.pki.audit import AuditLog
from cardkit.pki.signer import HashName, PrivateKey, SignatureScheme, Signer
from cardkit.pki.sod_sign import sign_sod
from cardkit.profile import Profile
from cardkit.records import CitizenRecord, ImageChecks, Validated, iter_records, validate_stream
from cardkit.services.card_image import (
    CardImage,
    ChipSecrets,
    private_key_der,
    secrets_aad,
    write_card_image,
)


class Sealer(Protocol):
    """What prepare needs of the batch transport key (see cardkit.pki.keystore.transport)."""

    @property
    def key_id(self) -> str: ...

    def encrypt(self, plaintext: bytes, aad: bytes) -> bytes: ...


@dataclass(frozen=True)
class Issuer:
    """The keys a preparation station signs and seals with."""

    dsc_signer: Signer
    dsc_certificate: x509.Certificate
    transport: Sealer
    scheme: SignatureScheme = field(default_factory=SignatureScheme)
    hash_name: HashName = "sha256"


@dataclass(frozen=True)
class ChipKeys:
    chip_authentication: ec.EllipticCurvePrivateKey | None
    active_authentication: PrivateKey | None

    def __repr__(self) -> str:
        return "ChipKeys(<redacted>)"

    def public(self) -> ChipPublicKeys:
        ca, aa = self.chip_authentication, self.active_authentication
        return ChipPublicKeys(
            chip_authentication=ca.public_key() if ca else None,
            active_authentication=aa.public_key() if aa else None,
        )


def generate_chip_keys(profile: Profile) -> ChipKeys:
    """Fresh key pairs for one chip, as the profile asks (9303-11 §6.1 AA, §6.2 CA)."""
    access = profile.access
    ca = (
        ec.generate_private_key(CURVES[access.chip_authentication_curve]())
        if (access.chip_authentication)
        else None
    )
    aa: PrivateKey | None = None
    if access.active_authentication == "ECDSA":
        aa = ec.generate_private_key(CURVES[access.active_authentication_curve]())
    elif access.active_authentication == "RSA":
        aa = rsa.generate_private_key(65537, access.rsa_bits)
    return ChipKeys(ca, aa)


Status = Literal["prepared", "rejected", "skipped", "failed"]


@dataclass(frozen=True)
class Outcome:
    """What happened to one record. ``detail`` never carries secrets."""

    row: int
    status: Status
    card_id: str | None
    detail: str
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class Summary:
    outcomes: tuple[Outcome, ...]

    def count(self, status: Status) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def ok(self) -> bool:
        return self.count("rejected") == 0 and self.count("failed") == 0


def card_id_for(records_file: Path, row: int) -> str:
    """A stable card id: the records file's name and the row (no personal data in folder names)."""
    return f"{records_file.stem}-{row:05d}"


def prepare_card(
    record: CitizenRecord,
    profile: Profile,
    issuer: Issuer,
    *,
    card_id: str,
    photo: bytes | FittedImage,
    fingerprints: Iterable[bytes | FittedImage] = (),
    signing_time: datetime,
    chip_keys: ChipKeys | None = None,
    cvca_certificate: bytes | None = None,
) -> CardImage:
    """Build, sign and seal one card image in memory (pure apart from key generation).

    ``photo``/``fingerprints`` may be already fitted (:func:`cardkit.lds.build.fit_face_for`),
    which keeps image encoding out of the signing line; ``chip_keys`` may be pre-generated.
    ``cvca_certificate`` (the CVCA's CV certificate) becomes the chip's EAC trust point.
    """
    keys = chip_keys or generate_chip_keys(profile)
    lds = build_lds(
        record, profile, photo=photo, fingerprints=list(fingerprints), keys=keys.public()
    )
    sod = sign_sod(
        lds.data_groups(),
        issuer.dsc_signer,
        issuer.dsc_certificate,
        signing_time=signing_time,
        scheme=issuer.scheme,
        hash_name=issuer.hash_name,
    )
    sod_bytes = bytes(sod)
    secrets = ChipSecrets(
        document_number=lds.mrz.document_number,
        date_of_birth=lds.mrz.date_of_birth,
        date_of_expiry=lds.mrz.date_of_expiry,
        can=record.can,
        chip_authentication_key=(
            private_key_der(keys.chip_authentication) if keys.chip_authentication else None
        ),
        active_authentication_key=(
            private_key_der(keys.active_authentication) if keys.active_authentication else None
        ),
    )
    all_files = dict(lds.files)
    all_files[files.SOD] = sod_bytes
    return CardImage(
        card_id=card_id,
        profile=profile.name,
        files=all_files,
        sealed=issuer.transport.encrypt(
            secrets.to_bytes(), secrets_aad(card_id, sod_bytes, cvca_certificate)
        ),
        transport_key_id=issuer.transport.key_id,
        metadata={
            "sod": {
                "hash_algorithm": issuer.hash_name,
                "dsc_serial": format(issuer.dsc_certificate.serial_number, "X"),
                "dsc_subject": issuer.dsc_certificate.subject.rfc4514_string(),
                "signing_time": signing_time.isoformat(),
            },
        },
        cvca_certificate=cvca_certificate,
    )


def prepare_batch(
    records_file: Path,
    profile: Profile,
    issuer: Issuer,
    out_dir: Path,
    *,
    today: date,
    clock: Callable[[], datetime],
    audit: AuditLog | None = None,
    progress: Callable[[Outcome, int, int], None] | None = None,
    jobs: int = 1,
    images: ImageChecks | None = None,
    cvca_certificate: bytes | None = None,
) -> Summary:
    """Prepare every good record of ``records_file`` into ``out_dir``; report every record.

    The records are read twice, streaming: once to count them (``progress``'s total; a file
    that cannot be used fails here, before any card is signed), then validated one by one
    just before each is prepared, so memory does not grow with the file (but for the outcomes
    returned). ``jobs`` > 1 validates in that many worker processes, ahead of the preparation
    (:func:`cardkit.records.validate_stream`); the outcomes are the same. ``images`` checks the
    photo and fingerprint files (:class:`cardkit.records.ImageChecks`; by default their
    structure, as ``records check``). ``cvca_certificate`` is every chip's EAC trust point.
    """
    total = sum(1 for _ in iter_records(records_file))
    results = validate_stream(iter_records(records_file), profile, today, jobs=jobs, images=images)
    outcomes = []
    for done, result in enumerate(results, start=1):
        outcome = _prepare_one(
            result, records_file, profile, issuer, out_dir, clock, audit, cvca_certificate
        )
        outcomes.append(outcome)
        if progress is not None:
            progress(outcome, done, max(total, done))
    return Summary(tuple(outcomes))


def _prepare_one(
    result: Validated,
    records_file: Path,
    profile: Profile,
    issuer: Issuer,
    out_dir: Path,
    clock: Callable[[], datetime],
    audit: AuditLog | None,
    cvca_certificate: bytes | None,
) -> Outcome:
    row = result.raw.row
    if result.record is None:
        problems = tuple(f"{p.field or 'row'}: {p.message} [{p.code}]" for p in result.problems)
        return Outcome(row, "rejected", None, f"{len(problems)} problem(s)", problems)
    card_id = card_id_for(records_file, row)
    if (out_dir / card_id).exists():
        return Outcome(row, "skipped", card_id, "already prepared")
    record = result.record
    try:
        photo = record.photo_path.read_bytes()
        fingers = [p.read_bytes() for p in record.fingerprint_paths]
        now = clock()
        image = prepare_card(
            record,
            profile,
            issuer,
            card_id=card_id,
            photo=photo,
            fingerprints=fingers,
            signing_time=now,
            cvca_certificate=cvca_certificate,
        )
        # The signature is audited as soon as it exists, before the card image is written:
        # a crash in between leaves an audited signature for an unwritten card, never the reverse.
        if audit is not None:
            audit.record_signature(
                time=now,
                key_id=issuer.dsc_signer.key_id,
                dsc_serial=issuer.dsc_certificate.serial_number,
                document_number=record.document_number,
                sod_digest=hashlib.sha256(image.sod).digest(),
                card_id=card_id,
            )
        write_card_image(image, out_dir)
    except (CardkitError, OSError) as exc:
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return Outcome(row, "failed", card_id, detail)
    return Outcome(row, "prepared", card_id, "")
