"""Follow a business key (orderId, workpieceId, serial number) across topics.

Every message whose topic or payload mentions the key, in time order (file order breaks
ties), as a chain of steps: which topic, when, how long after the previous step, and under
which JSON field the key appears.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go

from apps.session_manager import clock
from apps.session_manager.analysis import IntArray, SessionView, rows_matching_text
from apps.session_manager.inspector import NO_JSON, parse_json
from apps.session_manager.message_table import iso_utc
from apps.session_manager.render import unique_labels
from mqtt_replay.topics import category

MIN_KEY_CHARS = 3
MAX_STEPS = 2000


class ChainError(ValueError):
    """The key cannot be followed (too short)."""


@dataclass(frozen=True)
class Chain:
    key: str
    total: int  # messages mentioning the key
    steps: list[dict[str, Any]]  # at most MAX_STEPS, time order

    @property
    def topics(self) -> list[str]:
        """Topics in order of first appearance."""
        return list(dict.fromkeys(s["topic"] for s in self.steps))


def _fields_with(value: Any, key: str, prefix: str = "", limit: int = 4) -> list[str]:
    """Dotted paths whose string value contains ``key``."""
    out: list[str] = []

    def walk(v: Any, path: str) -> None:
        if len(out) >= limit:
            return
        if isinstance(v, str):
            if key in v:
                out.append(path or "(value)")
        elif isinstance(v, dict):
            for k, item in v.items():
                walk(item, f"{path}.{k}" if path else str(k))
        elif isinstance(v, list):
            for i, item in enumerate(v):
                walk(item, f"{path}.{i}" if path else str(i))

    walk(value, prefix)
    return out


def follow(view: SessionView, key: str, rows: IntArray | None = None) -> Chain:
    """The chain of messages mentioning ``key`` (case-sensitive) among ``rows`` (default all).

    Raises :class:`ChainError` for keys shorter than 3 characters (they match everything).
    """
    key = key.strip()
    if len(key) < MIN_KEY_CHARS:
        raise ChainError(f"a key needs at least {MIN_KEY_CHARS} characters")
    base = np.arange(len(view), dtype=np.int64) if rows is None else rows
    # One search of every payload in the core (memoised), exact case: the chain's rows.
    found = rows_matching_text(view, base, key, ignore_case=False)
    found = found[np.lexsort((found, view.ts[found]))]
    total = len(found)
    shown = found[:MAX_STEPS]
    steps: list[dict[str, Any]] = []
    previous_ts: int | None = None
    for r, text in zip(shown.tolist(), view.payloads(shown), strict=True):
        topic = view.topic_of(r)
        ts = int(view.ts[r])
        value = parse_json(text)
        fields = _fields_with(value, key) if value is not NO_JSON else ["(text)"]
        if key in topic:
            fields = ["(topic)", *fields]
        steps.append(
            {
                "rid": str(r),
                "row": r,
                "ts": ts,
                "time": iso_utc(ts),
                "offset": round((ts - view.start_us) / 1e6, 3),
                "delta": round((ts - previous_ts) / 1e6, 3) if previous_ts is not None else 0.0,
                "topic": topic,
                "category": category(topic),
                "fields": ", ".join(fields),
            }
        )
        previous_ts = ts
    return Chain(key, total, steps)


def chain_figure(chain: Chain, tz: str = clock.UTC_NAME) -> go.Figure:
    """The chain as a path across topic lanes over time (one marker per message)."""
    # Drawn by elided labels: a topic may be 65,535 bytes long.
    labels = dict(zip(chain.topics, unique_labels(chain.topics), strict=True))
    lanes = list(labels.values())
    fig = go.Figure()
    if chain.steps:
        fig.add_trace(
            go.Scatter(
                x=clock.wall_ms([s["ts"] for s in chain.steps], tz),
                y=[labels[s["topic"]] for s in chain.steps],
                mode="lines+markers",
                line={"width": 1, "color": "#adb5bd"},
                marker={"size": 9, "color": "#0d6efd"},
                customdata=[[s["row"], s["delta"]] for s in chain.steps],
                hovertemplate=(
                    "%{y}<br>%{x|%H:%M:%S.%L} "
                    + clock.abbreviation(chain.steps[0]["ts"], tz)
                    + "<br>+%{customdata[1]} s"
                    "<extra>#%{customdata[0]}</extra>"
                ),
            )
        )
    fig.update_layout(
        height=int(np.clip(100 + 22 * len(lanes), 200, 700)),
        margin={"l": 10, "r": 10, "t": 10, "b": 40},
        showlegend=False,
        plot_bgcolor="#fbfcfe",
    )
    fig.update_yaxes(
        type="category",
        categoryorder="array",
        categoryarray=lanes,
        autorange="reversed",
        automargin=True,
        tickfont={"size": 10},
    )
    fig.update_xaxes(type="date", title=clock.axis_title(tz))
    return fig
