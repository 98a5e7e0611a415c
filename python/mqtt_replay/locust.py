"""Locust integration: one virtual plant per Locust user, published by the engine.

A locustfile needs one line::

    from mqtt_replay.locust import PlantUser  # noqa: F401

and the run names the broker and the session::

    locust -f locustfile.py --host mqtt://127.0.0.1:1883 --mqtt-session plant.log \\
        --mqtt-speed 10 --mqtt-qos 1 --headless -u 10 -r 10 -t 60s

Each user is one plant of a fleet (:mod:`mqtt_replay.fleet`): its own connection, topic
prefix ``plant-{k}/`` and serials/order ids, with ``k`` unique across Locust's workers
(worker index × 10,000 + the user's number in its process). The engine's Rust thread
publishes; the user only looks at it once a second and fires one Locust request event per
message published in that second (request type ``MQTT``, name ``publish``, response time the
engine's latest publish lateness in ms, length the mean payload size), so Locust's counts
are the messages published and its distributed mode (a master, workers on many machines)
scales a fleet past one machine. A plant plays its session once (``--mqtt-loop`` repeats it),
then idles until Locust stops the run. Importing this module imports Locust, which
monkey-patches the standard library (gevent): import it only in a locustfile.
"""

from __future__ import annotations

import itertools
import os
import time
from typing import Any

from locust import User, events, task

from mqtt_replay.fleet import Fleet
from mqtt_replay.replay import Replayer
from mqtt_replay.session import open_session

__all__ = ["PlantUser"]

PLANTS_PER_WORKER = 10_000
REPORT_EVERY_S = 1.0
_local_numbers = itertools.count(1)
_sessions: dict[str, Any] = {}


def _add_arguments(parser: Any) -> None:
    group = parser.add_argument_group("mqtt-replay", "one virtual plant per user")
    actions = [
        group.add_argument(
            "--mqtt-session",
            default=os.environ.get("MQTT_REPLAY_SESSION", ""),
            help="session file (the same path on every worker)",
        ),
        group.add_argument("--mqtt-speed", type=float, default=1.0, help="time-scale factor"),
        group.add_argument("--mqtt-qos", type=int, choices=[0, 1], default=0, help="QoS 0 or 1"),
        group.add_argument("--mqtt-prefix", default="plant-{k}/", help="topic prefix per plant"),
        group.add_argument("--mqtt-loop", action="store_true", help="repeat the session"),
    ]
    for action in actions:  # a group's arguments miss Locust's flags: show them in the web UI
        action.include_in_web_ui = True
        action.is_secret = action.is_required = action.is_multiple = False


_listen: Any = events.init_command_line_parser.add_listener
_listen(_add_arguments)


def _session(path: str) -> Any:
    """One parsed session per process, shared by its users."""
    if path not in _sessions:
        _sessions[path] = open_session(path)
    return _sessions[path]


class PlantUser(User):
    """One plant: a :class:`~mqtt_replay.replay.Replayer` on the fleet's plant ``k``."""

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        runner = environment.runner
        worker = int(getattr(runner, "worker_index", 0) or 0)
        self.k = worker * PLANTS_PER_WORKER + next(_local_numbers)
        self.replayer: Replayer | None = None
        self.reported = 0
        self.failed = 0
        self.mean_size = 0

    def on_start(self) -> None:
        options = self.environment.parsed_options
        path = options.mqtt_session if options else os.environ.get("MQTT_REPLAY_SESSION", "")
        fleet = Fleet(_session(path), 1, first=self.k, prefix=options.mqtt_prefix)
        plant = fleet.session(self.k, speed=options.mqtt_speed)
        sizes = plant.table.column("payload").to_pylist()
        self.mean_size = sum(len(p) for p in sizes) // max(len(sizes), 1)
        started = time.perf_counter()
        try:
            self.replayer = Replayer(
                plant,
                self.host or "mqtt://127.0.0.1:1883",
                speed=1.0,
                loop=bool(options.mqtt_loop),
                qos=options.mqtt_qos,
                retain=False,
                status_topic=None,
                client_id=fleet.plant(self.k).client_id,
                spin_us=0,  # many users share few cores: sleep, never spin
            )
        except Exception as exc:
            self.environment.events.request.fire(
                request_type="MQTT",
                name="connect",
                response_time=(time.perf_counter() - started) * 1000,
                response_length=0,
                exception=exc,
                context={"plant": self.k},
            )
            raise

    def _report(self) -> bool:
        """Fires the events of the messages published since the last report; True when the
        plant has played its session."""
        if self.replayer is None:
            return True
        status = self.replayer.status()
        sent = int(status["sent"])
        lateness_ms = float(status["lateness_last_us"]) / 1000
        fire = self.environment.events.request.fire
        for _ in range(sent - self.reported):
            fire(
                request_type="MQTT",
                name="publish",
                response_time=lateness_ms,
                response_length=self.mean_size,
                exception=None,
                context={"plant": self.k},
            )
        self.reported = sent
        failed = int(status["failed"])
        for _ in range(failed - self.failed):
            fire(
                request_type="MQTT",
                name="publish",
                response_time=lateness_ms,
                response_length=0,
                exception=RuntimeError(str(status.get("error") or "not delivered")),
                context={"plant": self.k},
            )
        self.failed = failed
        return bool(self.replayer.finished)

    @task
    def watch(self) -> None:
        finished = self._report()
        time.sleep(REPORT_EVERY_S if not finished else 5 * REPORT_EVERY_S)

    def on_stop(self) -> None:
        if self.replayer is not None:
            self.replayer.stop()
            self._report()
            self.replayer.close()
            self.replayer = None
