"""Serving a Dash app until Ctrl-C or SIGTERM, then shutting its workers down: one helper for
both apps' ``__main__`` (with their shared ``--debug`` option and log format).

By default the app runs under waitress, a production WSGI server (no development-server
warning); ``debug=True`` keeps Dash's own development server with its debug tools (never the
reloader: it would start a second replay station or MQTT client).
"""

from __future__ import annotations

import argparse
import logging
import signal
from collections.abc import Callable
from types import FrameType

import dash

log = logging.getLogger(__name__)

THREADS = 16
"""Request threads: Dash pages fire several callbacks at once and poll on intervals."""


def add_debug_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--debug",
        action="store_true",
        help="Dash's development server with debug tools (no reloader); default: waitress",
    )


def configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run_app(
    app: dash.Dash,
    *,
    host: str,
    port: int,
    shutdown: Callable[[dash.Dash], None],
    debug: bool = False,
    name: str = "app",
) -> None:
    """Serves ``app`` on ``host:port`` until Ctrl-C or SIGTERM, then calls ``shutdown(app)``
    with further interrupts ignored (Ctrl-C reaches every process of the group, and
    ``mqtt-replay serve`` may send one more: it must not cut the orderly shutdown short)."""
    signal.signal(signal.SIGTERM, _interrupt)
    server = None
    try:
        if debug:
            app.run(host=host, port=port, debug=True, use_reloader=False)
        else:
            from waitress import create_server

            server = create_server(app.server, host=host, port=port, threads=THREADS)
            log.info("%s serving on http://%s:%s", name, host, port)
            server.run()  # returns on KeyboardInterrupt (waitress catches it)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if server is not None:
            server.close()
        shutdown(app)
