"""cardkit: personalize and verify ICAO 9303 chip identity cards.

The package is layered (see docs/ARCHITECTURE.md): ``encoding`` → ``records`` → ``lds`` →
``pki`` → ``protocol`` → ``transport`` → ``applet`` → ``emulator`` → ``services`` → ``cli``.
A layer only imports the layers before it.

**The library API.** The names below are re-exported here so that a script needs one import
(``import cardkit as ck``); they are loaded on first use, so ``import cardkit`` stays cheap:

- records: :func:`load_profile`, :func:`load_records`, :func:`validate_all`
- keys: :func:`init_pki` (a complete test PKI in a folder), :class:`Pki`, :class:`TrustStore`,
  :func:`load_trust`
- cards: :func:`prepare_card` (a signed, sealed card image), :class:`ChipSecrets`,
  :func:`secrets_aad`, :func:`personalize` (onto a chip), :class:`EmulatedCard` /
  :class:`EmulatorConnection` (cardkit's chip in process), :func:`open_reader` (PC/SC)
- inspection: :class:`AccessKey`, :func:`read_card`, :func:`verify_card` → :class:`Inspection`
  (:class:`Report`, :class:`Verdict`, :class:`Check`; the holder's :class:`PersonalData` with
  ISO dates and a :class:`Sex`, the chip's strings kept beside them), :class:`DenyList`,
  :class:`VerificationPolicy` (:data:`DEFAULT_POLICY`, :data:`LEGACY_POLICY`),
  :class:`AccessDeniedError` (the chip refused the CAN/MRZ)

Example (the README's "Library" section runs as a test)::

    inspection = ck.verify_card(connection, ck.AccessKey.from_can(can), trust)
    print(inspection.verdict)  # Verdict.VALID
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from cardkit.errors import AccessDeniedError, CardkitError

if TYPE_CHECKING:
    from cardkit.emulator.card import EmulatedCard, EmulatorConnection
    from cardkit.pki.policy import DEFAULT as DEFAULT_POLICY
    from cardkit.pki.policy import LEGACY as LEGACY_POLICY
    from cardkit.pki.policy import VerificationPolicy
    from cardkit.pki.trust import TrustStore
    from cardkit.profile import Profile, load_profile
    from cardkit.records import CitizenRecord, load_records, validate_all
    from cardkit.report import Check, Report, Status, Verdict
    from cardkit.services.card_image import CardImage, ChipSecrets, secrets_aad
    from cardkit.services.denylist import DenyList
    from cardkit.services.person import PersonalData, Sex
    from cardkit.services.personalize import PersonalizeResult, personalize
    from cardkit.services.pki_admin import Pki, init_pki
    from cardkit.services.prepare import Issuer, prepare_card
    from cardkit.services.read import AccessKey, CardRead, read_card
    from cardkit.services.trust_input import load_trust
    from cardkit.services.verify import Inspection, verify_card
    from cardkit.transport.pcsc import open_reader

__all__ = [
    "DEFAULT_POLICY",
    "LEGACY_POLICY",
    "AccessDeniedError",
    "AccessKey",
    "CardImage",
    "CardRead",
    "CardkitError",
    "Check",
    "ChipSecrets",
    "CitizenRecord",
    "DenyList",
    "EmulatedCard",
    "EmulatorConnection",
    "Inspection",
    "Issuer",
    "PersonalData",
    "PersonalizeResult",
    "Pki",
    "Profile",
    "Report",
    "Sex",
    "Status",
    "TrustStore",
    "Verdict",
    "VerificationPolicy",
    "__version__",
    "init_pki",
    "load_profile",
    "load_records",
    "load_trust",
    "open_reader",
    "personalize",
    "prepare_card",
    "read_card",
    "secrets_aad",
    "validate_all",
    "verify_card",
]
__version__ = "0.1.0"

#: Where each re-exported name lives (imported on first access, PEP 562).
_EXPORTS = {
    "EmulatedCard": "cardkit.emulator.card",
    "EmulatorConnection": "cardkit.emulator.card",
    "TrustStore": "cardkit.pki.trust",
    "VerificationPolicy": "cardkit.pki.policy",
    "DEFAULT_POLICY": "cardkit.pki.policy",
    "LEGACY_POLICY": "cardkit.pki.policy",
    "Profile": "cardkit.profile",
    "load_profile": "cardkit.profile",
    "CitizenRecord": "cardkit.records",
    "load_records": "cardkit.records",
    "validate_all": "cardkit.records",
    "Check": "cardkit.report",
    "Report": "cardkit.report",
    "Status": "cardkit.report",
    "Verdict": "cardkit.report",
    "CardImage": "cardkit.services.card_image",
    "ChipSecrets": "cardkit.services.card_image",
    "secrets_aad": "cardkit.services.card_image",
    "DenyList": "cardkit.services.denylist",
    "PersonalData": "cardkit.services.person",
    "Sex": "cardkit.services.person",
    "PersonalizeResult": "cardkit.services.personalize",
    "personalize": "cardkit.services.personalize",
    "Pki": "cardkit.services.pki_admin",
    "init_pki": "cardkit.services.pki_admin",
    "Issuer": "cardkit.services.prepare",
    "prepare_card": "cardkit.services.prepare",
    "AccessKey": "cardkit.services.read",
    "CardRead": "cardkit.services.read",
    "read_card": "cardkit.services.read",
    "Inspection": "cardkit.services.verify",
    "load_trust": "cardkit.services.trust_input",
    "verify_card": "cardkit.services.verify",
    "open_reader": "cardkit.transport.pcsc",
}


#: Re-exported under another name than in their module.
_RENAMED = {"DEFAULT_POLICY": "DEFAULT", "LEGACY_POLICY": "LEGACY"}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'cardkit' has no attribute {name!r}")
    attribute = _RENAMED.get(name, name)
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
