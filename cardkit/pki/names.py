"""Distinguished names for State PKI certificates and CRLs (ICAO 9303-12 §7.1.1, Table 6).

9303-12 makes the ``countryName`` attribute mandatory in the issuer and subject of every CSCA,
link, Document Signer and master-list-signer certificate and of every CRL, encoded as a
PrintableString holding the upper-case ISO 3166-1 alpha-2 code of the issuing State; the country
of a Document Signer (and master list signer) must equal its CSCA's. The other attributes are
optional; cardkit writes them as UTF8String, the RFC 5280 §4.1.2.4 default for DirectoryString,
so Vietnamese names survive. Attribute order is C, O, OU, CN, serialNumber (one attribute per
RDN, the form every PKD upload checker expects).
"""

from __future__ import annotations

from asn1crypto import core, x509
from cryptography import x509 as cx509

from cardkit.errors import EncodingError, PkiError

_COUNTRY = "2.5.4.6"
_ORGANIZATION = "2.5.4.10"
_ORGANIZATIONAL_UNIT = "2.5.4.11"
_COMMON_NAME = "2.5.4.3"
_SERIAL_NUMBER = "2.5.4.5"


def check_country(country: str) -> str:
    """``country`` if it is an upper-case two-letter code (9303-12 Table 6), else PkiError."""
    if len(country) != 2 or not ("A" <= country[0] <= "Z" and "A" <= country[1] <= "Z"):
        raise PkiError(
            "the country of a certificate name must be an upper-case ISO 3166-1 alpha-2 code "
            "(9303-12 §7.1.1 Table 6)"
        )
    return country


def _attribute(oid: str, value: core.Asn1Value) -> x509.RelativeDistinguishedName:
    return x509.RelativeDistinguishedName([x509.NameTypeAndValue({"type": oid, "value": value})])


def _directory_string(value: str, what: str) -> x509.DirectoryString:
    if not value or not value.strip() or len(value) > 64:
        # ub-common-name etc. are 64 characters (RFC 5280 Appendix A.1).
        raise PkiError(f"{what} must be 1 to 64 characters")
    return x509.DirectoryString(name="utf8_string", value=value)


def make_name(
    country: str,
    organization: str | None = None,
    common_name: str | None = None,
    *,
    organizational_unit: str | None = None,
    serial_number: str | None = None,
) -> x509.Name:
    """An X.509 Name with a mandatory PrintableString country (9303-12 §7.1.1 Table 6)."""
    rdns = [_attribute(_COUNTRY, core.PrintableString(check_country(country)))]
    if organization is not None:
        rdns.append(_attribute(_ORGANIZATION, _directory_string(organization, "organization")))
    if organizational_unit is not None:
        rdns.append(
            _attribute(
                _ORGANIZATIONAL_UNIT,
                _directory_string(organizational_unit, "organizational unit"),
            )
        )
    if common_name is not None:
        rdns.append(_attribute(_COMMON_NAME, _directory_string(common_name, "common name")))
    if serial_number is not None:
        if not serial_number or len(serial_number) > 64:
            raise PkiError("serial number attribute must be 1 to 64 characters")
        try:
            value = core.PrintableString(serial_number)
            value.dump()
        except ValueError as exc:
            raise PkiError("serial number attribute must be a PrintableString") from exc
        rdns.append(_attribute(_SERIAL_NUMBER, value))
    return x509.Name(name="", value=x509.RDNSequence(rdns))


def to_asn1(name: cx509.Name) -> x509.Name:
    """The asn1crypto form of a ``cryptography`` Name, keeping its exact encoding."""
    try:
        return x509.Name.load(name.public_bytes())
    except Exception as exc:  # asn1crypto raises assorted exceptions on bad input
        raise EncodingError(f"malformed X.509 Name ({type(exc).__name__})") from exc


def country_of(name: x509.Name | cx509.Name) -> str | None:
    """The value of the single countryName attribute of ``name``; None if absent or repeated."""
    if isinstance(name, cx509.Name):
        values = [a.value for a in name.get_attributes_for_oid(cx509.NameOID.COUNTRY_NAME)]
        return values[0] if len(values) == 1 and isinstance(values[0], str) else None
    found: list[str] = []
    for rdn in name.chosen:
        for attribute in rdn:
            if attribute["type"].dotted == _COUNTRY:
                found.append(str(attribute["value"].native))
    return found[0] if len(found) == 1 else None


def country_is_printable(name: x509.Name) -> bool:
    """Whether every countryName attribute of ``name`` is a PrintableString (X.520, Table 6)."""
    for rdn in name.chosen:
        for attribute in rdn:
            if attribute["type"].dotted == _COUNTRY:
                # X.520 defines countryName as PrintableString (SIZE (2)); a UTF8String is a
                # common encoder mistake that strict verifiers reject.
                value = attribute["value"]
                inner = value.chosen if isinstance(value, core.Choice) else value
                if not isinstance(inner, core.PrintableString):
                    return False
    return True
