"""The generator's message builders: :class:`PlantMessages` holds the simulated plant's state
and one builder per message it can send, plus the retained dump a subscriber gets first."""

from __future__ import annotations

import base64
import random
from collections.abc import Callable, Iterator
from functools import partial

from mqtt_replay.generate.catalogue import (
    AGV,
    AGV_IP,
    AGV_VERSION,
    ARDUINO,
    CCU_VERSION,
    CHARGER,
    FLOWS,
    LOCATIONS,
    MODULES,
    ROUTE_VIA,
    T_ACTION_STATE,
    T_ARDUINO_CONNECTION,
    T_BME680,
    T_CAM_HEAD,
    T_CAM_TAIL,
    T_DHT11,
    T_DPS_LED,
    T_FLAME,
    T_FTS_STATE,
    T_LDR,
    T_MODULE_CONNECTION,
    T_MODULE_STATE,
    T_MPU6050,
    T_MQ2,
    T_PAIRING,
    T_SW420,
    T_TXT_ORDER,
    WORK_COMMAND,
    Msg,
    _dumps,
    _esc,
    camera_frame,
)


def _as_retained(build: Callable[[], Msg]) -> Msg:
    topic, payload, _ = build()
    return topic, payload, True


class PlantMessages:
    """The simulated factory's state and the messages it can send (the catalogue); the order
    and charging scripts that drive it live in :class:`~mqtt_replay.generate.scripts.Plant`."""

    def __init__(self, rng: random.Random, mix: str) -> None:
        self.rng = rng
        self.mix = mix
        self.ts = ""
        self.t_us = 0
        self.header_ids = {serial: rng.randrange(50, 500) for serial, _, _ in MODULES.values()}
        self.header_ids[AGV] = rng.randrange(50, 500)
        self.busy: dict[str, bool] = dict.fromkeys(MODULES, False)
        self.battery = 70.0 + rng.random() * 20
        self.charging = False
        self.agv_node = CHARGER
        self.agv_load: str | None = None
        self.agv_order = ""
        self.agv_action = (self._uuid(), "FINISHED", "factsheetRequest")
        self.agv_sequence = 0
        self.agv_update = 0
        self.stock: dict[str, tuple[str, str, str]] = {}
        colours = ["RED", "RED", "RED", "WHITE", "WHITE", "BLUE", "BLUE", "BLUE"]
        for location, colour in zip(LOCATIONS, colours, strict=False):
            self.stock[location] = (self._workpiece_id(), colour, "RAW")
        self.active: list[dict[str, object]] = []
        self.completed: list[dict[str, object]] = []
        self.order_index = 0
        self.script: Iterator[Msg] | None = None  # the running order or charging script
        self.next_pairing_us = 0
        builders = {
            "plant": [
                (3.6, self.camera),
                (7.0, self.bme680),
                (7.0, self.ldr),
                (13.0, self.dps_led),
                (11.0, self.mpu6050),
                (11.0, self.mq2),
                (5.0, self.sw420),
                (5.0, self.dht11),
                (5.0, self.flame),
                (3.5, self.agv_state),
                (2.5, self.module_connection),
            ],
            "small": [
                (10.0, self.bme680),
                (10.0, self.ldr),
                (12.0, self.mpu6050),
                (12.0, self.mq2),
                (6.0, self.sw420),
                (6.0, self.dht11),
                (6.0, self.flame),
                (2.0, self.arduino_connection),
                (1.0, self.nodered_status),
                (1.0, self.txt_order),
            ],
            "camera": [(90.0, self.camera), (5.0, self.bme680), (5.0, self.ldr)],
        }[mix]
        self._weights: list[float] = []
        total = 0.0
        for weight, _ in builders:
            total += weight
            self._weights.append(total)
        self._total_weight = total
        self._builders = [b for _, b in builders]
        self.dump = self._dump_builders()

    # ------------------------------------------------------------------ identifiers

    def _uuid(self) -> str:
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"

    def _workpiece_id(self) -> str:
        return f"04{self.rng.getrandbits(40):010x}90"

    def _header_id(self, serial: str) -> int:
        self.header_ids[serial] += 1
        return self.header_ids[serial]

    def _bool(self, p: float) -> str:
        return "true" if self.rng.random() < p else "false"

    # ------------------------------------------------------------------ the retained dump

    def _dump_builders(self) -> list[Callable[[], Msg]]:
        """What a subscriber gets first: the retained messages, all with retain=true."""
        retained: list[Callable[[], Msg]]
        if self.mix == "small":
            arduino = [partial(self.arduino_connection, a) for a in ARDUINO]
            retained = [self.nodered_status, *arduino, self.txt_order]
        elif self.mix == "camera":
            retained = [self.camera, self.bme680, self.ldr]
        else:
            retained = self._plant_dump()
        return [partial(_as_retained, b) for b in retained]

    def _plant_dump(self) -> list[Callable[[], Msg]]:
        retained: list[Callable[[], Msg]] = [
            self.version_mismatch,
            self.layout,
            self.config,
            self.flows,
            self.stock_message,
            self._active_message,
            self._completed_message,
            partial(self.pairing, retain=True),
            self.nodered_status,
        ]
        for module in MODULES:
            retained += [
                partial(self.module_connection, module),
                partial(self.module_state, module, None),
                partial(self.factsheet, module),
            ]
        for module in ("AIQS", "DPS"):
            retained += [
                partial(self.module_connection, module, nodered=True),
                partial(self.module_state, module, None, nodered=True),
            ]
        retained += [self.agv_connection, self.agv_state, self.agv_factsheet]
        retained += [self.broadcast, self.hbw_config, self.txt_order, self.txt_stock]
        retained += [self.bme680, self.ldr, self.camera]
        retained += [partial(self.arduino_connection, a) for a in ARDUINO]
        retained += [self.mpu6050, self.mq2, self.sw420, self.dht11, self.flame]
        return retained

    # ------------------------------------------------------------------ background builders

    def camera(self) -> Msg:
        rng = self.rng
        image = camera_frame(rng.randbytes(7000 + rng.randrange(1000)))
        body = base64.b64encode(image).decode("ascii")
        return "/j1/txt/1/i/cam", T_CAM_HEAD % self.ts + body + T_CAM_TAIL, False

    def bme680(self) -> Msg:
        r = self.rng
        values = (
            self.ts,
            24 + r.random() * 2,
            0.0,
            25 + r.random() * 3,
            0.0,
            995 + r.random() * 3,
            r.randrange(30, 60),
            r.randrange(1, 4),
            0,
        )
        return "/j1/txt/1/i/bme680", T_BME680 % values, False

    def ldr(self) -> Msg:
        r = self.rng
        return (
            "/j1/txt/1/i/ldr",
            T_LDR % (self.ts, 85 + r.random() * 10, r.randrange(5800, 6300)),
            False,
        )

    def dps_led(self) -> Msg:
        r = self.rng
        green = r.random() < 0.7
        payload = T_DPS_LED % (
            self.ts,
            self._uuid(),
            "true" if green else "false",
            "false",
            "false" if green else "true",
        )
        return f"module/v1/ff/{MODULES['DPS'][0]}/instantAction", payload, False

    def mpu6050(self) -> Msg:
        r = self.rng
        level = r.choice(("green", "green", "yellow", "red"))
        payload = T_MPU6050 % (
            level,
            self._bool(0.4),
            r.randrange(0, 5),
            r.randrange(15800, 16600),
            self.ts,
        )
        return "osf/arduino/vibration/mpu6050-1/state", payload, False

    def mq2(self) -> Msg:
        r = self.rng
        payload = T_MQ2 % (self._bool(0.1), r.randrange(0, 3), r.randrange(520, 620), self.ts)
        return "osf/arduino/gas/mq2-1/state", payload, False

    def sw420(self) -> Msg:
        payload = T_SW420 % (self._bool(0.1), self.rng.randrange(0, 3), self.ts)
        return "osf/arduino/vibration/sw420-1/state", payload, False

    def dht11(self) -> Msg:
        r = self.rng
        payload = T_DHT11 % (22 + r.random() * 1.5, 33 + r.random() * 3, self.ts)
        return "osf/arduino/temperature/dht11-1/state", payload, False

    def flame(self) -> Msg:
        payload = T_FLAME % (self._bool(0.01), self.rng.randrange(600, 700), self.ts)
        return "osf/arduino/flame/flame-1/state", payload, False

    def arduino_connection(self, which: tuple[str, str, str] | None = None) -> Msg:
        kind, ident, ip = which or self.rng.choice(ARDUINO)
        return f"osf/arduino/{kind}/{ident}/connection", T_ARDUINO_CONNECTION % (ip, ident), False

    def nodered_status(self) -> Msg:
        return "module/v1/ff/NodeRed/status", _esc('{"connectionState":"ONLINE"}'), False

    def txt_order(self, state: str = "WAITING_FOR_ORDER") -> Msg:
        return "/j1/txt/1/f/i/order", T_TXT_ORDER % (self.ts, state), False

    def module_connection(self, module: str | None = None, *, nodered: bool = False) -> Msg:
        module = module or self.rng.choice(list(MODULES))
        serial, ip, version = MODULES[module]
        payload = T_MODULE_CONNECTION % (self._header_id(serial), self.ts, ip, version, serial)
        prefix = "module/v1/ff/NodeRed" if nodered else "module/v1/ff"
        return f"{prefix}/{serial}/connection", payload, False

    def module_state(
        self,
        module: str,
        action: tuple[str, str, str] | None,
        *,
        order_id: str | None = None,
        update: int = 0,
        load: str | None = None,
        nodered: bool = False,
    ) -> Msg:
        serial = MODULES[module][0]
        action_state = "null" if action is None else T_ACTION_STATE % action
        loads = "[]" if load is None else f'[{{"loadType":"{load}"}}]'
        oid = "0" if order_id is None else f'"{order_id}"'
        payload = T_MODULE_STATE % (
            self._header_id(serial),
            _esc(loads),
            _esc(action_state),
            serial,
            self.ts,
            update,
            _esc(oid),
        )
        prefix = "module/v1/ff/NodeRed" if nodered else "module/v1/ff"
        return f"{prefix}/{serial}/state", payload, False

    def agv_state(self, *, driving: bool = False) -> Msg:
        action_id, action_state, command = self.agv_action
        load = "null" if self.agv_load is None else f'"{self.agv_load}"'
        load_id = "null" if self.agv_load is None else f'"{self._workpiece_id()}"'
        pct = max(0, min(100, round(self.battery)))
        payload = T_FTS_STATE % (
            "true" if self.charging else "false",
            pct,
            7.84 + 1.26 * pct / 100,
            "true" if driving else "false",
            self._header_id(AGV),
            self.agv_sequence,
            self.ts,
            self.agv_order,
            action_id,
            action_state,
            self.ts,
            command,
            _esc(load),
            _esc(load_id),
            self.agv_node,
            self.agv_update,
        )
        return f"fts/v1/ff/{AGV}/state", payload, False

    def pairing(self, *, retain: bool) -> Msg:
        values: list[object] = []
        for module in MODULES:
            values += ["BUSY" if self.busy[module] else "READY", self.ts]
        pct = max(0, min(100, round(self.battery)))
        node = self.agv_node
        last_module = node if node not in ROUTE_VIA.values() else "UNKNOWN"
        values += ["BUSY" if self.agv_order else "READY", self.ts]
        values += ["true" if self.charging else "false", 7.84 + 1.26 * pct / 100, pct]
        values += [node, last_module]
        return "ccu/pairing/state", T_PAIRING % tuple(values), retain

    # ------------------------------------------------------------------ retained state

    def version_mismatch(self) -> Msg:
        payload = {"timestamp": self.ts, "ccuVersion": CCU_VERSION, "mismatchedModules": []}
        return "ccu/state/version-mismatch", _dumps(payload), True

    def layout(self) -> Msg:
        modules = [
            {"type": m, "serialNumber": s, "placeholder": False} for m, (s, _, _) in MODULES.items()
        ]
        modules.append({"type": "CHRG", "serialNumber": CHARGER, "placeholder": False})
        nodes = [{"id": n, "type": "INTERSECTION"} for n in sorted(set(ROUTE_VIA.values()))]
        edges = [
            {"from": ROUTE_VIA[m], "to": MODULES[m][0] if m in MODULES else m, "length": 380}
            for m in ROUTE_VIA
        ]
        return (
            "ccu/state/layout",
            _dumps({"modules": modules, "intersections": nodes, "roads": edges}),
            True,
        )

    def config(self) -> Msg:
        payload = {
            "productionDurations": {"WHITE": 580, "BLUE": 550, "RED": 560},
            "productionSettings": {"maxParallelOrders": 4},
            "ftsSettings": {"chargeThresholdPercent": 30},
        }
        return "ccu/state/config", _dumps(payload), True

    def flows(self) -> Msg:
        return "ccu/state/flows", _dumps({c: {"steps": s} for c, s in FLOWS.items()}), True

    def _stock_payload(self) -> dict[str, object]:
        items = []
        for location in LOCATIONS:
            wp_id, colour, state = self.stock.get(location, ("", "", "RAW"))
            workpiece = {"id": wp_id, "type": colour, "state": state}
            items.append({"workpiece": workpiece, "location": location, "hbw": MODULES["HBW"][0]})
        return {"ts": self.ts, "stockItems": items}

    def stock_message(self) -> Msg:
        return "ccu/state/stock", _dumps(self._stock_payload()), True

    def txt_stock(self) -> Msg:
        return "/j1/txt/1/f/i/stock", _dumps(self._stock_payload()), True

    def factsheet(self, module: str) -> Msg:
        serial, _, version = MODULES[module]
        commands = {"HBW": ["PICK", "DROP"], "DPS": ["PICK", "DROP"]}.get(
            module, ["PICK", WORK_COMMAND.get(module, "DROP"), "DROP"]
        )
        payload = {
            "headerId": self._header_id(serial),
            "timestamp": self.ts,
            "version": version,
            "manufacturer": "Fischertechnik",
            "serialNumber": serial,
            "typeSpecification": {"seriesName": module, "moduleClass": module},
            "physicalParameters": {},
            "protocolLimits": {"maxStringLens": {}, "maxArrayLens": {}, "timing": {}},
            "protocolFeatures": {
                "moduleActions": [
                    {
                        "actionType": c,
                        "actionParameters": [{"key": "type", "value": ["RED", "WHITE", "BLUE"]}],
                    }
                    for c in commands
                ],
                "optionalParameters": [],
            },
            "loadSpecification": {"loadPositions": ["1"], "loadSets": []},
            "localizationParameters": {},
        }
        return f"module/v1/ff/{serial}/factsheet", _dumps(payload), True

    def _agv_header(self) -> dict[str, object]:
        """The fields the AGV's connection and factsheet messages begin with."""
        return {
            "headerId": self._header_id(AGV),
            "timestamp": self.ts,
            "version": AGV_VERSION,
            "manufacturer": "Fischertechnik",
            "serialNumber": AGV,
        }

    def agv_connection(self) -> Msg:
        payload = {
            **self._agv_header(),
            "connectionState": "ONLINE",
            "ip": AGV_IP,
        }
        return f"fts/v1/ff/{AGV}/connection", _dumps(payload), True

    def agv_factsheet(self) -> Msg:
        payload = {
            **self._agv_header(),
            "typeSpecification": {
                "seriesName": "FTS",
                "agvKinematic": "DIFF",
                "agvClass": "FORKLIFT",
            },
            "physicalParameters": {"speedMax": 0.3, "width": 0.15, "length": 0.2},
            "loadSpecification": {"loadPositions": ["1", "2", "3"]},
        }
        return f"fts/v1/ff/{AGV}/factsheet", _dumps(payload), True

    def broadcast(self) -> Msg:
        payload = {
            "ts": self.ts,
            "hardwareId": "txt-j1",
            "softwareVersion": "1.3.0",
            "message": "init",
        }
        return "/j1/txt/1/i/broadcast", _dumps(payload), True

    def hbw_config(self) -> Msg:
        payload = {"ts": self.ts, "positions": LOCATIONS}
        return "/j1/txt/1/f/i/config/hbw", _dumps(payload), True

    # ------------------------------------------------------------------ order scripts

    def _completed_message(self) -> Msg:
        return "ccu/order/completed", _dumps(self.completed), True

    def _active_message(self) -> Msg:
        return "ccu/order/active", _dumps(self.active), True
