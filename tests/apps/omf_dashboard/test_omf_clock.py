"""One clock on the OMF Dashboard: every time in the configured zone, labelled with it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from apps.omf_dashboard.__main__ import main
from apps.omf_dashboard.config import DashboardConfig
from apps.omf_dashboard.entities import CameraFrame, Environment
from apps.omf_dashboard.history import MessageHistory
from apps.omf_dashboard.pages import messages
from apps.omf_dashboard.zones import local_zone

from apps.omf_dashboard import factory_cards

NY = "America/New_York"
# 2026-01-15 17:03:04.250 UTC = 12:03:04 EST
RECEIVED = datetime(2026, 1, 15, 17, 3, 4, 250_000, tzinfo=UTC).timestamp()


def test_config_zone_default_and_validation() -> None:
    assert DashboardConfig().tz == local_zone()
    assert DashboardConfig(tz=NY).tz == NY
    assert DashboardConfig.from_env({}, tz=None).tz == local_zone()
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        DashboardConfig(tz="Mars/Olympus")


def test_cli_refuses_an_unknown_zone(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--tz", "Europe/Berlinn"]) == 2
    assert "unknown time zone 'Europe/Berlinn'" in capsys.readouterr().err


def test_cards_show_receive_times_in_the_zone_labelled() -> None:
    assert factory_cards.clock_text(RECEIVED, NY) == "12:03:04 EST"
    assert factory_cards.clock_text(RECEIVED, "UTC") == "17:03:04 UTC"
    assert factory_cards.clock_text(None, NY) == "—"
    sensors = str(factory_cards.sensors_panel(Environment(updated_at=RECEIVED), {}, NY))
    assert "TXT readings received 12:03:04 EST" in sensors
    frame = CameraFrame("data:image/jpeg;base64,AA", "2026-01-15T09:01:07.038Z", RECEIVED)
    caption = "frame 2026-01-15 04:01:07 EST · received 12:03:04 EST"
    assert caption in str(factory_cards.camera_panel(frame, None, NY))
    # a payload clock without a zone is shown as the payload has it
    assert factory_cards.payload_clock_text("2026-01-15T09:01:07", NY) == "2026-01-15T09:01:07"
    assert factory_cards.payload_clock_text("garbage", NY) == "garbage"
    assert factory_cards.payload_clock_text(None, NY) == "?"


def test_message_center_times_in_the_zone() -> None:
    record = MessageHistory().add("received", "ccu/state", "{}", received_at=RECEIVED)
    assert messages.row_of(record, NY)["time"] == "12:03:04.250"
    facts = messages.detail_of(record, NY)[1].children
    assert "received · 12:03:04.250 EST · QoS" in facts
    (time_column,) = [c for c in messages.column_defs(NY) if c["field"] == "time"]
    assert time_column["headerName"].replace("\u200b", "") == "time (America/New_York)"
