"""Model management on real files: `models pull` from a loopback hub (progress, failures, cancel,
crash leftovers), `models import` of a copied directory (verified by loading it), `models remove`,
and a job that downloads its model on first use.

The hub is `fake_hub.serve_hub` on 127.0.0.1 serving the bundled whisper-tiny.en files; the code
under test is the real downloader (`HF_ENDPOINT` points it at the hub), the real engine process
that verifies the files, and the real CLI.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from scriberr.cli import main
from scriberr.engine.base import (
    CancelToken,
    JobCanceled,
    ModelInstallError,
    ModelUnavailableError,
    PreparedAudio,
    TranscriptionOptions,
)
from scriberr.engine.catalog import bundled_model_dir, find_entry, is_installed
from scriberr.engine.install import STAGING_PREFIX, HubSource, download_model, sweep_stale
from scriberr.engine.local import LocalProvider

from .conftest import JFK, make_provider
from .fake_hub import FakeHub, serve_hub

pytestmark = pytest.mark.engine

# whisper-base.en is English-only like the bundled tiny.en files the hub serves under its name.
MODEL = "whisper-base.en"
REPO = "Systran/faster-whisper-base.en"


def _tiny_dir() -> Path:
    directory = bundled_model_dir()
    assert directory is not None
    return directory


def _leftovers(cache_dir: Path) -> list[str]:
    return sorted(p.name for p in cache_dir.iterdir()) if cache_dir.exists() else []


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    with serve_hub({REPO: _tiny_dir()}) as served:
        yield served


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hub: FakeHub) -> Path:
    monkeypatch.setenv("SCRIBERR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SPEECH_ENGINE_PROVIDER", "cpu")
    monkeypatch.setenv("SPEECH_ENGINE_AUTO_DOWNLOAD", "false")
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    return tmp_path / "data" / "models"


def _installed(capsys: pytest.CaptureFixture[str]) -> dict[str, bool]:
    assert main(["models", "--json"]) == 0
    return {m["id"]: m["installed"] for m in json.loads(capsys.readouterr().out)}


@pytest.mark.slow
def test_pull_shows_progress_and_installs_a_working_model(
    cli_env: Path, hub: FakeHub, capsys: pytest.CaptureFixture[str]
) -> None:
    assert not _installed(capsys)[MODEL]
    assert main(["models", "pull", MODEL]) == 0
    captured = capsys.readouterr()
    assert f"{MODEL} installed" in captured.out
    lines = [line for line in captured.err.splitlines() if line.startswith(MODEL)]
    percents = [float(line.split()[1].rstrip("%")) for line in lines]
    assert len(percents) >= 3 and percents == sorted(percents)
    assert percents[0] < 50 and percents[-1] == 100.0
    total_mb = sum(p.stat().st_size for p in _tiny_dir().iterdir()) / 2**20
    assert f"/{total_mb:.1f} MB" in lines[-1]
    assert _installed(capsys)[MODEL]
    assert _leftovers(cli_env) == [MODEL]
    assert sorted(p.name for p in (cli_env / MODEL).iterdir()) == sorted(
        p.name for p in _tiny_dir().iterdir()
    )
    assert main(["models", "pull", MODEL]) == 0  # a second pull downloads nothing
    assert "already installed" in capsys.readouterr().out
    assert sum("/resolve/" in path for path in hub.requests) == 4

    assert main(["transcribe", str(JFK), "--model", MODEL, "--format", "json"]) == 0
    transcript = json.loads(capsys.readouterr().out)
    assert "ask not what your country" in transcript["text"].lower()
    assert transcript["engine"]["transcription_model"] == MODEL

    assert main(["models", "remove", MODEL]) == 0
    assert f"{MODEL} removed" in capsys.readouterr().out
    assert not _installed(capsys)[MODEL]
    assert _leftovers(cli_env) == []
    assert main(["models", "remove", MODEL]) == 1


def test_a_dropped_connection_leaves_nothing_behind(
    cli_env: Path, hub: FakeHub, capsys: pytest.CaptureFixture[str]
) -> None:
    hub.cut_after["model.bin"] = 3 * 2**20
    assert main(["models", "pull", MODEL]) == 1
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error == f"scriberr: could not download {MODEL}: the download was interrupted"
    assert _leftovers(cli_env) == []
    assert not _installed(capsys)[MODEL]


@pytest.mark.parametrize(
    ("endpoint", "reason"),
    [
        ("http://127.0.0.1:9", "the model hub could not be reached"),
        ("{hub}/missing", "the model hub answered HTTP 404"),
    ],
)
def test_hub_failures_are_one_clean_line(
    cli_env: Path,
    hub: FakeHub,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    endpoint: str,
    reason: str,
) -> None:
    monkeypatch.setenv("HF_ENDPOINT", endpoint.format(hub=hub.url))
    assert main(["models", "pull", MODEL]) == 1
    error = capsys.readouterr().err.strip()
    assert error == f"scriberr: could not download {MODEL}: {reason}"
    assert _leftovers(cli_env) == []


def test_unknown_and_bundled_models_are_refused(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["models", "pull", "whisper-huge"]) == 2
    assert main(["models", "pull", "whisper-tiny.en"]) == 0  # bundled: already installed
    assert main(["models", "pull", "diarization-default"]) == 0
    assert main(["models", "remove", "diarization-default"]) == 1
    assert main(["models", "remove", "whisper-tiny.en"]) == 1  # only the bundled copy exists
    captured = capsys.readouterr()
    assert captured.out.count("already installed") == 2
    assert captured.err.strip().splitlines() == [
        "scriberr: unknown model 'whisper-huge' (see `scriberr models`)",
        "scriberr: could not remove diarization-default: model 'diarization-default' is "
        "bundled with Scriberr and cannot be downloaded or removed",
        "scriberr: whisper-tiny.en is not in the model cache",
    ]


def test_progress_reports_and_cancel_mid_file(tmp_path: Path, hub: FakeHub) -> None:
    cache_dir = tmp_path / "cache"
    source = HubSource(hub.url)
    reports: list[tuple[int, int]] = []
    verified: list[Path] = []

    def verify(directory: Path) -> str:
        verified.append(directory)
        assert directory.parent == cache_dir and directory.name.startswith(STAGING_PREFIX)
        return "loaded"

    result = download_model(
        MODEL,
        REPO,
        cache_dir,
        source,
        verify=verify,
        progress=lambda p: reports.append((p.done_bytes, p.total_bytes)),
    )
    assert result == "loaded" and len(verified) == 1 and not verified[0].exists()
    total = sum(p.stat().st_size for p in _tiny_dir().iterdir())
    assert reports[0] == (0, total) and reports[-1] == (total, total)
    assert [done for done, _ in reports] == sorted(done for done, _ in reports)
    assert all(t == total for _, t in reports)
    assert _leftovers(cache_dir) == [MODEL]

    # Cancel while model.bin streams: the staging directory disappears, the install stays.
    shutil.rmtree(cache_dir / MODEL)
    cancel = CancelToken()

    def cancel_midway(report: object) -> None:
        if len(reports) > 5:
            cancel.cancel()
        reports.append((0, 0))

    reports.clear()
    with pytest.raises(JobCanceled):
        download_model(
            MODEL,
            REPO,
            cache_dir,
            source,
            verify=verify,
            progress=cancel_midway,
            check_cancel=cancel.raise_if_canceled,
        )
    assert _leftovers(cache_dir) == []


def test_verification_failure_leaves_the_previous_install(tmp_path: Path, hub: FakeHub) -> None:
    cache_dir = tmp_path / "cache"
    (cache_dir / MODEL).mkdir(parents=True)
    (cache_dir / MODEL / "config.json").write_text("{}")
    (cache_dir / MODEL / "model.bin").write_bytes(b"old")

    def refuse(_directory: Path) -> None:
        raise ModelInstallError("the model files could not be loaded")

    with pytest.raises(ModelInstallError):
        download_model(MODEL, REPO, cache_dir, HubSource(hub.url), verify=refuse)
    assert _leftovers(cache_dir) == [MODEL]
    assert (cache_dir / MODEL / "model.bin").read_bytes() == b"old"


def test_an_interrupted_install_is_swept_but_a_live_one_is_not(tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    dead = cache_dir / f"{STAGING_PREFIX}{MODEL}-dead"
    live = cache_dir / f"{STAGING_PREFIX}{MODEL}-live"
    for directory in (dead, live):
        directory.mkdir(parents=True)
        (directory / "model.bin").write_bytes(b"partial")
        old = time.time() - 3600
        os.utime(directory, (old, old))
    descriptor = os.open(live, os.O_RDONLY)
    fcntl.flock(descriptor, fcntl.LOCK_EX)  # a writer that is still running holds this
    try:
        assert sweep_stale(cache_dir) == 1
        assert _leftovers(cache_dir) == [live.name]
    finally:
        os.close(descriptor)
    assert sweep_stale(cache_dir) == 1 and _leftovers(cache_dir) == []


@pytest.mark.slow
def test_import_verifies_by_loading_and_replaces_only_on_success(
    cli_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copied = tmp_path / "copied"
    shutil.copytree(_tiny_dir(), copied)
    assert main(["models", "import", MODEL, str(copied)]) == 0
    assert f"{MODEL} installed" in capsys.readouterr().out
    assert _installed(capsys)[MODEL]

    broken = tmp_path / "broken"
    shutil.copytree(_tiny_dir(), broken)
    with (broken / "model.bin").open("r+b") as handle:
        handle.truncate(1024)
    incomplete = tmp_path / "incomplete"
    incomplete.mkdir()
    (incomplete / "config.json").write_text("{}")
    assert main(["models", "import", MODEL, str(broken)]) == 1
    assert main(["models", "import", MODEL, str(incomplete)]) == 1
    # Multilingual IDs refuse English-only files (and the other way round).
    assert main(["models", "import", "whisper-base", str(copied)]) == 1
    errors = capsys.readouterr().err.strip().splitlines()
    assert errors == [
        f"scriberr: could not import {MODEL}: the model files could not be loaded",
        f"scriberr: could not import {MODEL}: the directory is not a CTranslate2 Whisper model "
        "(missing model.bin, tokenizer.json)",
        "scriberr: could not import whisper-base: the files hold an English-only model, "
        "which this model ID is not",
    ]
    assert _leftovers(cli_env) == [MODEL]  # the good install is untouched
    assert (cli_env / MODEL / "model.bin").stat().st_size == (copied / "model.bin").stat().st_size


@pytest.mark.slow
def test_a_job_downloads_its_model_on_first_use(
    jfk_audio: PreparedAudio, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hub: FakeHub
) -> None:
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    cache_dir = tmp_path / "cache"
    downloading: LocalProvider = make_provider(cache_dir, auto_download=True)
    try:
        output = downloading.transcribe(
            jfk_audio, TranscriptionOptions(model=MODEL), lambda _f: None, CancelToken()
        )
        assert "ask not what your country" in output.text.lower()
        assert _leftovers(cache_dir) == [MODEL]
        entry = find_entry(MODEL)
        assert entry is not None and is_installed(entry, cache_dir)

        # A model whose files cannot be fetched fails the job with the reason and no path.
        hub.repos["Systran/faster-whisper-small.en"] = _tiny_dir()
        hub.cut_after["model.bin"] = 2**20
        with pytest.raises(ModelUnavailableError) as caught:
            downloading.transcribe(
                jfk_audio,
                TranscriptionOptions(model="whisper-small.en"),
                lambda _f: None,
                CancelToken(),
            )
        message = caught.value.public_message
        assert message == (
            "model 'whisper-small.en' is not installed and could not be downloaded: "
            "the download was interrupted"
        )
        assert _leftovers(cache_dir) == [MODEL]
    finally:
        downloading.close()
