"""Both apps as ``python -m apps.<name>`` starts them: under waitress (no development-server
warning), bound to 127.0.0.1, answering HTTP 200, and stopping cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from tests.conftest import ROOT, Broker, free_port


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status)
    except OSError:
        return 0


@pytest.mark.broker
@pytest.mark.parametrize("app", ["session_manager", "omf_dashboard"])
def test_app_runs_under_waitress_and_stops_on_sigterm(
    app: str, broker: Broker, tmp_path: Path
) -> None:
    port = free_port()
    args = ["--sessions", str(tmp_path)] if app == "session_manager" else []
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "python"), str(ROOT)]))
    proc = subprocess.Popen(
        [sys.executable, "-m", f"apps.{app}", "--port", str(port), "--broker", broker.url, *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if _status(f"http://127.0.0.1:{port}/") == 200:
                break
            time.sleep(0.2)
        assert _status(f"http://127.0.0.1:{port}/") == 200
        assert _status(f"http://127.0.0.1:{port}/_dash-layout") == 200
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.stdout is not None
    output = proc.stdout.read().decode(errors="replace")
    proc.stdout.close()
    assert rc == 0, output
    assert "development server" not in output.lower(), output
    assert f"serving on http://127.0.0.1:{port}" in output
    assert "Traceback" not in output, output
