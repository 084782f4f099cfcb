"""`scriberr transcribe FILE`: run the job pipeline on one file without a server or database.

prepare (16 kHz mono) → transcribe → diarize (with --diarize, or a speaker-count hint, which
implies it) → canonical transcript → render to stdout (or `--output FILE`; docx needs one when
stdout is a terminal), with the export options of the HTTP API (`--no-speakers`, `--timestamps`,
subtitle layout). Bad options exit 2; engine failures print one sanitised line on stderr and
exit 1.

Every job option has a flag derived from `scriberr.jobs.JobOptions` (`beam_size` → `--beam-size`,
booleans as `--vad/--no-vad`), validated by `JobOptions.from_request` like an API request.
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
from scriberr.jobs import JobOptions, OptionError, OptionSpec, Stage, option_specs
from scriberr.privacy import confine_to_data_dir, create_private_dirs
from scriberr.transcript import FORMATS, CueLimits, ExportOptions, build_transcript, export


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "transcribe",
        help="transcribe one audio or video file locally (no server)",
        description="Transcribe one file with the local speech engine and print the transcript.",
    )
    parser.add_argument("file", type=Path, help="audio or video file")
    for name, spec, default in option_specs():
        _add_option_flag(parser, name, spec, default)
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


_FLAG_ALIASES = {"diarization": ("--diarize",)}
_HELP = {
    "model": "transcription model ID (default: the configured default)",
    "language": "language code, or 'auto' to detect (default: auto)",
    "diarization": "label speakers",
}
_TYPES = {"int": int, "float": float, "str": str}


def _add_option_flag(parser: Any, name: str, spec: OptionSpec, default: Any) -> None:
    """One flag per job option; unset flags keep the option's default."""
    flags = ("--" + name.replace("_", "-"), *_FLAG_ALIASES.get(name, ()))
    text = _HELP.get(name) or spec.description or name.replace("_", " ")
    if spec.kind == "bool":
        parser.add_argument(
            *flags, dest=name, action=argparse.BooleanOptionalAction, default=None, help=text
        )
        return
    parser.add_argument(
        *flags,
        dest=name,
        type=_TYPES[spec.kind],
        choices=list(spec.choices) or None,
        default=None,
        help=text,
    )


def _job_options(arguments: argparse.Namespace, registry: Any) -> JobOptions:
    """The flags as job options, validated against the catalog (OptionError names the flag)."""
    given = {name: getattr(arguments, name) for name, _spec, _default in option_specs()}
    hints = ("num_speakers", "min_speakers", "max_speakers")
    if given.get("diarization") is None and any(given.get(h) is not None for h in hints):
        given["diarization"] = True  # a speaker-count hint asks for speakers
    return JobOptions.from_request(
        {key: value for key, value in given.items() if value is not None},
        defaults=JobOptions.defaults(registry.default_model),
        catalog=registry,
        prefix="",
    )


def _progress(label: str, enabled: bool) -> Any:
    def report(fraction: float) -> None:
        if enabled:
            print(f"\r{label} {fraction * 100:5.1f}%", end="", file=sys.stderr, flush=True)

    return report


def _transcript(provider: SpeechProvider, source: Path, options: JobOptions) -> dict[str, Any]:
    cancel = CancelToken()
    show = sys.stderr.isatty()
    with tempfile.TemporaryDirectory(prefix="scriberr-") as scratch:
        audio = provider.prepare_audio(source, Path(scratch) / "audio.wav", cancel)
        output = provider.transcribe(
            audio,
            TranscriptionOptions.from_job(options),
            _progress(Stage.TRANSCRIBING, show),
            cancel,
        )
        engine_info: dict[str, Any] = {
            "provider": provider.name,
            "transcription_model": output.model or options.model,
        }
        turns: tuple[SpeakerTurn, ...] | None = None
        if options.diarization:
            diarization = provider.diarize(
                audio,
                DiarizationOptions.from_job(options),
                _progress("identifying speakers", show),
                cancel,
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
    if arguments.fmt == "docx" and arguments.output is None and sys.stdout.isatty():
        print("scriberr: docx is a binary format: write it with --output FILE", file=sys.stderr)
        return 2
    registry = build_provider_registry(config)
    create_private_dirs(config.data_dir)
    try:
        options = _job_options(arguments, registry)
        provider = registry.provider_for(options.model)
    except OptionError as error:
        registry.close()
        flag = "--" + (error.field or "").replace("_", "-")
        hint = " (see `scriberr models`)" if error.field == "model" else ""
        print(f"scriberr: {flag}: {error.message}{hint}", file=sys.stderr)
        return 2
    try:
        transcript = _transcript(provider, source, options)
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
        sys.stdout.flush()
        sys.stdout.buffer.write(content)
        sys.stdout.flush()
    return 0
