"""Analyse page: timeline, topic tree with pre-filter, statistics, window, message table,
payload inspector, field plot, key chains and "save as session".

Only names, numbers and small query objects travel between browser and server; the session
lives in the app's :class:`~apps.session_manager.store.SessionStore`. The page-wide
``analyse-selection`` store (window, switched-off topics, pre-filter, text) drives every view.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import ClientsideFunction, Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate

from apps.session_manager import (
    analyse_callbacks,
    analysis,
    clock,
    message_table,
    outliers,
    timeline,
)
from apps.session_manager import analyse_panels as panels
from apps.session_manager.analyse_callbacks import QUICK_RANGES, view_of
from apps.session_manager.render import alert, elide_middle, fmt_bytes, fmt_duration
from apps.session_manager.session_files import SessionFile, list_sessions

if TYPE_CHECKING:
    from apps.session_manager.analysis import SessionView
    from apps.session_manager.context import AppContext

STEP_BUTTONS = (
    ("prev", "◀ prev", "previous message of the selection (k)"),
    ("next", "next ▶", "next message of the selection (j)"),
    ("prev-topic", "◀ topic", "previous message of the same topic (K)"),
    ("next-topic", "topic ▶", "next message of the same topic (J)"),
)
# The analysis area before a session is open: kept laid out (graphs and grids keep their width)
# but takes no room, so the page shows only what to do next.
HIDDEN = {"visibility": "hidden", "position": "absolute", "left": "-200vw", "width": "96vw"}
RECENT = 6
PATH = "/analyse"
NAME = "Analyse"
ORDER = 1


def _card(title: str, body: Any, **kwargs: Any) -> Any:
    return dbc.Card(
        [dbc.CardHeader(title, className="py-1 fw-semibold"), dbc.CardBody(body, className="p-2")],
        className="mb-2",
        **kwargs,
    )


def pick_a_session(files: Sequence[SessionFile], note: str | None = None) -> Any:
    """The empty state: what to do (pick a session), with the most recent ones one click away."""
    recent = sorted(files, key=lambda f: f.mtime, reverse=True)[:RECENT]
    items = [
        html.Li(
            [
                dcc.Link(f.name, href=f"/analyse?session={quote(f.name)}", refresh=True),
                html.Span(f" · {fmt_bytes(f.size)}", className="text-muted"),
            ]
        )
        for f in recent
    ]
    body: list[Any] = []
    if note:
        body.append(html.P(note, className="fw-semibold", id="analyse-empty-note"))
    body.append(
        html.P(
            "Pick a session in the box above to see its timeline, topics and messages."
            if files
            else "The session directory is empty: record a session or upload one in the Library."
        )
    )
    if items:
        body += [html.Div("Most recent:", className="small text-muted"), html.Ul(items)]
    return dbc.Card(dbc.CardBody(body), className="mb-2", id="analyse-pick")


@dataclass(frozen=True)
class LoadedParts:
    """What the page shows of a loaded session before any selection: the window slider's
    range, the topic tree, the field plot's topics and which areas show."""

    duration: float
    marks: dict[float, str]
    tree: list[Any]
    topics: list[dict[str, str]]
    outliers_style: dict[str, str]
    main_style: dict[str, str]
    empty: Any


def session_options(ctx: AppContext) -> list[str]:
    return [f.name for f in list_sessions(ctx.config.sessions_dir)]


def session_outliers(view: SessionView) -> outliers.Outliers | None:
    """The session's timestamp outliers (sorting millions of times once per session)."""
    return view.memo.get("outliers", lambda: outliers.find(view.ts, view.ts_valid))


