"""The app matches its route modules in the order of `app._ROUTE_MODULES`, hot routes first.
That order is only a speed choice: no request path of one module's route is answered by a route
of another module, so any order routes every request the same way."""

from __future__ import annotations

import re
from collections.abc import Sequence

from fastapi import APIRouter
from starlette.routing import BaseRoute, Match

from scriberr.api import app as app_module


def _clashes(modules: Sequence[tuple[str, Sequence[BaseRoute]]]) -> list[tuple[str, ...]]:
    """(method, path, other module, its path) for every route whose sample path (each path
    parameter filled in) a route of another module also answers."""
    routes = [(name, route) for name, module_routes in modules for route in module_routes]
    found = []
    for owner, route in routes:
        path = re.sub(r"\{[^}]+\}", "x1", str(getattr(route, "path", "")))
        for method in sorted(getattr(route, "methods", None) or ()):
            scope = {"type": "http", "method": method, "path": path, "root_path": ""}
            for other_owner, other in routes:
                if other_owner != owner and other.matches(scope)[0] == Match.FULL:
                    found.append((method, path, other_owner, str(getattr(other, "path", ""))))
    return found


def test_no_route_answers_a_path_of_another_module() -> None:
    modules = [(module.__name__, module.router.routes) for module in app_module._ROUTE_MODULES]
    assert sum(len(routes) for _, routes in modules) > 40
    assert _clashes(modules) == []


def test_the_check_finds_a_clash() -> None:
    items, catch_all = APIRouter(prefix="/api/v1"), APIRouter(prefix="/api/v1")

    @items.get("/items/{item_id}")
    async def get_item(item_id: str) -> None: ...

    @catch_all.get("/{rest:path}")
    async def anything(rest: str) -> None: ...

    modules = [("items", items.routes), ("catch_all", catch_all.routes)]
    assert _clashes(modules) == [("GET", "/api/v1/items/x1", "catch_all", "/api/v1/{rest:path}")]
