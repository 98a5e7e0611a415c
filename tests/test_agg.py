"""The Rust aggregations (``group_stats``, ``bucket_counts``) against plain NumPy references."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mqtt_replay.errors import InvalidOptionError
from mqtt_replay.statistics import bucket_counts, group_stats, sort_rows

Columns = tuple[npt.NDArray[np.int32], npt.NDArray[np.int64], npt.NDArray[np.int64], int]


@st.composite
def columns(draw: st.DrawFn, *, ordered: bool) -> Columns:
    n_topics = draw(st.integers(1, 6))
    n = draw(st.integers(0, 60))
    codes = np.array(draw(st.lists(st.integers(0, n_topics - 1), min_size=n, max_size=n)), np.int32)
    steps = draw(st.lists(st.integers(0 if ordered else -50, 1000), min_size=n, max_size=n))
    ts = (10**15 + np.cumsum(np.array(steps, dtype=np.int64))).astype(np.int64)
    sizes = np.array(draw(st.lists(st.integers(0, 10**6), min_size=n, max_size=n)), np.int64)
    return codes, ts, sizes, n_topics


def selection(data: st.DataObject, n: int) -> npt.NDArray[np.int64] | None:
    if data.draw(st.booleans()):
        return None
    picked = data.draw(st.sets(st.integers(0, max(n - 1, 0)), max_size=n)) if n else set()
    return np.array(sorted(picked), dtype=np.int64)


@settings(max_examples=300, deadline=None)
@given(cols=columns(ordered=False), data=st.data())
def test_group_stats_match_a_loop(cols: Columns, data: st.DataObject) -> None:
    codes, ts, sizes, n_topics = cols
    rows = selection(data, len(codes))
    g = group_stats(codes, ts, sizes, rows, n_topics)
    picked = range(len(codes)) if rows is None else rows.tolist()
    per: dict[int, list[int]] = {}
    for r in picked:
        per.setdefault(int(codes[r]), []).append(int(r))
    ordered = True
    for code in range(n_topics):
        rs = per.get(code, [])
        assert g.count[code] == len(rs)
        assert g.bytes[code] == sum(int(sizes[r]) for r in rs)
        if rs:
            assert (g.first[code], g.last[code]) == (ts[rs[0]], ts[rs[-1]])
        gaps = [int(ts[b] - ts[a]) for a, b in pairwise(rs)]
        ordered &= all(x >= 0 for x in gaps)
        assert g.gap_min[code] == (min(gaps) if gaps else 2**63 - 1)
        assert g.gap_max[code] == (max(gaps) if gaps else -(2**63))
    assert g.ordered == ordered


@settings(max_examples=300, deadline=None)
@given(cols=st.booleans().flatmap(lambda o: columns(ordered=o)), data=st.data())
def test_bucket_counts_match_numpy(cols: Columns, data: st.DataObject) -> None:
    codes, ts, _, n_topics = cols
    rows = selection(data, len(codes))
    lanes = data.draw(st.integers(1, 4))
    lane_of_code = np.array(
        data.draw(st.lists(st.integers(-1, lanes - 1), min_size=n_topics, max_size=n_topics))
    )
    lo = int(ts.min()) if len(ts) else 0
    x0 = lo + data.draw(st.integers(-100, 3000))
    x1 = x0 + data.draw(st.integers(0, 50_000))
    nb = data.draw(st.integers(1, 40))
    counts, inside = bucket_counts(codes, ts, rows, lane_of_code, x0, x1, lanes, nb)
    sel = np.arange(len(codes)) if rows is None else rows
    t, lane = ts[sel], lane_of_code[codes[sel]]
    keep = (t >= x0) & (t <= x1)
    assert inside == int(keep.sum())
    span = max(x1 - x0 + 1, nb)
    t, lane = t[keep & (lane >= 0)], lane[keep & (lane >= 0)]
    bucket = np.minimum((t - x0) * nb // span, nb - 1)
    expected = np.bincount(lane * nb + bucket, minlength=lanes * nb).reshape(lanes, nb)
    np.testing.assert_array_equal(counts, expected)


def test_bad_input_is_refused_with_a_reason() -> None:
    codes, ts, sizes = np.array([0, 1], np.int32), np.array([1, 2]), np.array([3, 4])
    with pytest.raises(InvalidOptionError, match="row 2 is outside"):
        group_stats(codes, ts, sizes, [0, 2], 2)
    with pytest.raises(InvalidOptionError, match="topic code 1 is out of range"):
        group_stats(codes, ts, sizes, None, 1)
    with pytest.raises(InvalidOptionError, match="lengths differ"):
        group_stats(codes, ts[:1], sizes, None, 2)
    with pytest.raises(InvalidOptionError, match="lane"):
        bucket_counts(codes, ts, None, [0, 5], 0, 10, 2, 4)
    with pytest.raises(InvalidOptionError, match="x0 <= x1"):
        bucket_counts(codes, ts, None, [0, 1], 10, 0, 2, 4)
    with pytest.raises(InvalidOptionError, match="1-D"):
        group_stats(np.zeros((2, 2), np.int32), ts, sizes, None, 2)


@settings(max_examples=300, deadline=None)
@given(
    keys=st.lists(st.integers(-(2**63), 2**63 - 1) | st.integers(-3, 3), max_size=50),
    data=st.data(),
)
def test_sort_rows_is_a_stable_sort(keys: list[int], data: st.DataObject) -> None:
    column = np.array(keys, dtype=np.int64)
    rows = selection(data, len(keys))
    rows = np.arange(len(keys), dtype=np.int64) if rows is None else rows
    rows = data.draw(st.permutations(rows.tolist())) if data.draw(st.booleans()) else rows
    rows = np.array(rows, dtype=np.int64)
    for descending in (False, True):
        got = sort_rows(column, rows, descending=descending)
        # Python's sort is stable: the reference
        want = sorted(rows.tolist(), key=lambda r: -int(column[r]) if descending else column[r])
        assert got.tolist() == want
