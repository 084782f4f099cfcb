"""The orchestrator: runs one claimed job through its stages (prepare, transcribe, diarize, merge,
save), reporting progress, writing the execution row, the transcript and the public job log."""

from scriberr.orchestrator.handle import InterruptReason, JobHandle
from scriberr.orchestrator.runner import (
    Orchestrator,
    OrchestratorPaths,
    Outcome,
    ProviderLookup,
)

__all__ = [
    "InterruptReason",
    "JobHandle",
    "Orchestrator",
    "OrchestratorPaths",
    "Outcome",
    "ProviderLookup",
]
