"""Hypothesis strategies that build NDJSON session files (bytes) in every variant of SPEC §3.1.

``session_files()`` draws a whole file: variant L1/L2/L3/L4/L5/S1/F0 (optionally switching from
naive to ``Z`` timestamps mid-way), random key order, random whitespace around tokens, random
``\\u`` escapes (surrogate pairs for astral characters, lone surrogates), unicode topics and
payloads, double-encoded JSON payloads, non-JSON and empty payloads, ties and duplicate lines,
blank lines, CRLF, a BOM, no trailing newline, a truncated last line, naive timestamps around
the Europe/Berlin DST transitions, and, unless ``corrupt=False``, corrupt lines (random bytes,
invalid UTF-8, broken JSON, wrong field types, NaN tokens, non-objects). Files stay small.

Nothing here knows the expected result: the reference reader is the oracle.
"""

from __future__ import annotations

import contextlib
import json
import random
from datetime import datetime, timedelta
from typing import Any

from hypothesis import strategies as st

VARIANTS = ("L1", "L2", "L3", "L4", "L5", "S1", "F0")
NAIVE_VARIANTS = frozenset({"L1", "L2", "L3"})

MARKER = "\ue000"  # replaced by invalid UTF-8 bytes after encoding (sometimes)
MARKER_BYTES = MARKER.encode()
BOM = b"\xef\xbb\xbf"
BAD_UTF8 = [
    b"\xff",
    b"\xfe\xff",
    b"\xc3",  # truncated 2-byte sequence
    b"\xe2\x82",  # truncated 3-byte sequence
    b"\xf0\x9f\x98",  # truncated 4-byte sequence
    b"\xed\xa0\x80",  # CESU-8 surrogate
    b"\xc0\xaf",  # overlong '/'
    b"\x80\x80",  # lone continuation bytes
    b"\xf8\x88\x80\x80\x80",  # 5-byte form
    b"\xe9",  # Latin-1 'é'
]

REAL_TOPICS = [
    "ccu/pairing/state",
    "ccu/order/active",
    "ccu/order/completed",
    "ccu/order/request",
    "ccu/state/stock",
    "ccu/state/layout",
    "module/v1/ff/SVR3QA0022/state",
    "module/v1/ff/SVR4H76449/connection",
    "module/v1/ff/SVR4H73275/instantAction",
    "module/v1/ff/NodeRed/SVR4H76530/state",
    "module/v1/ff/NodeRed/status",
    "fts/v1/ff/5iO4/state",
    "fts/v1/ff/leJ4/order",
    "/j1/txt/1/i/cam",
    "/j1/txt/1/i/bme680",
    "/j1/txt/1/i/ldr",
    "/j1/txt/1/f/i/order",
    "osf/arduino/flame/flame-1/state",
    "osf/arduino/gas/mq2-1/connection",
]

PLANT_PAYLOADS = [
    '{"connectionState":"ONLINE"}',
    "[]",
    "true",
    '{"ts":"2026-04-09T06:22:35.226Z","t":25.1,"rt":0.0,"h":26.2,"rh":0.0,"p":996.8,"iaq":43}',
    '{"ts":"2026-04-09T06:22:31.901Z", "br":90.7, "ldr":6016}',
    '{ "headerId": 2, "timestamp": "2025-08-13T12:37:37.241332Z", "connectionState": "ONLINE" }',
    '{"headerId":17,"loads":[{"loadType":"BLUE"}],"actionState":{"command":"PICK",'
    '"id":"8f52f34f","state":"RUNNING"},"serialNumber":"SVR4H76449","errors":[],'
    '"orderUpdateId":3,"paused":false}',
    '{"ts":"2026-04-09T06:22:35.130Z","data":"data:image/jpeg;base64,/9j/4AAQSkZJRgABAQAAAQ=="}',
    '{"serialNumber":"SVR4H73275","actions":[{"actionId":"0a0c","actionType":"setStatusLED",'
    '"metadata":{"green":true,"red":false,"yellow":false}}]}',
    '{"BLUE":{"steps":["DRILL","MILL","AIQS"]},"RED":{"steps":["MILL","AIQS"]}}',
    '{"flameDetected":false,"rawValue":647,"timestamp":"2026-04-09T06:22:29.039Z"}',
    '{"state":"WAITIING","errors":[{}]}',
    '[{"orderId":"9c0d","orderType":"PRODUCTION","type":"RED","state":"IN_PROGRESS"}]',
]
NON_JSON_PAYLOADS = ["", "hello world", "NaN", "{broken", "<b>x</b>", "ON", " ", "1,2", "'a'"]

