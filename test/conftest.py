# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Shared fixtures. Tests generate their own data; nothing here reads ../shared."""

from __future__ import annotations

import os

import pytest

# One torch thread in the test process and the processes it starts: the models are tiny, and on
# a 2-core machine shared with node subprocesses two OpenMP threads spin-wait for each other
# (one 3-second test took 220 s that way).
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(autouse=True)
def _seed() -> None:
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
