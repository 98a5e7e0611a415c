"""The replay side's topic vocabulary: MQTT filters (``+``/``#`` wildcards, or ``re:``
regular expressions) and remapping, and — defined here once — the plant's serials, the replay
status topic, topic categories and sub-categories, and the noisy families of the pre-filter
(SPEC §4).

The OMF Dashboard keeps its own copy of the vocabulary (``apps/omf_dashboard/topics.py``; it
must not import this package, SPEC §1); both are checked against one contract table,
``tests/contract/topics.csv``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from mqtt_replay.errors import InvalidOptionError

STATUS_TOPIC = "mqtt-replay/status"
"""Retained topic on which a running replay announces itself (SPEC §6.4)."""

PLANT_MODULES: Mapping[str, str] = {
    "HBW": "SVR3QA0022",
    "DRILL": "SVR4H76449",
    "MILL": "SVR3QA2098",
    "AIQS": "SVR4H76530",
    "DPS": "SVR4H73275",
    "CHRG": "CHRG0",
}
"""Module serial by module type in the reference plant (SPEC §4)."""

PLANT_AGVS: tuple[str, ...] = ("5iO4", "leJ4", "jp93")
"""AGV (FTS) serials seen in the reference plant (SPEC §4)."""

CATEGORY_PREFIXES: tuple[tuple[str, str], ...] = (
    ("ccu/", "CCU"),
    ("module/v1/ff/NodeRed/", "Node-RED"),  # before module/: the first match wins
    ("module/", "MODULE"),
    ("fts/", "FTS"),
    ("/j1/txt/", "TXT"),
    ("osf/", "OSF sensors"),
)
NO_SEGMENT = "(none)"
"""Category and sub-category of a topic without any non-empty segment (``""``, ``"/"``)."""


def category(topic: str) -> str:
    """CCU, Node-RED, MODULE, FTS, TXT or OSF sensors by prefix, else the first non-empty
    segment (``dsp/x`` → ``dsp``), else ``(none)``."""
    for prefix, name in CATEGORY_PREFIXES:
        if topic.startswith(prefix):
            return name
    for segment in topic.split("/"):
        if segment:
            return segment
    return NO_SEGMENT


def sub_category(topic: str) -> str:
    """Last non-empty segment (state, connection, factsheet, order, instantAction, …), else
    ``(none)``."""
    for segment in reversed(topic.split("/")):
        if segment:
            return segment
    return NO_SEGMENT


@dataclass(frozen=True)
class NoisyFamily:
    """A family of topics the pre-filter hides by default, matched by an MQTT ``filter``.
    With ``action``, a message of the family is noisy only when every ``actionType`` in its
    payload is this action (at least one): see :func:`only_action`."""

    key: str
    label: str
    filter: str
    action: str | None = None


NOISY_FAMILIES: tuple[NoisyFamily, ...] = (
    NoisyFamily("camera", "Camera frames", "/j1/txt/+/i/cam"),
    NoisyFamily("bme680", "BME680 environment sensor", "/j1/txt/+/i/bme680"),
    NoisyFamily("ldr", "LDR light sensor", "/j1/txt/+/i/ldr"),
    NoisyFamily("pairing", "CCU pairing state", "ccu/pairing/state"),
    NoisyFamily(
        "dps_led",
        "DPS setStatusLED instant actions",
        f"module/v1/ff/{PLANT_MODULES['DPS']}/instantAction",
        action="setStatusLED",
    ),
    NoisyFamily("arduino", "Arduino sensor station", "osf/arduino/#"),
)
"""The noisy families of SPEC §4, in the order the Session Manager lists them."""

_ACTION_TYPE = re.compile(r'"actionType"\s*:\s*"([^"]*)"')
_ANY_ACTION_TYPE = re.compile(r'"actionType"\s*:')


def only_action(payload: str, action: str) -> bool:
    """Whether ``payload`` names at least one ``actionType`` and every one is ``action``
    (a text scan, no JSON parse: the Session Manager runs the same rule vectorised)."""
    named = _ACTION_TYPE.findall(payload)
    return bool(named) and len(_ANY_ACTION_TYPE.findall(payload)) == named.count(action)


def noisy_family(topic: str, payload: str) -> NoisyFamily | None:
    """The noisy family ``topic`` (with ``payload``) belongs to, or None."""
    for family in NOISY_FAMILIES:
        if matches(family.filter, topic):
            if family.action is None or only_action(payload, family.action):
                return family
            return None
    return None


def family_filters(keys: Iterable[str] | None = None) -> list[str]:
    """The MQTT filters of the noisy families decided by topic alone (those with a payload
    rule cannot be dropped by a filter without losing other messages), optionally only
    ``keys``: the recorder's exclusion presets and the Replay page's exclusions."""
    wanted = None if keys is None else set(keys)
    return [
        f.filter for f in NOISY_FAMILIES if f.action is None and (wanted is None or f.key in wanted)
    ]


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
