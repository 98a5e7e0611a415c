"""The timeline of topics over time, aggregated on the server for what the screen can show.

:func:`aggregate` looks only at the visible time range: when it holds at most ``max_points``
messages they come back one by one (hover shows topic, time, size; a click selects one);
otherwise they are counted per lane and time bucket, with about one bucket per 4 screen pixels
and at most ``MAX_CELLS`` cells, so the figure stays small (well under 1 MB) at any zoom level
and for any session size. The page calls it again on every zoom (``relayoutData``).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from apps.session_manager import clock
from apps.session_manager.analysis import IntArray, SessionView, window_slice
from apps.session_manager.render import unique_labels
from mqtt_replay.statistics import bucket_counts
from mqtt_replay.topics import category

MAX_POINTS = 5000
_TS_MIN, _TS_MAX = -(2**63), 2**63 - 1
MAX_CELLS = 50_000
LaneBy = Literal["topic", "category"]
CATEGORY_COLORS = (
    "#0d6efd",
    "#198754",
    "#dc3545",
    "#fd7e14",
    "#6f42c1",
    "#20c997",
    "#6c757d",
    "#d63384",
)


@dataclass
class Timeline:
    """The aggregated view of one visible range (µs, inclusive)."""

    mode: Literal["empty", "points", "buckets"]
    lane_by: LaneBy
    lanes: list[str]
    x0: int
    x1: int
    total: int = 0
    # points: one entry per message
    point_ts: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    point_lane: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    point_row: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    point_size: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    # buckets: counts[lane, bucket]; bucket i covers [edges[i], edges[i+1])
    edges: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    counts: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros((0, 0), np.int64))

    @property
    def buckets(self) -> int:
        return int(self.counts.shape[1]) if self.counts.ndim == 2 else 0

    def meta(self) -> dict[str, Any]:
        """What the page keeps to map a click back to messages."""
        return {
            "mode": self.mode,
            "lane_by": self.lane_by,
            "x0": self.x0,
            "x1": self.x1,
            "buckets": self.buckets,
            # the labels the figure uses (elided: a lane may be a 65,535-byte topic)
            "lanes": unique_labels(self.lanes),
        }


def _present_codes(view: SessionView, rows: IntArray) -> IntArray:
    """The topic codes that occur in ``rows`` (one pass in the Rust core)."""
    if not len(rows):
        return np.zeros(0, np.int64)
    n = len(view.topics)
    per_topic, _ = bucket_counts(
        view.codes, view.ts, view.rows_arg(rows), np.arange(n), _TS_MIN, _TS_MAX, max(n, 1), 1
    )
    return np.flatnonzero(per_topic[:, 0])


def lane_index(
    view: SessionView, rows: IntArray, lane_by: LaneBy, present: IntArray | None = None
) -> tuple[list[str], IntArray]:
    """Lane names (sorted by category, then topic) of the topics in ``rows`` and, per topic
    code, its lane (or -1). ``present``: the topic codes in ``rows`` when already known."""
    if present is None:
        present = _present_codes(view, rows)
    lane_of_code = np.full(len(view.topics), -1, dtype=np.int64)
    if lane_by == "category":
        names = sorted({category(view.topics[c]) for c in present}, key=str.lower)
        pos = {n: i for i, n in enumerate(names)}
        for c in present:
            lane_of_code[c] = pos[category(view.topics[c])]
    else:
        ordered = sorted(present, key=lambda c: (category(view.topics[c]).lower(), view.topics[c]))
        names = [view.topics[c] for c in ordered]
        for i, c in enumerate(ordered):
            lane_of_code[c] = i
    return names, lane_of_code


def _visible_rows(
    view: SessionView, rows: IntArray, visible: tuple[int, int] | None
) -> tuple[IntArray, int, int]:
    """The rows inside ``visible`` (default: the span of ``rows``) and the range itself.

    Sessions in time order (nearly all) take binary searches instead of a pass over ``rows``."""
    ascending = view.rows_arg(rows) is None or bool(np.all(rows[1:] > rows[:-1]))
    if view.time_ordered and len(rows) > 0 and ascending:
        if visible is None:
            x0, x1 = int(view.ts[rows[0]]), int(view.ts[rows[-1]])
        else:
            x0, x1 = int(min(visible)), int(max(visible))
        lo, hi = window_slice(view, (x0, x1))
        i, j = np.searchsorted(rows, [lo, hi], side="left")
        return rows[i:j], x0, x1
    ts_all = view.ts[rows]
    if visible is None:
        x0, x1 = int(ts_all.min()), int(ts_all.max())
    else:
        x0, x1 = int(min(visible)), int(max(visible))
    return rows[(ts_all >= x0) & (ts_all <= x1)], x0, x1


def aggregate(
    view: SessionView,
    rows: IntArray,
    *,
    lane_by: LaneBy = "topic",
    visible: tuple[int, int] | None = None,
    width_px: int = 1200,
    max_points: int = MAX_POINTS,
    present: IntArray | None = None,
) -> Timeline:
    """Aggregates the selected ``rows`` inside ``visible`` (default: their whole span).

    Lanes come from all of ``rows`` so that they stay put while zooming (``present``: the
    topic codes in ``rows``, when the caller knows them).
    """
    lanes, lane_of_code = lane_index(view, rows, lane_by, present)
    if len(rows) == 0:
        return Timeline("empty", lane_by, lanes, 0, 0)
    vis_rows, x0, x1 = _visible_rows(view, rows, visible)
    if len(vis_rows) == 0:
        return Timeline("empty", lane_by, lanes, x0, x1)
    if len(vis_rows) <= max_points:
        return Timeline(
            "points",
            lane_by,
            lanes,
            x0,
            x1,
            len(vis_rows),
            point_ts=view.ts[vis_rows],
            point_lane=lane_of_code[view.codes[vis_rows]],
            point_row=vis_rows,
            point_size=view.sizes[vis_rows],
        )
    nl = max(len(lanes), 1)
    nb = int(np.clip(width_px // 4, 20, 400))
    nb = max(min(nb, MAX_CELLS // nl), 4)
    span = max(x1 - x0 + 1, nb)
    counts, _ = bucket_counts(
        view.codes, view.ts, view.rows_arg(vis_rows), lane_of_code, x0, x1, nl, nb
    )
    edges = x0 + (np.arange(nb + 1, dtype=np.int64) * span) // nb
    return Timeline(
        "buckets",
        lane_by,
        lanes,
        x0,
        x1,
        len(vis_rows),
        edges=edges,
        counts=counts.astype(np.int64),
    )


def typed(values: npt.NDArray[Any]) -> dict[str, str]:
    """A numeric array as Plotly.js's typed-array form (base64 of its bytes): a 1M-point
    trace is a few MB instead of a list of decimal numbers to print and parse."""
    arr = np.ascontiguousarray(values)
    kinds = {"f8": np.float64, "f4": np.float32, "i4": np.int32, "u4": np.uint32}
    dtype = next((k for k, t in kinds.items() if arr.dtype == t), None)
    if dtype is None:
        arr, dtype = arr.astype(np.float64), "f8"
    out = {"dtype": dtype, "bdata": base64.b64encode(arr.tobytes()).decode("ascii")}
    if arr.ndim > 1:
        out["shape"] = ",".join(str(n) for n in arr.shape)
    return out


def marker_trace(
    tl: Timeline, view: SessionView | None, selected: int | None, tz: str = clock.UTC_NAME
) -> dict[str, Any]:
    """The ring around the selected message (empty when it is not in the figure). Always the
    figure's last trace, so that selecting another message replaces only this trace."""
    x: list[float] = []
    y: list[str] = []
    if view is not None and selected is not None and 0 <= selected < len(view):
        topic = view.topic_of(selected)
        key = topic if tl.lane_by == "topic" else category(topic)
        if key in tl.lanes and tl.x0 <= view.ts[selected] <= tl.x1:
            x = [float(clock.wall_ms(np.array([view.ts[selected]]), tz)[0])]
            y = [unique_labels(tl.lanes)[tl.lanes.index(key)]]
    return {
        "type": "scatter",
        "x": x,
        "y": y,
        "mode": "markers",
        "marker": {
            "size": 15,
            "color": "rgba(0,0,0,0)",
            "line": {"width": 2.5, "color": "#dc3545"},
        },
        "hoverinfo": "skip",
        "name": "selected",
    }


