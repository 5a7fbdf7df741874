# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""One collate for training and evaluation: stack samples of a dataset into a raw-unit batch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from mmed_core.data.classes import IGNORE_INDEX

__all__ = ["collate"]


def collate(samples: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
    """Stack samples; unpaired ones without depth/label get invalid depth (0) and ignore labels."""
    rgb = torch.stack([torch.as_tensor(s["rgb"], dtype=torch.float32) for s in samples])
    h, w = rgb.shape[-2:]
    depth = [
        s.get("depth") if s.get("depth") is not None else torch.zeros(1, h, w) for s in samples
    ]
    label = [
        s.get("label") if s.get("label") is not None else torch.full((h, w), IGNORE_INDEX)
        for s in samples
    ]
    return {
        "rgb": rgb,
        "depth": torch.stack([torch.as_tensor(d, dtype=torch.float32) for d in depth]),
        "label": torch.stack([torch.as_tensor(x, dtype=torch.int64) for x in label]),
        "paired": torch.tensor([bool(s.get("paired", True)) for s in samples]),
    }
