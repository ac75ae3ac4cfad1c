"""asn1crypto specifications of the ICAO and BSI security structures, and public-key helpers.

Structures (field names in snake_case, order and optionality as in the specifications):

- ``SecurityInfos`` and its members: 9303-11 §9.2 (PACEInfo §9.2.1, PACEDomainParameterInfo
  §9.2.2, ActiveAuthenticationInfo §9.2.4 / §6.1, ChipAuthenticationInfo §9.2.5,
  ChipAuthenticationPublicKeyInfo §9.2.6, TerminalAuthenticationInfo §9.2.7) and BSI TR-03110-3
  Appendix A.1 (ChipAuthenticationDomainParameterInfo, the id-PK-* SubjectPublicKeyInfo).
- ``LDSSecurityObject`` v0 and v1 with ``LDSVersionInfo`` and ``DataGroupHash``: 9303-10 §4.6.2.2.
- CMS ``SignedData`` is asn1crypto's own :mod:`asn1crypto.cms`.

OBJECT IDENTIFIER fields carry no name map: ``.native`` and ``.dotted`` are the dotted string,
looked up in :mod:`cardkit.encoding.oids` when a name is wanted.

Public keys: passports often carry EC keys with *explicit* domain parameters (X9.62 ECParameters)
and BSI ``id-PK-ECDH`` algorithm identifiers, neither of which ``cryptography`` loads.
:func:`load_public_key` recognises the known curves (SEC 2 NIST curves, RFC 5639 Brainpool) by
comparing parameters and loads the key on the named curve; an unknown or unsupported curve is an
:class:`~cardkit.errors.EncodingError` that names the curve.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from asn1crypto import core, keys
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from cardkit.encoding import oids
from cardkit.errors import EncodingError

# --- Decoding guard --------------------------------------------------------------------------


@contextmanager
def asn1_errors(what: str) -> Iterator[None]:
    """Turn whatever asn1crypto raises on malformed input into an :class:`EncodingError`.

    asn1crypto parses lazily and signals bad input with ValueError, TypeError, KeyError,
    IndexError, OverflowError and friends; callers must only ever see EncodingError.
    """
    try:
        yield
    except EncodingError:
        raise
    except Exception as exc:  # the point is to wrap everything
        raise EncodingError(f"{what}: malformed ASN.1 ({type(exc).__name__}: {exc})") from exc


T = TypeVar("T", bound=core.Asn1Value)


def _force_parse(value: core.Asn1Value) -> None:
    """Parse every field now (asn1crypto is lazy), leaving ANY values as opaque TLVs."""
    if isinstance(value, core.Any | core.Void):
        return
    if isinstance(value, core.Sequence | core.Set):
        for name, *_ in value._fields:
            _force_parse(value[name])
    elif isinstance(value, core.SequenceOf | core.SetOf):
        for child in value:
            _force_parse(child)
    else:
        value.native  # noqa: B018 - decoding the primitive is the check


def load_strict(spec: Callable[..., T], data: bytes, what: str) -> T:
    """Load ``data`` as ``spec``, parse it fully now, and reject trailing bytes."""
    with asn1_errors(what):
        value: T = spec.load(data, strict=True)  # type: ignore[attr-defined]
        _force_parse(value)
        return value
    raise AssertionError("unreachable")  # pragma: no cover


# --- Generic building blocks -----------------------------------------------------------------


class AlgorithmIdentifier(core.Sequence):  # type: ignore[misc]
    """X.509 AlgorithmIdentifier with uninterpreted parameters (RFC 5280 §4.1.1.2)."""

    _fields = [  # noqa: RUF012 - asn1crypto's declaration style
        ("algorithm", core.ObjectIdentifier),
        ("parameters", core.Any, {"optional": True}),
    ]


class SubjectPublicKeyInfo(core.Sequence):  # type: ignore[misc]
    """SubjectPublicKeyInfo for any algorithm, BSI ``id-PK-DH``/``id-PK-ECDH`` included."""

    _fields = [  # noqa: RUF012
        ("algorithm", AlgorithmIdentifier),
        ("subject_public_key", core.OctetBitString),
    ]


# --- SecurityInfos (9303-11 §9.2, TR-03110-3 A.1) --------------------------------------------


class SecurityInfo(core.Sequence):  # type: ignore[misc]
    """``SecurityInfo ::= SEQUENCE { protocol, requiredData ANY, optionalData ANY OPTIONAL }``."""

    _fields = [  # noqa: RUF012
        ("protocol", core.ObjectIdentifier),
        ("required_data", core.Any),
        ("optional_data", core.Any, {"optional": True}),
    ]


class SecurityInfos(core.SetOf):  # type: ignore[misc]
    """``SecurityInfos ::= SET OF SecurityInfo`` (EF.CardAccess, DG14, EF.CardSecurity)."""

    _child_spec = SecurityInfo


class PaceInfo(core.Sequence):  # type: ignore[misc]
    """9303-11 §9.2.1: ``PACEInfo ::= SEQUENCE { protocol, version (2), parameterId OPTIONAL }``."""

    _fields = [  # noqa: RUF012
        ("protocol", core.ObjectIdentifier),
        ("version", core.Integer),
        ("parameter_id", core.Integer, {"optional": True}),
    ]


class PaceDomainParameterInfo(core.Sequence):  # type: ignore[misc]
    """9303-11 §9.2.2: proprietary PACE domain parameters."""

    _fields = [  # noqa: RUF012
        ("protocol", core.ObjectIdentifier),
        ("domain_parameter", AlgorithmIdentifier),
        ("parameter_id", core.Integer, {"optional": True}),
    ]


class ActiveAuthenticationInfo(core.Sequence):  # type: ignore[misc]
    """9303-11 §9.2.4: ``protocol`` aaProtocolObject, ``version`` 1, ``signatureAlgorithm``."""

    _fields = [  # noqa: RUF012
        ("protocol", core.ObjectIdentifier),
        ("version", core.Integer),
        ("signature_algorithm", core.ObjectIdentifier),
    ]


class ChipAuthenticationInfo(core.Sequence):  # type: ignore[misc]
    """9303-11 §9.2.5: ``protocol`` id-CA-*, ``version`` (1 or 2), ``keyId`` OPTIONAL."""

    _fields = [  # noqa: RUF012
        ("protocol", core.ObjectIdentifier),
        ("version", core.Integer),
        ("key_id", core.Integer, {"optional": True}),
    ]


class ChipAuthenticationDomainParameterInfo(core.Sequence):  # type: ignore[misc]
    """TR-03110-3 A.1.1.2: ``protocol`` id-CA-DH / id-CA-ECDH, domain parameters, keyId."""

    _fields = [  # noqa: RUF012
        ("protocol", core.ObjectIdentifier),
        ("domain_parameter", AlgorithmIdentifier),
        ("key_id", core.Integer, {"optional": True}),
    ]


class ChipAuthenticationPublicKeyInfo(core.Sequence):  # type: ignore[misc]
    """9303-11 §9.2.6: ``protocol`` id-PK-DH / id-PK-ECDH, the chip's public key, keyId."""

    _fields = [  # noqa: RUF012
        ("protocol", core.ObjectIdentifier),
        ("chip_authentication_public_key", SubjectPublicKeyInfo),
        ("key_id", core.Integer, {"optional": True}),
    ]


