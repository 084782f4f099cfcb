"""`WorkerService`: this process's workers on the durable queue.

- `start()` registers the process heartbeat, runs recovery (before the first claim), then starts
  `workers` claim threads and one heartbeat thread.
- Claim threads sleep until `notify()` (an enqueue in this process) or the poll interval, claim
  the oldest queued job and hand it to the orchestrator.
- The heartbeat thread, every `heartbeat_interval_s` (lease/4 and worker timeout/5, between
  0.2 s and 15 s): refreshes the process heartbeat, renews the lease of every job running here (a
  rejected renewal means the job was taken away, so its work is stopped), and requeues orphans:
  `processing` rows whose lease expired or whose owner process is gone (silent for
  `TRANSCRIPTION_WORKER_TIMEOUT`, see `liveness`); the registry marks gone processes dead
  and prunes their rows `dead_retention_s` later.
- The watchdog thread never touches the database: once the last successful heartbeat or lease
  renewal is too old (`fence.Fence`), it stops the engine of every job running here (reason
  `cut_off`) before any other worker may recover them, so a worker cut off from the database
  never runs a job at the same time as the worker that took it over.
- The stall watch, about once a second: flags `processing` jobs whose owner process is gone as
  stalled (`jobs.EventType.TRANSCRIPTION_STALLED`) until recovery requeues them or the owner is
  heard from again (`check_stalls`).
- `stats()` and `processes()` describe the whole cluster (`queue.cluster`).
- An attempt that could neither read nor fetch its audio put its job back; the process then marks
  itself unhealthy (`WorkerRegistry.set_health`, one `worker.unhealthy` log line) and claims
  nothing until `audio_check` passes again (probed with backoff, up to `UNHEALTHY_RETRY_MAX_S`).
- `stop_canceled()` stops a job here that another process canceled (its signal, on PostgreSQL).
- `cancel()` applies the SPEC rules and returns what happened (it raises nothing for an unknown
  or finished job); `stop()` interrupts running jobs, which go back to `queued`
  (stage `recovered`) so the next start finishes them, and returns within its timeout.

In-memory state is only: wake events, the handles of jobs running here, and the stopping flag.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from scriberr.ids import new_id
from scriberr.jobs import (
    STAGE_PROGRESS,
    JobStatus,
    Stage,
    WorkerProcessView,
    job_event,
    stall_event,
)
from scriberr.logging_setup import log_event
from scriberr.orchestrator import AttemptResult, InterruptReason, JobHandle, Outcome
from scriberr.orchestrator.runner import SHUTDOWN_NOTE
from scriberr.persistence.job_log_repository import JobLogRepository
from scriberr.persistence.queue_repository import (
    AttemptInfo,
    CancelOutcome,
    CancelResult,
    ClaimedJob,
    ClaimRequest,
    QueueRepository,
)
from scriberr.persistence.worker_registry import WorkerRegistry, worker_id
from scriberr.queue.cluster import process_views, running_on_live_processes
from scriberr.queue.fence import Fence
from scriberr.queue.liveness import LivenessJudge, host_identity

_log = logging.getLogger("scriberr.queue")
STALL_CHECK_INTERVAL_S = 1.0

UNHEALTHY_RETRY_MIN_S = 1.0
UNHEALTHY_RETRY_MAX_S = 30.0
HealthCheck = Callable[[], str | None]  # None: healthy; else why not (one line)


class JobRunner(Protocol):
    """The part of `orchestrator.Orchestrator` the workers drive."""

    def describe(self, options: dict[str, Any]) -> AttemptInfo: ...

    def run(self, handle: JobHandle) -> AttemptResult: ...

    def settle(self, handle: JobHandle, result: AttemptResult, committed: bool) -> Outcome: ...

    def abandon(self, result: AttemptResult) -> None: ...


class EventSink(Protocol):
    def publish(
        self, type: str, user_id: str, data: dict[str, Any], transcription_id: str | None = None
    ) -> Any: ...


@dataclass(frozen=True)
class WorkerSettings:
    workers: int = 1
    poll_interval_s: float = 2.0
    lease_s: float = 600.0
    heartbeat_interval_s: float | None = None  # default: min(lease/4, timeout/5) in [0.2, 15] s
    worker_timeout_s: float = 30.0  # TRANSCRIPTION_WORKER_TIMEOUT
    dead_retention_s: float = 86400.0  # how long a dead process's row stays listed

    @property
    def heartbeat_interval(self) -> float:
        if self.heartbeat_interval_s is not None:
            return self.heartbeat_interval_s
        return min(15.0, max(0.2, min(self.lease_s / 4, self.worker_timeout_s / 5)))

    @property
    def heartbeat_timeout(self) -> float:
        """How old a process's heartbeat may get before it counts as dead (the worker
        timeout)."""
        return self.worker_timeout_s


class WorkerService:
    def __init__(
        self,
        *,
        repository: QueueRepository,
        orchestrator: JobRunner,
        job_logs: JobLogRepository,
        broker: EventSink,
        settings: WorkerSettings,
        process_id: str | None = None,
        registry: WorkerRegistry | None = None,
        audio_check: HealthCheck | None = None,
    ) -> None:
        self._repository = repository
        self._registry = registry or WorkerRegistry(repository.database)
        self._orchestrator = orchestrator
        self._job_logs = job_logs
        self._broker = broker
        self.settings = settings
        self.process_id = process_id or new_id("worker")
        self._host = host_identity()
        self._alive = LivenessJudge(
            own_process_id=self.process_id,
            heartbeat_timeout_s=settings.heartbeat_timeout,
            host=self._host,
        )
        self._fence = Fence(worker_timeout_s=settings.worker_timeout_s, lease_s=settings.lease_s)
        self._lock = threading.Lock()
        self._running: dict[str, JobHandle] = {}
        self._claims_sent: dict[str, float] = {}  # next job id -> when its claim was sent
        self._wakes = [threading.Event() for _ in range(settings.workers)]
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._started = False
        self._audio_check = audio_check
        self._unhealthy: str | None = None
        self._retry_s = UNHEALTHY_RETRY_MIN_S
        self._next_probe = 0.0

    # -- lifecycle --------------------------------------------------------------------------------

    @property
    def accepting(self) -> bool:
        """False once `stop()` began: new jobs are not accepted (their rows stay queued)."""
        return not self._stopping.is_set()

    @property
    def started(self) -> bool:
        return self._started

    def start(self) -> None:
        """Register the heartbeat, recover orphans, then start claiming."""
        if self._started:
            return
        self._started = True
        sent_at = self._fence.now()
        self._registry.register(self.process_id, self._host, os.getpid())
        self._fence.heartbeat_succeeded(sent_at)
        self.recover()
        threads = [
            threading.Thread(target=self._heartbeat_loop, name="scriberr-heartbeat"),
            threading.Thread(target=self._stall_watch_loop, name="scriberr-stall-watch"),
            threading.Thread(target=self._watchdog_loop, name="scriberr-watchdog"),
        ]
        threads += [
            threading.Thread(target=self._work_loop, args=(i,), name=f"scriberr-worker-{i}")
            for i in range(self.settings.workers)
        ]
        for thread in threads:
            thread.daemon = True
            thread.start()
        self._threads = threads
        log_event(
            _log,
            "workers.started",
            process_id=self.process_id,
            workers=self.settings.workers,
            poll_interval_s=self.settings.poll_interval_s,
            lease_s=self.settings.lease_s,
            heartbeat_interval_s=self.settings.heartbeat_interval,
            worker_timeout_s=self.settings.worker_timeout_s,
        )

    def notify(self) -> None:
        """Wake every idle worker now (call after an enqueue)."""
        for wake in self._wakes:
            wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop claiming, interrupt running jobs (they go back to `queued`), and return within
        about `timeout` seconds whatever the engines do."""
        if self._stopping.is_set():
            return
        deadline = time.monotonic() + max(0.0, timeout)
        self._stopping.set()
        self.notify()
        handles = self._handles()
        for handle in handles:
            handle.interrupt(InterruptReason.SHUTDOWN)
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        stragglers = self._handles()
        for handle in stragglers:  # the engine ignored the cancel: release the row ourselves
            self._safely(self._repository.release, handle.job, None, SHUTDOWN_NOTE)
        if self._started:
            self._safely(self._registry.unregister, self.process_id)
        log_event(
            _log,
            "workers.stopped",
            process_id=self.process_id,
            interrupted=len(handles),
            forced=len(stragglers),
        )

    # -- cancel and stats ---------------------------------------------------------------------------

    def cancel(self, transcription_id: str, user_id: str) -> CancelResult:
        """SPEC cancel rules: a queued or processing job of `user_id` is canceled (a job
        running here is stopped). The result's `outcome` says what happened: `canceled`,
        `not_found` (unknown or another user's job) or `terminal` (already finished; then
        `previous_status` says how); only `canceled` changes anything."""
        result = self._repository.cancel(transcription_id, user_id)
        if result.outcome != CancelOutcome.CANCELED:
            return result
        with self._lock:
            handle = self._running.get(transcription_id)
        if handle is not None:
            handle.interrupt(InterruptReason.CANCELED)
        where = "running here" if handle else result.previous_status
        self._safely(self._job_logs.append, transcription_id, "canceled on request")
        event = job_event(transcription_id, JobStatus.CANCELED, result.progress, Stage.CANCELED)
        self._broker.publish(event.type, user_id, event.data, transcription_id=transcription_id)
        log_event(
            _log,
            "job.canceled",
            transcription_id=transcription_id,
            user_id=user_id,
            previous_status=result.previous_status,
            previous_owner=result.previous_owner,
            where=where,
        )
        return result

    def stop_canceled(self, transcription_id: str, worker_id: str) -> bool:
        """Another process canceled a job: stop it now if `worker_id` runs it here (the row is
        already `canceled`); True if it did. Without this signal (SQLite, or the listener is
        down) its next progress write or lease renewal finds the row taken away and stops it."""
        with self._lock:
            handle = self._running.get(transcription_id)
        if handle is None or handle.job.worker_id != worker_id or handle.done.is_set():
            return False
        handle.interrupt(InterruptReason.CANCELED)
        return True

    def stats(self, user_id: str | None) -> dict[str, int]:
        """`queued, processing, completed, failed, canceled` from the database, plus `running`:
        this user's (everyone's for None) jobs held by a live worker process anywhere in the
        cluster right now."""
        counts = self._repository.stats(user_id)
        records, held = self._registry.overview(user_id)
        counts["running"] = running_on_live_processes(records, held, self._alive)
        return counts

    def processes(self) -> list[WorkerProcessView]:
        """Every registered worker process of the cluster, judged alive or dead by the rules
        queue recovery uses."""
        records, held = self._registry.overview()
        return process_views(records, held, self._alive)

    def running_ids(self) -> list[str]:
        with self._lock:
            return list(self._running)

    def wait_idle(self, timeout: float) -> bool:
        """Block until no job runs here (tests and graceful tooling); False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running_ids():
                return True
            time.sleep(0.01)
        return not self.running_ids()

    # -- recovery ------------------------------------------------------------------------------------

    def recover(self) -> int:
        """Requeue orphaned `processing` rows (dead owner or expired lease); returns how many."""
        recovered = self._repository.recover(self._alive)
        for job in recovered:
            self._safely(
                self._job_logs.append,
                job.id,
                "the worker running this job stopped; the job is queued again",
                level="warning",
                worker_id=self.process_id,
            )
            event = job_event(
                job.id, JobStatus.QUEUED, STAGE_PROGRESS[Stage.RECOVERED].start, Stage.RECOVERED
            )
            self._broker.publish(event.type, job.user_id, event.data, transcription_id=job.id)
            log_event(
                _log,
                "job.recovered",
                level=logging.WARNING,
                transcription_id=job.id,
                user_id=job.user_id,
                previous_owner=job.previous_owner,
                reason=job.reason,
                by=self.process_id,
            )
        if recovered:
            self.notify()
        return len(recovered)

    def check_stalls(self) -> int:
        """Flag the `processing` jobs whose worker went silent (judged like recovery judges
        owners) and unflag those whose worker is back; announce each change once
        (`jobs.stall_event`). Returns how many changed here."""
        changes = self._repository.mark_stalls(self._alive)
        for change in changes:
            event = stall_event(
                change.id, change.status, change.progress, change.stage, stalled=change.stalled
            )
            self._broker.publish(event.type, change.user_id, event.data, transcription_id=change.id)
            if change.stalled:
                self._safely(
                    self._job_logs.append,
                    change.id,
                    "the worker running this job went silent; the job will be queued again",
                    level="warning",
                    worker_id=self.process_id,
                )
            log_event(
                _log,
                "job.stalled" if change.stalled else "job.resumed",
                level=logging.WARNING if change.stalled else logging.INFO,
                transcription_id=change.id,
                user_id=change.user_id,
                owner=change.owner,
                by=self.process_id,
            )
        return len(changes)

    # -- threads ---------------------------------------------------------------------------------------

    def _work_loop(self, index: int) -> None:
        request = ClaimRequest(
            worker_id(self.process_id, index),
            self.settings.lease_s,
            self._orchestrator.describe,
        )
        wake = self._wakes[index]
        job: ClaimedJob | None = None
        sent_at = 0.0  # when the request that claimed `job` was sent (monotonic)
        while not self._stopping.is_set():
            if job is None and not self._ready_to_claim():
                self._stopping.wait(min(self.settings.poll_interval_s, UNHEALTHY_RETRY_MIN_S))
                continue
            if job is None:
                wake.clear()
                sent_at = self._fence.now()
                try:
                    job = self._repository.claim(
                        request.worker_id, request.lease_s, request.describe
                    )
                except Exception:
                    if self._repository.database.reachable:  # else it said so once already
                        _log.exception("claim failed", extra={"fields": {"event": "claim.error"}})
            if job is None:
                wake.wait(self.settings.poll_interval_s)
                continue
            job = self._run(JobHandle(job, renewed_at=sent_at), request)
            if job is not None:  # the next job, claimed together with the completion
                with self._lock:
                    sent_at = self._claims_sent.pop(job.id, self._fence.now())
        if job is not None:  # claimed just as we started stopping: give it back untouched
            self._safely(self._repository.release, job, job.attempt, SHUTDOWN_NOTE)

    def _run(self, handle: JobHandle, request: ClaimRequest) -> ClaimedJob | None:
        """Run one claimed job to its end state; a completed job is stored here together with
        the claim of this worker's next job (returned), unless the job was interrupted."""
        job = handle.job
        with self._lock:
            self._running[job.id] = handle
        log_event(
            _log,
            "job.claimed",
            transcription_id=job.id,
            user_id=job.user_id,
            worker_id=job.worker_id,
            lease_until=job.claim_expires_at.isoformat(),
        )
        if self._stopping.is_set():
            handle.interrupt(InterruptReason.SHUTDOWN)
        try:
            result = self._orchestrator.run(handle)
            if result.unavailable is not None:
                self._mark_unhealthy(result.unavailable)
            return self._complete(handle, result, request)
        except Exception:
            if self._repository.database.reachable:
                _log.exception(
                    "job crashed the worker loop", extra={"fields": {"transcription_id": job.id}}
                )
            return None
        finally:
            with self._lock:
                self._running.pop(job.id, None)
            handle.done.set()

    def _complete(
        self, handle: JobHandle, result: AttemptResult, request: ClaimRequest
    ) -> ClaimedJob | None:
        completion = result.completion
        if completion is None:
            return None
        sent_at = self._fence.now()
        try:
            committed, next_job = self._repository.complete_and_claim(
                handle.job,
                completion.attempt,
                transcript_json=completion.transcript_json,
                language=completion.language,
                output_path=completion.output_path,
                log_lines=completion.log_lines,
                next_claim=None if handle.reason else request,
            )
        except BaseException:
            self._orchestrator.abandon(result)
            raise
        self._orchestrator.settle(handle, result, committed)
        if next_job is not None:
            with self._lock:
                self._claims_sent[next_job.id] = sent_at
        return next_job

    def _heartbeat_loop(self) -> None:
        interval = self.settings.heartbeat_interval
        while not self._stopping.wait(interval):
            self._safely(self._beat)
            self._safely(self._renew_leases)
            self._safely(self.recover)

    def _stall_watch_loop(self) -> None:
        """Check for silent workers about once a second (more often with a short heartbeat), so
        a stall shows before the next recovery pass requeues the job."""
        interval = min(STALL_CHECK_INTERVAL_S, self.settings.heartbeat_interval)
        while not self._stopping.wait(interval):
            self._safely(self.check_stalls)

    def _beat(self) -> None:
        """Refresh this process's heartbeat; the registry marks dead processes and prunes the
        rows of those dead for longer than the retention. While unhealthy, the reason is written
        again (a row registered anew starts healthy)."""
        sent_at = self._fence.now()
        self._registry.heartbeat(
            self.process_id,
            self._host,
            os.getpid(),
            self._alive,
            retention_s=self.settings.dead_retention_s,
        )
        self._fence.heartbeat_succeeded(sent_at)
        reason = self.unhealthy_reason
        if reason is not None:
            self._registry.set_health(self.process_id, reason)

    def _renew_leases(self) -> None:
        for handle in self._handles():
            job = handle.job
            sent_at = self._fence.now()
            if self._repository.renew(job.id, job.worker_id, self.settings.lease_s):
                handle.renewed_at = max(handle.renewed_at, sent_at)
                log_event(_log, "lease.renewed", level=logging.DEBUG, transcription_id=job.id)
            elif not handle.done.is_set():
                handle.interrupt(InterruptReason.LOST)
                log_event(
                    _log,
                    "lease.lost",
                    level=logging.WARNING,
                    transcription_id=job.id,
                    worker_id=job.worker_id,
                )

    def _watchdog_loop(self) -> None:
        """Stop every job whose heartbeat or lease could not be renewed in time (`Fence`).
        It only reads memory and the monotonic clock: a hung database call cannot delay it."""
        while not self._stopping.wait(self._fence.check_interval):
            for handle in self._handles():
                if handle.reason is not None or handle.done.is_set():
                    continue
                if self._fence.expired(handle.renewed_at):
                    handle.interrupt(InterruptReason.CUT_OFF)
                    log_event(
                        _log,
                        "job.cut_off",
                        level=logging.WARNING,
                        transcription_id=handle.job.id,
                        worker_id=handle.job.worker_id,
                        since_heartbeat_s=round(self._fence.since_heartbeat(), 3),
                        since_lease_renewal_s=round(self._fence.now() - handle.renewed_at, 3),
                        worker_timeout_s=self.settings.worker_timeout_s,
                    )

    # -- health ------------------------------------------------------------------------------------

    @property
    def unhealthy_reason(self) -> str | None:
        with self._lock:
            return self._unhealthy

    def _mark_unhealthy(self, reason: str) -> None:
        """Stop claiming until the audio check passes; say why once (one line)."""
        with self._lock:
            first = self._unhealthy is None
            if first:
                self._unhealthy = reason
                self._retry_s = UNHEALTHY_RETRY_MIN_S
            self._next_probe = time.monotonic() + self._retry_s
        if first:
            self._safely(self._registry.set_health, self.process_id, reason)
            log_event(
                _log, "worker.unhealthy", level=logging.WARNING, process_id=self.process_id,
                reason=reason,
            )  # fmt: skip

    def _ready_to_claim(self) -> bool:
        """True while healthy. While unhealthy, one thread at a time probes `audio_check` once
        its backoff has passed; success makes the process healthy again."""
        with self._lock:
            if self._unhealthy is None:
                return True
            now = time.monotonic()
            if now < self._next_probe or self._audio_check is None:
                return False
            self._retry_s = min(UNHEALTHY_RETRY_MAX_S, self._retry_s * 2)
            self._next_probe = now + self._retry_s
        try:
            reason = self._audio_check()
        except Exception:
            _log.exception("audio check failed", extra={"fields": {"event": "queue.error"}})
            return False
        if reason is not None:
            return False
        with self._lock:
            self._unhealthy = None
        self._safely(self._registry.set_health, self.process_id, None)
        log_event(_log, "worker.healthy", process_id=self.process_id)
        return True

    def _handles(self) -> list[JobHandle]:
        with self._lock:
            return list(self._running.values())

    def _safely(self, function: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except Exception:
            if self._repository.database.reachable:  # else `db.unreachable` said it once
                _log.exception(
                    "queue housekeeping failed", extra={"fields": {"event": "queue.error"}}
                )
            return None
