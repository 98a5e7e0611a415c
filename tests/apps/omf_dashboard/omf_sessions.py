"""Test helpers: read sample sessions and publish them to a broker at full speed.

``publish_session`` stands in for the project's replay engine (``mqtt_replay.Replayer``)
until that exists: it publishes a session's messages in file order with their recorded retain
flag, as fast as paho allows, and returns how many it published.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


@dataclass(frozen=True)
class SessionMessage:
    topic: str
    payload: str
    retain: bool


def _from_lines(lines: Iterator[str]) -> Iterator[SessionMessage]:
    for raw in lines:
        line = raw.strip().lstrip("\ufeff")
        if not line:
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if not isinstance(obj, dict) or "topic" not in obj:
            continue  # a header line
        payload = obj.get("payload")
        yield SessionMessage(
            obj["topic"], payload if isinstance(payload, str) else "", bool(obj.get("retain"))
        )


def read_session(path: Path) -> list[SessionMessage]:
    """Messages of an NDJSON ``.log``, a ``.zip`` holding one, or a ``.db``, in file order."""
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            name = next(n for n in archive.namelist() if n.endswith(".log") and "__MACOSX" not in n)
            text = archive.read(name).decode("utf-8", errors="replace")
        return list(_from_lines(iter(text.splitlines())))
    if path.suffix == ".db":
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            rows = db.execute("SELECT topic, payload FROM mqtt_messages ORDER BY id").fetchall()
        return [SessionMessage(t, p or "", False) for t, p in rows]
    with path.open(encoding="utf-8", errors="replace") as handle:
        return list(_from_lines(handle))


def publish_session(path: Path, host: str, port: int, *, timeout: float = 60.0) -> int:
    """Publish every message of ``path`` to ``host:port`` (QoS 0, recorded retain flag).

    Returns the number of messages published; raises RuntimeError if the broker cannot be
    reached or not everything was written to the socket within ``timeout``.
    """
    messages = read_session(path)
    connected = threading.Event()
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"test-replay-{uuid.uuid4().hex[:8]}"
    )
    client.on_connect = lambda *_args: connected.set()
    client.connect(host, port)
    client.loop_start()
    try:
        if not connected.wait(10):
            raise RuntimeError(f"could not connect to {host}:{port}")
        infos = [
            client.publish(m.topic, m.payload.encode("utf-8"), qos=0, retain=m.retain)
            for m in messages
        ]
        for info in infos:
            info.wait_for_publish(timeout)
    finally:
        client.disconnect()
        client.loop_stop()
    return len(messages)
