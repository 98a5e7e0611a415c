"""``mqtt-replay bench``: a fleet of plants into a broker, measured, reported (JSON + HTML).

Exit codes: 0 done and the SLO (if any) met; 1 SLO violated or an engine failed; 2 usage.
"""

from __future__ import annotations

import argparse
import sys

from mqtt_replay.replay import DEFAULT_BROKER

EXIT_OK, EXIT_FAILED = 0, 1


def _line(text: str) -> None:
    if sys.stderr.isatty():
        sys.stderr.write("\r" + text + "\x1b[K")
    else:
        sys.stderr.write(text + "\n")
    sys.stderr.flush()


class _Progress:
    """Redraws in place on a TTY; elsewhere one line every ~2 s."""

    def __init__(self) -> None:
        import time

        self._time = time.monotonic
        self._last = 0.0
        self.drawn = False

    def __call__(self, text: str) -> None:
        now = self._time()
        if sys.stderr.isatty() or now - self._last >= 2.0:
            _line("bench " + text)
            self._last = now
            self.drawn = True

    def close(self) -> None:
        if self.drawn and sys.stderr.isatty():
            sys.stderr.write("\n")


def cmd_bench(args: argparse.Namespace) -> int:
    from mqtt_replay.bench import run_bench

    bar = None if args.quiet else _Progress()
    try:
        result = run_bench(
            args.session,
            args.broker,
            plants=args.plants,
            speed=args.speed,
            rate=args.rate,
            ramp=args.ramp,
            duration_s=args.duration,
            qos=args.qos,
            slo=args.slo,
            out=args.out,
            prefix=args.prefix,
            stagger_s=args.stagger,
            max_gap_s=args.max_gap,
            broker_pid=args.broker_pid,
            allow_remote=args.allow_remote,
            rewrite_ids=not args.keep_ids,
            progress=bar,
        )
    finally:
        if bar:
            bar.close()
    report = result.report
    for step in report["steps"]:
        lat = step["latency_ms"]
        p99 = "–" if lat["p99"] is None else f"{lat['p99']:.2f} ms"
        p50 = "–" if lat["p50"] is None else f"{lat['p50']:.2f} ms"
        print(
            f"{step['label'] or 'run'}: offered {step['offered_rate']:,.0f} msg/s, "
            f"delivered {step['received']:,}/{step['expected']:,} "
            f"({step['delivered_rate']:,.0f} msg/s), lost {step['lost']:,}, "
            f"dup {step['duplicates']:,}, reordered {step['reordered']:,}, "
            f"p50 {p50}, p99 {p99}; {step['bottleneck']}"
        )
    if report["knee"]:
        knee = report["knee"]
        print(f"knee at {knee['target_rate']:,.0f} msg/s: {'; '.join(knee['reasons'])}")
    for v in result.violations:
        print(f"SLO violated: {v}", file=sys.stderr)
    for e in report["errors"]:
        print(f"error: {e}", file=sys.stderr)
    if result.json_path:
        print(f"wrote {result.json_path} and {result.html_path}", file=sys.stderr)
    return EXIT_OK if result.ok else EXIT_FAILED


def add_bench_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "bench",
        help="replay a fleet of plants into a broker and measure what arrives",
        description=(
            "Turn sessions into N virtual plants (own connection, topic prefix, serials and "
            "order ids each), replay them into a broker, measure arrivals with a built-in "
            "subscriber, write a JSON and an HTML report."
        ),
    )
    p.add_argument("session", nargs="+", help="session file(s); plants take them in turn")
    p.add_argument("--plants", type=int, default=1, help="number of virtual plants (1)")
    p.add_argument("--broker", default=DEFAULT_BROKER, help=f"broker URL ({DEFAULT_BROKER})")
    load = p.add_mutually_exclusive_group()
    load.add_argument("--speed", type=float, help="time-scale factor of every plant (1)")
    load.add_argument("--rate", type=float, help="target total msg/s with the sessions' mix")
    load.add_argument(
        "--ramp",
        metavar="FROM:TO:STEP:SECONDS",
        help="steps of total msg/s; stops at the first step with loss or over the SLO",
    )
    p.add_argument("--duration", type=float, help="seconds per run (repeat or cut the plants)")
    p.add_argument("--qos", type=int, choices=[0, 1], default=0, help="publish QoS (0)")
    p.add_argument("--slo", help="e.g. p99=50ms,loss=0 — exit code 1 when violated")
    p.add_argument("--out", default=".", help="directory for the reports (current directory)")
    p.add_argument("--prefix", default="plant-{k}/", help="topic prefix per plant (plant-{k}/)")
    p.add_argument("--stagger", type=float, default=0.0, help="seconds between plant starts")
    p.add_argument("--max-gap", type=float, help="cap idle gaps at this many seconds")
    p.add_argument("--broker-pid", type=int, help="pid of a local broker (found by port)")
    p.add_argument("--keep-ids", action="store_true", help="do not rewrite serials/order ids")
    p.add_argument("--allow-remote", action="store_true", help="allow a non-loopback broker")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    p.set_defaults(func=cmd_bench)
