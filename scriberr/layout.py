"""The one module that knows the layout of the data directory (`SCRIBERR_DATA_DIR`).

    scriberr.db                  SQLite database (default `SCRIBERR_DATABASE_URL`)
    secret_key                   generated signing key (when `SCRIBERR_SECRET_KEY` is unset)
    uploads/<file id>/<name>     uploaded or imported media (`files.storage_path`)
    uploads/.staging/            request bodies being received
    jobs/<transcription id>/<execution id>/   one attempt's scratch (fetched and normalised
                                 audio), removed when the attempt ends; each attempt only ever
                                 touches its own folder, so a stale attempt that was cut off from
                                 the database cannot delete the files of the attempt that
                                 replaced it. `jobs/<transcription id>/` is removed once empty.
    transcripts/<transcription id>/transcript.json   the canonical transcript, written atomically
    models/                      model cache (default `SPEECH_ENGINE_CACHE_DIR`)

Paths stored in the database are relative to the data directory (`relative`), so a data
directory can move; `resolve` turns one back into a path and refuses one that would leave it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath


@dataclass(frozen=True)
class DataLayout:
    root: Path

    @property
    def database_file(self) -> Path:
        return self.root / "scriberr.db"

    @property
    def secret_key_file(self) -> Path:
        return self.root / "secret_key"

    @property
    def uploads(self) -> Path:
        return self.root / "uploads"

    @property
    def staging(self) -> Path:
        return self.uploads / ".staging"

    @property
    def jobs(self) -> Path:
        return self.root / "jobs"

    @property
    def transcripts(self) -> Path:
        return self.root / "transcripts"

    @property
    def models(self) -> Path:
        return self.root / "models"

    def upload_dir(self, file_id: str) -> Path:
        return self.uploads / file_id

    def job_dir(self, transcription_id: str) -> Path:
        return self.jobs / transcription_id

    def attempt_dir(self, transcription_id: str, execution_id: str) -> Path:
        """The scratch folder of one attempt (execution) of a job."""
        for part in (transcription_id, execution_id):
            if not part or part in (".", "..") or "/" in part or "\\" in part:
                raise ValueError("job and execution ids are single path components")
        return self.job_dir(transcription_id) / execution_id

    def transcript_dir(self, transcription_id: str) -> Path:
        return self.transcripts / transcription_id

    def transcript_file(self, transcription_id: str) -> Path:
        return self.transcript_dir(transcription_id) / "transcript.json"

    def job_files(self, transcription_id: str) -> tuple[Path, ...]:
        """Every directory holding bytes of one transcription (removed when it is deleted); the
        job dir holds the scratch folders of all its attempts."""
        return (self.transcript_dir(transcription_id), self.job_dir(transcription_id))

    def relative(self, path: Path) -> str:
        """The stored form of a path inside the data directory (POSIX, relative)."""
        return PurePosixPath(path.relative_to(self.root)).as_posix()

    def resolve(self, stored: str) -> Path:
        """The path of a stored relative path; ValueError for one that leaves the directory."""
        relative = PurePosixPath(stored)
        if relative.is_absolute() or ".." in relative.parts:
            raise ValueError("stored paths are relative to the data directory")
        return self.root.joinpath(*relative.parts)

    def create(self) -> None:
        """Create the directories a server needs before it starts."""
        for directory in (self.root, self.jobs, self.transcripts):
            directory.mkdir(parents=True, exist_ok=True)
