"""The identities a session names and their per-plant rewrite, vectorised.

:func:`find_identities` collects serial-like tokens (topic segments after
``module/v1/ff/[NodeRed/]`` and ``fts/v1/ff/``, values of ``*serialNumber`` keys, the serials
the product spec lists) and order ids (values of ``orderId`` keys). :class:`PayloadTemplate`
cuts a session's payloads once into text and tokens — a token counts where it stands as a whole
JSON string, also inside escaped JSON text: right after a ``"`` and right before ``"`` or
``\\"`` — and :meth:`PayloadTemplate.render` gives any plant's payload column from its mapping.

:func:`find_identities` lets Arrow pick the payloads that hold a key, and runs its regexes on
those only. The template cuts every payload at its quotes (``split_pattern``): a plain token
stands right after a quote and before ``"`` or ``\\"`` exactly where a piece between two quotes
is the token (or the token and a backslash), which one ``is_in`` finds for all pieces at once;
the named payloads are kept as text/token pieces that point into their bytes, and a plant's
payloads are one ``replace_with_mask`` of the token pieces and a join. So a plant costs a few
passes over the rewritten bytes, not a Python loop over its rows, and the cost does not grow with
the number of order ids. Tokens with quotes or backslashes (possible only in topic segments) are
cut with a Python regex, as before.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "KNOWN_SERIALS",
    "Identities",
    "PayloadTemplate",
    "find_identities",
    "plant_order_id",
    "plant_serial",
]

# SPEC §4: the modules, the charger and the AGVs of the recorded plant.
KNOWN_SERIALS = (
    "SVR3QA0022",
    "SVR4H76449",
    "SVR3QA2098",
    "SVR4H76530",
    "SVR4H73275",
    "CHRG0",
    "5iO4",
    "leJ4",
    "jp93",
)
_TOPIC_SERIAL = re.compile(r"^(?:module|fts)/v1/ff/(?:NodeRed/)?([^/]+)/")
_PAYLOAD_SERIAL = re.compile(r'"(?:[A-Za-z]*[sS]erialNumber)"\s*:\s*"([^"\\]+)"')
_PAYLOAD_ORDER = re.compile(r'"orderId"\s*:\s*"([^"\\]+)"')
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_PLACEHOLDERS = frozenset({"", "0", "-", "UNKNOWN", "unknown", "NONE", "none", "null", "N/A"})
_FLEET_NS = uuid.UUID("6f1c1a52-3a0e-4d8e-9d6b-6d7172706c79")
SLICE_ROWS = 200_000  # payloads cut at a time


def plant_serial(serial: str, k: int) -> str:
    """Plant ``k``'s version of a module/AGV serial."""
    return f"{serial}-P{k}"


def plant_order_id(order_id: str, k: int) -> str:
    """Plant ``k``'s version of an order id: a UUID stays a UUID (derived from both)."""
    if _UUID.match(order_id):
        return str(uuid.uuid5(_FLEET_NS, f"{k}:{order_id}"))
    return f"{order_id}-P{k}"


@dataclass(frozen=True)
class Identities:
    """The identities a session names: serials and order ids, each in first-seen order."""

    serials: tuple[str, ...]
    order_ids: tuple[str, ...]


def _re2_alternation(tokens: Iterable[str]) -> str:
    """An RE2 alternation of literal tokens (none may contain a backslash)."""
    return "|".join(rf"\Q{t}\E" for t in tokens)


def _rows(payloads: pa.ChunkedArray, mask: pa.ChunkedArray) -> list[str]:
    return payloads.filter(mask).to_pylist()  # type: ignore[no-any-return]


