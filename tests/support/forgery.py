"""Forged cards on cardkit's emulator (a test helper on the tests' path, tests/support: not a test).

A :class:`Lab` holds a trusted CSCA with its genuine Document Signer, plus the material of a
forger: a rogue DSC (same issuer name, signed by a key the CSCA never had), an expired DSC, a DSC
the CSCA revoked (listed in the trust store's CRL) and a DSC of a CSCA nobody trusts. Every
``forge_*`` function returns a :class:`Card`: the files and chip secrets to personalize, and the
check id that must FAIL. :func:`personalize_onto` puts one on an emulated chip with the real
personalization protocol (:func:`cardkit.services.personalize.personalize`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import unicodedata
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path

from asn1crypto import algos, cms, core
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID
from testpki import make_csca, make_dsc

from cardkit.emulator.card import EmulatedCard, EmulatorConnection
from cardkit.emulator.state import CardState
from cardkit.encoding import oids, tlv
from cardkit.errors import ProtocolError
from cardkit.iso7816.apdu import Command, Response
from cardkit.iso7816.connection import Connection
from cardkit.lds import files
from cardkit.lds.build import fit_face_for
from cardkit.lds.com import Com
from cardkit.lds.dg13 import Dg13
from cardkit.lds.image import FittedImage
from cardkit.pki import certs
from cardkit.pki.algorithms import CURVES
from cardkit.pki.crl import RevokedEntry, issue_crl
from cardkit.pki.keystore.transport import FileTransportKey
from cardkit.pki.signer import LocalSigner, SignatureScheme
from cardkit.pki.sod_sign import sign_sod
from cardkit.pki.trust import TrustStore
from cardkit.profile import Profile, load_profile
from cardkit.records import CitizenRecord, load_records, validate_all
from cardkit.records.model import NO_EXPIRY_TEXT
from cardkit.services.card_image import CardImage, ChipSecrets, private_key_der, secrets_aad
from cardkit.services.denylist import DenyEntry, DenyList
from cardkit.services.personalize import personalize
from cardkit.services.prepare import Issuer, prepare_card
from cardkit.services.read import STEP_CA, AccessKey
from cardkit.services.verify import Inspection, verify_card

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "profiles" / "samples"
TODAY = date(2026, 11, 1)  # the samples' reference day (profiles/samples/README.md)
T0 = datetime(2026, 1, 1, tzinfo=UTC)
SIGNED_AT = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
VERIFIED_AT = SIGNED_AT + timedelta(days=1)
SCHEME = SignatureScheme("sha256")


@dataclasses.dataclass(frozen=True)
class Card:
    """What goes on one chip: its files, its secrets, and the check that must FAIL (None for a
    genuine card)."""

    name: str
    files: dict[files.FileSpec, bytes]
    secrets: ChipSecrets
    expected_failure: str | None
    also_failing: tuple[str, ...] = ()
    #: What stands between the reader and the chip (a man in the middle), None: nothing.
    relay: Callable[[Connection], Connection] | None = None
    #: The officer holds the MRZ (not the CAN): needed to see a downgrade to BAC at all.
    use_mrz: bool = False
    deny_list: DenyList | None = None
    today: date = TODAY

    def key(self) -> AccessKey:
        """The CAN when the card has one (PACE) and the officer uses it, else the MRZ key."""
        if self.secrets.can and not self.use_mrz:
            return AccessKey.from_can(self.secrets.can)
        return self.mrz_key()

    def mrz_key(self) -> AccessKey:
        s = self.secrets
        return AccessKey.from_mrz_fields(s.document_number, s.date_of_birth, s.date_of_expiry)

    def verify(self, connection: Connection, trust: TrustStore) -> Inspection:
        """The checkpoint's inspection of this card on ``connection`` (through its relay)."""
        if self.relay is not None:
            connection = self.relay(connection)
        return verify_card(
            connection,
            self.key(),
            trust,
            at=VERIFIED_AT,
            today=self.today,
            deny_list=self.deny_list,
        )


def _dsc(
    ca_signer: LocalSigner, ca: x509.Certificate, name: str, *, not_after: datetime
) -> tuple[LocalSigner, x509.Certificate]:
    return make_dsc(ca_signer, ca, name, not_after=not_after, key_id=f"file:{name}.pem")


_csca = make_csca