class FileId(core.Sequence):  # type: ignore[misc]
    """TR-03110 v1 ``FileID ::= SEQUENCE { fid OCTET STRING (2), sfid OCTET STRING (1) OPT }``."""

    _fields = [  # noqa: RUF012
        ("fid", core.OctetString),
        ("sfid", core.OctetString, {"optional": True}),
    ]


class TerminalAuthenticationInfo(core.Sequence):  # type: ignore[misc]
    """9303-11 §9.2.7: ``protocol`` id-TA, ``version`` (1 or 2), ``efCVCA`` OPTIONAL (v1 only)."""

    _fields = [  # noqa: RUF012
        ("protocol", core.ObjectIdentifier),
        ("version", core.Integer),
        ("ef_cvca", FileId, {"optional": True}),
    ]


# --- LDS security object (9303-10 §4.6.2.2) ---------------------------------------------------


class DataGroupHash(core.Sequence):  # type: ignore[misc]
    """``DataGroupHash ::= SEQUENCE { dataGroupNumber INTEGER (1..16), dataGroupHashValue }``."""

    _fields = [  # noqa: RUF012
        ("data_group_number", core.Integer),
        ("data_group_hash_value", core.OctetString),
    ]


class DataGroupHashValues(core.SequenceOf):  # type: ignore[misc]
    _child_spec = DataGroupHash


