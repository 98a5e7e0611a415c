"""Browser journey (issue 11, item 10): record a replay through the Record page and stop it
while messages still arrive; the page's count after Stop is the file's, the header's and the
Library's (it once said 2,942 where they said 2,943), and while recording it says it is live."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sm_helpers import SmBroker

from mqtt_replay import open_session
from mqtt_replay.generate import generate_session
from mqtt_replay.replay import Replayer

pytestmark = [pytest.mark.e2e, pytest.mark.broker]
MESSAGES = 2_943


def shown_count(page: Any) -> int:
    return int(page.locator("#record-messages-count").inner_text().replace(",", ""))


@pytest.mark.parametrize("stop", ["mid-replay", "after-replay"])
def test_after_stop_the_page_shows_the_files_count(
    stop: str,
    serve_manager: Callable[..., str],
    private_broker: Any,
    sm_page: Any,
    tmp_path: Path,
) -> None:
    directory = tmp_path / "sessions"
    directory.mkdir()
    source = Path(
        generate_session(tmp_path / "plant_20260115_100000.log", messages=MESSAGES, seed=3)
    )
    page = sm_page
    failed: list[str] = []  # callbacks the server failed (e.g. a poll during the stop)
    page.on("response", lambda r: failed.append(r.url) if r.status >= 500 else None)
    page.goto(serve_manager(directory, broker_url=private_broker.url) + "/record")
    if page.locator("#record-unavailable .alert").count():
        pytest.skip("mqtt_replay.recorder is not available")
    page.locator("#record-name").fill("rec-count")
    page.locator("#record-start").click()
    expect(page.locator("#record-state")).to_have_text("recording")

    # the session's ~2.5 minutes at 40x: a few seconds of traffic, as a replay sends it
    with Replayer(source, private_broker.url, speed=40.0, qos=1) as replay:
        expect(page.locator("#record-messages-kind")).to_have_text(" · live, still counting")
        page.wait_for_function(
            "() => Number(document.querySelector('#record-messages-count')"
            "?.innerText.replace(/,/g, '')) >= 300"
        )
        if stop == "after-replay":  # the user's case: the whole session, then Stop
            assert replay.wait(60) and replay.stats()["sent"] == MESSAGES
        page.locator("#record-stop").click()
        expect(page.locator("#record-state")).to_have_text("stopped")
        if stop == "mid-replay":
            assert not replay.wait(0)  # messages were still arriving at the stop
    expect(page.locator("#record-messages-kind")).to_have_text(" · final, as in the file")
    shown = shown_count(page)

    (recorded,) = directory.glob("rec-count_*.log")
    lines = recorded.read_text(encoding="utf-8").splitlines()
    header = json.loads(lines[0])
    message_lines = [line for line in lines[1:] if line.startswith('{"topic"')]
    assert len(message_lines) == len(lines) - 1  # header and messages, nothing else
    assert shown == header["messages"] == len(message_lines) == len(open_session(recorded))
    if stop == "mid-replay":
        assert 300 <= shown < MESSAGES
    else:
        assert shown == MESSAGES  # a fresh broker: no retained dump, only the replay

    page.wait_for_timeout(1_000)  # later polls keep the final count
    assert shown_count(page) == shown
    page.locator("#nav-library").click()
    row = page.locator("#library-grid .ag-row", has_text="rec-count_")
    expect(row.locator("[col-id='messages']")).to_have_text(f"{shown:,}")
    assert failed == []


def test_polls_during_the_stop_get_the_live_count(tmp_path: Path, sm_broker: SmBroker) -> None:
    """The page polls while Stop runs (the recorder takes a few hundred ms to stop): every
    poll is answered ("stopping" with the last live count), none fails, and the stop itself
    is never refused because a poll was asking at that moment."""
    import threading

    from apps.session_manager.record_station import RecorderStation, request_from_form

    station = RecorderStation(tmp_path)
    factory, presets, reason = station.api()
    if factory is None:
        pytest.skip(reason or "no recorder")
    for _ in range(3):
        station.start(request_from_form({"broker": sm_broker.url, "name": "rec-poll"}, presets))
        live = station.snapshot()
        assert live["recording"] and not live.get("stopping")
        stopper = threading.Thread(target=station.stop)
        stopper.start()
        seen: set[str] = set()
        while stopper.is_alive():
            snap = station.snapshot()  # never "Already mutably borrowed"
            seen.add(
                "stopping" if snap.get("stopping") else "recording" if snap["recording"] else ""
            )
        stopper.join()
        final = station.snapshot()
        assert not final["recording"] and final["status"]["state"] == "stopped"
        assert "stopping" in seen
