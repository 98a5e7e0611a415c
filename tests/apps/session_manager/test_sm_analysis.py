"""Selections, the noisy-family pre-filter, topic tree and statistics on a generated session
(expectations from the file parsed independently), plus fact checks of a real recording."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pytest
from apps.session_manager.analysis import NOISY_FAMILIES, Selection, SessionView
from sm_helpers import PLANT, PLANT_MESSAGES, reference_families, synthetic_view

from apps.session_manager import analysis as an
from apps.session_manager import timeline as tl
from mqtt_replay.statistics import topic_stats


def family_counts(view: SessionView) -> dict[str, int]:
    fam = an.family_of_rows(view)
    return {f.key: int((fam == i).sum()) for i, f in enumerate(NOISY_FAMILIES)}


@pytest.fixture(scope="module")
def plant_families(generated_dir: Path) -> dict[str, int]:
    return reference_families(generated_dir / PLANT)


def test_view_columns_match_the_session(plant_view: SessionView) -> None:
    s = plant_view.session
    assert len(plant_view) == len(s) == PLANT_MESSAGES
    assert sorted(plant_view.topics) == sorted(
        set(s.table.column("topic").cast("string").to_pylist())
    )
    assert [plant_view.topic_of(r) for r in range(5)] == s.table.column("topic").cast(
        "string"
    ).to_pylist()[:5]
    assert plant_view.start_us == int(s.start.timestamp() * 1e6)


def test_prefilter_families_by_topic_and_dps_payload(
    plant_view: SessionView, plant_families: dict[str, int]
) -> None:
    counts = family_counts(plant_view)
    assert counts == plant_families and all(counts.values())  # every family occurs
    rows = an.selected_rows(plant_view, Selection())
    assert len(rows) == PLANT_MESSAGES - sum(counts.values())
    shown = {plant_view.topic_of(r) for r in rows}
    assert "/j1/txt/1/i/cam" not in shown and "ccu/pairing/state" not in shown
    assert "module/v1/ff/SVR4H73275/factsheet" in shown  # mentions setStatusLED, not an action
    off = an.selected_rows(plant_view, Selection(prefilter=False))
    assert len(off) == PLANT_MESSAGES


def test_prefilter_families_of_a_real_recording(baseline_view: SessionView) -> None:
    """Fact check on the real baseline recording (skips without ../shared/sessions)."""
    assert family_counts(baseline_view) == {
        "camera": 261,
        "bme680": 51,
        "ldr": 54,
        "pairing": 162,
        "dps_led": 161,
        "arduino": 441,
    }


def test_dps_rule_keeps_other_instant_actions(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Only instantActions whose every action is setStatusLED are noise."""
    from mqtt_replay import open_session

    topic = "module/v1/ff/SVR4H73275/instantAction"

    def line(actions: list[str], second: int) -> str:
        body = {"actions": [{"actionId": str(i), "actionType": a} for i, a in enumerate(actions)]}
        return json.dumps(
            {
                "topic": topic,
                "payload": json.dumps(body),
                "timestamp": f"2026-01-01T00:00:{second:02d}.000Z",
                "qos": 0,
                "retain": False,
            }
        )

    path = tmp_path / "dps.log"
    path.write_text(
        "\n".join(
            [
                line(["setStatusLED"], 1),
                line(["reset"], 2),
                line(["setStatusLED", "reset"], 3),
                line(["setStatusLED"], 4),
            ]
        )
        + "\n"
    )
    for mode in ("full", "index"):
        view = an.build_view(open_session(path, mode=mode, cache=False))  # type: ignore[arg-type]
        assert an.selected_rows(view, Selection()).tolist() == [1, 2]


def test_index_mode_gives_the_same_selection(
    plant_view: SessionView, plant_index_view: SessionView
) -> None:
    assert plant_index_view.session.mode == "index"
    assert family_counts(plant_view) == family_counts(plant_index_view)
    for sel in (
        Selection(),
        Selection(text="orderId"),
        Selection(text="SVR3QA0022", prefilter=False),
    ):
        assert np.array_equal(
            an.selected_rows(plant_view, sel), an.selected_rows(plant_index_view, sel)
        )