class Lab:
    """A trusted PKI and a forger's material (module docstring)."""

    def __init__(self) -> None:
        csca_signer, self.csca = _csca("CSCA VN forgery test")
        self.csca_signer = csca_signer
        far = T0 + timedelta(days=5000)
        self.dsc_signer, self.dsc = _dsc(csca_signer, self.csca, "DS VN genuine", not_after=far)
        # Expired: its validity ended before the SOD was signed (SIGNED_AT).
        self.expired_signer, self.expired_dsc = _dsc(
            csca_signer, self.csca, "DS VN expired", not_after=T0 + timedelta(days=30)
        )
        self.revoked_signer, self.revoked_dsc = _dsc(
            csca_signer, self.csca, "DS VN revoked", not_after=far
        )
        crl = issue_crl(
            csca_signer,
            self.csca,
            [
                RevokedEntry(
                    self.revoked_dsc.serial_number,
                    T0 + timedelta(days=200),
                    "keyCompromise",
                )
            ],
            crl_number=1,
            this_update=T0 + timedelta(days=200),
            next_update=T0 + timedelta(days=2000),
            scheme=SCHEME,
        )
        # Rogue: a CSCA of the same name that the verifier does not have, issuing a DSC.
        rogue_signer, rogue_csca = _csca("CSCA VN forgery test")
        self.rogue_signer, self.rogue_dsc = _dsc(
            rogue_signer, rogue_csca, "DS VN genuine", not_after=far
        )
        # Untrusted: a CSCA of another name, not in the trust store.
        other_signer, other_csca = _csca("CSCA XX untrusted")
        self.untrusted_signer, self.untrusted_dsc = _dsc(
            other_signer, other_csca, "DS XX", not_after=far
        )
        # Certificates of the State's PKI in the wrong role (9303-12 §7.1.1 Table 7).
        ml_key = ec.generate_private_key(ec.SECP256R1())
        self.ml_signer = LocalSigner(ml_key, "file:mls.pem")
        self.ml_cert = certs.issue_master_list_signer(
            csca_signer,
            self.csca,
            ml_key.public_key(),
            common_name="ML VN forgery test",
            serial=certs.new_serial_number(),
            not_before=T0,
            not_after=far,
            private_key_usage_end=far,
            scheme=SCHEME,
        )
        self.transport = FileTransportKey("tk-forgery-test", AESGCM(os.urandom(32)))
        self.issuer = Issuer(self.dsc_signer, self.dsc, self.transport)
        self.trust = TrustStore((self.csca,), (crl,))

    # --- genuine cards -------------------------------------------------------------------------

    def image(self, profile: Profile, row: int = 0) -> CardImage:
        records = sample_records()
        index = row % len(records)
        return prepare_card(
            records[index],
            profile,
            self.issuer,
            card_id=f"forgery-{row:05d}",
            photo=fitted_face(index),
            signing_time=SIGNED_AT,
        )

    def secrets(self, image: CardImage) -> ChipSecrets:
        return ChipSecrets.from_bytes(
            self.transport.decrypt(image.sealed, secrets_aad(image.card_id, image.sod))
        )

    def genuine(self, profile: Profile | None = None, row: int = 0) -> Card:
        image = self.image(profile or vn_profile(), row)
        return Card("genuine", dict(image.files), self.secrets(image), None)

    def write_trust(self, folder: Path) -> Path:
        """The lab's trust anchors as a `--trust` folder: the CSCA (PEM) and its CRLs (DER)."""
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "csca.pem").write_bytes(self.csca.public_bytes(serialization.Encoding.PEM))
        for i, crl in enumerate(self.trust.crls):
            (folder / f"csca-{i}.crl").write_bytes(crl.public_bytes(serialization.Encoding.DER))
        return folder

    def resign(
        self, card_files: dict[files.FileSpec, bytes], signer: LocalSigner, dsc: x509.Certificate
    ) -> bytes:
        groups = {s.dg: d for s, d in card_files.items() if s.dg is not None}
        return bytes(sign_sod(groups, signer, dsc, signing_time=SIGNED_AT, scheme=SCHEME))

    def signer_cert(
        self,
        name: str,
        *,
        key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | None = None,
        issuer: tuple[ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, x509.Certificate]
        | None = None,
        key_usage: x509.KeyUsage | None = None,
        ca: bool | None = None,
        purposes: tuple[str, ...] = (),
        hash_algorithm: hashes.HashAlgorithm | None = None,
        critical_extra: x509.ExtensionType | None = None,
    ) -> tuple[LocalSigner, x509.Certificate]:
        """A certificate for an SOD signer, issued by the trusted CSCA (or ``issuer``), with
        exactly the extensions a forgery needs (built with cryptography, not cardkit's issuer,
        which refuses to make such certificates)."""
        subject_key = key if key is not None else ec.generate_private_key(ec.SECP256R1())
        issuer_key, issuer_cert = issuer or (self.csca_private_key, self.csca)
        builder = (
            x509.CertificateBuilder()
            .subject_name(
                x509.Name(
                    [
                        x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
                        x509.NameAttribute(NameOID.COMMON_NAME, name),
                    ]
                )
            )
            .issuer_name(issuer_cert.subject)
            .public_key(subject_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(T0)
            .not_valid_after(T0 + timedelta(days=4000))
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                critical=False,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(subject_key.public_key()), critical=False
            )
        )
        if key_usage is not None:
            builder = builder.add_extension(key_usage, critical=True)
        if ca is not None:
            builder = builder.add_extension(
                x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True
            )
        if purposes:
            eku = x509.ExtendedKeyUsage([x509.ObjectIdentifier(p) for p in purposes])
            builder = builder.add_extension(eku, critical=True)
        if critical_extra is not None:
            builder = builder.add_extension(critical_extra, critical=True)
        cert = builder.sign(issuer_key, hash_algorithm or hashes.SHA256())
        return LocalSigner(subject_key, f"file:{name}.pem"), cert

    @property
    def csca_private_key(self) -> ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey:
        return self.csca_signer.private_key


