"""The contract between the two vocabularies: ``tests/contract/topics.csv`` (topic, payload →
category, sub-category, noisy family) checked against the replay side (``mqtt_replay.topics``,
the Session Manager's vectorised pre-filter, the recorder presets) and against the OMF
Dashboard's own copy (``apps/omf_dashboard/topics.py``), so that they cannot drift apart."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from apps.omf_dashboard.history import MessageHistory
from tests.conftest import ROOT

from apps.omf_dashboard import topics as omf
from mqtt_replay import open_session
from mqtt_replay import topics as replay
from mqtt_replay.recorder import PRESETS

CONTRACT = Path(__file__).parent / "contract" / "topics.csv"


@dataclass(frozen=True)
class Row:
    topic: str
    payload: str
    category: str
    sub_category: str
    noisy_family: str
    note: str


def load() -> list[Row]:
    with CONTRACT.open(newline="", encoding="utf-8") as f:
        return [Row(**r) for r in csv.DictReader(f)]


ROWS = load()
IDS = [f"{i}:{r.topic or '<empty>'}" for i, r in enumerate(ROWS, start=2)]


def test_the_table_covers_every_family_and_category() -> None:
    assert len(ROWS) >= 40
    assert {r.noisy_family for r in ROWS} - {""} == {f.key for f in replay.NOISY_FAMILIES}
    assert {name for _, name in replay.CATEGORY_PREFIXES} <= {r.category for r in ROWS}
    assert replay.STATUS_TOPIC in {r.topic for r in ROWS}


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_replay_side_agrees_with_the_contract(row: Row) -> None:
    family = replay.noisy_family(row.topic, row.payload)
    got = (replay.category(row.topic), replay.sub_category(row.topic), family and family.key)
    assert got == (row.category, row.sub_category, row.noisy_family or None), row.note


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_omf_side_agrees_with_the_contract(row: Row) -> None:
    got = (
        omf.category(row.topic),
        omf.sub_category(row.topic),
        omf.noisy_family(row.topic, row.payload),
    )
    assert got == (row.category, row.sub_category, row.noisy_family or None), row.note
    assert omf.is_noisy(row.topic, row.payload) == bool(row.noisy_family)
    record = MessageHistory().add("received", row.topic, row.payload, received_at=0.0)
    assert (record.category, record.sub_category, record.noisy) == (
        row.category,
        row.sub_category,
        bool(row.noisy_family),
    )


@pytest.mark.parametrize("mode", ["full", "index"])
def test_session_manager_prefilter_agrees_with_the_contract(tmp_path: Path, mode: str) -> None:
    """The Session Manager's vectorised pre-filter over a session holding the table's rows."""
    from apps.session_manager.analysis import NOISY_FAMILIES, build_view, family_of_rows

    rows = [r for r in ROWS if r.topic]  # a message needs a topic
    path = tmp_path / "contract.log"
    path.write_text(
        "".join(
            json.dumps(
                {"topic": r.topic, "payload": r.payload,
                 "timestamp": f"2026-01-15T10:00:{i % 60:02d}.000Z", "qos": 0, "retain": False}
            ) + "\n"
            for i, r in enumerate(rows)
        )
    )  # fmt: skip
    session = open_session(path, strict=True, mode=mode)  # type: ignore[arg-type]
    assert len(session) == len(rows)
    families = family_of_rows(build_view(session))
    got = [NOISY_FAMILIES[i].key if i >= 0 else "" for i in families.tolist()]
    assert got == [r.noisy_family for r in rows]


def test_recorder_presets_drop_exactly_the_topic_families() -> None:
    topic_only = {f.key for f in replay.NOISY_FAMILIES if f.action is None}
    for row in ROWS:
        dropped = {
            name
            for name, filters in PRESETS.items()
            if any(replay.matches(f, row.topic) for f in filters)
        }
        expected = set()
        if row.noisy_family in topic_only:
            expected.add("analysis")
        if row.noisy_family == "camera":
            expected.add("no_cam")
        assert dropped == expected, row


def test_both_sides_name_the_same_plant_and_status_topic() -> None:
    assert omf.REPLAY_STATUS_TOPIC == replay.STATUS_TOPIC
    assert dict(omf.KNOWN_MODULE_SERIALS) == {s: t for t, s in replay.PLANT_MODULES.items()}
    assert omf.KNOWN_AGV_SERIALS == replay.PLANT_AGVS


def test_the_omf_dashboard_imports_neither_mqtt_replay_nor_the_session_manager() -> None:
    code = (
        "import sys; import apps.omf_dashboard.app, apps.omf_dashboard.__main__; "
        "print([m for m in sys.modules if m.split('.')[0] == 'mqtt_replay' "
        "or m.startswith('apps.session_manager')])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
