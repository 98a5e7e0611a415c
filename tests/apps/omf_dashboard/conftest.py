"""Fixtures for the OMF Dashboard tests: sample files, a running dashboard against a broker."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def sample(samples_dir: Path) -> Callable[[str], Path]:
    """``sample(name)`` → path of a recording in ../shared/sessions (skip or, in CI, fail)."""

    def get(name: str) -> Path:
        path = samples_dir / name
        if not path.exists():
            reason = f"sample session {name} not found in {samples_dir}"
            if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
                pytest.fail(reason)
            pytest.skip(reason)
        return path

    return get


@pytest.fixture
def dashboard_factory() -> Iterator[Callable[..., Any]]:
    """``make(config)`` → a started dashboard app; its MQTT client is stopped at teardown."""
    from apps.omf_dashboard.app import create_app, shutdown

    apps: list[Any] = []

    def make(config: Any, *, start_client: bool = True) -> Any:
        app = create_app(config, start_client=start_client)
        apps.append(app)
        return app

    yield make
    for app in apps:
        shutdown(app)
