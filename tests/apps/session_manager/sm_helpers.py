"""Helpers of the Session Manager tests (a module with a unique name, importable from tests)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest
from apps.session_manager.analysis import Memo, SessionView

from mqtt_replay import Session

SAMPLES = Path(__file__).resolve().parents[4] / "shared" / "sessions"
BASELINE = "orbis-fulltopics-baseline_20260409_082701.log"  # L4, every topic incl. camera
WRB = "storage-production-ml-wrb_20260804_114227.log"  # L5 with header, 399 s silence
SMALL_SET = (BASELINE, WRB, "auftrag-rot_1.log", "ccu.log.zip", "default_test_session.db")


def sample(name: str) -> Path:
    path = SAMPLES / name
    if not path.exists():
        pytest.skip(f"sample session {name} not found in {SAMPLES}")
    return path


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
