"""Browser journeys of the one clock: every time in the zone the user picks, labelled; a
timestamp outlier is named and the window can be clipped to the bulk."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sm_helpers import PLANT

pytestmark = pytest.mark.e2e


def test_one_zone_everywhere_and_utc_one_click_away(
    serve_manager: Callable[..., str], sm_page: Any, tmp_path: Path, generated_dir: Path
) -> None:
    from playwright.sync_api import expect

    directory = tmp_path / "sessions"
    directory.mkdir()
    shutil.copy(generated_dir / PLANT, directory / "renamed_20990101_000000.log")
    base = serve_manager(directory, index_threshold_bytes=50_000_000)
    page = sm_page
    page.goto(base + "/")
    recorded = page.locator('#library-grid .ag-row .ag-cell[col-id="recorded"]')
    # the first message (09:00 UTC) in the session's zone, labelled; not the file name's 2099
    expect(recorded).to_have_text("2026-01-15 10:00:00 CET")
    page.locator("#app-tz").select_option("UTC")
    expect(recorded).to_have_text("2026-01-15 09:00:00 UTC")

    page.goto(base + "/analyse?session=renamed_20990101_000000.log")  # the choice is kept
    expect(page.locator("#app-tz")).to_have_value("UTC")
    expect(page.locator("#analyse-summary")).to_contain_text("from 2026-01-15 09:00:00 UTC")
    expect(page.locator('#analyse-grid .ag-header-cell[col-id="time"]')).to_contain_text(
        "time (UTC)"
    )
    expect(page.locator("#analyse-timeline .g-xtitle")).to_have_text("time (UTC)")
    page.locator('#analyse-grid .ag-row[row-index="0"] .ag-cell[col-id="topic"]').click()
    expect(page.locator("#analyse-insp-header")).to_contain_text("2026-01-15 09:00:00.000 UTC")

    page.locator("#app-tz").select_option("Europe/Berlin")
    expect(page.locator("#analyse-insp-header")).to_contain_text("2026-01-15 10:00:00.000 CET")
    expect(page.locator("#analyse-summary")).to_contain_text("from 2026-01-15 10:00:00 CET")
    expect(page.locator('#analyse-grid .ag-header-cell[col-id="time"]')).to_contain_text(
        "time (Europe/Berlin)"
    )
    expect(
        page.locator('#analyse-grid .ag-row[row-index="0"] .ag-cell[col-id="time"]')
    ).to_have_text("10:00:00.000")
    expect(page.locator("#analyse-timeline .g-xtitle")).to_have_text("time (Europe/Berlin)")
    first_tick = str(page.locator("#analyse-timeline .xtick text").first.text_content())
    assert first_tick.startswith("10:00"), first_tick


def test_a_timestamp_outlier_is_named_and_clipped(
    serve_manager: Callable[..., str], sm_page: Any, tmp_path: Path
) -> None:
    """Three minutes of naive local lines and one UTC-stamped line an hour later."""
    from playwright.sync_api import expect

    directory = tmp_path / "sessions"
    directory.mkdir()
    start = datetime(2026, 4, 9, 8, 22, 0)
    lines = [
        {
            "topic": f"ccu/test/{i % 3}",
            "payload": json.dumps({"i": i}),
            "timestamp": (start + timedelta(seconds=i)).isoformat(timespec="microseconds"),
            "qos": 0,
            "retain": False,
        }
        for i in range(180)
    ]
    late = (start + timedelta(minutes=63) - timedelta(hours=2)).isoformat(timespec="milliseconds")
    lines.append({**lines[-1], "timestamp": late + "Z"})  # UTC: an hour after the rest
    (directory / "outlier.log").write_text("".join(json.dumps(x) + "\n" for x in lines))
    page = sm_page
    page.goto(serve_manager(directory) + "/analyse?session=outlier.log")
    note = page.locator("#analyse-outliers")
    expect(note).to_be_visible()
    expect(note).to_contain_text("1 message 60 min after the others")
    expect(page.locator("#analyse-window-label")).to_contain_text("181 messages selected")
    page.locator("#analyse-clip-bulk").click()
    expect(page.locator("#analyse-window-label")).to_contain_text("180 messages selected")
    expect(page.locator("#analyse-window-label")).to_contain_text("(2:59 min)")
