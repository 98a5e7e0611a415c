"""The Session Manager's Analyse page on a big session: open → first timeline figure (cold,
building the index; warm, cached index), the server time and the bytes sent of a zoom, filter
changes, a table page far into the session and a payload fetch, and peak server RSS.

Every scenario runs in a fresh process (so ``ru_maxrss`` is that server's own peak): it builds
the app with ``create_app(ManagerConfig(sessions_dir=benchmarks/data))`` and drives its Flask
server through the test client as Dash's renderer does: POST ``/_dash-update-component`` with
the payloads the browser sends (built from ``/_dash-dependencies`` and the props of the
components the responses create or change; the sequences were checked against requests
captured from Chromium), one request after the other, each response fed back. An interaction's
*server ms* is the sum over the callbacks it fires (the renderer sends some concurrently, but
the server has to do all of them), its *bytes* the sum of their response bodies (uncompressed;
Dash does not compress). "Open" runs from the page request until the timeline figure's
response, polling the loading job every 400 ms like the page's ``dcc.Interval``; cold = an
empty index cache (``MQTT_REPLAY_CACHE``), warm = the cache the cold run built. The sessions
are generated under ``benchmarks/data`` and read once first (warm page cache).

Headless Chromium (``/usr/bin/chromium`` via Playwright; the app served by werkzeug in the
measuring process, a WSGI wrapper timing the server's work) then opens the page until the
figure is drawn: with an empty browser cache, again with its HTTP cache warm (the session
dropped from the app's cache before each, so it is read again from the index cache), and a
third time under the CPU profiler to show where the page's main thread spends its time; and,
for scale, the page alone (``/analyse`` without a session) until its empty graph is drawn.

The peer is the straightforward approach: an orjson loop into a (polars) DataFrame, then a
Plotly figure with one ``Scattergl`` marker per message (x = timestamp, y = topic) serialised to
JSON; a filter change rebuilds and resends it. It runs on smaller sessions under a time and an
RSS limit and reports where it failed.

Usage: ``python benchmarks/bench_session_manager.py [--messages 1000000 5000000]
[--peer-messages 200000 1000000] [--repeat 1] [--felt-repeat 5] [--no-browser] [--no-peer]``

Then, what the user feels (``sm_browser_journey.py``): in Chromium, every interaction from
the user's action until the page settled (no callback in flight, next frame painted), each
repeated ``--felt-repeat`` times on new targets, with the issue's bars: open ≤ 2 s warm; text
search and follow a key ≤ 1 s at 1M and ≤ 2 s at 5M; every interaction's p95 ≤ 500 ms at 5M.
(``--messages 200000 --peer-messages 200000`` for a quick run).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DATA, ROOT, ensure_session, print_table, warm

HERE = ROOT / "benchmarks"

BAR_OPEN_MS = 2000.0
BAR_MS = 300.0
BAR_BYTES = 1_000_000
BAR_RSS_MB = 1024.0
SCREEN_WIDTH = 1920  # window.innerWidth the page reports (analyse-screen)
TABLE_FRACTION = 0.8  # the table page and the payload fetch: row 4,000,000 of 5,000,000
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"]
OPEN_TIMEOUT_S = 1200.0
TREE_COUNTS = "analyse-tree-counts.data"  # first output of the tree's counts
ABSENT = object()

OPEN = "open → first figure"
NO_SESSION = "page alone (no session)"
WAVE = "  rest of the open wave"
STEPS: tuple[tuple[str, str], ...] = (  # (key, label) in the order they run
    ("zoom_wide", "zoom to 10 % of the session"),
    ("zoom_narrow", "zoom to 60 s in it"),
    ("filter_topic", "filter: untick the busiest topic"),
    ("filter_all", "filter: Show all (pre-filter off)"),
    ("table", "table page at row {row}"),
    ("payload", "payload fetch (row {row})"),
    ("table_sorted", "extra: table sorted by bytes"),
    ("more_filters", "extra: {more} quiet topics unticked, table sorted; per change"),
)
MORE_FILTERS = 10


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ============================================================== the browser's side, emulated
@dataclass
class Call:
    step: str
    what: str
    status: int
    ms: float
    bytes: int


def _id_key(ident: Any) -> str:
    """Dash's string form of a component id (dict ids: JSON with sorted keys)."""
    if isinstance(ident, dict):
        return json.dumps(ident, sort_keys=True, separators=(",", ":"))
    return str(ident)


def _matches(ident: dict[str, Any], pattern: dict[str, Any]) -> bool:
    if set(ident) != set(pattern):
        return False
    return all(v == ["ALL"] or ident[k] == v for k, v in pattern.items())


def _outputs(key: str) -> list[str]:
    """``id.prop`` of each output of a callback key (``..a.b...c.d..`` when several)."""
    return key[2:-2].split("...") if key.startswith("..") else [key]


def _first_output(key: str) -> str:
    return _outputs(key)[0].split("@")[0]


