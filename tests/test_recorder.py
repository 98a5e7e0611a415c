"""The recorder against a real Mosquitto: what is published is what is read back."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from tests.conftest import Broker

from mqtt_replay import InvalidOptionError, open_session
from mqtt_replay.recorder import Recorder
from mqtt_replay.replay import Replayer

pytestmark = pytest.mark.broker


def publisher(broker: Broker) -> mqtt.Client:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:6]}")
    c.connect(broker.host, broker.port)
    c.loop_start()
    return c


def wait_until(cond, timeout: float = 30.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return False


def test_known_sequence_reads_back_exactly(broker: Broker, tmp_path: Path) -> None:
    p = f"rec/{uuid.uuid4().hex[:8]}"
    big = json.dumps({"data": "data:image/png;base64," + "A" * 250_000})
    sent: list[tuple[str, bytes, bool]] = [
        (f"{p}/state", b'{"a":1}', False),
        (f"{p}/ümlaut/топик", 'ünïcödé ✓ "quoted"\n'.encode(), False),
        (f"{p}/big", big.encode(), False),
        (f"{p}/empty", b"", False),
        (f"{p}/retained", b"kept", True),
        (f"{p}/binary", bytes([0, 255, 254, 10, 13]), False),
        (f"{p}/state", b'{"a":1}', False),  # exact duplicate: a real second message
    ]
    rec = Recorder(broker.url, tmp_path, name="known", topics=[f"{p}/#"], flush_interval=0.2)
    c = publisher(broker)
    for topic, payload, retain in sent:
        c.publish(topic, payload, qos=1, retain=retain).wait_for_publish(10)
    assert wait_until(lambda: rec.status()["messages"] >= len(sent))
    path = rec.stop()
    c.publish(f"{p}/retained", b"", retain=True).wait_for_publish(10)  # clear the retained one
    c.loop_stop()
    s = open_session(path, strict=True)
    assert s.header is not None
    assert s.header["sessionName"] == "known"
    assert s.header["messages"] == len(sent)
    assert s.header["recordingEndedAt"] is not None
    got = list(zip(s.table.column("topic").to_pylist(), s.table.column("payload").to_pylist(),
                   s.table.column("retain").to_pylist(), strict=True))  # fmt: skip
    for (topic, payload, retain), (gt, gp, gr) in zip(sent, got, strict=True):
        assert gt == topic
        assert gr == retain
        if topic.endswith("/binary"):
            assert base64.b64decode(gp) == payload  # stored losslessly as base64 …
            assert s.payload_bytes(sent.index((topic, payload, retain))) == payload
        else:
            assert gp.encode() == payload
    raw = [json.loads(line) for line in path.read_text().splitlines()[1:]]
    assert raw[5]["payloadEncoding"] == "base64"  # … and marked as such
    assert all("receivedNs" in r for r in raw)
    assert path.name.startswith("known_") and path.suffix == ".log"


def test_what_is_published_right_after_start_is_recorded(broker: Broker, tmp_path: Path) -> None:
    """The constructor returns only after the SUBACK: no race with the first publish."""
    p = f"rec/{uuid.uuid4().hex[:8]}"
    c = publisher(broker)
    for i in range(5):
        rec = Recorder(broker.url, tmp_path / str(i), name="race", topics=[f"{p}/#"])
        assert rec.status()["subscribed"]
        c.publish(f"{p}/first", str(i).encode(), qos=1).wait_for_publish(10)
        assert wait_until(lambda rec=rec: rec.status()["messages"] >= 1)  # type: ignore[misc]
        path = rec.stop()
        assert open_session(path).table.column("payload").to_pylist() == [str(i)]
    c.loop_stop()


def test_presets_and_excludes(broker: Broker, tmp_path: Path) -> None:
    p = f"rec/{uuid.uuid4().hex[:8]}"
    rec = Recorder(broker.url, tmp_path, name="ex", topics=[f"{p}/#", "/j1/txt/1/i/#"],
                   preset="no_cam", exclude=[f"{p}/noise/+"], flush_interval=0.2)  # fmt: skip
    c = publisher(broker)
    for topic in ("/j1/txt/1/i/cam", "/j1/txt/1/i/bme680", f"{p}/noise/x", f"{p}/keep"):
        c.publish(topic, b"{}", qos=1).wait_for_publish(10)
    assert wait_until(lambda: rec.status()["messages"] + rec.status()["excluded"] >= 4)
    path = rec.stop()
    c.loop_stop()
    topics = open_session(path).table.column("topic").to_pylist()
    assert topics == ["/j1/txt/1/i/bme680", f"{p}/keep"]
    assert open_session(path).header["recordingExclusionPreset"] == "no_cam"  # type: ignore[index]
    with pytest.raises(InvalidOptionError):
        Recorder(broker.url, tmp_path, name="../escape")
    with pytest.raises(InvalidOptionError):
        Recorder(broker.url, tmp_path, name="x", preset="everything")


RECORD_SCRIPT = r"""
import sys, time
from mqtt_replay.recorder import Recorder
rec = Recorder(sys.argv[1], sys.argv[2], name="crash", topics=[sys.argv[3] + "/#"], flush_interval=0.2)
print(rec.status()["file"], flush=True)
while True:
    time.sleep(1)
