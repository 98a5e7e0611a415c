"""Helpers of the Session Manager tests (a module with a unique name, importable from tests).

Every app and browser test runs on sessions the project generates (``mqtt_replay.generate``)
in each container the Session Manager reads (L5 with header, L4 without, SQLite ``.db``,
``.zip``); only fact checks of the real recordings use :func:`sample` (``../shared/sessions``).
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import numpy as np
from apps.session_manager.analysis import Memo, SessionView
from tests.conftest import sample_path

from mqtt_replay import Session
from mqtt_replay.generate import generate_session

BASELINE = "orbis-fulltopics-baseline_20260409_082701.log"  # L4, every topic incl. camera
WRB = "storage-production-ml-wrb_20260804_114227.log"  # L5 with header, 399 s silence

# Generated sessions (names as the recorder writes them: local time of the first message).
PLANT = "plant-demo_20260115_100000.log"  # L5 with header, 3,000 messages, every family
PLANT_MESSAGES = 3000
PLANT_L4 = "plant-noheader.log"  # L4: the same kind of traffic without a header line
PLANT_L4_MESSAGES = 1500
PLANT_DB = "plant-db_20260303_090000.db"  # SQLite mqtt_messages(id, topic, payload, timestamp)
PLANT_DB_MESSAGES = 400
PLANT_ZIP = "plant-zip.log.zip"  # a zip holding one .log
PLANT_ZIP_MESSAGES = 300
GENERATED_SET = (PLANT, PLANT_L4, PLANT_DB, PLANT_ZIP)


def sample(name: str) -> Path:
    """A real recording (fact checks only): skips when ../shared/sessions is absent."""
    return sample_path(name)


def write_generated_sessions(directory: Path) -> dict[str, Path]:
    """Writes :data:`GENERATED_SET` into ``directory`` (deterministic bytes)."""
    directory.mkdir(parents=True, exist_ok=True)
    plant = generate_session(directory / PLANT, messages=PLANT_MESSAGES, seed=11, rate=20.0)
    l4_source = generate_session(
        directory / "l4.tmp",
        messages=PLANT_L4_MESSAGES,
        seed=5,
        rate=15.0,
        start=datetime(2026, 3, 3, 7, 0, tzinfo=UTC),
    )
    lines = l4_source.read_bytes().split(b"\n", 1)[1]  # drop the header: an L4 file
    (directory / PLANT_L4).write_bytes(lines)
    l4_source.unlink()
    db_source = generate_session(
        directory / "db.tmp",
        messages=PLANT_DB_MESSAGES,
        seed=9,
        start=datetime(2026, 3, 3, 8, 0, tzinfo=UTC),
    )
    write_db(directory / PLANT_DB, db_source)
    db_source.unlink()
    zip_source = generate_session(
        directory / "zip.tmp", messages=PLANT_ZIP_MESSAGES, seed=13, mix="small"
    )
    with zipfile.ZipFile(directory / PLANT_ZIP, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(zip_source, "plant-zip.log")
    zip_source.unlink()
    return {name: directory / name for name in GENERATED_SET} | {"plant": plant}


def write_db(path: Path, source: Path) -> None:
    """The messages of an NDJSON session as a 2025 SQLite session (naive UTC timestamps
    rewritten as the ``.db`` recorder wrote them: ISO text)."""
    con = sqlite3.connect(path)
    try:
        con.execute(
            "CREATE TABLE mqtt_messages (id INTEGER PRIMARY KEY AUTOINCREMENT, "
            "topic TEXT NOT NULL, payload TEXT NOT NULL, timestamp TEXT NOT NULL)"
        )
        rows = []
        for line in source.read_text().splitlines():
            msg = json.loads(line)
            if "topic" in msg:
                rows.append((msg["topic"], msg["payload"], msg["timestamp"]))
        con.executemany("INSERT INTO mqtt_messages(topic, payload, timestamp) VALUES (?,?,?)", rows)
        con.commit()
    finally:
        con.close()


def messages_of(path: Path) -> list[dict[str, Any]]:
    """The message lines of a generated NDJSON session, parsed independently of the reader."""
    out = []
    for line in path.read_text().splitlines():
        msg = json.loads(line)
        if "topic" in msg:
            out.append(msg)
    return out


FAMILY_KEYS = ("camera", "bme680", "ldr", "pairing", "dps_led", "arduino")


def reference_families(path: Path) -> dict[str, int]:
    """Noisy messages per family, counted from the file with json and re (SPEC §4)."""
    counts = dict.fromkeys(FAMILY_KEYS, 0)
    for msg in messages_of(path):
        topic = msg["topic"]
        if re.fullmatch(r"/j1/txt/[^/]+/i/cam", topic):
            counts["camera"] += 1
        elif re.fullmatch(r"/j1/txt/[^/]+/i/bme680", topic):
            counts["bme680"] += 1
        elif re.fullmatch(r"/j1/txt/[^/]+/i/ldr", topic):
            counts["ldr"] += 1
        elif topic == "ccu/pairing/state":
            counts["pairing"] += 1
        elif topic == "module/v1/ff/SVR4H73275/instantAction":
            actions = json.loads(msg["payload"]).get("actions", [])
            if actions and all(a.get("actionType") == "setStatusLED" for a in actions):
                counts["dps_led"] += 1
        elif topic.startswith("osf/arduino/"):
            counts["arduino"] += 1
    return counts


class _NoPayloads:
    """Stands in for a Session where only the index columns matter."""

    mode = "full"

    def payloads(self, rows: Any) -> list[str]:
        return ["{}" for _ in rows]


def synthetic_view(
    messages: int, topics: int, *, seconds: float = 3600.0, seed: int = 1
) -> SessionView:
    """A view of ``messages`` random messages over ``topics`` topics (no file behind it)."""
    rng = np.random.default_rng(seed)
    ts = (
        np.sort(rng.integers(0, int(seconds * 1e6), messages)).astype(np.int64)
        + 1_767_225_600_000_000
    )
    names = [f"module/v1/ff/SVR{i:05d}/state" if i % 3 else f"ccu/topic/{i}" for i in range(topics)]
    return SessionView(
        session=cast(Session, _NoPayloads()),
        ts=ts,
        ts_valid=np.ones(messages, dtype=bool),
        codes=rng.integers(0, topics, messages).astype(np.int32),
        topics=names,
        sizes=rng.integers(10, 2000, messages).astype(np.int64),
        qos=np.zeros(messages, dtype=np.uint8),
        retain=np.zeros(messages, dtype=bool),
        memo=Memo(),
    )


@dataclass
class SmBroker:
    host: str
    port: int
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"
