"""Where an attempt reads its job's audio: this process's data dir, or — on a remote worker
without shared storage — the server, over HTTP with a worker key.

`AudioSource.locate(job, scratch, cancel)`:
- the stored file in the data dir when it is there;
- else, with `RemoteAudio` (SCRIBERR_SERVER_URL + SCRIBERR_WORKER_KEY), a download into the
  attempt's scratch dir: streamed, resumed with `Range` after a broken transfer, and checked
  against the size stored with the file;
- the server saying the audio does not exist (404), or the data dir of the server itself
  (`authoritative`) not having it, is the job's problem: `EngineError`, the job fails;
- anything else (no server configured, key refused, server unreachable, size never matching) is
  this worker's problem: `AudioUnavailable`, whose one-line reason names no key and no path. The
  worker puts the job back and reports itself unhealthy until `check()` passes again.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Protocol

import httpx

from scriberr.engine.base import CancelToken, EngineError, JobCanceled
from scriberr.layout import DataLayout
from scriberr.logging_setup import log_event
from scriberr.persistence.queue_repository import ClaimedJob

MISSING = "the audio file of this job is missing"
KEY_CHECK_PATH = "/api/v1/worker/key-check"
CHUNK_BYTES = 256 * 1024

_log = logging.getLogger("scriberr.orchestrator")


class AudioUnavailable(Exception):
    """This process can neither read nor fetch a job's audio (not the job's fault)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AudioGone(EngineError):
    """The server has no audio for this job: the job cannot run anywhere."""

    code = "audio_missing"


def job_audio_path(transcription_id: str) -> str:
    return f"/api/v1/worker/transcriptions/{transcription_id}/audio"


class RemoteAudio:
    """Downloads job audio from the server with a worker key (never logged, never in errors)."""

    def __init__(
        self,
        server_url: str,
        worker_key: str,
        *,
        timeout_s: float = 30.0,
        attempts: int = 5,
        retry_delay_s: float = 0.5,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.server_url = server_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {worker_key}"}
        self._timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0))
        self._attempts = max(1, attempts)
        self._retry_delay_s = retry_delay_s
        self._transport = transport

    def _client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.server_url,
            headers=self._headers,
            timeout=self._timeout,
            transport=self._transport,
            follow_redirects=False,
            trust_env=False,
        )

    def check(self) -> str | None:
        """None when the server accepts the key; else why not, in one line."""
        try:
            with self._client() as client:
                response = client.get(KEY_CHECK_PATH)
        except httpx.HTTPError as error:
            return f"cannot reach the server at {self.server_url} ({type(error).__name__})"
        return self._refusal(response.status_code)

    def _refusal(self, status: int) -> str | None:
        if status in (200, 204):
            return None
        if status in (401, 403):
            return f"the server at {self.server_url} refused the worker key (HTTP {status})"
        return f"the server at {self.server_url} answered HTTP {status} to the worker key check"

    def fetch(
        self,
        transcription_id: str,
        destination: Path,
        expected_size: int | None,
        cancel: CancelToken,
    ) -> Path:
        """Download the job's audio to `destination`, resuming after broken transfers.
        Raises `AudioGone` (404), `AudioUnavailable`, or `JobCanceled`."""
        destination.parent.mkdir(parents=True, exist_ok=True)
        partial = destination.with_name(destination.name + ".part")
        partial.unlink(missing_ok=True)
        last_problem = "no attempt made"
        with self._client() as client:
            for attempt in range(self._attempts):
                if attempt:
                    time.sleep(self._retry_delay_s * attempt)
                if cancel.canceled:
                    raise JobCanceled()
                try:
                    total = self._transfer(client, transcription_id, partial, expected_size, cancel)
                except httpx.HTTPError as error:
                    last_problem = f"the transfer broke ({type(error).__name__})"
                    continue
                except _Retry as retry:
                    last_problem = str(retry)
                    continue
                size = partial.stat().st_size
                if size < total:
                    last_problem = f"the transfer ended early ({size} of {total} bytes)"
                    continue
                if size != total or (expected_size is not None and size != expected_size):
                    partial.unlink(missing_ok=True)
                    last_problem = (
                        f"the audio has {size} bytes, its stored size is "
                        f"{expected_size if expected_size is not None else total}"
                    )
                    continue
                os.replace(partial, destination)
                return destination
        partial.unlink(missing_ok=True)
        raise AudioUnavailable(
            f"cannot fetch job audio from {self.server_url}: {last_problem} "
            f"after {self._attempts} attempts"
        )

    def _transfer(
        self,
        client: httpx.Client,
        transcription_id: str,
        partial: Path,
        expected_size: int | None,
        cancel: CancelToken,
    ) -> int:
        """One request, appending to `partial` from where it stops; returns the full size."""
        offset = partial.stat().st_size if partial.exists() else 0
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        with client.stream("GET", job_audio_path(transcription_id), headers=headers) as response:
            status = response.status_code
            if status == 404:
                raise AudioGone(MISSING)
            if status in (401, 403):
                raise AudioUnavailable(str(self._refusal(status)))
            if status == 416:  # the part is longer than the file: start over
                partial.unlink(missing_ok=True)
                raise _Retry("the server's audio is shorter than the part already fetched")
            if status == 200:
                offset = 0
                total = _int_header(response, "content-length")
            elif status == 206:
                start, total = _content_range(response.headers.get("content-range", ""))
                if start != offset:
                    partial.unlink(missing_ok=True)
                    raise _Retry("the server resumed at the wrong offset")
            else:
                raise _Retry(f"the server answered HTTP {status}")
            if expected_size is not None and total != expected_size:
                raise _Retry(
                    f"the server's audio has {total} bytes, its stored size is {expected_size}"
                )
            with partial.open("r+b" if offset else "wb") as out:
                out.seek(offset)
                out.truncate()
                for chunk in response.iter_bytes(CHUNK_BYTES):
                    if cancel.canceled:
                        raise JobCanceled()
                    out.write(chunk)
        return total


