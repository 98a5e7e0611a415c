"""Component builders of the Replay page: progress, counters, fidelity report, timeline."""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
import numpy as np
import plotly.graph_objects as go
from dash import html

from apps.session_manager.analysis import SessionView
from apps.session_manager.render import fmt_duration, kv_table


def progress_of(status: dict[str, Any] | None) -> tuple[float, str]:
    """(percent, label) of a replay status: messages of the window published so far."""
    if not status:
        return 0.0, ""
    total = int(status.get("total") or 0)
    index = int(status.get("index") or 0)
    if status.get("state") == "finished" and total:
        index = total
    pct = 100.0 * index / total if total else 0.0
    return pct, f"{pct:.0f} %"


def counters(snapshot: dict[str, Any]) -> Any:
    status = snapshot.get("status") or {}
    if not status:
        return html.Div(
            "No replay yet." if not snapshot.get("starting") else "Starting…",
            className="text-muted",
        )
    speed = status.get("speed")
    lat = [
        status.get(k, 0.0) / 1000 for k in ("lateness_p50_us", "lateness_p99_us", "lateness_max_us")
    ]
    all_sent = status.get("sent") == status.get("total") and status.get("state") == "finished"
    return html.Div(
        [
            html.Div(
                [
                    html.Span(
                        f"sent {status.get('sent', 0):,} of {status.get('total', 0):,}",
                        id="replay-sent",
                    ),
                    dbc.Badge(
                        "sent = total", color="success", className="ms-2", id="replay-all-sent"
                    )
                    if all_sent
                    else None,
                ]
            ),
            html.Div(
                f"position {fmt_duration(status.get('position_s'))} / {fmt_duration(status.get('duration_s'))}"
                f" · speed {'max' if not speed else f'{speed:g}×'} · rate {status.get('rate', 0):,.1f} msg/s"
                f" · loop {'on' if status.get('loop') else 'off'} ({status.get('loops', 0)} done)"
            ),
            html.Div(
                f"failed {status.get('failed', 0):,} · primed {status.get('primed', 0):,} · resent "
                f"{status.get('resent', 0):,} · reconnects {status.get('reconnects', 0)} · "
                f"{'connected' if status.get('connected') else 'not connected'}"
            ),
            html.Div(f"lateness p50 {lat[0]:.3f} ms · p99 {lat[1]:.3f} ms · max {lat[2]:.3f} ms"),
        ]
    )


def report_card(report: dict[str, Any] | None) -> Any:
    if not report:
        return None
    pairs = [
        (k, f"{v:,.3f}" if isinstance(v, float) else v) for k, v in report.items() if k != "session"
    ]
    ok = report.get("sent") == report.get("total") and not report.get("failed")
    return dbc.Card(
        [
            dbc.CardHeader(
                [
                    "Fidelity report ",
                    dbc.Badge(
                        "every message sent" if ok else "incomplete",
                        color="success" if ok else "warning",
                    ),
                ]
            ),
            dbc.CardBody(kv_table(pairs), className="p-2"),
        ],
        id="replay-report-card",
    )


def density_figure(view: SessionView, buckets: int = 200) -> go.Figure:
    """Messages per time bucket over the whole session (x: seconds from the start)."""
    offsets = (view.ts - view.start_us) / 1e6
    duration = max(float(offsets.max()) if len(offsets) else 0.0, 1e-3)
    counts, edges = np.histogram(offsets, bins=buckets, range=(0.0, duration))
    fig = go.Figure(
        go.Bar(
            x=(edges[:-1] + edges[1:]) / 2,
            y=counts,
            width=duration / buckets,
            marker={"color": "#6c9bd2"},
            hovertemplate="t+%{x:.1f} s: %{y} msgs<extra></extra>",
        )
    )
    fig.update_layout(
        height=170,
        margin={"l": 30, "r": 10, "t": 5, "b": 30},
        bargap=0,
        showlegend=False,
        plot_bgcolor="#fbfcfe",
        clickmode="event",
        shapes=[],
    )
    fig.update_xaxes(
        range=[0, duration], title={"text": "seconds from session start", "font": {"size": 10}}
    )
    fig.update_yaxes(fixedrange=True)
    return fig