def figure(
    tl: Timeline,
    view: SessionView | None = None,
    selected: int | None = None,
    tz: str = clock.UTC_NAME,
) -> dict[str, Any]:
    """A compact Plotly figure of ``tl``: date x axis (wall clock of zone ``tz``), one
    categorical y lane per topic (or category); lanes without messages in the visible range
    stay in place; the selected message ringed by the last trace.

    A plain dict with typed arrays: ``go.Figure`` validated every array and took about
    100 ms a draw on the server, and its lists took the browser as long again to parse."""

    def _ms(us: IntArray | int) -> Any:
        return clock.wall_ms(us, tz)

    zone = clock.abbreviation(tl.x0, tz)
    if tl.mode == "empty":
        return blank_figure(
            "No messages in this range: widen the time window, switch topics on, "
            "clear the text filter or turn the pre-filter off."
        )
    nl = max(len(tl.lanes), 1)
    # Lanes are drawn by their elided labels, never by the full topic text.
    labels = unique_labels(tl.lanes)
    data: list[dict[str, Any]] = []
    if tl.lanes:  # pins every lane on the axis, also those empty in this range
        data.append(
            {
                "type": "scatter",
                "x": [float(_ms(tl.x0).item())] * len(tl.lanes),
                "y": labels,
                "mode": "markers",
                "marker": {"opacity": 0},
                "hoverinfo": "skip",
                "name": "lanes",
            }
        )
    if tl.mode == "points":
        cats = [category(n) for n in tl.lanes] if tl.lane_by == "topic" else tl.lanes
        order = sorted(set(cats))
        palette = {c: CATEGORY_COLORS[i % len(CATEGORY_COLORS)] for i, c in enumerate(order)}
        lane_cat = np.array([order.index(c) for c in cats], dtype=np.int64)
        point_cat = lane_cat[tl.point_lane]
        lane_names = np.array(labels, dtype=object)
        # one trace per category with one colour: no per-point colour strings
        for ci, cat in enumerate(order):
            pick = np.flatnonzero(point_cat == ci)
            if not len(pick):
                continue
            data.append(
                {
                    "type": "scattergl",
                    "x": typed(_ms(tl.point_ts[pick])),
                    "y": lane_names[tl.point_lane[pick]].tolist(),
                    "mode": "markers",
                    "marker": {"size": 7, "color": palette[cat], "opacity": 0.85},
                    # plain lists: WebGL traces pass typed-array customdata to neither hover
                    # nor click events
                    "customdata": np.column_stack(
                        [tl.point_row[pick], tl.point_size[pick]]
                    ).tolist(),
                    "hovertemplate": (
                        "%{y}<br>%{x|%Y-%m-%d %H:%M:%S.%L} " + zone + "<br>%{customdata[1]:,} bytes"
                        "<extra>#%{customdata[0]}</extra>"
                    ),
                    "name": cat,
                }
            )
    elif tl.mode == "buckets":
        centers = (tl.edges[:-1] + tl.edges[1:]) // 2
        positive = tl.counts > 0
        z = np.full(tl.counts.shape, np.nan, dtype=np.float32)
        z[positive] = np.log10(tl.counts[positive])
        top = max(float(np.nanmax(z)) if positive.any() else 1.0, 1.0)
        ticks = list(range(int(top) + 1))
        data.append(
            {
                "type": "heatmap",
                "x": typed(_ms(centers)),
                "y": labels,
                "z": typed(z),
                "customdata": typed(tl.counts.astype(np.int32)),
                "colorscale": "YlGnBu",
                "zmin": 0,
                "zmax": top,
                "colorbar": {
                    "title": {"text": "msgs"},
                    "tickvals": ticks,
                    "ticktext": [f"{10**t:,}" for t in ticks],
                    "thickness": 12,
                },
                "hovertemplate": (
                    "%{y}<br>%{x|%H:%M:%S.%L} "
                    + zone
                    + "<br>%{customdata:,} messages<extra></extra>"
                ),
                "ygap": 1,
                "name": "counts",
            }
        )
    data.append(marker_trace(tl, view, selected, tz))
    return {
        "data": data,
        "layout": {
            "height": int(np.clip(110 + 18 * nl, 240, 900)),
            "margin": {"l": 10, "r": 10, "t": 30, "b": 40},
            "showlegend": False,
            "uirevision": "timeline",
            "dragmode": "zoom",
            "plot_bgcolor": "#fbfcfe",
            "title": {"text": _title(tl, tz), "font": {"size": 12}, "x": 0.01, "y": 0.99},
            "xaxis": {
                "type": "date",
                "range": [float(_ms(tl.x0).item()), float(_ms(tl.x1).item())],
                "title": clock.axis_title(tz),
                "gridcolor": "#e9ecef",
            },
            "yaxis": {
                "type": "category",
                "categoryorder": "array",
                "categoryarray": labels,
                "tickvals": labels,
                "ticktext": [_short(n) for n in labels],
                "range": [len(tl.lanes) - 0.5, -0.5],
                "fixedrange": True,
                "automargin": True,
                "tickfont": {"size": 10},
            },
        },
    }


