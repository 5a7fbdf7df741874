# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""``--option KEY=VALUE`` (a dataset option, YAML value, repeatable), shared by the commands that
build a dataset (``mmed-data``, ``mmed-eval``, ``scripts/trivial_baselines.py``)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

import yaml

from mmed_core.errors import ConfigError

__all__ = ["add_option_argument", "parse_options"]


def add_option_argument(parser: argparse.ArgumentParser, example: str = "n_test=200") -> None:
    """Add the repeatable ``--option KEY=VALUE`` argument to ``parser``."""
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"dataset option (YAML value), repeatable, e.g. --option {example}",
    )


def parse_options(items: Sequence[str]) -> dict[str, Any]:
    """``["n_test=200", "depth=metric"]`` -> ``{"n_test": 200, "depth": "metric"}``; an empty
    value is None."""
    options: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--option {item!r}: expected KEY=VALUE, e.g. n_test=200")
        options[key.strip()] = yaml.safe_load(value) if value else None
    return options
