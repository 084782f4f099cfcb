"""Maps model IDs to the provider that serves them, and lists every provider's models.

The composition root builds one `ProviderRegistry` (`build_provider_registry(config)` for the real
engine, or the constructor with other providers, e.g. a fake one in tests). Listing models asks each
provider's `capabilities()`, which only reads the catalog and the filesystem: no engine process is
started and no model is loaded until a job runs.
"""

from __future__ import annotations

from collections.abc import Sequence

from scriberr.config import Config, ConfigError
from scriberr.engine.base import ModelInfo, ModelInstaller, SpeechProvider
from scriberr.jobs import JobOptions


class ProviderRegistry:
    """The providers available to jobs, in priority order (the first to list a model serves it)."""

    def __init__(self, providers: Sequence[SpeechProvider], default_model: str) -> None:
        if not providers:
            raise ValueError("a provider registry needs at least one provider")
        self._providers = tuple(providers)
        self._defaults = JobOptions.defaults(default_model)

    @property
    def default_model(self) -> str:
        """The transcription model used when neither the request nor a profile names one."""
        return self._defaults.model

    @property
    def default_options(self) -> JobOptions:
        """The one object holding the configuration defaults of every job option."""
        return self._defaults

    def check_default_model(self) -> None:
        """Startup check: the default model (`SPEECH_ENGINE_DEFAULT_MODEL`) must be one of the
        catalog's transcription models; a typo stops startup with one line (`ConfigError`)."""
        require_known_default(self.default_model, [m.id for m in self.transcription_models()])

    @property
    def providers(self) -> tuple[SpeechProvider, ...]:
        return self._providers

    def provider_for(self, model_id: str) -> SpeechProvider:
        """The provider serving `model_id` (transcription or diarization); KeyError if none does."""
        for provider in self._providers:
            capabilities = provider.capabilities()
            models = capabilities.transcription_models + capabilities.diarization_models
            if any(model.id == model_id for model in models):
                return provider
        raise KeyError(model_id)

    def installer_for(self, model_id: str) -> ModelInstaller | None:
        """The provider that can download, import and remove `model_id`, if any can."""
        try:
            provider = self.provider_for(model_id)
        except KeyError:
            return None
        return provider if isinstance(provider, ModelInstaller) else None

    def model_info(self, model_id: str) -> ModelInfo | None:
        """The listing row of one model (transcription or diarization), or None."""
        for model in self.transcription_models() + self.diarization_models():
            if model.id == model_id:
                return model
        return None

    def transcription_models(self) -> list[ModelInfo]:
        return self._collect(diarization=False)

    def diarization_models(self) -> list[ModelInfo]:
        return self._collect(diarization=True)

    def _collect(self, *, diarization: bool) -> list[ModelInfo]:
        seen: set[str] = set()
        models: list[ModelInfo] = []
        for provider in self._providers:
            capabilities = provider.capabilities()
            listed = (
                capabilities.diarization_models
                if diarization
                else capabilities.transcription_models
            )
            for model in listed:
                if model.id not in seen:
                    seen.add(model.id)
                    models.append(model)
        return models

    def preload(self) -> None:
        """Have every provider start loading its preload models (in the background)."""
        for provider in self._providers:
            provider.preload()

    def close(self) -> None:
        """Close every provider (stops engine processes); safe to call more than once."""
        for provider in self._providers:
            provider.close()


def require_known_default(default_model: str, known: Sequence[str]) -> None:
    """Raise the one-line `ConfigError` for a default model that is not in `known`."""
    if default_model not in known:
        raise ConfigError(
            "SPEECH_ENGINE_DEFAULT_MODEL",
            default_model,
            "a transcription model ID (" + ", ".join(known) + ")",
        )


def build_provider_registry(config: Config) -> ProviderRegistry:
    """The real engine for `config`. Checks SPEECH_ENGINE_DEFAULT_MODEL and
    SPEECH_ENGINE_PRELOAD against the catalog and resolves SPEECH_ENGINE_PROVIDER once (each
    raising a one-line `ConfigError`), but starts no process and loads no model."""
    from scriberr.engine.catalog import CATALOG
    from scriberr.engine.local import LocalProvider

    transcription = [entry.id for entry in CATALOG if entry.kind == "transcription"]
    require_known_default(config.engine_default_model, transcription)

    provider = LocalProvider.from_config(config)
    return ProviderRegistry([provider], default_model=config.engine_default_model)
