"""Callbacks of the Analyse page that work on a loaded session (the page module is
``pages/analyse.py``; this holds its interactions so that the page stays one module).

Each callback reads ids and small query objects, asks the analysis modules, and returns
components or a compact figure.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

import dash
import numpy as np
import plotly.graph_objects as go
from dash import ALL, ClientsideFunction, Input, Output, State
from dash.exceptions import PreventUpdate

from apps.session_manager import analyse_panels as panels
from apps.session_manager import (
    analysis,
    chains,
    clock,
    export,
    inspector,
    message_table,
    timeline,
)
from apps.session_manager.render import alert, fmt_duration
from apps.session_manager.session_files import LibraryError

if TYPE_CHECKING:
    from apps.session_manager.analysis import Selection, SessionView
    from apps.session_manager.context import AppContext

QUICK_RANGES = (
    ("all", "All"),
    ("first60", "First 1 min"),
    ("last60", "Last 1 min"),
    ("last300", "Last 5 min"),
    ("zoom", "Use timeline zoom"),
)
EMPTY_ROWS: dict[str, Any] = {"rowData": [], "rowCount": 0}
NOT_READY_ROWS: dict[str, Any] = {"rowData": [], "rowCount": None}
STEP_KEYS = ("prev", "next", "prev-topic", "next-topic")


def step_target(view: SessionView, data: Any, current: int | None, key: str) -> int | None:
    """The message a step button (or key) leads to from ``current`` within the selection."""
    if current is None or not 0 <= current < len(view):
        return None
    rows = analysis.selected_rows(view, selection_of(data))
    return analysis.step_row(
        view, rows, int(current), forward=key.startswith("next"), same_topic="topic" in key
    )


def view_of(ctx: AppContext, session: dict[str, Any] | None) -> SessionView:
    if not session or not session.get("name"):
        raise PreventUpdate
    return ctx.store.get(session["name"])


def topic_of_code(view: SessionView, code: str | None) -> str | None:
    """The topic a dropdown value (a topic code as text) names, or None."""
    if code is None or not str(code).isdigit() or int(code) >= len(view.topics):
        return None
    return view.topics[int(code)]


def selection_of(data: dict[str, Any] | None) -> Selection:
    data = data or {}
    return analysis.Selection.make(
        data.get("window"), data.get("excluded"), data.get("prefilter", True), data.get("text")
    )


def window_from_slider(
    view: SessionView, value: list[float] | None, maximum: float | None
) -> list[int] | None:
    """Slider seconds → absolute µs window; None when it spans the whole session."""
    if not value or len(value) != 2:
        return None
    lo, hi = sorted(float(v) for v in value)
    full_end = maximum if maximum is not None else (view.end_us - view.start_us) / 1e6
    if lo <= 0 and hi >= full_end - 1e-3:
        return None
    w0 = view.start_us + round(lo * 1e6) if lo > 0 else view.start_us
    w1 = view.end_us if hi >= full_end - 1e-3 else view.start_us + round(hi * 1e6)
    return [w0, w1]


def quick_window(
    key: str, duration: float, current: list[float], zoom: list[int] | None, start_us: int
) -> list[float]:
    """Slider value (seconds from the session start) for a quick-range button."""
    end = max(duration, 0.0)
    if key == "first60":
        return [0.0, min(60.0, end)]
    if key == "last60":
        return [max(end - 60.0, 0.0), end]
    if key == "last300":
        return [max(end - 300.0, 0.0), end]
    if key == "zoom":
        if not zoom:
            return current
        return [max((zoom[0] - start_us) / 1e6, 0.0), min((zoom[1] - start_us) / 1e6, end)]
    return [0.0, end]


def field_figure(
    view: SessionView, sel: Selection, topic: str, path: str, tz: str = clock.UTC_NAME
) -> tuple[go.Figure, str]:
    """The values of ``path`` in ``topic``'s messages inside the window, over time."""
    code = view.topics.index(topic) if topic in view.topics else -1
    rows = analysis.selected_rows(view, analysis.Selection(window=sel.window, prefilter=False))
    rows = rows[view.codes[rows] == code]
    ts, values, total = inspector.field_series(view, rows, path)
    fig = go.Figure(
        go.Scattergl(
            x=clock.wall_ms(ts, tz),
            y=values,
            mode="lines+markers",
            marker={"size": 5},
            hovertemplate="%{x|%H:%M:%S.%L} "
            + clock.abbreviation(int(ts[0]) if len(ts) else 0, tz)
            + "<br>%{y}<extra></extra>",
        )
    )
    fig.update_layout(
        height=320,
        margin={"l": 10, "r": 10, "t": 30, "b": 40},
        plot_bgcolor="#fbfcfe",
        title={"text": f"{topic} · {path}", "font": {"size": 12}},
    )
    fig.update_xaxes(type="date", title=clock.axis_title(tz))
    note = f"{len(values):,} values from {total:,} messages"
    if total > len(rows):
        note += " (thinned evenly)"
    return fig, note


