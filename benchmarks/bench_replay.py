"""Replay throughput and timing fidelity against a local Mosquitto, in one script.

Peers: a Python paho-mqtt publish loop (the usual hand-written replayer) and
``mosquitto_pub -l`` (the native C client). A native ``mosquitto_sub`` counts what arrives,
so "every message arrived" is checked for every row.

Usage: ``python benchmarks/bench_replay.py [--messages N] [--drift-seconds S]``
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import print_table
from mqtt_replay.local_broker import start_mosquitto
from mqtt_replay.replay import Replayer
from mqtt_replay.session import Session, open_session

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "sessions"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_uniform(path: Path, n: int, size: int, rate: float | None) -> Path:
    """n messages of `size` payload bytes on 10 topics; `rate` msg/s spacing (None: 1 µs)."""
    step_us = 1 if rate is None else 1e6 / rate
    body = "x" * size
    with path.open("w") as f:
        for i in range(n):
            us = int(i * step_us)
            f.write(
                f'{{"topic":"bench/{i % 10}","payload":"{body}",'
                f'"timestamp":"2026-01-01T00:{us // 60_000_000 % 60:02d}:'
                f'{us // 1_000_000 % 60:02d}.{us % 1_000_000:06d}Z","qos":0,"retain":false}}\n'
            )
    return path


class Counter:
    """mosquitto_sub counting N messages on bench/# into a file (one short line each).

    ``finish()`` waits until all arrived or nothing has arrived for ``idle`` seconds (lost
    messages never come), and returns (arrived, time of the last arrival)."""

    def __init__(self, port: int, n: int, qos: int, work: Path, fmt: str = ".") -> None:
        self.n = n
        self.out = work / "counted.txt"
        self.file = self.out.open("wb")
        self.proc = subprocess.Popen(
            [
                "mosquitto_sub",
                "-p",
                str(port),
                "-t",
                "bench/#",
                "-q",
                str(qos),
                "-C",
                str(n),
                "-F",
                fmt,
            ],
            stdout=self.file,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5)

    def finish(self, idle: float = 5.0) -> tuple[int, float]:
        last_size, last_change = -1, time.perf_counter()
        while self.proc.poll() is None:
            size = self.out.stat().st_size
            now = time.perf_counter()
            if size != last_size:
                last_size, last_change = size, now
            elif now - last_change > idle:
                self.proc.kill()
                break
            time.sleep(0.05)
        self.proc.wait()
        end = time.perf_counter() if self.proc.returncode == 0 else last_change
        self.file.close()
        arrived = self.out.read_bytes().count(b"\n")
        return arrived, end


PAHO_LOOP = r"""
import sys, time, socket, json
import paho.mqtt.client as mqtt
port, n, size, qos = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-paho")
c.max_inflight_messages_set(1000); c.max_queued_messages_set(0)
c.connect("127.0.0.1", port); c.loop_start()
c.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
body = b"x" * size
t0 = time.perf_counter()
error = None
try:
    for i in range(n):
        info = c.publish(f"bench/{i % 10}", body, qos)
    info.wait_for_publish(120)
except Exception as exc:  # paho gives up (e.g. packet ids wrapped): report, do not hide
    error = repr(exc)
print(json.dumps({"t0": t0, "t1": time.perf_counter(), "error": error}))
c.loop_stop(); c.disconnect()
"""


def throughput(port: int, work: Path, n: int, size: int, qos: int) -> list[list[object]]:
    """Messages per second that arrive at a native subscriber, and how many were lost."""
    session = open_session(write_uniform(work / f"tp-{size}.log", n, size, None))
    session.table  # noqa: B018  (parse before timing)
    results: dict[str, tuple[float, int]] = {}

    counter = Counter(port, n, qos, work)
    t0 = time.perf_counter()
    r = Replayer(
        session, f"mqtt://127.0.0.1:{port}", speed="max", qos=qos, status_topic=None, inflight=1000
    )
    r.wait(None)
    arrived, t1 = counter.finish()
    r.close()
    results["mqtt-replay engine"] = (arrived / (t1 - t0), arrived)

    counter = Counter(port, n, qos, work)
    out = subprocess.run(
        [sys.executable, "-c", PAHO_LOOP, str(port), str(n), str(size), str(qos)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    arrived, t1 = counter.finish()
    times = json.loads(out.stdout.strip().splitlines()[-1])
    # t0 of the child is on the same perf_counter clock (CLOCK_MONOTONIC) as ours.
    results["paho-mqtt loop"] = (arrived / (t1 - times["t0"]), arrived)

    lines = work / f"lines-{size}.txt"
    if not lines.exists():
        lines.write_bytes((b"x" * size + b"\n") * n)
    counter = Counter(port, n, qos, work)
    t0 = time.perf_counter()
    with lines.open("rb") as f:
        subprocess.run(
            ["mosquitto_pub", "-p", str(port), "-t", "bench/0", "-q", str(qos), "-l"],
            stdin=f,
            timeout=900,
            check=False,
        )
    arrived, t1 = counter.finish()
    results["mosquitto_pub -l"] = (arrived / (t1 - t0), arrived)

    ours = results["mqtt-replay engine"][0]
    return [
        [
            f"{size} B QoS {qos}",
            name,
            f"{rate:,.0f}",
            "all" if arrived == n else f"LOST {n - arrived:,}",
            f"{ours / rate:.2f}x" if name != "mqtt-replay engine" else "-",
        ]
        for name, (rate, arrived) in results.items()
    ]


PAHO_TIMED = r"""
import sys, time, socket, json
import paho.mqtt.client as mqtt
port, n, rate = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-paho-timed")
c.connect("127.0.0.1", port); c.loop_start()
c.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
late = []
start = time.perf_counter() + 0.2
origin_us = (time.time() + (start - time.perf_counter())) * 1e6
for i in range(n):
    deadline = start + i / rate
    d = deadline - time.perf_counter()
    if d > 0: time.sleep(d)
    late.append(time.perf_counter() - deadline)
    c.publish(f"bench/{i % 10}", b"x" * 100, 0)
