"""The things the factory reports, as immutable values, and their tolerant parsers.

Every value is a frozen dataclass so a snapshot can hand references to another thread without
copying: the state model replaces objects, it never mutates them. Parsers accept any decoded
JSON value and return None (or an empty result) for shapes they do not understand.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from apps.omf_dashboard.payloads import as_dict, as_enum, as_list, as_text

T = TypeVar("T")

STOCK_LOCATIONS: tuple[str, ...] = tuple(f"{row}{col}" for row in "ABC" for col in "123")
"""HBW rack slots, row by row (A1, A2, A3, B1, …)."""

MODULE_TYPES: tuple[str, ...] = ("HBW", "DRILL", "MILL", "AIQS", "DPS", "CHRG")

STEP_DONE_STATES = frozenset({"FINISHED"})


def replace_fields(obj: T, **changes: object) -> T:
    """``dataclasses.replace`` without its per-call introspection (3× faster; hot path)."""
    kind: type[Any] = type(obj)
    values = {name: getattr(obj, name) for name in kind.__dataclass_fields__}
    values.update(changes)
    result: T = kind(**values)
    return result


@dataclass(frozen=True, slots=True)
class Action:
    """A module's or AGV's current (or last) action: ``actionState`` of VDA 5050."""

    command: str | None
    state: str | None
    result: str | None = None
    action_id: str | None = None

    @property
    def label(self) -> str:
        parts = [self.command or "?", self.state or "?"]
        if self.result:
            parts.append(self.result)
        return " · ".join(parts)


def parse_action(value: object) -> Action | None:
    """An ``actionState`` object, or None for null / shapes without command and state."""
    data = as_dict(value)
    if data is None:
        return None
    command = as_text(data.get("command"))
    state = as_enum(data.get("state"))
    if command is None and state is None:
        return None
    return Action(command, state, as_text(data.get("result")), as_text(data.get("id")))


def summarise_errors(value: object) -> tuple[str, ...]:
    """One line per entry of an ``errors`` array; ``[{}]`` yields ``("unspecified error",)``."""
    lines: list[str] = []
    for item in as_list(value):
        data = as_dict(item)
        if data is None:
            text = as_text(item)
            if text:
                lines.append(text)
            continue
        words = [
            w
            for w in (
                as_text(data.get("errorType")),
                as_text(data.get("errorLevel")),
                as_text(data.get("errorMessage")),
            )
            if w
        ]
        lines.append(" ".join(words) if words else "unspecified error")
    return tuple(lines)


@dataclass(frozen=True, slots=True)
class ModuleStatus:
    """A station (HBW, DRILL, …) as far as pairing, connection and state messages tell."""

    serial: str
    module_type: str = "?"
    connected: bool | None = None
    connection_state: str | None = None
    available: str | None = None
    action: Action | None = None
    errors: tuple[str, ...] = ()
    order_id: str | None = None
    order_update_id: int | None = None
    paused: bool | None = None
    ip: str | None = None
    version: str | None = None
    last_seen: str | None = None
    """``lastSeen`` from the pairing state: the plant's clock, not trustworthy."""
    updated_at: float | None = None
    """Receive time (epoch seconds) of the last message about this module."""


@dataclass(frozen=True, slots=True)
class AgvStatus:
    """An AGV (FTS) from its own state/connection topics and the CCU pairing state."""

    serial: str
    connected: bool | None = None
    connection_state: str | None = None
    available: str | None = None
    battery_percent: float | None = None
    battery_voltage: float | None = None
    charging: bool | None = None
    driving: bool | None = None
    last_node_id: str | None = None
    last_module_serial: str | None = None
    loads: tuple[str, ...] = ()
    action: Action | None = None
    errors: tuple[str, ...] = ()
    order_id: str | None = None
    paused: bool | None = None
    updated_at: float | None = None
    own_state_at: float | None = None
    """Receive time of the AGV's own last ``state``; once set, it outranks the CCU's pairing
    view for battery, charging and position (the pairing copy of those lags behind)."""


def parse_loads(value: object) -> tuple[str, ...]:
    """Occupied load positions of an AGV ``load`` array as ``"WHITE (pos 1)"``."""
    loads: list[str] = []
    for item in as_list(value):
        data = as_dict(item)
        if data is None:
            continue
        load_type = as_text(data.get("loadType"))
        if not load_type:
            continue
        position = as_text(data.get("loadPosition"))
        loads.append(f"{load_type} (pos {position})" if position else load_type)
    return tuple(loads)