# Naive wall-clock times next to the Europe/Berlin transitions (gap and fold) and ordinary ones.
DST_EDGES = [
    datetime(2025, 3, 30, 1, 59, 59, 999_000),
    datetime(2025, 3, 30, 2, 0),
    datetime(2025, 3, 30, 2, 30),
    datetime(2025, 3, 30, 2, 59, 59, 999_999),
    datetime(2025, 3, 30, 3, 0),
    datetime(2025, 10, 26, 1, 59, 59),
    datetime(2025, 10, 26, 2, 0),
    datetime(2025, 10, 26, 2, 30),
    datetime(2025, 10, 26, 2, 59, 59, 999_999),
    datetime(2025, 10, 26, 3, 0),
    datetime(2026, 3, 29, 2, 15),
    datetime(2026, 10, 25, 2, 45),
    datetime(2025, 11, 10, 17, 51, 51, 93_930),
    datetime(2026, 8, 4, 11, 28, 23, 921_000),
]

# Timestamps that are valid by the grammar although unusual.
ODD_VALID_TIMESTAMPS = [
    "0001-01-01T00:00:00Z",
    "0001-01-02T00:00:00",
    "1893-04-01T00:00:00",
    "1970-01-01T00:00:00-00:00",
    "2000-02-29T00:00:00+00:00",
    "2024-02-29 23:59:59",
    "2025-03-30T02:30:00",
    "2025-10-26T02:30:00.5",
    "2025-10-26 02:30:00.123456789",
    "2026-01-01T00:00:00+23:59",
    "9999-12-31T23:59:59.999999999+23:59",
    "9999-12-30T23:59:59",
]
BAD_TIMESTAMPS = [
    # valid by the grammar, but outside years 1-9999 in UTC (Python's datetime range)
    "0000-01-01T00:00:00Z",
    "0000-02-29T12:00:00",
    "9999-12-31T23:59:59.999999999-23:59",
    "",
    "now",
    "2025-02-29T00:00:00",
    "1900-02-29T00:00:00Z",
    "2025-04-31T00:00:00",
    "2025-13-01T00:00:00",
    "2025-00-10T00:00:00",
    "2025-01-00T00:00:00",
    "2025-01-01T24:00:00",
    "2025-01-01T00:60:00",
    "2025-01-01T00:00:60",
    "2025-01-01T00:00:00.",
    "2025-01-01T00:00:00.1234567890",
    "2025-01-01T00:00:00+24:00",
    "2025-01-01T00:00:00+01:60",
    "2025-01-01T00:00:00+0100",
    "2025-01-01T00:00:00 Z",
    "2025-01-01T00:00:00z",
    "2025-01-01t00:00:00",
    "2025-01-01",
    "2025-1-01T00:00:00",
    " 2025-01-01T00:00:00Z",
    "2025-01-01T00:00:00Z ",
    "2025-01-01T00:00:00Z\n",
    "2025-01-01T00:00:00+01",
    "\uff12\uff10\uff12\uff15-01-01T00:00:00",  # full-width digits
    "\u0662\u0660\u0662\u0665-01-01T00:00:00",  # Arabic-Indic digits
    "2025-01-01T00:00:00.\u0661",
]

WHITESPACE = [" ", "  ", "\t", " \t", "\r", " \r "]
SEPARATORS = [(",", ":"), (", ", ": "), (" , ", " : "), (",\t", ":\t")]
SHORT_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}


class Raw(str):
    """Text emitted verbatim into a line (a JSON token such as NaN, or garbage)."""


class Obj(list[tuple[str, Any]]):
    """A JSON object as ordered key/value pairs (keys may repeat: the last one wins)."""


