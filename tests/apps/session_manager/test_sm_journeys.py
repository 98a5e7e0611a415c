"""Browser journeys of the Analyse page: one selected message linked across table, timeline
and inspector (sort then click, filter then click, a timeline dot, keyboard stepping).

Each journey does what a user does in headless Chromium on a generated session and checks the
inspector against the session read independently (``mqtt_replay.open_session``).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from apps.session_manager.analysis import Selection, build_view, selected_rows
from sm_helpers import PLANT, PLANT_L4

from mqtt_replay import open_session

pytestmark = pytest.mark.e2e


@pytest.fixture
def analyse(
    serve_manager: Callable[..., str], sm_page: Any, tmp_path: Path, generated_dir: Path
) -> Any:
    """The Analyse page of the generated L4 session, loaded (1,500 messages, full mode)."""
    from playwright.sync_api import expect

    directory = tmp_path / "sessions"
    directory.mkdir()
    shutil.copy(generated_dir / PLANT_L4, directory / PLANT_L4)
    base = serve_manager(directory)
    sm_page.goto(f"{base}/analyse?session={PLANT_L4}")
    expect(sm_page.locator('#analyse-grid .ag-row[row-index="0"]')).to_be_visible()
    return sm_page


def inspected_row(page: Any) -> int:
    """The message number the inspector shows (waits for one)."""
    from playwright.sync_api import expect

    header = page.locator("#analyse-insp-header")
    expect(header).to_contain_text("#")
    match = re.search(r"message\s+#(\d+)", header.inner_text())
    assert match, header.inner_text()
    return int(match.group(1))


def expect_inspector(page: Any, row: int) -> None:
    from playwright.sync_api import expect

    expect(page.locator("#analyse-insp-header")).to_contain_text(re.compile(rf"#{row}(?!\d)"))


def cell(page: Any, index: int, col: str = "topic") -> Any:
    return page.locator(f'#analyse-grid .ag-row[row-index="{index}"] .ag-cell[col-id="{col}"]')


def shown_row(page: Any, index: int) -> int:
    """The message number in the table's ``index``-th row as the user sees it."""
    from playwright.sync_api import expect

    number = cell(page, index, "row")
    expect(number).not_to_have_text("")
    return int(number.inner_text().replace(",", ""))


def assert_row_in_grid_view(row: Any) -> None:
    """The row lies inside the grid's scrolled body (the grid scrolled to it)."""
    body = row.page.locator("#analyse-grid .ag-body-viewport").bounding_box()
    box = row.bounding_box()
    assert body and box, (body, box)
    assert body["y"] - 1 <= box["y"] and box["y"] + box["height"] <= body["y"] + body["height"] + 1


def test_sort_then_click_opens_the_clicked_row(analyse: Any) -> None:
    from playwright.sync_api import expect

    page = analyse
    cell(page, 5).click()
    expect_inspector(page, shown_row(page, 5))
    header = page.locator('#analyse-grid .ag-header-cell[col-id="row"]')
    header.click()  # ascending
    header.click()  # descending: the biggest numbers first
    expect(page.locator('#analyse-grid .ag-header-cell[col-id="row"]')).to_have_attribute(
        "aria-sort", "descending"
    )
    page.wait_for_timeout(300)
    first = shown_row(page, 0)
    target = shown_row(page, 7)
    assert target < first
    cell(page, 7).click()
    expect_inspector(page, target)
    # exactly one row looks selected: the clicked one
    selected = page.locator("#analyse-grid .ag-row-selected")
    expect(selected).to_have_count(1)
    expect(selected).to_have_attribute("row-id", str(target))


def test_filter_then_click_opens_the_clicked_row(analyse: Any) -> None:
    from playwright.sync_api import expect

    page = analyse
    cell(page, 1).click()
    before = inspected_row(page)
    page.locator('#analyse-grid .ag-header-cell[col-id="topic"] .ag-header-cell-filter-button')
    page.locator('#analyse-grid .ag-header-cell[col-id="topic"]').hover()
    page.locator(
        '#analyse-grid .ag-header-cell[col-id="topic"] .ag-header-cell-filter-button'
    ).click()
    page.locator(".ag-filter input[type=text], .ag-filter-body input").first.fill("5iO4/state")
    page.keyboard.press("Escape")
    expect(cell(page, 0)).to_have_text("fts/v1/ff/5iO4/state")
    expect(cell(page, 4)).to_have_text("fts/v1/ff/5iO4/state")
    target = shown_row(page, 4)
    assert target != before
    cell(page, 4).click()
    expect_inspector(page, target)
    expect(page.locator("#analyse-insp-topic")).to_have_text("fts/v1/ff/5iO4/state")