def summary_line(view: SessionView, zone: str) -> list[Any]:
    s = view.session
    duration = max((view.end_us - view.start_us) / 1e6, 0.001)
    recorded = clock.fmt(view.start_us, zone, ms=False) if view.ts_valid.any() else "no times"
    return [
        html.Strong(s.name),
        f" · {len(view):,} messages · from {recorded} · {fmt_duration(duration)} · ",
        f"{len(view.topics)} topics · {fmt_bytes(int(view.sizes.sum()))} · {s.container}, {s.mode} mode",
        f" · {len(s.skipped)} bad lines skipped" if s.skipped else "",
    ]


def outlier_note(view: SessionView) -> str:
    found = session_outliers(view)
    if not found:
        return ""
    duration = max((view.end_us - view.start_us) / 1e6, 0.001)
    return (
        f"Timestamp outliers: {found.describe()} — they stretch the session to "
        f"{fmt_duration(duration)}; the bulk spans "
        f"{fmt_duration((found.bulk_end_us - found.bulk_start_us) / 1e6)}."
    )


def loaded_parts(ctx: AppContext, view: SessionView) -> LoadedParts:
    duration = max((view.end_us - view.start_us) / 1e6, 0.001)
    # Values are topic codes: a dropdown must never hold a 65,535-byte topic as a value.
    topics = [
        {"label": elide_middle(t), "value": str(code)}
        for code, t in sorted(enumerate(view.topics), key=lambda ct: ct[1])
    ]
    main, empty = ({}, None)
    if len(view) == 0:
        main = HIDDEN
        empty = pick_a_session(
            list_sessions(ctx.config.sessions_dir),
            f"{view.session.path.name} holds no messages: there is nothing to analyse in it.",
        )
    return LoadedParts(
        duration=duration,
        marks={round(duration * i / 4, 3): fmt_duration(duration * i / 4) for i in range(5)},
        tree=panels.topic_tree(analysis.topic_tree(view, analysis.Selection())),
        topics=topics,
        outliers_style={} if session_outliers(view) else {"display": "none"},
        main_style=main,
        empty=empty,
    )


