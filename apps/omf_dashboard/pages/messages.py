"""Message Center: received and sent messages, newest first, with filters and payload detail.

Rows come from the bounded history (default 10k). The grid shows the newest
:data:`MAX_ROWS` matches; counts show the totals. A poll recomputes rows only when new
messages arrived, the history was cleared or a filter changed (``messages-view`` keeps the key
of what is drawn). Payloads are shown as text (grid cells and an ``html.Pre``), never as HTML.
"""

from __future__ import annotations

import json
import time
from typing import Any

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate

from apps.omf_dashboard.client import DashboardClient
from apps.omf_dashboard.history import MessageFilter, MessageRecord
from apps.omf_dashboard.payloads import NOT_JSON, parse_payload
from apps.omf_dashboard.zones import fmt

PATH = "/messages"
NAME = "Message Center"
ORDER = 1

MAX_ROWS = 300
PREVIEW_CHARS = 120
DETAIL_MAX_CHARS = 200_000
LONG_STRING = 160
ALL = "*"
ANY_TIME = "any"
TIME_WINDOWS = {
    ANY_TIME: "any time",
    "10": "last 10 s",
    "60": "last minute",
    "300": "last 5 min",
    "900": "last 15 min",
    "3600": "last hour",
}

COLUMNS = [
    {"field": "time", "headerName": "time", "width": 105},  # headerName: column_defs()
    {"field": "direction", "headerName": "dir", "width": 80},
    {"field": "category", "headerName": "category", "width": 95},
    {"field": "sub_category", "headerName": "sub-category", "width": 105},
    {
        "field": "topic",
        "headerName": "topic",
        "flex": 2,
        "minWidth": 180,
        "tooltipField": "topic",
        # A topic too long for the column loses its start, not its end: the serial and the
        # last level tell two messages apart (CSS .messages-topic); the text itself stays
        # left-to-right in a Unicode isolate, so a leading "/" keeps its place.
        "cellClass": "messages-topic",
        "valueFormatter": {"function": "'\\u2066' + (params.value ?? '') + '\\u2069'"},
    },
    {"field": "size", "headerName": "bytes", "width": 65, "type": "rightAligned"},
    {
        "field": "preview",
        "headerName": "payload",
        "flex": 3,
        "minWidth": 180,
        "tooltipField": "preview",
    },
]


def column_defs(tz: str) -> list[dict[str, Any]]:
    """The grid's columns; the time column's header names the zone its times are in, on more
    header lines when the name is long (``time`` / ``(America/Argentina/`` / ``Buenos_Aires)``,
    broken after a slash), never cut."""
    header = f"time ({tz})"
    width = min(max(105, 7 * len(tz) + 44), 160)
    return [
        {
            **c,
            "headerName": header.replace("/", "/\u200b"),  # a zero-width break opportunity
            "headerTooltip": header,
            "width": width,
            "wrapHeaderText": True,
            "autoHeaderHeight": True,
        }
        if c["field"] == "time"
        else c
        for c in COLUMNS
    ]


def _when(record: MessageRecord, tz: str, *, ms: bool, label: bool) -> str:
    return fmt(round(record.received_at * 1_000_000), tz, date=False, ms=ms, label=label)


def _select(ident: str, label: str, options: list[dict[str, str]], value: str) -> Any:
    return html.Div(
        [
            dbc.Label(label, html_for=ident, className="form-label"),
            dbc.Select(id=ident, options=options, value=value),
        ]
    )


