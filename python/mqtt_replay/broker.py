"""Broker URLs on the replay side: one parser and one loopback rule, the engine's own.

``mqtt://[user[:password]@]host[:port]`` (1883) or ``mqtts://host[:8883][?ca=/path.pem]``.
A broker is local when every address its host resolves to is a loopback address; replays to
any other broker need ``allow_remote`` (SPEC §6.2). The Rust core parses and decides, so the
CLI, the Python API and the Session Manager can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

from mqtt_replay import _core

DEFAULT_BROKER = "mqtt://127.0.0.1:1883"


@dataclass(frozen=True)
class BrokerURL:
    host: str
    port: int
    tls: bool
    username: str | None
    has_password: bool
    loopback: bool
    redacted: str  # the URL with any password replaced by ***


def parse_broker_url(url: str) -> BrokerURL:
    """Parses a broker URL; raises :class:`~mqtt_replay.errors.InvalidOptionError` (a
    ``ValueError``). Resolves the host name once, to apply the loopback rule."""
    info = _core.parse_broker_url(url.strip())
    return BrokerURL(
        host=str(info["host"]),
        port=int(info["port"]),
        tls=bool(info["tls"]),
        username=info["username"],
        has_password=bool(info["has_password"]),
        loopback=bool(info["loopback"]),
        redacted=str(info["redacted"]),
    )


def is_loopback(url: str) -> bool:
    """True when the URL is valid and every address of its host is a loopback address."""
    try:
        return parse_broker_url(url).loopback
    except ValueError:
        return False
