"""Replaying sessions into an MQTT broker through the Rust engine.

The engine runs on its own Rust thread: it schedules every message at an absolute deadline
(start + offset / speed; pause, seek and speed changes move the base, so nothing drifts),
publishes through its own MQTT client with TCP_NODELAY and, at QoS 1, a bounded in-flight
window; after a broker restart it reconnects and resends what was not acknowledged. No Python
code and no GIL is involved per message; :meth:`Replayer.wait` releases the GIL.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import pyarrow as pa

from mqtt_replay import _core
from mqtt_replay.errors import InvalidOptionError
from mqtt_replay.session import DEFAULT_TZ, Session, open_session
from mqtt_replay.topics import STATUS_TOPIC, remap, selection

DEFAULT_BROKER = "mqtt://127.0.0.1:1883"
Speed = float | Literal["max"]
PrimeMode = Literal["off", "retained", "all"] | bool
TimeArg = float | int | str | datetime | None


def parse_speed(speed: Speed | str) -> float:
    """``"max"`` (as fast as possible) → 0.0; otherwise a factor between 0.1 and 100."""
    if isinstance(speed, str):
        if speed.strip().lower() in {"max", "asap", "inf"}:
            return 0.0
        try:
            speed = float(speed.rstrip("xX"))
        except ValueError as exc:
            raise InvalidOptionError(f"speed must be a number or 'max', not {speed!r}") from exc
    if not 0.1 <= float(speed) <= 100.0:
        raise InvalidOptionError(f"speed {speed} is outside 0.1 … 100 (or 'max')")
    return float(speed)


def parse_offset(value: TimeArg, session_start: datetime | None) -> int | None:
    """Seconds (float), ``[[h:]m:]s`` text or an absolute datetime → µs from the session start."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if session_start is None:
            raise InvalidOptionError("the session has no timestamps to place a datetime in")
        return int((value - session_start).total_seconds() * 1e6)
    if isinstance(value, str):
        try:
            parts = [float(p) for p in value.strip().split(":")]
        except ValueError as exc:
            raise InvalidOptionError(f"time {value!r} is not seconds or [h:]m:s") from exc
        secs = 0.0
        for p in parts:
            secs = secs * 60 + p
        return int(secs * 1e6)
    return int(float(value) * 1e6)


def _replay_table(session: Session) -> pa.Table:
    table = session.table.select(["timestamp", "topic", "payload", "qos", "retain", "binary"])
    return table.unify_dictionaries()


def _client_id() -> str:
    return f"mqtt-replay-{os.getpid()}-{secrets.token_hex(3)}"


