"""The one table of object identifiers cardkit needs, and what the PACE/CA ones mean.

Sources:

- ICAO 9303-10 §4.6.2 and 9303-12 §4.6 (``id-icao-mrtd-security`` 2.23.136.1.1 and its arcs),
  9303-11 §6.1 (``aaProtocolObject``).
- BSI TR-03110-3 Appendix A.1 and 9303-11 §9.2 (``bsi-de`` 0.4.0.127.0.7: PACE, CA, TA, the
  ``id-PK-*`` public-key identifiers, standardized domain parameters).
- BSI TR-03111 §5.2.1 (``ecdsa-plain-signatures``), RFC 3279 / RFC 5758 (ECDSA), RFC 8017 and
  RFC 4055 (RSA PKCS#1 v1.5 and RSASSA-PSS), RFC 5754 (SHA-2), RFC 5480 / SEC 2 (NIST curves),
  RFC 5639 (Brainpool curves), RFC 5652 (CMS).
- The standardized domain parameter identifiers: BSI TR-03110-3 Table 4 = 9303-11 §9.5.1 Table 6.

OIDs are plain dotted strings: they are what asn1crypto's ``.dotted`` returns and what a person
reads in a dump. :func:`der` / :func:`from_der` encode and decode the DER ``06`` form so the table
can be checked against the bytes printed in the specifications.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from cardkit.errors import EncodingError

# --- ICAO 9303 -------------------------------------------------------------------------------

ID_ICAO_MRTD_SECURITY = "2.23.136.1.1"
LDS_SECURITY_OBJECT = "2.23.136.1.1.1"
CSCA_MASTER_LIST = "2.23.136.1.1.2"
CSCA_MASTER_LIST_SIGNING_KEY = "2.23.136.1.1.3"
DOCUMENT_TYPE_LIST = "2.23.136.1.1.4"
AA_PROTOCOL_OBJECT = "2.23.136.1.1.5"
ICAO_EXTENSIONS = "2.23.136.1.1.6"
ICAO_EXTENSIONS_NAME_CHANGE = "2.23.136.1.1.6.1"
ICAO_EXTENSIONS_DOCUMENT_TYPE_LIST = "2.23.136.1.1.6.2"
DEVIATION_LIST = "2.23.136.1.1.7"
DEVIATION_LIST_SIGNING_KEY = "2.23.136.1.1.8"

# --- BSI TR-03110 ----------------------------------------------------------------------------

BSI_DE = "0.4.0.127.0.7"
STANDARDIZED_DOMAIN_PARAMETERS = "0.4.0.127.0.7.1.2"

ID_PK = "0.4.0.127.0.7.2.2.1"
ID_PK_DH = "0.4.0.127.0.7.2.2.1.1"
ID_PK_ECDH = "0.4.0.127.0.7.2.2.1.2"

ID_TA = "0.4.0.127.0.7.2.2.2"
ID_TA_RSA = "0.4.0.127.0.7.2.2.2.1"
ID_TA_RSA_V1_5_SHA_1 = "0.4.0.127.0.7.2.2.2.1.1"
ID_TA_RSA_V1_5_SHA_256 = "0.4.0.127.0.7.2.2.2.1.2"
ID_TA_RSA_PSS_SHA_1 = "0.4.0.127.0.7.2.2.2.1.3"
ID_TA_RSA_PSS_SHA_256 = "0.4.0.127.0.7.2.2.2.1.4"
ID_TA_RSA_V1_5_SHA_512 = "0.4.0.127.0.7.2.2.2.1.5"
ID_TA_RSA_PSS_SHA_512 = "0.4.0.127.0.7.2.2.2.1.6"
ID_TA_ECDSA = "0.4.0.127.0.7.2.2.2.2"
ID_TA_ECDSA_SHA_1 = "0.4.0.127.0.7.2.2.2.2.1"
ID_TA_ECDSA_SHA_224 = "0.4.0.127.0.7.2.2.2.2.2"
ID_TA_ECDSA_SHA_256 = "0.4.0.127.0.7.2.2.2.2.3"
ID_TA_ECDSA_SHA_384 = "0.4.0.127.0.7.2.2.2.2.4"
ID_TA_ECDSA_SHA_512 = "0.4.0.127.0.7.2.2.2.2.5"

ID_CA = "0.4.0.127.0.7.2.2.3"
ID_CA_DH = "0.4.0.127.0.7.2.2.3.1"
ID_CA_DH_3DES_CBC_CBC = "0.4.0.127.0.7.2.2.3.1.1"
ID_CA_DH_AES_CBC_CMAC_128 = "0.4.0.127.0.7.2.2.3.1.2"
ID_CA_DH_AES_CBC_CMAC_192 = "0.4.0.127.0.7.2.2.3.1.3"
ID_CA_DH_AES_CBC_CMAC_256 = "0.4.0.127.0.7.2.2.3.1.4"
ID_CA_ECDH = "0.4.0.127.0.7.2.2.3.2"
ID_CA_ECDH_3DES_CBC_CBC = "0.4.0.127.0.7.2.2.3.2.1"
ID_CA_ECDH_AES_CBC_CMAC_128 = "0.4.0.127.0.7.2.2.3.2.2"
ID_CA_ECDH_AES_CBC_CMAC_192 = "0.4.0.127.0.7.2.2.3.2.3"
ID_CA_ECDH_AES_CBC_CMAC_256 = "0.4.0.127.0.7.2.2.3.2.4"

ID_PACE = "0.4.0.127.0.7.2.2.4"
ID_PACE_DH_GM = "0.4.0.127.0.7.2.2.4.1"
ID_PACE_DH_GM_3DES_CBC_CBC = "0.4.0.127.0.7.2.2.4.1.1"
ID_PACE_DH_GM_AES_CBC_CMAC_128 = "0.4.0.127.0.7.2.2.4.1.2"
ID_PACE_DH_GM_AES_CBC_CMAC_192 = "0.4.0.127.0.7.2.2.4.1.3"
ID_PACE_DH_GM_AES_CBC_CMAC_256 = "0.4.0.127.0.7.2.2.4.1.4"
ID_PACE_ECDH_GM = "0.4.0.127.0.7.2.2.4.2"
ID_PACE_ECDH_GM_3DES_CBC_CBC = "0.4.0.127.0.7.2.2.4.2.1"
ID_PACE_ECDH_GM_AES_CBC_CMAC_128 = "0.4.0.127.0.7.2.2.4.2.2"
ID_PACE_ECDH_GM_AES_CBC_CMAC_192 = "0.4.0.127.0.7.2.2.4.2.3"
ID_PACE_ECDH_GM_AES_CBC_CMAC_256 = "0.4.0.127.0.7.2.2.4.2.4"
ID_PACE_DH_IM = "0.4.0.127.0.7.2.2.4.3"
ID_PACE_DH_IM_3DES_CBC_CBC = "0.4.0.127.0.7.2.2.4.3.1"
ID_PACE_DH_IM_AES_CBC_CMAC_128 = "0.4.0.127.0.7.2.2.4.3.2"
ID_PACE_DH_IM_AES_CBC_CMAC_192 = "0.4.0.127.0.7.2.2.4.3.3"
ID_PACE_DH_IM_AES_CBC_CMAC_256 = "0.4.0.127.0.7.2.2.4.3.4"
ID_PACE_ECDH_IM = "0.4.0.127.0.7.2.2.4.4"
ID_PACE_ECDH_IM_3DES_CBC_CBC = "0.4.0.127.0.7.2.2.4.4.1"
ID_PACE_ECDH_IM_AES_CBC_CMAC_128 = "0.4.0.127.0.7.2.2.4.4.2"
ID_PACE_ECDH_IM_AES_CBC_CMAC_192 = "0.4.0.127.0.7.2.2.4.4.3"
ID_PACE_ECDH_IM_AES_CBC_CMAC_256 = "0.4.0.127.0.7.2.2.4.4.4"
# Chip authentication mapping exists only with AES (9303-11 §9.2.1 / TR-03110-3 A.1.1.1).
ID_PACE_ECDH_CAM = "0.4.0.127.0.7.2.2.4.6"
ID_PACE_ECDH_CAM_AES_CBC_CMAC_128 = "0.4.0.127.0.7.2.2.4.6.2"
ID_PACE_ECDH_CAM_AES_CBC_CMAC_192 = "0.4.0.127.0.7.2.2.4.6.3"
ID_PACE_ECDH_CAM_AES_CBC_CMAC_256 = "0.4.0.127.0.7.2.2.4.6.4"

ID_RI = "0.4.0.127.0.7.2.2.5"
ID_CI = "0.4.0.127.0.7.2.2.6"
ID_EID_SECURITY = "0.4.0.127.0.7.2.2.7"
ID_PT = "0.4.0.127.0.7.2.2.8"

# TR-03110-3 A.7.5 / C.4 (bsi-de applications(3) mrtd(1)): the terminal types a CHAT names, and
# C.3 the certificate extensions of CV certificates.
ID_ROLES = "0.4.0.127.0.7.3.1.2"
ID_IS = "0.4.0.127.0.7.3.1.2.1"
ID_AT = "0.4.0.127.0.7.3.1.2.2"
ID_ST = "0.4.0.127.0.7.3.1.2.3"
ID_EXTENSIONS = "0.4.0.127.0.7.3.1.3"
ID_DESCRIPTION = "0.4.0.127.0.7.3.1.3.1"
ID_SECTOR = "0.4.0.127.0.7.3.1.3.2"

# BSI TR-03111 §5.2.1: ECDSA signatures as plain r‖s rather than a DER SEQUENCE.
ECDSA_PLAIN_SIGNATURES = "0.4.0.127.0.7.1.1.4.1"
ECDSA_PLAIN_SHA1 = "0.4.0.127.0.7.1.1.4.1.1"
ECDSA_PLAIN_SHA224 = "0.4.0.127.0.7.1.1.4.1.2"
ECDSA_PLAIN_SHA256 = "0.4.0.127.0.7.1.1.4.1.3"
ECDSA_PLAIN_SHA384 = "0.4.0.127.0.7.1.1.4.1.4"
ECDSA_PLAIN_SHA512 = "0.4.0.127.0.7.1.1.4.1.5"
ECDSA_PLAIN_RIPEMD160 = "0.4.0.127.0.7.1.1.4.1.6"

# --- Hash algorithms (RFC 3279, RFC 5754) ----------------------------------------------------

SHA1 = "1.3.14.3.2.26"
SHA224 = "2.16.840.1.101.3.4.2.4"
SHA256 = "2.16.840.1.101.3.4.2.1"
SHA384 = "2.16.840.1.101.3.4.2.2"
SHA512 = "2.16.840.1.101.3.4.2.3"

# --- Public keys and signatures (RFC 8017, RFC 4055, RFC 5480, RFC 5758, X9.42) --------------

RSA_ENCRYPTION = "1.2.840.113549.1.1.1"
SHA1_WITH_RSA = "1.2.840.113549.1.1.5"
MGF1 = "1.2.840.113549.1.1.8"
RSASSA_PSS = "1.2.840.113549.1.1.10"
SHA256_WITH_RSA = "1.2.840.113549.1.1.11"
SHA384_WITH_RSA = "1.2.840.113549.1.1.12"
SHA512_WITH_RSA = "1.2.840.113549.1.1.13"
SHA224_WITH_RSA = "1.2.840.113549.1.1.14"
EC_PUBLIC_KEY = "1.2.840.10045.2.1"
PRIME_FIELD = "1.2.840.10045.1.1"
ECDSA_WITH_SHA1 = "1.2.840.10045.4.1"
ECDSA_WITH_SHA224 = "1.2.840.10045.4.3.1"
ECDSA_WITH_SHA256 = "1.2.840.10045.4.3.2"
ECDSA_WITH_SHA384 = "1.2.840.10045.4.3.3"
ECDSA_WITH_SHA512 = "1.2.840.10045.4.3.4"
DH_PUBLIC_NUMBER = "1.2.840.10046.2.1"

# --- Named curves (SEC 2 / RFC 5480, RFC 5639) ------------------------------------------------

SECP192R1 = "1.2.840.10045.3.1.1"
SECP224R1 = "1.3.132.0.33"
SECP256R1 = "1.2.840.10045.3.1.7"
SECP384R1 = "1.3.132.0.34"
SECP521R1 = "1.3.132.0.35"
BRAINPOOL_P160R1 = "1.3.36.3.3.2.8.1.1.1"
BRAINPOOL_P192R1 = "1.3.36.3.3.2.8.1.1.3"
BRAINPOOL_P224R1 = "1.3.36.3.3.2.8.1.1.5"
BRAINPOOL_P256R1 = "1.3.36.3.3.2.8.1.1.7"
BRAINPOOL_P320R1 = "1.3.36.3.3.2.8.1.1.9"
BRAINPOOL_P384R1 = "1.3.36.3.3.2.8.1.1.11"
BRAINPOOL_P512R1 = "1.3.36.3.3.2.8.1.1.13"

# --- X.509 certificate extensions (RFC 5280 §4.2: id-ce 2.5.29) and key purposes -------------

ID_CE_SUBJECT_DIRECTORY_ATTRIBUTES = "2.5.29.9"
ID_CE_SUBJECT_KEY_IDENTIFIER = "2.5.29.14"
ID_CE_KEY_USAGE = "2.5.29.15"
ID_CE_PRIVATE_KEY_USAGE_PERIOD = "2.5.29.16"
ID_CE_SUBJECT_ALT_NAME = "2.5.29.17"
ID_CE_ISSUER_ALT_NAME = "2.5.29.18"
ID_CE_BASIC_CONSTRAINTS = "2.5.29.19"
ID_CE_NAME_CONSTRAINTS = "2.5.29.30"
ID_CE_CRL_DISTRIBUTION_POINTS = "2.5.29.31"
ID_CE_CERTIFICATE_POLICIES = "2.5.29.32"
ID_CE_POLICY_MAPPINGS = "2.5.29.33"
ID_CE_AUTHORITY_KEY_IDENTIFIER = "2.5.29.35"
ID_CE_POLICY_CONSTRAINTS = "2.5.29.36"
ID_CE_EXT_KEY_USAGE = "2.5.29.37"
ANY_EXTENDED_KEY_USAGE = "2.5.29.37.0"
ID_CE_FRESHEST_CRL = "2.5.29.46"
ID_CE_INHIBIT_ANY_POLICY = "2.5.29.54"
NETSCAPE_CERT_TYPE = "2.16.840.1.113730.1.1"

# --- CMS (RFC 5652) ---------------------------------------------------------------------------

CMS_DATA = "1.2.840.113549.1.7.1"
CMS_SIGNED_DATA = "1.2.840.113549.1.7.2"
CMS_CONTENT_TYPE = "1.2.840.113549.1.9.3"
CMS_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
CMS_SIGNING_TIME = "1.2.840.113549.1.9.5"


def _spec_name(constant: str) -> str:
    """``ID_PACE_ECDH_GM_AES_CBC_CMAC_128`` → ``id-PACE-ECDH-GM-AES-CBC-CMAC-128``."""
    parts = constant.split("_")
    out: list[str] = []
    for part in parts:
        out.append("id" if part == "ID" else "v1" if part == "V1" else part)
    return "-".join(out)


# Names as the specifications spell them, where the mechanical spelling differs.
_SPELLING: dict[str, str] = {
    LDS_SECURITY_OBJECT: "id-icao-mrtd-security-ldsSecurityObject",
    CSCA_MASTER_LIST: "id-icao-mrtd-security-cscaMasterList",
    CSCA_MASTER_LIST_SIGNING_KEY: "id-icao-mrtd-security-cscaMasterListSigningKey",
    DOCUMENT_TYPE_LIST: "id-icao-mrtd-security-documentTypeList",
    AA_PROTOCOL_OBJECT: "id-icao-mrtd-security-aaProtocolObject",
    ICAO_EXTENSIONS: "id-icao-mrtd-security-extensions",
    ICAO_EXTENSIONS_NAME_CHANGE: "id-icao-mrtd-security-extensions-nameChange",
    ICAO_EXTENSIONS_DOCUMENT_TYPE_LIST: "id-icao-mrtd-security-extensions-documentTypeList",
    DEVIATION_LIST: "id-icao-mrtd-security-deviationList",
    DEVIATION_LIST_SIGNING_KEY: "id-icao-mrtd-security-deviationListSigningKey",
    ID_ICAO_MRTD_SECURITY: "id-icao-mrtd-security",
    BSI_DE: "bsi-de",
    STANDARDIZED_DOMAIN_PARAMETERS: "standardizedDomainParameters",
    ECDSA_PLAIN_SIGNATURES: "ecdsa-plain-signatures",
    ECDSA_PLAIN_SHA1: "ecdsa-plain-SHA1",
    ECDSA_PLAIN_SHA224: "ecdsa-plain-SHA224",
    ECDSA_PLAIN_SHA256: "ecdsa-plain-SHA256",
    ECDSA_PLAIN_SHA384: "ecdsa-plain-SHA384",
    ECDSA_PLAIN_SHA512: "ecdsa-plain-SHA512",
    ECDSA_PLAIN_RIPEMD160: "ecdsa-plain-RIPEMD160",
    ID_EID_SECURITY: "id-eIDSecurity",
    ID_ROLES: "id-roles",
    ID_EXTENSIONS: "id-extensions",
    ID_DESCRIPTION: "id-description",
    ID_SECTOR: "id-sector",
    SHA1: "sha1",
    SHA224: "sha224",
    SHA256: "sha256",
    SHA384: "sha384",
    SHA512: "sha512",
    RSA_ENCRYPTION: "rsaEncryption",
    SHA1_WITH_RSA: "sha1WithRSAEncryption",
    MGF1: "id-mgf1",
    RSASSA_PSS: "id-RSASSA-PSS",
    SHA256_WITH_RSA: "sha256WithRSAEncryption",
    SHA384_WITH_RSA: "sha384WithRSAEncryption",
    SHA512_WITH_RSA: "sha512WithRSAEncryption",
    SHA224_WITH_RSA: "sha224WithRSAEncryption",
    EC_PUBLIC_KEY: "id-ecPublicKey",
    PRIME_FIELD: "prime-field",
    ECDSA_WITH_SHA1: "ecdsa-with-SHA1",
    ECDSA_WITH_SHA224: "ecdsa-with-SHA224",
    ECDSA_WITH_SHA256: "ecdsa-with-SHA256",
    ECDSA_WITH_SHA384: "ecdsa-with-SHA384",
    ECDSA_WITH_SHA512: "ecdsa-with-SHA512",
    DH_PUBLIC_NUMBER: "dhpublicnumber",
    SECP192R1: "secp192r1",
    SECP224R1: "secp224r1",
    SECP256R1: "secp256r1",
    SECP384R1: "secp384r1",
    SECP521R1: "secp521r1",
    BRAINPOOL_P160R1: "brainpoolP160r1",
    BRAINPOOL_P192R1: "brainpoolP192r1",
    BRAINPOOL_P224R1: "brainpoolP224r1",
    BRAINPOOL_P256R1: "brainpoolP256r1",
    BRAINPOOL_P320R1: "brainpoolP320r1",
    BRAINPOOL_P384R1: "brainpoolP384r1",
    BRAINPOOL_P512R1: "brainpoolP512r1",
    ID_CE_SUBJECT_DIRECTORY_ATTRIBUTES: "id-ce-subjectDirectoryAttributes",
    ID_CE_SUBJECT_KEY_IDENTIFIER: "id-ce-subjectKeyIdentifier",
    ID_CE_KEY_USAGE: "id-ce-keyUsage",
    ID_CE_PRIVATE_KEY_USAGE_PERIOD: "id-ce-privateKeyUsagePeriod",
    ID_CE_SUBJECT_ALT_NAME: "id-ce-subjectAltName",
    ID_CE_ISSUER_ALT_NAME: "id-ce-issuerAltName",
    ID_CE_BASIC_CONSTRAINTS: "id-ce-basicConstraints",
    ID_CE_NAME_CONSTRAINTS: "id-ce-nameConstraints",
    ID_CE_CRL_DISTRIBUTION_POINTS: "id-ce-cRLDistributionPoints",
    ID_CE_CERTIFICATE_POLICIES: "id-ce-certificatePolicies",
    ID_CE_POLICY_MAPPINGS: "id-ce-policyMappings",
    ID_CE_AUTHORITY_KEY_IDENTIFIER: "id-ce-authorityKeyIdentifier",
    ID_CE_POLICY_CONSTRAINTS: "id-ce-policyConstraints",
    ID_CE_EXT_KEY_USAGE: "id-ce-extKeyUsage",
    ANY_EXTENDED_KEY_USAGE: "anyExtendedKeyUsage",
    ID_CE_FRESHEST_CRL: "id-ce-freshestCRL",
    ID_CE_INHIBIT_ANY_POLICY: "id-ce-inhibitAnyPolicy",
    NETSCAPE_CERT_TYPE: "netscape-cert-type",
    CMS_DATA: "id-data",
    CMS_SIGNED_DATA: "id-signedData",
    CMS_CONTENT_TYPE: "id-contentType",
    CMS_MESSAGE_DIGEST: "id-messageDigest",
    CMS_SIGNING_TIME: "id-signingTime",
}


def _build_table() -> dict[str, str]:
    table: dict[str, str] = {}
    for constant, value in list(globals().items()):
        if not constant.isupper() or not isinstance(value, str) or constant.startswith("_"):
            continue
        if not value[:1].isdigit():
            continue
        table[value] = _SPELLING.get(value, _spec_name(constant))
    return table


#: dotted OID → the name the specification gives it. The one table: look names up here.
NAMES: Mapping[str, str] = MappingProxyType(_build_table())
#: name → dotted OID.
BY_NAME: Mapping[str, str] = MappingProxyType({v: k for k, v in NAMES.items()})


def name_of(oid: str) -> str:
    """The specification's name for ``oid``, or the dotted form itself when unknown."""
    return NAMES.get(oid, oid)


