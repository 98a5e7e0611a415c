"""A plain paho-mqtt subscriber for tests: the independent witness of what a broker delivers."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt
from paho.mqtt.subscribeoptions import SubscribeOptions


@dataclass
class Received:
    topic: str
    payload: bytes
    retain: bool
    at_ns: int


@dataclass
class Subscriber:
    """Subscribes with MQTT 5 "retain as published" so recorded retain flags are visible."""

    host: str
    port: int
    topic: str = "#"
    qos: int = 1
    persistent: bool = False
    client_id: str = ""
    messages: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.ready = threading.Event()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=self.client_id or f"test-sub-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
        )
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *_: self.ready.set()
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(0.05, 0.5)

    def _on_connect(self, client: mqtt.Client, *_: object) -> None:
        opts = SubscribeOptions(qos=self.qos, retainAsPublished=True)
        client.subscribe(self.topic, options=opts)

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.messages.append(
                Received(msg.topic, bytes(msg.payload), bool(msg.retain), time.monotonic_ns())
            )

    def start(self) -> Subscriber:
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        props = None
        if self.persistent:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = 3600
        self.client.connect(self.host, self.port, clean_start=not self.persistent, properties=props)
        self.client.loop_start()
        assert self.ready.wait(10), "subscriber could not subscribe"
        return self

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()

    def wait_for(self, count: int, timeout: float = 60.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.messages) >= count:
                    break
            time.sleep(0.02)
        return self.snapshot()

    def snapshot(self) -> list[Received]:
        with self.lock:
            return list(self.messages)

    def __enter__(self) -> Subscriber:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
