"""Pure analysis over a session's index: selections, the noisy-family pre-filter, the topic tree
and per-topic statistics.

A :class:`SessionView` holds the few NumPy columns every view needs (time, topic code, size),
built once per loaded session; everything else is computed from it on demand and memoised in
the view (a small LRU keyed by the query), so a browser round trip costs a few vectorised
passes over the selected rows, never a Python loop over messages.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from mqtt_replay import Session
from mqtt_replay.statistics import GroupStats, group_stats, payload_sizes
from mqtt_replay.topics import NOISY_FAMILIES as NOISY_FAMILIES  # defined once, replay side
from mqtt_replay.topics import category, matches

T = TypeVar("T")
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# Payload reads are chunked so that index-mode sessions never hold many payloads at once.
PAYLOAD_CHUNK = 20_000
# Index mode: classify the DPS instant actions by payload only while this is cheap.
PAYLOAD_RULE_MAX_ROWS = 50_000
# Derived arrays kept per session (row selections, sort orders): at most this many bytes.
MEMO_MAX_BYTES = 192 * 1024 * 1024


def _nbytes(value: Any) -> int:
    """Bytes held by a memoised value: its NumPy arrays (also inside tuples and lists)."""
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, tuple | list):
        return sum(_nbytes(v) for v in value[:64])
    return 0


class _Pending:
    """A value one thread is computing; the others wait for it."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.ok = False
        self.value: Any = None


class Memo:
    """A small thread-safe LRU for derived arrays of one session, bounded by entries and by
    the bytes of the arrays it holds (a row selection of a 5M-message session is 40 MB).

    Single flight: the page fires several callbacks at once that need the same selection;
    the first computes it, the others wait for that result instead of computing it again
    beside it (on two cores, four copies of one search made each four times slower).
    """

    def __init__(self, capacity: int = 32, max_bytes: int = MEMO_MAX_BYTES) -> None:
        self.capacity = capacity
        self.max_bytes = max_bytes
        self._items: OrderedDict[Any, tuple[Any, int]] = OrderedDict()
        self._pending: dict[Any, _Pending] = {}
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def nbytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: Any, make: Callable[[], T]) -> T:
        while True:
            with self._lock:
                if key in self._items:
                    self._items.move_to_end(key)
                    return self._items[key][0]  # type: ignore[no-any-return]
                pending = self._pending.get(key)
                owner = pending is None
                if pending is None:
                    pending = self._pending[key] = _Pending()
            if owner:
                break
            pending.done.wait()
            if pending.ok:
                return pending.value  # type: ignore[no-any-return]
            # the computing thread failed: try again (and fail with our own error)
        try:
            value = make()  # outside the lock: other keys are not blocked
        except BaseException:
            with self._lock:
                del self._pending[key]
            pending.done.set()
            raise
        size = _nbytes(value)
        with self._lock:
            del self._pending[key]
            self._items[key] = (value, size)
            self._bytes += size
            # the newest entry always stays, even when it alone exceeds the budget
            while len(self._items) > 1 and (
                len(self._items) > self.capacity or self._bytes > self.max_bytes
            ):
                self._bytes -= self._items.popitem(last=False)[1][1]
        pending.value, pending.ok = value, True
        pending.done.set()
        return value


@dataclass
class SessionView:
    """NumPy columns of a session: ``ts`` (µs UTC, nulls filled), ``codes`` (topic index into
    ``topics``), ``sizes`` (payload bytes), plus ``ts_valid`` (False where the file had no
    timestamp)."""

    session: Session
    ts: IntArray
    ts_valid: BoolArray
    codes: npt.NDArray[np.int32]
    topics: list[str]
    sizes: IntArray
    qos: npt.NDArray[np.uint8]
    retain: BoolArray
    memo: Memo = field(default_factory=Memo)

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    def rows_arg(self, rows: IntArray) -> IntArray | None:
        """``rows`` for the Rust passes, or None when they are every row (selections hold
        each row at most once): the pass then reads no row numbers at all."""
        n = len(self)
        if len(rows) == n and (n == 0 or (rows[0] == 0 and rows[-1] == n - 1)):
            return None
        return rows

    @property
    def time_ordered(self) -> bool:
        """Whether the timestamps never go backwards in file order (computed once)."""
        return self.memo.get(
            "time-ordered", lambda: bool(len(self.ts) < 2 or np.all(self.ts[1:] >= self.ts[:-1]))
        )

    @property
    def start_us(self) -> int:
        return int(self.ts.min()) if len(self) else 0

    @property
    def end_us(self) -> int:
        return int(self.ts.max()) if len(self) else 0

    @property
    def categories(self) -> list[str]:
        return [category(t) for t in self.topics]

    def topic_of(self, row: int) -> str:
        return self.topics[int(self.codes[row])]

    def payloads(self, rows: Sequence[int] | IntArray) -> list[str]:
        """Payload text of the rows (index mode reads them from the file)."""
        return self.session.payloads([int(r) for r in rows])


