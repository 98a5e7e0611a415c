"""The Rust session reader against a slow pure-Python oracle (``reference_reader``).

Tests named ``*reference*`` check the oracle itself on hand-written bytes (expected values
computed independently, e.g. with GNU ``date``) and on the real recordings. The ``core`` tests
compare ``mqtt_replay.open_session`` (full, index and strict mode) with the oracle on files
drawn by ``strategies.session_files``.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mqtt_replay import open_session
from reference_reader import RefResult, RefRow, read_reference
from strategies import BAD_TIMESTAMPS, clean_session_files, session_files

S = 1_000_000  # µs per second

ORACLE_SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# A failing property shrinks for up to 5 minutes (Hypothesis' own limit): allow for it.
SHRINK_TIMEOUT = pytest.mark.timeout(900)
ZONES = ["Europe/Berlin", "Europe/Berlin", "UTC", "America/New_York", "Australia/Lord_Howe"]


def _row(
    seq: int,
    ts: int | None,
    topic: str,
    payload: str,
    qos: int = 0,
    retain: bool = False,
    line: int = 1,
) -> RefRow:
    return RefRow(seq, ts, topic, payload, qos, retain, line)


def _one_line(line: bytes, tz: str = "Europe/Berlin") -> RefResult:
    return read_reference(line + b"\n", tz)


def _category(line: bytes) -> str | None:
    """The skip category of a single line, or None when it is not skipped."""
    result = _one_line(line)
    assert len(result.skipped) <= 1
    return result.skipped[0][1] if result.skipped else None


# ------------------------------------------------------------------ the oracle itself


def test_reference_reads_a_small_l5_file() -> None:
    data = (
        b'\xef\xbb\xbf{"_kind":"session_meta","schema":1,"sessionName":"demo"}\r\n'
        b'{"topic":"a/b","payload":"{\\"v\\":1}","timestamp":"2026-04-09T06:22:35.863Z",'
        b'"qos":1,"retain":true}\r\n'
        b"\r\n"
        b"   \t\n"
        b'{"topic":"a/b","payload":null,"timestamp":null}\n'
        b'{"topic":"c","payload":"x","timestamp":"2025-11-10T17:51:51.093930"}\n'
        b'{"topic":"a/b","payl'
    )
    result = read_reference(data)
    assert result.header == {"_kind": "session_meta", "schema": 1, "sessionName": "demo"}
    assert result.rows == [
        _row(0, 1775715755 * S + 863_000, "a/b", '{"v":1}', 1, True, line=2),
        _row(1, None, "a/b", "", line=5),
        _row(2, 1762793511 * S + 93_930, "c", "x", line=6),
    ]
    assert result.skipped == [(7, "invalid JSON")]
    assert result.metadata == []


@pytest.mark.parametrize(
    ("data", "lines", "skipped"),
    [
        (b"", [], []),
        (b"\n", [], []),
        (b"\r\n", [], []),
        (b" \t \n\t\n", [], []),
        (b'{"topic":"a","payload":"1"}', [1], []),
        (b'\n\n{"topic":"a","payload":"1"}\n', [3], []),
        (b'{"topic":"a","payload":"1"}\n\n', [1], []),
        (b'{"topic":"a","payload":"1"}\r\n{"topic":"a","payload":"2"}\r', [1, 2], []),
        (b'{"topic":"a","payload":"1"}\r\r\n', [1], []),  # the 2nd CR is JSON whitespace
        (b'{"topic":"a","payload":"1"}\r\r\r\n', [1], []),
        (b'\xef\xbb\xbf{"topic":"a","payload":"1"}\n', [1], []),
        (b"\xef\xbb\xbf\n", [], []),
        (b'\xef\xbb\xbf\xef\xbb\xbf{"topic":"a","payload":"1"}\n', [], [(1, "invalid JSON")]),
        (b'\n\xef\xbb\xbf{"topic":"a","payload":"1"}\n', [], [(2, "invalid JSON")]),
        (b'{"topic":"a","payload":"1"}\n{"topic":"a","pay', [1], [(2, "invalid JSON")]),
        (
            b"\x0b\n\xc2\xa0\n\x0c\n",
            [],
            [(1, "invalid JSON"), (2, "invalid JSON"), (3, "invalid JSON")],
        ),
        (b"\r\r\n", [], [(1, "invalid JSON")]),
    ],
)
def test_reference_splits_lines(
    data: bytes, lines: list[int], skipped: list[tuple[int, str]]
) -> None:
    result = read_reference(data)
    assert [r.line for r in result.rows] == lines
    assert [r.seq for r in result.rows] == list(range(len(lines)))
    assert result.skipped == skipped


@pytest.mark.parametrize(
    ("line", "category"),
    [
        (b"nul", "invalid JSON"),
        (b"{", "invalid JSON"),
        (b'{"topic":"a","payload":"x",}', "invalid JSON"),
        (b'{"topic":"a","payload":"x"} x', "invalid JSON"),
        (b'{"topic":"a","payload":"x"}{}', "invalid JSON"),
        (b'{"topic":"a\tb","payload":""}', "invalid JSON"),  # raw control character
        (b'{"topic":"a","payload":"\\x"}', "invalid JSON"),
        (b'{"topic":"a","payload":"\\u12"}', "invalid JSON"),
        (b"{'topic':'a'}", "invalid JSON"),
        (b'{"topic":"a","payload":"","n":01}', "invalid JSON"),
        (b'{"topic":"a","payload":"","n":+1}', "invalid JSON"),
        (b'{"topic":"a","payload":"","n":nan}', "invalid JSON"),
        (b"[1]", "not a JSON object"),
        (b'"s"', "not a JSON object"),
        (b"NaN", "not a JSON object"),
        (b"-0", "not a JSON object"),
        (b"null", "not a JSON object"),
        (b'{"topic":"","payload":"x"}', "bad topic"),
        (b'{"topic":5,"payload":"x"}', "bad topic"),
        (b'{"topic":null,"payload":"x"}', "bad topic"),
        (b'{"topic":["a"],"payload":"x"}', "bad topic"),
        (b'{"topic":"a"}', "bad payload"),
        (b'{"topic":"a","payload":{}}', "bad payload"),
        (b'{"topic":"a","payload":5}', "bad payload"),
        (b'{"topic":"a","payload":true}', "bad payload"),
        (b'{"topic":"a","payload":"","timestamp":12}', "bad timestamp"),
        (b'{"topic":"a","payload":"","timestamp":[]}', "bad timestamp"),
        (b'{"topic":"a","payload":"","timestamp":"x"}', "bad timestamp"),
        # check order: the first failing field names the category
        (b'{"topic":"","payload":5,"timestamp":5}', "bad topic"),
        (b'{"topic":"a","payload":5,"timestamp":5,"qos":9}', "bad payload"),
        (b'{"topic":"a","timestamp":5}', "bad payload"),
        (b'{"topic":"a","payload":"","timestamp":"x","qos":9,"retain":9}', "bad timestamp"),
        (b'{"topic":"a","payload":"","qos":9,"retain":9}', "bad qos"),
        (b'{"payload":5,"qos":"x","timestamp":1}', None),  # no topic: a metadata line
        # duplicate keys: the last one wins
        (b'{"topic":"a","payload":"","qos":"x","qos":1}', None),
        (b'{"topic":"a","payload":"","qos":1,"qos":"x"}', "bad qos"),
        # Python's json accepts these tokens; they are fine outside the known fields
        (b'{"topic":"a","payload":"","x":NaN,"y":-Infinity,"z":Infinity}', None),
        (b'{"topic":"a","payload":"","x":1e999,"y":-0.0e-5}', None),
        (b'{"topic":"a","payload":"","qos":' + b"1" * 5000 + b"}", "bad qos"),
    ],
)
def test_reference_skip_categories(line: bytes, category: str | None) -> None:
    assert _category(line) == category


@pytest.mark.parametrize(
    ("value", "qos"),
    [
        (None, 0),
        (b"null", 0),
        (b"0", 0),
        (b"1", 1),
        (b"2", 2),
        (b"-0", 0),
        (b"3", "bad qos"),
        (b"-1", "bad qos"),
        (b"true", "bad qos"),
        (b"false", "bad qos"),
        (b"1.0", "bad qos"),
        (b"1e0", "bad qos"),
        (b'"1"', "bad qos"),
        (b"[]", "bad qos"),
        (b"NaN", "bad qos"),
        (b"18446744073709551617", "bad qos"),
    ],
)
def test_reference_qos(value: bytes | None, qos: int | str) -> None:
    extra = b"" if value is None else b',"qos":' + value
    result = _one_line(b'{"topic":"a","payload":""' + extra + b"}")
    if isinstance(qos, str):
        assert result.skipped == [(1, qos)]
    else:
        assert [r.qos for r in result.rows] == [qos]


@pytest.mark.parametrize(
    ("value", "retain"),
    [
        (None, False),
        (b"null", False),
        (b"true", True),
        (b"false", False),
        (b"0", False),
        (b"1", True),
        (b"-0", False),
        (b"2", "bad retain"),
        (b"-1", "bad retain"),
        (b'"true"', "bad retain"),
        (b"1.0", "bad retain"),
        (b"0.0", "bad retain"),
        (b"[]", "bad retain"),
        (b"Infinity", "bad retain"),
    ],
)
def test_reference_retain(value: bytes | None, retain: bool | str) -> None:
    extra = b"" if value is None else b',"retain":' + value
    result = _one_line(b'{"topic":"a","payload":""' + extra + b"}")
    if isinstance(retain, str):
        assert result.skipped == [(1, retain)]
    else:
        assert [r.retain for r in result.rows] == [retain]


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        (b'"plain"', "plain"),
        (b"null", ""),
        (b'""', ""),
        (b'"{\\"a\\": [1, 2]}"', '{"a": [1, 2]}'),
        (b'"\\"x\\""', '"x"'),
        (b'"\\u00fc\\u20AC\\/\\b\\f\\n\\r\\t\\\\"', "ü€/\b\f\n\r\t\\"),
        (b'"\\ud83d\\ude00"', "😀"),  # a surrogate pair written as escapes
        (b'"\\ud800x"', "\ufffdx"),  # a lone high surrogate
        (b'"x\\udc00"', "x\ufffd"),  # a lone low surrogate
        (b'"\\ud83d\\u0041"', "\ufffdA"),
        (b'"\\udc00\\ud800"', "\ufffd\ufffd"),  # reversed pair: two lone surrogates
        (b'"\\u0000"', "\x00"),
        ('"ü😀\u2028"'.encode(), "ü😀\u2028"),
        (b'"\xff"', "\ufffd"),  # invalid UTF-8 inside a string
        (b'"a\xed\xa0\x80b"', "a\ufffd\ufffd\ufffdb"),  # CESU-8 surrogate: 3 bad bytes
        (b'"\xe2\x82"', "\ufffd"),  # truncated sequence: one replacement
    ],
)
def test_reference_topic_and_payload_text(field: bytes, expected: str) -> None:
    result = _one_line(b'{"topic":"t","payload":' + field + b"}")
    assert [r.payload for r in result.rows] == [expected]
    if expected:
        result = _one_line(b'{"topic":' + field + b',"payload":"p"}')
        assert [r.topic for r in result.rows] == [expected]


def test_reference_escaped_and_duplicate_keys() -> None:
    result = read_reference(
        b'{"\\u0074opic":"a","payload":"x"}\n'
        b'{"topic":"a","topic":"b","payload":"x","payload":null}\n'
    )
    assert result.rows == [_row(0, None, "a", "x", line=1), _row(1, None, "b", "", line=2)]


def test_reference_metadata_and_header() -> None:
    data = (
        b'{"note":"x"}\n'
        b'{"session_name":"s","created_at":"2025-08-14T16:14:45","source":"db","note":""}\n'
        b'{"_kind":"session_meta","schema":1}\n'
        b"{}\n"
        b'{"_kind":"session_meta","topic":"x","payload":""}\n'
        b'{"_kind":"other"}\n'
    )
    result = read_reference(data)
    assert result.header == {
        "session_name": "s",
        "created_at": "2025-08-14T16:14:45",
        "source": "db",
        "note": "",
    }
    assert result.metadata == [1, 3, 4, 6]
    assert result.rows == [_row(0, None, "x", "", line=5)]
    assert result.skipped == []

    l5 = read_reference(b'{"x":1}\n{"_kind":"session_meta","schema":1,"note":NaN}\n')
    assert l5.metadata == [1]
    assert l5.header is not None
    assert l5.header["schema"] == 1


@pytest.mark.parametrize(
    ("text", "tz", "expected"),
    [
        ("2026-04-09T06:22:35.863Z", "Europe/Berlin", 1775715755 * S + 863_000),
        ("1970-01-01T00:00:00Z", "Europe/Berlin", 0),
        ("1970-01-01 01:00:00+01:00", "Europe/Berlin", 0),
        ("1970-01-01T00:00:00-00:01", "UTC", 60 * S),
        ("1970-01-01T00:00:00-00:00", "UTC", 0),
        ("1970-01-01T00:00:00.5Z", "UTC", 500_000),
        ("1970-01-01T00:00:00.1234569Z", "UTC", 123_456),  # truncated, not rounded
        ("1970-01-01T00:00:00.999999999Z", "UTC", 999_999),
        ("1970-01-01T00:00:00.000001Z", "UTC", 1),
        ("1969-12-31T23:59:59.999999Z", "UTC", -1),
        ("2024-02-29T12:00:00Z", "UTC", 1709208000 * S),
        ("2024-02-29 12:00:00", "UTC", 1709208000 * S),
        ("9999-12-31T23:59:59Z", "UTC", 253402300799 * S),
        ("0001-01-01T00:00:00Z", "UTC", -62135596800 * S),  # the first instant Python holds
        ("0001-01-01T01:00:00+01:00", "UTC", -62135596800 * S),
        # naive times: Europe/Berlin, winter +1, summer +2
        ("2025-11-10T17:51:51.093930", "Europe/Berlin", 1762793511 * S + 93_930),
        ("2025-11-10T17:51:51", "Europe/Berlin", 1762793511 * S),
        ("2026-08-04T11:28:23.921", "Europe/Berlin", 1785835703 * S + 921_000),
        ("2025-01-01T00:00:00", "Asia/Kolkata", (1735689600 - 19800) * S),
        ("2025-10-26 02:30:00", "UTC", (1761444000 + 1800) * S),
        # spring gap (02:00-03:00 does not exist): the offset before the gap (+1)
        ("2025-03-30T01:59:59", "Europe/Berlin", 1743296399 * S),
        ("2025-03-30T02:00:00", "Europe/Berlin", (1743298200 - 1800) * S),
        ("2025-03-30T02:30:00", "Europe/Berlin", 1743298200 * S),
        ("2025-03-30T03:00:00", "Europe/Berlin", 1743296400 * S),
        # autumn fold (02:00-03:00 happens twice): the earlier occurrence (+2)
        ("2025-10-26T01:59:59", "Europe/Berlin", 1761436799 * S),
        ("2025-10-26T02:30:00", "Europe/Berlin", 1761438600 * S),
        ("2025-10-26T02:59:59.999999", "Europe/Berlin", (1761438600 + 1799) * S + 999_999),
        ("2025-10-26T03:00:00", "Europe/Berlin", 1761444000 * S),
        # before 1893-04-01 Berlin kept local mean time (+0:53:28); 00:00-00:06:32 is a gap
        ("1893-03-31T23:00:00", "Europe/Berlin", -2422058008 * S),
        ("1893-04-01T00:03:00", "Europe/Berlin", -2422054228 * S),
    ],
)
def test_reference_timestamps(text: str, tz: str, expected: int) -> None:
    line = json.dumps({"topic": "t", "payload": "", "timestamp": text}).encode()
    assert [r.timestamp_us for r in _one_line(line, tz).rows] == [expected]


OUT_OF_RANGE = [
    "9999-12-31T23:59:59-23:59",  # year 10000 in UTC
    "0000-03-01T00:00:00Z",  # year 0
    "0000-02-29T00:00:00Z",
    "0001-01-01T00:30:00+01:00",  # 0000-12-31 in UTC
]


@pytest.mark.parametrize("text", OUT_OF_RANGE)
def test_timestamps_outside_years_1_to_9999_are_bad_lines(text: str, tmp_path: Path) -> None:
    """Reported: such lines were accepted, then Session.start raised OverflowError and
    `info`, `play` and the Library failed. Now they are skipped with their reason."""
    line = json.dumps({"topic": "t", "payload": "", "timestamp": text}).encode()
    assert _one_line(line).skipped == [(1, "bad timestamp")]
    good = json.dumps({"topic": "t", "payload": "ok", "timestamp": "2026-01-01T00:00:00Z"})
    f = tmp_path / "range.log"
    f.write_bytes(line + b"\n" + good.encode() + b"\n")
    s = open_session(f)
    assert len(s) == 1 and [k.line for k in s.skipped] == [1]
    assert "outside years 1-9999" in s.skipped[0].reason
    assert s.start is not None and s.start.year == 2026


@pytest.mark.parametrize("text", BAD_TIMESTAMPS)
def test_reference_bad_timestamps(text: str) -> None:
    line = json.dumps({"topic": "t", "payload": "", "timestamp": text}).encode()
    assert _one_line(line).skipped == [(1, "bad timestamp")]


def test_reference_keeps_ties_and_duplicates() -> None:
    line = b'{"topic":"a","payload":"p","timestamp":"2025-01-01T00:00:00Z"}'
    other = b'{"topic":"b","payload":"q","timestamp":"2025-01-01T00:00:00Z"}'
    result = read_reference(line + b"\n" + line + b"\n" + other + b"\n" + line)
    ts = 1735689600 * S
    assert result.rows == [
        _row(0, ts, "a", "p", line=1),
        _row(1, ts, "a", "p", line=2),
        _row(2, ts, "b", "q", line=3),
        _row(3, ts, "a", "p", line=4),
    ]


@ORACLE_SETTINGS
@given(session_files())
def test_reference_invariants_on_generated_files(data: bytes) -> None:
    result = read_reference(data)
    nonblank = [
        i
        for i, piece in enumerate(data.split(b"\n"), start=1)
        if piece.removesuffix(b"\r").removeprefix(b"\xef\xbb\xbf" if i == 1 else b"").strip(b" \t")
    ]
    header = [] if result.header is None else [0]
    accounted = [r.line for r in result.rows] + [s[0] for s in result.skipped] + result.metadata
    assert len(accounted) + len(header) == len(nonblank)
    assert set(accounted) <= set(nonblank)
    assert [r.seq for r in result.rows] == list(range(len(result.rows)))
    assert [r.line for r in result.rows] == sorted(r.line for r in result.rows)


@ORACLE_SETTINGS
@given(clean_session_files)
def test_reference_reads_clean_generated_files_without_skips(data: bytes) -> None:
    assert read_reference(data).skipped == []


@pytest.mark.samples
def test_reference_reads_real_samples(samples_dir: Path) -> None:
    logs = sorted(samples_dir.glob("*.log"))
    assert logs
    for path in logs:
        result = read_reference(path.read_bytes())
        assert result.skipped == [], path.name
        assert result.rows, path.name
        if path.name != "fixture-no-timestamps.log":
            assert all(r.timestamp_us is not None for r in result.rows), path.name


# ------------------------------------------------------------- the Rust core vs the oracle


@contextmanager
def _session_file(data: bytes) -> Iterator[Path]:
    """A fresh file per hypothesis example (function-scoped fixtures are not reset)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.log"
        path.write_bytes(data)
        yield path


