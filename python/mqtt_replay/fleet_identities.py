"""The identities a session names and their per-plant rewrite, vectorised.

:func:`find_identities` collects serial-like tokens (topic segments after
``module/v1/ff/[NodeRed/]`` and ``fts/v1/ff/``, values of ``*serialNumber`` keys, the serials
the product spec lists) and order ids (values of ``orderId`` keys). :class:`PayloadTemplate`
cuts a session's payloads once into text and tokens — a token counts where it stands as a whole
JSON string, also inside escaped JSON text: right after a ``"`` and right before ``"`` or
``\\"`` — and :meth:`PayloadTemplate.render` gives any plant's payload column from its mapping.

Both work on whole Arrow columns: the rows that name a token are found and marked by RE2
(``pyarrow.compute``), split once, and a plant's payloads are one ``replace_with_mask`` of the
token pieces and a join, so a plant costs a few passes over the rewritten bytes, not a Python
loop over its rows. What RE2 cannot express (a token right after the closing quote of another,
both sharing that quote; tokens with quotes or backslashes; an alternation too big to compile)
is split in Python, with the same result.
"""

from __future__ import annotations

import contextlib
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
# a run of string characters right after a quote and right before a quote or an escaped one:
# a plain token (no quote, no backslash) matches where it is exactly such a run
_STRING_RUN = re.compile(r'(?<=")([^"\\]+)(?=\\?")')
_MARK = "\x01"  # splits marked payloads; rows that contain it are split in Python
RE2_GROUP = 5_000  # tokens per RE2 alternation (RE2 refuses ~20,000 UUIDs in one)


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


def _split_plain(payload: str, tokens: frozenset[str]) -> list[str]:
    """``payload`` cut into text, token, text, …, text around plain tokens (no quote, no
    backslash): where a token stands right after ``"`` and before ``"`` or ``\\"``."""
    pieces: list[str] = []
    last = 0
    for m in _STRING_RUN.finditer(payload):
        if m.group(1) in tokens:
            pieces.append(payload[last : m.start()])
            pieces.append(m.group(1))
            last = m.end()
    pieces.append(payload[last:])
    return pieces


def _split_python(payloads: list[str], tokens: list[str]) -> list[list[str]]:
    """The same cut for any tokens, in Python (the general path)."""
    if any('"' in t or "\\" in t for t in tokens):
        ordered = sorted(tokens, key=len, reverse=True)
        pattern = re.compile('(?<=")(' + "|".join(map(re.escape, ordered)) + r')(?=\\?")')
        return [pattern.split(p) for p in payloads]
    plain = frozenset(tokens)
    return [_split_plain(p, plain) for p in payloads]


_LIST = pa.list_(pa.string())


def _alternations(tokens: list[str], group: int) -> list[str] | None:
    """RE2 alternations of the tokens, in groups small enough for RE2's memory budget; None
    when a token has a quote or a backslash (RE2 cannot mirror the Python rule then)."""
    if any('"' in t or "\\" in t for t in tokens):
        return None
    return [_re2_alternation(tokens[i : i + group]) for i in range(0, len(tokens), group)]


def _named(payload: pa.Array, alternations: list[str]) -> pa.Array:
    """Which payloads hold a token right after a quote and before ``"`` or ``\\"``."""
    named = pc.match_substring_regex(payload, rf'"(?:{alternations[0]})\\?"')
    for alt in alternations[1:]:
        named = pc.or_(named, pc.match_substring_regex(payload, rf'"(?:{alt})\\?"'))
    return named


