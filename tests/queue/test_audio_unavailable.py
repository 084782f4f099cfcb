"""A worker process that can neither read nor fetch a job's audio (in one process, fake engine).

`scriberr worker` (`worker_only`) puts the job back instead of failing it, closes the attempt's
execution as `canceled` with the reason, marks its process unhealthy once (registry row and one
log line), claims nothing while its audio check fails, and takes jobs again once it passes. The
server's own workers (`scriberr serve`) still fail a job whose file is missing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from scriberr.bootstrap import Core
from scriberr.engine.fake import fake_registry
from scriberr.persistence.worker_registry import WorkerRegistry
from tests.queue.helpers import config_for, enqueue, seed_file, seed_user, wait_for
from tests.support.cores import test_core


@pytest.fixture
def make(data_dir: Path) -> Iterator[list[Core]]:
    built: list[Core] = []
    yield built
    for core in built:
        core.close(timeout=5)


def _core(built: list[Core], data_dir: Path, *, worker_only: bool) -> Core:
    core = test_core(config_for(data_dir), providers=fake_registry(), worker_only=worker_only)
    built.append(core)
    return core


def _missing_job(core: Core, data_dir: Path) -> tuple[str, str]:
    user = seed_user(core.database)
    file_id = seed_file(core.database, data_dir, user)
    for path in (data_dir / "uploads" / file_id).iterdir():
        path.unlink()  # the row says it is stored; this process cannot see it
    return user, enqueue(core.queue, user, file_id)


def _reason(core: Core) -> str | None:
    [row] = [
        p for p in WorkerRegistry(core.database).processes() if p.id == core.workers.process_id
    ]
    return row.unhealthy_reason


@pytest.mark.slow
def test_a_worker_process_puts_the_job_back_and_reports_unhealthy(
    make: list[Core], data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    core = _core(make, data_dir, worker_only=True)
    user, job_id = _missing_job(core, data_dir)
    checks: list[str | None] = []
    answer: list[str | None] = ["still no audio here"]

    def check() -> str | None:
        checks.append(answer[0])
        return answer[0]

    core.workers._audio_check = check  # the real checks (server, uploads dir) are tested e2e
    with caplog.at_level(logging.INFO, logger="scriberr"):
        core.start()
        wait_for(lambda: core.workers.unhealthy_reason is not None, timeout=20)
        wait_for(lambda: len(checks) >= 2, timeout=20)  # it re-checks, with backoff

        state = core.queue.state(job_id)
        assert state is not None and state.status == "queued"
        reason = core.workers.unhealthy_reason
        assert reason is not None and "SCRIBERR_SERVER_URL is not set" in reason
        assert _reason(core) == reason
        [execution] = core.queue.list_executions(job_id, user)  # not claimed again meanwhile
        assert execution.status == "canceled"
        assert execution.error == "this worker could neither read nor fetch the audio"
        assert core.queue.stats(user)["failed"] == 0
        said = [r for r in caplog.records if r.getMessage() == "worker.unhealthy"]
        assert len(said) == 1
        assert said[0].fields["reason"] == reason  # type: ignore[attr-defined]
        log_text = core.transcriptions.logs(user, job_id)
        assert "could neither read nor fetch the audio; the job is queued again" in log_text
        assert str(data_dir) not in log_text and str(data_dir) not in reason

        # The audio is readable again and the check passes: the process takes jobs again.
        [folder] = (data_dir / "uploads").iterdir()
        (folder / "audio.json").write_text('{"fake": {}}')
        answer[0] = None
        wait_for(lambda: core.queue.stats(user)["completed"] == 1, timeout=60)
        assert core.workers.unhealthy_reason is None and _reason(core) is None
        assert [r.getMessage() for r in caplog.records].count("worker.healthy") == 1
        assert [r.getMessage() for r in caplog.records].count("worker.unhealthy") == 1


def test_the_servers_own_workers_still_fail_a_job_whose_file_is_gone(
    make: list[Core], data_dir: Path
) -> None:
    core = _core(make, data_dir, worker_only=False)
    user, job_id = _missing_job(core, data_dir)
    core.start()
    wait_for(lambda: core.queue.stats(user)["failed"] == 1, timeout=20)
    state = core.queue.state(job_id)
    assert state is not None and state.status == "failed"
    assert core.workers.unhealthy_reason is None and _reason(core) is None
