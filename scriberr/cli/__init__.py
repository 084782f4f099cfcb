"""The `scriberr` command: parses arguments and hands each subcommand to its module.

Each module in this package registers one subcommand with `register(subparsers)` and sets
`handler`, a function taking the parsed arguments and returning an exit code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from scriberr import __version__
from scriberr.cli import models, serve, transcribe, users, worker, workers
from scriberr.config import ConfigError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scriberr",
        description="Self-hosted, privacy-first transcription server.",
        epilog="Configuration comes from environment variables; see the README.",
    )
    parser.add_argument("--version", action="version", version=f"scriberr {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for subcommand in (serve, worker, workers, transcribe, models, users):
        subcommand.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    arguments = parser.parse_args(argv)
    handler = getattr(arguments, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return int(handler(arguments))
    except ConfigError as error:
        print(f"scriberr: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
