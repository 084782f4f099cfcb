"""The outside review's findings, replayed against a real `scriberr serve` process (fake engine,
loopback only): throttle normalisation, body floods, login timing, control-character names,
tampered cursors and ranges, URL import of internal addresses, security headers, permissions,
and sessions that end at once (including an open event stream)."""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import statistics
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support.servers import start_serve

from .conftest import SAMPLE

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PASSWORD = "correct horse battery staple"
RSS_BOUND_MB = 32


@dataclass
class Server:
    base_url: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    admin: dict[str, str]

    @property
    def port(self) -> int:
        return int(urlsplit(self.base_url).port or 0)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=30)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("security") / "data"  # the server creates it
    running = start_serve(
        data_dir,
        "--fake-engine",
        TRANSCRIPTION_QUEUE_POLL_INTERVAL="200ms",
        SCRIBERR_FORWARDED_ALLOW_IPS="127.0.0.1",
        SCRIBERR_UPLOAD_STALL_TIMEOUT="2s",
    )
    base_url, process = running.base_url, running.process
    try:
        with httpx.Client(base_url=base_url, timeout=30) as http:
            registered = http.post(
                "/api/v1/auth/register",
                json={"username": "admin", "password": PASSWORD, "confirm_password": PASSWORD},
            )
            assert registered.status_code == 201, registered.text
        token = registered.json()["access_token"]
        yield Server(base_url, data_dir, process, {"Authorization": f"Bearer {token}"})
    finally:
        running.stop()


def make_user(server: Server, name: str) -> dict[str, str]:
    """A member created by the admin, signed in; returns its auth headers."""
    with server.client() as http:
        created = http.post(
            "/api/v1/admin/users",
            json={"username": name, "password": PASSWORD},
            headers=server.admin,
        )
        assert created.status_code == 201, created.text
        tokens = http.post("/api/v1/auth/login", json={"username": name, "password": PASSWORD})
        assert tokens.status_code == 200, tokens.text
    return {"Authorization": f"Bearer {tokens.json()['access_token']}"}


class PeakRss:
    """Samples a process's RSS in the background; `growth_mb` is peak minus the start."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.before = rss_mb(pid)
        self.peak = self.before
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            time.sleep(0.01)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._done.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb(self.pid))

    @property
    def growth_mb(self) -> float:
        return self.peak - self.before


def flood(port: int, head: bytes, chunks: Callable[[], Iterator[bytes]]) -> int:
    """Send `head`, then body chunks until the server answers; the answer's status code."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head)
        response = b""
        try:
            for chunk in chunks():
                sock.sendall(chunk)
                sock.settimeout(0)
                with contextlib.suppress(BlockingIOError):
                    response += sock.recv(65536)
                sock.settimeout(30)
                if response:
                    break
        except (BrokenPipeError, ConnectionResetError):
            pass
        sock.settimeout(30)
        try:
            while b"\r\n" not in response:
                data = sock.recv(65536)
                if not data:
                    break
                response += data
        except ConnectionResetError:
            pass
    assert response.startswith(b"HTTP/1.1 "), response[:200]
    return int(response.split(b" ", 2)[1])


def test_padded_tabbed_and_cased_usernames_share_one_throttle(server: Server) -> None:
    make_user(server, "carol")
    variants = ["carol", "  carol", "\tcarol", "CAROL", "Carol \t"]
    with server.client() as http:
        for number, name in enumerate(variants):
            failed = http.post(
                "/api/v1/auth/login",
                json={"username": name, "password": "wrong password"},
                headers={"X-Forwarded-For": f"203.0.113.{number + 1}"},  # spread over "clients"
            )
            assert failed.status_code == 401, (name, failed.text)
        locked = http.post(
            "/api/v1/auth/login",
            json={"username": "carol", "password": PASSWORD},
            headers={"X-Forwarded-For": "203.0.113.99"},
        )
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) > 0


