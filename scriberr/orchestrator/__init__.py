"""The orchestrator: runs one claimed job through its stages (prepare, transcribe, diarize, merge,
save), reporting progress, writing the execution row, the transcript and the public job log."""

from scriberr.orchestrator.handle import InterruptReason, JobHandle
from scriberr.orchestrator.runner import (
    AttemptResult,
    Completion,
    Orchestrator,
    Outcome,
    ProviderLookup,
)

__all__ = [
    "AttemptResult",
    "Completion",
    "InterruptReason",
    "JobHandle",
    "Orchestrator",
    "Outcome",
    "ProviderLookup",
]
