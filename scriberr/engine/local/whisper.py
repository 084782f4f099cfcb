"""faster-whisper transcription: load a model, run it, convert its results. Runs in the engine process.

Settings shared with the benchmark's direct baseline live in `decode_settings` so the pipeline and
the baseline decode identically: word timestamps always on, VAD filtering of silence, language
detection when no language is given, and faster-whisper's batched pipeline for long inputs.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from scriberr.engine.base import (
    ModelInstallError,
    ModelUnavailableError,
    Segment,
    SegmentCallback,
    TranscriptionOptions,
    TranscriptionOutput,
    Word,
)
from scriberr.engine.catalog import ModelLocation
from scriberr.engine.install import HubSource, download_model
from scriberr.engine.local.pacing import Pacer

logger = logging.getLogger("scriberr.engine")

SAMPLE_RATE = 16000
# Inputs at least this long use BatchedInferencePipeline (measured ~2.5x faster on 5 minutes with
# tiny.en int8 on 2 cores); shorter ones decode sequentially, which keeps context across windows.
BATCHED_MIN_SECONDS = 60.0
# 8 chunks per batch: a batch's decode costs about the same whatever its size (its longest chunk
# sets the number of decoder steps), so fewer batches are faster (5-minute file on 2 cores: 8.8 s
# against 9.8 s with 4).
BATCH_SIZE = 8
# Batched decoding returns one segment per VAD chunk (up to 30 s); such segments are split at
# sentence ends or pauses, using the word timestamps, so subtitles and speaker labels stay usable.
_SPLIT_LONGER_THAN_S = 12.0
_PAUSE_S = 1.0
_SENTENCE_END = (".", "?", "!", "\u3002", "\uff1f", "\uff01")  # also CJK full stops

# With partial segments on, a long input's first few seconds are decoded on their own first (cut in
# the first pause after `FIRST_PART_MIN_S`, as one chunk of the batched pipeline), so the first
# segments arrive after a fraction of the work instead of after the features of the whole input and
# a full batch. The part is short because its batch of one costs decoder steps in proportion to its
# length: on the 5-minute bench file a 30-s first part cost 10-15 % in total with batches of 8, an
# 18-s one 8 %, a 7-s one about 5 %.
FIRST_PART_MIN_S = 5.0
FIRST_PART_MAX_S = 30.0

CancelCheck = Callable[[], None]


def load_model(
    location: ModelLocation,
    device: str,
    compute_type: str,
    threads: int,
    check_cancel: CancelCheck | None = None,
) -> Any:
    """Load a CTranslate2 Whisper model, downloading it into the cache first when allowed.

    A download is staged and verified by loading it (see `engine.install`), so a failed or
    canceled download leaves nothing in the cache.
    """
    if not location.present:
        return _download(location, device, compute_type, threads, check_cancel)
    try:
        return open_model(location.directory, device, compute_type, threads, None)
    except ModelInstallError:
        raise ModelUnavailableError(
            f"model '{location.model_id}' could not be loaded; its files may be incomplete"
        ) from None


def open_model(
    directory: Path, device: str, compute_type: str, threads: int, multilingual: bool | None
) -> Any:
    """Load the model in `directory` once; `ModelInstallError` when it is not a usable Whisper
    model (or, when `multilingual` is given, not the kind the catalog expects)."""
    from faster_whisper import WhisperModel

    try:
        model = WhisperModel(
            str(directory), device=device, compute_type=compute_type, cpu_threads=threads
        )
    except Exception as error:
        logger.warning("loading the model in %s failed: %s", directory, error)
        raise ModelInstallError("the model files could not be loaded") from None
    if multilingual is not None and bool(model.model.is_multilingual) != multilingual:
        found = "multilingual" if model.model.is_multilingual else "English-only"
        raise ModelInstallError(f"the files hold an {found} model, which this model ID is not")
    return model


def _download(
    location: ModelLocation,
    device: str,
    compute_type: str,
    threads: int,
    check_cancel: CancelCheck | None,
) -> Any:
    logger.info("downloading model %s from %s", location.model_id, location.repo)
    try:
        return download_model(
            location.model_id,
            str(location.repo),
            location.directory.parent,
            HubSource.from_environment(os.environ),
            verify=lambda staged: open_model(
                staged, device, compute_type, threads, location.multilingual
            ),
            check_cancel=check_cancel,
        )
    except ModelInstallError as error:
        logger.warning("download of model %s failed: %s", location.model_id, error)
        raise ModelUnavailableError(
            f"model '{location.model_id}' is not installed and could not be downloaded: "
            f"{error.public_message}"
        ) from None


def warm_up() -> None:
    """Load faster-whisper's VAD model and run it once (its first call in a process builds an
    ONNX session), so a preloaded engine's first job does not pay for it."""
    from faster_whisper.vad import get_speech_timestamps

    get_speech_timestamps(np.zeros(SAMPLE_RATE, dtype=np.float32))


