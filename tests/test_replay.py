"""The replay engine against a real Mosquitto (started by the fixtures on a free port)."""

from __future__ import annotations

import itertools
import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import Broker
from tests.mqtt_client import Subscriber

import mqtt_replay
from mqtt_replay import open_session
from mqtt_replay.replay import Replayer, parse_offset, parse_speed
from mqtt_replay.topics import matches, remap, selection

pytestmark = pytest.mark.broker


def write_session(
    path: Path, n: int, gap_s: float, *, topic: str = "t", retain_every: int = 0, pad: int = 0
) -> Path:
    lines = []
    for i in range(n):
        us = int(i * gap_s * 1e6)
        ts = (
            f"2026-01-01T00:{us // 60_000_000:02d}:{us // 1_000_000 % 60:02d}.{us % 1_000_000:06d}Z"
        )
        retain = bool(retain_every) and i % retain_every == 0
        lines.append(
            json.dumps(
                {
                    "topic": f"{topic}/{i % 3}",
                    "payload": str(i) + "x" * pad,
                    "timestamp": ts,
                    "qos": 0,
                    "retain": retain,
                }
            )
        )
    path.write_text("\n".join(lines) + "\n")
    return path


def prefix() -> str:
    return f"test/{uuid.uuid4().hex[:10]}/"


def test_plant_session_arrives_exactly(broker: Broker, plant_session: Path) -> None:
    """Topics, payload bytes, retain flags and order of a plant session, at full speed."""
    session = open_session(plant_session)
    p = prefix()
    with Subscriber(broker.host, broker.port, topic=p + "#") as sub:
        with Replayer(session, broker.url, speed="max", prefix=p, qos=1) as r:
            assert r.wait(60)
            stats = r.stats()
        got = sub.wait_for(len(session))
    assert stats["sent"] == len(session) and stats["failed"] == 0
    table = session.table
    # The engine sends in timestamp order (stable); this file is already in order.
    expected = list(
        zip(
            table.column("topic").to_pylist(),
            table.column("payload").to_pylist(),
            table.column("retain").to_pylist(),
            strict=True,
        )
    )
    received = [(m.topic.removeprefix(p), m.payload.decode(), m.retain) for m in got]
    assert received == expected


def test_publish_order_is_stable_sort_by_timestamp(broker: Broker, tmp_path: Path) -> None:
    path = tmp_path / "s.log"
    rows = [
        ("a", "2026-01-01T00:00:02Z"),
        ("b", "2026-01-01T00:00:01Z"),
        ("c", "2026-01-01T00:00:01Z"),
        ("d", "2026-01-01T00:00:00Z"),
    ]
    path.write_text(
        "".join(json.dumps({"topic": "x", "payload": p, "timestamp": t}) + "\n" for p, t in rows)
    )
    p = prefix()
    with Subscriber(broker.host, broker.port, topic=p + "#") as sub:
        with Replayer(path, broker.url, speed="max", prefix=p) as r:
            r.wait(30)
        got = sub.wait_for(4)
    assert [m.payload for m in got] == [b"d", b"b", b"c", b"a"]


def test_pause_resume_and_speed_change(broker: Broker, tmp_path: Path) -> None:
    session = write_session(tmp_path / "s.log", 30, 0.05)
    p = prefix()
    with Subscriber(broker.host, broker.port, topic=p + "#") as sub:
        with Replayer(session, broker.url, speed=1, prefix=p, status_topic=None) as r:
            sub.wait_for(5)
            r.pause()
            time.sleep(0.2)
            # The engine's own count (arrivals may lag on a loaded machine).
            frozen = r.status()["sent"]
            time.sleep(0.4)
            assert r.status()["sent"] == frozen  # nothing is sent while paused
            assert r.status()["state"] == "paused"
            r.resume()
            r.set_speed("max")
            assert r.wait(30)
            stats = r.stats()
        got = sub.wait_for(30)
    assert [int(m.payload) for m in got] == list(range(30))
    assert stats["sent"] == 30