@lru_cache(maxsize=1)
def vn_profile() -> Profile:
    return load_profile("vn-cccd-2021")


@lru_cache(maxsize=1)
def sample_records() -> tuple[CitizenRecord, ...]:
    results = validate_all(load_records(SAMPLES / "citizens.csv"), vn_profile(), TODAY)
    return tuple(r.record for r in results if r.record is not None)


@lru_cache(maxsize=8)
def fitted_face(index: int) -> FittedImage:
    return fit_face_for(sample_records()[index].photo_path.read_bytes(), vn_profile())


# --- The forgeries -------------------------------------------------------------------------------


def forge_dg_byte_changed(lab: Lab) -> Card:
    """One byte of the face image changed after signing."""
    card = lab.genuine(row=0)
    dg2 = bytearray(card.files[files.dg(2)])
    dg2[len(dg2) // 2] ^= 0x01
    new = {**card.files, files.dg(2): bytes(dg2)}
    return dataclasses.replace(
        card, name="dg-byte-changed", files=new, expected_failure="dg.hash.2"
    )


def forge_dg_swapped(lab: Lab) -> Card:
    """DG2 (the face) taken from another citizen's genuine card, signed by the same DSC."""
    card = lab.genuine(row=0)
    other = lab.image(vn_profile(), row=3)
    new = {**card.files, files.dg(2): other.files[files.dg(2)]}
    return dataclasses.replace(card, name="dg-swapped", files=new, expected_failure="dg.hash.2")


def _altered_dg13(card: Card) -> dict[files.FileSpec, bytes]:
    """DG13 with another full name (the forger's goal), everything else untouched."""
    return _dg13_with(card, full_name="Trần Thị Giả")


def _resigned(
    lab: Lab, card: Card, signer: LocalSigner, dsc: x509.Certificate, name: str, check: str
) -> Card:
    new = _altered_dg13(card) if name == "rogue-dsc" else dict(card.files)
    new[files.SOD] = lab.resign(new, signer, dsc)
    return dataclasses.replace(card, name=name, files=new, expected_failure=check)


def forge_rogue_dsc(lab: Lab) -> Card:
    """DG13 altered and EF.SOD re-signed by a DSC of a look-alike CSCA (same name, other key)."""
    return _resigned(lab, lab.genuine(), lab.rogue_signer, lab.rogue_dsc, "rogue-dsc", "dsc.chain")


def forge_expired_dsc(lab: Lab) -> Card:
    """EF.SOD signed after its DSC expired."""
    return _resigned(
        lab, lab.genuine(), lab.expired_signer, lab.expired_dsc, "expired-dsc", "dsc.validity"
    )


def forge_revoked_dsc(lab: Lab) -> Card:
    """EF.SOD signed by a DSC its CSCA has revoked (on the trust store's CRL)."""
    return _resigned(
        lab, lab.genuine(), lab.revoked_signer, lab.revoked_dsc, "revoked-dsc", "dsc.revocation"
    )


def forge_untrusted_csca(lab: Lab) -> Card:
    """EF.SOD signed by a DSC of a CSCA the verifier does not trust."""
    return _resigned(
        lab, lab.genuine(), lab.untrusted_signer, lab.untrusted_dsc, "untrusted-csca", "dsc.chain"
    )


def forge_clone_without_keys(lab: Lab) -> Card:
    """The genuine files on a chip with other chip-authentication and AA keys (a clone: the
    forger copied the files but cannot extract the private keys)."""
    card = lab.genuine()
    access = vn_profile().access
    # Keys on the same curves as the genuine ones: the chip runs the protocols, with wrong keys.
    ca = ec.generate_private_key(CURVES[access.chip_authentication_curve]())
    aa = ec.generate_private_key(CURVES[access.active_authentication_curve]())
    secrets = dataclasses.replace(
        card.secrets,
        chip_authentication_key=private_key_der(ca),
        active_authentication_key=private_key_der(aa),
    )
    return dataclasses.replace(
        card,
        name="clone-without-keys",
        secrets=secrets,
        expected_failure="chip.authentication",
        also_failing=("active.authentication",),
    )


def forge_dg13_contradicts_dg1(lab: Lab) -> Card:
    """DG13 with another name than DG1, validly signed (an insider or an issuing error)."""
    card = lab.genuine()
    new = _altered_dg13(card)
    new[files.SOD] = lab.resign(new, lab.dsc_signer, lab.dsc)
    return dataclasses.replace(
        card, name="dg13-contradicts-dg1", files=new, expected_failure="dg13.dg1"
    )


def forge_com_lists_unsigned_dg(lab: Lab) -> Card:
    """EF.COM lists DG11, which the SOD does not cover (a data group slipped in)."""
    card = lab.genuine()
    com = Com.from_bytes(card.files[files.COM])
    forged = Com.build(com.lds_version, com.unicode_version, (*com.data_groups, 11))
    new = {**card.files, files.COM: bytes(forged)}
    return dataclasses.replace(
        card, name="com-lists-unsigned-dg", files=new, expected_failure="com.consistency"
    )


# --- The signer's role (9303-12 §5, §7.1.1 Table 7) ----------------------------------------------

_DS_USAGE = x509.KeyUsage(True, False, False, False, False, False, False, False, False)
_CA_USAGE = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
_DS_AND_CA_USAGE = x509.KeyUsage(True, False, False, False, False, True, False, False, False)


def custom_sod(
    groups: dict[int, bytes],
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
    cert: x509.Certificate,
    *,
    dg_hash: str = "sha256",
    digest: str = "sha256",
    extra_certificates: tuple[x509.Certificate, ...] = (),
) -> bytes:
    """EF.SOD built by hand (asn1crypto), as a forger with any hash would: cardkit's own signer
    refuses SHA-1 and embeds one certificate only. ICAO 9303-10 §4.6.2, RFC 5652 §5."""

    def integer(value: int) -> bytes:
        return core.Integer(value).dump()

    hash_ids = {"sha1": oids.SHA1, "sha256": oids.SHA256}
    lso = tlv.encode(
        0x30,
        integer(0)
        + tlv.encode(0x30, oids.der(hash_ids[dg_hash]))
        + tlv.encode(
            0x30,
            b"".join(
                tlv.encode(0x30, integer(n) + tlv.encode(0x04, hashlib.new(dg_hash, d).digest()))
                for n, d in sorted(groups.items())
            ),
        ),
    )
    attrs = cms.CMSAttributes(
        [
            {"type": "content_type", "values": [oids.LDS_SECURITY_OBJECT]},
            {"type": "message_digest", "values": [hashlib.new(digest, lso).digest()]},
            {"type": "signing_time", "values": [cms.Time({"utc_time": SIGNED_AT})]},
        ]
    )
    hash_algorithm = {"sha1": hashes.SHA1(), "sha256": hashes.SHA256()}[digest]
    if isinstance(key, ec.EllipticCurvePrivateKey):
        signature = key.sign(attrs.dump(), ec.ECDSA(hash_algorithm))
        algorithm = f"{digest}_ecdsa"
    else:
        signature = key.sign(attrs.dump(), padding.PKCS1v15(), hash_algorithm)
        algorithm = f"{digest}_rsa"

    def asn1_cert(c: x509.Certificate) -> object:
        from asn1crypto import x509 as asn1_x509

        return asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER))

    signer_cert = asn1_cert(cert)
    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                {
                    "issuer_and_serial_number": cms.IssuerAndSerialNumber(
                        {
                            "issuer": signer_cert["tbs_certificate"]["issuer"],  # type: ignore[index]
                            "serial_number": cert.serial_number,
                        }
                    )
                }
            ),
            "digest_algorithm": algos.DigestAlgorithm({"algorithm": digest}),
            "signed_attrs": attrs,
            "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": algorithm}),
            "signature": signature,
        }
    )
    signed_data = cms.SignedData(
        {
            "version": "v3",
            "digest_algorithms": [algos.DigestAlgorithm({"algorithm": digest})],
            "encap_content_info": {"content_type": oids.LDS_SECURITY_OBJECT, "content": lso},
            "certificates": [signer_cert, *(asn1_cert(c) for c in extra_certificates)],
            "signer_infos": [signer_info],
        }
    )
    content_info = cms.ContentInfo({"content_type": "signed_data", "content": signed_data})
    return tlv.encode(0x77, content_info.dump())


