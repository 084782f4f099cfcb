"""Decode any accepted input with PyAV and normalise it to 16 kHz mono 16-bit PCM WAV, once per job.

The WAV written here is the only audio every later step reads (`load_samples`), so neither the
transcriber nor the diarizer decodes the original file again. Runs inside the engine process.
"""

from __future__ import annotations

import logging
import os
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from scriberr.engine.base import AudioDecodeError

SAMPLE_RATE = 16000
_SAMPLE_WIDTH = 2  # bytes: 16-bit PCM (what senko's own reader also expects)
_UNDECODABLE = "the file could not be decoded as audio or video"
_NO_AUDIO = "the file contains no audio track"
_DAMAGED = "the file is damaged: most of its audio could not be decoded"
# With decode errors, less than this share of the container's declared duration is a damaged
# file (fail clearly) rather than a few bad frames (skipped, like ffmpeg does).
_MIN_DECODED_SHARE = 0.5

logger = logging.getLogger("scriberr.engine")

CancelCheck = Callable[[], None]


def normalise_audio(source: Path, destination: Path, check_cancel: CancelCheck) -> float:
    """Write `source`'s first audio track to `destination` as 16 kHz mono WAV; return its duration."""
    import av

    av.logging.set_level(av.logging.PANIC)
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".partial")
    try:
        container = av.open(str(source), mode="r")
    except Exception as error:  # PyAV raises many FFmpeg error types; all mean "not decodable"
        logger.info("cannot open input for decoding: %s", error)
        raise AudioDecodeError(_UNDECODABLE) from None
    try:
        if not container.streams.audio:
            raise AudioDecodeError(_NO_AUDIO)
        frames, errors = _decode_to_wav(container, partial, check_cancel)
        declared_s = container.duration / av.time_base if container.duration else None
    finally:
        container.close()
    decoded_s = frames / SAMPLE_RATE
    if errors and declared_s and decoded_s < _MIN_DECODED_SHARE * declared_s:
        partial.unlink(missing_ok=True)
        logger.info("%d undecodable packets; %.1fs of %.1fs decoded", errors, decoded_s, declared_s)
        raise AudioDecodeError(_DAMAGED)
    os.replace(partial, destination)
    return decoded_s


def _decode_to_wav(container: object, partial: Path, check_cancel: CancelCheck) -> tuple[int, int]:
    """Decode into `partial`; returns (samples written, packets that failed to decode)."""
    import av

    stream = container.streams.audio[0]  # type: ignore[attr-defined]
    resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
    written = 0
    errors = 0
    try:
        with wave.open(str(partial), "wb") as output:
            output.setnchannels(1)
            output.setsampwidth(_SAMPLE_WIDTH)
            output.setframerate(SAMPLE_RATE)
            for packet in container.demux(stream):  # type: ignore[attr-defined]
                check_cancel()
                try:
                    decoded = packet.decode()
                except av.FFmpegError as error:  # a damaged packet: skip it like ffmpeg does
                    errors += 1
                    logger.debug("skipping undecodable packet: %s", error)
                    continue
                for frame in decoded:
                    written += _write(output, resampler.resample(frame))
            written += _write(output, resampler.resample(None))
    except (av.FFmpegError, ValueError) as error:
        partial.unlink(missing_ok=True)
        logger.info("decoding failed: %s", error)
        raise AudioDecodeError(_UNDECODABLE) from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    if written == 0 and errors > 0:
        partial.unlink(missing_ok=True)
        raise AudioDecodeError(_UNDECODABLE)
    return written, errors


def _write(output: wave.Wave_write, frames: list[Any]) -> int:
    count = 0
    for frame in frames:
        samples = frame.to_ndarray().reshape(-1).astype("<i2", copy=False)
        output.writeframesraw(samples.tobytes())  # the header is patched on close
        count += samples.shape[0]
    return count


def load_samples(path: Path) -> np.ndarray:
    """The normalised WAV as float32 samples in [-1, 1]."""
    with wave.open(str(path), "rb") as source:
        if (
            source.getframerate() != SAMPLE_RATE
            or source.getnchannels() != 1
            or source.getsampwidth() != _SAMPLE_WIDTH
        ):
            raise AudioDecodeError("the prepared audio is not 16 kHz mono 16-bit PCM")
        raw = source.readframes(source.getnframes())
    return np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
