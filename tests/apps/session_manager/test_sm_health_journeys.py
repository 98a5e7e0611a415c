"""Browser journeys of Library health and empty states: a broken .db, an empty .log, a zip
without a session log, a symlinked recording, and Analyse before any session is picked."""

from __future__ import annotations

import os
import re
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sm_helpers import PLANT_L4

pytestmark = pytest.mark.e2e


@pytest.fixture
def health_dir(tmp_path: Path, generated_dir: Path) -> Path:
    directory = tmp_path / "sessions"
    directory.mkdir()
    shutil.copy(generated_dir / PLANT_L4, directory / PLANT_L4)
    (directory / "broken.db").write_bytes(b"this is not an SQLite file")
    (directory / "empty.log").write_bytes(b"")
    with zipfile.ZipFile(directory / "notes.zip", "w") as zf:
        zf.writestr("readme.txt", "no session here")
    elsewhere = tmp_path / "big-disk"
    elsewhere.mkdir()
    shutil.copy(generated_dir / PLANT_L4, elsewhere / "huge.log")
    os.symlink(elsewhere / "huge.log", directory / "huge-link.log")  # listed without copying
    return directory


def row(page: Any, name: str) -> Any:
    return page.locator(f'#library-grid .ag-row[row-id="{name}"]')


def test_broken_empty_and_zip_without_log_are_highlighted_with_the_full_reason(
    serve_manager: Callable[..., str], sm_page: Any, health_dir: Path
) -> None:
    from playwright.sync_api import expect

    base = serve_manager(health_dir)
    page = sm_page
    page.goto(base + "/")
    broken = row(page, "broken.db")
    expect(broken).to_have_class(re.compile(r"\blib-row-error\b"))
    expect(broken.locator('.ag-cell[col-id="status"]')).to_have_text(
        "cannot open: cannot read the schema: file is not a database"
    )
    empty = row(page, "empty.log")
    expect(empty).to_have_class(re.compile(r"\blib-row-empty\b"))
    expect(empty.locator('.ag-cell[col-id="status"]')).to_have_text(
        "empty: no messages in this file"
    )
    expect(row(page, "notes.zip").locator('.ag-cell[col-id="status"]')).to_contain_text(
        "no session log (.log) in this zip"
    )
    healthy = row(page, PLANT_L4)
    expect(healthy.locator('.ag-cell[col-id="messages"]')).to_have_text("1,500")
    assert "lib-row" not in str(healthy.get_attribute("class"))

    broken.locator('.ag-cell[col-id="name"]').click()
    detail = page.locator("#library-health-detail")
    expect(detail).to_contain_text("This session cannot be opened: broken.db")
    expect(detail).to_contain_text("cannot read the schema: file is not a database")

    page.goto(base + "/analyse?session=broken.db")
    expect(page.locator("#analyse-load")).to_contain_text(
        "Cannot open broken.db: cannot read the schema: file is not a database"
    )
    page.goto(base + "/analyse?session=empty.log")
    expect(page.locator("#analyse-empty-note")).to_have_text(
        "empty.log holds no messages: there is nothing to analyse in it."
    )
    expect(page.locator("#analyse-main")).to_be_hidden()  # no axes from the year 2000
    expect(page.locator("#analyse-pick")).to_contain_text(PLANT_L4)


def test_a_symlinked_recording_opens(
    serve_manager: Callable[..., str], sm_page: Any, health_dir: Path
) -> None:
    from playwright.sync_api import expect

    base = serve_manager(health_dir)
    page = sm_page
    page.goto(base + "/")
    link = row(page, "huge-link.log")
    expect(link.locator('.ag-cell[col-id="messages"]')).to_have_text("1,500")
    link.locator('.ag-cell[col-id="name"]').click()
    page.locator("#library-open-analyse").click()
    expect(page.locator("#analyse-summary")).to_contain_text("1,500 messages")
    expect(page.locator("#analyse-load")).not_to_contain_text("outside")


def test_analyse_without_a_session_says_what_to_do(
    serve_manager: Callable[..., str], sm_page: Any, health_dir: Path
) -> None:
    from playwright.sync_api import expect

    base = serve_manager(health_dir)
    page = sm_page
    page.goto(base + "/analyse")
    pick = page.locator("#analyse-pick")
    expect(pick).to_contain_text("Pick a session")
    expect(pick).to_contain_text("Most recent")
    expect(page.locator("#analyse-main")).to_be_hidden()  # no empty grid, no axes −1…6
    pick.get_by_role("link", name=PLANT_L4).click()
    expect(page.locator("#analyse-summary")).to_contain_text("1,500 messages")
    expect(page.locator("#analyse-main")).to_be_visible()
    expect(pick).to_be_hidden()