def test_deadlines_are_never_early(broker: Broker, tmp_path: Path) -> None:
    """At 1x the second message cannot leave before its recorded offset (a lower bound)."""
    session = write_session(tmp_path / "s.log", 3, 0.3)
    p = prefix()
    with Subscriber(broker.host, broker.port, topic=p + "#") as sub:
        with Replayer(session, broker.url, speed=1, prefix=p) as r:
            r.wait(30)
        got = sub.wait_for(3)
    gaps = [(b.at_ns - a.at_ns) / 1e9 for a, b in itertools.pairwise(got)]
    assert all(g >= 0.29 for g in gaps), gaps


def test_origin_lets_a_subscriber_measure_end_to_end_lateness(
    broker: Broker, tmp_path: Path
) -> None:
    """``origin_unix_us`` is when the first message is due on the wall clock: no message
    arrives before origin + its offset (a lower bound, whatever the machine's load)."""
    session = write_session(tmp_path / "s.log", 10, 0.05)
    p = prefix()
    with Subscriber(broker.host, broker.port, topic=p + "#") as sub:
        before_us = time.time() * 1e6
        with Replayer(session, broker.url, speed=2, prefix=p, status_topic=None) as r:
            origin = None
            while origin is None and not r.wait(0.002):
                origin = r.status()["origin_unix_us"]
            r.pause()
            deadline = time.monotonic() + 10
            while r.status()["state"] != "paused" and time.monotonic() < deadline:
                time.sleep(0.005)
            assert r.status()["origin_unix_us"] is None  # nothing is due while paused
            r.resume()
            assert r.wait(30)
        got = sub.wait_for(10)
    assert origin is not None and origin >= before_us - 1000
    wall_minus_mono_us = (time.time_ns() - time.monotonic_ns()) / 1e3  # arrivals: monotonic
    for k, m in enumerate(got):  # offsets 0.05 s apart at 2x: 25 ms
        assert m.at_ns / 1e3 + wall_minus_mono_us >= origin + k * 25_000 - 1000, k
    with Replayer(session, broker.url, speed="max", prefix=p, status_topic=None) as r:
        assert r.wait(30)
        assert r.status()["sent"] == 10
        assert r.status()["origin_unix_us"] is None  # as fast as possible: no deadlines


def test_seek_and_step(broker: Broker, tmp_path: Path) -> None:
    session = write_session(tmp_path / "s.log", 50, 0.01)
    p = prefix()
    with Subscriber(broker.host, broker.port, topic=p + "#") as sub:
        with Replayer(session, broker.url, speed=1, prefix=p, paused=True) as r:
            r.seek(index=40)
            r.step()
            r.step()
            sub.wait_for(2)
            time.sleep(0.2)
            assert [int(m.payload) for m in sub.snapshot()] == [40, 41]
            r.seek(0.2)  # seconds: message 20
            r.set_speed("max")
            r.resume()
            r.wait(30)
        got = sub.wait_for(2 + 30)
    assert [int(m.payload) for m in got] == [40, 41, *range(20, 50)]


def test_loop_and_window(broker: Broker, tmp_path: Path) -> None:
    session = write_session(tmp_path / "s.log", 10, 0.01)
    p = prefix()
    with Subscriber(broker.host, broker.port, topic=p + "#") as sub:
        with Replayer(
            session, broker.url, speed=10, loop=True, start=0.02, end=0.05, prefix=p
        ) as r:
            sub.wait_for(9)
            r.set_loop(False)
            r.wait(30)
            loops = r.status()["loops"]
        got = [int(m.payload) for m in sub.wait_for(4 * (loops + 1))]
    assert loops >= 2
    assert got == [2, 3, 4, 5] * (loops + 1)