class LdsVersionInfo(core.Sequence):  # type: ignore[misc]
    """``LDSVersionInfo ::= SEQUENCE { ldsVersion, unicodeVersion }`` (PrintableStrings)."""

    _fields = [  # noqa: RUF012
        ("lds_version", core.PrintableString),
        ("unicode_version", core.PrintableString),
    ]


class LdsSecurityObject(core.Sequence):  # type: ignore[misc]
    """``LDSSecurityObject`` v0 (no version info) and v1 (with ``ldsVersionInfo``)."""

    _fields = [  # noqa: RUF012
        ("version", core.Integer),
        ("hash_algorithm", AlgorithmIdentifier),
        ("data_group_hash_values", DataGroupHashValues),
        ("lds_version_info", LdsVersionInfo, {"optional": True}),
    ]


# --- Elliptic curves: recognising explicit parameters -----------------------------------------


@dataclass(frozen=True)
class Curve:
    """Short-Weierstrass prime curve y² = x³ + ax + b over GF(p), base point G of order n."""

    name: str
    p: int
    a: int
    b: int
    gx: int
    gy: int
    n: int
    h: int

    @property
    def oid(self) -> str:
        return oids.by_name(self.name)

    @property
    def bits(self) -> int:
        return self.p.bit_length()

    @property
    def field_length(self) -> int:
        """Bytes in one coordinate (public points are left-padded to this, 9303-11 §9.4.1)."""
        return (self.p.bit_length() + 7) // 8