class Writer:
    """Serialises values with random whitespace and random (valid) escapes."""

    def __init__(self, rnd: random.Random, *, ws_p: float, esc_p: float, seps: tuple[str, str]):
        self.rnd = rnd
        self.ws_p = ws_p
        self.esc_p = esc_p
        self.item_sep, self.key_sep = seps

    def ws(self) -> str:
        if self.ws_p and self.rnd.random() < self.ws_p:
            return self.rnd.choice(WHITESPACE)
        return ""

    def _u(self, cp: int) -> str:
        h = f"{cp:04x}"
        return "\\u" + (h.upper() if self.rnd.random() < 0.5 else h)

    def string(self, s: str) -> str:
        has_surrogate = any(0xD800 <= ord(c) <= 0xDFFF for c in s)
        if self.rnd.random() < 0.15:  # json.dumps of the string, as most recorders do
            return json.dumps(s, ensure_ascii=has_surrogate or self.rnd.random() < 0.5)
        out = ['"']
        for ch in s:
            cp = ord(ch)
            if 0xD800 <= cp <= 0xDFFF:
                out.append(self._u(cp))
            elif ch in SHORT_ESCAPES or cp < 0x20:
                short = SHORT_ESCAPES.get(ch)
                out.append(short if short and self.rnd.random() < 0.7 else self._u(cp))
            elif self.esc_p and self.rnd.random() < self.esc_p:
                if cp > 0xFFFF:
                    v = cp - 0x10000
                    out.append(self._u(0xD800 + (v >> 10)) + self._u(0xDC00 + (v & 0x3FF)))
                elif ch == "/" and self.rnd.random() < 0.5:
                    out.append("\\/")
                else:
                    out.append(self._u(cp))
            else:
                out.append(ch)
        out.append('"')
        return "".join(out)

    def dump(self, v: Any) -> str:
        ws = self.ws
        if isinstance(v, Raw):
            return str(v)
        if v is None:
            return "null"
        if v is True:
            return "true"
        if v is False:
            return "false"
        if isinstance(v, int):
            return str(v)
        if isinstance(v, float):
            return json.dumps(v)
        if isinstance(v, str):
            return self.string(v)
        if isinstance(v, dict):
            v = Obj(v.items())
        if isinstance(v, Obj):
            if not v:
                return "{" + ws() + "}"
            items = [
                ws() + self.string(k) + ws() + self.key_sep + ws() + self.dump(x) for k, x in v
            ]
            return "{" + (ws() + self.item_sep).join(items) + ws() + "}"
        if isinstance(v, list | tuple):
            if not v:
                return "[" + ws() + "]"
            return "[" + (self.item_sep).join(ws() + self.dump(x) + ws() for x in v) + "]"
        raise TypeError(type(v))

    def line(self, v: Any) -> bytes:
        return (self.ws() + self.dump(v) + self.ws()).encode("utf-8")


# ---------------------------------------------------------------- text, topics, payloads

_special_chars = st.sampled_from(
    [
        MARKER,
        "é",
        "€",
        "😀",
        "𝄞",
        "\u2028",
        "\x00",
        "\x1f",
        "\x7f",
        "\\",
        '"',
        "/",
        "\ufeff",
        "\ufffd",
        " ",
        "\t",
        "\r",
        "\n",
    ]
)
_surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
_plain_chars = st.characters(codec="utf-8")


def unicode_text(*, min_size: int = 0, max_size: int = 12) -> st.SearchStrategy[str]:
    chars = st.one_of(_plain_chars, _plain_chars, _special_chars, _surrogates)
    return st.lists(chars, min_size=min_size, max_size=max_size).map("".join)


topics = st.one_of(
    st.sampled_from(REAL_TOPICS),
    st.sampled_from(REAL_TOPICS),
    unicode_text(min_size=1),
    st.tuples(st.sampled_from(["a", "module", "/j1", "ü"]), unicode_text(min_size=1)).map("/".join),
)

_json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)
json_values = st.recursive(
    _json_leaves,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=8,
)
json_bodies = st.builds(
    lambda v, seps, ascii_: json.dumps(v, separators=seps, ensure_ascii=ascii_),
    json_values,
    st.sampled_from(SEPARATORS),
    st.booleans(),
)
payloads: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from(PLANT_PAYLOADS),
    json_bodies,  # double-encoded on the line
    json_bodies.map(json.dumps),  # the body is itself a JSON string (triple-encoded)
    json_bodies.map(lambda b: Raw(json.dumps(b))),  # json.dumps of a json.dumps string
    st.sampled_from(NON_JSON_PAYLOADS),
    unicode_text(max_size=20),
    st.none(),  # null payload: an empty body
)

# ------------------------------------------------------------------------ timestamps


def _date_time(d: datetime, sep: str = "T") -> str:
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d}{sep}{d.hour:02d}:{d.minute:02d}:{d.second:02d}"


def fmt_naive_us(d: datetime) -> str:
    """L1/L2/L3: naive local time with µs (isoformat drops a zero fraction)."""
    return _date_time(d) + (f".{d.microsecond:06d}" if d.microsecond else "")


