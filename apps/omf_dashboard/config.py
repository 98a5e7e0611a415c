"""Dashboard configuration: where to serve, which broker profiles exist, which one is active.

Two profiles (SPEC §5.5): ``replay`` (the local Mosquitto, anonymous, the default) and ``live``
(a plant broker, optionally with user and password). Live credentials come from the
environment only (``OMF_LIVE_BROKER_URL``, ``OMF_LIVE_USERNAME``, ``OMF_LIVE_PASSWORD``), never
from the command line (visible in ``ps``) and never into logs, pages or browser stores: the
password field is excluded from ``repr`` and from :meth:`BrokerProfile.describe`.

``tz`` is the one zone every time on the dashboard is shown in (and labelled with): an IANA
name, by default the host's zone (UTC when the host's zone has no IANA name).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from apps.omf_dashboard.zones import check_zone, local_zone

ProfileName = Literal["replay", "live"]
PROFILES: tuple[ProfileName, ...] = ("replay", "live")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8503
DEFAULT_BROKER_URL = "mqtt://127.0.0.1:1883"

ENV_LIVE_URL = "OMF_LIVE_BROKER_URL"
ENV_LIVE_USERNAME = "OMF_LIVE_USERNAME"
ENV_LIVE_PASSWORD = "OMF_LIVE_PASSWORD"  # noqa: S105 - the variable's name, not a secret


@dataclass(frozen=True)
class BrokerProfile:
    """One MQTT broker to subscribe to. ``password`` never appears in ``repr`` or ``describe``."""

    name: ProfileName
    url: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        parse_broker_url(self.url)  # fail early on a malformed URL

    @property
    def host(self) -> str:
        return parse_broker_url(self.url)[0]

    @property
    def port(self) -> int:
        return parse_broker_url(self.url)[1]

    @property
    def tls(self) -> bool:
        return parse_broker_url(self.url)[2]

    def describe(self) -> str:
        """``host:port`` (plus ``TLS`` and the user name if any) – safe to show and log."""
        text = f"{self.host}:{self.port}"
        if self.tls:
            text += " (TLS)"
        if self.username:
            text += f" as {self.username}"
        return text


def parse_broker_url(url: str) -> tuple[str, int, bool]:
    """``mqtt://host[:port]`` or ``mqtts://host[:port]`` → (host, port, tls).

    Raises ValueError for other schemes, a missing host, or credentials embedded in the URL
    (they would end up in logs; use the environment variables instead).
    """
    parts = urlsplit(url)
    if parts.scheme not in {"mqtt", "mqtts", "tcp", "ssl"}:
        raise ValueError(f"broker URL must start with mqtt:// or mqtts://, got {parts.scheme!r}")
    if parts.username or parts.password:
        raise ValueError(
            f"put broker credentials in {ENV_LIVE_USERNAME}/{ENV_LIVE_PASSWORD}, not in the URL"
        )
    if not parts.hostname:
        raise ValueError("broker URL has no host")
    tls = parts.scheme in {"mqtts", "ssl"}
    try:
        port = parts.port or (8883 if tls else 1883)
    except ValueError as exc:
        raise ValueError(f"broker URL has an invalid port: {exc}") from None
    return parts.hostname, port, tls


@dataclass(frozen=True)
class DashboardConfig:
    """Everything :func:`apps.omf_dashboard.app.create_app` needs; defaults serve 127.0.0.1:8503."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    broker_url: str = DEFAULT_BROKER_URL
    profile: ProfileName = "replay"
    live_url: str | None = None
    live_username: str | None = None
    live_password: str | None = field(default=None, repr=False)
    history_limit: int = 10_000
    poll_interval_ms: int = 500
    client_id_prefix: str = "omf-dashboard"
    tz: str = field(default_factory=local_zone)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tz", check_zone(self.tz))
        if self.profile not in PROFILES:
            raise ValueError(f"profile must be one of {PROFILES}, got {self.profile!r}")
        if self.profile == "live" and not self.live_url:
            raise ValueError(f"the live profile needs a broker URL ({ENV_LIVE_URL})")
        if self.history_limit < 1:
            raise ValueError("history_limit must be at least 1")
        if self.poll_interval_ms < 100:
            raise ValueError("poll_interval_ms must be at least 100")
        parse_broker_url(self.broker_url)
        if self.live_url:
            parse_broker_url(self.live_url)

    def broker_profile(self, name: ProfileName) -> BrokerProfile:
        """The profile called ``name``; ValueError if ``live`` is not configured."""
        if name == "replay":
            return BrokerProfile("replay", self.broker_url)
        if name == "live" and self.live_url:
            return BrokerProfile("live", self.live_url, self.live_username, self.live_password)
        raise ValueError(f"broker profile {name!r} is not configured")

    @property
    def available_profiles(self) -> tuple[ProfileName, ...]:
        return ("replay", "live") if self.live_url else ("replay",)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> DashboardConfig:
        """Defaults, then the live-broker environment variables, then ``overrides``."""
        source = os.environ if env is None else env
        values: dict[str, Any] = {
            "live_url": source.get(ENV_LIVE_URL) or None,
            "live_username": source.get(ENV_LIVE_USERNAME) or None,
            "live_password": source.get(ENV_LIVE_PASSWORD) or None,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)
