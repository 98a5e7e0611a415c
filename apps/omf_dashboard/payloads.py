"""Tolerant readers for MQTT payload bodies.

Real plant payloads drift: unknown fields, numbers sent as strings, ``null`` where an object is
expected, misspelt enums. Every reader here takes any ``object`` (the result of ``json.loads``)
and returns a typed value or ``None``; none of them raises.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Final


class NotJson:
    """Marker for a payload that is not JSON text (empty payloads included)."""

    _instance: NotJson | None = None

    def __new__(cls) -> NotJson:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NOT_JSON"


NOT_JSON: Final = NotJson()

# Spellings seen in real recordings, mapped to the documented value (SPEC §4).
ENUM_TYPOS: Final[Mapping[str, str]] = {"WAITIING": "WAITING"}


def decode(payload: bytes | bytearray | str) -> str:
    """Payload bytes as text; invalid UTF-8 becomes U+FFFD instead of failing."""
    if isinstance(payload, str):
        return payload
    return bytes(payload).decode("utf-8", errors="replace")


_DECODER: Final = json.JSONDecoder()
_WHITESPACE: Final = " \t\n\r"


def parse_payload(text: str) -> object:
    """``json.loads(text)`` or :data:`NOT_JSON`; never raises.

    Hot path (once per received message): text that neither starts with whitespace or a BOM
    nor ends with whitespace goes straight to the decoder's ``raw_decode`` — the same scanner
    ``json.loads`` runs, minus two regex passes and two call levels; the rest is left to
    ``json.loads``. Both accept and refuse exactly the same texts.
    """
    if not text:
        return NOT_JSON
    try:
        if text[0] not in _WHITESPACE and text[0] != "\ufeff" and text[-1] not in _WHITESPACE:
            body, end = _DECODER.raw_decode(text)
            return body if end == len(text) else NOT_JSON
        return json.loads(text)
    except (ValueError, RecursionError):
        return NOT_JSON


def as_dict(value: object) -> Mapping[str, object] | None:
    """``value`` if it is a JSON object, else None."""
    return value if isinstance(value, dict) else None


def as_list(value: object) -> list[object]:
    """``value`` if it is a JSON array, else an empty list."""
    return value if isinstance(value, list) else []


def as_text(value: object) -> str | None:
    """Strings as they are, numbers as their text, anything else (incl. bools) None."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def as_flag(value: object) -> bool | None:
    """JSON booleans, plus the strings ``"true"``/``"false"`` some publishers send."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "false"}:
        return value.lower() == "true"
    return None


def as_number(value: object) -> float | None:
    """Finite numbers, also when sent as numeric strings; bools and NaN are None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def as_int(value: object) -> int | None:
    """Integers, also when sent as a decimal string (``orderUpdateId`` drifts between both)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def as_enum(value: object) -> str | None:
    """Upper-case enum text with known misspellings corrected (``WAITIING`` → ``WAITING``)."""
    text = as_text(value)
    if text is None or not text:
        return None
    upper = text.upper()
    return ENUM_TYPOS.get(upper, upper)
