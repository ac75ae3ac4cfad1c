"""The profile a card is held to, the policy it implies, and the profile's promises (``profile.*``).

A card profile (``profiles/*.toml``, :mod:`cardkit.profile`) is given, or inferred from DG1's
issuing state and document code (ICAO 9303-10 §4.7.1) among the installed ones
(:func:`resolve_profile`); the verification policy is the caller's, else the profile's
``[verification]``, else :data:`~cardkit.pki.policy.DEFAULT` (:func:`resolve_policy`). The
promises checked:

- ``profile.document``: DG1 names the profile's issuing state and document code.
- ``profile.data_groups``: every data group the profile mandates is signed in EF.SOD and on the
  chip (9303-10 §4.6).
- ``profile.pace``, ``profile.chip_authentication``, ``profile.active_authentication``: the chip
  offered and used PACE (9303-11 §4.2) and passed CA / AA of the promised kind (§6.1, §6.2), from
  the chip checks of :mod:`cardkit.services.chip_checks`.
- ``profile.match`` (SKIP) when no installed profile fits: the card is held to ICAO 9303 alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from cardkit.errors import EncodingError
from cardkit.lds import files
from cardkit.lds.dg15 import Dg15
from cardkit.pki.policy import DEFAULT, VerificationPolicy, policy_named
from cardkit.profile import AaAlgorithm, Profile, load_profile, profile_for_document
from cardkit.report import Check, Status
from cardkit.services.chip_checks import pace_offers
from cardkit.services.decoded import Decoded, decode_groups
from cardkit.services.read import EAC_DATA_GROUPS, CardRead

__all__ = ["profile_checks", "profile_chip_checks", "resolve_policy", "resolve_profile"]

_CLAUSE_PROFILE = "the card's profile (profiles/*.toml); ICAO 9303-10 §4.6, 9303-11 §4.2"


def resolve_profile(
    profile: Profile | str | None, data_groups: Mapping[int, bytes]
) -> tuple[Profile | None, bool]:
    """The profile to hold a card to, and whether it was given (True) or inferred from DG1's
    issuing state and document code (and, between two profiles of one document, the data
    groups present and DG15's key) among the installed profiles (False; None when none
    matches). ProfileError for an unknown profile name."""
    if isinstance(profile, str):
        return load_profile(profile), True
    if profile is not None:
        return profile, True
    dg1 = decode_groups({1: data_groups[1]}).dg1 if 1 in data_groups else None
    if dg1 is None:
        return None, False
    found = profile_for_document(
        dg1.mrz.issuing_state, dg1.mrz.document_code, data_groups.keys(), _aa_algorithm(data_groups)
    )
    return found, False


def _aa_algorithm(data_groups: Mapping[int, bytes]) -> AaAlgorithm | None:
    """RSA or ECDSA by DG15's key (None: no DG15, or one that does not decode)."""
    if 15 not in data_groups:
        return None
    try:
        key = Dg15.from_bytes(data_groups[15]).public_key()
    except (EncodingError, ValueError):
        return None
    return "RSA" if isinstance(key, rsa.RSAPublicKey) else "ECDSA"


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


def _profile_document(decoded: Decoded, profile: Profile, given: bool) -> Check:
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
    present = set(read_groups) | (set(protected) & set(EAC_DATA_GROUPS))
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


def profile_chip_checks(profile: Profile, read: CardRead, checks: Sequence[Check]) -> list[Check]:
    """The access and authentication promises of the profile, from what the chip did."""
    by_id = {c.id: c for c in checks}
    access = profile.access
    out: list[Check] = []
    if access.pace_passwords:
        title = "The chip offers and used PACE, as its profile promises"
        offered = pace_offers(read)
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
    decoded = decode_groups({n: d for n, d in data_groups.items() if n == 1})
    return (
        _profile_document(decoded, profile, given),
        _profile_data_groups(profile, sod_groups, data_groups),
    )
