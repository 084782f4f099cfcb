"""A model hub on loopback speaking the two Hugging Face HTTP routes Scriberr's downloader uses
(`/api/models/<repo>/tree/main` and `/<repo>/resolve/main/<file>`), serving real model files.

Point the downloader at it with `HF_ENDPOINT=<hub.url>`. `cut_after` makes a file's response stop
after that many bytes (its Content-Length still announces the whole file), like a dropped
connection.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

_CHUNK = 256 * 1024


@dataclass
class FakeHub:
    repos: dict[str, Path]  # repository name → directory whose top-level files it serves
    url: str = ""
    cut_after: dict[str, int] = field(default_factory=dict)  # file name → bytes sent
    requests: list[str] = field(default_factory=list)


def _handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: object) -> None:
            return None

        def do_GET(self) -> None:
            hub.requests.append(self.path)
            for repo, directory in hub.repos.items():
                if self.path == f"/api/models/{repo}/tree/main":
                    return self._tree(directory)
                prefix = f"/{repo}/resolve/main/"
                if self.path.startswith(prefix):
                    return self._file(directory / self.path[len(prefix) :])
            self.send_error(404)

        def _tree(self, directory: Path) -> None:
            entries = [
                {"type": "file", "path": p.name, "size": p.stat().st_size}
                for p in sorted(directory.iterdir())
                if p.is_file()
            ]
            body = json.dumps([{"type": "directory", "path": "nested"}, *entries]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _file(self, path: Path) -> None:
            if not path.is_file():
                return self.send_error(404)
            data = path.read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            limit = hub.cut_after.get(path.name, len(data))
            try:
                for offset in range(0, limit, _CHUNK):
                    self.wfile.write(data[offset : min(offset + _CHUNK, limit)])
            except ConnectionError:  # the client gave up (a canceled download)
                self.close_connection = True
                return
            if limit < len(data):
                self.close_connection = True

    return Handler


@contextmanager
def serve_hub(repos: dict[str, Path]) -> Iterator[FakeHub]:
    hub = FakeHub(repos)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(hub))
    server.daemon_threads = True
    hub.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hub
    finally:
        server.shutdown()
        server.server_close()
