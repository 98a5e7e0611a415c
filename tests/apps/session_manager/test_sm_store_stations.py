"""Session cache and loading jobs, the Replay Station and the Recorder station."""

from __future__ import annotations

import json
import shutil
import time
import zipfile
from pathlib import Path
from typing import Any, ClassVar

import paho.mqtt.client as mqtt
import pytest
from apps.session_manager.record_station import RecorderStation, RecordRefused, request_from_form
from apps.session_manager.store import LoadJob, SessionStore, Summary, library_rows
from sm_helpers import (
    PLANT,
    PLANT_DB,
    PLANT_L4,
    PLANT_L4_MESSAGES,
    PLANT_MESSAGES,
    PLANT_ZIP,
    SmBroker,
)

from apps.session_manager import replay_station as rs


def test_store_opens_caches_and_evicts(sessions_dir: Path) -> None:
    store = SessionStore(sessions_dir, max_entries=2)
    assert store.peek(PLANT) is None
    job = store.request(PLANT)
    assert job.state == "ready" and job.fraction == 1.0
    view = store.get(PLANT)
    assert store.get(PLANT) is view and view.session.mode == "full"
    store.get(PLANT_L4)
    store.get(PLANT_ZIP)
    assert store.peek(PLANT) is None  # least recently used went first
    bad = store.request("../etc/passwd.log")
    assert bad.state == "error" and bad.error


def test_big_files_open_in_index_mode_in_the_background(sessions_dir: Path) -> None:
    store = SessionStore(sessions_dir, index_threshold=1000, inline_bytes=1000)
    job = store.request(PLANT_L4)
    assert job.state in ("loading", "ready")
    deadline = time.monotonic() + 30
    while store.job(PLANT_L4).state == "loading" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert store.job(PLANT_L4).state == "ready"
    view = store.get(PLANT_L4)
    assert view.session.mode == "index" and len(view) == PLANT_L4_MESSAGES
    assert store.mode_for(sessions_dir / PLANT_ZIP) == "full"  # only .log files index


def test_changed_file_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "s.log"
    path.write_text('{"topic":"a","payload":"1","timestamp":"2026-01-01T00:00:00.000Z"}\n')
    store = SessionStore(tmp_path)
    assert len(store.get("s.log")) == 1
    with path.open("a") as fh:
        fh.write('{"topic":"a","payload":"2","timestamp":"2026-01-01T00:00:01.000Z"}\n')
    assert len(store.get("s.log")) == 2
    store.forget("s.log")
    assert store.peek("s.log") is None


def test_library_rows_and_summaries(sessions_dir: Path) -> None:
    (sessions_dir / "broken.db").write_bytes(b"not sqlite")
    (sessions_dir / "empty.log").write_bytes(b"")
    with zipfile.ZipFile(sessions_dir / "notes.zip", "w") as zf:
        zf.writestr("readme.txt", "no session here")
    store = SessionStore(sessions_dir)
    rows, pending = library_rows(store, "Europe/Berlin")
    assert pending == []
    by_name = {r["name"]: r for r in rows}
    plant = by_name[PLANT]
    header = json.loads((sessions_dir / PLANT).read_text().split("\n", 1)[0])
    assert plant["messages"] == PLANT_MESSAGES
    assert plant["duration"] == pytest.approx(header["durationSec"], abs=0.1)
    assert plant["preset"] == "none" and plant["ccu_version"] == header["ccuVersion"]
    assert by_name[PLANT_DB]["messages"] == 400
    # recorded: the first message's time in the zone asked for, labelled — not the file name
    assert plant["recorded"] == "2026-01-15 10:00:00 CET"
    assert by_name[PLANT_DB]["recorded"] == "2026-03-03 09:00:00 CET"  # name says 09:00 too
    assert by_name[PLANT_L4]["recorded"] == "2026-03-03 08:00:00 CET"  # no stamp in the name
    (sessions_dir / PLANT_DB).rename(sessions_dir / "renamed_20990101_000000.db")
    rows, _ = library_rows(SessionStore(sessions_dir), "UTC")
    by_name = {r["name"]: r for r in rows}
    assert by_name["renamed_20990101_000000.db"]["recorded"] == "2026-03-03 08:00:00 UTC"
    broken = by_name["broken.db"]
    assert broken["health"] == "error" and broken["status"] == (
        "cannot open: cannot read the schema: file is not a database"
    )  # the full reason, without the directory's path
    assert by_name[PLANT]["health"] == ""
    assert (by_name["empty.log"]["health"], by_name["empty.log"]["status"]) == (
        "empty",
        "empty: no messages in this file",
    )
    assert by_name["notes.zip"]["health"] == "error"
    assert by_name["notes.zip"]["status"] == (
        "cannot open: no session log (.log) in this zip; it holds: readme.txt"
    )
    assert "no session log" in str(SessionStore(sessions_dir).request("notes.zip").error)
    summary = store.summary(PLANT)
    assert isinstance(summary, Summary) and summary.container == "ndjson"


