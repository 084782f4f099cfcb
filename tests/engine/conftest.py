"""Shared fixtures for the engine tests: the real fixtures, one real provider for the session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from scriberr.engine.base import CancelToken, PreparedAudio
from scriberr.engine.local import LocalProvider
from scriberr.engine.local.device import CPU

from .media import SAMPLE_RATE, read_audio, write_wav

PROJECT_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = (PROJECT_ROOT / ".." / "shared" / "fixtures" / "audio").resolve()
JFK = FIXTURES / "jfk.flac"
SAMPLE = FIXTURES / "sample.wav"
SAMPLE_RTTM = FIXTURES / "sample.rttm"
JFK_REFERENCE = (
    "And so, my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country."
)


def make_provider(cache_dir: Path, *, auto_download: bool = False) -> LocalProvider:
    return LocalProvider(
        cache_dir=cache_dir,
        default_model="whisper-tiny.en",
        device=CPU,
        threads=0,
        max_loaded=2,
        auto_download=auto_download,
        processes=1,
    )


@pytest.fixture(scope="session")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalProvider]:
    """One real local provider (empty model cache, auto-download off) shared by the session."""
    local = make_provider(tmp_path_factory.mktemp("model-cache"))
    yield local
    local.close()


@pytest.fixture(scope="session")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("engine-scratch")


@pytest.fixture(scope="session")
def jfk_audio(provider: LocalProvider, scratch: Path) -> PreparedAudio:
    return provider.prepare_audio(JFK, scratch / "jfk.wav", CancelToken())


@pytest.fixture(scope="session")
def sample_audio(provider: LocalProvider, scratch: Path) -> PreparedAudio:
    return provider.prepare_audio(SAMPLE, scratch / "sample.wav", CancelToken())


@pytest.fixture(scope="session")
def three_minutes(provider: LocalProvider, scratch: Path) -> PreparedAudio:
    """A 3-minute input built by concatenating the fixtures."""
    pieces = [read_audio(SAMPLE), read_audio(JFK)]
    samples = np.concatenate(pieces)
    repeats = int(np.ceil(180 * SAMPLE_RATE / samples.shape[0]))
    long = np.tile(samples, repeats)[: 180 * SAMPLE_RATE]
    source = write_wav(long, scratch / "three-minutes-source.wav")
    return provider.prepare_audio(source, scratch / "three-minutes.wav", CancelToken())