def build_view(session: Session) -> SessionView:
    """Extracts the columns of ``session`` (one pass; dictionaries unified across chunks)."""
    idx = session.index
    n = idx.num_rows
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return SessionView(
            session,
            empty,
            np.zeros(0, bool),
            np.zeros(0, np.int32),
            [],
            empty,
            np.zeros(0, np.uint8),
            np.zeros(0, bool),
        )
    ts_col = idx.column("timestamp").cast(pa.int64())
    valid = pc.is_valid(ts_col).to_numpy(zero_copy_only=False).astype(bool)
    filled = pc.fill_null_backward(pc.fill_null_forward(ts_col)).combine_chunks()
    ts = filled.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
    topic = idx.column("topic").unify_dictionaries().combine_chunks()
    if isinstance(topic, pa.DictionaryArray):
        topics = [str(t) for t in topic.dictionary.to_pylist()]
        codes = topic.indices.to_numpy(zero_copy_only=False).astype(np.int32)
    else:  # a plain string column (should not happen, but stay correct)
        encoded = pc.dictionary_encode(topic)
        topics = [str(t) for t in encoded.dictionary.to_pylist()]
        codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int32)
    sizes = payload_sizes(session).to_numpy().astype(np.int64)
    qos = idx.column("qos").to_numpy().astype(np.uint8)
    retain = idx.column("retain").to_numpy().astype(bool)
    return SessionView(session, ts, valid, codes, topics, sizes, qos, retain)


# -- the pre-filter of noisy families ------------------------------------------------------


def _codes_mask(view: SessionView, keep_code: BoolArray) -> BoolArray:
    return keep_code[view.codes] if len(view) else np.zeros(0, bool)


def _payload_texts(view: SessionView, rows: IntArray) -> pa.Array:
    """The payloads of ``rows`` as one Arrow string array (full mode: a zero-parse take)."""
    session = view.session
    if session.mode == "full":
        return session.table.column("payload").take(pa.array(rows, type=pa.int64()))
    parts = [
        pa.array(view.payloads(rows[i : i + PAYLOAD_CHUNK]), type=pa.string())
        for i in range(0, len(rows), PAYLOAD_CHUNK)
    ]
    return pa.chunked_array(parts, type=pa.string()) if parts else pa.array([], pa.string())


def _only_action(texts: pa.Array | pa.ChunkedArray, action: str) -> BoolArray:
    any_action = pc.count_substring_regex(texts, r'"actionType"\s*:')
    this_action = pc.count_substring_regex(texts, rf'"actionType"\s*:\s*"{action}"')
    both = pc.and_(pc.greater(this_action, 0), pc.equal(any_action, this_action))
    return np.asarray(both.to_numpy(zero_copy_only=False), dtype=bool)


def family_of_rows(view: SessionView) -> npt.NDArray[np.int8]:
    """Per row: index into :data:`NOISY_FAMILIES` of the family that hides it, or -1."""

    def make() -> npt.NDArray[np.int8]:
        out = np.full(len(view), -1, dtype=np.int8)
        for i, fam in enumerate(NOISY_FAMILIES):
            keep = np.array([matches(fam.filter, t) for t in view.topics], dtype=bool)
            if not keep.any():
                continue
            rows = np.flatnonzero(_codes_mask(view, keep) & (out < 0))
            cheap = view.session.mode == "full" or len(rows) <= PAYLOAD_RULE_MAX_ROWS
            if fam.action and cheap and len(rows):
                rows = rows[_only_action(_payload_texts(view, rows), fam.action)]
            out[rows] = i
        return out

    return view.memo.get("families", make)


