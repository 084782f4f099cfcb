"""`scriberr models`: list the catalog, `pull` a model with a progress bar, `import` a copied
model directory, `remove` one from the cache."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from scriberr.config import load_config
from scriberr.engine.base import CancelToken, EngineError, ModelInfo, ModelInstaller
from scriberr.engine.registry import ProviderRegistry, build_provider_registry
from scriberr.privacy import confine_to_data_dir

_REDRAW_S = 0.1
_BAR_WIDTH = 30


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "models",
        help="list, download, import or remove speech models",
        description="List the speech models this server knows, with their installed state; "
        "or download, import or remove one.",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(handler=run)
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    pull = actions.add_parser("pull", help="download a model into the model cache (shows progress)")
    pull.add_argument("model_id", metavar="ID")
    pull.set_defaults(handler=run_pull)
    imported = actions.add_parser(
        "import",
        help="install a CTranslate2 model directory copied from another machine",
        description="Copy a CTranslate2 Whisper model directory (model.bin, config.json, "
        "tokenizer.json or vocabulary.*) into the model cache as ID, after loading it once.",
    )
    imported.add_argument("model_id", metavar="ID")
    imported.add_argument("directory", metavar="DIR", type=Path)
    imported.set_defaults(handler=run_import)
    remove = actions.add_parser("remove", help="delete a downloaded or imported model")
    remove.add_argument("model_id", metavar="ID")
    remove.set_defaults(handler=run_remove)


def _languages(model: ModelInfo) -> str:
    if model.kind == "diarization":
        return "any"
    return "english" if model.languages == ("en",) else "multilingual"


def _table(models: list[ModelInfo]) -> str:
    rows = [("ID", "KIND", "LANGUAGES", "SIZE", "INSTALLED", "NAME")]
    for model in models:
        name = model.name + (" (default)" if model.default else "")
        rows.append(
            (
                model.id,
                model.kind,
                _languages(model),
                f"{model.size_mb} MB",
                "yes" if model.installed else "no",
                name,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
        + "  "
        + row[-1]
        for row in rows
    )


def _registry() -> ProviderRegistry:
    config = load_config(os.environ)
    confine_to_data_dir(config.data_dir)
    return build_provider_registry(config)


def run(arguments: argparse.Namespace) -> int:
    registry = _registry()
    try:
        models = registry.transcription_models() + registry.diarization_models()
    finally:
        registry.close()
    if arguments.json:
        print(json.dumps([_public(model) for model in models], indent=2))
    else:
        print(_table(models))
    return 0


def _public(model: ModelInfo) -> dict[str, Any]:
    return {
        "id": model.id,
        "name": model.name,
        "kind": model.kind,
        "provider": model.provider,
        "installed": model.installed,
        "default": model.default,
        "capabilities": list(model.capabilities),
        "languages": list(model.languages),
        "size_mb": model.size_mb,
    }


def _fail(text: str) -> int:
    print(f"scriberr: {text}", file=sys.stderr)
    return 1


def _installer(registry: ProviderRegistry, model_id: str) -> ModelInstaller | None:
    if registry.model_info(model_id) is None:
        print(f"scriberr: unknown model '{model_id}' (see `scriberr models`)", file=sys.stderr)
        return None
    installer = registry.installer_for(model_id)
    if installer is None:
        print(f"scriberr: model '{model_id}' cannot be installed or removed", file=sys.stderr)
    return installer


class ProgressBar:
    """A one-line download bar on a terminal (redrawn at most every 0.1 s), or a line every 10%
    when the output is not a terminal (logs, CI)."""

    def __init__(self, label: str, stream: TextIO) -> None:
        self._label = label
        self._stream = stream
        self._tty = stream.isatty()
        self._started = time.monotonic()
        self._drawn_at = 0.0
        self._last_decile = -1
        self._finished = False

    def update(self, done: int, total: int) -> None:
        fraction = 1.0 if total <= 0 else min(1.0, done / total)
        if self._tty:
            now = time.monotonic()
            if fraction < 1.0 and now - self._drawn_at < _REDRAW_S:
                return
            self._drawn_at = now
            self._stream.write("\r" + self._line(done, total, fraction))
        else:
            decile = int(fraction * 10)
            if decile == self._last_decile:
                return
            self._last_decile = decile
            self._stream.write(self._line(done, total, fraction) + "\n")
        self._stream.flush()

    def _line(self, done: int, total: int, fraction: float) -> str:
        filled = int(fraction * _BAR_WIDTH)
        bar = "=" * filled + (">" if filled < _BAR_WIDTH else "") + " " * (_BAR_WIDTH - filled - 1)
        elapsed = max(time.monotonic() - self._started, 1e-6)
        rate = done / elapsed / 2**20
        return (
            f"{self._label} {fraction * 100:5.1f}% [{bar[:_BAR_WIDTH]}] "
            f"{done / 2**20:.1f}/{total / 2**20:.1f} MB {rate:.1f} MB/s"
        )

    def finish(self) -> None:
        if self._tty and not self._finished:
            self._stream.write("\n")
            self._stream.flush()
        self._finished = True


def _with_installer(
    model_id: str, verb: str, action: Callable[[ProviderRegistry, ModelInstaller], int]
) -> int:
    """Run `action` with the model's installer (exit 2 for an unknown or uninstallable model); an
    engine error becomes one line, `could not <verb> <model>: <reason>`."""
    registry = _registry()
    try:
        installer = _installer(registry, model_id)
        if installer is None:
            return 2
        try:
            return action(registry, installer)
        except EngineError as error:
            return _fail(f"could not {verb} {model_id}: {error.public_message}")
    finally:
        registry.close()


def run_pull(arguments: argparse.Namespace) -> int:
    model_id = arguments.model_id

    def pull(registry: ProviderRegistry, installer: ModelInstaller) -> int:
        info = registry.model_info(model_id)
        if info is not None and info.installed:
            print(f"{model_id} is already installed")
            return 0
        bar = ProgressBar(model_id, sys.stderr)
        try:
            installer.download_model(model_id, bar.update, CancelToken())
        finally:
            bar.finish()
        print(f"{model_id} installed")
        return 0

    return _with_installer(model_id, "download", pull)


def run_import(arguments: argparse.Namespace) -> int:
    model_id = arguments.model_id

    def install(_registry: ProviderRegistry, installer: ModelInstaller) -> int:
        installer.import_model(model_id, arguments.directory, CancelToken())
        print(f"{model_id} installed")
        return 0

    return _with_installer(model_id, "import", install)


def run_remove(arguments: argparse.Namespace) -> int:
    model_id = arguments.model_id

    def remove(_registry: ProviderRegistry, installer: ModelInstaller) -> int:
        if not installer.remove_model(model_id):
            return _fail(f"{model_id} is not in the model cache")
        print(f"{model_id} removed")
        return 0

    return _with_installer(model_id, "remove", remove)
