"""The progress pacer turns bursty engine reports into steady, monotonic progress (fake clock)."""

from __future__ import annotations

from scriberr.engine.local.pacing import MAX_STEP, Pacer


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _pacer() -> tuple[Pacer, _Clock, list[float]]:
    clock = _Clock()
    sent: list[float] = []
    return Pacer(sent.append, clock=clock), clock, sent


def _run(pacer: Pacer, clock: _Clock, seconds: float, interval: float = 0.25) -> None:
    for _ in range(round(seconds / interval)):
        clock.now += interval
        pacer.tick()


def test_a_burst_becomes_a_ramp_and_never_jumps() -> None:
    pacer, clock, sent = _pacer()
    pacer.phase(0.0, 1.0)
    _run(pacer, clock, 2.0)
    pacer.report(0.4, bound=0.8)  # one decoding call finished 40 % at once
    _run(pacer, clock, 2.0)

    steps = [b - a for a, b in zip([0.0, *sent], sent, strict=False)]
    assert sent == sorted(sent) and len(set(sent)) == len(sent)
    assert max(steps) <= MAX_STEP + 1e-9
    assert sent[-1] >= 0.4


def test_between_bursts_progress_follows_the_measured_rate_up_to_the_bound() -> None:
    pacer, clock, sent = _pacer()
    pacer.phase(0.0, 1.0)
    clock.now += 2.0
    pacer.report(0.2, bound=0.5)  # 0.1 per second so far; the call in flight ends at 0.5
    _run(pacer, clock, 2.0)  # ramps to 0.2 and keeps going at ~0.1/s
    assert 0.2 < pacer.shown < 0.5
    moving = pacer.shown
    _run(pacer, clock, 1.0)
    assert pacer.shown > moving
    _run(pacer, clock, 10.0)
    assert pacer.shown == 0.5  # never claims the work in flight done before it is
    assert sent == sorted(sent)


def test_a_phase_with_an_expected_duration_advances_before_any_report() -> None:
    pacer, clock, sent = _pacer()
    pacer.phase(0.0, 0.9)
    pacer.report(0.9)
    _run(pacer, clock, 5.0)
    assert pacer.shown == 0.9
    pacer.phase(0.9, 1.0, expected_s=4.0)
    _run(pacer, clock, 2.0)
    assert 0.91 < pacer.shown < 1.0
    _run(pacer, clock, 10.0)
    assert pacer.shown == 1.0  # the estimate stops at the end of the phase
    pacer.finish()
    assert sent[-1] == 1.0


def test_no_report_no_estimate_holds_still_and_sends_nothing() -> None:
    pacer, clock, sent = _pacer()
    pacer.phase(0.0, 0.1)
    _run(pacer, clock, 3.0)
    assert sent == []
    pacer.report(0.05)
    _run(pacer, clock, 1.0)
    assert sent and sent[-1] == 0.05


def test_at_most_one_message_per_tick_however_often_work_reports() -> None:
    pacer, clock, sent = _pacer()
    pacer.phase(0.0, 1.0)
    for tick in range(20):
        for window in range(100):  # e.g. VAD reports every 32 ms window
            pacer.report((tick * 100 + window) / 2000)
        clock.now += 0.25
        pacer.tick()
    assert len(sent) <= 20
    assert sent == sorted(sent)


def test_finish_sends_the_final_value_and_ticks_send_nothing_after() -> None:
    pacer, clock, sent = _pacer()
    pacer.phase(0.0, 1.0)
    pacer.report(0.3, bound=0.6)
    _run(pacer, clock, 1.0)
    pacer.finish()
    count = len(sent)
    _run(pacer, clock, 1.0)
    assert sent[-1] == 1.0 and len(sent) == count
