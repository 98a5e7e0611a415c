"""Legal but long topics on the Analyse page (issue: one 65,535-byte topic crashed the tab,
10,000 characters took 84 s, a 2,000-level topic cost 281 MB of JS heap for 4 rows).

A browser journey: the page opens, every view draws, and no element carries the full topic
text; what the server sends is elided in the middle, the inspector says how long it is."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from apps.session_manager.render import TOPIC_SHOWN, elide_middle, unique_labels

pytestmark = pytest.mark.e2e

LONG = "a" * 30 + "/" + "x" * 65_400 + "/tail"  # 65,436 bytes: legal
TEN_K = "m/" + "y" * 10_000 + "/state"
DEEP = "/".join(f"l{i}" for i in range(2000))  # 2,000 levels


def test_elision_keeps_head_tail_and_distinctness() -> None:
    assert elide_middle("short/topic") == "short/topic"
    cut = elide_middle(LONG)
    assert len(cut) == TOPIC_SHOWN and cut.startswith("aaaa") and cut.endswith("x/tail")
    a, b = (f"p/{'z' * 250}{k}{'z' * 250}/end" for k in (1, 2))
    assert elide_middle(a) == elide_middle(b)
    la, lb = unique_labels([a, b])
    assert la != lb and lb.endswith("(2)")


@pytest.fixture
def long_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "sessions"
    directory.mkdir()
    lines = []
    for i, topic in enumerate([LONG, TEN_K, DEEP, "ccu/state/stock"] * 3):
        ts = f"2026-01-01T00:00:{i:02d}.000Z"
        lines.append(json.dumps({"topic": topic, "payload": f'{{"i":{i}}}', "timestamp": ts}))
    (directory / "long-topics.log").write_text("\n".join(lines) + "\n")
    return directory


def test_long_topics_keep_the_analyse_page_usable(
    serve_manager: Callable[..., str], sm_page: Any, long_dir: Path
) -> None:
    from playwright.sync_api import expect

    base = serve_manager(long_dir)
    page = sm_page
    page.set_viewport_size({"width": 1280, "height": 800})
    started = time.monotonic()
    page.goto(base + "/analyse?session=long-topics.log")
    expect(page.locator("#analyse-summary")).to_contain_text("12 messages")
    expect(page.locator("#analyse-grid .ag-row")).to_have_count(12)
    expect(page.locator("#analyse-timeline .main-svg").first).to_be_visible()
    took = time.monotonic() - started
    # No element holds the full text of a long topic: the server sent elided labels only.
    longest = page.evaluate(
        """() => Math.max(...[...document.querySelectorAll('body *')]
              .filter(e => e.children.length === 0 && !['SCRIPT', 'STYLE'].includes(e.tagName))
              .map(e => (e.textContent || '').length))"""
    )
    assert longest < 5_000, longest
    html_size = page.evaluate("() => document.documentElement.outerHTML.length")
    assert html_size < 2_000_000, html_size
    # The category of the long topic (its 30-character first segment) leaves its count in view.
    count = page.locator(".tree-summary .topic-count").first
    box, tree = count.bounding_box(), page.locator("#analyse-tree").bounding_box()
    assert box and tree and box["x"] + box["width"] <= tree["x"] + tree["width"] + 1
    # The grid shows the head and the tail of the topic (where topics differ).
    topics = page.locator('#analyse-grid .ag-cell[col-id="topic"]').all_inner_texts()
    assert any(t.endswith("x/tail") and t.startswith("aaaa") for t in topics), topics[:4]
    # The inspector opens the message and says how long its topic is.
    page.locator('#analyse-grid .ag-cell[col-id="topic"]', has_text="x/tail").first.click()
    insp = page.locator("#analyse-insp-topic")
    expect(insp).to_contain_text("…")
    assert insp.get_attribute("title") == f"{len(LONG):,} bytes"
    heap = page.evaluate("() => performance.memory ? performance.memory.usedJSHeapSize : 0")
    assert heap < 200_000_000, heap
    print(f"\nlong topics: page usable in {took:.1f} s, JS heap {heap / 1e6:.0f} MB")
