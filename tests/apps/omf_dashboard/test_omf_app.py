"""The Dash layer without a browser: app factory, pages, escaping, and the pure view helpers."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dash
import pytest
from apps.omf_dashboard.__main__ import parse_args
from apps.omf_dashboard.app import client_of
from apps.omf_dashboard.config import DashboardConfig, parse_broker_url
from apps.omf_dashboard.entities import CameraFrame
from apps.omf_dashboard.history import MessageHistory
from apps.omf_dashboard.pages import generator, messages
from apps.omf_dashboard.replay_status import parse_replay_status
from apps.omf_dashboard.shell import mode_banner
from plotly.utils import PlotlyJSONEncoder

from apps.omf_dashboard import factory_cards

PACKAGE = Path(__file__).resolve().parents[3] / "apps" / "omf_dashboard"
SECRET = "never-show-this-Pa55"


def as_json(component: Any) -> str:
    return json.dumps(component, cls=PlotlyJSONEncoder)


def live_config() -> DashboardConfig:
    return DashboardConfig(
        live_url="mqtt://10.0.0.1:1883", live_username="op", live_password=SECRET
    )


def test_app_factory_registers_three_pages_and_connects_nothing(
    dashboard_factory: Callable[..., Any],
) -> None:
    app = dashboard_factory(live_config(), start_client=False)
    ours = {p["path"]: p["name"] for p in dash.page_registry.values()}
    assert ours == {
        "/": "Overview",
        "/messages": "Message Center",
        "/generator": "Message Generator",
    }
    client = client_of(app)
    assert not client.connected
    assert client.connection_status().detail == "not started"
    shell = as_json(app.layout())
    assert "Message Generator" in shell
    assert SECRET not in shell


def test_served_pages_never_contain_the_password(dashboard_factory: Callable[..., Any]) -> None:
    app = dashboard_factory(live_config(), start_client=False)
    http = app.server.test_client()
    for url in ("/", "/messages", "/generator", "/_dash-layout", "/_dash-dependencies"):
        response = http.get(url)
        assert response.status_code == 200, url
        assert SECRET not in response.get_data(as_text=True)


def test_no_raw_html_anywhere_in_the_package() -> None:
    for source in PACKAGE.rglob("*.py"):
        text = source.read_text()
        assert "dangerously_allow_html" not in text, source
        assert "dcc.Markdown" not in text, source


def test_payload_detail_is_plain_text() -> None:
    history = MessageHistory()
    evil = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
    raw = history.add("received", "/j1/txt/1/o/x", evil, received_at=0.0, is_json=False)
    parts = messages.detail_of(raw, "UTC")
    pre = parts[2]
    assert pre.children == evil  # a string child: React renders it as text
    row = messages.row_of(raw, "UTC")
    assert row["preview"].startswith("[not JSON] <img")
    image = '{"data": "data:image/png;base64,' + "A" * 400 + '"}'
    framed = history.add("received", "/j1/txt/1/i/cam", image, received_at=0.0)
    parts = messages.detail_of(framed, "UTC")
    assert "(422 chars)" in parts[2].children  # long strings shortened in the pretty view
    assert parts[3].src.startswith("data:image/png;base64,AAAA")


def test_camera_panel_uses_only_image_data_uris() -> None:
    good = factory_cards.camera_panel(
        CameraFrame("data:image/jpeg;base64,AA", "t", 0.0), None, "UTC"
    )
    assert '"src": "data:image/jpeg;base64,AA"' in as_json(good)
    bad = factory_cards.camera_panel(CameraFrame("javascript:alert(1)", "t", 0.0), None, "UTC")
    assert "javascript:" not in as_json(bad)


def test_message_filter_from_controls() -> None:
    flt = messages.build_filter("sent", "*", "state", " ccu ", "60", True, now=1000.0)
    assert (flt.direction, flt.category, flt.sub_category) == ("sent", None, "state")
    assert (flt.topic_text, flt.since, flt.hide_noisy) == ("ccu", 940.0, True)
    assert messages.build_filter(None, None, None, None, "any", False, 0.0).since is None


def test_generator_payload_preparation() -> None:
    assert generator.prepare('{ "a": 1 }', raw=False) == ('{"a":1}', "")
    text, error = generator.prepare("not json", raw=False)
    assert text is None
    assert "not valid JSON" in error
    assert generator.prepare("not json", raw=True) == ("not json", "")


def test_mode_banner() -> None:
    from apps.omf_dashboard.client import ConnectionStatus

    status = ConnectionStatus("replay", "127.0.0.1:1883", True, "connected")
    live = as_json(mode_banner(None, status))
    assert "LIVE TRAFFIC" in live
    playing = parse_replay_status({"session": "s", "state": "playing", "speed": 2}, 0.0)
    assert "REPLAY" in as_json(mode_banner(playing, status))
    finished = parse_replay_status({"session": "s", "state": "finished"}, 0.0)
    assert "LIVE TRAFFIC" in as_json(mode_banner(finished, status))


def test_config_and_cli() -> None:
    assert parse_broker_url("mqtt://127.0.0.1") == ("127.0.0.1", 1883, False)
    assert parse_broker_url("mqtts://plant:8884") == ("plant", 8884, True)
    with pytest.raises(ValueError, match="credentials"):
        parse_broker_url("mqtt://user:pw@plant:1883")
    with pytest.raises(ValueError, match="mqtt://"):
        parse_broker_url("http://plant")
    with pytest.raises(ValueError, match="live profile"):
        DashboardConfig(profile="live")
    config = DashboardConfig.from_env(
        {"OMF_LIVE_BROKER_URL": "mqtt://plant:1883", "OMF_LIVE_PASSWORD": SECRET}, port=9000
    )
    assert (config.port, config.live_url, config.available_profiles) == (
        9000,
        "mqtt://plant:1883",
        ("replay", "live"),
    )
    assert SECRET not in repr(config)
    assert SECRET not in config.broker_profile("live").describe()
    args = parse_args([])
    assert (args.host, args.port, args.broker, args.profile) == (
        "127.0.0.1",
        8503,
        "mqtt://127.0.0.1:1883",
        "replay",
    )
    assert parse_args(["--port", "9001", "--broker", "mqtt://h:1"]).port == 9001


def _call_overview(http: Any, key: str, versions: Any) -> tuple[int, dict[str, Any]]:
    sections = ["summary", "modules", "agvs", "stock", "orders", "sensors", "camera"]
    outputs = [{"id": f"overview-{s}", "property": "children"} for s in sections]
    outputs.append({"id": "overview-versions", "property": "data"})
    body = {
        "output": key,
        "outputs": outputs,
        "inputs": [{"id": "overview-interval", "property": "n_intervals", "value": 1}],
        "state": [{"id": "overview-versions", "property": "data", "value": versions}],
        "changedPropIds": ["overview-interval.n_intervals"],
    }
    response = http.post("/_dash-update-component", json=body)
    data = response.get_json() if response.status_code == 200 else {}
    return response.status_code, (data or {}).get("response", {})


def test_overview_poll_returns_only_changed_sections(dashboard_factory: Callable[..., Any]) -> None:
    app = dashboard_factory(DashboardConfig(), start_client=False)
    client = client_of(app)
    http = app.server.test_client()
    assert http.get("/").status_code == 200  # first request sets the callbacks up
    key = next(k for k in app.callback_map if "overview-versions.data" in k)

    status, first = _call_overview(http, key, None)
    assert status == 200
    names = ("summary", "modules", "agvs", "stock", "orders", "sensors", "camera", "versions")
    assert set(first) == {f"overview-{name}" for name in names}
    versions = first["overview-versions"]["data"]

    status, second = _call_overview(http, key, versions)
    assert (status, second) == (204, {}), second  # nothing changed: no payload at all

    stock = {"stockItems": [{"location": "A1", "workpiece": {"id": "w", "type": "RED"}}]}
    client.handle_message("ccu/state/stock", json.dumps(stock))
    status, changed = _call_overview(http, key, versions)
    assert status == 200
    assert set(changed) == {"overview-stock", "overview-summary", "overview-versions"}
    assert "RED" in as_json(changed["overview-stock"])
