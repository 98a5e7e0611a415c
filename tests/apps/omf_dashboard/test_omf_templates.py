"""Message Generator templates: shapes the plant expects, and publishing to a real broker."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from itertools import count
from typing import Any

import pytest
from apps.omf_dashboard.client import DashboardClient
from apps.omf_dashboard.config import DashboardConfig
from apps.omf_dashboard.history import MessageFilter
from apps.omf_dashboard.templates import (
    TEMPLATES,
    TEMPLATES_BY_KEY,
    TemplateParams,
    iso_now,
    render,
)

NOW = datetime(2026, 4, 9, 6, 24, 36, 607000, tzinfo=UTC)
STAMP = "2026-04-09T06:24:36.607Z"


def rendered_variants() -> list[tuple[str, TemplateParams]]:
    """Every template with every command it offers."""
    cases: list[tuple[str, TemplateParams]] = []
    for template in TEMPLATES:
        for command in template.commands or ("",):
            cases.append((template.key, TemplateParams(command=command, colour="BLUE")))
    return cases


def test_iso_timestamp_format() -> None:
    assert iso_now(NOW) == STAMP


@pytest.mark.parametrize(("key", "params"), rendered_variants())
def test_every_template_renders_json_with_the_fields_the_plant_expects(
    key: str, params: TemplateParams
) -> None:
    ids = count(1)
    message = render(key, params, now=NOW, new_id=lambda: f"id-{next(ids)}")
    body = json.loads(json.dumps(message.payload))  # survives a JSON round trip
    assert isinstance(body, dict)
    assert message.qos in (0, 1, 2)
    if key == "factory-reset":
        assert message.topic == "ccu/set/reset"
        assert body == {"timestamp": STAMP, "withStorage": False}
    elif key.startswith("order-"):
        assert message.topic == "ccu/order/request"
        assert body == {"type": key[6:].upper(), "timestamp": STAMP, "orderType": "PRODUCTION"}
    elif key.startswith("charge-"):
        assert message.topic == "ccu/set/charge"
        assert body == {"serialNumber": "5iO4", "charge": key == "charge-start"}
    elif key == "agv-instant-action":
        assert message.topic == "fts/v1/ff/5iO4/instantAction"
        assert body["serialNumber"] == "5iO4"
        assert body["timestamp"] == STAMP
        (action,) = body["actions"]
        assert action["actionType"] == params.command
        assert action["actionId"] == "id-1"
    elif key == "module-order":
        assert message.topic == "module/v1/ff/SVR4H76449/order"
        assert {"timestamp", "serialNumber", "orderId", "orderUpdateId", "action"} <= set(body)
        assert isinstance(body["orderUpdateId"], int)
        assert body["action"]["command"] == params.command
        assert body["action"]["metadata"]["type"] == "BLUE"
    elif key == "module-instant-action":
        assert message.topic == "module/v1/ff/SVR4H76449/instantAction"
        (action,) = body["actions"]
        assert action["actionType"] == params.command
        assert body["serialNumber"] == "SVR4H76449"
    else:
        assert key == "free"
        assert (message.topic, body) == ("", {})


def test_template_parameters_are_validated() -> None:
    with pytest.raises(ValueError, match="unknown command"):
        render("module-order", TemplateParams(command="EXPLODE"))
    with pytest.raises(ValueError, match="colour"):
        render("module-order", TemplateParams(colour="GREEN"))
    with pytest.raises(KeyError):
        render("no-such-template")
    assert TEMPLATES_BY_KEY["module-order"].commands[0] == "PICK"


@pytest.mark.broker
def test_every_template_reaches_a_subscriber_and_is_recorded_as_sent(
    broker: Any, mqtt_sink: Any
) -> None:
    client = DashboardClient(DashboardConfig(broker_url=broker.url))
    client.start()
    try:
        assert client.wait_connected(10)
        cases = [(k, p) for k, p in rendered_variants() if k != "free"]
        for key, params in cases:
            message = render(key, params)
            outcome = client.publish(
                message.topic, json.dumps(message.payload), qos=message.qos, retain=False
            )
            assert outcome.ok, outcome.message
        assert mqtt_sink.wait_for(len(cases), timeout=10)
        seen = {topic: json.loads(payload) for _t, topic, payload, _r in mqtt_sink.snapshot()}
        assert seen["ccu/order/request"]["orderType"] == "PRODUCTION"
        assert seen["ccu/set/charge"] == {"serialNumber": "5iO4", "charge": False}
        assert seen["ccu/set/reset"]["withStorage"] is False
        assert "actions" in seen["fts/v1/ff/5iO4/instantAction"]
        commands = {"PICK", "DROP", "DRILL", "MILL", "CHECK_QUALITY"}
        assert seen["module/v1/ff/SVR4H76449/order"]["action"]["command"] in commands
        snap = client.snapshot()
        assert snap.sent == len(cases)
        sent = client.query_history(_sent_filter(), 1000)
        assert sent.matched == len(cases)
    finally:
        client.stop()


def _sent_filter() -> MessageFilter:
    return MessageFilter(direction="sent")
