"""The Recorder page's engine room: the app's one current recording.

Wraps :class:`mqtt_replay.recorder.Recorder` (imported on first use, so the app runs while the
recorder is not installed yet; the page then says so). New files land in the session
directory, where the Library finds them.

Counts: while recording, ``messages`` is the recorder's live count (what reached the file so
far; the recorder writes at least every flush interval, so it trails the broker by up to that
much). After Stop it is the count the recorder reports once it has stopped — the final flush
included, the number in the file, its header and the Library. Taking it before the stop (as
the first version did) missed what the final flush wrote. While the recorder stops (a few
hundred ms) it cannot be asked for its status; polls meanwhile get the last live status and
``stopping``.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from apps.session_manager.config import parse_broker_url
from apps.session_manager.replay_station import parse_filters
from apps.session_manager.session_files import validate_session_name
from mqtt_replay import MqttReplayError

OUTCOMES = ("unknown", "ok", "nok", "mixed")
RecorderFactory = Callable[..., Any]


class RecordRefused(ValueError):
    """The recording could not be started or stopped; the message is safe to show."""


@dataclass(frozen=True)
class RecordRequest:
    broker_url: str
    name: str
    topics: tuple[str, ...] = ("#",)
    exclude: tuple[str, ...] = ()
    preset: str = "none"
    qos: int = 1
    description: str = ""
    outcome: str = "unknown"
    note: str = ""


def request_from_form(form: dict[str, Any], presets: dict[str, Any]) -> RecordRequest:
    """A validated :class:`RecordRequest` from the page's raw form values."""
    url = str(form.get("broker") or "").strip()
    try:
        parse_broker_url(url)
        name = validate_session_name(str(form.get("name") or ""))
    except ValueError as exc:
        raise RecordRefused(str(exc)) from None
    preset = str(form.get("preset") or "none")
    if presets and preset not in presets:
        raise RecordRefused(f"unknown preset {preset!r}")
    outcome = str(form.get("outcome") or "unknown")
    if outcome not in OUTCOMES:
        raise RecordRefused(f"outcome must be one of {', '.join(OUTCOMES)}")
    try:
        topics = parse_filters(form.get("topics")) or ("#",)
        exclude = parse_filters(form.get("exclude"))
    except ValueError as exc:
        raise RecordRefused(str(exc)) from None
    try:
        qos = int(str(form.get("qos") or "1"))
    except ValueError:
        raise RecordRefused("QoS must be a number") from None
    if qos not in (0, 1):
        raise RecordRefused("recording QoS must be 0 or 1")
    return RecordRequest(
        broker_url=url,
        name=name,
        topics=topics,
        exclude=exclude,
        preset=preset,
        qos=qos,
        description=str(form.get("description") or "")[:500],
        outcome=outcome,
        note=str(form.get("note") or "")[:2000],
    )


def load_recorder_api() -> tuple[RecorderFactory | None, dict[str, Any], str | None]:
    """``(Recorder, PRESETS, None)`` or ``(None, {}, reason)`` when the module is missing."""
    try:
        module = importlib.import_module("mqtt_replay.recorder")
    except ImportError as exc:
        return None, {}, f"the recorder is not available in this installation ({exc})"
    factory = getattr(module, "Recorder", None)
    presets = dict(getattr(module, "PRESETS", {}) or {})
    if factory is None:
        return None, {}, "mqtt_replay.recorder has no Recorder"
    return factory, presets, None


