"""Child processes in tests the way a user runs them: started, probed over HTTP, stopped by a
signal; the test's own process only (killed if a test fails before stopping it)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def installed_env(tmp: Path | None = None) -> dict[str, str]:
    """The environment of an installed package: this checkout's ``mqtt_replay`` and ``apps``
    importable from any directory; temporary files under ``tmp`` when given."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "python"), str(ROOT)])
    if tmp is not None:
        env["TMPDIR"] = str(tmp)
    return env


@contextmanager
def running(cmd: Sequence[str], **popen: Any) -> Iterator[subprocess.Popen[Any]]:
    """Starts ``cmd``; whatever happens in the block, the process is gone afterwards."""
    proc = subprocess.Popen(list(cmd), **popen)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None and not stream.closed:
                stream.close()


def stop(proc: subprocess.Popen[Any], sig: int = signal.SIGTERM, timeout: float = 30) -> str:
    """Sends ``sig``, waits for the exit and returns the rest of the piped output (stdout, or
    stderr when only that is piped) as text; the exit code is ``proc.returncode``."""
    proc.send_signal(sig)
    proc.wait(timeout)
    stream = proc.stdout if proc.stdout is not None else proc.stderr
    if stream is None:
        return ""
    data = stream.read()
    return data.decode(errors="replace") if isinstance(data, bytes) else str(data)


def http_status(url: str) -> int:
    """The HTTP status of ``GET url``, 0 when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status)
    except OSError:
        return 0


def wait_for_http(proc: subprocess.Popen[Any], urls: Sequence[str], timeout: float = 90) -> bool:
    """Whether every URL answered 200 before ``timeout`` while ``proc`` kept running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if all(http_status(u) == 200 for u in urls):
            return True
        time.sleep(0.3)
    return False