class DashClient:
    """A minimal Dash renderer over Flask's test client: it keeps the props of every component
    it has seen (layout, page content, callback outputs) and builds callback requests from
    ``/_dash-dependencies`` with those props, as the browser does."""

    def __init__(self, app: Any) -> None:
        self.http = app.server.test_client()
        self.props: dict[str, dict[str, Any]] = {}
        self.deps: list[dict[str, Any]] = []
        self.calls: list[Call] = []
        self.step = ""

    # -- component props ------------------------------------------------------------------
    def register(self, node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                self.register(item)
        elif isinstance(node, dict):
            props = node.get("props")
            if "type" in node and isinstance(props, dict):
                if "id" in props:
                    known = self.props.setdefault(_id_key(props["id"]), {})
                    known.update({k: v for k, v in props.items() if k != "children"})
                for value in props.values():
                    self.register(value)
            else:
                for value in node.values():
                    self.register(value)

    def set(self, ident: str, **props: Any) -> None:
        self.props.setdefault(ident, {}).update(props)

    def get_prop(self, ident: str, prop: str, default: Any = None) -> Any:
        return self.props.get(ident, {}).get(prop, default)

    def ids(self, pattern: dict[str, Any]) -> list[str]:
        return [k for k in self.props if k.startswith("{") and _matches(json.loads(k), pattern)]

    # -- requests -------------------------------------------------------------------------
    def get(self, url: str, what: str) -> bytes:
        t0 = time.perf_counter()
        response = self.http.get(url)
        data = response.get_data()
        ms = (time.perf_counter() - t0) * 1e3
        self.calls.append(Call(self.step, what, response.status_code, ms, len(data)))
        if response.status_code != 200:
            raise RuntimeError(f"GET {url} answered {response.status_code}")
        return data

    def load_page(self, path: str) -> None:
        self.get(path, "page HTML")
        self.register(json.loads(self.get("/_dash-layout", "_dash-layout")))
        self.deps = json.loads(self.get("/_dash-dependencies", "_dash-dependencies"))

    def _dep(self, output: str) -> dict[str, Any]:
        found = [
            d
            for d in self.deps
            if _first_output(d["output"]) == output and not d["clientside_function"]
        ]
        if len(found) != 1:
            raise LookupError(f"{len(found)} callbacks output {output!r}")
        return found[0]

    def _spec(self, ident: str, prop: str, with_value: bool) -> Any:
        def one(key: str) -> dict[str, Any]:
            spec: dict[str, Any] = {"id": json.loads(key) if key.startswith("{") else key}
            spec["property"] = prop
            value = self.props.get(key, {}).get(prop.split("@")[0], ABSENT)
            if with_value and value is not ABSENT:
                spec["value"] = value
            return spec

        if ident.startswith("{"):
            return [one(k) for k in self.ids(json.loads(ident))]
        return one(ident)

    def call(self, output: str, changed: Iterable[str]) -> dict[str, Any] | None:
        """Fires the callback whose output contains ``output``; applies and returns its
        response (None for 204 = PreventUpdate)."""
        dep = self._dep(output)
        key = dep["output"]
        multi = key.startswith("..")
        parts = _outputs(key)
        outputs = [self._spec(*p.rsplit(".", 1), with_value=False) for p in parts]
        changed = list(changed)
        body: dict[str, Any] = {
            "output": key,
            "outputs": outputs if multi else outputs[0],
            "inputs": [self._spec(i["id"], i["property"], True) for i in dep["inputs"]],
            "changedPropIds": changed,
            "parsedChangedPropsIds": [
                json.loads(c.rsplit(".", 1)[0]) if c.startswith("{") else c for c in changed
            ],
        }
        if dep["state"]:
            body["state"] = [self._spec(s["id"], s["property"], True) for s in dep["state"]]
        t0 = time.perf_counter()
        response = self.http.post("/_dash-update-component", json=body)
        data = response.get_data()
        ms = (time.perf_counter() - t0) * 1e3
        what = _first_output(key)
        self.calls.append(Call(self.step, what, response.status_code, ms, len(data)))
        if response.status_code == 204:
            return None
        if response.status_code != 200:
            raise RuntimeError(f"{what} answered {response.status_code}: {data[:800]!r}")
        answer: dict[str, Any] = json.loads(data)["response"]
        for ident, props in answer.items():
            self.props.setdefault(ident, {}).update(props)
            self.register(props)
        return answer


# ============================================================== the scenarios (in the child)
def plotly_time(us: int, tz: str) -> str:
    """A date as Plotly puts it into ``relayoutData`` after a drag-zoom: the wall clock of
    the zone the axis is drawn in."""
    from apps.session_manager import clock

    wall = float(clock.wall_ms([us], tz)[0]) / 1e3
    return datetime.fromtimestamp(wall, tz=UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def open_to_figure(c: DashClient, name: str) -> float:
    """The browser opening ``/analyse?session=name`` until the timeline figure has arrived;
    returns the seconds it took (polling included)."""
    c.step = OPEN
    t0 = time.perf_counter()
    search = f"?session={quote(name)}"
    c.load_page(f"/analyse{search}")
    c.set("_pages_location", pathname="/analyse", search=search)
    c.call("_pages_content.children", ["_pages_location.pathname", "_pages_location.search"])
    c.set("analyse-screen", data=SCREEN_WIDTH)  # clientside callback
    # the Statistics tab open: its grid is computed only when shown, and these scenarios
    # read it (and measure it on every selection change)
    c.set("analyse-tabs", active_tab="stats")
    # initial calls of the page (the first four answer at once or with 204)
    c.call("analyse-session-select.options", [])
    c.call("analyse-grid.getRowsResponse", [])
    c.set("analyse-grid", getRowsRequest={"startRow": 0, "endRow": 100, "sortModel": []})
    c.call("analyse-grid.getRowsResponse", ["analyse-grid.getRowsRequest"])
    for output in ("analyse-selection.data", "analyse-timeline.figure"):
        c.call(output, [])
    c.call(
        "analyse-session.data",
        ["analyse-load-interval.n_intervals", "analyse-session-select.value"],
    )
    interval_s = float(c.get_prop("analyse-load-interval", "interval", 400)) / 1e3
    enabled_at = time.perf_counter()
    ticks = 0
    while c.get_prop("analyse-session", "data") is None:
        if c.get_prop("analyse-load-interval", "disabled", True):
            raise RuntimeError(f"loading failed: {c.get_prop('analyse-load', 'children')}")
        if time.perf_counter() - t0 > OPEN_TIMEOUT_S:
            raise TimeoutError("the session did not load")
        ticks += 1
        time.sleep(max(0.0, enabled_at + ticks * interval_s - time.perf_counter()))
        c.set("analyse-load-interval", n_intervals=ticks)
        c.call("analyse-session.data", ["analyse-load-interval.n_intervals"])
    c.call("analyse-window-slider.max", ["analyse-session.data"])
    c.call("analyse-summary.children", ["analyse-session.data"])
    c.call("analyse-insp-header.children", ["analyse-selected.data"])
    groups = [f"{k}.value" for k in c.ids({"type": "analyse-topic-group", "index": ["ALL"]})]
    c.call(
        "analyse-selection.data",
        ["analyse-window-slider.value", *groups, "analyse-prefilter.value", "analyse-text.value"],
    )
    answer = c.call("analyse-timeline.figure", ["analyse-selected.data", "analyse-selection.data"])
    seconds = time.perf_counter() - t0
    if not answer or not answer["analyse-timeline"]["figure"].get("data"):
        raise RuntimeError("no timeline figure")
    c.step = WAVE  # what else the selection fired (concurrently in a browser)
    selection_wave(c, ["analyse-selection.data"], first=True)
    return seconds


def selection_wave(c: DashClient, changed: list[str], *, first: bool = False) -> None:
    """Everything a new ``analyse-selection`` triggers (the grid re-asks for its block);
    ``first``: the rest of it after the first figure (the timeline already ran)."""
    for output in ("analyse-stats.rowData", "analyse-plot.figure", TREE_COUNTS):
        c.call(output, changed)
    c.call("analyse-grid.getRowsResponse", ["analyse-grid.getRowsRequest"])
    if not first:
        c.call("analyse-timeline.figure", changed)


def zoom(c: DashClient, fraction: float | None, seconds: float | None) -> None:
    meta = c.get_prop("analyse-timeline-meta", "data")
    x0, x1 = int(meta["x0"]), int(meta["x1"])
    half = int((x1 - x0) * fraction / 2) if fraction else int(seconds * 1e6 / 2)
    mid = (x0 + x1) // 2
    tz = str(c.get_prop("app-tz", "value"))  # the zone the axis is drawn in
    # (the page's clientside callback passes a zoom of the time axis on as analyse-zoom)
    c.set(
        "analyse-zoom",
        data={
            "xaxis.range[0]": plotly_time(mid - half, tz),
            "xaxis.range[1]": plotly_time(mid + half, tz),
        },
    )
    c.call("analyse-visible.data", ["analyse-zoom.data"])
    c.call("analyse-timeline.figure", ["analyse-visible.data"])
    if c.get_prop("analyse-timeline-meta", "data", {}).get("mode") == "empty":
        raise RuntimeError("the zoom drew an empty timeline: its range missed the session")


def untick(c: DashClient, topic: str) -> None:
    """Unticks ``topic`` in the topic tree (one filter change)."""
    for key in c.ids({"type": "analyse-topic-group", "index": ["ALL"]}):
        values = c.props[key].get("value") or []
        if topic in values:
            c.props[key]["value"] = [v for v in values if v != topic]
            c.call("analyse-selection.data", [f"{key}.value"])
            break
    selection_wave(c, ["analyse-selection.data"])


def busiest_topics(c: DashClient) -> list[str]:
    """Topics by message count in the current selection (the Statistics grid's rows)."""
    return [str(r["topic"]) for r in c.get_prop("analyse-stats", "rowData") or []]


def show_all(c: DashClient) -> None:
    c.set("analyse-show-all", n_clicks=1)
    c.call("analyse-prefilter.value", ["analyse-show-all.n_clicks"])
    groups = [f"{k}.value" for k in c.ids({"type": "analyse-topic-group", "index": ["ALL"]})]
    c.call("analyse-selection.data", ["analyse-prefilter.value", *groups])
    selection_wave(c, ["analyse-selection.data"])


def table_block(c: DashClient, start: int, sort: list[dict[str, str]] | None = None) -> Any:
    request = {"startRow": start, "endRow": start + 100, "sortModel": sort or [], "filterModel": {}}
    c.set("analyse-grid", getRowsRequest=request)
    answer = c.call("analyse-grid.getRowsResponse", ["analyse-grid.getRowsRequest"])
    assert answer is not None
    return answer["analyse-grid"]["getRowsResponse"]


def payload_fetch(c: DashClient, row: dict[str, Any]) -> None:
    c.set("analyse-grid", selectedRows=[row])
    c.call("analyse-selected.data", ["analyse-grid.selectedRows"])
    c.call("analyse-insp-header.children", ["analyse-selected.data"])
    c.call("analyse-timeline.figure", ["analyse-selected.data"])
    follow = c.ids({"type": "analyse-follow", "index": ["ALL"]})
    if follow:  # new buttons: the renderer fires their callback once
        c.call("analyse-chain-key.value", [f"{k}.n_clicks" for k in follow])


def serve_scenario(sessions: Path, name: str, interactions: bool) -> dict[str, Any]:
    """Open (and optionally every interaction) in this process, on a fresh app."""
    from apps.session_manager.app import create_app
    from apps.session_manager.config import ManagerConfig

    app = create_app(ManagerConfig(sessions_dir=sessions))
    c = DashClient(app)
    out: dict[str, Any] = {"open_s": open_to_figure(c, name), "rss_open_mb": rss_mb()}
    rss_after: dict[str, float] = {}
    info: dict[str, Any] = {}
    if interactions:
        actions: dict[str, Callable[[], Any]] = {
            "zoom_wide": lambda: zoom(c, 0.1, None),
            "zoom_narrow": lambda: zoom(c, None, 60.0),
            "filter_topic": lambda: untick(c, busiest_topics(c)[0]),
            "filter_all": lambda: show_all(c),
        }
        for key, _label in STEPS[:4]:
            c.step = key
            actions[key]()
            rss_after[key] = rss_mb()
        total = int(c.get_prop("analyse-grid", "getRowsResponse")["rowCount"])
        start = int(total * TABLE_FRACTION) // 100 * 100
        info.update(rows=total, start=start)
        c.step = "table"
        block = table_block(c, start)
        rss_after["table"] = rss_mb()
        c.step = "payload"
        payload_fetch(c, block["rowData"][0])
        rss_after["payload"] = rss_mb()
        c.step = "table_sorted"
        table_block(c, 0, [{"colId": "size", "sort": "desc"}])
        rss_after["table_sorted"] = rss_mb()
        c.step = "more_filters"  # each selection keeps its row numbers in the view's memo
        topics = busiest_topics(c)[::-1][:MORE_FILTERS]  # the quietest: big selections stay
        for topic in topics:
            untick(c, topic)
        info["more_filters"] = len(topics)
        rss_after["more_filters"] = rss_mb()
    out.update(
        calls=[asdict(x) for x in c.calls], rss_after=rss_after, info=info, maxrss_mb=rss_mb()
    )
    return out


@dataclass
class Served:
    path: str
    start: float  # perf_counter
    end: float
    bytes: int
    figure: bool  # a timeline figure (not a 204)


class TimedWsgi:
    """Records when the server handled each request and how much it sent."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.log: list[Served] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        t0 = time.perf_counter()
        figure = False
        if environ.get("PATH_INFO") == "/_dash-update-component":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length)
            environ["wsgi.input"] = io.BytesIO(body)
            figure = b'"..analyse-timeline.figure' in body
        status: list[str] = []

        def recording_start(code: str, headers: Any, *args: Any) -> Any:
            status.append(code)
            return start_response(code, headers, *args)

        result = self.inner(environ, recording_start)
        try:
            data = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        figure = figure and bool(status) and status[0].startswith("200")
        self.log.append(
            Served(environ.get("PATH_INFO", ""), t0, time.perf_counter(), len(data), figure)
        )
        return [data]


def browser_scenario(sessions: Path, name: str) -> dict[str, Any]:
    """Headless Chromium opens the Analyse page until the timeline figure is drawn: once with
    an empty browser cache, then (session dropped from the server's cache, so it is read again
    from the index cache) once more in the same browser context, its HTTP cache warm."""
    from apps.session_manager.app import context_of, create_app
    from apps.session_manager.config import ManagerConfig
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import WSGIRequestHandler, make_server

    class Quiet(WSGIRequestHandler):
        def log_request(self, *_args: Any, **_kwargs: Any) -> None:
            pass

    app = create_app(ManagerConfig(sessions_dir=sessions))
    timed = TimedWsgi(app.server.wsgi_app)
    app.server.wsgi_app = timed  # type: ignore[method-assign]
    server = make_server("127.0.0.1", 0, app.server, threaded=True, request_handler=Quiet)
    thread = threading.Thread(target=server.serve_forever, name="bench-server", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/analyse?session={quote(name)}"
    empty_drawn = "() => !!document.querySelector('#analyse-timeline .main-svg')"
    drawn = """() => { const t = document.querySelector('#analyse-timeline .gtitle');
        return !!t && t.textContent.includes('messages in')
            && !!document.querySelector('#analyse-timeline .main-svg'); }"""
    opens: list[dict[str, Any]] = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            try:
                viewport = {"width": SCREEN_WIDTH, "height": 1080}
                alone = browser.new_context(viewport=viewport)  # the fixed cost of the page
                context = browser.new_context(viewport=viewport)
                plans = [
                    (NO_SESSION, alone, url.split("?")[0], empty_drawn),
                    ("empty browser cache", context, url, drawn),
                    ("browser cache warm", context, url, drawn),
                    ("profiled", context, url, drawn),
                ]
                for label, ctx, target, done in plans:
                    context_of(app).store.forget(name)
                    timed.log.clear()
                    page = ctx.new_page()
                    if label == "profiled":  # where the main thread's time goes (not timed)
                        cdp = ctx.new_cdp_session(page)
                        cdp.send("Profiler.enable")
                        cdp.send("Profiler.setSamplingInterval", {"interval": 1000})
                        cdp.send("Profiler.start")
                    t0 = time.perf_counter()
                    page.goto(target, wait_until="commit")
                    page.wait_for_function(done, timeout=OPEN_TIMEOUT_S * 1e3, polling=50)
                    seconds = time.perf_counter() - t0
                    title = page.evaluate(
                        "() => document.querySelector('#analyse-timeline .gtitle')?.textContent"
                    )
                    if label == "profiled":
                        profile = script_times(cdp.send("Profiler.stop")["profile"])
                        page.close()
                        break
                    page.close()
                    log = list(timed.log)
                    static = [x for x in log if x.path.startswith(("/_dash-component", "/assets"))]
                    calls = [x for x in log if x.path == "/_dash-update-component"]
                    figure = next((x for x in log if x.figure), None)
                    until = figure.end if figure else time.perf_counter()
                    opens.append(
                        {
                            "label": label,
                            "open_s": seconds,
                            "static_s": max((x.end for x in static), default=t0) - t0,
                            "static_bytes": sum(x.bytes for x in static),
                            "figure_s": figure.end - t0 if figure else None,
                            "requests": len(calls),
                            "bytes": sum(x.bytes for x in calls if x.end <= until),
                            "server_ms": sum((x.end - x.start) * 1e3 for x in calls),
                            "title": title,
                        }
                    )
            finally:
                browser.close()
    finally:
        server.shutdown()
        server.server_close()
    return {"opens": opens, "profile": profile, "maxrss_mb": rss_mb()}


def script_times(profile: dict[str, Any]) -> list[tuple[str, float]]:
    """Self time (ms) per script of a CDP CPU profile, largest first."""
    nodes = {n["id"]: n["callFrame"] for n in profile["nodes"]}
    spent: dict[str, float] = {}
    for sample, delta in zip(profile["samples"], profile["timeDeltas"], strict=True):
        frame = nodes[sample]
        where = frame["url"].rsplit("/", 1)[-1].split("?")[0] or frame["functionName"]
        where = re.sub(r"\.v\d[\w.]*?m\d{6,}", "", where)  # Dash's cache-busting suffix
        spent[where] = spent.get(where, 0.0) + delta / 1e3
    return sorted(spent.items(), key=lambda kv: -kv[1])


def peer_scenario(path: Path) -> dict[str, Any]:
    """The straightforward app: everything into a DataFrame, one marker per message."""
    import orjson
    import plotly.graph_objects as go
    import polars as pl

    out: dict[str, Any] = {}
    t0 = time.perf_counter()
    stamps: list[str] = []
    topics: list[str] = []
    payloads: list[str] = []
    with path.open("rb") as f:
        for line in f:
            o = orjson.loads(line)
            if "topic" not in o:
                continue
            stamps.append(o.get("timestamp"))
            topics.append(o["topic"])
            payloads.append(o["payload"])
    df = pl.DataFrame({"timestamp": stamps, "topic": topics, "payload": payloads})
    del stamps, topics, payloads
    df = df.with_columns(pl.col("timestamp").str.to_datetime(time_zone="UTC"))
    out["read_s"] = time.perf_counter() - t0
    out["rss_read_mb"] = rss_mb()

    def figure(frame: pl.DataFrame) -> int:
        fig = go.Figure(
            go.Scattergl(
                x=frame["timestamp"].to_numpy(),
                y=frame["topic"].to_numpy(),
                mode="markers",
                marker={"size": 4},
            )
        )
        return len(fig.to_json().encode())

    out["figure_bytes"] = figure(df)
    out["open_s"] = time.perf_counter() - t0
    out["rss_open_mb"] = rss_mb()
    from apps.session_manager.analysis import NOISY_FAMILIES  # (pulls in pyarrow: after the open)

    from mqtt_replay.topics import matches

    noisy = [
        t
        for t in df["topic"].unique().to_list()
        if any(matches(f.filter, t) for f in NOISY_FAMILIES)
    ]
    t1 = time.perf_counter()
    out["filter_bytes"] = figure(df.filter(~pl.col("topic").is_in(noisy)))
    out["filter_s"] = time.perf_counter() - t1
    start = int(len(df) * TABLE_FRACTION) // 100 * 100
    t1 = time.perf_counter()
    out["table_bytes"] = len(orjson.dumps(df.slice(start, 100).to_dicts()))
    out["table_s"] = time.perf_counter() - t1
    t1 = time.perf_counter()
    out["payload_bytes"] = len(orjson.dumps(df.row(start, named=True)))
    out["payload_s"] = time.perf_counter() - t1
    out.update(messages=len(df), start=start, maxrss_mb=rss_mb())
    return out


def child(argv: list[str]) -> None:
    """Entry of the measuring process: ``KIND SESSIONS_DIR NAME [CACHE_DIR]``."""
    kind, sessions, name = argv[0], Path(argv[1]), argv[2]
    if len(argv) > 3:
        os.environ["MQTT_REPLAY_CACHE"] = argv[3]
    if kind == "peer":
        result = peer_scenario(sessions / name)
    elif kind == "browser":
        result = browser_scenario(sessions, name)
    elif kind == "interact":
        import sm_browser_journey

        result = sm_browser_journey.run(sessions, name, int(os.environ.get("BENCH_REPEAT", "5")))
    else:
        result = serve_scenario(sessions, name, interactions=kind == "warm")
    print(json.dumps(result), flush=True)


# ============================================================== the parent
def _rss_now_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run_child(*args: str, timeout: float, rss_limit_mb: float | None = None) -> dict[str, Any]:
    """Runs :func:`child` in a fresh interpreter (own process group); a dict with ``error``
    when it failed, ran out of time or went over ``rss_limit_mb``."""
    code = (
        f"import sys; sys.path.insert(0, {str(HERE)!r}); "
        "import bench_session_manager as b; b.child(sys.argv[1:])"
    )
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", code, *args],
            stdout=out,
            stderr=err,
            cwd=ROOT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        reason = None
        peak = 0.0
        while proc.poll() is None:
            peak = max(peak, _rss_now_mb(proc.pid))
            if time.monotonic() > deadline:
                reason = f"time limit {timeout:.0f} s"
            elif rss_limit_mb and peak > rss_limit_mb:
                reason = f"RSS limit {rss_limit_mb:,.0f} MB"
            if reason:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                return {"error": reason, "maxrss_mb": peak}
            time.sleep(0.1)
        out.seek(0)
        err.seek(0)
        lines = [ln for ln in out.read().decode().splitlines() if ln.startswith("{")]
        if proc.returncode != 0 or not lines:
            tail = err.read().decode(errors="replace").strip().splitlines()[-3:]
            return {"error": f"exit {proc.returncode}: {' | '.join(tail)}", "maxrss_mb": peak}
        return dict(json.loads(lines[-1]))


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _kb(n: float) -> str:
    return f"{n / 1e3:,.1f} kB" if n < 1e6 else f"{n / 1e6:,.2f} MB"


def step_totals(run: dict[str, Any], step: str) -> tuple[int, float, int]:
    calls = [x for x in run["calls"] if x["step"] == step]
    return len(calls), sum(x["ms"] for x in calls), sum(x["bytes"] for x in calls)


def best_runs(runs: list[dict[str, Any]], step: str) -> dict[str, Any]:
    """The run in which ``step`` took least server time (best of the fresh processes)."""
    return min(runs, key=lambda r: step_totals(r, step)[1])


def bench_size(messages: int, repeat: int, browser: bool) -> dict[str, Any]:
    path = ensure_session(messages)
    warm(path)
    cache = tempfile.mkdtemp(prefix="mqtt-replay-bench-sm-cache-")
    try:
        print(f"  cold open of {path.name} …", file=sys.stderr, flush=True)
        cold = run_child("cold", str(DATA), path.name, cache, timeout=3600)
        runs = []
        for i in range(repeat):
            print(f"  warm open + interactions ({i + 1}/{repeat}) …", file=sys.stderr, flush=True)
            runs.append(run_child("warm", str(DATA), path.name, cache, timeout=3600))
        chrome: dict[str, Any] | None = None
        felt: dict[str, Any] | None = None
        if browser:
            print("  Chromium open (warm) …", file=sys.stderr, flush=True)
            chrome = run_child("browser", str(DATA), path.name, cache, timeout=1800)
            print("  Chromium interactions (click → settled) …", file=sys.stderr, flush=True)
            felt = run_child("interact", str(DATA), path.name, cache, timeout=3600)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    for label, r in [("cold", cold), *((f"warm #{i + 1}", r) for i, r in enumerate(runs))]:
        if "error" in r:
            raise RuntimeError(f"{label} run failed: {r['error']}")

    rows: list[list[object]] = []
    n, ms, size = step_totals(cold, OPEN)
    rows.append(
        [
            f"{OPEN}, cold (builds the index)",
            n,
            f"{cold['open_s'] * 1e3:,.0f}",
            _kb(size),
            "-",
            "info",
        ]
    )
    best = min(runs, key=lambda r: float(r["open_s"]))
    n, ms, size = step_totals(best, OPEN)
    warm_ms = best["open_s"] * 1e3
    rows.append(
        [
            f"{OPEN}, warm (cached index)",
            n,
            f"{warm_ms:,.0f}",
            _kb(size),
            f"≤ {BAR_OPEN_MS:,.0f} ms",
            _verdict(warm_ms <= BAR_OPEN_MS),
        ]
    )
    n, ms, size = step_totals(best_runs(runs, WAVE), WAVE)
    rows.append([f"{WAVE} (tree, stats, grid)", n, f"{ms:,.0f}", _kb(size), "-", "info"])
    info = runs[0]["info"]
    row_text = f"{info['start']:,}"
    for key, label in STEPS:
        n, ms, size = step_totals(best_runs(runs, key), key)
        per = max(int(info.get("more_filters", 1)), 1) if key == "more_filters" else 1
        ms, size = ms / per, size / per
        ok = ms <= BAR_MS and size <= BAR_BYTES
        bar = f"≤ {BAR_MS:.0f} ms, ≤ 1 MB"
        text = label.format(row=row_text, more=per)
        rows.append([text, n // per, f"{ms:,.0f}", _kb(size), bar, _verdict(ok)])
    browser_rows: list[list[object]] = []
    if chrome is not None and "error" in chrome:
        bar = f"≤ {BAR_OPEN_MS:,.0f} ms"
        rows.append([f"{OPEN} in Chromium", "-", "failed", "-", bar, f"FAIL ({chrome['error']})"])
    elif chrome is not None:
        for o in chrome["opens"]:
            ms = o["open_s"] * 1e3
            browser_rows.append(
                [
                    o["label"],
                    _kb(o["static_bytes"]),
                    f"{o['static_s'] * 1e3:,.0f}",
                    f"{o['figure_s'] * 1e3:,.0f}" if o["figure_s"] is not None else "-",
                    f"{ms:,.0f}",
                    o["requests"],
                    f"{o['server_ms']:,.0f}",
                ]
            )
            if o["label"] == NO_SESSION:
                continue
            # The issue asks for this once in a real browser, without a bar of its own (the
            # 2 s bar is the server's open-to-figure); next to it, the page without a session.
            alone = [x["open_s"] * 1e3 for x in chrome["opens"] if x["label"] == NO_SESSION]
            rows.append(
                [
                    f"{OPEN} in Chromium, {o['label']}",
                    o["requests"],
                    f"{ms:,.0f}",
                    _kb(o["bytes"]),
                    "-",
                    f"info (page alone {alone[0]:,.0f} ms)" if alone else "info",
                ]
            )

    rss_rows: list[list[object]] = []
    procs = [
        ("cold open", cold),
        *((f"warm open + all interactions #{i + 1}", r) for i, r in enumerate(runs)),
    ]
    if chrome is not None and "error" not in chrome:
        procs.append(("Chromium open (werkzeug server)", chrome))
    for label, r in procs:
        peak = float(r["maxrss_mb"])
        after_open = r.get("rss_open_mb")
        rss_rows.append(
            [
                label,
                f"{after_open:,.0f}" if after_open else "-",
                f"{peak:,.0f}",
                f"≤ {BAR_RSS_MB:,.0f} MB",
                _verdict(peak <= BAR_RSS_MB),
            ]
        )
    for key, _label in STEPS:
        peak = float(runs[0]["rss_after"][key])
        rss_rows.append(
            [f"  warm #1, peak after {key}", "", f"{peak:,.0f}", "", _verdict(peak <= BAR_RSS_MB)]
        )

    detail: list[list[object]] = []
    for step in (OPEN, WAVE, *(k for k, _ in STEPS if k != "more_filters")):
        run = best if step == OPEN else best_runs(runs, step)
        for x in run["calls"]:
            if x["step"] == step and (x["ms"] >= 1.0 or x["bytes"] >= 1000):
                detail.append(
                    [step.strip(), x["what"], x["status"], f"{x['ms']:,.1f}", _kb(x["bytes"])]
                )
    generic = [str(r[0]) for r in rows]
    for i, (_key, label) in enumerate(STEPS):
        generic[3 + i] = label.format(row=f"{TABLE_FRACTION:.0%} of the rows", more=MORE_FILTERS)
    return {
        "path": path,
        "felt": felt_rows(felt, messages) if felt is not None else [],
        "felt_raw": felt,
        "main": rows,
        "generic": generic,
        "rss": rss_rows,
        "detail": detail,
        "browser": browser_rows,
        "chrome": chrome,
    }


BAR_FELT_MS = 500.0  # every interaction's p95 at 5M
BAR_SEARCH_MS = {1_000_000: 1000.0, 5_000_000: 2000.0}  # text search and follow a key


def felt_rows(felt: dict[str, Any], messages: int) -> list[list[object]]:
    """Rows of the click → settled table with their bars (issue 11): open → first figure
    ≤ 2 s (warm; open until settled, and the first open in a fresh browser profile, are shown
    for reference); text
    search and follow a key ≤ 1 s at 1M and ≤ 2 s at 5M; every interaction's p95 ≤ 500 ms at
    5M. The text search is judged after the search box's 500 ms typing pause."""
    if "error" in felt:
        return [["click → settled in Chromium", "-", "-", "-", "-", "-", f"FAIL ({felt['error']})"]]
    rows: list[list[object]] = []
    search_bar = BAR_SEARCH_MS.get(messages)
    for r in felt["rows"]:
        label = str(r["label"])
        bar: float | None = None
        if label.startswith("open → first"):
            bar = BAR_OPEN_MS  # the bar: open → first figure ≤ 2 s warm
        elif label.startswith(("open", "first open")):
            # until everything settled, and the first open of a fresh browser profile on a
            # server that reads the session (not a warm open): shown for reference
            bar = None
        elif label.startswith("follow") or label.endswith("(after the typing pause)"):
            bar = search_bar
        elif label.startswith("text search"):
            bar = None  # shown with the pause for reference; judged above without it
        elif messages >= 5_000_000:
            bar = BAR_FELT_MS
        p95 = float(r["p95_ms"])
        rows.append(
            [
                label,
                r["n"],
                f"{r['median_ms']:,.0f}",
                f"{p95:,.0f}",
                f"{r['callbacks']:.0f}",
                f"p95 ≤ {bar:,.0f} ms" if bar else "-",
                _verdict(p95 <= bar) if bar else "info",
            ]
        )
    return rows


def bench_peer(messages: int, timeout: float, rss_limit: float) -> list[list[object]]:
    path = ensure_session(messages)
    warm(path)
    print(f"  peer on {path.name} …", file=sys.stderr, flush=True)
    r = run_child("peer", str(DATA), path.name, timeout=timeout, rss_limit_mb=rss_limit)
    if "error" in r:
        return [
            [f"{messages:,}", "open → figure", "failed", "-", f"{r['maxrss_mb']:,.0f}", r["error"]]
        ]
    rss = f"{r['maxrss_mb']:,.0f}"
    return [
        [
            f"{messages:,}",
            "open → figure (read + figure JSON)",
            f"{r['open_s'] * 1e3:,.0f}",
            _kb(r["figure_bytes"]),
            rss,
            f"read alone {r['read_s']:.1f} s",
        ],
        [
            f"{messages:,}",
            "zoom",
            "0",
            "0 B",
            "",
            "client-side: every point is already in the browser",
        ],
        [
            f"{messages:,}",
            "filter: pre-filter topics off",
            f"{r['filter_s'] * 1e3:,.0f}",
            _kb(r["filter_bytes"]),
            "",
            "new figure, resent whole",
        ],
        [
            f"{messages:,}",
            f"table page at row {r['start']:,}",
            f"{r['table_s'] * 1e3:,.1f}",
            _kb(r["table_bytes"]),
            "",
            "DataFrame slice",
        ],
        [
            f"{messages:,}",
            "payload fetch",
            f"{r['payload_s'] * 1e3:,.2f}",
            _kb(r["payload_bytes"]),
            "",
            "DataFrame row",
        ],
    ]


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--messages",
        type=int,
        nargs="+",
        default=[1_000_000, 5_000_000],
        help="session sizes (generated under benchmarks/data)",
    )
    ap.add_argument(
        "--peer-messages",
        type=int,
        nargs="*",
        default=[200_000, 1_000_000],
        help="session sizes for the peer",
    )
    ap.add_argument("--repeat", type=int, default=1, help="warm processes per size (best of)")
    ap.add_argument("--no-browser", action="store_true", help="skip the Chromium measurement")
    ap.add_argument(
        "--felt-repeat", type=int, default=5, help="repetitions of each interaction in Chromium"
    )
    ap.add_argument("--no-peer", action="store_true", help="skip the peer")
    ap.add_argument("--peer-timeout", type=float, default=600.0, help="seconds (%(default)s)")
    ap.add_argument("--peer-rss-limit-mb", type=float, default=8000.0, help="(%(default)s)")
    args = ap.parse_args()
    browser = not args.no_browser and Path(CHROMIUM).exists()
    os.environ["BENCH_REPEAT"] = str(max(args.felt_repeat, 1))
    results = []
    for messages in args.messages:
        r = bench_size(messages, max(args.repeat, 1), browser)
        results.append((messages, r))
        path: Path = r["path"]
        print_table(
            f"Session Manager, Analyse page on {path.name} ({path.stat().st_size / 1e9:.2f} GB, "
            f"{messages:,} messages; warm page cache; Flask test client, a fresh process each)",
            ["scenario", "requests", "server ms", "bytes sent", "bar", "result"],
            r["main"],
        )
        print(
            "  server ms: open = wall time from the page request until the figure's response "
            "(the page's 400 ms polls included); Chromium = until the figure is drawn; an "
            "interaction = the sum of the server times of the callbacks it fires"
        )
        if r["felt"]:
            print_table(
                f"What the user feels in Chromium, {path.name}: click → settled (no callback "
                "in flight, next frame painted), 1440×900, waitress",
                ["interaction", "n", "median ms", "p95 ms", "callbacks", "bar", "result"],
                r["felt"],
            )
            print(f"  screenshot: {r['felt_raw'].get('screenshot')}")
        if r["browser"]:
            print_table(
                f"Open in Chromium, {path.name} (ms from navigation; server = the same process)",
                [
                    "browser",
                    "JS/CSS sent",
                    "JS/CSS served",
                    "figure response",
                    "figure drawn",
                    "callbacks",
                    "server busy ms",
                ],
                r["browser"],
            )
            print(f"  {NO_SESSION}: /analyse without a session, until its empty graph is drawn")
            top = ", ".join(f"{k} {v:,.0f} ms" for k, v in r["chrome"]["profile"][:8])
            print(f"  main-thread self time of a third (profiled) open: {top}")
            print(f"  drawn: {r['chrome']['opens'][-1]['title']}")
        print_table(
            f"Peak server RSS, {path.name}",
            ["process", "after open MB", "peak MB", "bar", "result"],
            r["rss"],
        )
        print_table(
            f"Callbacks per step, {path.name} (those ≥ 1 ms or ≥ 1 kB)",
            ["step", "callback (first output)", "status", "server ms", "bytes"],
            r["detail"],
        )
    if len(results) > 1:
        header = ["scenario"]
        for messages, _ in results:
            header += [f"ms @ {messages:,}", f"bytes @ {messages:,}"]
        cells = [
            {g: (m[2], m[3]) for g, m in zip(r["generic"], r["main"], strict=True)}
            for _, r in results
        ]
        rows = []
        for label in dict.fromkeys(g for r in results for g in r[1]["generic"]):
            row: list[object] = [label]
            for by_label in cells:
                row += list(by_label.get(label, ("-", "-")))
            rows.append(row)
        print_table("Scaling with the session size (same scenarios as above)", header, rows)
    if not args.no_peer:
        rows = []
        for messages in args.peer_messages:
            rows += bench_peer(messages, args.peer_timeout, args.peer_rss_limit_mb)
        print_table(
            "Peer: orjson loop → polars DataFrame → Plotly figure with one Scattergl marker per "
            f"message, as JSON (limits {args.peer_timeout:.0f} s, "
            f"{args.peer_rss_limit_mb:,.0f} MB RSS)",
            ["messages", "step", "server ms", "bytes sent", "peak RSS MB", "note"],
            rows,
        )


if __name__ == "__main__":
    main()
