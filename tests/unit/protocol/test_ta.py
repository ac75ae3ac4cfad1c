"""`cardkit.protocol.ta`: terminal authentication v1's pieces (TR-03110-1 §2.5, TR-03110-3
§B.11, ICAO 9303-11 §7.1) and the terminal-side flow over a scripted chip.

No published worked example of TA v1's EXTERNAL AUTHENTICATE exists in TR-03110 or TR-03105 (the
BSI worked examples cover PACE); the IS signature is therefore cross-checked with openssl, an
independent implementation, over the bytes the specification names. The chip side is
cross-checked against this terminal side in tests/unit/emulator/test_ta_chip.py.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import subprocess
from datetime import date, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from hypothesis import given
from hypothesis import strategies as st
from requirements import unavailable

from cardkit.encoding import oids, tlv
from cardkit.errors import CardError, EncodingError, PkiError
from cardkit.iso7816.apdu import Command, Response
from cardkit.pki import cvc
from cardkit.pki.cvc import CertificateBody, Chat, EcPublicKey, Role, RsaPublicKey
from cardkit.pki.signer import LocalSigner
from cardkit.protocol import ta

DAY = date(2026, 11, 1)
CURVE = ec.BrainpoolP256R1()


def openssl() -> str:
    path = shutil.which("openssl")
    if path is None:
        unavailable("openssl not installed")
    assert path is not None
    return path


def signer(curve: ec.EllipticCurve = CURVE) -> LocalSigner:
    return LocalSigner(ec.generate_private_key(curve), "memory:test")


def ec_key(s: LocalSigner, oid: str = oids.ID_TA_ECDSA_SHA_256, *, domain: bool) -> EcPublicKey:
    key = s.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return EcPublicKey.from_cryptography(key, oid, domain_parameters=domain)


def certificate(
    issuer: LocalSigner,
    car: str,
    key: cvc.CvPublicKey,
    chr: str,
    role: Role,
    algorithm: str = oids.ID_TA_ECDSA_SHA_256,
) -> cvc.Certificate:
    body = CertificateBody.build(
        car=car, public_key=key, chr=chr, chat=Chat.build(role, read_dg3=True, read_dg4=True),
        effective=DAY, expiration=DAY + timedelta(days=30),
    )  # fmt: skip
    return cvc.sign_certificate(body, issuer, algorithm=algorithm)


def chain() -> tuple[LocalSigner, LocalSigner, cvc.Certificate, cvc.Certificate, cvc.Certificate]:
    cvca_s, dv_s, is_s = signer(), signer(), signer()
    cvca = certificate(cvca_s, "VNCVCA00001", ec_key(cvca_s, domain=True), "VNCVCA00001", Role.CVCA)
    dv = certificate(cvca_s, "VNCVCA00001", ec_key(dv_s, domain=False), "VNDV000001",
                     Role.DV_DOMESTIC)  # fmt: skip
    is_cert = certificate(dv_s, "VNDV000001", ec_key(is_s, domain=False), "VNIS00001",
                          Role.INSPECTION_SYSTEM)  # fmt: skip
    return cvca_s, is_s, cvca, dv, is_cert


# --- ID_PICC, Comp(), the signed data ------------------------------------------------------------


def test_id_picc_after_bac_is_the_mrz_document_number_with_its_check_digit() -> None:
    # ICAO 9303-11 Appendix D.2 specimen: document number L898902C<, check digit 3.
    assert ta.id_picc_bac("L898902C") == b"L898902C<3"
    assert ta.id_picc_bac("L898902C<") == b"L898902C<3"
    # DOMAIN.md §3: the CCCD's document number 093047064, check digit 1.
    assert ta.id_picc_bac("093047064") == b"0930470641"
    with pytest.raises(ValueError):
        ta.id_picc_bac("<<<")


def test_comp_is_the_x_coordinate_for_ec_and_sha1_for_dh() -> None:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    point = key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    x = key.public_numbers().x.to_bytes(32, "big")
    assert ta.compress(point) == x
    assert ta.id_picc_pace(point) == x
    dh_public = bytes(range(128))
    assert ta.compress(dh_public) == hashlib.sha1(dh_public).digest()
    assert ta.signed_data(b"ID", b"12345678", point) == b"ID12345678" + x
    with pytest.raises(ValueError):
        ta.compress(b"")


@pytest.mark.parametrize(
    ("curve", "oid", "hash_name"),
    [
        (ec.BrainpoolP256R1(), oids.ID_TA_ECDSA_SHA_256, "sha256"),
        (ec.SECP384R1(), oids.ID_TA_ECDSA_SHA_384, "sha384"),
    ],
)
def test_is_signature_verifies_with_openssl(
    tmp_path: Path, curve: ec.EllipticCurve, oid: str, hash_name: str
) -> None:
    is_signer = signer(curve)
    dv_signer = signer(curve)
    is_cert = certificate(dv_signer, "VNDV000001", ec_key(is_signer, oid, domain=False),
                          "VNIS00001", Role.INSPECTION_SYSTEM, oid)  # fmt: skip
    ephemeral = (
        ec.generate_private_key(curve)
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    id_picc, challenge = b"L898902C<3", bytes.fromhex("0102030405060708")
    plain = ta.sign_challenge(is_signer, is_cert, id_picc, challenge, ephemeral)
    size = (curve.key_size + 7) // 8
    assert len(plain) == 2 * size  # plain r ‖ s (TR-03111 §5.2.1)
    der = encode_dss_signature(
        int.from_bytes(plain[:size], "big"), int.from_bytes(plain[size:], "big")
    )
    (tmp_path / "pub.pem").write_bytes(
        is_signer.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    data = id_picc + challenge + ephemeral[1 : 1 + size]  # written out: ID ‖ r ‖ x
    (tmp_path / "data.bin").write_bytes(data)
    (tmp_path / "sig.der").write_bytes(der)
    result = subprocess.run(
        [openssl(), "dgst", f"-{hash_name}", "-verify", str(tmp_path / "pub.pem"),
         "-signature", str(tmp_path / "sig.der"), str(tmp_path / "data.bin")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0 and "Verified OK" in result.stdout, result.stderr
    domain = cvc.EcDomainParameters.named(curve.name)
    assert ta.verify_challenge_signature(plain, is_cert, domain, id_picc, challenge, ephemeral)
    assert not ta.verify_challenge_signature(plain, is_cert, domain, id_picc, bytes(8), ephemeral)


def test_rsa_pss_is_signature_verifies_with_openssl(tmp_path: Path) -> None:
    key = rsa.generate_private_key(65537, 2048)
    is_signer = LocalSigner(key, "memory:rsa")
    oid = oids.ID_TA_RSA_PSS_SHA_256
    is_cert = certificate(
        signer(), "VNDV000001", RsaPublicKey.from_cryptography(key.public_key(), oid),
        "VNIS00001", Role.INSPECTION_SYSTEM,
    )  # fmt: skip
    signature = ta.sign_challenge(is_signer, is_cert, b"ID", b"\x11" * 8, bytes(128))
    (tmp_path / "pub.pem").write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    (tmp_path / "data.bin").write_bytes(b"ID" + b"\x11" * 8 + hashlib.sha1(bytes(128)).digest())
    (tmp_path / "sig.bin").write_bytes(signature)
    result = subprocess.run(
        [openssl(), "dgst", "-sha256", "-verify", str(tmp_path / "pub.pem"),
         "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32",
         "-signature", str(tmp_path / "sig.bin"), str(tmp_path / "data.bin")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0 and "Verified OK" in result.stdout, result.stderr


# --- APDUs ---------------------------------------------------------------------------------------


def test_apdus_as_tr_03110_3_writes_them() -> None:
    _, _, _, dv, is_cert = chain()
    assert bytes(ta.mse_set_dst(dv.car)) == bytes.fromhex("002281B60D830B") + b"VNCVCA00001"
    assert bytes(ta.mse_set_at(is_cert.chr)) == bytes.fromhex("002281A40B8309") + b"VNIS00001"
    assert bytes(ta.get_challenge()) == bytes.fromhex("0084000008")
    assert bytes(ta.external_authenticate(b"\x01\x02")) == bytes.fromhex("00820000020102")
    (pso,) = ta.pso_verify_certificate(dv)
    assert (pso.cla, pso.ins, pso.p1, pso.p2) == (0x00, 0x2A, 0x00, 0xBE)
    # The body and the signature data objects, not the 7F21 wrapper.
    assert pso.data == dv.body.raw + tlv.encode(0x5F37, dv.signature)
    assert tlv.decode_single(dv.raw, 0x7F21).value == pso.data


@given(st.integers(min_value=1, max_value=300))
def test_chained_pso_joins_to_the_certificate(max_data: int) -> None:
    certificate = _CHAIN[4]
    commands = ta.pso_verify_certificate(certificate, max_data=max_data)
    assert b"".join(c.data for c in commands) == ta.certificate_data(certificate)
    assert all(c.cla == 0x10 for c in commands[:-1]) and commands[-1].cla == 0x00
    assert all(len(c.data) <= max_data for c in commands)


def test_parse_certificate_data_takes_both_forms_and_rejects_garbage() -> None:
    dv = _CHAIN[3]
    assert ta.parse_certificate_data(ta.certificate_data(dv)).raw == dv.raw
    assert ta.parse_certificate_data(dv.raw).raw == dv.raw
    for bad in (b"", b"\x7f\x4e\x00", dv.body.raw, ta.certificate_data(dv) + b"\x00"):
        with pytest.raises(EncodingError):
            ta.parse_certificate_data(bad)


@given(st.binary(max_size=300))
def test_parse_certificate_data_never_raises_anything_else(data: bytes) -> None:
    with contextlib.suppress(EncodingError):
        ta.parse_certificate_data(data)


# --- The chain -----------------------------------------------------------------------------------


_CHAIN = chain()


def test_terminal_key_finds_its_certificate_and_the_chain_order() -> None:
    _, is_s, cvca, dv, is_cert = _CHAIN
    terminal = ta.TerminalKey.from_certificates(is_s, [cvca, is_cert, dv])
    assert terminal.certificate.raw == is_cert.raw
    assert [str(c.chr) for c in ta.chain_for(terminal)] == ["VNDV000001", "VNIS00001"]
    with pytest.raises(PkiError):
        ta.TerminalKey.from_certificates(is_s, [cvca, dv])
    with pytest.raises(PkiError):
        ta.TerminalKey(is_s, dv)
    with pytest.raises(PkiError):  # no DV certificate for the IS certificate
        ta.chain_for(ta.TerminalKey(is_s, is_cert, ()))


def test_perform_ta_sends_the_sequence_and_signs_the_challenge() -> None:
    _, is_s, cvca, dv, is_cert = _CHAIN
    terminal = ta.TerminalKey(is_s, is_cert, (dv, cvca))
    sent: list[Command] = []
    challenge = bytes.fromhex("1122334455667788")
    ephemeral = (
        signer()
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )

    class Chip:
        def send(self, command: Command) -> Response:
            sent.append(command)
            if command.ins == 0x84:
                return Response(challenge, 0x9000)
            return Response(b"", 0x9000)

    result = ta.perform_ta(Chip(), terminal, id_picc=b"ID", terminal_ephemeral_public_key=ephemeral)
    assert [(c.ins, c.p1, c.p2) for c in sent] == [
        (0x22, 0x81, 0xB6), (0x2A, 0x00, 0xBE), (0x22, 0x81, 0xB6), (0x2A, 0x00, 0xBE),
        (0x22, 0x81, 0xA4), (0x84, 0x00, 0x00), (0x82, 0x00, 0x00),
    ]  # fmt: skip
    assert result.verified == ("VNDV000001", "VNIS00001") and result.chat.read_dg3
    domain = cvca.public_key.domain  # type: ignore[union-attr]
    assert ta.verify_challenge_signature(
        sent[-1].data, is_cert, domain, b"ID", challenge, ephemeral
    )


def test_perform_ta_names_the_refused_step() -> None:
    _, is_s, _, dv, is_cert = _CHAIN

    class Refusing:
        def send(self, command: Command) -> Response:
            return Response(b"", 0x6300 if command.ins == 0x2A else 0x9000)

    with pytest.raises(CardError) as caught:
        ta.perform_ta(
            Refusing(), ta.TerminalKey(is_s, is_cert, (dv,)), id_picc=b"ID",
            terminal_ephemeral_public_key=b"\x04" + bytes(64),
        )  # fmt: skip
    assert caught.value.sw == 0x6300 and "VNDV000001" in str(caught.value)