def make_layout(ctx: AppContext) -> Callable[..., Any]:
    def layout(session: str | None = None, **_query: str) -> Any:
        # A session already in memory comes with the page (its tree, window and areas), so
        # the page's first callbacks start from the selection instead of three round trips
        # (pick the name, load, lay out) after the page arrived.
        view = ctx.store.peek(session) if session else None
        parts = loaded_parts(ctx, view) if view is not None else None
        duration = parts.duration if parts else 1
        window_card = _card(
            "Time window",
            [
                dcc.RangeSlider(
                    id="analyse-window-slider",
                    min=0,
                    max=duration,
                    value=[0, duration],
                    allowCross=False,
                    tooltip={"placement": "bottom"},
                    updatemode="mouseup",
                    marks=parts.marks if parts else None,
                ),
                html.Div(
                    [
                        dbc.Button(
                            label,
                            id={"type": "analyse-quick", "index": key},
                            size="sm",
                            color="secondary",
                            outline=True,
                        )
                        for key, label in QUICK_RANGES
                    ]
                    + [html.Span(id="analyse-window-label", className="ms-2 small text-muted")],
                    className="d-flex flex-wrap gap-1 align-items-center mt-1",
                ),
            ],
        )
        filter_card = _card(
            "Filter",
            [
                dbc.Switch(
                    id="analyse-prefilter", label="Hide noisy families (pre-filter)", value=True
                ),
                dbc.Button(
                    "Show all", id="analyse-show-all", size="sm", color="link", className="p-0 mb-1"
                ),
                html.Div(id="analyse-hidden"),
                dbc.Input(
                    id="analyse-text",
                    placeholder="topic or payload contains…",
                    debounce=0.5,
                    size="sm",
                    className="mt-2",
                ),
            ],
        )
        timeline_card = _card(
            "Timeline",
            [
                dbc.RadioItems(
                    id="analyse-lanes",
                    value="topic",
                    inline=True,
                    className="small",
                    options=[
                        {"label": "lane per topic", "value": "topic"},
                        {"label": "lane per category", "value": "category"},
                    ],
                ),
                dcc.Loading(
                    dcc.Graph(
                        id="analyse-timeline",
                        figure=timeline.blank_figure(""),
                        config={"displaylogo": False},
                    ),
                    delay_show=400,
                ),
            ],
        )
        messages_tab = dag.AgGrid(
            id="analyse-grid",
            columnDefs=message_table.COLUMN_DEFS,
            rowModelType="infinite",
            defaultColDef={"resizable": True},
            dashGridOptions={
                "cacheBlockSize": 100,
                "maxConcurrentDatasourceRequests": 1,
                "infiniteInitialRowCount": 1,
                "rowSelection": {
                    "mode": "singleRow",
                    "checkboxes": False,
                    "enableClickSelection": True,
                },
            },
            getRowId="params.data.rid",
            style={"height": "520px"},
            className="ag-theme-quartz",
        )
        stats_tab = dag.AgGrid(
            id="analyse-stats",
            columnDefs=panels.STATS_COLUMNS,
            rowData=[],
            defaultColDef={"resizable": True, "sortable": True},
            style={"height": "460px"},
            className="ag-theme-quartz",
        )
        plot_tab = html.Div(
            [
                dbc.Row(
                    [
                        dbc.Col(
                            dcc.Dropdown(
                                id="analyse-plot-topic",
                                placeholder="topic…",
                                options=parts.topics if parts else [],
                            ),
                            md=6,
                        ),
                        dbc.Col(
                            dcc.Dropdown(id="analyse-plot-field", placeholder="numeric field…"),
                            md=6,
                        ),
                    ],
                    className="g-2 mb-2",
                ),
                dcc.Graph(
                    id="analyse-plot",
                    figure=timeline.blank_figure(""),
                    config={"displaylogo": False},
                ),
                html.Div(id="analyse-plot-note", className="small text-muted"),
            ]
        )
        chain_tab = html.Div(
            [
                dbc.InputGroup(
                    [
                        dbc.Input(
                            id="analyse-chain-key",
                            placeholder="orderId, workpieceId or serial…",
                            n_submit=0,
                        ),
                        dbc.Button("Follow", id="analyse-chain-go", color="primary", n_clicks=0),
                    ],
                    size="sm",
                    className="mb-2",
                ),
                html.Div(id="analyse-chain-note"),
                dcc.Graph(
                    id="analyse-chain-graph",
                    figure=timeline.blank_figure(""),
                    config={"displaylogo": False},
                    style={"height": "300px"},
                ),
                dag.AgGrid(
                    id="analyse-chain-grid",
                    columnDefs=panels.CHAIN_COLUMNS,
                    rowData=[],
                    getRowId="params.data.rid",
                    dashGridOptions={
                        "rowSelection": {
                            "mode": "singleRow",
                            "checkboxes": False,
                            "enableClickSelection": True,
                        }
                    },
                    defaultColDef={"resizable": True, "sortable": True},
                    style={"height": "280px"},
                    className="ag-theme-quartz",
                ),
            ]
        )
        save_tab = html.Div(
            [
                html.P(
                    "Writes the current window, topic selection, pre-filter and text filter as a new "
                    "session (L5) into the library; its header records the source and the filter.",
                    className="small text-muted",
                ),
                dbc.InputGroup(
                    [
                        dbc.InputGroupText("name"),
                        dbc.Input(id="analyse-save-name", placeholder="my-cut"),
                        dbc.Button("Save as session", id="analyse-save-go", color="primary"),
                    ],
                    size="sm",
                    className="mb-2",
                ),
                html.Div(id="analyse-save-result"),
            ]
        )
        tabs = dbc.Tabs(
            [
                dbc.Tab(messages_tab, label="Messages", tab_id="messages"),
                dbc.Tab(stats_tab, label="Statistics", tab_id="stats"),
                dbc.Tab(plot_tab, label="Plot field", tab_id="plot"),
                dbc.Tab(chain_tab, label="Follow key", tab_id="chain"),
                dbc.Tab(save_tab, label="Save as", tab_id="save"),
            ],
            id="analyse-tabs",
            active_tab="messages",
            className="mb-2",
        )
        inspector_card = _card(
            "Payload inspector",
            [
                html.Div(
                    id="analyse-insp-header",
                    children=html.Div(
                        "Click a message in the timeline or the table.",
                        className="text-muted small",
                    ),
                ),
                html.Div(
                    [
                        dbc.ButtonGroup(
                            [
                                dbc.Button(
                                    label,
                                    id=f"analyse-step-{key}",
                                    title=title,
                                    size="sm",
                                    color="secondary",
                                    outline=True,
                                    disabled=True,
                                )
                                for key, label, title in STEP_BUTTONS
                            ],
                            size="sm",
                        ),
                        html.Span(
                            "keys: k / j previous / next, K / J same topic",
                            className="small text-muted ms-2",
                            id="analyse-step-keys",
                        ),
                    ],
                    className="d-flex flex-wrap align-items-center gap-1 mb-2",
                ),
                html.Div(id="analyse-insp-follow"),
                dbc.Tabs(
                    [
                        dbc.Tab(
                            html.Div(id="analyse-insp-tree", className="insp-pane"),
                            label="Tree",
                            tab_id="tree",
                        ),
                        dbc.Tab(
                            html.Div(id="analyse-insp-raw", className="insp-pane"),
                            label="Raw",
                            tab_id="raw",
                        ),
                        dbc.Tab(
                            html.Div(id="analyse-insp-image", className="insp-pane"),
                            label="Image",
                            tab_id="image",
                        ),
                        dbc.Tab(
                            html.Div(id="analyse-insp-diff", className="insp-pane"),
                            label="Diff",
                            tab_id="diff",
                        ),
                    ],
                    id="analyse-insp-tabs",
                    active_tab="tree",
                ),
            ],
            id="analyse-inspector",
        )
        return html.Div(
            [
                # Without a session in memory the page asks which one to show (and loads it);
                # with one it came complete, and no callback may wait on that question.
                *([] if parts else [dcc.Store(id="analyse-init", data={"session": session})]),
                dcc.Store(id="analyse-boot"),
                dcc.Store(id="analyse-session", data={"name": session} if parts else None),
                dcc.Store(id="analyse-selection"),
                dcc.Store(id="analyse-visible"),
                dcc.Store(id="analyse-zoom"),
                dcc.Store(id="analyse-timeline-click"),  # a click, not a double-click
                dcc.Store(id="analyse-selected"),
                dcc.Store(id="analyse-timeline-meta"),
                dcc.Store(id="analyse-screen"),
                dcc.Store(id="analyse-grid-target"),
                dcc.Store(id="analyse-grid-marked"),
                dcc.Store(id="analyse-grid-purged"),
                dcc.Store(id="analyse-tree-counts"),
                dcc.Store(id="analyse-insp-data"),
                dcc.Store(id="analyse-insp-drawn"),
                dcc.Store(id="analyse-tree-patched"),
                dcc.Interval(id="analyse-load-interval", interval=400, disabled=True),
                dbc.Row(
                    [
                        dbc.Col(
                            dcc.Dropdown(
                                id="analyse-session-select",
                                placeholder="choose a session…",
                                clearable=False,
                                options=session_options(ctx) if parts else [],
                                value=session if parts else None,
                            ),
                            md=4,
                        ),
                        dbc.Col(html.Div(id="analyse-summary", className="small"), md=8),
                    ],
                    className="g-2 mb-2 align-items-center",
                ),
                html.Div(
                    html.Div(
                        [
                            html.Span(id="analyse-outliers-text", className="me-2"),
                            dbc.Button(
                                "Clip the window to the bulk",
                                id="analyse-clip-bulk",
                                size="sm",
                                color="warning",
                                outline=True,
                            ),
                        ],
                        className="d-flex flex-wrap align-items-center gap-1",
                    ),
                    id="analyse-outliers",
                    className="alert alert-warning py-1 px-2 small mb-2",
                    style=parts.outliers_style if parts else {"display": "none"},
                ),
                html.Div(id="analyse-load"),
                html.Div(parts.empty if parts else None, id="analyse-empty"),
                dbc.Row(
                    [
                        dbc.Col(
                            [
                                filter_card,
                                _card(
                                    "Topics",
                                    html.Div(
                                        parts.tree if parts else None,
                                        id="analyse-tree",
                                        className="topic-tree",
                                    ),
                                ),
                            ],
                            lg=3,
                        ),
                        dbc.Col([window_card, timeline_card], lg=9),
                        # the message table and statistics take the page's width
                        dbc.Col(tabs, xl=9, className="analyse-tables"),
                        dbc.Col(inspector_card, xl=3),
                    ],
                    className="g-2",
                    id="analyse-main",
                    style=parts.main_style if parts else HIDDEN,
                ),
            ]
        )

    return layout


