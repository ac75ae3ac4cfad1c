"""Card images: the folder format, its integrity checks and the sealed chip secrets."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
import shutil
import stat
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given
from hypothesis import strategies as st
from testpki import in_memory_issuer

from cardkit.errors import KeyStoreError
from cardkit.lds import files
from cardkit.pki.keystore.transport import FileTransportKey
from cardkit.profile import Profile, load_profile
from cardkit.records import CitizenRecord, load_records, validate_all
from cardkit.services import card_image
from cardkit.services.card_image import (
    MANIFEST,
    SEALED,
    CardImage,
    CardImageError,
    ChipSecrets,
    read_card_image,
    secrets_aad,
    write_card_image,
)
from cardkit.services.prepare import ChipKeys, Issuer, generate_chip_keys, prepare_card

SAMPLES = Path(__file__).resolve().parents[3] / "profiles" / "samples"
TODAY = date(2026, 11, 1)  # the samples' reference day (profiles/samples/README.md)
T0 = datetime(2026, 1, 1, tzinfo=UTC)
SIGNED_AT = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)


def _transport() -> FileTransportKey:
    return FileTransportKey(f"tk-{os.urandom(8).hex()}", AESGCM(AESGCM.generate_key(256)))


def _issuer() -> Issuer:
    return in_memory_issuer("card image test", f"tk-{os.urandom(8).hex()}").issuer


@dataclasses.dataclass(frozen=True)
class Prepared:
    issuer: Issuer
    profile: Profile
    record: CitizenRecord
    keys: ChipKeys
    image: CardImage
    other: CardImage  # a second card of the same batch


@pytest.fixture(scope="module")
def prepared() -> Prepared:
    profile = load_profile("vn-cccd-2021")
    results = validate_all(load_records(SAMPLES / "citizens.csv"), profile, TODAY)
    first, second = (r.record for r in results[:2])
    assert first is not None and second is not None
    assert first.can is not None and first.fingerprint_paths  # exercises CAN and DG3
    issuer = _issuer()
    keys = generate_chip_keys(profile)
    assert keys.chip_authentication is not None and keys.active_authentication is not None

    def build(record: CitizenRecord, card_id: str, chip_keys: ChipKeys | None) -> CardImage:
        return prepare_card(
            record,
            profile,
            issuer,
            card_id=card_id,
            photo=record.photo_path.read_bytes(),
            fingerprints=[p.read_bytes() for p in record.fingerprint_paths],
            signing_time=SIGNED_AT,
            chip_keys=chip_keys,
        )

    return Prepared(
        issuer,
        profile,
        first,
        keys,
        build(first, "citizens-00002", keys),
        build(second, "citizens-00003", None),
    )


@pytest.fixture(scope="module")
def written(prepared: Prepared, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_card_image(prepared.image, tmp_path_factory.mktemp("written"))


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file())


# --- Writing and reading ----------------------------------------------------------------------


def test_write_then_read_round_trip(prepared: Prepared, written: Path) -> None:
    image = prepared.image
    assert written.name == image.card_id
    back = read_card_image(written)
    assert back.card_id == image.card_id
    assert back.profile == image.profile == "vn-cccd-2021"
    assert dict(back.files) == dict(image.files)
    assert back.sealed == image.sealed
    assert back.transport_key_id == image.transport_key_id == prepared.issuer.transport.key_id
    assert dict(back.metadata) == json.loads(json.dumps(dict(image.metadata)))
    assert back.metadata["sod"]["dsc_serial"] == format(
        prepared.issuer.dsc_certificate.serial_number, "X"
    )
    # Every LDS file, the sealed secrets and the manifest, nothing else.
    expected = {f"{spec.name}.bin" for spec in image.files} | {SEALED, MANIFEST}
    assert {p.name for p in written.iterdir()} == expected
    assert {files.SOD, files.COM, files.dg(1), files.dg(2), files.dg(3)} <= set(image.files)


def test_files_are_private(written: Path) -> None:
    assert stat.S_IMODE(written.stat().st_mode) == 0o700
    for path in _image_files(written):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


def test_manifest_lists_every_file_with_its_hash(prepared: Prepared, written: Path) -> None:
    manifest = json.loads((written / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["format"] == "cardkit-card-image/1"
    for spec, data in prepared.image.files.items():
        entry = manifest["files"][spec.name]
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert entry["size"] == len(data)
        assert int(entry["fid"], 16) == spec.fid
    assert manifest["secrets"]["sha256"] == hashlib.sha256(prepared.image.sealed).hexdigest()


def test_never_overwrites(prepared: Prepared, tmp_path: Path) -> None:
    image_id = prepared.image.card_id
    folder = write_card_image(prepared.image, tmp_path)
    before = {p.name: p.read_bytes() for p in _image_files(folder)}
    with pytest.raises(CardImageError, match="never overwritten"):
        write_card_image(dataclasses.replace(prepared.other, card_id=image_id), tmp_path)
    assert {p.name: p.read_bytes() for p in _image_files(folder)} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [prepared.image.card_id]


def _write_count(image: CardImage) -> int:
    return len(image.files) + 2  # LDS files, sealed secrets, manifest


@pytest.mark.parametrize("failing_call", range(11))
def test_a_failed_write_leaves_nothing(
    prepared: Prepared, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing_call: int
) -> None:
    image = prepared.image
    assert failing_call < _write_count(image)
    real = card_image._write_private
    calls: list[str] = []

    def flaky(path: Path, data: bytes) -> None:
        calls.append(path.name)
        if len(calls) == failing_call + 1:
            real(path, data[: len(data) // 2])  # a partial file, then the disk fills up
            raise OSError(28, "No space left on device")
        real(path, data)

    monkeypatch.setattr(card_image, "_write_private", flaky)
    with pytest.raises(OSError, match="No space"):
        write_card_image(image, tmp_path)
    assert list(tmp_path.iterdir()) == []  # neither the card image nor its temporary folder
    monkeypatch.setattr(card_image, "_write_private", real)
    folder = write_card_image(image, tmp_path)  # and a retry then succeeds
    assert read_card_image(folder).files == image.files


def test_a_failed_rename_leaves_nothing(
    prepared: Prepared, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_rename(src: object, dst: object) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "rename", broken_rename)  # the module's os: the final rename
    with pytest.raises(OSError):
        write_card_image(prepared.image, tmp_path)
    assert list(tmp_path.iterdir()) == []


# --- Integrity --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scratch(written: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy that tests alter and restore (hypothesis cannot use function-scoped tmp_path)."""
    return Path(shutil.copytree(written, tmp_path_factory.mktemp("scratch") / written.name))


