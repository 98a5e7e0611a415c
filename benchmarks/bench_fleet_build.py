"""How long a fleet takes to build from a big session, next to reading it and publishing it.

For one session (``--session PATH``, or a generated plant session of ``--messages`` messages)
and each ``--plants N``: the reader's open (``open_session`` and the parsed table), building
:class:`~mqtt_replay.fleet.Fleet` (finding serials/order ids, cutting the template) and then
every plant's session (``Fleet.session(k)``: prefixed topics, rewritten identities), one plant
at a time and dropped again (N plants of a big session do not fit in memory together).
``--publish`` adds the engine publishing the unchanged session at full speed into the discard
sink of ``bench_fleet.py``, for scale.

Usage: ``python benchmarks/bench_fleet_build.py [--session PATH | --messages N]
[--plants 10,100] [--publish]``
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ensure_session, print_table
from mqtt_replay.fleet import Fleet
from mqtt_replay.session import open_session


def build(path: Path, plants: int) -> list[object]:
    t0 = time.perf_counter()
    session = open_session(path)
    session.table  # noqa: B018  (the parse is part of the open)
    t1 = time.perf_counter()
    fleet = Fleet(session, plants)
    t2 = time.perf_counter()
    slowest = 0.0
    for spec in fleet.plants:
        s0 = time.perf_counter()
        plant = fleet.session(spec.k)
        slowest = max(slowest, time.perf_counter() - s0)
        del plant
        gc.collect()
    t3 = time.perf_counter()
    return [
        f"{len(session):,} msgs, {plants} plants",
        f"{t1 - t0:.2f}",
        f"{t2 - t1:.2f}",
        f"{(t3 - t2) / plants:.2f} (max {slowest:.2f})",
        f"{t3 - t1:.2f}",
    ]


def publish(path: Path) -> float:
    from bench_fleet import DiscardSink
    from mqtt_replay.replay import Replayer

    session = open_session(path)
    session.table  # noqa: B018
    with tempfile.TemporaryDirectory() as tmp:
        sink = DiscardSink(Path(tmp))
        try:
            r = Replayer(
                session, f"mqtt://127.0.0.1:{sink.port}", speed="max", qos=0, status_topic=None
            )
            t0 = time.perf_counter()
            r.wait(None)
            took = time.perf_counter() - t0
            r.close()
            sink.result()
        finally:
            sink.close()
    return took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--session", type=Path)
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--plants", default="10,100")
    ap.add_argument("--publish", action="store_true")
    args = ap.parse_args()
    path = args.session or ensure_session(args.messages)
    rows = [build(path, int(n)) for n in args.plants.split(",")]
    header = ["workload", "open s", "Fleet() s", "per plant s", "Fleet()+all plants s"]
    print_table(f"fleet build, {path.name}", header, rows)
    if args.publish:
        print(f"engine publish of the session into a discard sink: {publish(path):.2f} s")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6:.2f} GB")


if __name__ == "__main__":
    main()
