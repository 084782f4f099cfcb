"""Content probing: is a file audio or video we can transcribe, and what are its container, mime
type and duration? Decided by reading the bytes with PyAV, never by the file name.

`probe_media(path) -> MediaInfo | None` returns None for anything that is not decodable audio or
video with an audio track; no PyAV type or native message leaves this module.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import av

logger = logging.getLogger("scriberr.engine.probe")

MediaKind = Literal["audio", "video"]
_MAX_PACKETS_TO_DECODE = 64

# PyAV/FFmpeg container names → (audio mime, video mime).
_MIME_BY_FORMAT: dict[str, tuple[str, str]] = {
    "mp3": ("audio/mpeg", "audio/mpeg"),
    "flac": ("audio/flac", "audio/flac"),
    "wav": ("audio/wav", "audio/wav"),
    "ogg": ("audio/ogg", "video/ogg"),
    "aac": ("audio/aac", "audio/aac"),
    "matroska,webm": ("audio/webm", "video/webm"),
    "mov,mp4,m4a,3gp,3g2,mj2": ("audio/mp4", "video/mp4"),
    "asf": ("audio/x-ms-wma", "video/x-ms-asf"),
    "avi": ("video/x-msvideo", "video/x-msvideo"),
    "aiff": ("audio/aiff", "audio/aiff"),
    "amr": ("audio/amr", "audio/amr"),
    "au": ("audio/basic", "audio/basic"),
    "mpeg": ("audio/mpeg", "video/mpeg"),
    "mpegts": ("video/mp2t", "video/mp2t"),
    "flv": ("video/x-flv", "video/x-flv"),
    "caf": ("audio/x-caf", "audio/x-caf"),
    "wv": ("audio/wavpack", "audio/wavpack"),
    "ac3": ("audio/ac3", "audio/ac3"),
}


@dataclass(frozen=True)
class MediaInfo:
    kind: MediaKind
    container: str
    mime_type: str
    duration_seconds: float | None
    audio_codec: str | None
    has_video: bool


def _is_real_video(stream: av.stream.Stream) -> bool:
    """Cover art in audio files shows up as a one-frame 'attached picture' video stream."""
    disposition = getattr(stream, "disposition", None)
    attached = getattr(getattr(av.stream, "Disposition", None), "attached_pic", None)
    if disposition is not None and attached is not None and disposition & attached:
        return False
    codec = getattr(getattr(stream, "codec_context", None), "name", "") or ""
    return codec not in ("mjpeg", "png", "bmp", "gif") or (stream.frames or 0) > 1


def _decodes_audio(container: av.container.InputContainer, stream: av.audio.AudioStream) -> bool:
    for count, packet in enumerate(container.demux(stream), start=1):
        for _frame in packet.decode():
            return True
        if count >= _MAX_PACKETS_TO_DECODE:
            break
    return False


def _duration(container: av.container.InputContainer, stream: av.stream.Stream) -> float | None:
    if container.duration is not None and container.duration > 0:
        return round(container.duration / av.time_base, 3)
    if stream.duration is not None and stream.time_base is not None and stream.duration > 0:
        return round(float(stream.duration * stream.time_base), 3)
    return None


def probe_media(path: Path) -> MediaInfo | None:
    """Probe `path`; None when it is not audio/video with a decodable audio track."""
    try:
        with av.open(str(path), mode="r", metadata_errors="ignore") as container:
            audio_streams = list(container.streams.audio)
            if not audio_streams:
                return None
            audio = audio_streams[0]
            has_video = any(_is_real_video(s) for s in container.streams.video)
            format_name = container.format.name or "unknown"
            duration = _duration(container, audio)
            codec = audio.codec_context.name if audio.codec_context else None
            if not _decodes_audio(container, audio):
                return None
    except Exception as error:  # any FFmpeg failure means "not media we can use"
        logger.debug("probe failed: %s", type(error).__name__)
        return None
    kind: MediaKind = "video" if has_video else "audio"
    audio_mime, video_mime = _MIME_BY_FORMAT.get(
        format_name, ("application/octet-stream", "application/octet-stream")
    )
    return MediaInfo(
        kind=kind,
        container=format_name,
        mime_type=video_mime if has_video else audio_mime,
        duration_seconds=duration,
        audio_codec=codec,
        has_video=has_video,
    )
