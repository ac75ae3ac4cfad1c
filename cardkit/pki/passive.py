"""Passive authentication: is the data on the chip what the issuing State signed?
(ICAO 9303-11 §5.1, with the PKI of 9303-12.)

Every step is its own :class:`~cardkit.report.Check` with a stable id, and every step runs: a
failed hash does not hide a bad signature or a revoked signer. Hostile input (a chip can send
anything) never raises: a step that meets something it cannot read FAILs, and the steps that
needed its result are SKIPped.

Check ids, in order: ``sod.parse``; ``dg.hash.N`` for each data group (``dg.hashes`` when the
SOD could not be read); ``sod.signature``; ``dsc.chain``; the signer's role (9303-12 §5, §7.1.1
Table 7: the SOD signer must be a Document Signer, issued directly by a CSCA) ``dsc.issuer``,
``dsc.role``, ``dsc.key_usage``, ``dsc.basic_constraints``, ``dsc.extended_key_usage``,
``dsc.critical_extensions``; the
algorithm policy (:mod:`cardkit.pki.policy`) ``algorithm.dg_hash``, ``algorithm.sod_signature``,
``algorithm.dsc_key``, ``algorithm.dsc_signature``, ``algorithm.csca_key``; ``dsc.validity``;
``csca.validity``; ``dsc.revocation``; ``com.consistency``.

Details never contain data-group content or hashes (a DG1 hash is a hash of the MRZ).
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from asn1crypto import algos, cms
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from cryptography.utils import CryptographyDeprecationWarning

from cardkit.encoding import oids, tlv
from cardkit.errors import CardkitError
from cardkit.lds.sod import SignerInfo, Sod
from cardkit.pki import roles
from cardkit.pki import trust as trust_mod
from cardkit.pki.policy import CLAUSE_ALGORITHMS, DEFAULT, VerificationPolicy
from cardkit.pki.trust import TrustStore
from cardkit.report import Check, Status

if TYPE_CHECKING:
    from cardkit.pki.signer import PublicKey

__all__ = ["MANDATORY_DATA_GROUPS", "passive_authentication"]

#: DG1 (MRZ) and DG2 (face) are mandatory in every eMRTD (ICAO 9303-10).
MANDATORY_DATA_GROUPS = frozenset({1, 2})

_CLAUSE_SOD = "ICAO 9303-10 §4.6.2; RFC 5652 §5"
_CLAUSE_HASH = "ICAO 9303-11 §5.1; 9303-10 §4.6.2.2"
_CLAUSE_SIG = "ICAO 9303-11 §5.1; RFC 5652 §5.4, §5.6"
_CLAUSE_CHAIN = "ICAO 9303-11 §5.1; 9303-12 §5"
_CLAUSE_VALIDITY = "ICAO 9303-12 §5 (key usage and validity periods); RFC 5280 §4.1.2.5"
_CLAUSE_CRL = "ICAO 9303-12 (CRLs); RFC 5280 §5"
_CLAUSE_COM = "ICAO 9303-10 §4.6.1 (EF.COM tag list)"
_CLAUSE_ISSUER = "ICAO 9303-12 §5 (the CSCA issues Document Signer certificates directly)"
_CLAUSE_ROLE = "ICAO 9303-12 §5, §7.1.1 Table 7 (certificate roles)"

_HASH_CLASSES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
_ECDSA_OIDS = {
    oids.ECDSA_WITH_SHA1: "sha1", oids.ECDSA_WITH_SHA224: "sha224",
    oids.ECDSA_WITH_SHA256: "sha256", oids.ECDSA_WITH_SHA384: "sha384",
    oids.ECDSA_WITH_SHA512: "sha512",
}  # fmt: skip
_ECDSA_PLAIN_OIDS = {
    oids.ECDSA_PLAIN_SHA1: "sha1", oids.ECDSA_PLAIN_SHA224: "sha224",
    oids.ECDSA_PLAIN_SHA256: "sha256", oids.ECDSA_PLAIN_SHA384: "sha384",
    oids.ECDSA_PLAIN_SHA512: "sha512",
}  # fmt: skip
_RSA_PKCS1_OIDS = {
    oids.SHA1_WITH_RSA: "sha1", oids.SHA224_WITH_RSA: "sha224",
    oids.SHA256_WITH_RSA: "sha256", oids.SHA384_WITH_RSA: "sha384",
    oids.SHA512_WITH_RSA: "sha512",
}  # fmt: skip


class _Failed(Exception):
    """A step's finding that makes it FAIL; the message is the check's detail."""


def _utc(value: datetime.datetime) -> datetime.datetime:
    return value.replace(tzinfo=datetime.UTC) if value.tzinfo is None else value


def _when(value: datetime.datetime) -> str:
    return value.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


# --- The state passed from step to step ----------------------------------------------------------


@dataclass
class _State:
    sod: Sod | None = None
    signer: SignerInfo | None = None
    signing_time: datetime.datetime | None = None
    dsc: x509.Certificate | None = None
    dsc_problem: str | None = None
    csca: x509.Certificate | None = None


def _guard(check_id: str, title: str, clause: str, step: Callable[[], Check]) -> Check:
    """Run ``step``; whatever it raises becomes a FAIL (hostile input must never escape)."""
    try:
        return step()
    except _Failed as exc:
        return Check(check_id, title, Status.FAIL, str(exc), clause)
    except CardkitError as exc:
        return Check(check_id, title, Status.FAIL, str(exc), clause)
    except Exception as exc:  # the point: never raise on what a chip sends
        return Check(
            check_id, title, Status.FAIL, f"unreadable input ({type(exc).__name__})", clause
        )


# --- sod.parse -----------------------------------------------------------------------------------


def _children(raw: bytes) -> list[tlv.Tlv]:
    return tlv.decode_single(raw).children()


def _signed_data_version(content_info: bytes) -> int:
    # ContentInfo ::= SEQUENCE { contentType, [0] EXPLICIT SignedData }; SignedData starts with
    # its version INTEGER. Walked by hand: Sod does not expose it.
    signed_data = _children(content_info)[1].children()[0]
    version = signed_data.children()[0]
    if version.tag != 0x02:
        raise _Failed("SignedData.version is not an INTEGER")
    return int.from_bytes(version.value, "big", signed=True)


def _signer_info_version(raw: bytes) -> int:
    version = _children(raw)[0]
    if version.tag != 0x02:
        raise _Failed("SignerInfo.version is not an INTEGER")
    return int.from_bytes(version.value, "big", signed=True)


def _signing_time(signed_attrs: bytes) -> datetime.datetime | None:
    """The signingTime attribute (RFC 5652 §11.3); _Failed on duplicates or a bad value."""
    attributes = cms.CMSAttributes.load(signed_attrs, strict=True)
    seen: set[str] = set()
    found: datetime.datetime | None = None
    for attribute in attributes:
        kind = attribute["type"].dotted
        if kind in seen:
            raise _Failed(f"signed attribute {oids.name_of(kind)} appears twice (RFC 5652 §5.3)")
        seen.add(kind)
        if kind == oids.CMS_SIGNING_TIME:
            values = attribute["values"]
            if len(values) != 1:
                raise _Failed("signingTime must have exactly one value")
            value = values[0].native
            if not isinstance(value, datetime.datetime):
                raise _Failed("signingTime is not a time")
            found = _utc(value)
    return found


def _parse(sod_bytes: bytes, state: _State) -> Check:
    title = "EF.SOD is a well-formed CMS SignedData over an LDSSecurityObject"
    sod = Sod.from_bytes(sod_bytes)
    problems: list[str] = []
    warnings: list[str] = []
    version = _signed_data_version(sod.content_info)
    if version != 3:
        problems.append(f"SignedData.version is {version}, 3 required (9303-10 §4.6.2.3)")
    signer = sod.signer_infos[0]
    if len(sod.signer_infos) > 1:
        warnings.append(
            f"{len(sod.signer_infos)} SignerInfos (one recommended); the first is verified"
        )
    signer_version = _signer_info_version(signer.raw)
    expected = 1 if signer.issuer is not None else 3
    if signer_version != expected:
        problems.append(
            f"SignerInfo.version is {signer_version}, {expected} required by its sid form "
            "(RFC 5652 §5.3)"
        )
    if signer.digest_algorithm not in sod.digest_algorithms:
        problems.append("the SignerInfo digest algorithm is not listed in digestAlgorithms")
    if signer.signed_attrs is not None:
        try:
            state.signing_time = _signing_time(signer.signed_attrs)
        except _Failed as exc:
            problems.append(str(exc))
    state.sod, state.signer = sod, signer
    if problems:
        # Structure readable enough to go on: the remaining checks still run.
        return Check("sod.parse", title, Status.FAIL, "; ".join(problems), _CLAUSE_SOD)
    lso = sod.lds_security_object
    detail = (
        f"LDSSecurityObject v{lso.version}, {lso.hash_algorithm}, "
        f"{len(lso.hashes)} data groups; signer {oids.name_of(signer.signature_algorithm)}"
    )
    if warnings:
        return Check(
            "sod.parse", title, Status.WARN, f"{detail}; {'; '.join(warnings)}", _CLAUSE_SOD
        )
    return Check("sod.parse", title, Status.PASS, detail, _CLAUSE_SOD)


# --- dg.hash.N -----------------------------------------------------------------------------------


def _hash_checks(files: Mapping[int, bytes], state: _State) -> list[Check]:
    if state.sod is None:
        return [
            Check(
                "dg.hashes",
                "Data group hashes match the SOD",
                Status.SKIP,
                "EF.SOD could not be read",
                _CLAUSE_HASH,
            )
        ]
    lso = state.sod.lds_security_object
    read = {n for n in files if isinstance(n, int) and 1 <= n <= 16}
    numbers = sorted(set(lso.hashes) | read | MANDATORY_DATA_GROUPS)
    checks: list[Check] = []
    for number in numbers:
        check_id = f"dg.hash.{number}"
        title = f"DG{number} hash matches the SOD"
        expected = lso.hashes.get(number)
        present = number in files
        if expected is None:
            if present:
                detail = f"DG{number} was read but the SOD holds no hash for it"
            else:
                detail = f"DG{number} is mandatory but the SOD holds no hash for it"
            checks.append(Check(check_id, title, Status.FAIL, detail, _CLAUSE_HASH))
        elif not present:
            if number in MANDATORY_DATA_GROUPS:
                checks.append(
                    Check(
                        check_id,
                        title,
                        Status.FAIL,
                        f"mandatory DG{number} is listed in the SOD but was not read",
                        _CLAUSE_HASH,
                    )
                )
            else:
                checks.append(
                    Check(
                        check_id,
                        title,
                        Status.SKIP,
                        f"DG{number} not read",
                        _CLAUSE_HASH,
                        essential=False,
                    )
                )
        else:

            def compare(number: int = number, expected: bytes = expected) -> Check:
                digest = hashlib.new(lso.hash_algorithm, bytes(files[number])).digest()
                ok = digest == expected
                return Check(
                    f"dg.hash.{number}",
                    f"DG{number} hash matches the SOD",
                    Status.PASS if ok else Status.FAIL,
                    f"{lso.hash_algorithm} of DG{number} "
                    + ("matches" if ok else "differs from the value signed in the SOD"),
                    _CLAUSE_HASH,
                )

            checks.append(_guard(check_id, title, _CLAUSE_HASH, compare))
    for key in files:
        if not isinstance(key, int) or not 1 <= key <= 16:
            checks.append(
                Check(
                    f"dg.hash.{key}",
                    f"DG{key} hash matches the SOD",
                    Status.FAIL,
                    "not a data group number (1..16)",
                    _CLAUSE_HASH,
                )
            )
    return checks


# --- sod.signature -------------------------------------------------------------------------------


def _sid_matches(signer: SignerInfo, cert: x509.Certificate, der: bytes) -> bool:
    if signer.issuer is not None:
        if signer.serial_number != cert.serial_number:
            return False
        # TBSCertificate ::= SEQUENCE { [0] version, serialNumber, signature, issuer, ... }:
        # compare the issuer exactly as encoded (RFC 5652 §10.2.4 IssuerAndSerialNumber).
        tbs = _children(der)[0].children()
        index = 3 if tbs[0].tag == 0xA0 else 2
        return tbs[index].raw == signer.issuer
    if signer.subject_key_identifier is not None:
        return trust_mod.subject_key_identifier(cert) == signer.subject_key_identifier
    return False


def _embedded_certificate(der: bytes) -> x509.Certificate | None:
    """A certificate the SOD carries, or None when it is unreadable — including what
    cryptography only warns about (a serial number that is not positive, RFC 5280 §4.1.2.2): it
    is malformed, and no raw warning may reach the officer's screen."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", CryptographyDeprecationWarning)
        try:
            cert = x509.load_der_x509_certificate(der)
            cert.serial_number  # noqa: B018 - parsed lazily: force it inside the filter
        except (ValueError, CryptographyDeprecationWarning):
            return None
    return cert


