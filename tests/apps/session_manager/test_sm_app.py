"""The app factory, configuration and command line (no browser)."""

from __future__ import annotations

import json
from pathlib import Path

import dash
import pytest
from apps.session_manager.__main__ import parse_args
from apps.session_manager.app import context_of, create_app, shutdown
from apps.session_manager.config import (
    DEFAULT_SESSIONS_DIR,
    ManagerConfig,
    is_loopback_url,
    parse_broker_url,
)
from apps.session_manager.pages import analyse, library, record, replay
from apps.session_manager.replay_panels import progress_of


def test_defaults_and_command_line() -> None:
    args = parse_args([])
    assert (args.host, args.port, args.broker) == ("127.0.0.1", 8507, "mqtt://127.0.0.1:1883")
    assert args.sessions == DEFAULT_SESSIONS_DIR and DEFAULT_SESSIONS_DIR.parts[-2:] == (
        "mqtt-data",
        "sessions",
    )
    assert not args.allow_remote
    config = ManagerConfig()
    assert config.host == "127.0.0.1" and config.upload_limit_bytes == 512 * 1024 * 1024
    args = parse_args(
        ["--host", "192.0.2.1", "--port", "9000", "--sessions", "/tmp/x", "--broker", "mqtt://h:1"]
    )
    assert (args.host, args.port, str(args.sessions), args.broker) == (
        "192.0.2.1",
        9000,
        "/tmp/x",
        "mqtt://h:1",
    )


def test_broker_urls() -> None:
    assert parse_broker_url("mqtts://example.org") == ("example.org", 8883, True)
    for bad in ("http://x", "mqtt://user:pw@x", "mqtt://", "mqtt://x:99999"):
        with pytest.raises(ValueError, match="broker URL"):
            parse_broker_url(bad)
    assert is_loopback_url("mqtt://127.0.0.2:1883") and is_loopback_url("mqtt://localhost")
    assert not is_loopback_url("mqtt://192.168.0.100") and not is_loopback_url("nonsense")
    with pytest.raises(ValueError, match="mqtt://"):
        ManagerConfig(broker_url="http://x")


def test_app_has_five_pages_and_no_io_in_layouts(tmp_path: Path) -> None:
    missing = tmp_path / "does-not-exist"
    app = create_app(ManagerConfig(sessions_dir=missing))
    try:
        paths = sorted(
            p["path"]
            for p in dash.page_registry.values()
            if p["module"].startswith("apps.session_manager")
        )
        assert paths == ["/", "/analyse", "/benchmarks", "/record", "/replay"]
        ctx = context_of(app)
        for page in (library, analyse, replay, record):
            layout = page.make_layout(ctx)()
            text = json.dumps(layout.to_plotly_json(), default=str)
            prefix = page.NAME.lower()
            ids = [i for i in _ids(layout.to_plotly_json()) if isinstance(i, str)]
            assert ids and all(i.startswith(prefix + "-") for i in ids), (prefix, ids)
            assert "dangerouslySetInnerHTML" not in text
        assert not missing.exists()  # building layouts touched nothing on disk
        client = app.server.test_client()
        assert client.get("/").status_code == 200
        assert client.get("/_dash-layout").status_code == 200
    finally:
        shutdown(app)


def _ids(node: object) -> list[object]:
    found: list[object] = []
    if isinstance(node, dict):
        props = node.get("props")
        if isinstance(props, dict) and "id" in props:
            found.append(props["id"])
        for value in node.values():
            found += _ids(value)
    elif isinstance(node, list | tuple):
        for value in node:
            found += _ids(value)
    elif hasattr(node, "to_plotly_json"):
        found += _ids(node.to_plotly_json())
    return found


def test_progress_label() -> None:
    assert progress_of(None) == (0.0, "")
    assert progress_of({"state": "playing", "index": 50, "total": 200}) == (25.0, "25 %")
    assert progress_of({"state": "finished", "index": 199, "total": 200}) == (100.0, "100 %")


def test_pages_import_the_context_not_the_app_factory() -> None:
    """The factory imports the pages; the pages take ``AppContext`` from its own module."""
    pages = Path(analyse.__file__).parent
    for module in sorted(pages.glob("*.py")):
        text = module.read_text()
        assert "session_manager.app import" not in text, module.name