@given(data=st.data())
def test_any_changed_byte_is_detected_and_named(scratch: Path, data: st.DataObject) -> None:
    names = sorted(p.name for p in _image_files(scratch) if p.name != MANIFEST)
    name = data.draw(st.sampled_from(names), label="file")
    path = scratch / name
    original = path.read_bytes()
    position = data.draw(st.integers(0, len(original) - 1), label="position")
    flip = data.draw(st.integers(1, 255), label="xor")
    changed = bytearray(original)
    changed[position] ^= flip
    path.write_bytes(bytes(changed))
    try:
        with pytest.raises(CardImageError) as info:
            read_card_image(scratch)
        assert name in str(info.value)
    finally:
        path.write_bytes(original)
    read_card_image(scratch)  # restored


@pytest.mark.parametrize("name", ["DG1.bin", "DG2.bin", "DG13.bin", "EF.SOD.bin", SEALED])
def test_any_changed_hash_in_the_manifest_is_detected_and_named(
    written: Path, tmp_path: Path, name: str
) -> None:
    folder = Path(shutil.copytree(written, tmp_path / written.name))
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    entry = manifest["secrets"] if name == SEALED else manifest["files"][name.removesuffix(".bin")]
    digest = entry["sha256"]
    entry["sha256"] = ("1" if digest[0] == "0" else "0") + digest[1:]
    (folder / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(CardImageError, match=name.replace(".", r"\.")):
        read_card_image(folder)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not valid JSON"),
        (b'{"format": "cardkit-card-image/1", "files": {}', "not valid JSON"),
        (b'{"format": "something-else"}', "not a cardkit-card-image/1"),
        (b'{"format": "cardkit-card-image/1"}', "missing or malformed"),
    ],
)
def test_a_damaged_manifest_is_named(
    written: Path, tmp_path: Path, content: bytes, message: str
) -> None:
    folder = Path(shutil.copytree(written, tmp_path / written.name))
    (folder / MANIFEST).write_bytes(content)
    with pytest.raises(CardImageError, match=message) as info:
        read_card_image(folder)
    assert MANIFEST in str(info.value) or "not a cardkit" in str(info.value)


def test_a_missing_file_is_named(written: Path, tmp_path: Path) -> None:
    folder = Path(shutil.copytree(written, tmp_path / written.name))
    (folder / "DG13.bin").unlink()
    with pytest.raises(CardImageError, match=r"DG13\.bin"):
        read_card_image(folder)
    (folder / MANIFEST).unlink()
    with pytest.raises(CardImageError, match=MANIFEST):
        read_card_image(folder)


# --- Sealed secrets ---------------------------------------------------------------------------


def _open(image: CardImage, transport: FileTransportKey, card_id: str, sod: bytes) -> ChipSecrets:
    return ChipSecrets.from_bytes(transport.decrypt(image.sealed, secrets_aad(card_id, sod)))


