"""Build a card's LDS files from a validated citizen record and a profile.

Pure: the caller passes the photo and fingerprint bytes and the chip's public keys (generated and
kept by the PKI layer); this module only encodes. EF.SOD is not built here: it is signed by the
PKI layer over the files returned (ICAO 9303-10 §4.6.2).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from cardkit.encoding import oids
from cardkit.encoding.mrz import Td1, build_td1, build_vn_td1
from cardkit.errors import EncodingError, ImageError
from cardkit.lds import dg3 as dg3_module
from cardkit.lds import files
from cardkit.lds.card_access import CardAccess
from cardkit.lds.com import Com
from cardkit.lds.dg1 import Dg1
from cardkit.lds.dg2 import Dg2
from cardkit.lds.dg3 import Dg3, FingerImage
from cardkit.lds.dg11 import Dg11
from cardkit.lds.dg12 import Dg12
from cardkit.lds.dg13 import Dg13
from cardkit.lds.dg14 import Dg14
from cardkit.lds.dg15 import Dg15
from cardkit.lds.image import FittedImage, fit_face, fit_finger
from cardkit.lds.security_infos import (
    ActiveAuthenticationInfo,
    ChipAuthenticationInfo,
    ChipAuthenticationPublicKeyInfo,
    PaceInfo,
    SecurityInfo,
    terminal_authentication_v1,
)
from cardkit.profile import AccessSettings, Profile
from cardkit.records.model import NO_EXPIRY_TEXT, CitizenRecord, Sex

#: Standardized domain parameter IDs of the curves a profile may name (9303-11 §9.5.1 Table 6).
CURVE_PARAMETER_IDS = {
    "secp256r1": 12,
    "brainpoolP256r1": 13,
    "secp384r1": 15,
    "brainpoolP384r1": 16,
    "brainpoolP512r1": 17,
    "secp521r1": 18,
}
#: PACE with ECDH and AES-128 session keys for each mapping (TR-03110-3 A.1.1.1).
PACE_PROTOCOLS = {
    "GM": oids.ID_PACE_ECDH_GM_AES_CBC_CMAC_128,
    "IM": oids.ID_PACE_ECDH_IM_AES_CBC_CMAC_128,
    "CAM": oids.ID_PACE_ECDH_CAM_AES_CBC_CMAC_128,
}

# Finger images (DG3): 500 ppi, the resolution ISO/IEC 19794-4 §8.3 (level 31) asks for, a
# 400 × 500 window (0.8 × 1 inch, a flat index-finger impression), JPEG 2000 as ICAO recommends.
FINGER_WIDTH, FINGER_HEIGHT, FINGER_MAX_BYTES, FINGER_QUALITY_DB = 400, 500, 20_000, 40.0
# Right index then left index: the two fingers the CCCD records (DOMAIN.md §1).
FINGER_POSITIONS = (dg3_module.POSITION_RIGHT_INDEX, dg3_module.POSITION_LEFT_INDEX)

# ISO/IEC 19794-5 §5.5.3 gender codes.
_GENDER = {Sex.MALE: 1, Sex.FEMALE: 2}


@dataclass(frozen=True)
class ChipPublicKeys:
    """The public halves of the chip's key pairs, published in DG14 and DG15."""

    chip_authentication: ec.EllipticCurvePublicKey | None = None
    active_authentication: ec.EllipticCurvePublicKey | rsa.RSAPublicKey | None = None


@dataclass(frozen=True)
class LdsFiles:
    """The encoded files of one card, keyed by their :class:`~cardkit.lds.files.FileSpec`."""

    mrz: Td1
    files: dict[files.FileSpec, bytes] = field(repr=False)

    def data_groups(self) -> dict[int, bytes]:
        return {spec.dg: data for spec, data in self.files.items() if spec.dg is not None}


def build_mrz(record: CitizenRecord, profile: Profile) -> Td1:
    """The card's TD1 MRZ in the profile's layout (DOMAIN.md §3 or plain 9303-5)."""
    doc = profile.document
    if doc.mrz_layout == "vn-cccd":
        return build_vn_td1(
            record.id_number,
            record.full_name,
            record.date_of_birth,
            record.sex.value,
            record.date_of_expiry,
            no_expiry=profile.expiry.mrz_no_expiry,
            issuing_state=doc.issuing_state,
            document_code=doc.document_code,
            nationality=doc.issuing_state,
        )
    surname, _, given = record.full_name.partition(" ")
    return build_td1(
        issuing_state=doc.issuing_state,
        document_code=doc.document_code,
        document_number=record.document_number,
        date_of_birth=record.date_of_birth,
        sex=record.sex.value,
        date_of_expiry=record.date_of_expiry,
        nationality=doc.issuing_state,
        primary_identifier=surname,
        secondary_identifier=given,
        optional_data=record.id_number,
    )


