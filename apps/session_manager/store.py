"""The server-side session cache and its loading jobs.

Sessions are opened once and kept in an LRU keyed by (path, mtime, size), so a changed file is
read again and a renamed one is not confused with another. ``.log`` files above the index
threshold open in index mode (payloads stay in the file, fetched on demand); others in full
mode. Big files load in a background thread whose progress the page polls; small ones load
inline. The browser only ever sees file names and numbers.

Library summaries (messages, duration, header) come from the same reader in index mode (its
index is cached on disk) and are kept separately: they are tiny and never evicted by opening a
big session.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import MutableMapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from apps.session_manager import clock
from apps.session_manager.analysis import SessionView, build_view, family_of_rows
from apps.session_manager.session_files import (
    header_fields,
    list_sessions,
    resolve_in,
    zip_without_log,
)
from mqtt_replay import MqttReplayError, open_session
from mqtt_replay.errors import SessionFormatError

CacheKey = tuple[str, int, int]
JobState = Literal["loading", "ready", "error"]
INLINE_LOAD_BYTES = 20_000_000  # below this a session loads within the request


@dataclass
class LoadJob:
    """Progress of one session being read; copies are handed out (never the live object)."""

    name: str
    state: JobState = "loading"
    done: int = 0
    total: int = 0
    error: str | None = None
    started: float = field(default_factory=time.monotonic)

    @property
    def fraction(self) -> float:
        if self.state != "loading":
            return 1.0
        return min(self.done / self.total, 1.0) if self.total else 0.0


@dataclass(frozen=True)
class Summary:
    """What the library shows about a session without keeping it open."""

    messages: int
    duration_s: float
    start_us: int | None
    header: dict[str, Any] | None
    skipped: int
    container: str
    error: str | None = None


def cache_key(path: Path) -> CacheKey:
    st = path.stat()
    return (str(path), st.st_mtime_ns, st.st_size)


class SessionStore:
    """Opened sessions of one directory (thread-safe; one instance per app)."""

    def __init__(
        self,
        directory: Path,
        *,
        max_entries: int = 4,
        index_threshold: int = 50_000_000,
        tz: str = "Europe/Berlin",
        inline_bytes: int = INLINE_LOAD_BYTES,
    ) -> None:
        self.directory = directory
        self.max_entries = max_entries
        self.index_threshold = index_threshold
        self.tz = tz
        self.inline_bytes = inline_bytes
        self._views: OrderedDict[CacheKey, SessionView] = OrderedDict()
        self._jobs: dict[CacheKey, LoadJob] = {}
        self._summaries: dict[CacheKey, Summary] = {}
        self._summary_jobs: dict[CacheKey, LoadJob] = {}
        self._lock = threading.Lock()

    # -- paths ---------------------------------------------------------------------------
    def path_of(self, name: str) -> Path:
        """The validated path of a session name (LibraryError if unsafe)."""
        return resolve_in(self.directory, name)

    def mode_for(self, path: Path) -> Literal["full", "index"]:
        big = path.suffix.lower() == ".log" and path.stat().st_size > self.index_threshold
        return "index" if big else "full"

    # -- sessions --------------------------------------------------------------------------
    def peek(self, name: str) -> SessionView | None:
        """The cached view of ``name`` (current version of the file) or None."""
        try:
            key = cache_key(self.path_of(name))
        except OSError:
            return None
        with self._lock:
            view = self._views.get(key)
            if view is not None:
                self._views.move_to_end(key)
            return view

    def get(self, name: str) -> SessionView:
        """The view of ``name``, reading the file now if needed (blocks)."""
        view = self.peek(name)
        if view is not None:
            return view
        path = self.path_of(name)
        key = cache_key(path)
        return self._load(name, path, key, LoadJob(name, total=key[2]))

    def request(self, name: str) -> LoadJob:
        """Starts loading ``name`` unless it is cached or loading; returns the job's state.

        Small files are read within the call (the job comes back ``ready``); big ones in a
        daemon thread. Errors are reported in the job, not raised (the page shows them).
        """
        try:
            path = self.path_of(name)
            key = cache_key(path)
        except (OSError, ValueError) as exc:
            return LoadJob(name, state="error", error=str(exc))
        if self.peek(name) is not None:
            return LoadJob(name, state="ready", done=key[2], total=key[2])
        with self._lock:
            job = self._jobs.get(key)
            if job is not None:
                return replace(job)
            job = LoadJob(name, total=key[2])
            self._jobs[key] = job
        if key[2] <= self.inline_bytes:
            self._run_job(name, path, key, job)
            return replace(job)
        threading.Thread(
            target=self._run_job, args=(name, path, key, job), name="sm-load", daemon=True
        ).start()
        return replace(job)

    def job(self, name: str) -> LoadJob:
        """The state of the load of ``name`` (``ready`` when cached)."""
        return self.request(name)

    def _run_job(self, name: str, path: Path, key: CacheKey, job: LoadJob) -> None:
        try:
            self._load(name, path, key, job)
        except (MqttReplayError, OSError, ValueError) as exc:
            with self._lock:
                job.state, job.error = "error", reason(exc, path)
        finally:
            with self._lock:
                if job.state == "ready":
                    self._jobs.pop(key, None)

    def _load(self, name: str, path: Path, key: CacheKey, job: LoadJob) -> SessionView:
        def progress(done: int, total: int) -> None:
            job.done, job.total = done, total

        no_log = zip_without_log(path)
        if no_log:
            raise SessionFormatError(no_log)
        session = open_session(path, tz=self.tz, mode=self.mode_for(path), progress=progress)
        view = build_view(session)
        family_of_rows(view)  # classify while loading, not on the first click
        with self._lock:
            self._views[key] = view
            self._views.move_to_end(key)
            while len(self._views) > self.max_entries:
                self._views.popitem(last=False)
            job.state = "ready"
        return view

    def forget(self, name: str) -> None:
        """Drops every cached version of ``name`` (after rename or delete)."""
        try:
            path = str(self.path_of(name))
        except ValueError:
            return
        with self._lock:
            _drop(self._views, path)
            _drop(self._jobs, path)
            _drop(self._summaries, path)
            _drop(self._summary_jobs, path)

    # -- library summaries ----------------------------------------------------------------
    def summary(self, name: str, *, wait: bool = False) -> Summary | LoadJob:
        """The summary of ``name``, or the job computing it (big files, ``wait=False``)."""
        path = self.path_of(name)
        key = cache_key(path)
        with self._lock:
            known = self._summaries.get(key)
            if known is not None:
                return known
            job = self._summary_jobs.get(key)
            if job is not None and not wait:
                return replace(job)
            if job is None:
                job = LoadJob(name, total=key[2])
                self._summary_jobs[key] = job
                start_thread = not wait and key[2] > self.inline_bytes
            else:
                start_thread = False
        if start_thread:
            threading.Thread(
                target=self._summarise, args=(path, key, job), name="sm-summary", daemon=True
            ).start()
            return replace(job)
        return self._summarise(path, key, job)

    def _summarise(self, path: Path, key: CacheKey, job: LoadJob) -> Summary:
        def progress(done: int, total: int) -> None:
            job.done, job.total = done, total

        view = self._cached_view(key)
        try:
            no_log = zip_without_log(path)
            if no_log:
                raise SessionFormatError(no_log)
            session = (
                view.session
                if view is not None
                else open_session(path, tz=self.tz, mode="index", progress=progress)
            )
            start = session.start
            summary = Summary(
                messages=len(session),
                duration_s=session.duration_s,
                start_us=int(start.timestamp() * 1e6) if start else None,
                header=session.header,
                skipped=len(session.skipped),
                container=session.container,
            )
        except (MqttReplayError, OSError, ValueError) as exc:
            summary = Summary(0, 0.0, None, None, 0, "?", error=reason(exc, path))
        with self._lock:
            self._summaries[key] = summary
            self._summary_jobs.pop(key, None)
        return summary

    def _cached_view(self, key: CacheKey) -> SessionView | None:
        with self._lock:
            return self._views.get(key)


def reason(exc: BaseException, path: Path) -> str:
    """An error message fit for the page: the file's directory (long, known) left out."""
    text = str(exc)
    for prefix in (str(path.resolve()), str(path)):
        text = text.replace(prefix + ": ", "").replace(prefix, path.name)
    return text


