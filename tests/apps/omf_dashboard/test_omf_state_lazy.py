"""The model's fast paths change nothing: lazy sensor readings, skipped repeats, reused orders.

The reference is the same model read after every single message (a snapshot folds whatever is
pending, so reading after each message is the message-by-message update), and the same
messages applied as decoded bodies (no repeat skipping). Fed with a generated plant session,
the real recordings and random message sequences, all three must agree — values, version
counters and the order of modules, AGVs and sensors.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from apps.omf_dashboard.entities import OrderParser, parse_orders
from apps.omf_dashboard.payloads import NOT_JSON, parse_payload
from apps.omf_dashboard.sensors import MAX_PENDING
from apps.omf_dashboard.state import FactoryState, StateSnapshot
from hypothesis import given, settings
from hypothesis import strategies as st
from omf_sessions import read_session

from apps.omf_dashboard import state as state_module
from mqtt_replay.generate import generate_session

Message = tuple[str, str]


def feed_lazy(messages: Sequence[Message]) -> StateSnapshot:
    state = FactoryState()
    for index, (topic, payload) in enumerate(messages):
        state.apply_text(topic, payload, float(index))
    return state.snapshot()


def feed_eager(messages: Sequence[Message]) -> StateSnapshot:
    state = FactoryState()
    for index, (topic, payload) in enumerate(messages):
        state.apply_text(topic, payload, float(index))
        state.snapshot()
    return state.snapshot()


def feed_bodies(messages: Sequence[Message]) -> StateSnapshot:
    state = FactoryState()
    for index, (topic, payload) in enumerate(messages):
        state.apply(topic, parse_payload(payload), float(index))
    return state.snapshot()


def assert_same(a: StateSnapshot, b: StateSnapshot) -> None:
    assert a == b
    for name in ("modules", "agvs", "arduino", "stock", "flows"):
        assert list(getattr(a, name)) == list(getattr(b, name)), name


def assert_all_feeds_agree(messages: Sequence[Message]) -> StateSnapshot:
    lazy = feed_lazy(messages)
    assert_same(lazy, feed_eager(messages))
    assert_same(lazy, feed_bodies(messages))
    return lazy


def test_a_generated_plant_session_gives_the_same_model(tmp_path: Path) -> None:
    path = generate_session(
        tmp_path / "lazy_20260115_090000.log", messages=6000, rate=1000, seed=7, mix="plant"
    )
    messages = [(m.topic, m.payload) for m in read_session(path)]
    snap = assert_all_feeds_agree(messages)
    # the session exercises every fast path
    topics = {topic for topic, _ in messages}
    assert any(t.startswith("osf/arduino/") and t.endswith("/state") for t in topics)
    assert {"/j1/txt/1/i/bme680", "/j1/txt/1/i/ldr", "ccu/order/active"} <= topics
    assert snap.arduino
    assert snap.environment is not None
    assert snap.versions["sensors"] > 0


SAMPLE_LOGS = (
    "storage_order_white_20251110_180844.log",
    "production-blue_20260303_090705.log",
    "white-storage-production_20260807_111716.log",
    "storage-production-ml-wrb_20260804_114227.log",
    "orbis-fulltopics-baseline_20260409_082701.log",
    "Start_20251110_175151.log",
    "ccu.log.zip",
)


@pytest.mark.parametrize("mix", ["plant", "small", "camera"])
def test_generated_sessions_give_the_same_model(tmp_path: Path, mix: str) -> None:
    from mqtt_replay.generate import generate_session

    path = generate_session(tmp_path / f"{mix}.log", messages=3000, seed=9, mix=mix)
    assert_all_feeds_agree([(m.topic, m.payload) for m in read_session(path)])


@pytest.mark.samples
@pytest.mark.parametrize("name", SAMPLE_LOGS)
def test_sample_sessions_give_the_same_model(sample: Callable[[str], Path], name: str) -> None:
    messages = [(m.topic, m.payload) for m in read_session(sample(name))]
    assert_all_feeds_agree(messages)


# ---------------------------------------------------------------------- sensors
ARDUINO = "osf/arduino/gas/mq2-1"


def test_arduino_state_without_values_keeps_the_last_reading() -> None:
    state = FactoryState()
    state.apply_text(f"{ARDUINO}/state", '{"timestamp": "t1", "rawValue": 600}', 1.0)
    state.apply_text(f"{ARDUINO}/state", '{"timestamp": "t2"}', 2.0)  # nothing to show
    state.apply_text(f"{ARDUINO}/state", '{"nested": {"a": 1}}', 3.0)  # nor here
    reading = state.snapshot().arduino["gas/mq2-1"]
    assert (reading.values, reading.updated_at) == ((("rawValue", 600.0),), 1.0)
    assert state.versions["sensors"] == 1


def test_arduino_connection_comes_after_the_pending_states() -> None:
    state = FactoryState()
    state.apply_text("osf/arduino/flame/f-1/state", '{"flame": true}', 1.0)
    state.apply_text(f"{ARDUINO}/state", '{"rawValue": 1}', 2.0)
    state.apply_text(f"{ARDUINO}/connection", '{"connectionState": "online"}', 3.0)
    state.apply_text(f"{ARDUINO}/state", '{"rawValue": 2}', 4.0)
    arduino = state.snapshot().arduino
    assert list(arduino) == ["flame/f-1", "gas/mq2-1"]  # first reading first
    gas = arduino["gas/mq2-1"]
    assert (gas.values, gas.connection_state, gas.updated_at) == (
        (("rawValue", 2.0),),
        "ONLINE",
        4.0,
    )


def test_environment_takes_the_newest_number_of_each_field() -> None:
    state = FactoryState()
    state.apply_text("/j1/txt/1/i/bme680", '{"t": 20, "h": 40, "p": 990, "iaq": 50}', 1.0)
    state.apply_text("/j1/txt/1/i/bme680", '{"t": 21, "h": "n/a"}', 2.0)  # partial reading
    state.apply_text("/j1/txt/1/i/ldr", '{"br": 80}', 3.0)
    state.apply_text("/j1/txt/1/i/bme680", "[1, 2]", 4.0)  # not an object: ignored
    env = state.environment
    assert env is not None
    assert (env.temperature, env.humidity, env.pressure, env.iaq) == (21.0, 40.0, 990.0, 50.0)
    assert (env.brightness, env.ldr_raw, env.updated_at) == (80.0, None, 3.0)
    assert state.versions["sensors"] == 3


def test_many_unread_environment_readings_are_folded_on_the_way() -> None:
    messages = [("/j1/txt/1/i/bme680", json.dumps({"t": i})) for i in range(3 * MAX_PENDING + 5)]
    messages.insert(7, ("/j1/txt/1/i/bme680", '{"iaq": 42}'))
    snap = assert_all_feeds_agree(messages)
    assert snap.environment is not None
    assert (snap.environment.temperature, snap.environment.iaq) == (3 * MAX_PENDING + 4, 42.0)


# ---------------------------------------------------------------------- repeated texts
def count_parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    parsed: list[str] = []

    def counting(text: str) -> object:
        parsed.append(text)
        return parse_payload(text)

    monkeypatch.setattr(state_module, "parse_payload", counting)
    return parsed


def test_repeated_stock_and_order_texts_are_not_parsed_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parsed = count_parses(monkeypatch)
    state = FactoryState()
    stock = '{"stockItems": [{"location": "A1", "workpiece": {"type": "RED", "id": "w1"}}]}'
    done = '[{"orderId": "o1", "type": "RED", "state": "FINISHED"}]'
    for at in range(3):
        assert state.apply_text("ccu/state/stock", stock, float(at)) is not NOT_JSON
        state.apply_text("ccu/order/completed", done, float(at))
    assert len(parsed) == 2
    assert (state.messages, state.versions["stock"], state.versions["orders"]) == (6, 1, 1)
    assert state.stock["A1"].workpiece_type == "RED"
    state.apply_text("ccu/state/stock", "not json", 4.0)  # non-JSON is counted every time
    state.apply_text("ccu/state/stock", "not json", 5.0)
    assert state.non_json == 2


def test_a_repeated_active_list_replaces_a_confirmed_order_again() -> None:
    state = FactoryState()
    active = '[{"orderId": "o1", "type": "RED", "state": "IN_PROGRESS"}]'
    state.apply_text("ccu/order/active", active, 1.0)
    state.apply_text("ccu/order/response", '{"orderId": "o2", "type": "BLUE"}', 2.0)
    assert [o.order_id for o in state.active_orders] == ["o1", "o2"]
    state.apply_text("ccu/order/active", active, 3.0)  # same text: o2 is gone again
    assert [o.order_id for o in state.active_orders] == ["o1"]
    assert state.versions["orders"] == 3


def test_applying_a_body_forgets_the_last_text() -> None:
    state = FactoryState()
    one = '{"stockItems": [{"location": "A1", "workpiece": {"type": "RED"}}]}'
    state.apply_text("ccu/state/stock", one, 1.0)
    state.apply("ccu/state/stock", {"stockItems": []}, 2.0)
    state.apply_text("ccu/state/stock", one, 3.0)
    assert state.stock["A1"].workpiece_type == "RED"
    assert state.versions["stock"] == 3


# ---------------------------------------------------------------------- orders
def order_json(state: object, step_state: object = "FINISHED") -> dict[str, object]:
    return {
        "orderId": "o1",
        "type": "WHITE",
        "state": state,
        "productionSteps": [
            {"id": "s1", "type": "NAVIGATION", "state": step_state, "source": "HBW"},
            {"id": "s2", "type": "MANUFACTURE", "state": "ENQUEUED", "command": "DRILL"},
        ],
    }


def test_order_parser_reuses_what_did_not_change() -> None:
    parser = OrderParser()
    first = parser.parse([order_json("IN_PROGRESS"), {"orderId": "o2", "type": "RED"}])
    again = parser.parse([order_json("IN_PROGRESS"), {"orderId": "o2", "type": "RED"}])
    assert first is not None
    assert again is not None
    assert again == first
    assert again[0] is first[0]  # unchanged orders are reused
    moved = parser.parse([order_json("IN_PROGRESS", step_state="RUNNING")])
    assert moved is not None
    assert moved[0].steps[0].state == "RUNNING"
    assert moved[0].steps[1] is first[0].steps[1]  # and so are unchanged steps


@pytest.mark.parametrize("drift", [1, 1.0, True])
def test_order_parser_never_confuses_numbers_that_compare_equal(drift: object) -> None:
    parser = OrderParser()
    for value in (1, 1.0, True, drift, "1", drift):
        body = [order_json(value, step_state=value)]
        assert parser.parse(body) == parse_orders(body)


def test_order_parser_is_total() -> None:
    parser = OrderParser()
    deep: object = "x"
    for _ in range(2000):
        deep = [deep]
    for body in (None, {}, [None, 1, "x"], [{"orderId": "o", "productionSteps": deep}]):
        assert parser.parse(body) == parse_orders(body)


# ---------------------------------------------------------------------- payload parsing
@pytest.mark.parametrize(
    "text",
    ["{}", " {}", "{} ", "\ufeff{}", "[1] x", "[1]\n", "1", "NaN", "-Infinity", '"a"', "nul", ""],
)
def test_parse_payload_accepts_exactly_what_json_loads_accepts(text: str) -> None:
    try:
        expected: object = json.loads(text)
    except ValueError:
        expected = NOT_JSON
    got = parse_payload(text)
    assert got == expected or (got != got and expected != expected)  # NaN


# ---------------------------------------------------------------------- random sequences
LAZY_TOPICS = (
    "/j1/txt/1/i/bme680",
    "/j1/txt/1/i/ldr",
    f"{ARDUINO}/state",
    f"{ARDUINO}/connection",
    "osf/arduino/vibration/sw420-1/state",
    "ccu/state/stock",
    "ccu/order/active",
    "ccu/order/completed",
    "ccu/order/response",
)
FIELDS = ("t", "h", "p", "iaq", "br", "ldr", "timestamp", "orderId", "state", "stockItems")
values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.floats(-5, 5) | st.sampled_from(["1", "x"]),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(FIELDS), children, max_size=4)
    ),
    max_leaves=8,
)
texts = values.map(json.dumps) | st.sampled_from(["", "not json", "[]", "{}"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(LAZY_TOPICS), texts), max_size=30), st.data())
def test_random_sequences_give_the_same_model(messages: list[Message], data: st.DataObject) -> None:
    repeats = data.draw(st.lists(st.integers(0, max(len(messages) - 1, 0)), max_size=10))
    for index in sorted(repeats, reverse=True):  # the same text again, right after
        if messages:
            messages.insert(index + 1, messages[index])
    assert_all_feeds_agree(messages)
