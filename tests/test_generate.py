"""The synthetic session generator: deterministic, valid L5, realistic plant traffic."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from mqtt_replay.generate import generate_session
from reference_reader import read_reference

TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
HEADER_KEYS = {
    "_kind",
    "schema",
    "sessionName",
    "logFileName",
    "recordingStartedAt",
    "recordingEndedAt",
    "durationSec",
    "recordingExclusionPreset",
    "brokerHost",
    "brokerPort",
    "sessionRecorderVersion",
    "ccuVersion",
    "ccuOrdersDescription",
    "ccuOrderOutcome",
    "note",
    "generator",
}
MODULE_SERIALS = ["SVR3QA0022", "SVR4H76449", "SVR3QA2098", "SVR4H76530", "SVR4H73275"]


def _read(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b"", "the file ends with a newline"
    header = json.loads(lines[0])
    return header, [json.loads(line) for line in lines[1:-1]]


@pytest.fixture(scope="module")
def plant(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, dict[str, Any], list[dict[str, Any]]]:
    path = tmp_path_factory.mktemp("gen") / "plant_20260115_090000.log"
    assert generate_session(path, messages=6000, seed=7) == path
    header, messages = _read(path)
    return path, header, messages


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    a = generate_session(tmp_path / "a.log", messages=1500, seed=42)
    b = generate_session(tmp_path / "b.log", messages=1500, seed=42)
    c = generate_session(tmp_path / "c.log", messages=1500, seed=43)
    data_a = a.read_bytes()
    # the header names its own file: compare everything after it
    assert data_a.split(b"\n", 1)[1] == b.read_bytes().split(b"\n", 1)[1]
    assert data_a.split(b"\n", 1)[1] != c.read_bytes().split(b"\n", 1)[1]
    again = generate_session(tmp_path / "a.log", messages=1500, seed=42)
    assert again.read_bytes() == data_a


@pytest.mark.parametrize("mix", ["plant", "small", "camera"])
@pytest.mark.parametrize("count", [0, 1, 10, 700])
def test_exact_message_count_and_valid_lines(tmp_path: Path, mix: str, count: int) -> None:
    path = generate_session(tmp_path / "s.log", messages=count, seed=1, mix=mix)
    header, messages = _read(path)
    assert header["_kind"] == "session_meta"
    assert len(messages) == count
    for m in messages:
        assert list(m) == ["topic", "payload", "timestamp", "qos", "retain"]
        assert isinstance(m["topic"], str)
        assert m["topic"]
        assert m["qos"] == 0
        assert isinstance(m["retain"], bool)
        assert TIMESTAMP.fullmatch(m["timestamp"])
        json.loads(m["payload"])  # every payload is JSON text
    result = read_reference(path.read_bytes())
    assert result.skipped == []
    assert result.metadata == []
    assert result.header == header
    assert len(result.rows) == count


def test_header(plant: tuple[Path, dict[str, Any], list[dict[str, Any]]]) -> None:
    path, header, messages = plant
    assert set(header) >= HEADER_KEYS
    assert header["schema"] == 1
    assert header["sessionName"] == "plant"
    assert header["logFileName"] == path.name
    assert header["recordingExclusionPreset"] == "none"
    assert header["brokerHost"] == "127.0.0.1"
    assert header["brokerPort"] == 1883
    assert header["sessionRecorderVersion"] == "mqtt-replay-generator/1"
    assert header["ccuOrderOutcome"] == "ok"
    assert header["note"] == "generated"
    assert header["generator"] == {"seed": 7, "messages": 6000, "rate": 20.0, "mix": "plant"}
    # naive local (Europe/Berlin, winter: UTC+1) recording times with ms
    assert header["recordingStartedAt"] == "2026-01-15T10:00:00.000"
    first = datetime.fromisoformat(messages[0]["timestamp"])
    last = datetime.fromisoformat(messages[-1]["timestamp"])
    assert first == datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
    assert header["durationSec"] == pytest.approx((last - first).total_seconds(), abs=0.002)
    ended = datetime.fromisoformat(header["recordingEndedAt"])
    assert ended.tzinfo is None
    assert abs((ended - last.replace(tzinfo=None)).total_seconds() - 3600) < 0.002


def test_timestamps_rate_and_bursts(
    plant: tuple[Path, dict[str, Any], list[dict[str, Any]]],
) -> None:
    _, _, messages = plant
    stamps = [m["timestamp"] for m in messages]
    assert stamps == sorted(stamps)
    times = [datetime.fromisoformat(s) for s in stamps]
    span = (times[-1] - times[0]).total_seconds()
    assert 6000 / 20 * 0.8 < span < 6000 / 20 * 1.2  # mean inter-arrival 1/rate
    ties = sum(a == b for a, b in pairwise(stamps))
    assert ties > 30  # bursts of equal timestamps


def test_retained_dump_comes_first(
    plant: tuple[Path, dict[str, Any], list[dict[str, Any]]],
) -> None:
    _, _, messages = plant
    dump = 0
    while messages[dump]["retain"]:
        dump += 1
    assert 40 <= dump <= 75
    topics = {m["topic"] for m in messages[:dump]}
    for topic in [
        "ccu/pairing/state",
        "ccu/state/stock",
        "ccu/state/layout",
        "ccu/state/config",
        "ccu/state/flows",
        "ccu/order/active",
        "ccu/order/completed",
        *(f"module/v1/ff/{serial}/connection" for serial in MODULE_SERIALS),
    ]:
        assert topic in topics
    first = datetime.fromisoformat(messages[0]["timestamp"])
    last = datetime.fromisoformat(messages[dump - 1]["timestamp"])
    assert (last - first).total_seconds() < 0.1
    assert not all(m["retain"] for m in messages[dump:])


def test_plant_covers_the_topic_families(
    plant: tuple[Path, dict[str, Any], list[dict[str, Any]]],
) -> None:
    _, _, messages = plant
    topics = {m["topic"] for m in messages}
    for topic in [
        "ccu/pairing/state",
        "ccu/order/active",
        "ccu/order/completed",
        "ccu/order/request",
        "ccu/order/response",
        "ccu/state/stock",
        "ccu/state/version-mismatch",
        "module/v1/ff/SVR4H73275/instantAction",
        "module/v1/ff/NodeRed/status",
        "fts/v1/ff/5iO4/state",
        "fts/v1/ff/5iO4/order",
        "fts/v1/ff/5iO4/connection",
        "/j1/txt/1/i/cam",
        "/j1/txt/1/i/bme680",
        "/j1/txt/1/i/ldr",
    ]:
        assert topic in topics, topic
    for serial in MODULE_SERIALS:
        for sub in ("state", "connection", "factsheet", "order"):
            assert f"module/v1/ff/{serial}/{sub}" in topics, (serial, sub)
    assert any(t.startswith("module/v1/ff/NodeRed/SVR") for t in topics)
    assert any(t.startswith("osf/arduino/") and t.endswith("/state") for t in topics)
    assert any(t.startswith("osf/arduino/") and t.endswith("/connection") for t in topics)

    payloads = [(m["topic"], json.loads(m["payload"])) for m in messages]
    actions = {
        (p["actionState"]["command"], p["actionState"]["state"])
        for t, p in payloads
        if t.startswith("module/v1/ff/") and t.endswith("/state") and p.get("actionState")
    }
    for command in ("PICK", "DROP", "DRILL", "MILL", "CHECK_QUALITY"):
        assert (command, "RUNNING") in actions
        assert (command, "FINISHED") in actions
    orders = [p for t, p in payloads if t == "ccu/order/response"]
    assert orders[0]["orderType"] == "STORAGE"
    assert {o["type"] for o in orders if o["orderType"] == "PRODUCTION"} == {"RED", "WHITE", "BLUE"}
    for order in orders:
        for step in order["productionSteps"]:
            assert step["type"] in {"NAVIGATION", "MANUFACTURE"}
    battery = [p["batteryState"]["percentage"] for t, p in payloads if t == "fts/v1/ff/5iO4/state"]
    assert battery
    assert all(0 <= b <= 100 for b in battery)
    leds = [p for t, p in payloads if t.endswith("/instantAction") and t.startswith("module/")]
    assert leds[0]["actions"][0]["actionType"] == "setStatusLED"
    cams = [p for t, p in payloads if t == "/j1/txt/1/i/cam"]
    assert all(c["data"].startswith("data:image/jpeg;base64,/9j/") for c in cams)
    assert 9_000 < sum(len(c["data"]) for c in cams) / len(cams) < 12_000
    pairing = [m for m in messages if m["topic"] == "ccu/pairing/state"]
    assert all(m["retain"] for m in pairing)
    pairing_times = [datetime.fromisoformat(m["timestamp"]) for m in pairing[1:]]
    gaps = [(b - a).total_seconds() for a, b in pairwise(pairing_times)]
    assert 1.1 < sum(gaps) / len(gaps) < 1.6  # about every 1.3 s


def test_mix_sizes(tmp_path: Path) -> None:
    def sizes(mix: str, count: int) -> tuple[list[int], list[str]]:
        path = generate_session(tmp_path / f"{mix}.log", messages=count, seed=5, mix=mix)
        lines = path.read_bytes().split(b"\n")[1:-1]
        return [len(line) + 1 for line in lines], [json.loads(line)["topic"] for line in lines]

    plant_sizes, _ = sizes("plant", 20_000)
    assert 700 < sum(plant_sizes) / len(plant_sizes) < 1100  # about 0.9 KB per message
    small_sizes, small_topics = sizes("small", 3000)
    assert 100 < sum(small_sizes) / len(small_sizes) < 300
    assert max(small_sizes) < 400
    assert not any(t.endswith("/cam") for t in small_topics)
    _, camera_topics = sizes("camera", 500)
    assert sum(t == "/j1/txt/1/i/cam" for t in camera_topics) > 0.8 * len(camera_topics)


def test_start_rate_and_progress(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    start = datetime(2025, 7, 1, 12, 0, 0, tzinfo=UTC)
    path = generate_session(
        tmp_path / "p.log",
        messages=5000,
        rate=200.0,
        seed=3,
        start=start,
        progress=lambda done, total: calls.append((done, total)),
    )
    header, messages = _read(path)
    assert messages[0]["timestamp"] == "2025-07-01T12:00:00.000Z"
    assert header["recordingStartedAt"] == "2025-07-01T14:00:00.000"  # summer: UTC+2
    span = (
        datetime.fromisoformat(messages[-1]["timestamp"])
        - datetime.fromisoformat(messages[0]["timestamp"])
    ).total_seconds()
    assert 5000 / 200 * 0.8 < span < 5000 / 200 * 1.2
    assert 90 <= len(calls) <= 110
    assert calls[-1] == (5000, 5000)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert all(total == 5000 for _, total in calls)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"messages": -1},
        {"messages": 10, "rate": 0.0},
        {"messages": 10, "rate": float("nan")},
        {"messages": 10, "mix": "video"},
    ],
)
def test_bad_arguments(tmp_path: Path, kwargs: dict[str, Any]) -> None:
    from mqtt_replay import MqttReplayError

    with pytest.raises(ValueError) as info:  # noqa: PT011
        generate_session(tmp_path / "x.log", **kwargs)
    assert isinstance(info.value, MqttReplayError)
    assert not (tmp_path / "x.log").exists()


def jpeg_segments(image: bytes) -> list[tuple[int, bytes]]:
    """``(marker, body)`` of every segment up to the scan; checks the frame's structure."""
    assert image[:2] == b"\xff\xd8", "no SOI"
    assert image[-2:] == b"\xff\xd9", "no EOI"
    out: list[tuple[int, bytes]] = []
    i = 2
    while True:
        assert image[i] == 0xFF, f"no marker at {i}"
        marker = image[i + 1]
        length = int.from_bytes(image[i + 2 : i + 4], "big")
        out.append((marker, image[i + 4 : i + 2 + length]))
        i += 2 + length
        if marker == 0xDA:  # start of scan: entropy-coded data up to EOI follows
            return out


