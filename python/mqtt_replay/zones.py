"""Time zones for what the Session Manager shows: the host's zone as an IANA name, and one
labelled format (``2026-01-15 10:00:00.000 CET``).

The OMF Dashboard keeps its own copy (``apps/omf_dashboard/zones.py``): it is a system of its
own and imports nothing from ``mqtt_replay``; ``tests/test_zones.py`` holds both to the same
answers.
"""

from __future__ import annotations

import contextlib
import os
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC_NAME = "UTC"
_UTC_ALIASES = frozenset(
    {"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Etc/Universal", "Universal", "Etc/Zulu", "Zulu"}
)
LOCALTIME = Path("/etc/localtime")
TIMEZONE_FILE = Path("/etc/timezone")


@lru_cache(maxsize=16)
def zone_info(tz: str) -> ZoneInfo:
    """The zone called ``tz``; ZoneInfoNotFoundError or ValueError when there is none."""
    return ZoneInfo(tz)


def check_zone(tz: str) -> str:
    """``tz`` (UTC's aliases as ``UTC``) when it names a known IANA zone, else ValueError."""
    try:
        zone_info(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(
            f"unknown time zone {tz!r}: use an IANA name such as Europe/Berlin or UTC"
        ) from None
    return UTC_NAME if tz in _UTC_ALIASES else tz


def local_zone(localtime: Path = LOCALTIME, timezone_file: Path = TIMEZONE_FILE) -> str:
    """The host's zone as an IANA name: ``$TZ``, the ``/etc/localtime`` link, ``/etc/timezone``;
    ``UTC`` when none of them names a known zone."""
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    with contextlib.suppress(OSError):
        candidates.append(str(localtime.readlink()).partition("zoneinfo/")[2])
    with contextlib.suppress(OSError, UnicodeDecodeError):
        candidates.append(timezone_file.read_text(encoding="utf-8").strip())
    for name in candidates:
        if name.startswith("/"):  # TZ=/usr/share/zoneinfo/Europe/Berlin
            name = name.partition("zoneinfo/")[2]
        if name:
            try:
                return check_zone(name)
            except ValueError:
                continue
    return UTC_NAME


def abbreviation(us: int, tz: str) -> str:
    """The zone's short name at ``us`` ("CET", "CEST", "EST", "UTC")."""
    if tz == UTC_NAME:
        return UTC_NAME
    return datetime.fromtimestamp(us / 1e6, tz=UTC).astimezone(zone_info(tz)).tzname() or tz


def fmt(us: int | None, tz: str, *, date: bool = True, ms: bool = True, label: bool = True) -> str:
    """``2026-01-15 10:00:00.000 CET``: a moment (µs since the epoch) in the zone, labelled."""
    if us is None:
        return "–"
    moment = datetime.fromtimestamp(us / 1e6, tz=UTC).astimezone(zone_info(tz))
    text = moment.strftime("%Y-%m-%d %H:%M:%S" if date else "%H:%M:%S")
    if ms:
        text += f".{moment.microsecond // 1000:03d}"
    return f"{text} {abbreviation(us, tz)}" if label else text
