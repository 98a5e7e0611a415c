"""Browser fixtures shared by the app tests: a headless Chromium and a Dash app server.

``chromium`` launches Debian's ``/usr/bin/chromium`` through Playwright (never the bundled
browser; ``playwright install`` is not needed). ``serve_dash`` serves any Dash app's Flask
server from a thread on 127.0.0.1 and a free port, and shuts it down after the test.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `apps` is a top-level folder, not an installed package
    sys.path.insert(0, str(ROOT))

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """A headless Chromium (playwright ``Browser``) for one test module."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"Chromium not found at {CHROMIUM} (required under CI=true)")
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def serve_dash() -> Iterator[Callable[[Any], str]]:
    """``serve(app) -> base_url``: serve a Dash app for the rest of the test."""
    from werkzeug.serving import WSGIRequestHandler, make_server

    class QuietHandler(WSGIRequestHandler):
        def log_request(self, *_args: Any, **_kwargs: Any) -> None:
            """Polling makes several requests per second; keep test output readable."""

    servers: list[tuple[Any, threading.Thread]] = []

    def serve(app: Any) -> str:
        server = make_server(
            "127.0.0.1", 0, app.server, threaded=True, request_handler=QuietHandler
        )
        thread = threading.Thread(target=server.serve_forever, name="dash-test-server", daemon=True)
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.server_port}"

    yield serve
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(10)
