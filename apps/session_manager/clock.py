"""One clock for every time the Session Manager shows.

The user picks one zone for the whole app (the navbar's selector, kept in the ``app-tz``
store): by default the session's zone (the recording machine's, ``ManagerConfig.tz``), UTC one
click away. Every time is shown in that zone and labelled with it. Plotly date axes know no
zones, so the timeline and plots draw "wall-clock" milliseconds (UTC shifted by the zone's
offset at each moment) and shift clicks and zooms back.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt

from mqtt_replay.zones import UTC_NAME, abbreviation, fmt
from mqtt_replay.zones import zone_info as _zone

__all__ = ["UTC_NAME", "abbreviation", "fmt"]  # shared with the OMF Dashboard

HOUR_US = 3_600_000_000


def valid_zone(tz: object, default: str = UTC_NAME) -> str:
    """``tz`` when it names a known zone, else ``default``."""
    if isinstance(tz, str) and tz:
        try:
            _zone(tz)
            return tz
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return default


def zone_options(session_zone: str) -> list[dict[str, str]]:
    """The choices of the zone selector: the session's zone first, then UTC."""
    zones = [session_zone] if session_zone != UTC_NAME else []
    return [{"label": f"times in {z}", "value": z} for z in [*zones, UTC_NAME]]


@lru_cache(maxsize=4096)
def _offset_us_at_hour(tz: str, hour: int) -> int:
    moment = datetime.fromtimestamp(hour * 3600, tz=UTC).astimezone(_zone(tz))
    offset = moment.utcoffset()
    return int(offset.total_seconds() * 1_000_000) if offset else 0


def offsets_us(ts_us: npt.ArrayLike, tz: str) -> npt.NDArray[np.int64]:
    """The zone's UTC offset (µs) at each moment (exact: zones change offset on whole hours)."""
    ts = np.asarray(ts_us, dtype=np.int64)
    if tz == UTC_NAME or ts.size == 0:
        return np.zeros(ts.shape, dtype=np.int64)
    hours = ts // HOUR_US
    unique, inverse = np.unique(hours, return_inverse=True)
    per_hour = np.array([_offset_us_at_hour(tz, int(h)) for h in unique], dtype=np.int64)
    return per_hour[inverse].reshape(ts.shape)


def wall_ms(ts_us: npt.ArrayLike, tz: str) -> npt.NDArray[np.float64]:
    """UTC µs → the zone's wall-clock time as Plotly date milliseconds."""
    ts = np.asarray(ts_us, dtype=np.int64)
    return (ts + offsets_us(ts, tz)).astype(np.float64) / 1000.0


def from_wall_us(wall_us: int, tz: str) -> int:
    """A wall-clock moment of the zone (µs, as Plotly reports it) → UTC µs."""
    guess = wall_us - int(offsets_us(np.array([wall_us]), tz)[0])
    return wall_us - int(offsets_us(np.array([guess]), tz)[0])


def axis_title(tz: str) -> dict[str, Any]:
    return {"text": f"time ({tz})", "font": {"size": 11}}
