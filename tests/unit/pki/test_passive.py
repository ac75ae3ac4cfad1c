"""Passive authentication (ICAO 9303-11 §5.1): every check, tampering, and hostile input."""

from __future__ import annotations

import dataclasses
import datetime
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from cardkit.lds.sod import Sod
from cardkit.pki.passive import passive_authentication
from cardkit.pki.signer import LocalSigner, PrivateKey, SignatureScheme
from cardkit.pki.sod_sign import PreparedDsc, sign_sod
from cardkit.pki.trust import TrustStore
from cardkit.report import Check, Report, Status, Verdict

T0 = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
SIGNED_AT = datetime.datetime(2024, 6, 1, 9, 0, tzinfo=datetime.UTC)
AT = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
DAY = datetime.timedelta(days=1)
VECTORS = Path(__file__).parents[2] / "vectors"

# --- A test PKI built with cryptography directly -----------------------------------------------


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _csca(
    key: PrivateKey,
    *,
    serial: int = 1,
    cn: str = "CSCA VN",
    start: datetime.datetime = T0,
    days: int = 5000,
) -> x509.Certificate:
    return (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(start)
        .not_valid_after(start + days * DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )


def _dsc(
    key: PrivateKey,
    issuer_key: PrivateKey,
    *,
    serial: int = 0x5D5C,
    cn: str = "CSCA VN",
    start: datetime.datetime = T0,
    days: int = 3650,
    pkup: tuple[datetime.datetime, datetime.datetime] | None = None,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name("DS VN"))
        .issuer_name(_name(cn))
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(start)
        .not_valid_after(start + days * DAY)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), False
        )
        .add_extension(  # 9303-12 Table 7: a Document Signer signs, nothing else
            x509.KeyUsage(True, False, False, False, False, False, False, False, False), True
        )
    )
    if pkup is not None:
        builder = builder.add_extension(x509.PrivateKeyUsagePeriod(*pkup), False)
    return builder.sign(issuer_key, hashes.SHA256())


def _crl(
    issuer_key: PrivateKey,
    revoked: dict[int, x509.ReasonFlags] | None = None,
    *,
    next_update: datetime.datetime = AT + 30 * DAY,
) -> x509.CertificateRevocationList:
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(_name("CSCA VN"))
        .last_update(T0 + 100 * DAY)
        .next_update(next_update)
    )
    for serial, reason in (revoked or {}).items():
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(datetime.datetime(2024, 9, 1, tzinfo=datetime.UTC))
            .add_extension(x509.CRLReason(reason), False)
            .build()
        )
    return builder.sign(issuer_key, hashes.SHA256())


CSCA_KEY = ec.derive_private_key(0xC5CA, ec.SECP256R1())
DSC_KEY = ec.derive_private_key(0xD5C, ec.SECP256R1())
CSCA = _csca(CSCA_KEY)
DSC = _dsc(DSC_KEY, CSCA_KEY)
TRUST = TrustStore((CSCA,), (_crl(CSCA_KEY),))
DGS = {
    1: b"\x61\x5b\x5f\x1f\x58" + b"IDVNM0123456789001234567890<<<" * 3,
    2: b"\x75\x0a" + bytes(range(10)),
    13: b"\x6d\x06vn-dg!",
}


def _sod(
    dsc: x509.Certificate = DSC,
    key: PrivateKey = DSC_KEY,
    scheme: SignatureScheme = SignatureScheme(),  # noqa: B008
    groups: dict[int, bytes] = DGS,
) -> bytes:
    signer = LocalSigner(key, "test DS")
    return sign_sod(groups, signer, dsc, signing_time=SIGNED_AT, scheme=scheme).raw


SOD = _sod()


def _run(
    sod: bytes = SOD, files: dict[int, bytes] = DGS, trust: TrustStore = TRUST, **kwargs: object
) -> dict[str, Check]:
    checks = passive_authentication(sod, files, trust, at=AT, **kwargs)  # type: ignore[arg-type]
    Report(checks)  # ids are unique
    return {c.id: c for c in checks}