# The dot of a lane with few messages (inside the shown time range), where it is on the screen.
RARE_DOT_JS = """() => {
    const gd = document.querySelector('#analyse-timeline .js-plotly-plot');
    const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
    const [lo, hi] = xa.range.map((v) => xa.r2l(v));
    const counts = {};
    const traces = gd._fullData.filter(t => Array.isArray(t.customdata));
    traces.forEach(t => Array.from(t.y).forEach(y => {
        counts[y] = (counts[y] || 0) + 1; }));
    let best = null;
    traces.forEach(t => {
        for (let i = 0; i < t.y.length; i++) {
            const x = xa.d2l(t.x[i]);
            if (x < lo + (hi - lo) * 0.05 || x > hi - (hi - lo) * 0.05) continue;
            if (!best || counts[t.y[i]] < counts[best.lane]) {
                best = {lane: t.y[i], x: t.x[i], row: t.customdata[i][0]};
            }
        }
    });
    const box = gd.getBoundingClientRect();
    return {row: best.row, lane: best.lane,
            px: box.left + xa._offset + xa.l2p(xa.d2l(best.x)),
            py: box.top + ya._offset + ya.d2p(best.lane)};
}"""


def rare_dot(page: Any) -> dict[str, Any]:
    found: dict[str, Any] = page.evaluate(RARE_DOT_JS)
    return found


def x_range(page: Any) -> list[float]:
    """The timeline's shown time range (linear axis values, ms)."""
    shown: list[float] = page.evaluate(
        """() => { const xa = document.querySelector('#analyse-timeline .js-plotly-plot')
                ._fullLayout.xaxis; return xa.range.map((v) => xa.r2l(v)); }"""
    )
    return shown


def test_click_a_timeline_dot_opens_that_message(analyse: Any, generated_dir: Path) -> None:
    from playwright.sync_api import expect

    page = analyse
    expect(page.locator("#analyse-timeline")).to_contain_text("individual messages")
    dot = rare_dot(page)
    page.mouse.click(dot["px"], dot["py"])
    expect_inspector(page, int(dot["row"]))
    expect(page.locator("#analyse-insp-topic")).to_have_text(dot["lane"])
    # linked: the timeline marks it and the table shows its row selected
    expect(page.locator("#analyse-timeline")).to_be_visible()
    marked = page.evaluate(
        """() => document.querySelector('#analyse-timeline .js-plotly-plot')._fullData
                .filter(t => t.name === 'selected').map(t => t.y[0])"""
    )
    assert marked == [dot["lane"]]
    selected = page.locator("#analyse-grid .ag-row-selected")
    expect(selected).to_have_attribute("row-id", str(dot["row"]))
    assert_row_in_grid_view(selected)
    session = open_session(generated_dir / PLANT_L4)
    assert session.table.column("topic").cast("string")[int(dot["row"])].as_py() == dot["lane"]


def test_double_click_on_a_dot_zooms_out_and_opens_nothing(analyse: Any) -> None:
    """A double-click zooms the timeline out; the dot under the cursor is not opened (its
    first press used to open it: in heatmap mode every double-click changed the inspector)."""
    from playwright.sync_api import expect

    page = analyse
    expect(page.locator("#analyse-timeline")).to_contain_text("individual messages")
    cell(page, 3).click()
    opened = inspected_row(page)
    full = x_range(page)
    page.locator("#analyse-timeline").scroll_into_view_if_needed()
    box = page.locator("#analyse-timeline .nsewdrag").first.bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.25, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, y + 2, steps=4)
    page.mouse.move(box["x"] + box["width"] * 0.75, y + 4, steps=4)
    page.mouse.up()
    page.wait_for_function(
        "([lo, hi]) => { const xa = document.querySelector('#analyse-timeline "
        ".js-plotly-plot')._fullLayout.xaxis; const r = xa.range.map((v) => xa.r2l(v));"
        " return r[1] - r[0] < (hi - lo) * 0.7; }",
        arg=full,
    )
    page.wait_for_timeout(800)  # the zoomed figure drawn by the server
    page.locator("#analyse-timeline").scroll_into_view_if_needed()
    dot = rare_dot(page)
    assert int(dot["row"]) != opened
    page.mouse.dblclick(dot["px"], dot["py"])
    page.wait_for_function(
        "([lo, hi]) => { const xa = document.querySelector('#analyse-timeline "
        ".js-plotly-plot')._fullLayout.xaxis; const r = xa.range.map((v) => xa.r2l(v));"
        " return r[1] - r[0] > (hi - lo) * 0.95; }",
        arg=full,
    )
    page.wait_for_timeout(1000)  # longer than the double-click delay and a round trip
    expect_inspector(page, opened)
    expect(page.locator("#analyse-grid .ag-row-selected")).to_have_attribute("row-id", str(opened))