def blank_figure(text: str) -> dict[str, Any]:
    """A figure without axes that only says ``text`` (no made-up axis ranges).

    A plain dict: building it through ``go.Figure`` validates every property and cost a
    quarter of a second on each open of the page."""
    return {
        "data": [],
        "layout": {
            "height": 240,
            "margin": {"l": 10, "r": 10, "t": 10, "b": 10},
            "plot_bgcolor": "#fbfcfe",
            "xaxis": {"visible": False},
            "yaxis": {"visible": False},
            "annotations": [
                {
                    "text": text,
                    "showarrow": False,
                    "xref": "paper",
                    "yref": "paper",
                    "x": 0.5,
                    "y": 0.5,
                    "font": {"size": 13, "color": "#5b6675"},
                }
            ]
            if text
            else [],
        },
    }


def _title(tl: Timeline, tz: str) -> str:
    if tl.mode == "empty":
        return "no messages in this range"
    what = "individual messages" if tl.mode == "points" else f"counts in {tl.buckets} time buckets"
    return f"{tl.total:,} messages in {clock.fmt(tl.x0, tz)} … {clock.fmt(tl.x1, tz)} — {what}"


def _short(name: str, limit: int = 44) -> str:
    """Long topics elided in the middle: the start and the distinguishing end stay."""
    if len(name) <= limit:
        return name
    head = (limit - 1) // 3
    return name[:head] + "…" + name[-(limit - 1 - head) :]


