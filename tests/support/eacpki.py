"""A small EAC CV PKI and a personalized chip with a trust point, for the TA tests (a helper
module on the tests' path: not a test)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from cards import SIGNED_AT, TODAY, VERIFIED_AT, Station, fitted_finger, sample_records, vn_profile
from cryptography.hazmat.primitives.asymmetric import ec

from cardkit.emulator.card import EmulatedCard, EmulatorConnection
from cardkit.emulator.state import CardState
from cardkit.encoding import oids
from cardkit.lds import files
from cardkit.lds.build import fit_face_for
from cardkit.pki import cvc
from cardkit.pki.cvc import CertificateBody, Chat, EcPublicKey, Role
from cardkit.pki.signer import LocalSigner
from cardkit.pki.trust import TrustStore
from cardkit.protocol import ta
from cardkit.services.access_key import AccessKey
from cardkit.services.card_image import CardImage, ChipSecrets
from cardkit.services.personalize import personalize
from cardkit.services.prepare import prepare_card

CURVE = ec.BrainpoolP256R1()
ALG = oids.ID_TA_ECDSA_SHA_256


# --- A CV PKI in memory (CVCA → domestic DV → inspection system) ---------------------------------


def new_signer(name: str) -> LocalSigner:
    return LocalSigner(ec.generate_private_key(CURVE), f"memory:{name}")


def cv_key(signer: LocalSigner, *, domain: bool) -> EcPublicKey:
    key = signer.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return EcPublicKey.from_cryptography(key, ALG, domain_parameters=domain)


def cvca_certificate(signer: LocalSigner, chr: str, effective: date, days: int) -> cvc.Certificate:
    body = CertificateBody.build(
        car=chr,
        public_key=cv_key(signer, domain=True),
        chr=chr,
        chat=Chat.build(Role.CVCA, read_dg3=True, read_dg4=True),
        effective=effective,
        expiration=effective + timedelta(days=days),
    )
    return cvc.sign_certificate(body, signer)


def issue(
    issuer: LocalSigner,
    issuer_certificate: cvc.Certificate,
    subject: LocalSigner,
    chr: str,
    role: Role,
    *,
    effective: date,
    days: int,
    read_dg3: bool = True,
    read_dg4: bool = True,
) -> cvc.Certificate:
    body = CertificateBody.build(
        car=issuer_certificate.chr,
        public_key=cv_key(subject, domain=role is Role.CVCA),
        chr=chr,
        chat=Chat.build(role, read_dg3=read_dg3, read_dg4=read_dg4),
        effective=effective,
        expiration=effective + timedelta(days=days),
    )
    return cvc.sign_certificate(body, issuer, algorithm=issuer_certificate.public_key.oid)


@dataclass
class EacPki:
    cvca_signer: LocalSigner
    cvca: cvc.Certificate
    dv_signer: LocalSigner
    dv: cvc.Certificate
    is_signer: LocalSigner
    is_cert: cvc.Certificate

    def terminal(self, *extra: cvc.Certificate) -> ta.TerminalKey:
        return ta.TerminalKey(self.is_signer, self.is_cert, (self.dv, *extra))

    def new_terminal(
        self, chr: str = "VNIS00002", *, effective: date | None = None, days: int = 30, **kw: bool
    ) -> ta.TerminalKey:
        signer = new_signer(chr)
        certificate = issue(
            self.dv_signer,
            self.dv,
            signer,
            chr,
            Role.INSPECTION_SYSTEM,
            effective=effective or TODAY - timedelta(days=1),
            days=days,
            **kw,
        )
        return ta.TerminalKey(signer, certificate, (self.dv,))


def make_pki(country: str = "VN", start: date = TODAY - timedelta(days=30)) -> EacPki:
    cvca_signer = new_signer(f"{country} CVCA")
    cvca = cvca_certificate(cvca_signer, f"{country}CVCA00001", start, 3 * 365)
    dv_signer = new_signer(f"{country} DV")
    dv = issue(
        cvca_signer, cvca, dv_signer, f"{country}DV000001", Role.DV_DOMESTIC, effective=start,
        days=365,
    )  # fmt: skip
    is_signer = new_signer(f"{country} IS")
    is_cert = issue(
        dv_signer, dv, is_signer, f"{country}IS00001", Role.INSPECTION_SYSTEM,
        effective=TODAY - timedelta(days=1), days=30,
    )  # fmt: skip
    return EacPki(cvca_signer, cvca, dv_signer, dv, is_signer, is_cert)


# --- A personalized chip with DG3 and a trust point ----------------------------------------------


@dataclass
class Personalized:
    image: CardImage
    secrets: ChipSecrets
    state: dict[str, object]  # the chip's state after personalization, as JSON
    trust: TrustStore  # the station's CSCA: what verifies the card's EF.SOD

    def chip(self, today: date = TODAY) -> EmulatedCard:
        return EmulatedCard(CardState.from_json(self.state), today=lambda: today)


@lru_cache(maxsize=1)
def pki() -> EacPki:
    return make_pki()


@lru_cache(maxsize=1)
def personalized() -> Personalized:
    station = Station()
    profile = vn_profile()
    record = sample_records()[0]
    image = prepare_card(
        record,
        profile,
        station.issuer,
        card_id="eac-00000",
        photo=fit_face_for(record.photo_path.read_bytes(), profile),
        fingerprints=fitted_finger(0),
        signing_time=SIGNED_AT,
        cvca_certificate=pki().cvca.raw,
    )
    assert files.dg(3) in image.files
    secrets = station.secrets(image)
    state = CardState()
    chip = EmulatedCard(state, today=lambda: TODAY)
    result = personalize(
        EmulatorConnection(chip),
        image,
        secrets,
        profile,
        trust=None,
        clock=lambda: VERIFIED_AT,
    )
    assert result.status == "ok", result
    assert state.trust_points == [pki().cvca.raw]
    return Personalized(image, secrets, state.to_json(), station.trust)


def can_key(p: Personalized) -> AccessKey:
    assert p.secrets.can
    return AccessKey.from_can(p.secrets.can)


def mrz_key(p: Personalized) -> AccessKey:
    s = p.secrets
    return AccessKey.from_mrz_fields(s.document_number, s.date_of_birth, s.date_of_expiry)
