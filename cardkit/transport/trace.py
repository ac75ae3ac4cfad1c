"""APDU traces at a log level below DEBUG, with the secrets redacted.

``TRACE`` (5) is registered with :mod:`logging` as "TRACE"; enable it with
``logging.getLogger("cardkit.apdu").setLevel(TRACE)``. Each exchange gives two records::

    > 00 A4 02 0C 02 01 1C
    < 90 00 [0.3 ms]

Callers place :class:`TracingConnection` *inside* secure messaging (between the SM wrapper
and the reader), so protected APDUs are logged as the ciphertext that crosses the air
interface. What the access-control protocols exchange in clear before SM is up, and what
personalization writes, is redacted: the data of those commands and of their responses shows
as ``<N bytes redacted>``, the header, Ne and status word stay visible.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from cardkit.errors import CardkitError
from cardkit.iso7816.apdu import Command, Response
from cardkit.iso7816.connection import Connection
from cardkit.transport.wrappers import checked_response

__all__ = [
    "SECRET_INS",
    "TRACE",
    "SecretRedactor",
    "TracingConnection",
    "format_command",
    "format_response",
    "is_secret_command",
]

TRACE = 5
logging.addLevelName(TRACE, "TRACE")

# Instructions whose data (command and response) are access-control secrets or derived from
# them: ICAO 9303-11 §4.3 (BAC), §4.4 (PACE), §6.2 (AA), §6.4 (CA); ISO/IEC 7816-4 §7.5 (PINs).
SECRET_INS = frozenset(
    {
        0x22,  # MANAGE SECURITY ENVIRONMENT (MSE:Set AT, MSE:Set KAT with the CA public key)
        0x86,  # GENERAL AUTHENTICATE (PACE nonce, mapping, keys, tokens)
        0x87,  # GENERAL AUTHENTICATE, odd INS
        0x82,  # EXTERNAL / MUTUAL AUTHENTICATE (BAC cryptograms, from the MRZ keys)
        0x84,  # GET CHALLENGE (the response is the challenge)
        0x88,  # INTERNAL AUTHENTICATE (AA challenge and signature)
        0xDA,  # PUT DATA: personalization secrets (MRZ seed, private keys, CAN)
        0xDB,  # PUT DATA, odd INS
        0x20,  # VERIFY (PIN, CAN)
        0x24,  # CHANGE REFERENCE DATA
        0x2C,  # RESET RETRY COUNTER
    }
)

# Files whose clear contents reveal an access secret: DG1 holds the MRZ (the BAC key and PACE
# password), DG11 and DG13 the personal number a CAN may be derived from (DOMAIN.md §1).
# FIDs and SFIs per ICAO 9303-10 §4.6.2: DGn = FID 01nn, SFI n.
SECRET_FILES = frozenset({0x0101, 0x010B, 0x010D})

_INS_SELECT = 0xA4
_BINARY_INS = frozenset({0xB0, 0xB1, 0xD6, 0xD7})  # READ/UPDATE BINARY, even and odd


def is_secret_command(command: Command) -> bool:
    """True when ``command`` belongs to an access-control or personalization-secret exchange
    (by INS alone; stateless, so it also works on SM-protected commands)."""
    return command.ins in SECRET_INS


class SecretRedactor:
    """The default redaction policy: :func:`is_secret_command`, plus READ/UPDATE BINARY while a
    file of :data:`SECRET_FILES` is selected (by FID in a plain SELECT, or by SFI in P1).

    It follows SELECTs, so use one instance per connection. Under secure messaging a SELECT's
    data is ciphertext and the file is unknown: nothing to redact there, it is all ciphertext.
    """

    def __init__(self, secret_files: frozenset[int] = SECRET_FILES) -> None:
        self.secret_files = secret_files
        self._selected: int | None = None

    def __call__(self, command: Command) -> bool:
        if is_secret_command(command):
            return True
        plain = command.cla & 0x0C == 0  # CLA b4-b3: no secure messaging indication
        if command.ins == _INS_SELECT:
            by_fid = command.p1 in (0x00, 0x02) and len(command.data) == 2
            self._selected = int.from_bytes(command.data, "big") if plain and by_fid else None
            return False
        if command.ins in _BINARY_INS:
            return self._file_of(command) in self.secret_files
        return False

    def _file_of(self, command: Command) -> int | None:
        if command.ins in (0xB0, 0xD6) and command.p1 & 0x80:
            return 0x0100 | (command.p1 & 0x1F)  # short EF identifier in P1 b5-b1
        if command.ins in (0xB1, 0xD7) and (command.p1 or command.p2):
            return (command.p1 << 8) | command.p2  # odd INS: the file identifier in P1-P2
        return self._selected


def _hex(data: bytes) -> str:
    return data.hex(" ").upper()


def format_command(command: Command, redact: bool) -> str:
    if not redact or not command.data:
        return _hex(bytes(command))
    parts = [_hex(command.header), f"<{len(command.data)} bytes redacted>"]
    if command.ne is not None:
        parts.append(f"Ne={command.ne}")
    return " ".join(parts)


def format_response(response: Response, redact: bool) -> str:
    sw = _hex(response.sw.to_bytes(2, "big"))
    if not response.data:
        return sw
    if redact:
        return f"<{len(response.data)} bytes redacted> {sw}"
    return f"{_hex(response.data)} {sw}"


class TracingConnection:
    """Logs every command and response at :data:`TRACE` on ``logger``, with the time the inner
    connection took. ``redact`` decides per command whether its data and its response's data
    are secret; ``None`` means a fresh :class:`SecretRedactor` (pass ``lambda c: False`` to
    log everything, e.g. for a public test vector)."""

    def __init__(
        self,
        inner: Connection,
        logger: logging.Logger | None = None,
        redact: Callable[[Command], bool] | None = None,
        *,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.inner = inner
        self.logger = logger if logger is not None else logging.getLogger("cardkit.apdu")
        self.redact: Callable[[Command], bool] = redact if redact is not None else SecretRedactor()
        self._clock = clock

    def send(self, command: Command) -> Response:
        # The redactor runs on every command, even when not logging: it follows SELECTs.
        secret = self.redact(command)
        if not self.logger.isEnabledFor(TRACE):
            return self.inner.send(command)
        self.logger.log(TRACE, "> %s", format_command(command, secret))
        start = self._clock()
        try:
            response = checked_response(self.inner.send(command))
        except Exception as exc:
            elapsed = (self._clock() - start) * 1000
            # cardkit's own messages are written secret-free; anything else may echo the APDU.
            what = (
                f"{type(exc).__name__}: {exc}"
                if isinstance(exc, CardkitError)
                else type(exc).__name__
            )
            self.logger.log(TRACE, "< %s [%.1f ms]", what, elapsed)
            raise
        elapsed = (self._clock() - start) * 1000
        self.logger.log(TRACE, "< %s [%.1f ms]", format_response(response, secret), elapsed)
        return response