def test_filters_remap_and_priming(broker: Broker, tmp_path: Path) -> None:
    session = write_session(tmp_path / "s.log", 30, 0.001, retain_every=4)
    p = prefix()
    with Subscriber(broker.host, broker.port, topic=p + "#") as sub:
        with Replayer(
            session,
            broker.url,
            speed="max",
            start=0.02,
            prime="retained",
            exclude=["t/2"],
            remap_rules=[("t/", "u/")],
            prefix=p,
        ) as r:
            r.wait(30)
            stats = r.stats()
        got = sub.wait_for(stats["sent"] + stats["primed"])
    # Before 0.02 s: messages 0..19; topics t/0 and t/1 (t/2 excluded). The last retained
    # message of each topic before the start: t/0 → 12 (retained: 0,4,8,12,16 on t/(i%3)),
    # so t/0 has 0 and 12; t/1 has 4 and 16 -> last of t/1 before 20 is 19 (not retained),
    # hence only topics whose *last* message was retained are primed.
    before = [i for i in range(20) if i % 3 != 2]
    last = {}
    for i in before:
        last[i % 3] = i
    primed = sorted(i for i in last.values() if i % 4 == 0)
    rest = [i for i in range(20, 30) if i % 3 != 2]
    assert [int(m.payload) for m in got] == primed + rest
    assert all(m.topic.startswith(p + "u/") for m in got)
    assert stats["primed"] == len(primed)


def test_refuses_remote_broker_and_bad_options(tmp_path: Path) -> None:
    session = write_session(tmp_path / "s.log", 3, 0.1)
    with pytest.raises(mqtt_replay.BrokerError, match="loopback"):
        Replayer(session, "mqtt://192.0.2.1:1883")
    with pytest.raises(mqtt_replay.InvalidOptionError):
        Replayer(session, "mqtt://127.0.0.1:1", speed=1000)
    with pytest.raises(mqtt_replay.BrokerError):
        Replayer(session, "mqtt://127.0.0.1:1")  # nothing listens on port 1
    with pytest.raises(mqtt_replay.InvalidOptionError):
        Replayer(session, "http://127.0.0.1:8883")
    with pytest.raises(mqtt_replay.InvalidOptionError, match="CA file"):
        Replayer(session, f"mqtts://127.0.0.1:1?ca={tmp_path}/missing.pem")


def test_status_topic_announces_the_replay(broker: Broker, tmp_path: Path) -> None:
    session = write_session(tmp_path / "demo_20260101_000000.log", 5, 0.01)
    status_topic = prefix() + "status"
    with Subscriber(broker.host, broker.port, topic=status_topic) as sub:
        with Replayer(session, broker.url, speed="max", status_topic=status_topic) as r:
            r.wait(30)
        time.sleep(0.3)
        got = sub.snapshot()
    states = [json.loads(m.payload) for m in got]
    assert all(m.retain for m in got)
    assert states[-1]["state"] == "finished"
    assert states[-1]["sent"] == 5
    assert states[-1]["session"] == "demo_20260101_000000"


def wait_received(probe: Any, n: int, *, idle_s: float, poll_s: float) -> int:
    """Waits until ``probe`` counted ``n`` arrivals or none came for ``idle_s``; the count."""
    last, changed = -1, time.monotonic()
    while time.monotonic() - changed < idle_s:
        got = int(probe.status()["received"])
        if got != last:
            last, changed = got, time.monotonic()
        if got >= n:
            break
        time.sleep(poll_s)
    return last


def test_qos1_full_window_is_refilled_in_batches(broker: Broker, tmp_path: Path) -> None:
    """QoS 1 at full speed with a small in-flight window: the engine waits until a quarter of
    the window is acknowledged and then sends what fits in one write. It used to wake at every
    PUBACK and write each message on its own (a thread switch and a syscall per message,
    which starved the broker of CPU in fleet benchmarks), and nothing showed how often."""
    n, window = 20_000, 100
    session = write_session(tmp_path / "s.log", n, 0.0001)
    r = Replayer(session, broker.url, speed="max", qos=1, status_topic=None, inflight=window)
    assert r.wait(120)
    status = r.status()
    stats = r.stats()
    r.close()
    assert stats["failed"] == 0 and stats["sent"] == n
    waits = int(status["window_waits"])
    # at full speed the window fills: at least once, at most once per quarter window
    assert 1 <= waits <= n // (window // 4), f"{waits:,} waits for {n:,} messages"


