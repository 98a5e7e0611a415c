"""Session Manager configuration: where to serve, which directory, which broker.

Defaults serve http://127.0.0.1:8507 on ``mqtt-data/sessions/`` of the project and replay to
the local Mosquitto ``mqtt://127.0.0.1:1883``. Replays to a broker that is not on a loopback
address are refused unless ``allow_remote`` is set (SPEC §6.2) and then still need an explicit
confirmation in the page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mqtt_replay import broker

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8507
DEFAULT_BROKER_URL = "mqtt://127.0.0.1:1883"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SESSIONS_DIR = PROJECT_ROOT / "mqtt-data" / "sessions"
DEFAULT_UPLOAD_LIMIT = 512 * 1024 * 1024
INDEX_MODE_THRESHOLD = 50_000_000  # .log files above this open in index mode


def parse_broker_url(url: str) -> tuple[str, int, bool]:
    """``mqtt://host[:port]`` or ``mqtts://host[:port]`` → (host, port, tls), parsed by the
    replay engine's own parser (:mod:`mqtt_replay.broker`).

    Raises ValueError for a malformed URL or credentials in the URL (they would show up in the
    page and in logs).
    """
    if "://" not in url:
        raise ValueError(f"broker URL must start with mqtt:// or mqtts://, got {url!r}")
    parsed = broker.parse_broker_url(url)
    if parsed.username is not None or parsed.has_password:
        raise ValueError("broker URL must not contain credentials")
    return parsed.host, parsed.port, parsed.tls


def is_loopback_url(url: str) -> bool:
    """True when the broker URL points at this machine (the engine's loopback rule: every
    address the host resolves to is a loopback address); False for malformed URLs."""
    return broker.is_loopback(url)


@dataclass(frozen=True)
class ManagerConfig:
    """Everything :func:`apps.session_manager.app.create_app` needs."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    sessions_dir: Path = field(default=DEFAULT_SESSIONS_DIR)
    broker_url: str = DEFAULT_BROKER_URL
    upload_limit_bytes: int = DEFAULT_UPLOAD_LIMIT
    allow_remote: bool = False
    index_threshold_bytes: int = INDEX_MODE_THRESHOLD
    inline_load_bytes: int = 20_000_000  # bigger sessions load in the background with progress
    cache_entries: int = 4
    tz: str = "Europe/Berlin"
    poll_interval_ms: int = 500

    def __post_init__(self) -> None:
        object.__setattr__(self, "sessions_dir", Path(self.sessions_dir).expanduser())
        if not 0 < self.port < 65536:
            raise ValueError(f"port {self.port} is outside 1..65535")
        if self.upload_limit_bytes <= 0:
            raise ValueError("upload_limit_bytes must be positive")
        if self.cache_entries < 1:
            raise ValueError("cache_entries must be at least 1")
        if self.poll_interval_ms < 100:
            raise ValueError("poll_interval_ms must be at least 100")
        parse_broker_url(self.broker_url)
