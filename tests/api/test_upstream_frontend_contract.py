"""Contract with upstream Scriberr's own web frontend (rishikanthc/Scriberr, branch
`frontend-integration`, `web/frontend/src/features/*/api/*.ts`).

Each `Frontend` method replays one call of that frontend with its exact method, path, query and
request body, and asserts the response fields the UI reads. The flows: account (register, login,
refresh, logout without a Bearer token, change-password), library (files, transcriptions of a
file, create, `:stop`, transcript, audio token and its URL with Range), profiles in the pipeline
shape, models by capability, settings, and the per-job event stream staying open with heartbeats
after completion. Routes the frontend calls that this server does not serve yet answer 404 in the
error envelope. Our own clients' shapes keep working next to these.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from scriberr.api.app import create_app
from scriberr.config import load_config
from scriberr.engine.catalog import BUNDLED_MODEL_ID, DIARIZATION_MODEL_ID, bundled_model_dir
from scriberr.engine.fake import FAKE_PROVIDER, FakeProvider, FakeScript, fake_registry
from scriberr.engine.registry import build_provider_registry
from scriberr.jobs import option_names
from scriberr.services.pipeline import mapped_option_names

from .conftest import PASSWORD, SAMPLE, LeakCheckingClient, base_env
from .jobs_support import SseItem, read_sse, serve_in_thread

NEW_PASSWORD = "a brand new passphrase"
TERMINAL = ("completed", "failed", "canceled", "stopped")


class Frontend:
    """The calls of upstream's `authApi.ts`, `filesApi.ts`, `transcriptionsApi.ts`,
    `profilesApi.ts` and `generalSettingsApi.ts`, with the fields each one reads."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.access_token = ""
        self.refresh_token = ""

    @property
    def headers(self) -> dict[str, str]:  # useAuth().getAuthHeaders()
        return {"Authorization": f"Bearer {self.access_token}"}

    def _session(self, response: httpx.Response) -> dict[str, Any]:
        """`normalizeSession`: access_token, refresh_token and user are required."""
        assert response.is_success, response.text
        data = response.json()
        assert data["access_token"] and data["refresh_token"]
        assert data["user"]["id"].startswith("user_") and data["user"]["username"]
        self.access_token, self.refresh_token = data["access_token"], data["refresh_token"]
        return dict(data)

    # -- authApi.ts ------------------------------------------------------------------------

    def registration_status(self) -> bool:
        response = self.client.get("/api/v1/auth/registration-status")
        assert response.is_success
        return bool(response.json()["registration_enabled"])

    def register(self, username: str, password: str, confirm: str) -> dict[str, Any]:
        body = {"username": username, "password": password, "confirm_password": confirm}
        return self._session(self.client.post("/api/v1/auth/register", json=body))

    def login(self, username: str, password: str) -> dict[str, Any]:
        body = {"username": username, "password": password}
        return self._session(self.client.post("/api/v1/auth/login", json=body))

    def refresh(self, refresh_token: str) -> httpx.Response:
        return self.client.post("/api/v1/auth/refresh", json={"refresh_token": refresh_token})

    def logout(self, refresh_token: str) -> httpx.Response:
        """`logoutSession`: only the refresh token, no Authorization header."""
        return self.client.post(
            "/api/v1/auth/logout",
            headers={"Content-Type": "application/json"},
            content=json.dumps({"refresh_token": refresh_token}),
        )

    def me(self) -> dict[str, Any]:
        response = self.client.get("/api/v1/auth/me", headers=self.headers)
        assert response.is_success, response.text
        data = response.json()
        assert set(data) >= {"id", "username"}
        return dict(data)

    # -- generalSettingsApi.ts -------------------------------------------------------------

    def change_password(self, current: str, new: str, confirm: str) -> httpx.Response:
        body = {"current_password": current, "new_password": new, "confirm_password": confirm}
        return self.client.post("/api/v1/auth/change-password", json=body, headers=self.headers)

    def get_settings(self) -> dict[str, Any]:
        response = self.client.get("/api/v1/settings", headers=self.headers)
        assert response.is_success, response.text
        return _read_settings(response.json())

    def update_settings(self, payload: dict[str, Any]) -> dict[str, Any]:
        response = self.client.patch("/api/v1/settings", json=payload, headers=self.headers)
        assert response.is_success, response.text
        return _read_settings(response.json())

    # -- filesApi.ts -----------------------------------------------------------------------

    def upload_file(self, path: Path) -> dict[str, Any]:
        """`uploadFile`: multipart `file` plus `title` (the name without its extension)."""
        with path.open("rb") as handle:
            response = self.client.post(
                "/api/v1/files",
                files={"file": (path.name, handle, "audio/wav")},
                data={"title": path.stem},
                headers=self.headers,
            )
        assert response.is_success, response.text
        return _read_file(response.json())

    def list_files(self) -> list[dict[str, Any]]:
        response = self.client.get("/api/v1/files?limit=100&sort=-created_at", headers=self.headers)
        assert response.is_success, response.text
        data = response.json()
        assert "next_cursor" in data
        return [_read_file(item) for item in data["items"]]

    def get_file(self, file_id: str) -> dict[str, Any]:
        response = self.client.get(f"/api/v1/files/{file_id}", headers=self.headers)
        assert response.is_success, response.text
        return _read_file(response.json())

    def file_audio_token(self, file_id: str) -> dict[str, Any]:
        response = self.client.post(f"/api/v1/files/{file_id}/audio-token", headers=self.headers)
        assert response.is_success, response.text
        return _read_audio_token(response.json())

    # -- transcriptionsApi.ts --------------------------------------------------------------

    def list_transcriptions(self, file_id: str | None = None) -> list[dict[str, Any]]:
        query = "limit=100&sort=-created_at" + (f"&file_id={file_id}" if file_id else "")
        response = self.client.get(f"/api/v1/transcriptions?{query}", headers=self.headers)
        assert response.is_success, response.text
        data = response.json()
        assert "next_cursor" in data
        return [_read_transcription(item) for item in data["items"]]

    def create_transcription(
        self, file_id: str, profile_id: str, title: str | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"file_id": file_id, "profile_id": profile_id}
        if title is not None:  # JSON.stringify drops `title: undefined`
            body["title"] = title
        response = self.client.post(
            "/api/v1/transcriptions",
            headers={**self.headers, "Content-Type": "application/json"},
            content=json.dumps(body),
        )
        assert response.is_success, response.text
        return _read_transcription(response.json())

    def stop_transcription(self, transcription_id: str) -> dict[str, Any]:
        response = self.client.post(
            f"/api/v1/transcriptions/{transcription_id}:stop", headers=self.headers
        )
        assert response.is_success, response.text
        data = response.json()
        assert data["id"] == transcription_id and data["status"] in TERMINAL
        return dict(data)

    def transcript(self, transcription_id: str) -> dict[str, Any]:
        response = self.client.get(
            f"/api/v1/transcriptions/{transcription_id}/transcript", headers=self.headers
        )
        assert response.is_success, response.text
        data = response.json()
        assert data["transcription_id"] == transcription_id and isinstance(data["text"], str)
        for segment in data["segments"]:
            assert isinstance(segment["start"], float | int) and isinstance(
                segment["end"], float | int
            )
            assert isinstance(segment["text"], str)
        for word in data["words"]:
            assert set(word) >= {"start", "end", "word"}
        return dict(data)

    # -- profilesApi.ts --------------------------------------------------------------------

    def list_profiles(self) -> list[dict[str, Any]]:
        response = self.client.get("/api/v1/profiles", headers=self.headers)
        assert response.is_success, response.text
        return [_read_profile(item) for item in response.json()["items"]]

    def save_profile(self, profile: dict[str, Any]) -> httpx.Response:
        """`saveProfile`: POST (new) or PATCH (existing) with exactly these four fields."""
        payload = {key: profile[key] for key in ("name", "description", "is_default", "options")}
        path = f"/api/v1/profiles/{profile['id']}" if profile.get("id") else "/api/v1/profiles"
        return self.client.request(
            "PATCH" if profile.get("id") else "POST",
            path,
            headers={**self.headers, "Content-Type": "application/json"},
            content=json.dumps(payload),
        )

    def list_asr_models(self, capabilities: list[str]) -> list[dict[str, Any]]:
        query = f"?capability={','.join(capabilities)}" if capabilities else ""
        response = self.client.get(f"/api/v1/models{query}", headers=self.headers)
        assert response.is_success, response.text
        models = [_read_model_card(item) for item in response.json()["items"]]
        # The frontend filters again on the capability map.
        return [m for m in models if any(m["capabilities"].get(c) is True for c in capabilities)]


