"""Inspection of a chip ID card at a checkpoint (``cardkit verify``): ICAO 9303-11 §7 with the
PKI of 9303-12, and the card-level checks an inspection system adds.

:func:`verify_card` opens the chip (PACE when it offers it, else BAC), reads every readable file
(:func:`cardkit.services.read.read_card`), then reports every step as its own
:class:`~cardkit.report.Check` — nothing stops at the first failure, and nothing a hostile chip
sends makes it raise (only a reader or a card that goes away does: TransportError):

==========================  =====================================================================
``chip.read``               the read itself; FAIL when the chip could not be opened or broke
                            secure messaging (a wrong MRZ/CAN looks the same as a false chip)
``chip.access``             PACE: PASS; BAC only: WARN — the BAC keys of this card have very low
                            entropy (DOMAIN.md §1: document number = ID digits, dates from the
                            birthday), so the read could have been skimmed
``sod.parse`` … ``com.consistency``  passive authentication (:mod:`cardkit.pki.passive`)
``lds.completeness``        every data group the SOD lists was read (EAC-protected DG3/DG4 that
                            the chip refuses with 6982 excepted): a chip hiding DG15 to dodge
                            active authentication fails here
``chip.authentication``     CA (DG14, 9303-11 §6.2) or PACE-CAM; counted only when passive
                            authentication vouches for DG14 (9303-11 §6.2.1)
``active.authentication``   AA (DG15, 9303-11 §6.1); counted only when passive authentication
                            vouches for DG15
``mrz.access_key``          DG1's MRZ against the MRZ key used to open the chip; with a CAN this
                            is SKIPped: how the CAN relates to the ID number is uncertain
                            (DOMAIN.md §1), so nothing is claimed
``dg13.dg1``                DG13 against DG1: ID number, name (transliterated as 9303-3 does),
                            date of birth, sex, date of expiry
``qr.chip``                 the printed QR code (its payload, given by the officer) against the chip
``document.expiry``         the card's date of expiry against today
``document.denylist``       the document against a deny list of lost, stolen or revoked cards
==========================  =====================================================================

Details name fields, never their values (the MRZ is a secret; DG13 is personal data): the
personal data are returned separately, in :attr:`Inspection.person`.

:func:`content_checks` are the checks that need no chip (``dg13.dg1``, ``qr.chip``,
``document.expiry``, ``document.denylist``): ``cardkit verify-files`` runs them on card images.
:func:`watch_reader` is the checkpoint loop of ``cardkit verify --watch``.
"""

from __future__ import annotations

import datetime
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypeVar

from cryptography import x509

from cardkit.encoding.mrz import Td1, Td3, parse_expiry_date, yymmdd
from cardkit.encoding.translit import mrz_name, split_vietnamese_name
from cardkit.errors import CardError, CardkitError, EncodingError, PkiError, ProtocolError
from cardkit.lds import files
from cardkit.lds.com import Com
from cardkit.lds.dg1 import Dg1
from cardkit.lds.dg2 import Dg2
from cardkit.lds.dg13 import Dg13
from cardkit.lds.sod import Sod
from cardkit.pki.masterlist import read_master_list, verify_master_list
from cardkit.pki.passive import passive_authentication
from cardkit.pki.trust import TrustStore
from cardkit.records.model import NO_EXPIRY_TEXT
from cardkit.records.qr import QrPayload
from cardkit.report import Check, Report, Status, Verdict
from cardkit.services.denylist import DenyList
from cardkit.services.read import STEP_CA, AccessKey, CardRead, Rng, read_card
from cardkit.transport.connection import Connection

