"""NDJSON session → Arrow: our reader (full, index, cached reopen) against DuckDB
``read_json``, ``pyarrow.json``, ``polars.read_ndjson`` and an orjson loop, in one run.

Each contender runs in a fresh process (best of ``--repeat``) on a warm page cache and
reports its own peak RSS, also as the growth above the interpreter with the contender's
imports loaded ("above imports/file": the reader's own memory). Usage: ``python benchmarks/bench_reader.py [--messages N] [--big]``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RSS_SNIPPET, ensure_session, print_table, run_isolated, warm

CONTENDERS: dict[str, str] = {
    "mqtt-replay full": """
import mqtt_replay
base = _rss_mb(); t0 = time.perf_counter(); s = mqtt_replay.open_session(sys.argv[1]); n = len(s.table)
dt = time.perf_counter() - t0
""",
    "mqtt-replay index": """
import mqtt_replay
base = _rss_mb(); t0 = time.perf_counter(); s = mqtt_replay.open_session(sys.argv[1], mode="index", cache=False)
n = len(s); dt = time.perf_counter() - t0
""",
    "mqtt-replay index (cached reopen)": """
import mqtt_replay
mqtt_replay.open_session(sys.argv[1], mode="index", cache=sys.argv[2])  # builds the cache
import resource
base = _rss_mb(); t0 = time.perf_counter(); s = mqtt_replay.open_session(sys.argv[1], mode="index", cache=sys.argv[2])
n = len(s); dt = time.perf_counter() - t0
assert s.from_cache
""",
    "duckdb read_json": """
import duckdb
con = duckdb.connect()
base = _rss_mb(); t0 = time.perf_counter()
t = con.sql(f\"\"\"SELECT topic, payload, timestamp, qos, retain FROM read_json('{sys.argv[1]}',
  format='newline_delimited', ignore_errors=true,
  columns={{topic:'VARCHAR', payload:'VARCHAR', timestamp:'TIMESTAMPTZ', qos:'UTINYINT', retain:'BOOLEAN'}})\"\"\").arrow()
t = t.read_all() if hasattr(t, "read_all") else t  # DuckDB 2 returns a RecordBatchReader
n = t.num_rows; dt = time.perf_counter() - t0
""",
    "pyarrow.json": """
import pyarrow as pa, pyarrow.json as pj
schema = pa.schema([("topic", pa.string()), ("payload", pa.string()),
  ("timestamp", pa.timestamp("ms", tz="UTC")), ("qos", pa.uint8()), ("retain", pa.bool_())])
base = _rss_mb(); t0 = time.perf_counter()
t = pj.read_json(sys.argv[1], parse_options=pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore"),
                 read_options=pj.ReadOptions(block_size=1 << 24))
n = t.num_rows; dt = time.perf_counter() - t0
""",
    "polars.read_ndjson": """
import polars as pl
base = _rss_mb(); t0 = time.perf_counter()
# (an explicit schema with UInt8 qos panics in polars 2.1; inference reads the same columns)
df = pl.read_ndjson(sys.argv[1], ignore_errors=True).select(
    "topic", "payload", "timestamp", "qos", "retain"
).with_columns(pl.col("timestamp").str.to_datetime(time_zone="UTC"))
n = df.height; dt = time.perf_counter() - t0
""",
    "orjson loop": """
import orjson, pyarrow as pa
from datetime import datetime
base = _rss_mb(); t0 = time.perf_counter()
topics, payloads, ts, qos, retain = [], [], [], [], []
with open(sys.argv[1], "rb") as f:
    for line in f:
        o = orjson.loads(line)
        if "topic" not in o: continue
        topics.append(o["topic"]); payloads.append(o["payload"])
        ts.append(datetime.fromisoformat(o["timestamp"])); qos.append(o.get("qos", 0)); retain.append(o.get("retain", False))
t = pa.table({"topic": pa.array(topics).dictionary_encode(), "payload": payloads, "timestamp": ts, "qos": pa.array(qos, pa.uint8()), "retain": retain})
n = t.num_rows; dt = time.perf_counter() - t0
""",
}


def bench(path: Path, repeat: int, skip: set[str]) -> list[list[object]]:
    size = path.stat().st_size
    warm(path)
    cache = tempfile.mkdtemp(prefix="mqtt-replay-bench-cache-")
    results: dict[str, dict[str, float]] = {}
    try:
        for name, body in CONTENDERS.items():
            if name in skip:
                continue
            code = (
                RSS_SNIPPET
                + body
                + "\nprint(json.dumps({'s': dt, 'n': n, 'rss': _rss_mb(), 'base': base}))"
            )
            best: dict[str, float] | None = None
            for _ in range(repeat):
                print(f"  {name} …", file=sys.stderr, flush=True)
                r = run_isolated(code, str(path), cache)
                if best is None or r["s"] < best["s"]:
                    best = r
            assert best is not None
            results[name] = best
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    duck = results.get("duckdb read_json", {}).get("s")
    rows: list[list[object]] = []
    for name, r in results.items():
        gbs = size / r["s"] / 1e9
        rows.append(
            [
                name,
                f"{r['s']:.3f}",
                f"{gbs:.2f}",
                f"{int(r['n']):,}",
                f"{r['rss']:.0f}",
                f"{r['rss'] * 1e6 / size * 100:.1f}%",
                f"{(r['rss'] - r['base']) * 1e6 / size * 100:.1f}%",
                f"{duck / r['s']:.2f}x" if duck else "-",
            ]
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--big", action="store_true", help="also the ~4.5 GB (5M message) session")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    sizes = [args.messages] + ([5_000_000] if args.big else [])
    for n in sizes:
        path = ensure_session(n)
        # The slow peers add nothing at 4.5 GB but minutes: time them on the 1 GB file only.
        skip = {"orjson loop", "polars.read_ndjson", "pyarrow.json"} if n >= 5_000_000 else set()
        rows = bench(path, args.repeat if n < 5_000_000 else 1, skip)
        print_table(
            f"NDJSON → Arrow, {path.name} ({path.stat().st_size / 1e9:.2f} GB, warm cache)",
            [
                "reader",
                "seconds",
                "GB/s",
                "messages",
                "peak RSS MB",
                "RSS/file",
                "above imports/file",
                "vs DuckDB",
            ],
            rows,
        )


if __name__ == "__main__":
    main()
