"""Session.search: the Rust search over payloads agrees with the plain Python rule
(``needle in text``, or both lowercased) in index mode (raw JSON strings in the file, written
the ways real writers escape) and in full mode (the decoded payload column)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mqtt_replay import open_session
from mqtt_replay.errors import SessionChangedError

# Characters whose lowercase Python 3.11 and Rust agree on (Unicode versions differ for
# characters assigned since), with the ones that make escaping and case folding interesting.
ALPHABET = list("abcXYZ019 -_:{}[],.#+" + '"\\/' + "\n\t\r\b\x01" + "éÉßΣσςİıKÅ€😀ü")
texts = st.lists(st.sampled_from(ALPHABET), max_size=24).map("".join)


def reference(payloads: list[str], needle: str, ignore_case: bool) -> list[bool]:
    if ignore_case:
        return [needle.lower() in p.lower() for p in payloads]
    return [needle in p for p in payloads]


def encode(text: str, style: int) -> str:
    """A JSON string literal as different writers produce it."""
    if style == 0:
        return json.dumps(text, ensure_ascii=False)
    if style == 1:
        return json.dumps(text, ensure_ascii=True)  # \\u for every non-ASCII character
    return json.dumps(text, ensure_ascii=False).replace("/", "\\/")


def write_session(path: Path, payloads: list[str], styles: list[int]) -> None:
    lines = [
        f'{{"topic":"t/{i}","payload":{encode(p, s)},"timestamp":"2026-01-15T09:00:{i % 60:02d}Z"}}'
        for i, (p, s) in enumerate(zip(payloads, styles, strict=True))
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.data(),
    payloads=st.lists(texts, min_size=1, max_size=12),
)
def test_search_agrees_with_the_python_rule(
    tmp_path: Path, data: st.DataObject, payloads: list[str]
) -> None:
    styles = data.draw(st.lists(st.integers(0, 2), min_size=len(payloads), max_size=len(payloads)))
    path = tmp_path / "s.log"
    write_session(path, payloads, styles)
    index = open_session(path, mode="index", cache=False)
    full = open_session(path, mode="full")
    assert index.payloads(range(len(payloads))) == payloads
    pieces = [p[i : i + n] for p in payloads for i in range(len(p)) for n in (1, 2, 4)]
    needle = data.draw(st.one_of(texts, st.sampled_from(pieces or [""])))
    for ignore_case in (False, True):
        want = reference(payloads, needle, ignore_case)
        for session in (index, full):
            got = session.search(needle, ignore_case=ignore_case)
            assert got.dtype == np.bool_
            assert got.tolist() == want, (session.mode, needle, ignore_case)


def test_search_finds_a_key_in_a_generated_session(tmp_path: Path) -> None:
    from mqtt_replay.generate import generate_session

    path = tmp_path / "plant.log"
    generate_session(path, messages=3000, mix="plant", seed=3)
    index = open_session(path, mode="index", cache=tmp_path / "cache")
    texts_ = index.payloads(range(len(index)))
    for needle in ("SVR4H76449", "svr4h76449", '"orderId"', "DRILL", "no such text"):
        for ignore_case in (False, True):
            want = reference(texts_, needle, ignore_case)
            assert index.search(needle, ignore_case=ignore_case).tolist() == want
    assert index.search("SVR4H76449", ignore_case=False).any()
    # The flags a search needs are kept in the index cache: a reopen searches the same.
    again = open_session(path, mode="index", cache=tmp_path / "cache")
    assert again.from_cache
    assert again.text_flags() is not None
    assert np.array_equal(again.text_flags(), index.text_flags())
    assert again.search("drill").tolist() == reference(texts_, "drill", True)


def test_search_of_a_rewritten_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.log"
    write_session(path, ["alpha", "beta"], [0, 0])
    index = open_session(path, mode="index", cache=False)
    assert index.search("beta").tolist() == [False, True]
    write_session(path, ["gamma"], [0])
    with pytest.raises(SessionChangedError):
        index.search("beta")
