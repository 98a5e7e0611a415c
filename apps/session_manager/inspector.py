"""The payload inspector's data: parsed JSON, embedded images, diffs, numeric fields.

Everything returns plain data; the page turns it into components that render text as text
(never HTML). Images are only offered for ``data:image/<raster>;base64,`` URIs.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from apps.session_manager import clock
from apps.session_manager.analysis import IntArray, SessionView, previous_same_topic

_IMAGE_URI = re.compile(r"^data:image/(png|jpe?g|gif|webp|bmp);base64,[A-Za-z0-9+/=\s]+$")
BUSINESS_KEYS = ("orderId", "workpieceId", "serialNumber")
MAX_RAW_CHARS = 200_000
ABBREVIATE_OVER = 200
NO_JSON = object()


@dataclass(frozen=True)
class MessageDetail:
    row: int
    topic: str
    time: str
    offset_s: float
    size: int
    qos: int
    retain: bool
    text: str
    value: Any  # parsed JSON, or NO_JSON
    previous: int | None

    @property
    def is_json(self) -> bool:
        return self.value is not NO_JSON


def parse_json(text: str) -> Any:
    """The JSON value of ``text``, or :data:`NO_JSON` (payloads need not be JSON)."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return NO_JSON


def detail(view: SessionView, row: int, tz: str = clock.UTC_NAME) -> MessageDetail:
    """Everything the inspector shows about one message (row number in file order)."""
    if not 0 <= row < len(view):
        raise IndexError(f"row {row} is outside the session")
    text = view.payloads([row])[0]
    ts = int(view.ts[row])
    return MessageDetail(
        row=row,
        topic=view.topic_of(row),
        time=clock.fmt(ts, tz) if view.ts_valid[row] else "(no timestamp)",
        offset_s=(ts - view.start_us) / 1e6,
        size=int(view.sizes[row]),
        qos=int(view.qos[row]),
        retain=bool(view.retain[row]),
        text=text,
        value=parse_json(text),
        previous=previous_same_topic(view, row),
    )


def image_uris(value: Any, limit: int = 8) -> list[str]:
    """Raster data-URI images anywhere in a JSON value (or the payload text itself)."""
    found: list[str] = []

    def walk(v: Any) -> None:
        if len(found) >= limit:
            return
        if isinstance(v, str):
            if v.startswith("data:image/") and _IMAGE_URI.match(v):
                found.append(v)
        elif isinstance(v, dict):
            for item in v.values():
                walk(item)
        elif isinstance(v, list):
            for item in v:
                walk(item)

    walk(value)
    return found


def abbreviate(value: Any, limit: int = ABBREVIATE_OVER) -> Any:
    """A copy of ``value`` with long data-URI strings shortened (for pretty text and diffs)."""
    if isinstance(value, str) and len(value) > limit and value.startswith("data:"):
        head = value.split(",", 1)[0]
        return f"{head},… ({len(value):,} chars)"
    if isinstance(value, dict):
        return {k: abbreviate(v, limit) for k, v in value.items()}
    if isinstance(value, list):
        return [abbreviate(v, limit) for v in value]
    return value


def pretty(text: str) -> str:
    """Indented JSON (data URIs shortened), or the text itself when it is not JSON."""
    value = parse_json(text)
    if value is NO_JSON:
        return text
    return json.dumps(abbreviate(value), indent=2, ensure_ascii=False)


def diff_lines(old: str, new: str, context: int = 3) -> list[tuple[str, str]]:
    """A unified diff of the pretty forms: ``[(kind, line)]`` with kind in ``+ - @ ' '``.

    An empty list means the payloads are equal.
    """
    a, b = pretty(old).splitlines(), pretty(new).splitlines()
    out: list[tuple[str, str]] = []
    for line in difflib.unified_diff(a, b, "previous", "this", n=context, lineterm=""):
        if line.startswith(("---", "+++")):
            continue
        kind = line[:1] if line[:1] in "+-@" else " "
        out.append((kind, line))
    return out


def business_keys(value: Any, limit: int = 12) -> list[tuple[str, str]]:
    """``(key, value)`` pairs of orderId / workpieceId / serialNumber found in a JSON value."""
    seen: dict[tuple[str, str], None] = {}

    def walk(v: Any) -> None:
        if len(seen) >= limit:
            return
        if isinstance(v, dict):
            for k, item in v.items():
                if k in BUSINESS_KEYS and isinstance(item, str) and len(item) >= 3:
                    seen.setdefault((k, item), None)
                walk(item)
        elif isinstance(v, list):
            for item in v:
                walk(item)

    walk(value)
    return list(seen)


# -- numeric fields ----------------------------------------------------------------------------


def _numeric_leaves(value: Any, prefix: str = "", depth: int = 0) -> Iterator[str]:
    if depth > 8:
        return
    if isinstance(value, bool):
        return
    if isinstance(value, int | float):
        if math.isfinite(value):
            yield prefix
        return
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _numeric_leaves(v, f"{prefix}.{k}" if prefix else str(k), depth + 1)
    elif isinstance(value, list):
        for i, v in enumerate(value[:16]):
            yield from _numeric_leaves(v, f"{prefix}.{i}" if prefix else str(i), depth + 1)


def numeric_fields(view: SessionView, rows: IntArray, sample: int = 40) -> list[str]:
    """Dotted paths of numeric JSON fields seen in a sample of ``rows`` (e.g.
    ``batteryState.percentage``, ``transports.0.batteryPercentage``)."""
    if len(rows) == 0:
        return []
    pick = rows[np.linspace(0, len(rows) - 1, min(sample, len(rows))).astype(int)]
    paths: dict[str, None] = {}
    for text in view.payloads(pick):
        value = parse_json(text)
        if value is not NO_JSON:
            for p in _numeric_leaves(value):
                paths.setdefault(p, None)
    return sorted(paths)


def extract_number(value: Any, path: str) -> float | None:
    """The number at a dotted path (list indexes as numbers), or None."""
    node = value
    for part in path.split(".") if path else []:
        if isinstance(node, dict):
            if part not in node:
                return None
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    if isinstance(node, bool) or not isinstance(node, int | float):
        return None
    return float(node) if math.isfinite(node) else None


def field_series(
    view: SessionView, rows: IntArray, path: str, max_points: int = 5000
) -> tuple[IntArray, np.ndarray[Any, Any], int]:
    """Timestamps (µs) and values of ``path`` over ``rows`` (one topic's messages).

    More than ``max_points`` rows are thinned evenly (the third value is the row count before
    thinning); messages without the field are left out.
    """
    total = len(rows)
    if total > max_points:
        rows = rows[np.linspace(0, total - 1, max_points).astype(np.int64)]
    ts: list[int] = []
    values: list[float] = []
    for r, text in zip(rows.tolist(), view.payloads(rows), strict=True):
        number = extract_number(parse_json(text), path)
        if number is not None:
            ts.append(int(view.ts[r]))
            values.append(number)
    return np.array(ts, dtype=np.int64), np.array(values, dtype=np.float64), total
