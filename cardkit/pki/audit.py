"""The signing audit log: one JSON line per signature, appended, never rewritten.

Each line records when, with which key and DSC, over which SOD digest, for which document. The
document number is not written as such: a 9-digit number hashes back in seconds, so the log carries
an HMAC-SHA-256 of it under a random key kept next to the log (``<log>.key``, mode 0600). Whoever
holds that key can check whether a given document was signed; the log alone reveals nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cardkit.errors import PkiError

_KEY_BYTES = 32


@dataclass(frozen=True)
class AuditLog:
    path: Path

    @property
    def key_path(self) -> Path:
        return self.path.with_name(self.path.name + ".key")

    def _key(self) -> bytes:
        try:
            return self.key_path.read_bytes()
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise PkiError(f"cannot read the audit key {self.key_path}: {exc.strerror}") from None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_bytes(_KEY_BYTES)
        try:
            fd = os.open(self.key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first
            return self.key_path.read_bytes()
        with os.fdopen(fd, "wb") as fh:
            fh.write(key)
        return key

    def document_hash(self, document_number: str) -> str:
        return hmac.new(self._key(), document_number.encode(), hashlib.sha256).hexdigest()

    def record_signature(
        self,
        *,
        time: datetime,
        key_id: str,
        dsc_serial: int,
        document_number: str,
        sod_digest: bytes,
        card_id: str,
    ) -> None:
        """Append one line and flush it to disk before returning."""
        line = json.dumps(
            {
                "time": time.isoformat(),
                "event": "sod-signed",
                "key": key_id,
                "dsc_serial": format(dsc_serial, "X"),
                "document": self.document_hash(document_number),
                "sod_sha256": sod_digest.hex(),
                "card_id": card_id,
            },
            sort_keys=True,
        )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        except OSError as exc:
            raise PkiError(f"cannot open the audit log {self.path}: {exc.strerror}") from None
        with os.fdopen(fd, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())