def fmt_utc_ms(d: datetime) -> str:
    return _date_time(d) + f".{d.microsecond // 1000:03d}Z"


def fmt_utc_s(d: datetime) -> str:
    return _date_time(d) + "Z"


def fmt_wild(d: datetime, rnd: random.Random) -> str:
    """Any valid form: T or space, 0-9 fraction digits, naive, Z or an offset."""
    text = _date_time(d, rnd.choice("T "))
    digits = rnd.randint(0, 9)
    if digits:
        frac = f"{d.microsecond:06d}" + "".join(rnd.choice("0123456789") for _ in range(3))
        text += "." + frac[:digits]
    suffix = rnd.choice(["", "Z", "offset"])
    if suffix == "offset":
        suffix = f"{rnd.choice('+-')}{rnd.randint(0, 23):02d}:{rnd.randint(0, 59):02d}"
    return text + suffix


def format_timestamp(variant: str, d: datetime) -> str:
    if variant in NAIVE_VARIANTS:
        return fmt_naive_us(d)
    if variant == "S1":
        return fmt_utc_s(d)
    return fmt_utc_ms(d)


start_times = st.one_of(
    st.sampled_from(DST_EDGES),
    st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2027, 12, 31)),
    # years 1..9999, a day clear of both ends (a zone's offset must not leave the range)
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
)
steps_us = st.one_of(
    st.sampled_from([0, 0, 0, 1, 999, 1_000, 250_000, 1_000_000, 1_800_000_000, -3_600_000_000]),
    st.integers(0, 2_000_000),
)

# ------------------------------------------------------------------------ field values

BAD_QOS = [
    Raw('"x"'),
    3,
    -1,
    True,
    1.0,
    Raw("1e0"),
    Raw("1E+0"),
    Raw("[]"),
    "1",
    10**20,
    Raw("NaN"),
]
ODD_GOOD_QOS = [None, Raw("-0"), 0, 1, 2]
BAD_RETAIN = [2, -1, "true", 1.0, Raw("[]"), Raw("{}"), Raw("0.0"), Raw("Infinity")]
ODD_GOOD_RETAIN = [None, 0, 1, Raw("-0"), True, False]
BAD_TS_TYPES = [12, 1.5, True, Raw("[]"), Raw("{}"), Raw("-Infinity")]
BAD_PAYLOADS = [Raw("{}"), Raw("[]"), 5, True, 1.5, Raw('{"a":"b"}'), Raw("NaN")]
BAD_TOPICS = [5, None, "", Raw("[]"), Raw("{}"), True]
EXTRA_VALUES = [
    Raw("NaN"),
    Raw("Infinity"),
    Raw("-Infinity"),
    Raw("1e999"),
    Raw("-0.0e-5"),
    Raw("123456789012345678901234567890"),
    Raw("[[[[[]]]]]"),
    Raw('{"a":[1,{"b":null}]}'),
    "extra \u00fc",
    1762793326093930123,
]
DUP_VALUES = [5, None, "", Raw("NaN"), "x", "2025-01-01T00:00:00Z"]
L1_EXTRAS = [("message_type", "unknown"), ("module_type", "unknown"), ("serial_number", "unknown")]