# -- browser events ---------------------------------------------------------------------------


def parse_plotly_time(value: Any) -> int:
    """A Plotly date (``"2026-04-09 06:22:35.863"``, ISO text or ms number) → µs UTC."""
    if isinstance(value, int | float):
        return int(float(value) * 1000)
    text = str(value).strip().replace("T", " ").rstrip("Z")
    if "." in text:
        head, frac = text.split(".", 1)
        text = f"{head}.{(frac + '000000')[:6]}"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1_000_000)


def parse_relayout(
    relayout: Mapping[str, Any] | None, tz: str = clock.UTC_NAME
) -> tuple[int, int] | Literal["reset"] | None:
    """The new visible range (µs UTC) of a ``relayoutData`` event on an axis drawn in zone
    ``tz``, ``"reset"`` for an autorange, or None when the event does not touch the x axis."""
    if not relayout:
        return None
    if relayout.get("xaxis.autorange"):
        return "reset"
    if "xaxis.range[0]" in relayout and "xaxis.range[1]" in relayout:
        lo, hi = relayout["xaxis.range[0]"], relayout["xaxis.range[1]"]
    elif isinstance(relayout.get("xaxis.range"), list) and len(relayout["xaxis.range"]) == 2:
        lo, hi = relayout["xaxis.range"]
    else:
        return None
    a = clock.from_wall_us(parse_plotly_time(lo), tz)
    b = clock.from_wall_us(parse_plotly_time(hi), tz)
    return (min(a, b), max(a, b))


def row_at_click(
    view: SessionView,
    rows: IntArray,
    meta: Mapping[str, Any],
    point: Mapping[str, Any],
    tz: str = clock.UTC_NAME,
) -> int | None:
    """The message a click on the timeline means: the point's row, or for a count cell the
    first message of that lane in that bucket."""
    custom = point.get("customdata")
    if meta.get("mode") == "points" and isinstance(custom, list) and custom:
        return int(custom[0])
    if meta.get("mode") not in ("points", "buckets"):
        return None
    lanes: list[str] = list(meta.get("lanes", []))
    try:
        lane = lanes.index(str(point["y"]))
        center = clock.from_wall_us(parse_plotly_time(point["x"]), tz)
    except (KeyError, TypeError, ValueError):
        return None
    if meta.get("mode") == "points":
        # WebGL points report only x and y: the message of that lane nearest the cursor
        return _nearest_in_lane(view, rows, meta, lane, center)
    x0, x1, nb = int(meta["x0"]), int(meta["x1"]), max(int(meta["buckets"]), 1)
    span = max(x1 - x0 + 1, nb)
    b = int(np.clip((center - x0) * nb // span, 0, nb - 1))
    lo, hi = x0 + (b * span + nb - 1) // nb, x0 + ((b + 1) * span + nb - 1) // nb
    _, lane_of_code = lane_index(view, rows, meta.get("lane_by", "topic"))
    ts = view.ts[rows]
    hit = rows[(ts >= lo) & (ts < hi) & (lane_of_code[view.codes[rows]] == lane)]
    return int(hit[0]) if len(hit) else None


def _nearest_in_lane(
    view: SessionView, rows: IntArray, meta: Mapping[str, Any], lane: int, at_us: int
) -> int | None:
    x0, x1 = int(meta.get("x0", _TS_MIN)), int(meta.get("x1", _TS_MAX))
    _, lane_of_code = lane_index(view, rows, meta.get("lane_by", "topic"))
    ts = view.ts[rows]
    hit = rows[(lane_of_code[view.codes[rows]] == lane) & (ts >= x0) & (ts <= x1)]
    if not len(hit):
        return None
    return int(hit[int(np.argmin(np.abs(view.ts[hit] - at_us)))])