# Parameters of SEC 2 v2 §2 (NIST curves) and RFC 5639 §3 (Brainpool), as shipped in OpenSSL's
# built-in curve table (``openssl ecparam -name C -param_enc explicit``).
CURVES: tuple[Curve, ...] = (
    Curve(
        "secp192r1",
        0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFFFFFFFFFFFF,
        0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFFFFFFFFFFFC,
        0x64210519E59C80E70FA7E9AB72243049FEB8DEECC146B9B1,
        0x188DA80EB03090F67CBF20EB43A18800F4FF0AFD82FF1012,
        0x7192B95FFC8DA78631011ED6B24CDD573F977A11E794811,
        0xFFFFFFFFFFFFFFFFFFFFFFFF99DEF836146BC9B1B4D22831,
        1,
    ),
    Curve(
        "secp224r1",
        0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF000000000000000000000001,
        0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFE,
        0xB4050A850C04B3ABF54132565044B0B7D7BFD8BA270B39432355FFB4,
        0xB70E0CBD6BB4BF7F321390B94A03C1D356C21122343280D6115C1D21,
        0xBD376388B5F723FB4C22DFE6CD4375A05A07476444D5819985007E34,
        0xFFFFFFFFFFFFFFFFFFFFFFFFFFFF16A2E0B8F03E13DD29455C5C2A3D,
        1,
    ),
    Curve(
        "secp256r1",
        0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF,
        0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFC,
        0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B,
        0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
        0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5,
        0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
        1,
    ),
    Curve(
        "secp384r1",
        0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFFFF0000000000000000FFFFFFFF,
        0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFFFF0000000000000000FFFFFFFC,
        0xB3312FA7E23EE7E4988E056BE3F82D19181D9C6EFE8141120314088F5013875AC656398D8A2ED19D2A85C8EDD3EC2AEF,
        0xAA87CA22BE8B05378EB1C71EF320AD746E1D3B628BA79B9859F741E082542A385502F25DBF55296C3A545E3872760AB7,
        0x3617DE4A96262C6F5D9E98BF9292DC29F8F41DBD289A147CE9DA3113B5F0B8C00A60B1CE1D7E819D7A431D7C90EA0E5F,
        0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973,
        1,
    ),
    Curve(
        "secp521r1",
        0x1FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF,
        0x1FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC,
        0x51953EB9618E1C9A1F929A21A0B68540EEA2DA725B99B315F3B8B489918EF109E156193951EC7E937B1652C0BD3BB1BF073573DF883D2C34F1EF451FD46B503F00,
        0xC6858E06B70404E9CD9E3ECB662395B4429C648139053FB521F828AF606B4D3DBAA14B5E77EFE75928FE1DC127A2FFA8DE3348B3C1856A429BF97E7E31C2E5BD66,
        0x11839296A789A3BC0045C8A5FB42C7D1BD998F54449579B446817AFBD17273E662C97EE72995EF42640C550B9013FAD0761353C7086A272C24088BE94769FD16650,
        0x1FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFA51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409,
        1,
    ),
    Curve(
        "brainpoolP160r1",
        0xE95E4A5F737059DC60DFC7AD95B3D8139515620F,
        0x340E7BE2A280EB74E2BE61BADA745D97E8F7C300,
        0x1E589A8595423412134FAA2DBDEC95C8D8675E58,
        0xBED5AF16EA3F6A4F62938C4631EB5AF7BDBCDBC3,
        0x1667CB477A1A8EC338F94741669C976316DA6321,
        0xE95E4A5F737059DC60DF5991D45029409E60FC09,
        1,
    ),
    Curve(
        "brainpoolP192r1",
        0xC302F41D932A36CDA7A3463093D18DB78FCE476DE1A86297,
        0x6A91174076B1E0E19C39C031FE8685C1CAE040E5C69A28EF,
        0x469A28EF7C28CCA3DC721D044F4496BCCA7EF4146FBF25C9,
        0xC0A0647EAAB6A48753B033C56CB0F0900A2F5C4853375FD6,
        0x14B690866ABD5BB88B5F4828C1490002E6773FA2FA299B8F,
        0xC302F41D932A36CDA7A3462F9E9E916B5BE8F1029AC4ACC1,
        1,
    ),
    Curve(
        "brainpoolP224r1",
        0xD7C134AA264366862A18302575D1D787B09F075797DA89F57EC8C0FF,
        0x68A5E62CA9CE6C1C299803A6C1530B514E182AD8B0042A59CAD29F43,
        0x2580F63CCFE44138870713B1A92369E33E2135D266DBB372386C400B,
        0xD9029AD2C7E5CF4340823B2A87DC68C9E4CE3174C1E6EFDEE12C07D,
        0x58AA56F772C0726F24C6B89E4ECDAC24354B9E99CAA3F6D3761402CD,
        0xD7C134AA264366862A18302575D0FB98D116BC4B6DDEBCA3A5A7939F,
        1,
    ),
    Curve(
        "brainpoolP256r1",
        0xA9FB57DBA1EEA9BC3E660A909D838D726E3BF623D52620282013481D1F6E5377,
        0x7D5A0975FC2C3057EEF67530417AFFE7FB8055C126DC5C6CE94A4B44F330B5D9,
        0x26DC5C6CE94A4B44F330B5D9BBD77CBF958416295CF7E1CE6BCCDC18FF8C07B6,
        0x8BD2AEB9CB7E57CB2C4B482FFC81B7AFB9DE27E1E3BD23C23A4453BD9ACE3262,
        0x547EF835C3DAC4FD97F8461A14611DC9C27745132DED8E545C1D54C72F046997,
        0xA9FB57DBA1EEA9BC3E660A909D838D718C397AA3B561A6F7901E0E82974856A7,
        1,
    ),
    Curve(
        "brainpoolP320r1",
        0xD35E472036BC4FB7E13C785ED201E065F98FCFA6F6F40DEF4F92B9EC7893EC28FCD412B1F1B32E27,
        0x3EE30B568FBAB0F883CCEBD46D3F3BB8A2A73513F5EB79DA66190EB085FFA9F492F375A97D860EB4,
        0x520883949DFDBC42D3AD198640688A6FE13F41349554B49ACC31DCCD884539816F5EB4AC8FB1F1A6,
        0x43BD7E9AFB53D8B85289BCC48EE5BFE6F20137D10A087EB6E7871E2A10A599C710AF8D0D39E20611,
        0x14FDD05545EC1CC8AB4093247F77275E0743FFED117182EAA9C77877AAAC6AC7D35245D1692E8EE1,
        0xD35E472036BC4FB7E13C785ED201E065F98FCFA5B68F12A32D482EC7EE8658E98691555B44C59311,
        1,
    ),
    Curve(
        "brainpoolP384r1",
        0x8CB91E82A3386D280F5D6F7E50E641DF152F7109ED5456B412B1DA197FB71123ACD3A729901D1A71874700133107EC53,
        0x7BC382C63D8C150C3C72080ACE05AFA0C2BEA28E4FB22787139165EFBA91F90F8AA5814A503AD4EB04A8C7DD22CE2826,
        0x4A8C7DD22CE28268B39B55416F0447C2FB77DE107DCD2A62E880EA53EEB62D57CB4390295DBC9943AB78696FA504C11,
        0x1D1C64F068CF45FFA2A63A81B7C13F6B8847A3E77EF14FE3DB7FCAFE0CBD10E8E826E03436D646AAEF87B2E247D4AF1E,
        0x8ABE1D7520F9C2A45CB1EB8E95CFD55262B70B29FEEC5864E19C054FF99129280E4646217791811142820341263C5315,
        0x8CB91E82A3386D280F5D6F7E50E641DF152F7109ED5456B31F166E6CAC0425A7CF3AB6AF6B7FC3103B883202E9046565,
        1,
    ),
    Curve(
        "brainpoolP512r1",
        0xAADD9DB8DBE9C48B3FD4E6AE33C9FC07CB308DB3B3C9D20ED6639CCA703308717D4D9B009BC66842AECDA12AE6A380E62881FF2F2D82C68528AA6056583A48F3,
        0x7830A3318B603B89E2327145AC234CC594CBDD8D3DF91610A83441CAEA9863BC2DED5D5AA8253AA10A2EF1C98B9AC8B57F1117A72BF2C7B9E7C1AC4D77FC94CA,
        0x3DF91610A83441CAEA9863BC2DED5D5AA8253AA10A2EF1C98B9AC8B57F1117A72BF2C7B9E7C1AC4D77FC94CADC083E67984050B75EBAE5DD2809BD638016F723,
        0x81AEE4BDD82ED9645A21322E9C4C6A9385ED9F70B5D916C1B43B62EEF4D0098EFF3B1F78E2D0D48D50D1687B93B97D5F7C6D5047406A5E688B352209BCB9F822,
        0x7DDE385D566332ECC0EABFA9CF7822FDF209F70024A57B1AA000C55B881F8111B2DCDE494A5F485E5BCA4BD88A2763AED1CA2B2FA8F0540678CD1E0F3AD80892,
        0xAADD9DB8DBE9C48B3FD4E6AE33C9FC07CB308DB3B3C9D20ED6639CCA70330870553E5C414CA92619418661197FAC10471DB1D381085DDADDB58796829CA90069,
        1,
    ),
)
_CURVES_BY_OID = {c.oid: c for c in CURVES}