def _find_dsc(state: _State, supplied: x509.Certificate | None) -> None:
    assert state.sod is not None and state.signer is not None
    candidates: list[tuple[x509.Certificate, bytes]] = []
    unreadable = 0
    for der in state.sod.certificates:
        cert = _embedded_certificate(der)
        if cert is None:
            unreadable += 1
        else:
            candidates.append((cert, der))
    if supplied is not None:
        candidates.append((supplied, supplied.public_bytes(serialization.Encoding.DER)))
    for cert, der in candidates:
        try:
            if _sid_matches(state.signer, cert, der):
                state.dsc = cert
                return
        except Exception:  # a malformed certificate is simply not the signer
            continue
    note = f" ({unreadable} embedded certificate(s) unreadable)" if unreadable else ""
    state.dsc_problem = (
        f"no certificate among {len(candidates)} (embedded or supplied) matches the "
        f"SignerInfo's signer identifier{note}"
    )


def _signature_parameters(
    signer: SignerInfo, key: PublicKey
) -> tuple[object, hashes.HashAlgorithm, bool]:
    """(ECDSA or RSA padding, hash, plain r‖s?) for the SignerInfo's signatureAlgorithm."""
    algorithm = signer.signature_algorithm
    digest_name = oids.HASH_NAMES.get(signer.digest_algorithm)
    if (
        algorithm in _ECDSA_OIDS
        or algorithm in _ECDSA_PLAIN_OIDS
        or algorithm == oids.EC_PUBLIC_KEY
    ):
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise _Failed(f"{oids.name_of(algorithm)} signature but the DSC key is not EC")
        # Some SODs name only id-ecPublicKey and leave the hash to digestAlgorithm.
        name = _ECDSA_OIDS.get(algorithm) or _ECDSA_PLAIN_OIDS.get(algorithm) or digest_name
        if name is None:
            raise _Failed("no usable hash for the ECDSA signature")
        hash_algorithm = _HASH_CLASSES[name]()
        return ec.ECDSA(hash_algorithm), hash_algorithm, algorithm in _ECDSA_PLAIN_OIDS
    if not isinstance(key, rsa.RSAPublicKey):
        raise _Failed(f"{oids.name_of(algorithm)} signature but the DSC key is not RSA")
    if algorithm in _RSA_PKCS1_OIDS or algorithm == oids.RSA_ENCRYPTION:
        name = _RSA_PKCS1_OIDS.get(algorithm) or digest_name
        if name is None:
            raise _Failed("no usable hash for the RSA signature")
        return padding.PKCS1v15(), _HASH_CLASSES[name](), False
    if algorithm == oids.RSASSA_PSS:
        return (*_pss(signer.signature_algorithm_parameters), False)
    raise _Failed(f"unsupported signature algorithm {oids.name_of(algorithm)}")


