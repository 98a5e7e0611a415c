"""Message Generator: render a command template, edit it, send it; free topic + payload too.

Choosing a template (and its parameters) fills the editor with a fresh payload; the user may
edit topic, payload, QoS and retain before pressing Send. A payload must be valid JSON (sent
compact) unless "send as raw text" is ticked. With the live profile the user must also confirm
that the message goes to the real plant. Every successful send is recorded by the client as a
``sent`` message, so it appears in the Message Center.
"""

from __future__ import annotations

import json
from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, dcc, html

from apps.omf_dashboard.client import DashboardClient
from apps.omf_dashboard.payloads import NOT_JSON, parse_payload
from apps.omf_dashboard.templates import (
    COLOURS,
    DEFAULT_AGV,
    DEFAULT_MODULE,
    TEMPLATES,
    TEMPLATES_BY_KEY,
    TemplateParams,
    default_module_serials,
    render,
)

PATH = "/generator"
NAME = "Message Generator"
ORDER = 2

DEFAULT_TEMPLATE = "order-white"
PARAM_FIELDS = ("module", "agv", "colour", "command")
HIDDEN = {"display": "none"}


def _field(label: str, control: Any, ident: str) -> Any:
    return html.Div(
        [dbc.Label(label, html_for=ident), control], id=f"{ident}-field", className="mb-2"
    )


def _card(title: str, body: list[Any]) -> Any:
    return html.Div(
        [html.Div(title, className="card-header"), html.Div(body, className="card-body")],
        className="card",
    )


def _template_card() -> Any:
    template_options = [{"label": f"{t.group}: {t.label}", "value": t.key} for t in TEMPLATES]
    colour_options = [{"label": c, "value": c} for c in COLOURS]
    return _card(
        "Template",
        [
            _field(
                "Template",
                dbc.Select(
                    id="generator-template", options=template_options, value=DEFAULT_TEMPLATE
                ),
                "generator-template",
            ),
            _field(
                "Module",
                dbc.Select(id="generator-module", value=DEFAULT_MODULE),
                "generator-module",
            ),
            _field("AGV", dbc.Select(id="generator-agv", value=DEFAULT_AGV), "generator-agv"),
            _field(
                "Colour",
                dbc.Select(id="generator-colour", options=colour_options, value="WHITE"),
                "generator-colour",
            ),
            _field("Command", dbc.Select(id="generator-command"), "generator-command"),
            dbc.Button(
                "Render again (fresh timestamp and ids)",
                id="generator-rerender",
                color="secondary",
                outline=True,
                size="sm",
            ),
        ],
    )


def _options_row() -> Any:
    qos_options = [{"label": q, "value": q} for q in ("0", "1", "2")]
    return html.Div(
        [
            html.Div(
                [
                    dbc.Label("QoS", html_for="generator-qos"),
                    dbc.Select(id="generator-qos", options=qos_options, value="1"),
                ]
            ),
            dbc.Checkbox(id="generator-retain", label="retain", value=False),
            dbc.Checkbox(
                id="generator-raw", label="send as raw text (skip the JSON check)", value=False
            ),
        ],
        className="d-flex gap-3 align-items-center flex-wrap mb-2",
    )


def _live_guard() -> Any:
    return html.Div(
        [
            dbc.Alert(
                "Live profile: this message goes to the real plant.",
                color="danger",
                className="mb-1",
            ),
            dbc.Checkbox(
                id="generator-live-confirm", label="I know this goes to the plant", value=False
            ),
        ],
        id="generator-live-guard",
        style=HIDDEN,
    )


def _message_card() -> Any:
    return _card(
        "Message (edit before sending)",
        [
            _field(
                "Topic", dbc.Input(id="generator-topic", type="text", value=""), "generator-topic"
            ),
            _field(
                "Payload",
                dbc.Textarea(id="generator-payload", value="", rows=14, spellcheck=False),
                "generator-payload",
            ),
            _options_row(),
            _live_guard(),
            dbc.Button("Send", id="generator-send", color="primary", className="mt-2"),
            html.Div(id="generator-result", className="mt-2"),
        ],
    )


def layout(**_query: str) -> Any:
    """Template chooser with parameters, the editable message, and the send button."""
    return html.Div(
        [
            dcc.Interval(id="generator-refresh", interval=5000),
            html.Div(
                [
                    html.Div(_template_card(), className="col-md-4"),
                    html.Div(_message_card(), className="col-md-8"),
                ],
                className="row g-3",
            ),
        ]
    )


