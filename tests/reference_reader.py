"""A slow, obviously-correct reference reader for NDJSON session logs (the oracle).

The fast Rust reader (``mqtt_replay.open_session``) implements exactly these rules; the
property tests in ``test_reader_oracle.py`` compare the two on generated files.

Rules
-----
1.  Split ``data`` on ``b"\\n"``. If the data ends with ``b"\\n"``, the final empty piece is not
    a line. Line numbers are 1-based indexes of the pieces. Strip one trailing ``b"\\r"`` from
    each line. Strip a UTF-8 BOM (``b"\\xef\\xbb\\xbf"``) at the start of line 1 only.
2.  Decode each line as UTF-8 with ``errors="replace"``.
3.  A line that is empty or only spaces/tabs (after the ``\\r`` strip) is ignored silently (not
    a row, not skipped).
4.  Parse with ``json.loads`` (it accepts NaN/Infinity/-Infinity, duplicate keys = last wins;
    whitespace is ``" \\t\\n\\r"``). Failure -> skipped with category ``"invalid JSON"``. Result
    not a dict -> skipped ``"not a JSON object"``.
5.  Key ``"topic"`` absent -> a metadata line: if no header has been found yet AND
    (``obj.get("_kind") == "session_meta"`` or ``"session_name" in obj``) it becomes ``header``
    (the whole dict); otherwise its line number goes into ``metadata``. Neither is a row nor an
    error.
6.  ``topic`` present but not a str, or an empty string -> skipped ``"bad topic"``.
7.  ``payload``: missing -> skipped ``"bad payload"``; None -> ``""``; str -> that string;
    anything else -> skipped ``"bad payload"``.
8.  ``timestamp``: missing or None -> None; a str -> parsed by the grammar below, failure ->
    skipped ``"bad timestamp"``; anything else -> skipped ``"bad timestamp"``.
    Grammar (full match, no surrounding spaces)::

        (\\d{4})-(\\d{2})-(\\d{2})[T ](\\d{2}):(\\d{2}):(\\d{2})
        (?:\\.(\\d{1,9}))?(Z|[+-]\\d{2}:\\d{2})?

    (one regex, split here for width)

    ``\\d`` means the ASCII digits 0-9 only. Fields must form a valid date/time (month 1-12,
    valid day incl. leap years, hour 0-23, minute 0-59, second 0-59; offsets hours 0-23,
    minutes 0-59). The fraction is truncated to microseconds (pad with zeros to 6 digits, then
    take the first 6). ``Z`` or an offset -> that UTC offset. No offset (naive) -> local time in
    zone ``tz`` via zoneinfo with fold=0 (for ambiguous times the first/earlier occurrence; for
    non-existent times (DST gap) the offset in force before the gap, which is what fold=0
    gives). Result in integer microseconds since the Unix epoch (UTC), by integer arithmetic.
9.  ``qos``: missing or None -> 0; an int (NOT bool) in 0..2 -> it; anything else -> skipped
    ``"bad qos"``.
10. ``retain``: missing or None -> False; a bool -> it; an int (not bool) 0 or 1 -> bool of it;
    anything else -> skipped ``"bad retain"``.
11. The check order for a line is: JSON, object, topic (absent -> metadata), topic validity,
    payload, timestamp, qos, retain. The first failure names the category.
12. After json.loads, strings may contain lone surrogates (from ``"\\ud800"`` escapes): every
    code point in U+D800..U+DFFF in topic and payload is replaced by U+FFFD.
13. ``seq`` numbers the rows 0, 1, 2, ... in file order. Ties and exact duplicate lines are all
    kept.

Decisions where the rules above are silent (made here, shared with the Rust reader):

* Year ``0000`` is a valid year (proleptic Gregorian, ISO 8601: 1 BCE, a leap year). Python's
  ``datetime`` starts at year 1, so year 0 is computed as year 400 minus one 400-year
  Gregorian cycle (146097 days); naive year-0 times use the zone offset of the same wall time
  in year 400 (every tzdb zone is on constant local mean time that early).
* A result outside years 1-9999 UTC (``datetime``'s range: ``0000-…`` or
  ``9999-12-31T23:59:59-23:59``, which is in year 10000 UTC) is a ``bad timestamp``: such a
  time cannot be shown or handed to Python, so the line is skipped with its reason.
* JSON integers of any length are numbers (Python's int/str digit limit is not a JSON rule).
  Nesting deeper than Python's recursion limit is counted as ``invalid JSON``; the generated
  test files never nest that deep.
* A header-shaped line after the header is an ordinary metadata line (rule 5 as written).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

BOM = b"\xef\xbb\xbf"

TIMESTAMP_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[T ]([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]{1,9}))?(Z|[+-][0-9]{2}:[0-9]{2})?"
)
SURROGATE_RE = re.compile("[\ud800-\udfff]")

US_PER_SECOND = 1_000_000
SECONDS_PER_DAY = 86_400
DAYS_PER_400_YEARS = 146_097
EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


class RefRow(NamedTuple):
    seq: int
    timestamp_us: int | None
    topic: str
    payload: str
    qos: int
    retain: bool
    line: int


@dataclass
class RefResult:
    rows: list[RefRow] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)
    metadata: list[int] = field(default_factory=list)
    header: dict[str, Any] | None = None


class LineError(Exception):
    """A line that is skipped; ``args[0]`` is the reason category."""


def _parse_int(text: str) -> int:
    # int(text) refuses more than 4300 digits (a CPython safety limit, not a JSON rule).
    return int(text) if len(text) < 4000 else int(Decimal(text))


def _timedelta_us(td: timedelta) -> int:
    return (td.days * SECONDS_PER_DAY + td.seconds) * US_PER_SECOND + td.microseconds


def _wall_us(
    year: int, month: int, day: int, hour: int, minute: int, second: int, micro: int
) -> tuple[int, datetime]:
    """(µs since 1970-01-01T00:00 on the wall clock, the naive datetime used for zone lookups).

    Raises LineError when the fields do not form a valid date and time.
    """
    shift_days = 0
    if year == 0:  # year 0 = year 400 minus one 400-year Gregorian cycle
        year, shift_days = 400, -DAYS_PER_400_YEARS
    try:
        naive = datetime(year, month, day, hour, minute, second, micro)
    except ValueError as exc:
        raise LineError("bad timestamp") from exc
    days = naive.toordinal() - EPOCH_ORDINAL + shift_days
    seconds = days * SECONDS_PER_DAY + hour * 3600 + minute * 60 + second
    return seconds * US_PER_SECOND + micro, naive


MIN_US = -62_135_596_800 * US_PER_SECOND  # 0001-01-01T00:00:00Z
MAX_US = 253_402_300_800 * US_PER_SECOND - 1  # 9999-12-31T23:59:59.999999Z


def parse_timestamp(text: str, zone: ZoneInfo) -> int:
    """UTC microseconds since the epoch for a record timestamp (rule 8); raises LineError."""
    us = _parse_timestamp(text, zone)
    if not MIN_US <= us <= MAX_US:
        raise LineError("bad timestamp")
    return us


def _parse_timestamp(text: str, zone: ZoneInfo) -> int:
    m = TIMESTAMP_RE.fullmatch(text)
    if m is None:
        raise LineError("bad timestamp")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    fraction, zone_text = m.group(7), m.group(8)
    micro = int((fraction or "").ljust(6, "0")[:6])
    wall_us, naive = _wall_us(year, month, day, hour, minute, second, micro)
    if zone_text is None:  # naive: local time in `zone`, fold=0
        offset = naive.replace(tzinfo=zone, fold=0).utcoffset()
        assert offset is not None
        return wall_us - _timedelta_us(offset)
    if zone_text == "Z":
        return wall_us
    sign = -1 if zone_text[0] == "-" else 1
    off_h, off_m = int(zone_text[1:3]), int(zone_text[4:6])
    if off_h > 23 or off_m > 59:
        raise LineError("bad timestamp")
    return wall_us - sign * (off_h * 3600 + off_m * 60) * US_PER_SECOND


def _clean(text: str) -> str:
    return SURROGATE_RE.sub("\ufffd", text)


def _message(obj: dict[str, Any], zone: ZoneInfo) -> tuple[int | None, str, str, int, bool]:
    topic = obj["topic"]
    if not isinstance(topic, str) or topic == "":
        raise LineError("bad topic")

    if "payload" not in obj:
        raise LineError("bad payload")
    payload = obj["payload"]
    if payload is None:
        payload = ""
    elif not isinstance(payload, str):
        raise LineError("bad payload")

    ts = obj.get("timestamp")
    if ts is None:
        timestamp_us = None
    elif isinstance(ts, str):
        timestamp_us = parse_timestamp(ts, zone)
    else:
        raise LineError("bad timestamp")

    qos = obj.get("qos")
    if qos is None:
        qos = 0
    elif isinstance(qos, bool) or not isinstance(qos, int) or not 0 <= qos <= 2:
        raise LineError("bad qos")

    retain = obj.get("retain")
    if retain is None:
        retain = False
    elif isinstance(retain, bool):
        pass
    elif isinstance(retain, int) and retain in (0, 1):
        retain = bool(retain)
    else:
        raise LineError("bad retain")

    return timestamp_us, _clean(topic), _clean(payload), qos, retain


def read_reference(data: bytes, tz: str = "Europe/Berlin") -> RefResult:
    """Reads an NDJSON session log by the rules in the module docstring."""
    zone = ZoneInfo(tz)
    result = RefResult()
    pieces = data.split(b"\n")
    if data.endswith(b"\n"):
        pieces.pop()
    for lineno, piece in enumerate(pieces, start=1):
        raw = piece[:-1] if piece.endswith(b"\r") else piece
        if lineno == 1 and raw.startswith(BOM):
            raw = raw[len(BOM) :]
        text = raw.decode("utf-8", errors="replace")
        if text.strip(" \t") == "":
            continue
        try:
            obj = json.loads(text, parse_int=_parse_int)
        except (ValueError, RecursionError):
            result.skipped.append((lineno, "invalid JSON"))
            continue
        if not isinstance(obj, dict):
            result.skipped.append((lineno, "not a JSON object"))
            continue
        if "topic" not in obj:
            is_header = obj.get("_kind") == "session_meta" or "session_name" in obj
            if result.header is None and is_header:
                result.header = obj
            else:
                result.metadata.append(lineno)
            continue
        try:
            timestamp_us, topic, payload, qos, retain = _message(obj, zone)
        except LineError as exc:
            result.skipped.append((lineno, str(exc.args[0])))
            continue
        seq = len(result.rows)
        result.rows.append(RefRow(seq, timestamp_us, topic, payload, qos, retain, lineno))
    return result