def _read_settings(data: dict[str, Any]) -> dict[str, Any]:
    assert isinstance(data["auto_transcription_enabled"], bool)
    assert isinstance(data["auto_rename_enabled"], bool)
    assert data["default_profile_id"] is None or isinstance(data["default_profile_id"], str)
    assert isinstance(data["local_only"], bool)
    assert isinstance(data["max_upload_size_mb"], int)  # never null
    return data


def _read_file(data: dict[str, Any]) -> dict[str, Any]:
    assert data["id"].startswith("file_")
    assert data["kind"] in ("audio", "video", "youtube")
    assert data["status"] in ("ready", "uploaded", "processing", "failed")
    for key in ("title", "mime_type", "size_bytes", "duration_seconds", "created_at", "updated_at"):
        assert key in data, key
    return data


def _read_transcription(data: dict[str, Any]) -> dict[str, Any]:
    assert data["id"].startswith("tr_") and data["file_id"].startswith("file_")
    assert data["status"] in ("queued", "processing", *TERMINAL)
    assert isinstance(data["progress"], float | int) and isinstance(data["progress_stage"], str)
    for key in ("title", "created_at", "updated_at"):
        assert key in data, key
    return data


def _read_audio_token(data: dict[str, Any]) -> dict[str, Any]:
    assert set(data) == {"token", "url", "expires_at"}
    assert data["token"] and data["url"].startswith("/api/v1/")
    assert data["expires_at"].endswith("Z")
    return data


