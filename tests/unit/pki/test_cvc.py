"""Tests for cardkit.pki.cvc: CV certificates and requests (BSI TR-03110-3 appendices C and D).

Known answers are published test certificates (sources next to each); signatures are
cross-checked with OpenSSL (``openssl dgst``) in both directions; every decoder is fed
random, truncated and bit-flipped input.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import SupportsBytes

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from hypothesis import given
from hypothesis import strategies as st
from requirements import unavailable

from cardkit.encoding import oids, tlv
from cardkit.errors import EncodingError, PkiError
from cardkit.pki import cvc
from cardkit.pki.algorithms import generate_private_key
from cardkit.pki.cvc import (
    Certificate,
    CertificateBody,
    CertificateReference,
    CertificateRequest,
    Chat,
    EcDomainParameters,
    EcPublicKey,
    Extension,
    RequestBody,
    Role,
    RsaPublicKey,
)
from cardkit.pki.signer import LocalSigner, PublicKey, SignatureScheme

# --- Published certificates ---------------------------------------------------------------------

# The German eID test PKI's CVCA DETESTeID00004 (self-signed, brainpoolP256r1, ECDSA-SHA-256,
# CHAT id-AT FC0F13FFFF), as published in PersoSim's test suite:
# PersoSim/de.persosim.simulator, de.persosim.simulator.test/src/de/persosim/simulator/crypto/
# certificates/CardVerifiableCertificateTest.java (cvCertDETESTeID00004FullData).
DETESTEID00004 = bytes.fromhex(
    "7F218201B67F4E82016E5F290100420E44455445535465494430303030347F4982011D060A04007F0007020202"
    "02038120A9FB57DBA1EEA9BC3E660A909D838D726E3BF623D52620282013481D1F6E537782207D5A0975FC2C30"
    "57EEF67530417AFFE7FB8055C126DC5C6CE94A4B44F330B5D9832026DC5C6CE94A4B44F330B5D9BBD77CBF9584"
    "16295CF7E1CE6BCCDC18FF8C07B68441048BD2AEB9CB7E57CB2C4B482FFC81B7AFB9DE27E1E3BD23C23A4453BD"
    "9ACE3262547EF835C3DAC4FD97F8461A14611DC9C27745132DED8E545C1D54C72F0469978520A9FB57DBA1EEA9"
    "BC3E660A909D838D718C397AA3B561A6F7901E0E82974856A786410474FF63AB838C73C303AC003DFEE95CF8BF"
    "55F91E8FEBCB7395D942036E47CF1845EC786EC95BB453AAC288AD023B6067913CF9B63F908F49304E5CFC8B30"
    "50DD8701015F200E44455445535465494430303030347F4C12060904007F0007030102025305FC0F13FFFF5F25"
    "060102000501015F24060105000501015F37408CAC3E842EB053EE10E9D57FB373FF4E9C36D1EDF966D6535978"
    "D498309B00D59C51D83965F4B1C75557FA6B6CA03D360A782B9BC172CE391623D6BB48B9B1AA"
)
# The same certificate with a certificate extension 65 { 73 { 06 …, 42 … } } inserted and the
# signature left as it was (same PersoSim test, certDataWithExtensions): decodes, keeps the
# extension byte-exact, and no longer verifies since the extension is inside the signed body.
DETESTEID00004_WITH_EXTENSION = bytes.fromhex(
    "7F218201D27F4E82018A5F290100420E44455445535465494430303030347F4982011D060A04007F0007020202"
    "02038120A9FB57DBA1EEA9BC3E660A909D838D726E3BF623D52620282013481D1F6E537782207D5A0975FC2C30"
    "57EEF67530417AFFE7FB8055C126DC5C6CE94A4B44F330B5D9832026DC5C6CE94A4B44F330B5D9BBD77CBF9584"
    "16295CF7E1CE6BCCDC18FF8C07B68441048BD2AEB9CB7E57CB2C4B482FFC81B7AFB9DE27E1E3BD23C23A4453BD"
    "9ACE3262547EF835C3DAC4FD97F8461A14611DC9C27745132DED8E545C1D54C72F0469978520A9FB57DBA1EEA9"
    "BC3E660A909D838D718C397AA3B561A6F7901E0E82974856A786410474FF63AB838C73C303AC003DFEE95CF8BF"
    "55F91E8FEBCB7395D942036E47CF1845EC786EC95BB453AAC288AD023B6067913CF9B63F908F49304E5CFC8B30"
    "50DD8701015F200E44455445535465494430303030347F4C12060904007F0007030102025305FC0F13FFFF5F25"
    "060102000501015F2406010500050101651A7318060A04007F00070301020201420A001122334455667788995F"
    "37408CAC3E842EB053EE10E9D57FB373FF4E9C36D1EDF966D6535978D498309B00D59C51D83965F4B1C75557FA"
    "6B6CA03D360A782B9BC172CE391623D6BB48B9B1AA"
)
# An eMRTD CVCA: DEISCVCA00001, CHAT id-IS E3 (CVCA, read DG3 and DG4), brainpoolP256r1,
# self-signed with ECDSA-SHA-256. PersoSim/de.persosim.simulator,
# de.persosim.simulator.test/src/de/persosim/simulator/protocols/pace/AbstractPaceProtocolTest.java
# (cvcaIsData).
DEISCVCA00001 = bytes.fromhex(
    "7F218201B07F4E8201685F290100420D444549534356434130303030317F4982011D060A04007F000702020202"
    "038120A9FB57DBA1EEA9BC3E660A909D838D726E3BF623D52620282013481D1F6E537782207D5A0975FC2C3057"
    "EEF67530417AFFE7FB8055C126DC5C6CE94A4B44F330B5D9832026DC5C6CE94A4B44F330B5D9BBD77CBF958416"
    "295CF7E1CE6BCCDC18FF8C07B68441048BD2AEB9CB7E57CB2C4B482FFC81B7AFB9DE27E1E3BD23C23A4453BD9A"
    "CE3262547EF835C3DAC4FD97F8461A14611DC9C27745132DED8E545C1D54C72F0469978520A9FB57DBA1EEA9BC"
    "3E660A909D838D718C397AA3B561A6F7901E0E82974856A78641045889BF5306189ABB7FA3AD0E922443F9C601"
    "62E8215053B72812663E5D798EE05097C4DFAC7470701A5B644AAEAFE1E50BA1D0ED5769151EC476C154BB4A56"
    "848701015F200D444549534356434130303030317F4C0E060904007F0007030102015301E35F25060104000500"
    "055F24060105000500055F37400A589134205376E20EFF49E108560F1CB47C7D221E96E51FF3C6F4EAF1F6CCC0"
    "00A5E34ED8E3F6E05253DA09B0D68FF5DFB5BD586782B987453C655FBEE8EC59"
)
# An early German ePassport CVCA, DECVCAEPASS001 (2007-04-01 … 2009-04-01), brainpoolP224r1 with
# explicit parameters, id-TA-ECDSA-SHA-224, CHAT id-IS C1 (CVCA, read DG3): bcgit/bc-java,
# core/src/test/java/org/bouncycastle/asn1/test/DERApplicationSpecificTest.java (certData),
# where it tests parsing and byte-exact re-encoding. Its public point is not on brainpoolP224r1
# (the test data was altered), so it is a decoding vector, not a signature one.
DECVCAEPASS001 = bytes.fromhex(
    "7F218201897F4E8201495F290100420E44454356434145504153533030317F4981FD060A04007F000702020202"
    "02811CD7C134AA264366862A18302575D1D787B09F075797DA89F57EC8C0FF821C68A5E62CA9CE6C1C299803A6"
    "C1530B514E182AD8B0042A59CAD29F43831C2580F63CCFE44138870713B1A92369E33E2135D266DBB372386C40"
    "0B8439040D9029AD2C7E5CF4340823B2A87DC68C9E4CE3174C1E6EFDEE12C07D58AA56F772C0726F24C6B89E4E"
    "CDAC24354B9E99CAA3F6D3761402CD851CD7C134AA264366862A18302575D0FB98D116BC4B6DDEBCA3A5A7939F"
    "863904393EE8E06DB6C7F528F8B4260B49AA93309824D92CDB1807E5437EE2E26E29B73A7111530FA86B350037"
    "CB9415E153704394463797139E148701015F200E44454356434145504153533030317F4C0E060904007F000703"
    "0102015301C15F25060007000400015F24060009000400015F37384CCF25C59F3612EEE18875F6C5F2E2D21F03"
    "95683B532A26E4C189B71EFE659C3F26E0EB9AEAE99863107F9B0DADA16414FFA204516AEE2B"
)
PUBLISHED = [DETESTEID00004, DETESTEID00004_WITH_EXTENSION, DEISCVCA00001, DECVCAEPASS001]

T0 = date(2025, 1, 1)
T1 = date(2028, 1, 1)


# --- Helpers ------------------------------------------------------------------------------------


def openssl() -> str:
    path = shutil.which("openssl")
    if path is None:
        unavailable("openssl not installed")
    assert path is not None
    return path


def rebuild(certificate: Certificate) -> Certificate:
    """Encode a certificate again from its decoded fields alone."""
    b = certificate.body
    key = b.public_key
    if isinstance(key, EcPublicKey):
        key = EcPublicKey.build(key.oid, key.point, key.domain)
    else:
        key = RsaPublicKey.build(key.oid, key.modulus, key.exponent)
    body = CertificateBody.build(
        car=str(b.car),
        public_key=key,
        chr=str(b.chr),
        chat=Chat.from_template(b.chat.oid, b.chat.template),
        effective=b.effective,
        expiration=b.expiration,
        extensions=[Extension.build(e.oid, e.data_objects) for e in b.extensions],
    )
    return Certificate.build(body, certificate.signature)


def pem_of(key: PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def openssl_verify(
    tmp_path: Path, public_pem: bytes, data: bytes, der_signature: bytes, alg: cvc.TaAlgorithm
) -> bool:
    (tmp_path / "pub.pem").write_bytes(public_pem)
    (tmp_path / "data.bin").write_bytes(data)
    (tmp_path / "sig.bin").write_bytes(der_signature)
    command = [openssl(), "dgst", f"-{alg.hash}", "-verify", str(tmp_path / "pub.pem")]
    command += pss_options(alg)
    command += ["-signature", str(tmp_path / "sig.bin"), str(tmp_path / "data.bin")]
    result = subprocess.run(command, capture_output=True, text=True)
    return result.returncode == 0 and "Verified OK" in result.stdout


def openssl_sign(tmp_path: Path, private_pem: bytes, data: bytes, alg: cvc.TaAlgorithm) -> bytes:
    (tmp_path / "key.pem").write_bytes(private_pem)
    (tmp_path / "data.bin").write_bytes(data)
    command = [openssl(), "dgst", f"-{alg.hash}", "-sign", str(tmp_path / "key.pem")]
    command += pss_options(alg)
    command += ["-out", str(tmp_path / "sig.bin"), str(tmp_path / "data.bin")]
    subprocess.run(command, check=True, capture_output=True)
    return (tmp_path / "sig.bin").read_bytes()


def pss_options(alg: cvc.TaAlgorithm) -> list[str]:
    if alg.rsa_padding != "pss":
        return []
    salt = alg.hash_algorithm().digest_size
    return [
        "-sigopt",
        "rsa_padding_mode:pss",
        "-sigopt",
        f"rsa_pss_saltlen:{salt}",
        "-sigopt",
        f"rsa_mgf1_md:{alg.hash}",
    ]


def to_der(plain: bytes) -> bytes:
    """Plain r ‖ s → DER, written out here rather than taken from cardkit."""
    half = len(plain) // 2
    return encode_dss_signature(
        int.from_bytes(plain[:half], "big"), int.from_bytes(plain[half:], "big")
    )


def to_plain(der: bytes, size: int) -> bytes:
    r, s = decode_dss_signature(der)
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def private_pem(signer: LocalSigner) -> bytes:
    return signer.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@pytest.fixture(scope="module")
def signers() -> dict[str, LocalSigner]:
    specs = [
        "ec:brainpoolP256r1",
        "ec:brainpoolP384r1",
        "ec:brainpoolP512r1",
        "ec:secp256r1",
        "ec:secp384r1",
        "ec:secp521r1",
        "rsa:2048",
    ]
    return {spec: LocalSigner(generate_private_key(spec), spec) for spec in specs}


def cv_key(
    signer: LocalSigner, algorithm: str | None = None, *, domain: bool = True
) -> cvc.CvPublicKey:
    return cvc.public_key_from_cryptography(
        signer.public_key(), algorithm, domain_parameters=domain
    )


def cvca_of(
    signer: LocalSigner, algorithm: str | None = None, name: str = "VNCVCA00001"
) -> Certificate:
    body = CertificateBody.build(
        car=name,
        public_key=cv_key(signer, algorithm),
        chr=name,
        chat=Chat.build(Role.CVCA, read_dg3=True, read_dg4=True),
        effective=T0,
        expiration=T1,
    )
    return cvc.sign_certificate(body, signer)


# --- Known answers ------------------------------------------------------------------------------


def test_detesteid00004_decodes_and_verifies(tmp_path: Path) -> None:
    cert = Certificate.from_bytes(DETESTEID00004)
    assert bytes(cert) == cert.raw == DETESTEID00004
    assert str(cert.car) == str(cert.chr) == "DETESTeID00004"
    assert (cert.car.country, cert.car.mnemonic, cert.car.sequence) == ("DE", "TESTeID", "00004")
    assert cert.is_self_signed
    assert cert.chat.oid == oids.ID_AT and cert.chat.template == bytes.fromhex("FC0F13FFFF")
    assert cert.role is Role.CVCA
    assert not cert.chat.read_dg3  # the DG3 bit is an id-IS right
    assert (cert.effective, cert.expiration) == (date(2012, 5, 11), date(2015, 5, 11))
    assert cert.valid_on(date(2014, 1, 1)) and not cert.valid_on(date(2015, 5, 12))
    key = cert.public_key
    assert isinstance(key, EcPublicKey) and key.oid == oids.ID_TA_ECDSA_SHA_256
    assert key.domain is not None and key.domain.f == 1
    assert key.curve().name == "brainpoolP256r1"
    assert cert.body.raw == DETESTEID00004[5 : 5 + 5 + 0x16E]  # 7F21 82 01B6 { 7F4E 82 016E … }
    assert rebuild(cert).raw == DETESTEID00004
    assert cvc.verify_signature(cert, cert)
    alg = cvc.ta_algorithm(key.oid)
    assert openssl_verify(
        tmp_path, pem_of(key.to_cryptography()), cert.body.raw, to_der(cert.signature), alg
    )


def test_extension_is_kept_and_signed() -> None:
    cert = Certificate.from_bytes(DETESTEID00004_WITH_EXTENSION)
    (extension,) = cert.body.extensions
    assert extension.oid == "0.4.0.127.0.7.3.1.2.2.1"
    assert extension.data_objects == bytes.fromhex("420A00112233445566778899")
    assert extension.raw == bytes.fromhex("7318060A04007F00070301020201420A00112233445566778899")
    assert rebuild(cert).raw == DETESTEID00004_WITH_EXTENSION
    plain = Certificate.from_bytes(DETESTEID00004)
    assert cert.signature == plain.signature
    assert not cvc.verify_signature(cert, plain)  # the extension is inside the signed body


def test_deiscvca00001_emrtd_cvca(tmp_path: Path) -> None:
    cert = Certificate.from_bytes(DEISCVCA00001)
    assert str(cert.chr) == "DEISCVCA00001" and cert.is_self_signed
    # E3: CVCA, read DG4 and DG3, and b6 (0x20) set, a bit EAC1 leaves RFU (PersoSim's
    # personalization scripts call it eID read access): kept as read, never interpreted.
    assert (cert.chat.role, cert.chat.read_dg3, cert.chat.read_dg4) == (Role.CVCA, True, True)
    assert cert.chat.template == b"\xe3"
    assert cert.chat.narrowed_by(Chat.build(Role.DV_DOMESTIC, read_dg3=True)).template == b"\x81"
    assert cert.chat.raw == bytes.fromhex("7F4C0E060904007F0007030102015301E3")
    assert (cert.effective, cert.expiration) == (date(2014, 5, 5), date(2015, 5, 5))
    assert rebuild(cert).raw == DEISCVCA00001
    assert cvc.verify_signature(cert, cert)
    key = cert.public_key
    assert isinstance(key, EcPublicKey)
    assert openssl_verify(
        tmp_path,
        pem_of(key.to_cryptography()),
        cert.body.raw,
        to_der(cert.signature),
        cvc.ta_algorithm(key.oid),
    )
    described = cert.describe()
    assert described["chat"] == {
        "terminal_type": "id-IS",
        "role": "CVCA",
        "relative_authorization": "E3",
        "read_dg3": True,
        "read_dg4": True,
    }


def test_decvcaepass001_brainpool_p224() -> None:
    cert = Certificate.from_bytes(DECVCAEPASS001)
    assert rebuild(cert).raw == DECVCAEPASS001
    assert str(cert.chr) == "DECVCAEPASS001"
    assert cert.chat.role is Role.CVCA and cert.chat.read_dg3 and not cert.chat.read_dg4
    assert (cert.effective, cert.expiration) == (date(2007, 4, 1), date(2009, 4, 1))
    key = cert.public_key
    assert isinstance(key, EcPublicKey) and key.oid == oids.ID_TA_ECDSA_SHA_224
    assert key.curve().name == "brainpoolP224r1"  # explicit parameters, recognised
    assert len(cert.signature) == 56  # plain r ‖ s, 28 octets each
    with pytest.raises(PkiError):
        key.to_cryptography()  # not a curve cardkit computes on


def test_new_oids_against_printed_bytes() -> None:
    # id-IS as printed in every eMRTD CHAT above ("7F4C0E 06 09 04007F000703010201 53 01 …");
    # the other arcs by hand from TR-03110-3's ASN.1 ({bsi-de applications(3) mrtd(1) …}).
    assert oids.der(oids.ID_IS) == bytes.fromhex("060904007F000703010201")
    assert oids.der(oids.ID_IS) in DEISCVCA00001 and oids.der(oids.ID_AT) in DETESTEID00004
    printed = {
        oids.ID_ROLES: "04007F0007030102",
        oids.ID_AT: "04007F000703010202",
        oids.ID_ST: "04007F000703010203",
        oids.ID_EXTENSIONS: "04007F0007030103",
        oids.ID_DESCRIPTION: "04007F000703010301",
        oids.ID_SECTOR: "04007F000703010302",
    }
    for oid, content in printed.items():
        assert oids.der_content(oid) == bytes.fromhex(content)
        assert oids.by_name(oids.name_of(oid)) == oid
    assert [oids.name_of(o) for o in (oids.ID_IS, oids.ID_DESCRIPTION, oids.ID_SECTOR)] == [
        "id-IS",
        "id-description",
        "id-sector",
    ]


# --- Data object encodings (TR-03110-3 D.2) ------------------------------------------------------


def test_dates() -> None:
    assert cvc.encode_date(date(2012, 5, 11)) == bytes.fromhex("010200050101")
    assert cvc.decode_date(bytes.fromhex("010901020301"), "d") == date(2019, 12, 31)
    with pytest.raises(EncodingError) as bad_digit:
        cvc.decode_date(bytes.fromhex("01020A050101"), "d", offset=10)
    assert bad_digit.value.offset == 12
    for bad in ("010201030000", "010902020009", "0102000501", "01020005010100"):
        with pytest.raises(EncodingError):
            cvc.decode_date(bytes.fromhex(bad), "d")
    with pytest.raises(EncodingError):
        cvc.encode_date(date(1999, 12, 31))


def test_unsigned_integers() -> None:
    assert cvc.encode_unsigned(0) == b"\x00"
    assert cvc.encode_unsigned(0x80) == b"\x80"  # unsigned: no sign octet
    assert cvc.encode_unsigned(0x1234) == b"\x12\x34"
    assert cvc.decode_unsigned(b"\x00", "x") == 0
    for bad in (b"", b"\x00\x01"):
        with pytest.raises(EncodingError):
            cvc.decode_unsigned(bad, "x")


def test_references() -> None:
    ref = CertificateReference.build("VN", "CVCA", "00001")
    assert str(ref) == "VNCVCA00001" and bytes(ref) == b"VNCVCA00001"
    assert (ref.country, ref.mnemonic, ref.sequence) == ("VN", "CVCA", "00001")
    assert CertificateReference.build("VN", "ISROOT123", "A0001").value == "VNISROOT123A0001"
    for country, mnemonic, sequence in [
        ("V", "CVCA", "00001"),
        ("vn", "CVCA", "00001"),
        ("VN", "", "00001"),
        ("VN", "ABCDEFGHIJ", "00001"),
        ("VN", "CVCA", "0001"),
        ("VN", "CVCA", "00-01"),
        ("VN", "CV\x01A", "00001"),
    ]:
        with pytest.raises(EncodingError):
            CertificateReference.build(country, mnemonic, sequence)
    assert CertificateReference.from_bytes("VNÉ00001".encode("latin-1")).value == "VNÉ00001"
    with pytest.raises(EncodingError) as unassigned:
        CertificateReference.from_bytes(b"VN\x85CVCA00001", offset=100)
    assert unassigned.value.offset == 102
    with pytest.raises(EncodingError):
        CertificateReference("X" * 17)


# --- Strict decoding ------------------------------------------------------------------------------


def _items(body: bytes) -> list[bytes]:
    return [t.raw for t in tlv.decode_single(body, cvc.TAG_CERTIFICATE_BODY).children()]


def _certificate_from_items(items: list[bytes], signature: bytes = b"\x01" * 64) -> bytes:
    body = tlv.encode(cvc.TAG_CERTIFICATE_BODY, b"".join(items))
    return tlv.encode(cvc.TAG_CV_CERTIFICATE, body + tlv.encode(cvc.TAG_SIGNATURE, signature))


def _offset_of(data: bytes, needle: bytes) -> int:
    index = data.find(needle)
    assert index >= 0
    return index


def test_decoding_rejects_wrong_order() -> None:
    items = _items(Certificate.from_bytes(DEISCVCA00001).body.raw)
    items[3], items[4] = items[4], items[3]  # CHAT before CHR
    data = _certificate_from_items(items)
    with pytest.raises(EncodingError) as err:
        Certificate.from_bytes(data)
    assert err.value.offset == _offset_of(data, items[3])


def test_decoding_rejects_missing_and_repeated_data_objects() -> None:
    items = _items(Certificate.from_bytes(DEISCVCA00001).body.raw)
    for index in range(len(items)):
        with pytest.raises(EncodingError, match="expected"):
            Certificate.from_bytes(_certificate_from_items(items[:index] + items[index + 1 :]))
    with pytest.raises(EncodingError, match="out of order or repeated"):
        Certificate.from_bytes(_certificate_from_items([*items, items[-1]]))


def test_decoding_rejects_trailing_bytes_and_signature_problems() -> None:
    with pytest.raises(EncodingError) as err:
        Certificate.from_bytes(DEISCVCA00001 + b"\x00")
    assert err.value.offset == len(DEISCVCA00001)
    items = _items(Certificate.from_bytes(DEISCVCA00001).body.raw)
    with pytest.raises(EncodingError, match="empty signature"):
        Certificate.from_bytes(_certificate_from_items(items, signature=b""))


def test_decoding_rejects_non_der_lengths() -> None:
    items = _items(Certificate.from_bytes(DEISCVCA00001).body.raw)
    items[1] = b"\x42\x81\x0d" + items[1][2:]  # CAR with a long-form length for 13 octets
    data = _certificate_from_items(items)
    with pytest.raises(EncodingError, match="not DER") as err:
        Certificate.from_bytes(data)
    assert err.value.offset == _offset_of(data, items[1])


def test_decoding_rejects_bad_values() -> None:
    items = _items(Certificate.from_bytes(DEISCVCA00001).body.raw)
    cases = {
        0: tlv.encode(cvc.TAG_PROFILE_IDENTIFIER, b"\x01"),  # only version 1 (00) exists
        1: tlv.encode(cvc.TAG_CAR, b"X" * 17),  # CAR longer than 16 characters
        3: tlv.encode(cvc.TAG_CHR, b""),
        4: bytes.fromhex("7F4C0F060904007F000703010201530200E3"),  # id-IS with two octets
        5: tlv.encode(cvc.TAG_EFFECTIVE_DATE, bytes.fromhex("0104000A0005")),  # digit 0A
        6: tlv.encode(cvc.TAG_EXPIRATION_DATE, bytes.fromhex("010502030000")),  # 15-23-00
    }
    for index, replacement in cases.items():
        changed = list(items)
        changed[index] = replacement
        data = _certificate_from_items(changed)
        with pytest.raises(EncodingError) as err:
            Certificate.from_bytes(data)
        start = _offset_of(data, replacement)
        assert err.value.offset is not None
        assert start <= err.value.offset <= start + len(replacement)


def _ec_key(content: bytes) -> bytes:
    return tlv.encode(cvc.TAG_PUBLIC_KEY, content)


def test_public_key_rules() -> None:
    key = Certificate.from_bytes(DEISCVCA00001).public_key
    assert isinstance(key, EcPublicKey) and key.domain is not None
    parts = [t.raw for t in tlv.decode_single(key.raw, cvc.TAG_PUBLIC_KEY).children()]
    oid, p, a, b, g, r, y, f = parts
    assert cvc.decode_public_key(key.raw) == key
    inherited = cvc.decode_public_key(_ec_key(oid + y))
    assert isinstance(inherited, EcPublicKey) and inherited.domain is None
    no_cofactor = cvc.decode_public_key(_ec_key(oid + p + a + b + g + r + y))
    assert isinstance(no_cofactor, EcPublicKey) and no_cofactor.domain is not None
    bad = {
        "partial domain parameters": oid + p + a + y,
        "cofactor alone": oid + y + f,
        "order": oid + a + p + b + g + r + y + f,
        "no point": oid + p + a + b + g + r + f,
        "compressed point": oid + tlv.encode(0x86, b"\x02" + y[3:35]),
        "point of the wrong size": oid + p + a + b + g + r + tlv.encode(0x86, y[2:-1]),
        "leading zero": oid + tlv.encode(0x81, b"\x00" + p[2:]) + a + b + g + r + y + f,
        "not an id-TA OID": oids.der(oids.ID_PK_ECDH) + y,
        "RSA OID on EC data": oids.der(oids.ID_TA_RSA_PSS_SHA_256) + y,
        "OID not first": y + oid,
    }
    for reason, content in bad.items():
        try:
            cvc.decode_public_key(_ec_key(content))
        except EncodingError:
            continue
        pytest.fail(f"decoded a public key with {reason}")


def test_domain_parameters_are_required_where_tr_03110_says() -> None:
    cvca = Certificate.from_bytes(DEISCVCA00001)
    key = cvca.public_key
    assert isinstance(key, EcPublicKey)
    bare = key.with_domain(None)
    with pytest.raises(EncodingError):
        CertificateBody.build(
            car="VNCVCA00001",
            public_key=bare,
            chr="VNCVCA00001",
            chat=Chat.build(Role.CVCA),
            effective=T0,
            expiration=T1,
        )
    with pytest.raises(EncodingError):
        RequestBody.build(public_key=bare, chr="VNDV00001")
    items = _items(cvca.body.raw)
    items[2] = bare.raw
    with pytest.raises(EncodingError, match="self-signed CVCA"):
        Certificate.from_bytes(_certificate_from_items(items))
    # A DV certificate inherits them.
    dv = CertificateBody.build(
        car="DEISCVCA00001",
        public_key=bare,
        chr="DEDV00001",
        chat=Chat.build(Role.DV_DOMESTIC, read_dg3=True),
        effective=T0,
        expiration=T1,
    )
    assert CertificateBody.from_bytes(dv.raw) == dv
    with pytest.raises(EncodingError):
        CertificateBody.build(
            car="DEISCVCA00001",
            public_key=bare,
            chr="DEDV00001",
            chat=Chat.build(Role.DV_DOMESTIC),
            effective=T1,
            expiration=T0,
        )


def test_request_is_not_a_certificate() -> None:
    with pytest.raises(EncodingError):
        CertificateRequest.from_bytes(DEISCVCA00001)
    cert = Certificate.from_bytes(DEISCVCA00001)
    body = RequestBody.build(public_key=cert.public_key, chr="DEDV00001", car="DEISCVCA00001")
    request = CertificateRequest.build(body, b"\x01" * 64)
    with pytest.raises(EncodingError):
        Certificate.from_bytes(request.raw)


# --- Round trips --------------------------------------------------------------------------------


def test_chat_round_trip_and_bits() -> None:
    for role in Role:
        for dg3 in (False, True):
            for dg4 in (False, True):
                chat = Chat.build(role, read_dg3=dg3, read_dg4=dg4)
                assert (chat.role, chat.read_dg3, chat.read_dg4) == (role, dg3, dg4)
                assert Chat.from_bytes(chat.raw) == chat
    assert Chat.build(Role.INSPECTION_SYSTEM, read_dg3=True).template == b"\x01"
    assert Chat.build(Role.DV_FOREIGN, read_dg4=True).template == b"\x42"
    assert Chat.build(Role.INSPECTION_SYSTEM).describe()["role"] == "inspection system"
    with pytest.raises(EncodingError):
        Chat.from_template(oids.ID_AT, b"\x00")
    with pytest.raises(EncodingError):
        Chat.from_bytes(Chat.build(Role.CVCA).raw + b"\x00")


def test_public_keys_round_trip_through_cryptography(signers: dict[str, LocalSigner]) -> None:
    for spec, signer in signers.items():
        public = signer.public_key()
        for domain in (True, False):
            key = cv_key(signer, domain=domain)
            assert cvc.decode_public_key(key.raw) == key
            if isinstance(key, EcPublicKey):
                assert key.curve(EcDomainParameters.named(spec[3:])).name == spec[3:]
                inherited = None if domain else EcDomainParameters.named(spec[3:])
                assert key.to_cryptography(inherited).public_numbers() == public.public_numbers()
                assert EcPublicKey.from_bytes(key.raw) == key
                with pytest.raises(EncodingError):
                    RsaPublicKey.from_bytes(key.raw)
            else:
                assert key.to_cryptography().public_numbers() == public.public_numbers()
                assert RsaPublicKey.from_bytes(key.raw) == key
    bare = cv_key(signers["ec:secp256r1"], domain=False)
    assert isinstance(bare, EcPublicKey)
    with pytest.raises(PkiError):
        bare.to_cryptography()  # DV and terminal keys need the CVCA's parameters
    with pytest.raises(PkiError):  # a point of P-256 is not one of brainpoolP256r1
        bare.to_cryptography(EcDomainParameters.named("brainpoolP256r1"))
    unknown = EcDomainParameters(p=23, a=1, b=1, g=b"\x04\x03\x0a", r=7)
    assert unknown.curve is None


def test_certificates_and_requests_round_trip(signers: dict[str, LocalSigner]) -> None:
    cvca_signer, dv_signer = signers["ec:brainpoolP256r1"], signers["ec:brainpoolP384r1"]
    cvca = cvca_of(cvca_signer)
    assert Certificate.from_bytes(cvca.raw) == cvca
    request_body = RequestBody.build(
        public_key=cv_key(dv_signer, oids.ID_TA_ECDSA_SHA_384),
        chr="VNDV00001",
        car=cvca.chr,
        extensions=[Extension.build(oids.ID_DESCRIPTION, tlv.encode(0x80, b"\x00" * 32))],
    )
    bare = cvc.sign_request(request_body, dv_signer)
    assert bare.raw[:2] == b"\x7f\x21" and not bare.is_authenticated
    assert CertificateRequest.from_bytes(bare.raw) == bare
    assert cvc.verify_inner_signature(bare)
    authenticated = cvc.sign_request(
        request_body, dv_signer, outer_car=cvca.chr, outer_signer=cvca_signer
    )
    assert authenticated.raw[:1] == b"\x67" and authenticated.is_authenticated
    assert CertificateRequest.from_bytes(authenticated.raw) == authenticated
    assert authenticated.body == bare.body
    inner = tlv.decode_single(authenticated.raw, 0x67).children()[0].raw
    assert authenticated.inner_raw == inner and inner[:2] == b"\x7f\x21"
    assert authenticated.outer_signed_data == inner + tlv.encode(0x42, b"VNCVCA00001")
    assert cvc.verify_inner_signature(authenticated)
    assert cvc.verify_outer_signature(authenticated, cvca)
    assert not cvc.verify_outer_signature(bare, cvca)
    assert authenticated.describe()["outer_car"] == "VNCVCA00001"
    with pytest.raises(EncodingError):
        CertificateRequest.from_bytes(authenticated.raw[:-1])
    with pytest.raises(EncodingError):
        CertificateRequest.build(request_body, bare.inner_signature, outer_car="VNCVCA00001")


# --- Signatures, cross-checked with OpenSSL -------------------------------------------------------

ALGORITHMS = [
    ("ec:brainpoolP256r1", oids.ID_TA_ECDSA_SHA_256),
    ("ec:brainpoolP384r1", oids.ID_TA_ECDSA_SHA_384),
    ("ec:brainpoolP512r1", oids.ID_TA_ECDSA_SHA_512),
    ("ec:secp256r1", oids.ID_TA_ECDSA_SHA_256),
    ("ec:secp384r1", oids.ID_TA_ECDSA_SHA_384),
    ("ec:secp521r1", oids.ID_TA_ECDSA_SHA_512),
    ("rsa:2048", oids.ID_TA_RSA_V1_5_SHA_256),
    ("rsa:2048", oids.ID_TA_RSA_V1_5_SHA_512),
    ("rsa:2048", oids.ID_TA_RSA_PSS_SHA_256),
    ("rsa:2048", oids.ID_TA_RSA_PSS_SHA_512),
]


@pytest.mark.parametrize(("spec", "algorithm"), ALGORITHMS, ids=lambda v: oids.name_of(v))
def test_signatures_agree_with_openssl(
    tmp_path: Path, signers: dict[str, LocalSigner], spec: str, algorithm: str
) -> None:
    signer = signers[spec]
    alg = cvc.ta_algorithm(algorithm)
    cvca = Certificate.from_bytes(cvca_of(signer, algorithm).raw)
    key = cvca.public_key
    exported = pem_of(key.to_cryptography())  # the key as decoded from the certificate
    if isinstance(key, EcPublicKey):
        size = (key.curve().n.bit_length() + 7) // 8
        assert len(cvca.signature) == 2 * size  # plain r ‖ s (TR-03111 §5.2.1)
        der = to_der(cvca.signature)
    else:
        der = cvca.signature
    # cardkit signs, OpenSSL verifies.
    assert openssl_verify(tmp_path, exported, cvca.body.raw, der, alg)
    # OpenSSL signs, cardkit verifies.
    theirs = openssl_sign(tmp_path, private_pem(signer), cvca.body.raw, alg)
    if isinstance(key, EcPublicKey):
        theirs = to_plain(theirs, size)
    assert cvc.verify_signature(Certificate.build(cvca.body, theirs), cvca)
    # A signature over other bytes fails, on both sides.
    other = openssl_sign(tmp_path, private_pem(signer), cvca.body.raw + b"x", alg)
    assert not openssl_verify(tmp_path, exported, cvca.body.raw, other, alg)
    if isinstance(key, EcPublicKey):
        other = to_plain(other, size)
    assert not cvc.verify_signature(Certificate.build(cvca.body, other), cvca)


def test_pss_salt_is_the_hash_length(tmp_path: Path, signers: dict[str, LocalSigner]) -> None:
    signer = signers["rsa:2048"]
    cvca = cvca_of(signer, oids.ID_TA_RSA_PSS_SHA_256)
    private = signer.private_key
    assert isinstance(private, rsa.RSAPrivateKey)
    wrong_salt = private.sign(
        cvca.body.raw,
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=20),
        hashes.SHA256(),
    )
    assert not cvc.verify_signature(Certificate.build(cvca.body, wrong_salt), cvca)
    v15 = private.sign(cvca.body.raw, padding.PKCS1v15(), hashes.SHA256())
    assert not cvc.verify_signature(Certificate.build(cvca.body, v15), cvca)
    assert cvc.verify_data(cvca.body.raw, v15, cvca, algorithm=oids.ID_TA_RSA_V1_5_SHA_256)


def test_outer_signature_agrees_with_openssl(
    tmp_path: Path, signers: dict[str, LocalSigner]
) -> None:
    old, new = signers["ec:secp384r1"], signers["ec:secp256r1"]
    old_cvca = cvca_of(old, name="VNCVCA00001")
    body = RequestBody.build(public_key=cv_key(new), chr="VNDV00002")
    request = cvc.sign_request(body, new, outer_car=old_cvca.chr, outer_signer=old)
    assert request.outer_signature is not None
    key = old_cvca.public_key
    assert isinstance(key, EcPublicKey)
    assert openssl_verify(
        tmp_path,
        pem_of(old.public_key()),
        request.inner_raw + bytes.fromhex("420B") + b"VNCVCA00001",
        to_der(request.outer_signature),
        cvc.ta_algorithm(key.oid),
    )
    assert openssl_verify(
        tmp_path,
        pem_of(new.public_key()),
        body.raw,
        to_der(request.inner_signature),
        cvc.ta_algorithm(body.public_key.oid),
    )


def test_sha1_and_sha224_are_verified_but_never_signed(signers: dict[str, LocalSigner]) -> None:
    signer = signers["ec:secp256r1"]
    private = signer.private_key
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    key = cv_key(signer, oids.ID_TA_ECDSA_SHA_1)
    data = b"challenge"
    plain = to_plain(private.sign(data, ec.ECDSA(hashes.SHA1())), 32)
    assert cvc.verify_data(data, plain, key)
    with pytest.raises(PkiError):
        cvc.sign_body(data, signer, algorithm=oids.ID_TA_ECDSA_SHA_1)
    with pytest.raises(PkiError):
        cvc.sign_body(data, signer, algorithm=oids.ID_TA_ECDSA_SHA_224)
    with pytest.raises(PkiError):
        cvc.sign_body(data, signer, algorithm=oids.ID_TA_RSA_PSS_SHA_256)  # EC key, RSA OID
    with pytest.raises(PkiError):
        cvc.sign_body(data, signer, algorithm=oids.ID_PACE_ECDH_GM_AES_CBC_CMAC_128)


class _PlainSigner:
    """A token that returns plain r ‖ s itself (some PKCS#11 modules do: CKM_ECDSA)."""

    def __init__(self, inner: LocalSigner) -> None:
        self.inner = inner
        self.key_id = "plain"

    def public_key(self) -> PublicKey:
        return self.inner.public_key()

    def sign(self, data: bytes, scheme: SignatureScheme) -> bytes:
        return to_plain(self.inner.sign(data, scheme), 32)


class _BrokenSigner(_PlainSigner):
    def sign(self, data: bytes, scheme: SignatureScheme) -> bytes:
        return self.inner.sign(data + b"!", scheme)


def test_signer_forms(signers: dict[str, LocalSigner]) -> None:
    signer = signers["ec:brainpoolP256r1"]
    data = b"body"
    plain = cvc.sign_body(data, _PlainSigner(signer), algorithm=oids.ID_TA_ECDSA_SHA_256)
    assert len(plain) == 64
    assert cvc.verify_data(data, plain, cv_key(signer))
    with pytest.raises(PkiError, match="does not verify"):
        cvc.sign_body(data, _BrokenSigner(signer))
    der = signer.sign(data, SignatureScheme("sha256"))
    assert cvc.plain_ecdsa_signature(der, 32) == to_plain(der, 32)
    assert cvc.der_ecdsa_signature(to_plain(der, 32)) == der
    with pytest.raises(PkiError):
        cvc.plain_ecdsa_signature(b"\x01" * 63, 32)
    assert not cvc.verify_data(data, plain[:-1], cv_key(signer))
    assert not cvc.verify_data(data, b"\x00" * 64, cv_key(signer))


def test_issuer_algorithm_must_be_named(signers: dict[str, LocalSigner]) -> None:
    cvca_signer, dv_signer = signers["ec:brainpoolP256r1"], signers["ec:brainpoolP384r1"]
    body = CertificateBody.build(
        car="VNCVCA00001",
        public_key=cv_key(dv_signer, domain=False),
        chr="VNDV00001",
        chat=Chat.build(Role.DV_DOMESTIC, read_dg3=True),
        effective=T0,
        expiration=T1,
    )
    with pytest.raises(PkiError, match="issuer's algorithm"):
        cvc.sign_certificate(body, cvca_signer)
    self_signed = CertificateBody.build(
        car="VNCVCA00001",
        public_key=cv_key(cvca_signer),
        chr="VNCVCA00001",
        chat=Chat.build(Role.CVCA),
        effective=T0,
        expiration=T1,
    )
    with pytest.raises(PkiError, match="key it certifies"):
        cvc.sign_certificate(self_signed, dv_signer)
    with pytest.raises(PkiError, match="key the request is for"):
        cvc.sign_request(
            RequestBody.build(public_key=cv_key(dv_signer), chr="VNDV00001"), cvca_signer
        )
    with pytest.raises(PkiError):
        cvc.verify_data(b"x", b"y", dv_signer.public_key())  # a bare key needs its algorithm


# --- The chain: CVCA → DV → IS, rights narrowed ----------------------------------------------


def test_chain_verifies_and_narrows_rights(signers: dict[str, LocalSigner]) -> None:
    # One curve for the whole chain: DV and IS keys inherit the CVCA's domain parameters.
    cvca_signer = signers["ec:brainpoolP256r1"]
    dv_key = LocalSigner(ec.generate_private_key(ec.BrainpoolP256R1()), "dv")
    is_key = LocalSigner(ec.generate_private_key(ec.BrainpoolP256R1()), "is")
    cvca = cvca_of(cvca_signer)
    algorithm = cvca.public_key.oid
    dv = cvc.sign_certificate(
        CertificateBody.build(
            car=cvca.chr,
            public_key=cv_key(dv_key, algorithm, domain=False),
            chr="VNDVDOM00001",
            chat=Chat.build(Role.DV_DOMESTIC, read_dg3=True),  # this DV may not grant DG4
            effective=T0,
            expiration=T1,
        ),
        cvca_signer,
        algorithm=algorithm,
    )
    terminal = cvc.sign_certificate(
        CertificateBody.build(
            car=dv.chr,
            public_key=cv_key(is_key, algorithm, domain=False),
            chr="VNIS000000001",
            chat=Chat.build(Role.INSPECTION_SYSTEM, read_dg3=True, read_dg4=True),
            effective=T0,
            expiration=date(2025, 1, 31),
        ),
        dv_key,
        algorithm=dv.public_key.oid,
    )
    domain = cvca.public_key.domain if isinstance(cvca.public_key, EcPublicKey) else None
    assert domain is not None
    assert cvc.verify_signature(cvca, cvca)
    assert cvc.verify_signature(dv, cvca)
    assert cvc.verify_signature(terminal, dv, domain=domain)  # the DV key inherits the CVCA's
    assert not cvc.verify_signature(terminal, cvca)
    with pytest.raises(PkiError):
        cvc.verify_signature(terminal, dv)  # without the CVCA's domain parameters
    effective = cvca.chat.narrowed_by(dv.chat).narrowed_by(terminal.chat)
    assert effective.role is Role.INSPECTION_SYSTEM
    assert effective.read_dg3 and not effective.read_dg4
    assert Role.CVCA.may_certify(dv.role) and Role.DV_DOMESTIC.may_certify(terminal.role)
    assert not Role.INSPECTION_SYSTEM.may_certify(Role.INSPECTION_SYSTEM)
    assert not Role.DV_FOREIGN.may_certify(Role.DV_DOMESTIC)
    # A foreign DV with DG4 only, an IS asking for both: DG4 only, role IS.
    foreign = cvca.chat.narrowed_by(Chat.build(Role.DV_FOREIGN, read_dg4=True))
    assert foreign.role is Role.DV_FOREIGN
    narrowed = foreign.narrowed_by(Chat.build(Role.INSPECTION_SYSTEM, read_dg3=True, read_dg4=True))
    assert (narrowed.role, narrowed.read_dg3, narrowed.read_dg4) == (
        Role.INSPECTION_SYSTEM,
        False,
        True,
    )
    # A CHAT without the DG3 bit anywhere in the chain takes DG3 away.
    assert not Chat.build(Role.CVCA, read_dg4=True).narrowed_by(dv.chat).read_dg3
    with pytest.raises(PkiError):
        cvca.chat.narrowed_by(Chat.from_template(oids.ID_AT, b"\x00" * 5))
    assert terminal.valid_on(date(2025, 1, 31)) and not terminal.valid_on(date(2025, 2, 1))


# --- Property tests -------------------------------------------------------------------------------

# ISO/IEC 8859-1 without 00-1F and 7F-9F (category Cc).
_ASSIGNED = st.characters(codec="latin-1", exclude_categories=["Cc"])
_references = st.builds(
    CertificateReference.build,
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=2),
    st.text(alphabet=_ASSIGNED, min_size=1, max_size=9),
    st.text(alphabet="0123456789ABCDEFXYZ", min_size=5, max_size=5),
)
_positive = st.integers(min_value=1, max_value=2**521)


