"""OpenAI's audio response shapes, built from a canonical transcript (SPEC §4).

Pure functions: `verbose_json`, `diarized_json`, the streaming events (`transcript.text.delta`,
`transcript.text.done`) and the model objects of `/v1/models`. No I/O, no web framework.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from typing import Any

OPENAI_DEFAULT_MODEL = "whisper-1"
# Model names OpenAI clients send that mean "the server's default transcription model".
DEFAULT_MODEL_ALIASES = frozenset(
    {
        OPENAI_DEFAULT_MODEL,
        "gpt-4o-transcribe",
        "gpt-4o-mini-transcribe",
        "gpt-4o-transcribe-diarize",
    }
)
MODEL_OWNER = "scriberr"


def _float(value: Any, default: float = 0.0) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def verbose_json(
    transcript: Mapping[str, Any], granularities: Sequence[str], *, task: str
) -> dict[str, Any]:
    """`verbose_json`: task, language, duration, text, segments and/or words, with confidence."""
    body: dict[str, Any] = {
        "task": task,
        "language": transcript.get("language") or "",
        "duration": _float(transcript.get("duration")),
        "text": str(transcript.get("text") or "").strip(),
    }
    if not granularities or "segment" in granularities:
        body["segments"] = [
            {
                "id": index,
                "seek": 0,
                "start": _float(segment.get("start")),
                "end": _float(segment.get("end")),
                "text": str(segment.get("text") or ""),
                "tokens": [],
                "temperature": _float(segment.get("temperature")),
                "avg_logprob": _float(segment.get("avg_logprob")),
                "compression_ratio": _float(segment.get("compression_ratio")),
                "no_speech_prob": _float(segment.get("no_speech_prob")),
                **({"speaker": segment["speaker"]} if segment.get("speaker") else {}),
            }
            for index, segment in enumerate(transcript.get("segments") or [])
        ]
    if "word" in granularities:
        body["words"] = [
            {
                "word": str(word.get("word") or ""),
                "start": _float(word.get("start")),
                "end": _float(word.get("end")),
                **(
                    {"probability": _float(word["probability"])}
                    if word.get("probability") is not None
                    else {}
                ),
            }
            for word in transcript.get("words") or []
        ]
    return body


def speaker_display_names(
    transcript: Mapping[str, Any], known_speaker_names: Sequence[str]
) -> dict[str, str]:
    """Label → the name OpenAI's `diarized_json` shows, for every label in the transcript.

    Speakers are taken in order of first appearance. The n-th gets `known_speaker_names[n]` when
    the client sent one, else the name the user gave that speaker, else a letter (`A`, `B`, …).
    """
    user_names: dict[str, str] = {}
    for entry in transcript.get("speakers") or []:
        if isinstance(entry, Mapping) and entry.get("label") and entry.get("name"):
            user_names[str(entry["label"])] = str(entry["name"])
    order: list[str] = []
    for segment in transcript.get("segments") or []:
        label = segment.get("speaker")
        if label and label not in order:
            order.append(str(label))
    names: dict[str, str] = {}
    for index, label in enumerate(order):
        if index < len(known_speaker_names):
            names[label] = known_speaker_names[index]
        elif label in user_names:
            names[label] = user_names[label]
        else:
            names[label] = _letter_name(index)
    return names


def _letter_name(index: int) -> str:
    letters = string.ascii_uppercase
    name = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, len(letters))
        name = letters[remainder] + name
    return name


def diarized_json(
    transcript: Mapping[str, Any], known_speaker_names: Sequence[str]
) -> dict[str, Any]:
    """`diarized_json`: the text plus speaker segments, as `gpt-4o-transcribe-diarize` answers."""
    names = speaker_display_names(transcript, known_speaker_names)
    duration = _float(transcript.get("duration"))
    segments = []
    for index, segment in enumerate(transcript.get("segments") or []):
        label = segment.get("speaker")
        segments.append(
            {
                "type": "transcript.text.segment",
                "id": str(segment.get("id") or f"seg_{index:06d}"),
                "start": _float(segment.get("start")),
                "end": _float(segment.get("end")),
                "text": str(segment.get("text") or "").strip(),
                "speaker": names.get(str(label), _letter_name(0)) if label else _letter_name(0),
            }
        )
    return {
        "task": "transcribe",
        "duration": duration,
        "text": str(transcript.get("text") or "").strip(),
        "segments": segments,
        "usage": {"type": "duration", "seconds": duration},
    }


def text_delta(delta: str) -> dict[str, Any]:
    return {"type": "transcript.text.delta", "delta": delta}


def text_done(text: str) -> dict[str, Any]:
    return {"type": "transcript.text.done", "text": text}


def segment_delta_text(segment: Mapping[str, Any], first: bool) -> str:
    """A segment's text as one delta: deltas concatenated equal the transcript's `text`."""
    text = str(segment.get("text") or "").strip()
    return text if first else " " + text


def model_object(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": 0, "owned_by": MODEL_OWNER}


def model_list(model_ids: Sequence[str]) -> dict[str, Any]:
    return {"object": "list", "data": [model_object(model_id) for model_id in model_ids]}


def openai_error_type(status: int) -> str:
    """OpenAI's error `type` for an HTTP status."""
    if status == 401:
        return "authentication_error"
    if status == 403:
        return "permission_error"
    if status == 404:
        return "not_found_error"
    if status == 429:
        return "rate_limit_error"
    if status >= 500:
        return "server_error"
    return "invalid_request_error"