def _read_profile(data: dict[str, Any]) -> dict[str, Any]:
    """`normalizeProfile`: reads `options.pipeline` (a list of steps)."""
    assert data["id"].startswith("profile_") and isinstance(data["name"], str)
    assert isinstance(data["is_default"], bool)
    pipeline = data["options"]["pipeline"]
    assert isinstance(pipeline, list)
    for step in pipeline:
        assert step["kind"] in ("transcription", "diarization")
    return data


def _read_model_card(data: dict[str, Any]) -> dict[str, Any]:
    assert isinstance(data["id"], str) and isinstance(data["display_name"], str)
    assert isinstance(data["provider"], str)
    assert isinstance(data["installed"], bool) and isinstance(data["default"], bool)
    assert isinstance(data["capabilities"], dict)
    assert all(isinstance(value, bool) for value in data["capabilities"].values())
    for parameter in data["parameter_schema"]:
        assert {"key", "type", "scope"} <= set(parameter)
    return data


def step_for(model: dict[str, Any], kind: str, values: dict[str, Any]) -> dict[str, Any]:
    """What `withTranscriptionModel` / `withDiarizationModel` + `prepareProfileOptionsForSave`
    build: the model's schema defaults (`resolveParameterValues`), overridden by `values`, then
    only the keys the schema declares, without empty strings (`sanitizeParameterValues`)."""
    schema = model["parameter_schema"]
    resolved: dict[str, Any] = {}
    for parameter in schema:
        key = parameter["key"]
        if key in values:
            resolved[key] = values[key]
        elif key in model.get("recommended_defaults", {}):
            resolved[key] = model["recommended_defaults"][key]
        elif "default" in parameter:
            resolved[key] = parameter["default"]
    declared = {parameter["key"] for parameter in schema}
    options = {k: v for k, v in resolved.items() if k in declared and v is not None and v != ""}
    return {"kind": kind, "provider": model["provider"], "model": model["id"], "options": options}


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture
def ui_core(make_core: Callable[..., Any]) -> Any:
    """Fake engine, workers running, event-stream heartbeats every 200 ms."""
    return make_core(SCRIBERR_SSE_HEARTBEAT="200ms")


@pytest.fixture
def ui_client(ui_core: Any) -> Iterator[LeakCheckingClient]:
    with LeakCheckingClient(create_app(ui_core), raise_server_exceptions=False) as client:
        client.forbidden = (str(ui_core.config.data_dir),)
        yield client
    assert not client.leaks, f"responses revealed the data dir: {client.leaks}"


@pytest.fixture
def ui(ui_client: TestClient) -> Frontend:
    """A signed-in frontend (the first user, registered the way the UI does it)."""
    frontend = Frontend(ui_client)
    assert frontend.registration_status() is True
    frontend.register("alice", PASSWORD, PASSWORD)
    return frontend


def _fake_profile(ui: Frontend, *, diarization: bool = False) -> dict[str, Any]:
    transcription = ui.list_asr_models(["transcription"])
    model = next(m for m in transcription if m["default"])
    pipeline = [step_for(model, "transcription", {})]
    if diarization:
        diarizer = ui.list_asr_models(["diarization"])[0]
        pipeline.append(step_for(diarizer, "diarization", {}))
    response = ui.save_profile(
        {
            "name": "Default",
            "description": "",
            "is_default": True,
            "options": {"pipeline": pipeline},
        }
    )
    assert response.status_code == 201, response.text
    return _read_profile(response.json())


