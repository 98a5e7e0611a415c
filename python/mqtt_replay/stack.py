"""``mqtt-replay serve``: the whole product on one machine — Mosquitto (unless one already
listens), the Session Manager and the OMF Dashboard — stopped together by Ctrl-C.

Only processes this command started are stopped; an existing broker is used, never killed.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mqtt_replay.errors import BrokerError

SM_PORT, DASH_PORT, BROKER_PORT = 8507, 8503, 1883


def port_open(host: str, port: int, timeout: float = 0.3) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def mosquitto_binary() -> str:
    found = shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
    )
    if not found:
        raise BrokerError("mosquitto is not installed (make setup installs it with apt-get)")
    return found


def mosquitto_config(port: int, host: str = "127.0.0.1") -> str:
    """A broker for fast local replays: loopback only, no Nagle delay, no queue limits."""
    return (
        f"listener {port} {host}\n"
        "allow_anonymous true\n"
        "persistence false\n"
        "set_tcp_nodelay true\n"
        "max_queued_messages 0\n"
        "max_inflight_messages 0\n"
    )


def start_mosquitto(port: int, workdir: Path) -> subprocess.Popen[bytes]:
    conf = workdir / "mosquitto.conf"
    conf.write_text(mosquitto_config(port))
    with (workdir / "mosquitto.log").open("ab") as log:
        proc = subprocess.Popen([mosquitto_binary(), "-c", str(conf)], stdout=log, stderr=log)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        if port_open("127.0.0.1", port):
            return proc
        time.sleep(0.05)
    proc.kill()
    raise BrokerError(
        f"mosquitto did not start on port {port}: "
        + (workdir / "mosquitto.log").read_text(errors="replace")[-2000:]
    )


def _stop(procs: list[tuple[str, subprocess.Popen[bytes]]], *, interrupted: bool) -> None:
    """Stops what we started: apps first (SIGINT, so they stop their replay and recorder
    cleanly), then the broker. After a terminal Ctrl-C the children got the interrupt too,
    so give them a moment to finish on their own first."""
    if interrupted:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and any(p.poll() is None for _, p in procs):
            time.sleep(0.05)
    for name, p in reversed(procs):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM if name == "mosquitto" else signal.SIGINT)
    deadline = time.monotonic() + 5
    for _, p in procs:
        try:
            p.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)


def serve(args: argparse.Namespace) -> int:
    procs: list[tuple[str, subprocess.Popen[bytes]]] = []
    interrupted = False
    broker = f"mqtt://127.0.0.1:{args.broker_port}"
    workdir = Path(tempfile.mkdtemp(prefix="mqtt-replay-serve-"))
    try:
        if port_open("127.0.0.1", args.broker_port):
            print(f"broker     {broker} (already running; used as is)")
        else:
            procs.append(("mosquitto", start_mosquitto(args.broker_port, workdir)))
            print(f"broker     {broker} (started; log {workdir / 'mosquitto.log'})")
        apps = [
            (
                "session_manager",
                args.sm_port,
                ["--sessions", args.sessions, "--broker", broker]
                + (["--autoplay", args.session] if args.session else []),
            ),
            ("omf_dashboard", args.dash_port, ["--broker", broker]),
        ]
        for name, port, extra in apps:
            if importlib.util.find_spec(f"apps.{name}") is None:
                print(f"{name:10} not installed in this checkout")
                continue
            cmd = [sys.executable, "-m", f"apps.{name}", "--port", str(port), *extra]
            procs.append((name, subprocess.Popen(cmd)))
            print(f"{name:10} http://127.0.0.1:{port}")
        print("Ctrl-C stops everything started here.")
        while True:
            for name, p in procs:
                if p.poll() is not None:
                    # After a terminal Ctrl-C the children may notice first: let our own
                    # KeyboardInterrupt arrive before calling this an unexpected exit.
                    time.sleep(0.5)
                    print(f"{name} exited with code {p.returncode}; stopping", file=sys.stderr)
                    return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        interrupted = True
        print("\nstopping …")
        return 0
    finally:
        _stop(procs, interrupted=interrupted)


def add_serve_command(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("serve", help="start broker, Session Manager and OMF Dashboard")
    p.add_argument("--session", help="session to load and replay on start (the demo in make run)")
    p.add_argument("--sessions", default="mqtt-data/sessions", help="session directory")
    p.add_argument("--broker-port", type=int, default=BROKER_PORT)
    p.add_argument("--sm-port", type=int, default=SM_PORT)
    p.add_argument("--dash-port", type=int, default=DASH_PORT)
    p.set_defaults(func=serve)
