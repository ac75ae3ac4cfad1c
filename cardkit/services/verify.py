"""Inspection of a chip ID card at a checkpoint (``cardkit verify``): ICAO 9303-11 §7 with the
PKI of 9303-12, and the card-level checks an inspection system adds.

:func:`verify_card` opens the chip (PACE when it offers it, else BAC), reads every readable file
(:func:`cardkit.services.read.read_card`), then reports every step as its own
:class:`~cardkit.report.Check` — nothing stops at the first failure, and nothing a hostile chip
sends makes it raise (only a reader or a card that goes away does: TransportError):

==============================  =================================================================
``chip.read``                   the read itself; FAIL when the chip could not be opened or broke
                                secure messaging (``verify.internal`` if checking its data met a
                                defect). A chip that refuses the CAN/MRZ gives only ``chip.access``
                                SKIP: INCOMPLETE, ``Inspection.access_denied`` (not a forgery)
``chip.access``                 PACE: PASS; BAC while EF.CardAccess or the signed DG14 lists PACE:
                                FAIL (a downgrade; WARN under the legacy policy); BAC only: WARN —
                                the BAC keys of this card have very low entropy (DOMAIN.md §1)
``sod.parse`` …                 passive authentication (:mod:`cardkit.pki.passive`): hashes, SOD
``com.consistency``             signature, the signer's role (``dsc.issuer``, ``dsc.role``,
                                ``dsc.key_usage``, ``dsc.basic_constraints``,
                                ``dsc.extended_key_usage``), the algorithm policy
                                (``algorithm.*``), validity, revocation
``lds.completeness``            every data group the SOD lists was read (EAC-protected DG3/DG4
                                that the chip refuses with 6982 excepted)
``chip.authentication``         CA (DG14, 9303-11 §6.2) or PACE-CAM; counted only when passive
                                authentication vouches for DG14 (9303-11 §6.2.1); FAIL when DG14
                                lists a CA key and CA did not pass
``active.authentication``       AA (DG15, 9303-11 §6.1); counted only when passive authentication
                                vouches for DG15; FAIL when DG15 is there and AA did not pass
``algorithm.aa``                AA's hash and DG15's key size against the policy
``mrz.access_key``              DG1's MRZ against the MRZ key used to open the chip (SKIP with a
                                CAN: how the CAN relates to the ID number is uncertain)
``dg13.dg1``                    DG13 against DG1: ID number, name (9303-3), date of birth, sex
``dg13.expiry``                 DG13's date of expiry against DG1's ("Không thời hạn" against the
                                MRZ's no-expiry date)
``qr.chip``                     the printed QR code (its payload, given by the officer) against
                                the chip
``document.expiry``             the card's date of expiry — DG1's, whatever DG13 says — against
                                today
``document.denylist``           the ID number, document number and old ID number against a deny
                                list of lost, stolen or revoked cards
``profile.*``                   the profile's promises (given, or inferred from DG1):
                                ``profile.document``, ``profile.data_groups``, ``profile.pace``,
                                ``profile.chip_authentication``, ``profile.active_authentication``
                                (``profile.match`` SKIP when no installed profile fits)
==============================  =================================================================

The policy (:class:`~cardkit.pki.policy.VerificationPolicy`) is the caller's, else the profile's
(``[verification]``), else :data:`~cardkit.pki.policy.DEFAULT`.

Details name fields, never their values (the MRZ is a secret; DG13 is personal data): the
personal data are returned separately, in :attr:`Inspection.person`.

:func:`content_checks` are the checks that need no chip (``dg13.dg1``, ``qr.chip``,
``document.expiry``, ``document.denylist``): ``cardkit verify-files`` runs them on card images.
:func:`watch_reader` is the checkpoint loop of ``cardkit verify --watch``.
"""

from __future__ import annotations

import datetime
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from cardkit.encoding.mrz import Td1, Td3, parse_expiry_date, yymmdd
from cardkit.encoding.translit import mrz_name, split_vietnamese_name
from cardkit.errors import (
    AccessDeniedError,
    CardkitError,
    EncodingError,
    ProtocolError,
    TransportError,
)
from cardkit.iso7816.connection import Connection
from cardkit.lds import files
from cardkit.lds.card_access import CardAccess
from cardkit.lds.com import Com
from cardkit.lds.dg1 import Dg1
from cardkit.lds.dg2 import Dg2
from cardkit.lds.dg13 import Dg13
from cardkit.lds.dg14 import Dg14
from cardkit.lds.dg15 import Dg15
from cardkit.lds.sod import Sod
from cardkit.pki.passive import passive_authentication
from cardkit.pki.policy import CLAUSE_ALGORITHMS, DEFAULT, VerificationPolicy, policy_named
from cardkit.pki.trust import TrustStore
from cardkit.profile import Profile, installed_profiles, load_profile, profile_for_document
from cardkit.protocol.pace import choose_pace_info
from cardkit.records.model import NO_EXPIRY_TEXT
from cardkit.records.qr import QrPayload
from cardkit.report import Check, Report, Status, Verdict
from cardkit.services.denylist import DenyList
from cardkit.services.person import PersonalData, Sex
from cardkit.services.read import STEP_CA, AccessKey, CardRead, Rng, read_card

__all__ = [
    "Face",
    "Inspection",
    "PersonalData",
    "Sex",
    "content_checks",
    "verify_card",
    "watch_reader",
]

_CLAUSE_ACCESS = "ICAO 9303-11 §4.3 (BAC), §4.4 (PACE); DOMAIN.md §1"
_CLAUSE_READ = "ICAO 9303-11 §4, §9.8"
_CLAUSE_COMPLETE = "ICAO 9303-10 §4.6.2; 9303-11 §5.1"
_CLAUSE_CA = "ICAO 9303-11 §6.2 (chip authentication), §4.4.3.5 (PACE-CAM)"
_CLAUSE_AA = "ICAO 9303-11 §6.1 (active authentication)"
_CLAUSE_MRZ = "ICAO 9303-11 §4.3.1; 9303-10 §4.7.1"
_CLAUSE_DG13 = "DOMAIN.md §3, §4; ICAO 9303-3 §4.6 (transliteration)"
_CLAUSE_QR = "DOMAIN.md §5"
_CLAUSE_EXPIRY = "ICAO 9303-5 §4.2.2 (date of expiry); Law on Citizen Identification 2014 art. 21"
_CLAUSE_DENY = "ICAO 9303-11 §7 (inspection procedure); national lost/stolen lists"
_CLAUSE_DOWNGRADE = "ICAO 9303-11 §4.2 (a chip that supports PACE is read with PACE), §9.2"
_CLAUSE_PROFILE = "the card's profile (profiles/*.toml); ICAO 9303-10 §4.6, 9303-11 §4.2"