def _groups(card: Card) -> dict[int, bytes]:
    return {spec.dg: data for spec, data in card.files.items() if spec.dg is not None}


def _signed_by(
    lab: Lab,
    name: str,
    signer: LocalSigner,
    cert: x509.Certificate,
    check: str,
    *also: str,
) -> Card:
    card = lab.genuine()
    new = {**card.files, files.SOD: lab.resign(card.files, signer, cert)}
    return dataclasses.replace(
        card, name=name, files=new, expected_failure=check, also_failing=also
    )


def forge_sod_signed_by_csca(lab: Lab) -> Card:
    """EF.SOD signed with the CSCA's own key and certificate: a CA signing documents."""
    return _signed_by(
        lab,
        "sod-signed-by-csca",
        lab.csca_signer,
        lab.csca,
        "dsc.role",
        "dsc.key_usage",
        "dsc.basic_constraints",
    )


def forge_sod_signed_by_master_list_signer(lab: Lab) -> Card:
    """EF.SOD signed by the State's master-list signer (EKU 2.23.136.1.1.3)."""
    return _signed_by(
        lab,
        "sod-signed-by-ml-signer",
        lab.ml_signer,
        lab.ml_cert,
        "dsc.extended_key_usage",
        "dsc.role",
    )


def forge_dsc_with_key_cert_sign(lab: Lab) -> Card:
    """A 'DSC' whose KeyUsage also allows signing certificates."""
    signer, cert = lab.signer_cert("DS VN keyCertSign", key_usage=_DS_AND_CA_USAGE)
    return _signed_by(lab, "dsc-key-cert-sign", signer, cert, "dsc.key_usage")


