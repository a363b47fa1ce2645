"""Test scenes made from the real footage: the empty scene (people removed) and a quiet-then-busy camera."""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
import numpy as np


def frames(video: Path, limit: int | None = None) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(video))
    out: list[np.ndarray] = []
    while limit is None or len(out) < limit:
        ok, img = cap.read()
        if not ok:
            break
        out.append(img)
    cap.release()
    return out


def empty_scene(video: Path, samples: int = 60) -> np.ndarray:
    """The scene without its people: the per-pixel median over frames spread across the video (walkers
    never stand in one place for most of it)."""
    every = frames(video)
    picked = every[:: max(1, len(every) // samples)]
    return np.median(np.stack(picked), axis=0).astype(np.uint8)


def write_h264(out: Path, images: list[np.ndarray], fps: int = 10) -> Path:
    """Encode BGR frames as an H.264 file a camera would send: no B-frames, a key frame every second."""
    h, w = images[0].shape[:2]
    proc = subprocess.Popen(["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{w}x{h}",
                             "-r", str(fps), "-i", "-", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt",
                             "yuv420p", "-bf", "0", "-g", str(fps), str(out)], stdin=subprocess.PIPE)
    assert proc.stdin is not None
    for img in images:
        proc.stdin.write(img.tobytes())
    proc.stdin.close()
    if proc.wait() != 0:
        raise RuntimeError(f"ffmpeg could not write {out}")
    return out


def quiet_then_busy(video: Path, out: Path, quiet_s: float, busy_s: float, fps: int = 10, phase: float = 0.0) -> Path:
    """`quiet_s` of the empty scene, then the first `busy_s` of the footage: a shop camera's morning. As a loop,
    a shop camera's day; `phase` (0..1) starts it that far in, so cameras of one box are not busy in step."""
    images = [empty_scene(video)] * round(quiet_s * fps) + frames(video, round(busy_s * fps))
    start = round(phase * len(images))
    return write_h264(out, images[start:] + images[:start], fps)
