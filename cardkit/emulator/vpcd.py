"""The vpcd bridge: puts a software card (cardkit's emulator) into a PC/SC reader.

vsmartcard's ``vpcd`` is a pcscd reader driver (``libifdvpcd.so``) that, instead of talking to
hardware, LISTENS on a TCP port per slot and waits for a "virtual ICC" to connect. The card side
(this module) is the TCP CLIENT. The wire protocol (DOMAIN.md §8, vsmartcard ``vpcd.c``):

* every message, both ways, is a 2-byte big-endian length followed by that many bytes;
* a 1-byte message from vpcd is a control code: 0 power off, 1 power on, 2 reset, 4 "send the
  ATR" (answered with the ATR, framed); the other codes expect no answer;
* any longer message is a command APDU, answered by the response APDU, framed.

vpcd asks for the ATR every time pcscd polls the slot (~every 400 ms) to see whether the card is
still there; when the TCP connection closes, pcscd reports the card as removed.

Latency: an exchange is one small write each way, the classic case where Nagle's algorithm on one
side meets delayed ACKs on the other and every APDU waits ~40 ms. ``TCP_NODELAY`` on the socket
and ``TCP_QUICKACK`` re-armed before every receive (Linux clears it after each ACK) bring a round
trip down to well under a millisecond (DOMAIN.md §8).

Connection policy (documented choice): the bridge retries connecting until vpcd listens, for at
most ``connect_timeout`` seconds, and when vpcd closes an established connection (pcscd stopped
or restarted) it goes back to connecting, again for at most ``connect_timeout`` seconds, so that a
pcscd restart only looks like a card pulled and put back. If vpcd does not come back in time,
:meth:`VpcdBridge.run_forever` raises :class:`~cardkit.errors.TransportError` saying so. Pass
``reconnect=False`` to stop (normally) at the first disconnection instead.

Ports and reader names: a vpcd reader.conf entry ``DEVICENAME /dev/null:<port>`` opens one
listening port per slot the driver reports, ``<port> + slot``; Debian's build has two slots, so
one entry gives two readers, "<FRIENDLYNAME> 00 00" on ``port`` and "<FRIENDLYNAME> 00 01" on
``port + 1``. cardkit numbers virtual readers by *slot* N on port ``35963 + N``:
:func:`port_for_slot` and :func:`reader_name_for_slot` are the one mapping that
``scripts/virtual-reader.sh``, the CLI and the tests share.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import threading
import time
from collections.abc import Iterator
from types import FrameType
from typing import Protocol

from cardkit.errors import EncodingError, TransportError

__all__ = [
    "CTRL_ATR",
    "CTRL_POWER_OFF",
    "CTRL_POWER_ON",
    "CTRL_RESET",
    "DEFAULT_PORT",
    "SLOTS_PER_DRIVER",
    "VirtualCard",
    "VpcdBridge",
    "decode_frames",
    "encode_frame",
    "friendly_name_for_entry",
    "port_for_slot",
    "reader_name_for_slot",
    "slot_for_port",
]

log = logging.getLogger(__name__)

DEFAULT_PORT = 35963  # vpcd's default (0x8C7B), slot 0 of the first reader.conf entry
SLOTS_PER_DRIVER = 2  # VPCDSLOTS of Debian's vsmartcard-vpcd build: 2 readers per entry
MAX_PAYLOAD = 0xFFFF  # the 2-byte length prefix

CTRL_POWER_OFF = 0
CTRL_POWER_ON = 1
CTRL_RESET = 2
CTRL_ATR = 4

# Answered when the card returns nothing usable: "no precise diagnosis" (ISO/IEC 7816-4 §5.6).
# vpcd treats an empty answer as a dead card, so never send one.
_SW_NO_DIAGNOSIS = b"\x6f\x00"


class VirtualCard(Protocol):
    """What the bridge needs from a card (cardkit.emulator.card.EmulatedCard fits)."""

    @property
    def atr(self) -> bytes: ...

    def power_on(self) -> bytes: ...

    def power_off(self) -> None: ...

    def transmit(self, apdu: bytes) -> bytes: ...


# --- slots, ports, reader names ---------------------------------------------------------------


def port_for_slot(slot: int) -> int:
    """The vpcd TCP port of virtual reader ``slot`` (0, 1, 2, ...): 35963 + slot."""
    if slot < 0:
        raise ValueError("slot must not be negative")
    return DEFAULT_PORT + slot


def slot_for_port(port: int) -> int | None:
    """The slot number of a vpcd port in cardkit's layout, or None when outside it."""
    slot = port - DEFAULT_PORT
    return slot if 0 <= slot < 16 else None  # pcscd allows at most 16 readers