def test_acknowledgements_are_read_in_batches(broker: Broker, tmp_path: Path) -> None:
    """QoS 1 at full speed: the engine's ack reader naps between reads (2 ms with the default
    window), so the PUBACKs arrive in batches and the broker does not pay a wake-up for each
    one it writes (with 100 plants that cost 28 % of Mosquitto's time and held the fleet at
    0.7x of mosquitto_pub). The old reader woke for almost every PUBACK."""
    n = 20_000
    session = write_session(tmp_path / "s.log", n, 0.0001)
    r = Replayer(session, broker.url, speed="max", qos=1, status_topic=None)
    assert r.wait(120)
    status = r.status()
    stats = r.stats()
    r.close()
    assert stats["failed"] == 0 and stats["sent"] == n
    reads = int(status["ack_reads"])
    assert 1 <= reads <= n // 10, f"{reads:,} reads for {n:,} PUBACKs"


def test_a_busy_broker_is_not_taken_for_a_silent_one(
    private_broker: Broker, tmp_path: Path
) -> None:
    """A flood at QoS 0 into a broker that reads slowly (here: our own broker process stopped
    90 % of the time): its answer to a PINGREQ waits behind seconds of backlog, longer than
    half the keepalive. The engine used to declare it silent and reconnect; the session
    takeover discarded the old connection's unread backlog while every message counted as
    sent (16 reconnects and 47 % of 1M messages lost in a 10-plant fleet run). A broker that
    keeps reading is busy, not silent: nothing is lost and nobody reconnects."""
    import os
    import signal
    import threading

    from mqtt_replay import _core

    n = 60_000
    session = write_session(tmp_path / "s.log", n, 0.00001, pad=100)
    assert private_broker.proc is not None
    pid = private_broker.proc.pid
    probe = _core.Probe(private_broker.url, client_id="busy-probe", topics=[("t/#", 0)])
    slow = threading.Event()
    slow.set()

    def throttle() -> None:
        while slow.is_set():
            os.kill(pid, signal.SIGSTOP)
            time.sleep(0.18)
            os.kill(pid, signal.SIGCONT)
            time.sleep(0.02)

    thread = threading.Thread(target=throttle, daemon=True)
    try:
        r = Replayer(
            session, private_broker.url, speed="max", qos=0, status_topic=None, keepalive=2
        )
        thread.start()
        assert r.wait(300)
        stats = r.stats()
        # the broker delivers what it holds (still throttled), then runs freely
        last = wait_received(probe, n, idle_s=3.0, poll_s=0.1)
        slow.clear()
        thread.join(5)
        r.close()
    finally:
        slow.clear()
        os.kill(pid, signal.SIGCONT)
        probe.stop()
    received = last
    assert stats["sent"] == n and stats["failed"] == 0
    assert stats["reconnects"] == 0, stats
    assert received == n, f"{n - received:,} of {n:,} messages lost"


def _probe_run(
    url: str, session: Path, n: int, speed: float | str, qos: int = 0
) -> dict[str, object]:
    """Replays ``session`` into the broker at ``url`` with a probe on ``t/#``, both at
    ``qos``, and returns what the probe saw once all ``n`` arrived (or nothing came for 5 s)."""
    from mqtt_replay import _core

    probe = _core.Probe(url, client_id=f"probe-{time.monotonic_ns()}", topics=[("t/#", qos)])
    try:
        r = Replayer(session, url, speed=speed, qos=qos, status_topic=None)
        assert r.wait(120)
        r.close()
        wait_received(probe, n, idle_s=5.0, poll_s=0.02)
    finally:
        seen = probe.stop()
    assert len(bytes(seen["arrival_ns"])) // 8 == n
    return dict(seen)


def test_a_streaming_probe_does_not_wake_for_every_message(
    tmp_path: Path, private_broker: Broker
) -> None:
    """Under a flood of QoS 0 messages the probe naps between reads, so the messages queue in
    its socket and the broker does not pay a wake-up for each one it forwards (that cost a
    fifth of Mosquitto's time and held a 10-plant fleet at 0.8x of mosquitto_pub's rate).
    The old probe kept up by reading after every packet or two."""
    n = 50_000
    session = write_session(tmp_path / "s.log", n, 0.00001, pad=100)
    seen = _probe_run(private_broker.url, session, n, "max")
    reads = int(seen["reads"])  # type: ignore[call-overload]
    assert reads <= n // 10, f"{reads:,} reads for {n:,} messages"