def _split_arrow(payloads: pa.Array, tokens: list[str], alternations: list[str]) -> pa.ListArray:
    """Every payload (each names a token) cut into text, token, …, text, in row order: RE2
    marks the tokens (one pass per group), the marker splits. RE2 consumes the quotes, so a
    token right after the closing quote of another of its group would be missed: such payloads,
    and those that hold the marker, are cut in Python."""
    special = pc.match_substring(payloads, _MARK)
    for alt in alternations:
        double = rf'"(?:{alt})\\?"(?:{alt})\\?"'
        special = pc.or_(special, pc.match_substring_regex(payloads, double))
    marked = payloads.filter(pc.invert(special))
    for alt in alternations:
        marked = pc.replace_substring_regex(
            marked, rf'"({alt})(\\?")', '"' + _MARK + r"\1" + _MARK + r"\2"
        )
    fast = pc.split_pattern(marked, _MARK)
    if not pc.any(special).as_py():
        return fast
    slow = pa.array(_split_python(payloads.filter(special).to_pylist(), tokens), _LIST)
    is_special = special.to_numpy(zero_copy_only=False)
    where = np.concatenate([np.flatnonzero(~is_special), np.flatnonzero(is_special)])
    return pa.concat_arrays([fast, slow]).take(pa.array(np.argsort(where, kind="stable")))


@dataclass(frozen=True)
class PayloadTemplate:
    """A payload column cut once into the pieces that differ between plants."""

    rows: pa.BooleanArray | None  # payloads that name an identity (None: none does)
    offsets: pa.Int32Array  # per such payload, its pieces in ``pieces``
    pieces: pa.StringArray  # text, token, text, …, text of every such payload
    is_token: pa.BooleanArray  # which pieces are tokens
    codes: pa.Int32Array  # per token piece, its index in ``tokens``
    tokens: tuple[str, ...]

    @property
    def rewritten(self) -> int:
        """How many payloads name an identity."""
        return len(self.offsets) - 1 if self.rows is not None else 0

    @classmethod
    def build(
        cls, payload: pa.Array, binary: pa.Array, ids: Identities, *, re2_group: int = RE2_GROUP
    ) -> PayloadTemplate:
        """The template of one payload column (a single Arrow array) and its binary flags;
        ``re2_group`` tokens per RE2 alternation (0: cut every payload in Python)."""
        tokens = sorted({*ids.serials, *ids.order_ids}, key=len, reverse=True)
        empty = cls(
            None, pa.array([0], pa.int32()), pa.array([], pa.string()),
            pa.array([], pa.bool_()), pa.array([], pa.int32()), (),
        )  # fmt: skip
        if not tokens or len(payload) == 0:
            return empty
        text = pc.invert(binary)
        alternations = _alternations(tokens, re2_group) if re2_group > 0 else None
        lists = None
        if alternations is not None:
            with contextlib.suppress(pa.ArrowInvalid):  # RE2 gave up: the general path
                mask = pc.and_(_named(payload, alternations), text)
                lists = _split_arrow(payload.filter(mask), tokens, alternations)
        if lists is None:  # every text payload cut in Python
            cut = _split_python(payload.filter(text).to_pylist(), tokens)
            keep = np.array([len(c) > 1 for c in cut], dtype=bool)
            rows = np.zeros(len(payload), dtype=bool)
            rows[np.flatnonzero(text.to_numpy(zero_copy_only=False))[keep]] = True
            lists = pa.array([c for c, k in zip(cut, keep, strict=True) if k], _LIST)
            mask = pa.array(rows)
        if len(lists) == 0:
            return empty
        offsets = lists.offsets.to_numpy()
        offsets = (offsets - offsets[0]).astype(np.int32)
        pieces = lists.flatten()
        position = np.arange(len(pieces)) - np.repeat(offsets[:-1], np.diff(offsets))
        is_token = pa.array(position % 2 == 1)
        encoded = pc.dictionary_encode(pieces.filter(is_token))
        return cls(
            mask,
            pa.array(offsets, pa.int32()),
            pieces,
            is_token,
            encoded.indices.cast(pa.int32()),
            tuple(encoded.dictionary.to_pylist()),
        )

    def render(self, payload: pa.Array, mapping: Mapping[str, str]) -> pa.Array:
        """``payload`` (the column the template was built from) with every token replaced by
        ``mapping[token]``; every other byte kept."""
        if self.rows is None:
            return payload
        mapped = pa.array([mapping[t] for t in self.tokens], pa.string()).take(self.codes)
        values = pc.replace_with_mask(self.pieces, self.is_token, mapped)
        joined = pc.binary_join(pa.ListArray.from_arrays(self.offsets, values), "")
        return pc.replace_with_mask(payload, self.rows, joined)