def decode_settings(options: TranscriptionOptions) -> dict[str, Any]:
    """Keyword arguments for faster-whisper's `transcribe` (sequential or batched).

    Every decoding control of the job maps here; an unset one keeps faster-whisper's default."""
    settings: dict[str, Any] = {
        "language": options.language,
        "task": options.task,
        "initial_prompt": options.prompt or None,
        "word_timestamps": True,
        "vad_filter": options.vad,
        "condition_on_previous_text": options.condition_on_previous_text,
    }
    if options.hotwords:
        settings["hotwords"] = options.hotwords
    if options.beam_size is not None:
        settings["beam_size"] = options.beam_size
    if options.temperature is not None:
        settings["temperature"] = options.temperature
    if options.vad and options.vad_min_silence_ms is not None:
        settings["vad_parameters"] = {"min_silence_duration_ms": options.vad_min_silence_ms}
    return settings


def use_batched(duration: float) -> bool:
    return duration >= BATCHED_MIN_SECONDS


def start_decoding(
    model: Any, samples: np.ndarray, options: TranscriptionOptions, batched: bool | None = None
) -> tuple[Any, Any]:
    """faster-whisper's lazy segment iterator and info for these samples (`batched`: whether to
    use the batched pipeline; by default when the samples are long enough)."""
    settings = decode_settings(options)
    if batched if batched is not None else use_batched(samples.shape[0] / SAMPLE_RATE):
        from faster_whisper import BatchedInferencePipeline

        pipelined: tuple[Any, Any] = BatchedInferencePipeline(model).transcribe(
            samples, batch_size=BATCH_SIZE, **settings
        )
        return pipelined
    plain: tuple[Any, Any] = model.transcribe(samples, **settings)
    return plain


def window_seconds(duration: float) -> float:
    """Audio one decoding call covers at most: a 30 s window, or a batch of them."""
    return 30.0 * (BATCH_SIZE if use_batched(duration) else 1)


def transcribe(
    model: Any,
    samples: np.ndarray,
    options: TranscriptionOptions,
    model_id: str,
    pacer: Pacer,
    check_cancel: CancelCheck,
    speed: float | None = None,
    on_segment: SegmentCallback | None = None,
) -> TranscriptionOutput:
    """Decode `samples`, reporting progress by audio position to `pacer` and each converted
    segment to `on_segment` as soon as faster-whisper yields it.

    `speed` (audio seconds per second of work, from earlier jobs) paces progress until the
    first segments arrive; after that the speed measured in this job does.
    """
    duration = samples.shape[0] / SAMPLE_RATE
    if duration == 0:
        return TranscriptionOutput(text="", language=options.language, duration=0.0, model=model_id)
    window = min(1.0, window_seconds(duration) / duration)  # share of the input one call covers
    pacer.phase(0.0, window, expected_s=window * duration / speed if speed else None)
    cut = first_part_end(samples) if on_segment is not None and use_batched(duration) else None
    segments: list[Segment] = []

    def consume(iterator: Any, offset: float) -> None:
        for raw in iterator:
            converted = _segments(raw, duration, offset)
            if on_segment is not None:
                for index, segment in enumerate(converted, start=len(segments)):
                    on_segment(index, segment)
            segments.extend(converted)
            position = min(1.0, (float(raw.end) + offset) / duration)
            pacer.report(position, bound=position + window)
            check_cancel()

    if cut is None:
        iterator, info = start_decoding(model, samples, options)
        language = options.language or info.language
        consume(iterator, 0.0)
    else:
        # Both parts use the batched pipeline, as the whole would: the first part is one chunk
        # decoded as a batch of one (a sequential decode of it cost 5-10 % more in total), the
        # rest is batched even when it is under a minute. The rest's VAD and features (0.7 s on
        # one core for 5 minutes, done when its decoding starts) are computed in a thread while
        # the first part decodes, so its decode (0.37 s, mostly one more encoder pass) costs
        # little in total.
        iterator, info = start_decoding(model, samples[:cut], options, batched=True)
        language = options.language or info.language  # the first part's answer holds for all
        rest_options = replace(options, language=language)
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="decode-rest")
        try:
            rest = pool.submit(start_decoding, model, samples[cut:], rest_options, True)
            consume(iterator, 0.0)
            rest_iterator, _info = rest.result()
        finally:
            pool.shutdown(wait=False)  # a cancel does not wait for the rest's preparation
        consume(rest_iterator, cut / SAMPLE_RATE)
    words = tuple(word for segment in segments for word in segment.words)
    text = " ".join(segment.text for segment in segments if segment.text).strip()
    return TranscriptionOutput(
        text=text,
        language=language,
        duration=round(duration, 3),
        segments=tuple(segments),
        words=words,
        model=model_id,
    )