@dataclass(frozen=True, slots=True)
class StockSlot:
    """One HBW rack slot; ``workpiece_type`` None means empty."""

    location: str
    workpiece_type: str | None = None
    workpiece_id: str | None = None
    workpiece_state: str | None = None

    @property
    def occupied(self) -> bool:
        return self.workpiece_type is not None


def empty_stock() -> dict[str, StockSlot]:
    """All nine slots, empty."""
    return {loc: StockSlot(loc) for loc in STOCK_LOCATIONS}


def parse_stock(body: object) -> dict[str, StockSlot] | None:
    """``ccu/state/stock`` → slots A1–C3 (missing slots empty); None if ``stockItems`` is absent.

    A slot with an empty workpiece ``type`` is empty (the CCU sends ``{"id":"","type":""}``).
    """
    data = as_dict(body)
    if data is None or not isinstance(data.get("stockItems"), list):
        return None
    slots = empty_stock()
    for item in as_list(data.get("stockItems")):
        entry = as_dict(item)
        if entry is None:
            continue
        location = as_text(entry.get("location"))
        if not location:
            continue
        workpiece = as_dict(entry.get("workpiece")) or {}
        wp_type = as_enum(workpiece.get("type"))
        slots[location] = StockSlot(
            location,
            workpiece_type=wp_type,
            workpiece_id=(as_text(workpiece.get("id")) or None) if wp_type else None,
            workpiece_state=as_enum(workpiece.get("state")) if wp_type else None,
        )
    return slots


@dataclass(frozen=True, slots=True)
class Step:
    """A production step of an order (navigation or manufacture)."""

    step_id: str | None
    kind: str | None
    state: str | None
    command: str | None = None
    module_type: str | None = None
    source: str | None = None
    target: str | None = None

    @property
    def label(self) -> str:
        if self.kind == "NAVIGATION":
            return f"{self.source or '?'} → {self.target or '?'}"
        return f"{self.command or self.kind or '?'} @ {self.module_type or '?'}"

    @property
    def done(self) -> bool:
        return self.state in STEP_DONE_STATES


@dataclass(frozen=True, slots=True)
class Order:
    """A CCU order with its production steps."""

    order_id: str
    order_type: str | None
    colour: str | None
    state: str | None
    workpiece_id: str | None = None
    started_at: str | None = None
    stopped_at: str | None = None
    steps: tuple[Step, ...] = ()

    @property
    def steps_done(self) -> int:
        return sum(1 for step in self.steps if step.done)

    @property
    def current_step(self) -> Step | None:
        """The first step not finished yet (None when all are done)."""
        return next((step for step in self.steps if not step.done), None)


def parse_step(value: object) -> Step | None:
    data = as_dict(value)
    if data is None:
        return None
    return Step(
        step_id=as_text(data.get("id")),
        kind=as_enum(data.get("type")),
        state=as_enum(data.get("state")),
        command=as_text(data.get("command")),
        module_type=as_text(data.get("moduleType")),
        source=as_text(data.get("source")),
        target=as_text(data.get("target")),
    )


def parse_order(
    value: object, step_parser: Callable[[object], Step | None] = parse_step
) -> Order | None:
    """One order object; None without an ``orderId``."""
    data = as_dict(value)
    if data is None:
        return None
    order_id = as_text(data.get("orderId"))
    if not order_id:
        return None
    steps = tuple(s for s in map(step_parser, as_list(data.get("productionSteps"))) if s)
    return Order(
        order_id=order_id,
        order_type=as_enum(data.get("orderType")),
        colour=as_enum(data.get("type")),
        state=as_enum(data.get("state")),
        workpiece_id=as_text(data.get("workpieceId")) or None,
        started_at=as_text(data.get("startedAt")),
        stopped_at=as_text(data.get("stoppedAt")),
        steps=steps,
    )


def parse_orders(body: object) -> tuple[Order, ...] | None:
    """A ``ccu/order/active|completed`` array; None if the body is not an array."""
    if not isinstance(body, list):
        return None
    return tuple(o for o in map(parse_order, body) if o)