def _pss(parameters: bytes | None) -> tuple[padding.PSS, hashes.HashAlgorithm]:
    """RSASSA-PSS-params (RFC 4055 §3.1), defaults (SHA-1, MGF1-SHA-1, salt 20) included."""
    if parameters is None:
        raise _Failed("RSASSA-PSS without parameters")
    params = algos.RSASSAPSSParams.load(parameters, strict=True)
    hash_name = oids.HASH_NAMES.get(params["hash_algorithm"]["algorithm"].dotted)
    mgf = params["mask_gen_algorithm"]
    if mgf["algorithm"].dotted != oids.MGF1:
        raise _Failed("RSASSA-PSS mask generation function is not MGF1")
    mgf_params = mgf["parameters"]
    mgf_hash = (
        oids.HASH_NAMES.get(mgf_params["algorithm"].dotted)
        if isinstance(mgf_params, algos.DigestAlgorithm)
        else None
    )
    if hash_name is None or mgf_hash is None:
        raise _Failed("RSASSA-PSS with an unsupported hash")
    trailer = params["trailer_field"].native
    if trailer not in (1, "trailer_field_bc"):
        raise _Failed("RSASSA-PSS trailer field must be 1 (RFC 4055 §3.1)")
    salt = params["salt_length"].native
    if not isinstance(salt, int) or salt < 0:
        raise _Failed("RSASSA-PSS salt length is not a non-negative integer")
    hash_algorithm = _HASH_CLASSES[hash_name]()
    return padding.PSS(padding.MGF1(_HASH_CLASSES[mgf_hash]()), salt), hash_algorithm