@st.composite
def _message(
    draw: st.DrawFn, variant: str, ts_text: str | None, rnd: random.Random, corrupt: bool
) -> Obj:
    topic = draw(topics)
    fields: list[tuple[str, Any]] = []
    if variant == "L1":
        fields.append(("timestamp", ts_text))
    fields += [("topic", topic), ("payload", draw(payloads))]
    if variant not in {"L1", "F0"}:
        fields.append(("timestamp", ts_text))
    if variant in {"L1", "L3", "L4", "L5", "S1"}:
        fields.append(("qos", draw(st.sampled_from([0, 0, 0, 1, 2]))))
        fields.append(("retain", draw(st.booleans())))
    if variant == "L1":
        serial = draw(st.sampled_from(["unknown", "SVR4H73275", "5iO4"]))
        fields += [*L1_EXTRAS[:2], ("serial_number", serial), ("status", "unknown")]
    if variant == "L2" or rnd.random() < 0.3:
        rnd.shuffle(fields)
    msg = Obj(fields)

    edits = (
        draw(st.lists(st.integers(0, 11 if corrupt else 5), max_size=2))
        if rnd.random() < 0.4
        else []
    )
    for edit in edits:
        if edit == 0:  # an odd but valid qos
            _set(msg, "qos", draw(st.sampled_from(ODD_GOOD_QOS)))
        elif edit == 1:  # an odd but valid retain
            _set(msg, "retain", draw(st.sampled_from(ODD_GOOD_RETAIN)))
        elif edit == 2:  # extra keys, NaN tokens and friends
            key = draw(st.sampled_from(["x", "recvNs", "props", "ü", "_kind", "session_name"]))
            msg.insert(rnd.randint(0, len(msg)), (key, draw(st.sampled_from(EXTRA_VALUES))))
        elif edit == 3:  # a duplicate key (the last one wins)
            dup = (draw(st.sampled_from([k for k, _ in msg])), draw(st.sampled_from(DUP_VALUES)))
            if corrupt and rnd.random() < 0.5:
                msg.append(dup)
            else:
                msg.insert(0, dup)
        elif edit == 4:  # timestamp in another valid form
            if ts_text is not None:
                _set(msg, "timestamp", draw(st.sampled_from([*ODD_VALID_TIMESTAMPS, None])))
        elif edit == 5:  # null timestamp
            _set(msg, "timestamp", None)
        elif edit == 6:
            _set(msg, "qos", draw(st.sampled_from(BAD_QOS)))
        elif edit == 7:
            _set(msg, "retain", draw(st.sampled_from(BAD_RETAIN)))
        elif edit == 8:
            bad = draw(st.one_of(st.sampled_from(BAD_TIMESTAMPS), st.sampled_from(BAD_TS_TYPES)))
            _set(msg, "timestamp", bad)
        elif edit == 9:
            _set(msg, "payload", draw(st.sampled_from(BAD_PAYLOADS)))
        elif edit == 10:
            _set(msg, "topic", draw(st.sampled_from(BAD_TOPICS)))
        else:  # drop a field (topic -> metadata line, payload -> bad payload, ...)
            key = draw(st.sampled_from(["topic", "payload", "timestamp", "qos", "retain"]))
            msg[:] = [(k, v) for k, v in msg if k != key]
    return msg


def _set(msg: Obj, key: str, value: Any) -> None:
    for i, (k, _) in enumerate(msg):
        if k == key:
            msg[i] = (key, value)
            return
    msg.append((key, value))


def l5_header(rnd: random.Random, name: str) -> Obj:
    pairs = [
        ("_kind", "session_meta"),
        ("schema", 1),
        ("sessionName", name),
        ("logFileName", f"{name}_20260804_114227.log"),
        ("recordingStartedAt", "2026-08-04T11:28:23.921"),
        ("recordingEndedAt", "2026-08-04T11:42:27.914"),
        ("durationSec", 843.993),
        ("recordingExclusionPreset", rnd.choice(["none", "analysis", "no_cam"])),
        ("brokerHost", "192.168.0.100"),
        ("brokerPort", 1883),
        ("sessionRecorderVersion", "1.8.2"),
        ("ccuVersion", "1.3.0-osf.4"),
        ("ccuVersionSource", "rpi-docker-inspect"),
        ("ccuOrdersDescription", ""),
        ("ccuOrderOutcome", rnd.choice(["ok", "nok", "mixed", "unknown"])),
        ("note", ""),
        ("extra", {"nested": [1, 2.5, None, True]}),
    ]
    if rnd.random() < 0.3:
        rnd.shuffle(pairs)
    return Obj(pairs)


OTHER_HEADER = Obj(
    [
        ("session_name", "legacy"),
        ("created_at", "2025-08-14T16:14:45"),
        ("source", "x"),
        ("note", ""),
    ]
)
METADATA_LINES = [
    Obj([("note", "a line without topic")]),
    Obj(),
    Obj([("_kind", "other")]),
    Obj([("_kind", 5)]),
    Obj([("_kind", "session_meta"), ("schema", 1), ("sessionName", "second header")]),
    OTHER_HEADER,
    Obj([("payload", "no topic"), ("timestamp", "not even a timestamp")]),
]
NON_OBJECTS = ["[1,2]", '"str"', "5", "null", "true", "NaN", "[]", "-0", '[{"topic":"a"}]']
BLANKS = [b"", b" ", b"\t", b" \t ", b"\r"]


