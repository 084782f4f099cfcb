"""Downloading media from a URL (YouTube and anything else yt-dlp understands, including direct
links to media files) into a file's directory. Runs in a background thread of the file service.

Only the best audio-only format is fetched when the site offers one (no FFmpeg binary is needed:
the engine decodes any container PyAV reads). Failures become `ImportFailed` with a clean public
message; yt-dlp's own output never leaves this module.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

logger = logging.getLogger("scriberr.importer")


class ImportFailed(Exception):
    def __init__(self, public_message: str) -> None:
        super().__init__(public_message)
        self.public_message = public_message


@dataclass(frozen=True)
class Downloaded:
    path: Path
    title: str | None


class MediaImporter(Protocol):
    def download(self, url: str, directory: Path, *, max_bytes: int) -> Downloaded: ...


class _QuietLogger:
    """Route yt-dlp's messages to our internal log only."""

    def debug(self, message: str) -> None:
        logger.debug("yt-dlp: %s", message)

    def info(self, message: str) -> None:
        logger.debug("yt-dlp: %s", message)

    def warning(self, message: str) -> None:
        logger.info("yt-dlp warning: %s", message)

    def error(self, message: str) -> None:
        logger.info("yt-dlp error: %s", message)


def _public_message(raw: str) -> str:
    lowered = raw.lower()
    if "unsupported url" in lowered:
        return "The URL is not supported."
    if "larger than max-filesize" in lowered or "file is larger" in lowered:
        return "The media is larger than the upload limit."
    if "private video" in lowered or "sign in" in lowered or "members-only" in lowered:
        return "The media is not publicly available."
    if "video unavailable" in lowered or "http error 404" in lowered:
        return "The media was not found."
    return "Could not download media from the URL."


class YtDlpImporter:
    def __init__(self, socket_timeout_s: float = 30.0) -> None:
        self._timeout = socket_timeout_s

    def download(self, url: str, directory: Path, *, max_bytes: int) -> Downloaded:
        import yt_dlp  # imported lazily: it is large and only needed for imports

        options: dict[str, Any] = {
            "format": "bestaudio/best",
            "outtmpl": {"default": str(directory / "source.%(ext)s")},
            "noplaylist": True,
            "quiet": True,
            "no_warnings": True,
            "noprogress": True,
            "logger": _QuietLogger(),
            "max_filesize": max_bytes,
            "socket_timeout": self._timeout,
            "retries": 1,
            "fragment_retries": 1,
            "restrictfilenames": True,
            "cachedir": False,
            "color": {"stdout": "never", "stderr": "never"},
            "overwrites": True,
        }
        try:
            with yt_dlp.YoutubeDL(options) as downloader:
                info = downloader.extract_info(url, download=True)
        except Exception as error:  # yt-dlp raises DownloadError and friends
            logger.info("import from URL failed: %s", type(error).__name__)
            raise ImportFailed(_public_message(str(error))) from None
        if not isinstance(info, dict):
            raise ImportFailed("Could not download media from the URL.")
        if info.get("_type") == "playlist":
            raise ImportFailed("Playlists are not supported; import a single video.")
        files = [p for p in directory.iterdir() if p.is_file() and not p.name.endswith(".part")]
        if not files:
            raise ImportFailed("Could not download media from the URL.")
        path = max(files, key=lambda p: p.stat().st_size)
        if path.stat().st_size > max_bytes:
            raise ImportFailed("The media is larger than the upload limit.")
        title = info.get("title")
        return Downloaded(path=path, title=str(title) if title else None)
