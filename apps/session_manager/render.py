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


def _leaf(value: Any) -> html.Span:
    if isinstance(value, str):
        text = value
        if len(text) > MAX_LEAF_CHARS:
            text = f"{text[:MAX_LEAF_CHARS]}… ({len(value):,} chars)"
        return html.Span(json.dumps(text, ensure_ascii=False), className="jt-str")
    if isinstance(value, bool) or value is None:
        return html.Span(json.dumps(value), className="jt-lit")
    return html.Span(json.dumps(value), className="jt-num")


def json_tree(value: Any, *, open_depth: int = 2) -> html.Div:
    """A collapsible tree of a JSON value (objects and arrays fold; at most 1500 nodes)."""
    budget = [MAX_TREE_NODES]

    def node(key: str | None, v: Any, depth: int) -> Any:
        budget[0] -= 1
        label = [html.Span(f"{key}: ", className="jt-key")] if key is not None else []
        if budget[0] <= 0:
            return html.Div([*label, html.Span("… (tree truncated)", className="text-muted")])
        if isinstance(v, dict | list):
            items = list(v.items()) if isinstance(v, dict) else list(enumerate(v))
            brace = f"{{{len(items)} keys}}" if isinstance(v, dict) else f"[{len(items)} items]"
            children = [node(str(k), item, depth + 1) for k, item in items if budget[0] > 0]
            if budget[0] <= 0 and len(children) < len(items):
                children.append(html.Div("…", className="text-muted"))
            return html.Details(
                [
                    html.Summary([*label, html.Span(brace, className="jt-brace")]),
                    html.Div(children, className="jt-children"),
                ],
                open=depth < open_depth,
            )
        return html.Div([*label, _leaf(v)], className="jt-leaf")

    return html.Div(node(None, value, 0), className="json-tree")


def diff_view(lines: Sequence[tuple[str, str]]) -> html.Pre:
    """A unified diff, one span per line, coloured by kind (text only)."""
    cls = {"+": "diff-add", "-": "diff-del", "@": "diff-hunk", " ": "diff-ctx"}
    return html.Pre(
        [html.Span(line + "\n", className=cls.get(kind, "diff-ctx")) for kind, line in lines],
        className="payload-pre diff",
    )


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