"""


def test_kill_minus_9_keeps_everything_up_to_the_last_flush(broker: Broker, tmp_path: Path) -> None:
    p = f"rec/{uuid.uuid4().hex[:8]}"
    proc = subprocess.Popen([sys.executable, "-c", RECORD_SCRIPT, broker.url, str(tmp_path), p],
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stdout is not None
    path = Path(proc.stdout.readline().strip())
    c = publisher(broker)
    n = 20_000
    for i in range(n):
        c.publish(f"{p}/seq", str(i).encode(), qos=0)
        if i == n // 2:
            time.sleep(0.6)  # at least one flush happens mid-stream
    time.sleep(0.1)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    proc.stdout.close()
    c.loop_stop()
    s = open_session(path)  # lenient: at most a truncated last line
    assert len(s.skipped) <= 1
    assert all(k.line == s.lines for k in s.skipped)
    got = [int(x) for x in s.table.column("payload").to_pylist()]
    assert len(got) >= n // 2  # everything before the mid-stream flush is on disk
    assert got == list(range(len(got)))  # a gapless prefix, in order
    assert s.header is not None  # the header is there even though stop() never ran
    assert s.header["recordingEndedAt"] is None


def test_recording_survives_broker_restart(private_broker: Broker, tmp_path: Path) -> None:
    rec = Recorder(private_broker.url, tmp_path, name="restart", topics=["r/#"], flush_interval=0.2)
    c = publisher(private_broker)
    c.publish("r/before", b"1", qos=1).wait_for_publish(10)
    assert wait_until(lambda: rec.status()["messages"] == 1)
    c.loop_stop()
    private_broker.kill()
    time.sleep(0.5)
    private_broker.start()
    assert wait_until(lambda: rec.status()["reconnects"] >= 1)
    c = publisher(private_broker)
    c.publish("r/after", b"2", qos=1).wait_for_publish(10)
    assert wait_until(lambda: rec.status()["messages"] == 2)
    path = rec.stop()
    c.loop_stop()
    s = open_session(path, strict=True)
    assert s.table.column("topic").to_pylist() == ["r/before", "r/after"]
    assert len(s.metadata_lines) == 1  # the gap marker
    lines = path.read_text().splitlines()
    gap = json.loads(lines[s.metadata_lines[0] - 1])
    assert gap["_kind"] == "gap"


def test_rotation_by_size(broker: Broker, tmp_path: Path) -> None:
    p = f"rec/{uuid.uuid4().hex[:8]}"
    rec = Recorder(broker.url, tmp_path, name="rot", topics=[f"{p}/#"], rotate_bytes=20_000,
                   flush_interval=0.2)  # fmt: skip
    c = publisher(broker)
    for i in range(60):
        c.publish(
            f"{p}/x", json.dumps({"i": i, "pad": "x" * 1000}).encode(), qos=1
        ).wait_for_publish(10)
    assert wait_until(lambda: rec.status()["messages"] >= 60)
    rec.stop()
    c.loop_stop()
    files = sorted(rec.status()["files"])
    assert len(files) >= 3
    assert all("_part" in Path(f).name for f in files)
    seq = []
    for f in files:
        s = open_session(f, strict=True)  # every part is a valid session
        assert s.header is not None and s.header["part"] >= 1
        seq += [json.loads(x)["i"] for x in s.table.column("payload").to_pylist()]
    assert seq == list(range(60))


def test_round_trip_replay_while_recording(
    broker: Broker, tmp_path: Path, plant_session: Path
) -> None:
    source = open_session(plant_session)
    p = f"rt{uuid.uuid4().hex[:8]}/"
    rec = Recorder(broker.url, tmp_path, name="roundtrip", topics=[p + "#"], flush_interval=0.2)
    with Replayer(source, broker.url, speed="max", prefix=p, qos=1) as r:
        assert r.wait(60)
    assert wait_until(lambda: rec.status()["messages"] >= len(source))
    path = rec.stop()
    got = open_session(path, strict=True).table
    src = source.table
    assert [t.removeprefix(p) for t in got.column("topic").to_pylist()] == src.column(
        "topic"
    ).to_pylist()
    assert got.column("payload").to_pylist() == src.column("payload").to_pylist()
    assert got.column("retain").to_pylist() == src.column("retain").to_pylist()


def test_binary_payloads_replay_as_the_original_bytes(broker: Broker, tmp_path: Path) -> None:
    from tests.mqtt_client import Subscriber

    p = f"bin/{uuid.uuid4().hex[:8]}"
    body = bytes(range(256)) * 3
    rec = Recorder(broker.url, tmp_path, name="bin", topics=[f"{p}/#"], flush_interval=0.2)
    c = publisher(broker)
    c.publish(f"{p}/raw", body, qos=1).wait_for_publish(10)
    assert wait_until(lambda: rec.status()["messages"] == 1)
    path = rec.stop()
    c.loop_stop()
    session = open_session(path)
    assert session.table.column("binary").to_pylist() == [True]
    assert session.payload_bytes(0) == body
    out = f"out{uuid.uuid4().hex[:6]}/"
    with Subscriber(broker.host, broker.port, topic=out + "#") as sub:
        with Replayer(session, broker.url, speed="max", prefix=out) as r:
            r.wait(30)
        got = sub.wait_for(1)
    assert got[0].payload == body
