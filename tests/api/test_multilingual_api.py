"""Multilingual through the HTTP API on the real engine: the whisper-base model (installed with
`scriberr models import` from the test-only packages) detects German and translates it to English
(`task=translate`)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.multilingual import GERMAN, WHISPER_BASE, real_registry, speak

from .conftest import Account

pytestmark = [pytest.mark.engine, pytest.mark.slow]


@pytest.fixture
def core(make_core: Callable[..., Any], whisper_base_cache: Path) -> Any:
    return make_core(providers=real_registry(whisper_base_cache))


def _submit(client: Any, user: Account, clip: Path, options: dict[str, Any]) -> dict[str, Any]:
    response = client.post(
        "/api/v1/transcriptions:submit",
        files={"file": (clip.name, clip.read_bytes(), "audio/wav")},
        data={"options": json.dumps(options)},
        headers=user.headers,
    )
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/transcriptions/{job_id}", headers=user.headers).json()
        if job["status"] in ("completed", "failed", "canceled"):
            assert job["status"] == "completed", job
            transcript = client.get(
                f"/api/v1/transcriptions/{job_id}/transcript", headers=user.headers
            )
            return dict(transcript.json())
        time.sleep(0.2)
    pytest.fail("the job did not finish")


def test_german_is_detected_and_translated_to_english(
    client: Any, user: Account, tmp_path: Path
) -> None:
    clip = speak(GERMAN.text, GERMAN.voice, tmp_path / "german.wav")
    detected = _submit(client, user, clip, {"model": WHISPER_BASE, "language": "auto"})
    assert detected["language"] == "de"
    assert "berlin" in detected["text"].lower() and "zeit" in detected["text"].lower()

    translated = _submit(client, user, clip, {"model": WHISPER_BASE, "task": "translate"})
    text = translated["text"].lower()
    assert all(word in text for word in GERMAN.english_words), text
    assert "zeit" not in text
