"""The Replay Station: the one current replay of an app, independent of any page.

The :class:`ReplayStation` lives as long as the app (not the browser tab), so a replay keeps
running when the page is closed and the page shows it again when reopened. It wraps the
library's :class:`~mqtt_replay.replay.Replayer`; nothing here schedules or publishes itself.
Starting runs in a thread (opening a big session and connecting take a moment); the page
polls :meth:`ReplayStation.snapshot`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from apps.session_manager.config import is_loopback_url, parse_broker_url
from apps.session_manager.store import SessionStore
from mqtt_replay import MqttReplayError
from mqtt_replay.replay import Replayer, parse_speed
from mqtt_replay.topics import validate

PRIME_MODES = ("off", "retained", "all")
SPEEDS = ("0.1", "0.25", "0.5", "1", "2", "5", "10", "25", "50", "100", "max")
ReplayerFactory = Callable[..., Any]


class ReplayRefused(ValueError):
    """The replay was not started (bad option, remote broker not confirmed, …)."""


@dataclass(frozen=True)
class ReplayOptions:
    """Every option of the replay engine the page offers (seconds are from the session start)."""

    speed: float | str = 1.0
    loop: bool = False
    start: float | None = None
    end: float | None = None
    topics: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    prefix: str | None = None
    remap: tuple[tuple[str, str], ...] = ()
    qos: int | None = None
    retain: bool | None = None
    prime: str = "off"
    compress_gaps: float | None = None
    rewrite_time: bool = False
    paused: bool = False

    def replayer_kwargs(self) -> dict[str, Any]:
        return {
            "speed": self.speed,
            "loop": self.loop,
            "start": self.start,
            "end": self.end,
            "topics": list(self.topics) or None,
            "exclude": list(self.exclude) or None,
            "prefix": self.prefix,
            "remap_rules": list(self.remap),
            "qos": self.qos,
            "retain": self.retain,
            "prime": self.prime,
            "compress_gaps": self.compress_gaps,
            "rewrite_time": self.rewrite_time,
            "paused": self.paused,
        }


def parse_filters(text: str | None) -> tuple[str, ...]:
    """Topic filters from a text box: one per line or comma-separated; validated."""
    items = [p.strip() for p in re.split(r"[\n,]", text or "") if p.strip()]
    try:
        return tuple(validate(items))
    except MqttReplayError as exc:
        raise ReplayRefused(str(exc)) from None


def parse_remap(text: str | None) -> tuple[tuple[str, str], ...]:
    """Remap rules ``old/prefix/ => new/prefix/``, one per line."""
    rules = []
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        if "=>" not in line:
            raise ReplayRefused(f"remap rule {line.strip()!r} needs the form 'old => new'")
        old, new = (p.strip() for p in line.split("=>", 1))
        if not old:
            raise ReplayRefused("a remap rule needs an old prefix")
        rules.append((old, new))
    return tuple(rules)


def _number(value: Any, what: str, *, low: float = 0.0) -> float | None:
    if value in (None, ""):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ReplayRefused(f"{what} must be a number") from None
    if number < low:
        raise ReplayRefused(f"{what} must be at least {low:g}")
    return number


def options_from_form(form: dict[str, Any]) -> ReplayOptions:
    """Validated :class:`ReplayOptions` from the page's raw form values."""
    speed_text = str(form.get("speed") or "1")
    try:
        speed: float | str = "max" if parse_speed(speed_text) == 0.0 else parse_speed(speed_text)
    except MqttReplayError as exc:
        raise ReplayRefused(str(exc)) from None
    start = _number(form.get("start"), "window start")
    end = _number(form.get("end"), "window end")
    if start is not None and end is not None and end < start:
        raise ReplayRefused("the window ends before it starts")
    prime = str(form.get("prime") or "off")
    if prime not in PRIME_MODES:
        raise ReplayRefused(f"priming must be one of {', '.join(PRIME_MODES)}")
    qos_text = str(form.get("qos") or "recorded")
    retain_text = str(form.get("retain") or "recorded")
    return ReplayOptions(
        speed=speed,
        loop=bool(form.get("loop")),
        start=start,
        end=end,
        topics=parse_filters(form.get("topics")),
        exclude=parse_filters(form.get("exclude")),
        prefix=(str(form.get("prefix")).strip() or None) if form.get("prefix") else None,
        remap=parse_remap(form.get("remap")),
        qos=None if qos_text == "recorded" else int(qos_text),
        retain=None if retain_text == "recorded" else retain_text == "true",
        prime=prime,
        compress_gaps=_number(form.get("compress_gaps"), "gap compression", low=0.001),
        rewrite_time=bool(form.get("rewrite_time")),
        paused=bool(form.get("paused")),
    )


