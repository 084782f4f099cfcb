"""What a cancel signal from another process does here (`WorkerService.stop_canceled`), with the
orchestrator and the fake engine in one process: only the named worker's attempt of the job is
stopped, at once, and it ends as canceled without writing anything more."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from scriberr.bootstrap import Core, build_core
from scriberr.engine.fake import fake_registry
from tests.queue.helpers import config_for, enqueue, seed_file, seed_user, wait_for


@pytest.fixture
def core(data_dir: Path) -> Iterator[Core]:
    core = build_core(config_for(data_dir), providers=fake_registry())
    yield core
    core.close(timeout=5)


def test_a_cancel_signal_stops_only_the_named_workers_attempt(core: Core, data_dir: Path) -> None:
    user = seed_user(core.database)
    job_id = enqueue(
        core.queue, user, seed_file(core.database, data_dir, user, {"delay_s": 60, "steps": 1})
    )
    core.start()
    core.workers.notify()
    wait_for(lambda: core.queue.state(job_id).progress_stage == "transcribing")  # type: ignore[union-attr]
    state = core.queue.state(job_id)
    assert state is not None and state.claimed_by is not None
    assert not core.workers.stop_canceled(job_id, "worker_elsewhere/0")  # not ours
    assert not core.workers.stop_canceled("tr_unknown", state.claimed_by)
    assert job_id in core.workers.running_ids()
    # another process canceled it (its transaction), then its signal arrives here
    core.queue.cancel(job_id, user)
    started = time.monotonic()
    assert core.workers.stop_canceled(job_id, state.claimed_by)
    wait_for(lambda: job_id not in core.workers.running_ids(), timeout=2.0)
    assert time.monotonic() - started < 2.0
    after = core.queue.state(job_id)
    assert after is not None and (after.status, after.claimed_by) == ("canceled", None)
    assert [e.status for e in core.queue.list_executions(job_id, user)] == ["canceled"]
