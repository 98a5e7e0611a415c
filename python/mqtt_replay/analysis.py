"""Old name of :mod:`mqtt_replay.statistics` (statistics over a session's index), kept only
while ``tests/apps/session_manager`` still imports it; new code imports
``mqtt_replay.statistics`` (``apps/session_manager/analysis.py`` is the Session Manager's view
model, a different thing)."""

from mqtt_replay.statistics import (
    GroupStats,
    bucket_counts,
    group_stats,
    payload_sizes,
    sort_rows,
    topic_stats,
)

__all__ = [
    "GroupStats",
    "bucket_counts",
    "group_stats",
    "payload_sizes",
    "sort_rows",
    "topic_stats",
]