def test_window_and_exclusion(plant_view: SessionView) -> None:
    v = plant_view
    w = (v.start_us + 60_000_000, v.start_us + 120_000_000)
    rows = an.selected_rows(v, Selection.make(w, ["fts/v1/ff/5iO4/state"], False))
    assert len(rows) > 0
    assert ((v.ts[rows] >= w[0]) & (v.ts[rows] <= w[1])).all()
    assert "fts/v1/ff/5iO4/state" not in {v.topic_of(r) for r in rows}
    expected = int(((v.ts >= w[0]) & (v.ts <= w[1])).sum()) - int(
        (
            (v.ts >= w[0]) & (v.ts <= w[1]) & (v.codes == v.topics.index("fts/v1/ff/5iO4/state"))
        ).sum()
    )
    assert len(rows) == expected


def test_text_filter_matches_payload_or_topic_case_insensitively(
    plant_view: SessionView,
) -> None:
    v = plant_view
    rows = an.selected_rows(v, Selection(prefilter=False, text="BATTERYSTATE"))
    payloads = v.payloads(rows)
    assert rows.size and all("batterystate" in p.lower() for p in payloads)
    table = v.session.table
    expected = int(
        pc.sum(
            pc.match_substring(table.column("payload"), "batteryState", ignore_case=True)
        ).as_py()
    )
    assert len(rows) == expected
    by_topic = an.selected_rows(v, Selection(prefilter=False, text="F/I/STOCK"))
    assert {v.topic_of(r) for r in by_topic} >= {"/j1/txt/1/f/i/stock"}


def test_topic_tree_counts(plant_view: SessionView, plant_families: dict[str, int]) -> None:
    tree = an.topic_tree(plant_view, Selection(excluded=frozenset({"ccu/order/active"})))
    by_cat = {g["category"]: g for g in tree}
    assert set(by_cat) == {"CCU", "FTS", "MODULE", "Node-RED", "OSF sensors", "TXT"}
    assert sum(g["count"] for g in tree) == PLANT_MESSAGES
    txt = {t["topic"]: t for t in by_cat["TXT"]["topics"]}
    assert (
        txt["/j1/txt/1/i/cam"]["hidden"]
        == txt["/j1/txt/1/i/cam"]["count"]
        == plant_families["camera"]
    )
    ccu = {t["topic"]: t for t in by_cat["CCU"]["topics"]}
    assert ccu["ccu/order/active"]["excluded"] is True
    assert (
        by_cat["CCU"]["visible"]
        == by_cat["CCU"]["count"] - plant_families["pairing"] - ccu["ccu/order/active"]["count"]
    )
    assert by_cat["OSF sensors"]["visible"] == 0


def test_statistics_agree_with_the_library(plant_view: SessionView) -> None:
    rows = np.arange(len(plant_view), dtype=np.int64)
    ours = {r["topic"]: r for r in an.topic_statistics(plant_view, rows)}
    theirs = {r["topic"]: r for r in topic_stats(plant_view.session)}
    assert ours.keys() == theirs.keys()
    for topic, t in theirs.items():
        o = ours[topic]
        assert (o["count"], o["bytes"], o["first_us"], o["last_us"]) == (
            t["count"],
            t["bytes"],
            t["first_us"],
            t["last_us"],
        )
        for key in ("rate", "gap_min_s", "gap_max_s", "gap_mean_s"):
            assert (o[key] is None) == (t[key] is None)
            if o[key] is not None:
                assert o[key] == pytest.approx(t[key])