def test_a_streaming_qos1_probe_reads_in_batches_when_the_broker_lets_it(
    tmp_path: Path, private_broker: Broker
) -> None:
    """At QoS 1 too the probe naps in a stream, after acknowledging what it read: briefly
    (40 µs, so a broker's default window of 20 in flight is no cap), so a read takes
    several messages and one write acknowledges them. The old probe never napped at QoS 1:
    4 reads (and 4 acknowledgement writes) for every 5 messages on this 2-core VM."""
    n = 50_000
    session = write_session(tmp_path / "s.log", n, 0.00001, pad=100)
    seen = _probe_run(private_broker.url, session, n, "max", qos=1)
    reads = int(seen["reads"])  # type: ignore[call-overload]
    assert reads <= n // 2, f"{reads:,} reads for {n:,} messages"


def test_a_sparse_flow_is_read_message_by_message(tmp_path: Path, private_broker: Broker) -> None:
    """A sparse flow (one message every 10 ms) never triggers the nap: each message is read,
    and stamped, when it arrives."""
    n = 100
    session = write_session(tmp_path / "s.log", n, 0.01)
    seen = _probe_run(private_broker.url, session, n, 1.0)
    reads = int(seen["reads"])  # type: ignore[call-overload]
    assert reads >= n * 0.8, f"{reads} reads for {n} messages"


def test_broker_restart_mid_replay_loses_nothing(tmp_path: Path) -> None:
    """QoS 1: the engine reconnects and resends every unacknowledged message."""
    from tests.conftest import _start_broker

    workdir = tmp_path / "broker"
    workdir.mkdir()
    broker = _start_broker(workdir)
    broker.stop()
    broker.persistent = True
    broker.start()
    n = 3000
    session = write_session(tmp_path / "s.log", n, 0.001)
    # The witness is a persistent-session subscriber that is offline while the broker
    # restarts, so the broker queues (and persists) what it accepted; what the engine fails
    # to resend after the restart would be missing.
    sid = f"witness-{uuid.uuid4().hex[:8]}"
    sub = Subscriber(broker.host, broker.port, topic="t/#", persistent=True, client_id=sid)
    sub.start()
    try:
        r = Replayer(session, broker.url, speed=1, qos=1, status_topic=None, inflight=100)
        before = len(sub.wait_for(n // 3))
        sub.stop()
        before = len(sub.snapshot())
        broker.stop()  # the engine sees the connection drop mid-replay
        time.sleep(0.5)
        broker.start()
        sub = Subscriber(broker.host, broker.port, topic="t/#", persistent=True, client_id=sid)
        sub.start()
        assert r.wait(120)
        stats = r.stats()
        r.close()
        got = sub.wait_for(n - before, timeout=60)
        second = [int(m.payload) for m in got]
    finally:
        sub.stop()
        broker.stop()
    assert stats["failed"] == 0 and stats["sent"] == n
    assert stats["reconnects"] >= 1
    # Everything after what the witness saw before going offline arrives (QoS 1 may
    # duplicate). Only a message in flight to the witness itself at the instant it went
    # offline is the broker's to redeliver, not the engine's; allow that one.
    missing = set(range(before, n)) - set(second)
    assert missing <= {before}, sorted(missing)[:10]


def test_option_parsing() -> None:
    assert parse_speed("max") == 0.0
    assert parse_speed("2x") == 2.0
    with pytest.raises(mqtt_replay.InvalidOptionError):
        parse_speed(0.01)
    assert parse_offset("1:30", None) == 90_000_000
    assert parse_offset(2.5, None) == 2_500_000
    assert matches("a/+/c", "a/b/c") and matches("a/#", "a") and not matches("a/+", "a/b/c")
    assert matches("re:^/j1/.*cam$", "/j1/txt/1/i/cam")
    assert selection(["a/b", "c/d"], ["a/#"], None) == [True, False]
    assert selection(["a/b", "c/d"], None, ["a/#"]) == [False, True]
    assert remap("t/x", "p/", [("t/", "u/")]) == "p/u/x"