def test_summary_of_a_big_file_is_a_job(sessions_dir: Path) -> None:
    store = SessionStore(sessions_dir, inline_bytes=10)
    got = store.summary(PLANT_L4)
    assert isinstance(got, LoadJob | Summary)
    deadline = time.monotonic() + 30
    while isinstance(store.summary(PLANT_L4), LoadJob) and time.monotonic() < deadline:
        time.sleep(0.02)
    final = store.summary(PLANT_L4)
    assert isinstance(final, Summary) and final.messages == PLANT_L4_MESSAGES


# -- Replay Station ----------------------------------------------------------------------------


def test_options_from_form() -> None:
    opts = rs.options_from_form(
        {
            "speed": "max",
            "loop": True,
            "start": "10",
            "end": 100,
            "topics": "ccu/#, fts/#",
            "exclude": "/j1/txt/+/i/cam\n",
            "prime": "retained",
            "compress_gaps": "2",
            "rewrite_time": True,
            "qos": "1",
            "retain": "false",
            "remap": "ccu/ => x/ccu/",
            "prefix": " test/ ",
        }
    )
    assert opts.speed == "max" and opts.start == 10 and opts.end == 100 and opts.loop
    assert opts.topics == ("ccu/#", "fts/#") and opts.exclude == ("/j1/txt/+/i/cam",)
    assert opts.remap == (("ccu/", "x/ccu/"),) and opts.prefix == "test/"
    assert opts.qos == 1 and opts.retain is False and opts.compress_gaps == 2.0
    kwargs = opts.replayer_kwargs()
    assert kwargs["topics"] == ["ccu/#", "fts/#"] and kwargs["remap_rules"] == [("ccu/", "x/ccu/")]
    assert rs.options_from_form({}).replayer_kwargs()["topics"] is None
    for bad in (
        {"speed": "1000"},
        {"start": "5", "end": "1"},
        {"topics": "a/#/b"},
        {"prime": "x"},
        {"remap": "no arrow"},
        {"compress_gaps": "-1"},
        {"start": "abc"},
    ):
        with pytest.raises(rs.ReplayRefused):
            rs.options_from_form(bad)


def test_remote_brokers_need_permission_and_confirmation(sessions_dir: Path) -> None:
    strict = rs.ReplayStation(SessionStore(sessions_dir))
    strict.check_broker("mqtt://127.0.0.1:1883", False)
    strict.check_broker("mqtt://localhost:1883", False)
    strict.check_broker("mqtt://[::1]:1883", False)
    with pytest.raises(rs.ReplayRefused, match="--allow-remote"):
        strict.check_broker("mqtt://192.168.0.100:1883", True)
    with pytest.raises(rs.ReplayRefused):
        strict.check_broker("http://127.0.0.1", False)
    open_ = rs.ReplayStation(SessionStore(sessions_dir), allow_remote=True)
    with pytest.raises(rs.ReplayRefused, match="confirm"):
        open_.check_broker("mqtt://plant.example:1883", False)
    open_.check_broker("mqtt://plant.example:1883", True)


