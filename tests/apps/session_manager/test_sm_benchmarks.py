"""The Benchmarks page: lists the bench reports of mqtt-data/reports and opens them."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from urllib.request import urlopen

import numpy as np
import pytest
from apps.session_manager.app import create_app, shutdown
from apps.session_manager.config import ManagerConfig
from apps.session_manager.pages.benchmarks import report_rows

from mqtt_replay.bench_metrics import PlantPlan, analyse
from mqtt_replay.bench_report import write_reports

TIMEOUT = 20_000
T0 = 1_800_000_000_000_000_000


def _report(name: str, plants: int = 3, lose: int = 0) -> dict[str, Any]:
    """A bench report as run_bench writes it, from a schedule and arrivals made up here."""
    plans = []
    topics: list[str] = []
    index: list[int] = []
    arrivals: list[int] = []
    for k in range(1, plants + 1):
        n = 400
        names = [f"plant-{k}/a", f"plant-{k}/b"]
        codes = np.arange(n, dtype=np.int32) % 2
        due = T0 + np.arange(n, dtype=np.int64) * 5_000_000
        plans.append(PlantPlan(k, f"plant-{k}/", names, codes, due))
        topics += names
        for i in range(n - (lose if k == 1 else 0)):
            index.append(len(topics) - 2 + int(codes[i]))
            arrivals.append(int(due[i]) + 1_000_000 + k * 100_000)
    probe = {
        "topics": topics,
        "topic_index": np.asarray(index, "<u4").tobytes(),
        "arrival_ns": np.asarray(arrivals, "<i8").tobytes(),
        "size": np.full(len(index), 120, "<u4").tobytes(),
        "dup": np.zeros(len(index), np.uint8).tobytes(),
    }
    step = analyse(plans, probe)
    step.update(
        label="",
        speed=10.0,
        duration_s=None,
        publish_s=2.0,
        sent=step["expected"],
        failed=0,
        publisher_lateness_p99_ms=0.2,
        cpu={"tool_pct": 12.0, "broker_pct": 30.0, "machine_pct": 40.0, "cores": 2},
        errors=[],
        bottleneck="none: load served",
    )
    return {
        "tool": "mqtt-replay bench",
        "version": "test",
        "name": name,
        "started_at": "2026-12-01T20:00:00+00:00",
        "broker": "mqtt://127.0.0.1:1883",
        "qos": 1,
        "plants": plants,
        "prefix": "plant-{k}/",
        "stagger_s": 0.0,
        "sessions": ["/tmp/generated.log"],
        "fleet_mean_rate": 600.0,
        "mode": "speed",
        "speed": 10.0,
        "rate": None,
        "ramp": None,
        "slo": {"loss": 0.0},
        "slo_ok": lose == 0,
        "slo_violations": [] if lose == 0 else ["run: loss"],
        "knee": None,
        "machine": {"cores": 2, "cpu": "test"},
        "errors": [],
        "steps": [step],
    }


def test_rows_list_bench_reports_newest_first(tmp_path: Path) -> None:
    write_reports(_report("bench-old"), tmp_path)
    write_reports(_report("bench-new", lose=7), tmp_path)
    old = tmp_path / "bench-old.json"
    old.touch()
    (tmp_path / "bench-new.json").touch()
    (tmp_path / "other.json").write_text(json.dumps({"tool": "something else"}))
    (tmp_path / "broken.json").write_text("{")
    (tmp_path / "lonely.html").write_text("<html></html>")
    rows = report_rows(tmp_path)
    assert [r["name"] for r in rows][:2] in (["bench-new", "bench-old"], ["bench-old", "bench-new"])
    assert {r["name"] for r in rows} == {"bench-new", "bench-old", "lonely"}
    new = next(r for r in rows if r["name"] == "bench-new")
    assert new["lost"] == "7" and not new["ok"] and new["html"] == "bench-new.html"
    assert new["started_us"] == 1_796_155_200_000_000  # 2026-12-01T20:00:00+00:00
    assert report_rows(tmp_path / "missing") == []


@pytest.fixture
def app_url(tmp_path: Path, serve_dash: Callable[[Any], str]) -> Iterator[tuple[str, Path]]:
    sessions = tmp_path / "mqtt-data" / "sessions"
    sessions.mkdir(parents=True)
    reports = tmp_path / "mqtt-data" / "reports"
    write_reports(_report("bench-20261201-200000"), reports)
    (tmp_path / "mqtt-data" / "secret.html").write_text("not a report")
    app = create_app(ManagerConfig(sessions_dir=sessions))
    try:
        yield serve_dash(app), reports
    finally:
        shutdown(app)


@pytest.mark.e2e
def test_page_lists_a_report_and_opens_it(app_url: tuple[str, Path], chromium: Any) -> None:
    from playwright.sync_api import expect

    base, _reports = app_url
    context = chromium.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text[:300]) if m.type == "error" else None)
    page.goto(base + "/")
    page.click("#nav-benchmarks")
    expect(page.locator("#bench-table")).to_contain_text("bench-20261201-200000")
    # started times in the zone the user picked (the app's default first), like every page
    expect(page.locator("#bench-table")).to_contain_text("2026-12-01 21:00:00 CET")
    expect(page.locator("#bench-dir")).to_contain_text("times in Europe/Berlin")
    page.locator("#app-tz").select_option("UTC")
    expect(page.locator("#bench-table")).to_contain_text("2026-12-01 20:00:00 UTC")
    expect(page.locator("#bench-dir")).to_contain_text("times in UTC")
    expect(page.locator("#bench-table")).to_contain_text("602")  # 3 plants × 200 msg/s offered
    with context.expect_page() as popup:
        page.get_by_role("link", name="report").click()
    report = popup.value
    report_errors: list[str] = []
    report.on("console", lambda m: report_errors.append(m.text) if m.type == "error" else None)
    report.wait_for_load_state()
    expect(report.locator("#bench-summary")).to_contain_text("1,200")
    expect(report.locator(".js-plotly-plot .main-svg").first).to_be_visible()
    assert report.locator(".js-plotly-plot").count() == 3
    context.close()
    assert not errors and not report_errors, (errors, report_errors)
    # the route serves only report files of the reports directory
    for bad in ("..%2Fsecret.html", "bench-20261201-200000.txt", "%2E%2E/secret.html"):
        with pytest.raises(HTTPError) as info:
            urlopen(f"{base}/bench-reports/{bad}", timeout=10)
        info.value.close()
        assert info.value.code == 404
