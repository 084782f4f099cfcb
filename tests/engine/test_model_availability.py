"""Models that are not installed: a clean, path-free model-unavailable error, never a hang."""

from __future__ import annotations

from pathlib import Path

import pytest

from scriberr.engine.base import (
    CancelToken,
    ModelUnavailableError,
    PreparedAudio,
    TranscriptionOptions,
)
from scriberr.engine.local import LocalProvider

from .conftest import make_provider

pytestmark = [pytest.mark.engine, pytest.mark.slow]


def _assert_clean(message: str, model_id: str, cache_dir: Path) -> None:
    assert model_id in message
    assert "unavailable" in message or "not installed" in message
    assert str(cache_dir) not in message and "/" not in message and "\n" not in message


def test_auto_download_off_fails_a_non_bundled_model(
    provider: LocalProvider, jfk_audio: PreparedAudio, tmp_path: Path
) -> None:
    with pytest.raises(ModelUnavailableError) as caught:
        provider.transcribe(
            jfk_audio, TranscriptionOptions(model="whisper-base.en"), lambda _f: None, CancelToken()
        )
    _assert_clean(caught.value.public_message, "whisper-base.en", tmp_path)


def test_a_failing_download_fails_with_the_same_clean_error(
    jfk_audio: PreparedAudio, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing listens on port 9: the real download code runs and its connection is refused.
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("HF_HUB_DOWNLOAD_TIMEOUT", "5")
    monkeypatch.setenv("HF_HUB_ETAG_TIMEOUT", "5")
    cache_dir = tmp_path / "cache"
    downloading = make_provider(cache_dir, auto_download=True)
    try:
        with pytest.raises(ModelUnavailableError) as caught:
            downloading.transcribe(
                jfk_audio,
                TranscriptionOptions(model="whisper-tiny"),
                lambda _f: None,
                CancelToken(),
            )
        _assert_clean(caught.value.public_message, "whisper-tiny", cache_dir)
        assert "downloaded" in caught.value.public_message
        assert len(downloading.engine_pids()) == 1  # the engine survived the failure
    finally:
        downloading.close()
    assert downloading.engine_pids() == []
