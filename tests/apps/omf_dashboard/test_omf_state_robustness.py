"""FactoryState against what real payloads do wrong, with synthetic messages and hypothesis."""

from __future__ import annotations

import json

from apps.omf_dashboard.payloads import NOT_JSON, as_enum, as_int, parse_payload
from apps.omf_dashboard.state import SECTIONS, FactoryState
from hypothesis import given, settings
from hypothesis import strategies as st

DPS = "SVR4H73275"


def apply(state: FactoryState, topic: str, body: object, at: float = 1.0) -> None:
    state.apply_text(topic, json.dumps(body), at)


def test_unknown_fields_and_topics_are_ignored() -> None:
    state = FactoryState()
    apply(
        state,
        f"module/v1/ff/{DPS}/state",
        {"actionState": {"command": "PICK", "state": "RUNNING", "newField": [1, 2]}, "x": {}},
    )
    state.apply_text("some/unknown/topic", "{}", 2.0)
    assert state.modules[DPS].action is not None
    assert state.modules[DPS].action.label == "PICK · RUNNING"
    assert state.messages == 2


def test_order_update_id_as_int_or_string() -> None:
    state = FactoryState()
    apply(state, f"module/v1/ff/{DPS}/state", {"orderUpdateId": "7"})
    assert state.modules[DPS].order_update_id == 7
    apply(state, f"module/v1/ff/{DPS}/state", {"orderUpdateId": 8})
    assert state.modules[DPS].order_update_id == 8
    apply(state, f"module/v1/ff/{DPS}/state", {"orderUpdateId": "n/a"})
    assert state.modules[DPS].order_update_id is None


def test_empty_error_objects_and_enum_typos() -> None:
    state = FactoryState()
    apply(
        state,
        f"module/v1/ff/NodeRed/{DPS}/state",
        {"errors": [{}], "actionState": {"command": "DROP", "state": "WAITIING"}},
    )
    module = state.modules[DPS]
    assert module.errors == ("unspecified error",)
    assert module.action is not None
    assert module.action.state == "WAITING"
    assert as_enum("waitiing") == "WAITING"


def test_non_json_and_empty_payloads_are_counted_not_applied() -> None:
    state = FactoryState()
    before = state.snapshot()
    state.apply_text("ccu/state/stock", b"\xff\xfe not json", 1.0)
    state.apply_text("ccu/order/active", "", 2.0)
    after = state.snapshot()
    assert (after.messages, after.non_json) == (2, 2)
    assert after.versions == before.versions
    assert parse_payload("NaN") != NOT_JSON  # Python's json accepts it; the state ignores it


def test_stale_payload_clock_does_not_matter() -> None:
    state = FactoryState()
    apply(
        state,
        "fts/v1/ff/5iO4/state",
        {"timestamp": "2020-01-01T00:00:00Z", "batteryState": {"percentage": 50}},
        at=1_800_000_000.0,
    )
    assert state.agvs["5iO4"].updated_at == 1_800_000_000.0


def test_pairing_does_not_override_the_agvs_own_report() -> None:
    state = FactoryState()
    pairing = {"transports": [{"serialNumber": "5iO4", "batteryPercentage": 90, "lastNodeId": "1"}]}
    apply(state, "ccu/pairing/state", pairing)
    assert state.agvs["5iO4"].battery_percent == 90.0  # only source so far
    apply(state, "fts/v1/ff/5iO4/state", {"batteryState": {"percentage": 40}, "lastNodeId": "2"})
    apply(state, "ccu/pairing/state", pairing)
    agv = state.agvs["5iO4"]
    assert (agv.battery_percent, agv.last_node_id) == (40.0, "2")


def test_camera_only_accepts_image_data_uris() -> None:
    state = FactoryState()
    apply(state, "/j1/txt/1/i/cam", {"data": "javascript:alert(1)"})
    assert state.camera is None
    apply(state, "/j1/txt/1/i/cam", {"data": "data:image/png;base64,AAAA", "ts": "t"})
    assert state.camera is not None
    assert state.camera.data_uri == "data:image/png;base64,AAAA"


def test_versions_grow_only_for_changed_sections() -> None:
    state = FactoryState()
    apply(state, "ccu/state/stock", {"stockItems": []})
    assert state.versions["stock"] == 1
    apply(state, "ccu/state/stock", {"stockItems": []})  # same content: no redraw needed
    assert state.versions["stock"] == 1
    apply(state, "ccu/order/active", [])
    assert state.versions["orders"] == 0  # still no orders
    assert {k for k, v in state.versions.items() if v} == {"stock"}


def test_readers_are_total() -> None:
    assert as_int(True) is None
    assert as_int("-3") == -3
    assert as_enum(None) is None


KEYS = (
    "modules",
    "transports",
    "stockItems",
    "actionState",
    "actionStates",
    "errors",
    "batteryState",
    "orderId",
    "productionSteps",
    "state",
    "type",
    "data",
    "load",
    "serialNumber",
    "connectionState",
    "location",
    "workpiece",
    "steps",
    "t",
    "h",
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS), children, max_size=5)
    ),
    max_leaves=20,
)
topics = st.sampled_from(
    [
        "ccu/pairing/state",
        "ccu/state/stock",
        "ccu/state/layout",
        "ccu/state/flows",
        "ccu/order/active",
        "ccu/order/completed",
        "ccu/order/response",
        f"module/v1/ff/{DPS}/state",
        f"module/v1/ff/{DPS}/connection",
        f"module/v1/ff/{DPS}/factsheet",
        f"module/v1/ff/NodeRed/{DPS}/state",
        "module/v1/ff/NodeRed/status",
        "fts/v1/ff/5iO4/state",
        "fts/v1/ff/5iO4/connection",
        "/j1/txt/1/i/bme680",
        "/j1/txt/1/i/ldr",
        "/j1/txt/1/i/cam",
        "/j1/txt/1/i/quality_check",
        "osf/arduino/gas/mq2-1/state",
        "osf/arduino/gas/mq2-1/connection",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(topics, json_values), max_size=12))
def test_any_json_on_any_known_topic_never_raises(messages: list[tuple[str, object]]) -> None:
    state = FactoryState()
    for index, (topic, body) in enumerate(messages):
        state.apply(topic, body, float(index))
    snap = state.snapshot()
    assert snap.messages == len(messages)
    assert set(snap.versions) == set(SECTIONS)
    assert all(loc in snap.stock for loc in ("A1", "C3"))
