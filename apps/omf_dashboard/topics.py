"""The OMF Dashboard's topic vocabulary, defined here once: the plant's serials, the replay
status topic, topic categories and sub-categories, and the noisy families of the pre-filter.

The dashboard is independent of the replay tool (it imports neither ``mqtt_replay`` nor the
Session Manager, SPEC §1), so the replay side has its own definition
(``mqtt_replay.topics``); both are checked against one contract table,
``tests/contract/topics.csv``. Rules (SPEC §4): categories by topic prefix (``ccu/`` CCU,
``module/v1/ff/NodeRed/`` Node-RED, ``module/`` MODULE, ``fts/`` FTS, ``/j1/txt/`` TXT,
``osf/`` OSF sensors, else the first non-empty segment, else ``(none)``); the sub-category is
the last non-empty segment. All functions are pure, total (any string is accepted) and cheap
enough to run once per received message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

REPLAY_STATUS_TOPIC = "mqtt-replay/status"
"""Retained topic on which the replay engine announces itself (SPEC §6.4)."""

KNOWN_MODULE_SERIALS: Mapping[str, str] = {
    "SVR3QA0022": "HBW",
    "SVR4H76449": "DRILL",
    "SVR3QA2098": "MILL",
    "SVR4H76530": "AIQS",
    "SVR4H73275": "DPS",
    "CHRG0": "CHRG",
}
"""Module type by serial in the reference plant (SPEC §4): a fallback until pairing or layout
name the type."""

SERIAL_OF_TYPE: Mapping[str, str] = {kind: serial for serial, kind in KNOWN_MODULE_SERIALS.items()}
KNOWN_AGV_SERIALS: tuple[str, ...] = ("5iO4", "leJ4", "jp93")
"""AGV (FTS) serials of the reference plant (SPEC §4)."""

_CATEGORY_PREFIXES: tuple[tuple[str, str], ...] = (
    ("ccu/", "CCU"),
    ("module/v1/ff/NodeRed/", "Node-RED"),  # before module/: the first match wins
    ("module/", "MODULE"),
    ("fts/", "FTS"),
    ("/j1/txt/", "TXT"),
    ("osf/", "OSF sensors"),
)
NO_SEGMENT = "(none)"

LED_ACTION = "setStatusLED"
"""The DPS instantActions whose every action is this one are noisy (the status LED)."""

# Noisy families by topic (SPEC §4): camera, BME680 and LDR of any TXT controller, the CCU's
# pairing state and everything from the Arduino sensor station; the DPS instantActions are
# noisy only when every action in them is setStatusLED.
_TXT_NOISY = re.compile(r"/j1/txt/[^/]*/i/(cam|bme680|ldr)")
_TXT_FAMILY = {"cam": "camera", "bme680": "bme680", "ldr": "ldr"}
_PAIRING = "ccu/pairing/state"
_ARDUINO = "osf/arduino/"
_DPS_ACTIONS = f"module/v1/ff/{SERIAL_OF_TYPE['DPS']}/instantAction"

_ACTION_TYPE = re.compile(r'"actionType"\s*:\s*"([^"]*)"')
_ANY_ACTION_TYPE = re.compile(r'"actionType"\s*:')


def category(topic: str) -> str:
    """Category of ``topic`` for filters; ``"(none)"`` for a topic without any segment text."""
    for prefix, name in _CATEGORY_PREFIXES:
        if topic.startswith(prefix):
            return name
    for segment in topic.split("/"):
        if segment:
            return segment
    return NO_SEGMENT


def sub_category(topic: str) -> str:
    """Last non-empty topic segment (``state``, ``connection``, ``order``, …) or ``"(none)"``."""
    for segment in reversed(topic.split("/")):
        if segment:
            return segment
    return NO_SEGMENT


def noisy_by_payload(payload: str) -> bool:
    """For the DPS instantActions: at least one ``actionType`` and every one is setStatusLED
    (a text scan, no JSON parse)."""
    named = _ACTION_TYPE.findall(payload)
    return bool(named) and len(_ANY_ACTION_TYPE.findall(payload)) == named.count(LED_ACTION)


def noisy_family(topic: str, payload: str) -> str | None:
    """Key of the noisy family of a message (camera, bme680, ldr, pairing, dps_led, arduino)
    or None; the same keys as the contract table."""
    match = _TXT_NOISY.fullmatch(topic)
    if match:
        return _TXT_FAMILY[match.group(1)]
    if topic == _PAIRING:
        return "pairing"
    if topic == _DPS_ACTIONS:
        return "dps_led" if noisy_by_payload(payload) else None
    if topic.startswith(_ARDUINO) or topic == _ARDUINO[:-1]:
        return "arduino"
    return None


def classify(topic: str) -> tuple[str, str, bool | None]:
    """``(category, sub_category, noisy)`` of ``topic``, for caching per topic.

    ``noisy`` is None when it depends on the payload (the DPS instantActions), see
    :func:`noisy_by_payload`.
    """
    if topic == _DPS_ACTIONS:
        noisy: bool | None = None
    else:
        noisy = noisy_family(topic, "") is not None
    return category(topic), sub_category(topic), noisy


def is_noisy(topic: str, payload: str) -> bool:
    """True for the noisy families hidden by the default pre-filter."""
    return noisy_family(topic, payload) is not None
