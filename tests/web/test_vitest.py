"""The web app's own unit tests (Vitest) and type check, run as part of the Python suite so that
`scripts/test` (and CI) covers them. Skips without Node/npm or `web/node_modules` (fails under
CI=true)."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.web.conftest import WEB_DIR, require_node

pytestmark = pytest.mark.slow


def _npm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["npm", *args],
        cwd=WEB_DIR,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "CI": "true", "NO_COLOR": "1"},
    )


def test_vitest_unit_tests_pass() -> None:
    require_node()
    result = _npm("test", "--silent")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "passed" in result.stdout


def test_typescript_type_checks() -> None:
    require_node()
    result = subprocess.run(
        ["npx", "--no-install", "tsc", "--noEmit"],
        cwd=WEB_DIR,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