def forge_dsc_is_a_ca(lab: Lab) -> Card:
    """A 'DSC' with BasicConstraints cA TRUE."""
    signer, cert = lab.signer_cert("DS VN CA", key_usage=_DS_USAGE, ca=True)
    return _signed_by(lab, "dsc-is-a-ca", signer, cert, "dsc.basic_constraints", "dsc.role")


def forge_dsc_without_key_usage(lab: Lab) -> Card:
    """A 'DSC' without the mandatory KeyUsage extension."""
    signer, cert = lab.signer_cert("DS VN no KU")
    return _signed_by(lab, "dsc-without-key-usage", signer, cert, "dsc.key_usage")


def forge_dsc_deviation_list_signer(lab: Lab) -> Card:
    """EF.SOD signed by a deviation-list signer (EKU 2.23.136.1.1.8)."""
    signer, cert = lab.signer_cert(
        "DL VN", key_usage=_DS_USAGE, purposes=(oids.DEVIATION_LIST_SIGNING_KEY,)
    )
    return _signed_by(lab, "dsc-deviation-list-signer", signer, cert, "dsc.extended_key_usage")


def forge_dsc_unknown_critical_extension(lab: Lab) -> Card:
    """A DSC with a critical extension no verifier knows (RFC 5280 §4.2: reject it)."""
    unknown = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"\x05\x00")
    signer, cert = lab.signer_cert("DS VN odd", key_usage=_DS_USAGE, critical_extra=unknown)
    return _signed_by(
        lab, "dsc-unknown-critical-extension", signer, cert, "dsc.critical_extensions"
    )


