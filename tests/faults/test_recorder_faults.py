"""The recorder under faults: a full disk (a real tmpfs) and SIGKILL."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from tests.conftest import Broker, _skip_or_fail

from mqtt_replay import open_session
from mqtt_replay.recorder import Recorder

pytestmark = [pytest.mark.broker, pytest.mark.timeout(120)]


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs: a disk that fills up (needs root, as in CI)."""
    mnt = tmp_path / "full"
    mnt.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        _skip_or_fail(f"cannot mount a tmpfs for the full-disk test: {done.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_full_disk_stops_the_recorder_with_true_counters_and_a_final_header(
    broker: Broker, small_tmpfs: Path
) -> None:
    """Reported: on a full disk status() counted 17,254 messages where the file held 14,323,
    the header was not finalised and the state stayed `recording` until stop()."""
    topic = f"full/{uuid.uuid4().hex[:8]}"
    rec = Recorder(broker.url, small_tmpfs, name="full", topics=[topic + "/#"], flush_interval=0.05)
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:6]}")
    pub.connect(broker.host, broker.port)
    pub.loop_start()
    try:
        payload = "x" * 2000
        deadline = time.monotonic() + 60
        sent = 0
        while rec.status()["state"] != "stopped" and time.monotonic() < deadline:
            pub.publish(f"{topic}/{sent % 7}", payload, qos=1).wait_for_publish(5)
            sent += 1
            time.sleep(0.002)  # paced: many flushes succeed before the disk is full
        status = rec.status()
    finally:
        pub.loop_stop()
        pub.disconnect()
    assert status["state"] == "stopped", "a full disk ends the recording by itself"
    assert "No space left" in (status["error"] or ""), status["error"]
    file = Path(status["file"])
    session = open_session(file)
    assert session.skipped == [], "no partial line is left in the file"
    assert status["messages"] == len(session) > 0
    assert status["lost"] >= 1
    header = json.loads(file.read_text().split("\n", 1)[0])
    assert header["recordingEndedAt"] is not None
    assert header["messages"] == len(session)
    rec.stop()  # idempotent after the failure
