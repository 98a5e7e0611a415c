"""Timestamp outliers: a few messages far before or after the rest of a session.

One UTC-stamped line among naive local ones (or a clock jump on the recorder) stretches a
3-minute recording to an hour. :func:`find` spots a small group at either end separated from
the bulk by a gap longer than the bulk itself (and at least ``MIN_GAP_S``), so the page can
say so and offer to clip the window to the bulk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

MIN_GAP_S = 300.0  # a gap shorter than 5 minutes is a pause, not an outlier
MAX_SHARE = 0.01  # at most 1 % of the messages (and at most MAX_COUNT) count as outliers
MAX_COUNT = 20


@dataclass(frozen=True)
class Outliers:
    """``before``/``after`` messages lie ``gap_before_s``/``gap_after_s`` outside the bulk
    ``[bulk_start_us, bulk_end_us]``."""

    before: int
    gap_before_s: float
    after: int
    gap_after_s: float
    bulk_start_us: int
    bulk_end_us: int

    def describe(self) -> str:
        parts = []
        if self.before:
            parts.append(f"{_messages(self.before)} {_span(self.gap_before_s)} before the others")
        if self.after:
            parts.append(f"{_messages(self.after)} {_span(self.gap_after_s)} after the others")
        return "; ".join(parts)


def _messages(n: int) -> str:
    return f"{n:,} message" + ("" if n == 1 else "s")


def _span(seconds: float) -> str:
    if seconds >= 5400:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 90:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"


def _tail(sorted_ts: npt.NDArray[np.int64], limit: int) -> tuple[int, float]:
    """How many of the last messages are outliers, and their gap to the bulk (s)."""
    n = len(sorted_ts)
    for k in range(limit, 0, -1):  # the largest group first
        gap = (int(sorted_ts[n - k]) - int(sorted_ts[n - k - 1])) / 1e6
        bulk = (int(sorted_ts[n - k - 1]) - int(sorted_ts[0])) / 1e6
        if gap >= MIN_GAP_S and gap > bulk:
            return k, gap
    return 0, 0.0


def find(
    ts_us: npt.NDArray[np.int64], valid: npt.NDArray[np.bool_] | None = None
) -> Outliers | None:
    """The outliers of a session's timestamps (µs), or None when there are none."""
    ts = np.sort(ts_us[valid] if valid is not None else ts_us)
    n = len(ts)
    if n < 3:
        return None
    limit = max(1, min(MAX_COUNT, int(n * MAX_SHARE)))
    after, gap_after = _tail(ts, limit)
    body = ts[: n - after]
    before, gap_before = _tail(-body[::-1], limit)
    if not before and not after:
        return None
    return Outliers(before, gap_before, after, gap_after, int(body[before]), int(body[-1]))
