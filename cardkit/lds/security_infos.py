"""SecurityInfos: the protocol announcements of EF.CardAccess, DG14 and EF.CardSecurity.

ICAO 9303-11 §9.2 and BSI TR-03110-3 Appendix A.1 define ``SecurityInfos ::= SET OF SecurityInfo``
where each member is a SEQUENCE starting with a protocol OID. Here each member becomes a frozen
value (:class:`PaceInfo`, :class:`ChipAuthenticationInfo`, ...) and a member cardkit does not know
becomes :class:`UnknownSecurityInfo` with its bytes kept untouched.

Every value keeps ``raw``: the exact DER it was decoded from (or encoded to), and
:class:`SecurityInfos` keeps the raw bytes of the whole SET. That matters: DER sorts a SET OF, and
a card's DG14 is hashed into EF.SOD as it was written, so re-encoding a DG14 that some issuer
wrote unsorted would break passive authentication (DOMAIN.md §9). ``bytes(x)`` is always ``x.raw``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TypeAlias, TypeVar

from asn1crypto import core

from cardkit.encoding import asn1, oids, tlv
from cardkit.errors import EncodingError

_T = TypeVar("_T")


def _construct(factory: type[_T], what: str, **kwargs: Any) -> _T:
    """Build a value from decoded fields; a field that fails validation is an EncodingError."""
    try:
        return factory(**kwargs)
    except ValueError as exc:
        raise EncodingError(f"{what}: {exc}") from exc


def _non_negative(value: int | None, name: str) -> None:
    if value is not None and (isinstance(value, bool) or value < 0):
        raise ValueError(f"{name} must be a non-negative integer")


def _optional_int(value: core.Asn1Value, what: str) -> int | None:
    if isinstance(value, core.Void):
        return None
    return asn1.native_int(value, what)


def _dotted(value: core.Asn1Value, what: str) -> str:
    with asn1.asn1_errors(what):
        dotted = value.dotted
        if not isinstance(dotted, str):  # pragma: no cover - asn1crypto returns str
            raise EncodingError(f"{what}: bad OBJECT IDENTIFIER")
        return dotted
    raise AssertionError("unreachable")  # pragma: no cover


def _check_oid(oid: str, name: str) -> None:
    oids.der(oid)  # raises ValueError when ``oid`` is not a dotted OID


# --- PACE ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PaceInfo:
    """9303-11 §9.2.1 PACEInfo: a supported PACE algorithm and its domain parameters."""

    protocol: str
    version: int
    parameter_id: int | None
    raw: bytes = field(repr=False, compare=True)

    def __post_init__(self) -> None:
        if not oids.is_pace_protocol(self.protocol):
            raise ValueError(f"{self.protocol} is not an id-PACE-* algorithm OID")
        if self.version != 2:
            raise ValueError("PACEInfo version must be 2 (9303-11 §9.2.1)")
        _non_negative(self.parameter_id, "parameterId")

    @property
    def algorithm(self) -> oids.PaceAlgorithm:
        return oids.PaceAlgorithm.from_oid(self.protocol)

    @property
    def domain_parameters(self) -> oids.DomainParameters | None:
        """The standardized domain parameters, or None when proprietary (ID ≥ 32) or absent."""
        if self.parameter_id is None:
            return None
        return oids.STANDARDIZED_DOMAIN_PARAMETER_IDS.get(self.parameter_id)

    @classmethod
    def build(cls, protocol: str, parameter_id: int | None, version: int = 2) -> PaceInfo:
        value = {"protocol": protocol, "version": version}
        if parameter_id is not None:
            value["parameter_id"] = parameter_id
        cls(protocol, version, parameter_id, b"")  # validate before encoding
        return cls(protocol, version, parameter_id, asn1.PaceInfo(value).dump())

    @classmethod
    def from_der(cls, der: bytes) -> PaceInfo:
        v = asn1.load_strict(asn1.PaceInfo, der, "PACEInfo")
        return _construct(
            cls,
            "PACEInfo",
            protocol=_dotted(v["protocol"], "PACEInfo.protocol"),
            version=asn1.native_int(v["version"], "PACEInfo.version"),
            parameter_id=_optional_int(v["parameter_id"], "PACEInfo.parameterId"),
            raw=der,
        )

    def __bytes__(self) -> bytes:
        return self.raw

    def describe(self) -> dict[str, object]:
        alg = self.algorithm
        params = self.domain_parameters
        return {
            "type": "PACEInfo",
            "protocol": alg.name,
            "oid": self.protocol,
            "version": self.version,
            "key_agreement": alg.key_agreement,
            "mapping": alg.mapping,
            "cipher": alg.cipher,
            "key_length": alg.key_length,
            "parameter_id": self.parameter_id,
            "domain_parameters": params.name if params else None,
        }


_PACE_FAMILIES = frozenset(
    {
        oids.ID_PACE_DH_GM,
        oids.ID_PACE_ECDH_GM,
        oids.ID_PACE_DH_IM,
        oids.ID_PACE_ECDH_IM,
        oids.ID_PACE_ECDH_CAM,
    }
)


@dataclass(frozen=True)
class PaceDomainParameterInfo:
    """9303-11 §9.2.2 PACEDomainParameterInfo: proprietary domain parameters for PACE."""

    protocol: str
    domain_parameter: bytes  # the AlgorithmIdentifier DER, kept as is
    parameter_id: int | None
    raw: bytes = field(repr=False, compare=True)

    def __post_init__(self) -> None:
        if self.protocol not in _PACE_FAMILIES:
            raise ValueError(f"{self.protocol} is not an id-PACE-DH/ECDH-* family OID")
        _non_negative(self.parameter_id, "parameterId")

    @classmethod
    def from_der(cls, der: bytes) -> PaceDomainParameterInfo:
        v = asn1.load_strict(asn1.PaceDomainParameterInfo, der, "PACEDomainParameterInfo")
        return _construct(
            cls,
            "PACEDomainParameterInfo",
            protocol=_dotted(v["protocol"], "PACEDomainParameterInfo.protocol"),
            domain_parameter=v["domain_parameter"].dump(),
            parameter_id=_optional_int(v["parameter_id"], "PACEDomainParameterInfo.parameterId"),
            raw=der,
        )

    def __bytes__(self) -> bytes:
        return self.raw

    def describe(self) -> dict[str, object]:
        return {
            "type": "PACEDomainParameterInfo",
            "protocol": oids.name_of(self.protocol),
            "oid": self.protocol,
            "parameter_id": self.parameter_id,
        }


# --- Chip authentication ---------------------------------------------------------------------


@dataclass(frozen=True)
class ChipAuthenticationInfo:
    """9303-11 §9.2.5 ChipAuthenticationInfo: a supported CA algorithm, for key ``key_id``."""

    protocol: str
    version: int
    key_id: int | None
    raw: bytes = field(repr=False, compare=True)

    def __post_init__(self) -> None:
        if not oids.is_ca_protocol(self.protocol):
            raise ValueError(f"{self.protocol} is not an id-CA-* algorithm OID")
        if self.version not in (1, 2, 3):
            raise ValueError(
                "ChipAuthenticationInfo version must be 1, 2 or 3 (TR-03110-3 A.1.1.2)"
            )
        _non_negative(self.key_id, "keyId")

    @property
    def algorithm(self) -> oids.CaAlgorithm:
        return oids.CaAlgorithm.from_oid(self.protocol)

    @classmethod
    def build(
        cls, protocol: str, version: int = 1, key_id: int | None = None
    ) -> ChipAuthenticationInfo:
        value: dict[str, object] = {"protocol": protocol, "version": version}
        if key_id is not None:
            value["key_id"] = key_id
        cls(protocol, version, key_id, b"")
        return cls(protocol, version, key_id, asn1.ChipAuthenticationInfo(value).dump())

    @classmethod
    def from_der(cls, der: bytes) -> ChipAuthenticationInfo:
        v = asn1.load_strict(asn1.ChipAuthenticationInfo, der, "ChipAuthenticationInfo")
        return _construct(
            cls,
            "ChipAuthenticationInfo",
            protocol=_dotted(v["protocol"], "ChipAuthenticationInfo.protocol"),
            version=asn1.native_int(v["version"], "ChipAuthenticationInfo.version"),
            key_id=_optional_int(v["key_id"], "ChipAuthenticationInfo.keyId"),
            raw=der,
        )

    def __bytes__(self) -> bytes:
        return self.raw

    def describe(self) -> dict[str, object]:
        alg = self.algorithm
        return {
            "type": "ChipAuthenticationInfo",
            "protocol": alg.name,
            "oid": self.protocol,
            "version": self.version,
            "key_agreement": alg.key_agreement,
            "cipher": alg.cipher,
            "key_length": alg.key_length,
            "key_id": self.key_id,
        }


@dataclass(frozen=True)
class ChipAuthenticationDomainParameterInfo:
    """TR-03110-3 A.1.1.2 ChipAuthenticationDomainParameterInfo (id-CA-DH / id-CA-ECDH)."""

    protocol: str
    domain_parameter: bytes  # the AlgorithmIdentifier DER, kept as is
    key_id: int | None
    raw: bytes = field(repr=False, compare=True)

    def __post_init__(self) -> None:
        if self.protocol not in (oids.ID_CA_DH, oids.ID_CA_ECDH):
            raise ValueError(f"{self.protocol} is not id-CA-DH or id-CA-ECDH")
        _non_negative(self.key_id, "keyId")

    @classmethod
    def from_der(cls, der: bytes) -> ChipAuthenticationDomainParameterInfo:
        what = "ChipAuthenticationDomainParameterInfo"
        v = asn1.load_strict(asn1.ChipAuthenticationDomainParameterInfo, der, what)
        return _construct(
            cls,
            what,
            protocol=_dotted(v["protocol"], f"{what}.protocol"),
            domain_parameter=v["domain_parameter"].dump(),
            key_id=_optional_int(v["key_id"], f"{what}.keyId"),
            raw=der,
        )

    def __bytes__(self) -> bytes:
        return self.raw

    def describe(self) -> dict[str, object]:
        return {
            "type": "ChipAuthenticationDomainParameterInfo",
            "protocol": oids.name_of(self.protocol),
            "oid": self.protocol,
            "key_id": self.key_id,
        }


@dataclass(frozen=True)
class ChipAuthenticationPublicKeyInfo:
    """9303-11 §9.2.6 ChipAuthenticationPublicKeyInfo: the chip's static CA key (id-PK-*)."""

    protocol: str
    public_key_info: bytes  # SubjectPublicKeyInfo DER, kept exactly as found
    key_id: int | None
    raw: bytes = field(repr=False, compare=True)

    def __post_init__(self) -> None:
        if self.protocol not in (oids.ID_PK_DH, oids.ID_PK_ECDH):
            raise ValueError(f"{self.protocol} is not id-PK-DH or id-PK-ECDH")
        _non_negative(self.key_id, "keyId")

    @classmethod
    def build(
        cls, protocol: str, public_key_info: bytes, key_id: int | None = None
    ) -> ChipAuthenticationPublicKeyInfo:
        # Encoded directly rather than through asn1crypto: this runs once per card prepared, and
        # a structural check of the SubjectPublicKeyInfo (SEQUENCE of algorithm and key) is
        # what the encoding needs; the key itself comes from the chip key generator.
        spki = tlv.decode_single(public_key_info, 0x30, what="SubjectPublicKeyInfo")
        parts = spki.children()
        if len(parts) != 2 or parts[0].tag != 0x30 or parts[1].tag != 0x03:
            raise EncodingError("SubjectPublicKeyInfo: expected an algorithm and a BIT STRING")
        cls(protocol, public_key_info, key_id, b"")
        body = oids.der(protocol) + public_key_info
        if key_id is not None:
            body += tlv.encode(0x02, key_id.to_bytes(key_id.bit_length() // 8 + 1, "big"))
        return cls(protocol, public_key_info, key_id, tlv.encode(0x30, body))

    @classmethod
    def from_der(cls, der: bytes) -> ChipAuthenticationPublicKeyInfo:
        what = "ChipAuthenticationPublicKeyInfo"
        v = asn1.load_strict(asn1.ChipAuthenticationPublicKeyInfo, der, what)
        return _construct(
            cls,
            what,
            protocol=_dotted(v["protocol"], f"{what}.protocol"),
            public_key_info=v["chip_authentication_public_key"].dump(),
            key_id=_optional_int(v["key_id"], f"{what}.keyId"),
            raw=der,
        )

    def public_key(self) -> asn1.PublicKey:
        """The key as a ``cryptography`` object (explicit EC parameters mapped to named curves)."""
        return asn1.load_public_key(self.public_key_info)

    def __bytes__(self) -> bytes:
        return self.raw

    def describe(self) -> dict[str, object]:
        out: dict[str, object] = {
            "type": "ChipAuthenticationPublicKeyInfo",
            "protocol": oids.name_of(self.protocol),
            "oid": self.protocol,
            "key_id": self.key_id,
        }
        try:
            out["public_key"] = asn1.describe_public_key(self.public_key_info)
        except EncodingError as exc:
            out["public_key"] = {"error": str(exc)}
        return out


# --- Active and terminal authentication -------------------------------------------------------


@dataclass(frozen=True)
class ActiveAuthenticationInfo:
    """9303-11 §9.2.4: the AA signature algorithm for an ECDSA DG15 key (ecdsa-with-SHA*)."""

    signature_algorithm: str
    raw: bytes = field(repr=False, compare=True)
    protocol: str = oids.AA_PROTOCOL_OBJECT
    version: int = 1

    def __post_init__(self) -> None:
        if self.protocol != oids.AA_PROTOCOL_OBJECT:
            raise ValueError("ActiveAuthenticationInfo.protocol must be aaProtocolObject")
        if self.version != 1:
            raise ValueError("ActiveAuthenticationInfo version must be 1 (9303-11 §9.2.4)")
        _check_oid(self.signature_algorithm, "signatureAlgorithm")

    @classmethod
    def build(cls, signature_algorithm: str) -> ActiveAuthenticationInfo:
        cls(signature_algorithm, b"")
        value = {
            "protocol": oids.AA_PROTOCOL_OBJECT,
            "version": 1,
            "signature_algorithm": signature_algorithm,
        }
        return cls(signature_algorithm, asn1.ActiveAuthenticationInfo(value).dump())

    @classmethod
    def from_der(cls, der: bytes) -> ActiveAuthenticationInfo:
        what = "ActiveAuthenticationInfo"
        v = asn1.load_strict(asn1.ActiveAuthenticationInfo, der, what)
        return _construct(
            cls,
            what,
            signature_algorithm=_dotted(v["signature_algorithm"], f"{what}.signatureAlgorithm"),
            raw=der,
            protocol=_dotted(v["protocol"], f"{what}.protocol"),
            version=asn1.native_int(v["version"], f"{what}.version"),
        )

    def __bytes__(self) -> bytes:
        return self.raw

    def describe(self) -> dict[str, object]:
        return {
            "type": "ActiveAuthenticationInfo",
            "protocol": oids.name_of(self.protocol),
            "version": self.version,
            "signature_algorithm": oids.name_of(self.signature_algorithm),
            "signature_algorithm_oid": self.signature_algorithm,
        }


@dataclass(frozen=True)
class TerminalAuthenticationInfo:
    """9303-11 §9.2.7 TerminalAuthenticationInfo (id-TA; efCVCA only in TR-03110 version 1)."""

    version: int
    raw: bytes = field(repr=False, compare=True)
    ef_cvca_fid: bytes | None = None
    ef_cvca_sfid: bytes | None = None
    protocol: str = oids.ID_TA

    def __post_init__(self) -> None:
        if self.protocol != oids.ID_TA:
            raise ValueError("TerminalAuthenticationInfo.protocol must be id-TA")
        if self.version not in (1, 2):
            raise ValueError("TerminalAuthenticationInfo version must be 1 or 2")
        if self.ef_cvca_fid is not None and len(self.ef_cvca_fid) != 2:
            raise ValueError("efCVCA fid must be 2 bytes")
        if self.ef_cvca_sfid is not None and (
            len(self.ef_cvca_sfid) != 1 or self.ef_cvca_fid is None
        ):
            raise ValueError("efCVCA sfid must be 1 byte and needs a fid")

    @classmethod
    def build(
        cls, version: int = 1, ef_cvca_fid: bytes | None = None, ef_cvca_sfid: bytes | None = None
    ) -> TerminalAuthenticationInfo:
        cls(version, b"", ef_cvca_fid, ef_cvca_sfid)
        value: dict[str, object] = {"protocol": oids.ID_TA, "version": version}
        if ef_cvca_fid is not None:
            file_id: dict[str, object] = {"fid": ef_cvca_fid}
            if ef_cvca_sfid is not None:
                file_id["sfid"] = ef_cvca_sfid
            value["ef_cvca"] = file_id
        der = asn1.TerminalAuthenticationInfo(value).dump()
        return cls(version, der, ef_cvca_fid, ef_cvca_sfid)

    @classmethod
    def from_der(cls, der: bytes) -> TerminalAuthenticationInfo:
        what = "TerminalAuthenticationInfo"
        v = asn1.load_strict(asn1.TerminalAuthenticationInfo, der, what)
        fid: bytes | None = None
        sfid: bytes | None = None
        ef_cvca = v["ef_cvca"]
        if not isinstance(ef_cvca, core.Void):
            fid = bytes(ef_cvca["fid"].native)
            if not isinstance(ef_cvca["sfid"], core.Void):
                sfid = bytes(ef_cvca["sfid"].native)
        return _construct(
            cls,
            what,
            version=asn1.native_int(v["version"], f"{what}.version"),
            raw=der,
            ef_cvca_fid=fid,
            ef_cvca_sfid=sfid,
            protocol=_dotted(v["protocol"], f"{what}.protocol"),
        )

    def __bytes__(self) -> bytes:
        return self.raw

    def describe(self) -> dict[str, object]:
        return {
            "type": "TerminalAuthenticationInfo",
            "protocol": oids.name_of(self.protocol),
            "version": self.version,
            "ef_cvca_fid": self.ef_cvca_fid.hex().upper() if self.ef_cvca_fid else None,
        }


def terminal_authentication_v1() -> TerminalAuthenticationInfo:
    """What DG14 announces for a chip with an EAC trust point (9303-11 §9.2.7; TR-03110-3
    A.1.1.3): TerminalAuthenticationInfo, id-TA, version 1, without efCVCA (cardkit's chip has
    no EF.CVCA file: a terminal sends its chain and the chip skips the link certificates it
    does not need). Add it to DG14 when the profile gives the card a CVCA."""
    return TerminalAuthenticationInfo.build(1)


@dataclass(frozen=True)
class UnknownSecurityInfo:
    """A SecurityInfo cardkit does not interpret (CardInfoLocator, PrivilegedTerminalInfo, ...)."""

    protocol: str
    raw: bytes = field(repr=True, compare=True)

    def __post_init__(self) -> None:
        _check_oid(self.protocol, "protocol")

    def __bytes__(self) -> bytes:
        return self.raw

    def describe(self) -> dict[str, object]:
        return {
            "type": "SecurityInfo",
            "protocol": oids.name_of(self.protocol),
            "oid": self.protocol,
            "raw": self.raw.hex().upper(),
        }


SecurityInfo: TypeAlias = (
    PaceInfo
    | PaceDomainParameterInfo
    | ChipAuthenticationInfo
    | ChipAuthenticationDomainParameterInfo
    | ChipAuthenticationPublicKeyInfo
    | ActiveAuthenticationInfo
    | TerminalAuthenticationInfo
    | UnknownSecurityInfo
)


def decode_security_info(der: bytes) -> SecurityInfo:
    """Decode one SecurityInfo SEQUENCE, choosing the structure by its protocol OID."""
    generic = asn1.load_strict(asn1.SecurityInfo, der, "SecurityInfo")
    protocol = _dotted(generic["protocol"], "SecurityInfo.protocol")
    if oids.is_pace_protocol(protocol):
        return PaceInfo.from_der(der)
    if protocol in _PACE_FAMILIES:
        return PaceDomainParameterInfo.from_der(der)
    if oids.is_ca_protocol(protocol):
        return ChipAuthenticationInfo.from_der(der)
    if protocol in (oids.ID_CA_DH, oids.ID_CA_ECDH):
        return ChipAuthenticationDomainParameterInfo.from_der(der)
    if protocol in (oids.ID_PK_DH, oids.ID_PK_ECDH):
        return ChipAuthenticationPublicKeyInfo.from_der(der)
    if protocol == oids.AA_PROTOCOL_OBJECT:
        return ActiveAuthenticationInfo.from_der(der)
    if protocol == oids.ID_TA:
        return TerminalAuthenticationInfo.from_der(der)
    return UnknownSecurityInfo(protocol, der)


def _der_set_order(encodings: Iterable[bytes]) -> list[bytes]:
    # X.690 §11.6: SET OF components in ascending order of their encodings, the shorter one
    # padded at its end with zero octets for the comparison.
    items = list(encodings)
    width = max((len(e) for e in items), default=0)
    return sorted(items, key=lambda e: e.ljust(width, b"\x00"))


@dataclass(frozen=True)
class SecurityInfos:
    """A decoded ``SET OF SecurityInfo`` (9303-11 §9.2): members in file order, raw SET kept."""

    infos: tuple[SecurityInfo, ...]
    raw: bytes = field(repr=False, compare=True)

    def __post_init__(self) -> None:
        if not self.infos:
            raise ValueError("SecurityInfos must hold at least one SecurityInfo")

    @classmethod
    def build(cls, infos: Iterable[SecurityInfo]) -> SecurityInfos:
        """Encode in DER: members sorted by their encodings (X.690 §11.6)."""
        members = tuple(infos)
        cls(members, b"")
        ordered = _der_set_order(bytes(i) for i in members)
        by_raw = {bytes(i): i for i in members}
        return cls(tuple(by_raw[e] for e in ordered), tlv.encode(0x31, b"".join(ordered)))

    @classmethod
    def from_bytes(cls, data: bytes) -> SecurityInfos:
        """Decode a DER ``SET OF SecurityInfo`` filling ``data`` exactly."""
        data = bytes(data)
        outer = tlv.decode_single(data, 0x31, what="SecurityInfos")
        offset = len(outer.raw) - len(outer.value)
        infos: list[SecurityInfo] = []
        for member in outer.children():
            if member.tag != 0x30:
                raise EncodingError(
                    f"SecurityInfos: member with tag {member.tag:X}, a SEQUENCE expected",
                    offset=offset,
                )
            infos.append(decode_security_info(member.raw))
            offset += len(member.raw)
        return _construct(cls, "SecurityInfos", infos=tuple(infos), raw=data)

    def __bytes__(self) -> bytes:
        return self.raw

    def __iter__(self) -> Any:
        return iter(self.infos)

    def __len__(self) -> int:
        return len(self.infos)

    def of_type(self, kind: type[_T]) -> tuple[_T, ...]:
        return tuple(i for i in self.infos if isinstance(i, kind))

    @property
    def pace_infos(self) -> tuple[PaceInfo, ...]:
        return self.of_type(PaceInfo)

    @property
    def chip_authentication_infos(self) -> tuple[ChipAuthenticationInfo, ...]:
        return self.of_type(ChipAuthenticationInfo)

    @property
    def chip_authentication_public_keys(self) -> tuple[ChipAuthenticationPublicKeyInfo, ...]:
        return self.of_type(ChipAuthenticationPublicKeyInfo)

    @property
    def active_authentication_info(self) -> ActiveAuthenticationInfo | None:
        found = self.of_type(ActiveAuthenticationInfo)
        return found[0] if found else None

    @property
    def terminal_authentication_infos(self) -> tuple[TerminalAuthenticationInfo, ...]:
        return self.of_type(TerminalAuthenticationInfo)

    def describe(self) -> list[dict[str, object]]:
        return [i.describe() for i in self.infos]
