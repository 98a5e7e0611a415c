"""The Session Manager app factory.

``create_app(config)`` builds a Dash app with four pages (Library, Analyse, Replay, Record),
registered explicitly with ``register_page`` and with callbacks bound to this app. The app's
long-lived objects (session cache, replay and recorder stations) hang off an ``AppContext``
(``context.py``) kept in ``app.server.extensions``; nothing is global and importing this module
does no I/O.

Dash keeps its page registry in one process-wide dict, so ``create_app`` takes it over: it
removes pages that are not this package's before registering its own (tests create apps one
after another in one process).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import cast

import dash
from dash import _pages

from apps.session_manager import shell
from apps.session_manager.config import ManagerConfig
from apps.session_manager.context import AppContext, make_context
from apps.session_manager.pages import analyse, benchmarks, library, record, replay

PAGE_MODULES: tuple[ModuleType, ...] = (library, analyse, replay, record, benchmarks)
EXTENSION_KEY = "session_manager"
ASSETS = Path(__file__).resolve().parent / "assets"
_register_page = cast(Callable[..., None], dash.register_page)  # untyped in Dash


def create_app(
    config: ManagerConfig | None = None, *, context: AppContext | None = None
) -> dash.Dash:
    """A ready-to-serve Session Manager; serve ``app.server`` (Flask) or call ``app.run``.

    The bundled Bootstrap CSS in ``assets/`` keeps the pages usable offline (no CDN).
    """
    config = config or ManagerConfig()
    ctx = context or make_context(config)
    app = dash.Dash(
        __name__,
        use_pages=True,
        pages_folder="",
        assets_folder=str(ASSETS),
        title="MQTT Session Manager",
        update_title="",
        suppress_callback_exceptions=False,
    )
    # dcc.Upload sends base64 (4/3 of the file) inside a JSON request.
    app.server.config["MAX_CONTENT_LENGTH"] = config.upload_limit_bytes * 4 // 3 + 1_000_000
    _claim_page_registry()
    for page in PAGE_MODULES:
        _register_page(
            page.__name__,
            path=page.PATH,
            name=page.NAME,
            order=page.ORDER,
            title=f"{page.NAME} · Session Manager",
            layout=page.make_layout(ctx),
        )
        page.register_callbacks(app, ctx)
    pages = [p for p in dash.page_registry.values() if p["module"].startswith(__package__ or "")]
    app.layout = shell.layout(pages, str(config.sessions_dir), config.tz)
    app.server.extensions[EXTENSION_KEY] = ctx
    return app


def context_of(app: dash.Dash) -> AppContext:
    """The server-side state behind ``app`` (for tests and the CLI)."""
    ctx = app.server.extensions[EXTENSION_KEY]
    assert isinstance(ctx, AppContext)
    return ctx


def shutdown(app: dash.Dash) -> None:
    """Stops the app's replay and recording (the web server is stopped by its owner)."""
    ctx = context_of(app)
    ctx.replay.shutdown()
    ctx.recorder.shutdown()


def _claim_page_registry() -> None:
    package = __package__ or "apps.session_manager"
    for module in list(_pages.PAGE_REGISTRY):
        if not module.startswith(package):
            del _pages.PAGE_REGISTRY[module]