#: The checks of the SOD signer's role and of the algorithm policy, in the order they run.
SIGNER_AND_ALGORITHM_CHECKS = (
    "dsc.issuer", "dsc.role", "dsc.key_usage", "dsc.basic_constraints",
    "dsc.extended_key_usage", "dsc.critical_extensions", "algorithm.dg_hash",
    "algorithm.sod_signature", "algorithm.dsc_key", "algorithm.dsc_signature",
    "algorithm.csca_key",
)  # fmt: skip


def _status(checks: dict[str, Check]) -> dict[str, str]:
    return {k: c.status.value for k, c in checks.items()}


# --- The good card -------------------------------------------------------------------------------

RSA_KEY = rsa.generate_private_key(65537, 2048)
KINDS: dict[str, tuple[PrivateKey, SignatureScheme]] = {
    "P-256": (DSC_KEY, SignatureScheme()),
    "P-384": (ec.derive_private_key(0x384, ec.SECP384R1()), SignatureScheme("sha384")),
    "brainpoolP256r1": (ec.derive_private_key(0xB256, ec.BrainpoolP256R1()), SignatureScheme()),
    "RSA-PKCS1v15": (RSA_KEY, SignatureScheme("sha256", "pkcs1v15")),
    "RSA-PSS": (RSA_KEY, SignatureScheme("sha384", "pss")),
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_good_card_passes_every_check(kind: str) -> None:
    key, scheme = KINDS[kind]
    sod = _sod(_dsc(key, CSCA_KEY, serial=77), key, scheme)
    checks = _run(sod, com_data_groups=[1, 2, 13])
    assert _status(checks) == {
        "sod.parse": "PASS",
        "dg.hash.1": "PASS",
        "dg.hash.2": "PASS",
        "dg.hash.13": "PASS",
        "sod.signature": "PASS",
        "dsc.chain": "PASS",
        **dict.fromkeys(SIGNER_AND_ALGORITHM_CHECKS, "PASS"),
        "dsc.validity": "PASS",
        "csca.validity": "PASS",
        "dsc.revocation": "PASS",
        "com.consistency": "PASS",
    }
    assert list(checks) == [
        "sod.parse",
        "dg.hash.1",
        "dg.hash.2",
        "dg.hash.13",
        "sod.signature",
        "dsc.chain",
        *SIGNER_AND_ALGORITHM_CHECKS,
        "dsc.validity",
        "csca.validity",
        "dsc.revocation",
        "com.consistency",
    ]
    assert Report(tuple(checks.values())).verdict is Verdict.VALID
    assert all(c.clause for c in checks.values())


def test_no_crl_is_a_warning_and_still_valid() -> None:
    checks = _run(trust=TrustStore((CSCA,)))
    assert checks["dsc.revocation"].status is Status.WARN
    assert "no CRL" in checks["dsc.revocation"].detail
    assert checks["com.consistency"].status is Status.SKIP
    assert Report(tuple(checks.values())).verdict is Verdict.VALID


# --- Data groups ---------------------------------------------------------------------------------


def test_tampering_with_any_byte_of_any_data_group_fails_its_hash() -> None:
    for number, data in DGS.items():
        for position in range(len(data)):
            tampered = bytearray(data)
            tampered[position] ^= 0x01
            checks = _run(files={**DGS, number: bytes(tampered)})
            assert checks[f"dg.hash.{number}"].status is Status.FAIL, (number, position)
            others = [f"dg.hash.{n}" for n in DGS if n != number]
            assert all(checks[o].status is Status.PASS for o in others)
            assert checks["sod.signature"].status is Status.PASS


@given(st.sampled_from(sorted(DGS)), st.data())
def test_any_change_to_a_data_group_fails(number: int, data: st.DataObject) -> None:
    changed = data.draw(st.binary(max_size=120).filter(lambda b: b != DGS[number]))
    assert _run(files={**DGS, number: changed})[f"dg.hash.{number}"].status is Status.FAIL


def test_missing_data_groups() -> None:
    checks = _run(files={1: DGS[1], 13: DGS[13]})  # DG2 mandatory, not read
    assert checks["dg.hash.2"].status is Status.FAIL
    checks = _run(files={1: DGS[1], 2: DGS[2]})  # DG13 optional, not read
    assert checks["dg.hash.13"].status is Status.SKIP
    assert not checks["dg.hash.13"].essential
    assert Report(tuple(checks.values())).verdict is Verdict.VALID


def test_a_data_group_not_in_the_sod_fails() -> None:
    checks = _run(files={**DGS, 11: b"\x6b\x00"})
    assert checks["dg.hash.11"].status is Status.FAIL
    assert "no hash" in checks["dg.hash.11"].detail
    checks = _run(files={**DGS, 99: b"\x00"})
    assert checks["dg.hash.99"].status is Status.FAIL


def test_details_never_show_data_group_hashes() -> None:
    import hashlib

    checks = _run(files={**DGS, 1: b"\x61\x00"})
    text = json.dumps([c.to_dict() for c in checks.values()])
    assert hashlib.sha256(DGS[1]).hexdigest() not in text.lower()
    assert "IDVNM" not in text


def test_com_consistency() -> None:
    checks = _run(com_data_groups=[1, 2, 11])
    assert checks["com.consistency"].status is Status.FAIL
    assert "DG11" in checks["com.consistency"].detail
    assert "DG13" in checks["com.consistency"].detail


# --- The signature -------------------------------------------------------------------------------


def test_tampered_signature_fails() -> None:
    sod = Sod.from_bytes(SOD)
    signature = sod.signer_infos[0].signature
    start = SOD.rindex(signature)
    for position in range(start, start + len(signature)):
        data = bytearray(SOD)
        data[position] ^= 0x80
        checks = _run(bytes(data))
        assert checks["sod.signature"].status is Status.FAIL, position
        assert checks["dsc.chain"].status is Status.PASS


def test_tampered_econtent_fails_the_signature() -> None:
    sod = Sod.from_bytes(SOD)
    digest = sod.lds_security_object.hashes[13]
    data = SOD.replace(digest, bytes(len(digest)))
    checks = _run(data)
    assert checks["sod.parse"].status is Status.PASS
    assert checks["sod.signature"].status is Status.FAIL
    assert "messageDigest" in checks["sod.signature"].detail
    assert checks["dg.hash.13"].status is Status.FAIL


def test_a_different_key_fails_the_signature() -> None:
    # A PreparedDsc that claims the real DSC but carries another key's SPKI lets sign_sod
    # produce an SOD embedding the trusted DSC yet signed by a key that is not its own.
    other = ec.derive_private_key(0xBAD, ec.SECP256R1())
    spki = other.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    lying = dataclasses.replace(PreparedDsc.of(DSC), spki=spki)
    forged = sign_sod(DGS, LocalSigner(other, "other"), lying, signing_time=SIGNED_AT).raw
    checks = _run(forged)
    assert checks["sod.signature"].status is Status.FAIL
    assert "does not verify" in checks["sod.signature"].detail
    assert checks["dsc.chain"].status is Status.PASS


# --- The certificate chain -----------------------------------------------------------------------


def test_untrusted_csca_fails_the_chain() -> None:
    rogue_key = ec.derive_private_key(0x0BAD, ec.SECP256R1())
    rogue_dsc = _dsc(DSC_KEY, rogue_key)  # same names, issued by an untrusted key
    checks = _run(_sod(rogue_dsc))
    assert checks["sod.signature"].status is Status.PASS
    assert checks["dsc.chain"].status is Status.FAIL
    assert checks["csca.validity"].status is Status.SKIP
    assert checks["dsc.revocation"].status is Status.SKIP
    assert Report(tuple(checks.values())).verdict is Verdict.INVALID
    # A trust store without any CSCA of that name.
    checks = _run(trust=TrustStore((_csca(rogue_key, cn="Other"),)))
    assert checks["dsc.chain"].status is Status.FAIL
    assert "no trusted CSCA" in checks["dsc.chain"].detail


def test_same_name_csca_without_ski_but_wrong_key_fails() -> None:
    rogue_key = ec.derive_private_key(0x0BAD, ec.SECP256R1())
    impostor = (
        x509.CertificateBuilder()
        .subject_name(_name("CSCA VN"))
        .issuer_name(_name("CSCA VN"))
        .public_key(rogue_key.public_key())
        .serial_number(9)
        .not_valid_before(T0)
        .not_valid_after(T0 + 5000 * DAY)
        .sign(rogue_key, hashes.SHA256())
    )
    checks = _run(trust=TrustStore((impostor,)))
    assert checks["dsc.chain"].status is Status.FAIL
    assert "verifies with none" in checks["dsc.chain"].detail


def test_key_rollover_picks_the_right_csca() -> None:
    new_key = ec.derive_private_key(0xC5CB, ec.SECP256R1())
    new_csca = _csca(new_key, serial=2, start=T0 + 30 * DAY)
    dsc = _dsc(DSC_KEY, new_key, start=T0 + 40 * DAY)
    checks = _run(_sod(dsc), trust=TrustStore((CSCA, new_csca)))
    assert checks["dsc.chain"].status is Status.PASS
    assert checks["csca.validity"].status is Status.PASS
    assert checks["dsc.revocation"].status is Status.WARN  # no CRL from the new CSCA


# --- Validity --------------------------------------------------------------------------------


def test_dsc_expired_at_signing_time_fails() -> None:
    expired = _dsc(DSC_KEY, CSCA_KEY, days=30)  # T0 .. T0+30d, signing is on 2024-06-01
    checks = _run(_sod(expired))
    assert checks["dsc.validity"].status is Status.FAIL
    assert "outside the DSC validity" in checks["dsc.validity"].detail


def test_signing_outside_private_key_usage_period_fails() -> None:
    dsc = _dsc(DSC_KEY, CSCA_KEY, pkup=(T0, T0 + 60 * DAY))
    checks = _run(_sod(dsc))
    assert checks["dsc.validity"].status is Status.FAIL
    assert "private key usage period" in checks["dsc.validity"].detail
    inside = _dsc(DSC_KEY, CSCA_KEY, pkup=(T0, T0 + 300 * DAY))
    assert _run(_sod(inside))["dsc.validity"].status is Status.PASS


def test_dsc_expired_at_verification_time_warns() -> None:
    dsc = _dsc(DSC_KEY, CSCA_KEY, days=200)  # valid at signing, expired by AT
    checks = _run(_sod(dsc))
    assert checks["dsc.validity"].status is Status.WARN


def test_csca_not_valid_when_the_dsc_was_issued_fails() -> None:
    late_csca = _csca(CSCA_KEY, start=T0 + 10 * DAY)  # same key, starts after the DSC
    checks = _run(trust=TrustStore((late_csca,)))
    assert checks["dsc.chain"].status is Status.PASS
    assert checks["csca.validity"].status is Status.FAIL


# --- Revocation ----------------------------------------------------------------------------------


def test_revoked_dsc_fails_with_date_and_reason() -> None:
    crl = _crl(
        CSCA_KEY,
        {DSC.serial_number: x509.ReasonFlags.key_compromise, 12: x509.ReasonFlags.superseded},
    )
    checks = _run(trust=TrustStore((CSCA,), (crl,)))
    revocation = checks["dsc.revocation"]
    assert revocation.status is Status.FAIL
    assert "2024-09-01" in revocation.detail
    assert "keyCompromise" in revocation.detail
    assert Report(tuple(checks.values())).verdict is Verdict.INVALID


def test_crl_with_a_bad_signature_is_not_used() -> None:
    other = ec.derive_private_key(0x0BAD, ec.SECP256R1())
    forged = _crl(other, {DSC.serial_number: x509.ReasonFlags.key_compromise})
    checks = _run(trust=TrustStore((CSCA,), (forged,)))
    assert checks["dsc.revocation"].status is Status.WARN
    assert "does not verify" in checks["dsc.revocation"].detail


def test_stale_crl_warns() -> None:
    crl = _crl(CSCA_KEY, next_update=AT - DAY)
    checks = _run(trust=TrustStore((CSCA,), (crl,)))
    assert checks["dsc.revocation"].status is Status.WARN
    assert "expired" in checks["dsc.revocation"].detail


# --- Known answer: published reference SODs --------------------------------------------------


@pytest.mark.parametrize(
    ("file", "groups"),
    [
        ("sod_bsi_tr03105_5_reference.json", ["dg1", "dg14"]),
        ("sod_etsi_tr103200_eacaa.json", ["dg1", "dg14", "dg15"]),
    ],
)
def test_reference_sods(file: str, groups: list[str]) -> None:
    # BSI TR-03105-5 ReferenceDataSet (RSASSA-PSS SHA-256) and ETSI TR 103 200 prototype data:
    # signatures by their embedded DSCs, data-group hashes as published. The issuing CSCAs are
    # not published with them, so the chain fails against an empty store.
    vector = json.loads((VECTORS / file).read_text())
    files = {int(g[2:]): bytes.fromhex(vector[g]) for g in groups}
    checks = _run(bytes.fromhex(vector["sod"]), files, TrustStore())
    assert checks["sod.parse"].status is Status.PASS
    assert checks["sod.signature"].status is Status.PASS
    for g in groups:
        assert checks[f"dg.hash.{g[2:]}"].status is Status.PASS
    assert checks["dg.hash.2"].status is Status.FAIL  # mandatory DG2 not supplied
    assert checks["dsc.chain"].status is Status.FAIL


def test_supplied_dsc_is_used_when_the_sod_carries_none() -> None:
    # An SOD whose certificates set is empty (a PreparedDsc with no DER): the DSC must come
    # from the caller.
    bare = dataclasses.replace(PreparedDsc.of(DSC), der=b"")
    sod = sign_sod(DGS, LocalSigner(DSC_KEY, "ds"), bare, signing_time=SIGNED_AT).raw
    assert Sod.from_bytes(sod).certificates == ()
    without = _run(sod)
    assert without["sod.signature"].status is Status.FAIL
    assert "matches the SignerInfo" in without["dsc.chain"].detail
    assert without["dsc.validity"].status is Status.SKIP
    supplied = _run(sod, dsc=DSC)
    assert all(c.status is Status.PASS for c in supplied.values() if c.id != "com.consistency")


# --- Hostile input ---------------------------------------------------------------------------


def test_unparseable_sod_fails_parse_and_skips_the_rest() -> None:
    checks = _run(b"\x77\x03\x30\x01\x00")
    assert _status(checks) == {
        "sod.parse": "FAIL",
        "dg.hashes": "SKIP",
        "sod.signature": "SKIP",
        "dsc.chain": "SKIP",
        **dict.fromkeys(SIGNER_AND_ALGORITHM_CHECKS, "SKIP"),
        "dsc.validity": "SKIP",
        "csca.validity": "SKIP",
        "dsc.revocation": "SKIP",
        "com.consistency": "SKIP",
    }


# A mutated serial number can make a certificate's serial non-positive: cryptography warns.
_HOSTILE = pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")


@_HOSTILE
def test_every_single_byte_change_of_the_sod_is_caught() -> None:
    for position in range(len(SOD)):
        data = bytearray(SOD)
        data[position] ^= 0xFF
        checks = passive_authentication(bytes(data), DGS, TRUST, at=AT)
        assert any(c.status is Status.FAIL for c in checks), position


@_HOSTILE
@settings(max_examples=200)
@given(
    st.lists(st.tuples(st.integers(0, len(SOD) - 1), st.integers(0, 255)), min_size=1, max_size=4)
)
def test_random_mutations_give_fail_checks_not_exceptions(
    changes: list[tuple[int, int]],
) -> None:
    data = bytearray(SOD)
    for position, value in changes:
        data[position] = value
    checks = passive_authentication(bytes(data), DGS, TRUST, at=AT)
    assert all(isinstance(c, Check) for c in checks)
    if bytes(data) != SOD:
        assert any(c.status is Status.FAIL for c in checks)


@given(st.binary(max_size=400))
def test_random_bytes_never_raise(data: bytes) -> None:
    checks = passive_authentication(data, {1: data}, TRUST, at=AT)
    assert checks[0].id == "sod.parse"
    assert checks[0].status is Status.FAIL


@given(st.integers(0, len(SOD) - 1))
def test_truncations_never_raise(cut: int) -> None:
    checks = passive_authentication(SOD[:cut], DGS, TRUST, at=AT)
    assert checks[0].status is Status.FAIL


def test_naive_verification_time_is_refused() -> None:
    with pytest.raises(ValueError):
        passive_authentication(SOD, DGS, TRUST, at=datetime.datetime(2025, 1, 1))
