"""EF.SOD, the document security object (ICAO 9303-10 §4.6.2, 9303-12 §4.6).

``77 L ContentInfo`` where the ContentInfo is CMS ``SignedData`` (RFC 5652) whose encapsulated
content, of type ``id-icao-mrtd-security-ldsSecurityObject`` (2.23.136.1.1.1), is the DER
``LDSSecurityObject``: the hash algorithm and one hash per data group.

This module only parses (and wraps an already-signed CMS in tag 77): signing belongs to the PKI
layer, verification to the verify service. Everything needed for those is exposed as bytes
exactly as found — the eContent, the signed attributes *as signed* (RFC 5652 §5.4: the DER of the
SET OF with tag ``31`` rather than the ``[0]`` it carries in SignerInfo), the signature and the
embedded certificates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from asn1crypto import cms, core

from cardkit.encoding import asn1, oids, tlv
from cardkit.errors import EncodingError

#: Digest sizes in bytes of the hash algorithms 9303-12 allows for EF.SOD.
_DIGEST_SIZES = {"sha1": 20, "sha224": 28, "sha256": 32, "sha384": 48, "sha512": 64}


def _check_version_string(value: str, length: int, what: str) -> None:
    if len(value) != length or not value.isdigit() or not value.isascii():
        raise ValueError(f"{what} must be {length} digits (9303-10 §4.6.2.2)")


@dataclass(frozen=True)
class LdsSecurityObject:
    """The signed content of EF.SOD: ``LDSSecurityObject`` v0 or v1 (9303-10 §4.6.2.2)."""

    version: int
    hash_algorithm: str  # "sha1", "sha224", "sha256", "sha384" or "sha512"
    hashes: Mapping[int, bytes]  # data group number → hash of the whole DG file
    lds_version: str | None  # v1 only, "aabb" (e.g. "0108")
    unicode_version: str | None  # v1 only, "aabbcc" (e.g. "040000")
    raw: bytes = field(repr=False, compare=True)

    def __post_init__(self) -> None:
        object.__setattr__(self, "hashes", MappingProxyType(dict(sorted(self.hashes.items()))))
        if self.version not in (0, 1):
            raise ValueError("LDSSecurityObject version must be v0 (0) or v1 (1)")
        if self.hash_algorithm not in _DIGEST_SIZES:
            raise ValueError(f"unsupported hash algorithm {self.hash_algorithm!r}")
        has_info = self.lds_version is not None or self.unicode_version is not None
        if has_info != (self.version == 1):
            raise ValueError("ldsVersionInfo is present exactly when the version is v1")
        if self.lds_version is not None:
            _check_version_string(self.lds_version, 4, "ldsVersion")
        if self.unicode_version is not None:
            _check_version_string(self.unicode_version, 6, "unicodeVersion")
        if not 2 <= len(self.hashes) <= 16:
            raise ValueError("LDSSecurityObject holds 2 to 16 data group hashes")
        size = _DIGEST_SIZES[self.hash_algorithm]
        for number, digest in self.hashes.items():
            if not 1 <= number <= 16:
                raise ValueError(f"data group number {number} is outside 1..16")
            if len(digest) != size:
                raise ValueError(f"DG{number} hash is {len(digest)} bytes, {size} expected")

    @classmethod
    def build(
        cls,
        hash_algorithm: str,
        hashes: Mapping[int, bytes],
        lds_version: str | None = None,
        unicode_version: str | None = None,
    ) -> LdsSecurityObject:
        """Encode v1 when the version info is given, else v0; hashes in DG number order."""
        version = 0 if lds_version is None and unicode_version is None else 1
        cls(version, hash_algorithm, hashes, lds_version, unicode_version, b"")  # validate
        value: dict[str, Any] = {
            "version": version,
            # RFC 5754 §2: the SHA-2 AlgorithmIdentifier parameters are absent.
            "hash_algorithm": {"algorithm": oids.HASH_OIDS[hash_algorithm]},
            "data_group_hash_values": [
                {"data_group_number": n, "data_group_hash_value": bytes(h)}
                for n, h in sorted(hashes.items())
            ],
        }
        if version == 1:
            value["lds_version_info"] = {
                "lds_version": lds_version,
                "unicode_version": unicode_version,
            }
        der = asn1.LdsSecurityObject(value).dump()
        return cls(version, hash_algorithm, hashes, lds_version, unicode_version, der)

    @classmethod
    def from_bytes(cls, data: bytes) -> LdsSecurityObject:
        data = bytes(data)
        what = "LDSSecurityObject"
        v = asn1.load_strict(asn1.LdsSecurityObject, data, what)
        algorithm = v["hash_algorithm"]["algorithm"].dotted
        name = oids.HASH_NAMES.get(algorithm)
        if name is None:
            raise EncodingError(f"{what}: unsupported hash algorithm {oids.name_of(algorithm)}")
        params = v["hash_algorithm"]["parameters"]
        if not isinstance(params, core.Void) and params.dump() != b"\x05\x00":
            raise EncodingError(f"{what}: hash algorithm parameters must be absent or NULL")
        hashes: dict[int, bytes] = {}
        for item in v["data_group_hash_values"]:
            number = asn1.native_int(item["data_group_number"], f"{what}.dataGroupNumber")
            if number in hashes:
                raise EncodingError(f"{what}: DG{number} is hashed twice")
            hashes[number] = bytes(item["data_group_hash_value"].native)
        info = v["lds_version_info"]
        lds_version = unicode_version = None
        if not isinstance(info, core.Void):
            lds_version = str(info["lds_version"].native)
            unicode_version = str(info["unicode_version"].native)
        try:
            return cls(
                version=asn1.native_int(v["version"], f"{what}.version"),
                hash_algorithm=name,
                hashes=hashes,
                lds_version=lds_version,
                unicode_version=unicode_version,
                raw=data,
            )
        except ValueError as exc:
            raise EncodingError(f"{what}: {exc}") from exc

    def __bytes__(self) -> bytes:
        return self.raw

    def describe(self) -> dict[str, object]:
        return {
            "version": self.version,
            "hash_algorithm": self.hash_algorithm,
            "hashes": {f"DG{n}": h.hex().upper() for n, h in self.hashes.items()},
            "lds_version": self.lds_version,
            "unicode_version": self.unicode_version,
        }


@dataclass(frozen=True)
class SignerInfo:
    """One CMS SignerInfo of EF.SOD (RFC 5652 §5.3), with the bytes a verifier needs."""

    issuer: bytes | None  # DER Name of the IssuerAndSerialNumber sid
    serial_number: int | None
    subject_key_identifier: bytes | None  # the [0] SubjectKeyIdentifier sid form
    digest_algorithm: str  # OID
    signature_algorithm: str  # OID
    signature_algorithm_parameters: bytes | None  # DER (RSASSA-PSS parameters, ...)
    signed_attrs: bytes | None  # the DER SET OF Attribute *as signed* (tag 31)
    content_type: str | None  # the content-type signed attribute
    message_digest: bytes | None  # the message-digest signed attribute
    signature: bytes
    raw: bytes = field(repr=False, compare=True)

    @classmethod
    def _from_asn1(cls, si: cms.SignerInfo) -> SignerInfo:
        sid = si["sid"]
        issuer = serial = ski = None
        if sid.name == "issuer_and_serial_number":
            issuer = sid.chosen["issuer"].dump()
            serial = int(sid.chosen["serial_number"].native)
        else:
            ski = bytes(sid.chosen.native)
        sig_alg = si["signature_algorithm"]
        sig_params = sig_alg["parameters"]
        attrs = si["signed_attrs"]
        signed_attrs = content_type = digest = None
        if not isinstance(attrs, core.Void):
            # RFC 5652 §5.4: the signature covers the EXPLICIT SET OF encoding (tag 31).
            encoded = attrs.dump()
            signed_attrs = b"\x31" + encoded[1:]
            for attr in attrs:
                kind = attr["type"].dotted
                values = attr["values"]
                if len(values) != 1:
                    raise EncodingError(f"signed attribute {oids.name_of(kind)} needs one value")
                if kind == oids.CMS_CONTENT_TYPE:
                    content_type = values[0].dotted
                elif kind == oids.CMS_MESSAGE_DIGEST:
                    digest = bytes(values[0].native)
        return cls(
            issuer=issuer,
            serial_number=serial,
            subject_key_identifier=ski,
            digest_algorithm=si["digest_algorithm"]["algorithm"].dotted,
            signature_algorithm=sig_alg["algorithm"].dotted,
            signature_algorithm_parameters=(
                None if isinstance(sig_params, core.Void) else sig_params.dump()
            ),
            signed_attrs=signed_attrs,
            content_type=content_type,
            message_digest=digest,
            signature=bytes(si["signature"].native),
            raw=si.dump(),
        )

    def describe(self) -> dict[str, object]:
        return {
            "serial_number": self.serial_number,
            "subject_key_identifier": (
                self.subject_key_identifier.hex().upper() if self.subject_key_identifier else None
            ),
            "digest_algorithm": oids.name_of(self.digest_algorithm),
            "signature_algorithm": oids.name_of(self.signature_algorithm),
            "signed_attributes": self.signed_attrs is not None,
            "signature_length": len(self.signature),
        }


@dataclass(frozen=True)
class Sod:
    """EF.SOD: tag ``77`` around a CMS ContentInfo/SignedData over an LDSSecurityObject."""

    lds_security_object: LdsSecurityObject
    econtent: bytes  # the eContent octets exactly as signed (the LDSSecurityObject DER)
    econtent_type: str
    digest_algorithms: tuple[str, ...]
    signer_infos: tuple[SignerInfo, ...]
    certificates: tuple[bytes, ...]  # DER X.509 certificates embedded in SignedData
    content_info: bytes = field(repr=False)  # the ContentInfo DER inside tag 77
    raw: bytes = field(repr=False, compare=True)

    @classmethod
    def wrap(cls, content_info_der: bytes) -> Sod:
        """EF.SOD from an already-signed CMS ContentInfo (the PKI layer signs)."""
        return cls.from_bytes(tlv.encode(0x77, bytes(content_info_der)))

    @classmethod
    def from_bytes(cls, data: bytes) -> Sod:
        """Strict decode of a whole EF.SOD file; ``raw`` is ``data`` as read."""
        data = bytes(data)
        outer = tlv.decode_single(data, 0x77, what="EF.SOD")
        inner = tlv.decode_single(outer.value, 0x30, what="EF.SOD ContentInfo")
        with asn1.asn1_errors("EF.SOD"):
            parts = _parse_content_info(inner.raw)
        econtent, econtent_type, digests, signers, certs = parts
        return cls(
            lds_security_object=LdsSecurityObject.from_bytes(econtent),
            econtent=econtent,
            econtent_type=econtent_type,
            digest_algorithms=digests,
            signer_infos=signers,
            certificates=certs,
            content_info=inner.raw,
            raw=data,
        )

    def __bytes__(self) -> bytes:
        return self.raw

    def describe(self) -> dict[str, object]:
        return {
            "file": "EF.SOD",
            "length": len(self.raw),
            "econtent_type": oids.name_of(self.econtent_type),
            "lds_security_object": self.lds_security_object.describe(),
            "digest_algorithms": [oids.name_of(d) for d in self.digest_algorithms],
            "signers": [s.describe() for s in self.signer_infos],
            "certificates": [_describe_certificate(c) for c in self.certificates],
        }


def _parse_content_info(
    der: bytes,
) -> tuple[bytes, str, tuple[str, ...], tuple[SignerInfo, ...], tuple[bytes, ...]]:
    info = cms.ContentInfo.load(der, strict=True)
    if info["content_type"].dotted != oids.CMS_SIGNED_DATA:
        raise EncodingError("EF.SOD: ContentInfo is not signedData (9303-10 §4.6.2)")
    signed = info["content"]
    if not isinstance(signed, cms.SignedData):
        raise EncodingError("EF.SOD: signedData content is missing")
    encap = signed["encap_content_info"]
    econtent_type = encap["content_type"].dotted
    if econtent_type != oids.LDS_SECURITY_OBJECT:
        raise EncodingError(
            f"EF.SOD: eContentType is {econtent_type}, "
            f"{oids.LDS_SECURITY_OBJECT} (ldsSecurityObject) expected"
        )
    content = encap["content"]
    if isinstance(content, core.Void) or content.method != 0:
        raise EncodingError("EF.SOD: eContent must be a primitive OCTET STRING")
    econtent = bytes(content.contents)
    digests = tuple(a["algorithm"].dotted for a in signed["digest_algorithms"])
    signers = tuple(SignerInfo._from_asn1(si) for si in signed["signer_infos"])
    if not signers:
        raise EncodingError("EF.SOD: SignedData has no SignerInfo")
    certs: list[bytes] = []
    certificates = signed["certificates"]
    if not isinstance(certificates, core.Void):
        for choice in certificates:
            if choice.name == "certificate":
                certs.append(choice.chosen.dump())
    return econtent, econtent_type, digests, signers, tuple(certs)


def _describe_certificate(der: bytes) -> dict[str, object]:
    from asn1crypto import x509

    try:
        cert = x509.Certificate.load(der)
        return {
            "subject": cert.subject.human_friendly,
            "issuer": cert.issuer.human_friendly,
            "serial_number": int(cert.serial_number),
        }
    except Exception as exc:  # describe() must not fail on an odd certificate
        return {"error": f"unreadable certificate ({type(exc).__name__})"}
