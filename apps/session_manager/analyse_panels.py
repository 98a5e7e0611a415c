"""Component builders of the Analyse page (topic tree, pre-filter list, inspector, chain).

Pure functions from analysis results to Dash components, so the page's callbacks stay thin.
Payload text only appears as component text.
"""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html

from apps.session_manager import clock
from apps.session_manager.chains import Chain, chain_figure
from apps.session_manager.inspector import (
    MAX_RAW_CHARS,
    MessageDetail,
    business_keys,
    diff_lines,
    image_uris,
)
from apps.session_manager.render import (
    BYTES_FORMAT,
    INT_FORMAT,
    TOPIC_TITLE,
    diff_view,
    elide_middle,
    fixed_format,
    fmt_seconds,
    json_tree,
    kv_table,
)


def topic_label(topic: dict[str, Any]) -> str:
    """A checklist label: the topic's name as text, no Dash component at all.

    Built once per session and never replaced: Dash's renderer runs a selector for every
    component on every store update (and mounts each one), so a tree of ~10 components per
    topic made each click and each open cost seconds in the browser. The count in the
    window, the pre-filter note and the hover title arrive as data in
    ``analyse-tree-counts``; :data:`PATCH_TREE_COUNTS` (the one rule for them) adds them to
    the checklist's label as plain elements. A zero-width space after each ``/`` lets a long
    topic wrap between its levels, never inside one.
    """
    return wrappable_topic(elide_middle(topic["topic"]))


def tree_titles(topics: list[str]) -> dict[str, str]:
    """Hover titles of the topics whose label is elided (the others show in full)."""
    return {t: elide_middle(t, TOPIC_TITLE) for t in topics if elide_middle(t) != t}


PATCH_TREE_COUNTS = """function(data) {
    // Adds each topic's count in the window, its pre-filter note and its hover title to its
    // (static) checklist label, as plain elements: no Dash component per topic.
    if (!data || !data.counts) { return window.dash_clientside.no_update; }
    const fmt = (n) => n.toLocaleString('en-US');
    const titles = data.titles || {};
    const part = (label, cls) => {
        let el = label.querySelector(':scope > .' + cls);
        if (!el) {
            el = document.createElement('span');
            el.className = cls;
            label.appendChild(el);
        }
        return el;
    };
    document.querySelectorAll('#analyse-tree .topic-checklist input').forEach((input) => {
        const topic = input.value;
        const label = input.closest('label');
        if (!label) { return; }
        const [count, hidden] = data.counts[topic] || [0, 0];
        const all = hidden > 0 && hidden >= count;
        part(label, 'topic-count').textContent = fmt(count);
        part(label, 'badge-note').textContent =
            all ? 'pre-filtered' : (hidden ? fmt(hidden) + ' pre-filtered' : '');
        label.classList.toggle('topic-hidden', all);
        label.title = titles[topic] || topic;
        label.dataset.topic = topic;
    });
    return Date.now();
}"""


def wrappable_topic(topic: str) -> str:
    """The topic with a zero-width space after each ``/``: a long topic wraps between its
    levels, never inside one, and costs no component per level."""
    return topic.replace("/", "/\u200b")


def breakable_topic(topic: str) -> list[Any]:
    """The topic with a ``<wbr>`` after each ``/`` (its text stays the topic: copied or read,
    it has no extra characters)."""
    parts: list[Any] = []
    for i, part in enumerate(topic.split("/")):
        if i:
            parts += ["/", html.Wbr()]
        parts.append(part)
    return parts


def topic_options(group: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"label": topic_label(t), "value": t["topic"]} for t in group["topics"]]


def topic_tree(groups: list[dict[str, Any]]) -> list[Any]:
    """One foldable block per category, each with a checklist of its topics (all checked)."""
    blocks = []
    for group in groups:
        cat = group["category"]
        blocks.append(
            html.Details(
                [
                    html.Summary(
                        [
                            html.Span(
                                elide_middle(cat, 60),
                                className="fw-semibold tree-cat-name",
                                title=elide_middle(cat, TOPIC_TITLE),
                            ),
                            html.Span(
                                f"{group['visible']:,} / {group['count']:,}",
                                id={"type": "analyse-cat-count", "index": cat},
                                className="topic-count",
                            ),
                        ],
                        className="tree-summary",
                    ),
                    dcc.Checklist(
                        id={"type": "analyse-topic-group", "index": cat},
                        options=topic_options(group),
                        value=[t["topic"] for t in group["topics"] if not t["excluded"]],
                        className="topic-checklist",
                        inputClassName="me-1",
                    ),
                ],
                open=len(groups) <= 3,
                className="tree-category",
            )
        )
    return blocks


def hidden_list(families: list[dict[str, Any]], prefilter: bool) -> Any:
    """What the pre-filter hides (with counts in the window), or that it is off."""
    total = sum(f["count"] for f in families)
    head = (
        f"Pre-filter hides {total:,} messages in this window:"
        if prefilter
        else f"Pre-filter is off ({total:,} noisy messages shown)."
    )
    rows = [
        html.Tr(
            [
                html.Td(f["label"], title=f["filter"]),
                html.Td(f"{f['count']:,}", className="text-end"),
            ],
            className="" if prefilter else "text-muted",
        )
        for f in families
    ]
    return html.Div(
        [
            html.Div(head, className="small mb-1", id="analyse-hidden-head"),
            html.Table(html.Tbody(rows), className="table table-sm small mb-0 hidden-table"),
        ]
    )


