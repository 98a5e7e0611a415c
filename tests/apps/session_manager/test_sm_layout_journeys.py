"""Layout journey: at 1280x800 and 1440x900 no element of the main views reaches past the
window's right edge (nothing clipped or pushed off-screen), and long topics elide in the
middle with the full topic on hover."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sm_helpers import PLANT, PLANT_L4

pytestmark = pytest.mark.e2e

# Elements past the right edge of the window, as "tag#id.class → right edge" (a grid counts
# by its outer box, and by whether its columns fit its width; the hidden off-screen analysis
# area before a session is open is left out).
OVERFLOW_JS = """() => {
    const limit = document.documentElement.clientWidth + 1;
    const out = [];
    for (const el of document.querySelectorAll('#_pages_content *')) {
        const grid = el.closest('.ag-root-wrapper');
        if ((grid && grid !== el) || el.closest('[style*="-200vw"]')) { continue; }
        const style = getComputedStyle(el);
        if (style.visibility === 'hidden' || style.display === 'none') { continue; }
        const box = el.getBoundingClientRect();
        if (box.width > 0 && box.right > limit) {
            out.push(`${el.tagName.toLowerCase()}#${el.id}.${el.className} → ${Math.round(box.right)}`);
        }
    }
    // every grid's columns fit its width (no column pushed off to the right)
    for (const vp of document.querySelectorAll('#_pages_content .ag-center-cols-viewport')) {
        const grid = vp.closest('.ag-root-wrapper');
        if (!grid || grid.closest('[style*="-200vw"]') || !grid.offsetParent) { continue; }
        if (vp.scrollWidth > vp.clientWidth + 1) {
            out.push(`grid ${grid.parentElement.id || '?'} scrolls: ${vp.scrollWidth} > ${vp.clientWidth}`);
        }
    }
    const doc = document.documentElement;
    if (doc.scrollWidth > doc.clientWidth + 1) { out.push(`page scrolls: ${doc.scrollWidth}`); }
    return out.slice(0, 10);
}"""


def assert_no_overflow(page: Any, where: str) -> None:
    """Waits (grids re-fit their columns after a resize) until nothing overflows; else fails
    listing what does."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    with contextlib.suppress(PlaywrightTimeout):
        page.wait_for_function(f"() => ({OVERFLOW_JS})().length === 0", timeout=10_000)
    assert page.evaluate(OVERFLOW_JS) == [], where


def _serve_two_sessions(
    serve_manager: Callable[..., str], tmp_path: Path, generated_dir: Path
) -> str:
    """A Session Manager on the generated plant session and its header-less twin (full mode)."""
    directory = tmp_path / "sessions"
    directory.mkdir()
    for name in (PLANT, PLANT_L4):
        shutil.copy(generated_dir / name, directory / name)
    return serve_manager(directory, index_threshold_bytes=50_000_000, inline_load_bytes=50_000_000)


@pytest.mark.parametrize("size", [(1280, 800), (1440, 900)])
def test_main_views_do_not_overflow(
    serve_manager: Callable[..., str],
    sm_page: Any,
    tmp_path: Path,
    generated_dir: Path,
    size: tuple[int, int],
) -> None:
    from playwright.sync_api import expect

    base = _serve_two_sessions(serve_manager, tmp_path, generated_dir)
    page = sm_page
    page.set_viewport_size({"width": size[0], "height": size[1]})
    page.goto(base + "/")
    expect(page.locator("#library-grid .ag-row")).to_have_count(2)
    assert_no_overflow(page, "library")

    page.goto(f"{base}/analyse?session={PLANT}")
    expect(page.locator('#analyse-grid .ag-row[row-index="0"]')).to_be_visible()
    assert_no_overflow(page, "analyse")
    preview = page.locator('#analyse-grid .ag-header-cell[col-id="preview"]')
    assert preview.bounding_box()["x"] + 60 < size[0]  # type: ignore[index]
    # a long topic keeps its start and its distinguishing end, the full text on hover
    expect(page.locator("#analyse-hidden-head")).to_contain_text("Pre-filter hides")
    page.locator("#analyse-prefilter").click()
    expect(page.locator("#analyse-hidden-head")).to_contain_text("Pre-filter is off")
    page.locator("#analyse-text").fill("NodeRed/SVR4H76530/state")
    expect(page.locator("#analyse-window-label")).to_contain_text(" 20 messages selected")
    cell = page.locator('#analyse-grid .ag-row[row-index="0"] .ag-cell[col-id="topic"]')
    expect(cell).to_have_text("module/v1/f…NodeRed/SVR4H76530/state")
    cell.hover()
    expect(page.locator(".ag-tooltip")).to_have_text("module/v1/ff/NodeRed/SVR4H76530/state")
    page.mouse.move(0, 0)
    page.get_by_role("tab", name="Statistics").click()
    expect(page.locator("#analyse-stats .ag-row").first).to_be_visible()
    assert_no_overflow(page, "statistics")

    page.goto(f"{base}/replay?session={PLANT_L4}")
    expect(page.locator("#replay-session")).to_contain_text(PLANT_L4)
    assert_no_overflow(page, "replay")
    page.goto(f"{base}/record")
    expect(page.locator("#record-start")).to_be_visible()
    assert_no_overflow(page, "record")


def test_the_session_opened_on_analyse_is_the_one_replay_offers(
    serve_manager: Callable[..., str], sm_page: Any, tmp_path: Path, generated_dir: Path
) -> None:
    """Open the second of two sessions on Analyse, then go to Replay and back through the
    navigation bar: both pages stay on that session (the app remembers the session the user
    works on), and no page logs an error (``sm_page`` fails the test on console errors: the
    remembering used to be an output outside the page, which Dash tried at every page load)."""
    from playwright.sync_api import expect

    base = _serve_two_sessions(serve_manager, tmp_path, generated_dir)
    page = sm_page
    page.goto(f"{base}/analyse?session={PLANT_L4}")
    expect(page.locator("#analyse-summary")).to_contain_text("messages")
    page.locator("#nav-replay").click()
    expect(page.locator("#replay-session")).to_contain_text(PLANT_L4)
    page.locator("#nav-analyse").click()
    expect(page.locator("#analyse-session-select")).to_contain_text(PLANT_L4)
    expect(page.locator('#analyse-grid .ag-row[row-index="0"]')).to_be_visible()
