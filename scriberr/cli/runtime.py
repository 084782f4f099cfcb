"""What `serve` and `worker` share: configuration from the environment, logging, the Core, and
keeping every write inside the data dir (`privacy.confine_to_data_dir`).

`--fake-engine` is a hidden, test-only switch that serves the fake models instead of the real
engine (see scriberr/engine/fake.py); it is not part of the product.

These processes run workers, so the engine's preload (SPEECH_ENGINE_PRELOAD) starts first, before
the rest of the server is even imported: the engine processes load their models while the
database is migrated and the app is built (the Core is imported only after that).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from scriberr.config import Config, load_config
from scriberr.logging_setup import configure_logging
from scriberr.privacy import confine_to_data_dir, create_private_dirs

if TYPE_CHECKING:
    from scriberr.bootstrap import Core


def add_fake_engine_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fake-engine", action="store_true", help=argparse.SUPPRESS)


def core_from_environment(
    arguments: argparse.Namespace,
    *,
    worker_only: bool = False,
    preflight: Callable[[Config], None] | None = None,
) -> Core:
    """Load and validate the configuration (a `ConfigError` becomes one line and exit 2 in
    `cli.main`), set up logging, run `preflight` (after the engine settings are checked, before
    anything is opened or written), start the engine's preload, and build the Core."""
    config = load_config(os.environ)
    confine_to_data_dir(config.data_dir)
    configure_logging(config.log_level, config.log_format)
    if arguments.fake_engine:
        from scriberr.engine.fake import fake_registry

        providers = fake_registry()
    else:
        from scriberr.engine.registry import build_provider_registry

        providers = build_provider_registry(config)
    providers.check_default_model()
    if preflight is not None:
        preflight(config)
    create_private_dirs(config.data_dir)  # the engine processes inherit TMPDIR and HOME there
    providers.preload()  # in the background; `Core.start()` calling it again does nothing
    try:
        from scriberr.bootstrap import build_core

        return build_core(config, providers=providers, worker_only=worker_only)
    except BaseException:
        providers.close()  # stop the engine processes the preload started
        raise
