"""FactoryState fed with the real sample sessions, checked against facts read from the raw files.

Every expected value was read by hand from the raw NDJSON/SQLite (line numbers in comments are
lines of the file): the last ``ccu/state/stock``, the last order lists, the last AGV and module
``state`` messages, the last sensor readings.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from apps.omf_dashboard.entities import Order
from apps.omf_dashboard.state import FactoryState
from omf_sessions import read_session

pytestmark = pytest.mark.samples

Sample = Callable[[str], Path]


def feed(path: Path, upto: int | None = None) -> FactoryState:
    """Apply the first ``upto`` messages (all by default); receive time = message index."""
    state = FactoryState()
    for index, message in enumerate(read_session(path)[:upto]):
        state.apply_text(message.topic, message.payload, float(index))
    return state


def occupied(state: FactoryState) -> dict[str, tuple[str | None, str | None]]:
    return {
        loc: (slot.workpiece_type, slot.workpiece_id)
        for loc, slot in state.stock.items()
        if slot.occupied
    }


def summary(seq: Sequence[Order]) -> list[tuple[str | None, str | None, str | None, int, int]]:
    return [(o.order_type, o.colour, o.state, o.steps_done, len(o.steps)) for o in seq]


def action_of(state: FactoryState, serial: str) -> tuple[str | None, str | None, str | None]:
    action = state.modules[serial].action
    assert action is not None
    return action.command, action.state, action.result


def test_storage_order_white_stores_the_white_workpiece_in_a1(sample: Sample) -> None:
    state = feed(sample("storage_order_white_20251110_180844.log"))
    assert state.messages == 552
    assert state.non_json == 0
    # line 419: the storage order put WHITE 04798eca341290 into A1
    assert occupied(state) == {
        "A1": ("WHITE", "04798eca341290"),
        "A3": ("BLUE", "048989ca341290"),
        "B2": ("RED", "040a8dca341291"),
        "C1": ("BLUE", "047389ca341291"),
    }
    # line 420/425: five completed orders, the storage order last, nothing active
    assert len(state.completed_orders) == 5
    assert summary(state.completed_orders[-1:]) == [("STORAGE", "WHITE", "FINISHED", 4, 4)]
    assert state.active_orders == ()
    # line 424: AGV back at the HBW with 107 % (the plant reports > 100 %) and 9.2 V
    agv = state.agvs["5iO4"]
    assert (agv.battery_percent, agv.battery_voltage, agv.last_node_id) == (
        107.0,
        9.2,
        "SVR3QA0022",
    )
    assert agv.loads == ()
    assert agv.action is not None
    assert (agv.action.command, agv.action.state) == ("DOCK", "FINISHED")
    # line 412: the HBW's last action was the PICK of the white workpiece
    assert action_of(state, "SVR3QA0022") == ("PICK", "FINISHED", None)
    types = {m.module_type for m in state.modules.values()}
    assert types == {"HBW", "DRILL", "MILL", "AIQS", "DPS", "CHRG"}
    # line 502 (bme680) and 471 (ldr)
    env = state.environment
    assert env is not None
    assert (env.temperature, env.humidity, env.pressure, env.brightness) == (
        21.9,
        37.0,
        989.8,
        90.5,
    )
    assert state.camera is not None
    assert state.camera.reported_at == "2025-11-10T17:08:43.648Z"  # line 552


def test_storage_order_white_stock_before_the_order(sample: Sample) -> None:
    # The 5th message (line 5) is the first stock report: A1 still empty.
    state = feed(sample("storage_order_white_20251110_180844.log"), upto=5)
    assert "A1" not in occupied(state)
    assert occupied(state)["B2"] == ("RED", "040a8dca341291")


def test_production_blue_finishes_with_quality_pass(sample: Sample) -> None:
    state = feed(sample("production-blue_20260303_090705.log"))
    assert state.messages == 1065
    assert occupied(state) == {
        "B1": ("WHITE", "04798eca341290"),
        "B2": ("RED", "04d78cca341290"),
    }  # line 277
    assert state.active_orders == ()  # line 991
    assert summary(state.completed_orders) == [("PRODUCTION", "BLUE", "FINISHED", 16, 16)]
    assert action_of(state, "SVR4H73275") == ("PICK", "FINISHED", "PASSED")  # DPS, line 983
    assert action_of(state, "SVR4H76449") == ("DROP", "FINISHED", None)  # DRILL, line 476
    agv = state.agvs["5iO4"]
    assert (agv.battery_percent, agv.battery_voltage, agv.last_node_id) == (84.0, 8.9, "SVR4H73275")
    assert state.quality is not None  # line 808
    assert (state.quality.result, state.quality.classification) == ("PASSED", "BOHOMIPO2")
    assert state.camera is not None
    assert state.camera.data_uri.startswith("data:image/jpeg;base64,")
    assert state.camera.reported_at == "2026-03-03T08:07:04.753Z"  # line 1065
    assert state.flows["BLUE"] == ("DRILL", "MILL", "AIQS")


def test_white_storage_production_tolerates_typos_and_empty_errors(sample: Sample) -> None:
    path = sample("white-storage-production_20260807_111716.log")
    # line 6 (5th message): DPS state with errors:[{}] and actionState null; the null keeps
    # the last known action (INPUT_RGB FINISHED, line 2)
    early = feed(path, upto=5)
    dps = early.modules["SVR4H73275"]
    assert dps.errors == ("unspecified error",)
    assert action_of(early, "SVR4H73275") == ("INPUT_RGB", "FINISHED", None)
    assert dps.order_id is None  # "0" means no order
    # line 10 (9th message): actionState RGB_NFC in state "WAITIING" – read as WAITING
    later = feed(path, upto=9)
    assert action_of(later, "SVR4H73275") == ("RGB_NFC", "WAITING", None)
    assert later.modules["SVR4H73275"].errors == ()

    state = feed(path)
    assert state.messages == 1483
    assert occupied(state) == {}  # line 711: every slot empty
    assert len(state.completed_orders) == 16  # line 1414
    assert summary(state.completed_orders[-3:]) == [
        ("PRODUCTION", "BLUE", "ERROR", 12, 16),
        ("STORAGE", "WHITE", "FINISHED", 4, 4),
        ("PRODUCTION", "WHITE", "FINISHED", 12, 12),
    ]
    assert state.agvs["5iO4"].battery_percent == 52.0  # line 1419
    assert action_of(state, "SVR4H73275") == ("PICK", "FINISHED", "PASSED")  # line 1409
    # Arduino readings with a payload clock two days behind (line 1484): kept as values
    dht = dict(state.arduino["temperature/dht11-1"].values)
    assert (dht["temperature"], dht["humidity"]) == (23.8, 38.9)
    assert set(state.arduino) == {
        "flame/flame-1",
        "gas/mq2-1",
        "temperature/dht11-1",
        "vibration/mpu6050-1",
        "vibration/sw420-1",
    }


def test_storage_production_multi_order_flow(sample: Sample) -> None:
    path = sample("storage-production-ml-wrb_20260804_114227.log")
    # after message 1057 (line 1058): the three storage orders are done and stored
    stored = feed(path, upto=1057)
    assert {loc: t for loc, (t, _id) in occupied(stored).items()} == {
        "A1": "BLUE",
        "B1": "WHITE",
        "C1": "RED",
    }
    assert summary(stored.completed_orders) == [
        ("STORAGE", "BLUE", "FINISHED", 4, 4),
        ("STORAGE", "WHITE", "FINISHED", 4, 4),
        ("STORAGE", "RED", "FINISHED", 4, 4),
    ]

    state = feed(path)
    assert state.messages == 1950  # the header line is not a message
    assert occupied(state) == {}  # line 1784: all three taken out again
    assert summary(state.active_orders) == [  # line 1901
        ("PRODUCTION", "WHITE", "IN_PROGRESS", 3, 12),
        ("PRODUCTION", "RED", "IN_PROGRESS", 2, 12),
        ("PRODUCTION", "BLUE", "IN_PROGRESS", 2, 16),
    ]
    current = state.active_orders[0].current_step
    assert current is not None
    assert current.label == "PICK @ DRILL"
    assert action_of(state, "SVR4H76449") == ("PICK", "RUNNING", None)  # line 1902
    # line 1894: the AGV's own state (36 %, at the DRILL, three loads) outranks the later,
    # stale pairing copy at line 1934 (52 %, at the DPS)
    agv = state.agvs["5iO4"]
    assert (agv.battery_percent, agv.battery_voltage) == (36.0, 8.3)
    assert agv.last_node_id == "SVR4H76449"
    assert agv.loads == ("WHITE (pos 1)", "RED (pos 2)", "BLUE (pos 3)")
    assert state.camera is None  # recorded with the no_cam preset


def test_orbis_baseline_two_agvs_and_failed_quality(sample: Sample) -> None:
    state = feed(sample("orbis-fulltopics-baseline_20260409_082701.log"))
    assert state.messages == 1374
    assert state.non_json == 0  # the bare `true` on osf/arduino/alarm/enabled is JSON
    assert summary(state.completed_orders) == [("PRODUCTION", "RED", "ERROR", 8, 12)]
    assert action_of(state, "SVR4H76530") == ("CHECK_QUALITY", "FINISHED", "FAILED")
    assert state.quality is not None
    assert (state.quality.result, state.quality.classification) == ("FAILED", "CRACK")
    le = state.agvs["leJ4"]
    assert (le.battery_percent, le.last_node_id, le.available) == (92.0, "SVR4H76530", "BUSY")
    old = state.agvs["5iO4"]
    assert (old.battery_percent, old.last_node_id, old.available) == (0.0, "UNKNOWN", "BLOCKED")
    assert occupied(state) == {
        "A2": ("BLUE", "048989ca341290"),
        "B1": ("RED", "04d78cca341290"),
        "C1": ("WHITE", "04798eca341290"),
    }
    gas = dict(state.arduino["gas/mq2-1"].values)
    assert (gas["gasDetected"], gas["rawValue"]) == (True, 624.0)  # line 1373
    env = state.environment
    assert env is not None
    assert (env.temperature, env.iaq) == (25.2, 44.0)  # line 1370


def test_start_session_with_type_drift_and_old_clocks(sample: Sample) -> None:
    path = sample("Start_20251110_175151.log")
    # line 23: MILL state with orderUpdateId "0" (a string) and orderId "0"
    early = feed(path, upto=23)
    mill = early.modules["SVR3QA2098"]
    assert mill.order_update_id == 0
    assert mill.action is not None
    assert mill.action.command == "factsheetRequest"

    state = feed(path)
    assert state.messages == 3378
    assert all(m.available == "READY" and m.connected for m in state.modules.values())
    assert len(state.modules) == 6
    assert len(occupied(state)) == 7  # line 3071
    assert occupied(state)["C2"] == ("WHITE", "047b8bca341291")
    assert state.agvs["5iO4"].battery_percent == 155.0  # line 3362, as reported
    assert state.completed_orders == ()  # line 2900: `[]`


def test_default_session_keeps_module_errors(sample: Sample) -> None:
    state = feed(sample("default_test_session.log"))
    assert state.messages == 206
    mill = state.modules["SVR3QA2098"]
    assert mill.available == "BLOCKED"  # pairing, line 177
    assert mill.errors[0] == "PICK_failed FATAL PICK failed"  # line 45
    assert action_of(state, "SVR3QA2098") == ("PICK", "FAILED", None)
    assert state.modules["SVR3QA0022"].errors == ("Validation WARNING Module is not IDLE",)
    assert len(state.completed_orders) == 11  # line 30


def test_sqlite_copies_give_the_same_state_as_their_logs(sample: Sample) -> None:
    from_log = feed(sample("storage_order_white_20251110_180844.log")).snapshot()
    from_db = feed(sample("storage_order_white_20251110_180844.db")).snapshot()
    assert from_db == from_log
    # default_test_session.db lacks the log's last line (a camera frame)
    log_state = feed(sample("default_test_session.log"))
    db_state = feed(sample("default_test_session.db"))
    assert db_state.messages == log_state.messages - 1 == 205
    assert db_state.completed_orders == log_state.completed_orders
    assert db_state.camera is not None
    assert log_state.camera is not None
    assert db_state.camera.reported_at == "2025-08-14T14:15:33.392Z"
    assert log_state.camera.reported_at == "2025-08-14T14:15:33.913Z"


def test_track_trace_without_final_newline(sample: Sample) -> None:
    state = feed(sample("track-trace.log"))
    assert state.messages == 1478  # the last line has no newline and still counts
    assert len(state.completed_orders) == 12
    assert summary(state.completed_orders[-1:]) == [("PRODUCTION", "WHITE", "FINISHED", 13, 13)]
    assert state.agvs["5iO4"].battery_percent == 84.0  # line 1458
    assert state.stock_known is False  # no stock topic in this recording


def test_zip_session_with_two_agvs(sample: Sample) -> None:
    state = feed(sample("ccu.log.zip"))
    assert state.messages == 943
    assert summary(state.active_orders) == [("STORAGE", "RED", "IN_PROGRESS", 1, 4)]
    assert len(state.completed_orders) == 8
    jp = state.agvs["jp93"]
    assert (jp.battery_percent, jp.last_node_id, jp.loads) == (36.0, "SVR4H73275", ("RED (pos 1)",))
    assert state.agvs["5iO4"].battery_percent == 100.0
    assert {loc: t for loc, (t, _id) in occupied(state).items()} == {
        "A1": "BLUE",
        "B1": "RED",
        "C1": "WHITE",
    }


def test_tiny_sessions(sample: Sample) -> None:
    red = feed(sample("auftrag-rot_1.log"))
    assert summary(red.active_orders) == [("PRODUCTION", "RED", "IN_PROGRESS", 1, 3)]
    step = red.active_orders[0].current_step
    assert step is not None
    assert (step.label, step.state) == ("DRILL @ DRILL", "IN_PROGRESS")
    assert action_of(red, "SVR4H73275") == ("DROP", "PENDING", None)
    assert red.modules["SVR4H76449"].module_type == "DRILL"  # known serial, no pairing needed
    flows = feed(sample("fixture-no-timestamps.log"))
    assert flows.flows == {
        "BLUE": ("DRILL", "MILL", "AIQS"),
        "RED": ("MILL", "AIQS"),
        "WHITE": ("DRILL", "AIQS"),
    }
