"""Files: store probed uploads, import media from a URL with yt-dlp in the background, list /
read / rename / delete, and locate the stored bytes for audio streaming.

Uploads live at `<data>/uploads/<file id>/<safe name>`; `files.storage_path` is relative to the
data dir and never leaves this service except through `audio_source` (for the byte-range
streamer). Deleting a file first removes its transcriptions (an injected callable from the
transcription service, which cancels running jobs), then the row, then every stored byte.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import unicodedata
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, Protocol
from urllib.parse import urlsplit

from scriberr.clock import utcnow
from scriberr.engine.probe import MediaInfo, probe_media
from scriberr.events import EventBroker
from scriberr.ids import new_id
from scriberr.jobs import (
    ALL_ORIGINS,
    EventType,
    FileStatus,
    Origin,
    file_event_data,
    origins_from_filter,
)
from scriberr.layout import DataLayout
from scriberr.persistence.files_repository import FileQuery, FileRepository, FileRow
from scriberr.persistence.models import AudioFile
from scriberr.services.errors import (
    Conflict,
    InvalidRequest,
    NotFound,
    UnsupportedMediaType,
)
from scriberr.services.importer import PUBLIC_FAILURE, ImportFailed, MediaImporter
from scriberr.services.pagination import (
    Page,
    clamp_limit,
    decode_cursor,
    page_from_rows,
    parse_sort,
)
from scriberr.services.settings import SettingsService
from scriberr.services.titles import MAX_TITLE as _MAX_TITLE
from scriberr.services.titles import clean_title

logger = logging.getLogger("scriberr.files")

KINDS = ("audio", "video", "youtube")
STATUSES = tuple(status.value for status in FileStatus)
SORT_FIELDS = ("created_at", "updated_at", "title")
_MAX_NAME = 120
_UNSAFE_NAME_CHARS = re.compile(r"[^\w.\- ]+", re.UNICODE)


class StagedUpload(Protocol):
    """What the upload reader hands over (see `api.uploads.StagedFile`)."""

    path: Path
    filename: str
    size: int

    def discard(self) -> None: ...


FileCallback = Callable[[str, str], object]  # (user_id, file or transcription id)


@dataclass(frozen=True)
class FileView:
    id: str
    title: str
    kind: str
    status: str
    mime_type: str | None
    size_bytes: int | None
    duration_seconds: float | None
    error: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class AudioSource:
    """Where the bytes of a ready file are (internal; for the range streamer only)."""

    path: Path
    mime_type: str | None
    filename: str


def _view(row: AudioFile | FileRow) -> FileView:
    return FileView(
        id=row.id,
        title=row.title,
        kind=row.kind,
        status=row.status,
        mime_type=row.mime_type,
        size_bytes=row.size_bytes,
        duration_seconds=row.duration_seconds,
        error=row.error,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def parse_origin_filter(raw: str | None) -> tuple[Origin, ...] | None:
    """The `origin` filter of a listing (`library` by default, `openai`, or `all`)."""
    try:
        return origins_from_filter(raw)
    except ValueError:
        allowed = ", ".join([*Origin, ALL_ORIGINS])
        raise InvalidRequest(f"origin must be one of: {allowed}.", field="origin") from None


def base_name(client_name: str) -> str:
    """The last path component of a client-supplied name, whichever separator it uses, without
    control characters (they would break headers and terminals)."""
    name = "".join(ch for ch in client_name if unicodedata.category(ch)[0] != "C")
    name = PureWindowsPath(PurePosixPath(name).name).name
    return name.strip()


def safe_filename(client_name: str, fallback: str = "upload") -> str:
    """A file name safe to create inside the file's own directory: no separators, no `..`, no
    control characters, at most 120 characters (keeping the extension)."""
    name = unicodedata.normalize("NFKC", base_name(client_name))
    name = _UNSAFE_NAME_CHARS.sub("_", name).strip(" .")
    if not name or set(name) <= {"_", "."}:
        name = fallback
    if len(name) > _MAX_NAME:
        stem, dot, ext = name.rpartition(".")
        ext = ext[:16] if dot else ""
        name = (stem if dot else name)[: _MAX_NAME - len(ext) - 1].rstrip(" .") + (
            "." + ext if ext else ""
        )
    return name


def default_title(client_name: str) -> str:
    name = base_name(client_name)
    stem = name.rsplit(".", 1)[0] if "." in name.strip(".") else name
    cleaned = "".join(ch for ch in stem if unicodedata.category(ch)[0] != "C").strip()
    if not cleaned.strip(". "):
        return "Untitled"
    return cleaned[:_MAX_TITLE]


class FileService:
    def __init__(
        self,
        repository: FileRepository,
        settings: SettingsService,
        broker: EventBroker,
        data_dir: Path,
        *,
        probe: Callable[[Path], MediaInfo | None] = probe_media,
        importer: MediaImporter,
        delete_transcriptions: FileCallback | None = None,
        on_file_ready: FileCallback | None = None,
        import_workers: int = 2,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._repo = repository
        self._settings = settings
        self._broker = broker
        self._layout = DataLayout(data_dir)
        self._probe = probe
        self._importer: MediaImporter = importer
        self._delete_transcriptions = delete_transcriptions
        self._on_file_ready = on_file_ready
        self._executor = ThreadPoolExecutor(
            max_workers=import_workers, thread_name_prefix="scriberr-import"
        )
        self._now = clock

    # -- paths -----------------------------------------------------------------------------

    @property
    def uploads_dir(self) -> Path:
        return self._layout.uploads

    @property
    def staging_dir(self) -> Path:
        return self._layout.staging

    def upload_limit_bytes(self, user_id: str) -> int:
        return self._settings.max_upload_bytes(user_id)

    # -- create ----------------------------------------------------------------------------

    def create_from_upload(
        self,
        user_id: str,
        staged: StagedUpload,
        *,
        title: str | None = None,
        auto_transcribe: bool = False,
        origin: Origin = Origin.LIBRARY,
    ) -> FileView:
        """Probe and store a staged upload (the staged file is consumed either way).

        415 when the content is not audio/video with an audio track. With `auto_transcribe`,
        a user with auto transcription on gets a job started (`on_file_ready`)."""
        try:
            chosen_title = clean_title(title) or default_title(staged.filename)
            info = self._probe(staged.path)
            if info is None:
                raise UnsupportedMediaType(
                    "The file is not audio or video that can be transcribed.", field="file"
                )
        except BaseException:
            staged.discard()
            raise
        file_id = new_id("file")
        name = safe_filename(staged.filename, fallback="upload")
        directory = self._layout.upload_dir(file_id)
        try:
            directory.mkdir(parents=True, exist_ok=False)
            destination = directory / name
            os.replace(staged.path, destination)
            now = self._now()
            row = AudioFile(
                id=file_id,
                user_id=user_id,
                title=chosen_title,
                kind=info.kind,
                status=FileStatus.READY,
                mime_type=info.mime_type,
                size_bytes=destination.stat().st_size,
                duration_seconds=info.duration_seconds,
                original_filename=base_name(staged.filename)[:_MAX_TITLE] or None,
                storage_path=self._layout.relative(destination),
                source_url=None,
                error=None,
                origin=origin,
                created_at=now,
                updated_at=now,
            )
            self._repo.add(row)
        except BaseException:
            staged.discard()
            shutil.rmtree(directory, ignore_errors=True)
            raise
        view = _view(row)
        self._publish_ready(user_id, view)
        if auto_transcribe:
            self._auto_transcribe(user_id, file_id)
        return view

    def import_url(self, user_id: str, url: str, title: str | None = None) -> FileView:
        """Register a URL import (`status: processing`) and download it in the background."""
        url = url.strip()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidRequest("url must be an http(s) URL.", field="url")
        chosen_title = clean_title(title)
        file_id = new_id("file")
        now = self._now()
        row = AudioFile(
            id=file_id,
            user_id=user_id,
            title=chosen_title or parts.hostname,
            kind="youtube",
            status=FileStatus.PROCESSING,
            mime_type=None,
            size_bytes=None,
            duration_seconds=None,
            original_filename=None,
            storage_path=None,
            source_url=url,
            error=None,
            created_at=now,
            updated_at=now,
        )
        self._repo.add(row)
        limit = self.upload_limit_bytes(user_id)
        self._executor.submit(self._run_import, user_id, file_id, url, chosen_title is None, limit)
        return _view(row)

    def _run_import(
        self, user_id: str, file_id: str, url: str, take_title: bool, limit: int
    ) -> None:
        directory = self._layout.upload_dir(file_id)
        try:
            directory.mkdir(parents=True, exist_ok=True)
            result = self._importer.download(url, directory, max_bytes=limit)
            info = self._probe(result.path)
            if info is None:
                raise ImportFailed(PUBLIC_FAILURE)
            changes: dict[str, Any] = {
                "status": FileStatus.READY,
                "mime_type": info.mime_type,
                "size_bytes": result.path.stat().st_size,
                "duration_seconds": info.duration_seconds,
                "original_filename": result.path.name,
                "storage_path": self._layout.relative(result.path),
                "error": None,
            }
            if take_title and result.title:
                changes["title"] = clean_title(result.title[:_MAX_TITLE]) or "Untitled"
            row = self._repo.update(user_id, file_id, changes, self._now())
            if row is None:  # deleted while downloading
                shutil.rmtree(directory, ignore_errors=True)
                return
            self._publish_ready(user_id, _view(row))
            self._auto_transcribe(user_id, file_id)
        except Exception as error:
            message = PUBLIC_FAILURE
            if not isinstance(error, ImportFailed):
                logger.exception("import of %s failed", file_id)
            shutil.rmtree(directory, ignore_errors=True)
            failed = self._repo.update(
                user_id, file_id, {"status": FileStatus.FAILED, "error": message}, self._now()
            )
            if failed is not None:
                self._broker.publish(
                    EventType.FILE_FAILED,
                    user_id,
                    file_event_data(file_id, FileStatus.FAILED, error=message),
                )

    # -- read / update / delete ------------------------------------------------------------

    def get(self, user_id: str, file_id: str) -> FileView:
        row = self._repo.get(user_id, file_id)
        if row is None:
            raise NotFound("File not found.")
        return _view(row)

    def list(
        self,
        user_id: str,
        *,
        q: str | None = None,
        kind: str | None = None,
        status: str | None = None,
        sort: str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
        origin: str | None = None,
    ) -> Page[FileView]:
        if kind is not None and kind not in KINDS:
            raise InvalidRequest(f"kind must be one of: {', '.join(KINDS)}.", field="kind")
        if status is not None and status not in STATUSES:
            raise InvalidRequest(f"status must be one of: {', '.join(STATUSES)}.", field="status")
        spec = parse_sort(sort, SORT_FIELDS, "-created_at")
        after = decode_cursor(cursor, spec)
        size = clamp_limit(limit)
        rows = self._repo.list(
            FileQuery(
                user_id=user_id,
                limit=size,
                sort_field=spec.field,
                descending=spec.descending,
                after_value=after.value if after else None,
                after_id=after.id if after else None,
                q=(q or "").strip()[:200] or None,
                kind=kind,
                status=status,
                origins=parse_origin_filter(origin),
            )
        )
        items, next_cursor = page_from_rows(rows, size, spec)
        return Page(items=[_view(r) for r in items], next_cursor=next_cursor)

    def update(self, user_id: str, file_id: str, *, title: str | None = None) -> FileView:
        """Rename. Jobs of the file are never touched (a running one keeps running)."""
        changes: dict[str, Any] = {}
        if title is not None:
            cleaned = clean_title(title)
            if cleaned is None:
                raise InvalidRequest("title must not be empty.", field="title")
            changes["title"] = cleaned
        if not changes:
            return self.get(user_id, file_id)
        row = self._repo.update(user_id, file_id, changes, self._now())
        if row is None:
            raise NotFound("File not found.")
        return _view(row)

    def delete(self, user_id: str, file_id: str) -> None:
        """Remove the file's transcriptions (running jobs are canceled first), the row, and
        every stored byte."""
        if self._repo.get(user_id, file_id) is None:
            raise NotFound("File not found.")
        if self._delete_transcriptions is not None:
            self._delete_transcriptions(user_id, file_id)
        if not self._repo.delete(user_id, file_id):
            raise NotFound("File not found.")
        shutil.rmtree(self._layout.upload_dir(file_id), ignore_errors=True)

    def delete_all_for_user(self, user_id: str) -> None:
        """Delete every file of a user with its jobs and bytes (an admin deletes the account)."""
        for file_id in self._repo.ids_for_user(user_id):
            with contextlib.suppress(NotFound):  # deleted meanwhile
                self.delete(user_id, file_id)

    def delete_created_before(self, origin: Origin, before: datetime, batch: int = 100) -> int:
        """Delete every file of `origin` created before `before`, with its transcriptions and
        bytes (retention); returns how many went. A file deleted meanwhile is skipped."""
        deleted = 0
        while expired := self._repo.created_before(origin, before, batch):
            for user_id, file_id in expired:
                with contextlib.suppress(NotFound):
                    self.delete(user_id, file_id)
                    deleted += 1
            if len(expired) < batch or deleted == 0:
                break
        return deleted

    def audio_source(self, user_id: str, file_id: str) -> AudioSource:
        row = self._repo.get(user_id, file_id)
        if row is None:
            raise NotFound("File not found.")
        if row.status != FileStatus.READY or not row.storage_path:
            raise Conflict("The file is not ready yet.")
        path = self._layout.resolve(row.storage_path)
        return AudioSource(
            path=path,
            mime_type=row.mime_type,
            filename=row.original_filename or Path(row.storage_path).name,
        )

    def fail_interrupted_imports(self) -> int:
        """At startup: imports left `processing` by a stopped server can never finish; mark them
        failed (with `file.failed`) and remove their partial downloads. Call before serving."""
        message = "The import was interrupted by a server restart; import it again."
        interrupted = self._repo.fail_processing("youtube", message, self._now())
        for user_id, file_id in interrupted:
            shutil.rmtree(self._layout.upload_dir(file_id), ignore_errors=True)
            self._broker.publish(
                EventType.FILE_FAILED,
                user_id,
                file_event_data(file_id, FileStatus.FAILED, error=message),
            )
        return len(interrupted)

    def close(self) -> None:
        """Stop accepting imports; running downloads are abandoned (the next start marks them
        failed, see `fail_interrupted_imports`)."""
        self._executor.shutdown(wait=False, cancel_futures=True)

    # -- internals -------------------------------------------------------------------------

    def _publish_ready(self, user_id: str, view: FileView) -> None:
        with contextlib.suppress(Exception):
            self._broker.publish(
                EventType.FILE_READY,
                user_id,
                file_event_data(view.id, view.status, title=view.title, kind=view.kind),
            )

    def _auto_transcribe(self, user_id: str, file_id: str) -> None:
        if self._on_file_ready is None:
            return
        try:
            if self._settings.get(user_id).auto_transcription_enabled:
                self._on_file_ready(user_id, file_id)
        except Exception:
            logger.warning("auto transcription of %s could not start", file_id, exc_info=True)