def forge_dsc_under_intermediate_ca(lab: Lab) -> Card:
    """A DSC issued by an intermediate CA that the CSCA certified (the SOD carries both):
    9303-12 allows no CA between the CSCA and the Document Signer."""
    intermediate_key = ec.generate_private_key(ec.SECP256R1())
    _, intermediate = lab.signer_cert(
        "CSCA VN sub", key=intermediate_key, key_usage=_CA_USAGE, ca=True
    )
    signer, cert = lab.signer_cert(
        "DS VN under sub", key_usage=_DS_USAGE, issuer=(intermediate_key, intermediate)
    )
    card = lab.genuine()
    sod = custom_sod(_groups(card), signer.private_key, cert, extra_certificates=(intermediate,))
    return dataclasses.replace(
        card,
        name="dsc-under-intermediate-ca",
        files={**card.files, files.SOD: sod},
        expected_failure="dsc.issuer",
        also_failing=("dsc.chain",),
    )


# --- Weak algorithms (the default policy: SHA-224+, RSA >= 2048, EC >= 224) -----------------------


def _weak(lab: Lab, name: str, check: str, **kwargs: str) -> Card:
    card = lab.genuine()
    sod = custom_sod(_groups(card), lab.dsc_signer.private_key, lab.dsc, **kwargs)
    return dataclasses.replace(
        card, name=name, files={**card.files, files.SOD: sod}, expected_failure=check
    )


def forge_sha1_data_group_hashes(lab: Lab) -> Card:
    """Data-group hashes in SHA-1 (everything else genuine and validly signed)."""
    return _weak(lab, "sha1-dg-hashes", "algorithm.dg_hash", dg_hash="sha1")


def forge_sha1_sod_signature(lab: Lab) -> Card:
    """EF.SOD signed with ecdsa-with-SHA1 over a SHA-1 messageDigest."""
    return _weak(lab, "sha1-sod-signature", "algorithm.sod_signature", digest="sha1")


def forge_rsa_1024_dsc(lab: Lab) -> Card:
    """A Document Signer with an RSA-1024 key."""
    signer, cert = lab.signer_cert(
        "DS VN RSA-1024", key_usage=_DS_USAGE, key=rsa.generate_private_key(65537, 1024)
    )
    card = lab.genuine()
    sod = custom_sod(_groups(card), signer.private_key, cert)
    return dataclasses.replace(
        card,
        name="rsa-1024-dsc",
        files={**card.files, files.SOD: sod},
        expected_failure="algorithm.dsc_key",
    )


def forge_dsc_signed_with_sha1(lab: Lab) -> Card:
    """A Document Signer certificate the CSCA signed with ecdsa-with-SHA1 (re-signed by hand:
    cryptography's builder refuses SHA-1)."""
    from asn1crypto import x509 as asn1_x509

    signer, cert = lab.signer_cert("DS VN SHA-1", key_usage=_DS_USAGE)
    parsed = asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    tbs = parsed["tbs_certificate"]
    tbs["signature"] = algos.SignedDigestAlgorithm({"algorithm": "sha1_ecdsa"})
    key = lab.csca_private_key
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    signature = key.sign(tbs.dump(force=True), ec.ECDSA(hashes.SHA1()))
    weak = asn1_x509.Certificate(
        {
            "tbs_certificate": tbs,
            "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "sha1_ecdsa"}),
            "signature_value": signature,
        }
    )
    sha1_cert = x509.load_der_x509_certificate(weak.dump())
    return _signed_by(lab, "dsc-signed-with-sha1", signer, sha1_cert, "algorithm.dsc_signature")


# --- Downgrades and stripped protocols (9303-11 §4.2, §6) -----------------------------------------


class RefusePace:
    """A man in the middle (or a chip) that answers PACE's MSE:Set AT with 6A80, so that a
    reader falls back to BAC (9303-11 §4.4.4.1: MSE:Set AT is ``00 22 C1 A4``)."""

    def __init__(self, inner: Connection) -> None:
        self.inner = inner

    def send(self, command: Command) -> Response:
        if (command.ins, command.p1, command.p2) == (0x22, 0xC1, 0xA4):
            return Response(b"", 0x6A80)
        return self.inner.send(command)


