"""Resolve SPEECH_ENGINE_PROVIDER (auto|cpu|cuda) to the device and compute type, once at startup."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from scriberr.config import Config, ConfigError

logger = logging.getLogger("scriberr.engine")


@dataclass(frozen=True)
class DeviceChoice:
    device: str  # "cpu" or "cuda"
    compute_type: str  # CTranslate2 compute type: int8 on CPU, float16 on CUDA


CPU = DeviceChoice(device="cpu", compute_type="int8")
CUDA = DeviceChoice(device="cuda", compute_type="float16")


def cuda_device_count() -> int:
    """CUDA devices CTranslate2 can use (0 when the library or the driver is missing)."""
    try:
        import ctranslate2

        return int(ctranslate2.get_cuda_device_count())
    except Exception:  # a broken CUDA install must not crash startup in `auto` mode
        logger.debug("CUDA probe failed", exc_info=True)
        return 0


def resolve_device(config: Config) -> DeviceChoice:
    """The device every engine process uses; `cuda` without a device raises a one-line ConfigError.

    The composition root calls this once at startup (via `build_provider_registry`).
    """
    if config.engine_provider == "cpu":
        return CPU
    devices = cuda_device_count()
    if config.engine_provider == "cuda" and devices == 0:
        raise ConfigError(
            "SPEECH_ENGINE_PROVIDER", "cuda", "auto or cpu, because no usable CUDA device was found"
        )
    choice = CUDA if devices > 0 else CPU
    logger.info("speech engine device: %s (%s)", choice.device, choice.compute_type)
    return choice
