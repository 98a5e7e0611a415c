"""The fleet's identity rewrite done the straightforward way, as an oracle for the fast one.

This is the Python implementation ``mqtt_replay.fleet`` had before it was vectorised: one
Python pass over every payload for the identities, one alternation regex split per payload for
the template, one ``str.join`` per rewritten payload per plant. Slow (quadratic in the number of
order ids) but plainly right; the property tests compare the fast path with it.
"""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc

from mqtt_replay.fleet_identities import (
    _PAYLOAD_ORDER,
    _PAYLOAD_SERIAL,
    _PLACEHOLDERS,
    _TOPIC_SERIAL,
    KNOWN_SERIALS,
    Identities,
)


def _ordered(seen: dict[str, None], value: str) -> None:
    if value not in seen:
        seen[value] = None


def reference_find_identities(table: pa.Table) -> Identities:
    serials: dict[str, None] = {}
    orders: dict[str, None] = {}
    topics = table.column("topic")
    names = topics.chunk(0).dictionary.to_pylist() if table.num_rows else []
    for name in names:
        m = _TOPIC_SERIAL.match(name)
        if m and m.group(1) != "NodeRed" and m.group(1) not in _PLACEHOLDERS:
            _ordered(serials, m.group(1))
    payloads = table.column("payload")
    binary = table.column("binary")
    text_rows = pc.invert(binary)
    for payload in payloads.filter(text_rows).to_pylist():
        if "erialNumber" in payload:
            for m in _PAYLOAD_SERIAL.finditer(payload):
                if m.group(1) not in _PLACEHOLDERS:
                    _ordered(serials, m.group(1))
        if "orderId" in payload:
            for m in _PAYLOAD_ORDER.finditer(payload):
                if m.group(1) not in _PLACEHOLDERS:
                    _ordered(orders, m.group(1))
    joined = "\n".join(names)
    for serial in KNOWN_SERIALS:
        if serial not in serials and serial in joined:
            _ordered(serials, serial)
    missing = [s for s in KNOWN_SERIALS if s not in serials]
    if missing:
        quoted = re.compile('"(' + "|".join(map(re.escape, missing)) + ')"')
        for payload in payloads.filter(text_rows).to_pylist():
            for m in quoted.finditer(payload):
                _ordered(serials, m.group(1))
    return Identities(tuple(serials), tuple(orders))


def reference_payloads(
    payloads: list[str], binary: list[bool], ids: Identities, mapping: dict[str, str]
) -> list[str]:
    """Every payload with its identities replaced by ``mapping`` (binary ones untouched)."""
    tokens = sorted({*ids.serials, *ids.order_ids}, key=len, reverse=True)
    if not tokens:
        return list(payloads)
    # a token counts where it is a whole JSON string, also inside escaped JSON text
    pattern = re.compile('(?<=")(' + "|".join(map(re.escape, tokens)) + r')(?=\\?")')
    out = list(payloads)
    for i, payload in enumerate(payloads):
        if binary[i]:
            continue
        split = pattern.split(payload)
        if len(split) > 1:
            out[i] = "".join(mapping[piece] if j % 2 else piece for j, piece in enumerate(split))
    return out
