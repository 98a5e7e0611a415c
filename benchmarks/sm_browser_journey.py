"""What a user feels on the Analyse page: each interaction measured in headless Chromium from
the user's action until the page has settled — no Dash callback in flight, the last response
processed and the next frame painted — on a big generated session.

The page gets a small init script that wraps ``window.fetch``: it counts requests to
``/_dash-update-component`` in flight and, when one has been read and handed to Dash, stamps
the first moment after the next animation frame (a ``setTimeout`` inside
``requestAnimationFrame`` runs after that frame is painted). An interaction has settled when
at least one callback ran, none is in flight and none started for ``QUIET_MS``; its time is
the last such stamp minus the action's start: the first input event the action caused in
the page (``mousedown``, ``mouseup``, ``keydown`` or ``input``, seen in the capture phase), so
Playwright's own wait for an element to be visible and stable is not counted; an open has no
input event and runs from just before the navigation (absolute times: ``timeOrigin + now``).
The server is the app as ``make run`` serves it (waitress, 16 threads), in this process; the
browser is Debian's Chromium.

Interactions, each repeated (``REPEAT`` times, different targets each time, so no answer
comes from a cache the previous repetition filled):
open (warm index cache, until the timeline is drawn and the page settled; the first open, in a
fresh browser profile on a server that has not read the session yet, is reported on its own
row, and the repeated opens are those of a returning user: same profile, warm caches); zoom (from the
release of a drag over 10 % of the timeline) and zoom out (a double-click, from its first
press); the pre-filter switch; a table header
click (sort by size); a text search over all messages (typed into the search box: the box
waits 500 ms after the last key before it asks, so the time is reported with and without that
pause); follow a key (type it on the Follow key tab, press Follow); select a message (click a
table row) and step to the next (the ``j`` key).
"""

from __future__ import annotations

import re
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

REPEAT = 5
QUIET_MS = 400.0
TIMEOUT_S = 120.0
DEBOUNCE_MS = 500.0  # dbc.Input(debounce=0.5) of the search box
VIEWPORT = {"width": 1440, "height": 900}
FIRST_OPEN = "first open (fresh browser profile; server reads the session) → settled"
FIRST_FIGURE = "first open (fresh browser profile; server reads the session) → first figure"

INIT_SCRIPT = """
(() => {
  const b = {inflight: 0, started: 0, lastStart: 0, lastSettled: 0, log: []};
  window.__bench = b;
  const stamp = () => requestAnimationFrame(() => setTimeout(() => {
    b.lastSettled = performance.now();
  }, 0));
  // The first frame painted with the timeline's figure (its title names the messages).
  const figure = new MutationObserver(() => {
    const t = document.querySelector('#analyse-timeline .gtitle');
    if (!t || !t.textContent.includes('messages in')) return;
    figure.disconnect();
    requestAnimationFrame(() => setTimeout(() => { b.firstFigure = performance.now(); }, 0));
  });
  figure.observe(document, {childList: true, subtree: true, characterData: true});
  // The user's input events (capture phase: before the page handles them), in page time: an
  // action is timed from its first event, not from when Playwright began waiting for the
  // element to be visible, stable and hit-testable.
  b.inputs = [];
  for (const type of ['mousedown', 'mouseup', 'keydown', 'input']) {
    window.addEventListener(type, () => {
      b.inputs.push(performance.now());
      if (b.inputs.length > 64) b.inputs.shift();
    }, true);
  }
  const original = window.fetch.bind(window);
  window.fetch = (input, init) => {
    const url = typeof input === 'string' ? input : input.url;
    if (!url.includes('_dash-update-component')) return original(input, init);
    b.inflight += 1; b.started += 1; b.lastStart = performance.now();
    let output = '?';
    try { output = JSON.parse(init.body).output.slice(0, 80); } catch (e) {}
    const entry = {output, start: b.lastStart, headers: 0, done: 0};
    b.log.push(entry);
    let counted = false;
    const done = () => {
      if (!counted) { counted = true; b.inflight -= 1; entry.done = performance.now(); stamp(); }
    };
    return original(input, init).then((res) => {
      entry.headers = performance.now();
      if (res.status !== 200) { done(); return res; }
      const json = res.json.bind(res);
      res.json = () => json().finally(done);
      return res;
    }, (err) => { done(); throw err; });
  };
})();
"""

SETTLED = """([since, started, quiet]) => {
  const b = window.__bench, now = performance.now();
  return b.started > started && b.inflight === 0 && b.lastSettled >= b.lastStart
      && now - b.lastStart >= quiet && now - b.lastSettled >= 50;
}"""


