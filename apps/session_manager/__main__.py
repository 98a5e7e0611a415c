"""``python -m apps.session_manager [--host H] [--port P] [--sessions DIR] [--broker URL]``.

Serves on 127.0.0.1:8507 with the session directory ``mqtt-data/sessions/`` and the replay
broker mqtt://127.0.0.1:1883 by default. ``--allow-remote`` permits replays to brokers that are
not on this machine (the page still asks for confirmation).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from apps.serving import add_debug_option, configure_logging, run_app
from apps.session_manager.app import create_app, shutdown
from apps.session_manager.config import (
    DEFAULT_BROKER_URL,
    DEFAULT_HOST,
    DEFAULT_PORT,
    DEFAULT_SESSIONS_DIR,
    DEFAULT_UPLOAD_LIMIT,
    ManagerConfig,
)
from apps.session_manager.context import make_context
from apps.session_manager.replay_station import ReplayOptions, ReplayRefused


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m apps.session_manager",
        description="Session Manager: session library, analysis, Replay Station and recorder.",
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to bind (%(default)s)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (%(default)s)")
    parser.add_argument(
        "--sessions",
        type=Path,
        default=DEFAULT_SESSIONS_DIR,
        help="session directory (%(default)s)",
    )
    parser.add_argument("--broker", default=DEFAULT_BROKER_URL, help="replay broker (%(default)s)")
    parser.add_argument(
        "--allow-remote", action="store_true", help="permit replays to non-loopback brokers"
    )
    parser.add_argument(
        "--upload-limit-mb",
        type=int,
        default=DEFAULT_UPLOAD_LIMIT // (1024 * 1024),
        help="largest upload in MiB (%(default)s)",
    )
    parser.add_argument("--tz", default="Europe/Berlin", help="zone of naive timestamps")
    parser.add_argument(
        "--autoplay",
        metavar="SESSION",
        help="start replaying this session of the directory (looped) when the app starts",
    )
    add_debug_option(parser)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging()
    try:
        config = ManagerConfig(
            host=args.host,
            port=args.port,
            sessions_dir=args.sessions,
            broker_url=args.broker,
            allow_remote=args.allow_remote,
            upload_limit_bytes=args.upload_limit_mb * 1024 * 1024,
            tz=args.tz,
        )
    except ValueError as exc:
        print(f"session_manager: {exc}", file=sys.stderr)
        return 2
    config.sessions_dir.mkdir(parents=True, exist_ok=True)
    ctx = make_context(config)
    app = create_app(config, context=ctx)
    if args.autoplay:
        # `make run` shows a living factory at once: the demo session, looped, at 1x.
        try:
            ctx.replay.start(Path(args.autoplay).name, config.broker_url, ReplayOptions(loop=True))
        except ReplayRefused as exc:
            print(f"session_manager: cannot autoplay {args.autoplay}: {exc}", file=sys.stderr)
            return 2
    run_app(
        app,
        host=config.host,
        port=config.port,
        shutdown=shutdown,
        debug=args.debug,
        name="Session Manager",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
