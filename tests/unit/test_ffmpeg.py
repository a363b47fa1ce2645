"""The process-wide FFmpeg options variable: concurrent opens never see each other's options."""

import os
import threading
import time

from edge.video.ffmpeg import FfmpegOptions


def test_ffmpeg_options_of_concurrent_opens_never_mix_and_are_put_back(monkeypatch):
    monkeypatch.delenv("OPENCV_FFMPEG_CAPTURE_OPTIONS", raising=False)
    options = FfmpegOptions()
    seen: list[tuple[str, str | None]] = []

    def open_with(opts: str) -> None:
        with options.use(opts):
            for _ in range(5):
                seen.append((opts, os.environ.get("OPENCV_FFMPEG_CAPTURE_OPTIONS")))
                time.sleep(0.002)

    threads = [threading.Thread(target=open_with, args=(f"probesize;{32 * (i % 2 + 1)}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 30 and all(want == got for want, got in seen)
    assert "OPENCV_FFMPEG_CAPTURE_OPTIONS" not in os.environ