def find_identities(table: pa.Table) -> Identities:
    """Serial-like tokens (topic segments, ``*serialNumber`` values, SPEC serials that occur)
    and order ids (``orderId`` values; placeholders like ``"0"``/``UNKNOWN`` kept) of a session table."""
    serials: dict[str, None] = {}
    orders: dict[str, None] = {}
    topics = table.column("topic")
    names = topics.chunk(0).dictionary.to_pylist() if table.num_rows else []
    for name in names:
        m = _TOPIC_SERIAL.match(name)
        if m and m.group(1) != "NodeRed" and m.group(1) not in _PLACEHOLDERS:
            serials.setdefault(m.group(1))
    text = table.column("payload").filter(pc.invert(table.column("binary")))
    for payload in _rows(text, pc.match_substring(text, "erialNumber")):
        for m in _PAYLOAD_SERIAL.finditer(payload):
            if m.group(1) not in _PLACEHOLDERS:
                serials.setdefault(m.group(1))
    for payload in _rows(text, pc.match_substring(text, "orderId")):
        for m in _PAYLOAD_ORDER.finditer(payload):
            if m.group(1) not in _PLACEHOLDERS:
                orders.setdefault(m.group(1))
    joined = "\n".join(names)
    for serial in KNOWN_SERIALS:
        if serial not in serials and serial in joined:
            serials.setdefault(serial)
    # a SPEC serial that occurs only as a quoted value somewhere else in the payloads
    missing = [s for s in KNOWN_SERIALS if s not in serials]
    if missing:
        quoted = re.compile('"(' + "|".join(map(re.escape, missing)) + ')"')
        hits = pc.match_substring_regex(text, f'"(?:{_re2_alternation(missing)})"')
        for payload in _rows(text, hits):
            for m in quoted.finditer(payload):
                serials.setdefault(m.group(1))
    return Identities(tuple(serials), tuple(orders))


def _split_python(payloads: list[str], tokens: list[str]) -> list[list[str]]:
    """Each payload cut into text, token, text, …, text around its tokens (any tokens)."""
    ordered = sorted(tokens, key=len, reverse=True)
    pattern = re.compile('(?<=")(' + "|".join(map(re.escape, ordered)) + r')(?=\\?")')
    return [pattern.split(p) for p in payloads]


def _np(array: pa.Array) -> np.ndarray:
    return np.asarray(array.to_numpy(zero_copy_only=False))


