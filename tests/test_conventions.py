"""One way to do each thing: message style, title rule, sanitiser, data-dir layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from scriberr.layout import DataLayout
from scriberr.public_text import public_text, sanitize
from scriberr.services.errors import InvalidRequest, NotFound, Unprocessable, option_error
from scriberr.services.titles import clean_title


@pytest.mark.parametrize(
    ("raw", "field", "styled"),
    [
        ("transcription not found", None, "Transcription not found."),
        ("File not found.", None, "File not found."),
        ("title must be a string", "title", "title must be a string."),
        ("num_speakers must be an integer", "options.num_speakers", "num_speakers must be an integer."),
        ("Idempotency-Key must be 1-255 characters.", "Idempotency-Key", "Idempotency-Key must be 1-255 characters."),
    ],
)  # fmt: skip
def test_every_service_error_message_has_one_style(
    raw: str, field: str | None, styled: str
) -> None:
    assert NotFound(raw, field=field).message == styled


def test_option_errors_map_to_400_or_422_with_the_same_style() -> None:
    from scriberr.jobs import OptionError

    malformed = option_error(OptionError("unknown option 'x'", field="options.x", malformed=True))
    assert isinstance(malformed, InvalidRequest) and malformed.message == "Unknown option 'x'."
    assert isinstance(option_error(OptionError("no", field="options.task")), Unprocessable)


def test_one_title_rule() -> None:
    assert clean_title("  Board \n meeting\x07 ") == "Board meeting"
    assert clean_title("   ") is None and clean_title(None) is None
    with pytest.raises(InvalidRequest):
        clean_title(42)
    with pytest.raises(Unprocessable) as raised:
        clean_title("x" * 501)
    assert raised.value.field == "title" and raised.value.status == 422


def test_one_sanitiser() -> None:
    assert sanitize("open /srv/data/uploads/a.wav failed\ntrace") == "open [path] failed"
    assert public_text(None) is None and public_text("") == ""
    assert public_text("token=hf_abcdefghijkl") == "token=[redacted]"


def test_the_data_dir_layout_stores_relative_paths(tmp_path: Path) -> None:
    layout = DataLayout(tmp_path)
    stored = layout.relative(layout.transcript_file("tr_1"))
    assert stored == "transcripts/tr_1/transcript.json"
    assert layout.resolve(stored) == tmp_path / "transcripts" / "tr_1" / "transcript.json"
    for escaping in ("/etc/passwd", "../outside", "uploads/../../x"):
        with pytest.raises(ValueError):
            layout.resolve(escaping)
