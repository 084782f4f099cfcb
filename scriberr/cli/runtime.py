"""What `serve` and `worker` share: configuration from the environment, logging, the Core, and
keeping every write inside the data dir (`privacy.confine_to_data_dir`).

`--fake-engine` is a hidden, test-only switch that serves the fake models instead of the real
engine (see scriberr/engine/fake.py); it is not part of the product.
"""

from __future__ import annotations

import argparse
import os

from scriberr.bootstrap import Core, build_core
from scriberr.config import load_config
from scriberr.logging_setup import configure_logging
from scriberr.privacy import confine_to_data_dir


def add_fake_engine_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fake-engine", action="store_true", help=argparse.SUPPRESS)


def core_from_environment(arguments: argparse.Namespace, *, serves_clients: bool = True) -> Core:
    """Load and validate the configuration (a `ConfigError` becomes one line and exit 2 in
    `cli.main`), set up logging, and build the Core (`serves_clients`: see `build_core`)."""
    config = load_config(os.environ)
    confine_to_data_dir(config.data_dir)
    configure_logging(config.log_level, config.log_format)
    providers = None
    if arguments.fake_engine:
        from scriberr.engine.fake import fake_registry

        providers = fake_registry()
    return build_core(config, providers=providers, serves_clients=serves_clients)