class FakeReplayer:
    instances: ClassVar[list[FakeReplayer]] = []

    def __init__(self, session: Any, url: str, **kwargs: Any) -> None:
        self.session, self.url, self.kwargs = session, url, kwargs
        self.calls: list[tuple[str, Any]] = []
        self.state = "playing"
        FakeReplayer.instances.append(self)

    def status(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "index": 5,
            "total": 10,
            "sent": 5,
            "position_s": 1.0,
            "error": None,
        }

    def stats(self) -> dict[str, Any]:
        return {"state": self.state, "sent": 5, "total": 10}

    def pause(self) -> None:
        self.calls.append(("pause", None))

    def resume(self) -> None:
        self.calls.append(("resume", None))

    def step(self) -> None:
        self.calls.append(("step", None))

    def stop(self) -> None:
        self.state = "stopped"

    def set_speed(self, v: Any) -> None:
        self.calls.append(("speed", v))

    def set_loop(self, v: bool) -> None:
        self.calls.append(("loop", v))

    def seek(self, seconds: float | None = None, *, index: int | None = None) -> None:
        self.calls.append(("seek", seconds if index is None else index))

    def close(self) -> None:
        self.calls.append(("close", None))


def wait_for(predicate: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_station_drives_the_replayer(sessions_dir: Path) -> None:
    station = rs.ReplayStation(SessionStore(sessions_dir), replayer_factory=FakeReplayer)
    with pytest.raises(rs.ReplayRefused):
        station.control("pause")
    station.start(PLANT, "mqtt://127.0.0.1:1", rs.ReplayOptions(speed=2.0, start=5.0))
    assert wait_for(lambda: station.snapshot()["status"] is not None)
    fake = FakeReplayer.instances[-1]
    assert (
        fake.kwargs["speed"] == 2.0
        and fake.kwargs["start"] == 5.0
        and fake.kwargs["allow_remote"] is False
    )
    for action, value in (
        ("pause", None),
        ("resume", None),
        ("step", None),
        ("speed", "max"),
        ("loop", True),
        ("seek", 12.5),
        ("seek_index", 3),
    ):
        station.control(action, value)
    assert fake.calls == [
        ("pause", None),
        ("resume", None),
        ("step", None),
        ("speed", "max"),
        ("loop", True),
        ("seek", 12.5),
        ("seek", 3),
    ]
    snap = station.snapshot()
    assert snap["active"] and snap["session"] == PLANT and snap["report"] is None
    station.control("stop")
    snap = station.snapshot()
    assert snap["status"]["state"] == "stopped" and snap["report"] == {
        "state": "stopped",
        "sent": 5,
        "total": 10,
        "active_s": 0.0,  # seconds spent playing (the fake reports no elapsed time)
    }
    station.start(PLANT_L4, "mqtt://127.0.0.1:1", rs.ReplayOptions())
    assert ("close", None) in fake.calls  # the previous replay is released
    station.shutdown()


def test_station_reports_start_errors(sessions_dir: Path) -> None:
    def failing(*_a: Any, **_k: Any) -> Any:
        from mqtt_replay import BrokerError

        raise BrokerError("connection refused")

    station = rs.ReplayStation(SessionStore(sessions_dir), replayer_factory=failing)
    station.start(PLANT, "mqtt://127.0.0.1:1", rs.ReplayOptions())
    assert wait_for(lambda: station.snapshot()["error"] is not None)
    assert "refused" in station.snapshot()["error"]
    with pytest.raises(rs.ReplayRefused, match="does not exist"):
        station.start("missing.log", "mqtt://127.0.0.1:1", rs.ReplayOptions())


@pytest.mark.broker
def test_replay_to_a_real_broker_sends_everything(sessions_dir: Path, sm_broker: SmBroker) -> None:
    received: list[str] = []
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="sm-test-sub")
    client.on_message = lambda _c, _u, msg: received.append(msg.topic)
    client.connect(sm_broker.host, sm_broker.port)
    client.subscribe("#", qos=1)
    client.loop_start()
    try:
        station = rs.ReplayStation(SessionStore(sessions_dir))
        station.start(
            PLANT, sm_broker.url, rs.options_from_form({"speed": "max", "exclude": "mqtt-replay/#"})
        )
        assert wait_for(
            lambda: (station.snapshot().get("status") or {}).get("state") == "finished", 30
        )
        snap = station.snapshot()
        assert snap["status"]["sent"] == snap["status"]["total"] == PLANT_MESSAGES
        assert snap["report"]["failed"] == 0
        assert wait_for(
            lambda: (
                len([t for t in received if not t.startswith("mqtt-replay/")]) >= PLANT_MESSAGES
            ),
            10,
        )
        station.shutdown()
    finally:
        client.loop_stop()
        client.disconnect()