def test_a_200_mb_json_login_body_is_refused_with_flat_memory(server: Server) -> None:
    size = 200 * 1024 * 1024
    block = b"a" * (1024 * 1024)

    def body() -> Iterator[bytes]:
        yield b'{"username": "'
        for _ in range(200):
            yield block

    declared = (
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: scriberr\r\n"
        f"Content-Type: application/json\r\nContent-Length: {size}\r\n\r\n"
    ).encode()
    chunked_head = (
        b"POST /api/v1/auth/login HTTP/1.1\r\nHost: scriberr\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )

    def chunked() -> Iterator[bytes]:
        for piece in body():
            yield f"{len(piece):x}\r\n".encode() + piece + b"\r\n"

    with PeakRss(server.process.pid) as memory:
        assert flood(server.port, declared, body) == 413
        assert flood(server.port, chunked_head, chunked) == 413
    assert memory.growth_mb < RSS_BOUND_MB, memory.growth_mb
    with server.client() as http:
        assert http.get("/api/v1/health").status_code == 200


def test_500_repeated_1_mb_form_fields_are_refused_with_flat_memory(server: Server) -> None:
    boundary = "scriberrflood"
    field = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\n'.encode()
        + b"t" * (1024 * 1024)
        + b"\r\n"
    )
    size = len(field) * 500 + len(f"--{boundary}--\r\n")
    token = server.admin["Authorization"]
    head = (
        f"POST /api/v1/files HTTP/1.1\r\nHost: scriberr\r\nAuthorization: {token}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {size}\r\n\r\n"
    ).encode()

    def fields() -> Iterator[bytes]:
        for _ in range(500):
            yield field

    with PeakRss(server.process.pid) as memory:
        assert flood(server.port, head, fields) == 413
    assert memory.growth_mb < RSS_BOUND_MB, memory.growth_mb
    staging = server.data_dir / "uploads" / ".staging"
    assert not staging.exists() or not any(staging.iterdir())


