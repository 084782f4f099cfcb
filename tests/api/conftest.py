"""Shared fixtures for the API tests: a Core on the fake engine in a temporary data dir, the app,
a TestClient, and helpers to register users and mint credentials.

- `make_core(**env)` builds (and later closes) a Core; `core` is the default one, workers running.
- `app`, `client` (a `TestClient`, no credentials), `user` (the registered first user: tokens and
  headers), `api_key` (raw key for `user`), `other_user` (a second account, made directly in the
  database since registration closes after the first user).
- `JFK`, `SAMPLE`: the shared real audio fixtures.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from scriberr.api.app import create_app
from scriberr.clock import utcnow
from scriberr.config import load_config
from scriberr.engine.fake import fake_registry
from scriberr.ids import new_id
from scriberr.persistence.models import User
from tests.support.cores import test_core

PROJECT_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = (PROJECT_ROOT / ".." / "shared" / "fixtures" / "audio").resolve()
JFK = FIXTURES / "jfk.flac"
SAMPLE = FIXTURES / "sample.wav"
PASSWORD = "correct horse battery"


@dataclass
class Account:
    user_id: str
    username: str
    password: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def base_env(data_dir: Path, **overrides: str) -> dict[str, str]:
    env = {
        "SCRIBERR_DATA_DIR": str(data_dir),
        "SCRIBERR_SECRET_KEY": "test-secret-key-0123456789abcdef0123456789",
        "TRANSCRIPTION_QUEUE_POLL_INTERVAL": "200ms",
        "SCRIBERR_LOG_LEVEL": "warning",
    }
    env.update(overrides)
    return env


def run_cli(data_dir: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """`scriberr ARGS…` in a subprocess on `data_dir` (the test environment), output captured."""
    return subprocess.run(
        [sys.executable, "-m", "scriberr.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env={**os.environ, **base_env(data_dir)},
        timeout=120,
        check=False,
    )


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "scriberr-data"
    path.mkdir()
    return path


@pytest.fixture
def make_core(data_dir: Path) -> Iterator[Callable[..., Any]]:
    """Build a started Core on the fake engine; `make_core(SCRIBERR_MAX_UPLOAD_MB="1")`,
    `make_core(providers=fake_registry(FakeProvider(FakeScript(delay_s=30))))`."""
    built: list[Any] = []

    def factory(*, start: bool = True, providers: Any = None, **env: str) -> Any:
        config = load_config(base_env(data_dir, **env))
        registry = providers if providers is not None else fake_registry()
        core = test_core(config, providers=registry)
        if start:
            core.start()
        built.append(core)
        return core

    yield factory
    for core in reversed(built):
        core.close(timeout=5.0)


@pytest.fixture
def core(make_core: Callable[..., Any]) -> Any:
    return make_core()


@pytest.fixture
def app(core: Any) -> Any:
    return create_app(core)


class LeakCheckingClient(TestClient):
    """A TestClient that remembers every response body that contains a forbidden string (the
    data directory path), so the fixture can fail the test at teardown."""

    forbidden: tuple[str, ...] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.leaks: list[str] = []

    def request(self, method: str, url: Any, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        response = super().request(method, url, *args, **kwargs)
        text = response.content[:5_000_000].decode("utf-8", "ignore")
        for needle in self.forbidden:
            if needle in text or needle in str(response.headers):
                self.leaks.append(f"{method} {url} -> {response.status_code}")
        return response


@pytest.fixture
def client(app: Any, core: Any) -> Iterator[LeakCheckingClient]:
    """No credentials; fails the test if any response reveals the data directory path."""
    with LeakCheckingClient(app, raise_server_exceptions=False) as test_client:
        test_client.forbidden = (str(core.config.data_dir),)
        yield test_client
    assert not test_client.leaks, f"responses revealed the data dir: {test_client.leaks}"


def register(client: TestClient, username: str = "alice", password: str = PASSWORD) -> Account:
    response = client.post(
        "/api/v1/auth/register",
        json={"username": username, "password": password, "confirm_password": password},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return Account(
        body["user"]["id"], username, password, body["access_token"], body["refresh_token"]
    )


def login(client: TestClient, username: str, password: str = PASSWORD) -> Account:
    response = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    body = response.json()
    return Account(
        body["user"]["id"], username, password, body["access_token"], body["refresh_token"]
    )


def add_user(core: Any, username: str, password: str = PASSWORD) -> str:
    """Create another account directly (registration only ever creates the first one)."""
    now = utcnow()
    user_id = new_id("user")
    with core.database.write_session() as session:
        session.add(
            User(
                id=user_id,
                username=username,
                password_hash=PasswordHasher().hash(password),
                session_version=1,
                created_at=now,
                updated_at=now,
            )
        )
    return user_id


def create_api_key(client: TestClient, account: Account, name: str = "test key") -> dict[str, Any]:
    response = client.post("/api/v1/api-keys", json={"name": name}, headers=account.headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def user(client: TestClient) -> Account:
    return register(client)


@pytest.fixture
def other_user(client: TestClient, core: Any, user: Account) -> Account:
    add_user(core, "mallory")
    return login(client, "mallory")


@pytest.fixture
def api_key(client: TestClient, user: Account) -> str:
    key: str = create_api_key(client, user)["key"]
    return key


def upload(
    client: TestClient,
    headers: dict[str, str],
    path: Path = SAMPLE,
    *,
    filename: str | None = None,
    title: str | None = None,
    content_type: str = "application/octet-stream",
) -> Any:
    data = {"title": title} if title is not None else {}
    with path.open("rb") as handle:
        return client.post(
            "/api/v1/files",
            files={"file": (filename or path.name, handle, content_type)},
            data=data,
            headers=headers,
        )