# -- Recorder station -------------------------------------------------------------------------


def test_record_request_validation() -> None:
    presets = {"none": [], "no_cam": ["/j1/txt/1/i/cam"]}
    req = request_from_form(
        {
            "broker": "mqtt://127.0.0.1:1883",
            "name": "run-1",
            "preset": "no_cam",
            "topics": "",
            "qos": "0",
            "outcome": "ok",
        },
        presets,
    )
    assert req.topics == ("#",) and req.preset == "no_cam" and req.qos == 0
    for bad in (
        {"name": "../x"},
        {"name": "ok", "broker": "http://x"},
        {"name": "ok", "preset": "zzz"},
        {"name": "ok", "outcome": "great"},
        {"name": "ok", "qos": "2"},
    ):
        with pytest.raises(RecordRefused):
            request_from_form({"broker": "mqtt://127.0.0.1:1883", **bad}, presets)


def test_recorder_station_without_the_recorder(tmp_path: Path) -> None:
    station = RecorderStation(tmp_path)
    station._reason = "not installed"  # simulate a missing mqtt_replay.recorder
    with pytest.raises(RecordRefused, match="not installed"):
        station.start(request_from_form({"broker": "mqtt://127.0.0.1:1", "name": "x"}, {}))
    assert station.snapshot()["recording"] is False


@pytest.mark.broker
def test_record_a_few_messages(tmp_path: Path, sm_broker: SmBroker) -> None:
    station = RecorderStation(tmp_path)
    factory, presets, reason = station.api()
    if factory is None:
        pytest.skip(reason or "no recorder")
    station.start(
        request_from_form(
            {"broker": sm_broker.url, "name": "sm-rec", "topics": "sm-test/#"}, presets
        )
    )
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="sm-test-pub")
    pub.connect(sm_broker.host, sm_broker.port)
    pub.loop_start()
    try:
        # The recorder subscribes asynchronously: probe until it hears us, then send for real.
        for _ in range(100):
            pub.publish("sm-test/probe", "{}", qos=1).wait_for_publish(5)
            if wait_for(lambda: (station.snapshot()["status"] or {}).get("messages", 0) > 0, 0.2):
                break
        before = int(station.snapshot()["status"]["messages"])
        for i in range(5):
            pub.publish(f"sm-test/{i}", f'{{"n": {i}}}', qos=1).wait_for_publish(5)
        assert wait_for(lambda: station.snapshot()["status"]["messages"] >= before + 5, 10)
        snap = station.snapshot()
        # a burst right before the stop: still in flight when the user presses Stop
        infos = [pub.publish("sm-test/last", "{}", qos=1) for _ in range(300)]
        for info in infos:
            info.wait_for_publish(5)
        path = station.stop()
    finally:
        pub.loop_stop()
        pub.disconnect()
    assert snap["recording"] and "rate" in snap["status"] and "elapsed_s" in snap["status"]
    assert path.parent == tmp_path and path.name.startswith("sm-rec_")
    from mqtt_replay import open_session

    saved = open_session(path)
    # the page's count after the stop is the file's (no message lost between poll and stop)
    assert station.snapshot()["status"]["messages"] == len(saved)
    topics = [
        t for t in saved.table.column("topic").cast("string").to_pylist() if t != "sm-test/last"
    ]
    assert [t for t in topics if t != "sm-test/probe"] == [f"sm-test/{i}" for i in range(5)]
    assert station.snapshot()["last_file"] == path.name
    shutil.rmtree(tmp_path, ignore_errors=True)
