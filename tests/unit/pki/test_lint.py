"""Tests for cardkit.pki.lint: every rule fails on a deliberately wrong certificate (built with
asn1crypto below) and passes on the certificates cardkit makes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from asn1crypto import core, keys, x509
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from cardkit.encoding import oids
from cardkit.pki.algorithms import generate_private_key, signature_algorithm
from cardkit.pki.certs import create_csca, issue_dsc, issue_master_list_signer
from cardkit.pki.lint import Finding, guess_kind, lint_certificate
from cardkit.pki.signer import LocalSigner, SignatureScheme

T0 = datetime(2024, 1, 1, tzinfo=UTC)
CA = LocalSigner(generate_private_key("ec:secp256r1"), "ca")
LEAF = LocalSigner(generate_private_key("ec:secp256r1"), "leaf")
CSCA = create_csca(
    CA,
    country="VN",
    common_name="CSCA VN",
    serial=1,
    not_before=T0,
    not_after=datetime(2040, 1, 1, tzinfo=UTC),
    private_key_usage_end=datetime(2030, 1, 1, tzinfo=UTC),
    scheme=SignatureScheme(),
)
DSC = issue_dsc(
    CA,
    CSCA,
    LEAF.public_key(),
    common_name="DS",
    serial=2,
    not_before=T0,
    not_after=datetime(2035, 1, 1, tzinfo=UTC),
    private_key_usage_end=datetime(2025, 1, 1, tzinfo=UTC),
    scheme=SignatureScheme(),
    crl_distribution_point="https://pki.example.vn/csca.crl",
)
MLS = issue_master_list_signer(
    CA,
    CSCA,
    LEAF.public_key(),
    common_name="MLS",
    serial=3,
    not_before=T0,
    not_after=datetime(2035, 1, 1, tzinfo=UTC),
    private_key_usage_end=datetime(2025, 1, 1, tzinfo=UTC),
    scheme=SignatureScheme(),
)
BASES = {"csca": CSCA, "dsc": DSC, "mls": MLS}

Edit = Callable[[x509.TbsCertificate], None]


def forge(base: str, edit: Edit, *, outer: str | None = None) -> cx509.Certificate:
    """Re-sign ``base`` after ``edit`` changed its TBSCertificate (the CSCA key signs all)."""
    cert = x509.Certificate.load(BASES[base].public_bytes(serialization.Encoding.DER))
    tbs = cert["tbs_certificate"]
    edit(tbs)
    der = tbs.dump(force=True)
    signature = CA.sign(der, SignatureScheme())
    alg = signature_algorithm(CA.public_key(), SignatureScheme())
    if outer is not None:
        alg = _alg(outer)
    forged = x509.Certificate(
        {"tbs_certificate": tbs, "signature_algorithm": alg, "signature_value": signature}
    )
    return cx509.load_der_x509_certificate(forged.dump())


def _alg(name: str) -> object:
    from asn1crypto import algos

    return algos.SignedDigestAlgorithm({"algorithm": name})


def _exts(tbs: x509.TbsCertificate) -> list[x509.Extension]:
    return list(tbs["extensions"] or [])


def drop(oid: str) -> Edit:
    def edit(tbs: x509.TbsCertificate) -> None:
        tbs["extensions"] = [e for e in _exts(tbs) if e["extn_id"].dotted != oid]

    return edit


def put(oid: str, value: core.Asn1Value | bytes, critical: bool = False) -> Edit:
    def edit(tbs: x509.TbsCertificate) -> None:
        rest = [e for e in _exts(tbs) if e["extn_id"].dotted != oid]
        tbs["extensions"] = [
            *rest,
            x509.Extension({"extn_id": oid, "critical": critical, "extn_value": value}),
        ]

    return edit


def recritical(oid: str, critical: bool) -> Edit:
    def edit(tbs: x509.TbsCertificate) -> None:
        exts = _exts(tbs)
        for e in exts:
            if e["extn_id"].dotted == oid:
                e["critical"] = critical
        tbs["extensions"] = exts

    return edit


def field(name: str, value: object) -> Edit:
    def edit(tbs: x509.TbsCertificate) -> None:
        tbs[name] = value

    return edit


def _name(country: core.Asn1Value | None, cn: str = "X") -> x509.Name:
    rdns = []
    if country is not None:
        rdns.append(
            x509.RelativeDistinguishedName(
                [x509.NameTypeAndValue({"type": "country_name", "value": country})]
            )
        )
    rdns.append(
        x509.RelativeDistinguishedName(
            [
                x509.NameTypeAndValue(
                    {
                        "type": "common_name",
                        "value": x509.DirectoryString(name="utf8_string", value=cn),
                    }
                )
            ]
        )
    )
    return x509.Name(name="", value=x509.RDNSequence(rdns))


def _spki(key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey) -> keys.PublicKeyInfo:
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return keys.PublicKeyInfo.load(der)


def _time(kind: str, when: datetime) -> x509.Time:
    value = core.UTCTime(when) if kind == "utc_time" else core.GeneralizedTime(when)
    return x509.Time(name=kind, value=value)


def _validity(nb: x509.Time, na: x509.Time) -> x509.Validity:
    return x509.Validity({"not_before": nb, "not_after": na})


def _dtl(version: int, types: list[str]) -> bytes:
    from cardkit.pki.certs import DocumentTypeListSyntax

    return bytes(
        DocumentTypeListSyntax(
            {"version": version, "doc_type_list": [core.PrintableString(t) for t in types]}
        ).dump()
    )


def _pkup(nb: datetime, na: datetime) -> x509.PrivateKeyUsagePeriod:
    return x509.PrivateKeyUsagePeriod(
        {"not_before": core.GeneralizedTime(nb), "not_after": core.GeneralizedTime(na)}
    )


SMALL_RSA = rsa.generate_private_key(65537, 1024).public_key()
P224 = ec.generate_private_key(ec.SECP224R1()).public_key()
OTHER_CA = LocalSigner(generate_private_key("ec:secp256r1"), "other")

# (case id, base certificate, kind to lint as, edit, expected rule, expected severity)
CASES: list[tuple[str, str, str, Edit, str, str]] = [
    ("version-v1", "dsc", "dsc", field("version", "v1"), "cert.version", "error"),
    (
        "serial-21-octets",
        "dsc",
        "dsc",
        field("serial_number", 2**164),
        "cert.serial_number",
        "error",
    ),
    (
        "sigalg-mismatch",
        "dsc",
        "dsc",
        field("signature", _alg("sha384_ecdsa")),
        "cert.signature_algorithm_match",
        "error",
    ),
    (
        "unique-id",
        "dsc",
        "dsc",
        field("subject_unique_id", core.OctetBitString(b"\x01")),
        "cert.unique_identifiers",
        "error",
    ),
    (
        "issuer-no-country",
        "dsc",
        "dsc",
        field("issuer", _name(None)),
        "cert.issuer_country",
        "error",
    ),
    (
        "subject-utf8-country",
        "dsc",
        "dsc",
        field("subject", _name(x509.DirectoryString(name="utf8_string", value="VN"))),
        "cert.subject_country",
        "error",
    ),
    (
        "subject-lower-country",
        "dsc",
        "dsc",
        field("subject", _name(core.PrintableString("vn"))),
        "cert.subject_country",
        "error",
    ),
    (
        "country-mismatch",
        "dsc",
        "dsc",
        field("subject", _name(core.PrintableString("DE"))),
        "cert.country_match",
        "error",
    ),
    (
        "generalized-before-2050",
        "dsc",
        "dsc",
        field(
            "validity",
            _validity(
                _time("general_time", T0), _time("utc_time", datetime(2035, 1, 1, tzinfo=UTC))
            ),
        ),
        "cert.validity_encoding",
        "error",
    ),
    (
        "validity-reversed",
        "dsc",
        "dsc",
        field(
            "validity",
            _validity(_time("utc_time", datetime(2035, 1, 1, tzinfo=UTC)), _time("utc_time", T0)),
        ),
        "cert.validity_period",
        "error",
    ),
    (
        "rsa-1024",
        "dsc",
        "dsc",
        field("subject_public_key_info", _spki(SMALL_RSA)),
        "cert.public_key",
        "error",
    ),
    (
        "p-224",
        "dsc",
        "dsc",
        field("subject_public_key_info", _spki(P224)),
        "cert.public_key",
        "error",
    ),
    (
        "csca-not-self-issued",
        "csca",
        "csca",
        field("subject", _name(core.PrintableString("VN"), "Other")),
        "csca.self_signed",
        "error",
    ),
    (
        "csca-wrong-key",
        "csca",
        "csca",
        field("subject_public_key_info", _spki(OTHER_CA.public_key())),
        "csca.self_signed",
        "error",
    ),
    (
        "duplicate-extension",
        "dsc",
        "dsc",
        lambda t: t.__setitem__("extensions", [*_exts(t), _exts(t)[1]]),
        "cert.extensions",
        "error",
    ),
    ("no-extensions", "dsc", "dsc", field("extensions", None), "cert.extensions", "error"),
    (
        "unknown-critical",
        "dsc",
        "dsc",
        put("1.2.3.4", b"\x05\x00", critical=True),
        "cert.unknown_critical",
        "error",
    ),
    ("dsc-no-aki", "dsc", "dsc", drop("2.5.29.35"), "cert.authority_key_identifier", "error"),
    (
        "aki-critical",
        "dsc",
        "dsc",
        recritical("2.5.29.35", True),
        "cert.authority_key_identifier",
        "error",
    ),
    (
        "aki-no-keyid",
        "dsc",
        "dsc",
        put("2.5.29.35", x509.AuthorityKeyIdentifier({"authority_cert_serial_number": 1})),
        "cert.authority_key_identifier",
        "error",
    ),
    ("csca-no-ski", "csca", "csca", drop("2.5.29.14"), "cert.subject_key_identifier", "error"),
    (
        "ski-critical",
        "dsc",
        "dsc",
        recritical("2.5.29.14", True),
        "cert.subject_key_identifier",
        "error",
    ),
    (
        "dsc-ku-certsign",
        "dsc",
        "dsc",
        put("2.5.29.15", x509.KeyUsage({"digital_signature", "key_cert_sign"}), True),
        "dsc.key_usage",
        "error",
    ),
    ("dsc-ku-noncritical", "dsc", "dsc", recritical("2.5.29.15", False), "dsc.key_usage", "error"),
    ("dsc-ku-missing", "dsc", "dsc", drop("2.5.29.15"), "dsc.key_usage", "error"),
    (
        "csca-ku-digsig",
        "csca",
        "csca",
        put("2.5.29.15", x509.KeyUsage({"digital_signature"}), True),
        "csca.key_usage",
        "error",
    ),
    (
        "mls-ku-crlsign",
        "mls",
        "mls",
        put("2.5.29.15", x509.KeyUsage({"crl_sign"}), True),
        "mls.key_usage",
        "error",
    ),
    ("csca-no-pkup", "csca", "csca", drop("2.5.29.16"), "cert.private_key_usage_period", "error"),
    (
        "pkup-outside",
        "dsc",
        "dsc",
        put("2.5.29.16", _pkup(T0, datetime(2036, 1, 1, tzinfo=UTC))),
        "cert.private_key_usage_period",
        "error",
    ),
    (
        "pkup-critical",
        "dsc",
        "dsc",
        recritical("2.5.29.16", True),
        "cert.private_key_usage_period",
        "error",
    ),
    (
        "csca-bc-noncritical",
        "csca",
        "csca",
        recritical("2.5.29.19", False),
        "csca.basic_constraints",
        "error",
    ),
    (
        "csca-bc-pathlen-1",
        "csca",
        "csca",
        put("2.5.29.19", x509.BasicConstraints({"ca": True, "path_len_constraint": 1}), True),
        "csca.basic_constraints",
        "error",
    ),
    ("csca-bc-missing", "csca", "csca", drop("2.5.29.19"), "csca.basic_constraints", "error"),
    (
        "dsc-is-ca",
        "dsc",
        "dsc",
        put("2.5.29.19", x509.BasicConstraints({"ca": True}), True),
        "dsc.basic_constraints",
        "error",
    ),
    (
        "dsc-bc-false",
        "dsc",
        "dsc",
        put("2.5.29.19", x509.BasicConstraints({"ca": False}), True),
        "dsc.basic_constraints",
        "warning",
    ),
    ("mls-eku-missing", "mls", "mls", drop("2.5.29.37"), "mls.extended_key_usage", "error"),
    (
        "mls-eku-noncritical",
        "mls",
        "mls",
        recritical("2.5.29.37", False),
        "mls.extended_key_usage",
        "error",
    ),
    (
        "mls-eku-wrong",
        "mls",
        "mls",
        put("2.5.29.37", x509.ExtKeyUsageSyntax(["code_signing"]), True),
        "mls.extended_key_usage",
        "error",
    ),
    (
        "dsc-eku",
        "dsc",
        "dsc",
        put("2.5.29.37", x509.ExtKeyUsageSyntax(["code_signing"])),
        "dsc.extended_key_usage",
        "error",
    ),
    (
        "dsc-policy-mappings",
        "dsc",
        "dsc",
        put(
            "2.5.29.33",
            x509.PolicyMappings(
                [{"issuer_domain_policy": "1.2.3", "subject_domain_policy": "1.2.4"}]
            ),
        ),
        "cert.forbidden_extension",
        "error",
    ),
    (
        "csca-name-constraints",
        "csca",
        "csca",
        put(
            "2.5.29.30",
            x509.NameConstraints(
                {
                    "permitted_subtrees": [
                        {"base": x509.GeneralName(name="dns_name", value="example.vn")}
                    ]
                }
            ),
            True,
        ),
        "cert.forbidden_extension",
        "error",
    ),
    ("cdp-critical", "dsc", "dsc", recritical("2.5.29.31", True), "cert.non_critical", "error"),
    ("dsc-no-cdp", "dsc", "dsc", drop("2.5.29.31"), "dsc.crl_distribution_points", "warning"),
    (
        "dsc-no-dtl",
        "dsc",
        "dsc",
        drop(oids.ICAO_EXTENSIONS_DOCUMENT_TYPE_LIST),
        "dsc.document_type_list",
        "error",
    ),
    (
        "dtl-critical",
        "dsc",
        "dsc",
        recritical(oids.ICAO_EXTENSIONS_DOCUMENT_TYPE_LIST, True),
        "dsc.document_type_list",
        "error",
    ),
    (
        "dtl-version-1",
        "dsc",
        "dsc",
        put(oids.ICAO_EXTENSIONS_DOCUMENT_TYPE_LIST, _dtl(1, ["ID"])),
        "dsc.document_type_list",
        "error",
    ),
    (
        "dtl-lowercase",
        "dsc",
        "dsc",
        put(oids.ICAO_EXTENSIONS_DOCUMENT_TYPE_LIST, _dtl(0, ["id"])),
        "dsc.document_type_list",
        "error",
    ),
    (
        "dtl-garbage",
        "dsc",
        "dsc",
        put(oids.ICAO_EXTENSIONS_DOCUMENT_TYPE_LIST, b"\x04\x01\x00"),
        "dsc.document_type_list",
        "error",
    ),
    (
        "csca-with-dtl",
        "csca",
        "csca",
        put(oids.ICAO_EXTENSIONS_DOCUMENT_TYPE_LIST, _dtl(0, ["ID"])),
        "cert.document_type_list",
        "error",
    ),
    (
        "csca-name-change",
        "csca",
        "csca",
        put(oids.ICAO_EXTENSIONS_NAME_CHANGE, b"\x05\x00"),
        "cert.name_change",
        "error",
    ),
    (
        "link-name-change-not-null",
        "csca",
        "link",
        put(oids.ICAO_EXTENSIONS_NAME_CHANGE, b"\x01\x01\xff"),
        "cert.name_change",
        "error",
    ),
]
RULES = sorted({c[4] for c in CASES} | {"cert.signature_algorithm"})


@pytest.mark.parametrize(
    ("case", "base", "kind", "edit", "rule", "severity"), CASES, ids=[c[0] for c in CASES]
)
def test_rule_fails(case: str, base: str, kind: str, edit: Edit, rule: str, severity: str) -> None:
    findings = lint_certificate(forge(base, edit), kind)  # type: ignore[arg-type]
    hits = [f for f in findings if f.rule == rule]
    assert hits, findings
    assert {f.severity for f in hits} == {severity}
    assert all(f.clause.startswith("9303-12 §") and f.message for f in hits)


@pytest.mark.parametrize("outer", ["sha1_ecdsa", "sha224_ecdsa"])
def test_signature_algorithm_rule(outer: str) -> None:
    cert = forge("dsc", field("signature", _alg(outer)), outer=outer)
    hits = [f for f in lint_certificate(cert, "dsc") if f.rule == "cert.signature_algorithm"]
    assert [f.severity for f in hits] == ["error" if outer == "sha1_ecdsa" else "warning"]


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("kind", ["csca", "dsc", "mls"])
def test_rule_passes_on_cardkit_certificates(rule: str, kind: str) -> None:
    assert [f for f in lint_certificate(BASES[kind], kind) if f.rule == rule] == []  # type: ignore[arg-type]


def test_no_findings_at_all_on_cardkit_certificates() -> None:
    for kind, cert in BASES.items():
        assert lint_certificate(cert, kind) == []  # type: ignore[arg-type]


def test_guess_kind() -> None:
    assert guess_kind(CSCA) == "csca" and guess_kind(DSC) == "dsc" and guess_kind(MLS) == "mls"


def test_finding_is_validated() -> None:
    with pytest.raises(ValueError):
        Finding("x", "9303-12", "fatal", "m")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        lint_certificate(DSC, "passport")  # type: ignore[arg-type]
