# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Test support: colcon-build a copy of this checkout into a temporary workspace."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What a build never needs: environments, caches (./dev test leaves 40 MB of mypy cache), outputs.
NOT_SOURCES = (
    ".venv",
    ".git",
    "build",
    "install",
    "log",
    "__pycache__",
    "*.egg-info",
    "runs",
    "outputs",
    ".pytest_cache",
    ".hypothesis",
    ".mypy_cache",
    ".ruff_cache",
)


def colcon_build(colcon: str, ws: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    """Copy the checkout to ``ws/src/mmed`` and run ``colcon build`` there; return the run."""
    shutil.copytree(ROOT, ws / "src" / "mmed", ignore=shutil.ignore_patterns(*NOT_SOURCES))
    return subprocess.run(
        [colcon, "build", "--base-paths", "src"],
        cwd=ws,
        timeout=timeout,
        capture_output=True,
        text=True,
    )
