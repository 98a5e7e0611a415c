"""Timeline aggregation (points vs buckets, size bounds, clicks) and the message table queries."""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pytest
from apps.session_manager.analysis import Selection, SessionView
from sm_helpers import PLANT_MESSAGES, synthetic_view

from apps.session_manager import analysis as an
from apps.session_manager import message_table as mt
from apps.session_manager import timeline as tl


def test_sparse_range_gives_individual_points(plant_view: SessionView) -> None:
    rows = an.selected_rows(plant_view, Selection())
    t = tl.aggregate(plant_view, rows)
    assert t.mode == "points" and t.total == len(rows)
    assert set(t.point_row.tolist()) == set(rows.tolist())
    assert [t.lanes[i] for i in t.point_lane[:5]] == [
        plant_view.topic_of(r) for r in t.point_row[:5]
    ]
    fig = json.loads(json.dumps(tl.figure(t, plant_view, int(rows[0]))))
    assert any(tr.get("name") == "selected" for tr in fig["data"])


def test_dense_range_is_counted_per_lane_and_bucket(
    make_synthetic: Callable[..., SessionView],
) -> None:
    view = make_synthetic(300_000, 120)
    rows = np.arange(len(view), dtype=np.int64)
    t = tl.aggregate(view, rows, width_px=1600)
    assert t.mode == "buckets"
    assert int(t.counts.sum()) == len(view)
    assert t.counts.shape == (120, t.buckets) and t.counts.size <= tl.MAX_CELLS
    # every message lands in its own lane and bucket
    lane_names, lane_of = tl.lane_index(view, rows, "topic")
    per_lane = np.bincount(lane_of[view.codes], minlength=len(lane_names))
    assert np.array_equal(t.counts.sum(axis=1), per_lane)


@pytest.mark.parametrize(("messages", "topics"), [(1_000_000, 400), (200_000, 3)])
def test_figure_stays_small_at_any_zoom(
    make_synthetic: Callable[..., SessionView], messages: int, topics: int
) -> None:
    view = make_synthetic(messages, topics, seconds=86_400.0)
    rows = np.arange(len(view), dtype=np.int64)
    spans = [
        None,
        (view.start_us, view.start_us + 3_600_000_000),
        (view.start_us, view.start_us + 10_000_000),
    ]
    for visible in spans:
        for lane_by in ("topic", "category"):
            t = tl.aggregate(view, rows, lane_by=lane_by, visible=visible, width_px=2400)  # type: ignore[arg-type]
            size = len(json.dumps(tl.figure(t, view, 5)))
            assert size < 1_000_000, (visible, lane_by, size)


def test_zoom_switches_to_points(make_synthetic: Callable[..., SessionView]) -> None:
    view = make_synthetic(100_000, 10, seconds=1000.0)
    rows = np.arange(len(view), dtype=np.int64)
    assert tl.aggregate(view, rows).mode == "buckets"
    narrow = (view.start_us + 10_000_000, view.start_us + 11_000_000)
    t = tl.aggregate(view, rows, visible=narrow)
    assert t.mode == "points"
    assert ((t.point_ts >= narrow[0]) & (t.point_ts <= narrow[1])).all()
    assert t.total == int(((view.ts >= narrow[0]) & (view.ts <= narrow[1])).sum())


def test_relayout_parsing() -> None:
    us = tl.parse_plotly_time("2026-04-09 06:22:35.863")
    assert us == 1775715755863000
    assert tl.parse_plotly_time("2026-04-09T06:22:35.863123Z") == 1775715755863123
    assert tl.parse_plotly_time(1775715755863.0) == us
    assert tl.parse_relayout(
        {"xaxis.range[0]": "2026-04-09 06:22:36", "xaxis.range[1]": "2026-04-09 06:22:35.863"}
    ) == (us, 1775715756000000)
    assert tl.parse_relayout({"xaxis.autorange": True, "yaxis.autorange": True}) == "reset"
    assert tl.parse_relayout({"autosize": True}) is None
    assert tl.parse_relayout(None) is None


def test_click_maps_back_to_a_message(
    make_synthetic: Callable[..., SessionView], plant_view: SessionView
) -> None:
    rows = an.selected_rows(plant_view, Selection())
    t = tl.aggregate(plant_view, rows)
    assert tl.row_at_click(plant_view, rows, t.meta(), {"customdata": [int(rows[7]), 12]}) == int(
        rows[7]
    )
    # WebGL dots report only x and y: the message of that lane nearest the cursor
    r = int(rows[7])
    point = {"x": int(plant_view.ts[r]) / 1000.0, "y": plant_view.topic_of(r)}
    got = tl.row_at_click(plant_view, rows, t.meta(), point)
    assert got is not None and plant_view.topic_of(got) == plant_view.topic_of(r)
    assert plant_view.ts[got] == plant_view.ts[r]
    view = make_synthetic(50_000, 5, seconds=100.0)
    all_rows = np.arange(len(view), dtype=np.int64)
    t = tl.aggregate(view, all_rows)
    lane = t.lanes[2]
    center = (int(t.edges[3]) + int(t.edges[4])) // 2
    row = tl.row_at_click(view, all_rows, t.meta(), {"x": center / 1000.0, "y": lane})
    assert row is not None and view.topic_of(row) == lane
    assert t.edges[3] <= view.ts[row] < t.edges[4]


