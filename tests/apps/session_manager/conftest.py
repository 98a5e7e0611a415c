"""Fixtures of the Session Manager tests: session directories, views, a private broker."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest
from mqtt_replay import Session, open_session

from apps.session_manager.analysis import Memo, SessionView, build_view

SAMPLES = Path(__file__).resolve().parents[4] / "shared" / "sessions"
BASELINE = "orbis-fulltopics-baseline_20260409_082701.log"  # L4, every topic incl. camera
WRB = "storage-production-ml-wrb_20260804_114227.log"  # L5 with header, 399 s silence
SMALL_SET = (BASELINE, WRB, "auftrag-rot_1.log", "ccu.log.zip", "default_test_session.db")


def sample(name: str) -> Path:
    path = SAMPLES / name
    if not path.exists():
        pytest.skip(f"sample session {name} not found in {SAMPLES}")
    return path


@pytest.fixture
def sessions_dir(tmp_path: Path) -> Path:
    """A session directory holding copies of a few real recordings."""
    directory = tmp_path / "sessions"
    directory.mkdir()
    for name in SMALL_SET:
        shutil.copy(sample(name), directory / name)
    return directory


@pytest.fixture(scope="module")
def baseline_view() -> SessionView:
    return build_view(open_session(sample(BASELINE)))


@pytest.fixture(scope="module")
def baseline_index_view() -> SessionView:
    return build_view(open_session(sample(BASELINE), mode="index", cache=False))


@pytest.fixture(scope="module")
def wrb_view() -> SessionView:
    return build_view(open_session(sample(WRB)))


class _NoPayloads:
    """Stands in for a Session where only the index columns matter."""

    mode = "full"

    def payloads(self, rows: Any) -> list[str]:
        return ["{}" for _ in rows]


def synthetic_view(messages: int, topics: int, *, seconds: float = 3600.0, seed: int = 1) -> SessionView:
    """A view of ``messages`` random messages over ``topics`` topics (no file behind it)."""
    rng = np.random.default_rng(seed)
    ts = np.sort(rng.integers(0, int(seconds * 1e6), messages)).astype(np.int64) + 1_767_225_600_000_000
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


@pytest.fixture
def make_synthetic() -> Callable[..., SessionView]:
    return synthetic_view


# -- a private Mosquitto (2.0.11 refuses tests/conftest.py's `max_packet_size 0`) ------------


@dataclass
class SmBroker:
    host: str
    port: int
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def sm_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmBroker]:
    """A Mosquitto on a free loopback port for one test module; stops exactly that process."""
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(binary).exists():
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    workdir = tmp_path_factory.mktemp("sm-mosquitto")
    port = _free_port()
    conf = workdir / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        "set_tcp_nodelay true\nmax_queued_messages 0\nlog_type error\n"
    )
    with (workdir / "mosquitto.log").open("ab") as log:
        proc = subprocess.Popen([binary, "-c", str(conf)], stdout=log, stderr=log)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.05)
    else:
        proc.terminate()
        pytest.fail(f"mosquitto did not start: {(workdir / 'mosquitto.log').read_text()}")
    yield SmBroker("127.0.0.1", port, proc)
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
