"""The sensor part of the factory model: TXT environment (BME680, LDR) and Arduino sensors.

These topics are almost half of a plant's traffic (the Arduino ``state`` messages alone 44 %),
and only their latest values are shown. So a message is not turned into entity values when it
arrives: :class:`SensorModel` keeps the decoded body (the latest one per Arduino sensor, the
recent ones for the environment) and builds the values when they are read — a snapshot, every
few hundred milliseconds. The values read are exactly those an eager, message-by-message update
would give:

- Arduino ``state``: a body without any scalar field (``timestamp`` aside) leaves the reading
  alone, so only bodies with one are kept, and each of those replaces values and receive time.
- BME680 / LDR: a reading updates the fields it carries (a missing or non-numeric field keeps
  the previous value) and the receive time. The kept bodies are folded newest first, each field
  taking its newest number; at most :data:`MAX_PENDING` are kept before they are folded.
- An Arduino ``connection`` message is applied at once, after the pending states (so the
  reading and the order of sensors come out as if every message had been applied in turn).

Not thread-safe (the owner serialises access, as for :class:`~apps.omf_dashboard.state
.FactoryState`). The ``apply`` methods return whether the ``sensors`` section changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from apps.omf_dashboard.entities import (
    Environment,
    SensorReading,
    has_scalar_fields,
    replace_fields,
    scalar_fields,
)
from apps.omf_dashboard.payloads import as_dict, as_enum, as_number

MAX_PENDING: Final = 64
"""Environment readings kept before they are folded into the values (bounds memory when
nobody reads the model)."""

ARDUINO_SKIP: Final = frozenset({"timestamp"})

Fields = tuple[tuple[str, str], ...]
BME680_FIELDS: Final[Fields] = (
    ("temperature", "t"),
    ("humidity", "h"),
    ("pressure", "p"),
    ("iaq", "iaq"),
)
LDR_FIELDS: Final[Fields] = (("brightness", "br"), ("ldr_raw", "ldr"))
_ENVIRONMENT_FIELDS: Final = len(BME680_FIELDS) + len(LDR_FIELDS)


class SensorModel:
    """Latest environment and Arduino readings, built from the kept bodies when read."""

    def __init__(self) -> None:
        self._environment: Environment | None = None
        self._arduino: dict[str, SensorReading] = {}
        self._environment_pending: list[tuple[Fields, Mapping[str, object], float]] = []
        self._arduino_pending: dict[str, tuple[str, str, object, float]] = {}

    @property
    def environment(self) -> Environment | None:
        if self._environment_pending:
            self._fold_environment()
        return self._environment

    @property
    def arduino(self) -> dict[str, SensorReading]:
        """The readings by ``<kind>/<id>`` (the model's own dict: do not modify it)."""
        if self._arduino_pending:
            self._fold_arduino()
        return self._arduino

    def apply_environment(self, fields: Fields, body: object, received_at: float) -> bool:
        """A BME680 (:data:`BME680_FIELDS`) or LDR (:data:`LDR_FIELDS`) reading."""
        data = as_dict(body)
        if data is None:
            return False
        pending = self._environment_pending
        pending.append((fields, data, received_at))
        if len(pending) >= MAX_PENDING:
            self._fold_environment()
        return True

    def apply_arduino_state(
        self, kind: str, sensor_id: str, key: str, body: object, received_at: float
    ) -> bool:
        """``osf/arduino/<kind>/<sensor_id>/state``; ``key`` is ``<kind>/<sensor_id>``."""
        if not has_scalar_fields(body, ARDUINO_SKIP):
            return False
        self._arduino_pending[key] = (kind, sensor_id, body, received_at)
        return True

    def apply_arduino_connection(
        self, kind: str, sensor_id: str, key: str, body: object, received_at: float
    ) -> bool:
        """``osf/arduino/<kind>/<sensor_id>/connection``: applied at once."""
        arduino = self.arduino  # pending states first
        current = arduino.get(key) or SensorReading(kind, sensor_id)
        state = as_enum((as_dict(body) or {}).get("connectionState"))
        arduino[key] = replace_fields(current, connection_state=state, updated_at=received_at)
        return True

    def _fold_arduino(self) -> None:
        arduino = self._arduino
        for key, (kind, sensor_id, body, received_at) in self._arduino_pending.items():
            current = arduino.get(key) or SensorReading(kind, sensor_id)
            arduino[key] = replace_fields(
                current, values=scalar_fields(body, ARDUINO_SKIP), updated_at=received_at
            )
        self._arduino_pending.clear()

    def _fold_environment(self) -> None:
        pending = self._environment_pending
        found: dict[str, float] = {}
        for fields, data, _received_at in reversed(pending):
            for name, key in fields:
                if name not in found:
                    value = as_number(data.get(key))
                    if value is not None:
                        found[name] = value
            if len(found) == _ENVIRONMENT_FIELDS:
                break
        current = self._environment or Environment()
        self._environment = replace_fields(current, updated_at=pending[-1][2], **found)
        pending.clear()
