"""Fixtures of the Session Manager tests: session directories, views, a private broker."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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
    """A Mosquitto on a free loopback port for one test module (the project's one launcher,
    :mod:`mqtt_replay.local_broker`); stops exactly that process."""
    from tests.conftest import require_mosquitto

    from mqtt_replay.local_broker import free_port, start_mosquitto, stop_process

    require_mosquitto()
    workdir = tmp_path_factory.mktemp("sm-mosquitto")
    port = free_port()
    proc = start_mosquitto(port, workdir)
    yield SmBroker("127.0.0.1", port, proc)
    stop_process(proc)


TIMEOUT_MS = 20_000  # browser waits: the machine has 2 cores shared with other work


@pytest.fixture
def serve_manager(serve_dash: Callable[[Any], str]) -> Iterator[Callable[..., str]]:
    """``serve(directory, **config) -> base_url``: a Session Manager on a free port for the
    rest of the test (its replay and recording stopped afterwards)."""
    from apps.session_manager.app import create_app, shutdown
    from apps.session_manager.config import ManagerConfig

    apps: list[Any] = []

    def serve(directory: Path, **config: Any) -> str:
        settings: dict[str, Any] = {
            "broker_url": "mqtt://127.0.0.1:1",
            "poll_interval_ms": 300,
            "index_threshold_bytes": 2_000_000,  # the plant session (2.6 MB) opens in index
            "inline_load_bytes": 2_000_000,  # mode, in the background, with a progress bar
        }
        app = create_app(ManagerConfig(sessions_dir=directory, **(settings | config)))
        apps.append(app)
        return serve_dash(app)

    yield serve
    for app in apps:
        shutdown(app)


@pytest.fixture
def sm_page(chromium: Any) -> Iterator[Any]:
    """A fresh 1600x1100 page; fails the test on any uncaught page error and on any error
    the page logs to the console (Dash reports a broken callback graph there)."""
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    context = chromium.new_context(viewport={"width": 1600, "height": 1100})
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.on("console", lambda m: errors.append(m.text[:300]) if m.type == "error" else None)
    yield pg
    context.close()
    assert not errors, errors
