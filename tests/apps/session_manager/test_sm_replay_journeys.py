"""Browser journeys of the Replay Station against a private Mosquitto: the page shows what is
running after the user leaves and comes back, counts per loop and in total, keeps msg/s while
paused, asks before replacing a running replay, and reports fidelity with units."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sm_helpers import PLANT_L4, PLANT_L4_MESSAGES, PLANT_ZIP, SmBroker

pytestmark = [pytest.mark.e2e, pytest.mark.broker]


@pytest.fixture
def replay_url(
    serve_manager: Callable[..., str], sm_broker: SmBroker, tmp_path: Path, generated_dir: Path
) -> str:
    directory = tmp_path / "sessions"
    directory.mkdir()
    for name in (PLANT_L4, PLANT_ZIP):
        shutil.copy(generated_dir / name, directory / name)
    return serve_manager(directory, broker_url=sm_broker.url)


def test_leaving_the_replay_page_and_coming_back_shows_the_running_settings(
    replay_url: str, sm_page: Any
) -> None:
    from playwright.sync_api import expect

    page = sm_page
    page.goto(f"{replay_url}/replay?session={PLANT_L4}")
    expect(page.locator("#replay-session")).to_contain_text(PLANT_L4)
    page.locator("#replay-speed").select_option("25")
    page.locator("#replay-loop").check()
    page.get_by_label("retained").check()
    page.locator("#replay-play").click()
    expect(page.locator("#replay-state")).to_have_text(re.compile("playing|starting"))
    page.locator("#nav-record").click()
    expect(page).to_have_url(re.compile("/record"))
    page.locator("#nav-replay").click()
    expect(page).to_have_url(re.compile("/replay"))
    expect(page.locator("#replay-speed")).to_have_value("25")
    expect(page.locator("#replay-loop")).to_be_checked()
    expect(page.get_by_label("retained")).to_be_checked()
    expect(page.locator("#replay-session")).to_contain_text(PLANT_L4)
    page.locator("#replay-stop").click()
    expect(page.locator("#replay-state")).to_have_text("stopped")


def test_looped_replay_counts_per_loop_and_in_total(replay_url: str, sm_page: Any) -> None:
    from playwright.sync_api import expect

    page = sm_page
    page.goto(f"{replay_url}/replay?session={PLANT_L4}")
    expect(page.locator("#replay-session")).to_contain_text(PLANT_L4)
    page.locator("#replay-speed").select_option("max")
    page.locator("#replay-loop").check()
    page.locator("#replay-play").click()
    where = page.locator("#replay-loop-progress")
    expect(where).to_have_text(re.compile(r"loop ([3-9]|\d\d+)"))
    page.locator("#replay-pause").click()
    expect(page.locator("#replay-state")).to_have_text("paused")
    match = re.fullmatch(r"loop ([\d,]+) · ([\d,]+) / ([\d,]+)", where.inner_text())
    assert match, where.inner_text()
    loop, index, total = (int(g.replace(",", "")) for g in match.groups())
    assert total == PLANT_L4_MESSAGES and 0 <= index <= total and loop >= 3
    sent_text = page.locator("#replay-sent").inner_text()
    sent = int(re.search(r"sent ([\d,]+) in total", sent_text).group(1).replace(",", ""))  # type: ignore[union-attr]
    assert sent == (loop - 1) * total + index, (sent_text, loop, index)
    assert f"{loop - 1} loops of {total:,} done" in sent_text
    rate = page.locator("#replay-rate").inner_text()
    page.wait_for_timeout(2000)  # paused: the rate while playing must not fall
    expect(page.locator("#replay-rate")).to_have_text(rate)

    # Play on another session asks first; "keep it running" keeps it.
    page.locator("#replay-session").click()
    page.get_by_role("option", name=PLANT_ZIP).click()
    page.locator("#replay-play").click()
    modal = page.locator("#replay-replace-modal")
    expect(modal).to_be_visible()
    expect(modal).to_contain_text(PLANT_L4)
    page.locator("#replay-replace-cancel").click()
    expect(modal).to_be_hidden()
    expect(page.locator("#replay-what")).to_contain_text(PLANT_L4)
    expect(page.locator("#replay-state")).to_have_text("paused")
    page.locator("#replay-play").click()
    page.locator("#replay-replace-confirm").click()
    expect(page.locator("#replay-what")).to_contain_text(PLANT_ZIP)

    # the previous replay's fidelity report: readable, with units, no raw keys or None
    page.locator("#replay-stop").click()
    card = page.locator("#replay-report-card")
    expect(card).to_be_visible()
    text = card.inner_text()
    assert "None" not in text and "_us" not in text and "lateness_p" not in text
    assert re.search(r"p99 [\d,.]+ ms", text) and "msg/s" in text
