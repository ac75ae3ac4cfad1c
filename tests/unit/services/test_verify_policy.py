"""`verify_card` under a verification policy and a profile (issue 11 §2, §3, §4, §10): the
legacy policy turns SHA-1 / RSA-1024 / a BAC downgrade into visible WARNs, a required CRL makes
a card without a current one INCOMPLETE, and the profile — given or inferred from DG1 — holds the
card to what it promises (its data groups, PACE, CA, AA)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import forgery  # tests/support/forgery.py: the forged-card lab
import pytest

from cardkit.emulator.card import EmulatorConnection
from cardkit.lds import files
from cardkit.pki.crl import issue_crl
from cardkit.pki.policy import DEFAULT, LEGACY
from cardkit.pki.trust import TrustStore
from cardkit.profile import load_profile
from cardkit.report import Status, Verdict
from cardkit.services.verify import Inspection, verify_card


def _inspect(card: Any, trust: TrustStore, **kwargs: Any) -> Inspection:
    connection: Any = EmulatorConnection(forgery.emulated(card))
    if card.relay is not None:
        connection = card.relay(connection)
    return verify_card(connection, card.key(), trust, at=forgery.VERIFIED_AT, **kwargs)


def _status(inspection: Inspection, check_id: str) -> Status:
    check = inspection.report.get(check_id)
    assert check is not None, check_id
    return check.status


# --- The legacy policy: weak, but visible ---------------------------------------------------


@pytest.mark.parametrize(
    ("make", "check_id"),
    [
        (forgery.forge_sha1_data_group_hashes, "algorithm.dg_hash"),
        (forgery.forge_sha1_sod_signature, "algorithm.sod_signature"),
        (forgery.forge_rsa_1024_dsc, "algorithm.dsc_key"),
        (forgery.forge_dsc_signed_with_sha1, "algorithm.dsc_signature"),
    ],
)
def test_weak_algorithms_fail_by_default_and_warn_under_legacy(
    lab: Any, make: Any, check_id: str
) -> None:
    card = make(lab)
    strict = _inspect(card, lab.trust)
    assert strict.verdict is Verdict.INVALID and _status(strict, check_id) is Status.FAIL
    assert strict.policy == "default"
    legacy = _inspect(card, lab.trust, policy=LEGACY)
    assert _status(legacy, check_id) is Status.WARN
    assert "legacy" in legacy.report.get(check_id).detail  # type: ignore[union-attr]
    assert legacy.verdict is Verdict.VALID, [c.to_dict() for c in legacy.failures()]
    assert legacy.policy == "legacy"


def test_a_downgrade_is_a_warning_under_legacy_but_the_profile_still_promises_pace(
    lab: Any,
) -> None:
    card = forgery.forge_pace_refused(lab)
    legacy = _inspect(card, lab.trust, policy=LEGACY)
    assert _status(legacy, "chip.access") is Status.WARN
    assert _status(legacy, "profile.pace") is Status.FAIL  # vn-cccd-2021 mandates PACE


def test_md5_is_never_tolerated() -> None:
    assert DEFAULT.hash_status("md5") is Status.FAIL
    assert LEGACY.hash_status("md5") is Status.FAIL
    assert LEGACY.hash_status("sha1") is Status.WARN
    assert LEGACY.key_status("RSA", 1024) is Status.WARN
    assert LEGACY.key_status("RSA", 768) is Status.FAIL
    assert DEFAULT.key_status("EC", 192) is Status.FAIL


# --- Revocation policy ---------------------------------------------------------------------------


def test_without_a_crl_the_card_is_valid_with_a_warning(lab: Any) -> None:
    inspection = _inspect(lab.genuine(), TrustStore((lab.csca,)))
    assert inspection.verdict is Verdict.VALID
    assert _status(inspection, "dsc.revocation") is Status.WARN


def test_a_required_crl_that_is_missing_makes_the_card_incomplete(lab: Any) -> None:
    inspection = _inspect(lab.genuine(), TrustStore((lab.csca,)), require_crl=True)
    assert inspection.verdict is Verdict.INCOMPLETE
    check = inspection.report.get("dsc.revocation")
    assert check is not None and check.status is Status.SKIP and check.essential
    assert "requires a current CRL" in check.detail


def test_a_required_crl_that_expired_makes_the_card_incomplete(lab: Any) -> None:
    stale = issue_crl(
        lab.csca_signer, lab.csca, [], crl_number=7,
        this_update=forgery.T0 + timedelta(days=10),
        next_update=forgery.VERIFIED_AT - timedelta(days=1),
        scheme=forgery.SCHEME,
    )  # fmt: skip
    inspection = _inspect(lab.genuine(), TrustStore((lab.csca,), (stale,)), require_crl=True)
    assert inspection.verdict is Verdict.INCOMPLETE
    assert "expired" in inspection.report.get("dsc.revocation").detail  # type: ignore[union-attr]


def test_a_required_crl_that_is_current_gives_valid(lab: Any) -> None:
    inspection = _inspect(lab.genuine(), lab.trust, require_crl=True)
    assert inspection.verdict is Verdict.VALID
    assert _status(inspection, "dsc.revocation") is Status.PASS


# --- The profile's promises ------------------------------------------------------------------


def test_the_profile_is_inferred_from_dg1(lab: Any) -> None:
    inspection = _inspect(lab.genuine(), lab.trust)
    assert inspection.profile == "vn-cccd-2021"
    assert "inferred" in inspection.report.get("profile.document").detail  # type: ignore[union-attr]


def test_a_card_is_not_the_profile_it_is_said_to_be(lab: Any) -> None:
    inspection = _inspect(lab.genuine(), lab.trust, profile="icao-td1-generic")
    assert inspection.verdict is Verdict.INVALID
    assert _status(inspection, "profile.document") is Status.FAIL


@pytest.mark.parametrize("missing", [13, 14, 15])
def test_a_vn_card_without_a_mandated_data_group_is_invalid(lab: Any, missing: int) -> None:
    """A card issued without DG13 (or DG14, DG15), validly signed: INVALID naming the part,
    not VALID with skipped checks."""
    vn = forgery.vn_profile()
    access = vn.access
    if missing == 14:
        access = dataclasses.replace(access, chip_authentication=False, pace_passwords=())
    if missing == 15:
        access = dataclasses.replace(access, active_authentication="none")
    reduced = dataclasses.replace(
        vn,
        access=access,
        lds=dataclasses.replace(
            vn.lds, data_groups=tuple(n for n in vn.lds.data_groups if n != missing)
        ),
    )
    image = lab.image(reduced, 2)
    card = forgery.Card("reduced", dict(image.files), lab.secrets(image), None)
    chip = forgery.emulated(card, reduced)
    key = card.key() if missing != 14 else card.mrz_key()  # without PACE: BAC with the MRZ
    inspection = verify_card(EmulatorConnection(chip), key, lab.trust, at=forgery.VERIFIED_AT)
    assert inspection.profile == "vn-cccd-2021"
    assert inspection.verdict is Verdict.INVALID
    check = inspection.report.get("profile.data_groups")
    assert check is not None and check.status is Status.FAIL
    assert f"DG{missing}" in check.detail
    # The same card against the profile it was made with is what it says it is.
    as_made = verify_card(
        EmulatorConnection(forgery.emulated(card, reduced)), key, lab.trust,
        at=forgery.VERIFIED_AT, profile=reduced,
    )  # fmt: skip
    assert _status(as_made, "profile.data_groups") is Status.PASS


def test_no_installed_profile_is_said_not_hidden(lab: Any, monkeypatch: Any) -> None:
    """Where no profile matches DG1, the card is held to ICAO 9303 alone, and the report says so."""
    import cardkit.services.profile_checks as profile_checks_module

    monkeypatch.setattr(profile_checks_module, "profile_for_document", lambda *_: None)
    inspection = _inspect(lab.genuine(), lab.trust)
    assert inspection.profile is None
    assert _status(inspection, "profile.match") is Status.SKIP
    assert inspection.verdict is Verdict.VALID


def test_unknown_profile_name_is_a_usage_error(lab: Any) -> None:
    from cardkit.errors import ProfileError

    with pytest.raises(ProfileError):
        _inspect(lab.genuine(), lab.trust, profile="no-such-profile")


def test_profile_verification_settings_are_read() -> None:
    profile = load_profile("vn-cccd-2021")
    assert profile.verification.policy == "default"
    assert profile.verification.require_crl is False


def test_card_access_missing_is_reported_by_the_profile(lab: Any) -> None:
    card = forgery.forge_card_access_hidden(lab)
    assert files.CARD_ACCESS not in card.files
    inspection = _inspect(card, lab.trust)
    assert _status(inspection, "chip.access") is Status.FAIL
    assert "not served" in inspection.report.get("chip.access").detail  # type: ignore[union-attr]
