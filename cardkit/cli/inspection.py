"""What ``cardkit verify`` and ``cardkit verify-files`` load before the first card: trust
anchors, the deny list, the profile and the policy — checked up front, so that an unusable input
is one error (exit 2) naming the file, never an INVALID for every card."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cardkit.pki.policy import VerificationPolicy, policy_named
from cardkit.pki.trust import TrustStore
from cardkit.profile import Profile, load_profile
from cardkit.services.trust_input import load_trust

if TYPE_CHECKING:
    from cardkit.services.denylist import DenyList


@dataclass(frozen=True)
class InspectionInputs:
    trust: TrustStore
    deny_list: DenyList | None
    profile: Profile | None
    policy: VerificationPolicy | None
    require_crl: bool


def load_inspection_inputs(
    trust: Path | None,
    masterlist: Path | None,
    crls: tuple[Path, ...],
    deny_list: Path | None,
    profile_name: str | None,
    policy_name: str | None,
    require_crl: bool,
) -> InspectionInputs:
    """Load and check every input; warnings (ignored certificates, rejected deny-list entries)
    go to stderr, errors raise (CardkitError: exit 2 through the CLI's mapping)."""
    if trust is None and masterlist is None:
        raise click.UsageError("give --trust (and/or --masterlist): without trust anchors "
                               "nothing verifies")  # fmt: skip
    profile = load_profile(profile_name) if profile_name is not None else None
    store = load_trust(trust, masterlist, crls)
    for item in store.ignored:
        click.echo(f"warning: {item.source}: ignored: {item.reason}", err=True)
    denied = None
    if deny_list is not None:
        from cardkit.services.denylist import DenyList  # SQLite: only when there is one

        denied = DenyList.load(deny_list)
        for rejected in denied.rejected:
            click.echo(f"warning: {deny_list}: {rejected.describe()} (entry ignored)", err=True)
    policy = policy_named(policy_name) if policy_name is not None else None
    return InspectionInputs(store, denied, profile, policy, require_crl)
