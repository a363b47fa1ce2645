"""The performance guide's benchmark queries on our schema, with its targets (one text for psycopg and pgbench)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Query:
    name: str
    template: str        # {camera}, {tenant}: parameter slots
    target_ms: float     # the guide's execution-time target
    intent: str          # what the plan must show

    def psycopg(self) -> str:
        return self.template.format(camera="%(camera)s", tenant="%(tenant)s")

    def pgbench(self) -> str:
        """Parameters from pgbench variables :device, :cam, :tenant (constants folded at plan time)."""
        camera = "('site' || lpad(:device::text, 4, '0') || '-box1/cam' || :cam)"
        return self.template.format(camera=camera, tenant=":tenant")


QUERIES = (
    # Guide: camera status with its covering index; the columns selected are the ones the index covers
    # (the guide's c.* cannot be answered from an index).
    Query("camera_status",
          "SELECT c.camera_id, c.camera_name, c.camera_type, c.location_id, c.device_id, "
          "ch.status, ch.last_heartbeat, ch.stream_quality_score "
          "FROM camera_configurations c LEFT JOIN camera_health ch ON c.camera_id = ch.camera_id "
          "WHERE c.tenant_id = {tenant} AND c.is_active = true",
          5.0, "Index Only Scan using idx_camera_status_covering"),
    Query("realtime_counting",
          "SELECT cr.*, c.camera_name FROM counting_results cr "
          "JOIN camera_configurations c ON cr.camera_id = c.camera_id "
          "WHERE cr.camera_id = {camera} AND cr.result_timestamp > now() - interval '1 hour' "
          "ORDER BY cr.result_timestamp DESC LIMIT 100",
          10.0, "idx_counting_results_camera_timestamp on this month's partition (others pruned)"),
    Query("realtime_counting_summary",
          "SELECT * FROM realtime_counting_summary WHERE camera_id = {camera} "
          "ORDER BY result_timestamp DESC LIMIT 100",
          10.0, "idx_realtime_counting_summary_camera_timestamp"),
    Query("stream_quality",
          "SELECT sqm.* FROM stream_quality_metrics sqm "
          "WHERE sqm.metric_timestamp > now() - interval '1 hour' AND sqm.quality_score < 0.8 "
          "ORDER BY sqm.metric_timestamp DESC",
          8.0, "idx_stream_quality_alerting on today's partitions (others pruned)"),
    Query("daily_analytics",
          "SELECT * FROM daily_analytics_summary WHERE camera_id = {camera} "
          "AND date >= current_date - 30 AND date < current_date ORDER BY date",
          100.0, "idx_daily_analytics_summary_camera_date"),
)
BY_NAME = {q.name: q for q in QUERIES}
