"""Locust's web UI runs a distributed fleet: a master with its UI on 127.0.0.1, two worker
processes, our ``PlantUser``; a user starts the run in the browser, watches the statistics, stops
it there and downloads the CSV, and the UI's counts are what the broker delivered."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.conftest import ROOT, Broker, free_port
from tests.processes import wait_for_http

from mqtt_replay import _core
from mqtt_replay.generate import generate_session

pytestmark = [pytest.mark.broker, pytest.mark.e2e, pytest.mark.slow]
LOCUSTFILE = "from mqtt_replay.locust import PlantUser  # noqa: F401\n"
PLANTS = 10
MESSAGES = 400


class ProcessGroup:
    """Child processes, each the leader of its own process group; :meth:`stop` ends the groups
    this test created (SIGTERM, then SIGKILL for what is left), nothing else."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.procs: list[subprocess.Popen[bytes]] = []

    def locust(self, *args: str, log: str) -> subprocess.Popen[bytes]:
        env = {"PYTHONPATH": str(ROOT / "python"), "PATH": "/usr/bin:/bin", "HOME": str(self.cwd)}
        with (self.cwd / log).open("wb") as out:  # the child keeps its own copy
            proc = subprocess.Popen(
                [sys.executable, "-m", "locust", "-f", "locustfile.py", *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.cwd,
                start_new_session=True,
            )
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc in self.procs:
            try:
                proc.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)


@pytest.fixture
def locust_cluster(private_broker: Broker, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A master (web UI on 127.0.0.1, no run started) and two local workers, ready."""
    if importlib.util.find_spec("locust") is None:  # importing it would monkey-patch pytest
        pytest.skip("the locust extra is not installed")
    session = generate_session(tmp_path / "plant.log", messages=MESSAGES, rate=100, seed=7)
    (tmp_path / "locustfile.py").write_text(LOCUSTFILE)
    group = ProcessGroup(tmp_path)
    master_port, web_port = free_port(), free_port()
    try:
        master = group.locust(
            "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(master_port),
            "--web-host", "127.0.0.1", "--web-port", str(web_port),
            "--host", private_broker.url, "--mqtt-session", str(session),
            "--mqtt-speed", "10", "--mqtt-qos", "1",
            log="master.log",
        )  # fmt: skip
        for i in (1, 2):
            group.locust(
                "--worker", "--master-host", "127.0.0.1", "--master-port", str(master_port),
                log=f"worker{i}.log",
            )  # fmt: skip
        url = f"http://127.0.0.1:{web_port}"
        assert wait_for_http(master, [url + "/"], timeout=60), (tmp_path / "master.log").read_text()
        deadline = time.monotonic() + 60
        while _stats(url)["worker_count"] < 2 and time.monotonic() < deadline:
            time.sleep(0.3)
        yield {"url": url, "dir": tmp_path, "master": master}
    finally:
        group.stop()


def _stats(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url + "/stats/requests", timeout=5) as response:
        data: dict[str, Any] = json.load(response)
    return data


def _row(page: Any, name: str) -> dict[str, str]:
    """One row of the UI's statistics table, by column header."""
    table = page.locator("table").first
    headers = [" ".join(h.split()) for h in table.locator("thead th").all_inner_texts()]
    for row in table.locator("tbody tr").all():
        cells = row.locator("td").all_inner_texts()
        if len(cells) > 1 and cells[1].strip() == name:
            return dict(zip(headers, (c.strip() for c in cells), strict=True))
    raise AssertionError(f"no row {name!r} in {table.inner_text()}")


def test_a_run_started_and_stopped_in_the_web_ui_counts_what_the_broker_delivered(
    locust_cluster: dict[str, Any], private_broker: Broker, chromium: Any
) -> None:
    url, work = locust_cluster["url"], locust_cluster["dir"]
    expected = PLANTS * MESSAGES
    probe = _core.Probe(private_broker.url, client_id="locust-ui-probe", topics=[("#", 1)])
    context = chromium.new_context(viewport={"width": 1440, "height": 900}, accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url + "/")
    header = page.locator("header")
    workers = header.get_by_text("Workers", exact=True).locator("xpath=following-sibling::*[1]")
    assert workers.inner_text() == "2"

    page.get_by_label("Number of users (peak concurrency)").fill(str(PLANTS))
    page.get_by_label("Ramp up (users started/second)").fill(str(PLANTS))
    page.get_by_text("Advanced options").click()
    page.get_by_label("Run time", exact=False).fill("90s")  # a bound, in case STOP is missed
    page.get_by_text("Custom parameters").click()  # the master's --mqtt-* options, editable
    assert page.locator("input[name=mqttSession]").input_value().endswith("plant.log")
    assert page.locator("input[name=mqttSpeed]").input_value() == "10"
    page.get_by_role("button", name="Start").click()

    status = header.get_by_text("Status", exact=True).locator("xpath=following-sibling::*[1]")
    page.wait_for_function(
        "() => /running/i.test(document.querySelector('header').innerText)", timeout=30_000
    )
    assert header.get_by_text("Users", exact=True).is_visible()
    # every plant plays its session (0.4 s at 10x), then idles: the counts reach the total
    publish = page.locator("table").first.locator("tbody tr", has_text="publish")
    publish.wait_for(timeout=30_000)
    deadline = time.monotonic() + 60
    while int(_row(page, "publish")["# Requests"]) < expected and time.monotonic() < deadline:
        page.wait_for_timeout(500)
    page.screenshot(path=str(work / "locust-ui-running.png"))
    page.get_by_role("button", name="Stop").click()
    page.wait_for_function(
        "() => /stopped/i.test(document.querySelector('header').innerText)", timeout=30_000
    )
    assert status.inner_text().lower() == "stopped"
    assert workers.inner_text() == "2"

    deadline = time.monotonic() + 10
    while probe.status()["received"] < expected and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)  # nothing more may arrive
    seen = probe.stop()
    received = len(np.frombuffer(seen["topic_index"], dtype="<u4"))
    assert len({t.split("/", 1)[0] for t in seen["topics"]}) == PLANTS  # over both workers
    stats = _stats(url)
    by_name = {s["name"]: s for s in stats["stats"]}
    row = _row(page, "publish")
    assert row["Type"] == "MQTT"
    assert int(row["# Requests"]) == by_name["publish"]["num_requests"] == received == expected
    assert int(row["# Fails"]) == 0
    assert int(_row(page, "Aggregated")["# Requests"]) == expected
    assert float(row["Average size (bytes)"]) > 0
    assert stats["worker_count"] == 2
    assert "connect" not in by_name  # no plant failed to connect

    page.get_by_role("tab", name="Workers").click()
    worker_rows = page.locator("table").first.locator("tbody tr")
    assert worker_rows.count() == 2
    page.get_by_role("tab", name="Download data").click()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download requests CSV").click()
    text = Path(download.value.path()).read_text()
    rows = {r["Name"]: r for r in csv.DictReader(io.StringIO(text))}
    assert int(rows["publish"]["Request Count"]) == expected
    assert int(rows["Aggregated"]["Failure Count"]) == 0
    report = page.get_by_role("link", name="Download Report").get_attribute("href")
    assert report is not None
    with urllib.request.urlopen(f"{url}/{report.lstrip('./')}", timeout=10) as response:
        html = response.read().decode()
    assert re.search(r"Locust Test Report", html)
    page.get_by_role("tab", name="Statistics").click()
    page.screenshot(path=str(work / "locust-ui-stopped.png"))
    context.close()
    assert not errors, errors