def _drop(mapping: MutableMapping[CacheKey, Any], path: str) -> None:
    for key in [k for k in mapping if k[0] == path]:
        del mapping[key]


def recorded_text(summary: Summary | None, tz: str) -> str:
    """When a session was recorded: its first message's time in zone ``tz`` with the zone's
    abbreviation (empty while the file is being read)."""
    if summary is not None and summary.start_us is not None:
        return clock.fmt(summary.start_us, tz, ms=False)
    return ""


def library_rows(
    store: SessionStore, tz: str | None = None
) -> tuple[list[dict[str, Any]], list[LoadJob]]:
    """The Library table: one row per session file with its summary (or reading progress),
    and the summary jobs still running."""
    rows: list[dict[str, Any]] = []
    pending: list[LoadJob] = []
    for f in list_sessions(store.directory):
        try:
            got = store.summary(f.name)
        except (OSError, ValueError) as exc:
            got = Summary(0, 0.0, None, None, 0, "?", error=str(exc))
        summary = got if isinstance(got, Summary) else None
        if isinstance(got, LoadJob):
            pending.append(got)
        header = (summary.header if summary else None) or f.header
        row: dict[str, Any] = {
            "name": f.name,
            # the first message's time (from the data, never the file name), labelled
            "recorded": recorded_text(summary, tz or store.tz),
            "size": f.size,
            "messages": summary.messages if summary else None,
            "duration": round(summary.duration_s, 1) if summary else None,
            **header_fields(header),
            "status": "",
        }
        row["health"] = ""
        if isinstance(got, LoadJob):
            row["status"] = f"reading {got.fraction:.0%}"
        elif summary and summary.error:
            row["status"], row["health"] = f"cannot open: {summary.error}", "error"
        elif summary and summary.messages == 0:
            row["status"], row["health"] = "empty: no messages in this file", "empty"
            if summary.skipped:
                row["status"] = f"empty: no message read, {summary.skipped:,} bad line(s)"
        elif summary and summary.skipped:
            row["status"] = f"{summary.skipped:,} bad line(s) skipped"
            row["health"] = "warning"
        rows.append(row)
    return rows, pending
