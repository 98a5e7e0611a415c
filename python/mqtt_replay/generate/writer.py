"""The generator's writer: record times, the header and the session file
(:func:`generate_session`), written in large blocks of pre-escaped lines.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from mqtt_replay.errors import InvalidOptionError
from mqtt_replay.generate.catalogue import CCU_VERSION, MIXES
from mqtt_replay.generate.scripts import Plant

DEFAULT_START = datetime(2026, 1, 15, 9, 0, 0, tzinfo=UTC)
GENERATOR_VERSION = "mqtt-replay-generator/1"
LOCAL_ZONE = "Europe/Berlin"  # header times are naive local time, like the real recorder's
BURST_PROBABILITY = 0.01
WRITE_BLOCK = 4096  # lines per write
SESSION_NAME_RE = re.compile(r"^(?P<name>.+)_\d{8}_\d{6}$")


class _Clock:
    """UTC µs -> ``YYYY-MM-DDTHH:MM:SS.mmmZ``, caching the part up to the second."""

    def __init__(self) -> None:
        self._second: int | None = None
        self._prefix = ""

    def iso(self, t_us: int) -> str:
        second, rest = divmod(t_us, 1_000_000)
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._prefix}.{rest // 1000:03d}Z"


def _timeline(seed: int, messages: int, rate: float, start_us: int, dump: int) -> Iterator[int]:
    """Record times (UTC µs) of every message; a random stream of its own, so it can be replayed."""
    rng = random.Random(f"mqtt-replay-timeline:{seed}")
    mean_us = 1_000_000.0 / rate
    t = start_us
    burst = 0
    for i in range(messages):
        if i == 0:
            pass
        elif i < dump:  # the retained dump arrives within a few tens of milliseconds
            t += rng.randrange(300, 900)
        elif burst:
            burst -= 1
        else:
            if rng.random() < BURST_PROBABILITY:
                burst = rng.randint(2, 8)  # this and the next `burst` messages share a time
            t += int(rng.expovariate(1.0) * mean_us)
        yield t


def _local_naive_ms(t_us: int) -> str:
    """UTC µs -> naive local time (Europe/Berlin) with ms, as the recorder writes its header."""
    local = (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=t_us)).astimezone(
        ZoneInfo(LOCAL_ZONE)
    )
    return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}"


def _start_us(start: datetime | None) -> int:
    when = DEFAULT_START if start is None else start
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # a naive start is taken as UTC
    return (when - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def _session_name(path: Path) -> str:
    m = SESSION_NAME_RE.match(path.stem)
    return m.group("name") if m else path.stem


def generate_session(
    path: str | os.PathLike[str],
    *,
    messages: int,
    rate: float = 20.0,
    seed: int = 0,
    mix: str = "plant",
    start: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Writes a synthetic L5 session of exactly ``messages`` messages to ``path``.

    ``rate`` is the mean message rate (messages per second), ``mix`` one of ``MIXES``,
    ``start`` the time of the first message (default 2026-01-15T09:00:00Z; naive = UTC).
    ``progress(done, total)`` is called about every 1 % and at the end. Same arguments, same
    bytes. Returns the path written.
    """
    if mix not in MIXES:
        raise InvalidOptionError(f"unknown mix {mix!r} (expected one of {', '.join(MIXES)})")
    if isinstance(messages, bool) or not isinstance(messages, int) or messages < 0:
        raise InvalidOptionError(f"messages must be a non-negative integer, not {messages!r}")
    if not (isinstance(rate, int | float) and math.isfinite(rate) and rate > 0):
        raise InvalidOptionError(
            f"rate must be a positive number of messages per second, not {rate!r}"
        )
    out_path = Path(path)
    rng = random.Random(seed)
    plant = Plant(rng, mix)
    start_us = _start_us(start)
    dump = min(len(plant.dump), messages)

    end_us = start_us
    for t_us in _timeline(seed, messages, rate, start_us, dump):  # a dry run for the header
        end_us = t_us
    header = {
        "_kind": "session_meta",
        "schema": 1,
        "sessionName": _session_name(out_path),
        "logFileName": out_path.name,
        "recordingStartedAt": _local_naive_ms(start_us),
        "recordingEndedAt": _local_naive_ms(end_us),
        "durationSec": round((end_us - start_us) / 1_000_000, 3),
        "recordingExclusionPreset": "none",
        "brokerHost": "127.0.0.1",
        "brokerPort": 1883,
        "sessionRecorderVersion": GENERATOR_VERSION,
        "ccuVersion": CCU_VERSION,
        "ccuVersionSource": "generated",
        "ccuOrdersDescription": (
            "storage order, then production orders RED, WHITE, BLUE in turn"
            if mix == "plant"
            else ""
        ),
        "ccuOrderOutcome": "ok",
        "note": "generated",
        "generator": {"seed": seed, "messages": messages, "rate": float(rate), "mix": mix},
    }

    clock = _Clock()
    step = max(1, messages // 100)
    reported = 0
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with out_path.open("wb", buffering=1 << 22) as out:
        out.write(json.dumps(header, separators=(",", ":")).encode() + b"\n")
        block: list[str] = []
        for i, t_us in enumerate(_timeline(seed, messages, rate, start_us, dump)):
            ts = clock.iso(t_us)
            plant.ts = ts
            plant.t_us = t_us
            topic, payload, retain = plant.next_message(i)
            block.append(
                f'{{"topic":"{topic}","payload":"{payload}","timestamp":"{ts}","qos":0,'
                f'"retain":{"true" if retain else "false"}}}\n'
            )
            if len(block) >= WRITE_BLOCK:
                out.write("".join(block).encode())
                block.clear()
            if progress is not None and (i + 1) % step == 0:
                reported = i + 1
                progress(reported, messages)
        out.write("".join(block).encode())
    if progress is not None and reported != messages:
        progress(messages, messages)
    return out_path
