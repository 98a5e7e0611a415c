"""A private Mosquitto on this machine, for local replays, tests and benchmarks.

:func:`start_mosquitto` starts one on a loopback port with a configuration tuned for fast
replays and returns the process; the caller owns it and stops exactly that process.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import time
from pathlib import Path

from mqtt_replay.errors import BrokerError


def port_open(host: str, port: int, timeout: float = 0.3) -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (it can be taken before you bind it: retry)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def find_mosquitto() -> str | None:
    """Path of the ``mosquitto`` binary (PATH, then Debian's /usr/sbin), or None."""
    found = shutil.which("mosquitto")
    if found:
        return found
    return "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None


def mosquitto_binary() -> str:
    """Like :func:`find_mosquitto`, but raises :class:`BrokerError` when it is missing."""
    found = find_mosquitto()
    if not found:
        raise BrokerError("mosquitto is not installed (make setup installs it with apt-get)")
    return found


def mosquitto_config(
    port: int, host: str = "127.0.0.1", *, persistence_dir: Path | None = None
) -> str:
    """A broker for fast local replays: loopback only, no Nagle delay, no queue limits;
    persistent (retained messages survive a restart) when ``persistence_dir`` is given."""
    persistence = (
        f"persistence true\npersistence_location {persistence_dir}/\n"
        if persistence_dir is not None
        else "persistence false\n"
    )
    # Started as root, Mosquitto drops to the user "mosquitto", which cannot write our
    # (0700) persistence directory: it saved nothing ("Error: Permission denied.") and a
    # restart lost every session and queued message. It runs as whoever started it.
    user = pwd.getpwuid(os.geteuid()).pw_name
    return (
        f"user {user}\n"
        f"listener {port} {host}\n"
        "allow_anonymous true\n"
        f"{persistence}"
        "set_tcp_nodelay true\n"
        "max_queued_messages 0\n"
        "max_inflight_messages 0\n"
        "log_type error\n"
        "log_type warning\n"
    )


def start_mosquitto(
    port: int,
    workdir: Path,
    *,
    host: str = "127.0.0.1",
    config: str | None = None,
    timeout: float = 10.0,
) -> subprocess.Popen[bytes]:
    """Starts ``mosquitto`` with ``config`` (default :func:`mosquitto_config`) written to
    ``workdir/mosquitto.conf``, logging to ``workdir/mosquitto.log``; returns once the port
    accepts connections. Raises :class:`BrokerError` (with the log) when it does not."""
    conf = workdir / "mosquitto.conf"
    conf.write_text(config if config is not None else mosquitto_config(port, host))
    log_path = workdir / "mosquitto.log"
    with log_path.open("ab") as log:
        # Its own session: a terminal's Ctrl-C reaches whoever started it, which stops it
        # after the clients that use it (no "lost broker" while shutting down).
        proc = subprocess.Popen(
            [mosquitto_binary(), "-c", str(conf)], stdout=log, stderr=log, start_new_session=True
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        if port_open(host, port, timeout=0.2):
            return proc
        time.sleep(0.05)
    stop_process(proc)
    raise BrokerError(
        f"mosquitto did not start on port {port}: " + log_path.read_text(errors="replace")[-2000:]
    )


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
    """SIGTERM, then SIGKILL after ``timeout`` seconds; waits for the exit."""
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)
