"""Test helpers: read sample sessions and publish them to a broker at full speed.

``publish_session`` replays a session with the project's replay engine
(``mqtt_replay.Replayer``) as fast as possible, with the recorded retain flags, and returns how
many messages it sent.
"""

from __future__ import annotations

import json
import sqlite3
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


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
    """Replay every message of ``path`` into ``host:port`` with the project's replay engine
    (``mqtt_replay.Replayer``) as fast as possible, recorded retain flags, QoS 1, no status
    announcements (so the dashboard counts exactly the session's messages).

    Returns the number of messages sent; raises RuntimeError if not all went out in time.
    """
    from mqtt_replay.replay import Replayer

    with Replayer(path, f"mqtt://{host}:{port}", speed="max", qos=1, status_topic=None) as r:
        if not r.wait(timeout):
            raise RuntimeError(f"replay of {path.name} did not finish within {timeout} s")
        stats = r.stats()
    if stats["failed"]:
        raise RuntimeError(f"replay of {path.name}: {stats['failed']} message(s) failed")
    return int(stats["sent"])