def _wait(ui: Frontend, transcription_id: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for item in ui.list_transcriptions():
            if item["id"] == transcription_id and item["status"] in TERMINAL:
                return item
        time.sleep(0.05)
    raise AssertionError("the job did not finish")


# -- account ------------------------------------------------------------------------------------


def test_account_flow(ui_client: TestClient) -> None:
    ui = Frontend(ui_client)
    assert ui.registration_status() is True
    session = ui.register("alice", PASSWORD, PASSWORD)
    assert ui.registration_status() is False
    assert ui.me()["id"] == session["user"]["id"]

    # refreshSession rotates; the old refresh token is spent.
    first_refresh = ui.refresh_token
    refreshed = ui.refresh(first_refresh)
    ui._session(refreshed)
    assert ui.refresh(first_refresh).status_code == 401

    # logoutSession: no Authorization header, only the refresh token → that session ends.
    current = ui.refresh_token
    logged_out = ui.logout(current)
    assert logged_out.status_code == 200 and logged_out.json() == {"ok": True}
    assert ui.refresh(current).status_code == 401

    ui.login("alice", PASSWORD)
    changed = ui.change_password(PASSWORD, NEW_PASSWORD, NEW_PASSWORD)
    assert changed.is_success, changed.text
    mismatch = Frontend(ui_client)
    mismatch.login("alice", NEW_PASSWORD)
    refused = mismatch.change_password(NEW_PASSWORD, "another passphrase", "not the same")
    assert refused.status_code == 400
    assert refused.json()["error"]["field"] == "confirm_password"
    assert refused.json()["error"]["message"]  # the UI shows error.message
    bad = ui_client.post("/api/v1/auth/login", json={"username": "alice", "password": PASSWORD})
    assert bad.status_code == 401 and bad.json()["error"]["message"]
    Frontend(ui_client).login("alice", NEW_PASSWORD)


# -- library ------------------------------------------------------------------------------------


def test_library_flow(ui: Frontend) -> None:
    profile = _fake_profile(ui)
    uploaded = ui.upload_file(SAMPLE)
    assert uploaded["title"] == SAMPLE.stem and uploaded["status"] == "ready"
    other = ui.upload_file(SAMPLE)
    assert [f["id"] for f in ui.list_files()] == [other["id"], uploaded["id"]]
    assert ui.get_file(uploaded["id"])["id"] == uploaded["id"]

    created = ui.create_transcription(uploaded["id"], profile["id"])
    assert created["file_id"] == uploaded["id"] and created["title"] == uploaded["title"]
    elsewhere = ui.create_transcription(other["id"], profile["id"], title="Other one")
    assert elsewhere["title"] == "Other one"
    done = _wait(ui, created["id"])
    assert done["status"] == "completed" and done["progress"] == 1.0
    _wait(ui, elsewhere["id"])

    # listTranscriptions({fileId}) shows that file's transcriptions only.
    of_file = ui.list_transcriptions(file_id=uploaded["id"])
    assert [t["id"] for t in of_file] == [created["id"]]
    assert [t["id"] for t in ui.list_transcriptions(file_id=other["id"])] == [elsewhere["id"]]
    assert len(ui.list_transcriptions()) == 2
    assert ui.list_transcriptions(file_id="file_nothing") == []

    transcript = ui.transcript(created["id"])
    assert transcript["text"] and transcript["segments"] and transcript["words"]


def test_audio_token_url_plays_with_range(ui: Frontend, ui_client: TestClient) -> None:
    uploaded = ui.upload_file(SAMPLE)
    minted = ui.file_audio_token(uploaded["id"])
    assert minted["url"].startswith(f"/api/v1/files/{uploaded['id']}/audio?stream_token=")
    data = SAMPLE.read_bytes()
    # <audio src=url> sends no Authorization; it asks for ranges.
    whole = ui_client.get(minted["url"])
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["accept-ranges"] == "bytes"
    part = ui_client.get(minted["url"], headers={"Range": "bytes=100-1099"})
    assert part.status_code == 206 and part.content == data[100:1100]
    assert part.headers["content-range"] == f"bytes 100-1099/{len(data)}"
    tail = ui_client.get(minted["url"], headers={"Range": "bytes=-16"})
    assert tail.status_code == 206 and tail.content == data[-16:]

    profile = _fake_profile(ui)
    job = ui.create_transcription(uploaded["id"], profile["id"])
    response = ui_client.post(f"/api/v1/transcriptions/{job['id']}/audio-token", headers=ui.headers)
    assert response.status_code == 200
    job_token = _read_audio_token(response.json())
    assert job_token["url"].startswith(f"/api/v1/transcriptions/{job['id']}/audio?stream_token=")
    ranged = ui_client.get(job_token["url"], headers={"Range": "bytes=0-9"})
    assert ranged.status_code == 206 and ranged.content == data[:10]


def test_audio_token_is_scoped_to_its_one_resource(ui: Frontend, ui_client: TestClient) -> None:
    mine = ui.upload_file(SAMPLE)
    second = ui.upload_file(SAMPLE)
    profile = _fake_profile(ui)
    job = ui.create_transcription(mine["id"], profile["id"])
    token = ui.file_audio_token(mine["id"])["token"]
    query = f"?stream_token={token}"
    assert ui_client.get(f"/api/v1/files/{mine['id']}/audio{query}").status_code == 200
    # Not another file, not the transcription of this very file, not any other route.
    for path in (
        f"/api/v1/files/{second['id']}/audio",
        f"/api/v1/transcriptions/{job['id']}/audio",
        f"/api/v1/files/{mine['id']}",
        "/api/v1/files",
        "/api/v1/events",
        f"/api/v1/transcriptions/{job['id']}/events",
        f"/api/v1/transcriptions/{job['id']}/transcript",
    ):
        denied = ui_client.get(path + query)
        assert denied.status_code == 401, path
        assert denied.json()["error"]["code"] == "UNAUTHORIZED"
    # Not a Bearer credential, and read-only: it cannot mint more tokens.
    bearer = {"Authorization": f"Bearer {token}"}
    assert ui_client.get(f"/api/v1/files/{mine['id']}/audio", headers=bearer).status_code == 401
    assert ui_client.post(f"/api/v1/files/{mine['id']}/audio-token{query}").status_code == 401
    # The transcription's token likewise only plays that transcription.
    job_token = ui_client.post(
        f"/api/v1/transcriptions/{job['id']}/audio-token", headers=ui.headers
    ).json()["token"]
    plays = ui_client.get(f"/api/v1/transcriptions/{job['id']}/audio?stream_token={job_token}")
    assert plays.status_code == 200
    assert (
        ui_client.get(f"/api/v1/files/{mine['id']}/audio?stream_token={job_token}").status_code
        == 401
    )
    # Only for the caller's own resources; unknown ones are 404.
    assert (
        ui_client.post("/api/v1/files/file_missing/audio-token", headers=ui.headers).status_code
        == 404
    )
    missing_job = ui_client.post(
        "/api/v1/transcriptions/tr_missing/audio-token", headers=ui.headers
    )
    assert missing_job.status_code == 404
    assert ui_client.post(f"/api/v1/files/{mine['id']}/audio-token").status_code == 401


def test_stop_ends_a_running_job(make_core: Callable[..., Any]) -> None:
    slow = make_core(providers=fake_registry(FakeProvider(FakeScript(delay_s=30, steps=300))))
    with LeakCheckingClient(create_app(slow), raise_server_exceptions=False) as client:
        ui = Frontend(client)
        ui.register("alice", PASSWORD, PASSWORD)
        profile = _fake_profile(ui)
        job = ui.create_transcription(ui.upload_file(SAMPLE)["id"], profile["id"])
        deadline = time.monotonic() + 10
        while ui.list_transcriptions()[0]["status"] != "processing":
            assert time.monotonic() < deadline, "the job never started"
            time.sleep(0.05)
        stopped = ui.stop_transcription(job["id"])
        assert stopped["status"] == "canceled"
        assert ui.list_transcriptions()[0]["status"] == "canceled"
        again = client.post(f"/api/v1/transcriptions/{job['id']}:stop", headers=ui.headers)
        assert again.status_code == 409 and again.json()["error"]["message"]
        # Our own clients' :cancel is unchanged next to the alias.
        second = ui.create_transcription(ui.upload_file(SAMPLE)["id"], profile["id"])
        canceled = client.post(f"/api/v1/transcriptions/{second['id']}:cancel", headers=ui.headers)
        assert canceled.status_code == 200
        assert canceled.json() == {"id": second["id"], "status": "canceled"}


# -- profiles and models -------------------------------------------------------------------------


def test_profiles_in_the_pipeline_shape(ui: Frontend, ui_client: TestClient) -> None:
    transcription = ui.list_asr_models(["transcription"])
    diarization = ui.list_asr_models(["diarization"])
    assert [m["id"] for m in transcription] == ["fake-model", "fake-model-2"]
    assert [m["id"] for m in diarization] == ["fake-diarization"]
    model = transcription[1]
    pipeline = [
        step_for(
            model,
            "transcription",
            {"language": "en", "prompt": "Kennedy", "hotwords": "Americans", "beam_size": 3},
        ),
        step_for(diarization[0], "diarization", {"min_speakers": 1, "max_speakers": 3}),
    ]
    assert pipeline[0]["options"] == {  # the schema's defaults, as the editor fills them in
        "language": "en",
        "task": "transcribe",
        "prompt": "Kennedy",
        "hotwords": "Americans",
        "beam_size": 3,
        "vad": True,
        "condition_on_previous_text": True,
    }
    created = ui.save_profile(
        {
            "name": "Meetings",
            "description": "Local ASR with speaker labels",
            "is_default": True,
            "options": {"pipeline": pipeline},
        }
    )
    assert created.status_code == 201, created.text
    profile = _read_profile(created.json())
    assert profile["is_default"] is True
    assert profile["description"] == "Local ASR with speaker labels"
    assert profile["options"]["pipeline"] == pipeline
    # Our own clients read the same preset flat.
    flat = {k: v for k, v in profile["options"].items() if k != "pipeline"}
    assert flat == {
        "model": "fake-model-2",
        "language": "en",
        "task": "transcribe",
        "prompt": "Kennedy",
        "hotwords": "Americans",
        "beam_size": 3,
        "vad": True,
        "condition_on_previous_text": True,
        "diarization": True,
        "min_speakers": 1,
        "max_speakers": 3,
    }
    assert ui.list_profiles()[0]["options"]["pipeline"] == pipeline
    assert ui.get_settings()["default_profile_id"] == profile["id"]

    # Editing: speakers off (the UI drops the diarization step), another model.
    edited = ui.save_profile(
        {
            **profile,
            "options": {"pipeline": [step_for(transcription[0], "transcription", {})]},
        }
    )
    assert edited.status_code == 200, edited.text
    options = edited.json()["options"]
    assert options["model"] == "fake-model" and options["diarization"] is False
    assert [step["kind"] for step in options["pipeline"]] == ["transcription"]

    # A job created with the profile runs with the options the pipeline set.
    ui.save_profile({**profile, "options": {"pipeline": pipeline}})
    job = ui.create_transcription(ui.upload_file(SAMPLE)["id"], profile["id"])
    stored = ui_client.get(f"/api/v1/transcriptions/{job['id']}", headers=ui.headers).json()
    assert stored["options"]["model"] == "fake-model-2"
    assert stored["options"]["diarization"] is True and stored["options"]["max_speakers"] == 3
    assert stored["options"]["hotwords"] == "Americans" and stored["options"]["beam_size"] == 3


@pytest.mark.parametrize(
    ("pipeline", "field"),
    [
        (
            [{"kind": "transcription"}, {"kind": "speaker_identification"}],
            "options.pipeline[1].kind",
        ),
        ([{"kind": "diarization"}, {"kind": "transcription"}], "options.pipeline[1].kind"),
        ([{"kind": "transcription"}, {"kind": "transcription"}], "options.pipeline[1].kind"),
        ([{"kind": "transcription", "model": "parakeet-v3"}], "options.pipeline[0].model"),
        (
            [{"kind": "transcription", "provider": "openai", "model": "fake-model"}],
            "options.pipeline[0].provider",
        ),
        (
            [{"kind": "transcription", "model": "fake-model", "options": {"language": "xx"}}],
            "options.pipeline[0].options.language",
        ),
        (
            [{"kind": "transcription", "options": {"chunking.mode": "vad"}}],
            "options.pipeline[0].options.chunking.mode",
        ),
        (
            [{"kind": "transcription"}, {"kind": "diarization", "model": "fake-model"}],
            "options.pipeline[1].model",
        ),
        (
            [
                {"kind": "transcription"},
                {"kind": "diarization", "options": {"min_speakers": 4, "max_speakers": 2}},
            ],
            "options.pipeline[1].options.min_speakers",
        ),
        (
            [
                {"kind": "transcription"},
                {"kind": "diarization", "options": {"num_speakers": "two"}},
            ],
            "options.pipeline[1].options.num_speakers",
        ),
        (
            [{"kind": "transcription", "options": {"task": "summarise"}}],
            "options.pipeline[0].options.task",
        ),
        (
            [{"kind": "transcription", "options": {"beam_size": 99}}],
            "options.pipeline[0].options.beam_size",
        ),
        (
            [{"kind": "transcription", "options": {"vad": "on"}}],
            "options.pipeline[0].options.vad",
        ),
        ("transcription", "options.pipeline"),
    ],
)
def test_a_bad_pipeline_is_422_naming_the_step(
    ui: Frontend, ui_core: Any, pipeline: Any, field: str
) -> None:
    body = {
        "name": "Broken",
        "description": "",
        "is_default": False,
        "options": {"pipeline": pipeline},
    }
    response = ui.save_profile(body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "UNPROCESSABLE" and error["field"] == field
    assert ui.list_profiles() == []  # nothing half-written
    existing = _fake_profile(ui)
    patched = ui.save_profile({**body, "id": existing["id"]})
    assert patched.status_code == 422 and patched.json()["error"]["field"] == field
    assert ui.list_profiles()[0]["options"] == existing["options"]


def test_flat_and_pipeline_options_together_must_agree(ui: Frontend, ui_client: TestClient) -> None:
    created = ui_client.post(
        "/api/v1/profiles",
        json={"name": "Flat", "options": {"model": "fake-model-2", "num_speakers": 2}},
        headers=ui.headers,
    )
    assert created.status_code == 201
    options = created.json()["options"]
    assert options["pipeline"] == [
        {"kind": "transcription", "provider": FAKE_PROVIDER, "model": "fake-model-2", "options": {}}
    ]
    # A client that sends back what it read (flat keys and pipeline) changes nothing.
    same = ui_client.patch(
        f"/api/v1/profiles/{created.json()['id']}", json={"options": options}, headers=ui.headers
    )
    assert same.status_code == 200 and same.json()["options"]["model"] == "fake-model-2"
    assert same.json()["options"]["num_speakers"] == 2
    clash = ui_client.patch(
        f"/api/v1/profiles/{created.json()['id']}",
        json={"options": {**options, "model": "fake-model"}},
        headers=ui.headers,
    )
    assert clash.status_code == 422 and clash.json()["error"]["field"] == "options.model"


def test_our_own_clients_keep_their_shapes(ui: Frontend, ui_client: TestClient) -> None:
    flat = ui_client.post(
        "/api/v1/profiles",
        json={"name": "Ours", "options": {"diarization": True, "language": "en"}},
        headers=ui.headers,
    )
    assert flat.status_code == 201
    options = flat.json()["options"]
    assert options["diarization"] is True and options["language"] == "en"
    assert [step["kind"] for step in options["pipeline"]] == ["transcription", "diarization"]
    listed = ui_client.get("/api/v1/models/transcription", headers=ui.headers).json()["items"]
    assert set(listed[0]) == {
        "id", "name", "provider", "installed", "default", "capabilities", "languages", "size_mb"
    }  # fmt: skip
    assert isinstance(listed[0]["capabilities"], list)


def test_models_by_capability_from_the_real_catalog(
    make_core: Callable[..., Any], data_dir: Path
) -> None:
    registry = build_provider_registry(load_config(base_env(data_dir)))
    core = make_core(start=False, providers=registry)
    with LeakCheckingClient(create_app(core), raise_server_exceptions=False) as client:
        client.forbidden = (str(data_dir),)
        ui = Frontend(client)
        ui.register("alice", PASSWORD, PASSWORD)
        transcription = ui.list_asr_models(["transcription"])
        catalog = {m.id: m for m in registry.transcription_models()}
        assert [m["id"] for m in transcription] == list(catalog)
        for card in transcription:
            entry = catalog[card["id"]]
            assert card["display_name"] == entry.name
            assert (card["installed"], card["default"]) == (entry.installed, entry.default)
            assert card["capabilities"]["transcription"] is True
            assert card["capabilities"]["diarization"] is False
            assert card["capabilities"]["translation"] is ("translate" in entry.capabilities)
            keys = [p["key"] for p in card["parameter_schema"]]
            assert keys[0] == "language" and "prompt" in keys
            assert ("task" in keys) is card["capabilities"]["translation"]
        assert [m["id"] for m in transcription if m["default"]] == [BUNDLED_MODEL_ID]
        tiny = next(m for m in transcription if m["id"] == BUNDLED_MODEL_ID)
        assert tiny["installed"] is (bundled_model_dir() is not None)
        assert tiny["capabilities"]["translation"] is False  # English-only

        diarization = ui.list_asr_models(["diarization"])
        assert [m["id"] for m in diarization] == [DIARIZATION_MODEL_ID]
        assert diarization[0]["capabilities"]["diarization"] is True
        assert diarization[0]["capabilities"]["transcription"] is False
        assert [p["key"] for p in diarization[0]["parameter_schema"]] == [
            "num_speakers", "min_speakers", "max_speakers"
        ]  # fmt: skip

        both = client.get("/api/v1/models", headers=ui.headers).json()["items"]
        assert len(both) == len(transcription) + len(diarization)
        translating = client.get(
            "/api/v1/models?capability=transcription,translation", headers=ui.headers
        )
        assert {m["id"] for m in translating.json()["items"]} == {
            m["id"] for m in transcription if m["capabilities"]["translation"]
        }
        unknown = client.get("/api/v1/models?capability=telepathy", headers=ui.headers)
        assert unknown.status_code == 422 and unknown.json()["error"]["field"] == "capability"
        assert client.get("/api/v1/models").status_code == 401


# -- settings ------------------------------------------------------------------------------------


def test_settings(ui: Frontend, ui_core: Any) -> None:
    settings = ui.get_settings()
    assert settings["auto_transcription_enabled"] is False
    assert settings["auto_rename_enabled"] is False
    assert settings["max_upload_size_mb"] == ui_core.config.max_upload_mb
    profile = _fake_profile(ui)
    updated = ui.update_settings(
        {
            "auto_transcription_enabled": True,
            "auto_rename_enabled": True,
            "default_profile_id": profile["id"],
        }
    )
    assert updated["auto_transcription_enabled"] is True
    assert updated["default_profile_id"] == profile["id"]
    assert updated["auto_rename_enabled"] is False  # titles cannot be generated yet
    assert ui.update_settings({"default_profile_id": None})["default_profile_id"] is None


# -- events --------------------------------------------------------------------------------------


def _ui_parse(items: list[SseItem], transcription_id: str) -> list[tuple[str, dict[str, Any]]]:
    """The frontend's `parseSSEChunk` filter: events with a name and JSON data for this job."""
    return [
        (i.name, i.data)
        for i in items
        if i.name
        and i.data
        and (i.data.get("transcription_id") or i.data.get("id")) == transcription_id
    ]


def test_job_event_stream_stays_open_with_heartbeats(ui: Frontend, ui_core: Any) -> None:
    profile = _fake_profile(ui)
    file_id = ui.upload_file(SAMPLE)["id"]
    job = ui.create_transcription(file_id, profile["id"])
    _wait(ui, job["id"])
    with serve_in_thread(create_app(ui_core)) as base, httpx.Client(base_url=base) as http:
        url = f"/api/v1/transcriptions/{job['id']}/events"
        started = time.monotonic()
        items = read_sse(
            http,
            url,
            {"Authorization": f"Bearer {ui.access_token}"},
            until=lambda got: sum(i.comment == "heartbeat" for i in got) >= 3,
        )
        elapsed = time.monotonic() - started
        # The global stream (AppEventsProvider's fetch) heartbeats too.
        global_items = read_sse(
            http,
            "/api/v1/events",
            {
                "Accept": "text/event-stream",
                "Authorization": f"Bearer {ui.access_token}",
                "Cache-Control": "no-cache",
            },
            until=lambda got: any(i.comment == "heartbeat" for i in got),
        )
    events = _ui_parse(items, job["id"])
    assert events == [
        (
            "transcription.completed",
            {"id": job["id"], "status": "completed", "progress": 1.0, "stage": "completed"},
        )
    ]
    # The current state, then only heartbeats: the stream did not end (no reconnect loop).
    assert items[0].name == "transcription.completed"
    assert [i.comment for i in items[1:]] == ["heartbeat"] * 3
    assert elapsed >= 0.5
    assert global_items[-1].comment == "heartbeat"


def test_routes_not_served_yet_answer_404(ui: Frontend, ui_client: TestClient) -> None:
    """Tags, annotations, summaries, chat, recordings and LLM settings are not served: each call
    the frontend makes answers 404 NOT_FOUND in the error envelope (the UI shows
    `error.message`)."""
    file_id = ui.upload_file(SAMPLE)["id"]
    job = ui.create_transcription(file_id, _fake_profile(ui)["id"])["id"]
    calls = [
        ("GET", "/api/v1/tags"),
        ("POST", "/api/v1/tags"),
        ("GET", f"/api/v1/transcriptions/{job}/tags"),
        ("PUT", f"/api/v1/transcriptions/{job}/tags"),
        ("GET", f"/api/v1/transcriptions/{job}/annotations"),
        ("POST", f"/api/v1/transcriptions/{job}/annotations"),
        ("GET", f"/api/v1/transcriptions/{job}/summary"),
        ("GET", f"/api/v1/transcriptions/{job}/summary/widgets"),
        ("GET", "/api/v1/chat/models"),
        ("GET", "/api/v1/chat/sessions"),
        ("POST", "/api/v1/chat/sessions"),
        ("GET", "/api/v1/recordings"),
        ("POST", "/api/v1/recordings"),
        ("GET", "/api/v1/settings/llm-provider"),
        ("PUT", "/api/v1/settings/llm-provider"),
        ("GET", "/api/v1/settings/summary-widgets"),
    ]
    for method, path in calls:
        response = ui_client.request(method, path, headers=ui.headers, json={})
        assert response.status_code == 404, (method, path, response.status_code)
        error = response.json()["error"]
        assert error["code"] == "NOT_FOUND" and error["message"], (method, path)


def test_pipeline_steps_map_onto_job_option_fields() -> None:
    """The pipeline mapping goes through `JobOptions`: every flat key a step sets is one of its
    fields (a renamed option cannot silently drop out of upstream's profile editor)."""
    assert mapped_option_names() <= option_names()
    assert {"language", "task", "prompt", "num_speakers", "min_speakers", "max_speakers"} <= (
        mapped_option_names()
    )
