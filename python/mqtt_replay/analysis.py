"""Statistics over a session's index (no payloads needed).

Pure functions over pyarrow tables: the CLI's ``info`` and the Session Manager both use them.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from mqtt_replay.session import Session

# Category by topic prefix (SPEC §4); the first match wins, so NodeRed precedes module/.
CATEGORY_PREFIXES: tuple[tuple[str, str], ...] = (
    ("ccu/", "CCU"),
    ("module/v1/ff/NodeRed/", "Node-RED"),
    ("module/", "MODULE"),
    ("fts/", "FTS"),
    ("/j1/txt/", "TXT"),
    ("osf/", "OSF sensors"),
)


def category(topic: str) -> str:
    """Category of a topic: CCU, Node-RED, MODULE, FTS, TXT, OSF sensors or its first segment."""
    for prefix, name in CATEGORY_PREFIXES:
        if topic.startswith(prefix):
            return name
    first = topic.lstrip("/").split("/", 1)[0]
    return first or "(root)"


def sub_category(topic: str) -> str:
    """Last topic segment (state, connection, factsheet, order, instantAction, …)."""
    return topic.rstrip("/").rsplit("/", 1)[-1]


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
