"""The vectorised fleet rewrite gives what the straightforward one gives (tests/fleet_reference.py):
on generated sessions, on the real recordings, and on drawn payloads full of quotes, escapes,
tokens that are prefixes of others, markers and tokens that share a quote."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.conftest import SAMPLES, sample_path
from tests.fleet_reference import reference_find_identities, reference_payloads

from mqtt_replay.fleet import Fleet, as_session
from mqtt_replay.fleet_identities import PayloadTemplate, find_identities
from mqtt_replay.generate import MIXES, generate_session
from mqtt_replay.session import Session, open_session

UUIDS = [
    "0f8fad5b-d9cb-469f-a165-70867728950e",
    "7c9e6679-7425-40de-944b-e07fc1f90ae7",
    "0f8fad5b-d9cb-469f-a165-70867728950",  # a prefix of the first, not a UUID
]
SERIALS = ["SVR3QA0022", "SVR3QA0022X", "5iO4", "leJ4", "jp93", "CHRG0", "A", "AB", "é-1"]
TOPICS = [
    "module/v1/ff/SVR3QA0022/state",
    "module/v1/ff/NodeRed/AB/state",
    "module/v1/ff/NodeRed/status",
    "fts/v1/ff/5iO4/state",
    "fts/v1/ff/0/state",
    'module/v1/ff/q"x/state',  # a topic serial with a quote: the Python path
    "module/v1/ff/b\\s/state",  # and one with a backslash
    "ccu/order/active",
    "/j1/txt/1/i/bme680",
]


def _token_fragment(token: str) -> st.SearchStrategy[str]:
    return st.sampled_from(
        [
            f'"{token}"',
            f'\\"{token}\\"',
            f'"{token}\\"',
            f'"{token}',
            f'{token}"',
            token,
            f'"serialNumber":"{token}"',
            f'"agvSerialNumber" : "{token}"',
            f'"orderId":"{token}"',
        ]
    )


TOKENS = [*UUIDS, *SERIALS, "ord-1", "ord-12", 'q"x', "b\\s", "0", "UNKNOWN"]
PAIRS = st.tuples(st.sampled_from(TOKENS), st.sampled_from(TOKENS))
FRAGMENTS = st.one_of(
    st.sampled_from(TOKENS).flatmap(_token_fragment),
    PAIRS.map(lambda ab: f'"{ab[0]}"{ab[1]}"'),  # two tokens sharing a quote
    PAIRS.map(lambda ab: f'\\"{ab[0]}\\"{ab[1]}\\"'),
    st.sampled_from(['"', "\\", '\\"', ":", ",", "{", "}", " ", "\x01", "é", "x", '""', "\\\\"]),
    st.text(alphabet='ab"\\:\x01', max_size=4),
)


@st.composite
def sessions(draw: st.DrawFn) -> Session:
    n = draw(st.integers(1, 12))
    topics = draw(st.lists(st.sampled_from(TOPICS), min_size=n, max_size=n))
    payloads = draw(st.lists(st.lists(FRAGMENTS, max_size=10).map("".join), min_size=n, max_size=n))
    binary = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    # one row declares some identities, so that the other rows have tokens to rewrite
    declared = draw(st.lists(st.sampled_from(TOKENS), max_size=6))
    key = draw(st.sampled_from(["serialNumber", "orderId"]))
    payloads[0] += "".join(f'"{key}":"{t}",' for t in declared)
    binary[0] = False
    table = pa.table(
        {
            "timestamp": pa.array(range(n), pa.int64()).cast(pa.timestamp("us", tz="UTC")),
            "topic": pa.array(topics, pa.string()).dictionary_encode(),
            "payload": pa.array(payloads, pa.string()),
            "qos": pa.array([0] * n, pa.uint8()),
            "retain": pa.array([False] * n),
            "binary": pa.array(binary),
        }
    )
    return as_session(table, "drawn")


def _check(session: Session, plants: int = 2) -> None:
    table = session.table
    ids = find_identities(table)
    assert ids == reference_find_identities(table)
    fleet = Fleet(session, plants)
    payloads = table.column("payload").to_pylist()
    binary = table.column("binary").to_pylist()
    column = table.column("payload").combine_chunks()
    flags = table.column("binary").combine_chunks()
    python = PayloadTemplate.build(column, flags, ids, vectorised=False)  # cut in Python
    sliced = PayloadTemplate.build(column, flags, ids, slice_rows=3)  # cut 3 rows at a time
    for spec in fleet.plants:
        expected = reference_payloads(payloads, binary, ids, spec.mapping)
        assert fleet.table(spec.k).column("payload").to_pylist() == expected
        assert python.render(column, spec.mapping).to_pylist() == expected
        assert sliced.render(column, spec.mapping).to_pylist() == expected


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sessions())
def test_drawn_payloads_are_rewritten_as_the_reference_does(session: Session) -> None:
    _check(session)


@pytest.mark.parametrize("mix", MIXES)
def test_generated_sessions_are_rewritten_as_the_reference_does(tmp_path: Path, mix: str) -> None:
    _check(open_session(generate_session(tmp_path / "s.log", messages=3000, seed=11, mix=mix)), 3)


def test_thousands_of_order_ids(tmp_path: Path) -> None:
    """Thousands of order ids, each row naming two (the old alternation regex was quadratic
    here); the result is the Python cut's (the reference's own, on the drawn sessions above)."""
    n = 6500
    orders = [f"{i:08x}-0000-4000-8000-{i:012x}" for i in range(n)]
    lines = [
        json.dumps(
            {
                "topic": "ccu/order/active",
                "payload": json.dumps({"orderId": orders[i], "next": orders[(i * 7919) % n]}),
                "timestamp": f"2026-01-01T00:{i // 60000:02d}:{i // 1000 % 60:02d}.{i % 1000:03d}Z",
                "qos": 0,
                "retain": False,
            }
        )
        for i in range(n)
    ]
    path = tmp_path / "orders.log"
    path.write_text("\n".join(lines) + "\n")
    table = open_session(path).table
    ids = find_identities(table)
    assert ids.order_ids == tuple(orders)
    fleet = Fleet(open_session(path), 1)
    column = table.column("payload").combine_chunks()
    python = PayloadTemplate.build(
        column, table.column("binary").combine_chunks(), ids, vectorised=False
    )
    mapping = fleet.plants[0].mapping
    got = fleet.table(1).column("payload").to_pylist()
    assert got == python.render(column, mapping).to_pylist()
    assert mapping[orders[5]] in got[5] and mapping[orders[(5 * 7919) % n]] in got[5]


@pytest.mark.samples
def test_real_recordings_are_rewritten_as_the_reference_does() -> None:
    names = sorted(p.name for p in SAMPLES.glob("*.log"))
    assert names
    for name in names:
        session = open_session(sample_path(name))
        if len(session):
            _check(session, 2)
