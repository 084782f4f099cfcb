"""The `local` provider: offline faster-whisper transcription and senko diarization, run in
separate engine processes. Only this package (and the engine processes it starts) imports speech
libraries."""

from scriberr.engine.local.device import DeviceChoice, resolve_device
from scriberr.engine.local.provider import LocalProvider

__all__ = ["DeviceChoice", "LocalProvider", "resolve_device"]
