"""The dashboard's pages: each module has ``PATH``, ``NAME``, ``ORDER``, a static ``layout()``
and ``register_callbacks(app, client)`` that binds its callbacks to one app instance.

Callbacks are registered per app (``app.callback``) rather than with the global
``dash.callback``, so several apps can live in one process (tests) without sharing state.
"""
