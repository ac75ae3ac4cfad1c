"""The vpcd bridge against a fake vpcd (a local TCP server speaking vpcd's framing).

Wire protocol: vsmartcard vpcd.c / DOMAIN.md §8 — 2-byte big-endian length + payload; 1-byte
payloads are control codes (0 off, 1 on, 2 reset, 4 ATR), longer ones APDUs.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cardkit.emulator import vpcd
from cardkit.emulator.vpcd import VpcdBridge, decode_frames, encode_frame
from cardkit.errors import EncodingError, TransportError

ATR = bytes.fromhex("3B8880014341524B4954000000")


class FakeCard:
    def __init__(self) -> None:
        self.events: list[str] = []
        self.apdus: list[bytes] = []

    @property
    def atr(self) -> bytes:
        return ATR

    def power_on(self) -> bytes:
        self.events.append("on")
        return ATR

    def power_off(self) -> None:
        self.events.append("off")

    def transmit(self, apdu: bytes) -> bytes:
        self.apdus.append(apdu)
        if apdu == b"boom":
            raise RuntimeError("card bug")
        return apdu[:1] + b"\x90\x00" if apdu != b"empty" else b""


class FakeVpcd:
    """vpcd's side: listens, accepts the bridge, sends messages and reads answers."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.server.getsockname()[1]
        self.client: socket.socket | None = None

    def accept(self) -> None:
        self.server.settimeout(5)
        self.client, _ = self.server.accept()
        self.client.settimeout(5)

    def send(self, payload: bytes) -> None:
        assert self.client is not None
        self.client.sendall(encode_frame(payload))

    def receive(self) -> bytes:
        assert self.client is not None
        header = self._exact(2)
        return self._exact(int.from_bytes(header, "big"))

    def _exact(self, n: int) -> bytes:
        assert self.client is not None
        data = b""
        while len(data) < n:
            chunk = self.client.recv(n - len(data))
            assert chunk, "the bridge closed the connection"
            data += chunk
        return data

    def drop(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

    def close(self) -> None:
        self.drop()
        self.server.close()


@pytest.fixture
def fake_vpcd() -> Iterator[FakeVpcd]:
    server = FakeVpcd()
    yield server
    server.close()


def _bridge(card: FakeCard, port: int, **options: object) -> VpcdBridge:
    return VpcdBridge(card, port=port, retry_interval=0.02, **options)  # type: ignore[arg-type]


# --- framing -------------------------------------------------------------------------------------


def test_frame_layout_from_the_vpcd_protocol() -> None:
    # vpcd.c sendToVICC: htons(length) then the bytes; the ATR request is the 1-byte message 04.
    assert encode_frame(bytes([vpcd.CTRL_ATR])) == bytes.fromhex("000104")
    assert encode_frame(bytes.fromhex("00A4040C")) == bytes.fromhex("000400A4040C")


@given(st.lists(st.binary(max_size=300), max_size=8), st.binary(max_size=1))
def test_frames_round_trip(payloads: list[bytes], tail: bytes) -> None:
    stream = b"".join(encode_frame(p) for p in payloads)
    frames, rest = decode_frames(stream + tail)
    assert frames == payloads
    assert rest == tail


@given(st.binary(min_size=1, max_size=300), st.data())
def test_truncated_stream_keeps_the_incomplete_frame(payload: bytes, data: st.DataObject) -> None:
    framed = encode_frame(payload)
    cut = data.draw(st.integers(0, len(framed) - 1))
    frames, rest = decode_frames(framed[:cut])
    assert frames == []
    assert rest == framed[:cut]


def test_oversized_payload_is_an_encoding_error() -> None:
    with pytest.raises(EncodingError):
        encode_frame(bytes(0x10000))


def test_slot_port_and_reader_name_mapping() -> None:
    # vpcd's stock reader.conf: "Virtual PCD 00 00" on 35963 and "Virtual PCD 00 01" on 35964.
    assert vpcd.port_for_slot(0) == 35963
    assert vpcd.port_for_slot(1) == 35964
    assert vpcd.reader_name_for_slot(0) == "Virtual PCD 00 00"
    assert vpcd.reader_name_for_slot(1) == "Virtual PCD 00 01"
    assert vpcd.reader_name_for_slot(2) == "Virtual PCD 1 00 00"
    assert vpcd.slot_for_port(35965) == 2
    assert vpcd.slot_for_port(80) is None
    with pytest.raises(ValueError):
        vpcd.port_for_slot(-1)


# --- the bridge ----------------------------------------------------------------------------------


def test_control_codes_and_apdus(fake_vpcd: FakeVpcd) -> None:
    card = FakeCard()
    bridge = _bridge(card, fake_vpcd.port)
    thread = bridge.serve_in_thread()
    fake_vpcd.accept()
    assert bridge.wait_connected(5)

    fake_vpcd.send(b"\x04")
    assert fake_vpcd.receive() == ATR
    fake_vpcd.send(b"\x01")  # power on: no answer expected
    fake_vpcd.send(b"\x02")  # reset = off + on
    fake_vpcd.send(b"\x00")  # power off
    fake_vpcd.send(bytes.fromhex("00A4040C07A0000002471001"))
    assert fake_vpcd.receive() == b"\x00\x90\x00"
    fake_vpcd.send(b"boom")  # a card that raises answers 6F00, and the bridge lives on
    assert fake_vpcd.receive() == b"\x6f\x00"
    fake_vpcd.send(b"empty")  # an empty answer would look like a dead card to vpcd
    assert fake_vpcd.receive() == b"\x6f\x00"

    assert card.events == ["on", "off", "on", "off"]
    assert bridge.apdu_count == 3
    bridge.stop()
    thread.join(5)
    assert not thread.is_alive()
    assert bridge.error is None


def test_socket_options(fake_vpcd: FakeVpcd) -> None:
    bridge = _bridge(FakeCard(), fake_vpcd.port)
    thread = bridge.serve_in_thread()
    fake_vpcd.accept()
    assert bridge.wait_connected(5)
    sock = bridge._sock
    assert sock is not None
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    bridge.stop()
    thread.join(5)


def test_retries_until_vpcd_listens() -> None:
    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens on the port now: connections are refused
    bridge = _bridge(FakeCard(), port, connect_timeout=10)
    thread = bridge.serve_in_thread()
    time.sleep(0.2)
    assert not bridge.connected
    server = socket.create_server(("127.0.0.1", port))
    try:
        server.settimeout(5)
        client, _ = server.accept()
        assert bridge.wait_connected(5)
        client.close()
    finally:
        bridge.stop()
        thread.join(5)
        server.close()
    assert bridge.error is None


def test_gives_up_with_a_clear_message_when_vpcd_is_absent() -> None:
    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    bridge = _bridge(FakeCard(), port, connect_timeout=0.1)
    with pytest.raises(TransportError, match=r"vpcd does not accept connections .*pcscd"):
        bridge.run_forever(handle_signals=False)


def test_reconnects_when_vpcd_closes_the_connection(fake_vpcd: FakeVpcd) -> None:
    bridge = _bridge(FakeCard(), fake_vpcd.port)
    thread = bridge.serve_in_thread()
    fake_vpcd.accept()
    fake_vpcd.drop()  # pcscd restarting
    fake_vpcd.accept()  # the bridge comes back by itself
    fake_vpcd.send(b"\x04")
    assert fake_vpcd.receive() == ATR
    bridge.stop()
    thread.join(5)
    assert bridge.error is None


def test_without_reconnect_a_closed_connection_ends_the_bridge(fake_vpcd: FakeVpcd) -> None:
    bridge = _bridge(FakeCard(), fake_vpcd.port, reconnect=False)
    thread = bridge.serve_in_thread()
    fake_vpcd.accept()
    fake_vpcd.drop()
    thread.join(5)
    assert not thread.is_alive()
    assert bridge.error is None


def test_stop_before_connecting_returns() -> None:
    bridge = _bridge(FakeCard(), 9, connect_timeout=30)  # port 9 (discard): refused
    thread = bridge.serve_in_thread()
    bridge.stop()
    thread.join(5)
    assert not thread.is_alive()


SIGTERM_SCRIPT = """
import sys
from cardkit.emulator.vpcd import VpcdBridge
class Card:
    atr = b"\\x3b\\x00"
    def power_on(self): return self.atr
    def power_off(self): pass
    def transmit(self, apdu): return b"\\x90\\x00"
bridge = VpcdBridge(Card(), port=int(sys.argv[1]))
bridge.run_forever()
print("stopped cleanly", flush=True)
"""


def test_sigterm_closes_the_socket_and_exits_cleanly(fake_vpcd: FakeVpcd) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", SIGTERM_SCRIPT, str(fake_vpcd.port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        fake_vpcd.accept()
        fake_vpcd.send(b"\x04")
        assert fake_vpcd.receive() == b"\x3b\x00"
        process.terminate()
        out, _ = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0
    assert "stopped cleanly" in out
    assert fake_vpcd.client is not None
    assert fake_vpcd.client.recv(1) == b""  # vpcd sees the connection closed: card removed


def test_cli_rejects_slot_and_port_together() -> None:
    from click.testing import CliRunner

    from cardkit.cli.emulator import emulator

    result = CliRunner().invoke(emulator, ["start", "--slot", "1", "--port", "40000"])
    assert result.exit_code == 2
    assert "--slot or --port" in result.output
