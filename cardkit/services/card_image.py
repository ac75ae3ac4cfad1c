"""Card images: everything one chip needs, prepared and signed, ready to personalize.

A card image is a folder::

    card-00002/
      manifest.json        what is here, with SHA-256 of every file (no secrets)
      EF.COM.bin DG1.bin … EF.SOD.bin EF.CardAccess.bin     the LDS files, as the chip serves them
      secrets.sealed       the chip's secrets, AES-256-GCM under the batch transport key
      cvca.cvcert          the EAC trust point the chip is given (the CVCA's CV certificate;
                           public, when the profile has terminal authentication)

The sealed secrets hold what the applet needs and nobody else may read: the chip's private keys
(chip authentication, active authentication), the BAC key seed and the CAN. They are bound to
this card (the AEAD's associated data is the card id and the EF.SOD digest), so secrets cannot be
swapped between cards unnoticed. Nothing secret is ever written in clear. The trust point is
public, but whoever replaces it decides which terminals may read the fingerprints: its digest is
bound into the same associated data, so a swapped CVCA makes the secrets fail to unseal.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from cardkit import __version__
from cardkit.errors import CardkitError, EncodingError
from cardkit.lds import files
from cardkit.pki.signer import PrivateKey

FORMAT = "cardkit-card-image/1"
MANIFEST = "manifest.json"
SEALED = "secrets.sealed"
TRUST_POINT = "cvca.cvcert"


class CardImageError(CardkitError):
    """A card image folder that is incomplete, altered or unreadable."""


@dataclass(frozen=True)
class ChipSecrets:
    """The secrets the applet is loaded with (DOMAIN.md §7). Never logged, never in a repr."""

    document_number: str  # BAC key seed: document number, date of birth, date of expiry
    date_of_birth: str  # YYMMDD as in the MRZ
    date_of_expiry: str  # YYMMDD as in the MRZ
    can: str | None
    chip_authentication_key: bytes | None = field(default=None)  # PKCS#8 DER
    active_authentication_key: bytes | None = field(default=None)  # PKCS#8 DER

    def __repr__(self) -> str:
        return "ChipSecrets(<redacted>)"

    def to_bytes(self) -> bytes:
        def b64(value: bytes | None) -> str | None:
            return None if value is None else base64.b64encode(value).decode("ascii")

        return json.dumps(
            {
                "document_number": self.document_number,
                "date_of_birth": self.date_of_birth,
                "date_of_expiry": self.date_of_expiry,
                "can": self.can,
                "chip_authentication_key": b64(self.chip_authentication_key),
                "active_authentication_key": b64(self.active_authentication_key),
            },
            sort_keys=True,
        ).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> ChipSecrets:
        try:
            obj = json.loads(data)

            def unb64(value: Any) -> bytes | None:
                return None if value is None else base64.b64decode(value, validate=True)

            return cls(
                document_number=str(obj["document_number"]),
                date_of_birth=str(obj["date_of_birth"]),
                date_of_expiry=str(obj["date_of_expiry"]),
                can=None if obj["can"] is None else str(obj["can"]),
                chip_authentication_key=unb64(obj["chip_authentication_key"]),
                active_authentication_key=unb64(obj["active_authentication_key"]),
            )
        except (ValueError, KeyError, TypeError):
            raise EncodingError("sealed chip secrets: malformed content") from None

    def private_key(self, which: str) -> PrivateKey | None:
        """``which`` is "chip_authentication" or "active_authentication"."""
        der = getattr(self, f"{which}_key")
        if der is None:
            return None
        key = serialization.load_der_private_key(der, password=None)
        assert isinstance(key, PrivateKey)
        return key


def private_key_der(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),  # only ever held in memory, then sealed
    )


def secrets_aad(card_id: str, sod: bytes, trust_point: bytes | None = None) -> bytes:
    """Associated data binding sealed secrets to one card image (and its EAC trust point)."""
    aad = b"cardkit-chip-secrets/1\x00" + card_id.encode() + b"\x00" + hashlib.sha256(sod).digest()
    if trust_point is not None:
        aad += b"\x00cvca\x00" + hashlib.sha256(trust_point).digest()
    return aad


@dataclass(frozen=True)
class CardImage:
    """A card image in memory. ``files`` are the LDS files; ``sealed`` the encrypted secrets."""

    card_id: str
    profile: str
    files: Mapping[files.FileSpec, bytes] = field(repr=False)
    sealed: bytes = field(repr=False)
    transport_key_id: str
    metadata: Mapping[str, Any] = field(default_factory=dict)
    #: The CVCA's CV certificate loaded into the chip as its EAC trust point (TR-03110-1 §2.2).
    cvca_certificate: bytes | None = field(default=None, repr=False)

    @property
    def sod(self) -> bytes:
        return self.files[files.SOD]

    @property
    def secrets_aad(self) -> bytes:
        """The associated data :attr:`sealed` was sealed with."""
        return secrets_aad(self.card_id, self.sod, self.cvca_certificate)

    def data_groups(self) -> dict[int, bytes]:
        return {spec.dg: data for spec, data in self.files.items() if spec.dg is not None}

    def manifest(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "card_id": self.card_id,
            "profile": self.profile,
            "cardkit_version": __version__,
            "files": {
                spec.name: {
                    "fid": f"{spec.fid:04X}",
                    "size": len(data),
                    "sha256": hashlib.sha256(data).hexdigest(),
                }
                for spec, data in self.files.items()
            },
            "secrets": {
                "file": SEALED,
                "aead": "AES-256-GCM",
                "transport_key": self.transport_key_id,
                "sha256": hashlib.sha256(self.sealed).hexdigest(),
            },
            **(
                {"trust_point": {"file": TRUST_POINT,
                                 "sha256": hashlib.sha256(self.cvca_certificate).hexdigest()}}
                if self.cvca_certificate is not None
                else {}
            ),
            **dict(self.metadata),
        }  # fmt: skip


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def write_card_image(image: CardImage, parent: Path) -> Path:
    """Write ``image`` as ``parent/<card_id>`` atomically: a crash leaves either nothing or the
    complete folder (written in a temporary sibling, then renamed). Refuses to overwrite."""
    target = parent / image.card_id
    if target.exists():
        raise CardImageError(f"{target} already exists: a card image is never overwritten")
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{image.card_id}.", dir=parent))
    try:
        for spec, data in image.files.items():
            _write_private(tmp / f"{spec.name}.bin", data)
        _write_private(tmp / SEALED, image.sealed)
        if image.cvca_certificate is not None:
            _write_private(tmp / TRUST_POINT, image.cvca_certificate)
        manifest = json.dumps(image.manifest(), indent=2, ensure_ascii=False)
        _write_private(tmp / MANIFEST, manifest.encode("utf-8") + b"\n")
        os.rename(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    dir_fd = os.open(parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return target


def read_card_image(folder: Path) -> CardImage:
    """Read a card image and check every file against the manifest's hashes."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except OSError as exc:
        raise CardImageError(f"{folder}: no readable {MANIFEST} ({exc.strerror})") from None
    except ValueError:
        raise CardImageError(f"{folder}/{MANIFEST} is not valid JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise CardImageError(f"{folder}: not a {FORMAT} card image")
    try:
        entries = dict(manifest["files"])
        secrets_entry = dict(manifest["secrets"])
        card_id, profile = str(manifest["card_id"]), str(manifest["profile"])
    except (KeyError, TypeError, ValueError):
        raise CardImageError(f"{folder}/{MANIFEST}: missing or malformed entries") from None

    def read_checked(name: str, expected: Any) -> bytes:
        try:
            data = (folder / name).read_bytes()
        except OSError as exc:
            raise CardImageError(f"{folder}: cannot read {name} ({exc.strerror})") from None
        if not isinstance(expected, str) or hashlib.sha256(data).hexdigest() != expected:
            raise CardImageError(f"{folder}: {name} does not match its hash in the manifest")
        return data

    loaded: dict[files.FileSpec, bytes] = {}
    for name, entry in entries.items():
        try:
            spec = files.by_name(name)
        except ValueError:
            raise CardImageError(f"{folder}/{MANIFEST}: unknown file {name!r}") from None
        loaded[spec] = read_checked(f"{spec.name}.bin", dict(entry).get("sha256"))
    if files.SOD not in loaded:
        raise CardImageError(f"{folder}: the card image has no EF.SOD")
    sealed = read_checked(str(secrets_entry.get("file", SEALED)), secrets_entry.get("sha256"))
    trust = manifest.get("trust_point")
    cvca = None
    if trust is not None:
        if not isinstance(trust, dict):
            raise CardImageError(f"{folder}/{MANIFEST}: malformed trust_point entry")
        cvca = read_checked(TRUST_POINT, trust.get("sha256"))
    known = {"format", "card_id", "profile", "cardkit_version", "files", "secrets", "trust_point"}
    return CardImage(
        card_id=card_id,
        profile=profile,
        files=loaded,
        sealed=sealed,
        transport_key_id=str(secrets_entry.get("transport_key", "")),
        metadata={k: v for k, v in manifest.items() if k not in known},
        cvca_certificate=cvca,
    )