def layout(**_query: str) -> Any:
    """Filters, counts, the message grid and the payload detail panel."""
    any_option = [{"label": "all", "value": ALL}]
    return html.Div(
        [
            dcc.Interval(id="messages-interval", interval=500),
            dcc.Store(id="messages-view", data=None),
            html.Div(
                [
                    _select(
                        "messages-direction",
                        "Direction",
                        [
                            *any_option,
                            {"label": "received", "value": "received"},
                            {"label": "sent", "value": "sent"},
                        ],
                        ALL,
                    ),
                    _select("messages-category", "Category", any_option, ALL),
                    _select("messages-subcategory", "Sub-category", any_option, ALL),
                    html.Div(
                        [
                            dbc.Label("Topic contains", html_for="messages-topic"),
                            dbc.Input(id="messages-topic", value="", debounce=0.3, type="text"),
                        ]
                    ),
                    _select(
                        "messages-time",
                        "Time",
                        [{"label": v, "value": k} for k, v in TIME_WINDOWS.items()],
                        ANY_TIME,
                    ),
                    html.Div(
                        [
                            dbc.Checkbox(
                                id="messages-hide-noisy",
                                label="hide noisy topics",
                                value=True,
                            ),
                            dbc.Button(
                                "Clear history",
                                id="messages-clear",
                                color="danger",
                                size="sm",
                                className="mt-2",
                            ),
                        ]
                    ),
                ],
                className="filters card card-body mb-2",
            ),
            html.Div(id="messages-counts", className="small mb-2"),
            html.Div(
                [
                    html.Div(
                        dag.AgGrid(
                            id="messages-grid",
                            columnDefs=COLUMNS,
                            rowData=[],
                            getRowId="params.data.seq",
                            defaultColDef={"resizable": True, "sortable": False},
                            dashGridOptions={
                                "rowSelection": {"mode": "singleRow", "checkboxes": False},
                                "animateRows": False,
                                "suppressCellFocus": True,
                            },
                            className="messages-grid",
                            style={"height": "calc(100vh - 250px)", "minHeight": "420px"},
                        ),
                        className="col-xl-8",
                    ),
                    html.Div(
                        html.Div(
                            [
                                html.Div("Payload", className="card-header"),
                                html.Div(
                                    html.Div(
                                        "Click a row to see its payload.", className="text-muted"
                                    ),
                                    id="messages-detail",
                                    className="card-body",
                                ),
                            ],
                            className="card",
                        ),
                        className="col-xl-4",
                    ),
                ],
                className="row",
            ),
        ]
    )


def row_of(record: MessageRecord, tz: str) -> dict[str, Any]:
    """A grid row: plain strings and numbers only (the grid renders them as text); the time
    in ``tz`` (the column header names the zone)."""
    preview = record.payload[:PREVIEW_CHARS].replace("\n", " ")
    if len(record.payload) > PREVIEW_CHARS:
        preview += "…"
    return {
        "seq": str(record.seq),
        "time": _when(record, tz, ms=True, label=False),
        "direction": record.direction,
        "category": record.category,
        "sub_category": record.sub_category,
        "topic": record.topic,
        "size": len(record.payload.encode("utf-8")),
        "preview": preview if record.is_json else f"[not JSON] {preview}",
    }


def _shorten_strings(value: object) -> object:
    """Long strings (base64 images) abbreviated so pretty JSON stays readable."""
    if isinstance(value, str) and len(value) > LONG_STRING:
        return f"{value[:LONG_STRING]}… ({len(value)} chars)"
    if isinstance(value, list):
        return [_shorten_strings(v) for v in value]
    if isinstance(value, dict):
        return {k: _shorten_strings(v) for k, v in value.items()}
    return value


def _find_image(value: object) -> str | None:
    if isinstance(value, str):
        return value if value.startswith("data:image/") else None
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    for item in items:
        found = _find_image(item)
        if found:
            return found
    return None


def detail_of(record: MessageRecord, tz: str) -> list[Any]:
    """Header facts, escaped pretty JSON (or raw text) and an image preview for data URIs."""
    body = parse_payload(record.payload)
    if body is NOT_JSON:
        text = record.payload[:DETAIL_MAX_CHARS]
        kind = "raw text (not JSON)" if record.payload else "empty payload"
        image = None
    else:
        text = json.dumps(_shorten_strings(body), indent=2, ensure_ascii=False)
        kind = "JSON"
        image = _find_image(body)
    facts = (
        f"{record.direction} · {_when(record, tz, ms=True, label=True)} · "
        f"QoS {record.qos} · {'retained' if record.retain else 'not retained'} · {kind} · "
        f"{len(record.payload.encode('utf-8'))} bytes"
    )
    parts: list[Any] = [
        html.Div(record.topic, className="fw-bold font-monospace", id="messages-detail-topic"),
        html.Div(facts, className="small text-muted mb-2"),
        html.Pre(text, className="payload-detail", id="messages-detail-payload"),
    ]
    if image:
        parts.append(html.Img(src=image, className="payload-preview-img", alt="payload image"))
    return parts


