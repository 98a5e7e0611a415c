"""Browser journey: a dashboard configured for America/New_York shows every receive time in
that zone and labelled with it — module and AGV cards, sensors, camera, Message Center grid
and payload detail — on a generated plant session replayed into a private broker."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from apps.omf_dashboard.app import client_of
from apps.omf_dashboard.config import DashboardConfig
from omf_sessions import publish_session
from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.e2e, pytest.mark.broker]
TIMEOUT_MS = 20_000
NY = "America/New_York"


def in_ny(epoch: float, pattern: str = "%H:%M:%S %Z") -> str:
    """The expected text, computed without the app's helpers (``{ms}``: milliseconds)."""
    us = round(epoch * 1_000_000)
    moment = datetime.fromtimestamp(us // 1_000_000, ZoneInfo(NY)) + timedelta(
        microseconds=us % 1_000_000
    )
    return moment.strftime(pattern).replace("{ms}", f"{moment.microsecond // 1000:03d}")


@pytest.fixture
def page_1280(chromium: Any) -> Iterator[Page]:
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert errors == [], errors


def test_every_time_is_in_the_configured_zone_and_labelled(
    private_broker: Any,
    serve_dash: Callable[[Any], str],
    dashboard_factory: Callable[..., Any],
    page_1280: Page,
    plant_session: Path,
) -> None:
    app = dashboard_factory(
        DashboardConfig(broker_url=private_broker.url, poll_interval_ms=300, tz=NY)
    )
    client = client_of(app)
    assert client.wait_connected(10)
    page = page_1280
    page.goto(serve_dash(app))
    sent = publish_session(plant_session, private_broker.host, private_broker.port)
    expect(page.locator("#overview-received-count")).to_have_text(str(sent))
    state = client.snapshot().state  # every message is in: these are the final receive times

    # module tiles and the AGV card: "updated 12:03:04 EST", New York's hour
    for serial, module in state.modules.items():
        assert module.updated_at is not None
        updated = page.locator(f".module-tile[data-serial='{serial}'] dd").last
        expect(updated).to_have_text(in_ny(module.updated_at))
    ((serial, agv),) = state.agvs.items()
    assert agv.updated_at is not None
    expect(page.locator(f"[data-agv='{serial}'] dd").last).to_have_text(in_ny(agv.updated_at))
    # sensors and camera captions
    assert state.environment is not None and state.environment.updated_at is not None
    expect(page.locator("#overview-sensors")).to_contain_text(
        f"TXT readings received {in_ny(state.environment.updated_at)}"
    )
    assert state.camera is not None and (state.camera.reported_at or "").endswith("Z")
    frame_clock = datetime.fromisoformat(state.camera.reported_at or "").timestamp()
    expect(page.locator("#overview-camera")).to_contain_text(
        f"frame {in_ny(frame_clock, '%Y-%m-%d %H:%M:%S %Z')}"
        f" · received {in_ny(state.camera.updated_at)}"
    )

    # Message Center: the time column names the zone; each row's time is New York's
    page.get_by_role("link", name="Message Center").click()
    header = page.locator(".ag-header-cell[col-id='time'] .ag-header-cell-text")
    expect(header).to_have_text(re.compile(r"^time \(America/\u200b?New_York\)$"))
    assert header.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), "header clipped"
    row = page.locator(".ag-center-cols-container .ag-row").first
    expect(row).to_be_visible()
    seq = int(row.get_attribute("row-id") or "")
    record = client.find_message(seq)
    assert record is not None
    cell = page.locator(f".ag-row[row-id='{seq}'] [col-id='time']").first
    expect(cell).to_have_text(in_ny(record.received_at, "%H:%M:%S.{ms}"))
    assert cell.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), "time cell clipped"
    cell.click()
    expect(page.locator("#messages-detail")).to_contain_text(
        f"received · {in_ny(record.received_at, '%H:%M:%S.{ms} %Z')} · QoS"
    )
