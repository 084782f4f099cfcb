"""`scriberr models`: print the model catalog with installed state (loads no model)."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from scriberr.config import load_config
from scriberr.engine.base import ModelInfo
from scriberr.engine.registry import build_provider_registry
from scriberr.privacy import confine_to_data_dir


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "models",
        help="list transcription and diarization models and whether they are installed",
        description="List the speech models this server knows, with their installed state.",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(handler=run)


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


def run(arguments: argparse.Namespace) -> int:
    config = load_config(os.environ)
    confine_to_data_dir(config.data_dir)
    registry = build_provider_registry(config)
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
