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
``terminal.authentication``     only with a terminal key (EAC): TA v1 after CA (9303-11 §7.1);
                                PASS accepted, then DG3/DG4 are read and hashed like any DG
                                (``dg.hash.3``); SKIP (INCOMPLETE) when the chip refused the
                                terminal's chain or signature; FAIL when it accepted the terminal
                                and still withheld a data group the rights grant
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

This module is the procedure and its boundary (:func:`verify_card`: the read guarded, the checks
assembled); the parts live beside it, and their public names are re-exported here:

- :mod:`cardkit.services.inspection`: the result, :class:`Inspection` and :class:`Face`;
- :mod:`cardkit.services.chip_checks`: ``chip.*``, ``lds.completeness``, the authentications,
  ``algorithm.aa``, ``mrz.access_key``;
- :mod:`cardkit.services.content_checks`: :func:`content_checks`, the checks that need no chip
  (``dg13.dg1``, ``dg13.expiry``, ``qr.chip``, ``document.expiry``, ``document.denylist``):
  ``cardkit verify-files`` runs them on card images;
- :mod:`cardkit.services.profile_checks`: which profile and policy (:func:`resolve_profile`,
  :func:`resolve_policy`) and the ``profile.*`` checks (:func:`profile_checks`);
- :mod:`cardkit.services.decoded`: DG1, DG2 and DG13 decoded once, never raising;
- :mod:`cardkit.services.watch`: :func:`watch_reader`, the checkpoint loop of
  ``cardkit verify --watch``.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cardkit.errors import AccessDeniedError, CardkitError, ProtocolError, TransportError
from cardkit.iso7816.connection import Connection
from cardkit.lds import files
from cardkit.lds.com import Com
from cardkit.lds.sod import Sod
from cardkit.pki.passive import passive_authentication
from cardkit.pki.policy import VerificationPolicy
from cardkit.pki.trust import TrustStore
from cardkit.profile import Profile, load_profile
from cardkit.report import Check, Report, Status
from cardkit.services.access_key import AccessKey
from cardkit.services.chip_checks import (
    CLAUSE_ACCESS,
    CLAUSE_READ,
    aa_algorithm_check,
    aa_check,
    access_check,
    ca_check,
    completeness_check,
    mrz_key_check,
    read_check,
    ta_check,
)
from cardkit.services.content_checks import content_checks, decoded_content_checks, mrz_no_expiry
from cardkit.services.decoded import Decoded, decode_groups
from cardkit.services.inspection import Face, Inspection
from cardkit.services.person import PersonalData, Sex
from cardkit.services.profile_checks import (
    profile_checks,
    profile_chip_checks,
    resolve_policy,
    resolve_profile,
)
from cardkit.services.read import STEP_CA, CardRead, Rng, TerminalKey, read_card

if TYPE_CHECKING:
    from cardkit.services.denylist import DenyList
    from cardkit.services.watch import watch_reader

__all__ = [
    "Face",
    "Inspection",
    "PersonalData",
    "Sex",
    "TerminalKey",
    "content_checks",
    "profile_checks",
    "resolve_policy",
    "resolve_profile",
    "verify_card",
    "watch_reader",
]


def __getattr__(name: str) -> Any:
    """``watch_reader`` (the ``verify --watch`` loop) is imported when first asked for: one
    inspection does not need it."""
    if name == "watch_reader":
        from cardkit.services.watch import watch_reader

        return watch_reader
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --- Assembling the result ------------------------------------------------------------------------


def _person(decoded: Decoded, today: datetime.date, profile: Profile | None) -> PersonalData | None:
    """DG13's details when it decoded, else DG1's (:mod:`cardkit.services.person`)."""
    if decoded.dg13 is not None:
        return PersonalData.from_dg13(decoded.dg13, decoded.dg1)
    if decoded.dg1 is not None:
        return PersonalData.from_dg1(decoded.dg1, today=today, no_expiry=mrz_no_expiry(profile))
    return None


def _face(decoded: Decoded) -> Face | None:
    if decoded.dg2 is None or not decoded.dg2.faces:
        return None
    face = decoded.dg2.faces[0]
    return Face(face.image, face.image_format, face.width, face.height)


# --- The boundary: reading, and checking, never raise ---------------------------------------------


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
    connection: Connection,
    key: AccessKey,
    rng: Rng,
    extended_length: bool | None,
    terminal: TerminalKey | None = None,
) -> _Attempt:
    """Read the chip; everything but a reader or card that goes away becomes a finding."""
    attempt = _Attempt()
    try:
        attempt.read = read_card(
            connection, key, rng=rng, extended_length=extended_length, terminal=terminal
        )
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
    terminal: TerminalKey | None = None,
) -> Inspection:
    """Inspect the chip on ``connection`` (module docstring; ICAO 9303-11 §7).

    ``at`` is the verification time for certificates and CRLs (default: now, UTC); ``today``
    the day the expiry is checked against (default: ``at``'s date). ``qr`` is the printed QR
    code's payload, ``deny_list`` a list of lost, stolen or revoked documents. ``profile``
    (a Profile or its name) is what the card must be; by default it is inferred from DG1
    among the installed profiles. ``policy`` (default: the profile's, else
    :data:`cardkit.pki.policy.DEFAULT`) sets the algorithms and evidence demanded;
    ``require_crl`` makes a missing or expired CRL INCOMPLETE. ``terminal`` (the inspection
    system's key and CV chain) runs terminal authentication and reads DG3/DG4 (EAC).

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

    attempt = _read_guarded(connection, key, random, extended_length, terminal)
    if attempt.denied is not None:
        denied = Check("chip.access", "Access control protects the chip's data", Status.SKIP,
                       str(attempt.denied), CLAUSE_ACCESS)  # fmt: skip
        return Inspection(Report((denied,)), access_denied=True)
    read = attempt.read
    if read is None:
        detail = attempt.failure or "the chip could not be read"
        failed = [Check("chip.read", "The chip was opened and read", Status.FAIL, detail,
                        CLAUSE_READ)]  # fmt: skip
        if attempt.ca_failure is not None:
            failed.append(ca_check(None, attempt.ca_failure, (), True))
        return Inspection(Report(tuple(failed)))
    try:
        return _inspect(read, attempt.ca_failure, key, trust, moment, day, qr, deny_list,
                        policy, profile, require_crl, terminal is not None)  # fmt: skip
    except Exception as exc:  # a defect met on hostile data: still a verdict, never VALID
        crash = Check("verify.internal", "The card's data could be checked", Status.FAIL,
                      _unexpected(exc), CLAUSE_READ)  # fmt: skip
        return Inspection(Report((read_check(read), crash)), access=read.access,
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
    with_terminal: bool = False,
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
    decoded = decode_groups(groups)
    checks: list[Check] = [read_check(read), access_check(read, rules)]
    if com_check is not None:
        checks.append(com_check)
    checks.extend(passive)
    checks.append(completeness_check(read, sod_groups))
    checks.append(ca_check(read, ca_failure, passive, 14 in listed))
    checks.append(aa_check(read, passive, 15 in listed))
    if with_terminal:
        checks.append(ta_check(read, listed))
    aa_algorithm = aa_algorithm_check(read, rules)
    if aa_algorithm is not None:
        checks.append(aa_algorithm)
    checks.append(mrz_key_check(decoded, key))
    checks.extend(decoded_content_checks(decoded, day, qr, deny_list, chosen))
    checks.extend(profile_checks(chosen, given, groups, sod_groups))
    if chosen is not None:
        checks.extend(profile_chip_checks(chosen, read, checks))
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
