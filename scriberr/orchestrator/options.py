"""The resolved job options (ARCHITECTURE.md "Job options") as the orchestrator reads them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scriberr.engine.base import DiarizationOptions, Task, TranscriptionOptions


def _optional_int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class JobOptions:
    model: str
    language: str | None  # None = detect ("auto" in the stored options)
    task: Task
    diarization: bool
    num_speakers: int | None
    min_speakers: int | None
    max_speakers: int | None
    prompt: str | None

    @classmethod
    def from_stored(cls, options: Mapping[str, Any], default_model: str = "") -> JobOptions:
        language = options.get("language")
        task = options.get("task")
        prompt = options.get("prompt")
        return cls(
            model=str(options.get("model") or default_model),
            language=None if not language or language == "auto" else str(language),
            task="translate" if task == "translate" else "transcribe",
            diarization=bool(options.get("diarization")),
            num_speakers=_optional_int(options.get("num_speakers")),
            min_speakers=_optional_int(options.get("min_speakers")),
            max_speakers=_optional_int(options.get("max_speakers")),
            prompt=str(prompt) if prompt else None,
        )

    def transcription(self) -> TranscriptionOptions:
        return TranscriptionOptions(
            model=self.model, language=self.language, task=self.task, prompt=self.prompt
        )

    def diarization_options(self) -> DiarizationOptions:
        return DiarizationOptions(
            num_speakers=self.num_speakers,
            min_speakers=self.min_speakers,
            max_speakers=self.max_speakers,
        )