def _dsc_key(dsc: x509.Certificate) -> PublicKey:
    return trust_mod.public_key_of(dsc)


def _signature(state: _State) -> Check:
    check_id, title = "sod.signature", "The SOD signature verifies with the Document Signer key"
    if state.sod is None or state.signer is None:
        return Check(check_id, title, Status.SKIP, "EF.SOD could not be read", _CLAUSE_SIG)
    sod, signer = state.sod, state.signer
    problems: list[str] = []
    if signer.signed_attrs is None:
        raise _Failed("no signed attributes: contentType and messageDigest are required")
    if signer.content_type != oids.LDS_SECURITY_OBJECT:
        problems.append("the contentType attribute is not id-icao-mrtd-security-ldsSecurityObject")
    digest_name = oids.HASH_NAMES.get(signer.digest_algorithm)
    if digest_name is None:
        problems.append(f"unsupported digest algorithm {oids.name_of(signer.digest_algorithm)}")
    elif signer.message_digest is None:
        problems.append("no messageDigest attribute")
    elif hashlib.new(digest_name, sod.econtent).digest() != signer.message_digest:
        problems.append("the messageDigest attribute is not the hash of the eContent")
    if state.dsc is None:
        problems.append(state.dsc_problem or "no Document Signer certificate")
    else:
        key = _dsc_key(state.dsc)
        params, hash_algorithm, plain = _signature_parameters(signer, key)
        signature = signer.signature
        if plain:  # BSI TR-03111 §5.2.1: r‖s, each half the length
            half = len(signature) // 2
            if len(signature) % 2 or not half:
                raise _Failed("plain ECDSA signature of odd length")
            signature = utils.encode_dss_signature(
                int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big")
            )
        try:
            if isinstance(key, ec.EllipticCurvePublicKey):
                assert isinstance(params, ec.ECDSA)
                key.verify(signature, signer.signed_attrs, params)
            else:
                assert isinstance(params, padding.PSS | padding.PKCS1v15)
                key.verify(signature, signer.signed_attrs, params, hash_algorithm)
        except (InvalidSignature, ValueError, UnsupportedAlgorithm):
            problems.append("the signature over the signed attributes does not verify")
    if problems:
        raise _Failed("; ".join(problems))
    return Check(
        check_id,
        title,
        Status.PASS,
        f"{oids.name_of(signer.signature_algorithm)} signature verifies; contentType and "
        "messageDigest attributes match",
        _CLAUSE_SIG,
    )


# --- dsc.chain -----------------------------------------------------------------------------------


def _describe_name(name: x509.Name) -> str:
    try:
        return name.rfc4514_string()
    except Exception:
        return "(unprintable name)"


def _chain(state: _State, trust: TrustStore) -> Check:
    check_id, title = "dsc.chain", "A trusted CSCA issued the Document Signer certificate"
    if state.sod is None:
        return Check(check_id, title, Status.SKIP, "EF.SOD could not be read", _CLAUSE_CHAIN)
    if state.dsc is None:
        raise _Failed(state.dsc_problem or "no Document Signer certificate")
    dsc = state.dsc
    candidates = trust.issuers_of(dsc)
    issuer = _describe_name(dsc.issuer)
    if not candidates:
        raise _Failed(f"no trusted CSCA named {issuer} (with a matching key identifier)")
    for csca in candidates:
        try:
            key = trust_mod.public_key_of(csca)
        except CardkitError:
            continue
        if trust_mod.verify_certificate_signature(dsc, key):
            state.csca = csca
            return Check(
                check_id,
                title,
                Status.PASS,
                f"DSC serial {dsc.serial_number:X} verified with CSCA {issuer}",
                _CLAUSE_CHAIN,
            )
    raise _Failed(
        f"the DSC signature verifies with none of the {len(candidates)} trusted CSCA(s) "
        f"named {issuer}"
    )


# --- The signer's role: dsc.issuer, dsc.role, dsc.key_usage, dsc.basic_constraints, ... -----------


