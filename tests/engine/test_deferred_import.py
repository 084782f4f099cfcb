"""Deferred imports: senko's clustering module imports umap and hdbscan at its top, but only audio
over 20 minutes uses them, so the diarizer loads without importing them."""

from __future__ import annotations

import subprocess
import sys

import pytest

from scriberr.engine.local.diarization import _DeferredModule, _import_lazily


def test_an_import_statement_does_not_load_a_deferred_module_but_its_first_use_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delitem(sys.modules, "colorsys", raising=False)
    _import_lazily("colorsys")
    stub = sys.modules["colorsys"]
    assert isinstance(stub, _DeferredModule)

    import colorsys  # what senko's `import umap` does: it must not execute the module

    assert colorsys is stub and "_deferred_real" not in vars(stub)
    assert colorsys.rgb_to_hsv(1.0, 0.0, 0.0) == (0.0, 1.0, 1.0)  # first use imports it
    assert sys.modules["colorsys"] is not stub  # the real module took its place


@pytest.mark.slow
def test_the_diarizer_class_loads_without_umap_or_hdbscan() -> None:
    # a fresh interpreter: another test may have used UMAP in this one
    check = (
        "import sys\n"
        "from scriberr.engine.local.diarization import _diarizer_class\n"
        "_diarizer_class()\n"
        "import senko.cluster.cluster_cpu  # what the diarizer's constructor imports\n"
        "assert 'umap.umap_' not in sys.modules, 'umap was imported'\n"
        "assert 'hdbscan.hdbscan_' not in sys.modules, 'hdbscan was imported'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