def _serve(app: Any) -> tuple[Any, int, threading.Thread]:
    from apps.serving import THREADS
    from waitress import create_server

    server = create_server(app.server, host="127.0.0.1", port=0, threads=THREADS)
    thread = threading.Thread(target=server.run, name="bench-waitress", daemon=True)
    thread.start()
    return server, int(server.effective_port), thread


class Meter:
    """Times user actions on one page until the page settles."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.results: dict[str, list[dict[str, float]]] = {}
        self.traces: dict[str, list[list[tuple[str, int, int, int]]]] = {}

    def measure(
        self,
        label: str,
        action: Any,
        *,
        ready: str | None = None,
        first_figure: str | None = None,
    ) -> float:
        """Runs ``action()`` and waits until the page settled (and ``ready``, a JS predicate,
        holds); returns and records ms from the action's start. With ``first_figure`` (a
        label), also records when the timeline's first figure was painted (for an open).

        Times are absolute (``timeOrigin + now``): an open navigates, and the new document's
        clock starts at its navigation, not at the old page's."""
        page = self.page
        started = int(page.evaluate("() => window.__bench.started"))
        t0 = float(page.evaluate("() => performance.timeOrigin + performance.now()"))
        action()
        page.wait_for_function(
            SETTLED, arg=[t0, started, QUIET_MS], timeout=TIMEOUT_S * 1e3, polling=20
        )
        if ready:
            page.wait_for_function(ready, timeout=TIMEOUT_S * 1e3, polling=20)
        b = page.evaluate("() => ({...window.__bench, origin: performance.timeOrigin})")
        origin = float(b["origin"])
        # from the action's first input event (a navigation has none: from the request)
        t0 = min((origin + t for t in b["inputs"] if origin + t >= t0), default=t0)
        ms = origin + float(b["lastSettled"]) - t0
        callbacks = float(int(b["started"]) - started)
        self.results.setdefault(label, []).append({"ms": ms, "callbacks": callbacks})
        if first_figure:
            figure_ms = origin + float(b["firstFigure"]) - t0
            self.results.setdefault(first_figure, []).append(
                {"ms": figure_ms, "callbacks": callbacks}
            )
        self.traces.setdefault(label, []).append(
            [
                (
                    e["output"],
                    round(origin + e["start"] - t0),
                    round(origin + e["headers"] - t0),
                    round(origin + e["done"] - t0),
                )
                for e in b["log"][started:]
            ]
        )
        return ms


def _p95(values: list[float]) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


def summarise(results: dict[str, list[dict[str, float]]]) -> list[dict[str, Any]]:
    out = []
    for label, runs in results.items():
        ms = [r["ms"] for r in runs]
        out.append(
            {
                "label": label,
                "n": len(ms),
                "median_ms": statistics.median(ms),
                "p95_ms": _p95(ms),
                "max_ms": max(ms),
                "callbacks": statistics.median([r["callbacks"] for r in runs]),
            }
        )
    return out


def _keys(path: Path, count: int) -> tuple[list[str], list[str]]:
    """Distinct order ids and module serials of the session (business keys to search for)."""
    from mqtt_replay import open_session

    session = open_session(path, mode="index")
    n = len(session)
    rows = [int(n * (i + 1) / 2001) for i in range(2000)]
    orders: list[str] = []
    for text in session.payloads(rows):
        for found in re.findall(r'"orderId"\s*:\s*"([0-9a-f-]{20,})"', text):
            if found not in orders:
                orders.append(found)
    serials = sorted(set(re.findall(r"SVR[0-9A-Z]{7}", " ".join(session.payloads(rows[:300])))))
    return orders[: count * 2], serials