# -- message table ------------------------------------------------------------------------


def request(
    start: int = 0, end: int = 100, sort: list | None = None, filters: dict | None = None
) -> dict:  # type: ignore[type-arg]
    return {"startRow": start, "endRow": end, "sortModel": sort or [], "filterModel": filters or {}}


def test_blocks_and_row_count(plant_view: SessionView) -> None:
    sel = Selection(prefilter=False)
    base = an.selected_rows(plant_view, sel)
    first = mt.answer(plant_view, base, sel, request(0, 100))
    assert first["rowCount"] == PLANT_MESSAGES and len(first["rowData"]) == 100
    last = mt.answer(plant_view, base, sel, request(PLANT_MESSAGES - 26, PLANT_MESSAGES + 74))
    assert len(last["rowData"]) == 26 and last["rowData"][-1]["row"] == PLANT_MESSAGES - 1
    row = first["rowData"][0]
    assert row["rid"] == str(row["row"])  # the grid's row id: a string
    assert set(row) == {
        "rid",
        "row",
        "time",
        "date",
        "offset",
        "topic",
        "size",
        "retain",
        "preview",
    }
    assert row["date"] == f"2026-01-15 {row['time']} UTC"  # labelled with its zone
    berlin = mt.answer(plant_view, base, sel, request(0, 1), "Europe/Berlin")["rowData"][0]
    assert berlin["date"] == "2026-01-15 10:00:00.000 CET" and berlin["time"] == "10:00:00.000"
    assert len(row["preview"]) <= mt.PREVIEW_CHARS + 1


def test_sort_and_filters(plant_view: SessionView) -> None:
    v = plant_view
    sel = Selection(prefilter=False)
    base = an.selected_rows(v, sel)
    desc = mt.answer(v, base, sel, request(0, 50, sort=[{"colId": "time", "sort": "desc"}]))[
        "rowData"
    ]
    offsets = [r["offset"] for r in desc]
    assert offsets == sorted(offsets, reverse=True)
    by_topic = mt.answer(v, base, sel, request(0, 2000, sort=[{"colId": "topic", "sort": "asc"}]))[
        "rowData"
    ]
    assert [r["topic"] for r in by_topic] == sorted(r["topic"] for r in by_topic)
    agv = mt.answer(
        v,
        base,
        sel,
        request(
            0, 1000, filters={"topic": {"filterType": "text", "type": "contains", "filter": "5IO4"}}
        ),
    )
    assert agv["rowCount"] == sum(1 for t in v.codes if "5iO4" in v.topics[t])
    both = {
        "filterType": "text",
        "operator": "OR",
        "conditions": [
            {"type": "equals", "filter": "ccu/order/active"},
            {"type": "startsWith", "filter": "fts/"},
        ],
    }
    assert all(
        r["topic"] == "ccu/order/active" or r["topic"].startswith("fts/")
        for r in mt.answer(v, base, sel, request(0, 1000, filters={"topic": both}))["rowData"]
    )
    window = {"offset": {"filterType": "number", "type": "inRange", "filter": 10, "filterTo": 20}}
    got = mt.answer(v, base, sel, request(0, 1000, filters=window))["rowData"]
    assert got and all(10 <= r["offset"] <= 20 for r in got)
    text = {"preview": {"filterType": "text", "type": "contains", "filter": "percentage"}}
    hits = mt.answer(v, base, sel, request(0, 1000, filters=text))
    assert hits["rowCount"] > 0
    assert all("percentage" in v.payloads([r["row"]])[0].lower() for r in hits["rowData"])


def test_unsupported_queries_raise(plant_view: SessionView) -> None:
    sel = Selection()
    base = an.selected_rows(plant_view, sel)
    with pytest.raises(mt.QueryError):
        mt.answer(plant_view, base, sel, request(sort=[{"colId": "preview", "sort": "asc"}]))
    with pytest.raises(mt.QueryError):
        mt.answer(plant_view, base, sel, request(filters={"size": {"type": "equals", "filter": 1}}))


def test_table_scales_to_a_million_rows(make_synthetic: Callable[..., SessionView]) -> None:
    view = make_synthetic(1_000_000, 50)
    sel = Selection(prefilter=False)
    base = np.arange(len(view), dtype=np.int64)
    got = mt.answer(
        view, base, sel, request(999_900, 1_000_000, sort=[{"colId": "size", "sort": "desc"}])
    )
    assert got["rowCount"] == 1_000_000 and len(got["rowData"]) == 100
    sizes = [r["size"] for r in got["rowData"]]
    assert sizes == sorted(sizes, reverse=True)


@pytest.mark.parametrize("col", ["time", "size", "topic", "row"])
@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_one_key_sort_equals_the_general_sort(col: str, direction: str) -> None:
    view = synthetic_view(50_000, 7, seconds=30)  # many equal sizes and times: ties matter
    view.sizes = view.sizes % 5
    view.ts = view.ts // 1_000_000 * 1_000_000
    rows = np.arange(0, len(view), 2, dtype=np.int64)
    one = mt.apply_sort_model(view, rows, [{"colId": col, "sort": direction}])
    two = mt.apply_sort_model(
        view, rows, [{"colId": col, "sort": direction}, {"colId": "row", "sort": "asc"}]
    )
    np.testing.assert_array_equal(one, two)
    assert sorted(one.tolist()) == rows.tolist()
