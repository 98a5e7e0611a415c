"""A paho-mqtt client that reads its TCP socket in large chunks.

paho reads every packet with at least three ``recv`` system calls (the command byte, each byte
of the remaining length, then the rest) after a ``select``, and handles one packet per network
loop pass whatever ``loop_read(max_packets=…)`` asks (paho 2.2 ignores the argument for a QoS 0
subscriber). At 10k messages a second that is ~40k system calls and 10k loop passes a second.

:class:`BufferedClient` changes two things:

- its plain TCP sockets are wrapped in :class:`BufferedSocket`, which fills a 64 KiB buffer
  with one ``recv`` and serves paho's small reads from it. It reports the buffered bytes
  through ``pending()``, the method paho's loop already asks of TLS sockets, so the loop
  reads on (without waiting in ``select``) while data is buffered. TLS, websocket and proxy
  sockets are left as paho made them.
- :meth:`BufferedClient.loop_read` goes on reading while whole data is buffered, up to
  :data:`MAX_PACKETS_PER_READ` packets, before paho's loop gets back to writes and keepalive.

Nothing else changes: the packets, their order, the callbacks and the reconnect behaviour are
paho's.

paho has no public way to wrap the socket it reads from (``on_socket_open`` only reports the
socket), so the wrapping overrides one private method, ``Client._create_socket``, which paho
2.1–2.2 calls for every connect and reconnect. ``pyproject.toml`` pins paho to those versions
and ``tests/apps/omf_dashboard/test_omf_fast_paths.py`` checks the pin, the hook and that the
client really reads through a :class:`BufferedSocket`. Should a paho without the hook be
installed anyway, the client is plain paho: unbuffered, never broken (the override is then
never called, and :meth:`BufferedClient.loop_read` only batches buffered sockets).
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, Any, Final

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode

if TYPE_CHECKING:
    from paho.mqtt.client import SocketLike

BUFFER_SIZE: Final = 65_536
MAX_PACKETS_PER_READ: Final = 100


class BufferedSocket:
    """A non-blocking socket whose reads come from a userspace buffer of :data:`BUFFER_SIZE`.

    ``recv`` has socket semantics: at most ``size`` bytes, ``b""`` at end of stream, and
    ``BlockingIOError`` (from the socket) when nothing is buffered or readable.
    """

    __slots__ = ("_buffer", "_position", "_sock")

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buffer = b""
        self._position = 0

    def recv(self, size: int) -> bytes:
        position = self._position
        buffer = self._buffer
        if position >= len(buffer):
            buffer = self._sock.recv(max(size, BUFFER_SIZE))
            if len(buffer) <= size:  # all of it is wanted: no copy, nothing kept
                self._buffer, self._position = b"", 0
                return buffer
            self._buffer = buffer
            position = 0
        end = position + size
        self._position = end
        return buffer[position:end]

    def pending(self) -> int:
        """Bytes buffered and not yet returned by :meth:`recv`."""
        return max(0, len(self._buffer) - self._position)

    def send(self, data: bytes | bytearray) -> int:
        return self._sock.send(data)

    def close(self) -> None:
        self._buffer, self._position = b"", 0
        self._sock.close()

    def fileno(self) -> int:
        return self._sock.fileno()

    def setblocking(self, flag: bool) -> None:
        self._sock.setblocking(flag)

    def __getattr__(self, name: str) -> Any:
        """Everything else (``setsockopt``, ``getpeername``, …) is the socket's."""
        return getattr(self._sock, name)


class BufferedClient(mqtt.Client):
    """``paho.mqtt.client.Client`` with buffered reads on plain TCP (see the module doc)."""

    def _create_socket(self) -> SocketLike:  # paho's private hook, see the module doc
        sock = super()._create_socket()
        if type(sock) is socket.socket:  # not TLS (a subclass), websocket or proxy socket
            return BufferedSocket(sock)
        return sock

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        rc = super().loop_read(max_packets)
        for _ in range(MAX_PACKETS_PER_READ - 1):
            sock = self.socket()
            if rc != MQTTErrorCode.MQTT_ERR_SUCCESS or not isinstance(sock, BufferedSocket):
                break
            if not sock.pending():
                break
            rc = super().loop_read(max_packets)
        return rc
