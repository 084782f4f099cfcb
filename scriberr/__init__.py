"""Scriberr: a self-hosted, privacy-first transcription server.

Data flows `api → services → queue (workers) → orchestrator → engine`; `bootstrap` wires them.
"""

__version__ = "0.1.0"
