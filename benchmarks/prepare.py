"""How fast cardkit prepares cards, per core (``python benchmarks/prepare.py -n 2000``).

"A card" is the per-card work of :func:`cardkit.services.prepare.prepare_card`: build every LDS
file of the profile from an already validated record, sign EF.SOD with the Document Signer and
seal the chip's secrets under the transport key. Photos and fingerprints are fitted (decoded,
resized, encoded) ONCE, before timing: image encoding is a separate, parallelisable stage, and
``prepare_card`` accepts pre-fitted images. Nothing is written to disk (``write_card_image`` does
an fsync per file: that is the disk's speed, not cardkit's).

Chip key generation (brainpoolP256r1 chip authentication + P-256 active authentication for
vn-cccd-2021) is a real per-card cost but can be done ahead of time: it is measured alone, and
the card rate is printed both with it and with keys pre-generated.

Configurations: Document Signer P-256 in process, RSA-3072 (RSASSA-PSS) in process, P-256 on a
throw-away SoftHSM2 token (through cardkit's PKCS#11 signer). Next to each card rate, the raw
signature rate of the same key in the same run. Single-threaded: pin it to one core with
``taskset -c 0`` (see benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import datetime
import importlib.util
import io
import os
import pstats
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cardkit.lds.build import fit_face_for, fit_finger_for
from cardkit.lds.image import FittedImage
from cardkit.pki import certs
from cardkit.pki.keystore.transport import FileTransportKey
from cardkit.pki.passive import passive_authentication
from cardkit.pki.signer import LocalSigner, SignatureScheme, Signer
from cardkit.pki.trust import TrustStore
from cardkit.profile import Profile, load_profile
from cardkit.records import CitizenRecord, load_records, validate_all
from cardkit.report import Status
from cardkit.services.card_image import CardImage
from cardkit.services.prepare import ChipKeys, Issuer, generate_chip_keys, prepare_card

ROOT = Path(__file__).resolve().parent.parent
RECORDS = ROOT / "profiles" / "samples" / "citizens.csv"
SOFTHSM_HELPER = ROOT / "tests" / "integration" / "softhsm.py"
PROFILE = "vn-cccd-2021"
TODAY = datetime.date(2026, 11, 1)  # the samples' dates of issue go up to this day
NOW = datetime.datetime(2026, 11, 2, 9, 0, tzinfo=datetime.UTC)
TARGET = 2000.0  # cards/s per core, P-256 in process, photos already encoded

P256 = SignatureScheme("sha256")
RSA_PSS = SignatureScheme("sha256", "pss")


# --- inputs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """One validated record with its images already fitted for the chip."""

    record: CitizenRecord
    card_id: str
    photo: FittedImage
    fingers: tuple[FittedImage, ...]


def load_samples(profile: Profile) -> list[Sample]:
    results = validate_all(load_records(RECORDS), profile, TODAY)
    bad = [r.raw.row for r in results if r.record is None]
    if bad:
        raise SystemExit(f"{RECORDS}: rows {bad} do not validate on {TODAY}")
    samples = []
    for result in results:
        record = result.record
        assert record is not None
        samples.append(
            Sample(
                record=record,
                card_id=f"bench-{result.raw.row:05d}",
                photo=fit_face_for(record.photo_path.read_bytes(), profile),
                fingers=tuple(fit_finger_for(p.read_bytes()) for p in record.fingerprint_paths),
            )
        )
    return samples


def cycle(samples: Sequence[Sample], n: int) -> list[Sample]:
    return [samples[i % len(samples)] for i in range(n)]


def transport_key() -> FileTransportKey:
    """An in-memory AES-256-GCM transport key (the file backend's key, without the scrypt
    unwrapping that happens once per batch)."""
    return FileTransportKey("tk-benchmark00000000", AESGCM(AESGCM.generate_key(256)))


@dataclass(frozen=True)
class Pki:
    csca_signer: Signer
    csca: object  # x509.Certificate; kept loose, only handed back to cardkit

    def issue(self, signer: Signer, name: str, scheme: SignatureScheme) -> Issuer:
        from cryptography import x509

        assert isinstance(self.csca, x509.Certificate)
        dsc = certs.issue_dsc(
            self.csca_signer,
            self.csca,
            signer.public_key(),
            common_name=f"Benchmark DS {name}",
            serial=certs.new_serial_number(),
            not_before=NOW - datetime.timedelta(days=1),
            not_after=NOW + datetime.timedelta(days=3650),
            private_key_usage_end=NOW + datetime.timedelta(days=90),
            scheme=P256,
        )
        return Issuer(
            dsc_signer=signer, dsc_certificate=dsc, transport=transport_key(), scheme=scheme
        )


def make_pki() -> Pki:
    signer = LocalSigner(ec.generate_private_key(ec.SECP256R1()), "benchmark-csca")
    csca = certs.create_csca(
        signer,
        country="VN",
        common_name="Benchmark CSCA",
        serial=certs.new_serial_number(),
        not_before=NOW - datetime.timedelta(days=2),
        not_after=NOW + datetime.timedelta(days=5000),
        private_key_usage_end=NOW + datetime.timedelta(days=1000),
        scheme=P256,
    )
    return Pki(signer, csca)


# --- measuring -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    name: str
    n: int
    seconds: float
    raw_sign_per_s: float | None = None
    note: str = ""

    @property
    def rate(self) -> float:
        return self.n / self.seconds


def run_cards(
    samples: Sequence[Sample],
    profile: Profile,
    issuer: Issuer,
    keys: Sequence[ChipKeys] | None,
) -> tuple[float, CardImage]:
    """Prepare every sample; ``keys`` pre-generated (one per card) or None (generated inside)."""
    last: CardImage | None = None
    start = time.perf_counter()
    for i, s in enumerate(samples):
        last = prepare_card(
            s.record,
            profile,
            issuer,
            card_id=s.card_id,
            photo=s.photo,
            fingerprints=s.fingers,
            signing_time=NOW,
            chip_keys=None if keys is None else keys[i],
        )
    elapsed = time.perf_counter() - start
    assert last is not None
    return elapsed, last


def raw_sign_rate(sign: Callable[[bytes], bytes], seconds: float = 0.5) -> float:
    """Signatures per second over digest-sized data (32 bytes), for about ``seconds``."""
    data = os.urandom(32)
    sign(data)  # warm-up
    count, start = 0, time.perf_counter()
    while True:
        for _ in range(20):
            sign(data)
        count += 20
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return count / elapsed


def local_raw_rate(signer: LocalSigner, scheme: SignatureScheme) -> float:
    """What ``cryptography`` alone reaches on the key: ECDSA(SHA-256), or RSA-PSS(SHA-256)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    key = signer.private_key
    if isinstance(key, ec.EllipticCurvePrivateKey):
        algorithm = ec.ECDSA(hashes.SHA256())
        return raw_sign_rate(lambda d: key.sign(d, algorithm))
    assert isinstance(key, rsa.RSAPrivateKey)
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    return raw_sign_rate(lambda d: key.sign(d, pss, hashes.SHA256()))