def _dmy(d: date) -> str:
    return d.strftime("%d/%m/%Y")


def _dg13(record: CitizenRecord) -> Dg13:
    """DG13 with every field of DOMAIN.md §4 that the record carries."""
    return Dg13.build(
        id_number=record.id_number,
        full_name=record.full_name,
        date_of_birth=_dmy(record.date_of_birth),
        sex=record.sex.vietnamese,
        nationality=record.nationality,
        ethnicity=record.ethnicity,
        religion=record.religion,
        place_of_origin=record.place_of_origin,
        place_of_residence=record.place_of_residence,
        identifying_marks=record.identifying_marks,
        date_of_issue=_dmy(record.date_of_issue),
        date_of_expiry=(
            NO_EXPIRY_TEXT if record.date_of_expiry is None else _dmy(record.date_of_expiry)
        ),
        father_name=record.father_name,
        mother_name=record.mother_name,
        spouse_name=record.spouse_name,
        old_id_number=record.old_id_number or None,
    )


# The SecurityInfos below depend on the profile's access settings only (a frozen, hashable
# value), so they are encoded once per profile rather than once per card (asn1crypto made DG14 a
# quarter of the time of preparing a card).
@functools.lru_cache(maxsize=16)
def _pace_infos_of(access: AccessSettings) -> tuple[SecurityInfo, ...]:
    if not access.pace_passwords:
        return ()
    protocol = PACE_PROTOCOLS[access.pace_mapping]
    return (PaceInfo.build(protocol, CURVE_PARAMETER_IDS[access.pace_curve]),)


def _pace_infos(profile: Profile) -> list[SecurityInfo]:
    return list(_pace_infos_of(profile.access))


@functools.lru_cache(maxsize=16)
def _card_access(access: AccessSettings) -> bytes | None:
    """EF.CardAccess: the PACEInfos (9303-11 §9.2.1), or None without PACE."""
    pace = _pace_infos_of(access)
    return bytes(CardAccess.build(pace)) if pace else None


@functools.lru_cache(maxsize=4)
def _ca_info() -> ChipAuthenticationInfo:
    return ChipAuthenticationInfo.build(oids.ID_CA_ECDH_AES_CBC_CMAC_128, version=1)


@functools.lru_cache(maxsize=4)
def _aa_info() -> ActiveAuthenticationInfo:
    return ActiveAuthenticationInfo.build(oids.ECDSA_PLAIN_SHA256)


