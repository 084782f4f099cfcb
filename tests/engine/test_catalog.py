"""The model catalog and the provider registry: cheap listings, installed state, lookups."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from scriberr.config import ConfigError, load_config
from scriberr.engine.base import (
    CancelToken,
    Capabilities,
    DiarizationOptions,
    DiarizationOutput,
    ModelInfo,
    ModelUnavailableError,
    PreparedAudio,
    ProgressCallback,
    TranscriptionOptions,
    TranscriptionOutput,
)
from scriberr.engine.catalog import locate_model
from scriberr.engine.local import LocalProvider, resolve_device
from scriberr.engine.local.device import CPU, cuda_device_count
from scriberr.engine.registry import ProviderRegistry, build_provider_registry

CATALOG_IDS = [
    "whisper-tiny",
    "whisper-tiny.en",
    "whisper-base",
    "whisper-base.en",
    "whisper-small",
    "whisper-small.en",
    "whisper-medium",
    "whisper-medium.en",
    "whisper-large-v3",
    "whisper-large-v3-turbo",
    "distil-large-v3",
]


def _config(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"SCRIBERR_DATA_DIR": str(tmp_path / "data"), "SPEECH_ENGINE_PROVIDER": "cpu", **extra}


def test_listing_the_catalog_starts_no_engine_and_shows_installed_state(tmp_path: Path) -> None:
    registry = build_provider_registry(load_config(_config(tmp_path)))
    try:
        transcription = registry.transcription_models()
        diarization = registry.diarization_models()
        assert [model.id for model in transcription] == CATALOG_IDS
        assert [model.id for model in diarization] == ["diarization-default"]
        installed = {model.id for model in transcription + diarization if model.installed}
        assert installed == {"whisper-tiny.en", "diarization-default"}
        defaults = [model.id for model in transcription if model.default]
        assert defaults == ["whisper-tiny.en"]
        assert multiprocessing.active_children() == []
        provider = registry.provider_for("whisper-tiny.en")
        assert isinstance(provider, LocalProvider)
        assert provider.engine_pids() == []
    finally:
        registry.close()


def test_languages_and_capabilities_follow_the_model(tmp_path: Path) -> None:
    registry = build_provider_registry(load_config(_config(tmp_path)))
    models = {model.id: model for model in registry.transcription_models()}
    assert models["whisper-base.en"].languages == ("en",)
    assert "translate" not in models["whisper-base.en"].capabilities
    assert "de" in models["whisper-base"].languages
    assert "translate" in models["whisper-base"].capabilities
    assert all(model.size_mb > 0 and model.provider == "local" for model in models.values())
    registry.close()


def test_a_model_in_the_cache_dir_counts_as_installed(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path))
    model_dir = config.engine_cache_dir / "whisper-small"
    model_dir.mkdir(parents=True)
    (model_dir / "model.bin").write_bytes(b"weights")
    (model_dir / "config.json").write_text("{}")
    registry = build_provider_registry(config)
    installed = {model.id for model in registry.transcription_models() if model.installed}
    assert installed == {"whisper-tiny.en", "whisper-small"}
    registry.close()


def test_registry_lookups_and_default_model(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path, SPEECH_ENGINE_DEFAULT_MODEL="whisper-base.en"))
    registry = build_provider_registry(config)
    assert registry.default_model == "whisper-base.en"
    assert registry.provider_for("diarization-default").name == "local"
    with pytest.raises(KeyError):
        registry.provider_for("whisper-huge")
    registry.close()


class _OtherProvider:
    """A second provider with its own model, to show the registry routes by model ID."""

    name = "other"

    def preload(self) -> None:
        return None

    def capabilities(self) -> Capabilities:
        model = ModelInfo("other-asr", "Other", "other", "transcription", True, False, (), (), 1)
        return Capabilities("other", "remote", (model,), ())

    def prepare_audio(self, source: Path, destination: Path, cancel: CancelToken) -> PreparedAudio:
        raise NotImplementedError

    def transcribe(
        self,
        audio: PreparedAudio,
        options: TranscriptionOptions,
        progress: ProgressCallback,
        cancel: CancelToken,
    ) -> TranscriptionOutput:
        raise NotImplementedError

    def diarize(
        self,
        audio: PreparedAudio,
        options: DiarizationOptions,
        progress: ProgressCallback,
        cancel: CancelToken,
    ) -> DiarizationOutput:
        raise NotImplementedError

    def close(self) -> None:
        return None


def test_registry_accepts_other_providers(tmp_path: Path) -> None:
    local = LocalProvider(cache_dir=tmp_path, default_model="whisper-tiny.en", device=CPU)
    other = _OtherProvider()
    registry = ProviderRegistry([local, other], default_model="whisper-tiny.en")
    assert registry.provider_for("other-asr") is other
    assert registry.provider_for("whisper-tiny.en") is local
    assert [m.id for m in registry.transcription_models()][-1] == "other-asr"
    registry.close()


def test_auto_download_off_makes_a_missing_model_unavailable(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailableError) as caught:
        locate_model("whisper-small.en", tmp_path, auto_download=False)
    message = caught.value.public_message
    assert "whisper-small.en" in message
    assert str(tmp_path) not in message and "/" not in message


def test_cpu_provider_resolves_without_probing(tmp_path: Path) -> None:
    assert resolve_device(load_config(_config(tmp_path))) == CPU


@pytest.mark.skipif(cuda_device_count() > 0, reason="this machine has a CUDA device")
def test_cuda_without_a_device_fails_startup_with_one_line(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path, SPEECH_ENGINE_PROVIDER="cuda"))
    with pytest.raises(ConfigError) as caught:
        build_provider_registry(config)
    message = str(caught.value)
    assert "SPEECH_ENGINE_PROVIDER" in message and "\n" not in message
    assert resolve_device(load_config(_config(tmp_path, SPEECH_ENGINE_PROVIDER="auto"))) == CPU
