"""How the event streams combine relayed events with their once-a-second row reads
(api/job_streams.py): while the relay has been connected since the previous read, rows add only
terminal states (whichever of row and event comes second is dropped); otherwise — SQLite, or a
listener outage, and the first read after one — rows are reported as before."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from scriberr.api.job_streams import _GlobalFeed, _relay_covered
from scriberr.events.broker import Event


def _row(status: str, progress: float, stage: str) -> Any:
    return SimpleNamespace(
        id="tr_1", status=status, progress=progress, progress_stage=stage, error=None
    )


def _event(event_id: int, type: str, status: str, progress: float, stage: str) -> Event:
    data = {"id": "tr_1", "status": status, "progress": progress, "stage": stage}
    return Event(event_id, type, "u1", data, "tr_1")


def test_relayed_feed_takes_progress_from_events_and_terminal_from_either_once() -> None:
    feed = _GlobalFeed(lambda error: error)
    assert feed.from_broker(_event(1, "transcription.progress", "processing", 0.42, "transcribing"))
    # a lagging row (0.30) must not be re-sent while the relay carries the job
    assert feed.from_rows([_row("processing", 0.30, "transcribing")], set(), relayed=True) == []
    # the terminal row comes before its relayed event: sent once, the event is then dropped
    [frame] = feed.from_rows([_row("completed", 1.0, "completed")], set(), relayed=True)
    assert "event: transcription.completed" in frame
    assert (
        feed.from_broker(_event(2, "transcription.completed", "completed", 1.0, "completed"))
        is None
    )


def test_terminal_event_first_then_row_is_not_repeated() -> None:
    feed = _GlobalFeed(lambda error: error)
    assert feed.from_broker(_event(1, "transcription.completed", "completed", 1.0, "completed"))
    assert feed.from_rows([_row("completed", 1.0, "completed")], set(), relayed=True) == []


def test_without_the_relay_rows_are_reported_as_on_sqlite() -> None:
    feed = _GlobalFeed(lambda error: error)
    [frame] = feed.from_rows([_row("processing", 0.30, "transcribing")], set(), relayed=False)
    assert "event: transcription.progress" in frame and '"progress":0.3' in frame
    assert feed.from_rows([_row("processing", 0.30, "transcribing")], set()) == []  # once


class _Signals:
    def __init__(self, live_since: float | None) -> None:
        self.live_since = live_since

    def events_live_since(self) -> float | None:
        return self.live_since


def test_covered_only_when_connected_since_before_the_previous_read() -> None:
    assert not _relay_covered(SimpleNamespace(signals=None), 100.0)  # type: ignore[arg-type]
    assert not _relay_covered(SimpleNamespace(signals=_Signals(None)), 100.0)  # type: ignore[arg-type]
    assert _relay_covered(SimpleNamespace(signals=_Signals(50.0)), 100.0)  # type: ignore[arg-type]
    # reconnected after the previous read: what the outage swallowed comes from the row once
    assert not _relay_covered(SimpleNamespace(signals=_Signals(150.0)), 100.0)  # type: ignore[arg-type]


def test_per_job_stream_never_steps_back_within_a_stage() -> None:
    from scriberr.api.job_streams import _from_event

    last = ("processing", 0.4, "transcribing")  # the row the stream started from
    stale = _event(1, "transcription.progress", "processing", 0.38, "transcribing")
    frame, kept, done = _from_event(stale, last, "-:0")
    assert frame is None and kept == last and not done
    newer = _event(2, "transcription.progress", "processing", 0.41, "transcribing")
    frame, kept, _ = _from_event(newer, last, "-:0")
    assert frame is not None and kept == ("processing", 0.41, "transcribing")
    # a new stage (e.g. a new attempt after recovery) starts lower: that is not stale
    again = _event(3, "transcription.progress", "processing", 0.05, "preparing")
    assert _from_event(again, kept, "-:0")[0] is not None
