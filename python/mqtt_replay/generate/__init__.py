"""Deterministic synthetic plant sessions (L5 NDJSON) for demos, tests and benchmarks.

``generate_session(path, messages=..., seed=...)`` writes a session that looks like a recording
of the fischertechnik plant (SPEC §4): a header line ``{"_kind":"session_meta",...}``, then one
compact JSON line per message ``{"topic","payload","timestamp","qos","retain"}`` with UTC
millisecond ``Z`` timestamps.

Mixes:

* ``plant`` — a retained dump at the start (CCU state, pairing, module connections/states/
  factsheets, AGV, TXT controller, Arduino sensors), then a storage order and production orders
  RED/WHITE/BLUE flowing HBW → AGV → DRILL/MILL → AIQS → DPS (order request/response, module
  orders and states with ``actionState`` RUNNING → FINISHED, AGV orders and states with
  ``batteryState``, ``ccu/order/active`` updates, stock updates, charging), interleaved with the
  noisy background: ``ccu/pairing/state`` every ~1.3 s, camera frames (~10 KB base64 data-URIs
  of valid JPEGs),
  BME680/LDR readings, DPS ``setStatusLED`` instantActions and Arduino sensors. About 0.9 KB per
  message on average.
* ``small`` — only small sensor/status messages (~100-300 B), no camera, no orders.
* ``camera`` — mostly camera frames.

Timestamps advance by exponential inter-arrival times with mean ``1/rate`` s, with occasional
bursts of several messages sharing one timestamp. The same arguments always give a
byte-identical file: every random choice comes from ``random.Random`` seeded by ``seed``.

Modules: :mod:`~mqtt_replay.generate.catalogue` (the plant, payload templates, camera
frames), :mod:`~mqtt_replay.generate.messages` (the plant's state, one builder per message, the
retained dump), :mod:`~mqtt_replay.generate.scripts` (the message stream: background, order
and charging scripts) and :mod:`~mqtt_replay.generate.writer` (record times, header, file).
"""

from mqtt_replay.generate.catalogue import MIXES
from mqtt_replay.generate.writer import DEFAULT_START, generate_session

__all__ = ["DEFAULT_START", "MIXES", "generate_session"]
