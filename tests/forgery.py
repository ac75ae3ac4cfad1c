"""Forged cards on cardkit's emulator (a test helper, loaded by file path: not a test).

A :class:`Lab` holds a trusted CSCA with its genuine Document Signer, plus the material of a
forger: a rogue DSC (same issuer name, signed by a key the CSCA never had), an expired DSC, a DSC
the CSCA revoked (listed in the trust store's CRL) and a DSC of a CSCA nobody trusts. Every
``forge_*`` function returns a :class:`Card`: the files and chip secrets to personalize, and the
check id that must FAIL. :func:`personalize_onto` puts one on an emulated chip with the real
personalization protocol (:func:`cardkit.services.personalize.personalize`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from testpki import make_csca, make_dsc

from cardkit.emulator.card import EmulatedCard, EmulatorConnection
from cardkit.emulator.state import CardState
from cardkit.errors import ProtocolError
from cardkit.lds import files
from cardkit.lds.build import fit_face_for
from cardkit.lds.com import Com
from cardkit.lds.dg13 import Dg13
from cardkit.lds.image import FittedImage
from cardkit.pki.algorithms import CURVES
from cardkit.pki.crl import RevokedEntry, issue_crl
from cardkit.pki.keystore.transport import FileTransportKey
from cardkit.pki.signer import LocalSigner, SignatureScheme
from cardkit.pki.sod_sign import sign_sod
from cardkit.pki.trust import TrustStore
from cardkit.profile import Profile, load_profile
from cardkit.records import CitizenRecord, load_records, validate_all
from cardkit.services.card_image import CardImage, ChipSecrets, private_key_der, secrets_aad
from cardkit.services.personalize import personalize
from cardkit.services.prepare import Issuer, prepare_card
from cardkit.services.read import STEP_CA, AccessKey
from cardkit.transport.connection import Connection

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "profiles" / "samples"
TODAY = date(2026, 11, 1)  # the samples' reference day (profiles/samples/README.md)
T0 = datetime(2026, 1, 1, tzinfo=UTC)
SIGNED_AT = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
VERIFIED_AT = SIGNED_AT + timedelta(days=1)
SCHEME = SignatureScheme("sha256")


@dataclasses.dataclass(frozen=True)
class Card:
    """What goes on one chip: its files, its secrets, and the check that must FAIL (None for a
    genuine card)."""

    name: str
    files: dict[files.FileSpec, bytes]
    secrets: ChipSecrets
    expected_failure: str | None
    also_failing: tuple[str, ...] = ()

    def key(self) -> AccessKey:
        """The CAN when the card has one (PACE), else the MRZ key."""
        if self.secrets.can:
            return AccessKey.from_can(self.secrets.can)
        return self.mrz_key()

    def mrz_key(self) -> AccessKey:
        s = self.secrets
        return AccessKey.from_mrz_fields(s.document_number, s.date_of_birth, s.date_of_expiry)


def _dsc(
    ca_signer: LocalSigner, ca: x509.Certificate, name: str, *, not_after: datetime
) -> tuple[LocalSigner, x509.Certificate]:
    return make_dsc(ca_signer, ca, name, not_after=not_after, key_id=f"file:{name}.pem")


_csca = make_csca


class Lab:
    """A trusted PKI and a forger's material (module docstring)."""

    def __init__(self) -> None:
        csca_signer, self.csca = _csca("CSCA VN forgery test")
        far = T0 + timedelta(days=5000)
        self.dsc_signer, self.dsc = _dsc(csca_signer, self.csca, "DS VN genuine", not_after=far)
        # Expired: its validity ended before the SOD was signed (SIGNED_AT).
        self.expired_signer, self.expired_dsc = _dsc(
            csca_signer, self.csca, "DS VN expired", not_after=T0 + timedelta(days=30)
        )
        self.revoked_signer, self.revoked_dsc = _dsc(
            csca_signer, self.csca, "DS VN revoked", not_after=far
        )
        crl = issue_crl(
            csca_signer,
            self.csca,
            [
                RevokedEntry(
                    self.revoked_dsc.serial_number,
                    T0 + timedelta(days=200),
                    "keyCompromise",
                )
            ],
            crl_number=1,
            this_update=T0 + timedelta(days=200),
            next_update=T0 + timedelta(days=2000),
            scheme=SCHEME,
        )
        # Rogue: a CSCA of the same name that the verifier does not have, issuing a DSC.
        rogue_signer, rogue_csca = _csca("CSCA VN forgery test")
        self.rogue_signer, self.rogue_dsc = _dsc(rogue_signer, rogue_csca, "DS VN genuine",
                                                 not_after=far)  # fmt: skip
        # Untrusted: a CSCA of another name, not in the trust store.
        other_signer, other_csca = _csca("CSCA XX untrusted")
        self.untrusted_signer, self.untrusted_dsc = _dsc(
            other_signer, other_csca, "DS XX", not_after=far
        )
        self.transport = FileTransportKey("tk-forgery-test", AESGCM(os.urandom(32)))
        self.issuer = Issuer(self.dsc_signer, self.dsc, self.transport)
        self.trust = TrustStore((self.csca,), (crl,))

    # --- genuine cards -------------------------------------------------------------------------

    def image(self, profile: Profile, row: int = 0) -> CardImage:
        records = sample_records()
        index = row % len(records)
        return prepare_card(
            records[index],
            profile,
            self.issuer,
            card_id=f"forgery-{row:05d}",
            photo=fitted_face(index),
            signing_time=SIGNED_AT,
        )

    def secrets(self, image: CardImage) -> ChipSecrets:
        return ChipSecrets.from_bytes(
            self.transport.decrypt(image.sealed, secrets_aad(image.card_id, image.sod))
        )

    def genuine(self, profile: Profile | None = None, row: int = 0) -> Card:
        image = self.image(profile or vn_profile(), row)
        return Card("genuine", dict(image.files), self.secrets(image), None)

    def resign(
        self, card_files: dict[files.FileSpec, bytes], signer: LocalSigner, dsc: x509.Certificate
    ) -> bytes:
        groups = {s.dg: d for s, d in card_files.items() if s.dg is not None}
        return bytes(sign_sod(groups, signer, dsc, signing_time=SIGNED_AT, scheme=SCHEME))