def register(app: dash.Dash, ctx: AppContext) -> None:
    nu = dash.no_update
    recent_timelines: dict[tuple[Any, ...], timeline.Timeline] = {}

    def zone(tz: object) -> str:
        """The zone the user picked (the session's zone when unset or unknown)."""
        return clock.valid_zone(tz, ctx.config.tz)

    @app.callback(Output("analyse-grid", "columnDefs"), Input("app-tz", "value"))
    def grid_columns(tz: str | None) -> Any:
        return message_table.column_defs(zone(tz))

    @app.callback(
        Output("analyse-selection", "data"),
        Input("analyse-window-slider", "value"),
        Input("analyse-prefilter", "value"),
        Input({"type": "analyse-topic-group", "index": ALL}, "value"),
        Input("analyse-text", "value"),
        State("analyse-window-slider", "max"),
        State("analyse-session", "data"),
    )
    def selection(
        window: list[float],
        prefilter: bool,
        groups: list[list[str] | None],
        text: str | None,
        maximum: float | None,
        session: dict[str, Any] | None,
    ) -> Any:
        view = view_of(ctx, session)
        checked = {t for group in groups for t in (group or [])}
        excluded = sorted(t for t in view.topics if t not in checked) if groups else []
        return {
            "window": window_from_slider(view, window, maximum),
            "excluded": excluded,
            "prefilter": bool(prefilter),
            "text": (text or "").strip(),
        }

    @app.callback(
        Output("analyse-window-slider", "value", allow_duplicate=True),
        Input({"type": "analyse-quick", "index": ALL}, "n_clicks"),
        State("analyse-window-slider", "value"),
        State("analyse-window-slider", "max"),
        State("analyse-visible", "data"),
        State("analyse-session", "data"),
        prevent_initial_call=True,
    )
    def quick(
        clicks: list[int | None],
        current: list[float],
        maximum: float,
        zoom: list[int] | None,
        session: dict[str, Any] | None,
    ) -> Any:
        trigger = dash.ctx.triggered_id
        if not any(clicks) or not isinstance(trigger, dict):
            raise PreventUpdate
        view = view_of(ctx, session)
        return quick_window(
            str(trigger["index"]), float(maximum or 0), current, zoom, view.start_us
        )

    @app.callback(
        Output("analyse-prefilter", "value", allow_duplicate=True),
        Output({"type": "analyse-topic-group", "index": ALL}, "value"),
        Input("analyse-show-all", "n_clicks"),
        State({"type": "analyse-topic-group", "index": ALL}, "options"),
        prevent_initial_call=True,
    )
    def show_all(clicks: int | None, options: list[list[dict[str, Any]]]) -> Any:
        if not clicks:
            raise PreventUpdate
        return False, [[o["value"] for o in group] for group in options]

    @app.callback(
        Output("analyse-tree-counts", "data"),
        Output({"type": "analyse-cat-count", "index": ALL}, "children"),
        Output("analyse-hidden", "children"),
        Output("analyse-window-label", "children"),
        Input("analyse-selection", "data"),
        State({"type": "analyse-topic-group", "index": ALL}, "id"),
        State("analyse-session", "data"),
    )
    def tree_counts(
        data: dict[str, Any] | None, ids: list[dict[str, str]], session: dict[str, Any] | None
    ) -> Any:
        view = view_of(ctx, session)
        sel = selection_of(data)
        groups = {g["category"]: g for g in analysis.topic_tree(view, sel)}
        empty = {"topics": [], "visible": 0, "count": 0}
        per_topic = {
            t["topic"]: [t["count"], t["hidden"]] for g in groups.values() for t in g["topics"]
        }
        counts = [
            f"{groups.get(i['index'], empty)['visible']:,} / {groups.get(i['index'], empty)['count']:,}"
            for i in ids
        ]
        hidden = panels.hidden_list(analysis.hidden_summary(view, sel.window), sel.prefilter)
        w0, w1 = sel.window or (view.start_us, view.end_us)
        rows = analysis.selected_rows(view, sel)
        label = (
            f"t+{(w0 - view.start_us) / 1e6:.1f} s … t+{(w1 - view.start_us) / 1e6:.1f} s "
            f"({fmt_duration((w1 - w0) / 1e6)}) · {len(rows):,} messages selected"
        )
        titles = view.memo.get("tree-titles", lambda: panels.tree_titles(view.topics))
        return {"counts": per_topic, "titles": titles}, counts, hidden, label

    app.clientside_callback(  # type: ignore[no-untyped-call]
        """function(relayout) {
            // Only a zoom of the time axis goes to the server; Plotly's own events (its first
            // draw's autosize, a resize) would cost a round trip each for nothing.
            const keys = Object.keys(relayout || {});
            const zoom = keys.some((k) => k.startsWith('xaxis.range') || k === 'xaxis.autorange');
            return zoom ? relayout : window.dash_clientside.no_update;
        }""",
        Output("analyse-zoom", "data"),
        Input("analyse-timeline", "relayoutData"),
        prevent_initial_call=True,
    )

    @app.callback(
        Output("analyse-visible", "data"),
        Input("analyse-zoom", "data"),
        State("app-tz", "value"),
        prevent_initial_call=True,
    )
    def visible(relayout: dict[str, Any] | None, tz: str | None) -> Any:
        """The range the user zoomed the timeline to (None: the whole window)."""
        parsed = timeline.parse_relayout(relayout, zone(tz))
        if parsed is None:
            raise PreventUpdate
        return None if parsed == "reset" else list(parsed)

    @app.callback(
        Output("analyse-timeline", "figure"),
        Output("analyse-timeline-meta", "data"),
        # A new selection drops a zoom that is not inside its window. Done here, not in a
        # callback of its own, so that the timeline needs no round trip before it draws.
        Output("analyse-visible", "data", allow_duplicate=True),
        Input("analyse-selection", "data"),
        Input("analyse-visible", "data"),
        Input("analyse-lanes", "value"),
        Input("analyse-selected", "data"),
        Input("app-tz", "value"),
        State("analyse-session", "data"),
        State("analyse-screen", "data"),
        State("analyse-timeline-meta", "data"),
        prevent_initial_call="initial_duplicate",
    )
    def draw_timeline(
        data: dict[str, Any] | None,
        vis: list[int] | None,
        lanes: str,
        selected: int | None,
        tz: str | None,
        session: dict[str, Any] | None,
        width: int | None,
        shown: dict[str, Any] | None,
    ) -> Any:
        if data is None:
            raise PreventUpdate
        view = view_of(ctx, session)
        new_vis: Any = nu
        if "analyse-selection.data" in dash.ctx.triggered_prop_ids and vis:
            window = data.get("window")
            if not (window and window[0] <= vis[0] and vis[1] <= window[1]):
                vis = new_vis = None
        key = (
            id(view),
            json.dumps([session, data], sort_keys=True, default=str),
            str(vis),
            lanes,
            width,
            zone(tz),
        )
        # The figure's identity: the browser's figure is this one when its meta says so.
        digest = hashlib.blake2b(repr(key[1:]).encode(), digest_size=8).hexdigest()
        tl = recent_timelines.get(key)
        if (
            tl is not None
            and dash.ctx.triggered_id == "analyse-selected"
            and shown
            and shown.get("key") == digest
            and isinstance(shown.get("marker"), int)
        ):
            # Selecting a message only moves the ring: replace the figure's last trace
            # instead of sending (and re-plotting from) the whole figure.
            patch = dash.Patch()
            patch["data"][shown["marker"]] = timeline.marker_trace(tl, view, selected, zone(tz))
            return patch, nu, nu
        if tl is None:
            sel = selection_of(data)
            rows = analysis.selected_rows(view, sel)
            visible_range = (int(vis[0]), int(vis[1])) if vis else sel.window
            lane_by: timeline.LaneBy = "category" if lanes == "category" else "topic"
            tl = timeline.aggregate(
                view,
                rows,
                lane_by=lane_by,
                visible=visible_range,
                width_px=int(width or 1200) * 3 // 4,
                present=np.flatnonzero(analysis.selection_stats(view, sel).count),
            )
            recent_timelines[key] = tl
            while len(recent_timelines) > 4:
                recent_timelines.pop(next(iter(recent_timelines)))
        fig = timeline.figure(tl, view, selected, zone(tz))
        meta = tl.meta()
        if tl.mode != "empty":
            meta |= {"key": digest, "marker": len(fig["data"]) - 1}
        return fig, meta, new_vis

    @app.callback(
        Output("analyse-stats", "rowData"),
        Input("analyse-selection", "data"),
        # computed when shown: a hidden grid re-rendered on every filter change cost the
        # browser a tenth of a second each time
        Input("analyse-tabs", "active_tab"),
        State("analyse-session", "data"),
    )
    def stats(data: dict[str, Any] | None, tab: str | None, session: dict[str, Any] | None) -> Any:
        if tab != "stats":
            raise PreventUpdate
        view = view_of(ctx, session)
        sel = selection_of(data)
        rows = analysis.selected_rows(view, sel)
        stats = analysis.topic_statistics(view, rows, stats=analysis.selection_stats(view, sel))
        return panels.stats_rows(stats, view.start_us)

    @app.callback(
        Output("analyse-grid", "getRowsResponse"),
        Input("analyse-grid", "getRowsRequest"),
        State("analyse-selection", "data"),
        State("analyse-session", "data"),
        State("app-tz", "value"),
    )
    def grid_rows(
        request: dict[str, Any] | None,
        data: dict[str, Any] | None,
        session: dict[str, Any] | None,
        tz: str | None,
    ) -> Any:
        if not request or not session or data is None:
            # Not ready (the session is still loading): "no rows, count unknown". A count of 0
            # here would make the grid swallow its next requests once the rows arrive and
            # keep empty placeholder rows (dash-ag-grid's zero-count path).
            return NOT_READY_ROWS
        view = view_of(ctx, session)
        sel = selection_of(data)
        try:
            return message_table.answer(
                view, analysis.selected_rows(view, sel), sel, request, zone(tz)
            )
        except message_table.QueryError:
            return EMPTY_ROWS

    app.clientside_callback(  # type: ignore[no-untyped-call]
        ClientsideFunction("timeline", "click"),  # assets/timeline_clicks.js
        Output("analyse-timeline-click", "data"),
        Input("analyse-timeline", "clickData"),
        prevent_initial_call=True,
    )

    @app.callback(
        Output("analyse-selected", "data"),
        # a single click only: the first press of a double-click (zoom out) opens nothing
        Input("analyse-timeline-click", "data"),
        # cellClicked, not selectedRows: the page itself marks the row of a message opened
        # elsewhere, and that must not come back as a click
        Input("analyse-grid", "cellClicked"),
        Input("analyse-chain-grid", "selectedRows"),
        Input("analyse-chain-graph", "clickData"),
        *[Input(f"analyse-step-{key}", "n_clicks") for key in STEP_KEYS],
        State("analyse-timeline-meta", "data"),
        State("analyse-selection", "data"),
        State("analyse-session", "data"),
        State("analyse-selected", "data"),
        State("app-tz", "value"),
        prevent_initial_call=True,
    )
    def pick(
        t_click: Any,
        cell: Any,
        chain_cell: Any,
        chain_click: Any,
        *rest: Any,
    ) -> Any:
        meta, data, session, current, tz = rest[len(STEP_KEYS) :]
        view = view_of(ctx, session)
        # Several inputs can fire in one round trip (a step while the grid reports the row it
        # just marked): the first that names another message wins.
        for trigger in dash.ctx.triggered_prop_ids.values():
            row: int | None = None
            if trigger == "analyse-timeline-click" and t_click and t_click.get("points"):
                rows = analysis.selected_rows(view, selection_of(data))
                row = timeline.row_at_click(view, rows, meta or {}, t_click["points"][0], zone(tz))
            elif trigger == "analyse-grid" and cell and str(cell.get("rowId", "")).isdigit():
                row = int(cell["rowId"])
            elif trigger == "analyse-chain-grid":
                row = (
                    int(chain_cell[0]["row"])
                    if chain_cell and isinstance(chain_cell[0].get("row"), int)
                    else None
                )
            elif trigger == "analyse-chain-graph" and chain_click and chain_click.get("points"):
                custom = chain_click["points"][0].get("customdata")
                row = int(custom[0]) if custom else None
            elif isinstance(trigger, str) and trigger.startswith("analyse-step-"):
                row = step_target(view, data, current, trigger.removeprefix("analyse-step-"))
            if row is not None and 0 <= row < len(view) and row != current:
                return row
        raise PreventUpdate

    @app.callback(
        Output("analyse-grid-target", "data"),
        Input("analyse-selected", "data"),
        State("analyse-grid", "getRowsRequest"),
        State("analyse-selection", "data"),
        State("analyse-session", "data"),
        prevent_initial_call=True,
    )
    def grid_target(
        row: int | None, request: Any, data: Any, session: dict[str, Any] | None
    ) -> Any:
        """Where the selected message is in the table (for the grid to scroll to it)."""
        view = view_of(ctx, session)
        if row is None or data is None or not 0 <= row < len(view):
            raise PreventUpdate
        sel = selection_of(data)
        try:
            index = message_table.position_of(
                view, analysis.selected_rows(view, sel), sel, request or {}, int(row)
            )
        except message_table.QueryError:
            index = None
        return {"row": int(row), "index": index}

    @app.callback(
        Output("analyse-insp-header", "children"),
        Output("analyse-insp-follow", "children"),
        Output("analyse-insp-data", "data"),
        Output("analyse-insp-raw", "children"),
        Output("analyse-insp-image", "children"),
        *[Output(f"analyse-step-{key}", "disabled") for key in STEP_KEYS],
        Input("analyse-selected", "data"),
        Input("app-tz", "value"),
        State("analyse-selection", "data"),
        State("analyse-session", "data"),
        prevent_initial_call=True,
    )
    def inspect(row: int | None, tz: str | None, data: Any, session: dict[str, Any] | None) -> Any:
        view = view_of(ctx, session)
        if row is None or not 0 <= row < len(view):
            raise PreventUpdate
        d = inspector.detail(view, int(row), zone(tz))
        previous_text = view.payloads([d.previous])[0] if d.previous is not None else None
        drawn, raw, image = panels.inspector_tabs(d, previous_text)
        disabled = [step_target(view, data, int(row), key) is None for key in STEP_KEYS]
        return (
            panels.inspector_header(d),
            panels.follow_buttons(d),
            drawn,
            raw,
            image,
            *disabled,
        )

    @app.callback(
        Output("analyse-plot-field", "options"),
        Output("analyse-plot-field", "value"),
        Input("analyse-plot-topic", "value"),
        State("analyse-session", "data"),
        prevent_initial_call=True,
    )
    def plot_fields(code: str | None, session: dict[str, Any] | None) -> Any:
        view = view_of(ctx, session)
        topic = topic_of_code(view, code)
        if topic is None:
            return [], None
        rows = analysis.selected_rows(view, analysis.Selection(prefilter=False))
        rows = rows[view.codes[rows] == int(str(code))]
        fields = inspector.numeric_fields(view, rows)
        preferred = next(
            (f for f in fields if "percentage" in f.lower()), fields[0] if fields else None
        )
        return [{"label": f, "value": f} for f in fields], preferred

    @app.callback(
        Output("analyse-plot", "figure"),
        Output("analyse-plot-note", "children"),
        Input("analyse-plot-field", "value"),
        Input("analyse-selection", "data"),
        Input("app-tz", "value"),
        State("analyse-plot-topic", "value"),
        State("analyse-session", "data"),
        prevent_initial_call=True,
    )
    def plot(
        path: str | None,
        data: Any,
        tz: str | None,
        code: str | None,
        session: dict[str, Any] | None,
    ) -> Any:
        view = view_of(ctx, session)
        topic = topic_of_code(view, code)
        if not path or topic is None:
            raise PreventUpdate
        return field_figure(view, selection_of(data), topic, path, zone(tz))

    app.clientside_callback(  # type: ignore[no-untyped-call]
        """function(clicks, goClicks) {
            // A business key's button in the inspector follows it on the Follow key tab. In
            // the browser: the buttons come new with each inspected message, and a server
            // callback would make a round trip for each of them.
            const nu = window.dash_clientside.no_update;
            const trigger = window.dash_clientside.callback_context.triggered_id;
            if (!(clicks || []).some(Boolean) || !trigger || typeof trigger !== 'object') {
                return [nu, nu, nu];
            }
            return [String(trigger.index), 'chain', (goClicks || 0) + 1];
        }""",
        Output("analyse-chain-key", "value"),
        Output("analyse-tabs", "active_tab"),
        Output("analyse-chain-go", "n_clicks"),
        Input({"type": "analyse-follow", "index": ALL}, "n_clicks"),
        State("analyse-chain-go", "n_clicks"),
        prevent_initial_call=True,
    )

    @app.callback(
        Output("analyse-chain-note", "children"),
        Output("analyse-chain-graph", "figure"),
        Output("analyse-chain-grid", "rowData"),
        Input("analyse-chain-go", "n_clicks"),
        Input("analyse-chain-key", "n_submit"),
        State("analyse-chain-key", "value"),
        State("analyse-session", "data"),
        State("app-tz", "value"),
        prevent_initial_call=True,
    )
    def follow(
        _go: Any, _submit: Any, key: str | None, session: dict[str, Any] | None, tz: str | None
    ) -> Any:
        if not key:
            raise PreventUpdate
        view = view_of(ctx, session)
        try:
            chain = chains.follow(view, key)
        except chains.ChainError as exc:
            return alert(str(exc), "warning"), go.Figure(), []
        return panels.chain_outputs(chain, zone(tz))

    @app.callback(
        Output("analyse-save-result", "children"),
        Input("analyse-save-go", "n_clicks"),
        State("analyse-save-name", "value"),
        State("analyse-selection", "data"),
        State("analyse-session", "data"),
        prevent_initial_call=True,
    )
    def save_as(
        clicks: int | None, name: str | None, data: Any, session: dict[str, Any] | None
    ) -> Any:
        if not clicks:
            raise PreventUpdate
        view = view_of(ctx, session)
        sel = selection_of(data)
        rows = analysis.selected_rows(view, sel)
        try:
            path = export.save_as_session(
                view, rows, ctx.config.sessions_dir, name or "", sel, tz=ctx.config.tz
            )
        except (LibraryError, OSError) as exc:
            return alert(str(exc))
        return alert(f"Saved {len(rows):,} messages as {path.name} (see the Library).", "success")