late.sort()
q = lambda p: late[min(len(late) - 1, int(p * len(late)))] * 1e6
print(json.dumps({"p50": q(0.5), "p99": q(0.99), "p999": q(0.999), "max": late[-1] * 1e6,
                  "origin_us": origin_us}))
c.loop_stop(); c.disconnect()
"""


class Stamper(Counter):
    """mosquitto_sub writing each message's arrival time (Unix seconds, ns digits)."""

    def __init__(self, port: int, n: int, work: Path) -> None:
        super().__init__(port, n, 0, work, fmt="%U")

    def arrivals_us(self) -> list[float]:
        self.finish()
        return [float(x) * 1e6 for x in self.out.read_text().split()]


def quantiles(values: list[float]) -> dict[str, float]:
    v = sorted(values)
    q = lambda p: v[min(len(v) - 1, int(p * len(v)))]  # noqa: E731
    return {"p50": q(0.5), "p99": q(0.99), "p999": q(0.999), "max": v[-1]}


def end_to_end(arrivals: list[float], origin_us: float, rate: float) -> dict[str, float]:
    """Lateness at the subscriber: arrival of message k minus its deadline origin + k/rate."""
    return quantiles([t - (origin_us + k * 1e6 / rate) for k, t in enumerate(arrivals)])


def replay_stamped(
    port: int, work: Path, session: Session, prefix: str | None = None
) -> tuple[dict[str, Any], float | None, list[float]]:
    """Replays ``session`` at 1x while a mosquitto_sub stamps arrivals: the engine's stats,
    the schedule's wall-clock origin (µs) and the arrival times (µs)."""
    stamper = Stamper(port, len(session), work)
    r = Replayer(session, f"mqtt://127.0.0.1:{port}", speed=1, status_topic=None, prefix=prefix)
    origin = None
    while origin is None and not r.wait(0.005):
        origin = r.status().get("origin_unix_us")
    r.wait(None)
    stats = r.stats()
    r.close()
    return stats, origin, stamper.arrivals_us()


def fidelity(port: int, work: Path, rate: float, n: int) -> list[list[object]]:
    session = open_session(write_uniform(work / f"fid-{int(rate)}.log", n, 100, rate))
    s, origin, arrivals = replay_stamped(port, work, session)
    ours_e2e = end_to_end(arrivals, origin, rate) if origin and len(arrivals) == n else None

    stamper = Stamper(port, n, work)
    out = subprocess.run(
        [sys.executable, "-c", PAHO_TIMED, str(port), str(n), str(rate)],
        capture_output=True,
        text=True,
        timeout=900,
        check=True,
    )
    p = json.loads(out.stdout.strip().splitlines()[-1])
    arrivals = stamper.arrivals_us()
    paho_e2e = end_to_end(arrivals, p["origin_us"], rate) if len(arrivals) == n else None

    def e2e(q: dict[str, float] | None, got: int) -> list[str]:
        if q is None:
            return ["-", "-", "-", "-", f"arrived {got:,}/{n:,}"]
        return [*(f"{q[k]:,.0f}" for k in ("p50", "p99", "p999", "max")), ""]

    label = f"{rate:,.0f} msg/s x {n:,}"
    return [
        [
            label,
            "mqtt-replay engine",
            *(f"{s[f'lateness_{k}_us']:,.0f}" for k in ("p50", "p99", "p999", "max")),
            *e2e(ours_e2e, n if ours_e2e else 0),
        ],
        [
            label,
            "python sleep + paho",
            *(f"{p[k]:,.0f}" for k in ("p50", "p99", "p999", "max")),
            *e2e(paho_e2e, len(arrivals)),
        ],
    ]