@st.composite
def _domains(draw: st.DrawFn) -> EcDomainParameters:
    size = draw(st.integers(min_value=20, max_value=66))
    p = draw(st.integers(min_value=2 ** (8 * size - 8), max_value=2 ** (8 * size) - 1))
    g = b"\x04" + draw(st.binary(min_size=2 * size, max_size=2 * size))
    f = draw(st.none() | st.integers(min_value=1, max_value=8))
    return EcDomainParameters(p, draw(_positive), draw(_positive), g, draw(_positive), f)


@st.composite
def _public_keys(draw: st.DrawFn, with_domain: bool) -> cvc.CvPublicKey:
    if draw(st.booleans()):
        oid = draw(
            st.sampled_from([a.oid for a in cvc.TA_ALGORITHMS.values() if a.key_type == "RSA"])
        )
        return RsaPublicKey.build(oid, draw(_positive), draw(_positive))
    oid = draw(st.sampled_from([a.oid for a in cvc.TA_ALGORITHMS.values() if a.key_type == "EC"]))
    domain = draw(_domains()) if with_domain or draw(st.booleans()) else None
    size = domain.field_length if domain else draw(st.integers(min_value=20, max_value=66))
    point = b"\x04" + draw(st.binary(min_size=2 * size, max_size=2 * size))
    return EcPublicKey.build(oid, point, domain)


