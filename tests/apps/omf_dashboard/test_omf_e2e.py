"""The dashboard in headless Chromium while a session is replayed into a test broker.

The replay is ``publish_session``: the project's replay engine at full speed. Expected values come from a FactoryState fed
with the same file, so the page is checked against the state model, not against itself.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from apps.omf_dashboard.app import client_of
from apps.omf_dashboard.client import DashboardClient
from apps.omf_dashboard.config import DashboardConfig
from apps.omf_dashboard.state import FactoryState
from omf_sessions import publish_session, read_session
from paho.mqtt.enums import CallbackAPIVersion
from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.e2e, pytest.mark.broker]

TIMEOUT_MS = 20_000


@dataclass
class Dashboard:
    client: DashboardClient
    url: str
    broker: Any


@pytest.fixture
def dashboard(
    private_broker: Any, serve_dash: Callable[[Any], str], dashboard_factory: Callable[..., Any]
) -> Dashboard:
    app = dashboard_factory(DashboardConfig(broker_url=private_broker.url, poll_interval_ms=300))
    client = client_of(app)
    assert client.wait_connected(10)
    return Dashboard(client, serve_dash(app), private_broker)


@pytest.fixture
def tab(chromium: Any) -> Iterator[Page]:
    context = chromium.new_context(viewport={"width": 1500, "height": 1100})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert errors == [], errors


def feed(path: Path) -> FactoryState:
    state = FactoryState()
    for i, message in enumerate(read_session(path)):
        state.apply_text(message.topic, message.payload, float(i))
    return state


def test_overview_and_message_center_follow_a_replay(
    dashboard: Dashboard, tab: Page, plant_session: Path
) -> None:
    path = plant_session
    reference = feed(path)
    tab.goto(dashboard.url)
    expect(tab.locator("#overview-received-count")).to_have_text("0", timeout=TIMEOUT_MS)
    expect(tab.locator("#shell-connection-badge")).to_contain_text("connected")

    published = publish_session(path, dashboard.broker.host, dashboard.broker.port)
    assert published == reference.messages == len(read_session(path))
    expect(tab.locator("#overview-received-count")).to_have_text(f"{published}", timeout=TIMEOUT_MS)
    expect(tab.locator("#overview-factory-count")).to_have_text(f"{reference.messages}")

    # stock grid: every slot as the state model has it
    assert any(slot.workpiece_type for slot in reference.stock.values())
    for location, slot in reference.stock.items():
        cell = tab.locator(f"#overview-stock [data-slot='{location}']")
        expect(cell).to_have_attribute("data-type", slot.workpiece_type or "")
        if slot.workpiece_type:
            expect(cell).to_contain_text(slot.workpiece_type)

    # module tiles: one per module, with the model's current action
    expect(tab.locator(".module-tile")).to_have_count(len(reference.modules))
    for serial, module in reference.modules.items():
        tile = tab.locator(f".module-tile[data-serial='{serial}']")
        expect(tile).to_contain_text(module.module_type)
        if module.action and module.action.command:
            expect(tile).to_contain_text(module.action.command)
    ((serial, agv),) = reference.agvs.items()
    card = tab.locator(f"[data-agv='{serial}']")
    expect(card).to_contain_text(f"{agv.battery_percent:.0f} %")

    # orders and camera
    assert reference.completed_orders
    for done in reference.completed_orders:
        expect(tab.locator(f"[data-order='{done.order_id}']")).to_have_attribute(
            "data-state", done.state or ""
        )
    assert reference.camera is not None
    img = tab.locator("#overview-camera-img")
    expect(img).to_have_attribute("src", reference.camera.data_uri)

    # Message Center: counts match what was published; filters narrow the rows
    tab.get_by_role("link", name="Message Center").click()
    expect(tab.locator("#messages-received-count")).to_have_text(f"received {published}")
    tab.uncheck("#messages-hide-noisy")
    expect(tab.locator("#messages-matching-count")).to_have_text(f"matching {published}")
    tab.fill("#messages-topic", "ccu/order/active")
    active_count = sum(1 for m in read_session(path) if m.topic == "ccu/order/active")
    assert active_count > 0
    expect(tab.locator("#messages-matching-count")).to_have_text(f"matching {active_count}")
    first_topic = tab.locator(".ag-center-cols-container .ag-row [col-id='topic']").first
    expect(first_topic).to_have_text("ccu/order/active")
    first_topic.click()
    expect(tab.locator("#messages-detail-topic")).to_have_text("ccu/order/active")
    expect(tab.locator("#messages-detail-payload")).to_contain_text("[")


def test_generator_order_shows_up_as_sent(dashboard: Dashboard, tab: Page) -> None:
    received: list[tuple[str, bytes]] = []
    subscribed = threading.Event()
    sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex[:8]}")
    sub.on_connect = lambda c, *_: c.subscribe("ccu/order/request", qos=1)
    sub.on_subscribe = lambda *_: subscribed.set()
    sub.on_message = lambda _c, _u, msg: received.append((msg.topic, bytes(msg.payload)))
    sub.connect(dashboard.broker.host, dashboard.broker.port)
    sub.loop_start()
    try:
        assert subscribed.wait(10)
        tab.goto(dashboard.url + "/generator")
        tab.select_option("#generator-template", "order-blue")
        expect(tab.locator("#generator-topic")).to_have_value("ccu/order/request")
        expect(tab.locator("#generator-payload")).to_have_value(
            _contains('"type": "BLUE"'), timeout=TIMEOUT_MS
        )
        tab.click("#generator-send")
        expect(tab.locator("#generator-result")).to_contain_text("sent to ccu/order/request")
        deadline = time.monotonic() + 10
        while not received and time.monotonic() < deadline:
            time.sleep(0.05)
        ((topic, payload),) = received
        body = json.loads(payload)
        assert topic == "ccu/order/request"
        assert (body["type"], body["orderType"]) == ("BLUE", "PRODUCTION")

        tab.get_by_role("link", name="Message Center").click()
        expect(tab.locator("#messages-sent-count")).to_have_text("sent 1")
        tab.select_option("#messages-direction", "sent")
        expect(tab.locator("#messages-matching-count")).to_have_text("matching 1")
        row = tab.locator(".ag-center-cols-container .ag-row").first
        expect(row.locator("[col-id='direction']")).to_have_text("sent")
        expect(row.locator("[col-id='topic']")).to_have_text("ccu/order/request")
    finally:
        sub.loop_stop()
        sub.disconnect()


def test_invalid_json_is_refused_until_raw_is_ticked(dashboard: Dashboard, tab: Page) -> None:
    tab.goto(dashboard.url + "/generator")
    tab.select_option("#generator-template", "free")
    expect(tab.locator("#generator-payload")).to_have_value("{}")  # the preview has settled
    tab.fill("#generator-topic", "test/omf/free")
    tab.fill("#generator-payload", "<b>hello</b>")
    tab.click("#generator-send")
    expect(tab.locator("#generator-result")).to_contain_text("not valid JSON")
    assert dashboard.client.snapshot().sent == 0
    tab.check("#generator-raw")
    tab.click("#generator-send")
    expect(tab.locator("#generator-result")).to_contain_text("sent to test/omf/free")
    tab.get_by_role("link", name="Message Center").click()
    tab.select_option("#messages-direction", "sent")
    tab.locator(".ag-center-cols-container .ag-row [col-id='topic']").first.click()
    # shown as text, never interpreted as HTML
    expect(tab.locator("#messages-detail-payload")).to_have_text("<b>hello</b>")
    assert tab.locator("#messages-detail-payload b").count() == 0
    # clearing empties the history but keeps the counters
    tab.click("#messages-clear")
    expect(tab.locator("#messages-history-count")).to_have_text("history 0 / 10000")
    expect(tab.locator("#messages-sent-count")).to_have_text("sent 1")


def test_replay_banner_follows_the_status_topic(dashboard: Dashboard, tab: Page) -> None:
    tab.goto(dashboard.url)
    expect(tab.locator("#shell-mode")).to_contain_text("LIVE TRAFFIC", timeout=TIMEOUT_MS)
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex[:8]}")
    pub.connect(dashboard.broker.host, dashboard.broker.port)
    pub.loop_start()
    try:
        status = {
            "session": "blue-run",
            "position": 3.5,
            "duration": 60,
            "speed": 10,
            "state": "playing",
            "sent": 40,
            "total": 1065,
        }
        pub.publish("mqtt-replay/status", json.dumps(status), qos=1, retain=True).wait_for_publish()
        expect(tab.locator("#shell-mode")).to_contain_text("REPLAY")
        expect(tab.locator("#shell-replay-text")).to_contain_text("blue-run · 3.5 s / 60.0 s")
        expect(tab.locator("#shell-replay-text")).to_contain_text("10×")
        status["state"] = "finished"
        pub.publish("mqtt-replay/status", json.dumps(status), qos=1, retain=True).wait_for_publish()
        expect(tab.locator("#shell-mode")).to_contain_text("LIVE TRAFFIC")
    finally:
        pub.loop_stop()
        pub.disconnect()


def test_page_stays_responsive_during_a_10k_per_second_burst(
    dashboard: Dashboard, tab: Page
) -> None:
    total, rate = 30_000, 10_000
    tab.goto(dashboard.url)
    expect(tab.locator("#overview-received-count")).to_have_text("0", timeout=TIMEOUT_MS)
    done = threading.Event()

    def burst() -> None:
        pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex[:8]}")
        pub.connect(dashboard.broker.host, dashboard.broker.port)
        pub.loop_start()
        body = json.dumps({"batteryState": {"percentage": 50}, "driving": True})
        start = time.monotonic()
        infos = []
        for i in range(total):
            infos.append(pub.publish(f"fts/v1/ff/B{i % 2}/state", body))
            if i % 500 == 0:  # pace to `rate` messages per second
                time.sleep(max(0.0, start + i / rate - time.monotonic()))
        for info in infos:
            info.wait_for_publish(30)
        pub.loop_stop()
        pub.disconnect()
        done.set()

    thread = threading.Thread(target=burst, daemon=True)
    thread.start()
    try:
        # While the burst runs, page switches still render promptly.
        tab.wait_for_function(
            "Number(document.querySelector('#overview-received-count').textContent) > 0",
            timeout=TIMEOUT_MS,
        )
        t0 = time.monotonic()
        tab.get_by_role("link", name="Message Center").click()
        expect(tab.locator("#messages-received-count")).to_contain_text("received", timeout=5000)
        tab.get_by_role("link", name="Overview").click()
        expect(tab.locator("[data-agv='B0']")).to_be_visible(timeout=5000)
        switch_s = time.monotonic() - t0
        assert switch_s < 8, switch_s
        assert done.wait(60)
        expect(tab.locator("#overview-received-count")).to_have_text(str(total), timeout=TIMEOUT_MS)
    finally:
        thread.join(60)
    assert dashboard.client.received == total


def _contains(text: str) -> Any:
    import re

    return re.compile(re.escape(text))
