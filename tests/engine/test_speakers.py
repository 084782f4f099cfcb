"""Speaker counts: hints always hold, and without hints close clusters are merged so a recording
with three real voices reports three (jfk.flac followed by sample.wav, scored against
sample.rttm shifted by jfk's length plus JFK's own turn)."""

from __future__ import annotations

import numpy as np
import pytest
from pyannote.core import Annotation, Segment

from scriberr.engine.base import CancelToken, DiarizationOptions, PreparedAudio, SpeakerTurn
from scriberr.engine.local import LocalProvider
from scriberr.engine.local.speakers import (
    MIN_EMBEDDINGS,
    average_linkage,
    cluster_speakers,
    exactly,
    fold_small_clusters,
    kmeans,
    merge_close_clusters,
)

from .conftest import JFK, SAMPLE, SAMPLE_RTTM
from .der import diarization_error_rate, read_rttm
from .media import SAMPLE_RATE, read_audio, write_wav

# JFK speaks from 0.3 s to 10.6 s of jfk.flac (one speaker, one turn).
JFK_TURN = (0.3, 10.6)
# In sample.wav speaker90 talks until 14.70 s and speaker91 from 14.49 s (sample.rttm).
CLIP = (12.0, 17.0)


def _speakers(turns: tuple[SpeakerTurn, ...]) -> set[str]:
    return {turn.speaker for turn in turns}


def _speaker_at(turns: tuple[SpeakerTurn, ...], time: float) -> str | None:
    return next((t.speaker for t in turns if t.start <= time < t.end), None)


@pytest.mark.engine
@pytest.mark.slow
def test_num_speakers_two_on_a_five_second_two_voice_clip(
    provider: LocalProvider, scratch: object, tmp_path: object
) -> None:
    start, end = CLIP
    samples = read_audio(SAMPLE)[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)]
    source = write_wav(samples, tmp_path / "clip-source.wav")  # type: ignore[operator]
    audio = provider.prepare_audio(source, tmp_path / "clip.wav", CancelToken())  # type: ignore[operator]
    assert audio.duration == pytest.approx(5.0, abs=0.01)
    turns = provider.diarize(
        audio, DiarizationOptions(num_speakers=2), lambda _f: None, CancelToken()
    ).turns
    assert _speakers(turns) == {"SPEAKER_00", "SPEAKER_01"}
    # The first voice holds the start of the clip, the second its end.
    assert _speaker_at(turns, 1.0) == "SPEAKER_00"
    assert _speaker_at(turns, 4.5) == "SPEAKER_01"
    for count in (1, 3):
        hinted = provider.diarize(
            audio, DiarizationOptions(num_speakers=count), lambda _f: None, CancelToken()
        ).turns
        assert len(_speakers(hinted)) == count


@pytest.fixture(scope="module")
def three_voices(
    provider: LocalProvider, tmp_path_factory: pytest.TempPathFactory
) -> PreparedAudio:
    directory = tmp_path_factory.mktemp("three-voices")
    samples = np.concatenate([read_audio(JFK), read_audio(SAMPLE)])
    source = write_wav(samples, directory / "jfk-then-sample-source.wav")
    return provider.prepare_audio(source, directory / "jfk-then-sample.wav", CancelToken())


def _three_voice_reference(jfk_seconds: float) -> Annotation:
    reference = Annotation()
    reference[Segment(*JFK_TURN)] = "jfk"
    return read_rttm(SAMPLE_RTTM, offset=jfk_seconds, into=reference)


@pytest.mark.engine
@pytest.mark.slow
def test_three_voices_report_three_speakers_with_low_der(
    provider: LocalProvider, three_voices: PreparedAudio
) -> None:
    turns = provider.diarize(
        three_voices, DiarizationOptions(), lambda _f: None, CancelToken()
    ).turns
    assert len(_speakers(turns)) == 3
    jfk_seconds = len(read_audio(JFK)) / SAMPLE_RATE
    der = diarization_error_rate(_three_voice_reference(jfk_seconds), turns, three_voices.duration)
    assert der <= 0.15, der
    assert _speaker_at(turns, 5.0) == "SPEAKER_00"  # JFK, first to speak
    assert all(turn.speaker == "SPEAKER_00" for turn in turns if turn.end <= jfk_seconds)
    assert all(turn.speaker != "SPEAKER_00" for turn in turns if turn.start >= jfk_seconds)
    bounded = provider.diarize(
        three_voices, DiarizationOptions(max_speakers=2), lambda _f: None, CancelToken()
    ).turns
    assert len(_speakers(bounded)) == 2


