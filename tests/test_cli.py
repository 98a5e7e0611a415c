"""The ``mqtt-replay`` CLI as a user runs it: a separate process, from any directory.

``serve`` is started from an empty temporary directory with a private broker port and free
app ports, the way ``mqtt-replay serve`` runs after ``pip install`` (the apps ship in the
wheel): both apps must answer, SIGTERM must stop everything, and no temporary directory may
be left behind.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from tests.conftest import Broker, free_port
from tests.processes import installed_env, running, stop, wait_for_http

from mqtt_replay.cli import build_parser
from mqtt_replay.generate import generate_session
from mqtt_replay.local_broker import port_open


def cli_env(tmp: Path) -> dict[str, str]:
    """An installed CLI's environment, temporary files under ``tmp`` (leftovers countable)."""
    return installed_env(tmp)


def run_cli(*args: str, cwd: Path, tmp: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mqtt_replay.cli", *args],
        cwd=cwd,
        env=cli_env(tmp),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_version_from_any_directory(tmp_path: Path) -> None:
    out = run_cli("--version", cwd=tmp_path, tmp=tmp_path)
    assert out.returncode == 0, out.stderr
    name, version = out.stdout.split()
    assert name == "mqtt-replay"
    assert version[0].isdigit()


def test_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    """``mqtt-replay info X | head -1``: the reader leaves after one line; no traceback."""
    session = generate_session(tmp_path / "s.log", messages=3000, seed=3)
    proc = subprocess.Popen(
        [sys.executable, "-m", "mqtt_replay.cli", "info", str(session), "--top", "100000"],
        cwd=tmp_path,
        env=cli_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # like head -1 exiting
    err = proc.stderr.read().decode()
    proc.stderr.close()
    rc = proc.wait(60)
    assert first.startswith(b"session")
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert rc in (0, 141)


def _all_options(parser: argparse.ArgumentParser, path: str = "mqtt-replay") -> list[tuple[str, argparse.Action]]:  # fmt: skip
    out: list[tuple[str, argparse.Action]] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out += _all_options(sub, f"{path} {name}")
        else:
            out.append((path, action))
    return out


def test_every_option_has_help_text() -> None:
    options = _all_options(build_parser())
    commands = {path for path, _ in options}
    assert {"mqtt-replay serve", "mqtt-replay play", "mqtt-replay generate"} <= commands
    missing = [
        f"{path} {'/'.join(a.option_strings) or a.dest}"
        for path, a in options
        if not a.help or a.help == argparse.SUPPRESS
    ]
    assert missing == []


@pytest.mark.broker
@pytest.mark.slow
def test_serve_from_a_temporary_directory_answers_and_stops_on_sigterm(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    broker_port, sm_port, dash_port = free_port(), free_port(), free_port()
    serve = [sys.executable, "-m", "mqtt_replay.cli", "serve", "--broker-port", str(broker_port),
             "--sm-port", str(sm_port), "--dash-port", str(dash_port)]  # fmt: skip
    # as a background job of a script: Ctrl-C (SIGINT) ignored, so SIGTERM must do the work
    cmd = ["sh", "-c", 'trap "" INT; exec "$@"', "sh", *serve]
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT}
    with running(cmd, cwd=elsewhere, env=cli_env(tmp), **pipes) as proc:
        urls = [f"http://127.0.0.1:{sm_port}/", f"http://127.0.0.1:{dash_port}/"]
        assert wait_for_http(proc, urls), "serve exited early or the apps did not answer"
        assert port_open("127.0.0.1", broker_port)  # its own broker
        assert list(tmp.glob("mqtt-replay-serve-*")), "serve keeps its work files in TMPDIR"
        output = stop(proc)
        rc = proc.returncode
    assert rc == 0, output
    assert "Traceback" not in output, output
    assert "development server" not in output  # both apps under waitress
    assert "lost broker" not in output  # the apps stop before the broker they use
    assert "killed" not in output  # every child stopped on its signal
    assert list(tmp.glob("mqtt-replay-serve-*")) == []
    assert not port_open("127.0.0.1", broker_port)  # the broker it started is gone
    assert not any(port_open("127.0.0.1", p) for p in (sm_port, dash_port))
    assert (elsewhere / "mqtt-data" / "sessions").is_dir()  # the default, relative to the cwd


@pytest.mark.broker
def test_record_stops_on_sigterm_with_a_final_header(broker: Broker, tmp_path: Path) -> None:
    prefix = f"cli-rec/{uuid.uuid4().hex[:8]}"
    cmd = [sys.executable, "-m", "mqtt_replay.cli", "record", "--broker", broker.url,
           "--name", "term", "--dir", str(tmp_path), "--topics", f"{prefix}/#", "-q"]  # fmt: skip
    pipes = {"stderr": subprocess.PIPE, "text": True}
    with running(cmd, cwd=tmp_path, env=cli_env(tmp_path), **pipes) as proc:
        assert proc.stderr.readline().startswith("recording ")  # subscribed
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"pub-{prefix[-8:]}")
        client.connect(broker.host, broker.port)
        client.loop_start()
        for i in range(5):
            client.publish(f"{prefix}/n", str(i), qos=1).wait_for_publish(10)
        client.loop_stop()
        client.disconnect()
        time.sleep(0.5)
        err = stop(proc)
        rc = proc.returncode
    assert rc == 0, err  # as after Ctrl-C: stopping a recording is its normal end
    assert "Traceback" not in err
    (path,) = tmp_path.glob("term_*.log")
    header = json.loads(path.read_text().splitlines()[0])
    assert header["recordingEndedAt"] is not None
    assert header["messages"] == 5


@pytest.mark.broker
def test_play_stops_on_sigterm_like_ctrl_c(broker: Broker, tmp_path: Path) -> None:
    """A replay at 1x is stopped by SIGTERM: the status line and the report are written and
    the exit code is the interrupted one (130), as after Ctrl-C."""
    session = generate_session(tmp_path / "s.log", messages=2000, rate=5, seed=4)  # ~400 s
    report = tmp_path / "report.json"
    cmd = [sys.executable, "-m", "mqtt_replay.cli", "play", str(session), "--broker", broker.url,
           "--prefix", f"cli-play/{uuid.uuid4().hex[:8]}/", "--report", str(report)]  # fmt: skip
    pipes = {"stderr": subprocess.PIPE, "text": True}
    with running(cmd, cwd=tmp_path, env=cli_env(tmp_path), **pipes) as proc:
        first = proc.stderr.readline()  # the first status line: the replay runs
        err = stop(proc)
        rc = proc.returncode
    assert first.startswith("[") and "%" in first, first
    assert rc == 130, err
    assert "Traceback" not in err
    stats = json.loads(report.read_text())
    assert 0 < stats["sent"] < 2000 and stats["failed"] == 0


def test_progress_bars_share_one_look() -> None:
    import io

    from mqtt_replay.progress import ProgressLine, bar

    assert bar(0.5) == "[" + "#" * 12 + " " * 12 + "]"
    assert bar(2.0) == bar(1.0) and bar(-1.0) == bar(0.0)
    out = io.StringIO()  # not a TTY: a line per 10 %
    line = ProgressLine("reading", stream=out)
    for done in range(0, 101, 5):
        line(done, 100)
    line.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 11
    assert lines[5].startswith("reading " + bar(0.5) + "  50.0% ")