#: Checks of passive authentication that must pass for DG14/DG15 to be trusted.
_PA_CORE = ("sod.signature", "dsc.chain")
#: EAC-protected data groups a verifier without terminal authentication cannot read.
_EAC = (3, 4)
_SEX_WORDS = {"nam": "M", "nữ": "F", "nu": "F"}

FaceFormat = Literal["jpeg", "jpeg2000"]


# --- The result ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Face:
    """The first face image of DG2 (ISO/IEC 19794-5), bytes as stored on the chip."""

    data: bytes = field(repr=False)
    format: FaceFormat
    width: int
    height: int

    @property
    def extension(self) -> str:
        return ".jpg" if self.format == "jpeg" else ".jp2"

    def describe(self) -> dict[str, object]:
        return {
            "format": self.format,
            "width": self.width,
            "height": self.height,
            "bytes": len(self.data),
        }


@dataclass(frozen=True)
class Inspection:
    """One verified card: the report (verdict and checks), the holder's data, the face, and how
    the chip was read. No secret (MRZ key, CAN, session keys) is kept."""

    report: Report
    person: PersonalData | None = None
    face: Face | None = None
    access: str | None = None
    apdu_count: int = 0
    read_errors: tuple[str, ...] = ()
    access_denied: bool = False  # the chip refused the CAN/MRZ: enter it again (not a forgery)
    profile: str | None = None  # the profile the card was held to (given or inferred)
    policy: str | None = None  # the verification policy's name

    @property
    def verdict(self) -> Verdict:
        return self.report.verdict

    def failures(self) -> tuple[Check, ...]:
        return self.report.by_status(Status.FAIL)

    def describe(self) -> dict[str, object]:
        """JSON-serialisable (the face as its metadata, not its bytes)."""
        return {
            **self.report.to_dict(),
            "person": self.person.describe() if self.person is not None else None,
            "face": self.face.describe() if self.face is not None else None,
            "access": self.access,
            "apdu_count": self.apdu_count,
            "read_errors": list(self.read_errors),
            "access_denied": self.access_denied,
            "profile": self.profile,
            "policy": self.policy,
        }


# --- Decoding what was read (never raising) -----------------------------------------------------


@dataclass
class _Decoded:
    dg1: Dg1 | None = None
    dg13: Dg13 | None = None
    dg2: Dg2 | None = None
    problems: dict[int, str] = field(default_factory=dict)


def _decode(groups: Mapping[int, bytes]) -> _Decoded:
    out = _Decoded()
    for number, parser, attr in ((1, Dg1.from_bytes, "dg1"), (13, Dg13.from_bytes, "dg13"),
                                 (2, Dg2.from_bytes, "dg2")):  # fmt: skip
        raw = groups.get(number)
        if raw is None:
            continue
        try:
            setattr(out, attr, parser(raw))
        except CardkitError as exc:
            out.problems[number] = str(exc)
        except Exception as exc:  # hostile bytes must never escape as a crash
            out.problems[number] = f"unreadable ({type(exc).__name__})"
    return out


def _dmy(text: str | None) -> datetime.date | None:
    if not text:
        return None
    try:
        return datetime.datetime.strptime(text.strip(), "%d/%m/%Y").date()
    except ValueError:
        return None


def _mrz_name_field(mrz: Td1 | Td3) -> str:
    if isinstance(mrz, Td1):
        return mrz.lines[2]
    return mrz.lines[0][5:]


def _person(
    decoded: _Decoded, today: datetime.date, profile: Profile | None
) -> PersonalData | None:
    """DG13's details when it decoded, else DG1's (:mod:`cardkit.services.person`)."""
    if decoded.dg13 is not None:
        return PersonalData.from_dg13(decoded.dg13, decoded.dg1)
    if decoded.dg1 is not None:
        return PersonalData.from_dg1(decoded.dg1, today=today, no_expiry=_mrz_no_expiry(profile))
    return None


def _face(decoded: _Decoded) -> Face | None:
    if decoded.dg2 is None or not decoded.dg2.faces:
        return None
    face = decoded.dg2.faces[0]
    return Face(face.image, face.image_format, face.width, face.height)


# --- Content checks (no chip needed) -------------------------------------------------------------


def _dg13_vs_dg1(decoded: _Decoded) -> Check:
    check_id, title = "dg13.dg1", "DG13 agrees with DG1 (ID number, name, date of birth, sex)"
    if 13 in decoded.problems or 1 in decoded.problems:
        bad = ", ".join(f"DG{n}" for n in sorted(decoded.problems) if n in (1, 13))
        return Check(check_id, title, Status.FAIL, f"{bad} cannot be decoded", _CLAUSE_DG13)
    dg13, dg1 = decoded.dg13, decoded.dg1
    if dg13 is None or dg1 is None:
        missing = "DG13" if dg13 is None else "DG1"
        return Check(
            check_id, title, Status.SKIP, f"{missing} not read", _CLAUSE_DG13, essential=False
        )
    mrz = dg1.mrz
    wrong: list[str] = []
    compared: list[str] = []
    # ID number: DG1 carries it whole in the CCCD layout, else its last 9 digits are the
    # document number (DOMAIN.md §3).
    if dg13.id_number is not None:
        compared.append("ID number")
        vn = mrz.vn_id_number if isinstance(mrz, Td1) else None
        if vn is not None:
            if vn != dg13.id_number:
                wrong.append("ID number")
        elif mrz.document_number != dg13.id_number[3:]:
            wrong.append("ID number (document number)")
    if dg13.full_name:
        compared.append("name")
        try:
            surname, given = split_vietnamese_name(dg13.full_name)
            width = len(_mrz_name_field(mrz))
            if mrz_name(surname, given, width) != _mrz_name_field(mrz):
                wrong.append("name")
        except (EncodingError, ValueError):
            wrong.append("name (not transliterable)")
    if dg13.date_of_birth is not None:
        compared.append("date of birth")
        dob = _dmy(dg13.date_of_birth)
        if dob is None:
            wrong.append("date of birth (DG13 not dd/mm/yyyy)")
        elif yymmdd(dob) != mrz.date_of_birth:
            wrong.append("date of birth")
    if dg13.sex is not None:
        compared.append("sex")
        if _SEX_WORDS.get(dg13.sex.strip().lower()) != mrz.sex:
            wrong.append("sex")
    if wrong:
        return Check(
            check_id, title, Status.FAIL, "DG13 contradicts DG1: " + ", ".join(wrong), _CLAUSE_DG13
        )
    if not compared:
        return Check(
            check_id, title, Status.SKIP, "DG13 has none of the fields to compare", _CLAUSE_DG13,
            essential=False,
        )  # fmt: skip
    return Check(check_id, title, Status.PASS, "agree on " + ", ".join(compared), _CLAUSE_DG13)


