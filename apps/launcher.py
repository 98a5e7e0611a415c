"""``mqtt-replay serve``: the whole product on one machine — Mosquitto (unless one already
listens), the Session Manager and the OMF Dashboard — stopped together by Ctrl-C or SIGTERM.

The CLI imports this module lazily (the library does not start apps). Each app runs as
``python -m apps.<name>`` in its own process; only processes started here are stopped, an
existing broker is used, never killed, and the temporary directory is removed on exit.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from mqtt_replay.local_broker import port_open, start_mosquitto

SM_PORT, DASH_PORT, BROKER_PORT = 8507, 8503, 1883
APPS_ROOT = Path(__file__).resolve().parents[1]
"""The directory that holds the ``apps`` package (site-packages, or a checkout)."""


@dataclass(frozen=True)
class StackOptions:
    session: str | None = None
    sessions: str = "mqtt-data/sessions"
    broker_port: int = BROKER_PORT
    sm_port: int = SM_PORT
    dash_port: int = DASH_PORT


def _child_env() -> dict[str, str]:
    """The apps import ``apps`` from where this launcher was imported, whatever the cwd."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(APPS_ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def _stop(procs: list[tuple[str, subprocess.Popen[bytes]]], *, grace: bool) -> None:
    """Stops what we started: the apps first (SIGTERM, which they handle like Ctrl-C: replay
    and recorder stop cleanly; SIGINT could be ignored in a background job), then — once they
    are gone — the broker. After a terminal Ctrl-C (``grace``) the children got the interrupt
    too, so give them a moment to finish on their own first."""
    names = {id(p): name for name, p in procs}
    apps = [p for name, p in procs if name != "mosquitto"]
    brokers = [p for name, p in procs if name == "mosquitto"]
    if grace:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and any(p.poll() is None for p in apps):
            time.sleep(0.05)
    for group in (apps, brokers):
        for p in group:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 5
        for p in group:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(f"{names[id(p)]} did not stop within 5 s; killed", file=sys.stderr)
                p.kill()
                p.wait(5)


def run_stack(opts: StackOptions) -> int:
    """Runs until interrupted (exit 0) or until one of the processes dies (exit 1)."""
    procs: list[tuple[str, subprocess.Popen[bytes]]] = []
    grace = False
    broker = f"mqtt://127.0.0.1:{opts.broker_port}"
    workdir = Path(tempfile.mkdtemp(prefix="mqtt-replay-serve-"))
    try:
        if port_open("127.0.0.1", opts.broker_port):
            print(f"broker     {broker} (already running; used as is)", flush=True)
        else:
            procs.append(("mosquitto", start_mosquitto(opts.broker_port, workdir)))
            print(f"broker     {broker} (started here)", flush=True)
        apps = [
            (
                "session_manager",
                opts.sm_port,
                ["--sessions", opts.sessions, "--broker", broker]
                + (["--autoplay", opts.session] if opts.session else []),
            ),
            ("omf_dashboard", opts.dash_port, ["--broker", broker]),
        ]
        env = _child_env()
        for name, port, extra in apps:
            cmd = [sys.executable, "-m", f"apps.{name}", "--port", str(port), *extra]
            procs.append((name, subprocess.Popen(cmd, env=env)))
            print(f"{name:10} http://127.0.0.1:{port}", flush=True)
        print("Ctrl-C stops everything started here.", flush=True)
        while True:
            for name, p in procs:
                if p.poll() is not None:
                    # After a terminal Ctrl-C the children may notice first: let our own
                    # KeyboardInterrupt arrive before calling this an unexpected exit.
                    time.sleep(0.5)
                    print(f"{name} exited with code {p.returncode}; stopping", file=sys.stderr)
                    return 1
            time.sleep(0.5)
    except KeyboardInterrupt as exc:
        # Ctrl-C in a terminal reaches the whole process group; SIGTERM only reaches us.
        grace = type(exc) is KeyboardInterrupt
        print("\nstopping …", flush=True)
        return 0
    finally:
        _stop(procs, grace=grace)
        shutil.rmtree(workdir, ignore_errors=True)
