"""Benchmarks page: the reports ``mqtt-replay bench`` wrote, newest first, each openable.

Reports live in ``mqtt-data/reports/`` next to the session directory (``$MQTT_REPLAY_REPORTS``
or a ``reports_dir`` attribute of the configuration overrides it). The page lists every
``*.json`` report with its headline figures and links its ``.html`` twin, served read-only by
a Flask route of this module (``/bench-reports/<file>``, only ``.html``/``.json`` files of
that directory). The directory is read on every visit; nothing is cached.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, html

from apps.session_manager import clock
from apps.session_manager.render import fmt_time_us

if TYPE_CHECKING:
    from apps.session_manager.context import AppContext

PATH = "/benchmarks"
NAME = "Benchmarks"
ORDER = 4
ROUTE = "/bench-reports/"
REPORTS_ENV = "MQTT_REPLAY_REPORTS"
MAX_LISTED = 500


def reports_dir(ctx: AppContext) -> Path:
    """Where the reports are: the env override, the config's ``reports_dir``, or the session
    directory's sibling ``reports/``."""
    env = os.environ.get(REPORTS_ENV)
    if env:
        return Path(env).expanduser()
    configured = getattr(ctx.config, "reports_dir", None)
    if configured:
        return Path(configured).expanduser()
    return Path(ctx.config.sessions_dir).parent / "reports"


def _num(value: Any, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{float(value):,.{digits}f}"


def _started_us(value: object) -> int | None:
    """A report's ``started_at`` (ISO 8601 with its offset) as µs since the epoch."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1e6)


def report_rows(directory: Path) -> list[dict[str, Any]]:
    """One row per readable report (``*.json`` written by the bench), newest first; an
    ``.html`` without JSON is listed with its name only."""
    if not directory.is_dir():
        return []
    files = sorted(directory.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    rows: list[dict[str, Any]] = []
    named = set()
    for path in files[:MAX_LISTED]:
        try:
            report = json.loads(path.read_text())
            steps = report["steps"]
            last = steps[-1]
        except (OSError, ValueError, KeyError, IndexError, TypeError):
            continue
        if report.get("tool") != "mqtt-replay bench":
            continue
        named.add(path.stem)
        html_file = path.with_suffix(".html")
        knee = report.get("knee")
        rows.append(
            {
                "name": path.stem,
                "started_us": _started_us(report.get("started_at")),
                "plants": report.get("plants"),
                "load": {
                    "ramp": f"ramp {':'.join(f'{v:g}' for v in report.get('ramp') or [])}",
                    "rate": f"{_num(report.get('rate'))} msg/s",
                    "speed": f"{report.get('speed') or 1:g}×",
                }.get(report.get("mode", ""), "?"),
                "qos": report.get("qos"),
                "offered": _num(last.get("offered_rate")),
                "delivered": _num(last.get("delivered_rate")),
                "lost": _num(sum(s.get("lost", 0) for s in steps)),
                "p99": _num(last.get("latency_ms", {}).get("p99"), 2),
                "verdict": (
                    f"knee {_num(knee.get('target_rate'))} msg/s"
                    if knee
                    else ("SLO met" if report.get("slo_ok", True) else "SLO violated")
                ),
                "ok": report.get("slo_ok", True) and not report.get("errors"),
                "html": html_file.name if html_file.exists() else None,
                "json": path.name,
            }
        )
    for path in sorted(directory.glob("*.html"), key=lambda p: p.stat().st_mtime, reverse=True):
        if path.stem not in named and len(rows) < MAX_LISTED:
            rows.append({"name": path.stem, "html": path.name, "json": None})
    return rows


HEAD = (
    "report", "started", "plants", "load", "QoS", "offered msg/s", "delivered msg/s", "lost",
    "p99 ms", "verdict", "open",
)  # fmt: skip


def _row(row: dict[str, Any], zone: str) -> html.Tr:
    links = []
    if row.get("html"):
        links.append(
            html.A(
                "report",
                href=ROUTE + quote(row["html"]),
                target="_blank",
                className="me-2",
                id={"type": "bench-open", "name": row["name"]},
            )
        )
    if row.get("json"):
        links.append(html.A("JSON", href=ROUTE + quote(row["json"]), target="_blank"))
    if "started_us" not in row:
        return html.Tr([html.Td(row["name"]), html.Td("(no JSON)", colSpan=9), html.Td(links)])
    verdict_class = "text-success" if row["ok"] else "text-danger"
    cells = [
        html.Td(row["name"]),
        html.Td(fmt_time_us(row["started_us"], zone), className="text-nowrap"),
        html.Td(row["plants"], className="text-end"),
        html.Td(row["load"]),
        html.Td(row["qos"], className="text-end"),
        html.Td(row["offered"], className="text-end"),
        html.Td(row["delivered"], className="text-end"),
        html.Td(row["lost"], className="text-end"),
        html.Td(row["p99"], className="text-end"),
        html.Td(row["verdict"], className=verdict_class),
        html.Td(links, className="text-nowrap"),
    ]
    return html.Tr(cells)


def make_layout(ctx: AppContext) -> Callable[..., Any]:
    def layout(**_query: str) -> Any:
        return html.Div(
            [
                html.H4("Benchmarks", className="mb-1"),
                html.Div(className="text-muted small mb-2", id="bench-dir"),
                html.Div(id="bench-body"),
            ]
        )

    return layout


def reports_view(ctx: AppContext, tz: object) -> tuple[str, Any]:
    """The directory line and the table of reports (or how to make one), times in ``tz``."""
    directory = reports_dir(ctx)
    rows = report_rows(directory)
    zone = clock.valid_zone(tz, ctx.config.tz)
    line = f"{len(rows)} report(s) in {directory} · times in {zone}"
    if not rows:
        return line, dbc.Alert(
            [
                "No benchmark reports yet. Run ",
                html.Code("mqtt-replay bench SESSION --plants 10 --speed 10 --out "),
                html.Code(str(directory)),
                ".",
            ],
            color="secondary",
            id="bench-empty",
        )
    return line, dbc.Table(
        [
            html.Thead(html.Tr([html.Th(h) for h in HEAD])),
            html.Tbody([_row(r, zone) for r in rows]),
        ],
        id="bench-table",
        bordered=True,
        hover=True,
        size="sm",
        responsive=True,
        className="small",
    )


def register_callbacks(app: dash.Dash, ctx: AppContext) -> None:
    """The list, built per visit and in the zone the user picked; the read-only report
    route."""
    from flask import abort, send_from_directory

    @app.callback(
        Output("bench-dir", "children"),
        Output("bench-body", "children"),
        Input("app-tz", "value"),
    )
    def show(tz: str | None) -> Any:
        return reports_view(ctx, tz)

    def serve_report(filename: str) -> Any:
        if Path(filename).suffix not in (".html", ".json") or "/" in filename:
            abort(404)
        directory = reports_dir(ctx)
        return send_from_directory(directory.resolve(), filename, max_age=0)

    app.server.add_url_rule(
        ROUTE + "<path:filename>", endpoint="bench_report_file", view_func=serve_report
    )