def _qr_vs_chip(decoded: _Decoded, qr: str | None) -> Check:
    check_id, title = "qr.chip", "The printed QR code agrees with the chip"
    if qr is None:
        return Check(
            check_id, title, Status.SKIP, "no QR payload given", _CLAUSE_QR, essential=False
        )
    try:
        payload = QrPayload.parse(qr)
    except CardkitError as exc:
        return Check(check_id, title, Status.FAIL, f"QR payload unreadable: {exc}", _CLAUSE_QR)
    dg13, dg1 = decoded.dg13, decoded.dg1
    if dg13 is None and dg1 is None:
        return Check(check_id, title, Status.FAIL, "neither DG13 nor DG1 was read", _CLAUSE_QR)
    wrong: list[str] = []
    if dg13 is not None:
        pairs: list[tuple[str, str | None, str]] = [
            ("ID number", dg13.id_number, payload.id_number),
            ("name", dg13.full_name, payload.full_name),
            ("date of birth", dg13.date_of_birth, payload.date_of_birth.strftime("%d/%m/%Y")),
            ("sex", _SEX_WORDS.get((dg13.sex or "").strip().lower()), payload.sex.value),
            ("place of residence", dg13.place_of_residence, payload.place_of_residence),
            ("date of issue", dg13.date_of_issue, payload.date_of_issue.strftime("%d/%m/%Y")),
        ]
        if payload.old_id_number:
            pairs.append(("old ID number", dg13.old_id_number, payload.old_id_number))
        for what, chip, printed in pairs:
            if (
                chip is None
                or " ".join(chip.split()).casefold() != " ".join(printed.split()).casefold()
            ):
                wrong.append(what)
    else:
        assert dg1 is not None
        mrz = dg1.mrz
        vn = mrz.vn_id_number if isinstance(mrz, Td1) else None
        if (vn or "") != payload.id_number and mrz.document_number != payload.id_number[3:]:
            wrong.append("ID number")
        if yymmdd(payload.date_of_birth) != mrz.date_of_birth:
            wrong.append("date of birth")
        if payload.sex.value != mrz.sex:
            wrong.append("sex")
    if wrong:
        return Check(
            check_id, title, Status.FAIL, "the QR code differs in " + ", ".join(wrong), _CLAUSE_QR
        )
    source = "DG13" if dg13 is not None else "DG1"
    return Check(check_id, title, Status.PASS, f"every QR field agrees with {source}", _CLAUSE_QR)


def _mrz_no_expiry(profile: Profile | None) -> frozenset[str]:
    """The MRZ dates that stand for "does not expire": ``<<<<<<`` (9303-5) and the profile's
    placeholder (DOMAIN.md §2); without a profile, those of every installed profile."""
    profiles = (profile,) if profile is not None else installed_profiles()
    return frozenset({"<<<<<<", *(p.expiry.mrz_no_expiry for p in profiles)})


def _expiry(decoded: _Decoded, today: datetime.date) -> Check:
    """The card's expiry is DG1's (the MRZ, ICAO 9303-5 §4.2.2): DG13's "Không thời hạn"
    never overrides a date that has passed; their disagreement is ``dg13.expiry``'s."""
    check_id, title = "document.expiry", "The card has not expired"
    if decoded.dg1 is None:
        why = "DG1 cannot be decoded" if 1 in decoded.problems else "DG1 was not read"
        return Check(check_id, title, Status.SKIP, why, _CLAUSE_EXPIRY)
    try:
        expiry = parse_expiry_date(decoded.dg1.mrz.date_of_expiry)
    except EncodingError:
        return Check(
            check_id, title, Status.FAIL, "DG1's date of expiry is not a date", _CLAUSE_EXPIRY
        )
    if expiry is None:
        return Check(check_id, title, Status.PASS, "DG1: no date of expiry", _CLAUSE_EXPIRY)
    if expiry < today:
        return Check(
            check_id, title, Status.FAIL,
            f"the card expired on {expiry.isoformat()} (DG1)", _CLAUSE_EXPIRY,
        )  # fmt: skip
    return Check(
        check_id, title, Status.PASS, f"valid until {expiry.isoformat()} (DG1)", _CLAUSE_EXPIRY
    )


def _dg13_expiry(decoded: _Decoded, profile: Profile | None) -> Check:
    check_id, title = "dg13.expiry", "DG13's date of expiry agrees with DG1's"
    dg13, dg1 = decoded.dg13, decoded.dg1
    if dg13 is None or dg1 is None or dg13.date_of_expiry is None:
        missing = "DG1" if dg1 is None else "DG13" if dg13 is None else "DG13's date of expiry"
        return Check(
            check_id, title, Status.SKIP, f"{missing} not read", _CLAUSE_DG13, essential=False
        )
    mrz_date = dg1.mrz.date_of_expiry
    text = dg13.date_of_expiry.strip()
    if text == NO_EXPIRY_TEXT:
        if mrz_date in _mrz_no_expiry(profile):
            return Check(
                check_id, title, Status.PASS,
                "no expiry in DG13, the MRZ carries the no-expiry date", _CLAUSE_DG13,
            )  # fmt: skip
        return Check(
            check_id, title, Status.FAIL,
            "DG13 says the card does not expire but DG1 has a date of expiry", _CLAUSE_DG13,
        )  # fmt: skip
    doe = _dmy(text)
    if doe is None:
        return Check(check_id, title, Status.FAIL, "DG13's date of expiry is not dd/mm/yyyy",
                     _CLAUSE_DG13)  # fmt: skip
    if yymmdd(doe) != mrz_date:
        return Check(check_id, title, Status.FAIL, "DG13 and DG1 give different dates of expiry",
                     _CLAUSE_DG13)  # fmt: skip
    return Check(check_id, title, Status.PASS, "the same date in DG13 and DG1", _CLAUSE_DG13)


