"""The domain module: statuses, stages, options and event payloads defined once (SPEC §3)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from scriberr.api.job_schemas import JobOptionsIn
from scriberr.jobs import (
    STAGE_PROGRESS,
    TERMINAL_STATUSES,
    EventType,
    JobOptions,
    JobStatus,
    OptionError,
    Stage,
    clean_partial,
    is_terminal,
    job_event,
    option_names,
    state_event_type,
)


@dataclass(frozen=True)
class _Model:
    id: str
    capabilities: tuple[str, ...]
    languages: tuple[str, ...]


class _Catalog:
    def transcription_models(self) -> list[_Model]:
        return [
            _Model("multi", ("transcribe", "translate"), ("en", "de", "fr")),
            _Model("tiny.en", ("transcribe",), ("en",)),
        ]


DEFAULTS = JobOptions.defaults("tiny.en")


def test_stored_status_and_stage_values_are_the_contracts() -> None:
    assert [s.value for s in JobStatus] == [
        "queued",
        "processing",
        "completed",
        "failed",
        "canceled",
    ]
    assert {s.value for s in TERMINAL_STATUSES} == {"completed", "failed", "canceled"}
    assert is_terminal("failed") and not is_terminal("processing")
    ranges = {stage.value: (r.start, r.end) for stage, r in STAGE_PROGRESS.items()}
    assert ranges == {
        "queued": (0.0, 0.0),
        "preparing": (0.05, 0.05),
        "transcribing": (0.20, 0.70),
        "diarizing": (0.70, 0.85),
        "merging": (0.85, 0.85),
        "saving": (0.95, 0.95),
        "completed": (1.0, 1.0),
        "recovered": (0.0, 0.0),
    }
    assert STAGE_PROGRESS[Stage.TRANSCRIBING].at(0.5) == pytest.approx(0.45)
    assert STAGE_PROGRESS[Stage.TRANSCRIBING].at(7) == pytest.approx(0.70)  # clamped


def test_request_over_profiles_over_defaults_and_the_stored_form() -> None:
    options = JobOptions.from_request(
        {"language": " DE ", "prompt": "  "},
        defaults=DEFAULTS,
        catalog=_Catalog(),
        layers=[{"model": "multi", "diarization": True}, {"task": "translate"}],
    )
    assert options.to_stored() == {
        "model": "multi",
        "language": "de",
        "task": "translate",
        "diarization": True,
        "num_speakers": None,
        "min_speakers": None,
        "max_speakers": None,
        "prompt": None,
        "hotwords": None,
        "beam_size": None,
        "temperature": None,
        "vad": True,
        "vad_min_silence_ms": None,
        "condition_on_previous_text": True,
    }
    assert JobOptions.from_stored(options.to_stored(), DEFAULTS) == options


def test_stored_options_are_read_leniently() -> None:
    read = JobOptions.from_stored(
        {"task": "dance", "num_speakers": "3", "diarization": 1, "old_key": True}, DEFAULTS
    )
    assert (read.model, read.task, read.num_speakers, read.diarization) == (
        "tiny.en",
        "transcribe",
        None,
        True,
    )
    assert read.detected_language


@pytest.mark.parametrize(
    ("raw", "field", "malformed"),
    [
        ({"colour": "red"}, "options.colour", True),
        ({"diarization": "yes"}, "options.diarization", True),
        ({"num_speakers": True}, "options.num_speakers", True),
        ({"num_speakers": 51}, "options.num_speakers", False),
        ({"task": "summarise"}, "options.task", False),
        ({"model": "  "}, "options.model", False),
        ({"prompt": "x" * 4001}, "options.prompt", False),
    ],
)
def test_bad_values_name_the_field_and_say_whether_malformed(
    raw: dict[str, object], field: str, malformed: bool
) -> None:
    with pytest.raises(OptionError) as raised:
        clean_partial(raw)
    assert (raised.value.field, raised.value.malformed) == (field, malformed)


@pytest.mark.parametrize(
    ("request_options", "field"),
    [
        ({"model": "whisper-huge"}, "model"),
        ({"language": "de"}, "language"),  # tiny.en is English-only
        ({"task": "translate"}, "task"),
        ({"min_speakers": 3, "max_speakers": 2}, "min_speakers"),
        ({"num_speakers": 5, "max_speakers": 2}, "num_speakers"),
    ],
)
def test_the_catalog_check(request_options: dict[str, object], field: str) -> None:
    with pytest.raises(OptionError) as raised:
        JobOptions.from_request(request_options, defaults=DEFAULTS, catalog=_Catalog(), prefix="")
    assert raised.value.field == field and not raised.value.malformed


def test_the_api_schema_is_derived_from_the_option_fields() -> None:
    assert set(JobOptionsIn.model_fields) == option_names()
    schema = JobOptionsIn.model_json_schema()["properties"]
    assert schema["num_speakers"]["anyOf"][0] == {"type": "integer", "minimum": 1, "maximum": 50}
    assert schema["task"]["anyOf"][0]["enum"] == ["transcribe", "translate"]


def test_job_events_have_one_shape() -> None:
    done = job_event("tr_1", JobStatus.COMPLETED, 1, Stage.COMPLETED)
    assert done.type == EventType.TRANSCRIPTION_COMPLETED == "transcription.completed"
    assert done.data == {"id": "tr_1", "status": "completed", "progress": 1.0, "stage": "completed"}
    failed = job_event("tr_1", "failed", 0.333333, "failed", error="boom")
    assert failed.type == "transcription.failed"
    assert failed.data["progress"] == 0.3333 and failed.data["error"] == "boom"
    assert state_event_type("queued") == EventType.TRANSCRIPTION_PROGRESS
    assert state_event_type("canceled") == "transcription.canceled"
