"""The dashboard fed by the project's own replay engine with a generated plant session."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from apps.omf_dashboard.client import DashboardClient
from apps.omf_dashboard.config import DashboardConfig
from apps.omf_dashboard.state import FactoryState
from omf_sessions import read_session

pytestmark = [pytest.mark.broker]


def test_engine_replay_fills_the_state_and_announces_itself(
    private_broker: Any, plant_session: Path
) -> None:
    replay = pytest.importorskip("mqtt_replay.replay", reason="replay engine not built")
    path = plant_session
    n = len(read_session(path))
    client = DashboardClient(DashboardConfig(broker_url=private_broker.url))
    client.start()
    try:
        assert client.wait_connected(10)
        with replay.Replayer(path, private_broker.url, speed="max") as replayer:
            replayer.wait()
            final = replayer.status()
        assert (final["state"], final["sent"], final["failed"]) == ("finished", n, 0)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            status = client.replay_status()
            if client.snapshot().state.messages == n and status and status.state == "finished":
                break
            time.sleep(0.05)
        snap = client.snapshot()
        assert snap.state.messages == n  # every session message, status messages aside
        status = client.replay_status()
        assert status is not None
        assert (status.state, status.sent, status.total) == ("finished", n, n)
        assert status.session
        reference = FactoryState()
        for i, message in enumerate(read_session(path)):
            reference.apply_text(message.topic, message.payload, float(i))
        assert snap.state.stock == reference.snapshot().stock
        assert snap.state.completed_orders == reference.completed_orders
    finally:
        client.stop()