def _der_of(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def _issuer(state: _State, trust: TrustStore) -> Check:
    check_id, title = "dsc.issuer", "A CSCA issued the Document Signer directly (no intermediate)"
    if state.dsc is None:
        return Check(check_id, title, Status.SKIP, "no Document Signer certificate", _CLAUSE_ISSUER)
    dsc = state.dsc
    issuer = _describe_name(dsc.issuer)
    if not trust.issuers_of(dsc):
        assert state.sod is not None
        intermediates = []
        for der in state.sod.certificates:
            cert = _embedded_certificate(der)
            try:
                if (
                    cert is not None
                    and cert != dsc
                    and trust_mod.names_match(cert.subject, dsc.issuer)
                ):
                    intermediates.append(cert)
            except Exception:  # an unreadable embedded certificate is not an issuer
                continue
        if intermediates:
            raise _Failed(
                f"the DSC was issued by {issuer}, a certificate carried in the SOD and not a "
                "trusted CSCA: 9303-12 allows no CA between the CSCA and the Document Signer"
            )
        raise _Failed(f"the DSC's issuer {issuer} is not a trusted CSCA")
    if state.csca is None:
        return Check(
            check_id, title, Status.SKIP,
            "no trusted CSCA of that name verified the DSC's signature (dsc.chain)",
            _CLAUSE_ISSUER,
        )  # fmt: skip
    problem = roles.ca_problem(state.csca)
    if problem is not None:
        raise _Failed(f"the certificate that issued the DSC, {issuer}, is {problem}")
    return Check(check_id, title, Status.PASS, f"issued by the CSCA {issuer}", _CLAUSE_ISSUER)


def _role(state: _State, trust: TrustStore) -> Check:
    check_id, title = "dsc.role", "The SOD signer is a Document Signer, not a CA or another role"
    if state.dsc is None:
        return Check(check_id, title, Status.SKIP, "no Document Signer certificate", _CLAUSE_ROLE)
    dsc = state.dsc
    if any(dsc == csca for csca in trust.cscas):
        raise _Failed("the SOD is signed with a trusted CSCA's own certificate")
    if roles.is_self_issued(dsc):
        raise _Failed("the SOD signer's certificate is self-issued (a CSCA), not a Document Signer")
    if roles.basic_constraints_problem(dsc, "dsc") is not None:
        raise _Failed("the SOD is signed with a CA certificate (BasicConstraints cA TRUE)")
    eku = roles.extended_key_usage_problem(dsc, "dsc")
    if eku is not None:
        raise _Failed(f"the SOD signer is not a Document Signer: {eku}")
    return Check(check_id, title, Status.PASS, "an end-entity Document Signer", _CLAUSE_ROLE)


def _role_rule(
    check_id: str,
    title: str,
    rule: Callable[[x509.Certificate, roles.Role], str | None],
    state: _State,
) -> Check:
    if state.dsc is None:
        return Check(check_id, title, Status.SKIP, "no Document Signer certificate", _CLAUSE_ROLE)
    problem = rule(state.dsc, "dsc")
    if problem is not None:
        raise _Failed(problem)
    return Check(check_id, title, Status.PASS, "as 9303-12 requires of a Document Signer",
                 roles.CLAUSE_ROLES)  # fmt: skip


_ROLE_RULES: tuple[tuple[str, str, Callable[[x509.Certificate, roles.Role], str | None]], ...] = (
    ("dsc.key_usage", "The DSC's KeyUsage is digitalSignature only", roles.key_usage_problem),
    (
        "dsc.basic_constraints",
        "The DSC is not a CA (BasicConstraints absent or cA FALSE)",
        roles.basic_constraints_problem,
    ),
    (
        "dsc.extended_key_usage",
        "The DSC carries no key purpose of another ICAO role",
        roles.extended_key_usage_problem,
    ),
    (
        "dsc.critical_extensions",
        "The DSC has no critical extension the verifier cannot honour",
        roles.critical_extensions_problem,
    ),
)


# --- algorithm.* ---------------------------------------------------------------------------------

_WORST = {Status.PASS: 0, Status.WARN: 1, Status.FAIL: 2}


def _judged(
    check_id: str, title: str, policy: VerificationPolicy, findings: list[tuple[Status, str]]
) -> Check:
    """One algorithm check from its findings (status, description): the worst status wins."""
    status = max((s for s, _ in findings), key=_WORST.__getitem__, default=Status.PASS)
    shown = [text for s, text in findings if s is status] if status is not Status.PASS else []
    if status is Status.FAIL:
        detail = "; ".join(shown) + f": not allowed by the {policy.name} policy"
    elif status is Status.WARN:
        detail = "; ".join(shown) + f": weak, tolerated by the {policy.name} policy"
    else:
        detail = ", ".join(text for _, text in findings)
    return Check(check_id, title, status, detail, CLAUSE_ALGORITHMS)


def _hash_finding(policy: VerificationPolicy, name: str | None, what: str) -> tuple[Status, str]:
    if name is None:
        return Status.FAIL, f"{what}: unknown hash"
    return policy.hash_status(name), f"{what} {name.upper()}"


def _key_finding(policy: VerificationPolicy, key: object, what: str) -> tuple[Status, str]:
    if isinstance(key, rsa.RSAPublicKey):
        return policy.key_status("RSA", key.key_size), f"{what} RSA-{key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        bits = key.curve.key_size
        return policy.key_status("EC", bits), f"{what} EC {key.curve.name} ({bits} bits)"
    return Status.FAIL, f"{what}: unsupported key type"


def _sod_scheme(signer: SignerInfo) -> tuple[str | None, str | None]:
    """(scheme kind, hash name) of the SignerInfo's signature; (None, None) when unknown."""
    algorithm = signer.signature_algorithm
    digest = oids.HASH_NAMES.get(signer.digest_algorithm)
    if algorithm in _ECDSA_OIDS or algorithm in _ECDSA_PLAIN_OIDS:
        return "ecdsa", _ECDSA_OIDS.get(algorithm) or _ECDSA_PLAIN_OIDS.get(algorithm)
    if algorithm == oids.EC_PUBLIC_KEY:
        return "ecdsa", digest
    if algorithm in _RSA_PKCS1_OIDS:
        return "rsa-pkcs1v15", _RSA_PKCS1_OIDS[algorithm]
    if algorithm == oids.RSA_ENCRYPTION:
        return "rsa-pkcs1v15", digest
    if algorithm == oids.RSASSA_PSS:
        try:
            _padding, hash_algorithm = _pss(signer.signature_algorithm_parameters)
        except Exception:  # unreadable parameters: sod.signature says why
            return "rsassa-pss", None
        return "rsassa-pss", hash_algorithm.name
    return None, None


def _algorithm_dg_hash(state: _State, policy: VerificationPolicy) -> Check:
    check_id, title = "algorithm.dg_hash", "The data-group hash algorithm meets the policy"
    if state.sod is None:
        return Check(check_id, title, Status.SKIP, "EF.SOD could not be read", CLAUSE_ALGORITHMS)
    name = state.sod.lds_security_object.hash_algorithm
    return _judged(check_id, title, policy, [_hash_finding(policy, name, "data-group hashes")])


def _algorithm_sod_signature(state: _State, policy: VerificationPolicy) -> Check:
    check_id, title = "algorithm.sod_signature", "The SOD signature algorithm meets the policy"
    if state.signer is None:
        return Check(check_id, title, Status.SKIP, "EF.SOD could not be read", CLAUSE_ALGORITHMS)
    signer = state.signer
    kind, hash_name = _sod_scheme(signer)
    findings = [
        _hash_finding(policy, oids.HASH_NAMES.get(signer.digest_algorithm), "SOD digest"),
    ]
    if kind is None:
        findings.append((Status.FAIL, f"signature {oids.name_of(signer.signature_algorithm)}"))
    else:
        findings.append((policy.scheme_status(kind), f"signature {kind}"))
        findings.append(_hash_finding(policy, hash_name, "signature hash"))
    return _judged(check_id, title, policy, findings)


def _algorithm_key(
    check_id: str, title: str, cert: x509.Certificate | None, policy: VerificationPolicy, what: str
) -> Check:
    if cert is None:
        return Check(check_id, title, Status.SKIP, f"no {what} certificate", CLAUSE_ALGORITHMS)
    try:
        key: object = trust_mod.public_key_of(cert)
    except CardkitError:
        key = None
    return _judged(check_id, title, policy, [_key_finding(policy, key, f"{what} key")])


def _algorithm_dsc_signature(state: _State, policy: VerificationPolicy) -> Check:
    check_id, title = "algorithm.dsc_signature", "The CSCA's signature on the DSC meets the policy"
    if state.dsc is None:
        return Check(check_id, title, Status.SKIP, "no Document Signer certificate",
                     CLAUSE_ALGORITHMS)  # fmt: skip
    dsc = state.dsc
    findings: list[tuple[Status, str]] = []
    try:
        hash_algorithm = dsc.signature_hash_algorithm
        params = dsc.signature_algorithm_parameters
    except (ValueError, UnsupportedAlgorithm):
        hash_algorithm, params = None, None
        findings.append((Status.FAIL, "certificate signature algorithm not supported"))
    if isinstance(params, ec.ECDSA):
        kind = "ecdsa"
    elif isinstance(params, padding.PSS):
        kind = "rsassa-pss"
    elif isinstance(params, padding.PKCS1v15):
        kind = "rsa-pkcs1v15"
    else:
        kind = ""
    if kind:
        findings.append((policy.scheme_status(kind), f"signature {kind}"))
    findings.append(
        _hash_finding(policy, hash_algorithm.name if hash_algorithm else None, "signature hash")
    )
    return _judged(check_id, title, policy, findings)


# --- dsc.validity, csca.validity -----------------------------------------------------------------


def _within(cert: x509.Certificate, moment: datetime.datetime) -> bool:
    return cert.not_valid_before_utc <= moment <= cert.not_valid_after_utc


def _pkup_problem(cert: x509.Certificate, moment: datetime.datetime, what: str) -> str | None:
    try:
        ext = cert.extensions.get_extension_for_class(x509.PrivateKeyUsagePeriod).value
    except x509.ExtensionNotFound:
        return None
    start = _utc(ext.not_before) if ext.not_before is not None else None
    end = _utc(ext.not_after) if ext.not_after is not None else None
    if (start is not None and moment < start) or (end is not None and moment > end):
        period = f"{_when(start) if start else '…'} to {_when(end) if end else '…'}"
        return f"{what} {_when(moment)} is outside the private key usage period {period}"
    return None


def _dsc_validity(state: _State, at: datetime.datetime) -> Check:
    check_id, title = "dsc.validity", "The SOD was signed within the Document Signer's validity"
    if state.dsc is None:
        return Check(
            check_id, title, Status.SKIP, "no Document Signer certificate", _CLAUSE_VALIDITY
        )
    dsc = state.dsc
    period = f"{_when(dsc.not_valid_before_utc)} to {_when(dsc.not_valid_after_utc)}"
    warnings: list[str] = []
    moment = state.signing_time
    what = "signing time"
    if moment is None:
        warnings.append("the SOD has no signingTime attribute: checked at the verification time")
        moment, what = at, "verification time"
    problems: list[str] = []
    if not _within(dsc, moment):
        problems.append(f"{what} {_when(moment)} is outside the DSC validity {period}")
    pkup = _pkup_problem(dsc, moment, what)
    if pkup:
        problems.append(pkup)
    if problems:
        raise _Failed("; ".join(problems))
    if at > dsc.not_valid_after_utc:
        # 9303-12: the DSC validity covers the validity of every document it signed.
        warnings.append(f"the DSC expired on {_when(dsc.not_valid_after_utc)}")
    detail = f"{what} {_when(moment)} within DSC validity {period}"
    if warnings:
        return Check(
            check_id, title, Status.WARN, f"{detail}; {'; '.join(warnings)}", _CLAUSE_VALIDITY
        )
    return Check(check_id, title, Status.PASS, detail, _CLAUSE_VALIDITY)


def _csca_validity(state: _State, at: datetime.datetime) -> Check:
    check_id, title = "csca.validity", "The CSCA was valid when it issued the DSC and at signing"
    if state.csca is None or state.dsc is None:
        return Check(
            check_id, title, Status.SKIP, "no trusted CSCA found for the DSC", _CLAUSE_VALIDITY
        )
    csca, dsc = state.csca, state.dsc
    period = f"{_when(csca.not_valid_before_utc)} to {_when(csca.not_valid_after_utc)}"
    problems: list[str] = []
    issued = dsc.not_valid_before_utc
    if not _within(csca, issued):
        problems.append(f"the DSC was issued ({_when(issued)}) outside the CSCA validity {period}")
    pkup = _pkup_problem(csca, issued, "DSC issuance")
    if pkup:
        problems.append(pkup)
    if state.signing_time is not None and not _within(csca, state.signing_time):
        problems.append(
            f"signing time {_when(state.signing_time)} is outside the CSCA validity {period}"
        )
    if problems:
        raise _Failed("; ".join(problems))
    detail = f"CSCA validity {period}"
    if not _within(csca, at):
        return Check(
            check_id,
            title,
            Status.WARN,
            f"{detail}; not valid at the verification time {_when(at)}",
            _CLAUSE_VALIDITY,
        )
    return Check(check_id, title, Status.PASS, detail, _CLAUSE_VALIDITY)


# --- dsc.revocation ------------------------------------------------------------------------------


def _revocation(
    state: _State, trust: TrustStore, at: datetime.datetime, policy: VerificationPolicy
) -> Check:
    check_id, title = "dsc.revocation", "The Document Signer certificate is not revoked"
    if state.csca is None or state.dsc is None:
        return Check(
            check_id,
            title,
            Status.SKIP,
            "no trusted CSCA found for the DSC",
            _CLAUSE_CRL,
            essential=False,
        )
    csca, dsc = state.csca, state.dsc

    def unknown(detail: str) -> Check:
        # Without a current CRL the DSC's status is unknown: a WARN, or — when the policy
        # requires a CRL (--require-crl) — an essential check not carried out: INCOMPLETE.
        if policy.require_crl:
            return Check(check_id, title, Status.SKIP,
                         f"{detail}; the policy requires a current CRL", _CLAUSE_CRL)  # fmt: skip
        return Check(check_id, title, Status.WARN, detail, _CLAUSE_CRL, essential=False)

    crls = trust.crls_for(csca)
    if not crls:
        unsigned = trust.candidate_crls(csca)
        if unsigned:
            why = trust.crl_problem(unsigned[0]) or "not usable"
            return unknown(f"{len(unsigned)} CRL(s) name the CSCA but none is usable ({why})")
        return unknown("no CRL from this CSCA in the trust store: revocation not checked")
    for crl in crls:
        entry = crl.get_revoked_certificate_by_serial_number(dsc.serial_number)
        if entry is None:
            continue
        reason = "unspecified"
        try:
            ext = entry.extensions.get_extension_for_class(x509.CRLReason)
            reason = ext.value.reason.value
        except x509.ExtensionNotFound:
            pass
        raise _Failed(
            f"DSC serial {dsc.serial_number:X} revoked on {_when(entry.revocation_date_utc)}, "
            f"reason {reason}"
        )
    latest = max(crls, key=lambda c: c.last_update_utc)
    next_update = latest.next_update_utc
    detail = f"not listed in the CRL of {_when(latest.last_update_utc)}"
    if next_update is None or next_update < at:
        # RFC 5280 §5.1.2.5: nextUpdate is mandatory for conforming CRLs; without one, or past
        # it, the CRL says nothing about now.
        when = _when(next_update) if next_update is not None else "(no nextUpdate)"
        return unknown(f"{detail}, but that CRL expired on {when}")
    return Check(check_id, title, Status.PASS, detail, _CLAUSE_CRL, essential=False)


# --- com.consistency -----------------------------------------------------------------------------


def _com(state: _State, com_data_groups: Sequence[int] | None) -> Check:
    check_id, title = "com.consistency", "EF.COM and the SOD list the same data groups"
    if com_data_groups is None:
        return Check(
            check_id, title, Status.SKIP, "EF.COM not supplied", _CLAUSE_COM, essential=False
        )
    if state.sod is None:
        return Check(
            check_id, title, Status.SKIP, "EF.SOD could not be read", _CLAUSE_COM, essential=False
        )
    com = set(com_data_groups)
    sod = set(state.sod.lds_security_object.hashes)
    if com == sod:
        return Check(
            check_id,
            title,
            Status.PASS,
            f"both list DG{', DG'.join(str(n) for n in sorted(sod))}",
            _CLAUSE_COM,
        )
    parts = []
    if com - sod:
        parts.append(f"only in EF.COM: {', '.join(f'DG{n}' for n in sorted(com - sod))}")
    if sod - com:
        parts.append(f"only in the SOD: {', '.join(f'DG{n}' for n in sorted(sod - com))}")
    raise _Failed("; ".join(parts))


# --- The whole procedure -------------------------------------------------------------------------


def passive_authentication(
    sod_bytes: bytes,
    files: Mapping[int, bytes],
    trust: TrustStore,
    *,
    at: datetime.datetime,
    com_data_groups: Sequence[int] | None = None,
    dsc: x509.Certificate | None = None,
    policy: VerificationPolicy = DEFAULT,
) -> tuple[Check, ...]:
    """Passive authentication of one card (ICAO 9303-11 §5.1).

    ``sod_bytes`` is EF.SOD as read (tag 77), ``files`` the data groups read (DG number → the
    whole DG file), ``at`` the verification time (timezone-aware), ``com_data_groups`` the DG
    numbers EF.COM lists (when read), ``dsc`` a Document Signer certificate obtained elsewhere
    (the one embedded in the SOD is used otherwise), ``policy`` the algorithms and evidence
    demanded (:data:`cardkit.pki.policy.DEFAULT`). Returns one Check per step; never raises on
    hostile ``sod_bytes`` or ``files``.
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("at must be timezone-aware")
    state = _State()
    checks: list[Check] = []
    parse_title = "EF.SOD is a well-formed CMS SignedData over an LDSSecurityObject"
    parsed = _guard("sod.parse", parse_title, _CLAUSE_SOD, lambda: _parse(bytes(sod_bytes), state))
    checks.append(parsed)
    if state.sod is not None and state.signer is not None:
        try:
            _find_dsc(state, dsc)
        except Exception as exc:
            state.dsc_problem = f"the Document Signer certificate cannot be located ({exc})"
    checks.extend(_hash_checks(files, state))
    sig_title = "The SOD signature verifies with the Document Signer key"
    checks.append(_guard("sod.signature", sig_title, _CLAUSE_SIG, lambda: _signature(state)))
    chain_title = "A trusted CSCA issued the Document Signer certificate"
    checks.append(_guard("dsc.chain", chain_title, _CLAUSE_CHAIN, lambda: _chain(state, trust)))
    issuer_title = "A CSCA issued the Document Signer directly (no intermediate)"
    checks.append(_guard("dsc.issuer", issuer_title, _CLAUSE_ISSUER, lambda: _issuer(state, trust)))
    role_title = "The SOD signer is a Document Signer, not a CA or another role"
    checks.append(_guard("dsc.role", role_title, _CLAUSE_ROLE, lambda: _role(state, trust)))
    for check_id, title, rule in _ROLE_RULES:
        step = functools.partial(_role_rule, check_id, title, rule, state)
        checks.append(_guard(check_id, title, roles.CLAUSE_ROLES, step))
    algorithm_steps: tuple[tuple[str, str, Callable[[], Check]], ...] = (
        (
            "algorithm.dg_hash",
            "The data-group hash algorithm meets the policy",
            lambda: _algorithm_dg_hash(state, policy),
        ),
        (
            "algorithm.sod_signature",
            "The SOD signature algorithm meets the policy",
            lambda: _algorithm_sod_signature(state, policy),
        ),
        (
            "algorithm.dsc_key",
            "The Document Signer key meets the policy",
            lambda: _algorithm_key(
                "algorithm.dsc_key",
                "The Document Signer key meets the policy",
                state.dsc,
                policy,
                "Document Signer",
            ),
        ),
        (
            "algorithm.dsc_signature",
            "The CSCA's signature on the DSC meets the policy",
            lambda: _algorithm_dsc_signature(state, policy),
        ),
        (
            "algorithm.csca_key",
            "The CSCA key meets the policy",
            lambda: _algorithm_key(
                "algorithm.csca_key", "The CSCA key meets the policy", state.csca, policy, "CSCA"
            ),
        ),
    )
    for check_id, title, algorithm_step in algorithm_steps:
        checks.append(_guard(check_id, title, CLAUSE_ALGORITHMS, algorithm_step))
    checks.append(
        _guard(
            "dsc.validity",
            "The SOD was signed within the Document Signer's validity",
            _CLAUSE_VALIDITY,
            lambda: _dsc_validity(state, at),
        )
    )
    checks.append(
        _guard(
            "csca.validity",
            "The CSCA was valid when it issued the DSC and at signing",
            _CLAUSE_VALIDITY,
            lambda: _csca_validity(state, at),
        )
    )
    checks.append(
        _guard(
            "dsc.revocation",
            "The Document Signer certificate is not revoked",
            _CLAUSE_CRL,
            lambda: _revocation(state, trust, at, policy),
        )
    )
    checks.append(
        _guard(
            "com.consistency",
            "EF.COM and the SOD list the same data groups",
            _CLAUSE_COM,
            lambda: _com(state, com_data_groups),
        )
    )
    return tuple(checks)