def test_camera_frames_are_valid_jpegs(
    plant: tuple[Path, dict[str, Any], list[dict[str, Any]]],
) -> None:
    """Each frame: JFIF header, the frame's own bytes in a comment, a 64x48 baseline picture
    with its tables and scan; frames differ from each other (the browser decodes one in
    tests/apps/test_generated_camera.py)."""
    import base64

    _, _, messages = plant
    frames = [
        base64.b64decode(json.loads(m["payload"])["data"].split(",", 1)[1])
        for m in messages
        if m["topic"] == "/j1/txt/1/i/cam"
    ]
    assert len(frames) > 10
    assert len(set(frames)) == len(frames)
    for image in frames:
        segments = jpeg_segments(image)
        markers = [m for m, _ in segments]
        assert markers[:2] == [0xE0, 0xFE]  # APP0 (JFIF), then the comment
        assert segments[0][1].startswith(b"JFIF\0")
        assert 7000 <= len(segments[1][1]) < 8000
        assert {0xDB, 0xC4, 0xC0, 0xDA} <= set(markers)  # tables, baseline frame, scan
        sof = dict(segments)[0xC0]
        height, width = int.from_bytes(sof[1:3], "big"), int.from_bytes(sof[3:5], "big")
        assert (width, height) == (64, 48)