def test_sealed_secrets_open_with_the_transport_key(prepared: Prepared, written: Path) -> None:
    transport = prepared.issuer.transport
    assert isinstance(transport, FileTransportKey)
    image = read_card_image(written)
    secrets = _open(image, transport, image.card_id, image.sod)
    record, keys = prepared.record, prepared.keys
    assert secrets.can == record.can
    assert secrets.document_number == record.document_number
    # The BAC seed matches the MRZ the chip serves in DG1 (9303-11 §4.3: number, birth, expiry).
    dg1 = image.files[files.dg(1)]
    for value in (secrets.document_number, secrets.date_of_birth, secrets.date_of_expiry):
        assert value.encode("ascii") in dg1
    assert keys.chip_authentication is not None and keys.active_authentication is not None
    ca = secrets.private_key("chip_authentication")
    aa = secrets.private_key("active_authentication")
    assert ca is not None and ca.public_key() == keys.chip_authentication.public_key()
    assert aa is not None and aa.public_key() == keys.active_authentication.public_key()
    assert ChipSecrets.from_bytes(secrets.to_bytes()) == secrets


def test_sealed_secrets_refuse_the_wrong_key(prepared: Prepared) -> None:
    image = prepared.image
    with pytest.raises(KeyStoreError, match="cannot decrypt"):
        _open(image, _transport(), image.card_id, image.sod)


def test_sealed_secrets_are_bound_to_their_card(prepared: Prepared, tmp_path: Path) -> None:
    transport = prepared.issuer.transport
    assert isinstance(transport, FileTransportKey)
    image, other = prepared.image, prepared.other
    # Another card id, another card's SOD, or both: the AEAD's associated data differs.
    for card_id, sod in (
        (other.card_id, image.sod),
        (image.card_id, other.sod),
        (other.card_id, other.sod),
    ):
        with pytest.raises(KeyStoreError):
            _open(image, transport, card_id, sod)
    # Moved on disk: card A's secrets.sealed copied into card B's folder (manifest hash updated
    # so the image reads) cannot be opened as card B's.
    folder_b = write_card_image(other, tmp_path)
    (folder_b / SEALED).unlink()
    (folder_b / SEALED).write_bytes(image.sealed)
    manifest = json.loads((folder_b / MANIFEST).read_text(encoding="utf-8"))
    manifest["secrets"]["sha256"] = hashlib.sha256(image.sealed).hexdigest()
    (folder_b / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    moved = read_card_image(folder_b)
    with pytest.raises(KeyStoreError):
        _open(moved, transport, moved.card_id, moved.sod)


def test_malformed_secrets_are_an_encoding_error() -> None:
    from cardkit.errors import EncodingError

    for data in (b"", b"[]", b'{"document_number": "1"}', b"\xff\xfe"):
        with pytest.raises(EncodingError, match="malformed"):
            ChipSecrets.from_bytes(data)


def test_reprs_never_show_secrets(prepared: Prepared) -> None:
    image, record, keys = prepared.image, prepared.record, prepared.keys
    assert record.can is not None
    secrets = ChipSecrets(
        document_number=record.document_number,
        date_of_birth="930105",
        date_of_expiry="330105",
        can=record.can,
        chip_authentication_key=b"\x30\x81secret-key-bytes",
    )
    for text in (repr(secrets), str(secrets), repr(keys), repr(image)):
        assert record.can not in text
        assert record.document_number not in text
        assert "secret-key-bytes" not in text
        assert "930105" not in text
    assert repr(secrets) == "ChipSecrets(<redacted>)"
    assert image.sealed.hex() not in repr(image)


def _needles(prepared: Prepared) -> Iterator[tuple[str, bytes]]:
    keys = prepared.keys
    assert prepared.record.can is not None
    yield "CAN", prepared.record.can.encode("ascii")
    for label, key in (("CA", keys.chip_authentication), ("AA", keys.active_authentication)):
        assert key is not None
        der = card_image.private_key_der(key)
        yield f"{label} PKCS#8", der
        yield f"{label} PKCS#8 base64", base64.b64encode(der)
        yield f"{label} PKCS#8 hex", der.hex().encode()
        if isinstance(key, ec.EllipticCurvePrivateKey):
            size = (key.curve.key_size + 7) // 8
            yield f"{label} private scalar", key.private_numbers().private_value.to_bytes(size)


def test_no_secret_is_written_in_clear(prepared: Prepared, written: Path) -> None:
    contents = {p.name: p.read_bytes() for p in _image_files(written)}
    assert contents  # the folder is not empty
    for what, needle in _needles(prepared):
        for name, data in contents.items():
            assert needle not in data, f"{what} found in clear in {name}"
    assert b'"can"' not in contents[MANIFEST]