def test_keyboard_steps_through_the_selection_and_the_topic(
    analyse: Any, generated_dir: Path
) -> None:
    from playwright.sync_api import expect

    page = analyse
    view = build_view(open_session(generated_dir / PLANT_L4))
    rows = selected_rows(view, Selection())  # pre-filter on, as the page starts
    codes = view.codes
    cell(page, 10).click()
    start = inspected_row(page)
    i = int(np.searchsorted(rows, start))
    page.keyboard.press("j")
    expect_inspector(page, int(rows[i + 1]))
    page.keyboard.press("j")
    expect_inspector(page, int(rows[i + 2]))
    page.keyboard.press("k")
    expect_inspector(page, int(rows[i + 1]))
    current = int(rows[i + 1])
    same = rows[codes[rows] == codes[current]]
    later = same[same > current]
    page.keyboard.press("J")
    expect_inspector(page, int(later[0]))
    page.keyboard.press("K")
    expect_inspector(page, current)
    # the buttons do the same
    page.locator("#analyse-step-next").click()
    expect_inspector(page, int(rows[i + 2]))
    selected = page.locator("#analyse-grid .ag-row-selected")
    expect(selected).to_have_attribute("row-id", str(int(rows[i + 2])))
    assert_row_in_grid_view(selected)


def test_rows_appear_after_a_background_load_and_a_filter(
    serve_manager: Callable[..., str], sm_page: Any, tmp_path: Path, generated_dir: Path
) -> None:
    """A big session (here: above the 2 MB inline limit) loads in the background while the
    table already asks for rows; after the load and after filters the rows hold messages."""
    from playwright.sync_api import expect

    directory = tmp_path / "sessions"
    directory.mkdir()
    shutil.copy(generated_dir / PLANT, directory / PLANT)  # a new path: no cached index
    page = sm_page
    page.goto(f"{serve_manager(directory)}/analyse?session={PLANT}")
    expect(cell(page, 0, "row")).to_have_text("0")
    expect(page.locator('#analyse-grid .ag-row[row-id="0"]')).to_have_count(1)
    page.locator("#analyse-text").fill("no-such-text-anywhere")
    expect(page.locator("#analyse-window-label")).to_contain_text(" 0 messages selected")
    page.locator("#analyse-text").fill("")
    expect(cell(page, 0, "topic")).to_have_text("ccu/state/version-mismatch")


def test_topic_counts_follow_the_window_and_the_inspector_tree_is_text(
    analyse: Any, generated_dir: Path
) -> None:
    """The tree's per-topic counts (patched in the browser from data, not re-sent as
    components) follow the time window and the pre-filter switch; a message's JSON tree is
    drawn with its keys as text."""
    from collections import Counter

    from playwright.sync_api import expect

    page = analyse
    session = open_session(generated_dir / PLANT_L4)
    view = build_view(session)
    topics = [view.topic_of(r) for r in range(len(view))]
    topic, total = Counter(topics).most_common(1)[0]
    first_minute = sum(
        1 for r, t in enumerate(topics) if t == topic and view.ts[r] <= view.start_us + 60_000_000
    )
    assert 0 < first_minute < total
    label = page.locator(f'#analyse-tree label:has(input[value="{topic}"])')
    expect(label.locator(".topic-count")).to_have_text(f"{total:,}")
    page.get_by_role("button", name="First 1 min", exact=True).click()
    expect(label.locator(".topic-count")).to_have_text(f"{first_minute:,}")
    page.get_by_role("button", name="All", exact=True).click()
    expect(label.locator(".topic-count")).to_have_text(f"{total:,}")
    hidden = page.locator("#analyse-tree label .badge-note", has_text="pre-filtered")
    expect(hidden.first).to_be_attached()
    page.locator("#analyse-prefilter").click()  # off: nothing is marked pre-filtered
    expect(hidden).to_have_count(0)
    page.locator("#analyse-prefilter").click()
    expect(hidden.first).to_be_attached()
    cell(page, 3).click()
    row = inspected_row(page)
    value = json.loads(session.payloads([row])[0])
    tree = page.locator("#analyse-insp-tree .json-tree")
    for key in list(value)[:3]:
        expect(tree.locator(".jt-key", has_text=f"{key}: ").first).to_be_visible()


