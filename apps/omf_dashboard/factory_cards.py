"""Dash components for the factory overview, drawn from immutable state values.

Pure functions: entity values in, components out (no callbacks, no I/O). Text from payloads
is always passed as component children or attributes, which React escapes; nothing here
renders HTML from a string. Elements carry ``data-*`` attributes (serial, slot, order id) so
tests and users' scripts can find them without relying on layout.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import dash_bootstrap_components as dbc
from dash import html

from apps.omf_dashboard.entities import (
    MODULE_TYPES,
    STOCK_LOCATIONS,
    Action,
    AgvStatus,
    CameraFrame,
    Environment,
    ModuleStatus,
    Order,
    QualityCheck,
    SensorReading,
    StockSlot,
)
from apps.omf_dashboard.zones import fmt

Component = Any  # Dash components are untyped

STATE_COLOURS: Mapping[str, str] = {
    "ONLINE": "success",
    "OFFLINE": "danger",
    "CONNECTIONBROKEN": "danger",
    "READY": "success",
    "BUSY": "warning",
    "BLOCKED": "danger",
    "RUNNING": "primary",
    "IN_PROGRESS": "primary",
    "INITIALIZING": "info",
    "WAITING": "secondary",
    "ENQUEUED": "light",
    "PENDING": "light",
    "FINISHED": "success",
    "PASSED": "success",
    "FAILED": "danger",
    "ERROR": "danger",
    "CANCELLED": "secondary",
}


def data_attrs(**attrs: str) -> Any:
    """``data-*`` attributes for an html component (Dash's type stubs do not list them)."""
    return {f"data-{key}": value for key, value in attrs.items()}


def clock_text(epoch: float | None, tz: str) -> str:
    """A receive time (epoch seconds) in the dashboard's zone, labelled: ``07:03:04 EST``;
    ``—`` if unknown."""
    if epoch is None:
        return "—"
    return fmt(round(epoch * 1_000_000), tz, date=False, ms=False)


def payload_clock_text(text: str | None, tz: str) -> str:
    """A payload's own timestamp: in the dashboard's zone when it names its zone
    (``2026-01-15T09:01:07Z`` → ``2026-01-15 04:01:07 EST``), else as the payload has it."""
    if not text:
        return "?"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    if moment.tzinfo is None:
        return text
    return fmt(round(moment.timestamp() * 1_000_000), tz, ms=False)


def state_badge(text: str | None, *, prefix: str = "") -> Component:
    """A coloured badge for an enum value (grey ``unknown`` when None)."""
    if not text:
        return dbc.Badge(f"{prefix}unknown", color="light", className="me-1")
    return dbc.Badge(
        f"{prefix}{text}", color=STATE_COLOURS.get(text, "secondary"), className="me-1"
    )


def _kv(rows: Iterable[tuple[str, Component]]) -> Component:
    children: list[Component] = []
    for key, value in rows:
        children.extend([html.Dt(key), html.Dd(value)])
    return html.Dl(children, className="kv mb-0")


def _action(action: Action | None) -> Component:
    if action is None:
        return html.Span("—", className="text-muted")
    return html.Span(
        [
            html.Span(action.command or "?", className="fw-bold me-2"),
            state_badge(action.state),
            html.Span(action.result or "", className="small"),
        ]
    )


def _errors(errors: Sequence[str]) -> list[Component]:
    return [html.Div(f"⚠ {line}", className="error-line") for line in errors[:4]]


def module_sort_key(module: ModuleStatus) -> tuple[int, str]:
    order = MODULE_TYPES.index(module.module_type) if module.module_type in MODULE_TYPES else 99
    return order, module.serial


def module_tile(module: ModuleStatus, tz: str) -> Component:
    """One station tile: type, serial, connection, availability, current action, errors."""
    body = [
        html.Div(
            [state_badge(module.connection_state), state_badge(module.available)],
            className="mb-1",
        ),
        _kv(
            [
                ("action", _action(module.action)),
                ("updated", clock_text(module.updated_at, tz)),
            ]
        ),
        *_errors(module.errors),
    ]
    return html.Div(
        [
            html.Div(
                [html.Span(module.module_type), html.Span(module.serial, className="serial")],
                className="card-header",
            ),
            html.Div(body, className="card-body"),
        ],
        className="card module-tile",
        **data_attrs(serial=module.serial, module=module.module_type),
    )


def module_tiles(modules: Mapping[str, ModuleStatus], tz: str) -> Component:
    if not modules:
        return html.Div("No module has reported yet.", className="text-muted")
    tiles = [
        html.Div(module_tile(m, tz), className="col-md-4 col-xl-4")
        for m in sorted(modules.values(), key=module_sort_key)
    ]
    return html.Div(tiles, className="row g-2")


def _place(node: str | None, module_types: Mapping[str, str]) -> str:
    if not node:
        return "—"
    kind = module_types.get(node)
    return f"{kind} ({node})" if kind else node


def battery_bar(percent: float | None) -> Component:
    if percent is None:
        return html.Span("—", className="text-muted")
    colour = "danger" if percent < 20 else "warning" if percent < 40 else "success"
    return dbc.Progress(
        value=max(0.0, min(percent, 100.0)),
        label=f"{percent:.0f} %",
        color=colour,
        style={"height": "1.1rem", "minWidth": "8rem"},
    )


def agv_card(agv: AgvStatus, module_types: Mapping[str, str], tz: str) -> Component:
    """One AGV: connection, battery, charging/driving, position, load, action, errors."""
    flags = [state_badge(agv.connection_state), state_badge(agv.available)]
    if agv.charging:
        flags.append(dbc.Badge("charging", color="info", className="me-1"))
    if agv.driving:
        flags.append(dbc.Badge("driving", color="primary", className="me-1"))
    voltage = f" · {agv.battery_voltage:.1f} V" if agv.battery_voltage is not None else ""
    body = [
        html.Div(flags, className="mb-1"),
        _kv(
            [
                (
                    "battery",
                    html.Div(
                        [battery_bar(agv.battery_percent), html.Span(voltage, className="small")],
                        className="d-flex align-items-center gap-2",
                    ),
                ),
                ("position", _place(agv.last_node_id, module_types)),
                ("load", ", ".join(agv.loads) if agv.loads else "empty"),
                ("action", _action(agv.action)),
                ("updated", clock_text(agv.updated_at, tz)),
            ]
        ),
        *_errors(agv.errors),
    ]
    return html.Div(
        [
            html.Div(
                [html.Span(f"AGV {agv.serial}"), html.Span("FTS", className="serial")],
                className="card-header",
            ),
            html.Div(body, className="card-body"),
        ],
        className="card agv-card",
        **data_attrs(agv=agv.serial),
    )


def agv_cards(agvs: Mapping[str, AgvStatus], module_types: Mapping[str, str], tz: str) -> Component:
    if not agvs:
        return html.Div("No AGV has reported yet.", className="text-muted")
    return html.Div(
        [html.Div(agv_card(a, module_types, tz), className="mb-2") for _, a in sorted(agvs.items())]
    )


def _slot_class(slot: StockSlot) -> str:
    if not slot.occupied:
        return "stock-slot stock-empty"
    kind = (slot.workpiece_type or "").lower()
    return (
        f"stock-slot stock-{kind}" if kind in {"red", "white", "blue"} else "stock-slot stock-other"
    )


def stock_grid(stock: Mapping[str, StockSlot], known: bool) -> Component:
    """The HBW rack as a 3×3 grid (rows A–C, columns 1–3)."""
    cells: list[Component] = [html.Div("")]
    cells += [html.Div(col, className="stock-axis") for col in "123"]
    for row in "ABC":
        cells.append(html.Div(row, className="stock-axis"))
        for col in "123":
            location = f"{row}{col}"
            slot = stock.get(location) or StockSlot(location)
            cells.append(
                html.Div(
                    [
                        html.Div(location, className="slot-name"),
                        html.Div(slot.workpiece_type or "empty", className="slot-type"),
                        html.Div(slot.workpiece_state or "", className="slot-name"),
                    ],
                    className=_slot_class(slot),
                    title=slot.workpiece_id or "",
                    **data_attrs(slot=location, type=slot.workpiece_type or ""),
                )
            )
    occupied = sum(1 for loc in STOCK_LOCATIONS if (s := stock.get(loc)) and s.occupied)
    note = f"{occupied} of 9 slots occupied" if known else "no stock report yet"
    return html.Div(
        [html.Div(cells, className="stock-grid"), html.Div(note, className="small text-muted mt-2")]
    )


def _order_title(order: Order) -> list[Component]:
    return [
        html.Span(f"{order.colour or '?'} {order.order_type or ''}", className="fw-bold me-2"),
        state_badge(order.state),
        html.Span(order.order_id[:8], className="small text-muted", title=order.order_id),
    ]


def active_order(order: Order) -> Component:
    total = len(order.steps)
    done = order.steps_done
    current = order.current_step
    chips = [
        dbc.Badge(
            step.label,
            color=STATE_COLOURS.get(step.state or "", "light"),
            className="me-1",
            title=step.state or "",
        )
        for step in order.steps
    ]
    return html.Div(
        [
            html.Div(_order_title(order), className="d-flex align-items-center flex-wrap gap-1"),
            html.Div(
                [
                    dbc.Progress(
                        value=(100.0 * done / total) if total else 0.0,
                        className="flex-grow-1",
                        style={"height": ".6rem"},
                    ),
                    # the count beside the bar: inside it, a short bar would cut it off
                    html.Span(f"{done}/{total} steps", className="small text-nowrap step-count"),
                ],
                className="d-flex align-items-center gap-2 mt-2",
            ),
            html.Div(
                f"now: {current.label} ({current.state})" if current else "all steps done",
                className="small mt-2",
            ),
            html.Div(chips, className="step-chips"),
        ],
        className="order-item",
        **data_attrs(order=order.order_id, state=order.state or ""),
    )


def orders_panel(active: Sequence[Order], completed: Sequence[Order], limit: int = 6) -> Component:
    """Active orders with step progress, then the latest completed orders (newest first)."""
    parts: list[Component] = [html.Div(f"Active ({len(active)})", className="section-title")]
    parts += [active_order(o) for o in active] or [
        html.Div("No active order.", className="text-muted small")
    ]
    parts.append(html.Div(f"Completed ({len(completed)})", className="section-title mt-3"))
    recent = list(reversed(completed))[:limit]
    parts += [
        html.Div(
            [
                *_order_title(o),
                html.Span(f" {o.steps_done}/{len(o.steps)} steps", className="small"),
            ],
            className="order-item d-flex align-items-center flex-wrap gap-1",
            **data_attrs(order=o.order_id, state=o.state or ""),
        )
        for o in recent
    ] or [html.Div("None yet.", className="text-muted small")]
    return html.Div(parts)


def _number(value: float | None, unit: str, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f} {unit}".rstrip()


def _scalar(value: object) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _words(key: str) -> str:
    """``flameDetected`` → ``flame detected``; ``rawValue`` → ``raw value``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", key).replace("_", " ").lower()


def _reading(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return _scalar(value)


def sensor_values(values: Sequence[tuple[str, object]]) -> list[str]:
    """An Arduino reading as short lines: ``flame detected: no``, ``temperature: 23.3 C``
    (a ``<name>Unit`` field joins its value)."""
    fields = dict(values)
    lines = []
    for key, value in values:
        if key.endswith("Unit") and key[: -len("Unit")] in fields:
            continue
        unit = fields.get(f"{key}Unit")
        text = _reading(value) + (f" {unit}" if isinstance(unit, str) and unit else "")
        lines.append(f"{_words(key)}: {text}")
    return lines


def sensors_panel(
    env: Environment | None, arduino: Mapping[str, SensorReading], tz: str
) -> Component:
    """TXT environment readings and the Arduino sensor station."""
    env = env or Environment()
    rows = [
        html.Tr([html.Td("Temperature"), html.Td(_number(env.temperature, "°C"))]),
        html.Tr([html.Td("Humidity"), html.Td(_number(env.humidity, "%"))]),
        html.Tr([html.Td("Pressure"), html.Td(_number(env.pressure, "hPa"))]),
        html.Tr([html.Td("Air quality (IAQ)"), html.Td(_number(env.iaq, "", 0))]),
        html.Tr([html.Td("Brightness"), html.Td(_number(env.brightness, "%"))]),
    ]
    for key, reading in sorted(arduino.items()):
        values = sensor_values(reading.values) or [reading.connection_state or "—"]
        rows.append(
            html.Tr(
                [
                    html.Td(key, className="sensor-key"),
                    html.Td([html.Div(v, className="sensor-value") for v in values]),
                ],
                **data_attrs(sensor=key),
            )
        )
    return html.Div(
        [
            html.Table(html.Tbody(rows), className="table"),
            html.Div(
                f"TXT readings received {clock_text(env.updated_at, tz)}",
                className="small text-muted",
            ),
        ]
    )


def camera_panel(frame: CameraFrame | None, quality: QualityCheck | None, tz: str) -> Component:
    """The latest camera frame (only ``data:image/`` URIs are used as ``src``) and AIQS verdict."""
    if frame is not None and frame.data_uri.startswith("data:image/"):
        picture: Component = html.Img(
            src=frame.data_uri, className="camera-img", id="overview-camera-img", alt="camera frame"
        )
        caption = (
            f"frame {payload_clock_text(frame.reported_at, tz)}"
            f" · received {clock_text(frame.updated_at, tz)}"
        )
    else:
        picture = html.Div("No camera frame yet.", className="camera-empty")
        caption = ""
    parts = [picture, html.Div(caption, className="small text-muted mt-2")]
    if quality is not None:
        parts.append(
            html.Div(
                [
                    html.Span("Quality check: ", className="fw-bold"),
                    state_badge(quality.result),
                    html.Span(quality.description or quality.classification or ""),
                ],
                className="mt-2 small",
            )
        )
    return html.Div(parts)
