"""The Replay Station's fidelity card for a replay that failed (the engine's `failed` state:
no progress from the broker), with the reasons messages failed."""

from __future__ import annotations

import json

from apps.session_manager.replay_panels import report_card


def test_a_failed_replay_reads_as_failed_with_its_reasons() -> None:
    report = {
        "state": "failed",
        "sent": 120,
        "total": 400,
        "failed": 3,
        "loops": 0,
        "elapsed_s": 4.0,
        "error": "broker 127.0.0.1:1883: no progress for 60.0 s, giving up (connection refused)",
        "failures": {"not sent: topic contains a wildcard (+ or #)": 2, "lost: …": 1},
    }
    card = report_card(report).to_plotly_json()
    text = json.dumps(card, default=lambda o: o.to_plotly_json(), ensure_ascii=False)
    assert "failed (the broker made no progress)" in text
    assert '"failed"' in text and "danger" in text
    assert "2 × not sent: topic contains a wildcard" in text
    assert "giving up" in text and "None" not in text
