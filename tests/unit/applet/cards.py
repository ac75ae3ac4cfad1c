"""Card images for personalization tests (a helper module, loaded by file path: not a test).

A station (CSCA, Document Signer, transport key in memory) prepares card images of the sample
citizens (profiles/samples/citizens.csv) with :func:`cardkit.services.prepare.prepare_card`.
"""

from __future__ import annotations

import dataclasses
import os
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cardkit.lds.build import fit_face_for, fit_finger_for
from cardkit.lds.image import FittedImage
from cardkit.pki import certs
from cardkit.pki.keystore.transport import FileTransportKey
from cardkit.pki.signer import LocalSigner, SignatureScheme
from cardkit.pki.trust import TrustStore
from cardkit.profile import Profile, load_profile
from cardkit.records import CitizenRecord, load_records, validate_all
from cardkit.services.card_image import CardImage, ChipSecrets, secrets_aad
from cardkit.services.prepare import Issuer, prepare_card

REPO = Path(__file__).resolve().parents[3]
SAMPLES = REPO / "profiles" / "samples"
TODAY = date(2026, 11, 1)  # the samples' reference day (profiles/samples/README.md)
T0 = datetime(2026, 1, 1, tzinfo=UTC)
SIGNED_AT = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
VERIFIED_AT = SIGNED_AT + timedelta(days=1)


class Station:
    """A CSCA, a Document Signer and a transport key held in memory."""

    def __init__(self) -> None:
        scheme = SignatureScheme("sha256")
        csca_signer = LocalSigner(ec.generate_private_key(ec.SECP384R1()), "csca")
        self.csca = certs.create_csca(
            csca_signer,
            country="VN",
            common_name="CSCA VN personalize test",
            serial=certs.new_serial_number(),
            not_before=T0,
            not_after=T0 + timedelta(days=6000),
            private_key_usage_end=T0 + timedelta(days=1000),
            scheme=scheme,
        )
        dsc_key = ec.generate_private_key(ec.SECP256R1())
        dsc = certs.issue_dsc(
            csca_signer,
            self.csca,
            dsc_key.public_key(),
            common_name="DS VN personalize test",
            serial=certs.new_serial_number(),
            not_before=T0,
            not_after=T0 + timedelta(days=5000),
            private_key_usage_end=T0 + timedelta(days=365),
            scheme=scheme,
        )
        self.transport = FileTransportKey("tk-0123456789abcdef", AESGCM(os.urandom(32)))
        self.issuer = Issuer(LocalSigner(dsc_key, "file:dsc.key.pem"), dsc, self.transport)
        self.trust = TrustStore((self.csca,))

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
        return ChipSecrets.from_bytes(
            self.transport.decrypt(image.sealed, secrets_aad(image.card_id, image.sod))
        )


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
