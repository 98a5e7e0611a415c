"""The long-running CLI commands: play, record (each with a live status line)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Literal

from mqtt_replay.progress import human_bytes
from mqtt_replay.recorder import PRESETS, Recorder
from mqtt_replay.replay import DEFAULT_BROKER, Replayer
from mqtt_replay.session import open_session

EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 130


def _line(text: str, final: bool = False) -> None:
    if sys.stderr.isatty():
        sys.stderr.write("\r" + text + "\x1b[K" + ("\n" if final else ""))
    else:
        sys.stderr.write(text + "\n")
    sys.stderr.flush()


def _play_line(s: dict[str, object]) -> str:
    total = int(s["total"]) or 1  # type: ignore[call-overload]
    done = int(s["index"])  # type: ignore[call-overload]
    frac = min(done / total, 1.0)
    bar = "#" * int(frac * 24)
    speed = "max" if s["speed"] == 0 else f"{s['speed']:g}x"
    return (
        f"[{bar:<24}] {frac * 100:5.1f}% {s['position_s']:.1f}/{s['duration_s']:.1f} s "
        f"sent {s['sent']}/{s['total']} failed {s['failed']} {float(s['rate']):,.0f} msg/s "  # type: ignore[arg-type]
        f"{speed} p99 {float(s['lateness_p99_us']):.0f} µs {s['state']}"  # type: ignore[arg-type]
    )


def cmd_play(args: argparse.Namespace) -> int:
    session = open_session(args.session, tz=args.tz)
    prime: Literal["off", "retained", "all"] = args.prime or "off"
    replayer = Replayer(
        session,
        args.broker,
        speed=args.speed,
        loop=args.loop,
        start=args.start,
        end=args.end,
        topics=args.topics,
        exclude=args.exclude,
        prefix=args.prefix,
        qos=args.qos,
        prime=prime,
        compress_gaps=args.compress_gaps,
        rewrite_time=args.rewrite_time,
        allow_remote=args.allow_remote,
        strict=args.strict,
        keepalive=args.keepalive,
        give_up=args.give_up,
    )
    interrupted = False
    interval = 0.2 if sys.stderr.isatty() else 2.0
    try:
        while not replayer.wait(interval):
            if not args.quiet:
                _line(_play_line(replayer.status()))
    except KeyboardInterrupt:
        interrupted = True
    replayer.close()
    report = replayer.stats()
    if not args.quiet:
        _line(_play_line(replayer.status()), final=True)
    if args.report:
        Path(args.report).write_text(json.dumps(report, indent=2))
    print(json.dumps(report), file=sys.stdout if args.json else sys.stderr)
    if interrupted:
        return EXIT_INTERRUPTED
    if report["failed"] or report["state"] != "finished":
        return EXIT_FAILED
    return EXIT_OK


def cmd_record(args: argparse.Namespace) -> int:
    recorder = Recorder(
        args.broker,
        args.dir,
        name=args.name,
        topics=args.topics or ["#"],
        exclude=args.exclude,
        preset=args.preset,
        qos=args.qos,
        description=args.description,
        outcome=args.outcome,
        note=args.note,
        keep_retained=not args.no_retained,
        rotate_bytes=int(args.rotate_mb * 1e6) if args.rotate_mb else None,
        rotate_seconds=args.rotate_minutes * 60 if args.rotate_minutes else None,
        tz=args.tz,
    )
    started = time.monotonic()
    status = recorder.status()
    print(f"recording {args.broker} into {status['file']} (Ctrl-C stops)", file=sys.stderr)
    try:
        while args.duration is None or time.monotonic() - started < args.duration:
            tick = 0.5 if sys.stderr.isatty() else 5.0
            if args.duration is not None:
                tick = max(0.05, min(tick, args.duration - (time.monotonic() - started)))
            time.sleep(tick)
            s = recorder.status()
            if s["error"]:
                break
            elapsed = time.monotonic() - started
            if not args.quiet:
                _line(
                    f"{elapsed:7.1f} s  {s['messages']:,} messages  {human_bytes(s['bytes'])}  "
                    f"{s['messages'] / max(elapsed, 1e-9):,.0f} msg/s  "
                    f"reconnects {s['reconnects']}  {Path(s['file']).name}"
                )
    except KeyboardInterrupt:
        pass
    path = recorder.stop()
    final = recorder.status()
    _line(f"stopped: {final['messages']:,} messages in {path}", final=True)
    if final["error"]:
        print(f"mqtt-replay: error: {final['error']}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from mqtt_replay.session import DEFAULT_TZ

    p = sub.add_parser("play", help="replay a session into a broker with its original timing")
    p.add_argument("session")
    p.add_argument("--broker", default=DEFAULT_BROKER, help=f"broker URL ({DEFAULT_BROKER})")
    p.add_argument("--speed", default="1", help="factor 0.1–100 or 'max' (1)")
    p.add_argument("--loop", action="store_true")
    p.add_argument("--from", dest="start", help="start at seconds or [h:]m:s from session start")
    p.add_argument("--to", dest="end", help="end at seconds or [h:]m:s from session start")
    p.add_argument("--topics", nargs="+", help="only these MQTT filters (or re:REGEX)")
    p.add_argument("--exclude", nargs="+", help="drop these MQTT filters (or re:REGEX)")
    p.add_argument("--prefix", help="prepend to every outgoing topic")
    p.add_argument(
        "--prime",
        nargs="?",
        const="retained",
        choices=["retained", "all"],
        help="publish the last retained (or every) value per topic before the start",
    )
    p.add_argument("--qos", type=int, choices=[0, 1, 2], help="override the recorded QoS")
    p.add_argument("--compress-gaps", type=float, metavar="S", help="cap idle gaps at S seconds")
    p.add_argument("--rewrite-time", action="store_true", help="set payload time fields to now")
    p.add_argument("--allow-remote", action="store_true", help="allow a non-loopback broker")
    p.add_argument(
        "--strict",
        action="store_true",
        help="refuse the replay if any topic cannot be published (else: counted as failed)",
    )
    p.add_argument(
        "--keepalive", type=int, default=30, metavar="S", help="MQTT keepalive in seconds (30)"
    )
    p.add_argument(
        "--give-up",
        type=float,
        default=60.0,
        metavar="S",
        help="end with an error after S seconds without progress from the broker (60)",
    )
    p.add_argument("--report", help="write the fidelity report (JSON) here")
    p.add_argument("--json", action="store_true", help="print the report on stdout")
    p.add_argument("--tz", default=DEFAULT_TZ)
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=cmd_play)

    p = sub.add_parser("record", help="record a broker into a session file")
    p.add_argument("--broker", default=DEFAULT_BROKER)
    p.add_argument("--name", required=True, help="session name (file name prefix)")
    p.add_argument("--dir", default="mqtt-data/sessions", help="directory (mqtt-data/sessions)")
    p.add_argument("--preset", choices=list(PRESETS), default="none")
    p.add_argument("--topics", nargs="+", help="subscription filters (#)")
    p.add_argument("--exclude", nargs="+", help="filters not to write")
    p.add_argument("--qos", type=int, choices=[0, 1], default=1)
    p.add_argument("--duration", type=float, help="stop after this many seconds")
    p.add_argument("--description", default="")
    p.add_argument("--outcome", choices=["ok", "nok", "mixed", "unknown"], default="unknown")
    p.add_argument("--note", default="")
    p.add_argument("--no-retained", action="store_true", help="drop the broker's retained dump")
    p.add_argument("--rotate-mb", type=float, help="start a new part after this many MB")
    p.add_argument("--rotate-minutes", type=float, help="start a new part after this long")
    p.add_argument("--tz", default=DEFAULT_TZ, help="zone of the file name's local time")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=cmd_record)