def _serial_options(pairs: dict[str, str]) -> list[dict[str, str]]:
    return [
        {"label": f"{kind} · {serial}", "value": serial}
        for serial, kind in sorted(pairs.items(), key=lambda p: (p[1], p[0]))
    ]


def prepare(payload_text: str, raw: bool) -> tuple[str | None, str]:
    """The text to publish and an error: compact JSON, or the raw text if ``raw``."""
    if raw:
        return payload_text, ""
    body = parse_payload(payload_text)
    if body is NOT_JSON:
        return None, "Payload is not valid JSON. Fix it or tick 'send as raw text'."
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False), ""


def register_callbacks(app: dash.Dash, client: DashboardClient) -> None:
    """Bind the generator's callbacks to ``app`` and ``client``."""

    @app.callback(
        Output("generator-module", "options"),
        Output("generator-agv", "options"),
        Output("generator-live-guard", "style"),
        Input("generator-refresh", "n_intervals"),
    )
    def refresh_options(_n: int | None) -> tuple[Any, ...]:
        snap = client.snapshot()
        modules = default_module_serials()
        modules.update({s: m.module_type for s, m in snap.state.modules.items()})
        agvs = sorted({DEFAULT_AGV, *snap.state.agvs})
        guard = {"display": "block"} if snap.connection.profile == "live" else HIDDEN
        return _serial_options(modules), [{"label": a, "value": a} for a in agvs], guard

    @app.callback(
        Output("generator-command", "options"),
        Output("generator-command", "value"),
        *[Output(f"generator-{name}-field", "style") for name in PARAM_FIELDS],
        Input("generator-template", "value"),
    )
    def choose_template(key: str | None) -> tuple[Any, ...]:
        template = TEMPLATES_BY_KEY.get(key or "", TEMPLATES_BY_KEY[DEFAULT_TEMPLATE])
        options = [{"label": c, "value": c} for c in template.commands]
        value = template.commands[0] if template.commands else None
        styles = [{} if name in template.params else HIDDEN for name in PARAM_FIELDS]
        return (options, value, *styles)

    @app.callback(
        Output("generator-topic", "value"),
        Output("generator-payload", "value"),
        Output("generator-qos", "value"),
        Output("generator-retain", "value"),
        Input("generator-template", "value"),
        Input("generator-module", "value"),
        Input("generator-agv", "value"),
        Input("generator-colour", "value"),
        Input("generator-command", "value"),
        Input("generator-rerender", "n_clicks"),
    )
    def preview(
        key: str | None,
        module: str | None,
        agv: str | None,
        colour: str | None,
        command: str | None,
        _clicks: int | None,
    ) -> tuple[Any, ...]:
        template = TEMPLATES_BY_KEY.get(key or "", TEMPLATES_BY_KEY[DEFAULT_TEMPLATE])
        params = TemplateParams(
            module=module or DEFAULT_MODULE,
            agv=agv or DEFAULT_AGV,
            colour=colour if colour in COLOURS else "WHITE",
            command=command if command in template.commands else "",
        )
        message = render(template.key, params)
        text = json.dumps(message.payload, indent=2) if message.payload else "{}"
        return message.topic, text, str(message.qos), message.retain

    @app.callback(
        Output("generator-result", "children"),
        Input("generator-send", "n_clicks"),
        State("generator-topic", "value"),
        State("generator-payload", "value"),
        State("generator-qos", "value"),
        State("generator-retain", "value"),
        State("generator-raw", "value"),
        State("generator-live-confirm", "value"),
        prevent_initial_call=True,
    )
    def send(
        _clicks: int | None,
        topic: str | None,
        payload: str | None,
        qos: str | None,
        retain: bool | None,
        raw: bool | None,
        live_confirmed: bool | None,
    ) -> Any:
        if client.profile.name == "live" and not live_confirmed:
            return dbc.Alert("Confirm that this message goes to the plant first.", color="warning")
        text, error = prepare(payload or "", bool(raw))
        if text is None:
            return dbc.Alert(error, color="warning")
        outcome = client.publish(
            (topic or "").strip(), text, qos=int(qos or 0), retain=bool(retain)
        )
        return dbc.Alert(
            outcome.message,
            color="success" if outcome.ok else "danger",
            id="generator-result-alert",
        )
