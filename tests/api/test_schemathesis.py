"""Property-based API fuzzing: Schemathesis generates requests from the served OpenAPI schema and
every response must be a non-5xx that does not reveal the data directory (authenticated with an
API key, against the fake engine).

Path parameters are swapped for IDs that exist (a file, a completed transcription, a profile, a
spare API key) in about half of the cases, so handlers get past their 404s. Bounded: a few valid
and a few invalid examples per operation, no deadline, no shrinking. Streaming routes (SSE) are
left out because a valid request to them never ends by design.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from scriberr.api.app import create_app

from .conftest import SAMPLE, create_api_key, register, upload

_STREAMING = r"/events$"
_EXAMPLES = 8


@pytest.fixture
def fuzz_target(core: Any) -> dict[str, Any]:
    """The app with one user, an API key and one of each resource."""
    app = create_app(core)
    with TestClient(app) as client:
        account = register(client)
        key = create_api_key(client, account)["key"]
        spare = create_api_key(client, account, "spare")["id"]
        file_id = upload(client, account.headers, SAMPLE).json()["id"]
        job = client.post(
            "/api/v1/transcriptions", json={"file_id": file_id}, headers=account.headers
        ).json()["id"]
        profile = client.post(
            "/api/v1/profiles", json={"name": "fuzz"}, headers=account.headers
        ).json()["id"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            status = client.get(f"/api/v1/transcriptions/{job}", headers=account.headers)
            if status.json()["status"] == "completed":
                break
            time.sleep(0.05)
    known = {"file_id": file_id, "transcription_id": job, "profile_id": profile, "key_id": spare}
    return {"app": app, "key": key, "known": known, "data_dir": str(core.config.data_dir)}


def _operations(app: Any) -> list[Any]:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app).exclude(path_regex=_STREAMING)
    return [result.ok() for result in schema.get_all_operations()]


def _with_known_ids(strategy: Any, known: dict[str, str]) -> Any:
    def substitute(pair: tuple[Any, bool]) -> Any:
        case, use_known = pair
        if use_known and case.path_parameters:
            for name in case.path_parameters:
                if name in known:
                    case.path_parameters[name] = known[name]
        return case

    return st.tuples(strategy, st.booleans()).map(substitute)


@pytest.mark.slow
def test_no_server_errors(fuzz_target: dict[str, Any]) -> None:
    headers = {"Authorization": f"Bearer {fuzz_target['key']}"}
    data_dir = fuzz_target["data_dir"]
    operations = _operations(fuzz_target["app"])
    assert len(operations) >= 20
    failures: list[str] = []
    # Deletions last, so the other operations still find the known resources.
    operations.sort(key=lambda op: op.method.upper() == "DELETE")
    plan = [(op, mode) for op in operations for mode in GenerationMode]
    for operation, mode in plan:
        strategy = _with_known_ids(
            operation.as_strategy(generation_mode=mode), fuzz_target["known"]
        )

        @given(case=strategy)
        @settings(
            max_examples=_EXAMPLES,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def exercise(case: Any) -> None:
            response = case.call(headers=headers)
            case.validate_response(response, checks=[not_a_server_error])
            assert data_dir.encode() not in response.content, "a response revealed the data dir"

        try:
            exercise()
        except Unsatisfiable:
            continue  # no invalid input exists (an operation without parameters)
        except Exception as error:
            failures.append(f"{operation.label} ({mode.value}): {str(error)[:2000]}")
    assert not failures, "\n\n".join(failures)
