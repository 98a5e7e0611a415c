"""The project's own Mosquitto launcher (``mqtt_replay.local_broker``): a persistent broker
really keeps what it holds across a restart, whoever starts it (root included)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from tests.conftest import _start_broker
from tests.mqtt_client import Subscriber

pytestmark = pytest.mark.broker


def test_a_persistent_broker_keeps_sessions_and_retained_messages_across_a_restart(
    tmp_path: Path,
) -> None:
    """Reported: started as root, Mosquitto dropped to the user "mosquitto", could not write
    the 0700 persistence directory ("Error: Permission denied.") and a restart lost every
    queued message of an offline session (a QoS 1 replay test lost a run of messages)."""
    broker = _start_broker(tmp_path)
    broker.stop()
    broker.persistent = True
    broker.start()
    topic = f"keep/{uuid.uuid4().hex[:6]}"
    sid = f"offline-{uuid.uuid4().hex[:6]}"
    try:
        sub = Subscriber(
            broker.host, broker.port, topic=topic + "/#", persistent=True, client_id=sid
        ).start()
        sub.stop()  # offline: the broker queues for this session
        pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        pub.connect(broker.host, broker.port)
        pub.loop_start()
        infos = [pub.publish(f"{topic}/q", str(i), qos=1) for i in range(20)]
        infos.append(pub.publish(f"{topic}/r", "kept", qos=1, retain=True))
        for info in infos:
            info.wait_for_publish(10)
        pub.loop_stop()
        pub.disconnect()
        broker.stop()
        time.sleep(0.2)
        broker.start()
        back = Subscriber(
            broker.host, broker.port, topic=topic + "/#", persistent=True, client_id=sid
        ).start()
        got = back.wait_for(21, timeout=10)
        back.stop()
        fresh = Subscriber(broker.host, broker.port, topic=topic + "/r").start()
        retained = fresh.wait_for(1, timeout=10)
        fresh.stop()
    finally:
        broker.stop()
    queued = [m.payload.decode() for m in got if m.topic.endswith("/q")]
    assert queued == [str(i) for i in range(20)]
    assert [m.payload for m in retained] == [b"kept"]
    assert (
        not (tmp_path / "mosquitto.log").exists()
        or "Permission denied" not in (tmp_path / "mosquitto.log").read_text()
    )
