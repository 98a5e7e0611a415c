"""Shared helpers of the benchmarks: data generation, isolated timing runs, result tables."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / "data"


def machine_notes() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", load {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())  # a shared machine: say so
    return (
        f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, "
        f"{platform.system()}{load}"
    )


def ensure_session(
    messages: int, *, mix: str = "plant", rate: float = 200.0, seed: int = 1
) -> Path:
    """A generated session in benchmarks/data (never committed), created once."""
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"bench-{mix}-{messages}_20260115_090000.log"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        print(f"generating {path.name} …", file=sys.stderr, flush=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "mqtt_replay.cli",
                "generate",
                str(tmp),
                "--messages",
                str(messages),
                "--mix",
                mix,
                "--rate",
                str(rate),
                "--seed",
                str(seed),
            ],
            check=True,
        )
        tmp.rename(path)
    return path


def warm(path: Path) -> None:
    """Reads the file once so that every contender sees a warm page cache."""
    with path.open("rb") as f:
        while f.read(1 << 24):
            pass


def run_isolated(code: str, *args: str, timeout: float = 1800) -> dict[str, float]:
    """Runs ``code`` in a fresh interpreter; it prints one JSON line with its measurements
    (including ``maxrss_mb`` of that process). Fresh processes keep peak RSS honest."""
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        check=True,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    last = [line for line in out.stdout.splitlines() if line.startswith("{")][-1]
    return dict(json.loads(last))


RSS_SNIPPET = """
import resource, json, time, sys
def _rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
"""


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[str(c) for c in header]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    print(f"\n{title}")
    for n, r in enumerate(cells):
        print(
            "  "
            + "  ".join(
                c.rjust(w) if i else c.ljust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
        )
        if n == 0:
            print("  " + "  ".join("-" * w for w in widths))
    print(f"  machine: {machine_notes()}; {time.strftime('%Y-%m-%d %H:%M')}")