def test_the_diff_tab_and_a_hostile_payload_are_drawn_as_text(
    serve_manager: Callable[..., str], sm_page: Any, tmp_path: Path
) -> None:
    """Tree and Diff (drawn in the browser from data) show a payload's markup as text: no
    element is made from it, and the diff against the previous message of the topic shows."""
    from playwright.sync_api import expect

    evil = '<img id="injected" src=x onerror="window.__pwned=1"><b id="bold">x</b>'
    directory = tmp_path / "sessions"
    directory.mkdir()
    lines = [
        {"topic": "a/b", "payload": json.dumps({"n": 1, "note": "plain"}), "timestamp": "2026-01-15T09:00:00Z"},
        {"topic": "a/b", "payload": json.dumps({"n": 2, "note": evil}), "timestamp": "2026-01-15T09:00:01Z"},
    ]  # fmt: skip
    (directory / "hostile.log").write_text("".join(json.dumps(x) + "\n" for x in lines))
    page = sm_page
    page.goto(f"{serve_manager(directory)}/analyse?session=hostile.log")
    cell(page, 1).click()
    expect_inspector(page, 1)
    tree = page.locator("#analyse-insp-tree .json-tree")
    expect(tree.locator(".jt-str", has_text="onerror")).to_have_text(json.dumps(evil))
    page.get_by_role("tab", name="Diff").click()
    diff = page.locator("#analyse-insp-diff pre.diff")
    expect(diff.locator(".diff-add", has_text="onerror")).to_be_visible()
    expect(diff.locator(".diff-del", has_text="plain")).to_be_visible()
    assert page.locator("#injected, #bold").count() == 0
    assert page.evaluate("() => window.__pwned") is None


RING = """(row) => {
    // Where the timeline draws the ring, and where it draws the dot of message ``row``.
    const gd = document.querySelector('#analyse-timeline .js-plotly-plot');
    const ring = gd._fullData.find(t => t.name === 'selected');
    let dot = null;
    gd._fullData.filter(t => Array.isArray(t.customdata)).forEach(t => {
        for (let i = 0; i < t.customdata.length; i++) {
            if (t.customdata[i][0] === row) { dot = [t.x[i], t.y[i]]; }
        }
    });
    return {ring: ring && ring.x.length ? [ring.x[0], ring.y[0]] : null, dot,
            traces: gd._fullData.length};
}"""


def test_selecting_a_message_moves_the_ring_and_sends_only_the_ring(analyse: Any) -> None:
    """Clicking a row, then stepping with ``j``, rings each message on the timeline (on its own
    dot), and the answer to each is the ring alone — not the timeline figure again."""
    page = analyse
    from playwright.sync_api import expect

    expect(page.locator("#analyse-timeline")).to_contain_text("individual messages")

    def is_timeline(response: Any) -> bool:
        body = response.request.post_data or ""
        return "_dash-update-component" in response.url and "analyse-timeline.figure" in body

    sizes = []
    for act in (lambda: cell(page, 3).click(), lambda: page.keyboard.press("j")):
        before = page.locator("#analyse-insp-header").inner_text()
        with page.expect_response(is_timeline) as answer:
            act()
        sizes.append(len(answer.value.body()))
        expect(page.locator("#analyse-insp-header")).not_to_have_text(before)
        row = inspected_row(page)
        page.wait_for_function(
            f"(row) => {{ const r = ({RING})(row); return !!r.ring && !!r.dot"
            " && r.ring[0] === r.dot[0] && r.ring[1] === r.dot[1]; }",
            arg=row,
            timeout=20_000,
        )
    figure = page.evaluate(
        """() => JSON.stringify(
            document.querySelector('#analyse-timeline .js-plotly-plot').data).length"""
    )
    # the figure holds hundreds of dots (tens of kB); each answer carried one ring
    assert figure > 20_000, figure
    assert max(sizes) < 2_000, (sizes, figure)


