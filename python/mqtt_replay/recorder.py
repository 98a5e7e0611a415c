"""Recording a broker's traffic into L5 session files (the Rust core writes them).

A :class:`Recorder` subscribes at once and appends one JSON line per message as it arrives,
flushed at least every ``flush_interval`` seconds: a crash or ``kill -9`` loses at most that
much, and the file stays readable (at most a truncated last line, reported by the reader).
The header is rewritten in place with the end time and counts on :meth:`Recorder.stop`.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from mqtt_replay import _core
from mqtt_replay.errors import InvalidOptionError
from mqtt_replay.replay import DEFAULT_BROKER, STATUS_TOPIC
from mqtt_replay.session import DEFAULT_TZ
from mqtt_replay.topics import validate

DEFAULT_DIRECTORY = Path("mqtt-data/sessions")

#: Exclusion presets (SPEC §3.1 ``recordingExclusionPreset``).
PRESETS: dict[str, list[str]] = {
    "none": [],
    "no_cam": ["/j1/txt/1/i/cam"],
    "analysis": [
        "/j1/txt/1/i/cam",
        "/j1/txt/1/i/bme680",
        "/j1/txt/1/i/ldr",
        "osf/arduino/#",
    ],
}
OUTCOMES = ("ok", "nok", "mixed", "unknown")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$")


def check_name(name: str) -> str:
    """Session names become file names: letters, digits, ``._-``; no path separators."""
    if not _NAME.match(name) or name.endswith(".log"):
        raise InvalidOptionError(
            f"session name {name!r} must be 1–101 letters, digits, '.', '_' or '-' "
            "(no path separators, no extension)"
        )
    return name


class Recorder:
    """Records a broker into ``directory`` as ``<name>_<YYYYMMDD>_<HHMMSS>.log`` (local time
    in ``tz``). Starts on construction and returns once the broker acknowledged the
    subscription, so everything published afterwards is recorded; raises
    :class:`~mqtt_replay.errors.BrokerError` when the broker cannot be reached or does not
    acknowledge the subscription (then no file is left behind).

    ``topics``: subscription filters; ``exclude`` and ``preset`` (none, no_cam, analysis):
    filters not to write; the replay status topic is excluded unless ``record_status``.
    ``keep_retained=False`` drops the broker's retained dump. ``rotate_bytes`` /
    ``rotate_seconds`` start a new part (``<name>_part001_…``) when exceeded.
    """

    def __init__(
        self,
        broker_url: str = DEFAULT_BROKER,
        directory: str | os.PathLike[str] = DEFAULT_DIRECTORY,
        *,
        name: str = "recording",
        topics: Sequence[str] = ("#",),
        exclude: Sequence[str] | None = None,
        preset: str = "none",
        qos: int = 1,
        description: str = "",
        outcome: str = "unknown",
        note: str = "",
        flush_interval: float = 1.0,
        keep_retained: bool = True,
        rotate_bytes: int | None = None,
        rotate_seconds: float | None = None,
        record_status: bool = False,
        tz: str = DEFAULT_TZ,
        client_id: str | None = None,
    ) -> None:
        if preset not in PRESETS:
            raise InvalidOptionError(f"preset must be one of {', '.join(PRESETS)}, not {preset!r}")
        if outcome not in OUTCOMES:
            raise InvalidOptionError(f"outcome must be one of {', '.join(OUTCOMES)}")
        if qos not in (0, 1):
            raise InvalidOptionError("recording QoS must be 0 or 1")
        filters = validate(topics)
        if any(f.startswith("re:") for f in filters):
            raise InvalidOptionError("subscriptions take MQTT filters, not regular expressions")
        excluded = [*PRESETS[preset], *validate(exclude or [])]
        if any(f.startswith("re:") for f in excluded):
            raise InvalidOptionError("the recorder excludes by MQTT filters, not regexes")
        if not record_status:
            excluded.append(STATUS_TOPIC)
        header: dict[str, Any] = {
            "recordingExclusionPreset": preset,
            "ccuVersion": None,
            "ccuVersionSource": None,
            "ccuOrdersDescription": description,
            "ccuOrderOutcome": outcome,
            "note": note,
            "topicFilters": list(filters),
            "excludeFilters": excluded,
            "keepRetained": keep_retained,
        }
        self.directory = Path(directory)
        self.name = check_name(name)
        self._stopped_ns: int | None = None
        self._core = _core.Recorder(
            broker_url,
            str(self.directory),
            self.name,
            client_id=client_id or f"mqtt-replay-rec-{os.getpid()}-{secrets.token_hex(3)}",
            topics=[(f, qos) for f in filters],
            exclude=excluded,
            tz=tz,
            header_json=json.dumps(header),
            flush_interval_s=flush_interval,
            keep_retained=keep_retained,
            rotate_bytes=rotate_bytes,
            rotate_seconds=rotate_seconds,
        )

    def status(self) -> dict[str, Any]:
        """state (recording/stopped), subscribed, last_gap (why the broker was lost last),
        messages and bytes (written to the file), lost (received but not written, e.g. on a
        full disk), excluded, dropped_retained, reconnects,
        file (current), files (all parts), started_ns, elapsed_s, rate (msg/s), error."""
        status = dict(self._core.status())
        if self._stopped_ns is None and status["state"] == "stopped":
            self._stopped_ns = time.time_ns()
        end = self._stopped_ns or time.time_ns()
        elapsed = max((end - status["started_ns"]) / 1e9, 1e-9)
        status["elapsed_s"] = elapsed
        status["rate"] = status["messages"] / elapsed
        return status

    @property
    def file(self) -> Path:
        return Path(self.status()["file"])

    def stop(self) -> Path:
        """Stops, finalises the header; returns the (last) file. Idempotent."""
        status = dict(self._core.stop())
        if self._stopped_ns is None:
            self._stopped_ns = time.time_ns()
        return Path(status["file"])

    def __enter__(self) -> Recorder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
