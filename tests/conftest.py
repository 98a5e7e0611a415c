"""Shared fixtures: a private Mosquitto per test session, the sample recordings, an MQTT sink.

A broker fixture starts its own ``mosquitto`` on a free loopback port with a temporary
config and stops exactly that process. Sample sessions live in ``../shared/sessions``; tests
that need them skip when absent, except under ``CI=true`` where they must run;
``MQTT_REPLAY_SAMPLES`` overrides the directory.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mqtt_replay.errors import BrokerError
from mqtt_replay.local_broker import (
    find_mosquitto,
    free_port,
    mosquitto_config,
    start_mosquitto,
    stop_process,
)

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = Path(
    os.environ.get("MQTT_REPLAY_SAMPLES") or ROOT.parent / "shared" / "sessions"
).resolve()
"""The real recordings (``../shared/sessions``; ``MQTT_REPLAY_SAMPLES`` points elsewhere, e.g.
``/nonexistent`` to see what a fresh clone skips)."""
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


@dataclass
class Broker:
    """A Mosquitto process owned by the test that started it (started by the project's own
    launcher, :func:`mqtt_replay.local_broker.start_mosquitto`, the one every test uses)."""

    host: str
    port: int
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None
    persistent: bool = False

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def start(self) -> None:
        config = mosquitto_config(
            self.port, self.host, persistence_dir=self.workdir if self.persistent else None
        )
        self.proc = start_mosquitto(self.port, self.workdir, host=self.host, config=config)

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None

    def kill(self) -> None:
        """Simulate a crash: SIGKILL our own process."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(5)
            self.proc = None


def require_mosquitto() -> str:
    """The mosquitto binary; skips (fails under CI) when it is not installed."""
    binary = find_mosquitto()
    if binary is None:
        _skip_or_fail("mosquitto is not installed (apt-get install mosquitto)")
    assert binary is not None
    return binary


def _start_broker(workdir: Path) -> Broker:
    require_mosquitto()
    last: Exception | None = None
    for _ in range(5):  # a free port can be taken between probing and binding
        broker = Broker("127.0.0.1", free_port(), workdir)
        try:
            broker.start()
            return broker
        except BrokerError as exc:
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
def plant_session(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated plant session (1,500 messages of every topic family, orders, camera frames,
    retained dump): what tests of the project's own behaviour run on, no recording needed."""
    from mqtt_replay.generate import generate_session

    path = tmp_path_factory.mktemp("generated") / "plant_20260115_100000.log"
    return Path(generate_session(path, messages=1500, rate=20, seed=5))


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    if not SAMPLES.is_dir():
        _skip_or_fail(f"sample sessions directory {SAMPLES} is absent")
    return SAMPLES