class OrderParser:
    """:func:`parse_orders` for one topic, reusing what the previous list already parsed.

    ``ccu/order/active`` repeats every order with all its steps whenever one step moves, so an
    order (or step) whose JSON object equals the one of the previous list (same ``orderId`` /
    step ``id``) is taken from there instead of being parsed again. Only objects whose leaves
    are all strings or null are remembered: for those ``==`` means identical JSON, whereas
    ``1 == 1.0 == true`` would not. The result is always what :func:`parse_orders` returns.
    """

    def __init__(self) -> None:
        self._orders: dict[str, _KnownOrder] = {}
        self._steps: dict[str, _KnownStep] = {}
        self._next_orders: dict[str, _KnownOrder] = {}
        self._next_steps: dict[str, _KnownStep] = {}

    def parse(self, body: object) -> tuple[Order, ...] | None:
        if not isinstance(body, list):
            return None
        self._next_orders, self._next_steps = {}, {}
        orders = tuple(o for o in map(self._order, body) if o)
        self._orders, self._steps = self._next_orders, self._next_steps
        return orders

    def _order(self, value: object) -> Order | None:
        if not isinstance(value, dict):
            return None  # what parse_order says
        key = value.get("orderId")
        if not isinstance(key, str):
            return parse_order(value, self._step)
        known = self._orders.get(key)
        if known is not None and known[0] == value:
            self._next_orders[key] = known
            self._next_steps.update(known[2])  # its steps stay known for its next change
            return known[1]
        first_step = len(self._next_steps)
        order = parse_order(value, self._step)
        if order is None:
            return None
        steps = tuple(self._next_steps.items())[first_step:]
        if _plain_order(value, len(steps)):
            self._next_orders[key] = (value, order, steps)
        return order

    def _step(self, value: object) -> Step | None:
        key = value.get("id") if isinstance(value, dict) else None
        if not isinstance(key, str):
            return parse_step(value)
        known = self._steps.get(key) or self._next_steps.get(key)
        if known is not None and known[0] == value:
            self._next_steps[key] = known
            return known[1]
        step = parse_step(value)
        if step is not None and _plain(value):
            self._next_steps[key] = (value, step)
        return step


def _plain_order(data: Mapping[str, object], remembered_steps: int) -> bool:
    """:func:`_plain` for an order whose steps were just parsed, without walking them again:
    its steps are plain when each of them was remembered (only plain steps are)."""
    steps = data.get("productionSteps")
    if not isinstance(steps, list):
        return _plain(data)
    return len(steps) == remembered_steps and all(
        value is None or isinstance(value, str)
        for key, value in data.items()
        if key != "productionSteps"
    )


_KnownStep = tuple[object, Step]
_KnownOrder = tuple[object, Order, tuple[tuple[str, _KnownStep], ...]]
"""JSON object, its parse, and (for an order) the steps it was built from."""


def _plain(value: object, depth: int = 4) -> bool:
    """True if every leaf of a JSON value is a string or null (``==`` is then exact).

    Orders nest three levels (order, steps, step); anything deeper is not remembered.
    """
    if value is None or isinstance(value, str):
        return True
    if depth == 0:
        return False
    if isinstance(value, dict):
        return all(_plain(v, depth - 1) for v in value.values())
    if isinstance(value, list):
        return all(_plain(v, depth - 1) for v in value)
    return False


@dataclass(frozen=True, slots=True)
class Environment:
    """Latest TXT readings: BME680 (temperature °C, humidity %, pressure hPa, IAQ) and LDR."""

    temperature: float | None = None
    humidity: float | None = None
    pressure: float | None = None
    iaq: float | None = None
    brightness: float | None = None
    ldr_raw: float | None = None
    updated_at: float | None = None


Scalar = str | float | bool


@dataclass(frozen=True, slots=True)
class SensorReading:
    """Latest state of one Arduino sensor (``osf/arduino/<kind>/<id>/state``)."""

    kind: str
    sensor_id: str
    values: tuple[tuple[str, Scalar], ...] = ()
    connection_state: str | None = None
    updated_at: float | None = None


def has_scalar_fields(body: object, skip: frozenset[str] = frozenset()) -> bool:
    """``bool(scalar_fields(body, skip))``, without building them."""
    if not isinstance(body, dict):
        return False
    return any(
        isinstance(value, str | int | float) and key not in skip for key, value in body.items()
    )


def scalar_fields(
    body: object, skip: frozenset[str] = frozenset()
) -> tuple[tuple[str, Scalar], ...]:
    """Top-level scalar fields of a JSON object (ints become floats), in payload order."""
    data = as_dict(body)
    if data is None:
        return ()
    fields: list[tuple[str, Scalar]] = []
    for key, value in data.items():
        if key in skip:
            continue
        if isinstance(value, bool | str):
            fields.append((key, value))
        elif isinstance(value, int | float):
            fields.append((key, float(value)))
    return tuple(fields)


@dataclass(frozen=True, slots=True)
class CameraFrame:
    """The latest TXT camera image as a ``data:image/...`` URI."""

    data_uri: str
    reported_at: str | None
    updated_at: float


@dataclass(frozen=True, slots=True)
class QualityCheck:
    """The latest AIQS quality-check verdict (the image itself is not kept)."""

    result: str | None
    classification: str | None
    description: str | None
    updated_at: float
