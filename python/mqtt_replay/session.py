"""Reading session files into Arrow tables.

:func:`open_session` reads every session variant (NDJSON L1–L5, S1, F0; SQLite; ZIP) through
the Rust core and hands the result to pyarrow without copying. Two modes:

``full``
    one table with every column including the unescaped ``payload`` text.
``index``
    only the small columns plus each payload's byte span in the file; payloads are read on
    demand with :meth:`Session.payloads`. The index is cached (Arrow IPC, memory-mapped on
    reopen) keyed by path, zone and the file's fingerprint (size, mtime, inode, sampled
    content), so a second open of a big session is near-instant; a changed file is noticed. SQLite and ZIP sessions are always read in full.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import stat
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from mqtt_replay import _core
from mqtt_replay.errors import InvalidOptionError, SessionChangedError, SessionParseError

DEFAULT_TZ = "Europe/Berlin"
INDEX_CACHE_VERSION = "4"
# The index cache keeps the most recently used indexes within these bounds.
CACHE_MAX_BYTES = 4 * 1024**3
CACHE_MAX_FILES = 200
ProgressCallback = Callable[[int, int], None]
Mode = Literal["full", "index"]


@dataclass(frozen=True)
class SkippedLine:
    """A line that did not become a message: 1-based line number, reason, start of the line."""

    line: int
    reason: str
    text: str


FINGERPRINT_EDGE = 64 * 1024
FINGERPRINT_SAMPLES = 16
FINGERPRINT_SAMPLE = 4096


def _search_strings(chunk: pa.Array, text: str, ignore_case: bool) -> npt.NDArray[np.bool_]:
    """:meth:`Session.search` on one Arrow string array (its buffers, no copy); a null
    is an empty text."""
    if len(chunk) == 0:
        return np.zeros(0, dtype=np.bool_)
    wide = pa.types.is_large_string(chunk.type)
    _validity, offsets_buf, data_buf = chunk.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int64 if wide else np.int32)
    offsets = offsets[chunk.offset : chunk.offset + len(chunk) + 1]
    data = (
        np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    )
    found = np.frombuffer(
        _core.search_texts(data, offsets, text, ignore_case=ignore_case), dtype=np.bool_
    )
    if chunk.null_count:
        empty_matches = text == ""
        found = np.where(chunk.is_null().to_numpy(zero_copy_only=False), empty_matches, found)
    return found


def file_fingerprint(path: Path) -> str | None:
    """What tells an index that its file is unchanged: size, mtime (ns), inode, a hash of the
    first and last 64 KiB and of 16 blocks of 4 KiB spread over the rest. None for anything
    but a regular file (a FIFO must never be opened here: the read would block)."""
    try:
        st = path.stat()
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}".encode())
    size = st.st_size
    try:
        with path.open("rb") as f:
            h.update(f.read(FINGERPRINT_EDGE))
            if size > 2 * FINGERPRINT_EDGE:
                span = size - 2 * FINGERPRINT_EDGE
                for k in range(FINGERPRINT_SAMPLES):
                    f.seek(FINGERPRINT_EDGE + span * k // FINGERPRINT_SAMPLES)
                    h.update(f.read(FINGERPRINT_SAMPLE))
            if size > FINGERPRINT_EDGE:
                f.seek(max(FINGERPRINT_EDGE, size - FINGERPRINT_EDGE))
                h.update(f.read(FINGERPRINT_EDGE))
    except OSError:
        return None
    return h.hexdigest()


def default_cache_dir() -> Path:
    """``$MQTT_REPLAY_CACHE`` or ``~/.cache/mqtt-replay/index``."""
    env = os.environ.get("MQTT_REPLAY_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mqtt-replay" / "index"


class Session:
    """A session file read into Arrow. Build it with :func:`open_session`."""

    def __init__(
        self,
        path: Path,
        *,
        data: pa.Table,
        mode: Mode,
        container: str,
        header: dict[str, Any] | None,
        skipped: list[SkippedLine],
        metadata_lines: list[int],
        lines: int,
        tz: str,
        from_cache: bool = False,
    ) -> None:
        self.path = path
        self.mode: Mode = mode
        self.container = container
        self.header = header
        self.skipped = skipped
        self.metadata_lines = metadata_lines
        self.lines = lines
        self.tz = tz
        self.from_cache = from_cache
        self._data = data
        self._full: pa.Table | None = data if mode == "full" else None
        self._lock = threading.Lock()
        # Index mode: the file's fingerprint when it was indexed (checked on every read).
        self.fingerprint: str | None = None
        self._span_arrays: tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint32]] | None = None
        # (size, mtime, ctime, inode) when the file last matched its fingerprint
        self._verified_stat: tuple[int, int, int, int] | None = None
        # Index mode: per payload what a text search must know (see ``_core.payload_flags``);
        # built with the index and kept in its cache.
        self._text_flags: npt.NDArray[np.uint8] | None = None

    # -- shape -------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self._data.num_rows)

    def __repr__(self) -> str:
        return f"Session({str(self.path)!r}, messages={len(self)}, mode={self.mode!r})"

    @property
    def name(self) -> str:
        """The session's name: the header's ``sessionName``/``session_name`` or the file stem."""
        if self.header:
            for key in ("sessionName", "session_name"):
                value = self.header.get(key)
                if isinstance(value, str) and value:
                    return value
        return self.path.stem

    @property
    def index(self) -> pa.Table:
        """Every column but the payload (in index mode also ``offset`` and ``length``)."""
        if self.mode == "index":
            return self._data
        return self._data.drop_columns(["payload"])

    @property
    def table(self) -> pa.Table:
        """The full table with payloads. In index mode the payloads are read (once) on first use."""
        if self._full is None:
            with self._lock:
                if self._full is None:
                    payloads = pa.array(self.payloads(range(len(self))), type=pa.string())
                    base = self._data.drop_columns(["offset", "length"])
                    self._full = base.add_column(3, "payload", payloads)
        return self._full

    def search(self, text: str, *, ignore_case: bool = True) -> npt.NDArray[np.bool_]:
        """One flag per row (file order): does the row's payload contain ``text``?

        Ignoring case compares the lowercase of both (as ``str.lower``). Runs in the Rust core
        on every core with the GIL released: index mode searches the raw JSON strings in the
        mapped file and decodes only what it must (:mod:`search` in the core), full mode the
        payload column's buffers. An empty text matches every row.
        """
        if self._full is not None:
            parts = [
                _search_strings(chunk, text, ignore_case)
                for chunk in self._full.column("payload").chunks
            ]
            return np.concatenate(parts) if parts else np.zeros(0, dtype=np.bool_)
        self._check_unchanged()
        offsets, lengths = self._spans()
        found = _core.search_payloads(
            str(self.path),
            offsets,
            lengths,
            text,
            ignore_case=ignore_case,
            span_flags=self.text_flags(),
        )
        return np.frombuffer(found, dtype=np.bool_)

    def text_flags(self) -> npt.NDArray[np.uint8] | None:
        """Index mode: per payload what a search must know about its raw text (computed once,
        with the index; kept in the index cache). None in full mode."""
        if self.mode != "index":
            return None
        if self._text_flags is None:
            offsets, lengths = self._spans()
            flags = _core.payload_flags(str(self.path), offsets, lengths)
            self._text_flags = np.frombuffer(flags, dtype=np.uint8)
        return self._text_flags

    def _spans(self) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint32]]:
        """The payloads' byte spans as contiguous arrays (built once)."""
        if self._span_arrays is None:
            offsets, lengths = (
                np.ascontiguousarray(
                    self._data.column(name).combine_chunks().to_numpy(zero_copy_only=False)
                )
                for name in ("offset", "length")
            )
            self._span_arrays = (offsets, lengths)
        return self._span_arrays

    def payloads(self, rows: Sequence[int] | range) -> list[str]:
        """Payload text of the given row numbers (0-based positions in file order)."""
        rows = list(rows)
        n = len(self)
        for r in rows:
            if not 0 <= r < n:
                raise InvalidOptionError(f"row {r} is outside 0..{n - 1}")
        if self._full is not None:
            col = self._full.column("payload")
            return (
                [col[r].as_py() for r in rows]
                if len(rows) < 64
                else (col.take(pa.array(rows, type=pa.int64())).to_pylist())
            )
        self._check_unchanged()
        # the spans as contiguous arrays (built once): a take on the chunked columns copied
        # them whole, tens of ms per inspected message of a 5M-message session
        span_offsets, span_lengths = self._spans()
        picked = np.asarray(rows, dtype=np.int64)
        offsets = span_offsets[picked].tolist()
        lengths = span_lengths[picked].tolist()
        return _core.fetch_payloads(str(self.path), offsets, lengths)

    def _check_unchanged(self) -> None:
        """Raises when the file is no longer the one indexed. Its content is sampled again
        only when its inode status changed since the last match: any write, and any
        ``utime`` that puts an old mtime back, sets the ctime, which no user can set. (The
        samples are 18 reads spread over the file; a big session evicted from the page
        cache paid them as disk seeks on every inspected message.)"""
        if self.fingerprint is None:
            return
        try:
            st = self.path.stat()
            now: tuple[int, int, int, int] | None = (
                st.st_size,
                st.st_mtime_ns,
                st.st_ctime_ns,
                st.st_ino,
            )
        except OSError:
            now = None
        if now is not None and now == self._verified_stat:
            return
        if file_fingerprint(self.path) != self.fingerprint:
            raise SessionChangedError(
                f"{self.path}: the file changed since it was indexed; open the session again"
            )
        self._verified_stat = now

    def payload(self, row: int) -> str:
        return self.payloads([row])[0]

    def payload_bytes(self, row: int) -> bytes:
        """The MQTT body as bytes: the text as UTF-8, or the original bytes of a binary
        payload (recorded as base64 with ``"payloadEncoding":"base64"``, ``binary`` column)."""
        text = self.payload(row)
        if self._data.column("binary")[row].as_py():
            return base64.b64decode(text)
        return text.encode()

    # -- time ---------------------------------------------------------------------------
    def _ts_bounds(self) -> tuple[datetime | None, datetime | None]:
        if len(self) == 0:
            return None, None
        ts = self._data.column("timestamp")
        mm = pc.min_max(ts)
        return mm["min"].as_py(), mm["max"].as_py()

    @property
    def start(self) -> datetime | None:
        """Earliest record timestamp (UTC), or None when the session has no timestamps."""
        return self._ts_bounds()[0]

    @property
    def end(self) -> datetime | None:
        return self._ts_bounds()[1]

    @property
    def duration_s(self) -> float:
        start, end = self._ts_bounds()
        if start is None or end is None:
            return 0.0
        return (end - start).total_seconds()