def _deny(decoded: _Decoded, deny_list: DenyList | None) -> Check:
    check_id, title = "document.denylist", "The card is not listed as lost, stolen or revoked"
    if deny_list is None:
        return Check(
            check_id, title, Status.SKIP, "no deny list given", _CLAUSE_DENY, essential=False
        )
    numbers: list[str | None] = []
    if decoded.dg1 is not None:
        mrz = decoded.dg1.mrz
        numbers += [mrz.document_number, mrz.vn_id_number if isinstance(mrz, Td1) else None]
    if decoded.dg13 is not None:
        numbers += [decoded.dg13.id_number, decoded.dg13.old_id_number]
    if not any(numbers):
        return Check(check_id, title, Status.SKIP, "no document number was read", _CLAUSE_DENY)
    entry = deny_list.lookup(*numbers)
    if entry is not None:
        reason = f": {entry.reason}" if entry.reason else ""
        return Check(
            check_id, title, Status.FAIL, f"the document is on the deny list{reason}",
            _CLAUSE_DENY,
        )  # fmt: skip
    return Check(
        check_id, title, Status.PASS, f"not among {len(deny_list)} listed documents", _CLAUSE_DENY
    )


def content_checks(
    data_groups: Mapping[int, bytes],
    *,
    today: datetime.date,
    qr: str | None = None,
    deny_list: DenyList | None = None,
    profile: Profile | None = None,
) -> tuple[Check, ...]:
    """The checks on the card's content that need no chip: ``dg13.dg1``, ``dg13.expiry``,
    ``qr.chip``, ``document.expiry``, ``document.denylist`` (module docstring); ``profile``
    gives the MRZ's no-expiry date (by default, any installed profile's). Never raises on
    hostile data groups."""
    return _content_checks(_decode(data_groups), today, qr, deny_list, profile)


def _content_checks(
    decoded: _Decoded,
    today: datetime.date,
    qr: str | None,
    deny_list: DenyList | None,
    profile: Profile | None,
) -> tuple[Check, ...]:
    return (
        _dg13_vs_dg1(decoded),
        _dg13_expiry(decoded, profile),
        _qr_vs_chip(decoded, qr),
        _expiry(decoded, today),
        _deny(decoded, deny_list),
    )


# --- The profile: which one, and its promises ---------------------------------------------------


def resolve_profile(
    profile: Profile | str | None, data_groups: Mapping[int, bytes]
) -> tuple[Profile | None, bool]:
    """The profile to hold a card to, and whether it was given (True) or inferred from DG1's
    issuing state and document code among the installed profiles (False; None when none
    matches). ProfileError for an unknown profile name."""
    if isinstance(profile, str):
        return load_profile(profile), True
    if profile is not None:
        return profile, True
    dg1 = _decode({1: data_groups[1]}).dg1 if 1 in data_groups else None
    if dg1 is None:
        return None, False
    return profile_for_document(dg1.mrz.issuing_state, dg1.mrz.document_code), False


def resolve_policy(
    policy: VerificationPolicy | None, profile: Profile | None, *, require_crl: bool = False
) -> VerificationPolicy:
    """``policy`` when given, else the profile's (``[verification] policy``), else DEFAULT;
    a CRL is required when ``require_crl`` or the profile says so."""
    chosen = policy
    if chosen is None:
        chosen = policy_named(profile.verification.policy) if profile is not None else DEFAULT
    if require_crl or (profile is not None and profile.verification.require_crl):
        chosen = chosen.with_crl_required()
    return chosen


def _profile_document(decoded: _Decoded, profile: Profile, given: bool) -> Check:
    check_id, title = "profile.document", f"The card is a {profile.name} document"
    doc = profile.document
    if decoded.dg1 is None:
        return Check(check_id, title, Status.SKIP, "DG1 was not read", _CLAUSE_PROFILE)
    mrz = decoded.dg1.mrz
    if (mrz.issuing_state, mrz.document_code) != (doc.issuing_state, doc.document_code):
        return Check(
            check_id, title, Status.FAIL,
            f"DG1 names issuing state {mrz.issuing_state} and document code "
            f"{mrz.document_code!r}; the profile is for {doc.issuing_state} {doc.document_code!r}",
            _CLAUSE_PROFILE,
        )  # fmt: skip
    how = "given" if given else "inferred from DG1"
    return Check(
        check_id, title, Status.PASS,
        f"{doc.issuing_state} {doc.document_code!r} (profile {how})", _CLAUSE_PROFILE,
    )  # fmt: skip


def _profile_data_groups(
    profile: Profile,
    sod_groups: Sequence[int] | None,
    read_groups: Iterable[int],
    protected: Iterable[int] = (),
) -> Check:
    check_id = "profile.data_groups"
    title = "The card carries every data group its profile mandates"
    mandated = profile.lds.data_groups
    signed = set(sod_groups or ())
    present = set(read_groups) | (set(protected) & set(_EAC))
    problems = []
    unsigned = [n for n in mandated if n not in signed]
    if unsigned:
        problems.append("not in the SOD: " + ", ".join(f"DG{n}" for n in unsigned))
    absent = [n for n in mandated if n in signed and n not in present]
    if absent:
        problems.append("not on the chip: " + ", ".join(f"DG{n}" for n in absent))
    if problems:
        return Check(
            check_id, title, Status.FAIL,
            f"{profile.name} mandates {_dg_list(mandated)}; " + "; ".join(problems),
            _CLAUSE_PROFILE,
        )  # fmt: skip
    return Check(check_id, title, Status.PASS, f"{_dg_list(mandated)} present and signed",
                 _CLAUSE_PROFILE)  # fmt: skip


def _dg_list(numbers: Iterable[int]) -> str:
    return ", ".join(f"DG{n}" for n in numbers)