class _Retry(Exception):
    """This attempt failed in a way another attempt may not."""


def _int_header(response: httpx.Response, name: str) -> int:
    try:
        return int(response.headers[name])
    except (KeyError, ValueError):
        raise _Retry(f"the server sent no valid {name}") from None


def _content_range(header: str) -> tuple[int, int]:
    """(first byte, full size) of `bytes a-b/size`."""
    unit, _, spec = header.partition(" ")
    span, _, size = spec.partition("/")
    first, _, _ = span.partition("-")
    try:
        if unit != "bytes":
            raise ValueError(header)
        return int(first), int(size)
    except ValueError:
        raise _Retry("the server sent no valid Content-Range") from None


class RemoteFetcher(Protocol):
    server_url: str

    def check(self) -> str | None: ...

    def fetch(
        self,
        transcription_id: str,
        destination: Path,
        expected_size: int | None,
        cancel: CancelToken,
    ) -> Path: ...


class AudioSource:
    """Finds (or fetches) a job's audio for an attempt; see the module docstring."""

    def __init__(
        self,
        layout: DataLayout,
        *,
        remote: RemoteFetcher | None = None,
        authoritative: bool = True,
        stored_size: Callable[[str], int | None] = lambda _id: None,
    ) -> None:
        self._layout = layout
        self._remote = remote
        self._authoritative = authoritative
        self._stored_size = stored_size

    def locate(self, job: ClaimedJob, scratch: Path, cancel: CancelToken) -> Path:
        if not job.source_path:
            raise EngineError("the job has no audio file")
        local = self._local(job.source_path)
        if local is not None:
            return local
        if self._remote is None:
            if self._authoritative:
                raise EngineError(MISSING)
            raise AudioUnavailable(
                "job audio is not in this worker's data dir and SCRIBERR_SERVER_URL is not set"
            )
        suffix = PurePosixPath(job.source_path).suffix[:16]
        started = time.monotonic()
        fetched = self._remote.fetch(
            job.id, scratch / f"source{suffix}", self._stored_size(job.id), cancel
        )
        log_event(
            _log,
            "audio.fetched",
            transcription_id=job.id,
            bytes=fetched.stat().st_size,
            seconds=round(time.monotonic() - started, 3),
        )
        return fetched

    def check(self) -> str | None:
        """None when this process can read or fetch audio now; else why not (one line)."""
        if self._remote is not None:
            return self._remote.check()
        if os.access(self._layout.uploads, os.R_OK | os.X_OK):
            return None
        return "the data dir has no readable uploads folder and SCRIBERR_SERVER_URL is not set"

    def _local(self, stored: str) -> Path | None:
        try:
            path = self._layout.resolve(stored)
        except ValueError:
            return None
        return path if path.is_file() and os.access(path, os.R_OK) else None