def pregenerate(profile: Profile, n: int) -> tuple[list[ChipKeys], float]:
    start = time.perf_counter()
    keys = [generate_chip_keys(profile) for _ in range(n)]
    return keys, time.perf_counter() - start


def check_card(image: CardImage, issuer: Issuer, pki: Pki) -> None:
    """The benchmark must time real cards: passive authentication of the last one must pass."""
    from cryptography import x509

    assert isinstance(pki.csca, x509.Certificate)
    trust = TrustStore(cscas=(pki.csca,))
    checks = passive_authentication(image.sod, image.data_groups(), trust, at=NOW)
    failed = [c.id for c in checks if c.status is Status.FAIL]
    if failed:
        raise SystemExit(f"benchmark card {image.card_id} fails passive authentication: {failed}")


# --- SoftHSM2 --------------------------------------------------------------------------------


def load_softhsm_helper() -> ModuleType:
    """tests/integration/softhsm.py, imported by path: cardkit itself carries no test helpers."""
    spec = importlib.util.spec_from_file_location("cardkit_bench_softhsm", SOFTHSM_HELPER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@contextmanager
def softhsm_signer() -> Iterator[Signer | str]:
    """A P-256 key generated on a throw-away token, or the reason SoftHSM2 is unavailable."""
    helper = load_softhsm_helper()
    reason = helper.missing_reason()
    if reason is not None:
        yield str(reason)
        return
    workdir = Path(tempfile.mkdtemp(prefix="cardkit-bench-softhsm-"))
    old_conf = os.environ.get("SOFTHSM2_CONF")
    try:
        token = helper.init_token(helper.write_config(workdir), "cardkit-bench")
        os.environ["SOFTHSM2_CONF"] = str(token.conf)  # read by C_Initialize
        from cardkit.pki import keystore
        from cardkit.pki.keystore import pkcs11 as p11

        try:
            yield keystore.generate_key(token.uri("dsc"), "ec:secp256r1", token.pin)
        finally:
            p11.close_all_sessions()
    finally:
        if old_conf is None:
            os.environ.pop("SOFTHSM2_CONF", None)
        else:
            os.environ["SOFTHSM2_CONF"] = old_conf
        shutil.rmtree(workdir, ignore_errors=True)


# --- profile ---------------------------------------------------------------------------------

# Steps of prepare_card, as (label, module path suffix, function name) in the profile.
STEPS: tuple[tuple[str, str, str], ...] = (
    ("SOD: ECDSA signature (cryptography)", "cardkit/pki/signer.py", "sign"),
    ("SOD: LDSSecurityObject build", "cardkit/lds/sod.py", "build"),
    ("SOD: Sod.wrap (re-parse of the CMS)", "cardkit/lds/sod.py", "wrap"),
    ("SOD: signer key vs DSC check", "cardkit/pki/sod_sign.py", "_spki"),
    ("SOD: (whole sign_sod)", "cardkit/pki/sod_sign.py", "sign_sod"),
    ("LDS: MRZ (build_mrz)", "cardkit/lds/build.py", "build_mrz"),
    ("LDS: DG1", "cardkit/lds/dg1.py", "build"),
    ("LDS: DG2", "cardkit/lds/dg2.py", "build"),
    ("LDS: DG3", "cardkit/lds/build.py", "_dg3"),
    ("LDS: DG13", "cardkit/lds/build.py", "_dg13"),
    ("LDS: DG14", "cardkit/lds/build.py", "_dg14"),
    ("LDS: DG15", "cardkit/lds/dg15.py", "build"),
    ("LDS: EF.COM", "cardkit/lds/com.py", "build"),
    ("LDS: EF.CardAccess", "cardkit/lds/card_access.py", "build"),
    ("LDS: (whole build_lds)", "cardkit/lds/build.py", "build_lds"),
    ("seal: chip keys to PKCS#8", "cardkit/services/card_image.py", "private_key_der"),
    ("seal: secrets JSON", "cardkit/services/card_image.py", "to_bytes"),
    ("seal: AES-GCM", "cardkit/pki/keystore/transport.py", "encrypt"),
    ("chip public keys", "cardkit/services/prepare.py", "public"),
    ("card: (whole prepare_card)", "cardkit/services/prepare.py", "prepare_card"),
)


def _cumulative(stats: pstats.Stats, path: str, name: str) -> float:
    total = 0.0
    table: dict[tuple[str, int, str], tuple[int, int, float, float, object]]
    table = stats.stats  # type: ignore[attr-defined]
    for (filename, _line, func), (_cc, _nc, _tt, ct, _callers) in table.items():
        if func == name and filename.replace(os.sep, "/").endswith(path):
            total += ct
    return total


def profile_cards(
    samples: Sequence[Sample], profile: Profile, issuer: Issuer, keys: Sequence[ChipKeys]
) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    run_cards(samples, profile, issuer, keys)
    profiler.disable()
    stats = pstats.Stats(profiler)
    whole = _cumulative(stats, "cardkit/services/prepare.py", "prepare_card")
    print(f"\nProfile: {len(samples)} cards, P-256 in process, chip keys pre-generated")
    print("(cProfile adds overhead per Python call: shares matter, absolute times do not)\n")
    print(f"  {'step':44} {'ms/card':>8} {'share':>7}")
    for label, path, name in STEPS:
        t = _cumulative(stats, path, name)
        if t:
            ms = 1000 * t / len(samples)
            print(f"  {label:44} {ms:8.3f} {100 * t / whole:6.1f}%")
    for order in ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(order).print_stats(15)
        lines = out.getvalue().splitlines()
        start = next(i for i, line in enumerate(lines) if "ncalls" in line)
        print(f"\nTop 15 by {order} time:")
        print("\n".join(lines[start:]).rstrip())


# --- main ------------------------------------------------------------------------------------


def print_table(rows: Sequence[Row]) -> None:
    print(f"\n{'configuration':58} {'N':>5} {'cards/s':>8} {'ms/card':>8} {'raw sign/s':>10}")
    for r in rows:
        raw = f"{r.raw_sign_per_s:10.0f}" if r.raw_sign_per_s else f"{'':10}"
        print(f"{r.name:58} {r.n:5d} {r.rate:8.0f} {1000 / r.rate:8.3f} {raw}")
        if r.note:
            print(f"  {r.note}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("-n", type=int, default=2000, help="cards per configuration (2000)")
    parser.add_argument("--skip-hsm", action="store_true", help="leave out SoftHSM2")
    parser.add_argument("--profile", action="store_true", help="cProfile the P-256 run")
    parser.add_argument("--profile-n", type=int, default=500, help="cards to profile (500)")
    args = parser.parse_args(argv)
    n: int = args.n
    if n < 1 or args.profile_n < 1:
        parser.error("-n and --profile-n must be at least 1")

    cpus = sorted(os.sched_getaffinity(0))
    print(f"cardkit prepare benchmark: profile {PROFILE}, records {RECORDS.name} cycled to N")
    print(f"python {sys.version.split()[0]}, CPUs allowed {cpus} (single-threaded run)")
    if len(cpus) > 1:
        print("  pin it for stable figures: taskset -c 0 .venv/bin/python benchmarks/prepare.py")
    profile = load_profile(PROFILE)
    no_chip_keys = dataclasses.replace(
        profile,
        name=f"{PROFILE}-no-chip-keys",
        lds=dataclasses.replace(profile.lds, data_groups=(1, 2, 13)),
        access=dataclasses.replace(
            profile.access, chip_authentication=False, active_authentication="none"
        ),
    )
    samples = load_samples(profile)
    cards = cycle(samples, n)
    print(f"{len(samples)} records, photos fitted once before timing "
          f"({profile.photo.width}x{profile.photo.height} {profile.photo.format}); "
          "fingerprints (DG3) fitted once too")  # fmt: skip
    pki = make_pki()
    rows: list[Row] = []

    # Chip keys alone, then pre-generated for the runs that leave key generation out.
    keys, keygen_s = pregenerate(profile, n)
    rows.append(Row("chip key generation only (bpP256r1 CA + P-256 AA)", n, keygen_s))

    p256 = LocalSigner(ec.generate_private_key(ec.SECP256R1()), "benchmark-dsc-p256")
    p256_issuer = pki.issue(p256, "P-256", P256)
    run_cards(cards[:50], profile, p256_issuer, keys[:50])  # warm-up (imports, caches)
    p256_raw = local_raw_rate(p256, P256)
    seconds, last = run_cards(cards, profile, p256_issuer, keys)
    check_card(last, p256_issuer, pki)
    rows.append(Row("P-256 in process, chip keys pre-generated  [target]", n, seconds, p256_raw))
    seconds, last = run_cards(cards, profile, p256_issuer, None)
    check_card(last, p256_issuer, pki)
    rows.append(Row("P-256 in process, chip keys generated per card", n, seconds, p256_raw))
    seconds, last = run_cards(cards, no_chip_keys, p256_issuer, [ChipKeys(None, None)] * n)
    check_card(last, p256_issuer, pki)
    rows.append(
        Row(
            "P-256 in process, variant without chip keys (DG1,2,(3),13)",
            n,
            seconds,
            p256_raw,
            "variant: no CA/AA, so no DG14/DG15 and no private keys sealed (JMRTD-like scope)",
        )
    )

    rsa_n = n  # about 1.5 ms a card: 2,000 cards take 3 s
    rsa_signer = LocalSigner(rsa.generate_private_key(65537, 3072), "benchmark-dsc-rsa3072")
    rsa_issuer = pki.issue(rsa_signer, "RSA-3072", RSA_PSS)
    rsa_raw = local_raw_rate(rsa_signer, RSA_PSS)
    seconds, last = run_cards(cards[:rsa_n], profile, rsa_issuer, keys[:rsa_n])
    check_card(last, rsa_issuer, pki)
    note = f"N reduced to {rsa_n}: RSA-3072 signing bounds it" if rsa_n < n else ""
    rows.append(
        Row("RSA-3072 PSS in process, chip keys pre-generated", rsa_n, seconds, rsa_raw, note)
    )

    if args.skip_hsm:
        print("SoftHSM2: skipped (--skip-hsm)")
    else:
        with softhsm_signer() as hsm:
            if isinstance(hsm, str):
                print(f"SoftHSM2 unavailable: {hsm}")
            else:
                hsm_n = n  # about 0.7 ms a card with SoftHSM2
                hsm_issuer = pki.issue(hsm, "SoftHSM2 P-256", P256)
                hsm_raw = raw_sign_rate(lambda d: hsm.sign(d, P256))
                seconds, last = run_cards(cards[:hsm_n], profile, hsm_issuer, keys[:hsm_n])
                check_card(last, hsm_issuer, pki)
                note = "raw = cardkit's PKCS#11 signer (SHA-256 here, CKM_ECDSA on the token)"
                if hsm_n < n:
                    note += f"; N reduced to {hsm_n}"
                rows.append(
                    Row("SoftHSM2 P-256, chip keys pre-generated", hsm_n, seconds, hsm_raw, note)
                )

    print_table(rows)
    target = rows[1].rate
    verdict = "met" if target >= TARGET else "NOT met"
    print(f"\nTarget {TARGET:.0f} cards/s per core (P-256, photos pre-encoded, keys "
          f"pre-generated): {target:.0f} -> {verdict}")  # fmt: skip
    print("Included per card: LDS build (COM, DG1, DG2, DG3 when the record has fingers, DG13,")
    print("DG14, DG15, CardAccess), SOD hash + sign, PKCS#8 of chip keys, AES-GCM seal.")
    print("Excluded: photo/finger fitting, record validation, writing the card image, audit log.")
    if args.profile:
        profile_keys = [keys[i % n] for i in range(args.profile_n)]
        profile_cards(cycle(samples, args.profile_n), profile, p256_issuer, profile_keys)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
