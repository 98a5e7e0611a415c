"""The dashboard's MQTT side: one paho client in a background thread feeding the models.

:class:`DashboardClient` owns a paho-mqtt (callback API v2) client, a
:class:`~apps.omf_dashboard.state.FactoryState`, a bounded
:class:`~apps.omf_dashboard.history.MessageHistory` and the latest replay announcement, all
guarded by one lock. The paho thread decodes a payload and, inside the lock, lets the models
parse and take it; Dash callbacks read cheap snapshots and never touch the network, except
:meth:`DashboardClient.publish` for the Message Generator.

paho reads through :class:`~apps.omf_dashboard.mqtt_socket.BufferedClient` (one ``recv`` per
64 KiB instead of three per packet, up to 100 packets per loop pass).

Lifecycle: nothing connects at construction; :meth:`start` connects asynchronously and paho
keeps reconnecting on its own (1–10 s back-off); subscriptions are made in ``on_connect`` so
they survive reconnects. :meth:`stop` disconnects and joins the thread. Credentials of the live
profile go to paho only; logs and snapshots name the broker by ``host:port``.
"""

from __future__ import annotations

import logging
import os
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from apps.omf_dashboard.config import BrokerProfile, DashboardConfig, ProfileName
from apps.omf_dashboard.history import (
    MessageFilter,
    MessageHistory,
    MessageRecord,
    QueryResult,
    query,
    sorted_names,
)
from apps.omf_dashboard.mqtt_socket import BufferedClient
from apps.omf_dashboard.payloads import NOT_JSON, decode, parse_payload
from apps.omf_dashboard.replay_status import ReplayStatus, parse_replay_status
from apps.omf_dashboard.state import FactoryState, StateSnapshot
from apps.omf_dashboard.topics import REPLAY_STATUS_TOPIC

log = logging.getLogger(__name__)

SUBSCRIPTION = "#"
PUBLISH_ACK_TIMEOUT_S = 2.0


@dataclass(frozen=True, slots=True)
class ConnectionStatus:
    """What the connection indicator shows; contains no credentials."""

    profile: ProfileName
    broker: str
    connected: bool
    detail: str


@dataclass(frozen=True)
class DashboardSnapshot:
    """Everything a page needs for one redraw, taken under the lock in O(modules + agvs)."""

    state: StateSnapshot
    connection: ConnectionStatus
    replay: ReplayStatus | None
    received: int
    sent: int
    history_size: int
    history_limit: int
    history_last_seq: int
    history_generation: int
    categories: tuple[str, ...]
    sub_categories: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PublishOutcome:
    """Result of :meth:`DashboardClient.publish`; ``seq`` is the history record of a send."""

    ok: bool
    message: str
    seq: int | None = None


def validate_topic(topic: str) -> str | None:
    """Why ``topic`` cannot be published to, or None if it can."""
    if not topic:
        return "topic is empty"
    if "+" in topic or "#" in topic:
        return "wildcards (+, #) are not allowed in a publish topic"
    if "\x00" in topic:
        return "topic contains a NUL character"
    if len(topic.encode("utf-8")) > 65535:
        return "topic is longer than 65535 bytes"
    return None