# The curves the ``cryptography`` library can compute on.
_CRYPTOGRAPHY_CURVES: dict[str, type[ec.EllipticCurve]] = {
    "secp192r1": ec.SECP192R1,
    "secp224r1": ec.SECP224R1,
    "secp256r1": ec.SECP256R1,
    "secp384r1": ec.SECP384R1,
    "secp521r1": ec.SECP521R1,
    "brainpoolP256r1": ec.BrainpoolP256R1,
    "brainpoolP384r1": ec.BrainpoolP384R1,
    "brainpoolP512r1": ec.BrainpoolP512R1,
}


def curve_by_oid(oid: str) -> Curve:
    """The known curve named by ``oid``; EncodingError when it is not one of :data:`CURVES`."""
    try:
        return _CURVES_BY_OID[oid]
    except KeyError:
        raise EncodingError(f"unsupported elliptic curve {oids.name_of(oid)}") from None


def _match_explicit(params: keys.SpecifiedECDomain) -> Curve:
    field = params["field_id"]
    if field["field_type"].dotted != oids.PRIME_FIELD:
        raise EncodingError("unsupported elliptic curve: not over a prime field (X9.62)")
    p = int(field["parameters"].native)
    a = int.from_bytes(params["curve"]["a"].native, "big")
    b = int.from_bytes(params["curve"]["b"].native, "big")
    base = bytes(params["base"].native)
    n = int(params["order"].native)
    h = params["cofactor"].native
    for c in CURVES:
        if (c.p, c.a % c.p, c.b, c.n) != (p, a % p, b, n) or (h is not None and h != c.h):
            continue
        size = c.field_length
        if base[:1] == b"\x04" and len(base) == 1 + 2 * size:
            gx, gy = (
                int.from_bytes(base[1 : 1 + size], "big"),
                int.from_bytes(base[1 + size :], "big"),
            )
            if (gx, gy) == (c.gx, c.gy):
                return c
        elif (
            # Compressed base point: x plus the parity of y (SEC 1 §2.3.3).
            base[:1] in (b"\x02", b"\x03")
            and len(base) == 1 + size
            and int.from_bytes(base[1:], "big") == c.gx
            and (base[0] & 1) == (c.gy & 1)
        ):
            return c
    raise EncodingError(
        f"unsupported elliptic curve: explicit {p.bit_length()}-bit parameters match no known "
        "named curve (SEC 2 / RFC 5639)"
    )


