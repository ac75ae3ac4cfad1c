"""Card images for personalization tests (a helper module on the tests' path: not a test).

A station (CSCA, Document Signer, transport key in memory) prepares card images of the sample
citizens (profiles/samples/citizens.csv) with :func:`cardkit.services.prepare.prepare_card`.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path

from testpki import in_memory_issuer

from cardkit.lds.build import fit_face_for, fit_finger_for
from cardkit.lds.image import FittedImage
from cardkit.profile import Profile, load_profile
from cardkit.records import CitizenRecord, load_records, validate_all
from cardkit.services.card_image import CardImage, ChipSecrets
from cardkit.services.prepare import prepare_card

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "profiles" / "samples"
TODAY = date(2026, 11, 1)  # the samples' reference day (profiles/samples/README.md)
T0 = datetime(2026, 1, 1, tzinfo=UTC)
SIGNED_AT = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
VERIFIED_AT = SIGNED_AT + timedelta(days=1)


class Station:
    """A CSCA, a Document Signer and a transport key held in memory."""

    def __init__(self) -> None:
        pki = in_memory_issuer("personalize test")
        self.csca, self.transport, self.issuer, self.trust = (
            pki.csca,
            pki.transport,
            pki.issuer,
            pki.trust,
        )

    def image(self, profile: Profile, row: int = 0, card_id: str | None = None) -> CardImage:
        record = sample_records()[row % len(sample_records())]
        return prepare_card(
            record,
            profile,
            self.issuer,
            card_id=card_id or f"test-{row:05d}",
            photo=_fitted_face(row % len(sample_records()), profile.name),
            fingerprints=[],
            signing_time=SIGNED_AT,
        )

    def secrets(self, image: CardImage) -> ChipSecrets:
        return ChipSecrets.from_bytes(self.transport.decrypt(image.sealed, image.secrets_aad))


@lru_cache(maxsize=1)
def sample_records() -> tuple[CitizenRecord, ...]:
    results = validate_all(load_records(SAMPLES / "citizens.csv"), vn_profile(), TODAY)
    return tuple(r.record for r in results if r.record is not None)


@lru_cache(maxsize=16)
def _fitted_face(row: int, profile_name: str) -> FittedImage:
    record = sample_records()[row]
    return fit_face_for(record.photo_path.read_bytes(), vn_profile())


def fitted_finger(row: int) -> list[FittedImage]:
    record = sample_records()[row]
    return [fit_finger_for(p.read_bytes()) for p in record.fingerprint_paths]


@lru_cache(maxsize=1)
def vn_profile() -> Profile:
    return load_profile("vn-cccd-2021")


def bac_only_profile() -> Profile:
    """vn-cccd-2021 without PACE (no EF.CardAccess on the card): the reader must use BAC."""
    base = vn_profile()
    return dataclasses.replace(
        base, name="vn-cccd-bac", access=dataclasses.replace(base.access, pace_passwords=())
    )


def rsa_aa_profile() -> Profile:
    """vn-cccd-2021 with RSA active authentication (PUT DATA 60/61 instead of 66)."""
    base = vn_profile()
    access = dataclasses.replace(base.access, active_authentication="RSA", rsa_bits=2048)
    return dataclasses.replace(base, name="vn-cccd-rsa", access=access)


@lru_cache(maxsize=1)
def jmrtd_profile() -> Profile:
    """The VN card on JMRTD's passport applet (BAC, RSA-1024 AA, no CA, no DG3)."""
    return load_profile("vn-cccd-jmrtd")
