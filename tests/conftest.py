"""Shared fixtures: a private Mosquitto per test session, the sample recordings, an MQTT sink.

A broker fixture starts its own ``mosquitto`` on a free loopback port with a temporary
config and stops exactly that process. Sample sessions live in ``../shared/sessions``; tests
that need them skip when absent, except under ``CI=true`` where they must run.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = Path(
    os.environ.get("MQTT_REPLAY_SAMPLES") or ROOT.parent / "shared" / "sessions"
).resolve()
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _skip_or_fail(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (required under CI=true)")
    pytest.skip(reason)


@pytest.fixture(autouse=True, scope="session")
def _private_index_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Tests (and the apps and CLIs they start) cache indexes in a temporary directory, never
    in the user's ``~/.cache``."""
    before = os.environ.get("MQTT_REPLAY_CACHE")
    os.environ["MQTT_REPLAY_CACHE"] = str(tmp_path_factory.mktemp("index-cache"))
    yield
    if before is None:
        os.environ.pop("MQTT_REPLAY_CACHE", None)
    else:
        os.environ["MQTT_REPLAY_CACHE"] = before


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Broker:
    """A Mosquitto process owned by the test that started it."""

    host: str
    port: int
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None
    persistent: bool = False

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def start(self) -> None:
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(
            f"listener {self.port} {self.host}\n"
            "allow_anonymous true\n"
            + (
                f"persistence true\npersistence_location {self.workdir}/\n"
                if self.persistent
                else "persistence false\n"
            )
            + "set_tcp_nodelay true\n"
            "max_queued_messages 0\n"
            "max_inflight_messages 0\n"
            "log_type error\n"
            "log_type warning\n"
        )
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        with (self.workdir / "mosquitto.log").open("ab") as log:
            self.proc = subprocess.Popen([binary, "-c", str(conf)], stdout=log, stderr=log)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(
            f"mosquitto did not start on port {self.port}: "
            + (self.workdir / "mosquitto.log").read_text(errors="replace")
        )

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None

    def kill(self) -> None:
        """Simulate a crash: SIGKILL our own process."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(5)
            self.proc = None


def _mosquitto_binary() -> str | None:
    found = shutil.which("mosquitto")
    if found:
        return found
    return "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None


def _start_broker(workdir: Path) -> Broker:
    if _mosquitto_binary() is None:
        _skip_or_fail("mosquitto is not installed (apt-get install mosquitto)")
    last: Exception | None = None
    for _ in range(5):  # a free port can be taken between probing and binding
        broker = Broker("127.0.0.1", free_port(), workdir)
        try:
            broker.start()
            return broker
        except RuntimeError as exc:
            last = exc
    raise RuntimeError(f"could not start mosquitto: {last}")


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """One Mosquitto for the whole test session (tests must not depend on each other's topics)."""
    b = _start_broker(tmp_path_factory.mktemp("mosquitto"))
    yield b
    b.stop()


@pytest.fixture
def private_broker(tmp_path: Path) -> Iterator[Broker]:
    """A Mosquitto for one test only: free to be killed and restarted."""
    b = _start_broker(tmp_path)
    yield b
    b.stop()


@dataclass
class Sink:
    """Everything received on a subscription, with arrival times."""

    messages: list[tuple[int, str, bytes, bool]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(self, count: int, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.messages) >= count:
                    return True
            time.sleep(0.02)
        return False

    def snapshot(self) -> list[tuple[int, str, bytes, bool]]:
        with self.lock:
            return list(self.messages)


@pytest.fixture
def mqtt_sink(broker: Broker) -> Iterator[Sink]:
    """Subscribes to ``#`` on the shared broker and records (monotonic_ns, topic, payload, retain)."""
    import paho.mqtt.client as mqtt

    sink = Sink()
    ready = threading.Event()
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=f"sink-{os.getpid()}-{id(sink)}"
    )

    def on_connect(c: mqtt.Client, *_: object) -> None:
        c.subscribe("#", qos=1)

    def on_subscribe(*_: object) -> None:
        ready.set()

    def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        with sink.lock:
            sink.messages.append((time.monotonic_ns(), msg.topic, bytes(msg.payload), msg.retain))

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.connect(broker.host, broker.port)
    client.loop_start()
    assert ready.wait(10), "sink could not subscribe"
    yield sink
    client.loop_stop()
    client.disconnect()


def sample_path(name: str) -> Path:
    """Path of a real recording in ../shared/sessions (skip, or fail under CI, when absent)."""
    path = SAMPLES / name
    if not path.exists():
        _skip_or_fail(f"sample session {name} not found in {SAMPLES}")
    return path


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    if not SAMPLES.is_dir():
        _skip_or_fail(f"sample sessions directory {SAMPLES} is absent")
    return SAMPLES
