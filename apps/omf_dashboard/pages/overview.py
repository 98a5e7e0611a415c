"""Overview page: module tiles, AGVs, HBW stock, orders, sensors and the latest camera frame.

The browser polls every ``poll_interval_ms``; the callback compares the section versions of the
state model with the ones it drew last (kept in ``overview-versions``) and returns
``dash.no_update`` for every section that did not change (an empty 204 answer when none did),
so a fast replay costs one small request per poll and only changed sections are re-rendered.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate

from apps.omf_dashboard import factory_cards as cards
from apps.omf_dashboard.client import DashboardClient

PATH = "/"
NAME = "Overview"
ORDER = 0

_SECTIONS = ("summary", "modules", "agvs", "stock", "orders", "sensors", "camera")


def _card(title: str, body_id: str) -> Any:
    return html.Div(
        [html.Div(title, className="card-header"), html.Div(id=body_id, className="card-body")],
        className="card",
    )


def layout(**_query: str) -> Any:
    """Static skeleton; every section is filled by the polling callback."""
    return html.Div(
        [
            dcc.Interval(id="overview-interval", interval=500),
            dcc.Store(id="overview-versions", data=None),
            html.Div(id="overview-summary", className="summary-strip mb-2"),
            html.Div(
                [
                    html.Div(
                        [
                            html.Div("Modules", className="section-title"),
                            html.Div(id="overview-modules"),
                        ],
                        className="col-xl-8",
                    ),
                    html.Div(
                        [html.Div("AGVs", className="section-title"), html.Div(id="overview-agvs")],
                        className="col-xl-4",
                    ),
                ],
                className="row",
            ),
            html.Div(
                [
                    html.Div(_card("HBW stock", "overview-stock"), className="col-md-6 col-xl-3"),
                    html.Div(_card("Orders", "overview-orders"), className="col-md-6 col-xl-5"),
                    html.Div(
                        [
                            _card("Camera", "overview-camera"),
                            html.Div(className="mb-2"),
                            _card("Sensors", "overview-sensors"),
                        ],
                        className="col-md-12 col-xl-4",
                    ),
                ],
                className="row g-3 mt-2",
            ),
        ]
    )


def _summary(received: int, factory: int, non_json: int, size: int, limit: int) -> Any:
    def counter(value: int, label: str, ident: str) -> Any:
        return html.Div(
            [
                html.Div(f"{value}", className="counter", id=ident),
                html.Div(label, className="counter-label"),
            ]
        )

    return [
        counter(received, "messages received", "overview-received-count"),
        counter(factory, "factory messages", "overview-factory-count"),
        counter(non_json, "non-JSON payloads", "overview-nonjson-count"),
        counter(size, f"in history (max {limit})", "overview-history-count"),
    ]


def register_callbacks(app: dash.Dash, client: DashboardClient) -> None:
    """Bind the overview's polling callback to ``app`` and ``client``."""
    app.callback(Output("overview-interval", "interval"), Input("overview-interval", "id"))(
        lambda _id: client.config.poll_interval_ms
    )

    @app.callback(
        [Output(f"overview-{name}", "children") for name in _SECTIONS],
        Output("overview-versions", "data"),
        Input("overview-interval", "n_intervals"),
        State("overview-versions", "data"),
    )
    def refresh(_n: int | None, drawn: dict[str, int] | None) -> list[Any]:
        snap = client.snapshot()
        state = snap.state
        versions = dict(state.versions)
        versions["summary"] = snap.received * 1_000_003 + snap.history_size
        drawn = drawn or {}
        changed = {name for name in _SECTIONS if drawn.get(name) != versions.get(name)}
        if not changed:
            raise PreventUpdate  # an empty 204 answer: nothing to redraw
        tz = client.config.tz
        module_types = {serial: m.module_type for serial, m in state.modules.items()}
        render = {
            "summary": lambda: _summary(
                snap.received, state.messages, state.non_json, snap.history_size, snap.history_limit
            ),
            "modules": lambda: cards.module_tiles(state.modules, tz),
            "agvs": lambda: cards.agv_cards(state.agvs, module_types, tz),
            "stock": lambda: cards.stock_grid(state.stock, state.stock_known),
            "orders": lambda: cards.orders_panel(state.active_orders, state.completed_orders),
            "sensors": lambda: cards.sensors_panel(state.environment, state.arduino, tz),
            "camera": lambda: cards.camera_panel(state.camera, state.quality, tz),
        }
        out = [render[name]() if name in changed else dash.no_update for name in _SECTIONS]
        return [*out, {name: versions.get(name, 0) for name in _SECTIONS}]
