"""A benchmark's report files: JSON, and one self-contained HTML page with Plotly charts.

The HTML embeds plotly.js (no CDN; it opens on machines without internet): latency
percentiles against offered load, delivered against offered rate over time, per-plant loss
and a summary table. Plotly comes with the ``apps`` extra.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

__all__ = ["render_html", "write_reports"]

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#1f2933}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px}
.meta{color:#52606d;font-size:13px;margin-bottom:12px}
.verdict{display:inline-block;padding:4px 10px;border-radius:4px;font-weight:600;margin:8px 0}
.ok{background:#e3f9e5;color:#1f7a35} .bad{background:#ffe3e3;color:#a61b1b}
.neutral{background:#eef2f7;color:#334e68}
table{border-collapse:collapse;font-size:13px;margin-top:4px}
th,td{border:1px solid #d9e2ec;padding:4px 8px;text-align:right;white-space:nowrap}
th{background:#f0f4f8} td.text,th.text{text-align:left;white-space:normal}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:16px} .wide{grid-column:1 / span 2}
.chart{border:1px solid #d9e2ec;border-radius:4px;min-width:0}
"""


def _n(value: Any, digits: int = 0) -> str:
    if value is None:
        return "–"
    if isinstance(value, int | float):
        return f"{value:,.{digits}f}"
    return html.escape(str(value))


def _figures(report: dict[str, Any]) -> list[tuple[str, Any, bool]]:
    import plotly.graph_objects as go

    steps = report["steps"]
    figs: list[tuple[str, Any, bool]] = []
    lat = go.Figure()
    colors = {"p50": "#2f80ed", "p95": "#f2994a", "p99": "#eb5757"}
    if len(steps) > 1:
        x = [s["offered_rate"] for s in steps]
        for key, color in colors.items():
            lat.add_trace(
                go.Scatter(
                    x=x,
                    y=[s["latency_ms"][key] for s in steps],
                    name=f"{key} per step",
                    mode="lines+markers",
                    line={"color": color},
                )
            )
    else:  # one load level: each 1 s bin is a point (its offered rate, its percentiles)
        tl = steps[0]["timeline"]
        for key in ("p50", "p99"):
            lat.add_trace(
                go.Scatter(
                    x=tl["offered"],
                    y=tl.get(f"{key}_ms", []),
                    name=f"{key} per second",
                    mode="markers",
                    marker={"color": colors[key], "size": 7},
                )
            )
    lat.update_layout(
        title="End-to-end latency vs offered load",
        xaxis_title="offered load (msg/s)",
        yaxis_title="latency (ms)",
        yaxis_rangemode="tozero",
    )
    figs.append(("bench-latency", lat, False))
    figs.append(("bench-loss", _loss_figure(steps[-1]), False))

    timeline = go.Figure()
    t_off = 0.0
    tx: list[float] = []
    offered: list[float] = []
    delivered: list[float] = []
    for s in steps:
        tl = s["timeline"]
        tx += [t_off + t for t in tl["t_s"]]
        offered += tl["offered"]
        delivered += tl["delivered"]
        t_off += (tl["t_s"][-1] + 1.0) if tl["t_s"] else 0.0
    timeline.add_trace(
        go.Scatter(
            x=tx,
            y=offered,
            name="offered",
            line={"shape": "hv", "dash": "dash", "color": "#828282"},
        )
    )
    timeline.add_trace(
        go.Scatter(x=tx, y=delivered, name="delivered", line={"shape": "hv", "color": "#27ae60"})
    )
    timeline.update_layout(
        title="Delivered vs offered rate over time (1 s bins)",
        xaxis_title="time since the first due message (s)",
        yaxis_title="msg/s",
        yaxis_rangemode="tozero",
    )
    figs.append(("bench-timeline", timeline, True))

    for _, fig, _wide in figs:
        fig.update_layout(
            template="plotly_white", height=360, margin={"l": 60, "r": 20, "t": 50, "b": 50}
        )
    return figs


def _loss_figure(last: dict[str, Any]) -> Any:
    import plotly.graph_objects as go

    plants = last["plants"]
    names = [p["prefix"].rstrip("/") for p in plants]
    fig = go.Figure()
    fig.add_trace(
        go.Bar(x=names, y=[p["lost"] for p in plants], name="lost", marker={"color": "#eb5757"})
    )
    fig.add_trace(
        go.Bar(
            x=names,
            y=[p["duplicates"] for p in plants],
            name="duplicates",
            marker={"color": "#f2c94c"},
        )
    )
    worst = max([1, *(max(p["lost"], p["duplicates"]) for p in plants)])
    fig.update_layout(
        title=f"Per-plant loss ({last['label'] or 'run'}; "
        f"{sum(p['lost'] for p in plants):,} of {sum(p['expected'] for p in plants):,} lost)",
        xaxis_title="plant",
        yaxis_title="messages",
        yaxis_range=[0, worst * 1.1],
        barmode="group",
    )
    return fig


