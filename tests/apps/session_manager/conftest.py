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
from sm_helpers import BASELINE, SMALL_SET, WRB, SmBroker, sample, synthetic_view

from mqtt_replay import open_session


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
