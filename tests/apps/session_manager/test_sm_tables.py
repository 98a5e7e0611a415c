"""Browser journeys of the Session Manager's tables: numbers sort as numbers and read with
separators and units; the tables use the page's width."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from apps.session_manager.render import fmt_bytes
from sm_helpers import GENERATED_SET, PLANT, PLANT_L4

from mqtt_replay import open_session
from mqtt_replay.statistics import topic_stats

pytestmark = pytest.mark.e2e


@pytest.fixture
def library_url(serve_manager: Callable[..., str], sessions_dir: Path) -> str:
    return serve_manager(sessions_dir)


def column_texts(page: Any, grid: str, col: str, count: int) -> list[str]:
    from playwright.sync_api import expect

    first = page.locator(f'#{grid} .ag-row[row-index="0"] .ag-cell[col-id="{col}"]')
    expect(first).not_to_have_text("")
    return [
        page.locator(f'#{grid} .ag-row[row-index="{i}"] .ag-cell[col-id="{col}"]').inner_text()
        for i in range(count)
    ]


def sort_descending(page: Any, grid: str, title: str) -> str:
    """Clicks the header titled ``title`` twice (descending); returns its column id."""
    from playwright.sync_api import expect

    header = page.locator(
        f"#{grid} .ag-header-cell", has=page.locator(f'.ag-header-cell-text:text-is("{title}")')
    )
    header.click()
    header.click()
    expect(header).to_have_attribute("aria-sort", "descending")
    return str(header.get_attribute("col-id"))


def test_library_sorts_sizes_as_numbers(library_url: str, sm_page: Any, sessions_dir: Path) -> None:
    from playwright.sync_api import expect

    page = sm_page
    page.goto(library_url + "/")
    expect(page.locator("#library-grid .ag-row")).to_have_count(len(GENERATED_SET))
    size_col = sort_descending(page, "library-grid", "size")
    names = column_texts(page, "library-grid", "name", len(GENERATED_SET))
    by_size = sorted(GENERATED_SET, key=lambda n: (sessions_dir / n).stat().st_size, reverse=True)
    assert names == list(by_size)
    sizes = column_texts(page, "library-grid", size_col, len(GENERATED_SET))
    assert sizes[0] == fmt_bytes((sessions_dir / PLANT).stat().st_size)
    assert re.fullmatch(r"\d\.\d MB", sizes[0]), sizes[0]  # a unit, one decimal
    assert all(s.endswith((" B", " KB", " MB")) for s in sizes)
    row = page.locator("#library-grid .ag-row", has_text=PLANT)
    expect(row.locator('.ag-cell[col-id="messages"]')).to_have_text("3,000")
    sort_descending(page, "library-grid", "messages")
    counts = column_texts(page, "library-grid", "messages", len(GENERATED_SET))
    values = [int(c.replace(",", "")) for c in counts]
    assert values == sorted(values, reverse=True) and counts[0] == "3,000"


def test_statistics_sort_bytes_as_numbers(
    serve_manager: Callable[..., str], sm_page: Any, tmp_path: Path, generated_dir: Path
) -> None:
    from playwright.sync_api import expect

    directory = tmp_path / "sessions"
    directory.mkdir()
    shutil.copy(generated_dir / PLANT_L4, directory / PLANT_L4)
    page = sm_page
    page.goto(f"{serve_manager(directory)}/analyse?session={PLANT_L4}")
    expect(page.locator("#analyse-hidden-head")).to_contain_text("Pre-filter hides")
    page.locator("#analyse-prefilter").click()  # every topic
    expect(page.locator("#analyse-hidden-head")).to_contain_text("Pre-filter is off")
    page.get_by_role("tab", name="Statistics").click()
    bytes_col = sort_descending(page, "analyse-stats", "bytes")
    topics = column_texts(page, "analyse-stats", "topic", 5)
    stats = sorted(topic_stats(open_session(directory / PLANT_L4)), key=lambda s: -s["bytes"])
    assert topics == [s["topic"] for s in stats[:5]]
    counts = column_texts(page, "analyse-stats", "count", 5)
    assert counts == [f"{s['count']:,}" for s in stats[:5]]
    shown = column_texts(page, "analyse-stats", bytes_col, 5)
    assert shown[0] == fmt_bytes(stats[0]["bytes"]) and shown[0].endswith("KB")