# -- selections ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Selection:
    """What the Analyse page shows: a time window (absolute µs, inclusive; None = all), the
    topics switched off in the tree, whether the noisy-family pre-filter is on, and a text
    that topic or payload must contain (case-insensitive; empty = any)."""

    window: tuple[int, int] | None = None
    excluded: frozenset[str] = frozenset()
    prefilter: bool = True
    text: str = ""

    @classmethod
    def make(
        cls,
        window: Sequence[float] | None = None,
        excluded: Sequence[str] | None = None,
        prefilter: bool = True,
        text: str | None = None,
    ) -> Selection:
        win = (int(window[0]), int(window[1])) if window is not None else None
        return cls(win, frozenset(excluded or ()), bool(prefilter), (text or "").strip())

    def without_text(self) -> Selection:
        return Selection(self.window, self.excluded, self.prefilter)


def window_mask(view: SessionView, window: tuple[int, int] | None) -> BoolArray:
    if window is None:
        return np.ones(len(view), dtype=bool)
    return (view.ts >= window[0]) & (view.ts <= window[1])


def selected_rows(view: SessionView, sel: Selection) -> IntArray:
    """Row numbers (file order) inside the window, not excluded, not hidden by the pre-filter,
    and (when ``sel.text`` is set) mentioning the text in topic or payload."""
    if sel.text:
        base = selected_rows(view, sel.without_text())
        return view.memo.get(("rows", sel), lambda: rows_matching_text(view, base, sel.text))

    def make() -> IntArray:
        if sel.window is not None and not view.time_ordered:
            lo, hi, mask = 0, len(view), window_mask(view, sel.window)
        else:  # the window is one slice of rows
            lo, hi = (0, len(view)) if sel.window is None else window_slice(view, sel.window)
            if not sel.excluded and not sel.prefilter:
                return np.arange(lo, hi, dtype=np.int64)
            mask = np.ones(hi - lo, dtype=bool)
        if sel.excluded:
            keep = np.array([t not in sel.excluded for t in view.topics], dtype=bool)
            mask &= keep[view.codes[lo:hi]]
        if sel.prefilter:
            mask &= family_of_rows(view)[lo:hi] < 0
        return (lo + np.flatnonzero(mask)).astype(np.int64)

    return view.memo.get(("rows", sel), make)


def rows_matching_text(
    view: SessionView, rows: IntArray, text: str, *, ignore_case: bool = True
) -> IntArray:
    """The subset of ``rows`` whose payload or topic contains ``text`` (case-insensitive by
    default; ``str.lower`` on both sides).

    The payloads of every row are searched once per text in the Rust core
    (:meth:`mqtt_replay.Session.search`: raw spans of the mapped file in index mode, the
    payload column in full mode) and the flags memoised, so narrowing the selection later
    costs an index lookup.
    """
    needle = text.strip()
    if not needle or len(rows) == 0:
        return rows
    found = view.memo.get(
        ("text-all", needle, ignore_case),
        lambda: view.session.search(needle, ignore_case=ignore_case),
    )
    if ignore_case:
        low = needle.lower()
        topic_hit = np.array([low in t.lower() for t in view.topics], dtype=bool)
    else:
        topic_hit = np.array([needle in t for t in view.topics], dtype=bool)
    keep: BoolArray = found[rows] | topic_hit[view.codes[rows]]
    return rows[keep]


def hidden_summary(view: SessionView, window: tuple[int, int] | None) -> list[dict[str, Any]]:
    """What the pre-filter hides inside ``window``: one dict per family (label, filter, count)."""

    def make() -> npt.NDArray[np.int64]:
        fam = family_of_rows(view)[_hidden_in_window(view, window)]
        return np.bincount(fam, minlength=len(NOISY_FAMILIES))

    counts = view.memo.get(("hidden-summary", window), make)
    return [
        {"key": f.key, "label": f.label, "filter": f.filter, "count": int(counts[i])}
        for i, f in enumerate(NOISY_FAMILIES)
    ]


# -- topic tree and statistics ------------------------------------------------------------