def _summary_table(report: dict[str, Any]) -> str:
    head = (
        "target msg/s", "offered msg/s", "delivered msg/s", "expected", "received", "lost",
        "dup", "reordered", "p50 ms", "p95 ms", "p99 ms", "max ms", "tool CPU %",
        "broker CPU %", "bottleneck",
    )  # fmt: skip
    rows = []
    for s in report["steps"]:
        lat = s["latency_ms"]
        cpu = s["cpu"]
        cells = [
            _n(s.get("target_rate")),
            _n(s["offered_rate"]),
            _n(s["delivered_rate"]),
            _n(s["expected"]),
            _n(s["received"]),
            _n(s["lost"]),
            _n(s["duplicates"]),
            _n(s["reordered"]),
            _n(lat["p50"], 2),
            _n(lat["p95"], 2),
            _n(lat["p99"], 2),
            _n(lat["max"], 2),
            _n(cpu.get("tool_pct")),
            _n(cpu.get("broker_pct")),
        ]
        tds = "".join(f"<td>{c}</td>" for c in cells)
        rows.append(f"<tr>{tds}<td class='text'>{html.escape(s['bottleneck'])}</td></tr>")
    ths = "".join(f"<th{' class=text' if h == 'bottleneck' else ''}>{h}</th>" for h in head)
    return f"<table id='bench-summary'><tr>{ths}</tr>{''.join(rows)}</table>"


def _verdict(report: dict[str, Any]) -> str:
    parts = []
    if report["slo"]:
        terms = ", ".join(
            f"{k}={v:g}{'' if k == 'loss' else ' ms'}" for k, v in report["slo"].items()
        )
        if report["slo_ok"]:
            parts.append(f"<span class='verdict ok'>SLO met ({html.escape(terms)})</span>")
        else:
            broken = "; ".join(report["slo_violations"][:3])
            parts.append(
                f"<span class='verdict bad'>SLO violated ({html.escape(terms)}): "
                f"{html.escape(broken)}</span>"
            )
    knee = report.get("knee")
    if report["mode"] == "ramp":
        if knee:
            parts.append(
                f"<span class='verdict neutral'>knee at {_n(knee['target_rate'])} msg/s: "
                f"{html.escape('; '.join(knee['reasons']))}</span>"
            )
        else:
            parts.append("<span class='verdict neutral'>no knee within the ramp</span>")
    for e in report.get("errors", [])[:5]:
        parts.append(f"<span class='verdict bad'>{html.escape(e)}</span>")
    return " ".join(parts)


def render_html(report: dict[str, Any]) -> str:
    """The report as one HTML page (plotly.js inline)."""
    import plotly.io as pio
    from plotly.offline import get_plotlyjs

    charts = []
    for div_id, fig, wide in _figures(report):
        body = pio.to_html(
            fig, full_html=False, include_plotlyjs=False, div_id=div_id, config={"responsive": True}
        )
        charts.append(f"<div class='chart{' wide' if wide else ''}'>{body}</div>")
    last = report["steps"][-1]
    sessions = ", ".join(Path(s).name for s in report["sessions"])
    ramp = report.get("ramp") or [0, 0, 0, 0]
    load = {
        "ramp": f"ramp {_n(ramp[0])} → {_n(ramp[1])} msg/s in steps of {_n(ramp[2])}, "
        f"{ramp[3]:g} s each",
        "rate": f"target {_n(report['rate'])} msg/s",
        "speed": f"speed {report['speed'] or 1:g}×",
    }[report["mode"]]
    meta = (
        f"{report['plants']} plant(s) from {html.escape(sessions)} · {load} · QoS {report['qos']}"
        f" · broker {html.escape(report['broker'])} · started "
        f"{html.escape(report['started_at'].replace('T', ' ').replace('+00:00', ''))} UTC · {report['machine']['cores']} cores, {html.escape(report['machine']['cpu'])}"
    )
    headline = (
        f"delivered {_n(last['received'])} of {_n(last['expected'])} · "
        f"lost {_n(last['lost'])} · p99 {_n(last['latency_ms']['p99'], 2)} ms · "
        f"bottleneck: {html.escape(last['bottleneck'])}"
    )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(report['name'])} · mqtt-replay bench</title>"
        f"<style>{_CSS}</style><script>{get_plotlyjs()}</script></head><body>"
        f"<h1>{html.escape(report['name'])}</h1><div class='meta'>{meta}</div>"
        f"<div id='bench-verdict'>{_verdict(report)}</div>"
        f"<div class='meta' id='bench-headline'>{headline}</div>"
        f"<h2>Summary</h2>{_summary_table(report)}"
        f"<h2>Charts</h2><div class='grid'>{''.join(charts)}</div>"
        "</body></html>"
    )


def write_reports(report: dict[str, Any], out: Path) -> tuple[Path, Path]:
    """Writes ``<name>.json`` and ``<name>.html`` into ``out``; returns both paths."""
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / f"{report['name']}.json"
    html_path = out / f"{report['name']}.html"
    json_path.write_text(json.dumps(report, indent=1, default=str))
    html_path.write_text(render_html(report), encoding="utf-8")
    return json_path, html_path
