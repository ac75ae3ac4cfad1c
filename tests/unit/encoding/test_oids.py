"""The OID table against DER bytes printed in the specifications, and the PACE/CA decoders."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cardkit.encoding import oids
from cardkit.errors import EncodingError

_BSI = "04 00 7F 00 07"  # bsi-de 0.4.0.127.0.7 (TR-03110-3 A.1, printed in 9303-11 App. G)
_ICAO = "67 81 08 01 01"  # id-icao-mrtd-security 2.23.136.1.1 (9303-10 §4.6.2)
_RSA = "2A 86 48 86 F7 0D 01 01"  # pkcs-1 1.2.840.113549.1.1 (RFC 8017 App. C)
_X962 = "2A 86 48 CE 3D"  # ansi-X9-62 1.2.840.10045 (RFC 5480, RFC 5758)
_NIST_HASH = "60 86 48 01 65 03 04 02"  # 2.16.840.1.101.3.4.2 (RFC 5754 §2)
_BP = "2B 24 03 03 02 08 01 01"  # ecStdCurvesAndGeneration 1.3.36.3.3.2.8.1.1 (RFC 5639 App. A)
_CMS = "2A 86 48 86 F7 0D 01"  # pkcs 1.2.840.113549.1 (RFC 5652 §12)
_CE = "55 1D"  # id-ce 2.5.29 (RFC 5280 §4.2; printed in every certificate: 06 03 55 1D 0F keyUsage)

# Content octets of every OID in the table, written out by hand from the specifications'
# printed encodings (prefixes above, final arcs from the ASN.1 modules).
EXPECTED_DER_CONTENT: dict[str, str] = {
    oids.ID_ICAO_MRTD_SECURITY: _ICAO,
    oids.LDS_SECURITY_OBJECT: _ICAO + " 01",  # printed in every EF.SOD: 06 06 67 81 08 01 01 01
    oids.CSCA_MASTER_LIST: _ICAO + " 02",
    oids.CSCA_MASTER_LIST_SIGNING_KEY: _ICAO + " 03",
    oids.DOCUMENT_TYPE_LIST: _ICAO + " 04",
    oids.AA_PROTOCOL_OBJECT: _ICAO + " 05",
    oids.ICAO_EXTENSIONS: _ICAO + " 06",
    oids.ICAO_EXTENSIONS_NAME_CHANGE: _ICAO + " 06 01",
    oids.ICAO_EXTENSIONS_DOCUMENT_TYPE_LIST: _ICAO + " 06 02",
    oids.DEVIATION_LIST: _ICAO + " 07",
    oids.DEVIATION_LIST_SIGNING_KEY: _ICAO + " 08",
    oids.BSI_DE: _BSI,
    oids.STANDARDIZED_DOMAIN_PARAMETERS: _BSI + " 01 02",
    oids.ID_PK: _BSI + " 02 02 01",
    oids.ID_PK_DH: _BSI + " 02 02 01 01",
    oids.ID_PK_ECDH: _BSI + " 02 02 01 02",  # printed in the TR-03105-5 DG14
    oids.ID_TA: _BSI + " 02 02 02",  # printed in the TR-03105-5 DG14: 06 08 04007F00 07020202
    oids.ID_TA_RSA: _BSI + " 02 02 02 01",
    oids.ID_TA_RSA_V1_5_SHA_1: _BSI + " 02 02 02 01 01",
    oids.ID_TA_RSA_V1_5_SHA_256: _BSI + " 02 02 02 01 02",
    oids.ID_TA_RSA_PSS_SHA_1: _BSI + " 02 02 02 01 03",
    oids.ID_TA_RSA_PSS_SHA_256: _BSI + " 02 02 02 01 04",
    oids.ID_TA_RSA_V1_5_SHA_512: _BSI + " 02 02 02 01 05",
    oids.ID_TA_RSA_PSS_SHA_512: _BSI + " 02 02 02 01 06",
    oids.ID_TA_ECDSA: _BSI + " 02 02 02 02",
    oids.ID_TA_ECDSA_SHA_1: _BSI + " 02 02 02 02 01",
    oids.ID_TA_ECDSA_SHA_224: _BSI + " 02 02 02 02 02",
    oids.ID_TA_ECDSA_SHA_256: _BSI + " 02 02 02 02 03",
    oids.ID_TA_ECDSA_SHA_384: _BSI + " 02 02 02 02 04",
    oids.ID_TA_ECDSA_SHA_512: _BSI + " 02 02 02 02 05",
    oids.ID_CA: _BSI + " 02 02 03",
    oids.ID_CA_DH: _BSI + " 02 02 03 01",
    oids.ID_CA_DH_3DES_CBC_CBC: _BSI + " 02 02 03 01 01",
    oids.ID_CA_DH_AES_CBC_CMAC_128: _BSI + " 02 02 03 01 02",
    oids.ID_CA_DH_AES_CBC_CMAC_192: _BSI + " 02 02 03 01 03",
    oids.ID_CA_DH_AES_CBC_CMAC_256: _BSI + " 02 02 03 01 04",
    oids.ID_CA_ECDH: _BSI + " 02 02 03 02",
    oids.ID_CA_ECDH_3DES_CBC_CBC: _BSI + " 02 02 03 02 01",  # printed in the TR-03105-5 DG14
    oids.ID_CA_ECDH_AES_CBC_CMAC_128: _BSI + " 02 02 03 02 02",
    oids.ID_CA_ECDH_AES_CBC_CMAC_192: _BSI + " 02 02 03 02 03",
    oids.ID_CA_ECDH_AES_CBC_CMAC_256: _BSI + " 02 02 03 02 04",
    oids.ID_PACE: _BSI + " 02 02 04",
    oids.ID_PACE_DH_GM: _BSI + " 02 02 04 01",
    oids.ID_PACE_DH_GM_3DES_CBC_CBC: _BSI + " 02 02 04 01 01",
    oids.ID_PACE_DH_GM_AES_CBC_CMAC_128: _BSI + " 02 02 04 01 02",  # 9303-11 App. G.2
    oids.ID_PACE_DH_GM_AES_CBC_CMAC_192: _BSI + " 02 02 04 01 03",
    oids.ID_PACE_DH_GM_AES_CBC_CMAC_256: _BSI + " 02 02 04 01 04",
    oids.ID_PACE_ECDH_GM: _BSI + " 02 02 04 02",
    oids.ID_PACE_ECDH_GM_3DES_CBC_CBC: _BSI + " 02 02 04 02 01",
    oids.ID_PACE_ECDH_GM_AES_CBC_CMAC_128: _BSI + " 02 02 04 02 02",  # 9303-11 App. G.1
    oids.ID_PACE_ECDH_GM_AES_CBC_CMAC_192: _BSI + " 02 02 04 02 03",
    oids.ID_PACE_ECDH_GM_AES_CBC_CMAC_256: _BSI + " 02 02 04 02 04",
    oids.ID_PACE_DH_IM: _BSI + " 02 02 04 03",
    oids.ID_PACE_DH_IM_3DES_CBC_CBC: _BSI + " 02 02 04 03 01",
    oids.ID_PACE_DH_IM_AES_CBC_CMAC_128: _BSI + " 02 02 04 03 02",
    oids.ID_PACE_DH_IM_AES_CBC_CMAC_192: _BSI + " 02 02 04 03 03",
    oids.ID_PACE_DH_IM_AES_CBC_CMAC_256: _BSI + " 02 02 04 03 04",
    oids.ID_PACE_ECDH_IM: _BSI + " 02 02 04 04",
    oids.ID_PACE_ECDH_IM_3DES_CBC_CBC: _BSI + " 02 02 04 04 01",
    oids.ID_PACE_ECDH_IM_AES_CBC_CMAC_128: _BSI + " 02 02 04 04 02",
    oids.ID_PACE_ECDH_IM_AES_CBC_CMAC_192: _BSI + " 02 02 04 04 03",
    oids.ID_PACE_ECDH_IM_AES_CBC_CMAC_256: _BSI + " 02 02 04 04 04",
    oids.ID_PACE_ECDH_CAM: _BSI + " 02 02 04 06",
    oids.ID_PACE_ECDH_CAM_AES_CBC_CMAC_128: _BSI + " 02 02 04 06 02",
    oids.ID_PACE_ECDH_CAM_AES_CBC_CMAC_192: _BSI + " 02 02 04 06 03",
    oids.ID_PACE_ECDH_CAM_AES_CBC_CMAC_256: _BSI + " 02 02 04 06 04",
    oids.ID_RI: _BSI + " 02 02 05",
    oids.ID_CI: _BSI + " 02 02 06",  # printed in the nPA EF.CardAccess
    oids.ID_EID_SECURITY: _BSI + " 02 02 07",
    oids.ID_PT: _BSI + " 02 02 08",
    oids.ID_ROLES: _BSI + " 03 01 02",
    oids.ID_IS: _BSI + " 03 01 02 01",  # in every eMRTD CHAT: 7F4C0E 06 09 04007F0007030102 01
    oids.ID_AT: _BSI + " 03 01 02 02",
    oids.ID_ST: _BSI + " 03 01 02 03",
    oids.ID_EXTENSIONS: _BSI + " 03 01 03",
    oids.ID_DESCRIPTION: _BSI + " 03 01 03 01",
    oids.ID_SECTOR: _BSI + " 03 01 03 02",
    oids.ECDSA_PLAIN_SIGNATURES: _BSI + " 01 01 04 01",  # TR-03111 §5.2.1
    oids.ECDSA_PLAIN_SHA1: _BSI + " 01 01 04 01 01",
    oids.ECDSA_PLAIN_SHA224: _BSI + " 01 01 04 01 02",
    oids.ECDSA_PLAIN_SHA256: _BSI + " 01 01 04 01 03",
    oids.ECDSA_PLAIN_SHA384: _BSI + " 01 01 04 01 04",
    oids.ECDSA_PLAIN_SHA512: _BSI + " 01 01 04 01 05",
    oids.ECDSA_PLAIN_RIPEMD160: _BSI + " 01 01 04 01 06",
    oids.SHA1: "2B 0E 03 02 1A",  # RFC 3279 §2.2.1
    oids.SHA224: _NIST_HASH + " 04",
    oids.SHA256: _NIST_HASH + " 01",  # printed in every SHA-256 EF.SOD
    oids.SHA384: _NIST_HASH + " 02",
    oids.SHA512: _NIST_HASH + " 03",
    oids.RSA_ENCRYPTION: _RSA + " 01",
    oids.SHA1_WITH_RSA: _RSA + " 05",
    oids.MGF1: _RSA + " 08",
    oids.RSASSA_PSS: _RSA + " 0A",
    oids.SHA256_WITH_RSA: _RSA + " 0B",
    oids.SHA384_WITH_RSA: _RSA + " 0C",
    oids.SHA512_WITH_RSA: _RSA + " 0D",
    oids.SHA224_WITH_RSA: _RSA + " 0E",
    oids.EC_PUBLIC_KEY: _X962 + " 02 01",
    oids.PRIME_FIELD: _X962 + " 01 01",
    oids.ECDSA_WITH_SHA1: _X962 + " 04 01",
    oids.ECDSA_WITH_SHA224: _X962 + " 04 03 01",
    oids.ECDSA_WITH_SHA256: _X962 + " 04 03 02",
    oids.ECDSA_WITH_SHA384: _X962 + " 04 03 03",
    oids.ECDSA_WITH_SHA512: _X962 + " 04 03 04",
    oids.DH_PUBLIC_NUMBER: "2A 86 48 CE 3E 02 01",  # RFC 3279 §2.3.3
    oids.SECP192R1: _X962 + " 03 01 01",
    oids.SECP224R1: "2B 81 04 00 21",  # SEC 2 §A.2
    oids.SECP256R1: _X962 + " 03 01 07",
    oids.SECP384R1: "2B 81 04 00 22",
    oids.SECP521R1: "2B 81 04 00 23",
    oids.BRAINPOOL_P160R1: _BP + " 01",
    oids.BRAINPOOL_P192R1: _BP + " 03",
    oids.BRAINPOOL_P224R1: _BP + " 05",
    oids.BRAINPOOL_P256R1: _BP + " 07",
    oids.BRAINPOOL_P320R1: _BP + " 09",
    oids.BRAINPOOL_P384R1: _BP + " 0B",
    oids.BRAINPOOL_P512R1: _BP + " 0D",
    oids.ID_CE_SUBJECT_DIRECTORY_ATTRIBUTES: _CE + " 09",
    oids.ID_CE_SUBJECT_KEY_IDENTIFIER: _CE + " 0E",
    oids.ID_CE_KEY_USAGE: _CE + " 0F",
    oids.ID_CE_PRIVATE_KEY_USAGE_PERIOD: _CE + " 10",
    oids.ID_CE_SUBJECT_ALT_NAME: _CE + " 11",
    oids.ID_CE_ISSUER_ALT_NAME: _CE + " 12",
    oids.ID_CE_BASIC_CONSTRAINTS: _CE + " 13",
    oids.ID_CE_NAME_CONSTRAINTS: _CE + " 1E",
    oids.ID_CE_CRL_DISTRIBUTION_POINTS: _CE + " 1F",
    oids.ID_CE_CERTIFICATE_POLICIES: _CE + " 20",
    oids.ID_CE_POLICY_MAPPINGS: _CE + " 21",
    oids.ID_CE_AUTHORITY_KEY_IDENTIFIER: _CE + " 23",
    oids.ID_CE_POLICY_CONSTRAINTS: _CE + " 24",
    oids.ID_CE_EXT_KEY_USAGE: _CE + " 25",
    oids.ANY_EXTENDED_KEY_USAGE: _CE + " 25 00",
    oids.ID_CE_FRESHEST_CRL: _CE + " 2E",
    oids.ID_CE_INHIBIT_ANY_POLICY: _CE + " 36",
    oids.NETSCAPE_CERT_TYPE: "60 86 48 01 86 F8 42 01 01",  # Netscape certificate extensions
    oids.CMS_DATA: _CMS + " 07 01",
    oids.CMS_SIGNED_DATA: _CMS + " 07 02",
    oids.CMS_CONTENT_TYPE: _CMS + " 09 03",
    oids.CMS_MESSAGE_DIGEST: _CMS + " 09 04",
    oids.CMS_SIGNING_TIME: _CMS + " 09 05",
}


def test_every_table_entry_has_a_printed_encoding() -> None:
    assert set(oids.NAMES) == set(EXPECTED_DER_CONTENT)


@pytest.mark.parametrize(("oid", "content"), sorted(EXPECTED_DER_CONTENT.items()))
def test_oid_der_matches_printed_bytes(oid: str, content: str) -> None:
    expected = bytes.fromhex(content)
    assert oids.der_content(oid) == expected
    full = bytes([0x06, len(expected)]) + expected
    assert oids.der(oid) == full
    assert oids.from_der(full) == oid


def test_appendix_g_pace_oid_as_printed() -> None:
    # 9303-11 Appendix G.1, EF.CardAccess: "06 0A 04 00 7F 00 07 02 02 04 02 02".
    printed = bytes.fromhex("060A04007F0007020204020202")[:12]
    assert oids.der(oids.ID_PACE_ECDH_GM_AES_CBC_CMAC_128) == printed
    assert oids.name_of(oids.from_der(printed)) == "id-PACE-ECDH-GM-AES-CBC-CMAC-128"


def test_names_are_unique_and_reversible() -> None:
    assert len(set(oids.NAMES.values())) == len(oids.NAMES)
    for oid, name in oids.NAMES.items():
        assert oids.by_name(name) == oid
    assert oids.name_of("1.2.3.4") == "1.2.3.4"
    with pytest.raises(ValueError):
        oids.by_name("no-such-oid")


_arcs = st.tuples(
    st.integers(0, 2), st.integers(0, 39), st.lists(st.integers(0, 2**40), max_size=8)
)


@given(_arcs)
def test_der_round_trip(arcs: tuple[int, int, list[int]]) -> None:
    first, second, rest = arcs
    dotted = ".".join(str(a) for a in (first, second, *rest))
    assert oids.from_der(oids.der(dotted)) == dotted


@given(st.binary(max_size=40))
def test_from_der_malformed_raises_encoding_error_only(data: bytes) -> None:
    try:
        dotted = oids.from_der(data)
    except EncodingError:
        return
    assert oids.der(dotted) == data  # whatever decodes is canonical DER


def test_from_der_rejects_non_minimal_arc() -> None:
    with pytest.raises(EncodingError):
        oids.from_der(bytes.fromhex("0603 2A 80 01".replace(" ", "")))
    with pytest.raises(EncodingError):
        oids.from_der(bytes.fromhex("0602 2A 86".replace(" ", "")))


def test_bad_dotted_strings() -> None:
    for bad in ("", "1", "3.1", "1.40", "1.x.3", "1..2"):
        with pytest.raises(ValueError):
            oids.der(bad)


# --- Standardized domain parameters: 9303-11 §9.5.1 Table 6 / TR-03110-3 Table 4 --------------

SPEC_TABLE = {
    0: ("DH", None, 1024),
    1: ("DH", None, 2048),
    2: ("DH", None, 2048),
    8: ("ECDH", "secp192r1", 192),
    9: ("ECDH", "brainpoolP192r1", 192),
    10: ("ECDH", "secp224r1", 224),
    11: ("ECDH", "brainpoolP224r1", 224),
    12: ("ECDH", "secp256r1", 256),
    13: ("ECDH", "brainpoolP256r1", 256),
    14: ("ECDH", "brainpoolP320r1", 320),
    15: ("ECDH", "secp384r1", 384),
    16: ("ECDH", "brainpoolP384r1", 384),
    17: ("ECDH", "brainpoolP512r1", 512),
    18: ("ECDH", "secp521r1", 521),
}


@pytest.mark.parametrize("parameter_id", sorted(SPEC_TABLE))
def test_standardized_domain_parameters(parameter_id: int) -> None:
    kind, curve, bits = SPEC_TABLE[parameter_id]
    params = oids.domain_parameters(parameter_id)
    assert (params.kind, params.bits) == (kind, bits)
    assert (oids.name_of(params.curve_oid) if params.curve_oid else None) == curve


@pytest.mark.parametrize("reserved", [3, 4, 5, 6, 7, 19, 31, 32])
def test_reserved_domain_parameter_ids(reserved: int) -> None:
    with pytest.raises(ValueError):
        oids.domain_parameters(reserved)


# --- PaceAlgorithm / CaAlgorithm ---------------------------------------------------------------


def test_pace_algorithm_appendix_g1() -> None:
    alg = oids.PaceAlgorithm.from_oid("0.4.0.127.0.7.2.2.4.2.2")
    assert (alg.key_agreement, alg.mapping, alg.cipher, alg.key_length) == ("ECDH", "GM", "AES", 16)
    assert alg.name == "id-PACE-ECDH-GM-AES-CBC-CMAC-128"


@pytest.mark.parametrize(
    ("oid", "expected"),
    [
        (oids.ID_PACE_DH_GM_3DES_CBC_CBC, ("DH", "GM", "3DES", 16)),
        (oids.ID_PACE_DH_IM_AES_CBC_CMAC_192, ("DH", "IM", "AES", 24)),
        (oids.ID_PACE_ECDH_IM_AES_CBC_CMAC_256, ("ECDH", "IM", "AES", 32)),
        (oids.ID_PACE_ECDH_CAM_AES_CBC_CMAC_128, ("ECDH", "CAM", "AES", 16)),
        (oids.ID_PACE_ECDH_GM_3DES_CBC_CBC, ("ECDH", "GM", "3DES", 16)),
    ],
)
def test_pace_algorithm_variants(oid: str, expected: tuple[str, str, str, int]) -> None:
    alg = oids.PaceAlgorithm.from_oid(oid)
    assert (alg.key_agreement, alg.mapping, alg.cipher, alg.key_length) == expected


@pytest.mark.parametrize(
    "oid",
    [
        oids.ID_PACE,
        oids.ID_PACE_ECDH_GM,
        "0.4.0.127.0.7.2.2.4.6.1",
        oids.ID_CA_DH_3DES_CBC_CBC,
        "x",
    ],
)
def test_not_a_pace_algorithm(oid: str) -> None:
    with pytest.raises(ValueError):
        oids.PaceAlgorithm.from_oid(oid)
    assert not oids.is_pace_protocol(oid)


def test_ca_algorithm() -> None:
    alg = oids.CaAlgorithm.from_oid(oids.ID_CA_ECDH_3DES_CBC_CBC)
    assert (alg.key_agreement, alg.cipher, alg.key_length) == ("ECDH", "3DES", 16)
    alg = oids.CaAlgorithm.from_oid(oids.ID_CA_DH_AES_CBC_CMAC_256)
    assert (alg.key_agreement, alg.cipher, alg.key_length) == ("DH", "AES", 32)
    with pytest.raises(ValueError):
        oids.CaAlgorithm.from_oid(oids.ID_CA_ECDH)
    assert oids.is_ca_protocol(oids.ID_CA_ECDH_AES_CBC_CMAC_128)
    assert not oids.is_ca_protocol(oids.ID_PK_ECDH)


def test_hash_names() -> None:
    assert oids.HASH_NAMES[oids.SHA256] == "sha256"
    assert oids.HASH_OIDS["sha1"] == "1.3.14.3.2.26"