def _spki(key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _dg14(profile: Profile, keys: ChipPublicKeys) -> Dg14:
    """DG14: the PACE infos again (9303-11 §9.2: DG14 repeats them under the SOD's protection),
    chip authentication (TR-03110-3 A.1.1.2), terminal authentication when the chip gets a CVCA
    (TR-03110-3 A.1.1.3) and, for ECDSA AA, its algorithm (9303-11 §6.1)."""
    infos = _pace_infos(profile)
    if profile.access.chip_authentication:
        if keys.chip_authentication is None:
            raise EncodingError("DG14: the profile asks for chip authentication but no CA key")
        infos.append(_ca_info())
        infos.append(
            ChipAuthenticationPublicKeyInfo.build(oids.ID_PK_ECDH, _spki(keys.chip_authentication))
        )
    if profile.access.terminal_authentication:
        infos.append(terminal_authentication_v1())
    if profile.access.active_authentication == "ECDSA":
        infos.append(_aa_info())
    return Dg14.build(infos)


def _check_fitted(image: FittedImage, width: int, height: int, fmt: str, max_bytes: int) -> None:
    """A pre-fitted image must be what the fit step would have produced (size, format, budget)."""
    if (image.width, image.height, image.format) != (width, height, fmt) or len(
        image.data
    ) > max_bytes:
        raise ImageError(
            f"pre-fitted image is {image.width}x{image.height} {image.format}, "
            f"{len(image.data)} bytes; expected {width}x{height} {fmt}, at most {max_bytes} bytes"
        )


def fit_face_for(photo: bytes, profile: Profile) -> FittedImage:
    """The face photo fitted to the profile's DG2 size, format and budget (the slow step of
    building a card: decode, resize, encode). Do it ahead of time and pass the result to
    :func:`build_lds` to keep image work out of the signing line."""
    return fit_face(
        photo,
        profile.photo.width,
        profile.photo.height,
        profile.photo.format,
        profile.photo.max_bytes,
        profile.photo.quality,
    )


def fit_finger_for(image: bytes) -> FittedImage:
    """A finger image fitted for DG3 (500 ppi, 400 × 500, JPEG 2000): see :func:`fit_face_for`."""
    return fit_finger(
        image, FINGER_WIDTH, FINGER_HEIGHT, "jpeg2000", FINGER_MAX_BYTES, FINGER_QUALITY_DB
    )


def _dg3(fingerprints: Sequence[bytes | FittedImage]) -> Dg3:
    fingers = []
    for position, image in zip(FINGER_POSITIONS, fingerprints, strict=False):
        if isinstance(image, FittedImage):
            _check_fitted(image, FINGER_WIDTH, FINGER_HEIGHT, "jpeg2000", FINGER_MAX_BYTES)
            fitted = image
        else:
            fitted = fit_finger_for(image)
        fingers.append(FingerImage(position, fitted.data, fitted.width, fitted.height))
    return Dg3.build(fingers, compression=dg3_module.COMPRESSION_JPEG2000)


def build_lds(
    record: CitizenRecord,
    profile: Profile,
    *,
    photo: bytes | FittedImage,
    fingerprints: Sequence[bytes | FittedImage] = (),
    keys: ChipPublicKeys | None = None,
) -> LdsFiles:
    """Every LDS file of the profile for ``record`` (EF.SOD excepted), plus EF.CardAccess.

    DG14 and DG15 need the chip's public keys: without ``keys`` they are left out (and EF.COM
    does not list them), which is what ``cardkit lds build`` does before the PKI exists.
    ``photo`` and ``fingerprints`` are source images, fitted here, or images already fitted
    with :func:`fit_face_for` / :func:`fit_finger_for` (checked against the profile, not redone).
    Raises :class:`~cardkit.errors.ImageError` when the photo cannot be fitted to the profile.
    """
    wanted = set(profile.lds.data_groups)
    if fingerprints:
        wanted |= {3} & set(profile.lds.optional_data_groups)
    mrz = build_mrz(record, profile)
    out: dict[int, bytes] = {1: bytes(Dg1.build(mrz))}

    if isinstance(photo, FittedImage):
        p = profile.photo
        _check_fitted(photo, p.width, p.height, p.format, p.max_bytes)
        face = photo
    else:
        face = fit_face_for(photo, profile)
    out[2] = bytes(Dg2.build(face.data, face.width, face.height, gender=_GENDER[record.sex]))
    if 3 in wanted and fingerprints:
        out[3] = bytes(_dg3(fingerprints))
    if 11 in wanted:
        surname, _, given = record.full_name.partition(" ")
        out[11] = bytes(
            Dg11.build(
                full_name=f"{surname}<<{given.replace(' ', '<')}",
                personal_number=record.id_number,
                full_date_of_birth=record.date_of_birth.strftime("%Y%m%d"),
                place_of_birth=record.place_of_origin,
                address=record.place_of_residence,
            )
        )
    if 12 in wanted:
        out[12] = bytes(
            Dg12.build(
                issuing_authority=profile.document.issuing_authority or None,
                date_of_issue=record.date_of_issue.strftime("%Y%m%d"),
            )
        )
    if 13 in wanted:
        out[13] = bytes(_dg13(record))
    if keys is not None:
        if 14 in wanted:
            out[14] = bytes(_dg14(profile, keys))
        if 15 in wanted and profile.access.active_authentication != "none":
            if keys.active_authentication is None:
                raise EncodingError("DG15: the profile asks for active authentication but no key")
            out[15] = bytes(Dg15.build(keys.active_authentication))

    result: dict[files.FileSpec, bytes] = {
        files.COM: bytes(
            Com.build(profile.document.lds_version, profile.document.unicode_version, sorted(out))
        )
    }
    result.update((files.dg(n), data) for n, data in sorted(out.items()))
    card_access = _card_access(profile.access)
    if card_access is not None:
        result[files.CARD_ACCESS] = card_access
    return LdsFiles(mrz, result)
