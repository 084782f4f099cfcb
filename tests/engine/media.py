"""Test helpers that write real media files with PyAV (MP3, M4A, MP4 with video, Ogg/Opus, MKV)."""

from __future__ import annotations

import wave
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

SAMPLE_RATE = 16000


def read_audio(path: Path) -> np.ndarray:
    """Any fixture decoded to float32 16 kHz mono (only for building test inputs)."""
    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        parts = [
            out.to_ndarray().reshape(-1)
            for frame in container.decode(audio=0)
            for out in resampler.resample(frame)
        ]
        parts += [out.to_ndarray().reshape(-1) for out in resampler.resample(None)]
    return np.concatenate(parts).astype(np.float32)


def write_wav(samples: np.ndarray, path: Path) -> Path:
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as output:
        output.setnchannels(1)
        output.setsampwidth(2)
        output.setframerate(SAMPLE_RATE)
        output.writeframes(pcm.tobytes())
    return path


def encode(
    samples: np.ndarray,
    path: Path,
    codec: str,
    *,
    rate: int = SAMPLE_RATE,
    video: bool = False,
) -> Path:
    """Encode mono float samples with `codec` into the container implied by `path`'s suffix."""
    with av.open(str(path), mode="w") as container:
        picture = None
        if video:
            picture = container.add_stream("mpeg4", rate=5)
            picture.width, picture.height, picture.pix_fmt = 64, 64, "yuv420p"
        sound = container.add_stream(codec, rate=rate)
        sound.layout = "mono"
        frame_size = sound.codec_context.frame_size or 1024
        resampler = av.AudioResampler(
            format=sound.format.name, layout="mono", rate=rate, frame_size=frame_size
        )
        source = av.AudioFrame.from_ndarray(
            samples.reshape(1, -1).astype(np.float32), format="flt", layout="mono"
        )
        source.sample_rate = SAMPLE_RATE
        source.time_base = Fraction(1, SAMPLE_RATE)
        source.pts = 0
        for frame in [*resampler.resample(source), *resampler.resample(None)]:
            container.mux(sound.encode(frame))
        container.mux(sound.encode(None))
        if picture is not None:
            seconds = samples.shape[0] / SAMPLE_RATE
            image = np.zeros((64, 64, 3), dtype=np.uint8)
            for index in range(int(seconds * 5)):
                video_frame = av.VideoFrame.from_ndarray(image, format="rgb24")
                video_frame.pts = index
                container.mux(picture.encode(video_frame))
            container.mux(picture.encode(None))
    return path
