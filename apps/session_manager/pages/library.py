"""Library page: every session of the directory, filter, upload, rename, delete, open."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import Input, Output, State, dcc, html

from apps.session_manager import clock
from apps.session_manager import session_files as lib
from apps.session_manager.render import BYTES_FORMAT, DURATION_FORMAT, INT_FORMAT, alert
from apps.session_manager.store import library_rows

if TYPE_CHECKING:
    from apps.session_manager.context import AppContext

PATH = "/"
NAME = "Library"
ORDER = 0
OUTCOMES = ("all", "ok", "nok", "mixed", "unknown")

COLUMNS: list[dict[str, Any]] = [
    {"field": "name", "headerName": "session", "flex": 3, "minWidth": 200, "tooltipField": "name"},
    {
        "field": "recorded",
        "headerName": "recorded (first message)",
        "width": 195,
        "headerTooltip": "time of the session's first message, in the zone picked at the top",
    },
    {
        "field": "duration",
        "headerName": "duration",
        "width": 100,
        "type": "numericColumn",
        "valueFormatter": DURATION_FORMAT,
    },
    {
        "field": "messages",
        "headerName": "messages",
        "width": 105,
        "type": "numericColumn",
        "valueFormatter": INT_FORMAT,
    },
    {
        "field": "size",
        "headerName": "size",
        "width": 95,
        "type": "numericColumn",
        "valueFormatter": BYTES_FORMAT,
    },
    {
        "field": "description",
        "headerName": "description",
        "flex": 2,
        "minWidth": 100,
        "tooltipField": "description",
    },
    {"field": "outcome", "headerName": "outcome", "width": 90},
    {"field": "preset", "headerName": "preset", "width": 75},
    {"field": "ccu_version", "headerName": "CCU", "width": 80},
    {
        "field": "status",
        "headerName": "status",
        "flex": 2,
        "minWidth": 150,
        "tooltipField": "status",
        "cellClass": "lib-status",
    },
]


def make_layout(ctx: AppContext) -> Callable[..., Any]:
    limit = ctx.config.upload_limit_bytes

    def layout(**_query: str) -> Any:
        return html.Div(
            [
                dcc.Store(id="library-version", data=0),
                dcc.Interval(id="library-interval", interval=700, disabled=True),
                dbc.Row(
                    [
                        dbc.Col(
                            dbc.Input(
                                id="library-filter",
                                placeholder="filter by name (text, or re:regex)",
                                debounce=0.3,
                                type="text",
                            ),
                            md=4,
                        ),
                        dbc.Col(
                            dbc.Checkbox(id="library-regex", label="regex", value=False),
                            width="auto",
                            className="pt-2",
                        ),
                        dbc.Col(
                            dbc.Select(
                                id="library-outcome",
                                value="all",
                                options=[{"label": f"outcome: {o}", "value": o} for o in OUTCOMES],
                            ),
                            md=2,
                        ),
                        dbc.Col(
                            dbc.Button(
                                "Refresh", id="library-refresh", color="secondary", outline=True
                            ),
                            width="auto",
                        ),
                        dbc.Col(
                            dcc.Upload(
                                id="library-upload",
                                children=html.Div(
                                    [
                                        "Drop or ",
                                        html.A("choose a session file"),
                                        html.Span(
                                            f" (.log .db .zip, ≤ {limit / 2**20:,.0f} MiB)",
                                            className="text-muted small",
                                        ),
                                    ]
                                ),
                                max_size=limit,
                                multiple=False,
                                className="upload-box",
                            ),
                        ),
                    ],
                    className="g-2 mb-2 align-items-center",
                ),
                html.Div(id="library-message"),
                html.Div(id="library-pending"),
                html.Div(
                    [
                        dbc.Button(
                            "Open in Analyse",
                            id="library-open-analyse",
                            href="/analyse",
                            color="primary",
                            size="sm",
                            disabled=True,
                        ),
                        dbc.Button(
                            "Open in Replay",
                            id="library-open-replay",
                            href="/replay",
                            color="success",
                            size="sm",
                            disabled=True,
                        ),
                        dbc.Button(
                            "Rename…",
                            id="library-rename-open",
                            color="secondary",
                            size="sm",
                            outline=True,
                            disabled=True,
                        ),
                        dbc.Button(
                            "Delete…",
                            id="library-delete-open",
                            color="danger",
                            size="sm",
                            outline=True,
                            disabled=True,
                        ),
                        html.Span(id="library-selected-name", className="ms-2 text-muted small"),
                    ],
                    className="d-flex gap-2 align-items-center mb-2",
                ),
                html.Div(id="library-health"),
                dag.AgGrid(
                    id="library-grid",
                    columnDefs=COLUMNS,
                    rowData=[],
                    defaultColDef={"sortable": True, "resizable": True, "filter": False},
                    dashGridOptions={
                        "rowSelection": {
                            "mode": "singleRow",
                            "checkboxes": False,
                            "enableClickSelection": True,
                        },
                    },
                    getRowId="params.data.name",
                    rowClassRules={
                        "lib-row-error": "params.data.health == 'error'",
                        "lib-row-empty": "params.data.health == 'empty'",
                        "lib-row-warning": "params.data.health == 'warning'",
                    },
                    style={"height": "calc(100vh - 230px)", "minHeight": "320px"},
                    className="ag-theme-quartz",
                ),
                _modals(),
            ]
        )

    return layout


def _modals() -> Any:
    return html.Div(
        [
            dbc.Modal(
                [
                    dbc.ModalHeader(dbc.ModalTitle("Rename session")),
                    dbc.ModalBody(
                        [
                            html.Div(
                                id="library-rename-current", className="mb-2 text-muted small"
                            ),
                            dbc.Input(id="library-rename-input", type="text"),
                        ]
                    ),
                    dbc.ModalFooter(
                        [
                            dbc.Button("Cancel", id="library-rename-cancel", color="secondary"),
                            dbc.Button("Rename", id="library-rename-confirm", color="primary"),
                        ]
                    ),
                ],
                id="library-rename-modal",
                is_open=False,
            ),
            dbc.Modal(
                [
                    dbc.ModalHeader(dbc.ModalTitle("Delete session?")),
                    dbc.ModalBody(id="library-delete-text"),
                    dbc.ModalFooter(
                        [
                            dbc.Button("Cancel", id="library-delete-cancel", color="secondary"),
                            dbc.Button("Delete", id="library-delete-confirm", color="danger"),
                        ]
                    ),
                ],
                id="library-delete-modal",
                is_open=False,
            ),
        ]
    )


def table_rows(
    ctx: AppContext, text: str | None, regex: bool, outcome: str | None, tz: str | None = None
) -> tuple[list[dict[str, Any]], list[Any], str | None]:
    """Filtered rows for the grid, pending summary jobs, and a filter error (if any)."""
    rows, pending = library_rows(ctx.store, clock.valid_zone(tz, ctx.config.tz))
    try:
        return lib.filter_rows(rows, text, outcome, regex=regex), pending, None
    except lib.LibraryError as exc:
        return rows, pending, str(exc)


HEALTH_COLORS = {"error": "danger", "empty": "warning", "warning": "warning"}
HEALTH_TITLES = {
    "error": "This session cannot be opened",
    "empty": "This session holds no messages",
    "warning": "Some lines of this session could not be read",
}


def health_detail(row: dict[str, Any]) -> Any:
    """The full reason why the selected session is failed, empty or partly unreadable
    (expandable, so a long reason is never cut off)."""
    health = row.get("health") or ""
    if not health:
        return None
    return dbc.Alert(
        html.Details(
            [
                html.Summary(f"{HEALTH_TITLES[health]}: {row['name']}", className="fw-semibold"),
                html.Div(str(row.get("status") or ""), className="mt-1 text-break"),
            ],
            open=True,
        ),
        color=HEALTH_COLORS[health],
        className="py-2 mb-2 small",
        id="library-health-detail",
    )


def apply_action(
    ctx: AppContext,
    trigger: str | None,
    *,
    selected: str | None,
    upload: str | None,
    filename: str | None,
    new_name: str | None,
) -> tuple[str | None, str, bool]:
    """Performs an upload, rename or delete. Returns (message, colour, changed)."""
    directory = ctx.config.sessions_dir
    try:
        if trigger == "library-upload" and upload:
            path = lib.save_upload(directory, filename, upload, ctx.config.upload_limit_bytes)
            return f"Uploaded {path.name}.", "success", True
        if trigger == "library-rename-confirm" and selected:
            path = lib.rename_session(directory, selected, new_name)
            ctx.store.forget(selected)
            return f"Renamed {selected} to {path.name}.", "success", True
        if trigger == "library-delete-confirm" and selected:
            lib.delete_session(directory, selected)
            ctx.store.forget(selected)
            return f"Deleted {selected}.", "success", True
    except (lib.LibraryError, OSError) as exc:
        return str(exc), "danger", False
    return None, "info", False


def register_callbacks(app: dash.Dash, ctx: AppContext) -> None:
    @app.callback(
        Output("library-grid", "rowData"),
        Output("library-pending", "children"),
        Output("library-interval", "disabled"),
        Input("library-version", "data"),
        Input("library-refresh", "n_clicks"),
        Input("library-interval", "n_intervals"),
        Input("library-filter", "value"),
        Input("library-regex", "value"),
        Input("library-outcome", "value"),
        Input("app-tz", "value"),
    )
    def refresh(
        _v: Any,
        _n: Any,
        _i: Any,
        text: str | None,
        regex: bool,
        outcome: str | None,
        tz: str | None,
    ) -> Any:
        rows, pending, error = table_rows(ctx, text, bool(regex), outcome, tz)
        notes: list[Any] = []
        if error:
            notes.append(alert(error, "warning"))
        for job in pending:
            notes.append(
                html.Div(
                    [
                        html.Span(f"reading {job.name} ", className="small"),
                        dbc.Progress(
                            value=int(job.fraction * 100),
                            label=f"{job.fraction:.0%}",
                            className="mb-1",
                            style={"height": "14px"},
                        ),
                    ]
                )
            )
        return rows, notes, not pending

    @app.callback(
        Output("library-open-analyse", "href"),
        Output("library-open-replay", "href"),
        Output("library-open-analyse", "disabled"),
        Output("library-open-replay", "disabled"),
        Output("library-rename-open", "disabled"),
        Output("library-delete-open", "disabled"),
        Output("library-selected-name", "children"),
        Output("app-session", "data", allow_duplicate=True),
        Output("library-health", "children"),
        Input("library-grid", "selectedRows"),
        prevent_initial_call=True,
    )
    def select(rows: list[dict[str, Any]] | None) -> Any:
        name = rows[0]["name"] if rows else None
        if not name:
            return "/analyse", "/replay", True, True, True, True, "", dash.no_update, None
        q = quote(name)
        return (
            f"/analyse?session={q}",
            f"/replay?session={q}",
            False,
            False,
            False,
            False,
            name,
            name,
            health_detail(rows[0]) if rows else None,
        )

    @app.callback(
        Output("library-message", "children"),
        Output("library-version", "data"),
        Output("library-rename-modal", "is_open"),
        Output("library-delete-modal", "is_open"),
        Output("library-rename-input", "value"),
        Output("library-rename-current", "children"),
        Output("library-delete-text", "children"),
        Input("library-upload", "contents"),
        Input("library-rename-open", "n_clicks"),
        Input("library-rename-cancel", "n_clicks"),
        Input("library-rename-confirm", "n_clicks"),
        Input("library-delete-open", "n_clicks"),
        Input("library-delete-cancel", "n_clicks"),
        Input("library-delete-confirm", "n_clicks"),
        State("library-upload", "filename"),
        State("library-grid", "selectedRows"),
        State("library-rename-input", "value"),
        State("library-version", "data"),
        prevent_initial_call=True,
    )
    def act(upload: str | None, *args: Any) -> Any:
        filename, rows, new_name, version = args[-4:]
        trigger = dash.ctx.triggered_id
        selected = rows[0]["name"] if rows else None
        nu = dash.no_update
        if trigger == "library-rename-open" and selected:
            return nu, nu, True, False, selected, f"Current name: {selected}", nu
        if trigger == "library-delete-open" and selected:
            text = [
                html.P(["Delete ", html.Strong(selected), " from the session directory?"]),
                html.P("This cannot be undone.", className="text-danger small mb-0"),
            ]
            return nu, nu, False, True, nu, nu, text
        if trigger in ("library-rename-cancel", "library-delete-cancel"):
            return nu, nu, False, False, nu, nu, nu
        message, color, changed = apply_action(
            ctx,
            str(trigger),
            selected=selected,
            upload=upload,
            filename=filename,
            new_name=new_name,
        )
        shown = alert(message, color) if message else nu
        return shown, (version or 0) + 1 if changed else nu, False, False, nu, nu, nu
