"""Benchmarks: a fleet of plants replayed into a broker, measured at the broker's far side.

:func:`run_bench` is the Python face of ``mqtt-replay bench``. Each plant of a
:class:`~mqtt_replay.fleet.Fleet` plays through its own engine :class:`Replayer` (its own
connection and client id); the built-in native subscriber (``_core.Probe``) subscribes to the
fleet's prefixes and stamps every arrival. Load shapes: time-scaled (``speed``), a target
total rate (``rate`` msg/s with the sessions' mix) or a ramp of rates that stops at the knee —
the first step with loss or with a latency over the SLO. Publisher (this process: engines and
probe) and, when the broker runs on this machine, broker CPU come from /proc, so the report
names the bottleneck. Results go to a JSON file and one self-contained HTML report.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from mqtt_replay import _core
from mqtt_replay.bench_metrics import PlantPlan, analyse, parse_ramp, parse_slo, slo_violations
from mqtt_replay.errors import InvalidOptionError
from mqtt_replay.fleet import DEFAULT_PREFIX, Fleet
from mqtt_replay.procstat import CpuMeter, find_listener_pid
from mqtt_replay.replay import Replayer
from mqtt_replay.session import Session

__all__ = ["BenchResult", "run_bench"]

Progress = Callable[[str], None]
SETTLE_S = 1.0  # no new arrival for this long after the last publish: the step is over
QUIET_S = 0.3  # before a step: the prefixes must have been silent this long …
QUIET_MAX_S = 30.0  # … waiting at most this long (a broker still digesting earlier traffic)
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}  # noqa: S104 (names, not a bind)


@dataclass
class BenchResult:
    """The report as a dict (``report``), where it was written, whether the SLO held."""

    report: dict[str, Any]
    json_path: Path | None = None
    html_path: Path | None = None
    violations: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations and not self.report.get("errors")


def broker_pid_for(url: str) -> int | None:
    """The pid of a broker on this machine listening on the URL's port, if cheap to find."""
    parts = urlsplit(url if "://" in url else f"mqtt://{url}")
    if (parts.hostname or "127.0.0.1") not in LOCAL_HOSTS:
        return None
    return find_listener_pid(parts.port or 1883)


def _plan(plant_k: int, prefix: str, session: Session, origin_us: float) -> PlantPlan:
    table = session.table
    topic = table.column("topic").combine_chunks()
    topics = topic.dictionary.to_pylist()
    codes = np.asarray(topic.indices.to_numpy(zero_copy_only=False), dtype=np.int32)
    t = np.asarray(table.column("timestamp").cast("int64").to_numpy(), dtype=np.int64)
    origin_ns = round(origin_us * 1000)
    due = origin_ns + (t - t[0]) * 1000 if len(t) else t
    return PlantPlan(plant_k, prefix, topics, codes, due)


