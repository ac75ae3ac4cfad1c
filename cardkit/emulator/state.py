"""The emulated chip's persistent state: life cycle, files, keys, MRZ seed, CAN, and the EAC
trust points with the chip's current date (terminal authentication).

**This is a virtual card for tests and demos.** Its state file holds the chip's *private keys*
(chip authentication, active authentication), the BAC key seed (document number, dates) and the
CAN, in clear. Treat the file as a secret: it is written with mode 0600, its content is never
logged and never appears in an exception message (errors name the field, not the value). A real
card keeps these in tamper-resistant memory; nothing here pretends to.

The file is JSON (binary values in hex), written atomically after every modifying command
(temporary file in the same folder, fsync, rename, fsync of the folder), so a crash leaves either
the old or the new state, never half of one. Several emulated cards (one per reader slot) are
several :class:`CardState` objects and files: nothing here is global.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

from cardkit.encoding.asn1 import CURVES
from cardkit.errors import CardkitError

FORMAT = "cardkit-emulator-state/1"

LifeCycle = Literal["personalization", "locked"]


class EmulatorStateError(CardkitError):
    """An emulator state file that cannot be read, written or understood. Messages name the
    file and the field, never a key, the MRZ or the CAN."""


@dataclass(frozen=True, repr=False)
class EcKey:
    """An EC private key on one of the named prime curves of
    :data:`cardkit.encoding.asn1.CURVES` (``curve`` is its name), private value ``d``."""

    curve: str
    d: int

    def __repr__(self) -> str:
        return f"EcKey(curve={self.curve!r}, d=<redacted>)"


@dataclass(repr=False)
class CardState:
    """Everything the chip keeps across power cycles (mutable: the card changes it).

    ``files`` maps a file identifier to its content (created with a fixed size, then written).
    ``mrz`` is the BAC/PACE-MRZ seed (document number, date of birth, date of expiry, YYMMDD).
    The RSA active-authentication key is the modulus and private exponent of the JMRTD applet's
    PUT DATA (the public exponent is taken from DG15 when the key is used).
    """

    life_cycle: LifeCycle = "personalization"
    files: dict[int, bytearray] = field(default_factory=dict)
    mrz: tuple[str, str, str] | None = None
    can: str | None = None
    ca_key: EcKey | None = None
    ca_key_id: int | None = None
    aa_ec_key: EcKey | None = None
    aa_rsa_modulus: int | None = None
    aa_rsa_exponent: int | None = None
    #: EAC trust points (CVCA certificates, TR-03110-1 §2.5.2): trust point 1 first.
    trust_points: list[bytes] = field(default_factory=list)
    #: The chip's current date for terminal authentication (TR-03110-1 §2.5.1).
    chip_date: date | None = None

    def __repr__(self) -> str:  # never the secrets
        return (
            f"CardState(life_cycle={self.life_cycle!r}, files={sorted(self.files)!r}, "
            "secrets=<redacted>)"
        )

    @property
    def locked(self) -> bool:
        return self.life_cycle == "locked"

    # ------------------------------------------------------------------ JSON

    def to_json(self) -> dict[str, Any]:
        def ec(key: EcKey | None) -> dict[str, str] | None:
            return None if key is None else {"curve": key.curve, "d": format(key.d, "x")}

        def big(value: int | None) -> str | None:
            return None if value is None else format(value, "x")

        return {
            "format": FORMAT,
            "life_cycle": self.life_cycle,
            "files": {f"{fid:04X}": bytes(data).hex() for fid, data in sorted(self.files.items())},
            "mrz": list(self.mrz) if self.mrz is not None else None,
            "can": self.can,
            "ca_key": ec(self.ca_key),
            "ca_key_id": self.ca_key_id,
            "aa_ec_key": ec(self.aa_ec_key),
            "aa_rsa_modulus": big(self.aa_rsa_modulus),
            "aa_rsa_exponent": big(self.aa_rsa_exponent),
            "trust_points": [bytes(t).hex() for t in self.trust_points],
            "chip_date": self.chip_date.isoformat() if self.chip_date is not None else None,
        }

    @classmethod
    def from_json(cls, obj: Any, source: str = "state") -> CardState:
        """Rebuild the state; :class:`EmulatorStateError` naming the bad field otherwise."""
        if not isinstance(obj, dict):
            raise EmulatorStateError(f"{source}: not a JSON object")
        if obj.get("format") != FORMAT:
            raise EmulatorStateError(f"{source}: format is not {FORMAT!r}")
        life_cycle = obj.get("life_cycle")
        if life_cycle not in ("personalization", "locked"):
            raise EmulatorStateError(f"{source}: life_cycle must be 'personalization' or 'locked'")
        return cls(
            life_cycle=life_cycle,
            files=_files(obj.get("files"), source),
            mrz=_mrz(obj.get("mrz"), source),
            can=_optional_digits(obj.get("can"), "can", source),
            ca_key=_ec_key(obj.get("ca_key"), "ca_key", source),
            ca_key_id=_optional_int(obj.get("ca_key_id"), "ca_key_id", source),
            aa_ec_key=_ec_key(obj.get("aa_ec_key"), "aa_ec_key", source),
            aa_rsa_modulus=_optional_hex_int(obj.get("aa_rsa_modulus"), "aa_rsa_modulus", source),
            aa_rsa_exponent=_optional_hex_int(
                obj.get("aa_rsa_exponent"), "aa_rsa_exponent", source
            ),
            trust_points=_trust_points(obj.get("trust_points"), source),
            chip_date=_optional_date(obj.get("chip_date"), "chip_date", source),
        )

    # ------------------------------------------------------------------ files on disk

    def save(self, path: Path) -> None:
        """Write the state to ``path`` atomically with mode 0600 (see the module docstring)."""
        payload = json.dumps(self.to_json(), separators=(",", ":")).encode("ascii")
        write_private_atomically(path, payload)

    @classmethod
    def load(cls, path: Path) -> CardState:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise EmulatorStateError(f"{path}: cannot read ({exc.strerror})") from None
        try:
            obj = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise EmulatorStateError(f"{path}: not valid JSON") from None
        return cls.from_json(obj, str(path))


def write_private_atomically(path: Path, payload: bytes) -> None:
    """``payload`` to ``path``: temporary sibling (0600), fsync, rename, fsync the folder."""
    folder = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise EmulatorStateError(f"{path}: cannot write ({exc.strerror})") from None
    try:
        os.fchmod(fd, 0o600)  # mkstemp already creates 0600; say it explicitly
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_name, path)
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise EmulatorStateError(f"{path}: cannot write ({exc.strerror})") from None


# --- field decoders (each names the field, never the value) --------------------------------


def _hex_bytes(value: Any, name: str, source: str) -> bytes:
    if not isinstance(value, str):
        raise EmulatorStateError(f"{source}: {name} must be a hex string")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise EmulatorStateError(f"{source}: {name} is not valid hex") from None


def _files(value: Any, source: str) -> dict[int, bytearray]:
    if not isinstance(value, dict):
        raise EmulatorStateError(f"{source}: files must be an object")
    files: dict[int, bytearray] = {}
    for key, content in value.items():
        if not (isinstance(key, str) and len(key) == 4):
            raise EmulatorStateError(f"{source}: file identifiers are 4 hex digits")
        try:
            fid = int(key, 16)
        except ValueError:
            raise EmulatorStateError(f"{source}: file identifier {key!r} is not hex") from None
        data = _hex_bytes(content, f"file {key}", source)
        if len(data) > 0xFFFF:
            raise EmulatorStateError(f"{source}: file {key} is larger than 65535 bytes")
        files[fid] = bytearray(data)
    return files


def _mrz(value: Any, source: str) -> tuple[str, str, str] | None:
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or len(value) != 3
        or not all(isinstance(v, str) and v.isascii() for v in value)
    ):
        raise EmulatorStateError(f"{source}: mrz must be three ASCII strings")
    number, birth, expiry = value
    if not number or len(birth) != 6 or len(expiry) != 6:
        raise EmulatorStateError(f"{source}: mrz does not hold a document number and two dates")
    return number, birth, expiry


def _optional_digits(value: Any, name: str, source: str) -> str | None:
    if value is None:
        return None
    if not (isinstance(value, str) and value.isascii() and value.isdigit()):
        raise EmulatorStateError(f"{source}: {name} must be decimal digits")
    return value


def _optional_int(value: Any, name: str, source: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise EmulatorStateError(f"{source}: {name} must be a non-negative integer")
    return value


def _optional_hex_int(value: Any, name: str, source: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise EmulatorStateError(f"{source}: {name} must be a hex string")
    try:
        number = int(value, 16)
    except ValueError:
        raise EmulatorStateError(f"{source}: {name} is not valid hex") from None
    if number <= 0:
        raise EmulatorStateError(f"{source}: {name} must be positive")
    return number


def _trust_points(value: Any, source: str) -> list[bytes]:
    if value is None:
        return []  # a state file written before terminal authentication existed
    if not isinstance(value, list) or len(value) > 2:
        raise EmulatorStateError(f"{source}: trust_points must be a list of at most two")
    return [_hex_bytes(v, "trust_points", source) for v in value]


def _optional_date(value: Any, name: str, source: str) -> date | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise EmulatorStateError(f"{source}: {name} must be an ISO date")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise EmulatorStateError(f"{source}: {name} is not an ISO date") from None


def _ec_key(value: Any, name: str, source: str) -> EcKey | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("curve"), str):
        raise EmulatorStateError(f"{source}: {name} must name a curve")
    curve = next((c for c in CURVES if c.name == value["curve"]), None)
    if curve is None:
        raise EmulatorStateError(f"{source}: {name} is on an unknown curve")
    d = _optional_hex_int(value.get("d"), f"{name}.d", source)
    if d is None or not 0 < d < curve.n:
        raise EmulatorStateError(f"{source}: {name}.d is out of range")
    return EcKey(curve.name, d)
