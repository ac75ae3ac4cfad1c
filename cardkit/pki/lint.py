"""A linter for State PKI certificates against the ICAO 9303-12 profiles (§7.1.1).

:func:`lint_certificate` returns every finding at once (it collects, it does not stop at the
first problem). Each rule checks one requirement of the certificate-body table (Table 6) or of
the extension table that follows it, per certificate kind:

- ``csca``: self-signed Country Signing CA certificate;
- ``link``: CSCA link certificate (new CSCA key and name, signed by the previous CSCA key);
- ``dsc``: Document Signer certificate;
- ``mls``: master list signer certificate (§9);
- ``auto``: guess the kind from the certificate (EKU, BasicConstraints, self-issuance).

Rule ids are ``cert.*`` for requirements shared by every kind and ``<kind>.*`` for those whose
expected value depends on the kind. Severity ``error`` is a violation of a "shall"/mandatory
entry; ``warning`` is a departure from a recommendation or common practice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from asn1crypto import core, keys, x509
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import serialization

from cardkit.encoding import oids
from cardkit.errors import PkiError
from cardkit.pki import algorithms
from cardkit.pki.certs import DocumentTypeListSyntax, is_issued_by
from cardkit.pki.names import country_is_printable, country_of
from cardkit.pki.roles import KNOWN_EXTENSIONS

Kind = Literal["csca", "link", "dsc", "mls", "auto"]
Severity = Literal["error", "warning"]

BODY = "9303-12 §7.1.1 Table 6"
EXTENSIONS = "9303-12 §7.1.1 Table 7"
ALGORITHMS = "9303-12 §4.4"

_AKI = oids.ID_CE_AUTHORITY_KEY_IDENTIFIER
_SKI = oids.ID_CE_SUBJECT_KEY_IDENTIFIER
_KEY_USAGE = oids.ID_CE_KEY_USAGE
_PKUP = oids.ID_CE_PRIVATE_KEY_USAGE_PERIOD
_SAN = oids.ID_CE_SUBJECT_ALT_NAME
_IAN = oids.ID_CE_ISSUER_ALT_NAME
_SDA = oids.ID_CE_SUBJECT_DIRECTORY_ATTRIBUTES
_BASIC_CONSTRAINTS = oids.ID_CE_BASIC_CONSTRAINTS
_NAME_CONSTRAINTS = oids.ID_CE_NAME_CONSTRAINTS
_CDP = oids.ID_CE_CRL_DISTRIBUTION_POINTS
_POLICIES = oids.ID_CE_CERTIFICATE_POLICIES
_POLICY_MAPPINGS = oids.ID_CE_POLICY_MAPPINGS
_POLICY_CONSTRAINTS = oids.ID_CE_POLICY_CONSTRAINTS
_EKU = oids.ID_CE_EXT_KEY_USAGE
_FRESHEST_CRL = oids.ID_CE_FRESHEST_CRL
_INHIBIT_ANY_POLICY = oids.ID_CE_INHIBIT_ANY_POLICY
_NETSCAPE_CERT_TYPE = oids.NETSCAPE_CERT_TYPE

_KNOWN = KNOWN_EXTENSIONS
_KEY_USAGES: dict[str, frozenset[str]] = {
    "csca": frozenset({"key_cert_sign", "crl_sign"}),
    "link": frozenset({"key_cert_sign", "crl_sign"}),
    "dsc": frozenset({"digital_signature"}),
    "mls": frozenset({"digital_signature"}),
}
_SHA224_SIGNATURES = frozenset({oids.ECDSA_WITH_SHA224, oids.SHA224_WITH_RSA})


@dataclass(frozen=True)
class Finding:
    """One departure from the profile: which rule, where in the specification, how bad, what."""

    rule: str
    clause: str
    severity: Severity
    message: str

    def __post_init__(self) -> None:
        if self.severity not in ("error", "warning"):
            raise ValueError(f"severity must be 'error' or 'warning', not {self.severity!r}")
        if not self.rule or not self.message:
            raise ValueError("a finding needs a rule id and a message")


@dataclass
class _Ext:
    critical: bool
    value: core.Asn1Value | None  # None: the value could not be parsed
    raw: bytes


class _Linter:
    def __init__(self, cert: cx509.Certificate, kind: Kind) -> None:
        self.cert = cert
        self.findings: list[Finding] = []
        der = cert.public_bytes(serialization.Encoding.DER)
        self.asn1 = x509.Certificate.load(der)
        self.tbs = self.asn1["tbs_certificate"]
        self.extensions: dict[str, _Ext] = {}
        self.duplicates: list[str] = []
        for ext in self.tbs["extensions"] or []:
            oid = ext["extn_id"].dotted
            if oid in self.extensions:
                self.duplicates.append(oid)
            raw = bytes(ext["extn_value"].contents)
            try:
                value = ext["extn_value"].parsed if oid in x509.ExtensionId._map else None
                if value is not None:
                    value.native  # noqa: B018 - force the lazy parse
            except Exception:  # malformed content: reported by the rule that reads it
                value = None
            self.extensions[oid] = _Ext(bool(ext["critical"].native), value, raw)
        self.self_issued = self.tbs["issuer"].dump() == self.tbs["subject"].dump()
        self.kind: Literal["csca", "link", "dsc", "mls"] = (
            self._guess_kind() if kind == "auto" else kind
        )

    def _guess_kind(self) -> Literal["csca", "link", "dsc", "mls"]:
        eku = self.extensions.get(_EKU)
        if (
            eku is not None
            and eku.value is not None
            and oids.CSCA_MASTER_LIST_SIGNING_KEY in [p.dotted for p in eku.value]
        ):
            return "mls"
        bc = self.extensions.get(_BASIC_CONSTRAINTS)
        if bc is not None and bc.value is not None and bc.value["ca"].native:
            return "csca" if self.self_issued else "link"
        return "dsc"

    def add(self, rule: str, clause: str, severity: Severity, message: str) -> None:
        self.findings.append(Finding(rule, clause, severity, message))

    def error(self, rule: str, clause: str, message: str) -> None:
        self.add(rule, clause, "error", message)

    # --- certificate body (Table 6) ----------------------------------------------------------

    def version(self) -> None:
        if self.tbs["version"].native != "v3":
            self.error("cert.version", BODY, "the certificate must be X.509 version 3")

    def serial_number(self) -> None:
        serial = self.tbs["serial_number"]
        contents = bytes(serial.contents)
        if serial.native <= 0:
            self.error("cert.serial_number", BODY, "the serial number must be positive")
        elif len(contents) > 20:
            self.error("cert.serial_number", BODY, "the serial number exceeds 20 octets")
        elif len(contents) > 1 and (
            (contents[0] == 0 and contents[1] < 0x80)
            or (contents[0] == 0xFF and contents[1] >= 0x80)
        ):
            self.error("cert.serial_number", BODY, "the serial number is not minimally encoded")

    def signature_algorithm_match(self) -> None:
        if self.tbs["signature"].dump() != self.asn1["signature_algorithm"].dump():
            self.error(
                "cert.signature_algorithm_match",
                BODY,
                "TBSCertificate.signature differs from Certificate.signatureAlgorithm",
            )

    def signature_algorithm(self) -> None:
        alg = self.asn1["signature_algorithm"]
        try:
            algorithms.scheme_from_algorithm(alg)
        except PkiError as exc:
            if alg["algorithm"].dotted in _SHA224_SIGNATURES:
                self.add(
                    "cert.signature_algorithm",
                    ALGORITHMS,
                    "warning",
                    "SHA-224 signatures are allowed but weaker than SHA-256 and up",
                )
            else:
                self.error("cert.signature_algorithm", ALGORITHMS, f"not allowed: {exc}")

    def unique_identifiers(self) -> None:
        if self.tbs["issuer_unique_id"].native is not None or (
            self.tbs["subject_unique_id"].native is not None
        ):
            self.error(
                "cert.unique_identifiers", BODY, "issuerUniqueID/subjectUniqueID must be absent"
            )

    def _country(self, which: str, rule: str) -> str | None:
        name = self.tbs[which]
        country = country_of(name)
        if country is None:
            self.error(rule, BODY, f"the {which} must contain exactly one countryName")
            return None
        if not country_is_printable(name):
            self.error(rule, BODY, f"the {which} countryName must be a PrintableString")
        if len(country) != 2 or not country.isascii() or not country.isupper():
            self.error(rule, BODY, f"the {which} countryName must be two upper-case letters")
        return country

    def countries(self) -> None:
        issuer = self._country("issuer", "cert.issuer_country")
        subject = self._country("subject", "cert.subject_country")
        if issuer is not None and subject is not None and issuer != subject:
            self.error(
                "cert.country_match",
                BODY,
                "the subject's country must be the issuing CSCA's country",
            )

    def validity(self) -> None:
        validity = self.tbs["validity"]
        for end in ("not_before", "not_after"):
            time = validity[end]
            year = time.native.year
            if year < 2050 and time.name != "utc_time":
                self.error(
                    "cert.validity_encoding",
                    BODY,
                    f"{end} before 2050 must be a UTCTime (RFC 5280 §4.1.2.5)",
                )
            if year >= 2050 and time.name != "general_time":
                self.error(
                    "cert.validity_encoding",
                    BODY,
                    f"{end} from 2050 on must be a GeneralizedTime (RFC 5280 §4.1.2.5)",
                )
        if not validity["not_before"].native < validity["not_after"].native:
            self.error("cert.validity_period", BODY, "notBefore must be earlier than notAfter")

    def public_key(self) -> None:
        info: keys.PublicKeyInfo = self.tbs["subject_public_key_info"]
        algorithm = info["algorithm"]["algorithm"].native
        if algorithm == "rsa":
            bits = info.bit_size
            if bits < algorithms.RSA_MIN_BITS:
                self.error("cert.public_key", ALGORITHMS, f"RSA key of {bits} bits is too short")
        elif algorithm == "ec":
            params = info["algorithm"]["parameters"]
            if params.name != "named":
                self.add(
                    "cert.public_key",
                    ALGORITHMS,
                    "warning",
                    "EC key with explicit or implicit domain parameters: many verifiers "
                    "(and cardkit) only handle named curves",
                )
            elif params.chosen.dotted not in algorithms.CURVE_OIDS.values():
                self.error(
                    "cert.public_key",
                    ALGORITHMS,
                    f"EC key on an unsupported curve {oids.name_of(params.chosen.dotted)}",
                )
        else:
            self.error(
                "cert.public_key", ALGORITHMS, f"unsupported public key algorithm {algorithm}"
            )

    def self_signature(self) -> None:
        if self.kind != "csca":
            return
        if not self.self_issued:
            self.error("csca.self_signed", BODY, "a CSCA certificate's issuer must be its subject")
        elif not is_issued_by(self.cert, self.cert):
            self.error(
                "csca.self_signed",
                BODY,
                "the CSCA certificate's signature does not verify with its own key",
            )

    # --- extensions (Table 7) ------------------------------------------------------------------

    def _present(self, oid: str, rule: str, what: str) -> _Ext | None:
        ext = self.extensions.get(oid)
        if ext is None:
            self.error(rule, EXTENSIONS, f"{what} is mandatory for a {self.kind} certificate")
        return ext

    def _non_critical(self, ext: _Ext, rule: str, what: str) -> None:
        if ext.critical:
            self.error(rule, EXTENSIONS, f"{what} must not be critical")

    def _parsed(self, ext: _Ext, rule: str, what: str) -> core.Asn1Value | None:
        if ext.value is None:
            self.error(rule, EXTENSIONS, f"{what} cannot be decoded")
        return ext.value

    def extension_list(self) -> None:
        if self.tbs["extensions"].native is None:
            self.error("cert.extensions", BODY, "a 9303 certificate must have extensions")
        for oid in self.duplicates:
            self.error("cert.extensions", BODY, f"extension {oid} appears more than once")
        for oid, ext in self.extensions.items():
            if ext.critical and oid not in _KNOWN:
                self.error(
                    "cert.unknown_critical", EXTENSIONS, f"unknown extension {oid} is critical"
                )

    def authority_key_identifier(self) -> None:
        rule = "cert.authority_key_identifier"
        ext = self.extensions.get(_AKI)
        if ext is None:
            if not (self.kind == "csca" and self.self_issued):
                self.error(rule, EXTENSIONS, "AuthorityKeyIdentifier is mandatory")
            return
        self._non_critical(ext, rule, "AuthorityKeyIdentifier")
        value = self._parsed(ext, rule, "AuthorityKeyIdentifier")
        if value is not None and value["key_identifier"].native is None:
            self.error(rule, EXTENSIONS, "AuthorityKeyIdentifier must carry a keyIdentifier")

    def subject_key_identifier(self) -> None:
        rule = "cert.subject_key_identifier"
        ext = self.extensions.get(_SKI)
        if ext is None:
            if self.kind in ("csca", "link"):
                self.error(rule, EXTENSIONS, "SubjectKeyIdentifier is mandatory for a CSCA")
            return
        self._non_critical(ext, rule, "SubjectKeyIdentifier")
        self._parsed(ext, rule, "SubjectKeyIdentifier")

    def key_usage(self) -> None:
        rule = f"{self.kind}.key_usage"
        ext = self._present(_KEY_USAGE, rule, "KeyUsage")
        if ext is None:
            return
        if not ext.critical:
            self.error(rule, EXTENSIONS, "KeyUsage must be critical")
        value = self._parsed(ext, rule, "KeyUsage")
        if value is None:
            return
        expected = _KEY_USAGES[self.kind]
        if set(value.native) != expected:
            self.error(
                rule,
                EXTENSIONS,
                f"KeyUsage must be exactly {', '.join(sorted(expected))} for a {self.kind}",
            )

    def private_key_usage_period(self) -> None:
        rule = "cert.private_key_usage_period"
        ext = self.extensions.get(_PKUP)
        if ext is None:
            if self.kind in ("csca", "link", "dsc"):
                self.error(rule, EXTENSIONS, "PrivateKeyUsagePeriod is mandatory")
            return
        self._non_critical(ext, rule, "PrivateKeyUsagePeriod")
        value = self._parsed(ext, rule, "PrivateKeyUsagePeriod")
        if value is None:
            return
        start, end = value["not_before"].native, value["not_after"].native
        if start is None and end is None:
            self.error(rule, EXTENSIONS, "PrivateKeyUsagePeriod must give a start or an end")
            return
        validity = self.tbs["validity"]
        first, last = validity["not_before"].native, validity["not_after"].native
        if (start is not None and not first <= start <= last) or (
            end is not None and not first <= end <= last
        ):
            self.error(rule, EXTENSIONS, "PrivateKeyUsagePeriod must lie within the validity")
        if start is not None and end is not None and start > end:
            self.error(rule, EXTENSIONS, "PrivateKeyUsagePeriod starts after it ends")

    def basic_constraints(self) -> None:
        rule = f"{self.kind}.basic_constraints"
        ext = self.extensions.get(_BASIC_CONSTRAINTS)
        if self.kind in ("csca", "link"):
            ext = self._present(_BASIC_CONSTRAINTS, rule, "BasicConstraints")
            if ext is None:
                return
            if not ext.critical:
                self.error(rule, EXTENSIONS, "BasicConstraints must be critical")
            value = self._parsed(ext, rule, "BasicConstraints")
            if value is not None and (
                not value["ca"].native or value["path_len_constraint"].native != 0
            ):
                self.error(rule, EXTENSIONS, "BasicConstraints must be cA TRUE, pathLen 0")
            return
        if ext is None:
            return
        value = self._parsed(ext, rule, "BasicConstraints")
        if value is not None and value["ca"].native:
            self.error(rule, EXTENSIONS, f"a {self.kind} certificate must not be a CA")
        else:
            self.add(rule, EXTENSIONS, "warning", "BasicConstraints should be absent")

    def extended_key_usage(self) -> None:
        rule = f"{self.kind}.extended_key_usage"
        ext = self.extensions.get(_EKU)
        if self.kind != "mls":
            if ext is not None:
                self.error(rule, EXTENSIONS, f"ExtendedKeyUsage must be absent in a {self.kind}")
            return
        ext = self._present(_EKU, rule, "ExtendedKeyUsage")
        if ext is None:
            return
        if not ext.critical:
            self.error(rule, EXTENSIONS, "ExtendedKeyUsage must be critical")
        value = self._parsed(ext, rule, "ExtendedKeyUsage")
        if value is not None and oids.CSCA_MASTER_LIST_SIGNING_KEY not in [p.dotted for p in value]:
            self.error(rule, EXTENSIONS, "ExtendedKeyUsage must hold cscaMasterListSigningKey")

    def forbidden(self) -> None:
        forbidden = {_POLICY_MAPPINGS: "PolicyMappings", _NETSCAPE_CERT_TYPE: "NetscapeCertType"}
        if self.kind in ("csca", "link"):
            forbidden |= {
                _NAME_CONSTRAINTS: "NameConstraints",
                _POLICY_CONSTRAINTS: "PolicyConstraints",
                _INHIBIT_ANY_POLICY: "InhibitAnyPolicy",
                _FRESHEST_CRL: "FreshestCRL",
            }
        for oid, what in forbidden.items():
            if oid in self.extensions:
                self.error("cert.forbidden_extension", EXTENSIONS, f"{what} must not be present")

    def non_critical(self) -> None:
        for oid, what in (
            (_POLICIES, "CertificatePolicies"),
            (_SAN, "SubjectAltName"),
            (_IAN, "IssuerAltName"),
            (_SDA, "SubjectDirectoryAttributes"),
            (_CDP, "CRLDistributionPoints"),
        ):
            ext = self.extensions.get(oid)
            if ext is not None:
                self._non_critical(ext, "cert.non_critical", what)

    def crl_distribution_points(self) -> None:
        if self.kind == "dsc" and _CDP not in self.extensions:
            self.add(
                "dsc.crl_distribution_points",
                EXTENSIONS,
                "warning",
                "a Document Signer certificate should say where its CSCA's CRL is published",
            )

    def document_type_list(self) -> None:
        oid = oids.ICAO_EXTENSIONS_DOCUMENT_TYPE_LIST
        if self.kind != "dsc":
            if oid in self.extensions:
                self.error(
                    "cert.document_type_list",
                    EXTENSIONS,
                    "DocumentTypeList belongs in Document Signer certificates only",
                )
            return
        rule = "dsc.document_type_list"
        ext = self._present(oid, rule, "DocumentTypeList (2.23.136.1.1.6.2)")
        if ext is None:
            return
        self._non_critical(ext, rule, "DocumentTypeList")
        try:
            value = DocumentTypeListSyntax.load(ext.raw, strict=True)
            version = value["version"].native
            doc_types = [str(t.native) for t in value["doc_type_list"]]
        except Exception:  # any decoding failure is the finding
            self.error(rule, EXTENSIONS, "DocumentTypeList cannot be decoded")
            return
        if version != 0:
            self.error(rule, EXTENSIONS, "DocumentTypeList version must be v0")
        if not doc_types or not all(
            1 <= len(t) <= 2 and t.isascii() and t.isalpha() and t.isupper() for t in doc_types
        ):
            self.error(
                rule, EXTENSIONS, "DocumentTypeList must list one- or two-letter document codes"
            )

    def name_change(self) -> None:
        ext = self.extensions.get(oids.ICAO_EXTENSIONS_NAME_CHANGE)
        if ext is None:
            return
        rule = "cert.name_change"
        if self.kind != "link":
            self.error(rule, EXTENSIONS, "NameChange belongs in CSCA link certificates only")
        self._non_critical(ext, rule, "NameChange")
        if ext.raw != b"\x05\x00":
            self.error(rule, EXTENSIONS, "NameChange must be an ASN.1 NULL")

    def run(self) -> list[Finding]:
        checks: list[Callable[[], None]] = [
            self.version,
            self.serial_number,
            self.signature_algorithm_match,
            self.signature_algorithm,
            self.unique_identifiers,
            self.countries,
            self.validity,
            self.public_key,
            self.self_signature,
            self.extension_list,
            self.authority_key_identifier,
            self.subject_key_identifier,
            self.key_usage,
            self.private_key_usage_period,
            self.basic_constraints,
            self.extended_key_usage,
            self.forbidden,
            self.non_critical,
            self.crl_distribution_points,
            self.document_type_list,
            self.name_change,
        ]
        for check in checks:
            try:
                check()
            except Exception as exc:  # a malformed field must not hide the other findings
                self.error(
                    f"cert.{check.__name__}",
                    BODY,
                    f"could not be checked: malformed content ({type(exc).__name__})",
                )
        return self.findings


def lint_certificate(cert: cx509.Certificate, kind: Kind = "auto") -> list[Finding]:
    """Every way ``cert`` departs from the 9303-12 profile of ``kind`` (or the guessed kind)."""
    if kind not in ("csca", "link", "dsc", "mls", "auto"):
        raise ValueError(f"unknown certificate kind {kind!r}")
    try:
        linter = _Linter(cert, kind)
    except Exception as exc:
        return [
            Finding("cert.decoding", BODY, "error", f"the certificate cannot be decoded ({exc})")
        ]
    return linter.run()


def guess_kind(cert: cx509.Certificate) -> Literal["csca", "link", "dsc", "mls"]:
    """The kind :func:`lint_certificate` assumes for ``kind="auto"``."""
    return _Linter(cert, "auto").kind
