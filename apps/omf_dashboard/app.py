"""The OMF Dashboard app factory.

``create_app(config)`` builds a Dash app (Dash Pages, registered with ``register_page`` calls,
callbacks bound per app) and a :class:`~apps.omf_dashboard.client.DashboardClient`, and starts
the client's MQTT connection unless ``start_client=False``. Importing this module does no I/O.

Dash keeps its page registry in one process-wide dict. ``create_app`` therefore takes it over:
it removes pages that do not belong to this package before registering its own, so the most
recently created app owns page routing in a process (tests create apps one after another).

Garbage collection: building the app leaves ~80k long-lived objects (Dash, Flask, Plotly
components) that every full collection would walk again — 100+ ms with the GIL held, which
stalled the MQTT thread and the page callbacks alike. ``create_app`` therefore ends with
``gc.collect(); gc.freeze()`` (those objects move to the permanent generation, which the
collector skips) and raises the generation-0 threshold to :data:`GC_GEN0_THRESHOLD` (the MQTT
thread allocates a few objects per message). Both are process-wide.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import cast

import dash
from dash import _pages

from apps.omf_dashboard import shell
from apps.omf_dashboard.client import DashboardClient
from apps.omf_dashboard.config import DashboardConfig
from apps.omf_dashboard.pages import generator, messages, overview

PAGE_MODULES: tuple[ModuleType, ...] = (overview, messages, generator)
EXTENSION_KEY = "omf_dashboard"
ASSETS = Path(__file__).resolve().parent / "assets"
_register_page = cast(Callable[..., None], dash.register_page)  # untyped in Dash
GC_GEN0_THRESHOLD = 5_000
"""Allocations between young collections (CPython's default is 700; 3.13 uses 2000)."""


def create_app(config: DashboardConfig | None = None, *, start_client: bool = True) -> dash.Dash:
    """A ready-to-serve dashboard; serve ``app.server`` (Flask) or call ``app.run``.

    The client connects in the background and reconnects on its own; stop it with
    :func:`shutdown`. No CDN theme is loaded: the bundled CSS in ``assets/`` keeps the page
    usable on an offline plant network.
    """
    config = config or DashboardConfig()
    app = dash.Dash(
        __name__,
        use_pages=True,
        pages_folder="",
        assets_folder=str(ASSETS),
        title="OMF Dashboard",
        update_title="",
        suppress_callback_exceptions=False,
    )
    client = DashboardClient(config)
    _claim_page_registry()
    for page in PAGE_MODULES:
        _register_page(
            page.__name__, path=page.PATH, name=page.NAME, order=page.ORDER, layout=page.layout
        )
        page.register_callbacks(app, client)
    pages = [p for p in dash.page_registry.values() if p["module"].startswith(__package__ or "")]
    app.layout = lambda: shell.layout(client, pages)
    shell.register_callbacks(app, client)
    app.server.extensions[EXTENSION_KEY] = client
    freeze_long_lived_objects()
    if start_client:
        client.start()
    return app


def freeze_long_lived_objects() -> None:
    """Collect, move every surviving object out of the collector's reach, raise gen-0's bar.

    Called once the app is built. Frozen objects are never collected (an app is built once
    per process; tests that build several keep a few MB more). The gen-0 threshold is only
    ever raised, never lowered below what the process set.
    """
    gc.collect()
    gc.freeze()
    gen0, gen1, gen2 = gc.get_threshold()
    if 0 < gen0 < GC_GEN0_THRESHOLD:
        gc.set_threshold(GC_GEN0_THRESHOLD, gen1, gen2)


def client_of(app: dash.Dash) -> DashboardClient:
    """The MQTT client behind ``app`` (for tests and the CLI)."""
    client = app.server.extensions[EXTENSION_KEY]
    assert isinstance(client, DashboardClient)
    return client


def shutdown(app: dash.Dash) -> None:
    """Stop the app's MQTT client (the web server is stopped by whoever started it)."""
    client_of(app).stop()


def _claim_page_registry() -> None:
    package = __package__ or "apps.omf_dashboard"
    for module in list(_pages.PAGE_REGISTRY):
        if not module.startswith(package):
            del _pages.PAGE_REGISTRY[module]
