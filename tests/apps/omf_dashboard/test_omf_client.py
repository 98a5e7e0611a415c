"""DashboardClient against a real Mosquitto: counting, state, replay banner, reconnects, secrets."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from apps.omf_dashboard.client import DashboardClient, validate_topic
from apps.omf_dashboard.config import DashboardConfig
from apps.omf_dashboard.history import MessageFilter
from apps.omf_dashboard.state import FactoryState, StateSnapshot
from omf_sessions import publish_session, read_session
from paho.mqtt.enums import CallbackAPIVersion

pytestmark = pytest.mark.broker


def wait_until(condition: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def started(url: str, **config: Any) -> DashboardClient:
    client = DashboardClient(DashboardConfig(broker_url=url, **config))
    client.start()
    assert client.wait_connected(10), client.connection_status()
    return client


def without_times(snap: StateSnapshot) -> StateSnapshot:
    """The snapshot with receive times blanked (they differ between two feeds)."""
    return replace(
        snap,
        modules={k: replace(m, updated_at=None) for k, m in snap.modules.items()},
        agvs={k: replace(a, updated_at=None, own_state_at=None) for k, a in snap.agvs.items()},
        environment=replace(snap.environment, updated_at=None) if snap.environment else None,
        arduino={k: replace(r, updated_at=None) for k, r in snap.arduino.items()},
        camera=replace(snap.camera, updated_at=0.0) if snap.camera else None,
        quality=replace(snap.quality, updated_at=0.0) if snap.quality else None,
    )


def publisher(broker: Any) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex[:8]}")
    client.connect(broker.host, broker.port)
    client.loop_start()
    return client


def test_counts_and_state_match_a_published_session(
    private_broker: Any, plant_session: Path
) -> None:
    path = plant_session
    client = started(private_broker.url)
    try:
        published = publish_session(path, private_broker.host, private_broker.port)
        assert published == len(read_session(path)) == 1500
        assert wait_until(lambda: client.received == published), client.received
        snap = client.snapshot()
        assert (snap.received, snap.sent, snap.history_size) == (published, 0, published)
        reference = FactoryState()
        for i, message in enumerate(read_session(path)):
            reference.apply_text(message.topic, message.payload, float(i))
        assert without_times(snap.state) == without_times(reference.snapshot())
        # the Message Center sees every message; the pre-filter hides the noisy families
        all_rows = client.query_history(MessageFilter(), 5)
        assert all_rows.matched == published
        assert all_rows.records[0].topic == read_session(path)[-1].topic
        quiet = client.query_history(MessageFilter(hide_noisy=True), 5).matched
        assert 0 < quiet < published
    finally:
        client.stop()


def test_replay_status_topic_drives_the_banner_not_the_state(private_broker: Any) -> None:
    client = started(private_broker.url)
    pub = publisher(private_broker)
    try:
        status = {
            "session": "blue-run",
            "position": 12.5,
            "duration": 60,
            "speed": 10,
            "state": "playing",
            "sent": 120,
            "total": 900,
        }
        pub.publish("mqtt-replay/status", json.dumps(status), qos=1, retain=True)
        assert wait_until(lambda: client.replay_status() is not None)
        replay = client.replay_status()
        assert replay is not None
        assert replay.active
        assert replay.describe() == "blue-run · 12.5 s / 60.0 s · 10× · 120/900 · playing"
        assert client.snapshot().state.messages == 0  # not a factory message
        pub.publish("mqtt-replay/status", b"", qos=1, retain=True)  # engine clears its topic
        assert wait_until(lambda: client.replay_status() is None)
    finally:
        pub.loop_stop()
        pub.disconnect()
        client.stop()


def test_reconnects_after_the_broker_restarts(private_broker: Any) -> None:
    client = started(private_broker.url)
    try:
        private_broker.kill()
        assert wait_until(lambda: not client.connected, 10)
        assert "reconnecting" in client.connection_status().detail or not client.connected
        private_broker.start()  # same port
        assert wait_until(lambda: client.connected, 30)
        pub = publisher(private_broker)
        pub.publish("ccu/order/active", "[]").wait_for_publish(5)
        pub.loop_stop()
        pub.disconnect()
        assert wait_until(lambda: client.received == 1)
    finally:
        client.stop()


def test_non_json_payloads_are_counted_and_kept_raw(private_broker: Any) -> None:
    client = started(private_broker.url)
    pub = publisher(private_broker)
    try:
        pub.publish("/j1/txt/1/o/raw", b"<b>not json</b>").wait_for_publish(5)
        assert wait_until(lambda: client.received == 1)
        snap = client.snapshot()
        assert snap.state.non_json == 1
        (record,) = client.query_history(MessageFilter(), 10).records
        assert (record.payload, record.is_json) == ("<b>not json</b>", False)
    finally:
        pub.loop_stop()
        pub.disconnect()
        client.stop()


def test_credentials_never_reach_logs_or_snapshots(
    private_broker: Any, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "s3cr3t-Pa55word"
    config = DashboardConfig(
        live_url=private_broker.url,
        live_username="operator",
        live_password=secret,
        profile="live",
    )
    caplog.set_level(logging.DEBUG)
    client = DashboardClient(config)
    client.start()
    try:
        assert client.wait_connected(10)  # anonymous broker accepts any credentials
        client.switch_profile("replay")  # the default replay URL need not be reachable
        client.switch_profile("live")
        assert client.wait_connected(10)
        status = client.connection_status()
        assert status.broker == f"127.0.0.1:{private_broker.port} as operator"
        assert secret not in caplog.text
        assert secret not in repr(config)
        assert secret not in repr(client.snapshot())
        assert secret not in repr(client.profile)
    finally:
        client.stop()


def test_publish_refuses_bad_topics_and_a_missing_connection(private_broker: Any) -> None:
    assert validate_topic("a/+/b") is not None
    assert validate_topic("") is not None
    assert validate_topic("ccu/order/request") is None
    client = DashboardClient(DashboardConfig(broker_url=private_broker.url))
    outcome = client.publish("ccu/order/request", "{}")
    assert (outcome.ok, outcome.message) == (False, "not connected to the broker")
    client.start()
    try:
        assert client.wait_connected(10)
        assert not client.publish("a/#", "{}").ok
        assert not client.publish("a/b", "{}", qos=3).ok
        assert client.snapshot().sent == 0
    finally:
        client.stop()


def test_keeps_up_with_a_fast_burst(private_broker: Any) -> None:
    """20k messages as fast as paho can publish them: none lost, queries stay cheap."""
    total = 20_000
    client = started(private_broker.url)
    pub = publisher(private_broker)
    try:
        body = json.dumps({"batteryState": {"percentage": 50, "charging": False}, "driving": True})
        start = time.monotonic()
        infos = [pub.publish(f"fts/v1/ff/A{i % 3}/state", body) for i in range(total)]
        for info in infos:
            info.wait_for_publish(30)
        assert wait_until(lambda: client.received == total, 60), client.received
        elapsed = time.monotonic() - start
        snap = client.snapshot()
        assert snap.history_size == 10_000  # the default bound
        assert snap.state.messages == total
        assert set(snap.state.agvs) == {"A0", "A1", "A2"}
        t0 = time.perf_counter()
        result = client.query_history(MessageFilter(topic_text="A1", hide_noisy=True), 300)
        query_s = time.perf_counter() - t0
        assert result.matched == 3333 or result.matched == 3334
        assert query_s < 0.5, query_s
        print(f"\n{total} msgs received in {elapsed:.2f}s ({total / elapsed:.0f} msg/s)")
    finally:
        pub.loop_stop()
        pub.disconnect()
        client.stop()


def test_stop_is_idempotent_and_joins_the_thread(private_broker: Any) -> None:
    before = threading.active_count()
    client = started(private_broker.url)
    client.stop()
    client.stop()
    assert wait_until(lambda: threading.active_count() <= before, 5)
