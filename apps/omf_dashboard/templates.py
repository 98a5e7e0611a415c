"""Message Generator templates: commands a dashboard sends to the plant (SPEC §4 shapes).

A template is rendered with parameters (module/AGV serial, colour, command) into an
:class:`OutgoingMessage` whose payload is a JSON-ready dict with a fresh ISO timestamp (UTC,
milliseconds, ``Z``) and fresh ids. The UI shows the rendered JSON for editing before sending.
Rendering is pure given ``now`` and ``new_id``; nothing here touches the network.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from apps.omf_dashboard.topics import KNOWN_AGV_SERIALS, KNOWN_MODULE_SERIALS, SERIAL_OF_TYPE

COLOURS: tuple[str, ...] = ("RED", "WHITE", "BLUE")
MODULE_COMMANDS: tuple[str, ...] = ("PICK", "DROP", "DRILL", "MILL", "CHECK_QUALITY")
MODULE_ACTIONS: tuple[str, ...] = ("reset", "factsheetRequest", "setStatusLED", "announceOutput")
AGV_ACTIONS: tuple[str, ...] = (
    "findInitialDockPosition",
    "reset",
    "factsheetRequest",
    "stopCharging",
    "clearLoadHandler",
)
DEFAULT_AGV = KNOWN_AGV_SERIALS[0]
DEFAULT_DPS = SERIAL_OF_TYPE["DPS"]
DEFAULT_MODULE = SERIAL_OF_TYPE["DRILL"]


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """A rendered command: topic, JSON payload, QoS and retain flag."""

    topic: str
    payload: dict[str, object]
    qos: int = 1
    retain: bool = False


@dataclass(frozen=True, slots=True)
class TemplateParams:
    """Parameters a template may use; each template reads only the ones it declares."""

    module: str = DEFAULT_MODULE
    agv: str = DEFAULT_AGV
    colour: str = "WHITE"
    command: str = ""


@dataclass(frozen=True, slots=True)
class Template:
    """A named command shape. ``params`` lists the UI inputs it needs; ``commands`` the choices."""

    key: str
    label: str
    group: str
    params: frozenset[str] = field(default_factory=frozenset)
    commands: tuple[str, ...] = ()


def iso_now(now: datetime) -> str:
    """``2026-04-09T06:24:36.607Z``: UTC, milliseconds, ``Z`` – the CCU's own format."""
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


TEMPLATES: tuple[Template, ...] = (
    Template("factory-reset", "Factory reset", "CCU"),
    Template("order-red", "Customer order RED", "Orders"),
    Template("order-white", "Customer order WHITE", "Orders"),
    Template("order-blue", "Customer order BLUE", "Orders"),
    Template("charge-start", "Charge start", "AGV", frozenset({"agv"})),
    Template("charge-stop", "Charge stop", "AGV", frozenset({"agv"})),
    Template(
        "agv-instant-action",
        "AGV instant action",
        "AGV",
        frozenset({"agv", "command"}),
        AGV_ACTIONS,
    ),
    Template(
        "module-order",
        "Module order (command)",
        "Module",
        frozenset({"module", "command", "colour"}),
        MODULE_COMMANDS,
    ),
    Template(
        "module-instant-action",
        "Module instant action",
        "Module",
        frozenset({"module", "command", "colour"}),
        MODULE_ACTIONS,
    ),
    Template("free", "Free topic and payload", "Free"),
)
TEMPLATES_BY_KEY: Mapping[str, Template] = {t.key: t for t in TEMPLATES}


def _uuid() -> str:
    return str(uuid.uuid4())


def render(
    key: str,
    params: TemplateParams | None = None,
    *,
    now: datetime | None = None,
    new_id: Callable[[], str] = _uuid,
) -> OutgoingMessage:
    """Render template ``key``; KeyError for an unknown key, ValueError for a bad parameter."""
    template = TEMPLATES_BY_KEY[key]
    p = params or TemplateParams()
    stamp = iso_now(now or datetime.now(UTC))
    command = p.command or (template.commands[0] if template.commands else "")
    if template.commands and command not in template.commands:
        raise ValueError(f"{template.label}: unknown command {command!r}")
    if "colour" in template.params and p.colour not in COLOURS:
        raise ValueError(f"colour must be one of {COLOURS}, got {p.colour!r}")

    if key == "factory-reset":
        return OutgoingMessage("ccu/set/reset", {"timestamp": stamp, "withStorage": False})
    if key.startswith("order-"):
        colour = key.removeprefix("order-").upper()
        payload: dict[str, object] = {"type": colour, "timestamp": stamp, "orderType": "PRODUCTION"}
        return OutgoingMessage("ccu/order/request", payload)
    if key in {"charge-start", "charge-stop"}:
        return OutgoingMessage(
            "ccu/set/charge", {"serialNumber": p.agv, "charge": key == "charge-start"}
        )
    if key == "agv-instant-action":
        action: dict[str, object] = {"actionId": new_id(), "actionType": command}
        if command == "findInitialDockPosition":
            action["metadata"] = {"nodeId": DEFAULT_DPS}
        elif command == "clearLoadHandler":
            action["metadata"] = {"loadDropped": False}
        return OutgoingMessage(
            f"fts/v1/ff/{p.agv}/instantAction",
            {"timestamp": stamp, "serialNumber": p.agv, "actions": [action]},
        )
    if key == "module-order":
        metadata: dict[str, object] = {"type": p.colour}
        if command in {"DRILL", "MILL"}:
            metadata["duration"] = 5
        return OutgoingMessage(
            f"module/v1/ff/{p.module}/order",
            {
                "timestamp": stamp,
                "serialNumber": p.module,
                "orderId": new_id(),
                "orderUpdateId": 1,
                "action": {"id": new_id(), "command": command, "metadata": metadata},
            },
        )
    if key == "module-instant-action":
        module_action: dict[str, object] = {"actionId": new_id(), "actionType": command}
        if command == "setStatusLED":
            module_action["metadata"] = {"green": True, "red": False, "yellow": False}
        elif command == "announceOutput":
            module_action["metadata"] = {"orderId": new_id(), "type": p.colour}
        return OutgoingMessage(
            f"module/v1/ff/{p.module}/instantAction",
            {"serialNumber": p.module, "timestamp": stamp, "actions": [module_action]},
        )
    # "free": a starting point the user overwrites.
    return OutgoingMessage("", {}, qos=0)


def default_module_serials() -> dict[str, str]:
    """Serial → module type of the reference plant, for the generator's dropdown."""
    return dict(KNOWN_MODULE_SERIALS)
