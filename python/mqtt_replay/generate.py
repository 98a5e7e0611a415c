"""Deterministic synthetic plant sessions (L5 NDJSON) for demos, tests and benchmarks.

``generate_session(path, messages=..., seed=...)`` writes a session that looks like a recording
of the fischertechnik plant (SPEC §4): a header line ``{"_kind":"session_meta",...}``, then one
compact JSON line per message ``{"topic","payload","timestamp","qos","retain"}`` with UTC
millisecond ``Z`` timestamps.

Mixes:

* ``plant`` — a retained dump at the start (CCU state, pairing, module connections/states/
  factsheets, AGV, TXT controller, Arduino sensors), then a storage order and production orders
  RED/WHITE/BLUE flowing HBW → AGV → DRILL/MILL → AIQS → DPS (order request/response, module
  orders and states with ``actionState`` RUNNING → FINISHED, AGV orders and states with
  ``batteryState``, ``ccu/order/active`` updates, stock updates, charging), interleaved with the
  noisy background: ``ccu/pairing/state`` every ~1.3 s, camera frames (~10 KB base64 data-URIs),
  BME680/LDR readings, DPS ``setStatusLED`` instantActions and Arduino sensors. About 0.9 KB per
  message on average.
* ``small`` — only small sensor/status messages (~100-300 B), no camera, no orders.
* ``camera`` — mostly camera frames.

Timestamps advance by exponential inter-arrival times with mean ``1/rate`` s, with occasional
bursts of several messages sharing one timestamp. The same arguments always give a
byte-identical file: every random choice comes from ``random.Random`` seeded by ``seed``.

Speed: high-frequency payloads are pre-escaped ``%`` templates (no ``json.dumps`` per message);
only the rare order messages are built with ``json.dumps``. Lines are written in large blocks.
"""

from __future__ import annotations

import base64
import bisect
import json
import math
import os
import random
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

from mqtt_replay.errors import InvalidOptionError
from mqtt_replay.topics import PLANT_AGVS, PLANT_MODULES

__all__ = ["DEFAULT_START", "MIXES", "generate_session"]

MIXES = ("plant", "small", "camera")
DEFAULT_START = datetime(2026, 1, 15, 9, 0, 0, tzinfo=UTC)
GENERATOR_VERSION = "mqtt-replay-generator/1"
LOCAL_ZONE = "Europe/Berlin"  # header times are naive local time, like the real recorder's
CCU_VERSION = "1.3.0"

BURST_PROBABILITY = 0.01
PAIRING_PERIOD_US = 1_300_000
SCRIPT_SHARE = 0.12  # share of message slots given to the order/charging script (plant)
WRITE_BLOCK = 4096  # lines per write

Msg = tuple[str, str, bool]  # topic, payload already escaped for a JSON string, retain

# module type -> serial (the plant's, from mqtt_replay.topics), ip, software version
MODULES: dict[str, tuple[str, str, str]] = {
    kind: (PLANT_MODULES[kind], ip, version)
    for kind, ip, version in (
        ("HBW", "192.168.0.80", "1.3.0"),
        ("DRILL", "192.168.0.50", "1.3.0"),
        ("MILL", "192.168.0.40", "1.3.0"),
        ("AIQS", "192.168.0.70", "1.3.0"),
        ("DPS", "192.168.0.90", "1.6.0"),
    )
}
CHARGER = PLANT_MODULES["CHRG"]
AGV = PLANT_AGVS[0]
AGV_IP = "192.168.0.177"
AGV_VERSION = "1.1.0+git250d287"
FLOWS = {"BLUE": ["DRILL", "MILL", "AIQS"], "RED": ["MILL", "AIQS"], "WHITE": ["DRILL", "AIQS"]}
WORK_COMMAND = {"DRILL": "DRILL", "MILL": "MILL", "AIQS": "CHECK_QUALITY"}
ORDER_CYCLE = [
    ("STORAGE", "WHITE"),
    ("PRODUCTION", "RED"),
    ("PRODUCTION", "WHITE"),
    ("PRODUCTION", "BLUE"),
    ("STORAGE", "RED"),
    ("STORAGE", "BLUE"),
]
LOCATIONS = ["A1", "A2", "A3", "B1", "B2", "B3", "C1", "C2", "C3"]
# layout: intersections between the modules (AGV route nodes)
ROUTE_VIA = {
    "HBW": "1",
    "DRILL": "1",
    "MILL": "2",
    "AIQS": "3",
    "DPS": "2",
    CHARGER: "4",
}
ARDUINO = [
    ("flame", "flame-1", "192.168.0.95"),
    ("gas", "mq2-1", "192.168.0.96"),
    ("temperature", "dht11-1", "192.168.0.97"),
    ("vibration", "sw420-1", "192.168.0.98"),
    ("vibration", "mpu6050-1", "192.168.0.99"),
]
# The start of a JFIF file, so that the frames look like JPEGs (the rest is random bytes).
JPEG_HEAD = bytes.fromhex(
    "ffd8ffe000104a46494600010100000100010000ffdb004300100b0c0e0c0a100e0d0e1211101318281a"
    "181616183123251d283a333d3c3933383740485c4e404457453738506d51575f626768673e4d71797064"
    "785c656763ffc000110800f0014003012200021101031101"
)
SESSION_NAME_RE = re.compile(r"^(?P<name>.+)_\d{8}_\d{6}$")