class DashboardClient:
    """Thread-safe hub between the MQTT thread and the Dash callbacks."""

    def __init__(self, config: DashboardConfig, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self._clock = clock
        self._lock = threading.Lock()
        self._client: mqtt.Client | None = None
        self._profile = config.broker_profile(config.profile)
        self._connected = False
        self._detail = "not started"
        self._state = FactoryState()
        self._history = MessageHistory(config.history_limit)
        self._replay: ReplayStatus | None = None
        self._received = 0
        self._sent = 0

    # ------------------------------------------------------------------ lifecycle
    @property
    def profile(self) -> BrokerProfile:
        return self._profile

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def received(self) -> int:
        return self._received

    def start(self) -> None:
        """Connect in the background (idempotent); returns at once."""
        with self._lock:
            if self._client is not None:
                return
            client = self._make_client(self._profile)
            self._client = client
            self._detail = "connecting"
        log.info("connecting to %s broker %s", self._profile.name, self._profile.describe())
        client.connect_async(self._profile.host, self._profile.port, keepalive=30)
        client.loop_start()

    def stop(self) -> None:
        """Disconnect and join the network thread (idempotent)."""
        with self._lock:
            client, self._client = self._client, None
            self._connected = False
            self._detail = "stopped"
        if client is not None:
            client.disconnect()
            client.loop_stop()

    def switch_profile(self, name: ProfileName) -> None:
        """Reconnect to another profile; the factory state and replay banner start afresh.

        The message history is kept (its records carry their own times). Raises ValueError for
        an unconfigured profile.
        """
        profile = self.config.broker_profile(name)
        if profile == self._profile and self._client is not None:
            return
        self.stop()
        with self._lock:
            self._profile = profile
            self._state = FactoryState()
            self._replay = None
        self.start()

    def wait_connected(self, timeout: float = 10.0) -> bool:
        """Block until subscribed to the broker (for tests and the CLI)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._connected:
                return True
            time.sleep(0.02)
        return False

    def _make_client(self, profile: BrokerProfile) -> mqtt.Client:
        client_id = f"{self.config.client_id_prefix}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        client = BufferedClient(  # paho's Client with buffered, batched socket reads
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv311,
            reconnect_on_failure=True,
        )
        client.reconnect_delay_set(min_delay=1, max_delay=10)
        if profile.username:
            client.username_pw_set(profile.username, profile.password)
        if profile.tls:
            client.tls_set(cert_reqs=ssl.CERT_REQUIRED)
        client.on_socket_open = _set_nodelay
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    # ------------------------------------------------------------------ paho callbacks
    def _on_connect(
        self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        if client is not self._client:
            return
        if reason.is_failure:
            self._connected = False
            self._detail = f"refused: {reason}"
            log.warning("broker %s refused the connection: %s", self._profile.describe(), reason)
            return
        client.subscribe(SUBSCRIPTION, qos=0)
        self._connected = True
        self._detail = "connected"
        log.info("connected to %s", self._profile.describe())

    def _on_connect_fail(self, client: mqtt.Client, _userdata: Any) -> None:
        if client is self._client:
            self._connected = False
            self._detail = "unreachable, retrying"

    def _on_disconnect(
        self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        if client is not self._client:
            return
        self._connected = False
        self._detail = f"disconnected ({reason}), reconnecting"
        log.warning("lost broker %s: %s", self._profile.describe(), reason)

    def _on_message(self, client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        if client is self._client:
            self.handle_message(msg.topic, msg.payload, qos=msg.qos, retain=bool(msg.retain))

    # ------------------------------------------------------------------ data in and out
    def handle_message(
        self, topic: str, payload: bytes | bytearray | str, *, qos: int = 0, retain: bool = False
    ) -> None:
        """Account one received message (what ``on_message`` does; public for tests).

        Runs for every message (10k a second in a fast replay), so it does the least it can:
        the model parses the payload text itself (skipping a text that repeats the previous
        one on a stock or order topic), and the history keeps the text as received.
        """
        text = payload if isinstance(payload, str) else decode(payload)
        now = self._clock()
        with self._lock:
            self._received += 1
            if topic == REPLAY_STATUS_TOPIC:
                body = parse_payload(text)
                self._replay = parse_replay_status(body, now)
            else:
                body = self._state.apply_text(topic, text, now)
            self._history.add(
                "received",
                topic,
                text,
                received_at=now,
                qos=qos,
                retain=retain,
                is_json=body is not NOT_JSON,
            )

    def publish(
        self, topic: str, payload: str, *, qos: int = 0, retain: bool = False
    ) -> PublishOutcome:
        """Publish ``payload`` (UTF-8) and record it as ``sent`` in the history on success.

        Never raises for broker trouble: a refused topic, a missing connection or a QoS>0
        message not acknowledged within 2 s come back as ``ok=False`` with a reason.
        """
        problem = validate_topic(topic)
        if problem is None and qos not in (0, 1, 2):
            problem = f"QoS must be 0, 1 or 2, got {qos}"
        if problem is not None:
            return PublishOutcome(False, problem)
        client = self._client
        if client is None or not self._connected:
            return PublishOutcome(False, "not connected to the broker")
        info = client.publish(topic, payload.encode("utf-8"), qos=qos, retain=retain)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            return PublishOutcome(False, f"publish failed: {mqtt.error_string(info.rc)}")
        if qos > 0:
            try:
                info.wait_for_publish(PUBLISH_ACK_TIMEOUT_S)
            except (ValueError, RuntimeError) as exc:
                return PublishOutcome(False, f"publish failed: {exc}")
            if not info.is_published():
                return PublishOutcome(False, "broker did not acknowledge the message in time")
        with self._lock:
            self._sent += 1
            record = self._history.add(
                "sent",
                topic,
                payload,
                received_at=self._clock(),
                qos=qos,
                retain=retain,
                is_json=parse_payload(payload) is not NOT_JSON,
            )
        return PublishOutcome(True, f"sent to {topic}", record.seq)

    # ------------------------------------------------------------------ reading
    def snapshot(self) -> DashboardSnapshot:
        """A consistent view for one redraw (copies containers, shares immutable values)."""
        with self._lock:
            return DashboardSnapshot(
                state=self._state.snapshot(),
                connection=ConnectionStatus(
                    self._profile.name, self._profile.describe(), self._connected, self._detail
                ),
                replay=self._replay,
                received=self._received,
                sent=self._sent,
                history_size=len(self._history),
                history_limit=self._history.limit,
                history_last_seq=self._history.last_seq,
                history_generation=self._history.generation,
                categories=tuple(sorted_names(self._history.categories)),
                sub_categories=tuple(sorted_names(self._history.sub_categories)),
            )

    def connection_status(self) -> ConnectionStatus:
        return ConnectionStatus(
            self._profile.name, self._profile.describe(), self._connected, self._detail
        )

    def replay_status(self) -> ReplayStatus | None:
        return self._replay

    def query_history(self, flt: MessageFilter, limit: int) -> QueryResult:
        """Newest-first matches; the filtering runs outside the lock."""
        with self._lock:
            records = self._history.records()
        return query(records, flt, limit)

    def find_message(self, seq: int) -> MessageRecord | None:
        with self._lock:
            return self._history.find(seq)

    def clear_history(self) -> None:
        """Empty the Message Center; the received/sent counters keep counting."""
        with self._lock:
            self._history.clear()


def _set_nodelay(_client: mqtt.Client, _userdata: Any, sock: Any) -> None:
    """Disable Nagle: paho does not, and it adds ~10 ms per small message (ECOSYSTEM §4)."""
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError):  # not a TCP socket (e.g. a websocket wrapper)
        log.debug("could not set TCP_NODELAY on the MQTT socket")
