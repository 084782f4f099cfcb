"""Real `scriberr serve` / `scriberr worker` processes for end-to-end tests and benchmarks.

`start_serve` starts the server on a free port (it logs `startup.listening` with its URL, so there
is no race for a port) and returns once `/health` answers; `start_process` starts any `scriberr`
subcommand. Logs go to a file next to the data dir, never to a pipe a quiet test could leave
full. `wrapper` runs the command under another one (e.g. `ip netns exec <ns>`) for tests that
put processes on separate simulated hosts.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class ProcessFailed(RuntimeError):
    """The process exited or never became ready; the message carries its log."""


def scriberr_env(data_dir: Path, **overrides: str) -> dict[str, str]:
    """The environment of a test process: the caller's, plus a private data dir, a free port,
    the CPU engine without downloads, fast queue polling and JSON logs."""
    return {
        **os.environ,
        "SCRIBERR_DATA_DIR": str(data_dir),
        "SCRIBERR_HOST": "127.0.0.1",
        "SCRIBERR_PORT": "0",
        "SPEECH_ENGINE_AUTO_DOWNLOAD": "false",
        "SPEECH_ENGINE_PROVIDER": "cpu",
        "TRANSCRIPTION_QUEUE_POLL_INTERVAL": "500ms",
        "SCRIBERR_LOG_LEVEL": "info",
        "SCRIBERR_LOG_FORMAT": "json",
        **overrides,
    }


@dataclass
class ScriberrProcess:
    process: subprocess.Popen[bytes]
    data_dir: Path
    log_path: Path
    base_url: str = ""

    @property
    def pid(self) -> int:
        return self.process.pid

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, then SIGKILL after `timeout` seconds; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(10)

    def kill(self) -> None:
        """SIGKILL (no cleanup at all), and reap it."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)


def start_process(
    data_dir: Path,
    command: str,
    *args: str,
    env: dict[str, str] | None = None,
    wrapper: Sequence[str] = (),
    log_name: str | None = None,
) -> ScriberrProcess:
    """Start `scriberr <command> <args>` with `env` (default `scriberr_env(data_dir)`)."""
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    log_path = data_dir.parent / (log_name or f"{command}-{data_dir.name}.log")
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [*wrapper, sys.executable, "-m", "scriberr.cli", command, *args],
            cwd=PROJECT_ROOT,
            env=env if env is not None else scriberr_env(data_dir),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return ScriberrProcess(process, data_dir, log_path)


def wait_listening(running: ScriberrProcess, timeout: float = 120) -> str:
    """The URL from the server's `startup.listening` log line, once uvicorn is bound."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in running.logs().splitlines():
            if '"startup.listening"' in line:
                return str(json.loads(line)["url"])
        if running.process.poll() is not None:
            raise ProcessFailed("scriberr serve exited early:\n" + running.logs())
        time.sleep(0.1)
    running.kill()
    raise ProcessFailed("scriberr serve never logged its address:\n" + running.logs())


def wait_healthy(base_url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(base_url + "/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise ProcessFailed(f"{base_url}/health never answered 200")


def start_serve(
    data_dir: Path,
    *args: str,
    env: dict[str, str] | None = None,
    wrapper: Sequence[str] = (),
    log_name: str | None = None,
    **overrides: str,
) -> ScriberrProcess:
    """`scriberr serve` on a free port, returned once `/health` answers. `overrides` are added
    to `scriberr_env(data_dir)` (ignored when a full `env` is given)."""
    full_env = env if env is not None else scriberr_env(data_dir, **overrides)
    running = start_process(
        data_dir, "serve", *args, env=full_env, wrapper=wrapper, log_name=log_name
    )
    try:
        running.base_url = wait_listening(running)
        wait_healthy(running.base_url)
    except BaseException:
        running.kill()
        raise
    return running
