"""A warm engine: preloaded models serve the first job without a load, and progress is steady.

Real engine processes on the real fixtures. Progress is checked by its shape (monotonic, many small
steps), never by wall-clock timing.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from scriberr.engine.base import (
    CancelToken,
    DiarizationOptions,
    JobCanceled,
    PreparedAudio,
    TranscriptionOptions,
)
from scriberr.engine.local import LocalProvider
from scriberr.engine.local.device import CPU
from scriberr.engine.local.diarization import EMBEDDINGS_END, VAD_END
from scriberr.engine.local.pacing import MAX_STEP, MIN_DELTA
from scriberr.engine.local.protocol import EngineStats

from .conftest import JFK

pytestmark = pytest.mark.engine

TINY = TranscriptionOptions(model="whisper-tiny.en")
PRELOADED = ("whisper:whisper-tiny.en", "diarization-default")
# A tick moves at most MAX_STEP; a move too small to send is added to the next one.
LARGEST_STEP = MAX_STEP + MIN_DELTA + 1e-6


def _steps(values: list[float]) -> list[float]:
    return [after - before for before, after in itertools.pairwise(values)]


def _warm_provider(cache_dir: Path, preload: tuple[str, ...]) -> LocalProvider:
    return LocalProvider(
        cache_dir=cache_dir,
        default_model="whisper-tiny.en",
        device=CPU,
        max_loaded=2,
        auto_download=True,  # preload must still never download
        processes=1,
        preload=preload,
    )


@pytest.fixture
def warm(tmp_path: Path) -> Iterator[LocalProvider]:
    provider = _warm_provider(tmp_path / "models", ("whisper-tiny.en", "diarization-default"))
    yield provider
    provider.close()


def _wait_for_process(provider: LocalProvider) -> None:
    deadline = time.monotonic() + 30
    while not provider.engine_pids():
        assert time.monotonic() < deadline, "preload started no engine process"
        time.sleep(0.05)


def _stats_once_loaded(provider: LocalProvider) -> EngineStats:
    deadline = time.monotonic() + 300
    while True:
        (stats,) = provider.engine_stats()
        if not stats.loading_models:
            return stats
        assert time.monotonic() < deadline, "the preload never finished"
        time.sleep(0.2)


@pytest.mark.slow
def test_preload_loads_the_models_before_the_first_job_and_the_job_loads_nothing(
    warm: LocalProvider, tmp_path: Path
) -> None:
    warm.preload()  # returns at once; the engine process loads in the background
    _wait_for_process(warm)

    # A job arriving meanwhile waits for the loading process, and can be canceled while it waits.
    cancel = CancelToken()
    waiting: list[BaseException] = []

    def prepare() -> None:
        try:
            warm.prepare_audio(JFK, tmp_path / "early.wav", cancel)
        except BaseException as error:
            waiting.append(error)

    early = threading.Thread(target=prepare)
    early.start()
    time.sleep(0.2)
    cancel.cancel()
    early.join(10)
    assert not early.is_alive() and len(waiting) == 1
    assert isinstance(waiting[0], JobCanceled)

    # Whisper is loaded before the preload answers; the diarizer goes on loading in a thread of
    # the engine process while the job transcribes, and the diarization step waits for it.
    (stats,) = warm.engine_stats()
    assert "whisper:whisper-tiny.en" in stats.loaded_models
    assert set(stats.loaded_models) | set(stats.loading_models) == set(PRELOADED)

    audio = warm.prepare_audio(JFK, tmp_path / "jfk.wav", CancelToken())
    output = warm.transcribe(audio, TINY, lambda _f: None, CancelToken())
    diarization = warm.diarize(audio, DiarizationOptions(), lambda _f: None, CancelToken())

    assert "ask not what your country can do for you" in output.text.lower()
    assert diarization.turns
    after = _stats_once_loaded(warm)
    assert after.pid == stats.pid  # the same process served the job
    assert after.model_loads == 2  # and loaded nothing for it
    assert set(after.loaded_models) == set(PRELOADED)


def test_preload_skips_models_that_are_not_installed_and_never_downloads(tmp_path: Path) -> None:
    cache = tmp_path / "models"
    provider = _warm_provider(cache, ("whisper-base.en",))
    try:
        provider.preload()
        assert provider.engine_pids() == []  # nothing to load: no engine process started
        assert not (cache / "whisper-base.en").exists()
    finally:
        provider.close()


@pytest.mark.slow
def test_diarization_progress_advances_through_its_stages_in_several_steps(
    provider: LocalProvider, sample_audio: PreparedAudio
) -> None:
    provider.diarize(sample_audio, DiarizationOptions(), lambda _f: None, CancelToken())  # load
    progress: list[float] = []
    provider.diarize(sample_audio, DiarizationOptions(), progress.append, CancelToken())

    assert progress == sorted(progress) and progress[-1] == 1.0
    before_end = progress[:-1]
    assert len(set(before_end)) >= 3, progress
    assert any(VAD_END <= value < EMBEDDINGS_END for value in before_end), progress
    assert max(_steps(before_end), default=0.0) <= LARGEST_STEP, progress


@pytest.mark.slow
def test_transcribing_progress_follows_the_audio_steadily_without_bursts(
    provider: LocalProvider, three_minutes: PreparedAudio
) -> None:
    # Three minutes decode with the batched pipeline, whose segments arrive in bursts.
    provider.transcribe(three_minutes, TINY, lambda _f: None, CancelToken())  # learn the speed
    progress: list[float] = []
    provider.transcribe(three_minutes, TINY, progress.append, CancelToken())

    assert progress == sorted(progress) and progress[-1] == 1.0
    before_end = progress[:-1]
    assert len(set(before_end)) >= 10, progress
    assert max(_steps(before_end)) <= LARGEST_STEP, progress
    assert 1.0 - before_end[-1] <= 0.25, progress  # the last report is not far from the end
