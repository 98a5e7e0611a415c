"""The clock of both apps (`mqtt_replay.zones` and the OMF Dashboard's twin): the host's zone as
an IANA name, one labelled format."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from mqtt_replay.zones import abbreviation, check_zone, fmt, local_zone


def us(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1_000_000)  # type: ignore[misc]


def test_format_is_in_the_zone_and_labelled() -> None:
    winter, summer = us(2026, 1, 15, 17, 3, 4), us(2026, 7, 15, 17, 3, 4)
    assert fmt(winter, "America/New_York", date=False, ms=False) == "12:03:04 EST"
    assert fmt(summer, "America/New_York", date=False, ms=False) == "13:03:04 EDT"
    assert fmt(winter, "Europe/Berlin") == "2026-01-15 18:03:04.000 CET"
    assert fmt(winter + 7_000, "UTC", date=False, label=False) == "17:03:04.007"
    assert fmt(None, "UTC") == "–"
    assert abbreviation(summer, "Europe/Berlin") == "CEST"


def test_check_zone_names_the_problem() -> None:
    assert check_zone("Europe/Berlin") == "Europe/Berlin"
    assert check_zone("Etc/UTC") == "UTC"  # UTC's aliases read as UTC
    for bad in ("Mars/Olympus", "", "../etc/passwd", "Europe/"):
        with pytest.raises(ValueError, match="unknown time zone"):
            check_zone(bad)


def test_local_zone_from_the_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TZ", raising=False)
    link = tmp_path / "localtime"
    link.symlink_to("/usr/share/zoneinfo/America/New_York")
    none = tmp_path / "absent"
    assert local_zone(link, none) == "America/New_York"
    utc = tmp_path / "utc"
    utc.symlink_to("/usr/share/zoneinfo/Etc/UTC")
    assert local_zone(utc, none) == "UTC"
    named = tmp_path / "timezone"
    named.write_text("Asia/Tokyo\n")
    assert local_zone(none, named) == "Asia/Tokyo"  # no link: /etc/timezone
    assert local_zone(none, none) == "UTC"  # nothing names a zone
    monkeypatch.setenv("TZ", ":Europe/Berlin")
    assert local_zone(link, named) == "Europe/Berlin"  # $TZ wins
    monkeypatch.setenv("TZ", "/usr/share/zoneinfo/Asia/Kolkata")
    assert local_zone(none, none) == "Asia/Kolkata"
    monkeypatch.setenv("TZ", "nowhere")
    assert local_zone(none, none) == "UTC"


@pytest.mark.parametrize(
    "zone", ["UTC", "Etc/UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"]
)
def test_the_omf_dashboards_twin_answers_the_same(zone: str) -> None:
    """The OMF Dashboard imports nothing from mqtt_replay, so it keeps its own copy."""
    from apps.omf_dashboard import zones as omf
    from mqtt_replay import zones as ours

    assert omf.check_zone(zone) == ours.check_zone(zone)
    for t in (us(2026, 1, 15, 17, 3, 4), us(2026, 7, 15, 17, 3, 4), us(1999, 12, 31, 23, 59, 59)):
        assert omf.abbreviation(t, zone) == ours.abbreviation(t, zone)
        for date in (False, True):
            for ms in (False, True):
                for label in (False, True):
                    kw = {"date": date, "ms": ms, "label": label}
                    assert omf.fmt(t, zone, **kw) == ours.fmt(t, zone, **kw)
    assert omf.fmt(None, zone) == ours.fmt(None, zone)
    with pytest.raises(ValueError, match="unknown time zone"):
        omf.check_zone("Not/AZone")