def _quote_cut(
    payload: pa.Array, text: np.ndarray, tokens: list[str], slice_rows: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Where the plain tokens (no quote, no backslash) stand. Cut at every ``"``, a payload
    names a token right after ``"`` and before ``"`` or ``\\"`` exactly where a piece between
    two quotes is the token (or the token and a backslash). Returns which rows name a token
    and, per token, its row and its byte span in the row (a trailing backslash included);
    slice by slice, to bound the memory."""
    token_set = pa.array(tokens, pa.string())
    rows, where, starts, ends = [], [], [], []
    for first in range(0, len(payload), slice_rows):
        lists = pc.split_pattern(payload.slice(first, slice_rows), '"')
        pieces = lists.flatten()
        offsets = _np(lists.offsets).astype(np.int64)
        counts = np.diff(offsets)
        parent = np.repeat(np.arange(len(lists)), counts)
        position = np.arange(len(pieces)) - np.repeat(offsets[:-1] - offsets[0], counts)
        inner = (position > 0) & (position < np.repeat(counts - 1, counts))
        token = _np(pc.is_in(pieces, value_set=token_set))
        escaped = np.flatnonzero(_np(pc.ends_with(pieces, "\\")) & inner)
        if len(escaped):
            bare = pc.utf8_slice_codeunits(pieces.take(pa.array(escaped)), 0, -1)
            token[escaped] |= _np(pc.is_in(bare, value_set=token_set))
        token &= inner & text[first + parent]
        named = np.zeros(len(lists), dtype=bool)
        named[parent[token]] = True
        rows.append(named)
        # byte offset of every piece in its row: the pieces and one quote each before it
        lengths = _np(pc.binary_length(pieces)).astype(np.int64)
        before = np.cumsum(lengths + 1) - (lengths + 1)
        start = (
            before - np.repeat(before[offsets[:-1] - offsets[0]], counts) if len(before) else before
        )
        where.append(first + parent[token])
        starts.append(start[token])
        ends.append(start[token] + lengths[token])
    return (
        np.concatenate(rows),
        np.concatenate(where),
        np.concatenate(starts),
        np.concatenate(ends),
    )


_LIST = pa.list_(pa.string())


@dataclass(frozen=True)
class PayloadTemplate:
    """A payload column cut once into the pieces that differ between plants."""

    rows: pa.BooleanArray | None  # payloads that name an identity (None: none does)
    offsets: pa.Int32Array  # per such payload, its pieces in ``pieces``
    pieces: pa.StringArray  # every such payload cut into text, token, text, …, text
    is_token: pa.BooleanArray  # which pieces are tokens
    codes: pa.Int32Array  # per token piece, its index in ``bases``/``suffixes``
    bases: tuple[str, ...]  # the identity a token piece names
    suffixes: tuple[str, ...]  # what follows it in the piece (a backslash, or nothing)

    @property
    def rewritten(self) -> int:
        """How many payloads name an identity."""
        return len(self.offsets) - 1 if self.rows is not None else 0

    @classmethod
    def build(
        cls,
        payload: pa.Array,
        binary: pa.Array,
        ids: Identities,
        *,
        vectorised: bool = True,
        slice_rows: int = SLICE_ROWS,
    ) -> PayloadTemplate:
        """The template of one payload column (a single Arrow array) and its binary flags,
        cut ``slice_rows`` payloads at a time; ``vectorised=False`` cuts every payload with
        one Python regex instead."""
        tokens = sorted({*ids.serials, *ids.order_ids}, key=len, reverse=True)
        empty = cls(
            None, pa.array([0], pa.int32()), pa.array([], pa.string()),
            pa.array([], pa.bool_()), pa.array([], pa.int32()), (), (),
        )  # fmt: skip
        if not tokens or len(payload) == 0:
            return empty
        text = ~_np(binary).astype(bool)
        if vectorised and not any('"' in t or "\\" in t for t in tokens):
            named, row, start, end = _quote_cut(payload, text, tokens, slice_rows)
            if not named.any():
                return empty
            # the named payloads' bytes, cut into text, token, text, …, text (no copy)
            sub = payload.filter(pa.array(named))
            base = np.frombuffer(sub.buffers()[1], np.int32)[sub.offset : sub.offset + len(sub) + 1]
            rank = np.cumsum(named) - 1
            at = base[rank[row]].astype(np.int64)
            bounds = np.sort(np.concatenate([base.astype(np.int64), at + start, at + end]))
            pieces = pa.StringArray.from_buffers(
                len(bounds) - 1, pa.py_buffer(bounds.astype(np.int32)), sub.buffers()[2]
            )
            per_row = 2 * np.bincount(rank[row], minlength=len(sub)) + 1
            offsets = np.concatenate([[0], np.cumsum(per_row)])
        else:  # tokens with quotes or backslashes: one Python regex split per payload
            cut = _split_python(payload.filter(pa.array(text)).to_pylist(), tokens)
            keep = np.array([len(c) > 1 for c in cut], dtype=bool)
            named = np.zeros(len(payload), dtype=bool)
            named[np.flatnonzero(text)[keep]] = True
            if not named.any():
                return empty
            lists = pa.array([c for c, k in zip(cut, keep, strict=True) if k], _LIST)
            offsets = _np(lists.offsets).astype(np.int64)
            pieces = lists.flatten()
        # text, token, text, …, text: the odd pieces are the tokens
        position = np.arange(len(pieces)) - np.repeat(offsets[:-1], np.diff(offsets))
        is_token = position % 2 == 1
        encoded = pc.dictionary_encode(pieces.filter(pa.array(is_token)))
        names = encoded.dictionary.to_pylist()
        known = set(tokens)
        bases = tuple(n if n in known else n[:-1] for n in names)
        return cls(
            pa.array(named),
            pa.array(offsets.astype(np.int32), pa.int32()),
            pieces,
            pa.array(is_token),
            encoded.indices.cast(pa.int32()),
            bases,
            tuple(n[len(b) :] for n, b in zip(names, bases, strict=True)),
        )

    def render(self, payload: pa.Array, mapping: Mapping[str, str]) -> pa.Array:
        """``payload`` (the column the template was built from) with every token replaced by
        ``mapping[token]``; every other byte kept."""
        if self.rows is None:
            return payload
        new = [mapping[b] + s for b, s in zip(self.bases, self.suffixes, strict=True)]
        mapped = pa.array(new, pa.string()).take(self.codes)
        values = pc.replace_with_mask(self.pieces, self.is_token, mapped)
        lists = pa.ListArray.from_arrays(self.offsets, values)
        return pc.replace_with_mask(payload, self.rows, pc.binary_join(lists, ""))
