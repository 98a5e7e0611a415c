"""The generator's scripts: the message stream of the simulated plant — the retained dump,
then background traffic interleaved with the pairing heartbeat and the order and charging
scripts (a storage order, then production orders RED/WHITE/BLUE flowing HBW → AGV →
DRILL/MILL → AIQS → DPS, module and AGV orders and states, stock and order-list updates).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from itertools import pairwise

from mqtt_replay.generate.catalogue import (
    AGV,
    CHARGER,
    FLOWS,
    LOCATIONS,
    MODULES,
    ORDER_CYCLE,
    ROUTE_VIA,
    WORK_COMMAND,
    Msg,
    _dumps,
)
from mqtt_replay.generate.messages import PlantMessages

PAIRING_PERIOD_US = 1_300_000
SCRIPT_SHARE = 0.12  # share of message slots given to the order/charging script (plant)


class Plant(PlantMessages):
    """The simulated factory running: :meth:`next_message` gives message ``i`` of the stream."""

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
