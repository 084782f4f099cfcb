"""Shared helpers for the transcription/profile/OpenAI route tests (fake engine, real app).

`make_env` builds a real Core (SQLite in a temp data dir) with the fake speech provider behind
the real `ProviderRegistry`, starts its workers, and serves `create_app(core)` through
Starlette's TestClient with a registered first user.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from scriberr.api.app import create_app
from scriberr.bootstrap import Core
from scriberr.clock import utcnow
from scriberr.config import load_config
from scriberr.engine.fake import FakeProvider, FakeScript
from scriberr.engine.registry import ProviderRegistry, build_provider_registry
from scriberr.ids import new_id
from scriberr.persistence.files_repository import FileRepository
from scriberr.persistence.models import AudioFile, User
from scriberr.services.auth import Principal
from tests.support.cores import test_core

FIXTURES = Path(__file__).resolve().parents[2] / ".." / "shared" / "fixtures" / "audio"
SAMPLE_WAV = (FIXTURES / "sample.wav").resolve()
TERMINAL = ("completed", "failed", "canceled")
PASSWORD = "correct horse battery staple"


@dataclass
class Env:
    core: Core
    client: TestClient
    headers: dict[str, str]
    user_id: str
    data_dir: Path

    def fake_file(self, script: dict[str, Any] | None = None, *, user_id: str | None = None) -> str:
        """A ready file row whose bytes are a fake-engine script (bypasses upload probing)."""
        file_id = new_id("file")
        directory = self.data_dir / "uploads" / file_id
        directory.mkdir(parents=True)
        (directory / "audio.json").write_text(json.dumps({"fake": script or {}}))
        now = utcnow()
        FileRepository(self.core.database).add(
            AudioFile(
                id=file_id,
                user_id=user_id or self.user_id,
                title="Fake audio",
                kind="audio",
                status="ready",
                mime_type="audio/wav",
                size_bytes=(directory / "audio.json").stat().st_size,
                duration_seconds=6.0,
                original_filename="audio.json",
                storage_path=f"uploads/{file_id}/audio.json",
                created_at=now,
                updated_at=now,
            )
        )
        return file_id

    def create(self, file_id: str, **body: Any) -> dict[str, Any]:
        response = self.client.post(
            "/api/v1/transcriptions", json={"file_id": file_id, **body}, headers=self.headers
        )
        assert response.status_code == 202, response.text
        return dict(response.json())

    def get(self, transcription_id: str) -> dict[str, Any]:
        response = self.client.get(
            f"/api/v1/transcriptions/{transcription_id}", headers=self.headers
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    def wait(
        self,
        transcription_id: str,
        statuses: tuple[str, ...] = TERMINAL,
        timeout: float = 30.0,
    ) -> dict[str, Any]:
        """Poll until the job reaches one of `statuses` (bounded; not a timing assertion)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.get(transcription_id)
            if job["status"] in statuses:
                return job
            time.sleep(0.02)
        raise AssertionError(f"{transcription_id} never reached {statuses}: {job}")

    def second_user(self) -> tuple[str, dict[str, str]]:
        """Another account (registration is closed after the first) with an API key."""
        user_id = new_id("user")
        with self.core.database.write_session() as session:
            session.add(User(id=user_id, username=f"other-{user_id[-6:]}", password_hash="x"))
        core: Any = self.core
        auth = core.auth
        created = auth.create_api_key(Principal(user_id, "other", "access"), "k")
        return user_id, {"Authorization": f"Bearer {created.key}"}


def sse_events(text: str) -> list[tuple[str, dict[str, Any], str | None]]:
    """Parse an SSE body into (event, data, id) tuples (comments and retry lines skipped)."""
    events = []
    for block in text.split("\n\n"):
        name, data, event_id = None, None, None
        for line in block.splitlines():
            if line.startswith("event: "):
                name = line[len("event: ") :]
            elif line.startswith("data: "):
                data = json.loads(line[len("data: ") :])
            elif line.startswith("id: "):
                event_id = line[len("id: ") :]
        if name is not None and data is not None:
            events.append((name, data, event_id))
    return events


@dataclass
class SseItem:
    """One item read off an event stream: an event (`name`, `data`, `id`) or a comment."""

    name: str | None = None
    data: dict[str, Any] | None = None
    id: str | None = None
    comment: str | None = None


def read_sse(
    http: Any,
    url: str,
    headers: dict[str, str] | None = None,
    *,
    until: Any,
    timeout: float = 30.0,
) -> list[SseItem]:
    """Open an event stream and read it item by item until `until(items)` is true, then leave
    (the server keeps streams open until the client goes)."""
    items: list[SseItem] = []
    current = SseItem()
    with http.stream("GET", url, headers=headers or {}, timeout=timeout) as stream:
        assert stream.status_code == 200, stream.read()
        assert stream.headers["content-type"].startswith("text/event-stream")
        for line in stream.iter_lines():
            if line.startswith(":"):
                items.append(SseItem(comment=line[1:].strip()))
            elif line.startswith("event: "):
                current.name = line[len("event: ") :]
            elif line.startswith("data: "):
                current.data = json.loads(line[len("data: ") :])
            elif line.startswith("id: "):
                current.id = line[len("id: ") :]
            elif line == "" and current.name is not None:
                items.append(current)
                current = SseItem()
            else:
                continue
            if items and until(items):
                break
    return items


def events_of(items: list[SseItem]) -> list[tuple[str, dict[str, Any]]]:
    return [(i.name, i.data or {}) for i in items if i.name is not None]


def _no_data_dir_in_body(data_dir: Path) -> Any:
    """A response hook: no body the tests ever see may contain the data directory path."""

    def check(response: Any) -> None:
        response.read()
        assert str(data_dir) not in response.text, response.request.url

    return check


@contextmanager
def make_env(
    tmp_path: Path,
    script: FakeScript | None = None,
    *,
    start: bool = True,
    real_engine: bool = False,
    **env: str,
) -> Iterator[Env]:
    """`start=False`: the workers never run, so jobs stay queued (still accepting).
    `real_engine=True`: the real local speech engine (bundled whisper-tiny.en) instead of the
    fake one."""
    data_dir = tmp_path / "data"
    config = load_config(
        {
            "SCRIBERR_DATA_DIR": str(data_dir),
            "SCRIBERR_SECRET_KEY": "test-secret-key-0123456789-abcdefghijklmnop",
            "TRANSCRIPTION_QUEUE_POLL_INTERVAL": "200ms",
            "SPEECH_ENGINE_DEFAULT_MODEL": "whisper-tiny.en" if real_engine else "fake-model",
            "SCRIBERR_LOG_LEVEL": "warning",
            **env,
        }
    )
    registry = (
        build_provider_registry(config)
        if real_engine
        else ProviderRegistry([FakeProvider(script or FakeScript())], default_model="fake-model")
    )
    core = test_core(config, providers=registry)
    if start:
        core.start()
    try:
        with TestClient(create_app(core)) as client:
            client.event_hooks = {"response": [_no_data_dir_in_body(data_dir)]}
            response = client.post(
                "/api/v1/auth/register",
                json={"username": "alice", "password": PASSWORD, "confirm_password": PASSWORD},
            )
            assert response.status_code == 201, response.text
            headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
            me = client.get("/api/v1/auth/me", headers=headers).json()
            yield Env(core, client, headers, me["id"], data_dir)
    finally:
        core.files.close()
        core.close(timeout=5)


@contextmanager
def serve_in_thread(app: Any) -> Iterator[str]:
    """Serve `app` with uvicorn on a free port in a thread (real streaming); yields the base URL."""
    import threading

    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started, "uvicorn did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
