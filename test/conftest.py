"""Shared fixtures. Tests generate their own data; nothing here reads ../shared."""

from __future__ import annotations

import os

import pytest

# Keep torch from oversubscribing the 2-core CI machine when pytest runs helper processes.
os.environ.setdefault("OMP_NUM_THREADS", "2")


@pytest.fixture(autouse=True)
def _seed() -> None:
    import torch

    torch.manual_seed(0)
