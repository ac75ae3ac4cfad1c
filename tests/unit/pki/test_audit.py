"""The signing audit log: one fsynced JSON line per signature, no document number in clear."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime
from pathlib import Path

from cardkit.pki.audit import AuditLog


def test_lines_are_appended_and_keyed(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    when = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    for card in ("a", "b"):
        log.record_signature(
            time=when,
            key_id="file:dsc.key.pem",
            dsc_serial=0x1F,
            document_number="093047064",
            sod_digest=bytes(32),
            card_id=card,
        )
    lines = [json.loads(line) for line in log.path.read_text().splitlines()]
    assert [line["card_id"] for line in lines] == ["a", "b"]
    assert lines[0]["dsc_serial"] == "1F" and lines[0]["key"] == "file:dsc.key.pem"
    assert lines[0]["time"] == "2026-11-22T10:00:00+00:00"
    assert lines[0]["sod_sha256"] == "00" * 32
    # The document number is an HMAC under the log's own key, never in clear.
    assert "093047064" not in log.path.read_text()
    assert lines[0]["document"] == lines[1]["document"] == log.document_hash("093047064")
    assert log.document_hash("093047065") != lines[0]["document"]
    assert stat.S_IMODE(log.key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(log.path.stat().st_mode) == 0o600


def test_a_new_log_key_gives_different_hashes(tmp_path: Path) -> None:
    one = AuditLog(tmp_path / "one" / "audit.jsonl")
    two = AuditLog(tmp_path / "two" / "audit.jsonl")
    assert one.document_hash("093047064") != two.document_hash("093047064")
