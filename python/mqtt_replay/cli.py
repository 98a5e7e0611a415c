"""The ``mqtt-replay`` command line: info, convert, generate, play, record, serve.

play and record live in :mod:`mqtt_replay.commands`; serve starts the apps through
``apps.launcher``, imported only when ``serve`` runs (the library itself starts no apps).

Exit codes: 0 success; 1 the work ran but something failed (messages not delivered, bad lines
in strict mode); 2 usage errors; 130 interrupted by Ctrl-C or SIGTERM (both stop the same
way: play closes its replay, record finalises its header, serve stops what it started);
141 stdout closed early (``mqtt-replay info X | head -1``), quietly.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import signal
import sys
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from mqtt_replay.errors import MqttReplayError
from mqtt_replay.progress import ProgressLine, human_bytes
from mqtt_replay.session import DEFAULT_TZ, Session, open_session

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 0, 1, 2, 130, 141
SM_PORT, DASH_PORT, BROKER_PORT = 8507, 8503, 1883
APPS_MISSING = (
    "the apps are not installed next to mqtt_replay: install the package with its apps "
    "(pip install 'mqtt-replay[apps]'), or in a checkout run `make setup`"
)


APPS_DEPENDENCIES = ("dash", "dash_bootstrap_components", "dash_ag_grid", "plotly", "waitress")


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C would raise :class:`KeyboardInterrupt`, so every command
    stops the same way on both (``serve`` then skips the grace time for its children, which
    got no signal from a terminal)."""


def _on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # one orderly stop; a second does not cut it
    raise Terminated


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mqtt-replay")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _open(args: argparse.Namespace, *, mode: str = "full") -> Session:
    size = Path(args.session).stat().st_size if Path(args.session).exists() else 0
    bar = ProgressLine("reading") if size > 50_000_000 and not args.quiet else None
    try:
        return open_session(
            args.session,
            strict=args.strict,
            tz=args.tz,
            mode="index" if mode == "index" else "full",
            progress=bar,
        )
    finally:
        if bar:
            bar.close()


def _iso(us: int | None) -> str:
    if us is None:
        return "-"
    return datetime.fromtimestamp(us / 1e6, tz=UTC).isoformat(timespec="milliseconds")


def cmd_info(args: argparse.Namespace) -> int:
    from mqtt_replay.statistics import topic_stats

    suffix = Path(args.session).suffix.lower()
    session = _open(args, mode="index" if suffix not in {".zip", ".db"} else "full")
    stats = topic_stats(session)
    if args.json:
        out = {
            "path": str(session.path),
            "container": session.container,
            "messages": len(session),
            "lines": session.lines,
            "start": session.start.isoformat() if session.start else None,
            "end": session.end.isoformat() if session.end else None,
            "duration_s": session.duration_s,
            "header": session.header,
            "skipped": [s.__dict__ for s in session.skipped],
            "metadata_lines": session.metadata_lines,
            "topics": stats,
        }
        print(json.dumps(out, indent=2, default=str))
        return EXIT_OK
    print(f"session    {session.path}")
    print(f"container  {session.container}   lines {session.lines:,}   messages {len(session):,}")
    start, end = session.start, session.end
    print(f"time       {start} .. {end}  ({session.duration_s:.3f} s, UTC)")
    if session.header:
        print("header")
        for key, value in session.header.items():
            print(f"  {key:28} {value}")
    total_bytes = sum(r["bytes"] for r in stats)
    print(f"topics     {len(stats)}   payload {human_bytes(total_bytes)}")
    print(f"  {'count':>8} {'bytes':>10} {'msg/s':>8}  {'first':>23}  topic")
    for r in stats[: args.top]:
        rate = f"{r['rate']:.2f}" if r["rate"] is not None else "-"
        print(
            f"  {r['count']:>8,} {human_bytes(r['bytes']):>10} {rate:>8}  "
            f"{_iso(r['first_us']):>23}  {r['topic']}"
        )
    if len(stats) > args.top:
        print(f"  … {len(stats) - args.top} more (use --top)")
    if session.metadata_lines:
        print(f"metadata lines: {', '.join(map(str, session.metadata_lines[:20]))}")
    if session.skipped:
        print(f"skipped {len(session.skipped)} line(s):")
        for s in session.skipped[:50]:
            print(f"  line {s.line}: {s.reason}  | {s.text[:60]}")
    return EXIT_OK


