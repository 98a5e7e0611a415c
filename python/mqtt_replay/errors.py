"""The one exception hierarchy of mqtt-replay.

Every error the package raises derives from :class:`MqttReplayError`. Errors about bad input
also derive from :class:`ValueError` (so ordinary code can catch them), errors about missing
files from :class:`FileNotFoundError`, broker trouble from :class:`ConnectionError`.
The Rust core raises these classes by name; their constructors are part of that contract.
"""

from __future__ import annotations


class MqttReplayError(Exception):
    """Base class of every error raised by mqtt-replay."""


class SessionError(MqttReplayError):
    """A session file could not be read."""


class SessionNotFoundError(SessionError, FileNotFoundError):
    """The session file does not exist."""


class SessionIOError(SessionError, OSError):
    """The session file exists but could not be read."""


class SessionFormatError(SessionError, ValueError):
    """The file is not a session we can read (container, schema, encoding)."""


class SessionParseError(SessionFormatError):
    """A line of the session is not a valid message (raised in strict mode).

    ``path``, ``line`` (1-based; for SQLite the row id) and ``reason`` name the problem.
    """

    def __init__(self, message: str, path: str = "", line: int = 0, reason: str = "") -> None:
        super().__init__(message)
        self.path = path
        self.line = line
        self.reason = reason


class SessionChangedError(SessionFormatError):
    """The file of an index-mode session changed since it was indexed: its payload offsets
    no longer point at the messages. Open the session again."""


class InvalidOptionError(MqttReplayError, ValueError):
    """A caller passed an option the library cannot honour (unknown zone, bad URL, …)."""


class BrokerError(MqttReplayError, ConnectionError):
    """The MQTT broker could not be reached, refused us or is not allowed."""