def _profile_chip_checks(profile: Profile, read: CardRead, checks: Sequence[Check]) -> list[Check]:
    """The access and authentication promises of the profile, from what the chip did."""
    by_id = {c.id: c for c in checks}
    access = profile.access
    out: list[Check] = []
    if access.pace_passwords:
        title = "The chip offers and used PACE, as its profile promises"
        offered = _pace_offers(read)
        if read.access == "BAC":
            detail = "read with BAC only" + (
                "" if offered.card_access else "; EF.CardAccess lists no PACE"
            )
            out.append(
                Check(
                    "profile.pace",
                    title,
                    Status.FAIL,
                    f"{profile.name} promises PACE: {detail}",
                    _CLAUSE_PROFILE,
                )
            )
        elif not offered.card_access:
            out.append(Check("profile.pace", title, Status.FAIL,
                             "EF.CardAccess lists no PACE", _CLAUSE_PROFILE))  # fmt: skip
        else:
            out.append(Check("profile.pace", title, Status.PASS, read.access, _CLAUSE_PROFILE))
    for flag, check_id, source, what in (
        (
            access.chip_authentication,
            "profile.chip_authentication",
            "chip.authentication",
            "chip authentication",
        ),
        (
            access.active_authentication != "none",
            "profile.active_authentication",
            "active.authentication",
            f"{access.active_authentication} active authentication",
        ),
    ):
        if not flag:
            continue
        title = f"The chip passed {what}, as its profile promises"
        done = by_id.get(source)
        if done is not None and done.status is Status.SKIP and done.essential:
            # It ran but is not counted: passive authentication failed, and says why.
            out.append(Check(check_id, title, Status.SKIP, f"{source}: {done.detail}",
                             _CLAUSE_PROFILE))  # fmt: skip
            continue
        if done is None or done.status is not Status.PASS:
            state = "not performed" if done is None else f"{source} {done.status.value}"
            out.append(
                Check(
                    check_id,
                    title,
                    Status.FAIL,
                    f"{profile.name} mandates {what}: {state}",
                    _CLAUSE_PROFILE,
                )
            )
            continue
        if check_id == "profile.active_authentication":
            kind = _aa_kind(read)
            if kind != access.active_authentication:
                out.append(Check(check_id, title, Status.FAIL,
                                 f"{profile.name} mandates {what}; DG15 holds a {kind} key",
                                 _CLAUSE_PROFILE))  # fmt: skip
                continue
        out.append(Check(check_id, title, Status.PASS, "as promised", _CLAUSE_PROFILE))
    return out


def _aa_kind(read: CardRead) -> str:
    raw = read.files.get(files.dg(15))
    try:
        key = Dg15.from_bytes(raw).public_key() if raw is not None else None
    except Exception:  # hostile bytes: no key kind
        key = None
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "ECDSA"
    return "RSA" if isinstance(key, rsa.RSAPublicKey) else "unknown"


def profile_checks(
    profile: Profile | None,
    given: bool,
    data_groups: Mapping[int, bytes],
    sod_groups: Sequence[int] | None,
) -> tuple[Check, ...]:
    """The promises of ``profile`` that the files alone show (``profile.document``,
    ``profile.data_groups``); ``profile.match`` (SKIP) when no installed profile fits."""
    if profile is None:
        return (
            Check(
                "profile.match", "An installed profile describes this card", Status.SKIP,
                "no installed profile for this issuing state and document code: the card is "
                "held to ICAO 9303 alone", _CLAUSE_PROFILE, essential=False,
            ),
        )  # fmt: skip
    decoded = _decode({n: d for n, d in data_groups.items() if n == 1})
    return (
        _profile_document(decoded, profile, given),
        _profile_data_groups(profile, sod_groups, data_groups),
    )


# --- Chip checks ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _PaceOffer:
    card_access: bool  # EF.CardAccess lists a PACEInfo
    dg14: bool  # DG14 lists a PACEInfo
    supported: bool  # one of them is a variant cardkit can run


def _pace_infos_in(raw: bytes | None, parse: Callable[[bytes], CardAccess]) -> CardAccess | None:
    if raw is None:
        return None
    try:
        found = parse(raw)
    except Exception:  # hostile bytes: no evidence either way (chip.read / dg.hash report it)
        return None
    return found if found.pace_infos else None


def _pace_offers(read: CardRead) -> _PaceOffer:
    """Where the chip says it offers PACE (9303-11 §9.2: EF.CardAccess, repeated in DG14)."""
    card_access = _pace_infos_in(read.files.get(files.CARD_ACCESS), CardAccess.from_bytes)

    def from_dg14(raw: bytes) -> CardAccess:
        dg14 = Dg14.from_bytes(raw)
        return CardAccess(dg14.security_infos, dg14.security_infos.raw)

    in_dg14 = _pace_infos_in(read.files.get(files.dg(14)), from_dg14)
    supported = any(
        offer is not None and choose_pace_info(offer) is not None
        for offer in (card_access, in_dg14)
    )
    return _PaceOffer(card_access is not None, in_dg14 is not None, supported)


def _access_check(read: CardRead, policy: VerificationPolicy) -> Check:
    check_id, title = "chip.access", "Access control protects the chip's data"
    if read.access != "BAC":
        return Check(check_id, title, Status.PASS, f"{read.access}", _CLAUSE_ACCESS)
    offer = _pace_offers(read)
    if offer.card_access or offer.dg14:
        where = " and ".join(
            name for name, on in (("EF.CardAccess", offer.card_access), ("DG14", offer.dg14)) if on
        )
        hidden = "" if offer.card_access else "; EF.CardAccess was not served"
        if not offer.supported:
            # Not the chip's fault: a PACE variant cardkit cannot run (e.g. integrated mapping).
            return Check(
                check_id, title, Status.SKIP,
                f"{where} lists PACE in a variant cardkit does not support: read with BAC, "
                "so the chip's PACE was not verified", _CLAUSE_DOWNGRADE,
            )  # fmt: skip
        detail = (
            f"the chip offers PACE ({where}) but refused it: read with BAC only{hidden} "
            "(a downgrade: a chip with PACE is read with PACE)"
        )
        if policy.downgrade == "fail":
            return Check(check_id, title, Status.FAIL, detail, _CLAUSE_DOWNGRADE)
        return Check(
            check_id, title, Status.WARN,
            f"{detail}; tolerated by the {policy.name} policy", _CLAUSE_DOWNGRADE,
        )  # fmt: skip
    return Check(
        check_id, title, Status.WARN,
        "BAC was the only access control: its keys come from the document number and two "
        "dates and have very low entropy on this card, so the read may have been skimmed "
        "(prefer PACE)",
        _CLAUSE_ACCESS,
    )  # fmt: skip


