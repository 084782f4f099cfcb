"""The engine process's model cache: at most N resident, least recently used dropped first."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable

import pytest

from scriberr.engine.base import JobCanceled
from scriberr.engine.local.worker import _LOADING_SWITCH_INTERVAL_S, ModelCache


def test_least_recently_used_model_is_unloaded_first() -> None:
    loads: list[str] = []

    def loader(name: str) -> object:
        def load() -> object:
            loads.append(name)
            return object()

        return load

    cache = ModelCache(capacity=2)
    first = cache.get("a", loader("a"))
    cache.get("b", loader("b"))
    assert cache.get("a", loader("a")) is first  # resident: not loaded again
    cache.get("c", loader("c"))  # evicts b, the least recently used
    assert cache.keys == ("a", "c")
    cache.get("b", loader("b"))
    assert loads == ["a", "b", "c", "b"]
    assert cache.keys == ("c", "b")


def test_a_model_loading_in_another_thread_is_waited_for_not_loaded_twice() -> None:
    cache = ModelCache(capacity=2)
    release = threading.Event()
    loads: list[str] = []
    model = object()

    def slow_load() -> object:
        loads.append("diarizer")
        release.wait(10)
        return model

    cache.load_in_background("diarizer", slow_load)
    assert cache.loading == ("diarizer",) and cache.keys == ()  # reserved before it returns

    # a job that is canceled while it waits leaves the load running
    def canceled() -> None:
        raise JobCanceled()

    with pytest.raises(JobCanceled):
        cache.get("diarizer", slow_load, canceled)

    # a job that waits gets the model the other thread loaded
    got: list[object] = []
    waiter = threading.Thread(target=lambda: got.append(cache.get("diarizer", slow_load)))
    waiter.start()
    release.set()
    waiter.join(10)
    assert got == [model] and loads == ["diarizer"] and cache.loads == 1
    assert cache.keys == ("diarizer",) and cache.loading == ()


def test_a_failed_load_can_be_retried() -> None:
    cache = ModelCache(capacity=1)

    def broken() -> object:
        raise RuntimeError("no")

    with pytest.raises(RuntimeError):
        cache.get("a", broken)
    assert cache.loading == () and cache.keys == ()
    assert cache.get("a", object) is not None and cache.keys == ("a",)


def test_the_thread_switch_interval_is_short_only_while_models_load_in_the_background() -> None:
    # A job step beside a background load gets the GIL back quickly (see ModelCache._jobs_first).
    default = sys.getswitchinterval()
    assert default > _LOADING_SWITCH_INTERVAL_S
    cache = ModelCache(capacity=3)
    gates = {name: threading.Event() for name in ("a", "b", "c")}
    gates["c"].set()  # loaded in the foreground: the interval stays as it is
    seen: dict[str, float] = {}

    def loader(name: str) -> Callable[[], object]:
        def load() -> object:
            seen[name] = sys.getswitchinterval()
            gates[name].wait(10)
            return object()

        return load

    cache.load_in_background("a", loader("a"))
    cache.load_in_background("b", loader("b"))
    while len(seen) < 2:
        time.sleep(0.01)
    assert seen == {"a": _LOADING_SWITCH_INTERVAL_S, "b": _LOADING_SWITCH_INTERVAL_S}
    gates["a"].set()
    cache.get("a", loader("a"))  # waits for the background load
    assert sys.getswitchinterval() == _LOADING_SWITCH_INTERVAL_S  # b still loading
    gates["b"].set()
    cache.get("b", loader("b"))
    deadline = time.monotonic() + 5
    while sys.getswitchinterval() != default and time.monotonic() < deadline:
        time.sleep(0.01)  # the loading thread restores it just after the model is stored
    assert sys.getswitchinterval() == default
    assert cache.get("c", loader("c")) is not None and sys.getswitchinterval() == default
