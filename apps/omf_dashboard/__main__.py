"""``python -m apps.omf_dashboard [--host H] [--port P] [--broker URL] [--profile replay|live]``.

Serves on 127.0.0.1:8503 by default and subscribes to the replay broker
mqtt://127.0.0.1:1883. The live profile reads its broker URL and credentials from
``OMF_LIVE_BROKER_URL``, ``OMF_LIVE_USERNAME`` and ``OMF_LIVE_PASSWORD`` (``--live-broker``
may give the URL); passwords are never accepted on the command line. ``--tz`` names the zone
every time is shown in (default: the host's zone); an unknown name stops the start.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from apps.omf_dashboard.app import create_app, shutdown
from apps.omf_dashboard.config import (
    DEFAULT_BROKER_URL,
    DEFAULT_HOST,
    DEFAULT_PORT,
    ENV_LIVE_URL,
    PROFILES,
    DashboardConfig,
)
from apps.serving import add_debug_option, configure_logging, run_app


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m apps.omf_dashboard",
        description="OMF Dashboard: factory views, Message Center and Message Generator.",
    )
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help="address to bind (default %(default)s)"
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default %(default)s)")
    parser.add_argument(
        "--broker",
        default=DEFAULT_BROKER_URL,
        help="replay-profile broker URL (default %(default)s)",
    )
    parser.add_argument(
        "--live-broker",
        default=None,
        help=f"live-profile broker URL (default: ${ENV_LIVE_URL}); credentials only via env",
    )
    parser.add_argument("--profile", choices=PROFILES, default="replay", help="profile at start")
    parser.add_argument("--history", type=int, default=10_000, help="Message Center bound")
    parser.add_argument(
        "--tz",
        default=None,
        help="IANA zone every time is shown in, e.g. Europe/Berlin (default: the host's zone)",
    )
    add_debug_option(parser)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging()
    try:
        config = DashboardConfig.from_env(
            host=args.host,
            port=args.port,
            broker_url=args.broker,
            live_url=args.live_broker,
            profile=args.profile,
            history_limit=args.history,
            tz=args.tz,
        )
    except ValueError as exc:
        print(f"omf_dashboard: {exc}", file=sys.stderr)
        return 2
    app = create_app(config)
    run_app(
        app,
        host=config.host,
        port=config.port,
        shutdown=shutdown,
        debug=args.debug,
        name="OMF Dashboard",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
