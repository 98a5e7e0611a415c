"""Replay page (the Replay Station): choose a session and broker, set every option of the
replay engine, play/pause/resume/step/stop, seek by clicking the timeline, watch progress and
fidelity. The replay belongs to the app, not to the page: reopening the page shows it again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import dash
import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import Input, Output, Patch, State, dcc, html, no_update
from dash.exceptions import PreventUpdate

from apps.session_manager.config import is_loopback_url
from apps.session_manager.render import alert
from apps.session_manager.replay_panels import (
    counters,
    density_figure,
    form_values,
    loop_progress,
    progress_of,
    report_card,
)
from apps.session_manager.replay_station import SPEEDS, ReplayRefused, options_from_form
from apps.session_manager.session_files import list_sessions
from mqtt_replay.topics import family_filters

if TYPE_CHECKING:
    from apps.session_manager.context import AppContext

PATH = "/replay"
NAME = "Replay"
ORDER = 2
FORM_FIELDS = (
    "speed",
    "loop",
    "start",
    "end",
    "topics",
    "exclude",
    "prefix",
    "remap",
    "qos",
    "retain",
    "prime",
    "compress_gaps",
    "rewrite_time",
    "paused",
)
STATE_COLORS = {
    "playing": "success",
    "paused": "warning",
    "finished": "primary",
    "stopped": "secondary",
    "starting": "info",
}


def _field(label: str, control: Any, width: int = 3) -> Any:
    return dbc.Col([dbc.Label(label, className="small mb-0"), control], md=width)


def make_layout(ctx: AppContext) -> Callable[..., Any]:
    broker_default = ctx.config.broker_url

    def layout(session: str | None = None, **_query: str) -> Any:
        options = dbc.Card(
            dbc.CardBody(
                [
                    dbc.Row(
                        [
                            _field(
                                "speed",
                                dbc.Select(
                                    id="replay-speed",
                                    value="1",
                                    options=[
                                        {
                                            "label": "max" if s == "max" else f"{s}×",
                                            "value": s,
                                        }
                                        for s in SPEEDS
                                    ],
                                ),
                            ),
                            _field(
                                "window start (s)",
                                dbc.Input(id="replay-start", type="number", min=0, placeholder="0"),
                            ),
                            _field(
                                "window end (s)",
                                dbc.Input(id="replay-end", type="number", min=0, placeholder="end"),
                            ),
                            _field(
                                "compress gaps over (s)",
                                dbc.Input(
                                    id="replay-compress_gaps",
                                    type="number",
                                    min=0.001,
                                    placeholder="off",
                                ),
                            ),
                        ],
                        className="g-2 mb-2",
                    ),
                    dbc.Row(
                        [
                            _field(
                                "priming",
                                dbc.RadioItems(
                                    id="replay-prime",
                                    value="off",
                                    inline=True,
                                    options=[
                                        {"label": "off", "value": "off"},
                                        {"label": "retained", "value": "retained"},
                                        {"label": "all", "value": "all"},
                                    ],
                                ),
                                4,
                            ),
                            dbc.Col(
                                [
                                    dbc.Switch(id="replay-loop", label="loop", value=False),
                                    dbc.Switch(
                                        id="replay-rewrite_time",
                                        label="timeshift (payload times → now)",
                                        value=False,
                                    ),
                                ],
                                md=4,
                            ),
                            dbc.Col(
                                [dbc.Switch(id="replay-paused", label="start paused", value=False)],
                                md=4,
                            ),
                        ],
                        className="g-2 mb-2",
                    ),
                    dbc.Row(
                        [
                            _field(
                                "topics (filters, one per line; empty = all)",
                                dbc.Textarea(id="replay-topics", rows=2, placeholder="#"),
                                6,
                            ),
                            _field(
                                "exclude",
                                dbc.Textarea(
                                    id="replay-exclude", rows=2, placeholder="/j1/txt/+/i/cam"
                                ),
                                6,
                            ),
                        ],
                        className="g-2 mb-1",
                    ),
                    dbc.Button(
                        "exclude noisy families",
                        id="replay-noisy",
                        size="sm",
                        color="link",
                        className="p-0 mb-2",
                    ),
                    html.Details(
                        [
                            html.Summary(
                                "advanced: topic prefix/remap, QoS, retain", className="small"
                            ),
                            dbc.Row(
                                [
                                    _field(
                                        "topic prefix",
                                        dbc.Input(id="replay-prefix", placeholder="none"),
                                    ),
                                    _field(
                                        "remap (old => new, per line)",
                                        dbc.Textarea(id="replay-remap", rows=1),
                                        5,
                                    ),
                                    _field(
                                        "QoS",
                                        dbc.Select(
                                            id="replay-qos",
                                            value="recorded",
                                            options=[
                                                {"label": v, "value": v}
                                                for v in ("recorded", "0", "1", "2")
                                            ],
                                        ),
                                        2,
                                    ),
                                    _field(
                                        "retain",
                                        dbc.Select(
                                            id="replay-retain",
                                            value="recorded",
                                            options=[
                                                {"label": v, "value": v}
                                                for v in ("recorded", "true", "false")
                                            ],
                                        ),
                                        2,
                                    ),
                                ],
                                className="g-2 mt-1",
                            ),
                        ]
                    ),
                ]
            ),
            className="mb-2",
        )
        controls = html.Div(
            [
                dbc.Button("▶ Play", id="replay-play", color="success"),
                dbc.Button("Pause", id="replay-pause", color="warning", outline=True),
                dbc.Button("Resume", id="replay-resume", color="success", outline=True),
                dbc.Button("Step", id="replay-step", color="secondary", outline=True),
                dbc.Button("■ Stop", id="replay-stop", color="danger", outline=True),
            ],
            className="d-flex gap-2 mb-2",
        )
        status = dbc.Card(
            dbc.CardBody(
                [
                    html.Div(
                        [
                            html.Span("state: ", className="small"),
                            dbc.Badge("idle", id="replay-state", color="light", text_color="dark"),
                            html.Span(id="replay-what", className="ms-2 small text-muted"),
                        ],
                        className="mb-1",
                    ),
                    dbc.Progress(
                        id="replay-progress",
                        value=0,
                        label="",
                        style={"height": "22px"},
                        className="mb-2",
                    ),
                    html.Div(id="replay-counters", className="small"),
                    dcc.Graph(
                        id="replay-timeline",
                        figure=go.Figure(),
                        config={"displaylogo": False},
                        style={"height": "170px"},
                    ),
                    html.Div("Click the timeline to seek.", className="small text-muted"),
                ]
            ),
            className="mb-2",
        )
        return html.Div(
            [
                dcc.Store(id="replay-init", data={"session": session}),
                dcc.Interval(id="replay-interval", interval=ctx.config.poll_interval_ms),
                dbc.Row(
                    [
                        _field(
                            "session",
                            dcc.Dropdown(
                                id="replay-session",
                                placeholder="choose a session…",
                                clearable=False,
                            ),
                            5,
                        ),
                        _field(
                            "broker",
                            dbc.Input(id="replay-broker", value=broker_default, debounce=True),
                            4,
                        ),
                    ],
                    className="g-2 mb-2",
                ),
                html.Div(id="replay-remote"),
                dbc.Checkbox(
                    id="replay-remote-confirm",
                    value=False,
                    className="d-none",
                    label="I understand this replays recorded traffic to a broker that is not on this machine.",
                ),
                dbc.Modal(
                    [
                        dbc.ModalHeader(dbc.ModalTitle("Replace the running replay?")),
                        dbc.ModalBody(id="replay-replace-text"),
                        dbc.ModalFooter(
                            [
                                dbc.Button(
                                    "Keep it running", id="replay-replace-cancel", color="secondary"
                                ),
                                dbc.Button(
                                    "Stop it and play", id="replay-replace-confirm", color="danger"
                                ),
                            ]
                        ),
                    ],
                    id="replay-replace-modal",
                    is_open=False,
                ),
                dbc.Row(
                    [
                        dbc.Col([options, controls, html.Div(id="replay-message")], xl=6),
                        dbc.Col([status, html.Div(id="replay-report")], xl=6),
                    ],
                    className="g-2",
                ),
            ]
        )

    return layout


def register_callbacks(app: dash.Dash, ctx: AppContext) -> None:
    station = ctx.replay

    @app.callback(
        Output("replay-session", "options"),
        Output("replay-session", "value"),
        Input("replay-init", "data"),
        State("app-session", "data"),
    )
    def fill(init: dict[str, Any], remembered: str | None) -> Any:
        names = [f.name for f in list_sessions(ctx.config.sessions_dir)]
        current = station.snapshot().get("session")
        wanted = (init or {}).get("session") or current or remembered
        return [{"label": n, "value": n} for n in names], wanted if wanted in names else None

    @app.callback(
        Output("replay-remote", "children"),
        Output("replay-remote-confirm", "className"),
        Input("replay-broker", "value"),
    )
    def remote_warning(url: str | None) -> Any:
        if not url or is_loopback_url(url):
            return None, "d-none"
        text = (
            f"{url} is not on this machine. A replay sends recorded factory traffic to that broker: "
            "never point it at a plant."
        )
        if not ctx.config.allow_remote:
            text += " Remote replays are disabled (start the Session Manager with --allow-remote)."
            return dbc.Alert(
                text, color="danger", className="py-2 mb-2", id="replay-remote-alert"
            ), "d-none"
        return dbc.Alert(
            text, color="warning", className="py-2 mb-1", id="replay-remote-alert"
        ), "mb-2"

    @app.callback(
        Output("replay-exclude", "value"),
        Input("replay-noisy", "n_clicks"),
        State("replay-exclude", "value"),
        prevent_initial_call=True,
    )
    def noisy(_n: Any, current: str | None) -> Any:
        lines = [line for line in (current or "").splitlines() if line.strip()]
        lines += [f for f in family_filters() if f not in lines]  # as the recorder presets
        return "\n".join(lines)

    @app.callback(
        *[Output(f"replay-{f}", "value") for f in FORM_FIELDS],
        Input("replay-init", "data"),
    )
    def mirror(_init: Any) -> Any:
        """A running replay's settings in the form (the page may have been left and reopened)."""
        snap = station.snapshot()
        if not (snap.get("active") or snap.get("starting")) or not snap.get("options"):
            raise PreventUpdate
        values = form_values(snap["options"])
        return tuple(values[f] for f in FORM_FIELDS)

    @app.callback(
        Output("replay-message", "children"),
        Output("replay-timeline", "figure"),
        Output("replay-replace-modal", "is_open"),
        Output("replay-replace-text", "children"),
        Input("replay-play", "n_clicks"),
        Input("replay-replace-confirm", "n_clicks"),
        Input("replay-replace-cancel", "n_clicks"),
        State("replay-session", "value"),
        State("replay-broker", "value"),
        State("replay-remote-confirm", "value"),
        *[State(f"replay-{f}", "value") for f in FORM_FIELDS],
        prevent_initial_call=True,
    )
    def play(
        _n: Any,
        _confirm: Any,
        _cancel: Any,
        name: str | None,
        broker: str | None,
        confirmed: bool,
        *values: Any,
    ) -> Any:
        nu = dash.no_update
        trigger = dash.ctx.triggered_id
        if trigger == "replay-replace-cancel":
            return nu, nu, False, nu
        if not name:
            return alert("Choose a session first.", "warning"), nu, False, nu
        try:
            options = options_from_form(dict(zip(FORM_FIELDS, values, strict=True)))
            snap = station.snapshot()
            if trigger == "replay-play" and snap.get("active"):
                state = (snap.get("status") or {}).get("state", "running")
                text = [
                    html.P(
                        [
                            "A replay of ",
                            html.Strong(str(snap.get("session"))),
                            f" is {state} ({loop_progress(snap.get('status') or {})}).",
                        ]
                    ),
                    html.P(["Stop it and play ", html.Strong(name), " instead?"], className="mb-0"),
                ]
                return nu, nu, True, text
            station.start(name, (broker or "").strip(), options, confirmed_remote=bool(confirmed))
        except (ReplayRefused, ValueError) as exc:
            return alert(str(exc)), nu, False, nu
        return None, density_figure(ctx.store.get(name)), False, nu

    @app.callback(
        Output("replay-timeline", "figure", allow_duplicate=True),
        Input("replay-session", "value"),
        prevent_initial_call="initial_duplicate",
    )
    def session_timeline(name: str | None) -> Any:
        if not name:
            raise PreventUpdate
        return density_figure(ctx.store.get(name))

    @app.callback(
        Output("replay-message", "children", allow_duplicate=True),
        Input("replay-pause", "n_clicks"),
        Input("replay-resume", "n_clicks"),
        Input("replay-step", "n_clicks"),
        Input("replay-stop", "n_clicks"),
        Input("replay-speed", "value"),
        Input("replay-loop", "value"),
        Input("replay-timeline", "clickData"),
        prevent_initial_call=True,
    )
    def control(*args: Any) -> Any:
        trigger = str(dash.ctx.triggered_id or "")
        speed, loop, click = args[4], args[5], args[6]
        action, value = trigger.removeprefix("replay-"), None
        if action in ("speed", "loop"):
            value = speed if action == "speed" else bool(loop)
            if not station.snapshot().get("active"):
                raise PreventUpdate  # applies to the next play
        elif action == "timeline":
            if not click or not click.get("points"):
                raise PreventUpdate
            action, value = "seek", float(click["points"][0]["x"])
        try:
            station.control(action, value)
        except ReplayRefused as exc:
            return alert(str(exc), "warning")
        return None

    @app.callback(
        Output("replay-state", "children"),
        Output("replay-state", "color"),
        Output("replay-what", "children"),
        Output("replay-progress", "value"),
        Output("replay-progress", "label"),
        Output("replay-counters", "children"),
        Output("replay-report", "children"),
        Output("replay-timeline", "figure", allow_duplicate=True),
        Input("replay-interval", "n_intervals"),
        State("replay-timeline", "figure"),
        prevent_initial_call=True,
    )
    def poll(_n: Any, figure: Any) -> Any:
        snap = station.snapshot()
        status = snap.get("status") or {}
        state = status.get("state") or ("starting" if snap.get("starting") else "idle")
        if snap.get("error") and not status:
            state = "error"
        pct, label = progress_of(status)
        what = (
            f"{snap.get('session', '')} → {snap.get('broker', '')}" if snap.get("session") else ""
        )
        error = alert(f"Replay error: {snap['error']}") if snap.get("error") else None
        report = [error, report_card(snap.get("report"))]
        patch = Patch()
        if status and figure:  # a Patch of a figure not drawn yet fails in the browser
            start = float((snap.get("options") or {}).get("start") or 0.0)
            x = start + float(status.get("position_s") or 0.0)
            patch["layout"]["shapes"] = [
                {
                    "type": "line",
                    "x0": x,
                    "x1": x,
                    "y0": 0,
                    "y1": 1,
                    "yref": "paper",
                    "line": {"color": "#dc3545", "width": 2},
                }
            ]
        return (
            state,
            STATE_COLORS.get(state, "danger" if state == "error" else "light"),
            what,
            pct,
            label,
            counters(snap),
            report,
            patch if figure else no_update,
        )
