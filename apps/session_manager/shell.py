"""The frame around every page: navigation bar, page container, app-wide stores."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from apps.session_manager import clock


def layout(
    pages: Sequence[dict[str, Any]], sessions_dir: str, session_zone: str = "UTC"
) -> html.Div:
    """Navbar built from the page registry (with the app's one clock: the zone every time is
    shown in), then the current page."""
    links = [
        dbc.NavItem(
            dbc.NavLink(
                p["name"], href=p["relative_path"], active="exact", id=f"nav-{p['name'].lower()}"
            )
        )
        for p in sorted(pages, key=lambda p: p.get("order") or 0)
    ]
    return html.Div(
        [
            # The session the user works on, shared by the pages (a name, never data).
            dcc.Store(id="app-session", storage_type="session"),
            dbc.Navbar(
                dbc.Container(
                    [
                        dbc.NavbarBrand("MQTT Session Manager", href="/", className="fw-bold"),
                        dbc.Nav(links, navbar=True, className="me-auto"),
                        dbc.Select(
                            id="app-tz",
                            options=clock.zone_options(session_zone),
                            value=session_zone,
                            size="sm",
                            persistence=True,
                            persistence_type="local",
                            className="me-3 app-tz",
                            style={"width": "auto", "maxWidth": "16rem"},
                        ),
                        html.Span(
                            sessions_dir,
                            className="navbar-text small text-white-50",
                            title="session directory",
                        ),
                    ],
                    fluid=True,
                ),
                color="dark",
                dark=True,
                className="mb-3 py-1",
            ),
            dbc.Container(dash.page_container, fluid=True, className="pb-4"),
        ]
    )