class RecorderStation:
    """Holds the app's current recording; thread-safe."""

    def __init__(
        self,
        directory: Path,
        *,
        factory: RecorderFactory | None = None,
        presets: dict[str, Any] | None = None,
    ) -> None:
        self.directory = directory
        self._factory = factory
        self._presets = presets
        self._reason: str | None = None
        self._lock = threading.Lock()
        self._recorder: Any = None
        self._request: RecordRequest | None = None
        self._last_file: Path | None = None
        self._last_status: dict[str, Any] | None = None
        self._live_status: dict[str, Any] | None = None  # the last one polled while recording
        self._stopping = False
        # one call into the recorder at a time: the core refuses a status call during its
        # stop, and a stop during a status call ("Already mutably borrowed")
        self._calls = threading.Lock()
        self._error: str | None = None
        self._started = 0.0
        self._sample: tuple[float, int, float] = (0.0, 0, 0.0)  # (time, messages, rate)

    def api(self) -> tuple[RecorderFactory | None, dict[str, Any], str | None]:
        if self._factory is None and self._reason is None:
            self._factory, presets, self._reason = load_recorder_api()
            if self._presets is None:
                self._presets = presets
        return self._factory, dict(self._presets or {}), self._reason

    def start(self, request: RecordRequest) -> None:
        factory, _, reason = self.api()
        if factory is None:
            raise RecordRefused(reason or "the recorder is not available")
        with self._lock:
            if self._recorder is not None:
                raise RecordRefused("a recording is already running: stop it first")
        self.directory.mkdir(parents=True, exist_ok=True)
        try:
            recorder = factory(
                request.broker_url,
                self.directory,
                name=request.name,
                topics=list(request.topics),
                exclude=list(request.exclude) or None,
                preset=request.preset,
                qos=request.qos,
                description=request.description,
                outcome=request.outcome,
                note=request.note,
            )
        except (MqttReplayError, OSError, ValueError) as exc:
            with self._lock:
                self._error = str(exc)
            raise RecordRefused(str(exc)) from None
        with self._lock:
            self._recorder, self._request = recorder, request
            self._last_file, self._last_status, self._error = None, None, None
            self._live_status = None
            self._started = time.monotonic()
            self._sample = (self._started, 0, 0.0)

    def stop(self) -> Path:
        with self._lock:
            recorder = self._recorder
            if recorder is None:
                raise RecordRefused("no recording is running")
            if self._stopping:
                raise RecordRefused("the recording is already stopping")
            self._stopping = True
        path: Path | None = None
        try:
            with self._calls:
                stopped = Path(recorder.stop())
                # the counts after the stop: messages that arrived between the last poll and
                # the stop are in the file (the final flush), so they are in the page's count
                status = self._with_rates(dict(recorder.status()))
                path = stopped
        except (MqttReplayError, OSError) as exc:
            raise RecordRefused(str(exc)) from None
        finally:
            with self._lock:
                self._stopping = False
                if path is not None:  # stopped: state and final counts change together
                    self._recorder = None
                    self._last_file = path
                    self._last_status = {**status, "state": "stopped"}
        return path

    def snapshot(self) -> dict[str, Any]:
        """``recording`` (bool), ``stopping`` (bool), ``status`` (the recorder's: live while
        recording, final once stopped), ``request``, ``last_file``, ``error``."""
        with self._lock:
            recorder, request, stopping = self._recorder, self._request, self._stopping
            last_file, last_status, error = self._last_file, self._last_status, self._error
            live = self._live_status
        if recorder is None:
            status = last_status
        elif stopping or not self._calls.acquire(blocking=False):
            status = live  # the recorder is busy stopping: the last live count meanwhile
        else:
            try:
                status = self._with_rates(dict(recorder.status()))
            finally:
                self._calls.release()
            with self._lock:
                self._live_status = status
        return {
            "recording": recorder is not None,
            "stopping": stopping,
            "status": status,
            "request": request.__dict__ if request else None,
            "last_file": last_file.name if last_file else None,
            "error": error,
        }

    def _with_rates(self, status: dict[str, Any]) -> dict[str, Any]:
        """Adds ``elapsed_s`` and ``rate`` (msg/s over the last second or more) when the
        recorder does not report them itself."""
        now = time.monotonic()
        messages = int(status.get("messages") or 0)
        with self._lock:
            then, before, rate = self._sample
            if now - then >= 1.0:
                rate = (messages - before) / (now - then)
                self._sample = (now, messages, rate)
            started = self._started
        status.setdefault("elapsed_s", now - started if started else 0.0)
        status.setdefault("rate", rate)
        return status

    def shutdown(self) -> None:
        with self._lock:
            recorder = self._recorder
        if recorder is not None:
            with contextlib.suppress(RecordRefused):
                self.stop()