@lru_cache(maxsize=1)
def vn_profile() -> Profile:
    return load_profile("vn-cccd-2021")


@lru_cache(maxsize=1)
def sample_records() -> tuple[CitizenRecord, ...]:
    results = validate_all(load_records(SAMPLES / "citizens.csv"), vn_profile(), TODAY)
    return tuple(r.record for r in results if r.record is not None)


@lru_cache(maxsize=8)
def fitted_face(index: int) -> FittedImage:
    return fit_face_for(sample_records()[index].photo_path.read_bytes(), vn_profile())


# --- The forgeries -------------------------------------------------------------------------------


def forge_dg_byte_changed(lab: Lab) -> Card:
    """One byte of the face image changed after signing."""
    card = lab.genuine(row=0)
    dg2 = bytearray(card.files[files.dg(2)])
    dg2[len(dg2) // 2] ^= 0x01
    new = {**card.files, files.dg(2): bytes(dg2)}
    return dataclasses.replace(card, name="dg-byte-changed", files=new,
                               expected_failure="dg.hash.2")  # fmt: skip


def forge_dg_swapped(lab: Lab) -> Card:
    """DG2 (the face) taken from another citizen's genuine card, signed by the same DSC."""
    card = lab.genuine(row=0)
    other = lab.image(vn_profile(), row=3)
    new = {**card.files, files.dg(2): other.files[files.dg(2)]}
    return dataclasses.replace(card, name="dg-swapped", files=new, expected_failure="dg.hash.2")


def _altered_dg13(card: Card) -> dict[files.FileSpec, bytes]:
    """DG13 with another full name (the forger's goal), everything else untouched."""
    dg13 = Dg13.from_bytes(card.files[files.dg(13)])
    fields = {
        name: getattr(dg13, name)
        for name in (
            "id_number", "date_of_birth", "sex", "nationality", "ethnicity", "religion",
            "place_of_origin", "place_of_residence", "identifying_marks", "date_of_issue",
            "date_of_expiry", "father_name", "mother_name", "spouse_name", "old_id_number",
        )
    }  # fmt: skip
    forged = Dg13.build(full_name="Trần Thị Giả", **fields)
    return {**card.files, files.dg(13): bytes(forged)}


def _resigned(
    lab: Lab, card: Card, signer: LocalSigner, dsc: x509.Certificate, name: str, check: str
) -> Card:
    new = _altered_dg13(card) if name == "rogue-dsc" else dict(card.files)
    new[files.SOD] = lab.resign(new, signer, dsc)
    return dataclasses.replace(card, name=name, files=new, expected_failure=check)


def forge_rogue_dsc(lab: Lab) -> Card:
    """DG13 altered and EF.SOD re-signed by a DSC of a look-alike CSCA (same name, other key)."""
    return _resigned(lab, lab.genuine(), lab.rogue_signer, lab.rogue_dsc, "rogue-dsc", "dsc.chain")


def forge_expired_dsc(lab: Lab) -> Card:
    """EF.SOD signed after its DSC expired."""
    return _resigned(
        lab, lab.genuine(), lab.expired_signer, lab.expired_dsc, "expired-dsc", "dsc.validity"
    )


def forge_revoked_dsc(lab: Lab) -> Card:
    """EF.SOD signed by a DSC its CSCA has revoked (on the trust store's CRL)."""
    return _resigned(
        lab, lab.genuine(), lab.revoked_signer, lab.revoked_dsc, "revoked-dsc", "dsc.revocation"
    )


def forge_untrusted_csca(lab: Lab) -> Card:
    """EF.SOD signed by a DSC of a CSCA the verifier does not trust."""
    return _resigned(
        lab, lab.genuine(), lab.untrusted_signer, lab.untrusted_dsc, "untrusted-csca", "dsc.chain"
    )


def forge_clone_without_keys(lab: Lab) -> Card:
    """The genuine files on a chip with other chip-authentication and AA keys (a clone: the
    forger copied the files but cannot extract the private keys)."""
    card = lab.genuine()
    access = vn_profile().access
    # Keys on the same curves as the genuine ones: the chip runs the protocols, with wrong keys.
    ca = ec.generate_private_key(CURVES[access.chip_authentication_curve]())
    aa = ec.generate_private_key(CURVES[access.active_authentication_curve]())
    secrets = dataclasses.replace(
        card.secrets,
        chip_authentication_key=private_key_der(ca),
        active_authentication_key=private_key_der(aa),
    )
    return dataclasses.replace(
        card,
        name="clone-without-keys",
        secrets=secrets,
        expected_failure="chip.authentication",
        also_failing=("active.authentication",),
    )


def forge_dg13_contradicts_dg1(lab: Lab) -> Card:
    """DG13 with another name than DG1, validly signed (an insider or an issuing error)."""
    card = lab.genuine()
    new = _altered_dg13(card)
    new[files.SOD] = lab.resign(new, lab.dsc_signer, lab.dsc)
    return dataclasses.replace(card, name="dg13-contradicts-dg1", files=new,
                               expected_failure="dg13.dg1")  # fmt: skip


def forge_com_lists_unsigned_dg(lab: Lab) -> Card:
    """EF.COM lists DG11, which the SOD does not cover (a data group slipped in)."""
    card = lab.genuine()
    com = Com.from_bytes(card.files[files.COM])
    forged = Com.build(com.lds_version, com.unicode_version, (*com.data_groups, 11))
    new = {**card.files, files.COM: bytes(forged)}
    return dataclasses.replace(card, name="com-lists-unsigned-dg", files=new,
                               expected_failure="com.consistency")  # fmt: skip


FORGERIES: tuple[Callable[[Lab], Card], ...] = (
    forge_dg_byte_changed,
    forge_dg_swapped,
    forge_rogue_dsc,
    forge_expired_dsc,
    forge_revoked_dsc,
    forge_untrusted_csca,
    forge_clone_without_keys,
    forge_dg13_contradicts_dg1,
    forge_com_lists_unsigned_dg,
)


# --- Onto a chip ---------------------------------------------------------------------------------


def personalize_onto(card: Card, connection: Connection, profile: Profile | None = None) -> None:
    """Write ``card`` with the personalization protocol and lock it. The read-back verdict is
    ignored: a forged card is *meant* to fail it."""
    image = CardImage(
        card_id=card.name,
        profile=(profile or vn_profile()).name,
        files=card.files,
        sealed=b"",
        transport_key_id="none",
    )
    try:
        personalize(connection, image, card.secrets, profile or vn_profile(), trust=None,
                    clock=lambda: VERIFIED_AT)  # fmt: skip
    except ProtocolError as exc:
        # Only the read-back may fail so (a clone fails chip authentication): by then the card
        # is written and locked.
        if exc.step != STEP_CA:
            raise


def emulated(card: Card, profile: Profile | None = None) -> EmulatedCard:
    """A locked in-process emulated chip holding ``card``."""
    chip = EmulatedCard()
    personalize_onto(card, EmulatorConnection(chip), profile)
    return chip


def save_state(card: Card, path: Path, profile: Profile | None = None) -> Path:
    """Personalize ``card`` in process and save the chip to ``path`` (a state file for
    ``cardkit emulator start --state``)."""
    state = CardState()
    personalize_onto(card, EmulatorConnection(EmulatedCard(state)), profile)
    state.save(path)
    return path