def _pylist(values: Any) -> list[Any]:
    return values.to_pylist() if hasattr(values, "to_pylist") else list(values)


def _table_rows(table: pa.Table) -> list[RefRow]:
    columns = {
        name: table.column(name).to_pylist()
        for name in ("seq", "topic", "payload", "qos", "retain", "line")
    }
    ts = table.column("timestamp").cast(pa.int64()).to_pylist()
    return [
        RefRow(*row)
        for row in zip(
            columns["seq"],
            ts,
            columns["topic"],
            columns["payload"],
            columns["qos"],
            columns["retain"],
            columns["line"],
            strict=True,
        )
    ]


def _header_text(header: dict[str, Any] | None) -> str | None:
    return None if header is None else json.dumps(header, sort_keys=True)


def _assert_side_outputs(session: Any, ref: RefResult) -> None:
    skipped = [(s.line, s.reason.split(":")[0]) for s in session.skipped]
    assert skipped == ref.skipped
    assert list(session.metadata_lines) == ref.metadata
    assert _header_text(session.header) == _header_text(ref.header)


def test_core_schema() -> None:
    from mqtt_replay import open_session

    data = (
        b'{"_kind":"session_meta","schema":1,"sessionName":"s"}\n'
        b'{"topic":"a","payload":"x","timestamp":"2026-01-01T00:00:00.123Z","qos":1,"retain":true}\n'
        b'{"topic":"a","payload":"y"}\n'
    )
    with _session_file(data) as path:
        table = open_session(path).table
    assert table.schema.field("seq").type == pa.uint64()
    assert table.schema.field("timestamp").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("timestamp").nullable
    assert table.schema.field("topic").type == pa.dictionary(pa.int32(), pa.string())
    assert table.schema.field("payload").type == pa.string()
    assert table.schema.field("qos").type == pa.uint8()
    assert table.schema.field("retain").type == pa.bool_()
    assert table.schema.field("line").type == pa.uint64()
    assert _table_rows(table) == read_reference(data).rows


