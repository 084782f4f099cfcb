"""A fake speech provider (no speech libraries) for queue, orchestrator and API tests.

It serves the models `fake-model` and `fake-model-2` (provider name `fake`). What a job does is
scripted: the defaults come from the `FakeScript` given to the constructor, and a job whose
"audio" file is a JSON object `{"fake": {...}}` overrides them per job (so tests that run the real
`scriberr worker` command in another process can still script each job). Script fields:

- `text`, `language`, `duration`: the transcript to return (words get even, real timestamps);
- `delay_s`: how long transcription takes, reported as progress in `steps` steps;
- `fail`: `"engine"` raises `EngineError(message)`, `"crash"` raises `RuntimeError(message)`;
  `fail_stage` picks `prepare`, `transcribe` (default) or `diarize`;
- `segments`: False returns words only (to exercise segment fallback);
- `speakers`: number of speakers the diarizer alternates between (0 = no turns);
- `first_attempt_delay_s`: the delay of the first attempt on this file only (a marker file next
  to it records the attempt), so crash/restart tests get a slow first and a quick second run.

Cancellation is honoured within one step (at most 50 ms of waiting).

`fake_registry()` wraps it in the real `ProviderRegistry`; `scriberr worker --fake-engine` (a
hidden, test-only option) uses it. None of this is part of the product.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from scriberr.engine.base import (
    CancelToken,
    Capabilities,
    DiarizationOptions,
    DiarizationOutput,
    EngineError,
    JobCanceled,
    ModelInfo,
    PreparedAudio,
    ProgressCallback,
    Segment,
    SpeakerTurn,
    TranscriptionOptions,
    TranscriptionOutput,
    Word,
)
from scriberr.engine.registry import ProviderRegistry

FAKE_PROVIDER = "fake"
FAKE_MODELS = ("fake-model", "fake-model-2")
FAKE_DIARIZATION_MODEL = "fake-diarization"
_MAX_WAIT_S = 0.05


@dataclass(frozen=True)
class FakeScript:
    text: str = "Hello from the fake engine. It reports words and segments."
    language: str = "en"
    duration: float = 6.0
    delay_s: float = 0.0
    steps: int = 5
    fail: str | None = None  # "engine" | "crash"
    fail_stage: str = "transcribe"  # "prepare" | "transcribe" | "diarize"
    message: str = "the fake engine failed"
    segments: bool = True
    speakers: int = 2
    first_attempt_delay_s: float | None = None  # replaces delay_s on the file's first attempt

    def merged(self, overrides: dict[str, Any]) -> FakeScript:
        known = {f.name for f in fields(self)}
        return replace(self, **{k: v for k, v in overrides.items() if k in known})


def _model(model_id: str, kind: str, default: bool) -> ModelInfo:
    return ModelInfo(
        id=model_id,
        name=model_id,
        provider=FAKE_PROVIDER,
        kind=kind,  # type: ignore[arg-type]
        installed=True,
        default=default,
        capabilities=("transcribe", "translate", "word_timestamps"),
        languages=("en",),
        size_mb=0,
    )


class FakeProvider:
    """Deterministic provider; thread-safe (no shared mutable state)."""

    name = FAKE_PROVIDER

    def __init__(self, script: FakeScript | None = None) -> None:
        self.script = script or FakeScript()

    def preload(self) -> None:
        """Nothing to load."""

    def capabilities(self) -> Capabilities:
        return Capabilities(
            provider=FAKE_PROVIDER,
            device="cpu",
            transcription_models=tuple(
                _model(m, "transcription", i == 0) for i, m in enumerate(FAKE_MODELS)
            ),
            diarization_models=(_model(FAKE_DIARIZATION_MODEL, "diarization", True),),
        )

    def script_for(self, path: Path) -> FakeScript:
        """The default script, overridden by a `{"fake": {...}}` JSON file at `path`."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return self.script
        if isinstance(data, dict) and isinstance(data.get("fake"), dict):
            return self.script.merged(data["fake"])
        return self.script

    def prepare_audio(self, source: Path, destination: Path, cancel: CancelToken) -> PreparedAudio:
        cancel.raise_if_canceled()
        script = self.script_for(source)
        self._maybe_fail(script, "prepare")
        destination.parent.mkdir(parents=True, exist_ok=True)
        if script.first_attempt_delay_s is not None:
            marker = source.with_name(source.name + ".attempted")
            if not marker.exists():
                marker.touch()
                script = replace(script, delay_s=script.first_attempt_delay_s)
            script = replace(script, first_attempt_delay_s=None)
            destination.write_text(json.dumps({"fake": asdict(script)}), encoding="utf-8")
        else:
            shutil.copyfile(source, destination)
        return PreparedAudio(path=destination, duration=script.duration)

    def transcribe(
        self,
        audio: PreparedAudio,
        options: TranscriptionOptions,
        progress: ProgressCallback,
        cancel: CancelToken,
    ) -> TranscriptionOutput:
        script = self.script_for(audio.path)
        self._work(script, progress, cancel)
        self._maybe_fail(script, "transcribe")
        words = _words(script.text, script.duration)
        segments = (Segment(words[0].start, words[-1].end, script.text, words),) if words else ()
        return TranscriptionOutput(
            text=script.text,
            language=options.language or script.language,
            duration=script.duration,
            segments=segments if script.segments else (),
            words=words,
            model=options.model,
        )

    def diarize(
        self,
        audio: PreparedAudio,
        options: DiarizationOptions,
        progress: ProgressCallback,
        cancel: CancelToken,
    ) -> DiarizationOutput:
        script = self.script_for(audio.path)
        cancel.raise_if_canceled()
        self._maybe_fail(script, "diarize")
        progress(1.0)
        count = options.num_speakers or script.speakers
        if count <= 0:
            return DiarizationOutput((), FAKE_DIARIZATION_MODEL)
        span = script.duration / (count * 2)
        turns = tuple(
            SpeakerTurn(i * span, (i + 1) * span, f"fake_{i % count}") for i in range(count * 2)
        )
        return DiarizationOutput(turns, FAKE_DIARIZATION_MODEL)

    def close(self) -> None:
        return None

    @staticmethod
    def _work(script: FakeScript, progress: ProgressCallback, cancel: CancelToken) -> None:
        steps = max(1, script.steps)
        for step in range(1, steps + 1):
            remaining = script.delay_s / steps
            while remaining > 0:
                if cancel.wait(min(remaining, _MAX_WAIT_S)):
                    raise JobCanceled()
                remaining -= _MAX_WAIT_S
            cancel.raise_if_canceled()
            progress(step / steps)

    @staticmethod
    def _maybe_fail(script: FakeScript, stage: str) -> None:
        if script.fail is None or script.fail_stage != stage:
            return
        if script.fail == "engine":
            raise EngineError(script.message)
        raise RuntimeError(script.message)


def _words(text: str, duration: float) -> tuple[Word, ...]:
    tokens = text.split()
    if not tokens:
        return ()
    step = duration / len(tokens)
    return tuple(
        Word(round(i * step, 3), round((i + 0.8) * step, 3), f" {token}")
        for i, token in enumerate(tokens)
    )


def fake_registry(provider: FakeProvider | None = None) -> ProviderRegistry:
    """A `ProviderRegistry` serving only the fake models (tests and `--fake-engine`)."""
    return ProviderRegistry([provider or FakeProvider()], default_model=FAKE_MODELS[0])
