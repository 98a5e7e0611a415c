"""Save a cut of a session as a new L5 session file (SPEC §3.3).

The file starts with a ``session_meta`` header that records where the cut came from (source
file, window, topic selection, text filter), followed by one L4 line per message in file
order: ``{"topic", "payload", "timestamp" (UTC, ms, Z), "qos", "retain"}``. It is written under
a hidden temporary name and linked into place, so the library never lists a half-written file
and an existing file is never overwritten.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from apps.session_manager.analysis import IntArray, Selection, SessionView
from apps.session_manager.session_files import (
    unique_stamped_name,
    validate_session_name,
    write_new_file,
)

RECORDER_VERSION = "mqtt-replay-session-manager/1"
CHUNK = 10_000


def _local_naive(us: int, tz: ZoneInfo) -> str:
    moment = datetime.fromtimestamp(us / 1e6, tz=UTC).astimezone(tz)
    return moment.replace(tzinfo=None).isoformat(timespec="milliseconds")


def _utc_ms(us: np.ndarray[Any, Any]) -> list[str]:
    text = np.datetime_as_string(us.astype("datetime64[us]").astype("datetime64[ms]"), unit="ms")
    return [f"{t}Z" for t in text.tolist()]


def header_for(
    view: SessionView,
    rows: IntArray,
    *,
    name: str,
    file_name: str,
    sel: Selection,
    tz: ZoneInfo,
) -> dict[str, Any]:
    """The ``session_meta`` header of a cut (timestamps of its first and last message)."""
    source = view.session
    valid = rows[view.ts_valid[rows]] if len(rows) else rows
    first = int(view.ts[valid].min()) if len(valid) else None
    last = int(view.ts[valid].max()) if len(valid) else None
    window = None
    if sel.window is not None:
        window = [
            datetime.fromtimestamp(t / 1e6, tz=UTC).isoformat(timespec="milliseconds")
            for t in sel.window
        ]
    src_header = source.header or {}
    header: dict[str, Any] = {
        "_kind": "session_meta",
        "schema": 1,
        "sessionName": name,
        "logFileName": file_name,
        "recordingStartedAt": _local_naive(first, tz) if first is not None else None,
        "recordingEndedAt": _local_naive(last, tz) if last is not None else None,
        "durationSec": round((last - first) / 1e6, 3)
        if first is not None and last is not None
        else 0.0,
        "recordingExclusionPreset": "none",
        "sessionRecorderVersion": RECORDER_VERSION,
        "source": {
            "file": source.path.name,
            "window": window,
            "topics": {
                "excluded": sorted(sel.excluded),
                "prefilter": sel.prefilter,
            },
            "text": sel.text or None,
            "messages": len(rows),
        },
    }
    for key in ("brokerHost", "brokerPort", "ccuVersion", "ccuVersionSource"):
        if key in src_header:
            header[key] = src_header[key]
    header["ccuOrdersDescription"] = f"cut of {source.path.name}"
    header["ccuOrderOutcome"] = src_header.get("ccuOrderOutcome", "unknown")
    header["note"] = ""
    return header


def _lines(view: SessionView, rows: IntArray, header: dict[str, Any]) -> Iterator[bytes]:
    yield (json.dumps(header, ensure_ascii=False) + "\n").encode()
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        stamps = _utc_ms(view.ts[chunk])
        payloads = view.payloads(chunk)
        out = []
        for i, r in enumerate(chunk.tolist()):
            record: dict[str, Any] = {"topic": view.topic_of(r), "payload": payloads[i]}
            if view.ts_valid[r]:
                record["timestamp"] = stamps[i]
            record["qos"] = int(view.qos[r])
            record["retain"] = bool(view.retain[r])
            out.append(json.dumps(record, ensure_ascii=False))
        yield ("\n".join(out) + "\n").encode()


def save_as_session(
    view: SessionView,
    rows: IntArray | Sequence[int],
    directory: Path,
    name: str,
    sel: Selection,
    *,
    tz: str = "Europe/Berlin",
    now: datetime | None = None,
) -> Path:
    """Writes ``rows`` (any order; written in file order) as ``<name>_<YYYYMMDD>_<HHMMSS>.log``
    (local time of saving) into ``directory`` and returns its path.

    Raises :class:`~apps.session_manager.session_files.LibraryError` for a bad name.
    """
    zone = ZoneInfo(tz)
    name = validate_session_name(name)
    picked = np.unique(np.asarray(rows, dtype=np.int64))
    stamp = (now or datetime.now(tz=zone)).astimezone(zone)
    directory.mkdir(parents=True, exist_ok=True)
    file_name = unique_stamped_name(directory, name, stamp)
    header = header_for(view, picked, name=name, file_name=file_name, sel=sel, tz=zone)
    path = directory / file_name
    write_new_file(path, _lines(view, picked, header))
    return path