def friendly_name_for_entry(entry: int) -> str:
    """FRIENDLYNAME of the ``entry``-th vpcd reader.conf entry written by virtual-reader.sh.

    pcscd names a reader "<FRIENDLYNAME> <reader> <slot>" and only numbers <reader> apart for the
    same driver path, so two entries with the same friendly name (and a copied driver .so, which
    they need anyway: the driver keeps one state per slot) would both be "... 00 00". Entry 0 keeps
    vpcd's own name, so slots 0 and 1 are the familiar "Virtual PCD 00 00" / "Virtual PCD 00 01".
    """
    if entry < 0:
        raise ValueError("entry must not be negative")
    return "Virtual PCD" if entry == 0 else f"Virtual PCD {entry}"


def reader_name_for_slot(slot: int) -> str:
    """The PC/SC reader name of virtual reader ``slot``, e.g. 0 → "Virtual PCD 00 00",
    1 → "Virtual PCD 00 01", 2 → "Virtual PCD 1 00 00", 3 → "Virtual PCD 1 00 01"."""
    if slot < 0:
        raise ValueError("slot must not be negative")
    entry, sub = divmod(slot, SLOTS_PER_DRIVER)
    return f"{friendly_name_for_entry(entry)} 00 {sub:02X}"


# --- framing ------------------------------------------------------------------------------------


def encode_frame(payload: bytes) -> bytes:
    """One vpcd message: 2-byte big-endian length, then the payload."""
    if len(payload) > MAX_PAYLOAD:
        raise EncodingError(
            f"a vpcd message carries at most {MAX_PAYLOAD} bytes, not {len(payload)}"
        )
    return len(payload).to_bytes(2, "big") + payload


def decode_frames(data: bytes) -> tuple[list[bytes], bytes]:
    """Split a byte stream into complete vpcd messages; returns them and the incomplete rest."""
    frames: list[bytes] = []
    offset = 0
    while len(data) - offset >= 2:
        length = int.from_bytes(data[offset : offset + 2], "big")
        if len(data) - offset - 2 < length:
            break
        frames.append(data[offset + 2 : offset + 2 + length])
        offset += 2 + length
    return frames, data[offset:]


# --- the bridge -----------------------------------------------------------------------------------


class _Closed(Exception):
    """vpcd closed the connection (or stop() shut it down)."""


