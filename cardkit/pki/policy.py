"""Verification policy: the algorithms and the evidence a verifier demands (a value, not constants).

ICAO 9303-12 §4.4 (*Cryptographic algorithms*) and BSI TR-03116-2 (eMRTD cryptography) retired
SHA-1 and RSA-1024 for documents issued from the middle of the 2010s on; older foreign passports
still carry them. A :class:`VerificationPolicy` says, for one inspection:

- which hash functions are acceptable (data-group hashes, the SOD's digest, every signature's
  hash) and which are *tolerated* (accepted with a visible WARN);
- the smallest RSA modulus and EC field size, again acceptable and tolerated;
- the signature schemes allowed at all;
- whether refusing PACE on a chip that offers it is a failure (``downgrade``: "fail") or a
  warning ("warn"), 9303-11 §4.2 (a chip with PACE must be read with it);
- whether a current CRL is required for a VALID verdict (``require_crl``).

:data:`DEFAULT` is the policy of the ``vn-cccd-2021`` profile and the right one for any
document issued since 2015: SHA-224 or better, RSA ≥ 2048, EC ≥ 224 bits, no MD5 or SHA-1
anywhere, no downgrade. :data:`LEGACY` tolerates SHA-1 and RSA-1024 (WARN) and warns on a
downgrade, for older foreign documents. :func:`policy_named` finds one by name.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from cardkit.report import Status

__all__ = [
    "CLAUSE_ALGORITHMS",
    "DEFAULT",
    "LEGACY",
    "POLICIES",
    "SignatureKind",
    "VerificationPolicy",
    "policy_named",
]

CLAUSE_ALGORITHMS = "ICAO 9303-12 §4.4; BSI TR-03116-2"

SignatureKind = Literal["ecdsa", "rsa-pkcs1v15", "rsassa-pss"]
Severity = Literal["fail", "warn"]

_STRONG_HASHES = frozenset({"sha224", "sha256", "sha384", "sha512"})


@dataclass(frozen=True)
class VerificationPolicy:
    """What one inspection demands (module docstring). Hash names are ``hashlib`` names."""

    name: str
    hashes: frozenset[str] = _STRONG_HASHES
    tolerated_hashes: frozenset[str] = frozenset()
    min_rsa_bits: int = 2048
    tolerated_rsa_bits: int = 2048
    min_ec_bits: int = 224
    tolerated_ec_bits: int = 224
    signature_schemes: frozenset[str] = frozenset({"ecdsa", "rsa-pkcs1v15", "rsassa-pss"})
    downgrade: Severity = "fail"
    require_crl: bool = False

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a policy has a name")
        if self.tolerated_rsa_bits > self.min_rsa_bits or self.tolerated_ec_bits > self.min_ec_bits:
            raise ValueError("a tolerated key size is at most the acceptable one")
        if self.downgrade not in ("fail", "warn"):
            raise ValueError("downgrade is 'fail' or 'warn'")

    def with_crl_required(self, required: bool = True) -> VerificationPolicy:
        return replace(self, require_crl=required)

    # --- judgements: PASS, WARN (tolerated) or FAIL ---------------------------------------------

    def hash_status(self, name: str) -> Status:
        if name in self.hashes:
            return Status.PASS
        return Status.WARN if name in self.tolerated_hashes else Status.FAIL

    def key_status(self, kind: Literal["RSA", "EC"], bits: int) -> Status:
        acceptable, tolerated = (
            (self.min_rsa_bits, self.tolerated_rsa_bits)
            if kind == "RSA"
            else (self.min_ec_bits, self.tolerated_ec_bits)
        )
        if bits >= acceptable:
            return Status.PASS
        return Status.WARN if bits >= tolerated else Status.FAIL

    def scheme_status(self, kind: str) -> Status:
        return Status.PASS if kind in self.signature_schemes else Status.FAIL

    def describe(self) -> dict[str, object]:
        return {
            "name": self.name,
            "hashes": sorted(self.hashes),
            "tolerated_hashes": sorted(self.tolerated_hashes),
            "min_rsa_bits": self.min_rsa_bits,
            "tolerated_rsa_bits": self.tolerated_rsa_bits,
            "min_ec_bits": self.min_ec_bits,
            "tolerated_ec_bits": self.tolerated_ec_bits,
            "signature_schemes": sorted(self.signature_schemes),
            "downgrade": self.downgrade,
            "require_crl": self.require_crl,
        }


DEFAULT = VerificationPolicy("default")
LEGACY = VerificationPolicy(
    "legacy",
    tolerated_hashes=frozenset({"sha1"}),
    tolerated_rsa_bits=1024,
    downgrade="warn",
)
POLICIES: dict[str, VerificationPolicy] = {p.name: p for p in (DEFAULT, LEGACY)}


def policy_named(name: str) -> VerificationPolicy:
    """The policy called ``name`` (``default``, ``legacy``); ValueError listing them otherwise."""
    try:
        return POLICIES[name]
    except KeyError:
        raise ValueError(
            f"unknown verification policy {name!r}: choose one of {', '.join(sorted(POLICIES))}"
        ) from None
