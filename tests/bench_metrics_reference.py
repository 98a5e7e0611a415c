"""The matching of a benchmark's arrivals to its schedule, done the obvious way, as an oracle.

One Python loop over the arrivals with a queue of due messages per (plant, topic); the
percentiles from ``numpy.percentile`` (linear interpolation) over plain lists. Slow, plainly
right; ``mqtt_replay.bench_metrics.analyse`` (a linear pass in the Rust core) must agree.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from mqtt_replay.bench_metrics import PlantPlan


def _stats(values: list[float]) -> dict[str, float | None]:
    if not values:
        return dict.fromkeys(("p50", "p95", "p99", "max", "mean"))
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return {
        "p50": float(p50),
        "p95": float(p95),
        "p99": float(p99),
        "max": max(values),
        "mean": sum(values) / len(values),
    }


def reference_analyse(
    plans: Sequence[PlantPlan], probe: Mapping[str, Any], *, bin_s: float = 1.0
) -> dict[str, Any]:
    """The counts and latencies :func:`mqtt_replay.bench_metrics.analyse` reports (latencies
    unrounded, ms), computed message by message."""
    owner: dict[str, int] = {}
    due: defaultdict[str, deque[tuple[int, int]]] = defaultdict(deque)  # not yet arrived
    for i, plan in enumerate(plans):
        for topic in plan.topics:  # a topic belongs to the first plan that names it
            owner.setdefault(topic, i)
        for row, (code, d) in enumerate(zip(plan.codes, plan.due_ns, strict=True)):
            topic = plan.topics[int(code)]
            if owner[topic] == i:
                due[topic].append((row, int(d)))
    names = list(probe.get("topics", []))
    index = np.frombuffer(probe.get("topic_index", b""), dtype="<u4").tolist()
    arrived = np.frombuffer(probe.get("arrival_ns", b""), dtype="<i8").tolist()

    received = [0] * len(plans)
    matched: list[list[tuple[int, int, int]]] = [[] for _ in plans]  # (row, due, arrival)
    strays = 0
    known_arrivals = []
    for t, ns in zip(index, arrived, strict=True):
        topic = names[t]
        if topic not in owner:
            strays += 1
            continue
        p = owner[topic]
        received[p] += 1
        known_arrivals.append(ns)
        if due[topic]:
            row, d = due[topic].popleft()
            matched[p].append((row, d, ns))

    plants = []
    for i, plan in enumerate(plans):
        rows = [row for row, _, _ in matched[i]]
        reordered = sum(1 for j in range(1, len(rows)) if rows[j] < max(rows[:j]))
        plants.append(
            {
                "expected": len(plan.codes),
                "received": received[i],
                "lost": len(plan.codes) - len(matched[i]),
                "duplicates": received[i] - len(matched[i]),
                "reordered": reordered,
                "latency_ms": _stats([(a - d) / 1e6 for _, d, a in matched[i]]),
            }
        )
    every = [(a - d) / 1e6 for m in matched for _, d, a in m]
    dues = [int(d) for plan in plans for d in plan.due_ns]
    timeline: dict[str, list[Any]] = {"offered": [], "delivered": []}
    if dues:
        t0 = min(dues)
        bin_ns = round(bin_s * 1e9)
        bins = (max([*dues, *known_arrivals]) - t0) // bin_ns + 1
        offered = [0] * bins
        delivered = [0] * bins
        per_bin: list[list[float]] = [[] for _ in range(bins)]
        for d in dues:
            offered[(d - t0) // bin_ns] += 1
        for ns in known_arrivals:
            if ns >= t0:
                delivered[(ns - t0) // bin_ns] += 1
        for m in matched:
            for _, d, a in m:
                per_bin[(d - t0) // bin_ns].append((a - d) / 1e6)
        timeline = {
            "offered": offered,
            "delivered": delivered,
            "p50_ms": [float(np.percentile(v, 50)) if v else None for v in per_bin],
            "p99_ms": [float(np.percentile(v, 99)) if v else None for v in per_bin],
        }
    expected = sum(len(p.codes) for p in plans)
    got = sum(len(m) for m in matched)
    return {
        "expected": expected,
        "received": sum(received),
        "lost": expected - got,
        "duplicates": sum(received) - got,
        "reordered": sum(p["reordered"] for p in plants),
        "strays": strays,
        "latency_ms": _stats(every),
        "plants": plants,
        "timeline": timeline,
    }
