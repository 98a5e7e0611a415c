"""Typed stub of the compiled module ``mqtt_replay._core`` (checked by mypy.stubtest)."""

from typing import Any, final

__version__: str
__all__ = [
    "Probe",
    "Progress",
    "Recorder",
    "Replayer",
    "Session",
    "__version__",
    "bucket_counts",
    "fetch_payloads",
    "match_arrivals",
    "open_session",
    "parse_broker_url",
    "payload_flags",
    "search_payloads",
    "search_texts",
    "sort_rows",
    "topic_stats",
]

@final
class Progress:
    def __new__(cls) -> Progress: ...
    @property
    def done(self) -> int: ...

@final
class Session:
    @property
    def path(self) -> str: ...
    @property
    def container(self) -> str: ...
    @property
    def mode(self) -> str: ...
    @property
    def header_json(self) -> str | None: ...
    @property
    def skipped(self) -> list[tuple[int, str, str]]: ...
    @property
    def metadata_lines(self) -> list[int]: ...
    @property
    def lines(self) -> int: ...
    @property
    def rows(self) -> int: ...
    @property
    def bytes(self) -> int: ...
    def __arrow_c_stream__(self, requested_schema: Any | None = None) -> Any: ...

def open_session(
    path: str | Any,
    *,
    strict: bool = False,
    tz: str = ...,
    mode: str = "full",
    progress: Progress | None = None,
) -> Session: ...
def fetch_payloads(path: str | Any, offsets: list[int], lengths: list[int]) -> list[str]: ...
def search_payloads(
    path: str | Any,
    offsets: Any,
    lengths: Any,
    needle: str,
    *,
    ignore_case: bool,
    span_flags: Any | None = None,
) -> bytes: ...
def payload_flags(path: str | Any, offsets: Any, lengths: Any) -> bytes: ...
def search_texts(data: Any, offsets: Any, needle: str, *, ignore_case: bool) -> bytes: ...
def topic_stats(
    codes: Any, ts: Any, sizes: Any, rows: Any | None, n_topics: int
) -> tuple[list[int], list[int], list[int], list[int], list[int], list[int], bool]: ...
def bucket_counts(
    codes: Any,
    ts: Any,
    rows: Any | None,
    lane_of_code: Any,
    x0: int,
    x1: int,
    lanes: int,
    buckets: int,
) -> tuple[list[int], int]: ...
def sort_rows(keys: Any, rows: Any, out: Any, descending: bool = False) -> None: ...
def match_arrivals(
    ids: Any,
    due_ns: Any,
    plant_len: Any,
    plant_of_id: Any,
    topic_index: Any,
    id_of_topic: Any,
    arrival_ns: Any,
    bin_ns: int,
) -> dict[str, Any]: ...

@final
class Replayer:
    def __new__(
        cls,
        table: Any,
        broker_url: str,
        *,
        client_id: str,
        allow_remote: bool = False,
        speed: float = 1.0,
        looping: bool = False,
        from_us: int | None = None,
        to_us: int | None = None,
        allowed: list[bool] | None = None,
        rename: list[str] | None = None,
        qos: int | None = None,
        retain: bool | None = None,
        prime: str = "off",
        compress_gap_us: int | None = None,
        rewrite_time: bool = False,
        status_topic: str | None = None,
        session_name: str = ...,
        inflight: int = 1000,
        start_paused: bool = False,
        strict: bool = False,
        keepalive_s: int = 30,
        give_up_s: float = 60.0,
        spin_us: int = 150,
    ) -> Replayer: ...
    def pause(self) -> None: ...
    def resume(self) -> None: ...
    def stop(self) -> None: ...
    def step(self) -> None: ...
    def set_speed(self, speed: float) -> None: ...
    def set_loop(self, looping: bool) -> None: ...
    def seek_us(self, offset_us: int) -> None: ...
    def seek_index(self, index: int) -> None: ...
    def is_finished(self) -> bool: ...
    def wait(self, timeout: float | None = None) -> bool: ...
    def status(self) -> dict[str, Any]: ...
    def close(self) -> None: ...

@final
class Recorder:
    def __new__(
        cls,
        broker_url: str,
        directory: str | Any,
        name: str,
        *,
        client_id: str,
        topics: list[tuple[str, int]],
        exclude: list[str],
        tz: str,
        header_json: str,
        flush_interval_s: float = 1.0,
        keep_retained: bool = True,
        rotate_bytes: int | None = None,
        rotate_seconds: float | None = None,
    ) -> Recorder: ...
    def status(self) -> dict[str, Any]: ...
    def stop(self) -> dict[str, Any]: ...

@final
class Probe:
    def __new__(
        cls,
        broker_url: str,
        *,
        client_id: str,
        topics: list[tuple[str, int]],
        protocol: int = 4,
        record: bool = True,
    ) -> Probe: ...
    def status(self) -> dict[str, Any]: ...
    def stop(self) -> dict[str, Any]: ...

def parse_broker_url(url: str) -> dict[str, Any]: ...
