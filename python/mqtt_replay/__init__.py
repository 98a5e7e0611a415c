"""mqtt-replay: record, analyse and replay MQTT sessions of a model factory.

The heavy lifting (parsing session logs into Arrow, the replay timer) happens in the Rust
core ``mqtt_replay._core``; this package is the Python API over it.
"""

from mqtt_replay.errors import (
    BrokerError,
    InvalidOptionError,
    MqttReplayError,
    SessionError,
    SessionFormatError,
    SessionIOError,
    SessionNotFoundError,
    SessionParseError,
)
from mqtt_replay.session import DEFAULT_TZ, Session, SkippedLine, open_session

__all__ = [
    "DEFAULT_TZ",
    "BrokerError",
    "InvalidOptionError",
    "MqttReplayError",
    "Session",
    "SessionError",
    "SessionFormatError",
    "SessionIOError",
    "SessionNotFoundError",
    "SessionParseError",
    "SkippedLine",
    "open_session",
]
