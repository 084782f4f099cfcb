"""Read a transcript as stored in a job row, whatever its age (SPEC §4 "older rows must still render").

- None or empty → `{text: "", segments: [], words: []}`.
- Plain text (not JSON, or JSON that is not an object) → `{text, segments: [], words: []}`.
- A JSON object → kept as it is, with `segments`/`words` forced to lists (missing or null → `[]`)
  and `text` filled from the segments when it is missing.
"""

from __future__ import annotations

import json
from typing import Any


def _as_list(value: Any) -> list[Any]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def parse_stored(raw: str | None) -> dict[str, Any]:
    """The canonical-shaped dict for any stored transcript form."""
    if raw is None or not raw.strip():
        return {"text": "", "segments": [], "words": []}
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        return {"text": raw.strip(), "segments": [], "words": []}
    transcript = dict(parsed)
    transcript["segments"] = _as_list(parsed.get("segments"))
    transcript["words"] = _as_list(parsed.get("words"))
    if not isinstance(parsed.get("text"), str):
        transcript["text"] = " ".join(
            str(segment.get("text", "")).strip() for segment in transcript["segments"]
        ).strip()
    return transcript
