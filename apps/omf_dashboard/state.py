"""FactoryState: the plant as its MQTT messages describe it, updated one message at a time.

Pure Python (no Dash, no paho) and single-threaded: the caller serialises :meth:`apply`. Every
update replaces immutable entity values, so a reader holding a :class:`StateSnapshot` sees a
consistent picture while the model moves on. Each section (``modules``, ``agvs``, ``stock``,
``orders``, ``sensors``, ``camera``) has a version counter that grows when that section
changes, which lets a UI redraw only what changed.

Robustness contract: :meth:`apply` never raises on payload content. Unknown topics and fields
are ignored, wrong types read as unknown, non-JSON bodies are counted in ``non_json``.
Payload clocks are kept only as text; freshness uses the receive time passed by the caller.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from apps.omf_dashboard.entities import (
    KNOWN_MODULE_SERIALS,
    AgvStatus,
    CameraFrame,
    Environment,
    ModuleStatus,
    Order,
    QualityCheck,
    SensorReading,
    StockSlot,
    empty_stock,
    parse_action,
    parse_loads,
    parse_order,
    parse_orders,
    parse_stock,
    scalar_fields,
    summarise_errors,
)
from apps.omf_dashboard.payloads import (
    NOT_JSON,
    as_dict,
    as_enum,
    as_flag,
    as_int,
    as_list,
    as_number,
    as_text,
    decode,
    parse_payload,
)

T = TypeVar("T")

SECTIONS: tuple[str, ...] = ("modules", "agvs", "stock", "orders", "sensors", "camera")


@dataclass(frozen=True)
class StateSnapshot:
    """A consistent, read-only view of :class:`FactoryState` at one moment."""

    versions: Mapping[str, int]
    modules: Mapping[str, ModuleStatus]
    agvs: Mapping[str, AgvStatus]
    stock: Mapping[str, StockSlot]
    stock_known: bool
    active_orders: tuple[Order, ...]
    completed_orders: tuple[Order, ...]
    environment: Environment | None
    arduino: Mapping[str, SensorReading]
    camera: CameraFrame | None
    quality: QualityCheck | None
    flows: Mapping[str, tuple[str, ...]]
    messages: int
    non_json: int


@dataclass
class FactoryState:
    """The factory model. Feed it with :meth:`apply` (decoded body) or :meth:`apply_text`."""

    modules: dict[str, ModuleStatus] = field(default_factory=dict)
    agvs: dict[str, AgvStatus] = field(default_factory=dict)
    stock: dict[str, StockSlot] = field(default_factory=empty_stock)
    stock_known: bool = False
    active_orders: tuple[Order, ...] = ()
    completed_orders: tuple[Order, ...] = ()
    environment: Environment | None = None
    arduino: dict[str, SensorReading] = field(default_factory=dict)
    camera: CameraFrame | None = None
    quality: QualityCheck | None = None
    flows: dict[str, tuple[str, ...]] = field(default_factory=dict)
    module_types: dict[str, str] = field(default_factory=lambda: dict(KNOWN_MODULE_SERIALS))
    messages: int = 0
    non_json: int = 0
    versions: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SECTIONS, 0))

    # ------------------------------------------------------------------ entry points
    def apply_text(
        self, topic: str, payload: bytes | bytearray | str, received_at: float
    ) -> object:
        """Decode and parse ``payload``, apply it, and return the parsed body (or NOT_JSON)."""
        body = parse_payload(decode(payload))
        self.apply(topic, body, received_at)
        return body

    def apply(self, topic: str, body: object, received_at: float) -> None:
        """Update the model from one message; ``body`` is ``json.loads`` output or NOT_JSON."""
        self.messages += 1
        if body is NOT_JSON:
            self.non_json += 1
            return
        handler = _EXACT_HANDLERS.get(topic)
        if handler is not None:
            handler(self, body, received_at)
            return
        parts = topic.split("/")
        if topic.startswith("module/v1/ff/"):
            self._on_module_topic(parts, body, received_at)
        elif topic.startswith("fts/v1/ff/") and len(parts) == 5:
            self._on_agv_topic(parts[3], parts[4], body, received_at)
        elif topic.startswith("osf/arduino/") and len(parts) == 5:
            self._on_arduino(parts[2], parts[3], parts[4], body, received_at)

    def snapshot(self) -> StateSnapshot:
        """Shallow copies of the containers; entity values are immutable and shared."""
        return StateSnapshot(
            versions=dict(self.versions),
            modules=dict(self.modules),
            agvs=dict(self.agvs),
            stock=dict(self.stock),
            stock_known=self.stock_known,
            active_orders=self.active_orders,
            completed_orders=self.completed_orders,
            environment=self.environment,
            arduino=dict(self.arduino),
            camera=self.camera,
            quality=self.quality,
            flows=dict(self.flows),
            messages=self.messages,
            non_json=self.non_json,
        )

    # ------------------------------------------------------------------ helpers
    def _bump(self, section: str) -> None:
        self.versions[section] += 1

    def _module(self, serial: str) -> ModuleStatus:
        current = self.modules.get(serial)
        if current is None:
            current = ModuleStatus(serial, self.module_types.get(serial, "?"))
        return current

    def _set_module(self, module: ModuleStatus) -> None:
        if self.modules.get(module.serial) != module:
            self.modules[module.serial] = module
            self._bump("modules")

    def _agv(self, serial: str) -> AgvStatus:
        return self.agvs.get(serial) or AgvStatus(serial)

    def _set_agv(self, agv: AgvStatus) -> None:
        if self.agvs.get(agv.serial) != agv:
            self.agvs[agv.serial] = agv
            self._bump("agvs")

    def _learn_type(self, serial: str, module_type: str | None) -> None:
        if not module_type:
            return
        self.module_types[serial] = module_type
        module = self.modules.get(serial)
        if module is not None and module.module_type != module_type:
            self._set_module(_replace(module, module_type=module_type))

    # ------------------------------------------------------------------ CCU topics
    def _on_pairing(self, body: object, received_at: float) -> None:
        data = as_dict(body)
        if data is None:
            return
        for item in as_list(data.get("modules")):
            entry = as_dict(item)
            serial = as_text(entry.get("serialNumber")) if entry else None
            if entry is None or not serial:
                continue
            self._learn_type(serial, as_text(entry.get("subType")))
            module = self._module(serial)
            connected = as_flag(entry.get("connected"))
            self._set_module(
                _replace(
                    module,
                    connected=connected,
                    connection_state=_connection_word(connected, module.connection_state),
                    available=as_enum(entry.get("available")),
                    ip=as_text(entry.get("ip")) or module.ip,
                    version=as_text(entry.get("version")) or module.version,
                    last_seen=as_text(entry.get("lastSeen")) or module.last_seen,
                    updated_at=received_at,
                )
            )
        for item in as_list(data.get("transports")):
            entry = as_dict(item)
            serial = as_text(entry.get("serialNumber")) if entry else None
            if entry is None or not serial:
                continue
            agv = self._agv(serial)
            connected = as_flag(entry.get("connected"))
            own = agv.own_state_at is not None  # the AGV's own report wins over the CCU's copy
            self._set_agv(
                _replace(
                    agv,
                    connected=connected,
                    connection_state=_connection_word(connected, agv.connection_state),
                    available=as_enum(entry.get("available")),
                    charging=_prefer(own, agv.charging, as_flag(entry.get("charging"))),
                    battery_percent=_prefer(
                        own, agv.battery_percent, as_number(entry.get("batteryPercentage"))
                    ),
                    battery_voltage=_prefer(
                        own, agv.battery_voltage, as_number(entry.get("batteryVoltage"))
                    ),
                    last_node_id=_prefer(own, agv.last_node_id, as_text(entry.get("lastNodeId"))),
                    last_module_serial=as_text(entry.get("lastModuleSerialNumber"))
                    or agv.last_module_serial,
                    updated_at=received_at,
                )
            )

    def _on_layout(self, body: object, _received_at: float) -> None:
        data = as_dict(body)
        for item in as_list(data.get("modules") if data else None):
            entry = as_dict(item)
            if entry is not None:
                serial = as_text(entry.get("serialNumber"))
                if serial:
                    self._learn_type(serial, as_text(entry.get("type")))

    def _on_flows(self, body: object, _received_at: float) -> None:
        data = as_dict(body)
        if data is None:
            return
        flows: dict[str, tuple[str, ...]] = {}
        for colour, flow in data.items():
            steps = as_list((as_dict(flow) or {}).get("steps"))
            flows[colour] = tuple(s for s in map(as_text, steps) if s)
        self.flows = flows

    def _on_stock(self, body: object, _received_at: float) -> None:
        slots = parse_stock(body)
        if slots is None:
            return
        if slots != self.stock or not self.stock_known:
            self.stock = slots
            self.stock_known = True
            self._bump("stock")

    def _on_active(self, body: object, _received_at: float) -> None:
        orders = parse_orders(body)
        if orders is not None and orders != self.active_orders:
            self.active_orders = orders
            self._bump("orders")

    def _on_completed(self, body: object, _received_at: float) -> None:
        orders = parse_orders(body)
        if orders is not None and orders != self.completed_orders:
            self.completed_orders = orders
            self._bump("orders")

    def _on_response(self, body: object, _received_at: float) -> None:
        """A new order confirmed by the CCU: shown as active until the next active list."""
        order = parse_order(body)
        if order is None:
            return
        known = {o.order_id for o in self.active_orders + self.completed_orders}
        if order.order_id not in known:
            self.active_orders = (*self.active_orders, order)
            self._bump("orders")

    # ------------------------------------------------------------------ module / AGV topics
    def _on_module_topic(self, parts: list[str], body: object, received_at: float) -> None:
        # module/v1/ff/<serial>/<kind> or module/v1/ff/NodeRed/<serial>/<kind>
        if len(parts) == 5:
            serial, kind = parts[3], parts[4]
        elif len(parts) == 6 and parts[3] == "NodeRed":
            serial, kind = parts[4], parts[5]
        else:
            return
        data = as_dict(body)
        if data is None or not serial:
            return
        if kind == "factsheet":
            spec = as_dict(data.get("typeSpecification")) or {}
            self._learn_type(serial, as_text(spec.get("moduleClass")))
        elif kind == "connection":
            module = self._module(serial)
            state = as_enum(data.get("connectionState"))
            self._set_module(
                _replace(
                    module,
                    connection_state=state or module.connection_state,
                    connected=(state == "ONLINE") if state else module.connected,
                    updated_at=received_at,
                )
            )
        elif kind == "state":
            module = self._module(serial)
            self._set_module(
                _replace(
                    module,
                    action=parse_action(data.get("actionState")) or module.action,
                    errors=summarise_errors(data.get("errors")),
                    order_id=_order_ref(data.get("orderId")),
                    order_update_id=as_int(data.get("orderUpdateId")),
                    paused=as_flag(data.get("paused")),
                    updated_at=received_at,
                )
            )

    def _on_agv_topic(self, serial: str, kind: str, body: object, received_at: float) -> None:
        data = as_dict(body)
        if data is None or not serial:
            return
        agv = self._agv(serial)
        if kind == "connection":
            state = as_enum(data.get("connectionState"))
            self._set_agv(
                _replace(
                    agv,
                    connection_state=state or agv.connection_state,
                    connected=(state == "ONLINE") if state else agv.connected,
                    updated_at=received_at,
                )
            )
        elif kind == "state":
            battery = as_dict(data.get("batteryState")) or {}
            action = parse_action(data.get("actionState"))
            if action is None:
                history = as_list(data.get("actionStates"))
                action = parse_action(history[-1]) if history else None
            self._set_agv(
                _replace(
                    agv,
                    battery_percent=_keep(
                        as_number(battery.get("percentage")), agv.battery_percent
                    ),
                    battery_voltage=_keep(
                        as_number(battery.get("currentVoltage")), agv.battery_voltage
                    ),
                    charging=_keep(as_flag(battery.get("charging")), agv.charging),
                    driving=as_flag(data.get("driving")),
                    last_node_id=as_text(data.get("lastNodeId")) or agv.last_node_id,
                    loads=parse_loads(data.get("load")),
                    action=action or agv.action,
                    errors=summarise_errors(data.get("errors")),
                    order_id=_order_ref(data.get("orderId")),
                    paused=as_flag(data.get("paused")),
                    updated_at=received_at,
                    own_state_at=received_at,
                )
            )

    # ------------------------------------------------------------------ sensors and camera
    def _set_environment(self, received_at: float, **values: float | None) -> None:
        current = self.environment or Environment()
        changes = {k: v for k, v in values.items() if v is not None}
        self.environment = _replace(current, updated_at=received_at, **changes)
        self._bump("sensors")

    def _on_bme680(self, body: object, received_at: float) -> None:
        data = as_dict(body)
        if data is not None:
            self._set_environment(
                received_at,
                temperature=as_number(data.get("t")),
                humidity=as_number(data.get("h")),
                pressure=as_number(data.get("p")),
                iaq=as_number(data.get("iaq")),
            )

    def _on_ldr(self, body: object, received_at: float) -> None:
        data = as_dict(body)
        if data is not None:
            self._set_environment(
                received_at,
                brightness=as_number(data.get("br")),
                ldr_raw=as_number(data.get("ldr")),
            )

    def _on_arduino(
        self, kind: str, sensor_id: str, leaf: str, body: object, received_at: float
    ) -> None:
        key = f"{kind}/{sensor_id}"
        current = self.arduino.get(key) or SensorReading(kind, sensor_id)
        if leaf == "state":
            values = scalar_fields(body, skip=frozenset({"timestamp"}))
            if not values:
                return
            self.arduino[key] = _replace(current, values=values, updated_at=received_at)
        elif leaf == "connection":
            state = as_enum((as_dict(body) or {}).get("connectionState"))
            self.arduino[key] = _replace(current, connection_state=state, updated_at=received_at)
        else:
            return
        self._bump("sensors")

    def _on_camera(self, body: object, received_at: float) -> None:
        data = as_dict(body) or {}
        image = as_text(data.get("data"))
        if image and image.startswith("data:image/"):
            self.camera = CameraFrame(image, as_text(data.get("ts")), received_at)
            self._bump("camera")

    def _on_quality(self, body: object, received_at: float) -> None:
        data = as_dict(body)
        if data is None:
            return
        self.quality = QualityCheck(
            result=as_enum(data.get("result")),
            classification=as_text(data.get("classification")),
            description=as_text(data.get("classificationDesc")),
            updated_at=received_at,
        )
        self._bump("camera")


def _replace(obj: T, **changes: object) -> T:
    """``dataclasses.replace`` without its per-call introspection (3× faster; hot path)."""
    kind: type[Any] = type(obj)
    values = {name: getattr(obj, name) for name in kind.__dataclass_fields__}
    values.update(changes)
    result: T = kind(**values)
    return result


def _keep(new: T | None, old: T | None) -> T | None:
    """``new`` unless it is unknown (None): a partial report must not erase what we know."""
    return old if new is None else new


def _prefer(own: bool, current: T | None, reported: T | None) -> T | None:
    """Keep ``current`` when it came from the device itself; else take ``reported`` if known."""
    if own and current is not None:
        return current
    return _keep(reported, current)


def _order_ref(value: object) -> str | None:
    """An ``orderId`` worth showing: idle modules report ``""``, ``0`` or ``"0"``."""
    text = as_text(value)
    return None if text in (None, "", "0") else text


def _connection_word(connected: bool | None, previous: str | None) -> str | None:
    if connected is None:
        return previous
    return "ONLINE" if connected else "OFFLINE"


_EXACT_HANDLERS = {
    "ccu/pairing/state": FactoryState._on_pairing,
    "ccu/state/layout": FactoryState._on_layout,
    "ccu/state/flows": FactoryState._on_flows,
    "ccu/state/stock": FactoryState._on_stock,
    "ccu/order/active": FactoryState._on_active,
    "ccu/order/completed": FactoryState._on_completed,
    "ccu/order/response": FactoryState._on_response,
    "/j1/txt/1/i/bme680": FactoryState._on_bme680,
    "/j1/txt/1/i/ldr": FactoryState._on_ldr,
    "/j1/txt/1/i/cam": FactoryState._on_camera,
    "/j1/txt/1/i/quality_check": FactoryState._on_quality,
}
