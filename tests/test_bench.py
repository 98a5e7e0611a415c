"""``mqtt-replay bench`` against real Mosquitto brokers: counts, report fields, a ramp's knee."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import Broker, free_port, sample_path

from mqtt_replay.bench import run_bench
from mqtt_replay.cli import main
from mqtt_replay.generate import generate_session

pytestmark = pytest.mark.broker


def _check_consistent(report: dict[str, Any], plants: int) -> dict[str, Any]:
    """The fields of a one-step report agree with each other; returns the step."""
    (step,) = report["steps"]
    assert len(step["plants"]) == plants == report["plants"]
    assert step["expected"] == sum(p["expected"] for p in step["plants"])
    assert step["received"] == sum(p["received"] for p in step["plants"])
    assert step["lost"] == sum(p["lost"] for p in step["plants"])
    assert step["duplicates"] == sum(p["duplicates"] for p in step["plants"])
    lat = step["latency_ms"]
    assert 0 <= lat["p50"] <= lat["p95"] <= lat["p99"] <= lat["max"]
    timeline = step["timeline"]
    assert round(sum(timeline["offered"])) == step["expected"]
    assert round(sum(timeline["delivered"])) == step["received"]
    assert step["cpu"]["tool_pct"] > 0
    return step


def test_twenty_plants_at_qos1_every_message_counted(
    private_broker: Broker, tmp_path: Path
) -> None:
    session = generate_session(tmp_path / "plant.log", messages=3000, rate=100, seed=7)
    out = tmp_path / "reports"
    code = main(
        [
            "bench", str(session), "--plants", "20", "--speed", "10", "--qos", "1",
            "--broker", private_broker.url, "--slo", "loss=0,p99=5s", "--out", str(out), "-q",
        ]
    )  # fmt: skip
    assert code == 0
    (json_file,) = out.glob("*.json")
    assert json_file.with_suffix(".html").exists()
    report = json.loads(json_file.read_text())
    step = _check_consistent(report, 20)
    # the built-in subscriber counted exactly what the engines sent, nothing lost or doubled
    assert step["sent"] == step["expected"] == step["received"] == 20 * 3000
    assert step["lost"] == step["duplicates"] == step["reordered"] == step["strays"] == 0
    assert all(p["received"] == 3000 for p in step["plants"])
    assert report["slo_ok"] and report["knee"] is None and not report["errors"]
    # the broker was found by its port, so its CPU is in the report
    assert private_broker.proc is not None
    assert step["cpu"]["broker_pid"] == private_broker.proc.pid
    assert step["cpu"]["broker_pct"] is not None


@pytest.mark.samples
def test_twenty_plants_from_a_real_session(private_broker: Broker, tmp_path: Path) -> None:
    path = sample_path("production-blue_20260303_090705.log")
    result = run_bench(
        path, private_broker.url, plants=20, speed=10, qos=1, duration_s=4, out=tmp_path
    )
    step = _check_consistent(result.report, 20)
    assert step["expected"] == step["received"] == step["sent"] > 20 * 50
    assert step["lost"] == step["duplicates"] == step["reordered"] == 0
    assert result.ok and result.html_path is not None and result.html_path.exists()


def test_an_unmet_slo_fails_the_command(private_broker: Broker, tmp_path: Path) -> None:
    session = generate_session(tmp_path / "small.log", messages=300, rate=200, seed=1, mix="small")
    code = main(
        [
            "bench", str(session), "--plants", "2", "--speed", "5", "--broker", private_broker.url,
            "--slo", "p50=1us", "--out", str(tmp_path), "-q",
        ]
    )  # fmt: skip
    assert code == 1
    report = json.loads(next(tmp_path.glob("bench-*.json")).read_text())
    assert not report["slo_ok"] and report["slo_violations"][0].startswith("run: p50")
    assert report["steps"][0]["lost"] == 0


def test_a_target_rate_with_the_sessions_mix(private_broker: Broker, tmp_path: Path) -> None:
    session = generate_session(tmp_path / "plant.log", messages=2000, rate=40, seed=6)
    result = run_bench(
        session, private_broker.url, plants=4, rate=1500, duration_s=2, qos=1, out=None
    )
    step = _check_consistent(result.report, 4)
    assert step["target_rate"] == 1500
    assert step["offered_rate"] == pytest.approx(1500, rel=0.05)  # from the schedule
    assert step["received"] == step["expected"] and step["lost"] == 0
    assert result.report["mode"] == "rate" and result.report["rate"] == 1500


def test_the_tail_of_earlier_traffic_is_not_counted(private_broker: Broker, tmp_path: Path) -> None:
    """A run right after another one on the same prefixes: what the broker still delivers of
    the earlier traffic must not show up as duplicates of this run."""
    from mqtt_replay.fleet import Fleet
    from mqtt_replay.replay import Replayer

    session = generate_session(tmp_path / "small.log", messages=1000, rate=100, seed=8, mix="small")
    earlier = Fleet(session, 1).session(1, speed=5)  # plant-1/…, 2 s of traffic
    with Replayer(earlier, private_broker.url, status_topic=None, retain=False):
        result = run_bench(session, private_broker.url, plants=2, speed=50, qos=1, out=None)
    (step,) = result.report["steps"]
    assert step["stale"] > 0  # the earlier plant-1 was still publishing when the probe came
    assert step["received"] == step["expected"] == 2000
    assert step["duplicates"] == step["lost"] == step["reordered"] == 0


def test_staggered_plants_start_apart(private_broker: Broker, tmp_path: Path) -> None:
    session = generate_session(tmp_path / "small.log", messages=200, rate=100, seed=2, mix="small")
    result = run_bench(
        session, private_broker.url, plants=3, speed=2, stagger_s=0.5, qos=1, out=None
    )
    step = _check_consistent(result.report, 3)
    starts = [p["start_s"] for p in step["plants"]]
    assert starts[0] == 0.0
    # plant k starts (k - 1) x 0.5 s after the first, never before its turn
    assert starts[1] >= 0.5 - 0.01 and starts[2] >= 1.0 - 0.01 and starts[2] > starts[1]
    assert step["lost"] == 0 and step["received"] == 600


@pytest.fixture
def small_queue_broker(tmp_path: Path) -> Iterator[Broker]:
    """A Mosquitto that holds few messages per client: 20 QoS 1 messages in flight to a
    subscriber and 100 queued behind them; past that it drops (Mosquitto 2.0 drops QoS 0 only
    when its socket backs up, which a fast subscriber never lets happen)."""
    from mqtt_replay.local_broker import mosquitto_config, start_mosquitto

    port = free_port()
    config = mosquitto_config(port).replace(
        "max_queued_messages 0\nmax_inflight_messages 0\n",
        "max_queued_messages 100\nmax_inflight_messages 20\n",
    )
    assert "max_inflight_messages 20" in config
    proc = start_mosquitto(port, tmp_path, config=config)
    broker = Broker("127.0.0.1", port, tmp_path, proc=proc)
    yield broker
    broker.stop()


@pytest.mark.slow
def test_ramp_stops_at_the_knee(small_queue_broker: Broker, tmp_path: Path) -> None:
    session = generate_session(tmp_path / "small.log", messages=4000, rate=200, seed=3, mix="small")
    result = run_bench(
        session,
        small_queue_broker.url,
        plants=10,
        ramp="500:400000:20000:2",
        qos=1,
        out=tmp_path,
    )
    report = result.report
    steps = report["steps"]
    knee = report["knee"]
    assert knee is not None, [(s["target_rate"], s["lost"]) for s in steps]
    # every step before the knee delivered everything; the knee step lost messages; the
    # ramp stopped there, before its last step
    assert all(s["lost"] == 0 for s in steps[:-1])
    assert steps[-1]["lost"] > 0 and knee["target_rate"] == steps[-1]["target_rate"]
    assert any(r.startswith("loss") for r in knee["reasons"])
    assert steps[-1]["target_rate"] < 400_000
    assert [s["target_rate"] for s in steps] == [500 + 20_000 * i for i in range(len(steps))]
    assert result.ok  # without --slo the exit code does not gate on the knee


def test_a_step_without_latency_counts_the_same(private_broker: Broker, tmp_path: Path) -> None:
    """``latency=False`` (the Probe only counts, nothing is matched): the same messages are
    counted as with latency, and the step says what the matching cost."""
    from mqtt_replay.bench import run_step
    from mqtt_replay.fleet import Fleet

    session = generate_session(tmp_path / "plant.log", messages=1500, rate=100, seed=5)
    fleet = Fleet(session, 3)
    counted = run_step(fleet, private_broker.url, speed=1e6, qos=1, latency=False)
    measured = run_step(fleet, private_broker.url, speed=1e6, qos=1)
    assert counted["sent"] == counted["received"] == measured["received"] == 3 * 1500
    assert "latency_ms" not in counted and measured["latency_ms"]["p50"] is not None
    assert counted["cpu"]["analyse_s"] == 0.0 and measured["cpu"]["analyse_s"] >= 0.0
    assert counted["cpu"]["probe_thread_s"] > 0.0 and measured["cpu"]["probe_thread_s"] > 0.0
