"""The session reader on the real recordings in ../shared/sessions and on edge cases."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from tests.conftest import sample_path

import mqtt_replay
from mqtt_replay import open_session


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# file, messages, lines, first UTC, last UTC, has header — first/last read off the raw files
# (naive times are Europe/Berlin: +1 h in Nov/Mar, +2 h in Aug).
SAMPLES = [
    (
        "default_test_session.log",
        206,
        206,
        "2025-08-14T14:14:45.240146",
        "2025-08-14T14:15:33.958130",
        False,
    ),
    (
        "default_test_session.db",
        205,
        205,
        "2025-08-14T14:14:45.240146",
        "2025-08-14T14:15:33.352538",
        False,
    ),
    (
        "Start_20251110_175151.log",
        3378,
        3378,
        "2025-11-10T16:48:46.093930",
        "2025-11-10T16:51:51.835517",
        False,
    ),
    (
        "storage_order_white_20251110_180844.log",
        552,
        552,
        "2025-11-10T17:06:34.903228",
        "2025-11-10T17:08:43.700479",
        False,
    ),
    (
        "storage_order_white_20251110_180844.db",
        552,
        552,
        "2025-11-10T17:06:34.903228",
        "2025-11-10T17:08:43.700479",
        False,
    ),
    (
        "production-blue_20260303_090705.log",
        1065,
        1065,
        "2026-03-03T08:02:41.136801",
        "2026-03-03T08:07:04.740784",
        False,
    ),
    (
        "orbis-fulltopics-baseline_20260409_082701.log",
        1374,
        1374,
        "2026-04-09T06:22:35.863",
        "2026-04-09T06:27:00.684",
        False,
    ),
    (
        "storage-production-ml-wrb_20260804_114227.log",
        1950,
        1951,
        "2026-08-04T09:28:24.009",
        "2026-08-04T09:42:27.160",
        True,
    ),
    (
        "white-storage-production_20260807_111716.log",
        1483,
        1484,
        "2026-08-07T09:11:27.016",
        "2026-08-07T09:16:29.778",
        True,
    ),
    (
        "track-trace.log",
        1478,
        1478,
        "2025-11-10T17:16:47.561299",
        "2025-11-10T17:28:09.534677",
        False,
    ),
    ("auftrag-rot_1.log", 4, 4, "2025-03-12T14:00:00", "2025-03-12T14:10:00", False),
    ("ccu.log.zip", 943, 943, "2026-03-12T15:45:17.287557", "2026-03-12T15:51:03.086078", False),
]

SCHEMA = pa.schema(
    [
        pa.field("seq", pa.uint64(), nullable=False),
        pa.field("timestamp", pa.timestamp("us", tz="UTC")),
        pa.field("topic", pa.dictionary(pa.int32(), pa.string()), nullable=False),
        pa.field("payload", pa.string(), nullable=False),
        pa.field("qos", pa.uint8(), nullable=False),
        pa.field("retain", pa.bool_(), nullable=False),
        pa.field("line", pa.uint64(), nullable=False),
        pa.field("binary", pa.bool_(), nullable=False),
    ]
)


@pytest.mark.samples
@pytest.mark.parametrize(("name", "count", "lines", "first", "last", "header"), SAMPLES)
def test_sample_sessions_load(
    name: str, count: int, lines: int, first: str, last: str, header: bool
) -> None:
    s = open_session(sample_path(name))
    assert len(s) == count
    assert s.lines == lines
    assert s.skipped == []
    assert s.start == utc(first)
    assert s.end == utc(last)
    assert (s.header is not None) == header
    assert s.table.schema.equals(SCHEMA)
    assert s.table.column("seq").to_pylist() == list(range(count))


@pytest.mark.samples
def test_header_fields_of_l5_session() -> None:
    s = open_session(sample_path("storage-production-ml-wrb_20260804_114227.log"))
    assert s.header is not None
    assert s.header["sessionName"] == "storage-production-ml-wrb"
    assert s.header["recordingExclusionPreset"] == "no_cam"
    assert s.header["brokerPort"] == 1883
    assert s.name == "storage-production-ml-wrb"
    # The header is line 1, so the first message is line 2.
    assert s.table.column("line")[0].as_py() == 2


@pytest.mark.samples
def test_no_timestamp_fixture_is_one_instant() -> None:
    s = open_session(sample_path("fixture-no-timestamps.log"))
    assert len(s) == 1
    assert s.table.column("timestamp").null_count == 1
    assert s.table.column("topic")[0].as_py() == "ccu/state/flows"
    assert json.loads(s.payload(0))["RED"]["steps"] == ["MILL", "AIQS"]


@pytest.mark.samples
@pytest.mark.parametrize(
    ("db", "log"),
    [
        ("storage_order_white_20251110_180844.db", "storage_order_white_20251110_180844.log"),
        ("default_test_session.db", "default_test_session.log"),
    ],
)
def test_sqlite_and_log_twins_agree(db: str, log: str) -> None:
    a = open_session(sample_path(db)).table
    b = open_session(sample_path(log)).table
    n = min(a.num_rows, b.num_rows)  # the legacy .db lacks the .log's last line
    cols = ["timestamp", "topic", "payload", "qos", "retain"]
    assert a.select(cols).slice(0, n).to_pylist() == b.select(cols).slice(0, n).to_pylist()


@pytest.mark.samples
def test_payloads_are_unescaped_text() -> None:
    s = open_session(sample_path("orbis-fulltopics-baseline_20260409_082701.log"))
    payloads = s.table.column("payload").to_pylist()
    assert "true" in payloads  # a bare `true` body stays text
    cams = [
        p
        for t, p in zip(s.table.column("topic").to_pylist(), payloads, strict=True)
        if t == "/j1/txt/1/i/cam"
    ]
    assert cams
    assert json.loads(cams[0])["data"].startswith("data:image/")


def test_zero_copy_export(tmp_path: Path) -> None:
    """Two exports of the same session share the payload buffer: nothing is copied."""
    path = tmp_path / "s.log"
    path.write_text('{"topic":"a","payload":"hello","timestamp":"2026-01-01T00:00:00Z"}\n')
    s = open_session(path)
    from mqtt_replay import _core

    raw = _core.open_session(str(path))
    t1, t2 = pa.table(raw), pa.table(raw)
    a1 = t1.column("payload").chunk(0).buffers()[2].address
    a2 = t2.column("payload").chunk(0).buffers()[2].address
    assert a1 == a2
    assert s.table.column("payload").to_pylist() == ["hello"]


def test_bad_lines_lenient_and_strict(tmp_path: Path) -> None:
    path = tmp_path / "bad_20260101_000000.log"
    path.write_bytes(
        b'{"topic":"a","payload":"1","timestamp":"2026-01-01T00:00:00Z"}\n'
        b'{"topic":"a","payload":"2","timestamp":"not a time"}\n'
        b"garbage\n"
        b'{"topic":"a","payload":"3","timestamp":"2026-01-01T00:00:01Z"}\n'
        b'{"topic":"a","payl'
    )
    s = open_session(path)
    assert len(s) == 2
    assert [(k.line, k.reason.split(":")[0]) for k in s.skipped] == [
        (2, "bad timestamp"),
        (3, "invalid JSON"),
        (5, "invalid JSON"),
    ]
    assert s.skipped[1].text == "garbage"
    with pytest.raises(mqtt_replay.SessionParseError) as info:
        open_session(path, strict=True)
    err = info.value
    assert isinstance(err, ValueError)
    assert isinstance(err, mqtt_replay.MqttReplayError)
    assert err.line == 2
    assert "bad_20260101_000000.log:2" in str(err)


def test_missing_file_and_bad_zone(tmp_path: Path) -> None:
    with pytest.raises(mqtt_replay.SessionNotFoundError):
        open_session(tmp_path / "nope.log")
    path = tmp_path / "x.log"
    path.write_text("")
    with pytest.raises(mqtt_replay.InvalidOptionError):
        open_session(path, tz="Mars/Olympus")
    assert len(open_session(path)) == 0


def test_zone_is_a_parameter_not_the_host_zone(tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    path.write_text('{"topic":"a","payload":"","timestamp":"2025-07-01T12:00:00"}\n')
    old = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    try:
        berlin = open_session(path).start
        tokyo = open_session(path, tz="Asia/Tokyo").start
    finally:
        if old is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = old
    assert berlin == utc("2025-07-01T10:00:00")
    assert tokyo == utc("2025-07-01T03:00:00")


def test_index_mode_and_cache(tmp_path: Path) -> None:
    path = tmp_path / "s.log"
    lines = [
        json.dumps(
            {
                "topic": f"t/{i % 3}",
                "payload": json.dumps({"i": i, "s": 'ä\n"x"'}),
                "timestamp": f"2026-01-01T00:00:{i:02d}Z",
            }
        )
        for i in range(50)
    ]
    path.write_text("\n".join(lines) + "\n")
    cache = tmp_path / "cache"
    full = open_session(path)
    first = open_session(path, mode="index", cache=cache)
    again = open_session(path, mode="index", cache=cache)
    assert not first.from_cache
    assert again.from_cache
    assert list(cache.iterdir())
    for s in (first, again):
        assert s.index.drop_columns(["offset", "length"]).equals(full.index)
        assert s.payloads([0, 49, 7]) == full.payloads([0, 49, 7])
        assert s.table.column("payload").equals(full.table.column("payload"))
    # A changed file is not served from a stale index.
    path.write_text(lines[0] + "\n")
    assert len(open_session(path, mode="index", cache=cache)) == 1
    assert len(list(cache.iterdir())) == 1


def test_progress_callback(tmp_path: Path) -> None:
    path = tmp_path / "s.log"
    path.write_text('{"topic":"a","payload":"x"}\n' * 1000)
    seen: list[tuple[int, int]] = []
    open_session(path, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (path.stat().st_size, path.stat().st_size)


def test_the_cache_keeps_the_most_recently_used_indexes(tmp_path: Path) -> None:
    from mqtt_replay.session import prune_cache

    cache = tmp_path / "cache"
    paths = []
    for i in range(4):
        path = tmp_path / f"s{i}.log"
        path.write_text(json.dumps({"topic": "a", "payload": "x" * 100}) + "\n")
        open_session(path, mode="index", cache=cache)
        paths.append(path)
    files = sorted(cache.glob("*.arrow"), key=lambda f: f.name)
    assert len(files) == 4
    for age, f in enumerate(files):  # s0 oldest … s3 newest
        os.utime(f, ns=(10**18 + age * 10**9, 10**18 + age * 10**9))
    assert open_session(paths[0], mode="index", cache=cache).from_cache  # s0 used again
    size = files[0].stat().st_size
    removed = prune_cache(cache, max_files=2, max_bytes=10 * size)
    assert sorted(f.name.split(".")[0] for f in removed) == ["s1", "s2"]
    assert prune_cache(cache, max_files=10, max_bytes=size, keep=files[3]) == [files[0]]
    assert [f.name for f in cache.glob("*.arrow")] == [files[3].name]