def curve_from_parameters(parameters: core.Asn1Value | None) -> tuple[Curve, bool]:
    """The curve described by EC ``parameters`` (named or explicit) and whether they were explicit.

    ``parameters`` is the AlgorithmIdentifier's parameters field (X9.62 ``ECParameters``).
    """
    if parameters is None or isinstance(parameters, core.Void):
        raise EncodingError("EC public key without domain parameters (implicitCA is not supported)")
    with asn1_errors("EC domain parameters"):
        domain = keys.ECDomainParameters.load(parameters.dump(), strict=True)
        kind = domain.name
        if kind == "named":
            return curve_by_oid(domain.chosen.dotted), False
        if kind == "specified":
            return _match_explicit(domain.chosen), True
    raise EncodingError("EC public key with implicit domain parameters is not supported")


def _cryptography_curve(curve: Curve) -> ec.EllipticCurve:
    factory = _CRYPTOGRAPHY_CURVES.get(curve.name)
    if factory is None:
        raise EncodingError(
            f"elliptic curve {curve.name} is recognised but not supported by the "
            "cryptography library"
        )
    return factory()


PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


def _spki(spki_der: bytes) -> SubjectPublicKeyInfo:
    spki = load_strict(SubjectPublicKeyInfo, spki_der, "SubjectPublicKeyInfo")
    if spki["subject_public_key"].unused_bits:
        raise EncodingError("SubjectPublicKeyInfo: public key BIT STRING has unused bits")
    return spki


