"""Locust drives a fleet: one master, two worker processes, ten plants, counted at the broker."""

from __future__ import annotations

import csv
import importlib.util
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from tests.conftest import ROOT, Broker, free_port

from mqtt_replay import _core
from mqtt_replay.generate import generate_session

pytestmark = [pytest.mark.broker, pytest.mark.slow]
LOCUSTFILE = "from mqtt_replay.locust import PlantUser  # noqa: F401\n"


def _locust(*args: str, log: Path) -> subprocess.Popen[bytes]:
    env_path = str(ROOT / "python")
    with log.open("wb") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "locust", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin", "HOME": str(log.parent)},
            cwd=log.parent,
        )


def test_master_and_two_workers_totals_equal_the_probe(
    private_broker: Broker, tmp_path: Path
) -> None:
    if importlib.util.find_spec("locust") is None:  # importing it would monkey-patch pytest
        pytest.skip("the locust extra is not installed")
    session = generate_session(tmp_path / "plant.log", messages=800, rate=100, seed=4)
    (tmp_path / "locustfile.py").write_text(LOCUSTFILE)
    probe = _core.Probe(private_broker.url, client_id="locust-test-probe", topics=[("#", 1)])
    master_port = free_port()
    workers = [
        _locust("-f", "locustfile.py", "--worker", "--master-port", str(master_port),
                log=tmp_path / f"worker{i}.log")
        for i in (1, 2)
    ]  # fmt: skip
    master = _locust(
        "-f", "locustfile.py", "--master", "--master-bind-port", str(master_port),
        "--headless", "--expect-workers", "2", "-u", "10", "-r", "10", "-t", "15s",
        "--host", private_broker.url, "--mqtt-session", str(session), "--mqtt-speed", "10",
        "--mqtt-qos", "1", "--csv", str(tmp_path / "run"), "--only-summary",
        log=tmp_path / "master.log",
    )  # fmt: skip
    try:
        assert master.wait(120) == 0, (tmp_path / "master.log").read_text()[-3000:]
        for w in workers:
            w.wait(30)
    finally:
        for p in (master, *workers):
            if p.poll() is None:
                p.kill()
                p.wait()
    deadline = time.monotonic() + 10
    while probe.status()["received"] < 10 * 800 and time.monotonic() < deadline:
        time.sleep(0.1)
    seen = probe.stop()
    with (tmp_path / "run_stats.csv").open() as f:
        rows = {r["Name"]: r for r in csv.DictReader(f)}
    total = int(rows["Aggregated"]["Request Count"])
    assert int(rows["Aggregated"]["Failure Count"]) == 0
    arrivals = np.frombuffer(seen["topic_index"], dtype="<u4")
    plants = {t.split("/", 1)[0] for t in seen["topics"]}
    assert len(plants) == 10  # ten distinct plants, over both workers
    assert total == len(arrivals) == 10 * 800
