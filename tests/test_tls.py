"""Replay and recording through a TLS listener of a real Mosquitto (certificates made here)."""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from tests.conftest import _skip_or_fail, free_port, require_mosquitto
from tests.mqtt_client import Subscriber

import mqtt_replay
from mqtt_replay import open_session
from mqtt_replay.local_broker import start_mosquitto, stop_process
from mqtt_replay.recorder import Recorder
from mqtt_replay.replay import Replayer

pytestmark = pytest.mark.broker


def make_certs(d: Path) -> tuple[Path, Path, Path]:
    """A throw-away CA and a server certificate for 127.0.0.1 / localhost."""
    if shutil.which("openssl") is None:
        _skip_or_fail("openssl is not installed")
    run = lambda *a: subprocess.run(["openssl", *a], check=True, capture_output=True)  # noqa: E731
    ca_key, ca, key, csr, crt = (
        d / n for n in ("ca.key", "ca.pem", "srv.key", "srv.csr", "srv.pem")
    )
    ext = d / "ext.cnf"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca),
        "-days", "2", "-subj", "/CN=mqtt-replay test CA")  # fmt: skip
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
        "-subj", "/CN=127.0.0.1")  # fmt: skip
    run("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
        "-CAcreateserial", "-out", str(crt), "-days", "2", "-extfile", str(ext))  # fmt: skip
    return ca, crt, key


@pytest.fixture
def tls_broker(tmp_path: Path):  # type: ignore[no-untyped-def]
    require_mosquitto()
    # mosquitto drops root privileges before reading the certificates, and pytest's tmp
    # tree is private: keep them in a world-readable directory of their own.
    certs = Path(tempfile.mkdtemp(prefix="mqtt-replay-tls-"))
    certs.chmod(0o755)
    ca, crt, key = make_certs(certs)
    for f in certs.iterdir():
        f.chmod(0o644)
    port = free_port()
    config = (
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        f"cafile {ca}\ncertfile {crt}\nkeyfile {key}\n"
    )
    proc = start_mosquitto(port, tmp_path, config=config)
    yield port, ca
    stop_process(proc)
    shutil.rmtree(certs, ignore_errors=True)


def test_replay_and_record_over_tls(tls_broker: tuple[int, Path], tmp_path: Path) -> None:
    port, ca = tls_broker
    session = tmp_path / "s.log"
    session.write_text("".join(
        json.dumps({"topic": f"tls/{i}", "payload": f"m{i}", "timestamp": f"2026-01-01T00:00:0{i}Z"}) + "\n"
        for i in range(5)
    ))  # fmt: skip
    url = f"mqtts://127.0.0.1:{port}?ca={ca}"
    rec = Recorder(url, tmp_path / "rec", name="tls", topics=["tls/#"], flush_interval=0.2)
    sub = Subscriber("127.0.0.1", port, topic="tls/#")
    sub.client.tls_set(ca_certs=str(ca), cert_reqs=ssl.CERT_REQUIRED)
    with sub:
        with Replayer(session, url, speed="max", qos=1) as r:
            assert r.wait(30)
            assert r.stats()["sent"] == 5
        got = sub.wait_for(5)
    assert [m.payload for m in got] == [f"m{i}".encode() for i in range(5)]
    deadline = time.monotonic() + 10
    while rec.status()["messages"] < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    path = rec.stop()
    assert open_session(path).table.column("payload").to_pylist() == [f"m{i}" for i in range(5)]


def test_tls_refuses_an_unknown_ca(tls_broker: tuple[int, Path], tmp_path: Path) -> None:
    port, _ = tls_broker
    session = tmp_path / "s.log"
    session.write_text('{"topic":"a","payload":"x"}\n')
    with pytest.raises(mqtt_replay.BrokerError, match="TLS"):
        Replayer(session, f"mqtts://127.0.0.1:{port}")  # the test CA is not trusted