_extensions = st.lists(
    st.builds(
        Extension.build,
        st.sampled_from([oids.ID_DESCRIPTION, oids.ID_SECTOR, "1.2.3.4.5"]),
        st.lists(
            st.builds(
                tlv.encode, st.sampled_from([0x80, 0x81, 0x53, 0x5F20]), st.binary(max_size=40)
            ),
            max_size=3,
        ).map(b"".join),
    ),
    max_size=2,
)


@st.composite
def _chats(draw: st.DrawFn) -> Chat:
    if draw(st.booleans()):
        return Chat.from_template(oids.ID_IS, draw(st.binary(min_size=1, max_size=1)))
    return Chat.from_template(oids.ID_AT, draw(st.binary(min_size=5, max_size=5)))


@st.composite
def certificates(draw: st.DrawFn) -> Certificate:
    chat = draw(_chats())
    first = draw(st.dates(date(2000, 1, 1), date(2099, 12, 31)))
    second = draw(st.dates(date(2000, 1, 1), date(2099, 12, 31)))
    body = CertificateBody.build(
        car=draw(_references),
        public_key=draw(_public_keys(with_domain=chat.role is Role.CVCA)),
        chr=draw(_references),
        chat=chat,
        effective=min(first, second),
        expiration=max(first, second),
        extensions=draw(_extensions),
    )
    return Certificate.build(body, draw(st.binary(min_size=1, max_size=140)))


