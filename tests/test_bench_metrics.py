"""Matching arrivals to the schedule (loss, duplicates, reordering, latency), SLO and ramp text."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.bench_metrics_reference import reference_analyse

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


@st.composite
def _runs(draw: st.DrawFn) -> tuple[list[PlantPlan], dict[str, Any], float]:
    """A few plants with a few topics each and what arrived of them: some lost, some twice,
    out of order, late or (clock steps) before they were due, plus strays."""
    plans = []
    sent: list[tuple[str, int]] = []
    shared = draw(st.booleans())  # plants 0 and 1 publish under one prefix
    for k in range(draw(st.integers(1, 4))):
        prefix = "plant-0/" if shared and k == 1 else f"plant-{k}/"
        topics = [prefix + str(j) for j in range(draw(st.integers(1, 4)))]
        n = draw(st.integers(0, 40))
        codes = draw(st.lists(st.integers(0, len(topics) - 1), min_size=n, max_size=n))
        gaps = draw(st.lists(st.integers(0, 3_000_000_000), min_size=n, max_size=n))
        due = T0 + np.cumsum(np.asarray(gaps, dtype=np.int64))
        plans.append(PlantPlan(k, prefix, topics, np.asarray(codes, np.int32), due))
        sent += [(topics[c], int(d)) for c, d in zip(codes, due, strict=True)]
    arrivals = []
    for topic, d in sent:
        for _ in range(draw(st.sampled_from([0, 1, 1, 1, 2]))):
            delay = draw(st.integers(-1_000_000, 4_000_000_000))
            arrivals.append((topic, d + delay, 0))
    arrivals += [("elsewhere/x", T0 + draw(st.integers(0, 10**9)), 0)] * draw(st.integers(0, 2))
    order = draw(st.permutations(range(len(arrivals))))
    keyed = sorted(order, key=lambda i: arrivals[i][1]) if draw(st.booleans()) else order
    bin_s = draw(st.sampled_from([0.25, 1.0, 2.0]))
    return plans, _probe([arrivals[i] for i in keyed]), bin_s


def _close(got: dict[str, Any], want: dict[str, Any]) -> None:
    for key, value in want.items():
        if value is None:
            assert got[key] is None, key
        else:
            assert got[key] == pytest.approx(value, abs=6e-4), key


@settings(max_examples=300, deadline=None)
@given(_runs())
def test_the_linear_matching_agrees_with_the_obvious_one(
    run: tuple[list[PlantPlan], dict[str, Any], float],
) -> None:
    plans, probe, bin_s = run
    got = analyse(plans, probe, bin_s=bin_s)
    want = reference_analyse(plans, probe, bin_s=bin_s)
    for key in ("expected", "received", "lost", "duplicates", "reordered", "strays"):
        assert got[key] == want[key], key
    _close(got["latency_ms"], want["latency_ms"])
    for g, w in zip(got["plants"], want["plants"], strict=True):
        for key in ("expected", "received", "lost", "duplicates", "reordered"):
            assert g[key] == w[key], key
        _close(g["latency_ms"], w["latency_ms"])
    timeline = got["timeline"]
    assert timeline["offered"] == [round(v / bin_s, 1) for v in want["timeline"]["offered"]]
    assert timeline["delivered"] == [round(v / bin_s, 1) for v in want["timeline"]["delivered"]]
    for key in ("p50_ms", "p99_ms"):
        _close(
            dict(enumerate(timeline.get(key, []))), dict(enumerate(want["timeline"].get(key, [])))
        )


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