def test_statistics_shown_later_follow_the_window_chosen_before(analyse: Any) -> None:
    """The Statistics grid is computed when its tab is shown: after the window changed on the
    Messages tab, opening it shows the counts of that window, and a change made while it is
    shown updates it."""
    from playwright.sync_api import expect

    page = analyse
    label = page.locator("#analyse-window-label")
    expect(label).to_contain_text("messages selected")

    def selected() -> int:
        match = re.search(r"([\d,]+) messages selected", label.inner_text())
        assert match, label.inner_text()
        return int(match[1].replace(",", ""))

    total = selected()
    page.get_by_role("button", name="First 1 min", exact=True).click()
    expect(label).to_contain_text("t+0.0 s … t+60.0 s")
    expect(label).not_to_contain_text(f"{total:,} messages selected")
    first = selected()
    assert 0 < first < total
    summed = """() => { let n = 0;
        window.dash_ag_grid.getApi('analyse-stats').forEachNode(r => { n += r.data.count; });
        return n; }"""
    page.get_by_role("tab", name="Statistics").click()
    page.wait_for_function(f"() => ({summed})() === {first}", timeout=20_000)
    page.get_by_role("button", name="All", exact=True).click()
    page.wait_for_function(f"() => ({summed})() === {total}", timeout=20_000)


def test_a_key_button_in_the_inspector_follows_that_key(analyse: Any, generated_dir: Path) -> None:
    """A message that names an order (or serial) shows a button per key; pressing one opens
    the Follow key tab on that key and lists the messages that mention it."""
    from apps.session_manager.inspector import business_keys
    from playwright.sync_api import expect

    page = analyse
    session = open_session(generated_dir / PLANT_L4)
    for i in range(30):  # the first table row whose message names a business key
        row = shown_row(page, i)
        text = session.payloads([row])[0]
        keys = business_keys(json.loads(text)) if text.startswith("{") else []
        if keys:
            break
    else:
        pytest.fail("none of the first 30 messages names a business key")
    name, key = keys[0]
    cell(page, i).click()
    expect_inspector(page, row)
    button = page.locator("#analyse-insp-follow .follow-btn", has_text=f"{name}={key}")
    button.click()
    expect(page.get_by_role("tab", name="Follow key")).to_have_class(re.compile(r"\bactive\b"))
    expect(page.locator("#analyse-chain-key")).to_have_value(key)
    mentions = sum(1 for t in session.payloads(range(len(session))) if key in t)
    assert mentions >= 1
    expect(page.locator("#analyse-chain-note")).to_contain_text(f"mention '{key}'")


def test_a_new_filter_shows_the_table_from_its_first_row(analyse: Any) -> None:
    """Scrolled deep into the table, the user switches the pre-filter off: the new table shows
    from its first row (not from the old scroll offset, somewhere in a different table)."""
    from playwright.sync_api import expect

    page = analyse
    label = page.locator("#analyse-window-label")
    expect(label).to_contain_text("messages selected")
    match = re.search(r"([\d,]+) messages selected", label.inner_text())
    assert match, label.inner_text()
    last = int(match[1].replace(",", "")) - 1
    assert last > 150, last
    # the user drags the scroll bar to the end
    page.evaluate(
        f"() => window.dash_ag_grid.getApi('analyse-grid').ensureIndexVisible({last}, 'bottom')"
    )
    expect(page.locator(f'#analyse-grid .ag-row[row-index="{last}"]')).to_be_attached()
    assert page.locator('#analyse-grid .ag-row[row-index="0"]').count() == 0
    page.locator("#analyse-prefilter").click()
    expect(page.locator("#analyse-window-label")).to_contain_text("messages selected")
    first = page.locator('#analyse-grid .ag-row[row-index="0"] .ag-cell[col-id="topic"]')
    expect(first).to_be_visible()
    expect(first).not_to_have_text("")
    assert_row_in_grid_view(page.locator('#analyse-grid .ag-row[row-index="0"]'))