@st.composite
def requests(draw: st.DrawFn) -> CertificateRequest:
    body = RequestBody.build(
        public_key=draw(_public_keys(with_domain=True)),
        chr=draw(_references),
        car=draw(st.none() | _references),
        extensions=draw(_extensions),
    )
    outer = draw(st.none() | _references)
    return CertificateRequest.build(
        body,
        draw(st.binary(min_size=1, max_size=140)),
        outer_car=outer,
        outer_signature=None if outer is None else draw(st.binary(min_size=1, max_size=140)),
    )


@given(certificates())
def test_random_certificates_round_trip(cert: Certificate) -> None:
    decoded = Certificate.from_bytes(cert.raw)
    assert decoded == cert
    assert rebuild(decoded).raw == cert.raw
    assert Chat.from_bytes(cert.chat.raw) == cert.chat
    assert cvc.decode_public_key(cert.public_key.raw) == cert.public_key
    assert CertificateBody.from_bytes(cert.body.raw) == cert.body
    assert isinstance(cert.describe(), dict)


@given(requests())
def test_random_requests_round_trip(request: CertificateRequest) -> None:
    decoded = CertificateRequest.from_bytes(request.raw)
    assert decoded == request
    assert RequestBody.from_bytes(request.body.raw) == request.body
    assert isinstance(request.describe(), dict)