def by_name(name: str) -> str:
    """The dotted OID named ``name`` (e.g. ``id-PACE-ECDH-GM-AES-CBC-CMAC-128``)."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown OID name {name!r}") from None


#: Hash algorithm OID → the name used across cardkit (and by ``hashlib``/``cryptography``).
HASH_NAMES: Mapping[str, str] = MappingProxyType(
    {SHA1: "sha1", SHA224: "sha224", SHA256: "sha256", SHA384: "sha384", SHA512: "sha512"}
)
HASH_OIDS: Mapping[str, str] = MappingProxyType({v: k for k, v in HASH_NAMES.items()})


# --- DER encoding of an OBJECT IDENTIFIER (X.690 §8.19) --------------------------------------


def _check_dotted(oid: str) -> list[int]:
    parts = oid.split(".")
    if len(parts) < 2 or not all(p.isdigit() and p.isascii() for p in parts):
        raise ValueError(f"not a dotted OID: {oid!r}")
    arcs = [int(p) for p in parts]
    if arcs[0] > 2 or (arcs[0] < 2 and arcs[1] > 39):
        raise ValueError(f"not a valid OID: {oid!r} (X.690 §8.19.4)")
    return arcs


def _base128(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def der_content(oid: str) -> bytes:
    """The content octets of ``oid`` (without the ``06`` tag and length)."""
    arcs = _check_dotted(oid)
    return _base128(arcs[0] * 40 + arcs[1]) + b"".join(_base128(a) for a in arcs[2:])


def der(oid: str) -> bytes:
    """The full DER ``06 LL ...`` encoding of ``oid``."""
    content = der_content(oid)
    if len(content) > 127:
        raise ValueError("OID too long for this encoder")
    return bytes([0x06, len(content)]) + content


def from_der(data: bytes) -> str:
    """Decode a full DER OBJECT IDENTIFIER (``06 LL ...``) to its dotted form."""
    if len(data) < 2 or data[0] != 0x06:
        raise EncodingError("an OBJECT IDENTIFIER starts with tag 06", offset=0)
    if data[1] & 0x80 or data[1] != len(data) - 2 or data[1] == 0:
        raise EncodingError("OBJECT IDENTIFIER length does not match its content", offset=1)
    content = data[2:]
    if content[-1] & 0x80:
        raise EncodingError("OBJECT IDENTIFIER ends inside an arc", offset=len(data) - 1)
    arcs: list[int] = []
    value = 0
    fresh = True
    for i, b in enumerate(content, start=2):
        if fresh and b == 0x80:
            # X.690 §8.19.2: an arc is encoded in the fewest octets; a leading 80 is not DER.
            raise EncodingError("OBJECT IDENTIFIER arc has a leading 80 octet", offset=i)
        value = (value << 7) | (b & 0x7F)
        fresh = not b & 0x80
        if fresh:
            arcs.append(value)
            value = 0
    first = arcs[0]
    head = [0, first] if first < 40 else [1, first - 40] if first < 80 else [2, first - 80]
    return ".".join(str(a) for a in head + arcs[1:])


# --- Standardized domain parameters (TR-03110-3 Table 4, 9303-11 §9.5.1) ---------------------


@dataclass(frozen=True)
class DomainParameters:
    """One standardized domain parameter set, referenced by ``parameterId`` in PACEInfo."""

    parameter_id: int
    kind: Literal["DH", "ECDH"]
    name: str
    curve_oid: str | None  # the named-curve OID for ECDH, None for the DH groups
    bits: int  # the size of the prime p (modulus or field)


_DOMAIN_PARAMETERS = (
    DomainParameters(0, "DH", "1024-bit MODP Group with 160-bit Prime Order Subgroup", None, 1024),
    DomainParameters(1, "DH", "2048-bit MODP Group with 224-bit Prime Order Subgroup", None, 2048),
    DomainParameters(2, "DH", "2048-bit MODP Group with 256-bit Prime Order Subgroup", None, 2048),
    DomainParameters(8, "ECDH", "NIST P-192 (secp192r1)", SECP192R1, 192),
    DomainParameters(9, "ECDH", "brainpoolP192r1", BRAINPOOL_P192R1, 192),
    DomainParameters(10, "ECDH", "NIST P-224 (secp224r1)", SECP224R1, 224),
    DomainParameters(11, "ECDH", "brainpoolP224r1", BRAINPOOL_P224R1, 224),
    DomainParameters(12, "ECDH", "NIST P-256 (secp256r1)", SECP256R1, 256),
    DomainParameters(13, "ECDH", "brainpoolP256r1", BRAINPOOL_P256R1, 256),
    DomainParameters(14, "ECDH", "brainpoolP320r1", BRAINPOOL_P320R1, 320),
    DomainParameters(15, "ECDH", "NIST P-384 (secp384r1)", SECP384R1, 384),
    DomainParameters(16, "ECDH", "brainpoolP384r1", BRAINPOOL_P384R1, 384),
    DomainParameters(17, "ECDH", "brainpoolP512r1", BRAINPOOL_P512R1, 512),
    DomainParameters(18, "ECDH", "NIST P-521 (secp521r1)", SECP521R1, 521),
)
#: parameterId → its domain parameters; 3–7 and 19–31 are reserved for future use.
STANDARDIZED_DOMAIN_PARAMETER_IDS: Mapping[int, DomainParameters] = MappingProxyType(
    {d.parameter_id: d for d in _DOMAIN_PARAMETERS}
)


def domain_parameters(parameter_id: int) -> DomainParameters:
    """The standardized domain parameters with ``parameter_id`` (9303-11 §9.5.1)."""
    try:
        return STANDARDIZED_DOMAIN_PARAMETER_IDS[parameter_id]
    except KeyError:
        raise ValueError(
            f"standardized domain parameter ID {parameter_id} is reserved or unknown "
            "(9303-11 §9.5.1: 0-2 DH, 8-18 ECDH)"
        ) from None


# --- What a PACE or CA protocol OID means ----------------------------------------------------

Cipher = Literal["3DES", "AES"]
_CIPHER_SUFFIX: dict[int, tuple[Cipher, int]] = {
    # last arc → (cipher, session key length in bytes); 3DES is two-key 3DES (112-bit).
    1: ("3DES", 16),
    2: ("AES", 16),
    3: ("AES", 24),
    4: ("AES", 32),
}


@dataclass(frozen=True)
class PaceAlgorithm:
    """The PACE variant a protocol OID names (9303-11 §9.2.1 Table 5, TR-03110-3 A.1.1.1)."""

    oid: str
    key_agreement: Literal["DH", "ECDH"]
    mapping: Literal["GM", "IM", "CAM"]
    cipher: Cipher
    key_length: int  # session key length in bytes (16 for 3DES, 16/24/32 for AES)

    @classmethod
    def from_oid(cls, oid: str) -> PaceAlgorithm:
        """Decode ``oid``; ValueError when it is not a concrete id-PACE-* algorithm."""
        prefix, _, last = oid.rpartition(".")
        family: dict[str, tuple[Literal["DH", "ECDH"], Literal["GM", "IM", "CAM"]]] = {
            ID_PACE_DH_GM: ("DH", "GM"),
            ID_PACE_ECDH_GM: ("ECDH", "GM"),
            ID_PACE_DH_IM: ("DH", "IM"),
            ID_PACE_ECDH_IM: ("ECDH", "IM"),
            ID_PACE_ECDH_CAM: ("ECDH", "CAM"),
        }
        if prefix not in family or oid not in NAMES:
            raise ValueError(f"{oid} is not a PACE algorithm OID (9303-11 §9.2.1)")
        agreement, mapping = family[prefix]
        cipher, key_length = _CIPHER_SUFFIX[int(last)]
        return cls(oid, agreement, mapping, cipher, key_length)

    @property
    def name(self) -> str:
        return name_of(self.oid)


@dataclass(frozen=True)
class CaAlgorithm:
    """The chip-authentication variant a protocol OID names (9303-11 §9.2.5, TR-03110-3 A.1.1.2)."""

    oid: str
    key_agreement: Literal["DH", "ECDH"]
    cipher: Cipher
    key_length: int  # session key length in bytes

    @classmethod
    def from_oid(cls, oid: str) -> CaAlgorithm:
        prefix, _, last = oid.rpartition(".")
        family: dict[str, Literal["DH", "ECDH"]] = {ID_CA_DH: "DH", ID_CA_ECDH: "ECDH"}
        if prefix not in family or oid not in NAMES:
            raise ValueError(f"{oid} is not a chip authentication algorithm OID (9303-11 §9.2.5)")
        cipher, key_length = _CIPHER_SUFFIX[int(last)]
        return cls(oid, family[prefix], cipher, key_length)

    @property
    def name(self) -> str:
        return name_of(self.oid)


def is_pace_protocol(oid: str) -> bool:
    """Whether ``oid`` is a concrete id-PACE-* algorithm (PACEInfo.protocol)."""
    try:
        PaceAlgorithm.from_oid(oid)
    except ValueError:
        return False
    return True


def is_ca_protocol(oid: str) -> bool:
    """Whether ``oid`` is a concrete id-CA-* algorithm (ChipAuthenticationInfo.protocol)."""
    try:
        CaAlgorithm.from_oid(oid)
    except ValueError:
        return False
    return True