def _tree_counts(
    view: SessionView, window: tuple[int, int] | None
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Messages per topic code in ``window`` and, of those, how many the pre-filter hides;
    memoised per window (they do not depend on the rest of the selection)."""
    n = len(view.topics)

    def make() -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        if view.time_ordered:  # the window is one slice of rows
            lo, hi = (0, len(view)) if window is None else window_slice(view, window)
            in_window = view.codes[lo:hi]
        else:
            in_window = view.codes[window_mask(view, window)]
        return (
            np.bincount(in_window, minlength=n),
            np.bincount(view.codes[_hidden_in_window(view, window)], minlength=n),
        )

    return view.memo.get(("tree-counts", window), make)


def _hidden_rows(view: SessionView) -> IntArray:
    """The rows the pre-filter hides (ascending)."""
    return view.memo.get("hidden-rows", lambda: np.flatnonzero(family_of_rows(view) >= 0))


def _hidden_in_window(view: SessionView, window: tuple[int, int] | None) -> IntArray:
    """The rows inside ``window`` that the pre-filter hides (ascending); in a time-ordered
    session one slice of all hidden rows."""
    hidden = _hidden_rows(view)
    if view.time_ordered:
        lo, hi = (0, len(view)) if window is None else window_slice(view, window)
        i, j = np.searchsorted(hidden, [lo, hi])
        return hidden[i:j]
    return hidden[window_mask(view, window)[hidden]]


def window_slice(view: SessionView, window: tuple[int, int]) -> tuple[int, int]:
    """Rows ``lo:hi`` inside ``window`` of a time-ordered session."""
    lo, hi = np.searchsorted(view.ts, [window[0], window[1] + 1], side="left")
    return int(lo), int(hi)


def topic_tree(view: SessionView, sel: Selection) -> list[dict[str, Any]]:
    """Categories with their topics and counts inside the window.

    Each topic: ``count`` (messages in the window), ``hidden`` (of those, hidden by the
    pre-filter when it is on), ``excluded`` (switched off). Categories are sorted by name,
    topics by name; topics without messages in the window are listed with count 0.
    """
    counts, hidden = _tree_counts(view, sel.window)
    groups: dict[str, list[dict[str, Any]]] = {}
    for code, topic in enumerate(view.topics):
        groups.setdefault(category(topic), []).append(
            {
                "topic": topic,
                "count": int(counts[code]),
                "hidden": int(hidden[code]) if sel.prefilter else 0,
                "excluded": topic in sel.excluded,
            }
        )
    out = []
    for cat in sorted(groups, key=str.lower):
        topics = sorted(groups[cat], key=lambda t: t["topic"])
        out.append(
            {
                "category": cat,
                "count": sum(t["count"] for t in topics),
                "visible": sum(t["count"] - t["hidden"] for t in topics if not t["excluded"]),
                "topics": topics,
            }
        )
    return out


def _topic_time_order(codes: npt.NDArray[np.int32], ts: IntArray) -> IntArray:
    """The permutation that groups rows by topic code, time order within a topic.

    Recorded sessions are almost always in time order already; then a stable sort by topic
    code alone is enough, and NumPy sorts 16-bit keys with a linear-time radix sort (≈ 0.1 s
    for 5M rows instead of ≈ 0.8 s for the general two-key ``lexsort``)."""
    if len(ts) < 2 or bool(np.all(ts[1:] >= ts[:-1])):
        small = len(codes) == 0 or int(codes.max()) < np.iinfo(np.int16).max
        keys = codes.astype(np.int16) if small else codes
        return np.argsort(keys, kind="stable").astype(np.int64, copy=False)
    return np.lexsort((ts, codes)).astype(np.int64, copy=False)


def selection_stats(view: SessionView, sel: Selection) -> GroupStats:
    """The per-topic aggregates of a selection, memoised: the statistics grid and the
    timeline's lanes (topics present) share one pass."""

    def make() -> GroupStats:
        rows = selected_rows(view, sel)
        return group_stats(view.codes, view.ts, view.sizes, view.rows_arg(rows), len(view.topics))

    return view.memo.get(("group-stats", sel), make)


def topic_statistics(
    view: SessionView, rows: IntArray, *, stats: GroupStats | None = None
) -> list[dict[str, Any]]:
    """Per topic over ``rows``: count, bytes, rate (msg/s over the topic's span), min/max/mean
    gap between consecutive messages (s), first/last (µs UTC). Sorted by count, descending.

    One pass in the Rust core over the selected rows (ascending row numbers); only a session
    whose times go backwards within a topic takes the sorting path."""
    if len(rows) == 0:
        return []
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    every = view.rows_arg(rows) is None
    g = (
        stats
        if stats is not None
        else group_stats(view.codes, view.ts, view.sizes, None if every else rows, len(view.topics))
    )
    ascending = every or len(rows) < 2 or not bool(np.any(rows[1:] < rows[:-1]))
    if not g.ordered or not ascending:
        return topic_statistics_sorted(view, rows)
    out: list[dict[str, Any]] = []
    count, nbytes, first, last = (a.tolist() for a in (g.count, g.bytes, g.first, g.last))
    gmin, gmax = g.gap_min.tolist(), g.gap_max.tolist()
    for code, n in enumerate(count):
        if n == 0:
            continue
        topic = view.topics[code]
        span = (last[code] - first[code]) / 1e6
        out.append(
            {
                "topic": topic,
                "category": category(topic),
                "count": n,
                "bytes": nbytes[code],
                "rate": (n - 1) / span if span > 0 else None,
                "gap_min_s": gmin[code] / 1e6 if n > 1 else None,
                "gap_max_s": gmax[code] / 1e6 if n > 1 else None,
                "gap_mean_s": span / (n - 1) if n > 1 else None,
                "first_us": first[code],
                "last_us": last[code],
            }
        )
    out.sort(key=lambda r: (-r["count"], r["topic"]))
    return out


def topic_statistics_sorted(view: SessionView, rows: IntArray) -> list[dict[str, Any]]:
    """The reference of :func:`topic_statistics` (sorts by topic, then time). Per topic over ``rows``: count, bytes, rate (msg/s over the topic's span), min/max/mean
    gap between consecutive messages (s), first/last (µs UTC). Sorted by count, descending."""
    if len(rows) == 0:
        return []
    codes = view.codes[rows]
    ts = view.ts[rows]
    order = _topic_time_order(codes, ts)
    codes, ts = codes[order], ts[order]
    sizes = view.sizes[rows][order]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    ends = np.r_[starts[1:], len(codes)]
    count = ends - starts
    total_bytes = np.add.reduceat(sizes, starts)
    gaps = np.diff(ts).astype(np.float64) / 1e6
    out: list[dict[str, Any]] = []
    for i, (s, e) in enumerate(zip(starts, ends, strict=True)):
        g = gaps[s : e - 1]
        first, last = int(ts[s]), int(ts[e - 1])
        span = (last - first) / 1e6
        topic = view.topics[int(codes[s])]
        out.append(
            {
                "topic": topic,
                "category": category(topic),
                "count": int(count[i]),
                "bytes": int(total_bytes[i]),
                "rate": (int(count[i]) - 1) / span if span > 0 else None,
                "gap_min_s": float(g.min()) if len(g) else None,
                "gap_max_s": float(g.max()) if len(g) else None,
                "gap_mean_s": float(g.mean()) if len(g) else None,
                "first_us": first,
                "last_us": last,
            }
        )
    out.sort(key=lambda r: (-r["count"], r["topic"]))
    return out


def previous_same_topic(view: SessionView, row: int) -> int | None:
    """The nearest earlier row (file order) with the same topic, or None."""
    code = view.codes[row]
    # backwards in growing slices: usually found near ``row``, never a pass over millions
    end, step = row, 1024
    while end > 0:
        start = max(end - step, 0)
        hit = np.flatnonzero(view.codes[start:end] == code)
        if len(hit):
            return start + int(hit[-1])
        end, step = start, step * 4
    return None


def _step_same_topic(view: SessionView, rows: IntArray, current: int, forward: bool) -> int | None:
    """:func:`step_row` within ``current``'s topic: scans ``rows`` outward from ``current``
    in growing slices (the next message of a topic is usually close; a pass over millions of
    rows per key press is not)."""
    code = view.codes[current]
    step = 1024
    if forward:
        i = int(np.searchsorted(rows, current, side="right"))
        while i < len(rows):
            part = rows[i : i + step]
            hit = np.flatnonzero(view.codes[part] == code)
            if len(hit):
                return int(part[hit[0]])
            i, step = i + step, step * 4
        return None
    i = int(np.searchsorted(rows, current, side="left"))
    while i > 0:
        start = max(i - step, 0)
        part = rows[start:i]
        hit = np.flatnonzero(view.codes[part] == code)
        if len(hit):
            return int(part[hit[-1]])
        i, step = start, step * 4
    return None


def step_row(
    view: SessionView, rows: IntArray, current: int, forward: bool, same_topic: bool = False
) -> int | None:
    """The message after (``forward``) or before ``current`` among ``rows`` (file order),
    optionally only of ``current``'s topic; None at either end. ``current`` need not be in
    ``rows`` (a message opened from a key chain steps into the selection)."""
    if same_topic and len(rows):
        return _step_same_topic(view, rows, current, forward)
    if not len(rows):
        return None
    if forward:
        i = int(np.searchsorted(rows, current, side="right"))
        return int(rows[i]) if i < len(rows) else None
    i = int(np.searchsorted(rows, current, side="left")) - 1
    return int(rows[i]) if i >= 0 else None
