"""What a benchmark step measured: arrivals matched to the schedule, per plant and in total.

An arrival is matched to a sent message per plant and topic in order (the n-th arrival on a
topic is the n-th message the plant was due to publish on it; payloads are not changed, so
nothing in them can carry a sequence number). Latency is arrival − due time, both on the
wall clock (CLOCK_REALTIME) of this machine. Arrivals beyond the number sent on a topic are
duplicates; an arrival whose message was sent before one that arrived earlier counts as
reordered. With loss, the matching after the first lost message on a topic pairs an arrival
with an earlier due time, so latencies on a lossy topic are an upper bound.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mqtt_replay import _core
from mqtt_replay.errors import InvalidOptionError

__all__ = ["PlantPlan", "analyse", "parse_ramp", "parse_slo", "slo_violations"]


@dataclass
class PlantPlan:
    """What plant ``k`` was due to publish: full topic per dictionary code, code and due
    time (ns since the epoch) per message, in publish order."""

    k: int
    prefix: str
    topics: list[str]
    codes: np.ndarray  # int32 per message
    due_ns: np.ndarray  # int64 per message


def _ms(latency: Sequence[float] | None) -> dict[str, float | None]:
    """``(p50, p95, p99, max, mean)`` in ns (or None) → ms, rounded to µs."""
    keys = ("p50", "p95", "p99", "max", "mean")
    if latency is None:
        return dict.fromkeys(keys)
    return {k: round(v / 1e6, 3) for k, v in zip(keys, latency, strict=True)}


def _bin_ms(values: Sequence[float]) -> list[float | None]:
    return [None if math.isnan(v) else round(v / 1e6, 3) for v in values]


def analyse(
    plans: Sequence[PlantPlan], probe: Mapping[str, Any], *, bin_s: float = 1.0
) -> dict[str, Any]:
    """Per-plant and total counts, latency (ms) and a rate timeline from the plan and what
    the probe saw (``Probe.stop()``'s dict). The matching runs in the core, in linear time
    (``mqtt_replay._core.match_arrivals``); ``tests/bench_metrics_reference.py`` is the
    obvious, slow version it is checked against."""
    # one id per (plant, topic); arrivals on a topic name go to the first plan that names
    # it (prefixes differ, so that is the only one); another plan's messages on the same
    # name get an id no arrival maps to, and count as lost
    id_of: dict[str, int] = {}
    plant_of_id: list[int] = []
    ids = []
    for i, plan in enumerate(plans):
        local = np.empty(len(plan.topics), dtype=np.int32)
        for code, name in enumerate(plan.topics):
            own = id_of.get(name)
            if own is None or plant_of_id[own] != i:
                own = len(plant_of_id)
                plant_of_id.append(i)
                id_of.setdefault(name, own)
            local[code] = own
        ids.append(local[plan.codes])
    names = list(probe.get("topics", []))
    bin_ns = max(1, round(bin_s * 1e9))
    m = _core.match_arrivals(
        np.concatenate(ids) if ids else np.zeros(0, np.int32),
        np.concatenate([np.asarray(p.due_ns, np.int64) for p in plans])
        if plans
        else np.zeros(0, np.int64),
        np.asarray([len(p.codes) for p in plans], np.int64),
        np.asarray(plant_of_id, np.int32),
        np.frombuffer(probe.get("topic_index", b""), dtype=np.uint32),
        np.asarray([id_of.get(n, -1) for n in names], np.int32),
        np.frombuffer(probe.get("arrival_ns", b""), dtype=np.int64),
        bin_ns,
    )
    a_size = np.frombuffer(probe.get("size", b""), dtype="<u4")
    a_dup = np.frombuffer(probe.get("dup", b""), dtype=np.uint8)

    fleet_start = min((int(p.due_ns[0]) for p in plans if len(p.due_ns)), default=0)
    plants = []
    for plan, (received, got, reordered, latency) in zip(plans, m["plants"], strict=True):
        expected = len(plan.codes)
        plants.append(
            {
                "k": plan.k,
                "prefix": plan.prefix,
                "expected": expected,
                "received": received,
                "lost": expected - got,
                "duplicates": received - got,
                "reordered": reordered,
                "start_s": round((int(plan.due_ns[0]) - fleet_start) / 1e9, 6)
                if len(plan.due_ns)
                else None,
                "latency_ms": _ms(latency),
            }
        )
    expected_total = sum(len(p.codes) for p in plans)
    received_total = sum(p["received"] for p in plants)
    matched_total = sum(r[1] for r in m["plants"])
    lost = expected_total - matched_total

    timeline: dict[str, list[Any]] = {"t_s": [], "offered": [], "delivered": []}
    offered_rate = delivered_rate = 0.0
    if expected_total:
        t0 = m["t0_ns"]
        bins = len(m["offered"])
        timeline = {
            "t_s": [round(i * bin_s, 3) for i in range(bins)],
            "offered": [round(v / bin_s, 1) for v in m["offered"]],
            "delivered": [round(v / bin_s, 1) for v in m["delivered"]],
            "p50_ms": _bin_ms(m["bin_p50"]),
            "p99_ms": _bin_ms(m["bin_p99"]),
        }
        span_due = (m["due_max_ns"] - t0) / 1e9
        offered_rate = expected_total / span_due if span_due > 0 else float(expected_total)
        if received_total:
            span_arr = (m["arrival_max_ns"] - t0) / 1e9
            delivered_rate = received_total / span_arr if span_arr > 0 else float(received_total)
    return {
        "expected": expected_total,
        "received": received_total,
        "lost": lost,
        "loss_ratio": round(lost / expected_total, 6) if expected_total else 0.0,
        "duplicates": received_total - matched_total,
        "dup_flagged": int(a_dup.sum()),
        "reordered": sum(p["reordered"] for p in plants),
        "strays": m["strays"],
        "bytes": int(a_size.sum()),
        "offered_rate": round(offered_rate, 1),
        "delivered_rate": round(delivered_rate, 1),
        "latency_ms": _ms(m["latency"]),
        "plants": plants,
        "timeline": timeline,
    }


_UNITS = {"us": 1e-3, "µs": 1e-3, "ms": 1.0, "s": 1000.0, "": 1.0}


def parse_slo(text: str | None) -> dict[str, float]:
    """``"p99=50ms,loss=0"`` → ``{"p99": 50.0, "loss": 0.0}``. Latency keys p50/p95/p99/max
    (ms; ``us``/``ms``/``s`` suffixes), ``loss`` a fraction (``0.1%`` or ``0.001``)."""
    out: dict[str, float] = {}
    if not text:
        return out
    for part in text.split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        key, value = key.strip().lower(), value.strip().lower()
        if not sep or not value:
            raise InvalidOptionError(f"SLO term {part!r} is not key=value")
        if key == "loss":
            try:
                out["loss"] = float(value[:-1]) / 100 if value.endswith("%") else float(value)
            except ValueError as exc:
                raise InvalidOptionError(f"SLO loss {value!r} is not a number") from exc
        elif key in ("p50", "p95", "p99", "max"):
            m = re.fullmatch(r"([0-9.]+)\s*(us|µs|ms|s|)", value)
            if not m:
                raise InvalidOptionError(f"SLO {key}={value!r}: expected a time like 50ms")
            out[key] = float(m.group(1)) * _UNITS[m.group(2)]
        else:
            raise InvalidOptionError(f"unknown SLO key {key!r} (p50, p95, p99, max, loss)")
    return out


def slo_violations(step: Mapping[str, Any], slo: Mapping[str, float]) -> list[str]:
    """The SLO terms a step broke, in words (empty: met)."""
    broken = []
    for key, limit in slo.items():
        if key == "loss":
            if step["loss_ratio"] > limit:
                broken.append(f"loss {step['loss_ratio']:.4%} > {limit:.4%}")
        else:
            value = step["latency_ms"][key]
            if value is None or value > limit:
                shown = "n/a" if value is None else f"{value:.1f} ms"
                broken.append(f"{key} {shown} > {limit:g} ms")
    return broken


def parse_ramp(text: str) -> tuple[float, float, float, float]:
    """``FROM:TO:STEP:SECONDS`` (msg/s, msg/s, msg/s, s per step)."""
    parts = text.split(":")
    try:
        lo, hi, step, seconds = (float(p) for p in parts)
    except ValueError as exc:
        raise InvalidOptionError(f"ramp {text!r} is not FROM:TO:STEP:SECONDS") from exc
    if lo <= 0 or hi < lo or step <= 0 or seconds <= 0:
        raise InvalidOptionError(f"ramp {text!r}: need 0 < FROM <= TO, STEP > 0, SECONDS > 0")
    return lo, hi, step, seconds
