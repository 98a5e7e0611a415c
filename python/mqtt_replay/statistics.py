"""Statistics over a session's index (no payloads needed).

Pure functions over pyarrow tables: the CLI's ``info`` and the Session Manager both use them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from mqtt_replay import _core
from mqtt_replay.session import Session
from mqtt_replay.topics import category


def payload_sizes(session: Session) -> pa.ChunkedArray:
    """Bytes per message: the payload's UTF-8 length (full mode) or its size in the file (index)."""
    if session.mode == "index":
        return session.index.column("length").cast(pa.int64())
    return pc.binary_length(session.table.column("payload")).cast(pa.int64())


def topic_stats(session: Session) -> list[dict[str, Any]]:
    """Per topic: count, bytes, first/last (UTC), rate (msg/s over the topic's span),
    and min/max/mean gap between consecutive messages, sorted by count (descending)."""
    if len(session) == 0:
        return []
    idx = session.index
    topic = idx.column("topic").cast(pa.string())
    ts = idx.column("timestamp").cast(pa.int64())
    table = pa.table({"topic": topic, "ts": ts, "bytes": payload_sizes(session)})
    grouped = table.group_by("topic").aggregate(
        [("ts", "count"), ("bytes", "sum"), ("ts", "min"), ("ts", "max")]
    )
    gaps = _gap_stats(table)
    out: list[dict[str, Any]] = []
    for row in grouped.to_pylist():
        name = row["topic"]
        first, last, count = row["ts_min"], row["ts_max"], row["ts_count"]
        span = (last - first) / 1e6 if first is not None and last is not None else 0.0
        g = gaps.get(name, (None, None, None))
        out.append(
            {
                "topic": name,
                "category": category(name),
                "count": count,
                "bytes": row["bytes_sum"] or 0,
                "first_us": first,
                "last_us": last,
                "rate": (count - 1) / span if span > 0 else None,
                "gap_min_s": g[0],
                "gap_max_s": g[1],
                "gap_mean_s": g[2],
            }
        )
    out.sort(key=lambda r: (-r["count"], r["topic"]))
    return out


def _gap_stats(table: pa.Table) -> dict[str, tuple[float, float, float]]:
    """Gaps between consecutive messages of each topic (file order, timestamps present)."""
    t = table.filter(pc.is_valid(table.column("ts")))
    if t.num_rows < 2:
        return {}
    order = pc.sort_indices(t, sort_keys=[("topic", "ascending"), ("ts", "ascending")])
    t = t.take(order)
    topics = t.column("topic").combine_chunks()
    ts = t.column("ts").combine_chunks()
    same = pc.equal(topics.slice(1), topics.slice(0, len(topics) - 1))
    diff = pc.subtract(ts.slice(1), ts.slice(0, len(ts) - 1))
    gaps = pa.table({"topic": topics.slice(1), "gap": diff}).filter(same)
    if gaps.num_rows == 0:
        return {}
    agg = gaps.group_by("topic").aggregate([("gap", "min"), ("gap", "max"), ("gap", "mean")])
    return {
        r["topic"]: (r["gap_min"] / 1e6, r["gap_max"] / 1e6, r["gap_mean"] / 1e6)
        for r in agg.to_pylist()
    }


@dataclass(frozen=True)
class GroupStats:
    """Per-topic aggregates of a row selection (index = topic code); see :func:`group_stats`."""

    count: npt.NDArray[np.int64]
    bytes: npt.NDArray[np.int64]
    first: npt.NDArray[np.int64]
    last: npt.NDArray[np.int64]
    gap_min: npt.NDArray[np.int64]
    gap_max: npt.NDArray[np.int64]
    ordered: bool


def _rows_arg(rows: npt.ArrayLike | None) -> npt.NDArray[np.int64] | None:
    return None if rows is None else np.ascontiguousarray(rows, dtype=np.int64)


def group_stats(
    codes: npt.ArrayLike,
    ts: npt.ArrayLike,
    sizes: npt.ArrayLike,
    rows: npt.ArrayLike | None,
    n_topics: int,
) -> GroupStats:
    """Count, bytes, first/last timestamp and min/max gap per topic code over ``rows`` (all
    rows when None), in one pass in row order in the Rust core (GIL released).

    Gaps are between consecutive selected rows of a topic; ``ordered`` is False when a topic's
    timestamps go backwards in that order (then sort before trusting the gaps). Topics with
    fewer than two rows have ``gap_min = 2**63-1`` and ``gap_max = -2**63``."""
    out = _core.topic_stats(
        np.ascontiguousarray(codes, dtype=np.int32),
        np.ascontiguousarray(ts, dtype=np.int64),
        np.ascontiguousarray(sizes, dtype=np.int64),
        _rows_arg(rows),
        n_topics,
    )
    count, nbytes, first, last, gap_min, gap_max, ordered = out

    def arr(values: list[int]) -> npt.NDArray[np.int64]:
        return np.asarray(values, dtype=np.int64)

    return GroupStats(
        arr(count), arr(nbytes), arr(first), arr(last), arr(gap_min), arr(gap_max), ordered
    )


def bucket_counts(
    codes: npt.ArrayLike,
    ts: npt.ArrayLike,
    rows: npt.ArrayLike | None,
    lane_of_code: npt.ArrayLike,
    x0: int,
    x1: int,
    lanes: int,
    buckets: int,
) -> tuple[npt.NDArray[np.int64], int]:
    """Counts of the selected rows with ``x0 <= ts <= x1`` per lane and time bucket, shape
    ``(lanes, buckets)``; bucket ``i`` covers ``[x0 + i*span//buckets, x0 + (i+1)*span//buckets)``
    with ``span = max(x1 - x0 + 1, buckets)``; topics whose lane is negative are left out. Also
    returns how many selected rows lay in the range. One pass in the Rust core."""
    counts, inside = _core.bucket_counts(
        np.ascontiguousarray(codes, dtype=np.int32),
        np.ascontiguousarray(ts, dtype=np.int64),
        _rows_arg(rows),
        np.ascontiguousarray(lane_of_code, dtype=np.int64),
        int(x0),
        int(x1),
        int(lanes),
        int(buckets),
    )
    return np.asarray(counts, dtype=np.int64).reshape(lanes, buckets), int(inside)


def sort_rows(
    keys: npt.ArrayLike, rows: npt.ArrayLike, *, descending: bool = False
) -> npt.NDArray[np.int64]:
    """``rows`` ordered by ``keys[row]`` (a column of the whole session), ascending or
    descending, ties kept in the order of ``rows`` (a stable sort); parallel, in the Rust core."""
    rows_arr = np.ascontiguousarray(rows, dtype=np.int64)
    out = np.empty(len(rows_arr), dtype=np.int64)
    _core.sort_rows(np.ascontiguousarray(keys, dtype=np.int64), rows_arr, out, descending)
    return out
