"""The files a job writes: its scratch dir and the atomically written transcript file."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path


def write_atomic(path: Path, content: str, *, durable: bool = False) -> None:
    """Write `content` to `path` so readers see either no file or the whole new one: temp file
    in the same directory, then rename (atomic on POSIX). `durable=True` also fsyncs the file
    before the rename (costs milliseconds per job on a busy disk). The orchestrator leaves it off:
    the job row holds the same transcript and is the source of truth, and SQLite in WAL mode with
    synchronous=NORMAL gives the same guarantee as the unsynced file — a process crash loses
    nothing, a power cut may lose the newest completions (the job is then run again)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=".transcript-", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(content)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def remove_transcript(path: Path) -> None:
    """Remove a transcript file and its directory if that is now empty."""
    path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        path.parent.rmdir()


def remove_tree(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)


def make_attempt_dir(directory: Path, attempts: int = 5) -> None:
    """Create an attempt's scratch folder (and its job folder). Another attempt of the same job
    may remove the job folder the moment it is empty (`remove_attempt_dir`), between the two
    `mkdir`s; then try again."""
    for _ in range(attempts - 1):
        try:
            directory.mkdir(parents=True, exist_ok=True)
            return
        except FileNotFoundError:
            continue
    directory.mkdir(parents=True, exist_ok=True)


def remove_attempt_dir(directory: Path) -> None:
    """Remove an attempt's scratch folder, then its job folder if no other attempt has one
    there (`rmdir` only removes an empty folder: another attempt's files are never touched)."""
    remove_tree(directory)
    with contextlib.suppress(OSError):
        directory.parent.rmdir()