def _read_check(read: CardRead) -> Check:
    check_id, title = "chip.read", "The chip was opened and read"
    detail = f"{len(read.files)} files in {read.apdu_count} APDUs"
    notes = [e for e in read.errors if not e.startswith(("chip authentication", "active auth"))]
    if notes:
        return Check(
            check_id, title, Status.WARN, f"{detail}; {'; '.join(notes)}", _CLAUSE_READ,
            essential=False,
        )  # fmt: skip
    return Check(check_id, title, Status.PASS, detail, _CLAUSE_READ)


def _completeness(read: CardRead, sod_groups: Sequence[int] | None) -> Check:
    check_id, title = "lds.completeness", "Every data group the SOD lists was read"
    if sod_groups is None:
        return Check(check_id, title, Status.SKIP, "EF.SOD could not be read", _CLAUSE_COMPLETE)
    got = read.data_groups()
    absent = [n for n in sod_groups if n not in got and not (n in _EAC and n in read.protected)]
    if absent:
        names = ", ".join(f"DG{n}" for n in absent)
        return Check(
            check_id, title, Status.FAIL, f"listed in the SOD but not served by the chip: {names}",
            _CLAUSE_COMPLETE,
        )  # fmt: skip
    protected = [n for n in sod_groups if n in read.protected]
    detail = f"{len(sod_groups) - len(protected)} data groups read"
    if protected:
        detail += "; " + ", ".join(f"DG{n}" for n in protected) + " protected by EAC"
    return Check(check_id, title, Status.PASS, detail, _CLAUSE_COMPLETE)


def _vouched(passive: Sequence[Check], number: int) -> str | None:
    """None when passive authentication vouches for DG ``number``, else why not."""
    by_id = {c.id: c for c in passive}
    for check_id in (*_PA_CORE, f"dg.hash.{number}"):
        check = by_id.get(check_id)
        if check is None or check.status not in (Status.PASS, Status.WARN):
            return f"passive authentication does not vouch for DG{number} ({check_id})"
    return None


def _ca_check(
    read: CardRead | None, ca_failure: str | None, passive: Sequence[Check], dg14_listed: bool
) -> Check:
    check_id, title = "chip.authentication", "Chip authentication: the chip holds its DG14 key"
    if ca_failure is not None:
        return Check(check_id, title, Status.FAIL, ca_failure, _CLAUSE_CA)
    assert read is not None
    state = read.chip_authentication
    if state == "failed":
        return Check(
            check_id, title, Status.FAIL, "PACE-CAM data do not match DG14's key", _CLAUSE_CA
        )
    if state == "not performed":
        failed = [e for e in read.errors if e.startswith("chip authentication failed")]
        if failed:
            return Check(check_id, title, Status.FAIL, failed[0], _CLAUSE_CA)
        if dg14_listed and not _dg14_without_ca(read):
            reasons = [e for e in read.errors if "chip authentication" in e or "DG14" in e]
            return Check(
                check_id, title, Status.FAIL,
                "DG14 is on the card but chip authentication could not be performed"
                + (f" ({reasons[0]})" if reasons else ""),
                _CLAUSE_CA,
            )  # fmt: skip
        return Check(
            check_id, title, Status.SKIP,
            "the chip offers no chip authentication (no DG14 chip-authentication key)",
            _CLAUSE_CA, essential=False,
        )  # fmt: skip
    why = _vouched(passive, 14)
    if why is not None:
        return Check(check_id, title, Status.SKIP, f"{state} ran but is not counted: {why}",
                     _CLAUSE_CA)  # fmt: skip
    return Check(check_id, title, Status.PASS, f"{state} with the key of DG14", _CLAUSE_CA)


def _dg14_without_ca(read: CardRead) -> bool:
    """Whether DG14 was read, decodes, and lists no chip-authentication public key (a chip
    that offers PACE but not CA: 9303-11 §9.2)."""
    raw = read.files.get(files.dg(14))
    if raw is None:
        return False
    try:
        return not Dg14.from_bytes(raw).security_infos.chip_authentication_public_keys
    except Exception:  # hostile bytes: not evidence of anything
        return False


def _aa_check(read: CardRead | None, passive: Sequence[Check], dg15_listed: bool) -> Check:
    check_id, title = "active.authentication", "Active authentication: the chip holds its DG15 key"
    if read is None:
        return Check(check_id, title, Status.SKIP, "the chip could not be read", _CLAUSE_AA)
    if read.aa is None:
        if dg15_listed or 15 in read.data_groups():
            failed = [e for e in read.errors if e.startswith("active authentication")]
            detail = failed[0] if failed else "DG15 is on the card but AA was not performed"
            return Check(check_id, title, Status.FAIL, detail, _CLAUSE_AA)
        return Check(
            check_id, title, Status.SKIP, "the chip offers no active authentication (no DG15)",
            _CLAUSE_AA, essential=False,
        )  # fmt: skip
    if not read.aa.verified:
        return Check(
            check_id, title, Status.FAIL,
            f"the chip's signature does not verify with DG15's key ({read.aa.algorithm})",
            _CLAUSE_AA,
        )  # fmt: skip
    why = _vouched(passive, 15)
    if why is not None:
        return Check(check_id, title, Status.SKIP, f"AA verified but not counted: {why}",
                     _CLAUSE_AA)  # fmt: skip
    return Check(check_id, title, Status.PASS, f"verified ({read.aa.algorithm})", _CLAUSE_AA)


def _mrz_key_check(decoded: _Decoded, key: AccessKey) -> Check:
    check_id, title = "mrz.access_key", "DG1's MRZ is the one used to open the chip"
    if key.mrz_key is None:
        return Check(
            check_id, title, Status.SKIP,
            "opened with the CAN, which is not derived from the MRZ in any certain way "
            "(DOMAIN.md §1): compare the printed MRZ with DG1 by eye, or verify with the MRZ",
            _CLAUSE_MRZ, essential=False,
        )  # fmt: skip
    if decoded.dg1 is None:
        why = "DG1 cannot be decoded" if 1 in decoded.problems else "DG1 not read"
        return Check(check_id, title, Status.FAIL, why, _CLAUSE_MRZ)
    mrz, used = decoded.dg1.mrz, key.mrz_key
    wrong = [
        name
        for name, a, b in (
            ("document number", mrz.document_number, used.document_number.rstrip("<")),
            ("date of birth", mrz.date_of_birth, used.date_of_birth),
            ("date of expiry", mrz.date_of_expiry, used.date_of_expiry),
        )
        if a != b
    ]
    if wrong:
        return Check(
            check_id, title, Status.FAIL, "DG1 differs from the MRZ used in " + ", ".join(wrong),
            _CLAUSE_MRZ,
        )  # fmt: skip
    return Check(
        check_id, title, Status.PASS, "document number and dates agree with the MRZ used",
        _CLAUSE_MRZ,
    )  # fmt: skip


