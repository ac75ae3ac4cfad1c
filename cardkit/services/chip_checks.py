"""The checks on what the chip did when it was read: ``chip.read``, ``chip.access``,
``lds.completeness``, ``chip.authentication``, ``active.authentication``, ``algorithm.aa`` and
``mrz.access_key``.

- ``chip.read``: the read itself (ICAO 9303-11 §4, §9.8).
- ``chip.access``: PACE, or BAC and whether that is a downgrade — a chip that lists PACE in
  EF.CardAccess or DG14 is read with PACE (9303-11 §4.2, §9.2); BAC alone has keys of very low
  entropy on this card (§4.3, DOMAIN.md §1). The policy (:mod:`cardkit.pki.policy`) decides
  whether a downgrade fails or warns.
- ``lds.completeness``: every data group EF.SOD lists was read (9303-10 §4.6.2; 9303-11 §5.1),
  EAC-protected DG3/DG4 refused with 6982 excepted.
- ``chip.authentication`` (9303-11 §6.2, or PACE-CAM §4.4.3.5) and ``active.authentication``
  (§6.1): counted only when passive authentication vouches for DG14 / DG15 (§6.2.1).
- ``algorithm.aa``: active authentication's hash and DG15's key against the policy (ICAO 9303-12
  §4.4; BSI TR-03116-2).
- ``mrz.access_key``: DG1's MRZ against the MRZ key that opened the chip (9303-11 §4.3.1;
  9303-10 §4.7.1).

Each takes the :class:`~cardkit.services.read.CardRead` (and what passive authentication found)
and never raises on what a hostile chip sent.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from cardkit.lds import files
from cardkit.lds.card_access import CardAccess
from cardkit.lds.dg14 import Dg14
from cardkit.lds.dg15 import Dg15
from cardkit.pki.policy import CLAUSE_ALGORITHMS, VerificationPolicy
from cardkit.protocol.pace import choose_pace_info
from cardkit.report import Check, Status
from cardkit.services.access_key import AccessKey
from cardkit.services.decoded import Decoded
from cardkit.services.read import EAC_DATA_GROUPS, CardRead

__all__ = [
    "CLAUSE_ACCESS",
    "CLAUSE_READ",
    "PaceOffer",
    "aa_algorithm_check",
    "aa_check",
    "access_check",
    "ca_check",
    "completeness_check",
    "mrz_key_check",
    "pace_offers",
    "read_check",
    "ta_check",
]

CLAUSE_ACCESS = "ICAO 9303-11 §4.3 (BAC), §4.4 (PACE); DOMAIN.md §1"
CLAUSE_READ = "ICAO 9303-11 §4, §9.8"
_CLAUSE_COMPLETE = "ICAO 9303-10 §4.6.2; 9303-11 §5.1"
_CLAUSE_CA = "ICAO 9303-11 §6.2 (chip authentication), §4.4.3.5 (PACE-CAM)"
_CLAUSE_AA = "ICAO 9303-11 §6.1 (active authentication)"
_CLAUSE_TA = "ICAO 9303-11 §7.1; BSI TR-03110-1 §2.5 (terminal authentication v1)"
_CLAUSE_MRZ = "ICAO 9303-11 §4.3.1; 9303-10 §4.7.1"
_CLAUSE_DOWNGRADE = "ICAO 9303-11 §4.2 (a chip that supports PACE is read with PACE), §9.2"

#: Checks of passive authentication that must pass for DG14/DG15 to be trusted.
_PA_CORE = ("sod.signature", "dsc.chain")


@dataclass(frozen=True)
class PaceOffer:
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


def pace_offers(read: CardRead) -> PaceOffer:
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
    return PaceOffer(card_access is not None, in_dg14 is not None, supported)


def access_check(read: CardRead, policy: VerificationPolicy) -> Check:
    check_id, title = "chip.access", "Access control protects the chip's data"
    if read.access != "BAC":
        return Check(check_id, title, Status.PASS, f"{read.access}", CLAUSE_ACCESS)
    offer = pace_offers(read)
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
        CLAUSE_ACCESS,
    )  # fmt: skip


def read_check(read: CardRead) -> Check:
    check_id, title = "chip.read", "The chip was opened and read"
    detail = f"{len(read.files)} files in {read.apdu_count} APDUs"
    own_checks = ("chip authentication", "active auth", "terminal authentication")
    notes = [e for e in read.errors if not e.startswith(own_checks)]
    if notes:
        return Check(
            check_id, title, Status.WARN, f"{detail}; {'; '.join(notes)}", CLAUSE_READ,
            essential=False,
        )  # fmt: skip
    return Check(check_id, title, Status.PASS, detail, CLAUSE_READ)


def completeness_check(read: CardRead, sod_groups: Sequence[int] | None) -> Check:
    check_id, title = "lds.completeness", "Every data group the SOD lists was read"
    if sod_groups is None:
        return Check(check_id, title, Status.SKIP, "EF.SOD could not be read", _CLAUSE_COMPLETE)
    got = read.data_groups()
    absent = [
        n for n in sod_groups if n not in got and not (n in EAC_DATA_GROUPS and n in read.protected)
    ]
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


def ta_check(read: CardRead, listed: Iterable[int]) -> Check:
    """``terminal.authentication``, for an inspection with a terminal key (EAC, DG3/DG4).

    PASS: the chip accepted the terminal's chain and signature. SKIP, essential (INCOMPLETE):
    the chip refused them — the terminal's certificates or trust point, not evidence against
    the card — or TA could not run. FAIL: the chip accepted the terminal, the effective
    rights grant a data group the SOD lists, and the chip still refused it (6982). SKIP,
    optional: the card has no DG3/DG4 (nothing for TA to open).
    """
    check_id, title = "terminal.authentication", "Terminal authentication opens DG3/DG4 (EAC)"
    eac = sorted(n for n in set(listed) if n in EAC_DATA_GROUPS)
    if not eac:
        return Check(check_id, title, Status.SKIP, "the card lists no DG3/DG4", _CLAUSE_TA,
                     essential=False)  # fmt: skip
    if read.ta is None:
        reason = read.ta_error or "not performed (no secure channel or no chip authentication)"
        return Check(check_id, title, Status.SKIP, f"the chip did not accept the terminal: "
                     f"{reason}", _CLAUSE_TA)  # fmt: skip
    granted = {3: read.ta.chat.read_dg3, 4: read.ta.chat.read_dg4}
    withheld = [n for n in eac if granted[n] and n in read.protected]
    if withheld:
        names = ", ".join(f"DG{n}" for n in withheld)
        return Check(check_id, title, Status.FAIL, f"terminal {read.ta.terminal} was accepted "
                     f"but the chip still refused {names}", _CLAUSE_TA)  # fmt: skip
    rights = [f"DG{n}" for n in eac if granted[n]]
    detail = (
        f"inspection system {read.ta.terminal} accepted (chain "
        + " → ".join(read.ta.verified)
        + "); read: "
        + (", ".join(rights) if rights else "none of DG3/DG4 (the CHAT grants neither)")
    )
    return Check(check_id, title, Status.PASS, detail, _CLAUSE_TA)


def _vouched(passive: Sequence[Check], number: int) -> str | None:
    """None when passive authentication vouches for DG ``number``, else why not."""
    by_id = {c.id: c for c in passive}
    for check_id in (*_PA_CORE, f"dg.hash.{number}"):
        check = by_id.get(check_id)
        if check is None or check.status not in (Status.PASS, Status.WARN):
            return f"passive authentication does not vouch for DG{number} ({check_id})"
    return None


def ca_check(
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


def aa_check(read: CardRead | None, passive: Sequence[Check], dg15_listed: bool) -> Check:
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


def mrz_key_check(decoded: Decoded, key: AccessKey) -> Check:
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


def aa_algorithm_check(read: CardRead, policy: VerificationPolicy) -> Check | None:
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