DECODERS: list[Callable[[bytes], SupportsBytes]] = [
    Certificate.from_bytes,
    CertificateRequest.from_bytes,
    CertificateBody.from_bytes,
    RequestBody.from_bytes,
    Chat.from_bytes,
    cvc.decode_public_key,
]


def _decodes_or_encoding_error(data: bytes) -> None:
    for decoder in DECODERS:
        try:
            value = decoder(data)
        except EncodingError:
            continue
        assert bytes(value) == data  # whatever decodes keeps its exact bytes


@given(certificates(), st.data())
def test_truncated_certificates_raise_encoding_error(
    cert: Certificate, data: st.DataObject
) -> None:
    cut = data.draw(st.integers(min_value=0, max_value=len(cert.raw) - 1))
    with pytest.raises(EncodingError):
        Certificate.from_bytes(cert.raw[:cut])
    _decodes_or_encoding_error(cert.raw[:cut])


@given(st.sampled_from(PUBLISHED) | certificates().map(bytes) | requests().map(bytes), st.data())
def test_bit_flips_raise_encoding_error_or_decode(blob: bytes, data: st.DataObject) -> None:
    flipped = bytearray(blob)
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        position = data.draw(st.integers(min_value=0, max_value=len(blob) - 1))
        flipped[position] ^= 1 << data.draw(st.integers(min_value=0, max_value=7))
    _decodes_or_encoding_error(bytes(flipped))


@given(st.binary(max_size=300))
def test_random_bytes_raise_encoding_error_or_decode(blob: bytes) -> None:
    _decodes_or_encoding_error(blob)


@given(st.binary(max_size=60))
def test_random_bytes_inside_a_certificate(blob: bytes) -> None:
    for tag in (
        cvc.TAG_CV_CERTIFICATE,
        cvc.TAG_CERTIFICATE_BODY,
        cvc.TAG_PUBLIC_KEY,
        cvc.TAG_CHAT,
        0x67,
    ):
        _decodes_or_encoding_error(tlv.encode(tag, blob))