def build_filter(
    direction: str | None,
    cat: str | None,
    sub: str | None,
    topic_text: str | None,
    window: str | None,
    hide_noisy: bool,
    now: float,
) -> MessageFilter:
    """The history filter for the Message Center's controls (``*``/``any`` mean no filter)."""
    seconds = float(window) if window and window.isdigit() else None
    return MessageFilter(
        direction="sent"
        if direction == "sent"
        else "received"
        if direction == "received"
        else None,
        category=cat if cat and cat != ALL else None,
        sub_category=sub if sub and sub != ALL else None,
        topic_text=(topic_text or "").strip(),
        since=now - seconds if seconds is not None else None,
        hide_noisy=hide_noisy,
    )


def _options(names: tuple[str, ...] | list[str]) -> list[dict[str, str]]:
    return [{"label": "all", "value": ALL}] + [{"label": n, "value": n} for n in names]


def register_callbacks(app: dash.Dash, client: DashboardClient) -> None:
    """Bind the Message Center's callbacks to ``app`` and ``client``."""
    app.callback(Output("messages-interval", "interval"), Input("messages-interval", "id"))(
        lambda _id: client.config.poll_interval_ms
    )
    app.callback(Output("messages-grid", "columnDefs"), Input("messages-grid", "id"))(
        lambda _id: column_defs(client.config.tz)
    )

    @app.callback(
        Output("messages-grid", "rowData"),
        Output("messages-counts", "children"),
        Output("messages-category", "options"),
        Output("messages-subcategory", "options"),
        Output("messages-view", "data"),
        Input("messages-interval", "n_intervals"),
        Input("messages-direction", "value"),
        Input("messages-category", "value"),
        Input("messages-subcategory", "value"),
        Input("messages-topic", "value"),
        Input("messages-time", "value"),
        Input("messages-hide-noisy", "value"),
        State("messages-view", "data"),
    )
    def refresh(
        _n: int | None,
        direction: str | None,
        cat: str | None,
        sub: str | None,
        topic_text: str | None,
        window: str | None,
        hide_noisy: bool | None,
        view: dict[str, Any] | None,
    ) -> tuple[Any, ...]:
        snap = client.snapshot()
        choice = [direction, cat, sub, topic_text, window, bool(hide_noisy)]
        key = [snap.history_last_seq, snap.history_generation, choice]
        view = view or {}
        sliding = window not in (None, ANY_TIME)  # a time window moves even without messages
        if view.get("key") == key and not sliding:
            raise PreventUpdate  # an empty 204 answer: nothing to redraw
        flt = build_filter(direction, cat, sub, topic_text, window, bool(hide_noisy), time.time())
        result = client.query_history(flt, MAX_ROWS)
        counts = html.Span(
            [
                html.Span(f"received {snap.received}", id="messages-received-count"),
                " · ",
                html.Span(f"sent {snap.sent}", id="messages-sent-count"),
                " · ",
                html.Span(
                    f"history {snap.history_size} / {snap.history_limit}",
                    id="messages-history-count",
                ),
                " · ",
                html.Span(f"matching {result.matched}", id="messages-matching-count"),
                f" · showing newest {len(result.records)}",
            ]
        )
        cats, subs = list(snap.categories), list(snap.sub_categories)
        cat_options = _options(cats) if view.get("cats") != cats else dash.no_update
        sub_options = _options(subs) if view.get("subs") != subs else dash.no_update
        rows = [row_of(r, client.config.tz) for r in result.records]
        return rows, counts, cat_options, sub_options, {"key": key, "cats": cats, "subs": subs}

    @app.callback(
        Output("messages-detail", "children"),
        Input("messages-grid", "cellClicked"),
        prevent_initial_call=True,
    )
    def show_detail(clicked: dict[str, Any] | None) -> Any:
        row_id = (clicked or {}).get("rowId")
        if row_id is None or not str(row_id).isdigit():
            return dash.no_update
        record = client.find_message(int(row_id))
        if record is None:
            return html.Div("That message has left the bounded history.", className="text-muted")
        return detail_of(record, client.config.tz)

    @app.callback(
        Output("messages-detail", "children", allow_duplicate=True),
        Input("messages-clear", "n_clicks"),
        prevent_initial_call=True,
    )
    def clear(_clicks: int | None) -> Any:
        client.clear_history()
        return html.Div("History cleared.", className="text-muted")