def test_a_stalled_upload_times_out_and_leaves_nothing(server: Server) -> None:
    boundary = "stall"
    token = server.admin["Authorization"]
    part = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n'
        f"Content-Type: audio/wav\r\n\r\n"
    ).encode() + SAMPLE.read_bytes()[:200_000]
    head = (
        f"POST /api/v1/files HTTP/1.1\r\nHost: scriberr\r\nAuthorization: {token}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {len(part) + 1_000_000}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(head + part)  # ...and then nothing more
        response = sock.recv(65536)
    assert response.startswith(b"HTTP/1.1 408"), response[:200]
    staging = server.data_dir / "uploads" / ".staging"
    assert not staging.exists() or not any(staging.iterdir())
    # A stalled JSON body gets the same answer.
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(
            b"POST /api/v1/auth/login HTTP/1.1\r\nHost: scriberr\r\n"
            b'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"user'
        )
        response = b""
        while b"REQUEST_TIMEOUT" not in response and (data := sock.recv(65536)):
            response += data
    assert response.startswith(b"HTTP/1.1 408"), response[:200]
    assert b"REQUEST_TIMEOUT" in response


def test_unknown_and_known_usernames_fail_in_the_same_time(server: Server) -> None:
    known = [f"timing{n}" for n in range(4)]
    for name in known:
        make_user(server, name)

    def attempt(http: httpx.Client, name: str, number: int) -> float:
        started = time.perf_counter()
        response = http.post(
            "/api/v1/auth/login",
            json={"username": name, "password": "not the password"},
            headers={"X-Forwarded-For": f"198.51.100.{number}"},
        )
        elapsed = time.perf_counter() - started
        assert response.status_code == 401, response.text
        return elapsed

    known_times, unknown_times = [], []
    with server.client() as http:
        for number in range(20):  # interleaved, so load on the machine hits both alike
            known_times.append(attempt(http, known[number % 4], number + 1))
            unknown_times.append(attempt(http, f"ghost{number}", number + 101))
    ratio = statistics.median(unknown_times) / statistics.median(known_times)
    assert 0.5 <= ratio <= 2.0, (ratio, known_times, unknown_times)


def _upload_raw(server: Server, filename: bytes) -> dict[str, Any]:
    boundary = "names"
    body = (
        f"--{boundary}\r\n".encode()
        + b'Content-Disposition: form-data; name="file"; filename="'
        + filename
        + b'"\r\nContent-Type: audio/wav\r\n\r\n'
        + SAMPLE.read_bytes()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    with server.client() as http:
        response = http.post(
            "/api/v1/files",
            content=body,
            headers={
                **server.admin,
                "Content-Type": f"multipart/form-data; boundary={boundary}",
            },
        )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def test_a_file_named_with_control_characters_plays(server: Server) -> None:
    created = _upload_raw(server, "bad\x01\x1b[31m\x7fname\u00e9 \u202e.wav".encode())
    assert not any(ord(c) < 32 or ord(c) == 127 for c in created["title"])
    audio = f"/api/v1/files/{created['id']}/audio"
    with server.client() as http:
        whole = http.get(audio, headers=server.admin)
        assert whole.status_code == 200
        assert whole.content == SAMPLE.read_bytes()
        disposition = whole.headers["content-disposition"]
        assert disposition.isascii() and not any(ord(c) < 32 for c in disposition)
        assert "filename*=UTF-8''" in disposition and "%C3%A9" in disposition
        head = http.head(audio, headers=server.admin)
        assert head.status_code == 200 and head.content == b""
        assert int(head.headers["content-length"]) == SAMPLE.stat().st_size
        part = http.get(audio, headers={**server.admin, "Range": "bytes=0-99"})
        assert part.status_code == 206 and len(part.content) == 100


def _cursor(payload: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def test_tampered_cursors_get_400_and_absurd_ranges_get_416(server: Server) -> None:
    created = _upload_raw(server, b"plain.wav")
    cursors = [
        _cursor([True, None, "x"]),
        _cursor(["-created_at", True, "x"]),
        _cursor(["-created_at", None, "x"]),
        _cursor(["-created_at", {"dt": "99999-01-01T00:00:00"}, "x"]),
        _cursor(["-created_at", {"dt": "9999-12-31T23:59:59-14:00"}, "x"]),
        _cursor(["-created_at", {"dt": "2026-01-01T00:00:00Z"}, 5]),
        _cursor(["-created_at", {"dt": 1}, "x"]),
        _cursor({"sort": "-created_at"}),
        _cursor("abc"),
        _cursor(["title", 12345678901234567890, "x"]),
        "%%%",
        "A" * 900,
    ]
    with server.client() as http:
        for route in ("/api/v1/files", "/api/v1/transcriptions"):
            for cursor in cursors:
                response = http.get(route, params={"cursor": cursor}, headers=server.admin)
                assert response.status_code == 400, (route, cursor, response.text)
                assert response.json()["error"]["field"] == "cursor"
        job = http.post(
            "/api/v1/transcriptions", json={"file_id": created["id"]}, headers=server.admin
        ).json()["id"]
        for cursor in ("o" + "9" * 5000, "o\u00b2", "o-1", "o99999999999"):
            response = http.get(
                f"/api/v1/transcriptions/{job}/executions",
                params={"cursor": cursor},
                headers=server.admin,
            )
            assert response.status_code in (400, 422), (cursor, response.text)
        audio = f"/api/v1/files/{created['id']}/audio"
        size = SAMPLE.stat().st_size
        for header in (
            "bytes=99999999999999999999999999-",
            "bytes=0-" + "9" * 5000,
            "bytes=-" + "9" * 40,
            f"bytes={size}-",
            "bytes=5-1",
            "bytes=-0",
            "bytes=abc",
        ):
            response = http.get(audio, headers={**server.admin, "Range": header})
            assert response.status_code == 416, (header[:40], response.text)
            assert response.headers["content-range"] == f"bytes */{size}"


def test_url_import_of_internal_addresses_is_refused(server: Server) -> None:
    with server.client() as http:
        ids = [
            http.post(
                "/api/v1/files:import-youtube", json={"url": url}, headers=server.admin
            ).json()["id"]
            for url in (
                f"{server.base_url}/api/v1/health",
                "http://[::1]:1/a.wav",
                "http://169.254.169.254/latest/meta-data/",
            )
        ]
        deadline = time.monotonic() + 60
        errors = set()
        for file_id in ids:
            while time.monotonic() < deadline:
                body = http.get(f"/api/v1/files/{file_id}", headers=server.admin).json()
                if body["status"] != "processing":
                    break
                time.sleep(0.1)
            assert body["status"] == "failed"
            errors.add(body["error"])
    assert errors == {"Could not download media from the URL."}


def test_security_headers_on_the_api_the_app_and_docs(server: Server) -> None:
    with server.client() as http:
        responses = {
            "api": http.get("/api/v1/health"),
            "app": http.get("/"),
            "docs": http.get("/docs"),
            "error": http.get("/api/v1/files"),
        }
        login = http.post("/api/v1/auth/login", json={"username": "admin", "password": PASSWORD})
        redirect = http.get("/api/v1/files/", headers={"Host": "evil.example"})
        preflight = http.options(
            "/api/v1/files",
            headers={
                "Origin": "https://elsewhere.example",
                "Access-Control-Request-Method": "GET",
            },
        )
    for name, response in responses.items():
        headers = response.headers
        assert headers["x-content-type-options"] == "nosniff", name
        assert headers["referrer-policy"] == "no-referrer", name
        policy = headers["content-security-policy"]
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy, name
        assert "http" not in policy, name  # only the server's own origin
    assert login.status_code == 200 and login.headers["cache-control"] == "no-store"
    assert redirect.status_code == 307
    assert redirect.headers["location"] == "/api/v1/files"
    assert "access-control-allow-origin" not in preflight.headers


def test_new_files_and_folders_are_owner_only(server: Server) -> None:
    _upload_raw(server, b"perms.wav")
    checked = 0
    for path in server.data_dir.rglob("*"):
        mode = path.stat().st_mode & 0o777
        assert mode & 0o077 == 0, (str(path.relative_to(server.data_dir)), oct(mode))
        checked += 1
    assert checked > 5
    assert server.data_dir.stat().st_mode & 0o077 == 0


def test_a_second_user_sees_nothing_and_disabling_ends_every_token_at_once(
    server: Server,
) -> None:
    _upload_raw(server, b"admins.wav")
    dave = make_user(server, "dave")
    with server.client() as http:
        assert http.get("/api/v1/files", headers=dave).json()["items"] == []
        me = http.get("/api/v1/auth/me", headers=dave).json()
        stream = http.post("/api/v1/auth/stream-token", headers=dave).json()["token"]
        received: list[str] = []
        ended = threading.Event()

        def listen() -> None:
            with (
                httpx.Client(base_url=server.base_url, timeout=60) as sse,
                sse.stream("GET", "/api/v1/events", params={"stream_token": stream}) as response,
            ):
                assert response.status_code == 200
                for line in response.iter_lines():
                    received.append(line)
            ended.set()

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        deadline = time.monotonic() + 10
        while not received and time.monotonic() < deadline:
            time.sleep(0.05)
        assert received, "the event stream never opened"
        assert not ended.is_set()
        disabled = http.patch(
            f"/api/v1/admin/users/{me['id']}", json={"disabled": True}, headers=server.admin
        )
        assert disabled.status_code == 200
        assert ended.wait(5), "the open event stream outlived the disabled account"
        assert http.get("/api/v1/auth/me", headers=dave).status_code == 401
        events = http.get("/api/v1/events", params={"stream_token": stream})
        assert events.status_code == 401


@pytest.mark.engine
def test_a_diarized_job_writes_nothing_outside_the_data_dir(tmp_path: Path) -> None:
    """HOME points at an empty folder: after a real diarized transcription it is still empty
    (library caches and onnxruntime's telemetry would otherwise land under ~/.cache)."""
    home = tmp_path / "home"
    home.mkdir()
    data_dir = tmp_path / "data"
    running = start_serve(
        data_dir,
        TRANSCRIPTION_QUEUE_POLL_INTERVAL="200ms",
        HOME=str(home),
        XDG_CACHE_HOME="",
        NUMBA_CACHE_DIR="",
    )
    try:
        with httpx.Client(base_url=running.base_url, timeout=60) as http:
            tokens = http.post(
                "/api/v1/auth/register",
                json={"username": "owner", "password": PASSWORD, "confirm_password": PASSWORD},
            ).json()
            headers = {"Authorization": f"Bearer {tokens['access_token']}"}
            with SAMPLE.open("rb") as handle:
                submitted = http.post(
                    "/api/v1/transcriptions:submit",
                    files={"file": ("sample.wav", handle, "audio/wav")},
                    data={"options": json.dumps({"diarization": True})},
                    headers=headers,
                )
            assert submitted.status_code == 202, submitted.text
            job_id = submitted.json()["id"]
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                job = http.get(f"/api/v1/transcriptions/{job_id}", headers=headers).json()
                if job["status"] in ("completed", "failed", "canceled"):
                    break
                time.sleep(0.5)
            assert job["status"] == "completed", job
            transcript = http.get(
                f"/api/v1/transcriptions/{job_id}/transcript", headers=headers
            ).json()
            assert {s.get("speaker") for s in transcript["segments"]} >= {"SPEAKER_00"}
    finally:
        running.stop()
    assert sorted(str(p.relative_to(home)) for p in home.rglob("*")) == []
