"""The session directory: listing, safe names, upload, rename and delete.

Every name that comes from the browser goes through :func:`resolve_in`: only a base name with
an allowed suffix, and the resolved path (symlinks followed) must lie directly in the session
directory. Nothing here overwrites an existing file.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import re
import secrets
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ALLOWED_SUFFIXES = (".log", ".db", ".zip")
_FILE_NAME = re.compile(r"^\w[\w .,()+@=-]{0,199}$")
_SESSION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_STAMP = re.compile(r"_(\d{8})_(\d{6})$")
HEADER_PEEK_BYTES = 64 * 1024


class LibraryError(ValueError):
    """A name or file operation the library refuses; the message is safe to show."""


def validate_file_name(name: object) -> str:
    """A session file name from the browser, or :class:`LibraryError`.

    Only a base name (no separators, no leading dot, no control characters) with one of the
    suffixes ``.log``, ``.db``, ``.zip``.
    """
    if not isinstance(name, str):
        raise LibraryError("file name must be text")
    name = name.strip()
    if not name or name in {".", ".."} or name.startswith("."):
        raise LibraryError("file name is empty or hidden")
    if "/" in name or "\\" in name or "\0" in name or os.path.basename(name) != name:
        raise LibraryError(f"{name!r} is not a plain file name")
    if not _FILE_NAME.match(name):
        raise LibraryError(f"{name!r} contains characters that are not allowed")
    if Path(name).suffix.lower() not in ALLOWED_SUFFIXES:
        raise LibraryError(f"{name!r} must end with one of {', '.join(ALLOWED_SUFFIXES)}")
    return name


def validate_session_name(name: object) -> str:
    """A new session's name (no suffix): letters, digits, ``.``, ``_``, ``-``; ≤ 100 chars."""
    if not isinstance(name, str) or not _SESSION_NAME.match(name.strip()):
        raise LibraryError(
            "session name must start with a letter or digit and use only letters, digits, "
            "'.', '_' and '-' (at most 100)"
        )
    return name.strip()


def resolve_in(directory: Path, name: object) -> Path:
    """The path of ``name`` directly inside ``directory``; LibraryError otherwise.

    A symbolic link the user placed in the directory opens (the usual way to list a big
    recording without copying it): uploads and renames never create links, so a link there
    is the user's intent. Its target must be a regular file.
    """
    checked = validate_file_name(name)
    base = directory.resolve()
    path = base / checked
    if path.parent != base:
        raise LibraryError(f"{checked!r} is outside the session directory")
    if path.is_symlink() and path.exists() and not path.resolve().is_file():
        raise LibraryError(f"{checked!r} links to something that is not a file")
    return path


def zip_without_log(path: Path) -> str | None:
    """Why a ``.zip`` holds no session, or None when it has a ``.log`` member."""
    if path.suffix.lower() != ".zip":
        return None
    try:
        with zipfile.ZipFile(path) as zf:
            names = [
                n for n in zf.namelist() if not n.startswith("__MACOSX/") and not n.endswith("/")
            ]
    except (OSError, zipfile.BadZipFile) as exc:
        return f"not a readable zip archive ({exc})"
    if any(n.lower().endswith(".log") for n in names):
        return None
    shown = ", ".join(names[:5]) + (", …" if len(names) > 5 else "")
    return f"no session log (.log) in this zip; it holds: {shown or 'nothing'}"


@dataclass(frozen=True)
class SessionFile:
    """One file of the session directory, before it is read."""

    name: str
    path: Path
    size: int
    mtime: float
    header: dict[str, Any] | None

    @property
    def recorded(self) -> datetime | None:
        """Local time of recording: from the name's ``_YYYYMMDD_HHMMSS`` or the header."""
        match = _STAMP.search(self.path.stem)
        if match:
            with contextlib.suppress(ValueError):
                return datetime.strptime(match.group(1) + match.group(2), "%Y%m%d%H%M%S")
        for key in ("recordingStartedAt", "created_at"):
            value = (self.header or {}).get(key)
            if isinstance(value, str):
                with contextlib.suppress(ValueError):
                    return datetime.fromisoformat(value.replace("Z", "+00:00"))
        return None


def read_header(path: Path) -> dict[str, Any] | None:
    """The header object of an NDJSON session (first non-blank line without ``topic``).

    Reads at most 64 KB; returns None for other containers and files without a header.
    """
    if path.suffix.lower() != ".log":
        return None
    try:
        with path.open("rb") as fh:
            chunk = fh.read(HEADER_PEEK_BYTES)
    except OSError:
        return None
    for raw in chunk.splitlines()[:3]:
        text = raw.decode("utf-8", errors="replace").lstrip("\ufeff").strip()
        if not text:
            continue
        try:
            value = json.loads(text)
        except ValueError:
            return None
        if isinstance(value, dict) and "topic" not in value:
            return value
        return None
    return None


def list_sessions(directory: Path) -> list[SessionFile]:
    """Session files (``.log``, ``.db``, ``.zip``) directly in ``directory``, by name.

    A missing directory lists as empty. Hidden files (uploads in progress) are skipped.
    """
    out: list[SessionFile] = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return out
    for entry in entries:
        if entry.name.startswith(".") or not entry.is_file():
            continue
        if Path(entry.name).suffix.lower() not in ALLOWED_SUFFIXES:
            continue
        st = entry.stat()
        path = Path(entry.path)
        out.append(SessionFile(entry.name, path, st.st_size, st.st_mtime, read_header(path)))
    out.sort(key=lambda f: f.name.lower())
    return out