def cmd_convert(args: argparse.Namespace) -> int:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    from mqtt_replay.topics import category

    session = _open(args)
    out = Path(args.output)
    table = session.table
    meta = dict(table.schema.metadata or {})
    meta[b"mqtt_replay.source"] = str(session.path).encode()
    if session.header is not None:
        meta[b"mqtt_replay.header"] = json.dumps(session.header).encode()
    table = table.replace_schema_metadata(meta)
    if args.partition:
        # Hive-style day=YYYY-MM-DD/family=CCU/… so DuckDB, Polars or Spark prune by path.
        topics = table.column("topic").cast(pa.string())
        families = pa.array([category(t) for t in topics.to_pylist()], pa.string())
        day = pc.strftime(table.column("timestamp"), format="%Y-%m-%d")
        day = pc.fill_null(day, "unknown")
        table = table.append_column("day", day).append_column("family", families)
        table = table.set_column(2, "topic", topics)
        ds.write_dataset(
            table,
            out,
            format="parquet",
            partitioning=["day", "family"],
            partitioning_flavor="hive",
            existing_data_behavior="overwrite_or_ignore",
        )
        written = sum(f.stat().st_size for f in out.rglob("*.parquet"))
    else:
        pq.write_table(table, out, compression="zstd")
        written = out.stat().st_size
    print(
        f"wrote {out} ({len(session):,} messages, {human_bytes(written)}); "
        f"{len(session.skipped)} line(s) skipped",
        file=sys.stderr,
    )
    for s in session.skipped[:20]:
        print(f"  line {s.line}: {s.reason}", file=sys.stderr)
    return EXIT_OK


def cmd_generate(args: argparse.Namespace) -> int:
    from mqtt_replay.generate import generate_session

    bar = None if args.quiet else ProgressLine("generating", unit="msgs")
    try:
        path = generate_session(
            args.output,
            messages=args.messages,
            rate=args.rate,
            seed=args.seed,
            mix=args.mix,
            progress=bar,
        )
    finally:
        if bar:
            bar.close()
    print(f"wrote {path} ({human_bytes(Path(path).stat().st_size)})", file=sys.stderr)
    return EXIT_OK


def _add_read_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("session", help="session file (.log, .db, .zip)")
    p.add_argument("--strict", action="store_true", help="fail at the first bad line")
    p.add_argument("--tz", default=DEFAULT_TZ, help=f"zone of naive timestamps ({DEFAULT_TZ})")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mqtt-replay", description="Record, analyse and replay MQTT sessions."
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {_version()}", help="print the version"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("info", help="summarise a session: messages, time, topics, header")
    _add_read_options(p)
    p.add_argument("--top", type=int, default=40, help="topics to list (40)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("convert", help="write a session as Parquet")
    _add_read_options(p)
    p.add_argument("output", help="output .parquet file (a directory with --partition)")
    p.add_argument(
        "--partition",
        action="store_true",
        help="write a Hive-partitioned dataset by day and topic family",
    )
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser("generate", help="write a deterministic synthetic plant session")
    p.add_argument("output", help="output .log file")
    p.add_argument("--messages", type=int, default=10_000, help="number of messages (%(default)s)")
    p.add_argument("--rate", type=float, default=20.0, help="mean messages per second (20)")
    p.add_argument(
        "--seed", type=int, default=0, help="random seed; same seed, same file (%(default)s)"
    )
    p.add_argument(
        "--mix",
        choices=["plant", "small", "camera"],
        default="plant",
        help="traffic mix: the plant's, small payloads only, or camera-heavy (%(default)s)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=cmd_generate)

    from mqtt_replay.commands import add_commands

    add_commands(sub)

    p = sub.add_parser("serve", help="start broker, Session Manager and OMF Dashboard")
    p.add_argument("--session", help="session to load and replay on start (the demo in make run)")
    p.add_argument(
        "--sessions", default="mqtt-data/sessions", help="session directory (%(default)s)"
    )
    p.add_argument(
        "--broker-port",
        type=int,
        default=BROKER_PORT,
        help="port of the local broker; started unless one listens there (%(default)s)",
    )
    p.add_argument(
        "--sm-port", type=int, default=SM_PORT, help="Session Manager port (%(default)s)"
    )
    p.add_argument(
        "--dash-port", type=int, default=DASH_PORT, help="OMF Dashboard port (%(default)s)"
    )
    p.set_defaults(func=cmd_serve)
    from mqtt_replay.bench_cli import add_bench_command

    add_bench_command(sub)
    return parser


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        found = importlib.util.find_spec("apps.launcher") is not None
    except ImportError:  # no `apps` package at all: find_spec raises for the submodule
        found = False
    if not found:
        print(f"mqtt-replay: error: {APPS_MISSING}", file=sys.stderr)
        return EXIT_FAILED
    missing = [m for m in APPS_DEPENDENCIES if importlib.util.find_spec(m) is None]
    if missing:
        print(
            f"mqtt-replay: error: the apps need {', '.join(missing)}: "
            "pip install 'mqtt-replay[apps]'",
            file=sys.stderr,
        )
        return EXIT_FAILED
    from apps.launcher import StackOptions, run_stack

    opts = StackOptions(
        session=args.session,
        sessions=args.sessions,
        broker_port=args.broker_port,
        sm_port=args.sm_port,
        dash_port=args.dash_port,
    )
    return run_stack(opts)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if in_main_thread else None
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`| head`): say nothing, and let no flush at exit fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except (MqttReplayError, FileNotFoundError) as exc:
        print(f"mqtt-replay: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
