"""Which handler of the factory model a topic goes to, decided once per topic.

The plant's topics name what they are about: ``module/v1/ff/<serial>/<kind>`` (also under
``module/v1/ff/NodeRed/``), ``fts/v1/ff/<serial>/<kind>`` and ``osf/arduino/<kind>/<id>/<leaf>``,
besides a few exact CCU and TXT topics. :class:`TopicRouter` splits a topic the first time it
is seen and caches the result — the handler and the arguments the topic carries — so a message
costs one dict lookup instead of a split and a row of prefix tests.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

Handler = Callable[..., None]
Route = tuple[Handler, tuple[str, ...]]
"""A handler and the arguments taken from the topic, passed before the body and the time:
``()`` for exact topics, ``(serial,)`` for modules and AGVs, ``(kind, id, "kind/id")`` for
Arduino sensors."""

ROUTE_CACHE_LIMIT: Final = 10_000
"""Topics whose route is cached; the cache starts afresh beyond that (topic spam)."""


class TopicRouter:
    """Routes by exact topic, then by module / AGV kind and Arduino leaf; None = ignored."""

    def __init__(
        self,
        *,
        exact: Mapping[str, Handler],
        module: Mapping[str, Handler],
        agv: Mapping[str, Handler],
        arduino: Mapping[str, Handler],
    ) -> None:
        self._exact = exact
        self._module = module
        self._agv = agv
        self._arduino = arduino
        self.routes: dict[str, Route | None] = {}
        """The cache: look a topic up here first, call :meth:`learn` on a miss."""

    def learn(self, topic: str) -> Route | None:
        """Route ``topic`` and cache the result."""
        route = self.route(topic)
        if len(self.routes) >= ROUTE_CACHE_LIMIT:
            self.routes.clear()
        self.routes[topic] = route
        return route

    def route(self, topic: str) -> Route | None:
        """The route of ``topic``, uncached."""
        exact = self._exact.get(topic)
        if exact is not None:
            return exact, ()
        parts = topic.split("/")
        if topic.startswith("module/v1/ff/"):
            if len(parts) == 5:
                serial, kind = parts[3], parts[4]
            elif len(parts) == 6 and parts[3] == "NodeRed":
                serial, kind = parts[4], parts[5]
            else:
                return None
            handler = self._module.get(kind)
            return (handler, (serial,)) if handler is not None and serial else None
        if topic.startswith("fts/v1/ff/") and len(parts) == 5:
            handler = self._agv.get(parts[4])
            return (handler, (parts[3],)) if handler is not None and parts[3] else None
        if topic.startswith("osf/arduino/") and len(parts) == 5:
            kind, sensor_id = parts[2], parts[3]
            handler = self._arduino.get(parts[4])
            if handler is None:
                return None
            return handler, (kind, sensor_id, f"{kind}/{sensor_id}")
        return None
