"""Misbehaving MQTT peers for fault tests: real sockets on loopback, no mocks of our code."""

from __future__ import annotations

import contextlib
import socket
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
