"""The Session Manager's server-side state, shared by its pages.

:class:`AppContext` holds what lives as long as the app: its configuration, the session cache
and the replay and recorder stations. The app factory (``app.py``) builds one and hands it to
every page; pages import the type from here, never from the factory (which imports them).
"""

from __future__ import annotations

from dataclasses import dataclass

from apps.session_manager.config import ManagerConfig
from apps.session_manager.record_station import RecorderStation
from apps.session_manager.replay_station import ReplayStation
from apps.session_manager.store import SessionStore


@dataclass
class AppContext:
    """The app's server-side state: configuration, session cache, replay and recorder."""

    config: ManagerConfig
    store: SessionStore
    replay: ReplayStation
    recorder: RecorderStation


def make_context(config: ManagerConfig) -> AppContext:
    """A context for ``config`` (nothing is read or started until a page asks)."""
    store = SessionStore(
        config.sessions_dir,
        max_entries=config.cache_entries,
        index_threshold=config.index_threshold_bytes,
        tz=config.tz,
        inline_bytes=config.inline_load_bytes,
    )
    return AppContext(
        config=config,
        store=store,
        replay=ReplayStation(store, allow_remote=config.allow_remote),
        recorder=RecorderStation(config.sessions_dir),
    )