__all__ = [
    "Face",
    "Inspection",
    "PersonalData",
    "content_checks",
    "load_trust",
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

#: Checks of passive authentication that must pass for DG14/DG15 to be trusted.
_PA_CORE = ("sod.signature", "dsc.chain")
#: EAC-protected data groups a verifier without terminal authentication cannot read.
_EAC = (3, 4)
_SEX_WORDS = {"nam": "M", "nữ": "F", "nu": "F"}

FaceFormat = Literal["jpeg", "jpeg2000"]


# --- The result ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PersonalData:
    """The holder's details as the chip states them: from DG13 when it was read and decoded
    (``source`` ``"DG13"``), else from DG1's MRZ (``"DG1"``, transliterated, dates ``YYMMDD``).
    Fields the source does not carry are ``None``."""

    source: Literal["DG13", "DG1"]
    id_number: str | None = None
    document_number: str | None = None
    full_name: str | None = None
    date_of_birth: str | None = None
    sex: str | None = None
    nationality: str | None = None
    ethnicity: str | None = None
    religion: str | None = None
    place_of_origin: str | None = None
    place_of_residence: str | None = None
    identifying_marks: str | None = None
    date_of_issue: str | None = None
    date_of_expiry: str | None = None
    old_id_number: str | None = None

    def __repr__(self) -> str:  # personal data: not in logs by accident
        return f"PersonalData(source={self.source!r}, <redacted>)"

    def describe(self) -> dict[str, object]:
        return {
            name: getattr(self, name)
            for name in self.__dataclass_fields__
            if getattr(self, name) is not None
        }


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
        }


# --- Trust anchors -------------------------------------------------------------------------------


