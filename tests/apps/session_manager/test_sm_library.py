"""Session directory: names, listing, upload, rename, delete, filters."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
from sm_helpers import PLANT, PLANT_L4, PLANT_ZIP

from apps.session_manager import session_files as lib


def data_url(data: bytes) -> str:
    return "data:application/octet-stream;base64," + base64.b64encode(data).decode()


@pytest.mark.parametrize(
    "name",
    [
        "../x.log",
        "a/b.log",
        "a\\b.log",
        ".hidden.log",
        "x.txt",
        "",
        "..",
        "x\0.log",
        "/etc/passwd",
        "x.log/",
        "name<script>.log",
        "x.exe",
    ],
)
def test_unsafe_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(lib.LibraryError):
        lib.resolve_in(tmp_path, name)


@pytest.mark.parametrize(
    "name", ["a.log", "My Session (2).LOG", "ccu.log.zip", "x_20260101_120000.db"]
)
def test_safe_names_resolve_inside(tmp_path: Path, name: str) -> None:
    assert lib.resolve_in(tmp_path, name) == tmp_path.resolve() / name


def test_a_symlink_the_user_placed_opens(tmp_path: Path) -> None:
    """Uploads and renames never create links: a link in the directory is the user's intent
    (the usual way to list a big recording without copying it)."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "big.log").write_text("{}\n")
    sessions = tmp_path / "sessions"
    sessions.mkdir()
    os.symlink(outside / "big.log", sessions / "link.log")
    assert lib.resolve_in(sessions, "link.log") == sessions.resolve() / "link.log"
    os.symlink(outside, sessions / "dir.log")
    with pytest.raises(lib.LibraryError, match="not a file"):
        lib.resolve_in(sessions, "dir.log")
    lib.delete_session(sessions, "link.log")  # removes the link, never the recording
    assert (outside / "big.log").exists()


def test_session_names() -> None:
    assert lib.validate_session_name(" cut-1.a_b ") == "cut-1.a_b"
    for bad in ("", "-x", "a/b", "a b", "x" * 101, None):
        with pytest.raises(lib.LibraryError):
            lib.validate_session_name(bad)


def test_listing_reads_headers_and_dates(sessions_dir: Path) -> None:
    (sessions_dir / "notes.txt").write_text("ignored")
    (sessions_dir / ".part.log").write_text("ignored")
    files = {f.name: f for f in lib.list_sessions(sessions_dir)}
    assert "notes.txt" not in files and ".part.log" not in files
    plant = files[PLANT]
    assert plant.header is not None and plant.header["sessionName"] == "plant-demo"
    fields = lib.header_fields(plant.header)
    assert fields == {
        "description": "storage order, then production orders RED, WHITE, BLUE in turn",
        "outcome": "ok",
        "preset": "none",
        "ccu_version": "1.3.0",
    }
    assert files[PLANT_ZIP].header is None and files[PLANT_L4].header is None
    assert lib.list_sessions(sessions_dir / "missing") == []


def test_filter_rows_text_regex_outcome() -> None:
    rows = [
        {"name": "Blue-run.log", "outcome": "ok"},
        {"name": "white.log", "outcome": "nok"},
        {"name": "blue_2.db", "outcome": "nok"},
    ]
    assert [r["name"] for r in lib.filter_rows(rows, "blue", "all")] == [
        "Blue-run.log",
        "blue_2.db",
    ]
    assert [r["name"] for r in lib.filter_rows(rows, "re:^blue_\\d", None)] == ["blue_2.db"]
    assert [r["name"] for r in lib.filter_rows(rows, "w.*e", "nok", regex=True)] == ["white.log"]
    assert [r["name"] for r in lib.filter_rows(rows, "", "ok")] == ["Blue-run.log"]
    with pytest.raises(lib.LibraryError, match="regular expression"):
        lib.filter_rows(rows, "re:(", None)


def test_upload_stores_checks_limit_and_never_overwrites(tmp_path: Path) -> None:
    line = (
        json.dumps({"topic": "a", "payload": "1", "timestamp": "2026-01-01T00:00:00.000Z"}) + "\n"
    )
    path = lib.save_upload(tmp_path, "up.log", data_url(line.encode()), limit=1000)
    assert path.read_text() == line
    with pytest.raises(lib.LibraryError, match="already exists"):
        lib.save_upload(tmp_path, "up.log", data_url(b"other"), limit=1000)
    assert path.read_text() == line
    with pytest.raises(lib.LibraryError, match="limit"):
        lib.save_upload(tmp_path, "big.log", data_url(b"x" * 2000), limit=1000)
    with pytest.raises(lib.LibraryError):
        lib.save_upload(tmp_path, "../escape.log", data_url(b"x"), limit=1000)
    with pytest.raises(lib.LibraryError, match="base64"):
        lib.save_upload(tmp_path, "bad.log", "data:text/plain;base64,@@@", limit=1000)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["up.log"]  # no temp files left


def test_rename_and_delete(sessions_dir: Path) -> None:
    new = lib.rename_session(sessions_dir, PLANT_L4, "red-order")
    assert new.name == "red-order.log" and new.exists()
    assert not (sessions_dir / PLANT_L4).exists()
    with pytest.raises(lib.LibraryError, match="already exists"):
        lib.rename_session(sessions_dir, "red-order.log", PLANT_ZIP)
    with pytest.raises(lib.LibraryError):
        lib.rename_session(sessions_dir, "red-order.log", "../x.log")
    lib.delete_session(sessions_dir, "red-order.log")
    assert not new.exists()
    with pytest.raises(lib.LibraryError, match="does not exist"):
        lib.delete_session(sessions_dir, "red-order.log")


def test_unique_stamped_name(tmp_path: Path) -> None:
    from datetime import datetime

    stamp = datetime(2026, 1, 15, 10, 0, 0)
    first = lib.unique_stamped_name(tmp_path, "cut", stamp)
    assert first == "cut_20260115_100000.log"
    (tmp_path / first).write_text("")
    assert lib.unique_stamped_name(tmp_path, "cut", stamp) == "cut_20260115_100000-2.log"
