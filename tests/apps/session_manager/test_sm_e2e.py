"""Browser tests: the Session Manager in headless Chromium against a private Mosquitto, on
sessions the project generates (no ../shared needed)."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from sm_helpers import (
    PLANT,
    PLANT_L4,
    PLANT_L4_MESSAGES,
    PLANT_MESSAGES,
    SmBroker,
    reference_families,
)

from mqtt_replay import open_session

pytestmark = pytest.mark.e2e
TIMEOUT = 20_000  # ms: the machine has 2 cores shared with other work


@pytest.fixture
def app_url(
    serve_manager: Callable[..., str], sm_broker: SmBroker, tmp_path: Path, generated_dir: Path
) -> tuple[str, Path]:
    directory = tmp_path / "sessions"
    directory.mkdir()
    for name in (PLANT, PLANT_L4):
        shutil.copy(generated_dir / name, directory / name)
    evil = {
        "topic": "test/evil",
        "timestamp": "2026-01-01T00:00:00.000Z",
        "qos": 0,
        "retain": False,
        "payload": '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>',
    }
    (directory / "evil.log").write_text(json.dumps(evil) + "\n")
    return serve_manager(directory, broker_url=sm_broker.url), directory


def test_library_to_analyse_timeline_tree_prefilter_window_payload(
    app_url: tuple[str, Path], sm_page: Any
) -> None:
    from playwright.sync_api import expect

    base, directory = app_url
    noisy = sum(reference_families(directory / PLANT).values())
    shown = PLANT_MESSAGES - noisy
    page = sm_page
    page.goto(base + "/")
    cell = page.locator("#library-grid .ag-cell", has_text=PLANT)
    expect(cell).to_be_visible()
    expect(page.locator("#library-grid .ag-row", has_text=PLANT_L4)).to_contain_text(
        f"{PLANT_L4_MESSAGES:,}"
    )
    cell.click()
    expect(page.locator("#library-selected-name")).to_have_text(PLANT)
    page.locator("#library-open-analyse").click()
    expect(page).to_have_url(re.compile(r"/analyse\?session="))

    expect(page.locator("#analyse-summary")).to_contain_text(f"{PLANT_MESSAGES:,} messages")
    expect(page.locator("#analyse-summary")).to_contain_text("index mode")
    expect(page.locator("#analyse-timeline .main-svg").first).to_be_visible()
    expect(page.locator("#analyse-timeline")).to_contain_text("individual messages")
    tree = page.locator("#analyse-tree")
    for category in ("CCU", "FTS", "MODULE", "TXT"):
        expect(tree).to_contain_text(category)
    hidden = page.locator("#analyse-hidden-head")
    expect(hidden).to_contain_text(f"hides {noisy:,} messages")
    expect(page.locator("#analyse-window-label")).to_contain_text(f"{shown:,} messages selected")

    page.locator("#analyse-prefilter").click()  # pre-filter off: everything shows
    expect(hidden).to_contain_text("Pre-filter is off")
    expect(page.locator("#analyse-window-label")).to_contain_text(
        f"{PLANT_MESSAGES:,} messages selected"
    )
    page.locator("#analyse-prefilter").click()
    expect(page.locator("#analyse-window-label")).to_contain_text(f"{shown:,} messages selected")

    page.get_by_role("button", name="First 1 min").click()
    expect(page.locator("#analyse-window-label")).to_contain_text("t+0.0 s … t+60.0 s")
    label = page.locator("#analyse-window-label").inner_text()
    selected = int(re.search(r"([\d,]+) messages selected", label).group(1).replace(",", ""))  # type: ignore[union-attr]
    assert 0 < selected < shown

    first = page.locator('#analyse-grid .ag-row[row-index="0"] .ag-cell[col-id="topic"]')
    expect(first).not_to_have_text("")
    topic = first.inner_text()
    first.click()
    expect(page.locator("#analyse-insp-topic")).to_have_text(topic)
    page.get_by_role("tab", name="Raw").click()
    expect(page.locator("#analyse-raw-pre")).not_to_be_empty()


def test_payload_html_is_shown_as_text(app_url: tuple[str, Path], sm_page: Any) -> None:
    from playwright.sync_api import expect

    base, _ = app_url
    page = sm_page
    page.goto(base + "/analyse?session=evil.log")
    page.locator('#analyse-grid .ag-row[row-index="0"] .ag-cell[col-id="topic"]').click()
    page.get_by_role("tab", name="Raw").click()
    expect(page.locator("#analyse-raw-pre")).to_contain_text("<script>window.__xss=2</script>")
    assert page.evaluate("window.__xss") is None
    assert page.locator("#analyse-inspector img").count() == 0


@pytest.mark.broker
def test_replay_reaches_100_percent_with_every_message_sent(
    app_url: tuple[str, Path], sm_page: Any
) -> None:
    from playwright.sync_api import expect

    base, _ = app_url
    page = sm_page
    page.goto(f"{base}/replay?session={PLANT_L4}")
    expect(page.locator("#replay-session")).to_contain_text(PLANT_L4)
    page.locator("#replay-speed").select_option("max")
    page.locator("#replay-play").click()
    expect(page.locator("#replay-progress")).to_contain_text("100 %")
    expect(page.locator("#replay-all-sent")).to_have_text("sent = total")
    expect(page.locator("#replay-sent")).to_have_text(
        f"sent {PLANT_L4_MESSAGES:,} of {PLANT_L4_MESSAGES:,}"
    )
    expect(page.locator("#replay-report-card")).to_contain_text("every message sent")
    page.reload()  # the replay belongs to the app: the page shows it again
    expect(page.locator("#replay-state")).to_have_text("finished")
    expect(page.locator("#replay-report-card")).to_be_visible()


@pytest.mark.broker
def test_record_a_few_messages_and_find_them_in_the_library(
    app_url: tuple[str, Path], sm_page: Any, sm_broker: SmBroker
) -> None:
    from playwright.sync_api import expect

    base, directory = app_url
    page = sm_page
    page.goto(base + "/record")
    if page.locator("#record-unavailable .alert").count():
        pytest.skip("mqtt_replay.recorder is not available")
    page.locator("#record-name").fill("e2e-rec")
    page.locator("#record-topics").fill("e2e/#")
    page.locator("#record-start").click()
    expect(page.locator("#record-state")).to_have_text("recording")
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="sm-e2e-pub")
    client.connect(sm_broker.host, sm_broker.port)
    client.loop_start()
    try:
        # The recorder subscribes asynchronously: probe until it hears us, then send for real.
        for _ in range(100):
            client.publish("e2e/probe", "{}", qos=1).wait_for_publish(5)
            if page.locator("#record-messages-count").inner_text() != "0":
                break
            page.wait_for_timeout(200)
        for i in range(3):
            client.publish(f"e2e/{i}", json.dumps({"i": i}), qos=1).wait_for_publish(5)
        page.wait_for_timeout(1500)  # one flush interval
    finally:
        client.loop_stop()
        client.disconnect()
    page.locator("#record-stop").click()
    expect(page.locator("#record-state")).to_have_text("stopped")
    expect(page.locator("#record-saved")).to_contain_text("e2e-rec_")
    page.locator("#nav-library").click()
    row = page.locator("#library-grid .ag-row", has_text="e2e-rec_")
    expect(row).to_be_visible()
    recorded = next(p for p in directory.iterdir() if p.name.startswith("e2e-rec_"))
    topics = open_session(recorded).table.column("topic").cast("string").to_pylist()
    assert [t for t in topics if t != "e2e/probe"] == ["e2e/0", "e2e/1", "e2e/2"]
    expect(row).to_contain_text(str(len(topics)))
