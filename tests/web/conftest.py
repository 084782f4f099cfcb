"""Fixtures for the web app tests: the built app, Chromium (Debian's, driven by Playwright), and a
real `scriberr serve` subprocess with the real engine.

Where `/usr/bin/chromium` or the built app (`web/dist`, made by `scripts/install` with Node) is
missing, browser tests skip with one line; under CI (`CI=true`) they fail instead.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.servers import ScriberrProcess as Server
from tests.support.servers import start_serve

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


@pytest.fixture(scope="module")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    require_browser()
    server = start_serve(tmp_path_factory.mktemp("web") / "data")
    try:
        yield server
    finally:
        server.stop()