@st.composite
def session_files(
    draw: st.DrawFn, variant: str | None = None, *, corrupt: bool = True, max_lines: int = 40
) -> bytes:
    """A whole NDJSON session file as bytes (``corrupt=False``: no line is ever skipped)."""
    variant = variant or draw(st.sampled_from(VARIANTS))
    rnd = random.Random(draw(st.integers(0, 2**32 - 1)))  # cosmetics: cheap and reproducible
    style = rnd.random()
    ws_p = 0.0 if style < 0.4 else (0.05 if style < 0.7 else 0.4)
    esc_p = rnd.choice([0.0, 0.0, 0.05, 0.5])
    seps = (
        SEPARATORS[1]
        if variant in NAIVE_VARIANTS and rnd.random() < 0.6
        else rnd.choice(SEPARATORS)
    )
    w = Writer(rnd, ws_p=ws_p, esc_p=esc_p, seps=seps)

    clock = draw(start_times)
    switch_at = draw(st.integers(0, max_lines)) if variant in NAIVE_VARIANTS else max_lines + 1
    n = draw(st.integers(0, max_lines))
    lines: list[bytes] = []
    if variant == "L5":
        lines.append(w.line(l5_header(rnd, draw(unicode_text(min_size=1)))))
    elif rnd.random() < 0.05:
        lines.append(w.line(OTHER_HEADER))

    while len(lines) < n:
        kind = draw(st.integers(0, 99))
        if kind < 62 or (not corrupt and kind >= 80):
            fmt = variant if len(lines) < switch_at else "L4"
            ts = format_timestamp(fmt, clock) if rnd.random() > 0.08 else fmt_wild(clock, rnd)
            ts_text = None if variant == "F0" else ts
            msg = draw(_message(variant, ts_text, rnd, corrupt))
            line = w.line(msg)
            if MARKER_BYTES in line and rnd.random() < 0.5:
                line = line.replace(MARKER_BYTES, rnd.choice(BAD_UTF8), 1)
            lines.append(line)
            with contextlib.suppress(OverflowError):  # leaves year 1..9999: keep the clock
                nxt = clock + timedelta(microseconds=draw(steps_us))
                if datetime(1, 1, 2) <= nxt <= datetime(9999, 12, 30):
                    clock = nxt
        elif kind < 70:  # exact duplicate of the previous line
            if lines:
                lines.append(lines[-1])
        elif kind < 76:  # (a lone CR before a CRLF ending would leave "\r": invalid JSON)
            lines.append(rnd.choice(BLANKS if corrupt else BLANKS[:-1]))
        elif kind < 80:
            lines.append(w.line(rnd.choice(METADATA_LINES)))
        elif kind < 85:  # random bytes, often not UTF-8
            lines.append(draw(st.binary(max_size=30)).replace(b"\n", b""))
        elif kind < 90:  # broken JSON: a cut or damaged line
            if lines and lines[-1]:
                src = lines[-1]
                cut = rnd.randrange(len(src))
                damaged = [src[:cut], src[:cut] + b"}" + src[cut:], src[:cut] + src[cut + 1 :]]
                lines.append(rnd.choice(damaged))
            else:
                lines.append(b'{"topic":"a","payload":')
        elif kind < 93:
            lines.append(w.line(Raw(rnd.choice(NON_OBJECTS))))
        elif kind < 96:  # BOM or odd whitespace on a line that is not the first
            lines.append(
                rnd.choice([BOM + b'{"topic":"a","payload":""}', b"\x0b", b"\xc2\xa0", b"\f"])
            )
        else:
            lines.append(w.line(Obj([("topic", "t"), ("payload", "p"), ("timestamp", Raw("NaN"))])))

    return _assemble(draw, rnd, lines, corrupt)


def _assemble(draw: st.DrawFn, rnd: random.Random, lines: list[bytes], corrupt: bool) -> bytes:
    crlf = rnd.random()
    out = bytearray()
    if lines and rnd.random() < 0.15:
        out += BOM * (2 if corrupt and rnd.random() < 0.1 else 1)
    for line in lines:
        out += line
        use_crlf = crlf < 0.2 or (crlf < 0.3 and rnd.random() < 0.5)
        out += b"\r\n" if use_crlf else b"\n"
    if out and draw(st.integers(0, 3)) == 0:  # truncated last line / no trailing newline
        out = out.rstrip(b"\n")
        if corrupt and rnd.random() < 0.5 and lines and lines[-1]:
            out = out[: len(out) - rnd.randint(1, len(lines[-1]))]
    return bytes(out)


clean_session_files = session_files(corrupt=False)
