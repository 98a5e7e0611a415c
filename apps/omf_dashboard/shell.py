"""The frame around every page: navigation, broker profile switch, connection and mode banner.

The banner says REPLAY with session, position and speed while a replay announces itself on
``mqtt-replay/status`` (SPEC §6.4), and otherwise that the dashboard shows traffic as the broker
delivers it. The connection badge names the broker by ``host:port`` only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate

from apps.omf_dashboard.client import ConnectionStatus, DashboardClient
from apps.omf_dashboard.config import ProfileName
from apps.omf_dashboard.replay_status import ReplayStatus


def layout(client: DashboardClient, pages: Sequence[dict[str, Any]]) -> Any:
    """The shell; ``pages`` are this app's entries of the Dash page registry, in nav order."""
    available = client.config.available_profiles
    profile_options = [
        {"label": "replay (local)", "value": "replay"},
        {"label": "live (plant)", "value": "live", "disabled": "live" not in available},
    ]
    return html.Div(
        [
            dcc.Interval(id="shell-interval", interval=client.config.poll_interval_ms),
            dcc.Store(id="shell-drawn", data=None),
            html.Nav(
                [
                    html.Span("OMF Dashboard", className="navbar-brand"),
                    dbc.Nav(
                        [
                            dbc.NavLink(page["name"], href=page["relative_path"], active="exact")
                            for page in pages
                        ],
                        className="nav",
                    ),
                    html.Div(
                        [
                            html.Span("broker profile", className="profile-label"),
                            dbc.RadioItems(
                                id="shell-profile",
                                options=profile_options,
                                value=client.profile.name,
                                inline=True,
                            ),
                            html.Span(id="shell-connection"),
                        ],
                        className="d-flex align-items-center gap-2 ms-auto",
                    ),
                ],
                className="navbar",
            ),
            html.Div(
                [html.Div(id="shell-banner"), dash.page_container],
                className="container-fluid",
            ),
        ]
    )


def connection_badge(status: ConnectionStatus) -> Any:
    colour = "success" if status.connected else "danger"
    text = f"{status.profile} profile · {status.broker} · {status.detail}"
    return dbc.Badge(text, color=colour, id="shell-connection-badge")


def mode_banner(replay: ReplayStatus | None, status: ConnectionStatus) -> Any:
    """REPLAY banner for an active announcement, otherwise a "receiving traffic" note."""
    if replay is not None and replay.active:
        return dbc.Alert(
            html.Div(
                [
                    dbc.Badge("REPLAY", color="warning"),
                    html.Span(replay.describe(), id="shell-replay-text"),
                ],
                className="banner-line",
            ),
            color="warning",
            id="shell-mode",
            className="mb-2",
        )
    source = "the plant broker" if status.profile == "live" else "the replay broker"
    last = f" Last replay: {replay.describe()}." if replay is not None else ""
    return dbc.Alert(
        html.Div(
            [
                dbc.Badge("LIVE TRAFFIC", color="success"),
                html.Span(
                    f"Showing messages as {source} delivers them; "
                    f"no replay is announcing itself.{last}"
                ),
            ],
            className="banner-line",
        ),
        color="secondary",
        id="shell-mode",
        className="mb-2",
    )


def register_callbacks(app: dash.Dash, client: DashboardClient) -> None:
    """Connection badge and banner polling, and the profile switch."""

    @app.callback(
        Output("shell-connection", "children"),
        Output("shell-banner", "children"),
        Output("shell-drawn", "data"),
        Input("shell-interval", "n_intervals"),
        State("shell-drawn", "data"),
    )
    def refresh(_n: int | None, drawn: list[Any] | None) -> tuple[Any, ...]:
        status = client.connection_status()
        replay = client.replay_status()
        key = [status.profile, status.broker, status.connected, status.detail, repr(replay)]
        if key == drawn:
            raise PreventUpdate  # an empty 204 answer: nothing to redraw
        return connection_badge(status), mode_banner(replay, status), key

    @app.callback(
        Output("shell-profile", "value"),
        Input("shell-profile", "value"),
        prevent_initial_call=True,
    )
    def switch(profile: ProfileName | None) -> Any:
        if profile not in client.config.available_profiles:
            return client.profile.name
        if profile != client.profile.name:
            client.switch_profile(profile)
        return dash.no_update