def _com_groups(read: CardRead) -> tuple[tuple[int, ...] | None, Check | None]:
    raw = read.files.get(files.COM)
    if raw is None:
        return None, None
    try:
        return Com.from_bytes(raw).data_groups, None
    except Exception as exc:  # hostile bytes
        detail = str(exc) if isinstance(exc, CardkitError) else type(exc).__name__
        return None, Check("com.parse", "EF.COM decodes", Status.FAIL, detail, "9303-10 §4.6.1")


def _sod_groups(read: CardRead) -> tuple[int, ...] | None:
    """The data groups EF.SOD lists (None when it cannot be decoded: sod.parse says why)."""
    raw = read.files.get(files.SOD)
    if raw is None:
        return None
    try:
        return tuple(Sod.from_bytes(raw).lds_security_object.hashes)
    except Exception:
        return None


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _aa_algorithm_check(read: CardRead, policy: VerificationPolicy) -> Check | None:
    """``algorithm.aa``: the hash and key of active authentication against the policy (only
    when AA ran). The hash is in AaResult.algorithm ("ECDSA SHA-256", "RSA ISO/IEC 9796-2
    SHA-1"), the key in DG15."""
    if read.aa is None:
        return None
    check_id, title = "algorithm.aa", "Active authentication's algorithm meets the policy"
    findings: list[tuple[Status, str]] = []
    match = re.search(r"SHA-?(\d+)", read.aa.algorithm)
    hash_name = f"sha{match.group(1)}" if match else None
    findings.append(
        (policy.hash_status(hash_name), f"hash {hash_name.upper()}")
        if hash_name
        else (Status.FAIL, f"hash of {read.aa.algorithm!r} unknown")
    )
    raw = read.files.get(files.dg(15))
    key: object = None
    try:
        key = Dg15.from_bytes(raw).public_key() if raw is not None else None
    except Exception:  # hostile bytes: active.authentication reports them
        key = None
    if isinstance(key, rsa.RSAPublicKey):
        findings.append((policy.key_status("RSA", key.key_size), f"RSA-{key.key_size}"))
    elif isinstance(key, ec.EllipticCurvePublicKey):
        bits = key.curve.key_size
        findings.append((policy.key_status("EC", bits), f"EC {key.curve.name} ({bits} bits)"))
    else:
        findings.append((Status.FAIL, "DG15 key unreadable"))
    worst = max((s for s, _ in findings), key=lambda s: (Status.PASS, Status.WARN,
                                                         Status.FAIL).index(s))  # fmt: skip
    shown = ", ".join(t for s, t in findings if s is worst or worst is Status.PASS)
    if worst is Status.FAIL:
        shown += f": not allowed by the {policy.name} policy"
    elif worst is Status.WARN:
        shown += f": weak, tolerated by the {policy.name} policy"
    return Check(check_id, title, worst, shown, CLAUSE_ALGORITHMS)


def _unexpected(exc: BaseException) -> str:
    """What a failure says about the card, for a check's detail (never a secret: cardkit's
    errors name fields, and other exceptions are named by type only)."""
    if isinstance(exc, CardkitError):
        return str(exc)
    return f"the chip sent data cardkit cannot process ({type(exc).__name__})"


@dataclass
class _Attempt:
    read: CardRead | None = None
    failure: str | None = None
    ca_failure: str | None = None
    denied: AccessDeniedError | None = None


def _read_guarded(
    connection: Connection, key: AccessKey, rng: Rng, extended_length: bool | None
) -> _Attempt:
    """Read the chip; everything but a reader or card that goes away becomes a finding."""
    attempt = _Attempt()
    try:
        attempt.read = read_card(connection, key, rng=rng, extended_length=extended_length)
        return attempt
    except TransportError:
        raise
    except AccessDeniedError as exc:
        attempt.denied = exc
        return attempt
    except ProtocolError as exc:
        if exc.step != STEP_CA:
            attempt.failure = str(exc)
            return attempt
        # The chip answered CA but cannot protect a response with the keys it implies: it
        # does not hold DG14's private key (a clone). Read again without CA, so that passive
        # authentication, AA and the rest still report.
        attempt.ca_failure = f"the chip does not hold DG14's private key ({exc})"
    except Exception as exc:  # anything a hostile chip provokes: a finding, never a crash
        attempt.failure = _unexpected(exc)
        return attempt
    try:
        attempt.read = read_card(
            connection, key, rng=rng, chip_authentication=False, extended_length=extended_length
        )
    except TransportError:
        raise
    except Exception as exc:  # the same boundary for the second read
        attempt.failure = f"the chip could not be read again after CA failed: {_unexpected(exc)}"
    return attempt


