"""Payload inspector data, key chains and "save as session"."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from apps.session_manager.analysis import Selection, SessionView
from apps.session_manager.app import ASSETS
from apps.session_manager.render import diff_view, json_tree
from apps.session_manager.session_files import LibraryError

from apps.session_manager import analysis as an
from apps.session_manager import chains, export, inspector
from mqtt_replay import open_session


def first_row(view: SessionView, topic: str) -> int:
    return int(np.flatnonzero(view.codes == view.topics.index(topic))[0])


def test_detail_and_camera_image(plant_view: SessionView) -> None:
    row = first_row(plant_view, "/j1/txt/1/i/cam")
    d = inspector.detail(plant_view, row)
    assert d.topic == "/j1/txt/1/i/cam" and d.is_json and d.previous is None
    images = inspector.image_uris(d.value)
    assert len(images) == 1 and images[0].startswith("data:image/jpeg;base64,")
    short = inspector.pretty(d.text)
    assert "chars)" in short and len(short) < 400


def test_image_uris_only_accept_raster_base64() -> None:
    value = {
        "a": "data:image/svg+xml;base64,PHN2Zz4=",
        "b": ["data:image/png;base64,iVBORw0KGgo="],
        "c": "data:image/png;base64,<script>",
        "d": "javascript:alert(1)",
    }
    assert inspector.image_uris(value) == ["data:image/png;base64,iVBORw0KGgo="]


def test_diff_against_previous_of_same_topic(plant_view: SessionView) -> None:
    v = plant_view
    rows = np.flatnonzero(v.codes == v.topics.index("fts/v1/ff/5iO4/state"))
    d = inspector.detail(v, int(rows[1]))
    assert d.previous == int(rows[0])
    lines = inspector.diff_lines(v.payloads([d.previous])[0], d.text)
    assert any(k == "+" for k, _ in lines) and any(k == "-" for k, _ in lines)
    assert inspector.diff_lines(d.text, d.text) == []
    assert inspector.diff_lines("not json", "not json either") == [
        ("@", "@@ -1 +1 @@"),
        ("-", "-not json"),
        ("+", "+not json either"),
    ]


def test_payload_text_is_rendered_as_text_not_html() -> None:
    evil = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
    tree = json_tree({"x": evil})
    assert tree[0] == "node" and tree[4] == [["leaf", "x", "jt-str", json.dumps(evil)]]
    assert diff_view([("+", "+" + evil)]) == [["diff-add", "+" + evil]]
    # the browser draws both with textContent only (assets/inspector.js)
    script = (ASSETS / "inspector.js").read_text()
    assert "innerHTML" not in script and "textContent" in script


def test_json_tree_stops_at_its_budget() -> None:
    from apps.session_manager.render import MAX_TREE_NODES

    tree = json_tree({"items": list(range(MAX_TREE_NODES * 2))})
    items = tree[4][0]
    assert items[0] == "node" and items[5] is True  # children were cut
    assert len(items[4]) < MAX_TREE_NODES
    assert items[4][-1][0] == "cut"


def test_numeric_fields_and_series(plant_view: SessionView) -> None:
    v = plant_view
    rows = np.flatnonzero(v.codes == v.topics.index("fts/v1/ff/5iO4/state")).astype(np.int64)
    fields = inspector.numeric_fields(v, rows)
    assert "batteryState.percentage" in fields and "batteryState.currentVoltage" in fields
    ts, values, total = inspector.field_series(v, rows, "batteryState.percentage")
    assert total == len(rows) == len(values) == len(ts)
    assert np.all(np.diff(ts) >= 0) and values.min() >= 0
    _ts2, values2, total2 = inspector.field_series(
        v, rows, "batteryState.percentage", max_points=10
    )
    assert total2 == len(rows) and len(values2) == 10
    assert inspector.extract_number({"a": [{"b": 2}]}, "a.0.b") == 2.0
    assert inspector.extract_number({"a": True}, "a") is None
    assert inspector.extract_number({"a": "3"}, "a") is None
    assert inspector.extract_number(inspector.NO_JSON, "a") is None


def test_business_keys() -> None:
    value = {
        "orderId": "abc-123",
        "workpiece": {"workpieceId": "04798eca341290"},
        "serialNumber": "SVR3QA0022",
        "other": [{"orderId": "abc-123"}],
        "short": {"orderId": ""},
    }
    assert inspector.business_keys(value) == [
        ("orderId", "abc-123"),
        ("workpieceId", "04798eca341290"),
        ("serialNumber", "SVR3QA0022"),
    ]


def test_follow_an_order_across_topics(plant_view: SessionView) -> None:
    v = plant_view
    rows = an.selected_rows(v, Selection(prefilter=False, text='"orderId": "'))
    order_ids = {
        val: None
        for r in rows[:300]
        for key, val in inspector.business_keys(inspector.parse_json(v.payloads([r])[0]))
        if key == "orderId"
    }
    # the order mentioned most often (deterministic: ties go to the first seen)
    chain = max((chains.follow(v, o) for o in order_ids), key=lambda c: c.total)
    order_id = chain.key
    assert chain.total == len(chain.steps) > 3
    assert len(chain.topics) >= 3  # an order crosses CCU, modules and the AGV
    stamps = [v.ts[s["row"]] for s in chain.steps]
    assert stamps == sorted(stamps)
    assert all(order_id in v.payloads([s["row"]])[0] or order_id in s["topic"] for s in chain.steps)
    assert chain.steps[0]["delta"] == 0.0 and all(s["delta"] >= 0 for s in chain.steps)
    serial = chains.follow(v, "SVR3QA0022")
    assert any("(topic)" in s["fields"] for s in serial.steps)
    with pytest.raises(chains.ChainError):
        chains.follow(v, "ab")
    assert chains.follow(v, "no-such-key-anywhere").total == 0


def test_save_as_session_round_trip(plant_view: SessionView, tmp_path: Path) -> None:
    v = plant_view
    window = (v.start_us + 100_000_000, v.start_us + 400_000_000)
    sel = Selection(
        window=window, excluded=frozenset({"ccu/order/active"}), prefilter=True, text="state"
    )
    rows = an.selected_rows(v, sel)
    assert 0 < len(rows) < len(v)
    now = datetime(2026, 8, 10, 12, 30, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    path = export.save_as_session(v, rows, tmp_path, "cut-1", sel, now=now)
    assert path.name == "cut-1_20260810_123000.log"
    header = json.loads(path.read_text().splitlines()[0])
    assert header["_kind"] == "session_meta" and header["schema"] == 1
    assert header["sessionName"] == "cut-1" and header["logFileName"] == path.name
    assert header["source"]["file"] == v.session.path.name
    assert header["source"]["text"] == "state" and header["source"]["topics"]["excluded"] == [
        "ccu/order/active"
    ]
    assert header["source"]["window"][0].startswith("2026-01-15T09:01")
    assert header["sessionRecorderVersion"] == export.RECORDER_VERSION
    out = open_session(path, strict=True)
    assert len(out) == len(rows) and out.header == header
    assert out.table.column("payload").to_pylist() == v.payloads(rows)
    assert out.table.column("topic").cast("string").to_pylist() == [v.topic_of(r) for r in rows]
    got_ts = out.table.column("timestamp").cast("int64").to_numpy()
    assert np.array_equal(got_ts, (v.ts[rows] // 1000) * 1000)  # ms precision
    assert out.table.column("retain").to_pylist() == v.retain[rows].tolist()
    again = export.save_as_session(v, rows, tmp_path, "cut-1", sel, now=now)
    assert again.name == "cut-1_20260810_123000-2.log" and path.read_text().startswith("{")
    with pytest.raises(LibraryError):
        export.save_as_session(v, rows, tmp_path, "../evil", sel)


def test_save_as_from_index_mode_keeps_payload_bytes(
    plant_index_view: SessionView, tmp_path: Path
) -> None:
    v = plant_index_view
    sel = Selection(prefilter=False)
    rows = an.selected_rows(v, Selection(prefilter=False, text="data:image"))
    path = export.save_as_session(v, rows, tmp_path, "images", sel)
    out = open_session(path)
    assert out.table.column("payload").to_pylist() == v.payloads(rows)