def fidelity_session(port: int, work: Path, path: Path) -> list[list[object]]:
    """A real recording replayed at 1x under the prefix ``bench/``: lateness at publish and
    at the subscriber (message k is due at origin + its offset in the stable time order)."""
    session = open_session(path)
    ts = session.index.column("timestamp").cast(pa.int64()).to_pylist()
    order = sorted(range(len(ts)), key=lambda k: ts[k])  # stable, like the engine
    offsets = [ts[k] - ts[order[0]] for k in order]
    s, origin, arrivals = replay_stamped(port, work, session, prefix="bench/")
    row: list[object] = [
        f"{path.name} at 1x ({len(ts):,} msgs, {offsets[-1] / 1e6:,.0f} s)",
        "mqtt-replay engine",
        *(f"{s[f'lateness_{k}_us']:,.0f}" for k in ("p50", "p99", "p999", "max")),
    ]
    if origin is None or len(arrivals) != len(ts):
        return [[*row, "-", "-", "-", "-", f"arrived {len(arrivals):,}/{len(ts):,}"]]
    q = quantiles([t - (origin + off) for t, off in zip(arrivals, offsets, strict=True)])
    return [[*row, *(f"{q[k]:,.0f}" for k in ("p50", "p99", "p999", "max")), ""]]


def drift(port: int, work: Path, seconds: float) -> list[object]:
    """A session of `seconds` at 20 msg/s replayed at 1x: lateness of the last message."""
    n = int(seconds * 20)
    session = open_session(write_uniform(work / "drift.log", n, 500, 20.0))
    r = Replayer(session, f"mqtt://127.0.0.1:{port}", speed=1, status_topic=None)
    r.wait(None)
    s = r.stats()
    r.close()
    return [
        f"{seconds:.0f} s at 1x ({n} msgs)",
        f"drift (lateness of the last message) {s['lateness_last_us']:.0f} µs",
        f"{s['elapsed_s']:.4f} s elapsed",
        f"max lateness {s['lateness_max_us']:.0f} µs",
        f"p99 {s['lateness_p99_us']:.0f} µs",
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--drift-seconds", type=float, default=60.0)
    ap.add_argument("--only", choices=["throughput", "fidelity", "drift"], help="one part only")
    args = ap.parse_args()
    if not shutil.which("mosquitto_sub"):
        sys.exit("mosquitto_sub is missing (apt-get install mosquitto-clients)")
    work = Path(tempfile.mkdtemp(prefix="mqtt-replay-bench-"))
    port = free_port()
    broker = start_mosquitto(port, work)
    try:
        rows: list[list[object]] = []
        for size in (100, 2000) if args.only in (None, "throughput") else ():
            for qos in (0, 1):
                print(f"throughput {size} B QoS {qos} …", file=sys.stderr, flush=True)
                rows += throughput(port, work, args.messages, size, qos)
        print_table(
            f"Throughput, as fast as possible, {args.messages:,} messages (end to end, counted "
            "by mosquitto_sub)",
            ["workload", "publisher", "msg/s arrived", "delivered", "ours vs this"],
            rows,
        )
        rows = []
        schedules = ((1_000, 10_000), (10_000, 50_000), (50_000, 100_000))
        for rate, n in schedules if args.only in (None, "fidelity") else ():
            print(f"fidelity {rate} msg/s …", file=sys.stderr, flush=True)
            rows += fidelity(port, work, rate, n)
        sample = SAMPLES / "Start_20251110_175151.log"
        if args.only in (None, "fidelity") and sample.exists():
            print(f"fidelity {sample.name} at 1x …", file=sys.stderr, flush=True)
            rows += fidelity_session(port, work, sample)
        print_table(
            "Timing fidelity: lateness in µs after the deadline, at publish and end to end "
            "(arrival at a mosquitto_sub)",
            [
                "schedule",
                "publisher",
                "publish p50",
                "p99",
                "p99.9",
                "max",
                "end-to-end p50",
                "p99",
                "p99.9",
                "max",
                "",
            ],
            rows,
        )
        if args.only in (None, "drift"):
            print(f"\nDrift: {' | '.join(map(str, drift(port, work, args.drift_seconds)))}")
    finally:
        broker.terminate()
        broker.wait(10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
