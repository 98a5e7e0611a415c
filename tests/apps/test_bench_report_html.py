"""The bench's HTML report opens offline in headless Chromium and draws its charts."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import Broker

from mqtt_replay.bench import run_bench
from mqtt_replay.generate import generate_session

pytestmark = [pytest.mark.broker, pytest.mark.e2e]


def test_report_opens_without_errors_and_shows_its_charts(
    private_broker: Broker, tmp_path: Path, chromium: Any
) -> None:
    session = generate_session(tmp_path / "plant.log", messages=1500, rate=100, seed=5)
    result = run_bench(session, private_broker.url, plants=3, speed=10, qos=1, out=tmp_path)
    assert result.html_path is not None
    html = result.html_path.read_text()
    assert not re.search(r"<script[^>]*\bsrc=", html)  # plotly.js is inline: no CDN
    context = chromium.new_context(viewport={"width": 1440, "height": 900}, offline=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
    page.goto(result.html_path.as_uri())
    page.wait_for_function(
        "document.querySelectorAll('.js-plotly-plot .main-svg').length >= 3", timeout=20_000
    )
    assert page.locator(".js-plotly-plot").count() == 3
    # every chart drew its data: lines or bars inside the plot area
    assert page.locator("#bench-latency .scatterlayer .trace").count() >= 2
    assert page.locator("#bench-timeline .scatterlayer .trace").count() == 2
    assert page.locator("#bench-loss .barlayer .trace").count() == 2
    summary = page.locator("#bench-summary").inner_text()
    assert "4,500" in summary  # 3 plants x 1,500 expected and received
    context.close()
    assert not errors, errors
