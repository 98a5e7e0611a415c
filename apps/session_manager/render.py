"""Small component builders shared by the pages.

Payload text only ever becomes the *text* of components (``html.Pre``, ``html.Span``), which
React escapes; nothing here produces HTML from data, and ``dcc.Markdown`` is never used for
payloads.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import dash_bootstrap_components as dbc
from dash import html

MAX_TREE_NODES = 1500
MAX_LEAF_CHARS = 300


# ag-grid value formatters (assets/dashAgGridFunctions.js): columns keep raw numbers, so they
# sort as numbers, and only their display gets separators and units.
INT_FORMAT = {"function": "smInt(params.value)"}
BYTES_FORMAT = {"function": "smBytes(params.value)"}
DURATION_FORMAT = {"function": "smDuration(params.value)"}


def fixed_format(digits: int) -> dict[str, str]:
    return {"function": f"smFixed(params.value, {digits})"}


TOPIC_SHOWN = 120  # characters of a topic drawn in tables, trees and lanes
TOPIC_TITLE = 2000  # characters of a topic in a hover title


def elide_middle(text: str, limit: int = TOPIC_SHOWN) -> str:
    """``text`` cut to ``limit`` characters in the middle ("module/v1/ff/…/instantAction"):
    MQTT allows 65,535-byte topics, and a browser must never lay out megabytes of labels.
    The head and the tail (where topics differ) stay."""
    if len(text) <= limit:
        return text
    head = (limit - 1) // 2
    return text[:head] + "…" + text[len(text) - (limit - 1 - head) :]


def unique_labels(names: Sequence[str], limit: int = TOPIC_SHOWN) -> list[str]:
    """Elided labels that stay distinct (a number is added where two elide alike)."""
    out: list[str] = []
    seen: dict[str, int] = {}
    for name in names:
        label = elide_middle(name, limit)
        n = seen.get(label, 0)
        seen[label] = n + 1
        out.append(label if n == 0 else f"{label} ({n + 1})")
    return out


def fmt_bytes(n: float | None) -> str:
    if n is None:
        return "–"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = max(float(seconds), 0.0)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{sec:02d}" if hours else f"{minutes}:{sec:02d} min"


def fmt_seconds(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def fmt_time_us(us: int | None, tz: str | None = None) -> str:
    """µs UTC → ``YYYY-MM-DD HH:MM:SS.mmm`` (UTC, or local to ``tz`` with its abbreviation)."""
    if us is None:
        return "–"
    moment = datetime.fromtimestamp(us / 1e6, tz=UTC)
    if tz:
        local = moment.astimezone(ZoneInfo(tz))
        return local.strftime("%Y-%m-%d %H:%M:%S ") + (local.tzname() or "")
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _leaf(value: Any) -> tuple[str, str]:
    """(class, text) of a JSON leaf as the tree shows it."""
    if isinstance(value, str):
        text = value
        if len(text) > MAX_LEAF_CHARS:
            text = f"{text[:MAX_LEAF_CHARS]}… ({len(value):,} chars)"
        return "jt-str", json.dumps(text, ensure_ascii=False)
    if isinstance(value, bool) or value is None:
        return "jt-lit", json.dumps(value)
    return "jt-num", json.dumps(value)


def json_tree(value: Any, *, open_depth: int = 2) -> list[Any]:
    """A collapsible tree of a JSON value as data (at most 1500 nodes), drawn in the browser by
    ``assets/inspector.js`` with text only. A node is ``["leaf", key, class, text]``,
    ``["cut", key]`` (the budget ran out) or ``["node", key, brace, open, children, more]``
    (objects and arrays; ``more`` when children were cut)."""
    budget = [MAX_TREE_NODES]

    def node(key: str | None, v: Any, depth: int) -> list[Any]:
        budget[0] -= 1
        if budget[0] <= 0:
            return ["cut", key]
        if isinstance(v, dict | list):
            items = list(v.items()) if isinstance(v, dict) else list(enumerate(v))
            brace = f"{{{len(items)} keys}}" if isinstance(v, dict) else f"[{len(items)} items]"
            children = [node(str(k), item, depth + 1) for k, item in items if budget[0] > 0]
            return ["node", key, brace, depth < open_depth, children, len(children) < len(items)]
        return ["leaf", key, *_leaf(v)]

    return node(None, value, 0)


DIFF_CLASSES = {"+": "diff-add", "-": "diff-del", "@": "diff-hunk", " ": "diff-ctx"}


def diff_view(lines: Sequence[tuple[str, str]]) -> list[list[str]]:
    """A unified diff as ``[class, line]`` pairs (coloured by kind, drawn as text)."""
    return [[DIFF_CLASSES.get(kind, "diff-ctx"), line] for kind, line in lines]


def kv_table(pairs: Sequence[tuple[str, Any]]) -> dbc.Table:
    return dbc.Table(
        html.Tbody(
            [html.Tr([html.Th(k, className="text-nowrap"), html.Td(str(v))]) for k, v in pairs]
        ),
        size="sm",
        className="kv-table mb-2",
    )


def alert(message: str, color: str = "danger") -> dbc.Alert:
    return dbc.Alert(message, color=color, className="py-2 mb-2", dismissable=True)
