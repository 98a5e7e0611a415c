"""Progress output for the terminal, one look for every command: :func:`bar`, the status line
of play and record (:func:`status_line`) and the counting :class:`ProgressLine` of reading and
generating — redrawn in place on a TTY, plain lines otherwise."""

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


BAR_WIDTH = 24


def bar(frac: float, width: int = BAR_WIDTH) -> str:
    """``[#######                 ]`` for ``frac`` in 0..1 (clamped)."""
    filled = int(min(max(frac, 0.0), 1.0) * width)
    return "[" + "#" * filled + " " * (width - filled) + "]"


def status_line(text: str, final: bool = False, stream: TextIO | None = None) -> None:
    """Redraws ``text`` in place on a TTY (a newline after the ``final`` one); otherwise
    writes it as a line of its own."""
    out = stream or sys.stderr
    if out.isatty():
        out.write("\r" + text + "\x1b[K" + ("\n" if final else ""))
    else:
        out.write(text + "\n")
    out.flush()


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
        text = (
            f"{self.label} {bar(frac)} {frac * 100:5.1f}% "
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
