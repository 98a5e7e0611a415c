"""Browser journey: the OMF Dashboard's labels and values read cleanly at 1280x800 after a
generated plant session is replayed into a private broker (no ../shared needed)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from apps.omf_dashboard.config import DashboardConfig
from omf_sessions import publish_session
from playwright.sync_api import Page, expect

from mqtt_replay.generate import generate_session

pytestmark = [pytest.mark.e2e, pytest.mark.broker]
TIMEOUT_MS = 20_000


@pytest.fixture
def page_1280(chromium: Any) -> Iterator[Page]:
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    yield page
    context.close()


def clipped(page: Page, selector: str) -> list[str]:
    """Texts of the matching elements whose content is cut off (wider or taller than shown)."""
    return list(
        page.evaluate(
            """(sel) => Array.from(document.querySelectorAll(sel))
                .filter(e => e.scrollWidth > e.clientWidth + 1)
                .map(e => e.innerText)""",
            selector,
        )
    )


def test_overview_and_message_center_read_cleanly(
    private_broker: Any,
    serve_dash: Callable[[Any], str],
    dashboard_factory: Callable[..., Any],
    page_1280: Page,
    tmp_path: Path,
) -> None:
    from apps.omf_dashboard.app import client_of

    app = dashboard_factory(DashboardConfig(broker_url=private_broker.url, poll_interval_ms=300))
    assert client_of(app).wait_connected(10)
    url = serve_dash(app)
    # The first 35 s of the plant: an order is running (a short step bar) and every sensor
    # has reported.
    session = generate_session(tmp_path / "plant.log", messages=800, seed=11, rate=20.0)
    page = page_1280
    page.goto(url)
    sent = publish_session(session, private_broker.host, private_broker.port)
    expect(page.locator("#overview-received-count")).to_have_text(str(sent))

    # sensor names on one line; values as words ("flame detected: no"), not "flameDetected False"
    sensors = page.locator("#overview-sensors")
    dht = sensors.locator("[data-sensor='temperature/dht11-1'] td").first
    expect(dht).to_have_text("temperature/dht11-1")
    lines = dht.evaluate(
        """td => { const r = document.createRange(); r.selectNodeContents(td);
                   return new Set(Array.from(r.getClientRects()).map(b => Math.round(b.top))).size; }"""
    )
    assert lines == 1  # one line, not "temperature/dht11-" and "1"
    flame = sensors.locator("[data-sensor='flame/flame-1']")
    expect(flame).to_contain_text("flame detected: no")
    assert "flameDetected" not in sensors.inner_text() and " False" not in sensors.inner_text()

    # order progress: the "n/m steps" count is shown whole, never cut by a short bar
    orders = page.locator("#overview-orders")
    expect(orders.locator(".step-count").first).to_have_text(re.compile(r"^\d+/\d+ steps$"))
    assert clipped(page, "#overview-orders .progress, #overview-orders .step-count") == []

    # Message Center: the payload column lies inside the grid's visible width
    page.get_by_role("link", name="Message Center").click()
    grid = page.locator("#messages-grid .ag-root-wrapper")
    expect(grid).to_be_visible()
    payload = page.locator("#messages-grid .ag-header-cell[col-id='preview']")
    expect(payload).to_be_visible()
    # (the grid fits its flex columns to the width a moment after it is drawn)
    page.wait_for_function(
        """() => {
            const g = document.querySelector('#messages-grid .ag-root-wrapper');
            const p = document.querySelector("#messages-grid .ag-header-cell[col-id='preview']");
            if (!g || !p) { return false; }
            const a = g.getBoundingClientRect(), b = p.getBoundingClientRect();
            return b.width > 100 && b.right <= a.right + 1;
        }""",
        timeout=TIMEOUT_MS,
    )

    # a topic too long for its column is cut at its start: its end (serial, last level) is
    # what shows, and the text still reads left to right
    cut = page.evaluate(
        """() => Array.from(document.querySelectorAll("#messages-grid .ag-cell[col-id='topic']"))
            .map(c => c.querySelector('.ag-cell-value') || c)
            .filter(c => c.scrollWidth > c.clientWidth + 1)
            .map(c => {
                const t = document.createTreeWalker(c, NodeFilter.SHOW_TEXT).nextNode();
                const box = c.getBoundingClientRect();
                const at = (i) => { const r = document.createRange();
                                    r.setStart(t, i); r.setEnd(t, i + 1);
                                    return r.getBoundingClientRect(); };
                const s = t.textContent, first = at(1), last = at(s.length - 2);
                return {text: s, first_shown: first.left >= box.left - 1,
                        last_shown: last.right <= box.right + 1,
                        in_order: first.left < last.left};
            })"""
    )
    assert cut, "no topic was long enough to be cut at 1280x800"
    for cell in cut:
        assert cell["last_shown"] and not cell["first_shown"], cell
        assert cell["in_order"], cell
