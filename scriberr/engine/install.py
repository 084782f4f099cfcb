"""Putting models into the cache and taking them out: download, import a copied directory, remove.

No speech library is imported here; verification (loading the model once) is a callback the
caller supplies, so it can run in an engine process. Every install is staged in a hidden directory
inside the cache (`.staging-<model>-<random>`), locked with `flock` while its writer lives,
verified, then renamed into place in one step. A failure, a cancel or Ctrl-C removes the staging
directory; a writer killed outright leaves one that the next install sweeps (its lock is free).
`is_installed` only ever sees a complete `<cache>/<model id>/`, never a staging directory.

`HubSource` reads the Hugging Face Hub over plain HTTPS (`HF_ENDPOINT` overrides the address, for
a mirror; `HF_TOKEN` is sent when set): the repository's file list from the `tree` API, then each
file streamed from its `resolve` URL in 1 MiB chunks, with a cancel check and a progress report
after every chunk. Any other `ModelSource` (a loopback test hub, a company mirror) plugs in.
Public messages never carry a path, URL or native output.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import http.client
import json
import logging
import os
import shutil
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol, TypeVar

from scriberr.engine.base import ModelInstallError

logger = logging.getLogger("scriberr.engine")

STAGING_PREFIX = ".staging-"
DEFAULT_ENDPOINT = "https://huggingface.co"
CHUNK_BYTES = 1024 * 1024
_STALE_AFTER_S = 10.0  # a lock-free staging directory younger than this may be just created
_DISK_MARGIN_BYTES = 64 * 1024 * 1024
# What faster-whisper needs from a CTranslate2 Whisper repository (its own download patterns).
_WANTED = ("model.bin", "config.json", "tokenizer.json", "preprocessor_config.json")
_WANTED_PREFIX = "vocabulary."
REQUIRED_FILES = ("model.bin", "config.json")

T = TypeVar("T")
CancelCheck = Callable[[], None]


@dataclass(frozen=True)
class RemoteFile:
    path: str
    size: int


@dataclass(frozen=True)
class DownloadProgress:
    model_id: str
    done_bytes: int
    total_bytes: int

    @property
    def fraction(self) -> float:
        return 1.0 if self.total_bytes <= 0 else min(1.0, self.done_bytes / self.total_bytes)


ProgressReport = Callable[[DownloadProgress], None]


class ModelSource(Protocol):
    """Where model files come from. Errors: `OSError` (unreachable) or `urllib.error.HTTPError`."""

    def list_files(self, repo: str) -> list[RemoteFile]: ...

    def open(self, repo: str, path: str) -> IO[bytes]: ...


class HubSource:
    """The Hugging Face Hub (or a mirror speaking its HTTP API)."""

    def __init__(self, endpoint: str = DEFAULT_ENDPOINT, token: str | None = None) -> None:
        self.endpoint = endpoint.rstrip("/")
        self._token = token
        self.timeout_s = 30.0

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> HubSource:
        endpoint = env.get("HF_ENDPOINT", "").strip() or DEFAULT_ENDPOINT
        return cls(endpoint, env.get("HF_TOKEN", "").strip() or None)

    def _request(self, url: str) -> urllib.request.Request:
        headers = {"User-Agent": "scriberr"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        return urllib.request.Request(url, headers=headers)

    def list_files(self, repo: str) -> list[RemoteFile]:
        url = f"{self.endpoint}/api/models/{urllib.parse.quote(repo)}/tree/main"
        with urllib.request.urlopen(self._request(url), timeout=self.timeout_s) as response:
            entries = json.loads(response.read())
        return [
            RemoteFile(str(entry["path"]), int(entry.get("size") or 0))
            for entry in entries
            if isinstance(entry, dict) and entry.get("type") == "file" and "path" in entry
        ]

    def open(self, repo: str, path: str) -> IO[bytes]:
        url = f"{self.endpoint}/{urllib.parse.quote(repo)}/resolve/main/{urllib.parse.quote(path)}"
        response: IO[bytes] = urllib.request.urlopen(self._request(url), timeout=self.timeout_s)
        return response


def staging_directories(cache_dir: Path) -> list[Path]:
    if not cache_dir.is_dir():
        return []
    return sorted(p for p in cache_dir.iterdir() if p.name.startswith(STAGING_PREFIX))


def sweep_stale(cache_dir: Path) -> int:
    """Remove staging directories whose writer is gone (its lock is free); returns how many."""
    removed = 0
    for directory in staging_directories(cache_dir):
        try:
            if time.time() - directory.stat().st_mtime < _STALE_AFTER_S:
                continue
            descriptor = os.open(directory, os.O_RDONLY)
        except OSError:
            continue
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # a live writer holds it
        else:
            shutil.rmtree(directory, ignore_errors=True)
            removed += 1
            logger.info("removed an interrupted model install (%s)", directory.name)
        finally:
            os.close(descriptor)
    return removed


@contextlib.contextmanager
def _staging(cache_dir: Path, model_id: str) -> Iterator[Path]:
    """A locked, empty directory inside the cache, removed on the way out whatever happens."""
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        sweep_stale(cache_dir)
        staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{model_id}-", dir=cache_dir))
    except OSError as error:
        logger.warning("cannot write to the model cache: %s", error)
        raise ModelInstallError("the model cache cannot be written") from None
    descriptor = os.open(staging, os.O_RDONLY)
    fcntl.flock(descriptor, fcntl.LOCK_EX)
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already once renamed into place
        os.close(descriptor)


def _place(staging: Path, final: Path) -> None:
    """Rename the verified staging directory to `final`, replacing an older install of it."""
    previous: Path | None = None
    if final.exists():
        previous = final.with_name(f"{STAGING_PREFIX}{final.name}-old-{os.getpid()}")
        os.rename(final, previous)
    try:
        os.rename(staging, final)
    except OSError:
        if previous is not None:
            os.rename(previous, final)
        raise
    if previous is not None:
        shutil.rmtree(previous, ignore_errors=True)


def _wanted(path: str) -> bool:
    return "/" not in path and (path in _WANTED or path.startswith(_WANTED_PREFIX))


def _free_bytes(directory: Path) -> int:
    return shutil.disk_usage(directory).free


def download_model(
    model_id: str,
    repo: str,
    cache_dir: Path,
    source: ModelSource,
    *,
    verify: Callable[[Path], T],
    progress: ProgressReport | None = None,
    check_cancel: CancelCheck | None = None,
) -> T:
    """Download `repo` into `<cache>/<model_id>/`; returns what `verify` returned for the files.

    Raises `ModelInstallError` (public reason), or whatever `check_cancel`/`verify` raise; in every
    failing case nothing is left in the cache.
    """
    report = progress or (lambda _p: None)
    check = check_cancel or (lambda: None)
    try:
        files = [entry for entry in source.list_files(repo) if _wanted(entry.path)]
    except urllib.error.HTTPError as error:
        logger.warning("listing %s for %s failed: HTTP %s", repo, model_id, error.code)
        raise ModelInstallError(f"the model hub answered HTTP {error.code}") from None
    except (OSError, ValueError, http.client.HTTPException) as error:
        logger.warning("listing %s for %s failed: %s", repo, model_id, error)
        raise ModelInstallError("the model hub could not be reached") from None
    names = {entry.path for entry in files}
    if not set(REQUIRED_FILES) <= names:
        raise ModelInstallError("the model hub has no complete CTranslate2 model for it")
    total = sum(entry.size for entry in files)
    with _staging(cache_dir, model_id) as staging:
        if _free_bytes(staging) < total + _DISK_MARGIN_BYTES:
            raise ModelInstallError(f"not enough free disk space (it needs {total // 2**20} MB)")
        done = 0
        report(DownloadProgress(model_id, 0, total))
        for entry in files:
            done = _fetch(source, repo, entry, staging, model_id, done, total, report, check)
        result = verify(staging)
        check()
        _place(staging, cache_dir / model_id)
    logger.info("installed model %s (%d bytes)", model_id, total)
    return result


def _fetch(
    source: ModelSource,
    repo: str,
    entry: RemoteFile,
    staging: Path,
    model_id: str,
    done: int,
    total: int,
    report: ProgressReport,
    check: CancelCheck,
) -> int:
    """Stream one file into the staging directory; returns the bytes done so far overall."""
    written = 0
    try:
        with source.open(repo, entry.path) as stream, (staging / entry.path).open("wb") as output:
            while True:
                check()
                chunk = stream.read(CHUNK_BYTES)
                if not chunk:
                    break
                output.write(chunk)
                written += len(chunk)
                report(DownloadProgress(model_id, done + written, max(total, done + written)))
    except urllib.error.HTTPError as error:
        logger.warning("downloading %s of %s failed: HTTP %s", entry.path, repo, error.code)
        raise ModelInstallError(f"the model hub answered HTTP {error.code}") from None
    except (OSError, http.client.HTTPException) as error:
        logger.warning("downloading %s of %s failed: %r", entry.path, repo, error)
        if isinstance(error, OSError) and error.errno == errno.ENOSPC:
            raise ModelInstallError("not enough free disk space") from None
        raise ModelInstallError("the download was interrupted") from None
    if entry.size and written != entry.size:
        logger.warning("%s of %s: %d of %d bytes", entry.path, repo, written, entry.size)
        raise ModelInstallError("the download was interrupted")
    return done + written


def missing_files(directory: Path) -> list[str]:
    """Required model files that `directory` lacks (a tokenizer or vocabulary is required too)."""
    missing = [name for name in REQUIRED_FILES if not (directory / name).is_file()]
    has_tokens = (directory / "tokenizer.json").is_file() or any(
        p.name.startswith(_WANTED_PREFIX) for p in directory.iterdir() if p.is_file()
    )
    if not has_tokens:
        missing.append("tokenizer.json")
    return missing


def import_model(
    model_id: str,
    directory: Path,
    cache_dir: Path,
    *,
    verify: Callable[[Path], T],
    check_cancel: CancelCheck | None = None,
) -> T:
    """Copy a CTranslate2 model directory into `<cache>/<model_id>/` after `verify` accepts it.

    An existing install of `model_id` is replaced only once the new files are verified.
    """
    check = check_cancel or (lambda: None)
    if not directory.is_dir():
        raise ModelInstallError("the given path is not a directory")
    missing = missing_files(directory)
    if missing:
        raise ModelInstallError(
            "the directory is not a CTranslate2 Whisper model (missing " + ", ".join(missing) + ")"
        )
    files = [p for p in sorted(directory.iterdir()) if p.is_file() and _wanted(p.name)]
    with _staging(cache_dir, model_id) as staging:
        needed = sum(p.stat().st_size for p in files)
        if _free_bytes(staging) < needed + _DISK_MARGIN_BYTES:
            raise ModelInstallError(f"not enough free disk space (it needs {needed // 2**20} MB)")
        for path in files:
            check()
            try:
                shutil.copyfile(path, staging / path.name)
            except OSError as error:
                logger.warning("copying %s failed: %s", path.name, error)
                raise ModelInstallError(f"{path.name} could not be copied") from None
        result = verify(staging)
        check()
        _place(staging, cache_dir / model_id)
    logger.info("imported model %s", model_id)
    return result


def remove_model(model_id: str, cache_dir: Path) -> bool:
    """Delete `<cache>/<model_id>/` (renamed aside first, so it vanishes at once); False if absent."""
    final = cache_dir / model_id
    if not final.is_dir():
        return False
    trash = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{model_id}-removed-", dir=cache_dir))
    os.rename(final, trash / model_id)
    shutil.rmtree(trash, ignore_errors=True)
    logger.info("removed model %s", model_id)
    return True
