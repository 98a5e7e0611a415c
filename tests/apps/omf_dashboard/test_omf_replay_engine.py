"""The dashboard fed by the project's own replay engine (skipped while it is not importable)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from apps.omf_dashboard.client import DashboardClient
from apps.omf_dashboard.config import DashboardConfig
from apps.omf_dashboard.state import FactoryState
from omf_sessions import read_session

pytestmark = [pytest.mark.broker, pytest.mark.samples]


def test_engine_replay_fills_the_state_and_announces_itself(
    private_broker: Any, sample: Callable[[str], Path]
) -> None:
    replay = pytest.importorskip("mqtt_replay.replay", reason="replay engine not built")
    path = sample("storage_order_white_20251110_180844.log")
    client = DashboardClient(DashboardConfig(broker_url=private_broker.url))
    client.start()
    try:
        assert client.wait_connected(10)
        with replay.Replayer(path, private_broker.url, speed="max") as replayer:
            replayer.wait()
            final = replayer.status()
        assert (final["state"], final["sent"], final["failed"]) == ("finished", 552, 0)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            status = client.replay_status()
            if client.snapshot().state.messages == 552 and status and status.state == "finished":
                break
            time.sleep(0.05)
        snap = client.snapshot()
        assert snap.state.messages == 552  # every session message, status messages aside
        status = client.replay_status()
        assert status is not None
        assert (status.state, status.sent, status.total) == ("finished", 552, 552)
        assert status.session
        reference = FactoryState()
        for i, message in enumerate(read_session(path)):
            reference.apply_text(message.topic, message.payload, float(i))
        assert snap.state.stock == reference.snapshot().stock
        assert snap.state.completed_orders == reference.completed_orders
    finally:
        client.stop()
