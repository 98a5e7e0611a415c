"""What a running replay announces about itself on ``mqtt-replay/status`` (SPEC §6.4).

The replay engine publishes a retained JSON object such as
``{"session": "...", "position": 12.5, "duration": 60.0, "speed": 10 | "max",
"state": "playing", "sent": 120, "total": 900, ...}``. The dashboard only displays it; it
never changes behaviour. An empty retained payload (the engine clearing its topic) means
"no replay".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from apps.omf_dashboard.payloads import NOT_JSON, as_dict, as_int, as_number, as_text

ACTIVE_STATES = frozenset({"playing", "paused"})


@dataclass(frozen=True, slots=True)
class ReplayStatus:
    """A parsed replay announcement; unknown fields are None."""

    session: str | None
    state: str | None
    position: float | None = None
    duration: float | None = None
    speed: float | None = None
    sent: int | None = None
    total: int | None = None
    received_at: float = 0.0

    @property
    def active(self) -> bool:
        """True while the replay is playing or paused (stopped/finished ones are history)."""
        return self.state in ACTIVE_STATES

    def describe(self) -> str:
        """One line for the banner, e.g. ``blue-run · 12.5 s / 60.0 s · 10× · playing``."""
        parts = [self.session or "unnamed session"]
        if self.position is not None:
            total = f" / {self.duration:.1f} s" if self.duration is not None else ""
            parts.append(f"{self.position:.1f} s{total}")
        if self.speed is not None:
            parts.append("max speed" if math.isinf(self.speed) else f"{self.speed:g}×")
        if self.sent is not None:
            parts.append(f"{self.sent}/{self.total}" if self.total is not None else f"{self.sent}")
        parts.append(self.state or "unknown state")
        return " · ".join(parts)


def parse_replay_status(body: object, received_at: float) -> ReplayStatus | None:
    """A status payload (decoded JSON or NOT_JSON) → ReplayStatus, or None for "no replay"."""
    if body is NOT_JSON:
        return None
    data = as_dict(body)
    if data is None:
        return None
    speed = as_number(data.get("speed"))
    if speed is None and as_text(data.get("speed")) in {"max", "asap", "inf"}:
        speed = math.inf  # "as fast as possible"
    state = as_text(data.get("state"))
    return ReplayStatus(
        session=as_text(data.get("session")),
        state=state.lower() if state else None,
        position=as_number(data.get("position")),
        duration=as_number(data.get("duration")),
        speed=speed,
        sent=as_int(data.get("sent")),
        total=as_int(data.get("total")),
        received_at=received_at,
    )