def _load_crl(path: Path) -> x509.CertificateRevocationList:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PkiError(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except ValueError:
        raise PkiError(f"{path}: not a readable X.509 CRL") from None


def load_trust(
    trust: Path | None = None,
    masterlist: Path | None = None,
    crls: Sequence[Path] = (),
) -> TrustStore:
    """The trust anchors of an inspection (9303-12 §5, §9): CSCA certificates and CRLs from the
    folder ``trust``, the CSCAs of the CMS ``masterlist`` once its signature and its signer's
    chain to a CSCA of that folder verify (a master list is only as good as its signer: without
    ``trust`` it cannot be trusted), and the extra ``crls``. PkiError / EncodingError when one
    cannot be used."""
    store = TrustStore.from_folder(trust) if trust is not None else TrustStore()
    if masterlist is not None:
        if not store.cscas:
            raise PkiError(
                "a master list is trusted through its signer: give the trust folder with the "
                "CSCA that issued the master list signer"
            )
        try:
            data = masterlist.read_bytes()
        except OSError as exc:
            raise PkiError(f"{masterlist}: cannot be read ({exc.strerror})") from None
        ml = read_master_list(data)
        verify_master_list(ml, store.cscas)
        store = store.add_master_list_certificates(ml.certificates)
    if crls:
        store = store.add_crls(_load_crl(Path(p)) for p in crls)
    return store


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


def _person(decoded: _Decoded) -> PersonalData | None:
    dg13, dg1 = decoded.dg13, decoded.dg1
    if dg13 is not None:
        return PersonalData(
            source="DG13",
            id_number=dg13.id_number,
            document_number=dg1.mrz.document_number if dg1 is not None else None,
            full_name=dg13.full_name,
            date_of_birth=dg13.date_of_birth,
            sex=dg13.sex,
            nationality=dg13.nationality,
            ethnicity=dg13.ethnicity,
            religion=dg13.religion,
            place_of_origin=dg13.place_of_origin,
            place_of_residence=dg13.place_of_residence,
            identifying_marks=dg13.identifying_marks,
            date_of_issue=dg13.date_of_issue,
            date_of_expiry=dg13.date_of_expiry,
            old_id_number=dg13.old_id_number,
        )
    if dg1 is not None:
        mrz = dg1.mrz
        name = " ".join(p for p in (mrz.primary_identifier, mrz.secondary_identifier) if p)
        return PersonalData(
            source="DG1",
            id_number=mrz.vn_id_number if isinstance(mrz, Td1) else None,
            document_number=mrz.document_number,
            full_name=name,
            date_of_birth=mrz.date_of_birth,
            sex=mrz.sex,
            nationality=mrz.nationality,
            date_of_expiry=mrz.date_of_expiry,
        )
    return None


def _face(decoded: _Decoded) -> Face | None:
    if decoded.dg2 is None or not decoded.dg2.faces:
        return None
    face = decoded.dg2.faces[0]
    return Face(face.image, face.image_format, face.width, face.height)


# --- Content checks (no chip needed) -------------------------------------------------------------


def _dg13_vs_dg1(decoded: _Decoded) -> Check:
    check_id, title = "dg13.dg1", "DG13 agrees with DG1 (ID number, name, dates, sex)"
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
    notes: list[str] = []
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
    if dg13.date_of_expiry is not None:
        if dg13.date_of_expiry.strip() == NO_EXPIRY_TEXT:
            # The MRZ then holds a profile placeholder (DOMAIN.md §2): nothing certain to compare.
            notes.append("no expiry in DG13: the MRZ date of expiry is a placeholder, not compared")
        else:
            compared.append("date of expiry")
            doe = _dmy(dg13.date_of_expiry)
            if doe is None:
                wrong.append("date of expiry (DG13 not dd/mm/yyyy)")
            elif yymmdd(doe) != mrz.date_of_expiry:
                wrong.append("date of expiry")
    if wrong:
        return Check(
            check_id, title, Status.FAIL, "DG13 contradicts DG1: " + ", ".join(wrong), _CLAUSE_DG13
        )
    if not compared:
        return Check(
            check_id, title, Status.SKIP, "DG13 has none of the fields to compare", _CLAUSE_DG13,
            essential=False,
        )  # fmt: skip
    detail = "agree on " + ", ".join(compared)
    if notes:
        detail += "; " + "; ".join(notes)
    return Check(check_id, title, Status.PASS, detail, _CLAUSE_DG13)


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


def _expiry(decoded: _Decoded, today: datetime.date) -> Check:
    check_id, title = "document.expiry", "The card has not expired"
    expiry: datetime.date | None
    source: str
    if decoded.dg13 is not None and decoded.dg13.date_of_expiry is not None:
        text = decoded.dg13.date_of_expiry.strip()
        if text == NO_EXPIRY_TEXT:
            return Check(
                check_id, title, Status.PASS, "DG13: the card does not expire", _CLAUSE_EXPIRY
            )
        expiry, source = _dmy(text), "DG13"
        if expiry is None:
            return Check(
                check_id, title, Status.FAIL, "DG13's date of expiry is not a date", _CLAUSE_EXPIRY
            )
    elif decoded.dg1 is not None:
        try:
            expiry = parse_expiry_date(decoded.dg1.mrz.date_of_expiry)
        except EncodingError:
            return Check(
                check_id, title, Status.FAIL, "DG1's date of expiry is not a date", _CLAUSE_EXPIRY
            )
        source = "DG1"
        if expiry is None:
            return Check(check_id, title, Status.PASS, "DG1: no date of expiry", _CLAUSE_EXPIRY)
    else:
        return Check(check_id, title, Status.SKIP, "neither DG13 nor DG1 was read", _CLAUSE_EXPIRY)
    if expiry < today:
        return Check(
            check_id, title, Status.FAIL,
            f"the card expired on {expiry.isoformat()} ({source})", _CLAUSE_EXPIRY,
        )  # fmt: skip
    return Check(
        check_id, title, Status.PASS, f"valid until {expiry.isoformat()} ({source})", _CLAUSE_EXPIRY
    )


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
        numbers.append(decoded.dg13.id_number)
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
) -> tuple[Check, ...]:
    """The checks on the card's content that need no chip: ``dg13.dg1``, ``qr.chip``,
    ``document.expiry``, ``document.denylist`` (module docstring). Never raises on hostile
    data groups."""
    decoded = _decode(data_groups)
    return (
        _dg13_vs_dg1(decoded),
        _qr_vs_chip(decoded, qr),
        _expiry(decoded, today),
        _deny(decoded, deny_list),
    )


# --- Chip checks ---------------------------------------------------------------------------------


