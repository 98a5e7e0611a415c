"""The subscriber's other fast paths: the history's per-topic cache, GC freezing after the app
is built, and paho reading its socket through a buffer."""

from __future__ import annotations

import gc
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from apps.omf_dashboard.app import GC_GEN0_THRESHOLD
from apps.omf_dashboard.config import DashboardConfig
from apps.omf_dashboard.history import MessageHistory
from apps.omf_dashboard.mqtt_socket import BUFFER_SIZE, BufferedClient, BufferedSocket
from apps.omf_dashboard.topics import category, is_noisy, sub_category
from paho.mqtt.enums import CallbackAPIVersion

from apps.omf_dashboard import history as history_module

LED = '{"actions":[{"actionType":"setStatusLED"}]}'
RESET = '{"actions":[{"actionType":"reset"}]}'
TOPICS_AND_PAYLOADS = [
    ("module/v1/ff/SVR4H73275/instantAction", LED),
    ("module/v1/ff/SVR4H73275/instantAction", RESET),  # same topic, not noisy this time
    ("osf/arduino/gas/mq2-1/state", "{}"),
    ("osf/arduino/gas/mq2-1/connection", "{}"),
    ("/j1/txt/1/i/cam", "{}"),
    ("ccu/order/active", "[]"),
    ("module/v1/ff/NodeRed/SVR4H73275/state", "{}"),
    ("dsp/correlation/request", "x"),
    ("/", ""),
]


def test_history_classes_match_the_topic_rules() -> None:
    history = MessageHistory()
    for _ in range(2):  # the second round comes from the cache
        for topic, payload in TOPICS_AND_PAYLOADS:
            record = history.add("received", topic, payload, received_at=0.0)
            assert (record.category, record.sub_category, record.noisy) == (
                category(topic),
                sub_category(topic),
                is_noisy(topic, payload),
            )


def test_history_counts_follow_evictions_clears_and_cache_resets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(history_module, "TOPIC_CACHE_LIMIT", 3)
    history = MessageHistory(limit=5)
    topics = [f"ccu/t{i}" for i in range(4)] + ["fts/v1/ff/a/state", "module/x/state"] * 3
    for i, topic in enumerate(topics):
        history.add("received", topic, "{}", received_at=float(i))
        held = [r.topic for r in history.records()]
        assert history.categories == Counter(map(category, held))
        assert history.sub_categories == Counter(map(sub_category, held))
    history.clear()
    assert (history.categories, history.sub_categories) == (Counter(), Counter())


def test_history_records_are_immutable() -> None:
    record = MessageHistory().add("sent", "a/b", "{}", received_at=1.0)
    with pytest.raises(AttributeError):
        record.payload = "changed"  # type: ignore[misc]


def test_create_app_freezes_what_it_built(dashboard_factory: Callable[..., Any]) -> None:
    dashboard_factory(DashboardConfig(), start_client=False)
    assert gc.get_freeze_count() > 10_000  # Dash, Flask and the layout factories
    assert gc.get_threshold()[0] >= GC_GEN0_THRESHOLD


# ---------------------------------------------------------------------- buffered socket
def pair() -> tuple[BufferedSocket, socket.socket]:
    a, b = socket.socketpair()
    a.setblocking(False)
    return BufferedSocket(a), b


def test_buffered_socket_reads_like_a_socket() -> None:
    sock, peer = pair()
    try:
        with pytest.raises(BlockingIOError):
            sock.recv(1)
        peer.sendall(b"abcdef")
        time.sleep(0.05)
        assert sock.recv(1) == b"a"
        assert sock.pending() == 5
        assert sock.recv(2) == b"bc"
        assert sock.recv(10) == b"def"  # what is buffered, not more
        assert sock.pending() == 0
        with pytest.raises(BlockingIOError):
            sock.recv(1)
        big = bytes(range(256)) * (3 * BUFFER_SIZE // 256)
        peer.sendall(big[:BUFFER_SIZE])
        time.sleep(0.05)
        assert sock.recv(2 * BUFFER_SIZE) == big[:BUFFER_SIZE]  # a large read, no copy kept
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 16)  # the socket's own
        assert sock.fileno() >= 0
        peer.close()
        time.sleep(0.05)
        assert sock.recv(1) == b""  # end of stream
    finally:
        sock.close()
        peer.close()


def test_the_private_paho_hook_is_pinned_and_still_creates_the_socket() -> None:
    """BufferedClient overrides paho's private ``Client._create_socket``: the installed paho
    must be inside the pinned range, and its connect must still create the socket there."""
    import importlib.metadata
    import inspect
    import re
    import tomllib

    from packaging.requirements import Requirement
    from tests.conftest import ROOT

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    (pin,) = [
        Requirement(r)
        for r in project["optional-dependencies"]["apps"]
        if r.startswith("paho-mqtt")
    ]
    assert pin.specifier, "paho-mqtt must be pinned while a private hook is used"
    assert pin.specifier.contains(importlib.metadata.version("paho-mqtt"))
    assert "2.3" not in pin.specifier  # widen only after checking the hook in that version
    assert callable(getattr(mqtt.Client, "_create_socket", None))
    source = inspect.getsource(mqtt.Client.reconnect)
    assert re.search(r"self\._sock = self\._create_socket\(\)", source)


@pytest.mark.broker
def test_buffered_client_receives_every_message_intact(private_broker: Any) -> None:
    """Small, large (several buffers) and empty payloads, in order, at full speed."""
    sizes = [0, 1, 10, 100, 1000, 3 * BUFFER_SIZE + 7, 50] * 300
    expected = [(f"t/{i % 7}", bytes([i % 251]) * size) for i, size in enumerate(sizes)]
    received: list[tuple[str, bytes]] = []
    done = threading.Event()
    subscribed = threading.Event()

    def on_message(_c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        received.append((msg.topic, msg.payload))
        if len(received) == len(expected):
            done.set()

    sub = BufferedClient(CallbackAPIVersion.VERSION2, client_id=f"b-{uuid.uuid4().hex[:8]}")
    sub.on_message = on_message
    sub.on_connect = lambda c, *_: c.subscribe("t/#")
    sub.on_subscribe = lambda *_: subscribed.set()
    sub.connect(private_broker.host, private_broker.port)
    sub.loop_start()
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"p-{uuid.uuid4().hex[:8]}")
    pub.connect(private_broker.host, private_broker.port)
    pub.loop_start()
    try:
        assert subscribed.wait(10)
        assert isinstance(sub.socket(), BufferedSocket)
        infos = [pub.publish(topic, payload) for topic, payload in expected]
        for info in infos:
            info.wait_for_publish(30)
        assert done.wait(60), len(received)
        assert received == expected
    finally:
        for client in (pub, sub):
            client.disconnect()
            client.loop_stop()