def first_part_end(samples: np.ndarray) -> int | None:
    """Where to end the part decoded first when segments stream: the middle of the first pause
    that starts between `FIRST_PART_MIN_S` and `FIRST_PART_MAX_S` (sample index), or None.

    VAD runs on a short head first (such a pause is usually within a few seconds) and on the
    longer one only when the short one has none; the pipeline runs its own VAD again."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    for head_s in (FIRST_PART_MIN_S + 10.0, FIRST_PART_MAX_S + 15.0):
        head = samples[: int(head_s * SAMPLE_RATE)]
        speech = get_speech_timestamps(head, VadOptions(min_silence_duration_ms=160))
        for before, after in itertools.pairwise(speech):
            if before["end"] >= FIRST_PART_MIN_S * SAMPLE_RATE:
                if before["end"] > FIRST_PART_MAX_S * SAMPLE_RATE:
                    return None
                return (int(before["end"]) + int(after["start"])) // 2
        if head.shape[0] == samples.shape[0]:
            return None  # the whole input was searched
    return None


def _clamp(value: float, duration: float, offset: float = 0.0) -> float:
    return round(min(max(float(value) + offset, 0.0), duration), 3)


def _word(raw: Any, duration: float, offset: float) -> Word:
    start = _clamp(raw.start, duration, offset)
    return Word(
        start=start,
        end=max(_clamp(raw.end, duration, offset), start),
        word=raw.word.strip(),
        probability=round(float(raw.probability), 4),
    )


def _segments(raw: Any, duration: float, offset: float = 0.0) -> list[Segment]:
    """One faster-whisper segment as ours (its times shifted by `offset` seconds, where its part
    of the audio starts), split into sentences when it is very long."""
    raw_words = [word for word in raw.words or () if word.word.strip()]
    if float(raw.end) - float(raw.start) <= _SPLIT_LONGER_THAN_S or len(raw_words) < 2:
        start = _clamp(raw.start, duration, offset)
        words = tuple(_word(word, duration, offset) for word in raw_words)
        end = max(_clamp(raw.end, duration, offset), start)
        return [Segment(start, end, raw.text.strip(), words, **_confidence(raw))]
    pieces: list[list[Any]] = [[]]
    for index, word in enumerate(raw_words):
        pieces[-1].append(word)
        following = raw_words[index + 1] if index + 1 < len(raw_words) else None
        if following is not None and (
            word.word.strip().endswith(_SENTENCE_END)
            or float(following.start) - float(word.end) >= _PAUSE_S
        ):
            pieces.append([])
    confidence = _confidence(raw)
    return [_piece(piece, duration, offset, confidence) for piece in pieces if piece]


def _confidence(raw: Any) -> dict[str, float | None]:
    """The decoder's segment confidence; the pieces of a split segment share their parent's."""
    values: dict[str, float | None] = {}
    for name in ("avg_logprob", "no_speech_prob", "compression_ratio"):
        value = getattr(raw, name, None)
        values[name] = round(float(value), 4) if value is not None else None
    return values


def _piece(
    raw_words: list[Any], duration: float, offset: float, confidence: dict[str, float | None]
) -> Segment:
    words = tuple(_word(word, duration, offset) for word in raw_words)
    text = "".join(word.word for word in raw_words).strip()
    return Segment(start=words[0].start, end=words[-1].end, text=text, words=words, **confidence)
