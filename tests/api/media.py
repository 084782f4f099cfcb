"""Tiny media files made on the fly with PyAV for the API tests (a video with sound, a tone)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def write_video_with_audio(path: Path, seconds: float = 1.0) -> Path:
    """An MP4 with an MPEG-4 video track and an AAC audio track."""
    rate = 16000
    with av.open(str(path), mode="w", format="mp4") as container:
        video = container.add_stream("mpeg4", rate=10)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        audio = container.add_stream("aac", rate=rate)
        audio.layout = "mono"
        for index in range(int(seconds * 10)):
            image = np.full((48, 64, 3), index * 20 % 255, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = index
            frame.time_base = Fraction(1, 10)
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        samples = (np.sin(np.arange(int(seconds * rate)) * 0.05) * 0.3).astype(np.float32)
        for start in range(0, len(samples), 1024):
            chunk = samples[start : start + 1024].reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
            frame.sample_rate = rate
            frame.pts = start
            frame.time_base = Fraction(1, rate)
            container.mux(audio.encode(frame))
        container.mux(audio.encode(None))
    return path


def write_silent_video(path: Path) -> Path:
    """An MP4 with a video track only (nothing to transcribe)."""
    with av.open(str(path), mode="w", format="mp4") as container:
        video = container.add_stream("mpeg4", rate=10)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        for index in range(5):
            frame = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), dtype=np.uint8), "rgb24")
            frame.pts = index
            frame.time_base = Fraction(1, 10)
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
    return path
