"""Misbehaving MQTT peers for fault tests: real sockets on loopback, no mocks of our code."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from types import TracebackType


def _read_packet(conn: socket.socket) -> bytes | None:
    """One whole MQTT packet (fixed header included), or None at EOF."""
    first = conn.recv(1)
    if not first:
        return None
    length, mult, header = 0, 1, bytearray(first)
    for _ in range(4):
        b = conn.recv(1)
        if not b:
            return None
        header += b
        length += (b[0] & 0x7F) * mult
        if b[0] & 0x80 == 0:
            break
        mult *= 128
    body = bytearray()
    while len(body) < length:
        chunk = conn.recv(length - len(body))
        if not chunk:
            return None
        body += chunk
    return bytes(header + body)


class SilentBroker:
    """Accepts, answers CONNECT with CONNACK, then reads everything and never answers again
    (no PUBACK, no PINGRESP): a broker that hangs after the handshake."""

    def __init__(self) -> None:
        self.server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(16)
        self.port = int(self.server.getsockname()[1])
        self.connections = 0
        self.bytes_read = 0
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        self.server.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            if _read_packet(conn) is None:
                return
            conn.sendall(b"\x20\x02\x00\x00")  # CONNACK, accepted
            while not self._stop.is_set():
                data = conn.recv(65536)
                if not data:
                    return
                self.bytes_read += len(data)
        except OSError:
            return

    def close(self) -> None:
        self._stop.set()
        self.server.close()
        for c in self._conns:
            with contextlib.suppress(OSError):
                c.close()
        self._thread.join(2)

    def __enter__(self) -> SilentBroker:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class DurableBroker:
    """A minimal MQTT 3.1.1 broker that keeps every QoS 1 PUBLISH it acknowledged across
    crashes (its record lives in the test), so a crash tests the publisher alone: whatever
    the engine does not resend is missing. ``crash()`` resets every connection and stops
    listening; ``restart()`` listens on the same port again. ``ack_every`` > 1 acknowledges
    in batches, so that a crash finds unacknowledged messages in the engine's window."""

    def __init__(self, ack_every: int = 5) -> None:
        self.ack_every = ack_every
        self.port = 0
        self.received: list[tuple[str, bytes, bool]] = []
        self.acked = 0
        self.lock = threading.Lock()
        self._server: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._stop = threading.Event()
        self.restart()

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def restart(self) -> None:
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(16)
        self.port = int(server.getsockname()[1])
        self._server = server
        self._stop = threading.Event()
        threading.Thread(target=self._accept, args=(server, self._stop), daemon=True).start()

    def crash(self) -> None:
        """Like kill -9: connections reset, unacknowledged messages gone, port closed."""
        self._stop.set()
        if self._server is not None:
            self._server.close()
        for c in self._conns:
            with contextlib.suppress(OSError):
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                c.close()
        self._conns = []

    def _accept(self, server: socket.socket, stop: threading.Event) -> None:
        server.settimeout(0.05)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn, stop), daemon=True).start()

    def _serve(self, conn: socket.socket, stop: threading.Event) -> None:
        pending: list[tuple[int, str, bytes, bool]] = []
        guard = threading.Lock()
        gone = threading.Event()

        def ack() -> None:
            with guard:
                if not pending or stop.is_set():
                    return
                # Taken (and durable) only once acknowledged, as a broker would.
                acks = b"".join(b"\x40\x02" + p[0].to_bytes(2, "big") for p in pending)
                with self.lock:
                    self.received.extend((t, b, d) for _, t, b, d in pending)
                    self.acked += len(pending)
                pending.clear()
                with contextlib.suppress(OSError):
                    conn.sendall(acks)

        def ticker() -> None:
            while not gone.wait(0.02):
                ack()

        threading.Thread(target=ticker, daemon=True).start()
        try:
            if _read_packet(conn) is None:
                return
            conn.sendall(b"\x20\x02\x00\x00")
            while not stop.is_set():
                packet = _read_packet(conn)
                if packet is None:
                    return
                kind = packet[0] >> 4
                if kind == 12:  # PINGREQ
                    conn.sendall(b"\xd0\x00")
                elif kind == 14:  # DISCONNECT
                    return
                elif kind == 3 and (packet[0] >> 1) & 3:
                    at = 1
                    while packet[at] & 0x80:
                        at += 1
                    at += 1
                    tl = int.from_bytes(packet[at : at + 2], "big")
                    topic = packet[at + 2 : at + 2 + tl].decode()
                    at += 2 + tl
                    pid = int.from_bytes(packet[at : at + 2], "big")
                    with guard:
                        pending.append((pid, topic, packet[at + 2 :], bool(packet[0] & 0x08)))
                        full = len(pending) >= self.ack_every
                    if full:
                        ack()
        except OSError:
            return
        finally:
            gone.set()

    def close(self) -> None:
        self.crash()
