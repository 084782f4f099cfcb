"""`scriberr transcribe FILE`: run the job pipeline on one file without a server or database.

prepare (16 kHz mono) → transcribe → diarize (with --diarize) → canonical transcript → render to
stdout. Failures print one sanitised line on stderr and exit non-zero.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from scriberr.config import load_config
from scriberr.engine.base import (
    CancelToken,
    DiarizationOptions,
    EngineError,
    JobCanceled,
    SpeakerTurn,
    SpeechProvider,
    TranscriptionOptions,
)
from scriberr.engine.registry import build_provider_registry
from scriberr.jobs import AUTO_LANGUAGE, Stage
from scriberr.privacy import confine_to_data_dir, private_dirs
from scriberr.transcript import FORMATS, build_transcript, render


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "transcribe",
        help="transcribe one audio or video file locally (no server)",
        description="Transcribe one file with the local speech engine and print the transcript.",
    )
    parser.add_argument("file", type=Path, help="audio or video file")
    parser.add_argument("--model", help="transcription model ID (default: the configured default)")
    parser.add_argument("--language", help="language code, or 'auto' to detect (default: auto)")
    parser.add_argument("--diarize", action="store_true", help="label speakers")
    parser.add_argument(
        "--format", dest="fmt", choices=list(FORMATS), default="txt", help="output format"
    )
    parser.set_defaults(handler=run)


def _progress(label: str, enabled: bool) -> Any:
    def report(fraction: float) -> None:
        if enabled:
            print(f"\r{label} {fraction * 100:5.1f}%", end="", file=sys.stderr, flush=True)

    return report


def _transcript(
    provider: SpeechProvider, source: Path, model: str, arguments: argparse.Namespace
) -> dict[str, Any]:
    cancel = CancelToken()
    show = sys.stderr.isatty()
    with tempfile.TemporaryDirectory(prefix="scriberr-") as scratch:
        audio = provider.prepare_audio(source, Path(scratch) / "audio.wav", cancel)
        language = None if arguments.language in (None, AUTO_LANGUAGE) else arguments.language
        output = provider.transcribe(
            audio,
            TranscriptionOptions(model=model, language=language),
            _progress(Stage.TRANSCRIBING, show),
            cancel,
        )
        engine_info: dict[str, Any] = {
            "provider": provider.name,
            "transcription_model": output.model or model,
        }
        turns: tuple[SpeakerTurn, ...] | None = None
        if arguments.diarize:
            diarization = provider.diarize(
                audio, DiarizationOptions(), _progress("identifying speakers", show), cancel
            )
            turns = diarization.turns
            engine_info["diarization_model"] = diarization.model
        if show:
            print(file=sys.stderr)
    return build_transcript(output, turns, engine_info)


def run(arguments: argparse.Namespace) -> int:
    config = load_config(os.environ)
    confine_to_data_dir(config.data_dir)
    source: Path = arguments.file
    if not source.is_file():
        print(f"scriberr: no such file: {source}", file=sys.stderr)
        return 2
    registry = build_provider_registry(config)
    for directory in private_dirs(config.data_dir):
        directory.mkdir(parents=True, exist_ok=True)
    model = arguments.model or registry.default_model
    try:
        provider = registry.provider_for(model)
    except KeyError:
        registry.close()
        print(f"scriberr: unknown model '{model}' (see `scriberr models`)", file=sys.stderr)
        return 2
    try:
        transcript = _transcript(provider, source, model, arguments)
    except EngineError as error:
        print(f"scriberr: {error.public_message}", file=sys.stderr)
        return 1
    except JobCanceled:
        return 130
    finally:
        registry.close()
    sys.stdout.write(render(transcript, arguments.fmt))
    if arguments.fmt == "txt" and not transcript["text"].endswith("\n"):
        sys.stdout.write("\n")
    return 0
