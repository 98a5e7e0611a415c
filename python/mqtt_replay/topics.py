"""MQTT topic filters (``+``/``#`` wildcards, or ``re:`` regular expressions) and remapping."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from mqtt_replay.errors import InvalidOptionError


def matches(filter_: str, topic: str) -> bool:
    """True when ``topic`` matches an MQTT filter (``+`` one level, ``#`` the rest) or,
    for filters starting with ``re:``, when the regular expression matches (``re.search``)."""
    if filter_.startswith("re:"):
        return re.search(filter_[3:], topic) is not None
    f = filter_.split("/")
    t = topic.split("/")
    for i, part in enumerate(f):
        if part == "#":
            return True
        if i >= len(t):
            return False
        if part != "+" and part != t[i]:
            return False
    return len(f) == len(t)


def validate(filters: Iterable[str]) -> list[str]:
    out = []
    for f in filters:
        if f.startswith("re:"):
            try:
                re.compile(f[3:])
            except re.error as exc:
                raise InvalidOptionError(f"bad regular expression {f[3:]!r}: {exc}") from exc
        elif "#" in f and (not f.endswith("#") or (len(f) > 1 and f[-2] != "/")):
            raise InvalidOptionError(f"bad topic filter {f!r}: '#' must be the last level")
        out.append(f)
    return out


def selection(
    topics: Sequence[str], include: Sequence[str] | None, exclude: Sequence[str] | None
) -> list[bool]:
    """Per topic: kept by the include filters (all when None) and not dropped by exclude."""
    inc = validate(include or [])
    exc = validate(exclude or [])
    return [
        (not inc or any(matches(f, t) for f in inc)) and not any(matches(f, t) for f in exc)
        for t in topics
    ]


def remap(topic: str, prefix: str | None, rules: Sequence[tuple[str, str]]) -> str:
    """Applies the first matching ``old-prefix → new-prefix`` rule, then prepends ``prefix``."""
    for old, new in rules:
        if topic.startswith(old):
            topic = new + topic[len(old) :]
            break
    return f"{prefix}{topic}" if prefix else topic
