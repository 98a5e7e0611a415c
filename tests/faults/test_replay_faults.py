"""The replay engine under faults: forbidden topics, a silent broker, a dead broker, restarts.

Each test does what the fault does — a real Mosquitto killed, a socket that stops answering,
a session with topics MQTT forbids — and asserts a clear error, a counted failure or a clean
stop, never a hang, a reconnect storm or "success" for what was not delivered.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from tests.conftest import Broker
from tests.faults.fake_brokers import DurableBroker, SilentBroker
from tests.mqtt_client import Subscriber

from mqtt_replay import open_session
from mqtt_replay.errors import InvalidOptionError
from mqtt_replay.replay import Replayer

pytestmark = [pytest.mark.broker, pytest.mark.timeout(120)]


def write_lines(path: Path, topics: list[str], *, gap_ms: int = 1) -> Path:
    lines = []
    for i, topic in enumerate(topics):
        ts = f"2026-01-01T00:00:{(i * gap_ms) // 1000:02d}.{(i * gap_ms) % 1000:03d}Z"
        lines.append(json.dumps({"topic": topic, "payload": f"m{i}", "timestamp": ts}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_forbidden_topics_are_counted_failed_and_never_sent(broker: Broker, tmp_path: Path) -> None:
    """Reported: `+`, `#` or U+0000 in a topic made the engine reconnect thousands of times a
    second while the report said success; a 70,000-byte topic went out with a wrapped length."""
    p = f"fault/{uuid.uuid4().hex[:8]}/"
    topics = ["ok/1", "a/+/b", "a/#", "nul\u0000x", "x" * 70_000, "ok/2"]
    session = open_session(write_lines(tmp_path / "bad-topics.log", topics))
    assert len(session) == len(topics)  # the reader keeps them: they are valid JSON
    with Subscriber(broker.host, broker.port, topic=p + "#") as sub:
        r = Replayer(session, broker.url, speed="max", prefix=p, qos=0, status_topic=None)
        assert r.wait(30)
        s = r.stats()
        r.close()
        time.sleep(0.3)
        got = [m.topic for m in sub.snapshot()]
    assert s["state"] == "finished"
    assert (s["sent"], s["failed"]) == (2, 4)
    assert s["reconnects"] == 0, "a forbidden topic must never cost a reconnect"
    reasons = " | ".join(s["failures"])
    assert "wildcard" in reasons and "U+0000" in reasons and "65535" in reasons
    assert sum(s["failures"].values()) == 4
    assert got == [p + "ok/1", p + "ok/2"]


def test_strict_refuses_and_a_bad_prefix_fails_every_message(
    broker: Broker, tmp_path: Path
) -> None:
    session = open_session(write_lines(tmp_path / "s.log", ["ok/1", "a/+/b"]))
    with pytest.raises(InvalidOptionError, match="wildcard"):
        Replayer(session, broker.url, speed="max", strict=True)
    # prefix="bad+/": every outgoing topic is invalid; nothing is sent, the run fails.
    r = Replayer(session, broker.url, speed="max", prefix="bad+/", status_topic=None)
    assert r.wait(30)
    s = r.stats()
    r.close()
    assert (s["sent"], s["failed"], s["reconnects"]) == (0, 2, 0)


def test_cli_play_exits_non_zero_when_messages_fail(broker: Broker, tmp_path: Path) -> None:
    f = write_lines(tmp_path / "cli.log", ["ok/1", "bad/#"])
    out = subprocess.run(
        [sys.executable, "-m", "mqtt_replay.cli", "play", str(f), "--broker", broker.url,
         "--speed", "max", "-q", "--json", "--prefix", f"fault/{uuid.uuid4().hex[:6]}/"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert out.returncode == 1, out.stderr
    report = json.loads(out.stdout)
    assert (report["sent"], report["failed"]) == (1, 1)
    assert "QoS 0: sent = written to the socket" in report["delivery"]


@pytest.mark.parametrize("qos", [0, 1])
def test_a_silent_broker_ends_the_replay_with_an_error(tmp_path: Path, qos: int) -> None:
    """Reported: a broker that stops acknowledging after CONNACK stalled a replay forever
    (no PINGREQ, no error, status `playing`)."""
    # Paced (20 ms apart, 8 s in all): at QoS 0 the socket takes every byte, so only the
    # keepalive can tell that nobody answers.
    topics = [f"s/{i % 5}" for i in range(400)]
    session = open_session(write_lines(tmp_path / "silent.log", topics, gap_ms=20))
    with SilentBroker() as fake:
        started = time.monotonic()
        r = Replayer(
            session, fake.url, speed=1, qos=qos, keepalive=1, give_up=3, inflight=50,
            status_topic=None,
        )  # fmt: skip
        assert r.wait(30), "the replay must end by itself"
        took = time.monotonic() - started
        s = r.stats()
        r.close()
    assert s["state"] == "failed"
    assert "giving up" in (s["error"] or ""), s["error"]
    assert took < 7, "ended by the give-up, not by the end of the session"
    assert fake.connections >= 2, "the silence was detected and handled like a lost connection"
    if qos == 1:
        assert s["failed"] > 0 and s["acked"] == 0


def test_a_dead_broker_ends_the_replay_with_an_error(
    private_broker: Broker, tmp_path: Path
) -> None:
    session = open_session(write_lines(tmp_path / "dead.log", ["d/1"] * 50, gap_ms=100))
    r = Replayer(session, private_broker.url, speed=1, qos=1, give_up=2, status_topic=None)
    time.sleep(0.3)
    private_broker.kill()
    assert r.wait(30)
    s = r.stats()
    r.close()
    assert s["state"] == "failed" and "giving up" in (s["error"] or "")
    assert s["sent"] + s["failed"] >= 1
    assert s["sent"] < 50


def test_qos1_replay_survives_three_crashes_of_a_durable_broker(tmp_path: Path) -> None:
    """A broker that crashes (connections reset, port closed for 0.3 s) three times during
    a QoS 1 replay while messages are unacknowledged, and keeps what it acknowledged: it
    must end up with every message, in order (repeats allowed: at least once)."""
    n = 600
    session = open_session(
        write_lines(tmp_path / "c.log", [f"c/{i % 4}" for i in range(n)], gap_ms=5)
    )
    broker = DurableBroker(ack_every=7)
    try:
        r = Replayer(session, broker.url, speed=1, qos=1, status_topic=None, inflight=50)
        for _ in range(3):
            time.sleep(0.7)
            broker.crash()
            time.sleep(0.3)
            broker.restart()
        assert r.wait(60)
        s = r.stats()
        r.close()
    finally:
        broker.close()
    assert s["state"] == "finished" and s["failed"] == 0, s
    assert s["reconnects"] >= 3 and s["resent"] >= 1
    got = [payload.decode() for _, payload, _ in broker.received]
    assert list(dict.fromkeys(got)) == [f"m{i}" for i in range(n)]
    # A repeat is a resend: marked DUP.
    first: set[str] = set()
    for _, payload, dup in broker.received:
        text = payload.decode()
        assert dup or text not in first
        first.add(text)


def test_qos1_replay_survives_three_kill_minus_9_of_mosquitto(tmp_path: Path) -> None:
    """Mosquitto itself killed (SIGKILL) and restarted three times during a QoS 1 replay:
    the replay finishes with nothing failed and never reorders. (Mosquitto does not keep what
    it acknowledged across a SIGKILL — its persistence is periodic — so loss is measured
    against the durable broker above, not here.)"""
    from mqtt_replay.local_broker import free_port, mosquitto_config, start_mosquitto, stop_process

    workdir = tmp_path / "b"
    workdir.mkdir()
    port = free_port()
    config = mosquitto_config(port)
    proc = start_mosquitto(port, workdir, config=config)
    n = 600
    p = f"kill/{uuid.uuid4().hex[:6]}/"
    session = open_session(
        write_lines(tmp_path / "k.log", [f"k/{i % 4}" for i in range(n)], gap_ms=10)
    )
    live = Subscriber("127.0.0.1", port, topic=p + "#", qos=1).start()
    try:
        r = Replayer(
            session, f"mqtt://127.0.0.1:{port}", speed=1, qos=1, prefix=p, status_topic=None
        )
        for _ in range(3):
            time.sleep(1.2)
            proc.kill()
            proc.wait(5)
            time.sleep(0.3)
            proc = start_mosquitto(port, workdir, config=config)
        assert r.wait(60)
        s = r.stats()
        r.close()
        seen = [int(m.payload.decode()[1:]) for m in live.snapshot()]
    finally:
        live.stop()
        stop_process(proc)
    assert s["state"] == "finished" and s["failed"] == 0, s
    assert s["reconnects"] >= 3
    firsts = list(dict.fromkeys(seen))
    assert firsts == sorted(firsts) and firsts[-1] == n - 1


@pytest.mark.parametrize("qos", [0, 1])
def test_a_healthy_broker_is_never_taken_for_a_silent_one(
    broker: Broker, tmp_path: Path, qos: int
) -> None:
    """Keepalive 1 s over a 4 s replay: every PINGREQ is answered, so the liveness check must
    never declare a live Mosquitto dead and reconnect."""
    session = open_session(write_lines(tmp_path / "quiet.log", ["q/1"] * 40, gap_ms=100))
    r = Replayer(session, broker.url, speed=1, qos=qos, keepalive=1, status_topic=None)
    assert r.wait(30)
    s = r.stats()
    r.close()
    assert (s["state"], s["failed"], s["reconnects"]) == ("finished", 0, 0), s
