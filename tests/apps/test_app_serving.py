"""Both apps as ``python -m apps.<name>`` starts them: under waitress (no development-server
warning), bound to 127.0.0.1, answering HTTP 200, and stopping cleanly on SIGTERM."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import Broker, free_port
from tests.processes import installed_env, running, stop, wait_for_http


@pytest.mark.broker
@pytest.mark.parametrize("app", ["session_manager", "omf_dashboard"])
def test_app_runs_under_waitress_and_stops_on_sigterm(
    app: str, broker: Broker, tmp_path: Path
) -> None:
    port = free_port()
    args = ["--sessions", str(tmp_path)] if app == "session_manager" else []
    cmd = [sys.executable, "-m", f"apps.{app}", "--port", str(port), "--broker", broker.url, *args]
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT}
    with running(cmd, cwd=tmp_path, env=installed_env(), **pipes) as proc:
        url = f"http://127.0.0.1:{port}"
        assert wait_for_http(proc, [f"{url}/", f"{url}/_dash-layout"], timeout=60)
        output = stop(proc)
    assert proc.returncode == 0, output
    assert "development server" not in output.lower(), output
    assert f"serving on http://127.0.0.1:{port}" in output
    assert "Traceback" not in output, output
