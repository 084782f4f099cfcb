"""Fixtures for the web app tests: the built app, Chromium (Debian's, driven by Playwright), and a
real `scriberr serve` subprocess with the real engine.

Where `/usr/bin/chromium` or the built app (`web/dist`, made by `scripts/install` with Node) is
missing, browser tests skip with one line; under CI (`CI=true`) they fail instead.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
WEB_DIR = PROJECT_ROOT / "web"
WEB_DIST = WEB_DIR / "dist"
CHROMIUM = Path("/usr/bin/chromium")
FIXTURES = (PROJECT_ROOT / ".." / "shared" / "fixtures" / "audio").resolve()
JFK = FIXTURES / "jfk.flac"
SAMPLE = FIXTURES / "sample.wav"
SCREENSHOTS = PROJECT_ROOT / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def require(condition: bool, reason: str) -> None:
    """Skip with `reason` when `condition` is false; under CI, fail instead."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"{reason} (required when CI=true)")
    pytest.skip(reason)


def require_browser() -> None:
    require(CHROMIUM.is_file(), f"Chromium not found at {CHROMIUM}: apt-get install -y chromium")
    require(
        (WEB_DIST / "index.html").is_file(),
        "web app not built: run scripts/install (needs Node.js 20+ and npm)",
    )


def require_node() -> None:
    require(shutil.which("npm") is not None, "npm not found: install Node.js 20+ and npm")
    require(
        (WEB_DIR / "node_modules").is_dir(),
        "web/node_modules missing: run scripts/install (npm ci)",
    )


@dataclass
class Server:
    base_url: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    extra: dict[str, Any] = field(default_factory=dict)


def _listening_url(process: subprocess.Popen[bytes], log_path: Path) -> str:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for line in log_path.read_text(errors="replace").splitlines():
            if '"startup.listening"' in line:
                return str(json.loads(line)["url"])
        if process.poll() is not None:
            pytest.fail("scriberr serve exited early:\n" + log_path.read_text(errors="replace"))
        time.sleep(0.1)
    process.kill()
    pytest.fail("scriberr serve never logged its address")


def start_server(data_dir: Path, **env_overrides: str) -> Server:
    env = {
        **os.environ,
        "SCRIBERR_DATA_DIR": str(data_dir),
        "SCRIBERR_HOST": "127.0.0.1",
        "SCRIBERR_PORT": "0",
        "SPEECH_ENGINE_AUTO_DOWNLOAD": "false",
        "SPEECH_ENGINE_PROVIDER": "cpu",
        "TRANSCRIPTION_QUEUE_POLL_INTERVAL": "500ms",
        "SCRIBERR_LOG_LEVEL": "info",
        "SCRIBERR_LOG_FORMAT": "json",
        **env_overrides,
    }
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir.parent / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "scriberr.cli", "serve"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base_url = _listening_url(process, log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(base_url + "/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        stop_server(process)
        pytest.fail("scriberr serve did not answer /health")
    return Server(base_url, data_dir, process)


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


@pytest.fixture(scope="module")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    require_browser()
    server = start_server(tmp_path_factory.mktemp("web") / "data")
    try:
        yield server
    finally:
        stop_server(server.process)