def forge_pace_refused(lab: Lab) -> Card:
    """The chip (or a relay) refuses MSE:Set AT: the reader falls back to BAC although
    EF.CardAccess and the signed DG14 list PACE."""
    return dataclasses.replace(
        lab.genuine(),
        name="pace-refused",
        relay=RefusePace,
        use_mrz=True,
        expected_failure="chip.access",
        also_failing=("profile.pace",),
    )


def forge_card_access_hidden(lab: Lab) -> Card:
    """The chip hides EF.CardAccess (6A82): a BAC read, while the signed DG14 lists PACE."""
    card = lab.genuine()
    new = {spec: data for spec, data in card.files.items() if spec != files.CARD_ACCESS}
    return dataclasses.replace(
        card,
        name="card-access-hidden",
        files=new,
        use_mrz=True,
        expected_failure="chip.access",
        also_failing=("profile.pace",),
    )


def forge_chip_authentication_stripped(lab: Lab) -> Card:
    """The genuine files on a chip that has no chip-authentication key (it cannot run CA)."""
    card = lab.genuine()
    secrets = dataclasses.replace(card.secrets, chip_authentication_key=None)
    return dataclasses.replace(
        card,
        name="ca-stripped",
        secrets=secrets,
        expected_failure="chip.authentication",
        also_failing=("profile.chip_authentication",),
    )


def forge_active_authentication_stripped(lab: Lab) -> Card:
    """The genuine files on a chip that has no active-authentication key."""
    card = lab.genuine()
    secrets = dataclasses.replace(card.secrets, active_authentication_key=None)
    return dataclasses.replace(
        card,
        name="aa-stripped",
        secrets=secrets,
        expected_failure="active.authentication",
        also_failing=("profile.active_authentication",),
    )


# --- The card's content ---------------------------------------------------------------------------


def _dg13_with(card: Card, **changes: str) -> dict[files.FileSpec, bytes]:
    dg13 = Dg13.from_bytes(card.files[files.dg(13)])
    fields = {name: getattr(dg13, name) for name in _DG13_FIELDS}
    fields.update(changes)
    return {**card.files, files.dg(13): bytes(Dg13.build(**fields))}


_DG13_FIELDS = (
    "id_number",
    "full_name",
    "date_of_birth",
    "sex",
    "nationality",
    "ethnicity",
    "religion",
    "place_of_origin",
    "place_of_residence",
    "identifying_marks",
    "date_of_issue",
    "date_of_expiry",
    "father_name",
    "mother_name",
    "spouse_name",
    "old_id_number",
)


def forge_dg13_never_expires(lab: Lab) -> Card:
    """DG13 says "Không thời hạn" while DG1 has a date of expiry (validly signed: an insider)."""
    card = lab.genuine()
    new = _dg13_with(card, date_of_expiry=NO_EXPIRY_TEXT)
    new[files.SOD] = lab.resign(new, lab.dsc_signer, lab.dsc)
    return dataclasses.replace(
        card, name="dg13-never-expires", files=new, expected_failure="dg13.expiry"
    )


def forge_expired_but_dg13_never_expires(lab: Lab) -> Card:
    """The same card inspected after DG1's date of expiry: DG13's "Không thời hạn" must not
    keep it valid."""
    card = forge_dg13_never_expires(lab)
    expiry = date(
        2000 + int(card.secrets.date_of_expiry[:2]),
        int(card.secrets.date_of_expiry[2:4]),
        int(card.secrets.date_of_expiry[4:]),
    )
    return dataclasses.replace(
        card,
        name="expired-dg13-never-expires",
        today=expiry + timedelta(days=1),
        expected_failure="document.expiry",
        also_failing=("dg13.expiry",),
    )


def _full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in text)


#: The ways people write a listed number (issue 11 §8): each must still match.
DENY_SPELLINGS: dict[str, Callable[[CitizenRecord], str]] = {
    "id-spaces": lambda r: " ".join(
        (r.id_number[:3], r.id_number[3:6], r.id_number[6:9], r.id_number[9:])
    ),
    "id-leading-zeros-dropped": lambda r: r.id_number.lstrip("0"),
    "id-nbsp-and-dots": lambda r: f"{r.id_number[:3]}\u00a0{r.id_number[3:6]}.{r.id_number[6:]}",
    "id-full-width": lambda r: _full_width(r.id_number),
    "document-number-hyphens": lambda r: f"{r.id_number[3:6]}-{r.id_number[6:9]}-{r.id_number[9:]}",
    "document-number-mrz-fillers": lambda r: r.id_number[3:] + "<<<",
    "old-id-number": lambda r: r.old_id_number or "",
}


