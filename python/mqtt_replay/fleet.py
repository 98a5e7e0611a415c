"""A fleet of virtual plants from recorded sessions.

:class:`Fleet` turns one or more sessions into ``N`` distinct plants that can share one broker
without colliding: plant ``k`` (1-based; sessions are dealt out in turn) publishes under its
own topic prefix (``plant-{k}/`` by default, the recorded topic unchanged after it) and with
its own module/AGV serials and order ids. Serials are found generically — topic segments
after ``module/v1/ff/[NodeRed/]`` and ``fts/v1/ff/``, payload values of ``*serialNumber``
keys, plus the serials the product spec lists — and order ids are the values of ``orderId``
keys. Each identity becomes a per-plant one everywhere it stands as a whole JSON string or a
whole topic segment (``SVR3QA0022`` → ``SVR3QA0022-P3``; a UUID order id → another UUID,
derived from plant and original), so the rewrite is consistent across topics and payloads.
Every other byte of a payload is kept; binary payloads are never touched.

:meth:`Fleet.session` gives plant ``k`` as a :class:`~mqtt_replay.session.Session` the
replay engine plays as it is, time-scaled (``speed``) in the table itself (so any factor
works, not only the engine's 0.1–100), optionally with gaps capped and tiled to a duration.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from mqtt_replay.errors import InvalidOptionError
from mqtt_replay.fleet_identities import (
    KNOWN_SERIALS,
    Identities,
    PayloadTemplate,
    find_identities,
    plant_order_id,
    plant_serial,
)
from mqtt_replay.session import DEFAULT_TZ, Session, open_session

__all__ = [
    "DEFAULT_PREFIX",
    "KNOWN_SERIALS",
    "Fleet",
    "Identities",
    "find_identities",
    "plant_order_id",
    "plant_serial",
]

DEFAULT_PREFIX = "plant-{k}/"
MAX_TILED_ROWS = 50_000_000
REPLAY_COLUMNS = ["timestamp", "topic", "payload", "qos", "retain", "binary"]


def _array(column: pa.ChunkedArray) -> pa.Array:
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()


@dataclass
class _Template:
    """A session table cut once into the pieces that differ between plants."""

    table: pa.Table  # REPLAY_COLUMNS, topic dictionary-encoded, timestamps in µs
    ids: Identities
    topic_names: list[str]
    payloads: PayloadTemplate

    @classmethod
    def build(cls, table: pa.Table, ids: Identities) -> _Template:
        table = table.select(REPLAY_COLUMNS).unify_dictionaries().combine_chunks()
        names = table.column("topic").chunk(0).dictionary.to_pylist() if table.num_rows else []
        payloads = PayloadTemplate.build(
            _array(table.column("payload")), _array(table.column("binary")), ids
        )
        return cls(table, ids, names, payloads)


@dataclass(frozen=True)
class PlantSpec:
    """Plant ``k``: its topic prefix, the session it replays, its identity mapping."""

    k: int
    prefix: str
    source: int
    mapping: dict[str, str] = field(repr=False)

    @property
    def client_id(self) -> str:
        return f"mqtt-replay-bench-{os.getpid()}-{self.prefix.strip('/').replace('/', '-')}"


class Fleet:
    """``plants`` virtual plants from ``sessions`` (a Session or a path each).

    ``prefix`` is a format string with ``{k}`` (plant number from 1); ``rewrite_ids=False``
    keeps serials and order ids (only the prefix separates plants); ``stagger_s`` is the
    start delay between consecutive plants (used by the runner); ``first`` the number of the
    first plant (processes that each run a part of one fleet number their plants apart).
    """

    def __init__(
        self,
        sessions: Sequence[Session | str | os.PathLike[str]] | Session | str | os.PathLike[str],
        plants: int = 1,
        *,
        prefix: str = DEFAULT_PREFIX,
        rewrite_ids: bool = True,
        stagger_s: float = 0.0,
        tz: str = DEFAULT_TZ,
        first: int = 1,
    ) -> None:
        if isinstance(sessions, Session | str | os.PathLike):
            sessions = [sessions]
        if not sessions:
            raise InvalidOptionError("a fleet needs at least one session")
        if plants < 1:
            raise InvalidOptionError(f"plants must be at least 1, not {plants}")
        if "{k}" not in prefix and plants > 1:
            raise InvalidOptionError("the prefix needs {k} so that plants do not collide")
        if stagger_s < 0:
            raise InvalidOptionError("stagger must not be negative")
        self.sessions = [
            s if isinstance(s, Session) else open_session(Path(s), tz=tz) for s in sessions
        ]
        for s in self.sessions:
            if len(s) == 0:
                raise InvalidOptionError(f"session {s.path} has no messages")
        self.stagger_s = float(stagger_s)
        self.tz = tz
        self._templates: list[_Template] = []
        for s in self.sessions:
            ids = find_identities(s.table) if rewrite_ids else Identities((), ())
            self._templates.append(_Template.build(s.table, ids))
        self.plants: list[PlantSpec] = []
        for k in range(first, first + plants):
            source = (k - first) % len(self.sessions)
            ids = self._templates[source].ids
            mapping = {s: plant_serial(s, k) for s in ids.serials}
            mapping.update({o: plant_order_id(o, k) for o in ids.order_ids})
            self.plants.append(PlantSpec(k, prefix.format(k=k), source, mapping))

    def __len__(self) -> int:
        return len(self.plants)

    @property
    def prefixes(self) -> list[str]:
        return [p.prefix for p in self.plants]

    def plant(self, k: int) -> PlantSpec:
        """The plant numbered ``k``."""
        for spec in self.plants:
            if spec.k == k:
                return spec
        raise InvalidOptionError(f"the fleet has no plant {k}")

    def identities(self, k: int) -> Identities:
        return self._templates[self.plant(k).source].ids

    def mean_rate(self) -> float:
        """The fleet's mean message rate at speed 1 (msg/s), the sum over its plants."""
        total = 0.0
        for p in self.plants:
            s = self.sessions[p.source]
            total += len(s) / max(s.duration_s, 1e-3)
        return total

    def speed_for_rate(
        self, rate: float, *, duration_s: float | None = None, max_gap_s: float | None = None
    ) -> float:
        """The speed at which the whole fleet offers ``rate`` msg/s on average over what it
        plays: ``duration_s`` seconds from each plant's start (tiled like
        :meth:`session`), or each plant's whole session (with gaps capped at ``max_gap_s``).
        Found by bisection, because a window's rate is not the session's mean rate (a dump
        at the start, silences in the middle)."""
        if rate <= 0:
            raise InvalidOptionError(f"rate must be positive, not {rate}")
        shares: dict[int, int] = {}
        for p in self.plants:
            shares[p.source] = shares.get(p.source, 0) + 1
        rel = {src: _relative_us(self._templates[src].table) for src in shares}

        def offered(speed: float) -> float:
            total, longest = 0, 0.0
            for src, plants in shares.items():
                count, span_us = _played(rel[src], speed, duration_s, max_gap_s)
                total += plants * count
                longest = max(longest, span_us)
            seconds = duration_s if duration_s is not None else longest / 1e6
            return total / seconds if seconds > 0 else float("inf")

        lo, hi = 1e-6, 1e9
        for _ in range(100):
            mid = (lo * hi) ** 0.5
            if offered(mid) < rate:
                lo = mid
            else:
                hi = mid
            if hi / lo < 1 + 1e-6:
                break
        return hi

    # -- one plant's table -------------------------------------------------------------
    def _topic_names(self, spec: PlantSpec) -> list[str]:
        out = []
        for name in self._templates[spec.source].topic_names:
            parts = [spec.mapping.get(seg, seg) for seg in name.split("/")]
            out.append(spec.prefix + "/".join(parts))
        return out

    def table(self, k: int) -> pa.Table:
        """Plant ``k`` at the recorded timing: topics prefixed, identities rewritten."""
        spec = self.plant(k)
        tpl = self._templates[spec.source]
        table = tpl.table
        topic = table.column("topic").chunk(0)
        new_topic = pa.DictionaryArray.from_arrays(
            topic.indices, pa.array(self._topic_names(spec), pa.string())
        )
        table = table.set_column(1, "topic", new_topic)
        if tpl.payloads.rewritten:
            payload = tpl.payloads.render(_array(table.column("payload")), spec.mapping)
            table = table.set_column(2, "payload", payload)
        return table

    def session(
        self,
        k: int,
        *,
        speed: float = 1.0,
        duration_s: float | None = None,
        max_gap_s: float | None = None,
    ) -> Session:
        """Plant ``k`` as a session to replay at engine speed 1: timestamps divided by
        ``speed`` around the first, gaps capped at ``max_gap_s`` (after scaling) and, with
        ``duration_s``, the plant repeated or cut so that it lasts that long."""
        if speed <= 0:
            raise InvalidOptionError(f"speed must be positive, not {speed}")
        table = scale_timestamps(self.table(k), speed=speed, max_gap_s=max_gap_s)
        if duration_s is not None:
            table = tile(table, duration_s)
        return as_session(table, f"{self.plant(k).prefix.strip('/') or 'plant'}", self.tz)


