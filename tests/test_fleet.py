"""The fleet rewrite: N plants from one session never collide, payloads otherwise unchanged."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pytest
from tests.conftest import sample_path

from mqtt_replay.errors import InvalidOptionError
from mqtt_replay.fleet import KNOWN_SERIALS, Fleet, find_identities
from mqtt_replay.generate import generate_session
from mqtt_replay.session import open_session

SERIAL_IN_TOPIC = re.compile(r"(?:module|fts)/v1/ff/(?:NodeRed/)?([^/]+)/")
SERIAL_VALUE = re.compile(r'"serialNumber"\s*:\s*"([^"]+)"')
ORDER_VALUE = re.compile(r'"orderId"\s*:\s*"([^"]+)"')


def _serials_and_orders(table: pa.Table) -> tuple[set[str], set[str]]:
    serials: set[str] = set()
    orders: set[str] = set()
    for topic in table.column("topic").to_pylist():
        m = SERIAL_IN_TOPIC.search(topic)
        if m and m.group(1) != "NodeRed":
            serials.add(m.group(1))
    for payload in table.column("payload").to_pylist():
        serials.update(SERIAL_VALUE.findall(payload))
        orders.update(o for o in ORDER_VALUE.findall(payload) if o != "0")
    return serials, orders


def _check_fleet(path: Path, plants: int) -> None:
    session = open_session(path)
    original = session.table
    fleet = Fleet(session, plants)
    orig_serials, orig_orders = _serials_and_orders(original)
    assert orig_serials, "the session names no serial: the test would prove nothing"
    seen_serials: dict[str, int] = {}
    seen_orders: dict[str, int] = {}
    orig_topics = original.column("topic").to_pylist()
    orig_payloads = original.column("payload").to_pylist()
    for k in range(1, plants + 1):
        table = fleet.table(k)
        assert table.num_rows == original.num_rows
        # order within the plant kept: the same timestamps in the same order
        assert table.column("timestamp").equals(original.column("timestamp"))
        topics = table.column("topic").to_pylist()
        prefix = f"plant-{k}/"
        assert all(t.startswith(prefix) for t in topics)
        serials, orders = _serials_and_orders(table)
        spec_serials = {s for s in orig_serials if s in KNOWN_SERIALS}
        assert not (serials & orig_serials), "a recorded serial survived"
        assert len(serials) >= len(spec_serials)
        if orig_orders:
            assert orders and not (orders & orig_orders)
        for s in serials:
            assert seen_serials.setdefault(s, k) == k, (
                f"serial {s} in plants {seen_serials[s]}, {k}"
            )
        for o in orders:
            assert seen_orders.setdefault(o, k) == k, f"order id {o} shared between plants"
        # undo the plant's mapping: everything else is byte-identical
        back = {new: old for old, new in fleet.plants[k - 1].mapping.items()}
        undo = re.compile("|".join(map(re.escape, sorted(back, key=len, reverse=True))))
        changed = 0

        def restore(text: str, back: dict[str, str] = back, undo: re.Pattern[str] = undo) -> str:
            return undo.sub(lambda m: back[m.group(0)], text)

        for old_t, new_t, old_p, new_p in zip(
            orig_topics, topics, orig_payloads, table.column("payload").to_pylist(), strict=True
        ):
            assert restore(new_t[len(prefix) :]) == old_t
            restored = restore(new_p)
            assert restored.encode() == old_p.encode()
            changed += new_p != old_p
        assert changed > 0


def test_generated_session_plants_do_not_collide(tmp_path: Path) -> None:
    path = generate_session(tmp_path / "plant.log", messages=3000, seed=3)
    _check_fleet(path, 5)


@pytest.mark.samples
@pytest.mark.parametrize(
    "name",
    ["storage-production-ml-wrb_20260804_114227.log", "production-blue_20260303_090705.log"],
)
def test_real_sample_plants_do_not_collide(name: str) -> None:
    _check_fleet(sample_path(name), 4)


@pytest.mark.samples
def test_identities_found_in_a_real_sample() -> None:
    ids = find_identities(
        open_session(sample_path("white-storage-production_20260807_111716.log")).table
    )
    assert {"SVR3QA0022", "SVR4H76449", "SVR4H73275"} <= set(ids.serials)
    assert "NodeRed" not in ids.serials
    assert ids.order_ids and all(len(o) > 1 for o in ids.order_ids)


def test_binary_payloads_are_not_touched(tmp_path: Path) -> None:
    path = generate_session(tmp_path / "camera.log", messages=400, seed=1, mix="camera")
    session = open_session(path)
    fleet = Fleet(session, 2)
    table = fleet.table(2)
    binary = session.table.column("binary").to_pylist()
    for is_bin, old, new in zip(
        binary,
        session.table.column("payload").to_pylist(),
        table.column("payload").to_pylist(),
        strict=True,
    ):
        if is_bin:
            assert old == new


def test_two_sessions_are_dealt_out_and_time_is_scaled(tmp_path: Path) -> None:
    a = generate_session(tmp_path / "a.log", messages=500, seed=1, rate=50)
    b = generate_session(tmp_path / "b.log", messages=300, seed=2, mix="small", rate=50)
    fleet = Fleet([a, b], 3, stagger_s=0.5)
    assert [p.source for p in fleet.plants] == [0, 1, 0]
    assert len(fleet.table(2)) == 300
    normal = fleet.session(1)
    fast = fleet.session(1, speed=20)
    assert fast.duration_s == pytest.approx(normal.duration_s / 20, rel=1e-3)
    tiled = fleet.session(3, speed=20, duration_s=3 * normal.duration_s / 20)
    assert 2.5 * len(normal) < len(tiled) <= 3 * len(normal) + 1
    assert tiled.duration_s <= 3 * normal.duration_s / 20 + 1e-6
    assert fleet.mean_rate() == pytest.approx(
        2 * 500 / normal.duration_s + 300 / open_session(b).duration_s, rel=1e-6
    )


def test_tiling_a_one_message_session(tmp_path: Path) -> None:
    path = tmp_path / "one.log"
    path.write_text(
        '{"topic":"a/b","payload":"{}","timestamp":"2026-01-01T00:00:00.000Z","qos":0,"retain":false}\n'
    )
    tiled = Fleet(path, 1).session(1, duration_s=3.5)
    assert len(tiled) == 4  # one copy a second: 0, 1, 2, 3 s


def test_bad_fleets(tmp_path: Path) -> None:
    path = generate_session(tmp_path / "a.log", messages=50, seed=1)
    with pytest.raises(InvalidOptionError):
        Fleet(path, 0)
    with pytest.raises(InvalidOptionError):
        Fleet(path, 2, prefix="same/")
    with pytest.raises(InvalidOptionError):
        Fleet([], 2)


@pytest.mark.parametrize("duration", [None, 2.0, 30.0])
def test_speed_for_a_target_rate(tmp_path: Path, duration: float | None) -> None:
    a = generate_session(tmp_path / "a.log", messages=2000, seed=1, rate=50)
    b = generate_session(tmp_path / "b.log", messages=500, seed=2, mix="small", rate=20)
    fleet = Fleet([a, b], 5)
    for rate in (300.0, 5000.0, 80000.0):
        speed = fleet.speed_for_rate(rate, duration_s=duration)
        plants = [fleet.session(p.k, speed=speed, duration_s=duration) for p in fleet.plants]
        seconds = duration if duration is not None else max(s.duration_s for s in plants)
        offered = sum(len(s) for s in plants) / seconds
        assert offered == pytest.approx(rate, rel=0.03), (rate, speed, offered)
