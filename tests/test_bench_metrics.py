"""Matching arrivals to the schedule (loss, duplicates, reordering, latency), SLO and ramp text."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from mqtt_replay.bench_metrics import (
    PlantPlan,
    analyse,
    parse_ramp,
    parse_slo,
    slo_violations,
)
from mqtt_replay.errors import InvalidOptionError

T0 = 1_800_000_000_000_000_000  # ns since the epoch


def _plan(k: int, n: int) -> PlantPlan:
    """n messages, 1 ms apart, alternating between two topics."""
    prefix = f"plant-{k}/"
    return PlantPlan(
        k,
        prefix,
        [prefix + "a", prefix + "b"],
        np.arange(n, dtype=np.int32) % 2,
        T0 + np.arange(n, dtype=np.int64) * 1_000_000,
    )


def _probe(arrivals: list[tuple[str, int, int]]) -> dict[str, Any]:
    """(topic, arrival ns, dup flag) in arrival order → what Probe.stop() returns."""
    topics: list[str] = []
    index = []
    for topic, _, _ in arrivals:
        if topic not in topics:
            topics.append(topic)
        index.append(topics.index(topic))
    return {
        "topics": topics,
        "topic_index": np.asarray(index, "<u4").tobytes(),
        "arrival_ns": np.asarray([a for _, a, _ in arrivals], "<i8").tobytes(),
        "size": np.full(len(arrivals), 100, "<u4").tobytes(),
        "dup": np.asarray([d for _, _, d in arrivals], np.uint8).tobytes(),
    }


def _perfect(plan: PlantPlan, delay_ms: float) -> list[tuple[str, int, int]]:
    return [
        (plan.topics[int(c)], int(d + delay_ms * 1e6), 0)
        for c, d in zip(plan.codes, plan.due_ns, strict=True)
    ]


def test_everything_arrives_with_a_fixed_delay() -> None:
    plans = [_plan(1, 100), _plan(2, 60)]
    arrivals = sorted(_perfect(plans[0], 2.0) + _perfect(plans[1], 4.0), key=lambda a: a[1])
    result = analyse(plans, _probe(arrivals))
    assert result["expected"] == result["received"] == 160
    assert result["lost"] == result["duplicates"] == result["reordered"] == 0
    assert [p["latency_ms"]["p50"] for p in result["plants"]] == [2.0, 4.0]
    assert result["latency_ms"]["max"] == 4.0
    assert sum(result["timeline"]["offered"]) == sum(result["timeline"]["delivered"]) == 160


def test_loss_duplicates_reordering_and_strays_per_plant() -> None:
    plans = [_plan(1, 10), _plan(2, 10)]
    one = _perfect(plans[0], 1.0)
    del one[4]  # plant 1 loses a message on topic a
    one.append((*one[-1][:2], 1))  # and receives its last one twice (DUP set)
    two = _perfect(plans[1], 1.0)
    two[2], two[3] = two[3], two[2]  # plant 2: b overtakes a
    result = analyse(plans, _probe([*one, *two, ("elsewhere/x", T0, 0)]))
    p1, p2 = result["plants"]
    assert (p1["expected"], p1["received"], p1["lost"], p1["duplicates"]) == (10, 10, 1, 1)
    assert p2["lost"] == p2["duplicates"] == 0 and p2["reordered"] == 1
    assert result["strays"] == 1 and result["dup_flagged"] == 1
    assert result["loss_ratio"] == pytest.approx(1 / 20)


def test_nothing_arrived() -> None:
    result = analyse([_plan(1, 5)], _probe([]))
    assert result["lost"] == 5 and result["latency_ms"]["p99"] is None
    assert slo_violations(result, {"p99": 10.0}) == ["p99 n/a > 10 ms"]


def test_slo_text() -> None:
    assert parse_slo("p99=50ms,loss=0") == {"p99": 50.0, "loss": 0.0}
    assert parse_slo("p50=500us, max=1s, loss=0.5%") == {"p50": 0.5, "max": 1000.0, "loss": 0.005}
    assert parse_slo(None) == {}
    for bad in ("p99", "p99=fast", "latency=5ms", "loss=some"):
        with pytest.raises(InvalidOptionError):
            parse_slo(bad)
    step = {"loss_ratio": 0.01, "latency_ms": {"p99": 80.0}}
    assert slo_violations(step, {"p99": 50.0, "loss": 0.0}) == [
        "p99 80.0 ms > 50 ms",
        "loss 1.0000% > 0.0000%",
    ]
    assert slo_violations(step, {"p99": 100.0, "loss": 0.02}) == []


def test_ramp_text() -> None:
    assert parse_ramp("1000:5000:1000:3") == (1000.0, 5000.0, 1000.0, 3.0)
    for bad in ("1000:5000:1000", "5000:1000:1000:3", "0:1:1:1", "a:b:c:d"):
        with pytest.raises(InvalidOptionError):
            parse_ramp(bad)
