"""`Fence`: when a process must stop its own jobs, from its monotonic clock alone."""

from __future__ import annotations

import pytest

from scriberr.config import load_config
from scriberr.queue.fence import FENCE_FRACTION, Fence
from scriberr.queue.service import WorkerSettings


class Ticker:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_fence_closes_at_three_quarters_of_the_worker_timeout_after_the_last_heartbeat() -> (
    None
):
    clock = Ticker()
    fence = Fence(worker_timeout_s=30, lease_s=600, clock=clock)
    claimed = clock.now
    clock.now += 22.4
    assert not fence.expired(claimed)
    fence.heartbeat_succeeded(clock.now - 0.1)  # a heartbeat sent 0.1 s ago was stored
    clock.now += 22.3
    assert not fence.expired(claimed)
    clock.now += 0.1
    assert fence.expired(claimed)  # 22.5 s after the last heartbeat was *sent*
    assert fence.since_heartbeat() == pytest.approx(22.5)
    fence.heartbeat_succeeded(claimed)  # an older success never moves the fence back
    assert fence.expired(claimed)


def test_a_lease_shorter_than_the_timeout_closes_the_fence_first() -> None:
    clock = Ticker()
    fence = Fence(worker_timeout_s=30, lease_s=4, clock=clock)
    renewed = clock.now
    clock.now += 4 * FENCE_FRACTION - 0.01
    assert not fence.expired(renewed)
    clock.now += 0.01
    assert fence.expired(renewed)
    assert not fence.expired(clock.now)  # a job whose lease was just renewed


def test_worker_timeout_setting_and_derived_heartbeat() -> None:
    assert load_config({}).worker_timeout_s == 30.0
    assert load_config({"TRANSCRIPTION_WORKER_TIMEOUT": "3s"}).worker_timeout_s == 3.0
    default = WorkerSettings()
    assert default.heartbeat_timeout == 30.0
    assert default.heartbeat_interval == 6.0  # a fifth of the timeout: 3+ beats before the fence
    assert WorkerSettings(worker_timeout_s=3).heartbeat_interval == pytest.approx(0.6)
    assert WorkerSettings(lease_s=8).heartbeat_interval == 2.0  # a quarter of a short lease