def test_statistics_over_a_window(plant_view: SessionView) -> None:
    v = plant_view
    window = (v.start_us, v.start_us + 30_000_000)
    rows = an.selected_rows(v, Selection(window=window, prefilter=False))
    stats = an.topic_statistics(v, rows)
    assert sum(s["count"] for s in stats) == len(rows)
    assert all(window[0] <= s["first_us"] <= s["last_us"] <= window[1] for s in stats)
    assert an.topic_statistics(v, rows[:0]) == []


def test_hidden_summary_counts_in_window(plant_view: SessionView) -> None:
    v = plant_view
    full = {h["key"]: h["count"] for h in an.hidden_summary(v, None)}
    assert full == family_counts(v)
    part = an.hidden_summary(v, (v.start_us, v.start_us + 10_000_000))
    assert sum(h["count"] for h in part) < sum(full.values())


def test_previous_same_topic(plant_view: SessionView) -> None:
    v = plant_view
    code = v.topics.index("fts/v1/ff/5iO4/state")
    rows = np.flatnonzero(v.codes == code)
    assert an.previous_same_topic(v, int(rows[0])) is None
    assert an.previous_same_topic(v, int(rows[3])) == int(rows[2])


def test_memo_is_bounded() -> None:
    memo = an.Memo(capacity=2)
    for i in range(5):
        assert memo.get(i, lambda i=i: i * 10) == i * 10  # type: ignore[misc]
    assert memo.get(4, lambda: -1) == 40
    assert memo.get(0, lambda: -1) == -1


def test_memo_is_bounded_by_the_bytes_of_its_arrays() -> None:
    memo = an.Memo(capacity=100, max_bytes=3 * 8000)
    for i in range(6):
        memo.get(("rows", i), lambda: np.zeros(1000, np.int64))  # 8,000 bytes each
        assert memo.nbytes <= 3 * 8000
    assert len(memo) == 3
    assert memo.get(("rows", 5), lambda: None) is not None  # the newest stay
    assert memo.get(("rows", 0), lambda: None) is None  # the oldest went
    memo.get("big", lambda: (np.zeros(10_000, np.int64), [np.zeros(10, np.int8)]))
    assert len(memo) == 1 and memo.nbytes == 80_010  # alone over budget, still kept


