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

    @property
    def probability(self) -> float | None: ...


class Segment(Protocol):
    @property
    def start(self) -> float: ...

    @property
    def end(self) -> float: ...

    @property
    def text(self) -> str: ...

    @property
    def words(self) -> Sequence[Word]: ...

    @property
    def avg_logprob(self) -> float | None: ...

    @property
    def no_speech_prob(self) -> float | None: ...

    @property
    def compression_ratio(self) -> float | None: ...


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