def _access_check(read: CardRead) -> Check:
    check_id, title = "chip.access", "Access control protects the chip's data"
    if read.access == "BAC":
        return Check(
            check_id, title, Status.WARN,
            "BAC was the only access control: its keys come from the document number and two "
            "dates and have very low entropy on this card, so the read may have been skimmed "
            "(prefer PACE)",
            _CLAUSE_ACCESS,
        )  # fmt: skip
    return Check(check_id, title, Status.PASS, f"{read.access}", _CLAUSE_ACCESS)


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
        if dg14_listed:
            reasons = [e for e in read.errors if "chip authentication" in e or "DG14" in e]
            return Check(
                check_id, title, Status.FAIL,
                "DG14 is on the card but chip authentication could not be performed"
                + (f" ({reasons[0]})" if reasons else ""),
                _CLAUSE_CA,
            )  # fmt: skip
        return Check(
            check_id, title, Status.SKIP, "the chip offers no chip authentication (no DG14)",
            _CLAUSE_CA, essential=False,
        )  # fmt: skip
    why = _vouched(passive, 14)
    if why is not None:
        return Check(check_id, title, Status.SKIP, f"{state} ran but is not counted: {why}",
                     _CLAUSE_CA)  # fmt: skip
    return Check(check_id, title, Status.PASS, f"{state} with the key of DG14", _CLAUSE_CA)


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
) -> Inspection:
    """Inspect the chip on ``connection`` (module docstring; ICAO 9303-11 §7).

    ``at`` is the verification time for certificates and CRLs (default: now, UTC); ``today``
    the day the expiry is checked against (default: ``at``'s date). ``qr`` is the printed QR
    code's payload, ``deny_list`` a list of lost, stolen or revoked documents.

    Never raises on what a chip sends: every failure is a FAIL in the report. Raises
    :class:`~cardkit.errors.TransportError` when the card or the reader goes away (no verdict
    can be given about a card that was not there).
    """
    moment = at if at is not None else _now()
    day = today if today is not None else moment.date()
    random = rng if rng is not None else os.urandom

    ca_failure: str | None = None
    read: CardRead | None = None
    read_failure: str | None = None
    try:
        read = read_card(connection, key, rng=random, extended_length=extended_length)
    except ProtocolError as exc:
        if exc.step == STEP_CA:
            # The chip answered CA but cannot protect a response with the keys it implies: it
            # does not hold DG14's private key (a clone). Read again without CA, so that passive
            # authentication, AA and the rest still report.
            ca_failure = f"the chip does not hold DG14's private key ({exc})"
            try:
                read = read_card(
                    connection,
                    key,
                    rng=random,
                    chip_authentication=False,
                    extended_length=extended_length,
                )
            except (ProtocolError, CardError) as again:
                read_failure = f"the chip could not be read again after CA failed: {again}"
        else:
            read_failure = str(exc)
    except CardError as exc:
        read_failure = str(exc)
    except EncodingError as exc:
        read_failure = f"the chip sent malformed data: {exc}"

    if read is None:
        detail = (
            f"{read_failure}; a wrong MRZ/CAN and a chip that is not genuine look the same here"
            if read_failure
            else "the chip could not be read"
        )
        failed = [Check("chip.read", "The chip was opened and read", Status.FAIL, detail,
                        _CLAUSE_READ)]  # fmt: skip
        if ca_failure is not None:
            failed.append(_ca_check(None, ca_failure, (), True))
        return Inspection(Report(tuple(failed)))

    groups = read.data_groups()
    com_groups, com_check = _com_groups(read)
    passive = passive_authentication(
        read.files.get(files.SOD, b""), groups, trust, at=moment, com_data_groups=com_groups
    )
    sod_groups = _sod_groups(read)
    listed = set(sod_groups or ()) | set(com_groups or ())
    decoded = _decode(groups)
    checks: list[Check] = [_read_check(read), _access_check(read)]
    if com_check is not None:
        checks.append(com_check)
    checks.extend(passive)
    checks.append(_completeness(read, sod_groups))
    checks.append(_ca_check(read, ca_failure, passive, 14 in listed))
    checks.append(_aa_check(read, passive, 15 in listed))
    checks.append(_mrz_key_check(decoded, key))
    checks.extend(
        (
            _dg13_vs_dg1(decoded),
            _qr_vs_chip(decoded, qr),
            _expiry(decoded, day),
            _deny(decoded, deny_list),
        )
    )
    return Inspection(
        report=Report(tuple(checks)),
        person=_person(decoded),
        face=_face(decoded),
        access=read.access,
        apdu_count=read.apdu_count,
        read_errors=read.errors,
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