def run_step(
    fleet: Fleet,
    broker: str,
    *,
    speed: float,
    duration_s: float | None = None,
    qos: int = 0,
    max_gap_s: float | None = None,
    inflight: int = 1000,
    broker_pid: int | None = None,
    allow_remote: bool = False,
    label: str = "",
    progress: Progress | None = None,
    settle_s: float = SETTLE_S,
    latency: bool = True,
) -> dict[str, Any]:
    """One load level: every plant at ``speed`` (optionally tiled or cut to ``duration_s``),
    measured; returns the step's dict (see :func:`mqtt_replay.bench_metrics.analyse`).

    ``latency=False`` only counts arrivals (no stamps, no per-message matching): the step then
    has counts and CPU but no latency, loss per plant or order. It exists to measure what the
    latency measurement costs (``benchmarks/bench_fleet.py``); ``cpu["analyse_s"]`` is the
    CPU time the matching took after the step, ``cpu["probe_thread_s"]`` the subscriber
    thread's."""
    sessions = [
        fleet.session(p.k, speed=speed, duration_s=duration_s, max_gap_s=max_gap_s)
        for p in fleet.plants
    ]
    expected_total = sum(len(s) for s in sessions)
    probe = _core.Probe(
        broker,
        client_id=f"mqtt-replay-probe-{os.getpid()}-{time.monotonic_ns() % 1_000_000}",
        topics=[(p.prefix + "#", qos) for p in fleet.plants],
        protocol=4,
        record=latency,
    )
    replayers: list[Replayer] = []
    errors: list[str] = []
    try:
        stale = _wait_for_quiet(probe)
        for spec, session in zip(fleet.plants, sessions, strict=True):
            replayers.append(
                Replayer(
                    session,
                    broker,
                    speed=1.0,
                    qos=qos,
                    retain=False,
                    status_topic=None,
                    client_id=spec.client_id,
                    spin_us=0,  # many engines share few cores: sleep, never spin
                    inflight=inflight,
                    paused=True,
                    allow_remote=allow_remote,
                )
            )
        meter = CpuMeter(broker_pid).start()
        started = time.monotonic()
        resume_at = [started + i * fleet.stagger_s for i in range(len(replayers))]
        resumed = [False] * len(replayers)
        origins: list[float | None] = [None] * len(replayers)
        while True:
            now = time.monotonic()
            for i, r in enumerate(replayers):
                if not resumed[i] and now >= resume_at[i]:
                    r.resume()
                    resumed[i] = True
            statuses = [r.status() for r in replayers]
            for i, s in enumerate(statuses):
                if s.get("origin_unix_us") is not None:
                    origins[i] = float(s["origin_unix_us"])
            sent = sum(int(s["sent"]) for s in statuses)
            if progress:
                got = int(probe.status()["received"])
                progress(
                    f"{label}sent {sent:,}/{expected_total:,}  received {got:,}  "
                    f"{now - started:5.1f} s"
                )
            if all(resumed) and all(r.finished for r in replayers):
                break
            pending = [t for t, done in zip(resume_at, resumed, strict=True) if not done]
            time.sleep(max(0.0, min([0.2, *(t - time.monotonic() for t in pending)])))
        publish_end = time.monotonic()
        # wait for the broker to deliver what it still holds
        last, last_change = -1, time.monotonic()
        while True:
            got = int(probe.status()["received"])
            if got != last:
                last, last_change = got, time.monotonic()
            if got >= expected_total or time.monotonic() - last_change >= settle_s:
                break
            time.sleep(0.05)
        cpu = meter.stop()
        received = int(probe.status()["received"])
        statuses = [r.status() for r in replayers]
    finally:
        for r in replayers:
            r.stop()
            r.close()
        seen = _drop_first(probe.stop(), stale)
    probe_s = round(float(seen.get("thread_cpu_s", 0.0)), 3)  # the subscriber thread's CPU
    for i, s in enumerate(statuses):
        if s.get("origin_unix_us") is not None:
            origins[i] = float(s["origin_unix_us"])
        if s.get("error"):
            errors.append(f"plant {fleet.plants[i].k}: {s['error']}")
    if not latency:
        sent = sum(int(s["sent"]) for s in statuses)
        return {
            "label": label.strip(" :"),
            "sent": sent,
            "received": received - stale,
            "publish_s": round(publish_end - started, 3),
            "cpu": {**cpu, "analyse_s": 0.0, "probe_thread_s": probe_s},
            "errors": errors,
        }
    analyse_cpu = time.process_time()
    plans = []
    for spec, session, origin in zip(fleet.plants, sessions, origins, strict=True):
        if origin is None:
            errors.append(f"plant {spec.k}: the engine reported no start time")
            origin = 0.0
        plans.append(_plan(spec.k, spec.prefix, session, origin))
    step = analyse(plans, seen)
    cpu = {
        **cpu,
        "analyse_s": round(time.process_time() - analyse_cpu, 3),
        "probe_thread_s": probe_s,
    }
    step.update(
        {
            "stale": stale,
            "label": label.strip(" :"),
            "speed": speed,
            "duration_s": duration_s,
            "publish_s": round(publish_end - started, 3),
            "sent": sum(int(s["sent"]) for s in statuses),
            "failed": sum(int(s["failed"]) for s in statuses),
            "publisher_lateness_p99_ms": round(
                max(float(s["lateness_p99_us"]) for s in statuses) / 1000, 3
            ),
            "cpu": cpu,
            "errors": errors,
        }
    )
    step["bottleneck"] = bottleneck(step)
    return step


def _wait_for_quiet(probe: Any) -> int:
    """Waits until nothing has arrived on the fleet's prefixes for ``QUIET_S`` (a broker may
    still deliver an earlier run's tail); returns how many messages arrived meanwhile."""
    last, since = int(probe.status()["received"]), time.monotonic()
    deadline = since + QUIET_MAX_S
    while time.monotonic() < deadline:
        time.sleep(0.05)
        got = int(probe.status()["received"])
        if got != last:
            last, since = got, time.monotonic()
        elif time.monotonic() - since >= QUIET_S:
            break
    return last


def _drop_first(seen: dict[str, Any], n: int) -> dict[str, Any]:
    """The probe's arrivals without the first ``n`` (arrived before the step started)."""
    if n <= 0:
        return seen
    out = dict(seen)
    for key, width in (("topic_index", 4), ("arrival_ns", 8), ("size", 4), ("dup", 1)):
        out[key] = bytes(seen[key])[n * width :]
    return out


def bottleneck(step: dict[str, Any], *, within_slo: bool = True) -> str:
    """Who limited the step, in words, from CPU shares and loss/rate (and the SLO)."""
    cpu = step["cpu"]
    cores = int(cpu.get("cores") or 1)
    broker = cpu.get("broker_pct")
    tool = float(cpu.get("tool_pct") or 0)
    machine = cpu.get("machine_pct")
    shown = (
        (f"broker {broker:.0f} %, " if broker is not None else "")
        + f"tool {tool:.0f} %"
        + (f", machine {machine:.0f} % of {cores} cores" if machine is not None else "")
    )
    served = (
        within_slo
        and not (step["lost"] or step["duplicates"])
        and step["delivered_rate"] >= 0.9 * step["offered_rate"]
    )
    if served:
        return f"none: load served ({shown} CPU)"
    if broker is not None and broker >= 85:
        return f"broker (CPU {broker:.0f} % of one core; Mosquitto uses one)"
    if tool >= 85 * cores:
        return f"tool (CPU {tool:.0f} % of {cores} cores)"
    if machine is not None and machine >= 90:
        # the cores are shared: the larger consumer left the other too little
        if broker is not None and broker >= tool:
            return f"broker, short of CPU ({shown})"
        return f"tool's CPU use starves the broker ({shown})"
    return f"broker queues or delivery ({shown} CPU; no CPU saturated)"


