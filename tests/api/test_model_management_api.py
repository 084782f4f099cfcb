"""`POST /api/v1/models/{id}:download` and `DELETE /api/v1/models/{id}` with the real local
provider, downloading from a model hub on loopback (`tests/engine/fake_hub.py`, serving the
bundled whisper-tiny.en files under whisper-base.en's repository)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from scriberr.api.deps import is_admin
from scriberr.api.job_streams import _GlobalFeed
from scriberr.engine.catalog import bundled_model_dir
from scriberr.engine.local import LocalProvider
from scriberr.engine.local.device import CPU
from scriberr.engine.registry import ProviderRegistry
from scriberr.events.broker import Event
from scriberr.services.auth import Principal
from tests.engine.fake_hub import FakeHub, serve_hub

from .conftest import Account

pytestmark = pytest.mark.engine

MODEL = "whisper-base.en"
REPO = "Systran/faster-whisper-base.en"


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    directory = bundled_model_dir()
    assert directory is not None
    with serve_hub({REPO: directory}) as served:
        monkeypatch.setenv("HF_ENDPOINT", served.url)
        yield served


@pytest.fixture
def core(make_core: Callable[..., Any], data_dir: Path, hub: FakeHub) -> Any:
    provider = LocalProvider(
        cache_dir=data_dir / "models",
        default_model="whisper-tiny.en",
        device=CPU,
        auto_download=False,
    )
    return make_core(providers=ProviderRegistry([provider], default_model="whisper-tiny.en"))


def _installed(client: Any, user: Account) -> bool:
    response = client.get("/api/v1/models/transcription", headers=user.headers)
    return bool({m["id"]: m["installed"] for m in response.json()["items"]}[MODEL])


@pytest.mark.slow
def test_download_reports_progress_then_installs_and_delete_removes(
    client: Any, core: Any, user: Account, data_dir: Path
) -> None:
    subscription = core.broker.subscribe(user.user_id)
    response = client.post(f"/api/v1/models/{MODEL}:download", headers=user.headers)
    assert response.status_code == 202
    assert response.json() == {"id": MODEL, "status": "downloading"}
    again = client.post(f"/api/v1/models/{MODEL}:download", headers=user.headers)
    assert again.status_code == 409 and again.json()["error"]["code"] == "CONFLICT"

    events: list[Event] = []
    with subscription:
        while not events or events[-1].type.startswith("model.download.progress"):
            event = subscription.next_sync(60.0)
            assert event is not None
            events.append(event)
    assert events[-1].type == "model.download.completed"
    assert events[-1].data == {"id": MODEL, "status": "installed"}
    progress = [e.data["progress"] for e in events[:-1]]
    assert progress[0] == 0.0 and progress[-1] == 1.0 and progress == sorted(progress)
    assert len(progress) > 10
    assert all(e.data["total_bytes"] > 70_000_000 for e in events[:-1])
    feed = _GlobalFeed(lambda error: error)
    frames = [feed.from_broker(event) for event in events]
    assert all(
        frame and frame.startswith(f"id: {e.id}\nevent: model.download.")
        for frame, e in zip(frames, events, strict=True)
    )

    assert _installed(client, user)
    assert client.post(f"/api/v1/models/{MODEL}:download", headers=user.headers).status_code == 409

    deleted = client.delete(f"/api/v1/models/{MODEL}", headers=user.headers)
    assert deleted.status_code == 204
    assert not _installed(client, user)
    assert sorted(p.name for p in (data_dir / "models").iterdir()) == []
    missing = client.delete(f"/api/v1/models/{MODEL}", headers=user.headers)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "NOT_FOUND"


def test_a_failed_download_is_reported_and_leaves_nothing(
    client: Any, core: Any, user: Account, data_dir: Path, hub: FakeHub
) -> None:
    hub.cut_after["model.bin"] = 2 * 2**20
    with core.broker.subscribe(user.user_id) as subscription:
        response = client.post(f"/api/v1/models/{MODEL}:download", headers=user.headers)
        assert response.status_code == 202
        while True:
            event = subscription.next_sync(60.0)
            assert event is not None
            if event.type != "model.download.progress":
                break
    assert event.type == "model.download.failed"
    assert event.data == {"id": MODEL, "status": "failed", "error": "the download was interrupted"}
    assert [p.name for p in (data_dir / "models").iterdir()] == []
    assert not _installed(client, user)
    assert core.models.downloading() == []


def test_refusals(client: Any, user: Account) -> None:
    unknown = client.post("/api/v1/models/whisper-huge:download", headers=user.headers)
    assert unknown.status_code == 404 and "whisper-huge" in unknown.json()["error"]["message"]
    bundled = client.delete("/api/v1/models/diarization-default", headers=user.headers)
    assert bundled.status_code == 409
    assert "bundled" in bundled.json()["error"]["message"]
    installed = client.post("/api/v1/models/whisper-tiny.en:download", headers=user.headers)
    assert installed.status_code == 409 and "already installed" in installed.text
    assert client.post(f"/api/v1/models/{MODEL}:download").status_code == 401
    assert client.delete(f"/api/v1/models/{MODEL}").status_code == 401


def test_the_admin_seam() -> None:
    """Admin routes follow the role; a read-only stream token never qualifies."""
    assert is_admin(Principal("user_1", "alice", "access", role="admin"))
    assert is_admin(Principal("user_1", "alice", "api_key", role="admin"))
    assert not is_admin(Principal("user_2", "bob", "access", role="member"))
    assert not is_admin(Principal("user_1", "alice", "stream", read_only=True, role="admin"))


def test_members_cannot_download_or_remove_models(client: Any, other_user: Account) -> None:
    download = client.post(f"/api/v1/models/{MODEL}:download", headers=other_user.headers)
    assert download.status_code == 403 and download.json()["error"]["code"] == "FORBIDDEN"
    remove = client.delete(f"/api/v1/models/{MODEL}", headers=other_user.headers)
    assert remove.status_code == 403
