"""Inference runs in an engine process: cancel stops it within 2 s, a crash fails one call only."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import jiwer
import pytest

from scriberr.engine.base import (
    CancelToken,
    EngineCrashedError,
    JobCanceled,
    PreparedAudio,
    TranscriptionOptions,
)
from scriberr.engine.local import LocalProvider

from .conftest import JFK_REFERENCE
from .test_transcription import normalise

pytestmark = [pytest.mark.engine, pytest.mark.slow]

TINY = TranscriptionOptions(model="whisper-tiny.en")


class _Run:
    """A transcription running in a worker thread, the way the queue's workers call providers."""

    def __init__(self, provider: LocalProvider, audio: PreparedAudio, cancel: CancelToken) -> None:
        self.error: BaseException | None = None
        self.finished_at: float | None = None
        self.progress: list[float] = []
        self._thread = threading.Thread(target=self._run, args=(provider, audio, cancel))
        self._thread.start()

    def _run(self, provider: LocalProvider, audio: PreparedAudio, cancel: CancelToken) -> None:
        try:
            provider.transcribe(audio, TINY, self.progress.append, cancel)
        except BaseException as error:
            self.error = error
        finally:
            self.finished_at = time.monotonic()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the call did not return"


def _wait_until(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def _assert_next_call_works(provider: LocalProvider, jfk_audio: PreparedAudio) -> None:
    output = provider.transcribe(jfk_audio, TINY, lambda _f: None, CancelToken())
    assert jiwer.wer(normalise(JFK_REFERENCE), normalise(output.text)) <= 0.10


def test_cancel_stops_a_long_transcription_within_two_seconds(
    provider: LocalProvider, three_minutes: PreparedAudio, jfk_audio: PreparedAudio
) -> None:
    provider.transcribe(jfk_audio, TINY, lambda _f: None, CancelToken())  # model resident
    cancel = CancelToken()
    run = _Run(provider, three_minutes, cancel)
    time.sleep(1.5)  # well inside the 3 minutes of decoding
    assert run.finished_at is None
    canceled_at = time.monotonic()
    cancel.cancel()
    run.join(timeout=10)

    assert isinstance(run.error, JobCanceled)
    assert run.finished_at is not None and run.finished_at - canceled_at < 2.0
    _assert_next_call_works(provider, jfk_audio)


def test_a_crash_in_the_engine_fails_only_that_call(
    provider: LocalProvider, three_minutes: PreparedAudio, jfk_audio: PreparedAudio
) -> None:
    provider.transcribe(jfk_audio, TINY, lambda _f: None, CancelToken())
    _wait_until(lambda: len(provider.engine_pids()) == 1, timeout=5)
    (pid,) = provider.engine_pids()
    run = _Run(provider, three_minutes, CancelToken())
    time.sleep(1.0)
    os.kill(pid, signal.SIGKILL)  # what the kernel's OOM killer does
    run.join(timeout=10)

    assert isinstance(run.error, EngineCrashedError)
    assert "/" not in run.error.public_message and str(pid) not in run.error.public_message
    _assert_next_call_works(provider, jfk_audio)
    assert provider.engine_pids() != [pid]


def test_a_caller_that_gives_up_mid_call_leaves_a_working_engine(
    provider: LocalProvider, jfk_audio: PreparedAudio
) -> None:
    class GiveUp(Exception):
        pass

    def progress(_fraction: float) -> None:
        raise GiveUp()  # e.g. the worker lost its lease while reporting progress

    with pytest.raises(GiveUp):
        provider.transcribe(jfk_audio, TINY, progress, CancelToken())
    _assert_next_call_works(provider, jfk_audio)


def test_models_stay_resident_between_calls(
    provider: LocalProvider, jfk_audio: PreparedAudio
) -> None:
    provider.transcribe(jfk_audio, TINY, lambda _f: None, CancelToken())
    pids = provider.engine_pids()
    provider.transcribe(jfk_audio, TINY, lambda _f: None, CancelToken())
    assert provider.engine_pids() == pids
    (stats,) = provider.engine_stats()
    assert stats.pid == pids[0]
    assert "whisper:whisper-tiny.en" in stats.loaded_models
    assert stats.peak_rss_mb > 0


_SERVER = """
import sys, threading, time
from pathlib import Path
from scriberr.engine.base import CancelToken, PreparedAudio, TranscriptionOptions
from scriberr.engine.local import LocalProvider
from scriberr.engine.local.device import CPU

if __name__ == "__main__":
    short = PreparedAudio(path=Path(sys.argv[1]), duration=11.0)
    long = PreparedAudio(path=Path(sys.argv[2]), duration=180.0)
    provider = LocalProvider(cache_dir=Path(sys.argv[3]), default_model="whisper-tiny.en", device=CPU)
    options = TranscriptionOptions(model="whisper-tiny.en")
    provider.transcribe(short, options, lambda f: None, CancelToken())  # model loaded
    job = lambda: provider.transcribe(long, options, lambda f: None, CancelToken())
    threading.Thread(target=job, daemon=True).start()
    time.sleep(1.0)  # busy decoding the long input by now
    print(provider.engine_pids()[0], flush=True)
    time.sleep(120)
"""


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc")
def test_a_busy_engine_process_exits_when_the_server_process_dies(
    jfk_audio: PreparedAudio, three_minutes: PreparedAudio, tmp_path: Path
) -> None:
    script = tmp_path / "server.py"
    script.write_text(_SERVER)
    arguments = [str(jfk_audio.path), str(three_minutes.path), str(tmp_path)]
    server = subprocess.Popen(
        [sys.executable, str(script), *arguments], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        engine_pid = int(server.stdout.readline())
        assert not _gone(engine_pid)
        server.kill()  # the server is SIGKILLed: nothing of it runs any cleanup
        server.wait(timeout=10)
        _wait_until(lambda: _gone(engine_pid), timeout=10)
    finally:
        server.kill()