def header_fields(header: dict[str, Any] | None) -> dict[str, str]:
    """The header fields the library shows: description, outcome, preset, CCU version."""
    h = header or {}

    def text(*keys: str) -> str:
        for key in keys:
            value = h.get(key)
            if value not in (None, ""):
                return str(value)
        return ""

    return {
        "description": text("ccuOrdersDescription", "description", "note"),
        "outcome": text("ccuOrderOutcome", "outcome") or "unknown",
        "preset": text("recordingExclusionPreset", "preset"),
        "ccu_version": text("ccuVersion"),
    }


def filter_rows(
    rows: Iterable[dict[str, Any]], text: str | None, outcome: str | None, *, regex: bool = False
) -> list[dict[str, Any]]:
    """Rows whose ``name`` contains ``text`` (case-insensitive; a regex when ``regex`` is set or
    the text starts with ``re:``) and whose ``outcome`` equals ``outcome`` (unless ``all``).

    A bad regular expression raises :class:`LibraryError`.
    """
    pattern: re.Pattern[str] | None = None
    needle = (text or "").strip()
    if needle.startswith("re:"):
        needle, regex = needle[3:], True
    if needle and regex:
        try:
            pattern = re.compile(needle, re.IGNORECASE)
        except re.error as exc:
            raise LibraryError(f"bad regular expression: {exc}") from None
    out = []
    for row in rows:
        name = str(row.get("name", ""))
        if pattern is not None and not pattern.search(name):
            continue
        if pattern is None and needle and needle.lower() not in name.lower():
            continue
        if outcome and outcome != "all" and row.get("outcome") != outcome:
            continue
        out.append(row)
    return out


def write_new_file(path: Path, data: bytes | Iterable[bytes]) -> None:
    """Writes a file that must not exist yet; other readers never see it half-written."""
    tmp = path.with_name(f".{path.name}.part-{secrets.token_hex(4)}")
    try:
        with tmp.open("xb") as fh:
            if isinstance(data, bytes):
                fh.write(data)
            else:
                for chunk in data:
                    fh.write(chunk)
        try:
            os.link(tmp, path)  # fails if the target exists: never overwrite
        except FileExistsError:
            raise LibraryError(f"{path.name!r} already exists") from None
    finally:
        tmp.unlink(missing_ok=True)


def decode_upload(contents: str, limit: int) -> bytes:
    """The bytes of a ``dcc.Upload`` data URL; LibraryError when malformed or over ``limit``."""
    if not isinstance(contents, str) or "," not in contents:
        raise LibraryError("upload is not a data URL")
    meta, encoded = contents.split(",", 1)
    if not meta.startswith("data:") or ";base64" not in meta:
        raise LibraryError("upload is not base64 encoded")
    if len(encoded) * 3 // 4 > limit + 3:
        raise LibraryError(f"upload exceeds the limit of {limit:,} bytes")
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise LibraryError("upload is not valid base64") from None
    if len(data) > limit:
        raise LibraryError(f"upload exceeds the limit of {limit:,} bytes")
    return data


def save_upload(directory: Path, filename: object, contents: str, limit: int) -> Path:
    """Stores an uploaded session under its (validated) name; never overwrites."""
    path = resolve_in(directory, filename)
    data = decode_upload(contents, limit)
    directory.mkdir(parents=True, exist_ok=True)
    write_new_file(path, data)
    return path


def rename_session(directory: Path, old: object, new: object) -> Path:
    """Renames a session file; the new name keeps the old suffix if it has none of its own."""
    source = resolve_in(directory, old)
    if not source.is_file():
        raise LibraryError(f"{source.name!r} does not exist")
    new_name = new.strip() if isinstance(new, str) else new
    if isinstance(new_name, str) and Path(new_name).suffix.lower() not in ALLOWED_SUFFIXES:
        new_name += source.suffix
    target = resolve_in(directory, new_name)
    if target == source:
        return source
    try:
        os.link(source, target)
    except FileExistsError:
        raise LibraryError(f"{target.name!r} already exists") from None
    source.unlink()
    return target


def delete_session(directory: Path, name: object) -> None:
    """Deletes one session file of the directory."""
    path = resolve_in(directory, name)
    if not path.is_file():
        raise LibraryError(f"{path.name!r} does not exist")
    path.unlink()


def unique_stamped_name(directory: Path, name: str, stamp: datetime, suffix: str = ".log") -> str:
    """``<name>_<YYYYMMDD>_<HHMMSS><suffix>``, with ``-2``, ``-3``… if that file exists."""
    base = f"{validate_session_name(name)}_{stamp:%Y%m%d_%H%M%S}"
    candidate = f"{base}{suffix}"
    n = 2
    while (directory / candidate).exists():
        candidate = f"{base}-{n}{suffix}"
        n += 1
    return candidate


def local_time_text(us: int, tz: str | None) -> str:
    """µs UTC → ``YYYY-MM-DD HH:MM:SS`` in zone ``tz`` (UTC when None)."""
    moment = datetime.fromtimestamp(us / 1e6, tz=UTC)
    if tz:
        moment = moment.astimezone(ZoneInfo(tz))
    return moment.strftime("%Y-%m-%d %H:%M:%S")
