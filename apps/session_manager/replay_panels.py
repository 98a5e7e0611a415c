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


def loop_progress(status: dict[str, Any]) -> str:
    """Where the replay is: ``loop 3 · 1,234 / 3,607`` (or ``1,234 / 3,607`` without loops)."""
    total = int(status.get("total") or 0)
    index = int(status.get("index") or 0)
    if status.get("state") == "finished" and total:
        index = total
    where = f"{index:,} / {total:,}"
    loops = int(status.get("loops") or 0)
    if status.get("loop") or loops:
        return f"loop {loops + 1:,} · {where}" if status.get("state") != "finished" else where
    return where


def sent_text(status: dict[str, Any]) -> str:
    """``sent 1,500 of 1,500`` for one pass; with loops the total over all loops."""
    sent, total = int(status.get("sent") or 0), int(status.get("total") or 0)
    loops = int(status.get("loops") or 0)
    if not status.get("loop") and not loops:
        return f"sent {sent:,} of {total:,}"
    done = f"{loops:,} loop{'' if loops == 1 else 's'} of {total:,} done"
    return f"sent {sent:,} in total · {done}"


def _rate(status: dict[str, Any]) -> float:
    return float(status.get("active_rate", status.get("rate")) or 0.0)


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
    all_sent = (
        status.get("state") == "finished"
        and not status.get("loops")
        and status.get("sent") == status.get("total")
    )
    return html.Div(
        [
            html.Div(
                [
                    html.Strong(loop_progress(status), id="replay-loop-progress"),
                    html.Span(" · "),
                    html.Span(sent_text(status), id="replay-sent"),
                    dbc.Badge(
                        "sent = total", color="success", className="ms-2", id="replay-all-sent"
                    )
                    if all_sent
                    else None,
                ]
            ),
            html.Div(
                [
                    f"position {fmt_duration(status.get('position_s'))} / "
                    f"{fmt_duration(status.get('duration_s'))}"
                    f" · speed {'max' if not speed else f'{speed:g}×'} · ",
                    html.Span(f"{_rate(status):,.1f} msg/s while playing", id="replay-rate"),
                    f" · loop {'on' if status.get('loop') else 'off'}",
                ]
            ),
            html.Div(
                f"failed {status.get('failed', 0):,} · primed {status.get('primed', 0):,} · resent "
                f"{status.get('resent', 0):,} · reconnects {status.get('reconnects', 0)} · "
                f"{'connected' if status.get('connected') else 'not connected'}"
            ),
            html.Div(f"lateness p50 {lat[0]:.3f} ms · p99 {lat[1]:.3f} ms · max {lat[2]:.3f} ms"),
        ]
    )


def _ms(us: Any) -> str:
    return f"{float(us or 0.0) / 1000:,.3f} ms"


def report_card(report: dict[str, Any] | None) -> Any:
    """The fidelity report as sentences with units (no raw keys, no "None")."""
    if not report:
        return None
    sent, total = int(report.get("sent") or 0), int(report.get("total") or 0)
    loops = int(report.get("loops") or 0)
    failed = int(report.get("failed") or 0)
    ok = not failed and not report.get("error") and (loops > 0 or sent == total)
    state = str(report.get("state") or "")
    messages = (
        f"{sent:,} sent over {loops:,} loop{'' if loops == 1 else 's'} of {total:,}"
        if loops
        else f"{sent:,} of {total:,} sent"
    )
    active = float(report.get("active_s") or report.get("elapsed_s") or 0.0)
    rate = sent / active if active > 0 else 0.0
    pairs: list[tuple[str, Any]] = [
        ("ended", _ended(state)),
        ("messages", messages),
        (
            "failed / resent / primed",
            f"{failed:,} / {int(report.get('resent') or 0):,} / {int(report.get('primed') or 0):,}",
        ),
        ("reconnects", f"{int(report.get('reconnects') or 0):,}"),
        ("time playing", fmt_duration(active)),
        ("effective rate", f"{rate:,.1f} msg/s"),
        (
            "lateness at publish",
            f"p50 {_ms(report.get('lateness_p50_us'))} · p99 {_ms(report.get('lateness_p99_us'))}"
            f" · p99.9 {_ms(report.get('lateness_p999_us'))}"
            f" · max {_ms(report.get('lateness_max_us'))}",
        ),
    ]
    if report.get("error"):
        pairs.append(("error", str(report["error"])))
    reasons = report.get("failures") or {}
    if isinstance(reasons, dict) and reasons:
        pairs.append(("why failed", "; ".join(f"{n:,} × {why}" for why, n in reasons.items())))
    return dbc.Card(
        [
            dbc.CardHeader(
                [
                    "Fidelity report ",
                    _verdict(state, ok),
                ]
            ),
            dbc.CardBody(kv_table(pairs), className="p-2"),
        ],
        id="replay-report-card",
    )


def _ended(state: str) -> str:
    return {
        "finished": "finished",
        "stopped": "stopped by the user",
        "failed": "failed (the broker made no progress)",
    }.get(state, state or "unknown")


def _verdict(state: str, ok: bool) -> Any:
    if state == "stopped" and ok:
        return dbc.Badge("stopped by the user", color="secondary")
    if state == "failed":
        return dbc.Badge("failed", color="danger")
    return dbc.Badge(
        "every message sent" if ok else "incomplete", color="success" if ok else "warning"
    )


def form_values(options: dict[str, Any]) -> dict[str, Any]:
    """The Replay form's field values that reproduce a replay's options (the inverse of
    ``options_from_form``), so the page shows what is running."""
    speed = options.get("speed")
    speed_text = "max" if speed in ("max", 0, 0.0, None) else f"{float(speed):g}"

    return {
        "speed": speed_text,
        "loop": bool(options.get("loop")),
        "start": options.get("start"),
        "end": options.get("end"),
        "topics": "\n".join(options.get("topics") or ()),
        "exclude": "\n".join(options.get("exclude") or ()),
        "prefix": options.get("prefix") or "",
        "remap": "\n".join(f"{a} => {b}" for a, b in options.get("remap") or ()),
        "qos": "recorded" if options.get("qos") is None else str(options["qos"]),
        "retain": "recorded"
        if options.get("retain") is None
        else ("true" if options["retain"] else "false"),
        "prime": options.get("prime") or "off",
        "compress_gaps": options.get("compress_gaps"),
        "rewrite_time": bool(options.get("rewrite_time")),
        "paused": bool(options.get("paused")),
    }


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
