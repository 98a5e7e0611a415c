"""A progress line for the terminal: redrawn in place on a TTY, a line per 10 % otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


class ProgressLine:
    """Call with (done, total); ``close()`` ends the line. Writes to stderr by default."""

    def __init__(self, label: str, *, unit: str = "bytes", stream: TextIO | None = None) -> None:
        self.label = label
        self.unit = unit
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.started = time.monotonic()
        self._last_decile = -1
        self._last_draw = 0.0
        self._drawn = False

    def _fmt(self, v: float) -> str:
        return human_bytes(v) if self.unit == "bytes" else f"{v:,.0f} {self.unit}"

    def __call__(self, done: int, total: int, extra: str = "") -> None:
        frac = done / total if total else 1.0
        now = time.monotonic()
        elapsed = max(now - self.started, 1e-9)
        rate = done / elapsed
        rate_s = f"{human_bytes(rate)}/s" if self.unit == "bytes" else f"{rate:,.0f} {self.unit}/s"
        width = 24
        bar = "#" * int(frac * width)
        text = (
            f"{self.label} [{bar:<{width}}] {frac * 100:5.1f}% "
            f"{self._fmt(done)}/{self._fmt(total)} {rate_s}{'  ' + extra if extra else ''}"
        )
        if self.tty:
            if now - self._last_draw >= 0.1 or done >= total:
                self.stream.write("\r" + text + "\x1b[K")
                self.stream.flush()
                self._last_draw = now
                self._drawn = True
        else:
            decile = int(frac * 10)
            if decile != self._last_decile:
                self._last_decile = decile
                self.stream.write(text + "\n")
                self.stream.flush()

    def close(self) -> None:
        if self.tty and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