def _header_dict(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    value = json.loads(text)
    return value if isinstance(value, dict) else None


def _run_with_progress(
    call: Callable[[_core.Progress], _core.Session], total: int, progress: ProgressCallback | None
) -> _core.Session:
    counter = _core.Progress()
    if progress is None:
        return call(counter)
    result: list[_core.Session] = []
    error: list[BaseException] = []

    def work() -> None:
        try:
            result.append(call(counter))
        except BaseException as exc:  # re-raised in the caller's thread
            error.append(exc)

    worker = threading.Thread(target=work, name="mqtt-replay-open", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(0.1)
        progress(min(counter.done, total), total)
    if error:
        raise error[0]
    progress(total, total)
    return result[0]


def _cache_file(cache_dir: Path, path: Path, fingerprint: str, tz: str) -> Path:
    key = hashlib.sha256(f"{path}\0{tz}\0{INDEX_CACHE_VERSION}".encode()).hexdigest()[:20]
    return cache_dir / f"{path.name}.{key}.{fingerprint}.arrow"


def _load_cached(file: Path, path: Path, tz: str, fingerprint: str) -> Session | None:
    try:
        reader = pa.ipc.open_file(pa.memory_map(str(file), "r"))
        table = reader.read_all()
    except (OSError, pa.ArrowInvalid):
        return None
    with contextlib.suppress(OSError):
        os.utime(file)  # recently used: pruning removes the least recently used first
    meta = json.loads((table.schema.metadata or {}).get(b"mqtt_replay", b"{}"))
    if meta.get("version") != INDEX_CACHE_VERSION:
        return None
    table = table.replace_schema_metadata(None)
    flags: npt.NDArray[np.uint8] | None = None
    if "text_flags" in table.column_names:
        column = table.column("text_flags").combine_chunks()
        flags = np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.uint8)
        table = table.drop_columns(["text_flags"])
    session = Session(
        path,
        data=table,
        mode="index",
        container=meta["container"],
        header=_header_dict(meta["header_json"]),
        skipped=[SkippedLine(*s) for s in meta["skipped"]],
        metadata_lines=list(meta["metadata_lines"]),
        lines=int(meta["lines"]),
        tz=tz,
        from_cache=True,
    )
    session.fingerprint = fingerprint
    session._text_flags = flags
    return session


def _store_cached(file: Path, session: Session, header_json: str | None) -> None:
    meta = {
        "version": INDEX_CACHE_VERSION,
        "container": session.container,
        "header_json": header_json,
        "skipped": [[s.line, s.reason, s.text] for s in session.skipped],
        "metadata_lines": session.metadata_lines,
        "lines": session.lines,
    }
    table = session.index
    flags = session.text_flags()
    if flags is not None:
        table = table.append_column("text_flags", pa.array(flags, type=pa.uint8()))
    table = table.replace_schema_metadata({"mqtt_replay": json.dumps(meta)})
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_suffix(f".tmp{os.getpid()}")
    try:
        with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        os.replace(tmp, file)
    except OSError:
        tmp.unlink(missing_ok=True)  # a cache we cannot write is only slower, not wrong
        return
    # Older indexes of the same file (other fingerprints) are stale now.
    prefix = file.name.rsplit(".", 2)[0]
    for old in file.parent.glob(f"{prefix}.*.arrow"):
        if old != file:
            old.unlink(missing_ok=True)
    prune_cache(file.parent, keep=file)


def prune_cache(
    cache_dir: Path,
    *,
    max_bytes: int = CACHE_MAX_BYTES,
    max_files: int = CACHE_MAX_FILES,
    keep: Path | None = None,
) -> list[Path]:
    """Deletes the least recently used indexes (by mtime: a cache hit touches its file) until
    the directory holds at most ``max_files`` indexes and ``max_bytes``; ``keep`` stays.
    Returns what it deleted."""
    entries = []
    for f in cache_dir.glob("*.arrow"):
        try:
            st = f.stat()
        except OSError:
            continue
        entries.append((st.st_mtime_ns, st.st_size, f))
    entries.sort()  # oldest first
    total = sum(size for _, size, _ in entries)
    count = len(entries)
    removed: list[Path] = []
    for _, size, f in entries:
        if total <= max_bytes and count <= max_files:
            break
        if f == keep:
            continue
        f.unlink(missing_ok=True)
        removed.append(f)
        total, count = total - size, count - 1
    return removed


def _raise_first_skipped(session: Session) -> None:
    first = session.skipped[0]
    raise SessionParseError(
        f"{session.path}:{first.line}: {first.reason}", str(session.path), first.line, first.reason
    )


def open_session(
    path: str | os.PathLike[str],
    *,
    strict: bool = False,
    tz: str = DEFAULT_TZ,
    mode: Mode = "full",
    cache: bool | str | os.PathLike[str] = True,
    progress: ProgressCallback | None = None,
) -> Session:
    """Read a session file.

    ``strict`` raises :class:`SessionParseError` (a ``ValueError``) at the first bad line;
    otherwise bad lines are skipped and listed in :attr:`Session.skipped`. ``tz`` is the zone
    of naive timestamps. ``mode="index"`` keeps payloads in the file (see module docs);
    ``cache`` (index mode only) is True for the default cache directory, False for none, or a
    directory. ``progress(done_bytes, total_bytes)`` is called about ten times a second.

    The GIL is released while the core parses; parsing uses all cores (rayon).
    """
    if mode not in ("full", "index"):
        raise InvalidOptionError(f"mode must be 'full' or 'index', not {mode!r}")
    p = Path(path).expanduser().absolute()
    cache_file: Path | None = None
    # Taken before parsing: a change while parsing makes later reads fail, never lie.
    fingerprint = file_fingerprint(p) if mode == "index" else None
    if fingerprint is not None and cache is not False and p.suffix.lower() not in {".zip", ".db"}:
        cache_dir = default_cache_dir() if cache is True else Path(cache)
        cache_file = _cache_file(cache_dir, p, fingerprint, tz)
        if cache_file.exists():
            cached = _load_cached(cache_file, p, tz, fingerprint)
            if cached is not None:
                if strict and cached.skipped:
                    _raise_first_skipped(cached)
                if progress is not None:
                    size = p.stat().st_size
                    progress(size, size)
                return cached
    try:
        total = p.stat().st_size
    except OSError:
        total = 0
    started = time.perf_counter()
    raw = _run_with_progress(
        lambda counter: _core.open_session(
            str(p), strict=strict, tz=tz, mode=mode, progress=counter
        ),
        total,
        progress,
    )
    table = pa.table(raw)
    session = Session(
        p,
        data=table,
        mode="index" if raw.mode == "index" else "full",
        container=raw.container,
        header=_header_dict(raw.header_json),
        skipped=[SkippedLine(*s) for s in raw.skipped],
        metadata_lines=list(raw.metadata_lines),
        lines=raw.lines,
        tz=tz,
    )
    session.parse_seconds = time.perf_counter() - started  # type: ignore[attr-defined]
    if session.mode == "index":
        session.fingerprint = fingerprint
    if cache_file is not None and session.mode == "index":
        _store_cached(cache_file, session, raw.header_json)
    return session
