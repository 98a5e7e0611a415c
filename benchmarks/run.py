"""Runs every benchmark in turn with its default (full) workload (``make bench``).

Each script prints its own table; run one alone for options (``--help``).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = (
    "bench_reader.py",
    "bench_replay.py",
    "bench_recorder.py",
    "bench_dashboard.py",
    "bench_session_manager.py",
)

for script in SCRIPTS:
    if not (HERE / script).exists():
        continue
    print(f"\n=== {script} ===", flush=True)
    subprocess.run([sys.executable, str(HERE / script)], check=True)