@pytest.mark.engine
@pytest.mark.slow
def test_three_minutes_of_three_voices_is_not_split_into_many(
    provider: LocalProvider, three_minutes: PreparedAudio
) -> None:
    turns = provider.diarize(
        three_minutes, DiarizationOptions(), lambda _f: None, CancelToken()
    ).turns
    assert len(_speakers(turns)) == 3


# The clustering functions on their own, with embeddings made to order.


def _voices(counts: list[int], spread: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings of len(counts) voices (orthogonal directions, Gaussian spread) and their labels."""
    rng = np.random.default_rng(seed)
    rows, labels = [], []
    for voice, count in enumerate(counts):
        centre = np.zeros(32)
        centre[voice] = 1.0
        rows.append(centre + rng.normal(0.0, spread, size=(count, 32)))
        labels += [voice] * count
    return np.concatenate(rows), np.array(labels)


def test_exactly_gives_the_asked_count_even_on_a_handful_of_sub_segments() -> None:
    embeddings, truth = _voices([4, 3], spread=0.05)
    assert embeddings.shape[0] < MIN_EMBEDDINGS
    labels = exactly(embeddings, 2)
    assert len(set(labels)) == 2
    assert len({(a, b) for a, b in zip(labels, truth, strict=True)}) == 2  # matches the voices
    assert len(set(exactly(embeddings, 9))) == 7  # never more than one per sub-segment
    assert set(exactly(embeddings, 1)) == {0}


@pytest.mark.slow
def test_hints_bound_the_estimate() -> None:
    embeddings, _truth = _voices([12, 12, 12], spread=0.05)
    found = cluster_speakers(embeddings, DiarizationOptions(), 60.0)
    assert len(set(found)) == 3
    capped = cluster_speakers(embeddings, DiarizationOptions(max_speakers=2), 60.0)
    assert len(set(capped)) == 2
    raised = cluster_speakers(embeddings, DiarizationOptions(min_speakers=4), 60.0)
    assert len(set(raised)) == 4
    assert len(set(cluster_speakers(embeddings, DiarizationOptions(num_speakers=5), 60.0))) == 5


def test_small_clusters_fold_and_close_clusters_merge() -> None:
    embeddings, truth = _voices([10, 10], spread=0.05)
    split = truth.copy()
    split[:5] = 7  # one voice wrongly cut in two clusters of 5
    assert set(merge_close_clusters(embeddings, split, 0.8)) == {0, 1} or set(
        merge_close_clusters(embeddings, split, 0.8)
    ) == {7, 1}
    assert len(set(merge_close_clusters(embeddings, truth, 0.8))) == 2  # distinct voices stay
    stray = truth.copy()
    stray[3] = 9  # a one-sub-segment cluster goes to the voice it sounds like
    assert list(fold_small_clusters(embeddings, stray, 4)) == list(truth)


def _same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    return len(set(zip(a, b, strict=True))) == len(set(a)) == len(set(b))


def test_average_linkage_partitions_as_scikit_learn_does() -> None:
    from sklearn.cluster import AgglomerativeClustering

    rng = np.random.default_rng(1)
    for _trial in range(20):
        embeddings = rng.normal(size=(MIN_EMBEDDINGS - 1, 16))
        for count in (2, 3, 4):
            reference = AgglomerativeClustering(
                n_clusters=count, metric="cosine", linkage="average"
            ).fit_predict(embeddings)
            assert _same_partition(average_linkage(embeddings, count), reference)


def test_kmeans_is_repeatable_and_no_looser_than_scikit_learn() -> None:
    from sklearn.cluster import KMeans

    rng = np.random.default_rng(2)
    for count in (2, 3, 5):
        centres = rng.normal(size=(count, 4))
        points = np.concatenate([c + rng.normal(0.0, 0.6, size=(30, 4)) for c in centres])
        labels = kmeans(points, count)
        assert list(labels) == list(kmeans(points, count))
        assert len(set(labels)) == count
        inertia = sum(
            ((points[labels == c] - points[labels == c].mean(0)) ** 2).sum() for c in set(labels)
        )
        reference = KMeans(n_clusters=count, random_state=0).fit(points).inertia_
        assert inertia <= reference * (1 + 1e-6)


def test_a_minimum_above_the_sub_segment_count_gives_one_speaker_per_sub_segment() -> None:
    embeddings, _truth = _voices([6, 5], spread=0.05)  # 11 sub-segments, two voices
    for minimum in (11, 12, 15):
        labels = cluster_speakers(embeddings, DiarizationOptions(min_speakers=minimum), 10.0)
        assert len(set(labels)) == 11