def register_callbacks(app: dash.Dash, ctx: AppContext) -> None:
    analyse_callbacks.register(app, ctx)
    app.clientside_callback(  # type: ignore[no-untyped-call]
        ClientsideFunction("inspector", "render"),  # assets/inspector.js
        Output("analyse-insp-drawn", "data"),
        Input("analyse-insp-data", "data"),
        Input("analyse-insp-tabs", "active_tab"),
    )
    app.clientside_callback(  # type: ignore[no-untyped-call]
        panels.PATCH_TREE_COUNTS,
        Output("analyse-tree-patched", "data"),
        Input("analyse-tree-counts", "data"),
    )
    app.clientside_callback(  # type: ignore[no-untyped-call]
        "function(_) { return window.innerWidth || 1200; }",
        Output("analyse-screen", "data"),
        Input("analyse-boot", "data"),
    )
    app.clientside_callback(  # type: ignore[no-untyped-call]
        """function(sel, tz) {
            // A new selection is a new table: it shows from its first row (the old scroll
            // position means nothing in it, and would have the grid fetch blocks one by one
            // down to there), and the grid asks again for its blocks. Before it is mounted
            // there is nothing to do.
            try {
                const api = window.dash_ag_grid.getApi("analyse-grid");
                if (api) {
                    if (dash_clientside.callback_context.triggered_id === "analyse-selection") {
                        api.ensureIndexVisible(0, "top");
                    }
                    api.purgeInfiniteCache();
                }
            } catch (e) { /* not mounted yet: its first request will use the new selection */ }
            return Date.now();
        }""",
        Output("analyse-grid-purged", "data"),
        Input("analyse-selection", "data"),
        Input("app-tz", "value"),
        prevent_initial_call=True,
    )

    app.clientside_callback(  # type: ignore[no-untyped-call]
        """function(target) {
            // Scroll the selected message's row into view and mark it (any sort or filter).
            if (!target) { return window.dash_clientside.no_update; }
            let api = null;
            try { api = window.dash_ag_grid.getApi("analyse-grid"); } catch (e) { return null; }
            if (!api) { return null; }
            if (target.index !== null && target.index !== undefined) {
                api.ensureIndexVisible(target.index);
            }
            const id = String(target.row);
            let tries = 0;
            const mark = () => {
                const node = api.getRowNode(id);
                if (node && node.data) {
                    if (!node.isSelected()) { node.setSelected(true, true); }
                } else if (target.index === null || ++tries > 60) {
                    api.deselectAll();
                } else {
                    setTimeout(mark, 50);
                }
            };
            mark();
            return target.row;
        }""",
        Output("analyse-grid-marked", "data"),
        Input("analyse-grid-target", "data"),
        prevent_initial_call=True,
    )

    @app.callback(
        Output("analyse-session-select", "options"),
        Output("analyse-session-select", "value"),
        Output("analyse-empty", "children"),
        Input("analyse-init", "data"),
        State("app-session", "data"),
    )
    def fill_sessions(init: dict[str, Any], remembered: str | None) -> Any:
        files = list_sessions(ctx.config.sessions_dir)
        names = [f.name for f in files]
        wanted = (init or {}).get("session") or remembered
        if wanted in names:
            return names, wanted, None
        return names, None, pick_a_session(files)

    @app.callback(
        Output("analyse-session", "data"),
        Output("analyse-load", "children"),
        Output("analyse-load-interval", "disabled"),
        # (no output outside this page: Dash would fire this at every open of the page, and
        # the page's first selection would wait for it; the summary remembers the session)
        Input("analyse-session-select", "value"),
        Input("analyse-load-interval", "n_intervals"),
        State("analyse-session", "data"),
        prevent_initial_call=True,
    )
    def load(name: str | None, _n: Any, current: dict[str, Any] | None) -> Any:
        if not name:
            raise PreventUpdate
        job = ctx.store.request(name)
        if job.state == "error":
            return None, alert(f"Cannot open {name}: {job.error}"), True
        if job.state == "loading":
            bar = dbc.Progress(
                value=int(job.fraction * 100),
                label=f"reading {name}: {job.fraction:.0%}",
                striped=True,
                animated=True,
                className="mb-2",
                id="analyse-progress",
            )
            return dash.no_update, bar, False
        data = {"name": name}
        if current == data:
            return dash.no_update, None, True
        return data, None, True

    @app.callback(
        Output("analyse-summary", "children"),
        Output("analyse-outliers-text", "children"),
        Input("analyse-session", "data"),
        Input("app-tz", "value"),
    )
    def summary(session: dict[str, Any] | None, tz: str | None) -> Any:
        """The session's summary line and outlier note, in the zone the user picked (and the
        session remembered as the one the user works on). The shell's store is set as a side
        update, not an output: an output outside the page made Dash try this callback at
        every page load of the app, before the page existed (a console error on each)."""
        view = view_of(ctx, session)
        zone = clock.valid_zone(tz, ctx.config.tz)
        if session:
            dash.set_props("app-session", {"data": session["name"]})
        return summary_line(view, zone), outlier_note(view)

    @app.callback(
        Output("analyse-window-slider", "max"),
        Output("analyse-window-slider", "value"),
        Output("analyse-window-slider", "marks"),
        Output("analyse-tree", "children"),
        Output("analyse-plot-topic", "options"),
        Output("analyse-prefilter", "value"),
        Output("analyse-text", "value"),
        Output("analyse-selected", "data", allow_duplicate=True),
        Output("analyse-outliers", "style"),
        Output("analyse-main", "style"),
        Output("analyse-empty", "children", allow_duplicate=True),
        Input("analyse-session", "data"),
        prevent_initial_call=True,
    )
    def session_loaded(session: dict[str, Any] | None) -> Any:
        p = loaded_parts(ctx, view_of(ctx, session))
        return (
            p.duration,
            [0, p.duration],
            p.marks,
            p.tree,
            p.topics,
            True,
            "",
            None,
            p.outliers_style,
            p.main_style,
            p.empty,
        )

    @app.callback(
        Output("analyse-window-slider", "value", allow_duplicate=True),
        Input("analyse-clip-bulk", "n_clicks"),
        State("analyse-session", "data"),
        prevent_initial_call=True,
    )
    def clip_to_bulk(clicks: int | None, session: dict[str, Any] | None) -> Any:
        view = view_of(ctx, session)
        found = session_outliers(view)
        if not clicks or found is None:
            raise PreventUpdate
        return [
            round((found.bulk_start_us - view.start_us) / 1e6, 3),
            round((found.bulk_end_us - view.start_us) / 1e6, 3),
        ]