def run(sessions: Path, name: str, repeat: int = REPEAT) -> dict[str, Any]:
    """Serves the app on ``sessions`` and drives Chromium through every interaction on
    session ``name`` (its index cached already: a warm open)."""
    from apps.session_manager.app import create_app
    from apps.session_manager.config import ManagerConfig
    from playwright.sync_api import sync_playwright

    orders, serials = _keys(sessions / name, repeat)
    if len(orders) < 2 * repeat or len(serials) < 2:
        raise RuntimeError(f"{name}: too few business keys ({len(orders)} orders, {serials})")
    app = create_app(ManagerConfig(sessions_dir=sessions))
    server, port, thread = _serve(app)
    url = f"http://127.0.0.1:{port}/analyse?session={quote(name)}"
    drawn = """() => { const t = document.querySelector('#analyse-timeline .gtitle');
        return !!t && t.textContent.includes('messages in')
            && !!document.querySelector('#analyse-grid .ag-row[row-index="0"]'); }"""
    inspector = "(row) => (document.querySelector('#analyse-insp-header')?.textContent || '')"
    profile = tempfile.mkdtemp(prefix="mqtt-replay-bench-chromium-")
    try:
        with sync_playwright() as pw:
            # A browser profile on disk, as a user's browser has: its HTTP cache and V8's
            # code cache persist between opens (an incognito context keeps no code cache, so
            # every open would compile plotly.js's 4.8 MB again, ~0.7 s on this machine).
            context = pw.chromium.launch_persistent_context(
                profile,
                executable_path="/usr/bin/chromium",
                headless=True,
                args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
                viewport=VIEWPORT,
            )
            try:
                context.add_init_script(INIT_SCRIPT)
                page = context.new_page()
                meter = Meter(page)
                # The first open: a fresh profile (nothing cached in the browser) and a
                # server that reads the session into memory (its index cached already).
                meter.measure(
                    FIRST_OPEN,
                    lambda page=page: page.goto(url, wait_until="commit"),
                    ready=drawn,
                    first_figure=FIRST_FIGURE,
                )
                for _ in range(repeat):  # open again: a fresh page each time, browser warm
                    page.close()
                    page = context.new_page()
                    meter.page = page
                    meter.measure(
                        "open → timeline drawn, page settled",
                        lambda page=page: page.goto(url, wait_until="commit"),
                        ready=drawn,
                        first_figure="open → first timeline figure painted",
                    )
                timeline = page.locator("#analyse-timeline .nsewdrag").first
                for i in range(repeat):
                    box = timeline.bounding_box()
                    assert box is not None
                    x0 = box["x"] + box["width"] * (0.1 + 0.15 * i)
                    y = box["y"] + box["height"] * 0.5

                    page.mouse.move(x0, y)  # the drag itself is the user's, not the app's
                    page.mouse.down()
                    page.mouse.move(x0 + box["width"] * 0.05, y + 2, steps=4)
                    page.mouse.move(x0 + box["width"] * 0.1, y + 4, steps=4)
                    meter.measure(
                        "zoom in (release a drag over 10 % of the timeline)",
                        lambda: page.mouse.up(),
                    )

                    def reset(x: float = box["x"] + box["width"] / 2, y: float = y) -> None:
                        page.mouse.dblclick(x, y)

                    meter.measure("zoom out (double-click, gesture included)", reset)
                switch = page.locator("#analyse-prefilter")
                for _ in range(repeat):
                    meter.measure("pre-filter switch", lambda: switch.click())
                header = page.locator(
                    '#analyse-grid .ag-header-cell[col-id="size"] .ag-header-cell-label'
                )
                for _ in range(repeat):
                    meter.measure("sort: click the bytes header", lambda: header.click())
                search = page.locator("#analyse-text")
                for i in range(repeat):
                    key = orders[i]
                    meter.measure(
                        "text search over all messages (incl. 500 ms typing pause)",
                        lambda key=key: search.fill(key),
                    )
                    meter.measure("clear the search", lambda: search.fill(""))
                page.locator("#analyse-tabs .nav-link", has_text="Follow key").click()
                chain_key = page.locator("#analyse-chain-key")
                go = page.locator("#analyse-chain-go")
                for i in range(repeat):
                    chain_key.fill(orders[repeat + i])
                    meter.measure("follow a key (press Follow)", lambda: go.click())
                page.locator("#analyse-tabs .nav-link", has_text="Messages").click()
                page.wait_for_timeout(300)
                cells = page.locator('#analyse-grid .ag-row .ag-cell[col-id="topic"]')
                for i in range(repeat):
                    row = cells.nth(2 + 3 * i)
                    meter.measure("select a message (click a row)", lambda row=row: row.click())
                    meter.measure("step to the next message (j)", lambda: page.keyboard.press("j"))
                title = page.evaluate(
                    "() => document.querySelector('#analyse-timeline .gtitle')?.textContent"
                )
                shown = page.evaluate(inspector)
                screenshot = Path("/tmp") / f"bench-sm-{name}.png"
                page.screenshot(path=str(screenshot))
            finally:
                context.close()
    finally:
        server.close()
        thread.join(5)
        shutil.rmtree(profile, ignore_errors=True)
    rows = summarise(meter.results)
    for r in rows:
        if r["label"].startswith("text search"):
            rows.append(
                {
                    **r,
                    "label": "text search over all messages (after the typing pause)",
                    "median_ms": r["median_ms"] - DEBOUNCE_MS,
                    "p95_ms": r["p95_ms"] - DEBOUNCE_MS,
                    "max_ms": r["max_ms"] - DEBOUNCE_MS,
                }
            )
            break
    return {
        "rows": rows,
        "raw": meter.results,
        "traces": meter.traces,
        "title": title,
        "inspector": shown,
        "screenshot": str(screenshot),
        "keys": {"orders": orders, "serials": serials},
        "when": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