def _esc(text: str) -> str:
    """JSON text -> the contents of a JSON string holding it (ASCII input, no control chars)."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _dumps(obj: object) -> str:
    return _esc(json.dumps(obj, separators=(",", ":")))


def _template(text: str) -> str:
    """A payload template (JSON text with % placeholders), escaped once for embedding."""
    return _esc(text)


T_BME680 = _template(
    '{"ts":"%s","t":%.1f,"rt":%.1f,"h":%.1f,"rh":%.1f,"p":%.1f,"iaq":%d,"aq":%d,"gr":%d}'
)
T_LDR = _template('{"ts":"%s", "br":%.1f, "ldr":%d}')
T_DPS_LED = _template(
    '{"serialNumber":"' + MODULES["DPS"][0] + '","timestamp":"%s","actions":[{"actionId":"%s",'
    '"actionType":"setStatusLED","metadata":{"green":%s,"red":%s,"yellow":%s}}]}'
)
T_MPU6050 = _template(
    '{"vibrationLevel":"%s","vibrationDetected":%s,"impulseCount":%d,"magnitude":%d,'
    '"timestamp":"%s"}'
)
T_MQ2 = _template('{"gasDetected":%s,"gasLevel":%d,"rawValue":%d,"timestamp":"%s"}')
T_SW420 = _template('{"vibrationDetected":%s,"impulseCount":%d,"timestamp":"%s"}')
T_DHT11 = _template(
    '{"temperature":%.1f,"humidity":%.1f,"temperatureUnit":"C","humidityUnit":"%%",'
    '"timestamp":"%s"}'
)
T_FLAME = _template('{"flameDetected":%s,"rawValue":%d,"timestamp":"%s"}')
T_ARDUINO_CONNECTION = _template('{"connectionState":"ONLINE","ip":"%s","serialNumber":"%s"}')
T_MODULE_CONNECTION = _template(
    '{"headerId":%d,"timestamp":"%s","ip":"%s","version":"%s","manufacturer":"Fischertechnik",'
    '"serialNumber":"%s","connectionState":"ONLINE"}'
)
T_MODULE_STATE = _template(
    '{"headerId":%d,"loads":%s,"actionState":%s,"serialNumber":"%s","timestamp":"%s",'
    '"errors":[],"orderUpdateId":%d,"orderId":%s,"paused":false,'
    '"metadata":{"opcuaState":"connected"}}'
)
T_ACTION_STATE = '{"command":"%s","id":"%s","state":"%s"}'  # inserted into T_MODULE_STATE
T_FTS_STATE = _template(
    '{"edgeStates": [], "batteryState": {"charging": %s, "percentage": %d, '
    '"currentVoltage": %.2f, "minVolt": 7.84, "maxVolt": 9.1}, "driving": %s, "headerId": %d, '
    '"lastNodeSequenceId": %d, "waitingForLoadHandling": false, "nodeStates": [], '
    '"timestamp": "%s", "orderId": "%s", "lastCode": "", "actionStates": [{"id": "%s", '
    '"state": "%s", "timestamp": "%s", "command": "%s"}], "serialNumber": "' + AGV + '", '
    '"load": [{"loadPosition": "3", "loadType": null, "loadId": null}, {"loadPosition": "2", '
    '"loadType": null, "loadId": null}, {"loadPosition": "1", "loadType": %s, "loadId": %s}], '
    '"paused": false, "errors": [], "lastNodeId": "%s", "orderUpdateId": %d}'
)
T_TXT_ORDER = _template('{"ts":"%s","state":"%s"}')
T_CAM_HEAD = _template('{"ts":"%s","data":"data:image/jpeg;base64,')
T_CAM_TAIL = _template('"}')

# ccu/pairing/state: one entry per module (available and lastSeen vary) and the AGV.
_PAIRED_SINCE = "2026-01-08T07:12:49.038Z"
T_PAIRING_MODULE = (
    '{"serialNumber":"%(serial)s","type":"MODULE","connected":true,"available":"%%s",'
    '"subType":"%(sub)s",%(extra)s"pairedSince":"' + _PAIRED_SINCE + '","assigned":false,'
    '"ip":"%(ip)s","version":"%(version)s","lastSeen":"%%s","hasCalibration":%(cal)s}'
)
T_PAIRING_CHARGER = (
    '{"serialNumber":"' + CHARGER + '","type":"MODULE","connected":true,"available":"READY",'
    '"subType":"CHRG","pairedSince":"' + _PAIRED_SINCE + '","assigned":false}'
)
T_PAIRING_AGV = (
    '{"serialNumber":"' + AGV + '","type":"FTS","connected":true,"available":"%s",'
    '"ip":"' + AGV_IP + '","version":"' + AGV_VERSION + '","lastSeen":"%s","charging":%s,'
    '"batteryVoltage":%.1f,"batteryPercentage":%d,"lastNodeId":"%s",'
    '"lastModuleSerialNumber":"%s","lastLoadPosition":"1"}'
)


def _pairing_template() -> str:
    parts = []
    for sub, (serial, ip, version) in MODULES.items():
        extra = '"productionDuration":5,' if sub in {"DRILL", "MILL"} else ""
        cal = "false" if sub in {"DRILL", "MILL"} else "true"
        fields = {"serial": serial, "sub": sub, "extra": extra, "ip": ip, "version": version}
        parts.append(T_PAIRING_MODULE % {**fields, "cal": cal})
    modules = ",".join([*parts, T_PAIRING_CHARGER])
    return _template('{"modules":[' + modules + '],"transports":[' + T_PAIRING_AGV + "]}")


T_PAIRING = _pairing_template()


def _as_retained(build: Callable[[], Msg]) -> Msg:
    topic, payload, _ = build()
    return topic, payload, True


class _Clock:
    """UTC µs -> ``YYYY-MM-DDTHH:MM:SS.mmmZ``, caching the part up to the second."""

    def __init__(self) -> None:
        self._second: int | None = None
        self._prefix = ""

    def iso(self, t_us: int) -> str:
        second, rest = divmod(t_us, 1_000_000)
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._prefix}.{rest // 1000:03d}Z"


def _timeline(seed: int, messages: int, rate: float, start_us: int, dump: int) -> Iterator[int]:
    """Record times (UTC µs) of every message; a random stream of its own, so it can be replayed."""
    rng = random.Random(f"mqtt-replay-timeline:{seed}")
    mean_us = 1_000_000.0 / rate
    t = start_us
    burst = 0
    for i in range(messages):
        if i == 0:
            pass
        elif i < dump:  # the retained dump arrives within a few tens of milliseconds
            t += rng.randrange(300, 900)
        elif burst:
            burst -= 1
        else:
            if rng.random() < BURST_PROBABILITY:
                burst = rng.randint(2, 8)  # this and the next `burst` messages share a time
            t += int(rng.expovariate(1.0) * mean_us)
        yield t


def _local_naive_ms(t_us: int) -> str:
    """UTC µs -> naive local time (Europe/Berlin) with ms, as the recorder writes its header."""
    local = (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=t_us)).astimezone(
        ZoneInfo(LOCAL_ZONE)
    )
    return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}"


class _Plant:
    """The simulated factory: state, message builders and the order script."""

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
        self.script: Iterator[Msg] | None = None
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

    # ------------------------------------------------------------------ the message stream

    def next_message(self, i: int) -> Msg:
        if i < len(self.dump):
            return self.dump[i]()
        if self.mix != "plant":
            return self.background()
        if self.t_us >= self.next_pairing_us:
            jitter = self.rng.randrange(-100_000, 100_000)
            self.next_pairing_us = self.t_us + PAIRING_PERIOD_US + jitter
            return self.pairing(retain=True)
        if self.rng.random() < SCRIPT_SHARE:
            return self.scripted()
        return self.background()

    def background(self) -> Msg:
        pick = bisect.bisect(self._weights, self.rng.random() * self._total_weight)
        return self._builders[min(pick, len(self._builders) - 1)]()

    def scripted(self) -> Msg:
        while True:
            if self.script is None:
                self.script = self._next_script()
            msg = next(self.script, None)
            if msg is not None:
                return msg
            self.script = None

    def _next_script(self) -> Iterator[Msg]:
        if self.battery < 30:
            return self._charge_script()
        kind, colour = ORDER_CYCLE[self.order_index % len(ORDER_CYCLE)]
        self.order_index += 1
        return self._order_script(kind, colour)

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
        image = JPEG_HEAD + rng.randbytes(7000 + rng.randrange(1000)) + b"\xff\xd9"
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

    def agv_connection(self) -> Msg:
        payload = {
            "headerId": self._header_id(AGV),
            "timestamp": self.ts,
            "version": AGV_VERSION,
            "manufacturer": "Fischertechnik",
            "serialNumber": AGV,
            "connectionState": "ONLINE",
            "ip": AGV_IP,
        }
        return f"fts/v1/ff/{AGV}/connection", _dumps(payload), True

    def agv_factsheet(self) -> Msg:
        payload = {
            "headerId": self._header_id(AGV),
            "timestamp": self.ts,
            "version": AGV_VERSION,
            "manufacturer": "Fischertechnik",
            "serialNumber": AGV,
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

    def _navigate(self, order: dict[str, object], target: str, colour: str | None) -> Iterator[Msg]:
        """AGV order and states for driving from the current node to ``target``."""
        self.agv_order = str(order["orderId"])
        self.agv_update += 1
        source = self.agv_node
        via = ROUTE_VIA.get(target, "2")
        target_node = MODULES[target][0] if target in MODULES else target
        path = [source, via, target_node] if source != via else [via, target_node]
        edges = [f"{a}-{b}" for a, b in pairwise(path)]
        nodes: list[dict[str, object]] = []
        for k, node in enumerate(path):
            linked = [e for e in edges if node in e.split("-")]
            entry: dict[str, object] = {"id": node, "linkedEdges": linked}
            if k == len(path) - 1:
                metadata = {"loadType": colour, "loadPosition": "1"} if colour else {}
                entry["action"] = {"type": "DOCK", "id": self._uuid(), "metadata": metadata}
            elif k:
                entry["action"] = {"id": self._uuid(), "type": self.rng.choice(["PASS", "TURN"])}
            nodes.append(entry)
        payload = {
            "timestamp": self.ts,
            "orderId": self.agv_order,
            "orderUpdateId": self.agv_update,
            "nodes": nodes,
            "edges": [
                {"id": e, "length": self.rng.choice([360, 380]), "linkedNodes": e.split("-")}
                for e in edges
            ],
            "serialNumber": AGV,
        }
        yield f"fts/v1/ff/{AGV}/order", _dumps(payload), False
        self.agv_action = (self._uuid(), "RUNNING", "DOCK")
        for k in range(self.rng.randint(3, 6)):
            self.battery -= 0.4 + self.rng.random() * 0.4
            self.agv_node = path[min(k, len(path) - 1)]
            self.agv_sequence += 1
            yield self.agv_state(driving=True)
        self.agv_node = target_node
        self.agv_action = (self.agv_action[0], "FINISHED", "DOCK")
        yield self.agv_state(driving=False)

    def _manufacture(
        self, order: dict[str, object], module: str, command: str, colour: str, wp: str
    ) -> Iterator[Msg]:
        serial = MODULES[module][0]
        oid = str(order["orderId"])
        step_id = self._uuid()
        self.busy[module] = True
        update = self.rng.randrange(1, 9)
        order_payload = {
            "timestamp": self.ts,
            "serialNumber": serial,
            "orderId": oid,
            "orderUpdateId": update,
            "action": {
                "id": step_id,
                "command": command,
                "metadata": {"type": colour, "workpieceId": wp},
            },
        }
        yield f"module/v1/ff/{serial}/order", _dumps(order_payload), False
        nodered = module in {"AIQS", "DPS"}
        if nodered:
            yield f"module/v1/ff/NodeRed/{serial}/order", _dumps(order_payload), False
        running = (command, step_id, "RUNNING")
        for _ in range(self.rng.randint(1, 3)):
            yield self.module_state(module, running, order_id=oid, update=update, load=colour)
            if nodered:
                yield self.module_state(
                    module, running, order_id=oid, update=update, load=colour, nodered=True
                )
        if module == "DPS" and command == "PICK":
            self.agv_load = None
        elif command == "DROP":
            self.agv_load = colour
        finished = (command, step_id, "FINISHED")
        yield self.module_state(module, finished, order_id=oid, update=update, load=colour)
        if nodered:
            yield self.module_state(
                module, finished, order_id=oid, update=update, load=colour, nodered=True
            )
        self.busy[module] = False

    def _steps(self, kind: str, colour: str) -> list[dict[str, object]]:
        plan: list[tuple[str, str, str]] = []  # (type, command or source, module or target)
        if kind == "STORAGE":
            plan = [
                ("MANUFACTURE", "DROP", "DPS"),
                ("NAVIGATION", "DPS", "HBW"),
                ("MANUFACTURE", "PICK", "HBW"),
            ]
        else:
            plan = [("NAVIGATION", "START", "HBW"), ("MANUFACTURE", "DROP", "HBW")]
            previous = "HBW"
            for module in FLOWS[colour]:
                plan.append(("NAVIGATION", previous, module))
                plan += [("MANUFACTURE", c, module) for c in ("PICK", WORK_COMMAND[module], "DROP")]
                previous = module
            plan += [("NAVIGATION", previous, "DPS"), ("MANUFACTURE", "PICK", "DPS")]
        steps: list[dict[str, object]] = []
        for step_type, a, b in plan:
            step: dict[str, object] = {"id": self._uuid(), "type": step_type}
            if steps:
                step["dependentActionId"] = steps[-1]["id"]
            step["state"] = "ENQUEUED"
            if step_type == "NAVIGATION":
                step["source"], step["target"] = a, b
            else:
                step["command"], step["moduleType"] = a, b
            steps.append(step)
        return steps

    def _take_from_stock(self, colour: str) -> str:
        for location in LOCATIONS:
            wp_id, c, _ = self.stock.get(location, ("", "", ""))
            if wp_id and c == colour:
                self.stock[location] = ("", "", "RAW")
                return wp_id
        return self._workpiece_id()

    def _put_into_stock(self, colour: str, wp: str) -> None:
        for location in LOCATIONS:
            if not self.stock.get(location, ("", "", ""))[0]:
                self.stock[location] = (wp, colour, "RAW")
                return

    def _order_script(self, kind: str, colour: str) -> Iterator[Msg]:
        request = {
            "type": colour,
            "timestamp": self.ts,
            "orderType": kind,
            "requestId": f"OSF-UI_{self._uuid()}",
        }
        yield "ccu/order/request", _dumps(request), False
        wp = self._workpiece_id() if kind == "STORAGE" else self._take_from_stock(colour)
        order: dict[str, object] = {
            "orderType": kind,
            "type": colour,
            "timestamp": self.ts,
            "orderId": self._uuid(),
            "productionSteps": self._steps(kind, colour),
            "receivedAt": self.ts,
            "state": "IN_PROGRESS",
            "workpieceId": wp,
            "requestId": request["requestId"],
            "startedAt": self.ts,
        }
        yield "ccu/order/response", _dumps(order), False
        self.active = [order]
        yield self.txt_order("ORDERED")
        yield self._active_message()
        if kind == "PRODUCTION":
            yield self.stock_message()
        steps = order["productionSteps"]
        assert isinstance(steps, list)
        for step in steps:
            step["state"] = "IN_PROGRESS"
            step["startedAt"] = self.ts
            yield self._active_message()
            if step["type"] == "NAVIGATION":
                yield from self._navigate(order, str(step["target"]), colour)
            else:
                module, command = str(step["moduleType"]), str(step["command"])
                yield from self._manufacture(order, module, command, colour, wp)
                if module == "HBW":
                    if kind == "STORAGE":
                        self._put_into_stock(colour, wp)
                    yield self.stock_message()
                    yield self.txt_stock()
            step["state"] = "FINISHED"
            step["stoppedAt"] = self.ts
            yield self._active_message()
        order["state"] = "FINISHED"
        order["stoppedAt"] = self.ts
        self.active = []
        self.agv_order = ""
        yield self._active_message()
        self.completed = [order, *self.completed[:2]]  # the newest few, to keep sizes realistic
        yield self._completed_message()
        yield self.txt_order("SHIPPED" if kind == "PRODUCTION" else "WAITING_FOR_ORDER")

    def _charge_script(self) -> Iterator[Msg]:
        yield "ccu/set/charge", _dumps({"serialNumber": AGV, "charge": True}), False
        order: dict[str, object] = {"orderId": self._uuid()}
        yield from self._navigate(order, CHARGER, None)
        action = {"actionId": self._uuid(), "actionType": "startCharging", "metadata": {}}
        instant = {"serialNumber": AGV, "timestamp": self.ts, "actions": [action]}
        yield f"fts/v1/ff/{AGV}/instantAction", _dumps(instant), False
        self.charging = True
        self.agv_action = (str(action["actionId"]), "FINISHED", "startCharging")
        while self.battery < 95:
            self.battery += 6 + self.rng.random() * 4
            yield self.agv_state()
        yield "ccu/set/charge", _dumps({"serialNumber": AGV, "charge": False}), False
        action = {"actionId": self._uuid(), "actionType": "stopCharging", "metadata": {}}
        instant = {"serialNumber": AGV, "timestamp": self.ts, "actions": [action]}
        yield f"fts/v1/ff/{AGV}/instantAction", _dumps(instant), False
        self.charging = False
        self.agv_order = ""
        yield self.agv_state()


def _start_us(start: datetime | None) -> int:
    when = DEFAULT_START if start is None else start
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # a naive start is taken as UTC
    return (when - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def _session_name(path: Path) -> str:
    m = SESSION_NAME_RE.match(path.stem)
    return m.group("name") if m else path.stem


def generate_session(
    path: str | os.PathLike[str],
    *,
    messages: int,
    rate: float = 20.0,
    seed: int = 0,
    mix: str = "plant",
    start: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Writes a synthetic L5 session of exactly ``messages`` messages to ``path``.

    ``rate`` is the mean message rate (messages per second), ``mix`` one of ``MIXES``,
    ``start`` the time of the first message (default 2026-01-15T09:00:00Z; naive = UTC).
    ``progress(done, total)`` is called about every 1 % and at the end. Same arguments, same
    bytes. Returns the path written.
    """
    if mix not in MIXES:
        raise InvalidOptionError(f"unknown mix {mix!r} (expected one of {', '.join(MIXES)})")
    if isinstance(messages, bool) or not isinstance(messages, int) or messages < 0:
        raise InvalidOptionError(f"messages must be a non-negative integer, not {messages!r}")
    if not (isinstance(rate, int | float) and math.isfinite(rate) and rate > 0):
        raise InvalidOptionError(
            f"rate must be a positive number of messages per second, not {rate!r}"
        )
    out_path = Path(path)
    rng = random.Random(seed)
    plant = _Plant(rng, mix)
    start_us = _start_us(start)
    dump = min(len(plant.dump), messages)

    end_us = start_us
    for t_us in _timeline(seed, messages, rate, start_us, dump):  # a dry run for the header
        end_us = t_us
    header = {
        "_kind": "session_meta",
        "schema": 1,
        "sessionName": _session_name(out_path),
        "logFileName": out_path.name,
        "recordingStartedAt": _local_naive_ms(start_us),
        "recordingEndedAt": _local_naive_ms(end_us),
        "durationSec": round((end_us - start_us) / 1_000_000, 3),
        "recordingExclusionPreset": "none",
        "brokerHost": "127.0.0.1",
        "brokerPort": 1883,
        "sessionRecorderVersion": GENERATOR_VERSION,
        "ccuVersion": CCU_VERSION,
        "ccuVersionSource": "generated",
        "ccuOrdersDescription": (
            "storage order, then production orders RED, WHITE, BLUE in turn"
            if mix == "plant"
            else ""
        ),
        "ccuOrderOutcome": "ok",
        "note": "generated",
        "generator": {"seed": seed, "messages": messages, "rate": float(rate), "mix": mix},
    }

    clock = _Clock()
    step = max(1, messages // 100)
    reported = 0
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with out_path.open("wb", buffering=1 << 22) as out:
        out.write(json.dumps(header, separators=(",", ":")).encode() + b"\n")
        block: list[str] = []
        for i, t_us in enumerate(_timeline(seed, messages, rate, start_us, dump)):
            ts = clock.iso(t_us)
            plant.ts = ts
            plant.t_us = t_us
            topic, payload, retain = plant.next_message(i)
            block.append(
                f'{{"topic":"{topic}","payload":"{payload}","timestamp":"{ts}","qos":0,'
                f'"retain":{"true" if retain else "false"}}}\n'
            )
            if len(block) >= WRITE_BLOCK:
                out.write("".join(block).encode())
                block.clear()
            if progress is not None and (i + 1) % step == 0:
                reported = i + 1
                progress(reported, messages)
        out.write("".join(block).encode())
    if progress is not None and reported != messages:
        progress(messages, messages)
    return out_path
