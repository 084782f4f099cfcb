"""The engine process's model cache: at most N resident, least recently used dropped first."""

from __future__ import annotations

from scriberr.engine.local.worker import ModelCache


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
