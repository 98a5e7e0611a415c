"""One clock: zone conversions for Plotly axes, labels, and timestamp outliers."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from apps.session_manager import clock, outliers


def us(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1_000_000)  # type: ignore[misc]


def test_labels_and_wall_clock_round_trip_across_dst() -> None:
    winter, summer = us(2026, 1, 15, 9, 0, 0), us(2026, 8, 4, 9, 0, 0)
    assert clock.fmt(winter, "Europe/Berlin") == "2026-01-15 10:00:00.000 CET"
    assert clock.fmt(summer, "Europe/Berlin", ms=False) == "2026-08-04 11:00:00 CEST"
    assert clock.fmt(winter, "UTC", date=False) == "09:00:00.000 UTC"
    # the night the clocks go forward: 01:00 UTC is 03:00 CEST
    night = np.array([us(2026, 3, 29, 0, 30, 0), us(2026, 3, 29, 1, 30, 0)])
    wall = clock.wall_ms(night, "Europe/Berlin")
    assert list((wall * 1000 - night) // 3_600_000_000) == [1, 2]
    for t in night:
        w = int(clock.wall_ms(np.array([t]), "Europe/Berlin")[0] * 1000)
        assert clock.from_wall_us(w, "Europe/Berlin") == t
    assert clock.valid_zone("Mars/Olympus", "Europe/Berlin") == "Europe/Berlin"
    assert [o["value"] for o in clock.zone_options("Europe/Berlin")] == ["Europe/Berlin", "UTC"]


def test_one_late_message_is_an_outlier() -> None:
    start = us(2026, 4, 9, 8, 0, 0)
    ts = start + np.arange(2000, dtype=np.int64) * 90_000  # 3 minutes of messages
    late = np.append(ts, ts[-1] + 3_600_000_000)  # one message an hour after the rest
    found = outliers.find(late)
    assert found is not None and (found.before, found.after) == (0, 1)
    assert found.describe() == "1 message 60 min after the others"
    assert (found.bulk_start_us, found.bulk_end_us) == (int(ts[0]), int(ts[-1]))
    early = np.concatenate([[start - 7_200_000_000, start - 7_100_000_000], ts])
    got = outliers.find(early)
    assert got is not None and got.before == 2 and got.describe().startswith("2 messages 2.0 h")
    assert outliers.find(ts) is None
    paused = np.concatenate([ts, ts + 400_000_000])  # a pause inside the bulk is no outlier
    assert outliers.find(paused) is None