class Replayer:
    """A running replay. Use as a context manager, or call :meth:`stop`.

    ``session`` is a :class:`Session` or a path. Options (all keyword-only):

    - ``speed``: factor 0.1–100 or ``"max"``; ``loop``; ``start``/``end``: window as seconds
      from the session start, ``"m:s"`` text or a datetime;
    - ``topics``/``exclude``: MQTT filters or ``re:`` regexes; ``prefix`` and ``remap``
      (``[(old_prefix, new_prefix)]``) rewrite outgoing topics;
    - ``qos``/``retain``: override the recorded values (QoS 2 is sent as 1);
    - ``prime``: ``"retained"`` (or True) publishes, before playing, the last retained message
      of each topic before the start; ``"all"`` the last message of every topic;
    - ``compress_gaps``: cap idle gaps at this many seconds; ``rewrite_time``: set payload time
      fields (timestamp, ts, startedAt, …) to the wall clock;
    - ``allow_remote``: needed for a broker that is not on a loopback address;
    - ``status_topic``: retained status announcements (None disables);
    - ``inflight``: QoS 1 window; ``paused``: start paused;
    - ``strict``: refuse the replay when any message's outgoing topic cannot be published
      (wildcards, U+0000, empty, over 65,535 bytes); otherwise each such message is counted
      as failed with its reason and never sent;
    - ``keepalive``: seconds; a broker that stops answering is detected within it and handled
      like a lost connection; ``give_up``: seconds without progress from the broker after
      which the replay ends with an error (state ``failed``);
    - ``spin_us``: the engine sleeps until this long before each deadline and spins the rest
      (µs-level lateness for one replay; 0 saves a core per engine in a fleet, at ~60 µs).

    "Sent" means written to the socket for QoS 0 (there is no acknowledgement) and taken
    into the in-flight window for QoS 1, where ``failed`` counts what was never acknowledged.

    Raises :class:`~mqtt_replay.errors.BrokerError` when the broker cannot be reached or is
    not allowed, :class:`~mqtt_replay.errors.InvalidOptionError` for bad options.
    """

    def __init__(
        self,
        session: Session | str | os.PathLike[str],
        broker_url: str = DEFAULT_BROKER,
        *,
        speed: Speed | str = 1.0,
        loop: bool = False,
        start: TimeArg = None,
        end: TimeArg = None,
        topics: Sequence[str] | None = None,
        exclude: Sequence[str] | None = None,
        prefix: str | None = None,
        remap_rules: Sequence[tuple[str, str]] = (),
        qos: int | None = None,
        retain: bool | None = None,
        prime: PrimeMode = "off",
        compress_gaps: float | None = None,
        rewrite_time: bool = False,
        allow_remote: bool = False,
        status_topic: str | None = STATUS_TOPIC,
        client_id: str | None = None,
        inflight: int = 1000,
        paused: bool = False,
        tz: str | None = None,
        strict: bool = False,
        keepalive: int = 30,
        give_up: float = 60.0,
        spin_us: int = 150,
    ) -> None:
        if not isinstance(session, Session):
            session = open_session(Path(session), tz=tz or DEFAULT_TZ)
        self.session = session
        if qos is not None and qos not in (0, 1, 2):
            raise InvalidOptionError(f"qos must be 0, 1 or 2, not {qos}")
        prime_mode = (
            {True: "retained", False: "off"}.get(prime, prime) if isinstance(prime, bool) else prime
        )
        if prime_mode not in ("off", "retained", "all"):
            raise InvalidOptionError(f"prime must be off, retained or all, not {prime!r}")
        table = _replay_table(session)
        names: list[str] = []
        if table.num_rows:
            names = table.column("topic").chunk(0).dictionary.to_pylist()
        allowed = selection(names, topics, exclude) if (topics or exclude) else None
        rename = (
            [remap(t, prefix, list(remap_rules)) for t in names]
            if (prefix or remap_rules)
            else None
        )
        start_us = parse_offset(start, session.start)
        end_us = parse_offset(end, session.start)
        if start_us is not None and end_us is not None and end_us < start_us:
            raise InvalidOptionError("end lies before start")
        self.speed = parse_speed(speed)
        self._core = _core.Replayer(
            table,
            broker_url,
            client_id=client_id or _client_id(),
            allow_remote=allow_remote,
            speed=self.speed,
            looping=loop,
            from_us=start_us,
            to_us=end_us,
            allowed=allowed,
            rename=rename,
            qos=min(qos, 1) if qos is not None else None,
            retain=retain,
            prime=str(prime_mode),
            compress_gap_us=int(compress_gaps * 1e6) if compress_gaps is not None else None,
            rewrite_time=rewrite_time,
            status_topic=status_topic,
            session_name=session.name,
            inflight=inflight,
            start_paused=paused,
            strict=strict,
            keepalive_s=int(keepalive),
            give_up_s=float(give_up),
            spin_us=int(spin_us),
        )

    # -- controls (all take effect immediately, also while playing) ------------------
    def pause(self) -> None:
        self._core.pause()

    def resume(self) -> None:
        self._core.resume()

    def stop(self) -> None:
        """Stops and waits for the replay thread to end."""
        self._core.stop()
        self._core.wait(None)

    def step(self) -> None:
        """While paused: publish the next message now."""
        self._core.step()

    def set_speed(self, speed: Speed | str) -> None:
        self._core.set_speed(parse_speed(speed))

    def set_loop(self, loop: bool) -> None:
        self._core.set_loop(loop)

    def seek(self, seconds: float | str | None = None, *, index: int | None = None) -> None:
        """Jump to a time offset (seconds from the session start) or a message of the window."""
        if (seconds is None) == (index is None):
            raise InvalidOptionError("seek needs exactly one of seconds or index")
        if index is not None:
            self._core.seek_index(int(index))
        else:
            us = parse_offset(seconds, None)
            self._core.seek_us(int(us or 0))

    # -- observation -----------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """State, position/duration (s), index/total, speed, counters, lateness (µs), rate."""
        return dict(self._core.status())

    def stats(self) -> dict[str, Any]:
        """The fidelity report: counts, lateness percentiles at publish, effective rate."""
        s = self.status()
        keys = (
            "state",
            "total",
            "sent",
            "primed",
            "failed",
            "resent",
            "reconnects",
            "loops",
            "lateness_p50_us",
            "lateness_p99_us",
            "lateness_p999_us",
            "lateness_max_us",
            "lateness_mean_us",
            "lateness_last_us",
            "elapsed_s",
            "rate",
            "error",
            "acked",
            "failures",
        )
        report = {k: s[k] for k in keys}
        report["delivery"] = (
            "QoS 0: sent = written to the socket (no acknowledgement); "
            "QoS 1: sent = published, failed includes every message never acknowledged"
        )
        report["session"] = str(self.session.path)
        return report

    def wait(self, timeout: float | None = None) -> bool:
        """Blocks until the replay ends (True) or ``timeout`` seconds pass (False).
        The GIL is released; Ctrl-C stops the replay and raises KeyboardInterrupt."""
        try:
            return bool(self._core.wait(timeout))
        except KeyboardInterrupt:
            self.stop()
            raise

    @property
    def finished(self) -> bool:
        return bool(self._core.is_finished())

    def close(self) -> None:
        self._core.close()

    def __enter__(self) -> Replayer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        self.close()
