"""The bounded message history and its filters."""

from __future__ import annotations

import pytest
from apps.omf_dashboard.history import Direction, MessageFilter, MessageHistory, query

# Categories, sub-categories and noisy families: tests/test_topic_contract.py checks this
# dashboard's topics.py against the shared contract table tests/contract/topics.csv.


def add(history: MessageHistory, topic: str, at: float, direction: Direction = "received") -> None:
    history.add(direction, topic, "{}", received_at=at)


def test_history_is_bounded_and_keeps_category_counts_in_step() -> None:
    history = MessageHistory(limit=3)
    for i, topic in enumerate(["ccu/a", "fts/b", "ccu/c", "module/d"]):
        add(history, topic, float(i))
    assert len(history) == 3
    assert [r.topic for r in history.records()] == ["fts/b", "ccu/c", "module/d"]
    assert dict(history.categories) == {"FTS": 1, "CCU": 1, "MODULE": 1}
    assert history.last_seq == 4
    assert history.find(1) is None  # dropped
    found = history.find(3)
    assert found is not None
    assert found.topic == "ccu/c"
    history.clear()
    assert len(history) == 0
    assert history.generation == 1
    assert history.categories == {}
    add(history, "ccu/e", 9.0)
    assert history.records()[0].seq == 5  # sequence numbers keep growing


def test_history_rejects_a_zero_bound() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        MessageHistory(limit=0)


def test_query_filters_newest_first() -> None:
    history = MessageHistory()
    add(history, "ccu/order/active", 1.0)
    add(history, "/j1/txt/1/i/cam", 2.0)
    add(history, "ccu/order/request", 3.0, direction="sent")
    add(history, "fts/v1/ff/5iO4/state", 4.0)
    records = history.records()

    everything = query(records, MessageFilter(), limit=10)
    assert [r.seq for r in everything.records] == [4, 3, 2, 1]
    assert query(records, MessageFilter(hide_noisy=True), 10).matched == 3
    sent = query(records, MessageFilter(direction="sent"), 10)
    assert [r.topic for r in sent.records] == ["ccu/order/request"]
    ccu = query(records, MessageFilter(category="CCU", sub_category="active"), 10)
    assert [r.topic for r in ccu.records] == ["ccu/order/active"]
    assert query(records, MessageFilter(topic_text="ORDER"), 10).matched == 2
    recent = query(records, MessageFilter(since=2.5), 1)
    assert (recent.matched, len(recent.records), recent.total) == (2, 1, 4)
