"""Model management behind `/api/v1/models/{id}:download` and `DELETE /api/v1/models/{id}`.

A download runs in a background thread (plain I/O; the engine verifies the files by loading them
once) and reports on the requesting user's global event stream: `model.download.progress`
(`{id, status: "downloading", progress, downloaded_bytes, total_bytes}`, at most one per percent),
then `model.download.completed` (`{id, status: "installed"}`) or `model.download.failed`
(`{id, status: "failed", error}`). One download per model at a time. `close()` cancels running
downloads; a canceled or failed download leaves nothing in the cache (see `engine.install`).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from scriberr.engine.base import CancelToken, EngineError, JobCanceled, ModelInstaller
from scriberr.engine.registry import ProviderRegistry
from scriberr.events import EventBroker
from scriberr.jobs import EventType
from scriberr.services.errors import Conflict, NotFound

logger = logging.getLogger("scriberr.models")

MODEL_DOWNLOAD_PROGRESS = EventType.MODEL_DOWNLOAD_PROGRESS
MODEL_DOWNLOAD_COMPLETED = EventType.MODEL_DOWNLOAD_COMPLETED
MODEL_DOWNLOAD_FAILED = EventType.MODEL_DOWNLOAD_FAILED
_CLOSE_WAIT_S = 5.0


@dataclass(frozen=True)
class DownloadStarted:
    id: str
    status: str = "downloading"


@dataclass
class _Download:
    thread: threading.Thread
    cancel: CancelToken


class ModelService:
    def __init__(self, registry: ProviderRegistry, broker: EventBroker) -> None:
        self._registry = registry
        self._broker = broker
        self._lock = threading.Lock()
        self._active: dict[str, _Download] = {}
        self._closed = False

    def downloading(self) -> list[str]:
        with self._lock:
            return sorted(self._active)

    def _installer(self, model_id: str) -> tuple[ModelInstaller, bool]:
        info = self._registry.model_info(model_id)
        if info is None:
            raise NotFound(f"Model '{model_id}' is not a known model.")
        installer = self._registry.installer_for(model_id)
        if installer is None:
            raise Conflict(f"Model '{model_id}' cannot be downloaded or removed.")
        return installer, info.installed

    def start_download(self, user_id: str, model_id: str) -> DownloadStarted:
        """Start fetching `model_id` into the cache; 404 unknown, 409 installed or in progress."""
        installer, installed = self._installer(model_id)
        if installed:
            raise Conflict(f"Model '{model_id}' is already installed.")
        cancel = CancelToken()
        with self._lock:
            if self._closed:
                raise Conflict("The server is shutting down.")
            if model_id in self._active:
                raise Conflict(f"Model '{model_id}' is already being downloaded.")
            thread = threading.Thread(
                target=self._run,
                args=(user_id, model_id, installer, cancel),
                name=f"model-download-{model_id}",
                daemon=True,
            )
            self._active[model_id] = _Download(thread, cancel)
        thread.start()
        return DownloadStarted(model_id)

    def _run(
        self, user_id: str, model_id: str, installer: ModelInstaller, cancel: CancelToken
    ) -> None:
        last = [-1]

        def progress(done: int, total: int) -> None:
            percent = 100 if total <= 0 else min(100, done * 100 // total)
            if percent == last[0]:
                return
            last[0] = percent
            self._broker.publish(
                MODEL_DOWNLOAD_PROGRESS,
                user_id,
                {
                    "id": model_id,
                    "status": "downloading",
                    "progress": round(percent / 100, 2),
                    "downloaded_bytes": done,
                    "total_bytes": total,
                },
            )

        try:
            installer.download_model(model_id, progress, cancel)
        except JobCanceled:
            self._failed(user_id, model_id, "the download was canceled")
        except EngineError as error:
            self._failed(user_id, model_id, error.public_message)
        except Exception:
            logger.exception("download of model %s failed", model_id)
            self._failed(user_id, model_id, "the download failed")
        else:
            self._broker.publish(
                MODEL_DOWNLOAD_COMPLETED, user_id, {"id": model_id, "status": "installed"}
            )
        finally:
            with self._lock:
                self._active.pop(model_id, None)

    def _failed(self, user_id: str, model_id: str, reason: str) -> None:
        logger.warning("download of model %s failed: %s", model_id, reason)
        self._broker.publish(
            MODEL_DOWNLOAD_FAILED, user_id, {"id": model_id, "status": "failed", "error": reason}
        )

    def remove(self, model_id: str) -> None:
        """Delete a downloaded or imported model; 404 when not in the cache, 409 when bundled or
        downloading."""
        installer, _installed = self._installer(model_id)
        with self._lock:
            if model_id in self._active:
                raise Conflict(f"Model '{model_id}' is being downloaded.")
        try:
            removed = installer.remove_model(model_id)
        except EngineError as error:
            raise Conflict(error.public_message[:1].upper() + error.public_message[1:]) from None
        if not removed:
            raise NotFound(f"Model '{model_id}' is not in the model cache.")

    def close(self) -> None:
        """Cancel running downloads and wait briefly for them to clean up."""
        with self._lock:
            self._closed = True
            downloads = list(self._active.values())
        for download in downloads:
            download.cancel.cancel()
        for download in downloads:
            download.thread.join(_CLOSE_WAIT_S)
