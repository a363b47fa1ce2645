"""Health records from stream counters (pure)."""

from edge.run.health import HealthWindow
from edge.video.source import StreamStats


def test_health_window_differences_rates_and_status():
    before = StreamStats(received=100, wanted=50, dropped=1, reconnects=2, online=True)
    after = StreamStats(received=120, wanted=60, dropped=4, reconnects=2, online=True, last_frame_us=7,
                        width=768, height=576)
    w = HealthWindow(processed=10, latencies_ms=[float(i) for i in range(1, 101)])
    r = w.record(after, "box", "c", 2.0, 9, False, before)
    assert (r.fps_in, r.fps_processed, r.drop_rate) == (10.0, 5.0, 0.3)
    assert r.status == "degraded" and (r.width, r.height, r.last_frame_us) == (768, 576, 7)
    assert r.latency_p50_ms == 50.5 and 95 <= r.latency_p95_ms <= 96
    quiet = HealthWindow().record(after, "box", "c", 2.0, 9, False, after)
    assert quiet.status == "online" and quiet.drop_rate == 0 and quiet.latency_p95_ms is None
    reconnected = HealthWindow().record(StreamStats(reconnects=3, online=True), "box", "c", 1, 9, False, before)
    assert reconnected.status == "degraded"
    frozen = HealthWindow().record(after, "box", "c", 1, 9, True, before)  # the reader is still blocked
    assert frozen.status == "offline" and "frozen" in frozen.error