@SHRINK_TIMEOUT
@ORACLE_SETTINGS
@given(data=session_files(), tz=st.sampled_from(ZONES))
def test_core_full_mode_agrees(data: bytes, tz: str) -> None:
    from mqtt_replay import open_session

    ref = read_reference(data, tz)
    with _session_file(data) as path:
        session = open_session(path, tz=tz)
        assert _table_rows(session.table) == ref.rows
        _assert_side_outputs(session, ref)


@SHRINK_TIMEOUT
@ORACLE_SETTINGS
@given(data=session_files(), picks=st.lists(st.integers(0, 10_000), max_size=10))
def test_core_index_mode_agrees(data: bytes, picks: list[int]) -> None:
    from mqtt_replay import open_session

    ref = read_reference(data)
    with _session_file(data) as path:
        session = open_session(path, mode="index")
        index = session.index
        for name in ("seq", "timestamp", "topic", "qos", "retain", "line", "offset", "length"):
            assert name in index.column_names, name
        ts = index.column("timestamp").cast(pa.int64()).to_pylist()
        got = list(
            zip(
                index.column("seq").to_pylist(),
                ts,
                index.column("topic").to_pylist(),
                index.column("qos").to_pylist(),
                index.column("retain").to_pylist(),
                index.column("line").to_pylist(),
                strict=True,
            )
        )
        assert got == [(r.seq, r.timestamp_us, r.topic, r.qos, r.retain, r.line) for r in ref.rows]
        for offset, length in zip(
            index.column("offset").to_pylist(), index.column("length").to_pylist(), strict=True
        ):
            assert offset >= 0
            assert length >= 0
            assert offset + length <= len(data)
        n = len(ref.rows)
        everything = list(range(n))
        assert _pylist(session.payloads(everything)) == [r.payload for r in ref.rows]
        some = [p % n for p in picks] if n else []
        assert _pylist(session.payloads(some)) == [ref.rows[i].payload for i in some]
        _assert_side_outputs(session, ref)


