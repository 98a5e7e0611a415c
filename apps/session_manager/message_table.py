"""Rows for the message table (dash-ag-grid, infinite row model).

The grid asks for blocks (``startRow``/``endRow``) with its sort and filter models; this module
answers with just that block plus ``rowCount`` (so the scrollbar knows the end). The ordered
row numbers for one (selection, sort, filter) are computed once with NumPy and memoised in the
session view; a block then costs one slice and, for its ≤ 100 rows, one payload read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from apps.session_manager import clock
from apps.session_manager.analysis import IntArray, Selection, SessionView, rows_matching_text
from apps.session_manager.render import elide_middle
from mqtt_replay.statistics import sort_rows

PREVIEW_CHARS = 160
MAX_BLOCK = 1000

# ag-grid column definitions: ids the query understands, filters it can answer.
COLUMN_DEFS: list[dict[str, Any]] = [
    {
        "field": "row",
        "headerName": "#",
        "width": 80,
        "sortable": True,
        "filter": False,
        "valueFormatter": {"function": "smInt(params.value)"},
    },
    {
        "field": "time",
        "headerName": "time",
        "width": 150,
        "sortable": True,
        "filter": False,
        "tooltipField": "date",
    },
    {
        "field": "offset",
        "headerName": "t+ s",
        "width": 80,
        "sortable": True,
        "filter": "agNumberColumnFilter",
        "filterParams": {"filterOptions": ["greaterThanOrEqual", "lessThanOrEqual", "inRange"]},
    },
    {
        "field": "topic",
        "headerName": "topic",
        "flex": 1,
        "minWidth": 200,
        "tooltipField": "topic",
        "valueFormatter": {"function": "smElide(params.value, 36)"},
        "sortable": True,
        "filter": "agTextColumnFilter",
        "filterParams": {"filterOptions": ["contains", "notContains", "equals", "startsWith"]},
    },
    {
        "field": "size",
        "headerName": "bytes",
        "width": 80,
        "type": "numericColumn",
        "valueFormatter": {"function": "smInt(params.value)"},
        "sortable": True,
        "filter": False,
    },
    {"field": "retain", "headerName": "R", "width": 40, "sortable": False, "filter": False},
    {
        "field": "preview",
        "headerName": "payload",
        "flex": 1,
        "minWidth": 200,
        "tooltipField": "preview",
        "sortable": False,
        "filter": "agTextColumnFilter",
        "filterParams": {"filterOptions": ["contains"], "maxNumConditions": 1},
    },
]


def column_defs(tz: str) -> list[dict[str, Any]]:
    """The columns with the time column labelled with the zone its times are in."""
    return [{**c, "headerName": f"time ({tz})"} if c["field"] == "time" else c for c in COLUMN_DEFS]


class QueryError(ValueError):
    """The grid asked for something this table cannot answer."""


def _topic_condition(view: SessionView, cond: Mapping[str, Any]) -> np.ndarray[Any, Any]:
    """Per topic code: does the topic pass a text condition?"""
    kind = cond.get("type", "contains")
    needle = str(cond.get("filter") or "").lower()
    topics = [t.lower() for t in view.topics]
    tests: dict[str, Callable[[str], bool]] = {
        "contains": lambda t: needle in t,
        "notContains": lambda t: needle not in t,
        "equals": lambda t: t == needle,
        "notEqual": lambda t: t != needle,
        "startsWith": lambda t: t.startswith(needle),
        "endsWith": lambda t: t.endswith(needle),
    }
    if kind not in tests:
        raise QueryError(f"unsupported topic filter {kind!r}")
    return np.array([tests[kind](t) for t in topics], dtype=bool)


def _conditions(model: Mapping[str, Any]) -> tuple[str, list[Mapping[str, Any]]]:
    if "conditions" in model:
        return str(model.get("operator", "AND")).upper(), list(model["conditions"])
    return "AND", [model]


def _apply_topic(view: SessionView, rows: IntArray, model: Mapping[str, Any]) -> IntArray:
    op, conds = _conditions(model)
    masks = [_topic_condition(view, c) for c in conds]
    keep = np.asarray(
        np.logical_or.reduce(masks) if op == "OR" else np.logical_and.reduce(masks), dtype=bool
    )
    picked: IntArray = rows[keep[view.codes[rows]]]
    return picked


def _number_mask(values: np.ndarray[Any, Any], cond: Mapping[str, Any]) -> np.ndarray[Any, Any]:
    kind = cond.get("type")
    a = cond.get("filter")
    b = cond.get("filterTo")
    if a is None:
        return np.ones(len(values), dtype=bool)
    a = float(a)
    out: np.ndarray[Any, Any]
    if kind == "greaterThanOrEqual":
        out = values >= a
        return out
    if kind == "greaterThan":
        out = values > a
        return out
    if kind == "lessThanOrEqual":
        out = values <= a
        return out
    if kind == "lessThan":
        out = values < a
        return out
    if kind == "equals":
        out = values == a
        return out
    if kind == "inRange" and b is not None:
        out = (values >= a) & (values <= float(b))
        return out
    raise QueryError(f"unsupported number filter {kind!r}")


def _apply_offset(view: SessionView, rows: IntArray, model: Mapping[str, Any]) -> IntArray:
    op, conds = _conditions(model)
    offsets = (view.ts[rows] - view.start_us) / 1e6
    masks = [_number_mask(offsets, c) for c in conds]
    keep = np.asarray(
        np.logical_or.reduce(masks) if op == "OR" else np.logical_and.reduce(masks), dtype=bool
    )
    picked: IntArray = rows[keep]
    return picked


def apply_filter_model(view: SessionView, rows: IntArray, model: Mapping[str, Any]) -> IntArray:
    """Applies the grid's filter model (topic text, offset numbers, payload text)."""
    for col, spec in sorted((model or {}).items()):
        if col == "topic":
            rows = _apply_topic(view, rows, spec)
        elif col == "offset":
            rows = _apply_offset(view, rows, spec)
        elif col == "preview":
            _, conds = _conditions(spec)
            for cond in conds:
                rows = rows_matching_text(view, rows, str(cond.get("filter") or ""))
        else:
            raise QueryError(f"column {col!r} cannot be filtered")
    return rows


