"""Downloading media from a URL (YouTube and anything else yt-dlp understands, including direct
links to media files) into a file's directory. Runs in a background thread of the file service.

Only the best audio-only format is fetched when the site offers one (no FFmpeg binary is needed:
the engine decodes any container PyAV reads). Every failure becomes `ImportFailed` with one fixed
public message, whatever went wrong, so imports cannot be used to probe hosts or ports; yt-dlp's
own output never leaves this module.

Outbound traffic stays on the public internet: the URL's host is checked first, then yt-dlp runs
behind an `egress.EgressProxy` that checks every connection it makes (redirects included),
unless private addresses are allowed (`SCRIBERR_IMPORT_ALLOW_PRIVATE=true`). yt-dlp reads no
configuration, cookie, netrc or plugin files and keeps no cache.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from scriberr.services.egress import AddressPolicy, EgressProxy, Refused, check_url

logger = logging.getLogger("scriberr.importer")


PUBLIC_FAILURE = "Could not download media from the URL."


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


class YtDlpImporter:
    """`policy` decides which addresses imports may reach; None reaches any (allow private)."""

    def __init__(self, policy: AddressPolicy | None, socket_timeout_s: float = 30.0) -> None:
        self._policy = policy
        self._timeout = socket_timeout_s

    def download(self, url: str, directory: Path, *, max_bytes: int) -> Downloaded:
        if self._policy is None:
            return self._download(url, directory, max_bytes, proxy=None)
        try:
            check_url(url, self._policy)
        except Refused:
            logger.info("import refused: the URL's host is not a public address")
            raise ImportFailed(PUBLIC_FAILURE) from None
        with EgressProxy(self._policy) as proxy:
            return self._download(url, directory, max_bytes, proxy=proxy.url)

    def _download(
        self, url: str, directory: Path, max_bytes: int, *, proxy: str | None
    ) -> Downloaded:
        import yt_dlp  # imported lazily: it is large and only needed for imports
        from yt_dlp.globals import plugin_dirs

        plugin_dirs.value = []  # never load plugins from the user's directories

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
            "cookiefile": None,
            "cookiesfrombrowser": None,
            "usenetrc": False,
            "netrc_cmd": None,
            "proxy": proxy,
            "color": {"stdout": "never", "stderr": "never"},
            "overwrites": True,
        }
        try:
            with yt_dlp.YoutubeDL(options) as downloader:
                info = downloader.extract_info(url, download=True)
        except Exception as error:  # yt-dlp raises DownloadError and friends
            logger.info("import from URL failed: %s", type(error).__name__)
            raise ImportFailed(PUBLIC_FAILURE) from None
        if not isinstance(info, dict) or info.get("_type") == "playlist":
            raise ImportFailed(PUBLIC_FAILURE)
        files = [p for p in directory.iterdir() if p.is_file() and not p.name.endswith(".part")]
        if not files:
            raise ImportFailed(PUBLIC_FAILURE)
        path = max(files, key=lambda p: p.stat().st_size)
        if path.stat().st_size > max_bytes:
            raise ImportFailed(PUBLIC_FAILURE)
        title = info.get("title")
        return Downloaded(path=path, title=str(title) if title else None)