def load_public_key(spki_der: bytes) -> PublicKey:
    """A ``cryptography`` public key from a SubjectPublicKeyInfo (RSA, EC, DH).

    Accepts ``id-ecPublicKey`` and BSI ``id-PK-ECDH`` with named or explicit parameters (explicit
    ones are matched to the known named curve), ``rsaEncryption``, and ``dhpublicnumber`` /
    BSI ``id-PK-DH`` (X9.42 domain parameters). Raises EncodingError otherwise.
    """
    spki = _spki(spki_der)
    algorithm = spki["algorithm"]["algorithm"].dotted
    parameters = spki["algorithm"]["parameters"]
    key_bytes = spki["subject_public_key"].contents[1:]  # skip the unused-bits octet
    if algorithm in (oids.EC_PUBLIC_KEY, oids.ID_PK_ECDH):
        curve, _ = curve_from_parameters(parameters)
        with asn1_errors("EC public point"):
            return ec.EllipticCurvePublicKey.from_encoded_point(
                _cryptography_curve(curve), key_bytes
            )
    if algorithm == oids.RSA_ENCRYPTION:
        with asn1_errors("RSA public key"):
            key = serialization.load_der_public_key(spki_der)
        if not isinstance(key, rsa.RSAPublicKey):  # pragma: no cover - the OID says RSA
            raise EncodingError("rsaEncryption key did not load as RSA")
        return key
    if algorithm in (oids.DH_PUBLIC_NUMBER, oids.ID_PK_DH):
        # cryptography deprecates finite-field DH (CryptographyDeprecationWarning since 46),
        # so a DH key stays as its SubjectPublicKeyInfo; describe_public_key() still reads it.
        raise EncodingError("DH public keys are not loaded as cryptography objects")
    raise EncodingError(f"unsupported public key algorithm {oids.name_of(algorithm)}")


def describe_public_key(spki_der: bytes) -> dict[str, object]:
    """A JSON-friendly summary: algorithm, key size, curve (recognised even if not loadable)."""
    spki = _spki(spki_der)
    algorithm = spki["algorithm"]["algorithm"].dotted
    out: dict[str, object] = {"algorithm_oid": algorithm, "algorithm": oids.name_of(algorithm)}
    key_bytes = spki["subject_public_key"].contents[1:]
    if algorithm in (oids.EC_PUBLIC_KEY, oids.ID_PK_ECDH):
        curve, explicit = curve_from_parameters(spki["algorithm"]["parameters"])
        out.update(
            {
                "type": "EC",
                "curve": curve.name,
                "key_size": curve.bits,
                "parameters": "explicit" if explicit else "named",
            }
        )
    elif algorithm == oids.RSA_ENCRYPTION:
        rsa_key = load_strict(keys.RSAPublicKey, key_bytes, "RSA public key")
        out.update({"type": "RSA", "key_size": int(rsa_key["modulus"].native).bit_length()})
    elif algorithm in (oids.DH_PUBLIC_NUMBER, oids.ID_PK_DH):
        with asn1_errors("DH domain parameters"):
            params = keys.DomainParameters.load(spki["algorithm"]["parameters"].dump(), strict=True)
            bits = int(params["p"].native).bit_length()
        out.update({"type": "DH", "key_size": bits})
    else:
        out["type"] = "unknown"
    return out


def native_int(value: Any, what: str) -> int:
    """An asn1crypto INTEGER's value as a Python int (EncodingError on anything else)."""
    with asn1_errors(what):
        result = value.native
        if not isinstance(result, int) or isinstance(result, bool):
            raise EncodingError(f"{what}: expected an INTEGER")
        return result
    raise AssertionError("unreachable")  # pragma: no cover
