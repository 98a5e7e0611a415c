"""FactoryState: the plant as its MQTT messages describe it, updated one message at a time.

Pure Python (no Dash, no paho) and single-threaded: the caller serialises :meth:`apply`. Every
update replaces immutable entity values, so a reader holding a :class:`StateSnapshot` sees a
consistent picture while the model moves on. Each section (``modules``, ``agvs``, ``stock``,
``orders``, ``sensors``, ``camera``) has a version counter that grows when that section
changes, which lets a UI redraw only what changed.

Robustness contract: :meth:`apply` never raises on payload content. Unknown topics and fields
are ignored, wrong types read as unknown, non-JSON bodies are counted in ``non_json``.
Payload clocks are kept only as text; freshness uses the receive time passed by the caller.

Cost (once per message, up to 10k a second): topic routes are cached; sensor readings become
values when read (:mod:`apps.omf_dashboard.sensors`); a stock or order text repeating the last
one on its topic is not parsed again (:meth:`apply_text`); order lists reuse unchanged orders
and steps (:class:`~apps.omf_dashboard.entities.OrderParser`). The model stays the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, TypeVar

from apps.omf_dashboard.entities import (
    AgvStatus,
    CameraFrame,
    Environment,
    ModuleStatus,
    Order,
    OrderParser,
    QualityCheck,
    SensorReading,
    StockSlot,
    empty_stock,
    parse_action,
    parse_loads,
    parse_order,
    parse_stock,
    replace_fields,
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
from apps.omf_dashboard.routes import TopicRouter
from apps.omf_dashboard.sensors import BME680_FIELDS, LDR_FIELDS, SensorModel
from apps.omf_dashboard.topics import KNOWN_MODULE_SERIALS

T = TypeVar("T")
_replace = replace_fields

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


class FactoryState:
    """The factory model. Feed it with :meth:`apply` (decoded body) or :meth:`apply_text`."""

    def __init__(self) -> None:
        self.modules: dict[str, ModuleStatus] = {}
        self.agvs: dict[str, AgvStatus] = {}
        self.stock: dict[str, StockSlot] = empty_stock()
        self.stock_known = False
        self.active_orders: tuple[Order, ...] = ()
        self.completed_orders: tuple[Order, ...] = ()
        self.camera: CameraFrame | None = None
        self.quality: QualityCheck | None = None
        self.flows: dict[str, tuple[str, ...]] = {}
        self.module_types: dict[str, str] = dict(KNOWN_MODULE_SERIALS)
        self.messages = 0
        self.non_json = 0
        self.versions: dict[str, int] = dict.fromkeys(SECTIONS, 0)
        self._sensors = SensorModel()
        self._active_parser = OrderParser()
        self._completed_parser = OrderParser()
        self._last_text: dict[str, tuple[str, object, tuple[Order, ...] | None]] = {}
        """Per topic of ``_REPEAT_TOPICS``: last payload text, its body, the active orders."""
        self._parsed_active: tuple[Order, ...] | None = None

    @property
    def environment(self) -> Environment | None:
        return self._sensors.environment

    @property
    def arduino(self) -> dict[str, SensorReading]:
        return self._sensors.arduino

    # ------------------------------------------------------------------ entry points
    def apply_text(
        self, topic: str, payload: bytes | bytearray | str, received_at: float
    ) -> object:
        """Decode and parse ``payload``, apply it, and return the parsed body (or NOT_JSON).

        On ``ccu/state/stock`` and ``ccu/order/active|completed`` a payload text equal to the
        previous one on that topic is not parsed again: the stock and the completed list
        cannot have changed, the active list is compared with the orders parsed last time.
        """
        text = decode(payload)
        repeatable = topic in _REPEAT_TOPICS
        if repeatable:
            last = self._last_text.get(topic)
            if last is not None and last[0] == text:
                self.messages += 1
                if last[2] is not None:  # only the active list can have changed since
                    self._set_active(last[2])
                return last[1]
        body = parse_payload(text)
        self._apply(topic, body, received_at)
        if repeatable:
            if body is NOT_JSON:
                self._last_text.pop(topic, None)
            else:
                orders = self._parsed_active if topic == ACTIVE_TOPIC else None
                self._last_text[topic] = (text, body, orders)
        return body

    def apply(self, topic: str, body: object, received_at: float) -> None:
        """Update the model from one message; ``body`` is ``json.loads`` output or NOT_JSON."""
        if topic in _REPEAT_TOPICS:
            self._last_text.pop(topic, None)
        self._apply(topic, body, received_at)

    def _apply(self, topic: str, body: object, received_at: float) -> None:
        self.messages += 1
        if body is NOT_JSON:
            self.non_json += 1
            return
        try:
            route = _ROUTES[topic]
        except KeyError:
            route = _ROUTER.learn(topic)
        if route is not None:
            handler, args = route
            handler(self, *args, body, received_at)

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
        orders = self._parsed_active = self._active_parser.parse(body)
        if orders is not None:
            self._set_active(orders)

    def _set_active(self, orders: tuple[Order, ...]) -> None:
        if orders != self.active_orders:
            self.active_orders = orders
            self._bump("orders")

    def _on_completed(self, body: object, _received_at: float) -> None:
        orders = self._completed_parser.parse(body)
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
    # module/v1/ff/<serial>/<kind>, module/v1/ff/NodeRed/<serial>/<kind>, fts/v1/ff/<serial>/<kind>
    def _on_module_factsheet(self, serial: str, body: object, _received_at: float) -> None:
        data = as_dict(body)
        if data is not None:
            spec = as_dict(data.get("typeSpecification")) or {}
            self._learn_type(serial, as_text(spec.get("moduleClass")))

    def _on_module_connection(self, serial: str, body: object, received_at: float) -> None:
        data = as_dict(body)
        if data is None:
            return
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

    def _on_module_state(self, serial: str, body: object, received_at: float) -> None:
        data = as_dict(body)
        if data is None:
            return
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

    def _on_agv_connection(self, serial: str, body: object, received_at: float) -> None:
        data = as_dict(body)
        if data is None:
            return
        agv = self._agv(serial)
        state = as_enum(data.get("connectionState"))
        self._set_agv(
            _replace(
                agv,
                connection_state=state or agv.connection_state,
                connected=(state == "ONLINE") if state else agv.connected,
                updated_at=received_at,
            )
        )

    def _on_agv_state(self, serial: str, body: object, received_at: float) -> None:
        data = as_dict(body)
        if data is None:
            return
        agv = self._agv(serial)
        battery = as_dict(data.get("batteryState")) or {}
        action = parse_action(data.get("actionState"))
        if action is None:
            history = as_list(data.get("actionStates"))
            action = parse_action(history[-1]) if history else None
        self._set_agv(
            _replace(
                agv,
                battery_percent=_keep(as_number(battery.get("percentage")), agv.battery_percent),
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
    def _on_bme680(self, body: object, received_at: float) -> None:
        if self._sensors.apply_environment(BME680_FIELDS, body, received_at):
            self._bump("sensors")

    def _on_ldr(self, body: object, received_at: float) -> None:
        if self._sensors.apply_environment(LDR_FIELDS, body, received_at):
            self._bump("sensors")

    def _on_arduino_state(
        self, kind: str, sensor_id: str, key: str, body: object, received_at: float
    ) -> None:
        if self._sensors.apply_arduino_state(kind, sensor_id, key, body, received_at):
            self._bump("sensors")

    def _on_arduino_connection(
        self, kind: str, sensor_id: str, key: str, body: object, received_at: float
    ) -> None:
        if self._sensors.apply_arduino_connection(kind, sensor_id, key, body, received_at):
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


ACTIVE_TOPIC: Final = "ccu/order/active"
_REPEAT_TOPICS: Final = frozenset({"ccu/state/stock", ACTIVE_TOPIC, "ccu/order/completed"})

_ROUTER: Final = TopicRouter(
    exact={
        "ccu/pairing/state": FactoryState._on_pairing,
        "ccu/state/layout": FactoryState._on_layout,
        "ccu/state/flows": FactoryState._on_flows,
        "ccu/state/stock": FactoryState._on_stock,
        ACTIVE_TOPIC: FactoryState._on_active,
        "ccu/order/completed": FactoryState._on_completed,
        "ccu/order/response": FactoryState._on_response,
        "/j1/txt/1/i/bme680": FactoryState._on_bme680,
        "/j1/txt/1/i/ldr": FactoryState._on_ldr,
        "/j1/txt/1/i/cam": FactoryState._on_camera,
        "/j1/txt/1/i/quality_check": FactoryState._on_quality,
    },
    module={
        "factsheet": FactoryState._on_module_factsheet,
        "connection": FactoryState._on_module_connection,
        "state": FactoryState._on_module_state,
    },
    agv={"connection": FactoryState._on_agv_connection, "state": FactoryState._on_agv_state},
    arduino={
        "state": FactoryState._on_arduino_state,
        "connection": FactoryState._on_arduino_connection,
    },
)
_ROUTES: Final = _ROUTER.routes
