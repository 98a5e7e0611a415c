"""Record page: record a broker's traffic into a new session of the library.

The message count says what it is: while recording, ``live`` (what reached the file so far,
trailing the broker by up to the recorder's flush interval); after Stop, ``final``: the
recorder's count once it stopped, the number of messages in the file, its header and the
Library.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, dcc, html

from apps.session_manager.record_station import OUTCOMES, RecordRefused, request_from_form
from apps.session_manager.render import alert, fmt_bytes, fmt_duration

if TYPE_CHECKING:
    from apps.session_manager.context import AppContext

PATH = "/record"
NAME = "Record"
ORDER = 3
FORM_FIELDS = (
    "broker",
    "name",
    "preset",
    "topics",
    "exclude",
    "qos",
    "description",
    "outcome",
    "note",
)


def _field(label: str, control: Any, width: int = 6) -> Any:
    return dbc.Col([dbc.Label(label, className="small mb-0"), control], md=width)


def make_layout(ctx: AppContext) -> Callable[..., Any]:
    broker_default = ctx.config.broker_url

    def layout(**_query: str) -> Any:
        form = dbc.Card(
            dbc.CardBody(
                [
                    dbc.Row(
                        [
                            _field("broker", dbc.Input(id="record-broker", value=broker_default)),
                            _field(
                                "session name",
                                dbc.Input(id="record-name", placeholder="my-session"),
                            ),
                        ],
                        className="g-2 mb-2",
                    ),
                    dbc.Row(
                        [
                            _field(
                                "exclusion preset",
                                dbc.Select(
                                    id="record-preset",
                                    value="none",
                                    options=[{"label": "none", "value": "none"}],
                                ),
                                4,
                            ),
                            _field(
                                "topics (one filter per line)",
                                dbc.Textarea(id="record-topics", value="#", rows=1),
                                4,
                            ),
                            _field("exclude rules", dbc.Textarea(id="record-exclude", rows=1), 4),
                        ],
                        className="g-2 mb-2",
                    ),
                    dbc.Row(
                        [
                            _field(
                                "QoS",
                                dbc.Select(
                                    id="record-qos",
                                    value="1",
                                    options=[{"label": q, "value": q} for q in ("0", "1")],
                                ),
                                2,
                            ),
                            _field(
                                "outcome",
                                dbc.Select(
                                    id="record-outcome",
                                    value="unknown",
                                    options=[{"label": o, "value": o} for o in OUTCOMES],
                                ),
                                3,
                            ),
                            _field(
                                "description",
                                dbc.Input(id="record-description", placeholder="what happens"),
                                7,
                            ),
                        ],
                        className="g-2 mb-2",
                    ),
                    _field("note", dbc.Textarea(id="record-note", rows=2), 12),
                    html.Div(
                        [
                            dbc.Button("● Start recording", id="record-start", color="danger"),
                            dbc.Button("■ Stop", id="record-stop", color="secondary", outline=True),
                        ],
                        className="d-flex gap-2 mt-3",
                    ),
                ]
            ),
            className="mb-2",
        )
        status = dbc.Card(
            dbc.CardBody(
                [
                    html.Div(
                        [
                            html.Span("state: ", className="small"),
                            dbc.Badge("idle", id="record-state", color="light", text_color="dark"),
                        ],
                        className="mb-2",
                    ),
                    html.Div(id="record-counters", className="small"),
                ]
            ),
            className="mb-2",
        )
        return html.Div(
            [
                dcc.Store(id="record-init"),
                dcc.Interval(id="record-interval", interval=ctx.config.poll_interval_ms),
                html.Div(id="record-unavailable"),
                dbc.Row(
                    [dbc.Col([form, html.Div(id="record-message")], xl=7), dbc.Col(status, xl=5)],
                    className="g-2",
                ),
            ]
        )

    return layout


def counters(snapshot: dict[str, Any]) -> Any:
    status = snapshot.get("status") or {}
    rows = []
    if status:
        kind = (
            " · final, as in the file"
            if not snapshot.get("recording")
            else " · stopping: the final count follows"
            if snapshot.get("stopping")
            else " · live, still counting"
        )
        rows = [
            html.Div(
                [
                    "messages ",
                    html.Span(f"{int(status.get('messages') or 0):,}", id="record-messages-count"),
                    html.Span(kind, className="text-muted", id="record-messages-kind"),
                ],
                id="record-messages",
            ),
            html.Div(
                f"rate {float(status.get('rate') or 0):,.1f} msg/s · size {fmt_bytes(status.get('bytes'))}"
            ),
            html.Div(
                f"elapsed {fmt_duration(status.get('elapsed_s'))} · reconnects {status.get('reconnects', 0)}"
            ),
            html.Div(f"file {_base(status.get('file'))}"),
        ]
    if snapshot.get("last_file"):
        rows.append(
            html.Div(
                [f"Saved as {snapshot['last_file']} — ", dcc.Link("open the Library", href="/")],
                className="mt-2",
                id="record-saved",
            )
        )
    return rows or html.Div("Not recording.", className="text-muted")


def _base(path: Any) -> str:
    text = str(path or "")
    return text.rsplit("/", 1)[-1] if text else "–"


def register_callbacks(app: dash.Dash, ctx: AppContext) -> None:
    station = ctx.recorder

    @app.callback(
        Output("record-preset", "options"),
        Output("record-unavailable", "children"),
        Output("record-start", "disabled"),
        Input("record-init", "data"),
    )
    def init(_d: Any) -> Any:
        factory, presets, reason = station.api()
        options = [{"label": p, "value": p} for p in (presets or {"none": []})]
        if factory is None:
            return options, alert(f"Recording is unavailable: {reason}", "warning"), True
        return options, None, False

    @app.callback(
        Output("record-message", "children"),
        Input("record-start", "n_clicks"),
        Input("record-stop", "n_clicks"),
        *[State(f"record-{f}", "value") for f in FORM_FIELDS],
        prevent_initial_call=True,
    )
    def start_stop(_start: Any, _stop: Any, *values: Any) -> Any:
        try:
            if dash.ctx.triggered_id == "record-stop":
                path = station.stop()
                return alert(f"Saved {path.name}; it is now in the Library.", "success")
            _, presets, _reason = station.api()
            request = request_from_form(dict(zip(FORM_FIELDS, values, strict=True)), presets)
            station.start(request)
        except RecordRefused as exc:
            return alert(str(exc))
        return alert(f"Recording {request.name} from {request.broker_url}…", "info")

    @app.callback(
        Output("record-state", "children"),
        Output("record-state", "color"),
        Output("record-counters", "children"),
        Input("record-interval", "n_intervals"),
    )
    def poll(_n: Any) -> Any:
        snap = station.snapshot()
        state = (
            ("stopping" if snap.get("stopping") else "recording")
            if snap["recording"]
            else ("stopped" if snap.get("last_file") else "idle")
        )
        color = {"recording": "danger", "stopping": "warning", "stopped": "secondary"}.get(
            state, "light"
        )
        return state, color, counters(snap)