def _micros(table: pa.Table) -> np.ndarray:
    ts = table.column("timestamp")
    if ts.null_count:
        raise InvalidOptionError("a fleet needs sessions with a timestamp on every message")
    return np.asarray(ts.cast(pa.int64()).to_numpy(), dtype=np.int64)


def _with_micros(table: pa.Table, micros: np.ndarray) -> pa.Table:
    ts_type = table.schema.field("timestamp").type
    column = pa.array(micros, pa.int64()).cast(ts_type)
    return table.set_column(0, "timestamp", column)


def _relative_us(table: pa.Table) -> np.ndarray:
    t = _micros(table)
    return (t - t[0]).astype(np.float64) if len(t) else t.astype(np.float64)


def _scaled(rel: np.ndarray, speed: float, max_gap_s: float | None) -> np.ndarray:
    out = np.round(rel / speed)
    if max_gap_s is not None and len(out):
        gaps = np.diff(out, prepend=out[0])
        np.minimum(gaps, max_gap_s * 1e6, out=gaps)
        gaps[gaps < 0] = 0
        out = np.cumsum(gaps)
    return out


def _played(
    rel: np.ndarray, speed: float, duration_s: float | None, max_gap_s: float | None
) -> tuple[int, float]:
    """(messages, span in µs) a plant plays at ``speed``: its session, or ``duration_s``
    of it tiled as :func:`tile` does."""
    scaled = _scaled(rel, speed, max_gap_s)
    n = len(scaled)
    span = float(scaled[-1]) if n else 0.0
    if duration_s is None:
        return n, span
    limit = duration_s * 1e6
    gap = span // (n - 1) if n > 1 and span > 0 else 1_000_000
    period = span + max(gap, 1)
    copies = int(limit // period)
    rest = int(np.searchsorted(scaled, limit - copies * period, side="right"))
    return copies * n + rest, limit


def scale_timestamps(table: pa.Table, *, speed: float, max_gap_s: float | None = None) -> pa.Table:
    """Divides the time since the first message by ``speed``; caps gaps at ``max_gap_s``."""
    t = _micros(table)
    if len(t) == 0:
        return table
    rel = (t - t[0]).astype(np.float64) / speed
    if max_gap_s is not None:
        gaps = np.diff(rel, prepend=rel[0])
        np.minimum(gaps, max_gap_s * 1e6, out=gaps)
        gaps[gaps < 0] = 0  # out-of-order timestamps play in file order, as the engine does
        rel = np.cumsum(gaps)
    return _with_micros(table, t[0] + np.round(rel).astype(np.int64))


def tile(table: pa.Table, duration_s: float) -> pa.Table:
    """The table repeated back to back (one mean gap between copies) and cut at
    ``duration_s`` after its first message."""
    t = _micros(table)
    limit = int(duration_s * 1e6)
    span = int(t[-1] - t[0]) if len(t) else 0
    gap = span // (len(t) - 1) if len(t) > 1 and span > 0 else 1_000_000
    period = span + max(gap, 1)
    if (limit // period + 1) * len(t) > MAX_TILED_ROWS:
        raise InvalidOptionError(
            f"{duration_s} s of this plant would be more than {MAX_TILED_ROWS:,} messages"
        )
    copies = []
    shift = 0
    while shift <= limit:
        part = table if shift == 0 else _with_micros(table, t + shift)
        copies.append(part)
        shift += period
    out = pa.concat_tables(copies).unify_dictionaries().combine_chunks()
    rel = _micros(out) - t[0]
    return out.filter(pa.array(rel <= limit))


def as_session(table: pa.Table, name: str, tz: str = DEFAULT_TZ) -> Session:
    """An in-memory table (REPLAY_COLUMNS) as a :class:`Session` the engine can play."""
    return Session(
        Path(name),
        data=table,
        mode="full",
        container="fleet",
        header=None,
        skipped=[],
        metadata_lines=[],
        lines=table.num_rows,
        tz=tz,
    )
