"""The box<->central contract: for each sync stream, the box rows it reads, the central table and columns they
land in, and how (COPY or upsert). Adding a central table means a stream here and a migration there.

The box side of each stream (its table, batches, cursors) is the buffer's schema: edge/store/schema.py.

Central column names are matched against the catalog when the agent connects: a field lists the names it may
have centrally (first present wins); required fields must exist, optional ones are sent when present.
Box times are int microseconds since the Unix epoch; `:device` is the box's device id.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge.store.schema import Stream


@dataclass(frozen=True)
class Field:
    box: str                     # SQLite expression over the box table
    central: tuple[str, ...]     # candidate central column names
    required: bool = False


@dataclass(frozen=True)
class StreamSpec:
    stream: Stream               # the outbox stream; with the buffer's id, its name in the central ledger
    table: str                   # central table
    fields: tuple[Field, ...]
    time_field: str              # box expression of the row's time (clock-skew flag, lag)
    upsert_key: tuple[str, ...] = ()  # set: rows are upserted on this key (later values win), never COPYed
    packed_text: bool = False    # text fields never NULL: fetched from SQLite as one joined string

    @property
    def name(self) -> str:
        return self.stream.value


def _f(box: str, *central: str, required: bool = False) -> Field:
    return Field(box, central, required)


LINES = StreamSpec(Stream.LINES, "counting_line_versions", (
    _f("device_id || '/' || camera", "camera_id", required=True),
    _f("line", "line_name", required=True),
    _f("ts_us", "valid_from", required=True),
    _f("x1", "x1", required=True),
    _f("y1", "y1", required=True),
    _f("x2", "x2", required=True),
    _f("y2", "y2", required=True),
    _f("active", "is_active", required=True),
), time_field="ts_us")

EVENTS = StreamSpec(Stream.EVENTS, "counting_events", (
    _f("event_id", "event_id", required=True),
    _f("device_id || '/' || camera", "camera_id", required=True),
    _f("ts_us", "event_ts", required=True),
    _f("line", "line_name", "line", required=True),
    _f("direction", "direction", required=True),
    _f("track_id", "track_id"),
    _f("frame", "frame_index", "frame_number", "frame"),
    _f("score", "confidence", "confidence_score", "score"),
    _f("model", "model_name", "model"),
    _f("device_id", "device_id"),
), time_field="ts_us", packed_text=True)

MINUTES = StreamSpec(Stream.MINUTES, "counting_results", (
    _f(":device || '/' || camera", "camera_id", required=True),
    _f("line", "line_name", required=True),
    _f("minute_us", "result_timestamp", required=True),
    _f("count_in", "count_in", required=True),
    _f("count_out", "count_out", required=True),
    _f("count_in + count_out", "total_count"),
    _f("updated_us", "updated_at", "box_updated_at"),
), time_field="minute_us", upsert_key=("camera_id", "line_name", "result_timestamp"), packed_text=True)

CAMERA_HEALTH = StreamSpec(Stream.CAMERA_HEALTH, "camera_health", (
    _f("device_id || '/' || camera", "camera_id", required=True),
    _f("ts_us", "health_ts", "recorded_at", "checked_at", "ts", required=True),
    _f("status", "status", required=True),
    _f("fps_in", "fps_in", "ingest_fps"),
    _f("fps_processed", "fps_processed", "processed_fps"),
    _f("drop_rate", "drop_rate", "frame_drop_rate"),
    _f("latency_p50_ms", "latency_p50_ms"),
    _f("latency_p95_ms", "latency_p95_ms"),
    _f("reconnects", "reconnects", "reconnect_count"),
    _f("last_frame_us", "last_frame_at", "last_heartbeat"),
    _f("width", "width", "frame_width"),
    _f("height", "height", "frame_height"),
    _f("error", "error", "error_message", "last_error"),
), time_field="ts_us")

BOX_HEALTH = StreamSpec(Stream.BOX_HEALTH, "box_health", (
    _f("device_id", "device_id", required=True),
    _f("ts_us", "health_ts", "recorded_at", "checked_at", "ts", required=True),
    _f("cpu_percent", "cpu_percent"),
    _f("mem_mb", "mem_mb", "memory_mb"),
    _f("buffer_bytes", "buffer_bytes"),
    _f("pending_rows", "pending_rows"),
), time_field="ts_us")

ALERTS = StreamSpec(Stream.ALERTS, "box_alerts", (
    _f(":device", "device_id", required=True),
    _f("ts_us", "alert_ts", required=True),
    _f("seq", "box_alert_id", required=True),
    _f("kind", "kind", required=True),
    _f("message", "message", required=True),
), time_field="ts_us")

STREAMS: tuple[StreamSpec, ...] = (LINES, EVENTS, MINUTES, CAMERA_HEALTH, BOX_HEALTH, ALERTS)  # delivery order
SPECS: dict[Stream, StreamSpec] = {spec.stream: spec for spec in STREAMS}
assert tuple(SPECS) == tuple(Stream), "every box stream has its central side, in the delivery order"