def run_bench(
    sessions: Sequence[Session | str | os.PathLike[str]] | Session | str | os.PathLike[str],
    broker: str,
    *,
    plants: int = 1,
    speed: float | None = None,
    rate: float | None = None,
    ramp: str | tuple[float, float, float, float] | None = None,
    duration_s: float | None = None,
    qos: int = 0,
    slo: str | dict[str, float] | None = None,
    out: str | os.PathLike[str] | None = ".",
    prefix: str = DEFAULT_PREFIX,
    stagger_s: float = 0.0,
    max_gap_s: float | None = None,
    inflight: int = 1000,
    broker_pid: int | None = None,
    allow_remote: bool = False,
    rewrite_ids: bool = True,
    progress: Progress | None = None,
    name: str | None = None,
) -> BenchResult:
    """Runs a benchmark and writes ``bench-<time>.json`` and ``.html`` into ``out`` (None:
    write nothing). Exactly one of ``speed``/``rate``/``ramp`` (default speed 1)."""
    if sum(x is not None for x in (speed, rate, ramp)) > 1:
        raise InvalidOptionError("give one of speed, rate or ramp")
    if qos not in (0, 1):
        raise InvalidOptionError(f"qos must be 0 or 1, not {qos}")
    slo_terms = parse_slo(slo) if isinstance(slo, str) or slo is None else dict(slo)
    fleet = Fleet(sessions, plants, prefix=prefix, rewrite_ids=rewrite_ids, stagger_s=stagger_s)
    if broker_pid is None:
        broker_pid = broker_pid_for(broker)
    started = datetime.now(UTC)
    common: dict[str, Any] = {
        "qos": qos,
        "max_gap_s": max_gap_s,
        "inflight": inflight,
        "broker_pid": broker_pid,
        "allow_remote": allow_remote,
        "progress": progress,
    }
    steps: list[dict[str, Any]] = []
    knee: dict[str, Any] | None = None
    mode = "ramp" if ramp is not None else "rate" if rate is not None else "speed"
    if ramp is not None:
        lo, hi, inc, seconds = parse_ramp(ramp) if isinstance(ramp, str) else ramp
        target = lo
        while target <= hi + 1e-9:
            step = run_step(
                fleet,
                broker,
                speed=fleet.speed_for_rate(target, duration_s=seconds, max_gap_s=max_gap_s),
                duration_s=seconds,
                label=f"{target:,.0f} msg/s: ",
                **common,
            )
            step["target_rate"] = target
            steps.append(step)
            broken = slo_violations(step, slo_terms or {"loss": 0.0})
            if broken:
                step["bottleneck"] = bottleneck(step, within_slo=False)
                knee = {
                    "target_rate": target,
                    "offered_rate": step["offered_rate"],
                    "reasons": broken,
                    "bottleneck": step["bottleneck"],
                }
                break
            target += inc
    else:
        play_speed = (
            fleet.speed_for_rate(rate, duration_s=duration_s, max_gap_s=max_gap_s)
            if rate is not None
            else (speed or 1.0)
        )
        step = run_step(fleet, broker, speed=play_speed, duration_s=duration_s, label="", **common)
        if rate is not None:
            step["target_rate"] = rate
        if slo_violations(step, slo_terms):
            step["bottleneck"] = bottleneck(step, within_slo=False)
        steps.append(step)
    violations = [
        f"{s['label'] or 'run'}: {v}" for s in steps for v in slo_violations(s, slo_terms)
    ]
    report = {
        "tool": "mqtt-replay bench",
        "version": getattr(_core, "__version__", "?"),
        "name": name or f"bench-{started:%Y%m%d-%H%M%S}",
        "started_at": started.isoformat(timespec="seconds"),
        "broker": broker,
        "qos": qos,
        "plants": plants,
        "prefix": prefix,
        "stagger_s": stagger_s,
        "sessions": [str(s.path) for s in fleet.sessions],
        "fleet_mean_rate": round(fleet.mean_rate(), 3),
        "mode": mode,
        "speed": speed,
        "rate": rate,
        "ramp": list(parse_ramp(ramp)) if isinstance(ramp, str) else ramp,
        "slo": slo_terms,
        "slo_ok": not violations,
        "slo_violations": violations,
        "knee": knee,
        "machine": {"cores": os.cpu_count(), "cpu": _cpu_model()},
        "errors": [e for s in steps for e in s["errors"]],
        "steps": steps,
    }
    result = BenchResult(report, violations=violations)
    if out is not None:
        from mqtt_replay.bench_report import write_reports

        result.json_path, result.html_path = write_reports(report, Path(out))
    return result


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "?"
