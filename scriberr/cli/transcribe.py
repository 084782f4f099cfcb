"""`scriberr transcribe FILE`: run the job pipeline on one file without a server or database.

prepare (16 kHz mono) → transcribe → diarize (with --diarize or a speaker-count hint) → canonical
transcript → render to stdout (or `--output FILE`; docx needs one when stdout is a terminal).
Bad options exit 2; engine failures print one sanitised line on stderr and exit 1.
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
from scriberr.jobs import AUTO_LANGUAGE, DEFAULT_TASK, TASKS, Stage
from scriberr.transcript import FORMATS, CueLimits, ExportOptions, build_transcript, export


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "transcribe",
        help="transcribe one audio or video file locally (no server)",
        description="Transcribe one file with the local speech engine and print the transcript.",
    )
    parser.add_argument("file", type=Path, help="audio or video file")
    parser.add_argument("--model", help="transcription model ID (default: the configured default)")
    parser.add_argument("--language", help="language code, or 'auto' to detect (default: auto)")
    parser.add_argument(
        "--task",
        choices=list(TASKS),
        default=DEFAULT_TASK,
        help="transcribe (default) or translate into English",
    )
    parser.add_argument("--diarize", action="store_true", help="label speakers")
    for flag, text in (
        ("--num-speakers", "exact number of speakers (implies --diarize)"),
        ("--min-speakers", "at least this many speakers (implies --diarize)"),
        ("--max-speakers", "at most this many speakers (implies --diarize)"),
    ):
        parser.add_argument(flag, type=_speaker_count, help=text)
    parser.add_argument(
        "--format", dest="fmt", choices=list(FORMATS), default="txt", help="output format"
    )
    parser.add_argument("--output", "-o", type=Path, help="write to this file instead of stdout")
    parser.add_argument(
        "--no-speakers", dest="speakers", action="store_false", help="leave speakers out"
    )
    parser.add_argument(
        "--timestamps", action="store_true", help="txt: start time before each paragraph"
    )
    defaults = CueLimits()
    parser.add_argument(
        "--max-line-chars",
        type=_bounded(int, 10, 200),
        default=defaults.max_line_chars,
        help=f"srt/vtt: characters per line (default {defaults.max_line_chars})",
    )
    parser.add_argument(
        "--max-lines",
        type=_bounded(int, 1, 10),
        default=defaults.max_lines,
        help=f"srt/vtt: lines per cue (default {defaults.max_lines})",
    )
    parser.add_argument(
        "--max-cue-seconds",
        type=_bounded(float, 1.0, 60.0),
        default=defaults.max_cue_seconds,
        help=f"srt/vtt: longest cue in seconds (default {defaults.max_cue_seconds:g})",
    )
    parser.set_defaults(handler=run)


def _speaker_count(value: str) -> int:
    return int(_bounded(int, 1, 32)(value))


def _bounded(kind: type[int] | type[float], low: float, high: float) -> Any:
    def parse(value: str) -> int | float:
        try:
            number = kind(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(f"{value} is outside {low:g}..{high:g}")
        return number

    return parse


def _wants_diarization(arguments: argparse.Namespace) -> bool:
    hints = (arguments.num_speakers, arguments.min_speakers, arguments.max_speakers)
    return bool(arguments.diarize) or any(hint is not None for hint in hints)


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
            TranscriptionOptions(model=model, language=language, task=arguments.task),
            _progress(Stage.TRANSCRIBING, show),
            cancel,
        )
        engine_info: dict[str, Any] = {
            "provider": provider.name,
            "transcription_model": output.model or model,
        }
        turns: tuple[SpeakerTurn, ...] | None = None
        if _wants_diarization(arguments):
            hints = DiarizationOptions(
                num_speakers=arguments.num_speakers,
                min_speakers=arguments.min_speakers,
                max_speakers=arguments.max_speakers,
            )
            diarization = provider.diarize(
                audio, hints, _progress("identifying speakers", show), cancel
            )
            turns = diarization.turns
            engine_info["diarization_model"] = diarization.model
        if show:
            print(file=sys.stderr)
    return build_transcript(output, turns, engine_info)


def run(arguments: argparse.Namespace) -> int:
    config = load_config(os.environ)
    source: Path = arguments.file
    if not source.is_file():
        print(f"scriberr: no such file: {source}", file=sys.stderr)
        return 2
    problem = _option_problem(arguments)
    if problem is not None:
        print(f"scriberr: {problem}", file=sys.stderr)
        return 2
    registry = build_provider_registry(config)
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
    content = export(
        transcript,
        arguments.fmt,
        ExportOptions(
            speakers=arguments.speakers,
            timestamps=arguments.timestamps,
            limits=CueLimits(
                arguments.max_line_chars, arguments.max_lines, arguments.max_cue_seconds
            ),
            title=source.stem,
            uri=source.stem,
        ),
    )
    if arguments.output is not None:
        arguments.output.write_bytes(content)
    else:
        sys.stdout.buffer.write(content)
        sys.stdout.flush()
    return 0


def _option_problem(arguments: argparse.Namespace) -> str | None:
    low, high = arguments.min_speakers, arguments.max_speakers
    if low is not None and high is not None and low > high:
        return "--min-speakers is greater than --max-speakers"
    if arguments.fmt == "docx" and arguments.output is None and sys.stdout.isatty():
        return "docx is a binary format: write it to a file with --output FILE"
    return None