class VpcdBridge:
    """Connects ``card`` to vpcd at ``host:port`` and serves it until stopped.

    ``connect_timeout``: how long to keep retrying (every ``retry_interval`` s) until vpcd
    accepts, at start and after a disconnection. ``low_latency`` (default on) sets TCP_NODELAY
    and TCP_QUICKACK; turning it off exists only to measure what they are worth.
    """

    def __init__(
        self,
        card: VirtualCard,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        *,
        connect_timeout: float = 30.0,
        retry_interval: float = 0.1,
        reconnect: bool = True,
        low_latency: bool = True,
    ) -> None:
        if not 0 < port < 65536:
            raise ValueError("port must be in 1..65535")
        if connect_timeout < 0 or retry_interval <= 0:
            raise ValueError("connect_timeout must be >= 0 and retry_interval > 0")
        self.card = card
        self.host = host
        self.port = port
        self.connect_timeout = connect_timeout
        self.retry_interval = retry_interval
        self.reconnect = reconnect
        self.low_latency = low_latency
        self.apdu_count = 0
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._connected = threading.Event()
        self._buffer = b""
        self.error: BaseException | None = None  # why serve_in_thread's thread ended, if not stop()

    # -- public ---------------------------------------------------------------------------------

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        """Block until the bridge is connected to vpcd (True) or ``timeout`` passes (False)."""
        return self._connected.wait(timeout)

    def run_forever(self, *, handle_signals: bool = True) -> None:
        """Serve the card until :meth:`stop`, SIGTERM or SIGINT (the latter two only when called
        from the main thread with ``handle_signals``). Closing the socket on the way out is what
        makes pcscd see the card removed.

        Raises TransportError when vpcd cannot be reached within ``connect_timeout``.
        """
        with self._signals_handled(handle_signals):
            try:
                while not self._stopping.is_set():
                    self._connect()
                    if self._stopping.is_set():
                        break
                    try:
                        self._serve_connection()
                    except _Closed:
                        pass
                    finally:
                        self._disconnect()
                    if self._stopping.is_set():
                        break
                    if not self.reconnect:
                        log.info("vpcd at %s closed the connection; stopping", self.address)
                        break
                    log.info("vpcd at %s closed the connection; reconnecting", self.address)
            finally:
                self._disconnect()

    def stop(self) -> None:
        """Ask the bridge to stop: safe from any thread or a signal handler; returns at once."""
        self._stopping.set()
        with self._lock:
            sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # wakes up a blocked recv()

    def serve_in_thread(self) -> threading.Thread:
        """Run :meth:`run_forever` in a daemon thread (for in-process tests); an exception that
        ends it is kept in :attr:`error`. Stop with :meth:`stop`, then join the thread."""

        def target() -> None:
            try:
                self.run_forever(handle_signals=False)
            except BaseException as exc:  # kept for the test to inspect
                self.error = exc
                log.warning("vpcd bridge to %s ended: %s", self.address, exc)

        thread = threading.Thread(target=target, name=f"vpcd-{self.port}", daemon=True)
        thread.start()
        return thread

    # -- connection -----------------------------------------------------------------------------

    def _connect(self) -> None:
        deadline = time.monotonic() + self.connect_timeout
        last: OSError | None = None
        while not self._stopping.is_set():
            try:
                sock = socket.create_connection((self.host, self.port), timeout=5.0)
            except OSError as exc:  # refused: vpcd (pcscd) not listening yet
                last = exc
                if time.monotonic() >= deadline:
                    reason = f" ({last.strerror or last})" if last is not None else ""
                    raise TransportError(
                        f"vpcd does not accept connections at {self.address}{reason} after "
                        f"{self.connect_timeout:g} s: is pcscd running with a vpcd reader on "
                        f"port {self.port}? (scripts/virtual-reader.sh start)"
                    ) from None
                self._stopping.wait(self.retry_interval)
                continue
            sock.settimeout(None)
            if self.low_latency:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._sock = sock
                self._buffer = b""
            self._connected.set()
            log.info("connected to vpcd at %s", self.address)
            return

    def _disconnect(self) -> None:
        self._connected.clear()
        with self._lock:
            sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()

    # -- serving --------------------------------------------------------------------------------

    def _serve_connection(self) -> None:
        while not self._stopping.is_set():
            message = self._receive()
            answer = self._handle(message)
            if answer is not None:
                self._send(answer)

    def _handle(self, message: bytes) -> bytes | None:
        """The answer to one vpcd message, or None when vpcd expects none."""
        if len(message) == 1:
            code = message[0]
            if code == CTRL_ATR:
                return self.card.atr
            if code == CTRL_POWER_ON:
                self.card.power_on()
            elif code == CTRL_POWER_OFF:
                self.card.power_off()
            elif code == CTRL_RESET:
                # ISO/IEC 7816-3 warm reset: the card forgets its session, as on power cycling.
                self.card.power_off()
                self.card.power_on()
            else:
                log.warning("ignoring unknown vpcd control code %d", code)
            return None
        if not message:
            return None
        self.apdu_count += 1
        try:
            response = self.card.transmit(message)
        except Exception:  # the card promises not to raise; a bug must not kill the reader
            log.exception("the card raised on an APDU; answering 6F00")
            return _SW_NO_DIAGNOSIS
        if len(response) < 2 or len(response) > MAX_PAYLOAD:
            log.warning("the card returned %d bytes; answering 6F00", len(response))
            return _SW_NO_DIAGNOSIS
        return response

    def _receive(self) -> bytes:
        while True:
            frames, rest = decode_frames(self._buffer)
            if frames:
                # Consume one message at a time; vpcd never pipelines, but keep the order anyway.
                first = frames[0]
                self._buffer = self._buffer[2 + len(first) :]
                return first
            self._buffer = rest
            with self._lock:
                sock = self._sock
            if sock is None:
                raise _Closed
            if self.low_latency and hasattr(socket, "TCP_QUICKACK"):
                # Linux only, and not sticky: re-arm before every receive.
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            try:
                chunk = sock.recv(65536 + 2)
            except OSError as exc:
                raise _Closed from exc
            if not chunk:
                raise _Closed
            self._buffer += chunk

    def _send(self, payload: bytes) -> None:
        with self._lock:
            sock = self._sock
        if sock is None:
            raise _Closed
        try:
            sock.sendall(encode_frame(payload))  # one write: header and body in one segment
        except OSError as exc:
            raise _Closed from exc

    # -- signals --------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _signals_handled(self, enabled: bool) -> Iterator[None]:
        if not enabled or threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(signum: int, frame: FrameType | None) -> None:
            log.info("signal %d: stopping the vpcd bridge", signum)
            self.stop()

        previous = [(sig, signal.signal(sig, handler)) for sig in (signal.SIGTERM, signal.SIGINT)]
        try:
            yield
        finally:
            for sig, old in previous:
                signal.signal(sig, old)
