"""What the transcript builder reads from a speech engine's result, as structural types.

The engine's dataclasses (`engine.base.TranscriptionOutput`, `Segment`, `Word`, `SpeakerTurn`)
satisfy these protocols, so this package needs no import of the engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class Word(Protocol):
    @property
    def start(self) -> float: ...

    @property
    def end(self) -> float: ...

    @property
    def word(self) -> str: ...


class Segment(Protocol):
    @property
    def start(self) -> float: ...

    @property
    def end(self) -> float: ...

    @property
    def text(self) -> str: ...

    @property
    def words(self) -> Sequence[Word]: ...


class SpeakerTurn(Protocol):
    @property
    def start(self) -> float: ...

    @property
    def end(self) -> float: ...

    @property
    def speaker(self) -> str: ...


class TranscriptionOutput(Protocol):
    @property
    def text(self) -> str: ...

    @property
    def language(self) -> str | None: ...

    @property
    def duration(self) -> float: ...

    @property
    def segments(self) -> Sequence[Segment]: ...

    @property
    def words(self) -> Sequence[Word]: ...
