"""Retention: files and jobs made through the OpenAI-compatible `/v1` routes are deleted once
they are older than `SCRIBERR_OPENAI_RETENTION` (0 keeps them). A daemon thread sweeps at a
fraction of the retention period (at most once a minute); every process that runs workers sweeps,
which is harmless because deletes are idempotent."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from scriberr.jobs import Origin
from scriberr.services.files import FileService

_log = logging.getLogger("scriberr.retention")
MAX_SWEEP_INTERVAL_S = 60.0
MIN_SWEEP_INTERVAL_S = 0.2


class RetentionSweeper:
    def __init__(self, files: FileService, retention_s: float, now: Callable[[], datetime]) -> None:
        self._files = files
        self._retention_s = retention_s
        self._now = now
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        return self._retention_s > 0

    @property
    def interval_s(self) -> float:
        return min(MAX_SWEEP_INTERVAL_S, max(MIN_SWEEP_INTERVAL_S, self._retention_s / 4))

    def sweep(self) -> int:
        """Delete what has expired now; returns how many files went."""
        if not self.enabled:
            return 0
        before = self._now() - timedelta(seconds=self._retention_s)
        deleted = self._files.delete_created_before(Origin.OPENAI, before)
        if deleted:
            _log.info("retention: deleted %d file(s) made through /v1", deleted)
        return deleted

    def start(self) -> None:
        if not self.enabled or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="retention", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.sweep()
            except Exception:  # a failed sweep is retried on the next tick
                _log.exception("retention sweep failed")