def _sort_column(view: SessionView, col: object) -> np.ndarray[Any, Any]:
    """The whole session's sort key of a grid column (indexed by row number)."""
    if col in ("time", "offset"):
        return view.ts
    if col == "row":
        return np.arange(len(view), dtype=np.int64)
    if col == "size":
        return view.sizes
    if col == "topic":
        rank = np.argsort(np.argsort(np.array(view.topics, dtype=object)))
        return rank[view.codes]
    raise QueryError(f"column {col!r} cannot be sorted")


def apply_sort_model(
    view: SessionView, rows: IntArray, sort: Sequence[Mapping[str, Any]]
) -> IntArray:
    """Orders rows by the grid's sort model (stable; file order breaks ties)."""
    if not sort:
        return rows
    if len(sort) == 1:  # the usual case: one parallel stable sort in the Rust core
        col, desc = sort[0].get("colId"), sort[0].get("sort") == "desc"
        if col == "row":
            return np.sort(rows)[::-1].copy() if desc else np.sort(rows)
        column = _sort_column(view, col)
        # The whole session sorted once per column and direction; a selection's order is that
        # order filtered by the selection (a stable sort restricted to a subset stays one), so
        # a filter change while sorted costs a pass, not a sort.
        everything = view.memo.get(
            ("sorted-all", col, desc),
            lambda: sort_rows(column, np.arange(len(view), dtype=np.int64), descending=desc),
        )
        if len(rows) == len(view):
            return everything
        member = np.zeros(len(view), dtype=bool)
        member[rows] = True
        return everything[member[everything]]
    keys: list[np.ndarray[Any, Any]] = []
    for item in reversed(list(sort)):  # lexsort: last key is primary
        key = _sort_column(view, item.get("colId"))[rows]
        keys.append(-key if item.get("sort") == "desc" else key)
    return rows[np.lexsort([rows, *keys])]


def ordered_rows(
    view: SessionView,
    base: IntArray,
    sel: Selection,
    sort: Sequence[Mapping[str, Any]] | None,
    filters: Mapping[str, Any] | None,
) -> IntArray:
    """The rows of the table for a selection + grid sort/filter, memoised per query."""
    key = ("table", sel, repr(sort or []), repr(sorted((filters or {}).items())))

    def make() -> IntArray:
        rows = apply_filter_model(view, base, filters or {})
        return apply_sort_model(view, rows, sort or [])

    return view.memo.get(key, make)


def iso_utc(us: int) -> str:
    return datetime.fromtimestamp(us / 1e6, tz=UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"


def build_rows(view: SessionView, rows: IntArray, tz: str = clock.UTC_NAME) -> list[dict[str, Any]]:
    """Display rows for a block: number, time, offset, topic, size, retain, payload preview."""
    payloads = view.payloads(rows) if len(rows) else []
    start = view.start_us
    out = []
    for r, text in zip(rows.tolist(), payloads, strict=True):
        out.append(
            {
                "rid": str(r),  # the grid's row id: stable across sorts, filters and scrolls
                "row": r,
                "time": clock.fmt(int(view.ts[r]), tz, date=False, label=False)
                if view.ts_valid[r]
                else "",
                "date": clock.fmt(int(view.ts[r]), tz) if view.ts_valid[r] else "no timestamp",
                "offset": round((int(view.ts[r]) - start) / 1e6, 3),
                "topic": elide_middle(view.topic_of(r)),
                "size": int(view.sizes[r]),
                "retain": "R" if view.retain[r] else "",
                "preview": text[:PREVIEW_CHARS] + ("…" if len(text) > PREVIEW_CHARS else ""),
            }
        )
    return out


def position_of(
    view: SessionView, base: IntArray, sel: Selection, request: Mapping[str, Any], row: int
) -> int | None:
    """Where message ``row`` sits in the table for the grid's last sort and filter (to scroll
    it into view), or None when the table does not show it."""
    rows = ordered_rows(view, base, sel, request.get("sortModel"), request.get("filterModel"))
    if not request.get("sortModel"):  # file order: a binary search
        i = int(np.searchsorted(rows, row))
        return i if i < len(rows) and int(rows[i]) == row else None
    hit = np.flatnonzero(rows == row)
    return int(hit[0]) if len(hit) else None


def answer(
    view: SessionView,
    base: IntArray,
    sel: Selection,
    request: Mapping[str, Any],
    tz: str = clock.UTC_NAME,
) -> dict[str, Any]:
    """The ``getRowsResponse`` for a ``getRowsRequest``: ``{"rowData": [...], "rowCount": n}``."""
    start = max(int(request.get("startRow") or 0), 0)
    end = int(request.get("endRow") or start + 100)
    end = min(max(end, start), start + MAX_BLOCK)
    rows = ordered_rows(view, base, sel, request.get("sortModel"), request.get("filterModel"))
    return {"rowData": build_rows(view, rows[start:end], tz), "rowCount": len(rows)}
