"""The orchestrator: runs one claimed job through its stages (prepare, transcribe, diarize, merge,
save), reporting progress, writing the execution row, the transcript and the public job log."""
