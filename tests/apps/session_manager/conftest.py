"""Fixtures of the Session Manager tests: session directories, views, a private broker."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from apps.session_manager.analysis import SessionView, build_view
from sm_helpers import (
    BASELINE,
    GENERATED_SET,
    PLANT,
    PLANT_L4,
    SmBroker,
    sample,
    synthetic_view,
    write_generated_sessions,
)

from mqtt_replay import open_session


@pytest.fixture(scope="session")
def generated_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generated sessions in every container, written once per test run (read-only)."""
    directory = tmp_path_factory.mktemp("generated-sessions")
    write_generated_sessions(directory)
    return directory


@pytest.fixture
def sessions_dir(tmp_path: Path, generated_dir: Path) -> Path:
    """A session directory of this test holding copies of the generated sessions."""
    directory = tmp_path / "sessions"
    directory.mkdir()
    for name in GENERATED_SET:
        shutil.copy(generated_dir / name, directory / name)
    return directory


@pytest.fixture(scope="session")
def plant_view(generated_dir: Path) -> SessionView:
    """The generated L5 plant session (every noisy family, orders, camera) in full mode."""
    return build_view(open_session(generated_dir / PLANT))


@pytest.fixture(scope="session")
def plant_index_view(generated_dir: Path) -> SessionView:
    return build_view(open_session(generated_dir / PLANT, mode="index", cache=False))


@pytest.fixture(scope="session")
def l4_view(generated_dir: Path) -> SessionView:
    """The generated header-less (L4) session."""
    return build_view(open_session(generated_dir / PLANT_L4))


@pytest.fixture(scope="module")
def baseline_view() -> SessionView:
    """A real recording (fact checks only; skips without ../shared/sessions)."""
    return build_view(open_session(sample(BASELINE)))


@pytest.fixture
def make_synthetic() -> Callable[..., SessionView]:
    return synthetic_view


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def sm_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmBroker]:
    """A Mosquitto on a free loopback port for one test module; stops exactly that process.

    (tests/conftest.py's ``broker`` writes ``max_packet_size 0``, which Debian's Mosquitto
    2.0.11 rejects, so these tests start their own.)
    """
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