def stats_rows(stats: list[dict[str, Any]], start_us: int) -> list[dict[str, Any]]:
    """Per-topic statistics as grid rows (times as offsets from the session start)."""
    rows = []
    for s in stats:
        rows.append(
            {
                "topic": elide_middle(s["topic"]),
                "category": s["category"],
                "count": s["count"],
                "rate": round(s["rate"], 3) if s["rate"] is not None else None,
                "bytes": s["bytes"],
                "gap_min": _round(s["gap_min_s"]),
                "gap_max": _round(s["gap_max_s"]),
                "gap_mean": _round(s["gap_mean_s"]),
                "first": round((s["first_us"] - start_us) / 1e6, 3),
                "last": round((s["last_us"] - start_us) / 1e6, 3),
            }
        )
    return rows


def _round(v: float | None) -> float | None:
    return round(v, 3) if v is not None else None


def _num(field: str, header: str, width: int, fmt: dict[str, str]) -> dict[str, Any]:
    return {
        "field": field,
        "headerName": header,
        "width": width,
        "type": "numericColumn",
        "valueFormatter": fmt,
    }


STATS_COLUMNS: list[dict[str, Any]] = [
    {
        "field": "topic",
        "flex": 1,
        "minWidth": 180,
        "filter": True,
        "tooltipField": "topic",
        "valueFormatter": {"function": "smElide(params.value, 40)"},
    },
    {"field": "category", "width": 90},
    _num("count", "count", 75, INT_FORMAT),
    _num("rate", "msg/s", 75, fixed_format(3)),
    _num("bytes", "bytes", 85, BYTES_FORMAT),
    _num("gap_min", "gap min s", 85, fixed_format(3)),
    _num("gap_max", "gap max s", 85, fixed_format(3)),
    _num("gap_mean", "gap mean s", 90, fixed_format(3)),
    _num("first", "first t+ s", 80, fixed_format(3)),
    _num("last", "last t+ s", 80, fixed_format(3)),
]


def inspector_header(d: MessageDetail) -> Any:
    return html.Div(
        [
            html.Div(
                breakable_topic(elide_middle(d.topic, TOPIC_TITLE)),
                className="fw-semibold mb-1 insp-topic",
                id="analyse-insp-topic",
                title=f"{len(d.topic.encode()):,} bytes" if len(d.topic) > TOPIC_TITLE else d.topic,
            ),
            kv_table(
                [
                    ("message", f"#{d.row}"),
                    ("time", f"{d.time}  (t+{d.offset_s:.3f} s)"),
                    ("size", f"{d.size:,} bytes"),
                    ("qos / retain", f"{d.qos} / {'yes' if d.retain else 'no'}"),
                ]
            ),
        ]
    )


def inspector_tabs(d: MessageDetail, previous_text: str | None) -> tuple[Any, Any, Any]:
    """What the inspector's tabs show: the data of the Tree and Diff tabs (drawn by
    ``assets/inspector.js``), and the Raw and Image tabs' components."""
    raw_text = (
        d.text if len(d.text) <= MAX_RAW_CHARS else d.text[:MAX_RAW_CHARS] + "\n… (truncated)"
    )
    raw = html.Pre(raw_text or "(empty payload)", className="payload-pre", id="analyse-raw-pre")
    images = image_uris(d.value) if d.is_json else image_uris(d.text)
    image: Any = (
        html.Div([html.Img(src=uri, className="payload-image") for uri in images])
        if images
        else html.Div("No data-URI image in this payload.", className="text-muted")
    )
    drawn: dict[str, Any] = {
        "row": d.row,
        "tree": json_tree(d.value) if d.is_json else None,
        "tree_note": None if d.is_json else "The payload is not JSON.",
        "diff": None,
        "diff_note": "First message of this topic: nothing to compare.",
    }
    if previous_text is not None:
        lines = diff_lines(previous_text, d.text)
        drawn["diff"] = diff_view(lines) if lines else None
        drawn["diff_note"] = None if lines else "Identical to the previous message."
    return drawn, raw, image


def follow_buttons(d: MessageDetail) -> Any:
    keys = business_keys(d.value) if d.is_json else []
    if not keys:
        return html.Div()
    return html.Div(
        [html.Span("Follow: ", className="small text-muted me-1")]
        + [
            dbc.Button(
                f"{k}={v}",
                id={"type": "analyse-follow", "index": v},
                size="sm",
                color="info",
                outline=True,
                className="me-1 mb-1 follow-btn",
            )
            for k, v in keys
        ],
        className="mt-1",
    )


CHAIN_COLUMNS: list[dict[str, Any]] = [
    {"field": "row", "headerName": "#", "width": 80},
    {"field": "time", "headerName": "time", "width": 230},
    {"field": "delta", "headerName": "+s", "width": 85, "type": "numericColumn"},
    {"field": "topic", "flex": 2, "minWidth": 200},
    {"field": "fields", "headerName": "mentioned in", "flex": 2, "minWidth": 160},
]


def chain_outputs(chain: Chain, tz: str) -> tuple[Any, Any, list[dict[str, Any]]]:
    """(summary, figure, grid rows) of a followed key."""
    if chain.total == 0:
        return html.Div(f"No message mentions {chain.key!r}.", className="text-muted"), {}, []
    topics = chain.topics
    note = f"{chain.total:,} messages across {len(topics)} topics mention {chain.key!r}"
    if len(chain.steps) < chain.total:
        note += f" (showing the first {len(chain.steps):,})"
    path = " → ".join(elide_middle(t) for t in topics[:12]) + (" → …" if len(topics) > 12 else "")
    summary = html.Div(
        [html.Div(note, className="small mb-1"), html.Div(path, className="chain-path small mb-2")]
    )
    steps = [
        {**s, "time": clock.fmt(s["ts"], tz), "topic": elide_middle(s["topic"])}
        for s in chain.steps
    ]
    return summary, chain_figure(chain, tz), steps


def seconds_label(value: float | None) -> str:
    return fmt_seconds(value, 1)