def test_no_timestamp_session(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from mqtt_replay import open_session

    path = tmp_path / "f0.log"
    path.write_text(
        json.dumps({"topic": "a/b", "payload": "{}"})
        + "\n"
        + json.dumps({"topic": "a/c", "payload": "x"})
        + "\n"
    )
    view = an.build_view(open_session(path))
    assert len(view) == 2 and not view.ts_valid.any()
    assert len(an.selected_rows(view, Selection())) == 2


def test_one_pass_statistics_equal_the_sorting_reference(plant_view: SessionView) -> None:
    v = plant_view
    every_third = np.arange(0, len(v), 3, dtype=np.int64)
    for rows in (np.arange(len(v), dtype=np.int64), every_third):
        fast, ref = an.topic_statistics(v, rows), an.topic_statistics_sorted(v, rows)
        assert [r["topic"] for r in fast] == [r["topic"] for r in ref]
        for a, b in zip(fast, ref, strict=True):
            assert a == pytest.approx(b)


def test_time_ordered_shortcuts_equal_the_general_path() -> None:
    """Slices and binary searches (sessions in time order) give what masks give."""
    ordered = synthetic_view(20_000, 12, seconds=600)
    # the same messages, two of them swapped in time: the general path is taken
    general = synthetic_view(20_000, 12, seconds=600)
    general.ts = general.ts.copy()
    general.ts[[100, 101]] = general.ts[[101, 100]] + np.array([0, 1])
    assert ordered.time_ordered and not general.time_ordered
    t0 = int(ordered.ts[5000])
    for sel in (
        Selection(),
        Selection(prefilter=False),
        Selection(window=(t0, t0 + 60_000_000), prefilter=False),
        Selection(window=(t0, t0 + 60_000_000), excluded=frozenset({"ccu/topic/0"})),
    ):
        fast, slow = an.selected_rows(ordered, sel), an.selected_rows(general, sel)
        np.testing.assert_array_equal(fast, slow)
        ref = np.flatnonzero(
            an.window_mask(ordered, sel.window)
            & np.array([t not in sel.excluded for t in ordered.topics])[ordered.codes]
            & ((an.family_of_rows(ordered) < 0) | (not sel.prefilter))
        )
        np.testing.assert_array_equal(fast, ref)
        assert an.topic_tree(ordered, sel) == an.topic_tree(general, sel)
        a = tl.aggregate(ordered, fast, visible=sel.window, max_points=100)
        b = tl.aggregate(general, slow, visible=sel.window, max_points=100)
        assert (a.mode, a.lanes, a.x0, a.x1, a.total) == (b.mode, b.lanes, b.x0, b.x1, b.total)
        np.testing.assert_array_equal(a.counts, b.counts)


def test_grid_and_timeline_share_one_pass_per_selection() -> None:
    v = synthetic_view(20_000, 9, seconds=600)
    sel = Selection(excluded=frozenset({v.topics[0]}), prefilter=False)
    rows = an.selected_rows(v, sel)
    shared = an.selection_stats(v, sel)
    assert an.selection_stats(v, sel) is shared  # memoised
    present = np.flatnonzero(shared.count)
    a, b = tl.aggregate(v, rows, present=present), tl.aggregate(v, rows)
    assert a.lanes == b.lanes and v.topics[0] not in a.lanes
    np.testing.assert_array_equal(a.counts, b.counts)
    assert an.topic_statistics(v, rows, stats=shared) == an.topic_statistics(v, rows)


def test_step_row_in_the_selection_and_the_topic() -> None:
    v = synthetic_view(2_000, 4, seconds=60)
    rows = np.arange(0, len(v), 3, dtype=np.int64)
    assert an.step_row(v, rows, 3, forward=True) == 6
    assert an.step_row(v, rows, 3, forward=False) == 0
    assert an.step_row(v, rows, 4, forward=False) == 3  # from outside the selection
    assert an.step_row(v, rows, int(rows[-1]), forward=True) is None
    assert an.step_row(v, rows, 0, forward=False) is None
    same = rows[v.codes[rows] == v.codes[30]]
    assert an.step_row(v, rows, 30, forward=True, same_topic=True) == int(same[same > 30][0])
    assert an.step_row(v, rows, 30, forward=False, same_topic=True) == int(same[same < 30][-1])


@pytest.mark.parametrize("seed", range(6))
def test_stepping_and_previous_scan_outward_like_a_full_scan(seed: int) -> None:
    """The outward scans (slices growing from the current message) give the answers of a
    full pass, also for a topic that recurs only far away (beyond several slices)."""
    rng = np.random.default_rng(seed)
    n = 60_000
    v = synthetic_view(n, 3, seconds=600, seed=seed)
    # a rare topic: a handful of messages far apart, among two busy ones
    rare = np.sort(rng.choice(n, size=5, replace=False))
    v.codes[:] = rng.integers(0, 2, n)
    v.codes[rare] = 2
    rows = np.sort(rng.choice(n, size=n // 2, replace=False)).astype(np.int64)
    rows = np.union1d(rows, rare[::2]).astype(np.int64)
    for current in [*rare.tolist(), *rng.integers(0, n, 40).tolist()]:
        code = v.codes[current]
        earlier = np.flatnonzero(v.codes[:current] == code)
        want_prev = int(earlier[-1]) if len(earlier) else None
        assert an.previous_same_topic(v, current) == want_prev
        same = rows[v.codes[rows] == code]
        after, before = same[same > current], same[same < current]
        want_next = int(after[0]) if len(after) else None
        want_back = int(before[-1]) if len(before) else None
        assert an.step_row(v, rows, current, forward=True, same_topic=True) == want_next
        assert an.step_row(v, rows, current, forward=False, same_topic=True) == want_back
