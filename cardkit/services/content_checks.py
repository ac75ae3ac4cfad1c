"""The checks on a card's content that need no chip: ``dg13.dg1``, ``dg13.expiry``, ``qr.chip``,
``document.expiry`` and ``document.denylist``.

- ``dg13.dg1``: DG13 (DOMAIN.md §3, §4) against DG1's MRZ — ID number, name transliterated as
  ICAO 9303-3 §4.6 writes it, date of birth, sex.
- ``dg13.expiry``: DG13's date of expiry against DG1's ("Không thời hạn" against the MRZ's
  no-expiry date, DOMAIN.md §2).
- ``qr.chip``: the printed QR code's payload (DOMAIN.md §5) against the chip.
- ``document.expiry``: DG1's date of expiry (ICAO 9303-5 §4.2.2) — whatever DG13 says — against
  today.
- ``document.denylist``: the ID number, document number and old ID number against a list of lost,
  stolen or revoked documents (9303-11 §7, the inspection procedure).

``cardkit verify`` runs them on what the chip served, ``cardkit verify-files`` on card images
(:func:`content_checks`). Details name fields, never their values (DG13 is personal data).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING

from cardkit.encoding.mrz import Td1, Td3, parse_expiry_date, yymmdd
from cardkit.encoding.translit import mrz_name, split_vietnamese_name
from cardkit.errors import CardkitError, EncodingError
from cardkit.profile import Profile, installed_profiles
from cardkit.report import Check, Status
from cardkit.services.decoded import Decoded, decode_groups
from cardkit.services.person import Sex, dg13_date, is_no_expiry_text

if TYPE_CHECKING:
    from cardkit.services.denylist import DenyList

__all__ = ["content_checks", "decoded_content_checks", "mrz_no_expiry"]

_CLAUSE_DG13 = "DOMAIN.md §3, §4; ICAO 9303-3 §4.6 (transliteration)"
_CLAUSE_QR = "DOMAIN.md §5"
_CLAUSE_EXPIRY = "ICAO 9303-5 §4.2.2 (date of expiry); Law on Citizen Identification 2014 art. 21"
_CLAUSE_DENY = "ICAO 9303-11 §7 (inspection procedure); national lost/stolen lists"


def _sex_letter(word: str | None) -> str | None:
    """DG13's sex word as the MRZ writes it ("Nam" → "M", "Nữ" → "F"); None when unknown."""
    sex = Sex.from_dg13(word)
    return sex.value if sex is not None else None


def _mrz_name_field(mrz: Td1 | Td3) -> str:
    if isinstance(mrz, Td1):
        return mrz.lines[2]
    return mrz.lines[0][5:]


def _dg13_vs_dg1(decoded: Decoded) -> Check:
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
        dob = dg13_date(dg13.date_of_birth)
        if dob is None:
            wrong.append("date of birth (DG13 not dd/mm/yyyy)")
        elif yymmdd(dob) != mrz.date_of_birth:
            wrong.append("date of birth")
    if dg13.sex is not None:
        compared.append("sex")
        if _sex_letter(dg13.sex) != mrz.sex:
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


def _qr_vs_chip(decoded: Decoded, qr: str | None) -> Check:
    check_id, title = "qr.chip", "The printed QR code agrees with the chip"
    if qr is None:
        return Check(
            check_id, title, Status.SKIP, "no QR payload given", _CLAUSE_QR, essential=False
        )
    from cardkit.records.qr import QrPayload  # only when a QR payload is given

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
            ("sex", _sex_letter(dg13.sex), payload.sex.value),
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


def mrz_no_expiry(profile: Profile | None) -> frozenset[str]:
    """The MRZ dates that stand for "does not expire": ``<<<<<<`` (9303-5) and the profile's
    placeholder (DOMAIN.md §2); without a profile, those of every installed profile."""
    profiles = (profile,) if profile is not None else installed_profiles()
    return frozenset({"<<<<<<", *(p.expiry.mrz_no_expiry for p in profiles)})


def _expiry(decoded: Decoded, today: datetime.date) -> Check:
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


def _dg13_expiry(decoded: Decoded, profile: Profile | None) -> Check:
    check_id, title = "dg13.expiry", "DG13's date of expiry agrees with DG1's"
    dg13, dg1 = decoded.dg13, decoded.dg1
    if dg13 is None or dg1 is None or dg13.date_of_expiry is None:
        missing = "DG1" if dg1 is None else "DG13" if dg13 is None else "DG13's date of expiry"
        return Check(
            check_id, title, Status.SKIP, f"{missing} not read", _CLAUSE_DG13, essential=False
        )
    mrz_date = dg1.mrz.date_of_expiry
    text = dg13.date_of_expiry.strip()
    if is_no_expiry_text(text):
        if mrz_date in mrz_no_expiry(profile):
            return Check(
                check_id, title, Status.PASS,
                "no expiry in DG13, the MRZ carries the no-expiry date", _CLAUSE_DG13,
            )  # fmt: skip
        return Check(
            check_id, title, Status.FAIL,
            "DG13 says the card does not expire but DG1 has a date of expiry", _CLAUSE_DG13,
        )  # fmt: skip
    doe = dg13_date(text)
    if doe is None:
        return Check(check_id, title, Status.FAIL, "DG13's date of expiry is not dd/mm/yyyy",
                     _CLAUSE_DG13)  # fmt: skip
    if yymmdd(doe) != mrz_date:
        return Check(check_id, title, Status.FAIL, "DG13 and DG1 give different dates of expiry",
                     _CLAUSE_DG13)  # fmt: skip
    return Check(check_id, title, Status.PASS, "the same date in DG13 and DG1", _CLAUSE_DG13)


def _deny(decoded: Decoded, deny_list: DenyList | None) -> Check:
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
    return decoded_content_checks(decode_groups(data_groups), today, qr, deny_list, profile)


def decoded_content_checks(
    decoded: Decoded,
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
