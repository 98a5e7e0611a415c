"""Bounded history of received and sent messages, with the Message Center's filters.

Pure Python and not thread-safe: the owner (:class:`~apps.omf_dashboard.client.DashboardClient`)
guards it with its lock. Adding is O(1) and cheap (it runs once per received message): a record
is a named tuple holding the payload text as received, its topic's category, sub-category and
noisy flag come from a per-topic cache, and only a per-topic count is kept up to date (the
category counts are derived from it when asked for). The oldest record falls out when the
bound is reached. Queries copy the record references (O(n) in the bound, ~10k) and filter
outside any lock.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

from apps.omf_dashboard.topics import classify, noisy_by_payload

Direction = Literal["received", "sent"]

DEFAULT_LIMIT = 10_000
TOPIC_CACHE_LIMIT = 10_000
"""Topics whose classification is cached; the cache starts afresh beyond that (topic spam)."""


class MessageRecord(NamedTuple):
    """One message as the Message Center shows it. ``payload`` is the decoded text, unescaped.

    A named tuple, not a frozen dataclass: built ~10k times a second, it costs a seventh of the
    time, and the collector stops tracking it (it holds only atomic values).
    """

    seq: int
    received_at: float
    direction: Direction
    topic: str
    payload: str
    qos: int
    retain: bool
    is_json: bool
    category: str
    sub_category: str
    noisy: bool


@dataclass(frozen=True, slots=True)
class MessageFilter:
    """What the Message Center asks for; empty fields match everything.

    ``since`` is an absolute epoch time (records older than it are excluded); ``topic_text``
    matches case-insensitively anywhere in the topic.
    """

    direction: Direction | None = None
    category: str | None = None
    sub_category: str | None = None
    topic_text: str = ""
    since: float | None = None
    hide_noisy: bool = False

    def matches(self, record: MessageRecord) -> bool:
        if self.direction and record.direction != self.direction:
            return False
        if self.category and record.category != self.category:
            return False
        if self.sub_category and record.sub_category != self.sub_category:
            return False
        if self.hide_noisy and record.noisy:
            return False
        if self.since is not None and record.received_at < self.since:
            return False
        return not self.topic_text or self.topic_text.lower() in record.topic.lower()


@dataclass(frozen=True, slots=True)
class QueryResult:
    """Newest-first matches (at most the requested limit) and the full match count."""

    records: tuple[MessageRecord, ...]
    matched: int
    total: int


class MessageHistory:
    """A deque of :class:`MessageRecord` bounded to ``limit`` entries, newest last."""

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        if limit < 1:
            raise ValueError(f"history limit must be at least 1, got {limit}")
        self.limit = limit
        self._records: deque[MessageRecord] = deque(maxlen=limit)
        self._next_seq = 1
        self.generation = 0
        """Grows on :meth:`clear`, so a viewer knows its rows are gone."""
        self._per_topic: dict[str, int] = {}
        self._classes: dict[str, tuple[str, str, bool | None]] = {}

    def __len__(self) -> int:
        return len(self._records)

    @property
    def last_seq(self) -> int:
        """Sequence number of the newest record ever added (0 if none)."""
        return self._next_seq - 1

    @property
    def categories(self) -> Counter[str]:
        """Records held per category."""
        return self._count_by(sub=False)

    @property
    def sub_categories(self) -> Counter[str]:
        """Records held per sub-category."""
        return self._count_by(sub=True)

    def add(
        self,
        direction: Direction,
        topic: str,
        payload: str,
        *,
        received_at: float,
        qos: int = 0,
        retain: bool = False,
        is_json: bool = True,
    ) -> MessageRecord:
        """Append a record (dropping the oldest when full) and return it."""
        classes = self._classes.get(topic)
        if classes is None:
            classes = self._classify(topic)
        cat, sub, noisy = classes
        if noisy is None:
            noisy = noisy_by_payload(payload)
        records = self._records
        per_topic = self._per_topic
        if len(records) == self.limit:
            old = records[0].topic
            left = per_topic[old] - 1
            if left:
                per_topic[old] = left
            else:
                del per_topic[old]
        record = MessageRecord(
            self._next_seq,
            received_at,
            direction,
            topic,
            payload,
            qos,
            retain,
            is_json,
            cat,
            sub,
            noisy,
        )
        self._next_seq += 1
        records.append(record)
        per_topic[topic] = per_topic.get(topic, 0) + 1
        return record

    def clear(self) -> None:
        """Forget every record; sequence numbers keep growing."""
        self._records.clear()
        self._per_topic.clear()
        self.generation += 1

    def records(self) -> list[MessageRecord]:
        """A copy of the record references, oldest first (cheap: no payload copies)."""
        return list(self._records)

    def find(self, seq: int) -> MessageRecord | None:
        """The record with sequence number ``seq`` if it is still held."""
        if not self._records or seq < self._records[0].seq or seq > self._records[-1].seq:
            return None
        # Sequence numbers are consecutive within the deque, so the offset is direct.
        record = self._records[seq - self._records[0].seq]
        return record if record.seq == seq else None

    def _classify(self, topic: str) -> tuple[str, str, bool | None]:
        if len(self._classes) >= TOPIC_CACHE_LIMIT:
            self._classes.clear()
        classes = self._classes[topic] = classify(topic)
        return classes

    def _count_by(self, *, sub: bool) -> Counter[str]:
        counts: Counter[str] = Counter()
        for topic, n in self._per_topic.items():
            cat, sub_cat, _noisy = self._classes.get(topic) or self._classify(topic)
            counts[sub_cat if sub else cat] += n
        return counts


def query(records: Sequence[MessageRecord], flt: MessageFilter, limit: int) -> QueryResult:
    """Filter ``records`` (oldest first) and return the newest ``limit`` matches, newest first."""
    matched: list[MessageRecord] = []
    count = 0
    for record in reversed(records):
        if flt.matches(record):
            count += 1
            if len(matched) < limit:
                matched.append(record)
    return QueryResult(tuple(matched), count, len(records))


def sorted_names(names: Iterable[str]) -> list[str]:
    """Case-insensitive order for dropdown options."""
    return sorted(names, key=str.lower)