def verify_card(
    connection: Connection,
    key: AccessKey,
    trust: TrustStore,
    *,
    at: datetime.datetime | None = None,
    today: datetime.date | None = None,
    qr: str | None = None,
    deny_list: DenyList | None = None,
    rng: Rng | None = None,
    extended_length: bool | None = None,
    policy: VerificationPolicy | None = None,
    profile: Profile | str | None = None,
    require_crl: bool = False,
) -> Inspection:
    """Inspect the chip on ``connection`` (module docstring; ICAO 9303-11 §7).

    ``at`` is the verification time for certificates and CRLs (default: now, UTC); ``today``
    the day the expiry is checked against (default: ``at``'s date). ``qr`` is the printed QR
    code's payload, ``deny_list`` a list of lost, stolen or revoked documents. ``profile``
    (a Profile or its name) is what the card must be; by default it is inferred from DG1
    among the installed profiles. ``policy`` (default: the profile's, else
    :data:`cardkit.pki.policy.DEFAULT`) sets the algorithms and evidence demanded;
    ``require_crl`` makes a missing or expired CRL INCOMPLETE.

    Never raises on what a chip sends: every failure is a FAIL in the report. A chip that
    refuses the CAN/MRZ gives an INCOMPLETE inspection with ``access_denied`` set (a wrong key
    is not a forgery). Raises :class:`~cardkit.errors.TransportError` when the card or the
    reader goes away (no verdict can be given about a card that was not there), and
    ProfileError for an unknown profile name.
    """
    moment = at if at is not None else _now()
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("at must be timezone-aware")
    day = today if today is not None else moment.date()
    random = rng if rng is not None else os.urandom
    if isinstance(profile, str):
        profile = load_profile(profile)

    attempt = _read_guarded(connection, key, random, extended_length)
    if attempt.denied is not None:
        denied = Check("chip.access", "Access control protects the chip's data", Status.SKIP,
                       str(attempt.denied), _CLAUSE_ACCESS)  # fmt: skip
        return Inspection(Report((denied,)), access_denied=True)
    read = attempt.read
    if read is None:
        detail = attempt.failure or "the chip could not be read"
        failed = [Check("chip.read", "The chip was opened and read", Status.FAIL, detail,
                        _CLAUSE_READ)]  # fmt: skip
        if attempt.ca_failure is not None:
            failed.append(_ca_check(None, attempt.ca_failure, (), True))
        return Inspection(Report(tuple(failed)))
    try:
        return _inspect(read, attempt.ca_failure, key, trust, moment, day, qr, deny_list,
                        policy, profile, require_crl)  # fmt: skip
    except Exception as exc:  # a defect met on hostile data: still a verdict, never VALID
        crash = Check("verify.internal", "The card's data could be checked", Status.FAIL,
                      _unexpected(exc), _CLAUSE_READ)  # fmt: skip
        return Inspection(Report((_read_check(read), crash)), access=read.access,
                          apdu_count=read.apdu_count, read_errors=read.errors)  # fmt: skip


def _inspect(
    read: CardRead,
    ca_failure: str | None,
    key: AccessKey,
    trust: TrustStore,
    moment: datetime.datetime,
    day: datetime.date,
    qr: str | None,
    deny_list: DenyList | None,
    policy: VerificationPolicy | None,
    profile: Profile | None,
    require_crl: bool,
) -> Inspection:
    groups = read.data_groups()
    chosen, given = resolve_profile(profile, groups)
    rules = resolve_policy(policy, chosen, require_crl=require_crl)
    com_groups, com_check = _com_groups(read)
    passive = passive_authentication(
        read.files.get(files.SOD, b""), groups, trust, at=moment, com_data_groups=com_groups,
        policy=rules,
    )  # fmt: skip
    sod_groups = _sod_groups(read)
    listed = set(sod_groups or ()) | set(com_groups or ())
    decoded = _decode(groups)
    checks: list[Check] = [_read_check(read), _access_check(read, rules)]
    if com_check is not None:
        checks.append(com_check)
    checks.extend(passive)
    checks.append(_completeness(read, sod_groups))
    checks.append(_ca_check(read, ca_failure, passive, 14 in listed))
    checks.append(_aa_check(read, passive, 15 in listed))
    aa_algorithm = _aa_algorithm_check(read, rules)
    if aa_algorithm is not None:
        checks.append(aa_algorithm)
    checks.append(_mrz_key_check(decoded, key))
    checks.extend(_content_checks(decoded, day, qr, deny_list, chosen))
    checks.extend(profile_checks(chosen, given, groups, sod_groups))
    if chosen is not None:
        checks.extend(_profile_chip_checks(chosen, read, checks))
    return Inspection(
        report=Report(tuple(checks)),
        person=_person(decoded, day, chosen),
        face=_face(decoded),
        access=read.access,
        apdu_count=read.apdu_count,
        read_errors=read.errors,
        profile=chosen.name if chosen is not None else None,
        policy=rules.name,
    )


# --- The checkpoint loop -------------------------------------------------------------------------

R = TypeVar("R")


@dataclass(frozen=True)
class _Status:
    present: bool
    mute: bool


def _reader_state(reader: str, statuses: Callable[[], Iterable[object]]) -> _Status | None:
    """The card state of ``reader``; None when pcscd cannot be asked."""
    try:
        for status in statuses():
            if getattr(status, "name", None) == reader:
                return _Status(
                    bool(getattr(status, "card_present", False)),
                    bool(getattr(status, "mute", False)),
                )
    except CardkitError:
        return None
    return _Status(False, False)  # the reader is not there (unplugged): no card


def watch_reader(
    reader: str,
    inspect: Callable[[], R],
    report: Callable[[R | Exception], None],
    *,
    statuses: Callable[[], Iterable[object]] | None = None,
    on_event: Callable[[str], None] | None = None,
    poll: float = 0.1,
    sleep: Callable[[float], None] = time.sleep,
    max_cards: int | None = None,
) -> int:
    """The checkpoint loop: wait for a card in ``reader``, ``inspect()`` it, ``report`` the
    result (or the exception it raised: one card's failure never stops the loop), wait for
    the card to be removed, and start again. Returns the number of cards seen after
    ``max_cards`` cards (for tests); otherwise it runs until KeyboardInterrupt, which it lets
    through to the caller.

    ``statuses`` lists the readers' states (default
    :func:`cardkit.transport.pcsc.reader_statuses`, polled every ``poll`` seconds: pcscd itself
    notices cards every ~400 ms, DOMAIN.md §8). ``on_event`` hears ``"waiting"``,
    ``"inserted"``, ``"removed"`` and ``"pcscd unavailable"``.
    """
    if statuses is None:
        from cardkit.transport.pcsc import reader_statuses

        statuses = reader_statuses
    tell = on_event or (lambda _event: None)
    seen = 0
    unavailable = False

    def wait_until(present: bool) -> None:
        nonlocal unavailable
        while True:
            state = _reader_state(reader, statuses)
            if state is None:
                if not unavailable:
                    tell("pcscd unavailable")
                unavailable = True
            else:
                unavailable = False
                if state.present == present and not (present and state.mute):
                    return
            sleep(poll)

    while max_cards is None or seen < max_cards:
        tell("waiting")
        wait_until(True)
        tell("inserted")
        seen += 1
        try:
            result: R | Exception = inspect()
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # one card's failure never stops the checkpoint
            result = exc
        report(result)
        wait_until(False)
        tell("removed")
    return seen