class ReplayStation:
    """Holds the app's current replay; every method is thread-safe and returns quickly."""

    def __init__(
        self,
        store: SessionStore,
        *,
        allow_remote: bool = False,
        replayer_factory: ReplayerFactory = Replayer,
    ) -> None:
        self.store = store
        self.allow_remote = allow_remote
        self._factory = replayer_factory
        self._lock = threading.Lock()
        self._replayer: Any = None
        self._info: dict[str, Any] = {}
        self._report: dict[str, Any] | None = None
        self._error: str | None = None
        self._starting = False
        self._generation = 0
        # replay seconds spent paused (the engine's rate counts them): (total, paused since)
        self._paused_s = 0.0
        self._paused_since: float | None = None

    def check_broker(self, url: str, confirmed_remote: bool) -> None:
        """Refuses malformed URLs and non-loopback brokers that are not allowed and confirmed."""
        try:
            parse_broker_url(url)
        except ValueError as exc:
            raise ReplayRefused(str(exc)) from None
        if is_loopback_url(url):
            return
        if not self.allow_remote:
            raise ReplayRefused(
                "replays to a broker that is not on this machine are disabled "
                "(start the Session Manager with --allow-remote)"
            )
        if not confirmed_remote:
            raise ReplayRefused("confirm that you want to replay to a remote broker")

    def start(
        self, name: str, broker_url: str, options: ReplayOptions, *, confirmed_remote: bool = False
    ) -> None:
        """Stops the current replay and starts a new one in the background."""
        self.check_broker(broker_url, confirmed_remote)
        path = self.store.path_of(name)
        if not path.is_file():
            raise ReplayRefused(f"session {name!r} does not exist")
        self.stop_current()
        with self._lock:
            self._generation += 1
            generation = self._generation
            self._info = {
                "session": name,
                "broker": broker_url,
                "options": asdict(options),
                "remote": not is_loopback_url(broker_url),
            }
            self._report, self._error, self._starting = None, None, True
            self._paused_s, self._paused_since = 0.0, None
        threading.Thread(
            target=self._open,
            args=(generation, name, path, broker_url, options),
            name="sm-replay-start",
            daemon=True,
        ).start()

    def _open(
        self, generation: int, name: str, path: Path, broker_url: str, options: ReplayOptions
    ) -> None:
        try:
            view = self.store.peek(name)
            session: Any = (
                view.session if view is not None and view.session.mode == "full" else path
            )
            replayer = self._factory(
                session,
                broker_url,
                allow_remote=not is_loopback_url(broker_url),
                tz=self.store.tz,
                **options.replayer_kwargs(),
            )
        except (MqttReplayError, OSError, ValueError) as exc:
            with self._lock:
                if generation == self._generation:
                    self._error, self._starting = str(exc), False
            return
        with self._lock:
            if generation != self._generation:  # a newer start won: drop this one
                stale = replayer
            else:
                stale, self._replayer, self._starting = None, replayer, False
        if stale is not None:
            stale.stop()
            stale.close()

    def control(self, action: str, value: Any = None) -> None:
        """pause, resume, stop, step, speed (value), loop (bool), seek (seconds from the
        session start), seek_index (message of the window)."""
        with self._lock:
            replayer = self._replayer
        if replayer is None:
            raise ReplayRefused("no replay is running")
        try:
            if action in ("pause", "resume", "step"):
                getattr(replayer, action)()
            elif action == "stop":
                replayer.stop()
            elif action == "speed":
                replayer.set_speed(value)
            elif action == "loop":
                replayer.set_loop(bool(value))
            elif action == "seek":
                replayer.seek(max(float(value), 0.0))
            elif action == "seek_index":
                replayer.seek(index=int(value))
            else:
                raise ReplayRefused(f"unknown control {action!r}")
        except MqttReplayError as exc:
            raise ReplayRefused(str(exc)) from None

    def snapshot(self) -> dict[str, Any]:
        """State for the page: ``active``, ``starting``, session, broker, options, ``status``
        (the engine's), ``report`` (fidelity, once finished or stopped), ``error``."""
        with self._lock:
            replayer, info = self._replayer, dict(self._info)
            starting, error, report = self._starting, self._error, self._report
        out: dict[str, Any] = {**info, "starting": starting, "error": error, "active": False}
        if replayer is None:
            out["status"] = None
            out["report"] = report
            return out
        status = self._with_active_rate(replayer.status())
        out["status"] = status
        out["active"] = status.get("state") in ("playing", "paused", "starting")
        if status.get("error"):
            out["error"] = status["error"]
        if status.get("state") in ("finished", "stopped", "failed") and report is None:
            report = {**replayer.stats(), "active_s": status["active_s"]}
            with self._lock:
                if self._replayer is replayer:
                    self._report = report
        out["report"] = report
        return out

    def _with_active_rate(self, status: dict[str, Any]) -> dict[str, Any]:
        """Adds ``active_s`` (seconds spent playing) and ``active_rate`` (msg/s while playing:
        it does not fall while the replay is paused, unlike the engine's ``rate``)."""
        elapsed = float(status.get("elapsed_s") or 0.0)
        with self._lock:
            if status.get("state") == "paused":
                if self._paused_since is None:
                    self._paused_since = elapsed
                current = elapsed - self._paused_since
            else:
                if self._paused_since is not None:
                    self._paused_s += max(elapsed - self._paused_since, 0.0)
                    self._paused_since = None
                current = 0.0
            active = max(elapsed - self._paused_s - current, 0.0)
        sent = int(status.get("sent") or 0)
        return {**status, "active_s": active, "active_rate": sent / active if active > 0 else 0.0}

    def stop_current(self) -> None:
        """Stops and releases the current replay (its report stays visible)."""
        with self._lock:
            replayer = self._replayer
            self._replayer = None
        if replayer is None:
            return
        replayer.stop()
        report = replayer.stats()
        replayer.close()
        with self._lock:
            if self._report is None:
                self._report = report

    def shutdown(self) -> None:
        with self._lock:
            self._generation += 1
        self.stop_current()
