"""The OMF Dashboard under replay load: subscriber throughput, loss, and the polling callbacks.

A generated plant session is replayed by the engine into a private Mosquitto at 1k msg/s,
10k msg/s and as fast as possible, while the dashboard runs in this process exactly as
``python -m apps.omf_dashboard`` runs it: ``create_app`` with its paho client thread
subscribed to ``#``, and the overview and Message Center polling callbacks called every
250 ms through Flask (POST ``/_dash-update-component``, the request a browser sends, with the
``versions``/``view`` stores fed back as a browser would). Each schedule gets a fresh broker
and a fresh app (retained messages of one run must not reach the next).

Measured: published (engine ``sent``) vs counted (the dashboard client's ``received``; the
replay's status topic is disabled so only session messages count), processed msg/s (counted
over the time from the first to the last message seen by the subscriber), how long the
subscriber needed after the last publish to catch up, and per poll the server time and JSON
body size of each page's callback. An extra row replays the 10k schedule into a Mosquitto with
its default queue limits (skip with ``--no-stock``). Further tables split the callbacks by page,
show the paho thread's CPU per message (the app's ``handle_message`` vs paho's own work,
measured in place with ``time.thread_time``) with the GC generation-2 pauses, and the per-step
costs offline (paho alone, parse, state model, history).

Usage: ``python benchmarks/bench_dashboard.py [--scale 0.1] [--no-stock]``
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import paho.mqtt.client as mqtt
from apps.omf_dashboard.app import client_of, create_app, shutdown
from apps.omf_dashboard.client import DashboardClient
from apps.omf_dashboard.config import DashboardConfig
from apps.omf_dashboard.history import MessageHistory
from apps.omf_dashboard.payloads import decode, parse_payload
from apps.omf_dashboard.state import FactoryState
from paho.mqtt.enums import CallbackAPIVersion

from common import print_table
from mqtt_replay.generate import generate_session
from mqtt_replay.local_broker import start_mosquitto
from mqtt_replay.replay import Replayer
from mqtt_replay.session import open_session

POLL_S = 0.25
CLIENT_PREFIX = "bench-dashboard"
PAHO_THREAD = f"paho-mqtt-client-{CLIENT_PREFIX}"  # paho names its loop thread so
QUIET_S = 2.0  # the subscriber is done when its counter has not grown for this long
DRAIN_TIMEOUT_S = 600.0
BAR_MS = 100.0
BAR_KB = 200.0

# name, schedule rate (msg/s), messages, replay speed
SCHEDULES: tuple[tuple[str, float, int, float | str], ...] = (
    ("1k msg/s", 1_000, 20_000, 1),
    ("10k msg/s", 10_000, 100_000, 1),
    ("max", 10_000, 200_000, "max"),
)

SECTIONS = ("summary", "modules", "agvs", "stock", "orders", "sensors", "camera")
MESSAGE_INPUTS = (
    ("messages-direction", "value", "*"),
    ("messages-category", "value", "*"),
    ("messages-subcategory", "value", "*"),
    ("messages-topic", "value", ""),
    ("messages-time", "value", "any"),
    ("messages-hide-noisy", "value", True),
)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------------- the browser's polls
@dataclass
class Call:
    page: str
    start: float  # perf_counter
    seconds: float
    size: int
    status: int
    idle: bool = False  # a full redraw after the replay (no subscriber competing for the GIL)


class Browser:
    """Polls both pages' refresh callbacks as Dash's renderer would, from its own thread."""

    def __init__(self, app: Any) -> None:
        self.http = app.server.test_client()
        for url in ("/", "/messages"):  # the first requests set the callbacks up
            assert self.http.get(url).status_code == 200, url
        keys = list(app.callback_map)
        self.overview_key = next(k for k in keys if "overview-versions.data" in k)
        self.messages_key = next(k for k in keys if "messages-view.data" in k)
        self.versions: Any = None
        self.view: Any = None
        self.n = 0
        self.calls: list[Call] = []
        self.idle = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-browser", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        next_at = time.perf_counter()
        while not self._stop.is_set():
            self.n += 1
            self.poll_overview()
            self.poll_messages()
            next_at += POLL_S
            self._stop.wait(max(0.0, next_at - time.perf_counter()))

    def full_redraws(self, times: int) -> None:
        """Page loads with the subscriber idle: the callbacks' own cost, without contention."""
        self.idle = True
        for _ in range(times):
            self.versions = self.view = None
            self.n += 1
            self.poll_overview()
            self.poll_messages()

    def _post(self, page: str, body: dict[str, Any]) -> Any:
        t0 = time.perf_counter()
        response = self.http.post("/_dash-update-component", json=body)
        data = response.get_data()
        seconds = time.perf_counter() - t0
        self.calls.append(Call(page, t0, seconds, len(data), response.status_code, self.idle))
        if response.status_code == 200:
            return json.loads(data)["response"]
        if response.status_code != 204:
            raise RuntimeError(f"{page} callback answered {response.status_code}: {data[:500]!r}")
        return None

    def poll_overview(self) -> None:
        outputs = [{"id": f"overview-{s}", "property": "children"} for s in SECTIONS]
        outputs.append({"id": "overview-versions", "property": "data"})
        body = {
            "output": self.overview_key,
            "outputs": outputs,
            "inputs": [{"id": "overview-interval", "property": "n_intervals", "value": self.n}],
            "state": [{"id": "overview-versions", "property": "data", "value": self.versions}],
            "changedPropIds": ["overview-interval.n_intervals"],
        }
        answer = self._post("overview", body)
        if answer is not None:
            self.versions = answer["overview-versions"]["data"]

    def poll_messages(self) -> None:
        outputs = [
            {"id": "messages-grid", "property": "rowData"},
            {"id": "messages-counts", "property": "children"},
            {"id": "messages-category", "property": "options"},
            {"id": "messages-subcategory", "property": "options"},
            {"id": "messages-view", "property": "data"},
        ]
        inputs = [{"id": "messages-interval", "property": "n_intervals", "value": self.n}]
        inputs += [{"id": i, "property": p, "value": v} for i, p, v in MESSAGE_INPUTS]
        body = {
            "output": self.messages_key,
            "outputs": outputs,
            "inputs": inputs,
            "state": [{"id": "messages-view", "property": "data", "value": self.view}],
            "changedPropIds": ["messages-interval.n_intervals"],
        }
        answer = self._post("messages", body)
        if answer is not None:
            self.view = answer["messages-view"]["data"]