@SHRINK_TIMEOUT
@ORACLE_SETTINGS
@given(session_files())
def test_core_strict_mode(data: bytes) -> None:
    from mqtt_replay import MqttReplayError, open_session

    ref = read_reference(data)
    with _session_file(data) as path:
        if not ref.skipped:
            assert _table_rows(open_session(path, strict=True).table) == ref.rows
            return
        with pytest.raises(MqttReplayError) as info:
            open_session(path, strict=True)
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert "x.log" in message
    first_bad = ref.skipped[0][0]
    assert re.search(rf"(?<!\d){first_bad}(?!\d)", message), message


@SHRINK_TIMEOUT
@ORACLE_SETTINGS
@given(clean_session_files)
def test_core_strict_mode_accepts_clean_files(data: bytes) -> None:
    from mqtt_replay import open_session

    ref = read_reference(data)
    with _session_file(data) as path:
        session = open_session(path, strict=True)
        assert _table_rows(session.table) == ref.rows
        _assert_side_outputs(session, ref)


@pytest.mark.samples
def test_core_agrees_on_real_samples(samples_dir: Path) -> None:
    from mqtt_replay import open_session

    for path in sorted(samples_dir.glob("*.log")):
        ref = read_reference(path.read_bytes())
        session = open_session(path)
        assert _table_rows(session.table) == ref.rows, path.name
        _assert_side_outputs(session, ref)
