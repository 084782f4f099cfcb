"""The Word (`.docx`) export, made with python-docx: the title as a heading, the date, then one
paragraph per speaker turn (or pause), each led by the speaker's name (or label) in bold and its
start time, as in `export.document_paragraphs`."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from docx import Document

from scriberr.transcript.export import ExportOptions, document_paragraphs, short_clock


def render_docx(transcript: Mapping[str, Any], options: ExportOptions) -> bytes:
    document = Document()
    title = (options.title or "").strip() or "Transcript"
    document.core_properties.title = title
    document.add_heading(title, level=1)
    if options.created_at is not None:
        document.add_paragraph(options.created_at.strftime("%Y-%m-%d %H:%M UTC"))
    for paragraph, speaker in document_paragraphs(transcript, options):
        block = document.add_paragraph()
        head = f"{speaker} " if speaker else ""
        block.add_run(f"{head}({short_clock(paragraph.start)})").bold = True
        block.add_run("\n" + paragraph.text)
    if not document_paragraphs(transcript, options):
        text = " ".join(str(transcript.get("text") or "").split())
        if text:
            document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