def forge_deny_listed(lab: Lab, spelling: str) -> Card:
    """A genuine card whose number is on the deny list, written as ``spelling`` says."""
    record = sample_records()[0]
    number = unicodedata.normalize("NFC", DENY_SPELLINGS[spelling](record))
    deny = DenyList.of([DenyEntry(number, "reported stolen")], source="test")
    return dataclasses.replace(
        lab.genuine(),
        name=f"deny-listed-{spelling}",
        deny_list=deny,
        expected_failure="document.denylist",
    )


def _deny_forgery(spelling: str) -> Callable[[Lab], Card]:
    def make(lab: Lab) -> Card:
        return forge_deny_listed(lab, spelling)

    make.__name__ = f"forge_deny_listed_{spelling.replace('-', '_')}"
    make.__doc__ = f"A genuine card on the deny list, its number written {spelling}."
    return make


FORGERIES: tuple[Callable[[Lab], Card], ...] = (
    forge_dg_byte_changed,
    forge_dg_swapped,
    forge_rogue_dsc,
    forge_expired_dsc,
    forge_revoked_dsc,
    forge_untrusted_csca,
    forge_clone_without_keys,
    forge_dg13_contradicts_dg1,
    forge_com_lists_unsigned_dg,
    forge_sod_signed_by_csca,
    forge_sod_signed_by_master_list_signer,
    forge_dsc_with_key_cert_sign,
    forge_dsc_is_a_ca,
    forge_dsc_without_key_usage,
    forge_dsc_deviation_list_signer,
    forge_dsc_unknown_critical_extension,
    forge_dsc_under_intermediate_ca,
    forge_sha1_data_group_hashes,
    forge_sha1_sod_signature,
    forge_rsa_1024_dsc,
    forge_dsc_signed_with_sha1,
    forge_pace_refused,
    forge_card_access_hidden,
    forge_chip_authentication_stripped,
    forge_active_authentication_stripped,
    forge_dg13_never_expires,
    forge_expired_but_dg13_never_expires,
    *(_deny_forgery(spelling) for spelling in DENY_SPELLINGS),
)


# --- Onto a chip ---------------------------------------------------------------------------------


def personalize_onto(card: Card, connection: Connection, profile: Profile | None = None) -> None:
    """Write ``card`` with the personalization protocol and lock it. The read-back verdict is
    ignored: a forged card is *meant* to fail it."""
    image = CardImage(
        card_id=card.name,
        profile=(profile or vn_profile()).name,
        files=card.files,
        sealed=b"",
        transport_key_id="none",
    )
    try:
        personalize(
            connection,
            image,
            card.secrets,
            profile or vn_profile(),
            trust=None,
            clock=lambda: VERIFIED_AT,
        )
    except ProtocolError as exc:
        # Only the read-back may fail so (a clone fails chip authentication): by then the card
        # is written and locked.
        if exc.step != STEP_CA:
            raise


def emulated(card: Card, profile: Profile | None = None) -> EmulatedCard:
    """A locked in-process emulated chip holding ``card``."""
    chip = EmulatedCard()
    personalize_onto(card, EmulatorConnection(chip), profile)
    return chip


def save_state(card: Card, path: Path, profile: Profile | None = None) -> Path:
    """Personalize ``card`` in process and save the chip to ``path`` (a state file for
    ``cardkit emulator start --state``)."""
    state = CardState()
    personalize_onto(card, EmulatorConnection(EmulatedCard(state)), profile)
    state.save(path)
    return path


class ChipReader:
    """What `open_reader` gives, for a chip in process: a T=1 connection with the chip's ATR
    (CLI tests substitute it for the PC/SC reader)."""

    def __init__(self, chip: EmulatedCard) -> None:
        self.inner = EmulatorConnection(chip)
        self.protocol = "T=1"
        self.atr = chip.atr

    def send(self, command: Command) -> Response:
        return self.inner.send(command)
