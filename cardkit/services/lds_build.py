"""Build the LDS files of validated records: read their images, encode, write the files."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from cardkit.errors import EncodingError, ImageError, RecordError
from cardkit.lds.build import ChipPublicKeys, LdsFiles, build_lds
from cardkit.profile import Profile
from cardkit.records import CitizenRecord, Validated, load_records, validate_all


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ImageError(f"cannot read the {what} {path}: {exc.strerror}") from None


def build_record_files(
    record: CitizenRecord, profile: Profile, keys: ChipPublicKeys | None = None
) -> LdsFiles:
    """Read the record's photo (and fingerprints) and build its LDS files."""
    photo = _read(record.photo_path, "photo")
    fingers = [_read(p, "fingerprint image") for p in record.fingerprint_paths]
    return build_lds(record, profile, photo=photo, fingerprints=fingers, keys=keys)


def write_files(lds: LdsFiles, out_dir: Path) -> list[Path]:
    """Write each file as ``<name>.bin`` (``EF.COM.bin``, ``DG1.bin``, ...), owner-readable only:
    the files hold personal data."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for spec, data in lds.files.items():
        path = out_dir / f"{spec.name}.bin"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        written.append(path)
    return written


def select_record(
    records_file: Path,
    profile: Profile,
    today: date,
    *,
    row: int | None = None,
    id_number: str | None = None,
) -> Validated:
    """The record at ``row`` (as ``records check`` numbers it) or with ``id_number``, validated."""
    results = validate_all(load_records(records_file), profile, today)
    if not results:
        raise RecordError(f"{records_file}: no records")
    if row is None and id_number is None:
        return results[0]
    for result in results:
        if row is not None and result.raw.row == row:
            return result
        if id_number is not None and result.raw.fields.get("id_number") == id_number:
            return result
    wanted = f"row {row}" if row is not None else "the given ID number"
    raise RecordError(f"{records_file}: no record at {wanted}")


def load_public_key(path: Path) -> ec.EllipticCurvePublicKey | rsa.RSAPublicKey:
    """An EC or RSA public key from a PEM file (the chip's CA or AA key)."""
    try:
        key = load_pem_public_key(path.read_bytes())
    except OSError as exc:
        raise EncodingError(f"cannot read {path}: {exc.strerror}") from None
    except ValueError:
        raise EncodingError(f"{path} is not a PEM public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise EncodingError(f"{path}: only EC and RSA keys are used on the chip")
    return key
