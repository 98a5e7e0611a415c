"""CPU time from /proc: this process, another process, the whole machine; a local broker's pid.

Linux only; every function returns None where /proc does not say (another OS, a process of
another user, a broker on another machine).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of ``pid`` (all threads), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name is in parentheses and may contain spaces
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def own_cpu_s() -> float:
    t = os.times()
    return t.user + t.system


def machine_cpu() -> tuple[float, float] | None:
    """(busy, total) jiffies of all cores since boot, or None."""
    try:
        first = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    except OSError:
        return None
    values = [int(v) for v in first[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return float(sum(values) - idle), float(sum(values))


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if len(parts) < 10:
                continue
            local, state, inode = parts[1], parts[3], parts[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A = LISTEN
                inodes.add(inode)
    return inodes


def find_listener_pid(port: int) -> int | None:
    """The pid of the process listening on ``port`` on this machine (one of our own user's
    processes; /proc/*/fd of others is not readable), or None."""
    inodes = _listening_inodes(port)
    if not inodes:
        return None
    wanted = {f"socket:[{i}]" for i in inodes}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                if os.readlink(fd) in wanted:
                    return int(proc.name)
        except OSError:
            continue
    return None


@dataclass
class CpuMeter:
    """CPU used between :meth:`start` and :meth:`stop`, in % of one core (can exceed 100)."""

    broker_pid: int | None = None
    _wall: float = 0.0
    _own: float = 0.0
    _broker: float | None = None
    _machine: tuple[float, float] | None = None

    def start(self) -> CpuMeter:
        self._wall = time.monotonic()
        self._own = own_cpu_s()
        self._broker = process_cpu_s(self.broker_pid) if self.broker_pid else None
        self._machine = machine_cpu()
        return self

    def stop(self) -> dict[str, float | int | None]:
        wall = max(time.monotonic() - self._wall, 1e-9)
        tool = (own_cpu_s() - self._own) / wall * 100
        broker = None
        if self.broker_pid and self._broker is not None:
            now = process_cpu_s(self.broker_pid)
            broker = (now - self._broker) / wall * 100 if now is not None else None
        machine = None
        end = machine_cpu()
        if end is not None and self._machine is not None:
            busy, total = end[0] - self._machine[0], end[1] - self._machine[1]
            machine = busy / total * 100 if total > 0 else None
        return {
            "tool_pct": round(tool, 1),
            "broker_pct": None if broker is None else round(broker, 1),
            "machine_pct": None if machine is None else round(machine, 1),
            "cores": os.cpu_count() or 1,
            "broker_pid": self.broker_pid,
            "wall_s": round(wall, 3),
        }