# ---------------------------------------------------------------------- one schedule
class GcPauses:
    """Durations of the cyclic garbage collector's generation-2 passes (they hold the GIL, so
    the paho thread and the callbacks both stop)."""

    def __init__(self) -> None:
        self.gen2: list[tuple[float, float]] = []  # (start, seconds)
        self._t0 = 0.0

    def start(self) -> None:
        gc.callbacks.append(self._callback)

    def stop(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
        elif info["generation"] == 2:
            self.gen2.append((self._t0, time.perf_counter() - self._t0))

    def overlapping(self, call: Call) -> bool:
        return any(t < call.start + call.seconds and call.start < t + d for t, d in self.gen2)


class SubscriberClock:
    """CPU time of the dashboard's paho thread, and the part of it spent in
    ``DashboardClient.handle_message`` (timed with ``time.thread_time`` by wrapping the bound
    method on this one instance: ~1 µs per message on top of the app's own work)."""

    def __init__(self, client: DashboardClient) -> None:
        self.handle_s = 0.0
        self._tid: int | None = None
        inner = client.handle_message

        def timed(
            topic: str, payload: bytes | bytearray | str, *, qos: int = 0, retain: bool = False
        ) -> None:
            t0 = time.thread_time()
            inner(topic, payload, qos=qos, retain=retain)
            self.handle_s += time.thread_time() - t0

        client.handle_message = timed  # type: ignore[method-assign]

    def thread_cpu(self) -> float:
        """utime + stime of the paho thread from /proc (0.0 where that is not available)."""
        if self._tid is None:
            found = [t for t in threading.enumerate() if t.name.startswith(PAHO_THREAD)]
            self._tid = found[0].native_id if len(found) == 1 else 0
        try:
            stat = Path(f"/proc/self/task/{self._tid}/stat").read_text()
        except OSError:
            return 0.0
        fields = stat[stat.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Result:
    name: str
    published: int
    counted: int
    processed_rate: float
    publish_rate: float
    catch_up_s: float
    max_backlog: int
    span_s: float
    thread_cpu_s: float
    handle_s: float
    calls: list[Call] = field(default_factory=list)
    gc: GcPauses = field(default_factory=GcPauses)


def start_stock_mosquitto(port: int, workdir: Path) -> subprocess.Popen[bytes]:
    """Mosquitto with its default limits (as the Debian package or a plant broker runs it):
    max_inflight_messages 20, max_queued_messages 1000 — which drop QoS 0 messages for a
    subscriber whose outgoing queue is full. ``start_mosquitto`` sets both to 0 (unlimited)."""
    config = f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
    return start_mosquitto(port, workdir, config=config)


def run_schedule(
    name: str, session_path: Path, speed: float | str, work: Path, *, stock_broker: bool = False
) -> Result:
    port = free_port()
    broker_dir = work / f"broker-{port}"
    broker_dir.mkdir()
    broker = (start_stock_mosquitto if stock_broker else start_mosquitto)(port, broker_dir)
    url = f"mqtt://127.0.0.1:{port}"
    app = create_app(DashboardConfig(broker_url=url, client_id_prefix=CLIENT_PREFIX))
    client = client_of(app)
    clock = SubscriberClock(client)
    pauses = GcPauses()
    browser: Browser | None = None
    try:
        browser = Browser(app)
        if not client.wait_connected(10):
            raise RuntimeError(f"the dashboard did not connect to {url}")
        time.sleep(0.3)  # the SUBACK: paho marks connected before the broker confirms
        session = open_session(session_path)
        session.table  # noqa: B018  (parse before the clock starts)
        samples: list[tuple[float, int, int]] = []  # (t, sent, received)
        cpu0 = clock.thread_cpu()
        pauses.start()
        with Replayer(session, url, speed=speed, status_topic=None) as replayer:
            browser.start()
            t_start = time.perf_counter()
            while not replayer.wait(0.02):
                samples.append((time.perf_counter(), replayer.status()["sent"], client.received))
            stats = replayer.stats()
        t_published = time.perf_counter()
        published = int(stats["sent"])
        last_change, last = t_published, client.received
        while time.perf_counter() - last_change < QUIET_S:
            time.sleep(0.02)
            now, received = time.perf_counter(), client.received
            samples.append((now, published, received))
            if received != last:
                last_change, last = now, received
            if now - t_published > DRAIN_TIMEOUT_S:
                break
        browser.stop()
        pauses.stop()
        cpu1 = clock.thread_cpu()
        counted = client.received
        browser.full_redraws(5)
        if stats["failed"]:
            print(f"  {name}: the engine reports {stats['failed']} failed", file=sys.stderr)
    finally:
        pauses.stop()
        if browser is not None:
            browser.stop()
        shutdown(app)
        broker.terminate()
        broker.wait(10)
    # The first sample that saw a message and the first that saw the final count: both lag
    # the event they stand for by up to one sampling interval (20 ms), so the span is unbiased.
    first = next((t for t, _, r in samples if r > 0), t_start)
    done = next((t for t, _, r in samples if r >= counted), samples[-1][0] if samples else first)
    span = max(done - first, 1e-3)
    catch_up = max(0.0, done - t_published)
    return Result(
        name=name,
        published=published,
        counted=counted,
        processed_rate=counted / span,
        publish_rate=float(stats["rate"]),
        catch_up_s=catch_up,
        max_backlog=max((s - r for _, s, r in samples), default=0),
        span_s=span,
        thread_cpu_s=cpu1 - cpu0,
        handle_s=clock.handle_s,
        calls=browser.calls,
        gc=pauses,
    )


# ---------------------------------------------------------------------- diagnosis
def paho_alone(session_path: Path, work: Path) -> tuple[int, int, float]:
    """A bare paho subscriber (``on_message`` only counts) at max speed: paho's own ceiling."""
    port = free_port()
    broker_dir = work / f"broker-{port}"
    broker_dir.mkdir()
    broker = start_mosquitto(port, broker_dir)
    url = f"mqtt://127.0.0.1:{port}"
    count = 0
    stamps: list[float] = []
    connected = threading.Event()

    def on_message(_c: Any, _u: Any, _m: Any) -> None:
        nonlocal count
        if count == 0:
            stamps.append(time.perf_counter())
        count += 1

    def on_connect(c: Any, *_: Any) -> None:
        c.subscribe("#", qos=0)

    sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-paho-alone")
    sub.on_message = on_message
    sub.on_connect = on_connect
    sub.on_subscribe = lambda *_: connected.set()
    try:
        sub.connect("127.0.0.1", port)
        sub.loop_start()
        connected.wait(10)
        session = open_session(session_path)
        session.table  # noqa: B018
        replayer = Replayer(session, url, speed="max", status_topic=None)
        replayer.wait(None)
        published = int(replayer.stats()["sent"])
        replayer.close()
        last, last_change = count, time.perf_counter()
        while time.perf_counter() - last_change < QUIET_S:
            time.sleep(0.02)
            if count != last:
                last, last_change = count, time.perf_counter()
        t_last = last_change
    finally:
        sub.disconnect()
        sub.loop_stop()
        broker.terminate()
        broker.wait(10)
    span = max(t_last - stamps[0], 1e-3) if stamps else 1.0
    return published, count, count / span


def per_message_costs(session_path: Path, limit: int) -> list[tuple[str, float]]:
    """µs per message of each step of ``DashboardClient.handle_message``, offline, no paho
    (best of 3 passes over the same messages, each step on a fresh model)."""
    table = open_session(session_path).table.slice(0, limit)
    topics = [str(t) for t in table.column("topic").to_pylist()]
    payloads = [p.encode("utf-8") for p in table.column("payload").to_pylist()]
    texts = [decode(p) for p in payloads]
    bodies = [parse_payload(t) for t in texts]

    def parse() -> None:
        for payload in payloads:
            parse_payload(decode(payload))

    def apply() -> None:
        state = FactoryState()
        for topic, body in zip(topics, bodies, strict=True):
            state.apply(topic, body, 0.0)

    def add() -> None:
        history = MessageHistory(10_000)
        for topic, text in zip(topics, texts, strict=True):
            history.add("received", topic, text, received_at=0.0)

    def handle() -> None:
        client = DashboardClient(DashboardConfig())  # never started: handle_message only
        for topic, payload in zip(topics, payloads, strict=True):
            client.handle_message(topic, payload)

    steps = (
        ("decode + json.loads", parse),
        ("FactoryState.apply", apply),
        ("MessageHistory.add", add),
        ("handle_message (all of it, with the lock)", handle),
    )
    out: list[tuple[str, float]] = []
    for step, fn in steps:
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t0)
        out.append((step, best / len(topics) * 1e6))
    return out


# ---------------------------------------------------------------------- report
def quantile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def call_cells(calls: list[Call]) -> list[str]:
    ms = [c.seconds * 1e3 for c in calls]
    return [
        f"{quantile(ms, 0.5):.1f}",
        f"{quantile(ms, 0.95):.1f}",
        f"{max(ms, default=float('nan')):.1f}",
        f"{max((c.size for c in calls), default=0) / 1024:.1f}",
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument(
        "--scale", type=float, default=1.0, help="multiply every message count (e.g. 0.05)"
    )
    ap.add_argument(
        "--no-stock", action="store_true", help="skip the extra 10k run on a default-config broker"
    )
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (sessions, logs)")
    args = ap.parse_args()
    logging.getLogger("apps.omf_dashboard").setLevel(logging.WARNING)
    work = Path(tempfile.mkdtemp(prefix="mqtt-replay-bench-dashboard-"))
    try:
        results: list[Result] = []
        paths: dict[str, Path] = {}
        for name, rate, messages, speed in SCHEDULES:
            n = max(100, int(messages * args.scale))
            path = work / f"bench-dashboard-{int(rate)}-{n}_20260115_090000.log"
            print(f"generating {n:,} messages at {rate:,.0f} msg/s …", file=sys.stderr, flush=True)
            generate_session(path, messages=n, rate=rate, seed=1, mix="plant")
            paths[name] = path
            print(f"replaying {name} ({n:,} messages) …", file=sys.stderr, flush=True)
            results.append(run_schedule(f"{name} x {n:,}", path, speed, work))
        ten = results[1]
        stock: Result | None = None
        if not args.no_stock:
            print("replaying 10k msg/s into a default-config Mosquitto …", file=sys.stderr)
            stock = run_schedule(
                f"{ten.name}, stock broker*", paths["10k msg/s"], 1, work, stock_broker=True
            )
            results.append(stock)

        rows = []
        for r in results:
            loaded = [c for c in r.calls if not c.idle]
            rows.append(
                [
                    r.name,
                    f"{r.published:,}",
                    f"{r.counted:,}",
                    f"{r.published - r.counted:,}",
                    f"{r.processed_rate:,.0f}",
                    f"{r.publish_rate:,.0f}",
                    f"{r.catch_up_s:.2f}",
                    f"{r.max_backlog:,}",
                    *call_cells(loaded)[:3],
                    f"{max(c.size for c in r.calls) / 1024:.1f}",
                ]
            )
        print_table(
            "OMF Dashboard under replay (subscriber = the app's own paho client thread; snapshot "
            f"= overview and Message Center refresh callbacks via Flask every {POLL_S * 1e3:.0f} "
            "ms, both pages pooled)",
            [
                "schedule",
                "published",
                "counted",
                "lost",
                "processed msg/s",
                "published msg/s",
                "catch-up s",
                "max backlog",
                "snapshot p50 ms",
                "p95 ms",
                "max ms",
                "max KB",
            ],
            rows,
        )
        if stock is not None:
            print(
                "  * Mosquitto with its default max_queued_messages 1000 / max_inflight_messages "
                "20 (Debian package, plant broker); start_mosquitto sets both to 0 = unlimited"
            )

        rows = []
        for r in results:
            for page in ("overview", "messages"):
                loaded = [c for c in r.calls if c.page == page and not c.idle]
                idle = [c.seconds * 1e3 for c in r.calls if c.page == page and c.idle]
                full = sum(1 for c in loaded if c.status == 200)
                rows.append(
                    [
                        r.name,
                        page,
                        f"{len(loaded)}",
                        f"{full}",
                        *call_cells(loaded),
                        f"{quantile(idle, 0.5):.1f}",
                    ]
                )
        print_table(
            "Refresh callbacks by page during the replay (server time of the POST, size of the "
            "JSON body; 200 = redrawn, else 204 = unchanged) and a full redraw afterwards",
            [
                "schedule",
                "page",
                "calls",
                "200s",
                "p50 ms",
                "p95 ms",
                "max ms",
                "max KB",
                "idle full redraw ms",
            ],
            rows,
        )

        rows = []
        for r in results:
            per_msg = r.thread_cpu_s / max(r.counted, 1) * 1e6
            handle = r.handle_s / max(r.counted, 1) * 1e6
            gen2 = [d for _, d in r.gc.gen2]
            rows.append(
                [
                    r.name,
                    f"{r.thread_cpu_s:.2f}",
                    f"{r.thread_cpu_s / r.span_s * 100:.0f}",
                    f"{per_msg:.1f}",
                    f"{handle:.1f}",
                    f"{per_msg - handle:.1f}",
                    f"{len(gen2)}",
                    f"{max(gen2, default=0) * 1e3:.0f}",
                    f"{sum(gen2) * 1e3:.0f}",
                ]
            )
        print_table(
            "Subscriber (the paho thread) from first to last message: CPU time, per message "
            "split into the app's handle_message and paho's own work; Python GC generation-2 "
            "passes (they hold the GIL: subscriber and callbacks both stop)",
            [
                "schedule",
                "thread CPU s",
                "busy %",
                "µs/msg",
                "handle_message",
                "paho",
                "gen2 passes",
                "max ms",
                "total ms",
            ],
            rows,
        )

        # Diagnosis: where the subscriber's time goes.
        max_path = paths["max"]
        print("diagnosis: paho alone at max speed …", file=sys.stderr, flush=True)
        published, counted, rate = paho_alone(max_path, work)
        n = min(50_000, published)
        costs = per_message_costs(max_path, n)
        rows = [
            ["paho-mqtt alone, live (on_message only counts)", f"{1e6 / rate:.1f}", f"{rate:,.0f}"]
        ]
        rows += [[step, f"{us:.1f}", f"{1e6 / us:,.0f}"] for step, us in costs]
        print_table(
            f"Subscriber cost per message (paho alone: max-speed replay, {counted:,}/{published:,} "
            f"counted; model steps: offline over the first {n:,} messages of that session)",
            ["step", "µs/msg", "msg/s ceiling"],
            rows,
        )

        loaded = [c for r in results if r is not stock for c in r.calls if not c.idle]
        worst_ms = max((c.seconds * 1e3 for c in loaded), default=0.0)
        p95_ms = quantile([c.seconds * 1e3 for c in loaded], 0.95)
        worst_kb = max((c.size for r in results for c in r.calls), default=0) / 1024
        lost = ten.published - ten.counted
        print("\nBars (private broker runs):")
        print(f"  no loss at 10k msg/s on loopback: lost {lost:,}  {verdict(lost == 0)}")
        print(
            f"  snapshot callback <= {BAR_MS:.0f} ms server time: max {worst_ms:.1f} ms  "
            f"{verdict(worst_ms <= BAR_MS)} (p95 {p95_ms:.1f} ms  {verdict(p95_ms <= BAR_MS)})"
        )
        slow = [(r, c) for r in results if r is not stock for c in r.calls if not c.idle]
        slow = [(r, c) for r, c in slow if c.seconds * 1e3 > BAR_MS]
        if slow:
            in_gc = sum(1 for r, c in slow if r.gc.overlapping(c))
            print(
                f"    {len(slow)} of {len(loaded)} calls took over {BAR_MS:.0f} ms; {in_gc} of "
                "them overlapped a GC generation-2 pass"
            )
        print(
            f"  snapshot payload <= {BAR_KB:.0f} KB per refresh: max {worst_kb:.1f} KB  "
            f"{verdict(worst_kb <= BAR_KB)}"
        )
        print(
            f"  (10k msg/s: the subscriber processed {ten.processed_rate:,.0f} msg/s, was up to "
            f"{ten.max_backlog:,} messages behind and caught up {ten.catch_up_s:.2f} s after "
            "the last publish)"
        )
        if stock is not None:
            lost = stock.published - stock.counted
            print(
                f"  (same replay into a default-config Mosquitto: lost {lost:,} of "
                f"{stock.published:,}  {verdict(lost == 0)})"
            )
    finally:
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


if __name__ == "__main__":
    main()
