"""What central's incremental results must equal, computed the slow way: the tests' oracles and the
benchmarks' baselines."""

# Every day of every camera from all of counting_results: the daily summary before migration 0006 (a
# materialized view), and what the incremental summary must hold after any refresh.
FULL_AGGREGATE = """
SELECT cr.camera_id, (cr.result_timestamp AT TIME ZONE coalesce(c.timezone, 'UTC'))::date AS date,
       sum(cr.count_in)::bigint AS daily_in, sum(cr.count_out)::bigint AS daily_out,
       max(cr.count_in + cr.count_out) AS daily_peak_minute, count(*) AS active_line_minutes
FROM counting_results cr LEFT JOIN camera_configurations c ON c.camera_id = cr.camera_id
GROUP BY 1, 2"""
