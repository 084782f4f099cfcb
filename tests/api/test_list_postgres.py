"""The listing queries (prepared statements, options read as JSON text, Core reads) on a real
PostgreSQL server this test starts itself: filters, keyset paging, API-key authentication and the
single-item route agree with the list."""

from __future__ import annotations

from pathlib import Path

import pytest

from scriberr.api.routes.transcriptions import TranscriptionOut
from tests.support.postgres import postgres_server, unavailable_reason

from .jobs_support import make_env

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason())),
]


def test_transcription_listing_on_postgresql(tmp_path: Path) -> None:
    with postgres_server() as url, make_env(tmp_path, SCRIBERR_DATABASE_URL=url) as env:
        file_id = env.fake_file()
        created = [
            env.create(file_id, title=title, options={"language": "en"})["id"]
            for title in ("beta", "alpha", "gamma")
        ]
        jobs = {job_id: env.wait(job_id) for job_id in created}
        _, other_headers = env.second_user()
        key = env.client.post("/api/v1/api-keys", json={"name": "pg"}, headers=env.headers)
        api_headers = {"X-API-Key": key.json()["key"]}

        listed = env.client.get("/api/v1/transcriptions?limit=100", headers=api_headers).json()
        assert [item["id"] for item in listed["items"]] == created[::-1]  # newest first
        assert listed["next_cursor"] is None
        for item in listed["items"]:
            assert TranscriptionOut.model_validate(item).model_dump(mode="json") == item
            assert item == jobs[item["id"]]
            assert item["options"]["language"] == "en"
            assert item["duration_seconds"] == 6.0

        titles: list[str] = []
        path = "/api/v1/transcriptions?limit=1&sort=-title"
        while path:
            page = env.client.get(path, headers=env.headers).json()
            titles += [item["title"] for item in page["items"]]
            cursor = page["next_cursor"]
            path = f"/api/v1/transcriptions?limit=1&sort=-title&cursor={cursor}" if cursor else ""
        assert titles == ["gamma", "beta", "alpha"]

        searched = env.client.get("/api/v1/transcriptions?q=ALP", headers=env.headers).json()
        assert [item["title"] for item in searched["items"]] == ["alpha"]
        status = jobs[created[0]]["status"]
        by_status = env.client.get(
            f"/api/v1/transcriptions?status={status},queued", headers=env.headers
        ).json()
        expected = sorted(job for job, body in jobs.items() if body["status"] == status)
        assert sorted(item["id"] for item in by_status["items"]) == expected
        foreign = env.client.get("/api/v1/transcriptions", headers=other_headers).json()
        assert foreign["items"] == []

        files = env.client.get("/api/v1/files", headers=env.headers).json()
        assert [item["id"] for item in files["items"]] == [file_id]
