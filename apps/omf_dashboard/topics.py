"""Topic classification for filtering: category, sub-category and the noisy-family pre-filter.

Rules (SPEC §4): categories come from the topic prefix (``ccu/`` CCU, ``module/v1/ff/NodeRed/``
Node-RED, ``module/`` MODULE, ``fts/`` FTS, ``/j1/txt/`` TXT, ``osf/`` OSF, else the first
non-empty segment); the sub-category is the last segment. All functions are pure, total (any
string is accepted) and cheap enough to run once per received message.
"""

from __future__ import annotations

REPLAY_STATUS_TOPIC = "mqtt-replay/status"
"""Retained topic on which the replay engine announces itself (SPEC §6.4)."""

_CATEGORY_PREFIXES: tuple[tuple[str, str], ...] = (
    ("ccu/", "CCU"),
    ("module/v1/ff/NodeRed/", "Node-RED"),
    ("module/", "MODULE"),
    ("fts/", "FTS"),
    ("/j1/txt/", "TXT"),
    ("osf/", "OSF"),
)

# Exact topics of the noisy families; the others are matched by shape below.
_NOISY_TOPICS = frozenset(
    {"/j1/txt/1/i/cam", "/j1/txt/1/i/bme680", "/j1/txt/1/i/ldr", "ccu/pairing/state"}
)


def category(topic: str) -> str:
    """Category of ``topic`` for filters; ``"(none)"`` for a topic without any segment text."""
    for prefix, name in _CATEGORY_PREFIXES:
        if topic.startswith(prefix):
            return name
    for segment in topic.split("/"):
        if segment:
            return segment
    return "(none)"


def sub_category(topic: str) -> str:
    """Last non-empty topic segment (``state``, ``connection``, ``order``, …) or ``"(none)"``."""
    for segment in reversed(topic.split("/")):
        if segment:
            return segment
    return "(none)"


NOISY_PAYLOAD_MARK = "setStatusLED"
"""An instantAction is noisy when its payload contains this text (the status LED commands)."""


def classify(topic: str) -> tuple[str, str, bool | None]:
    """``(category, sub_category, noisy)`` of ``topic``, for caching per topic.

    ``noisy`` is None when it depends on the payload (module instantActions: noisy when the
    payload contains :data:`NOISY_PAYLOAD_MARK`), see :func:`is_noisy`.
    """
    if topic in _NOISY_TOPICS or (topic.startswith("osf/arduino/") and topic.endswith("/state")):
        noisy: bool | None = True
    elif topic.startswith("module/") and topic.endswith("/instantAction"):
        noisy = None
    else:
        noisy = False
    return category(topic), sub_category(topic), noisy


def is_noisy(topic: str, payload: str) -> bool:
    """True for the noisy families hidden by the default pre-filter.

    Camera, BME680 and LDR readings, ``ccu/pairing/state``, Arduino sensor states and the status
    LED instantActions of the modules (in practice the DPS). ``payload`` is only inspected for
    instantActions, with a substring test (no JSON parse).
    """
    noisy = classify(topic)[2]
    return NOISY_PAYLOAD_MARK in payload if noisy is None else noisy
