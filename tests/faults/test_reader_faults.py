"""The reader under bad input: seeded mutations of generated sessions, special files, ZIP
bombs, deep nesting, out-of-range times, a file rewritten under an index.

The oracle is the standard-library reference reader (tests/reference_reader.py): every line it
keeps, the Rust reader keeps with the same fields; every line it skips is reported.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import subprocess
import sys
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.test_reader_oracle import _table_rows

from mqtt_replay import open_session
from mqtt_replay.errors import (
    MqttReplayError,
    SessionChangedError,
    SessionFormatError,
    SessionParseError,
)
from mqtt_replay.generate import generate_session
from reference_reader import read_reference

MUTATIONS_PER_RUN = 520

Mutation = Callable[[random.Random, list[bytes]], list[bytes]]


def _flip_byte(rnd: random.Random, lines: list[bytes]) -> list[bytes]:
    i = rnd.randrange(len(lines))
    b = bytearray(lines[i])
    if b:
        b[rnd.randrange(len(b))] = rnd.randrange(256)
    lines[i] = bytes(b).replace(b"\n", b"")
    return lines


def _truncate_line(rnd: random.Random, lines: list[bytes]) -> list[bytes]:
    i = rnd.randrange(len(lines))
    lines[i] = lines[i][: rnd.randrange(len(lines[i]) + 1)]
    return lines


def _drop_char(rnd: random.Random, lines: list[bytes]) -> list[bytes]:
    i = rnd.randrange(len(lines))
    line = lines[i]
    if line:
        k = rnd.randrange(len(line))
        lines[i] = line[:k] + line[k + 1 :]
    return lines


def _insert_garbage(rnd: random.Random, lines: list[bytes]) -> list[bytes]:
    garbage = rnd.choice(
        [
            b"",
            b"   ",
            b"\xff\xfe\xfd",
            b"{",
            b"[]",
            b"null",
            b'{"topic":"",',
            b'{"topic":"t","payload":1}',
            b'{"topic":"t","payload":"p","timestamp":"0000-01-01T00:00:00Z"}',
            b'{"topic":"t","payload":"p","timestamp":"9999-12-31T23:59:59-12:00"}',
            b'{"topic":"a/+/b","payload":"p"}',
            b'{"topic":"t","payload":"p","x":' + b"[" * 700 + b"]" * 700 + b"}",
            b'{"topic":"t","payload":"p","n":' + b"9" * 5000 + b"}",
            b'{"topic":"t","payload":"p","qos":7}',
            b'{"_kind":"session_meta","schema":1}',
            bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 40))).replace(b"\n", b""),
        ]
    )
    lines.insert(rnd.randrange(len(lines) + 1), garbage)
    return lines


def _duplicate_or_swap(rnd: random.Random, lines: list[bytes]) -> list[bytes]:
    i, j = rnd.randrange(len(lines)), rnd.randrange(len(lines))
    if rnd.random() < 0.5:
        lines.insert(j, lines[i])
    else:
        lines[i], lines[j] = lines[j], lines[i]
    return lines


def _line_endings(rnd: random.Random, lines: list[bytes]) -> list[bytes]:
    i = rnd.randrange(len(lines))
    lines[i] = lines[i] + b"\r"
    if rnd.random() < 0.2:
        lines[0] = b"\xef\xbb\xbf" + lines[0]
    return lines


MUTATIONS: list[Mutation] = [
    _flip_byte,
    _truncate_line,
    _drop_char,
    _insert_garbage,
    _duplicate_or_swap,
    _line_endings,
]


@pytest.fixture(scope="module")
def generated_lines(tmp_path_factory: pytest.TempPathFactory) -> list[list[bytes]]:
    base = tmp_path_factory.mktemp("gen")
    out = []
    for seed, mix in [(1, "small"), (2, "plant"), (3, "small")]:
        path = generate_session(base / f"g{seed}.log", messages=60, rate=50, seed=seed, mix=mix)
        out.append(path.read_bytes().split(b"\n"))
    return out


@pytest.mark.timeout(600)
def test_seeded_mutations_never_crash_and_lose_no_good_line(
    generated_lines: list[list[bytes]], tmp_path: Path
) -> None:
    """>= 500 mutated generated sessions: 0 crashes (no panic, no foreign exception), every
    line the reference reader keeps is kept with the same fields, every other line reported
    (rows + skipped + metadata + blank = lines), and strict mode names file and line."""
    rnd = random.Random(20261201)
    tried = crashes = lost = 0
    for k in range(MUTATIONS_PER_RUN):
        lines = list(generated_lines[k % len(generated_lines)])
        for _ in range(rnd.randint(1, 4)):
            lines = rnd.choice(MUTATIONS)(rnd, lines)
        data = b"\n".join(lines)
        path = tmp_path / f"m{k}.log"
        path.write_bytes(data)
        tried += 1
        ref = read_reference(data)
        try:
            session = open_session(path)
            index = open_session(path, mode="index", cache=False)
        except BaseException as exc:  # a PanicException is a BaseException
            crashes += 1
            raise AssertionError(f"mutation {k} crashed the reader: {exc!r}") from exc
        got = _table_rows(session.table)
        lost += len({r.line for r in ref.rows} - {r.line for r in got})
        assert got == ref.rows, f"mutation {k}: rows differ from the reference"
        assert _table_rows(index.table) == ref.rows, f"mutation {k}: index mode differs"
        skipped = [(s.line, s.reason.split(":")[0]) for s in session.skipped]
        assert skipped == ref.skipped, f"mutation {k}"
        pieces = data.split(b"\n")
        if data.endswith(b"\n"):
            pieces.pop()
        blank = sum(1 for p in pieces if p.rstrip(b"\r").lstrip(b"\xef\xbb\xbf").strip() == b"")
        header = 0 if session.header is None else 1  # the header line is metadata too
        accounted = len(got) + len(skipped) + len(session.metadata_lines) + header + blank
        assert accounted == len(pieces), f"mutation {k}: lines unaccounted for"
        if session.skipped:
            with pytest.raises(SessionParseError) as info:
                open_session(path, strict=True)
            assert info.value.line == session.skipped[0].line
            assert info.value.path == str(path)
            assert f"{path}:{info.value.line}:" in str(info.value)
    assert (tried, crashes, lost) == (MUTATIONS_PER_RUN, 0, 0)
    print(f"\nmutation suite: {tried} files, {crashes} crashes, {lost} good lines lost")


def _opens_within(path: Path, seconds: float) -> BaseException | None:
    """Opens in a thread; the result must come back in time (a FIFO used to block forever)."""
    box: list[BaseException | None] = []

    def run() -> None:
        try:
            open_session(path)
            box.append(None)
        except BaseException as exc:
            box.append(exc)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    assert box, f"opening {path} did not return within {seconds} s"
    return box[0]


def test_special_files_are_refused_before_any_read(tmp_path: Path) -> None:
    fifo = tmp_path / "f.log"
    os.mkfifo(fifo)
    exc = _opens_within(fifo, 10)
    assert isinstance(exc, SessionFormatError) and "FIFO" in str(exc) and str(fifo) in str(exc)
    d = tmp_path / "dir.log"
    d.mkdir()
    exc = _opens_within(d, 10)
    assert isinstance(exc, SessionFormatError) and "a directory" in str(exc)
    exc = _opens_within(Path("/dev/zero"), 10)
    assert isinstance(exc, SessionFormatError) and "device" in str(exc)
    # The CLI says the same and exits non-zero, quickly.
    out = subprocess.run(
        [sys.executable, "-m", "mqtt_replay.cli", "info", str(fifo)],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert out.returncode != 0 and "FIFO" in out.stderr and "Traceback" not in out.stderr


def test_zip_bombs_are_refused_with_the_limit_named(tmp_path: Path) -> None:
    """Reported: a 7.3 MB zip became 29M rows and 2.97 GB in memory."""
    line = json.dumps({"topic": "t", "payload": "x" * 900, "timestamp": "2026-01-01T00:00:00Z"})
    bomb = tmp_path / "bomb.zip"
    chunk = ((line + "\n") * 1000).encode()
    with (
        zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf,
        zf.open("big.log", "w", force_zip64=True) as member,
    ):
        for _ in range(120 * 1024 * 1024 // len(chunk)):  # ~120 MB, compresses ~1000x
            member.write(chunk)
    assert bomb.stat().st_size < 1 << 20
    with pytest.raises(SessionFormatError, match="beyond the limit") as info:
        open_session(bomb)
    assert "big.log" in str(info.value)
    # Listing a directory that holds it (what the Session Manager's Library does) stays
    # small: the declared size is refused before anything is inflated.
    code = (
        "import resource, sys; from pathlib import Path\n"
        "from apps.session_manager.store import SessionStore, library_rows\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "rows, _ = library_rows(SessionStore(Path(sys.argv[1])))\n"
        "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print((after - before) // 1024, rows[0]['status'])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    grown_mb, status = out.stdout.split(" ", 1)
    assert int(grown_mb) < 100, out.stdout
    assert "beyond the limit" in status


def test_zip_without_a_session_log_says_so(tmp_path: Path) -> None:
    """Reported: a zip holding only readme.txt read as '1 skipped line'."""
    z = tmp_path / "readme-only.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(SessionFormatError, match=r"no session log .* readme\.txt"):
        open_session(z)
    empty = tmp_path / "empty.zip"
    zipfile.ZipFile(empty, "w").close()
    with pytest.raises(SessionFormatError, match="no session log"):
        open_session(empty)
    # A proper one still opens, __MACOSX shadows ignored.
    good = tmp_path / "good.zip"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("run.log", '{"topic":"a","payload":"1","timestamp":"2026-01-01T00:00:00Z"}\n')
        zf.writestr("__MACOSX/._run.log", "junk")
        zf.writestr("notes.txt", "ignored")
    good.write_bytes(buf.getvalue())
    assert len(open_session(good)) == 1


@pytest.mark.parametrize("depth", [513, 900, 3000])
def test_deeply_nested_valid_lines_are_kept(tmp_path: Path, depth: int) -> None:
    """Reported: valid lines nested 513-900 deep were skipped as 'nesting too deep'."""
    deep = "[" * depth + "]" * depth
    line = f'{{"topic":"t","payload":"p","timestamp":"2026-01-01T00:00:00Z","extra":{deep}}}'
    f = tmp_path / "deep.log"
    f.write_text(line + "\n" + line + "\n")
    for mode in ("full", "index"):
        s = open_session(f, mode=mode, cache=False)  # type: ignore[arg-type]
        assert (len(s), s.skipped) == (2, []), mode


def test_an_index_notices_a_same_size_rewrite_in_place(tmp_path: Path) -> None:
    """Reported: index mode returned wrong payloads after a same-size rewrite (mtime kept)."""
    f = tmp_path / "rewrite.log"
    rows = [
        json.dumps({"topic": "t", "payload": f"v{i:04d}", "timestamp": "2026-01-01T00:00:00Z"})
        for i in range(3000)
    ]
    f.write_text("\n".join(rows) + "\n")
    st = f.stat()
    cache = tmp_path / "cache"
    s = open_session(f, mode="index", cache=cache)
    assert s.payload(1500) == "v1500"
    # Rewrite a payload in the middle, same size, and put the old mtime back.
    data = f.read_bytes().replace(b'"v1500"', b'"w1500"')
    with f.open("r+b") as fh:
        fh.write(data)
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert f.stat().st_size == st.st_size and f.stat().st_mtime_ns == st.st_mtime_ns
    with pytest.raises(SessionChangedError, match="changed since it was indexed"):
        s.payload(1500)
    # Reopening sees the new content (the cached index of the old content is not used).
    again = open_session(f, mode="index", cache=cache)
    assert again.payload(1500) == "w1500"


def test_broker_urls_never_panic() -> None:
    """Reported: `mqtt://u:p%aé@127.0.0.1` raised PanicException (a BaseException)."""
    from mqtt_replay import _core

    info = _core.parse_broker_url("mqtt://u:p%a\u00e9@127.0.0.1")
    assert info["host"] == "127.0.0.1" and info["has_password"] and info["loopback"]
    assert "p%a" not in info["redacted"]
    rnd = random.Random(7)
    alphabet = "mqt:/s@%[]?=&ca1.\u00e9\u20ac\x00#+ \U0001f600"
    for _ in range(3000):
        url = "".join(rnd.choice(alphabet) for _ in range(rnd.randrange(30)))
        for text in (url, "mqtt://" + url):
            with contextlib.suppress(MqttReplayError):
                _core.parse_broker_url(text)
