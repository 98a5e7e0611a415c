"""Bounded history of received and sent messages, with the Message Center's filters.

Pure Python and not thread-safe: the owner (:class:`~apps.omf_dashboard.client.DashboardClient`)
guards it with its lock. Adding is O(1); the oldest record falls out when the bound is reached.
Queries copy the record references (O(n) in the bound, ~10k) and filter outside any lock.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from apps.omf_dashboard.topics import category, is_noisy, sub_category

Direction = Literal["received", "sent"]

DEFAULT_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class MessageRecord:
    """One message as the Message Center shows it. ``payload`` is the decoded text, unescaped."""

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
        self.categories: Counter[str] = Counter()
        self.sub_categories: Counter[str] = Counter()

    def __len__(self) -> int:
        return len(self._records)

    @property
    def last_seq(self) -> int:
        """Sequence number of the newest record ever added (0 if none)."""
        return self._next_seq - 1

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
        if len(self._records) == self.limit:
            old = self._records[0]
            _decrement(self.categories, old.category)
            _decrement(self.sub_categories, old.sub_category)
        record = MessageRecord(
            seq=self._next_seq,
            received_at=received_at,
            direction=direction,
            topic=topic,
            payload=payload,
            qos=qos,
            retain=retain,
            is_json=is_json,
            category=category(topic),
            sub_category=sub_category(topic),
            noisy=is_noisy(topic, payload),
        )
        self._next_seq += 1
        self._records.append(record)
        self.categories[record.category] += 1
        self.sub_categories[record.sub_category] += 1
        return record

    def clear(self) -> None:
        """Forget every record; sequence numbers keep growing."""
        self._records.clear()
        self.categories.clear()
        self.sub_categories.clear()
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


def _decrement(counter: Counter[str], key: str) -> None:
    counter[key] -= 1
    if counter[key] <= 0:
        del counter[key]


def sorted_names(names: Iterable[str]) -> list[str]:
    """Case-insensitive order for dropdown options."""
    return sorted(names, key=str.lower)
