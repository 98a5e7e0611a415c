"""Recording throughput: our recorder vs ``mosquitto_sub -F`` writing a file vs a Python
paho subscriber writing NDJSON, while our replay engine publishes N messages as fast as
possible at QoS 1 into a local Mosquitto. Reports msg/s captured and messages lost.

Usage: ``python benchmarks/bench_recorder.py [--messages N] [--size BYTES]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_replay import free_port, write_uniform
from common import print_table
from mqtt_replay.local_broker import start_mosquitto
from mqtt_replay.recorder import Recorder
from mqtt_replay.replay import Replayer
from mqtt_replay.session import open_session

PAHO_SUB = r"""
import sys, json, time, base64
import paho.mqtt.client as mqtt
port, n, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
f = open(out, "w", buffering=1 << 20)
state = {"n": 0, "t0": None, "t1": None}
def on_message(c, u, m):
    if state["t0"] is None: state["t0"] = time.perf_counter()
    f.write(json.dumps({"topic": m.topic, "payload": m.payload.decode("utf-8", "replace"),
                        "timestamp": time.time(), "qos": m.qos, "retain": m.retain}) + "\n")
    state["n"] += 1
    if state["n"] >= n: state["t1"] = time.perf_counter()
c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-rec-paho")
c.on_message = on_message
c.connect("127.0.0.1", port); c.subscribe("bench/#", 1); c.loop_start()
print("ready", flush=True)
deadline = time.time() + float(sys.argv[4])
while state["t1"] is None and time.time() < deadline: time.sleep(0.01)
c.loop_stop(); f.close()
print(json.dumps({"n": state["n"], "t1": state["t1"] or time.perf_counter()}))
"""


def publish_all(port: int, session_path: Path) -> float:
    s = open_session(session_path)
    s.table  # noqa: B018
    t0 = time.perf_counter()
    r = Replayer(s, f"mqtt://127.0.0.1:{port}", speed="max", qos=1, status_topic=None)
    r.wait(None)
    r.close()
    return t0


def count_lines(path: Path) -> int:
    with path.open("rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 24), b""))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--size", type=int, default=200)
    args = ap.parse_args()
    n = args.messages
    work = Path(tempfile.mkdtemp(prefix="mqtt-replay-bench-rec-"))
    port = free_port()
    broker = start_mosquitto(port, work)
    session_path = write_uniform(work / "src.log", n, args.size, None)
    rows = []
    try:
        # our recorder
        rec = Recorder(f"mqtt://127.0.0.1:{port}", work / "ours", name="bench", topics=["bench/#"])
        time.sleep(0.3)
        t0 = publish_all(port, session_path)
        while rec.status()["messages"] < n and time.perf_counter() - t0 < 600:
            time.sleep(0.005)
        t1 = time.perf_counter()
        path = rec.stop()
        got = len(open_session(path))
        rows.append(["mqtt-replay recorder", n / (t1 - t0), n - got])

        # mosquitto_sub -F to a file
        out = work / "sub.txt"
        with out.open("wb") as f:
            sub = subprocess.Popen(
                [
                    "mosquitto_sub",
                    "-p",
                    str(port),
                    "-t",
                    "bench/#",
                    "-q",
                    "1",
                    "-C",
                    str(n),
                    "-F",
                    "%U %t %p",
                ],
                stdout=f,
            )
            time.sleep(0.5)
            t0 = publish_all(port, session_path)
            try:
                sub.wait(600)
            except subprocess.TimeoutExpired:
                sub.kill()
                sub.wait()
            t1 = time.perf_counter()
        rows.append(["mosquitto_sub -F > file", n / (t1 - t0), n - count_lines(out)])

        # Python paho subscriber writing NDJSON
        out = work / "paho.ndjson"
        proc = subprocess.Popen(
            [sys.executable, "-c", PAHO_SUB, str(port), str(n), str(out), "600"],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        proc.stdout.readline()
        t0 = publish_all(port, session_path)
        res = json.loads(proc.stdout.read().strip().splitlines()[-1])
        proc.wait()
        rows.append(["python paho → NDJSON", n / (res["t1"] - t0), n - res["n"]])
    finally:
        broker.terminate()
        broker.wait(10)
    ours = rows[0][1]
    print_table(
        f"Recording {n:,} messages of {args.size} B published at QoS 1 as fast as possible",
        ["recorder", "msg/s", "lost", "ours vs this"],
        [
            [r[0], f"{r[1]:,.0f}", r[2], "-" if i == 0 else f"{ours / r[1]:.2f}x"]
            for i, r in enumerate(rows)
        ],
    )


if __name__ == "__main__":
    main()
