# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Shared helpers of the trainer/evaluator tests (no tests here).

    python -m pytest test/test_train.py

``StandInDataset`` follows the dataset contract of ``mmed_core.data.build_dataset`` exactly
(keys, dtypes, units, ``info``) with scenes cheap enough for 32x32 tests: a floor and a wall with
coloured boxes whose depth depends on their class, so RGB, depth and labels predict each other.
"""

from __future__ import annotations

from collections import namedtuple
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from mmed_core.data.classes import NYU12_CLASSES, NYU12_PALETTE
from mmed_core.training.config import RunConfig, load_run_config

__all__ = ["StandInDataset", "factory", "DATASETS", "tiny_run"]

DatasetInfo = namedtuple("DatasetInfo", "name class_names palette depth_range depth_units")
DATASETS = ("synthetic",)
_SIZES = {"train": 16, "val": 4, "test": 8, "extra": 16}
_SEEDS = {"train": 0, "val": 1, "test": 2, "extra": 3}


class StandInDataset(Dataset):
    def __init__(
        self,
        name: str,
        split: str,
        *,
        root: Any = None,
        size: tuple[int, int] = (96, 96),
        cache_dir: Any = None,
        options: dict | None = None,
    ) -> None:
        opts = dict(options or {})
        self.split, self.size = split, tuple(size)
        self.n = int(opts.get(f"n_{split}", _SIZES[split]))
        self.seed = int(opts.get("seed", 0)) * 10 + _SEEDS[split]
        self.nan_at = opts.get("nan_at")  # test hook: index whose depth is NaN
        self.info = DatasetInfo(name, NYU12_CLASSES, NYU12_PALETTE, (0.5, 10.0), "m")

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        h, w = self.size
        g = torch.Generator().manual_seed(self.seed * 100_003 + i)
        label = torch.full((h, w), 5, dtype=torch.int64)  # wall
        label[h // 2 + int(torch.randint(0, h // 4, (1,), generator=g)) :] = 3  # floor
        for _ in range(2):
            cls = int(torch.randint(0, 12, (1,), generator=g))
            y0, x0 = (int(v) for v in torch.randint(0, h // 2, (2,), generator=g))
            label[y0 : y0 + h // 3, x0 : x0 + w // 3] = cls
        rows = torch.linspace(0, 1, h).unsqueeze(1).expand(h, w)
        depth = (1.0 + 0.5 * label.float() + 2.0 * rows).unsqueeze(0)
        pal = torch.tensor(NYU12_PALETTE, dtype=torch.float32)
        rgb = pal[label].permute(2, 0, 1) + 8 * torch.randn(3, h, w, generator=g)
        label[0, :] = 255  # a strip of 'other' pixels, ignored everywhere
        paired = self.split != "extra"
        if not paired:
            depth, label = torch.zeros_like(depth), torch.full_like(label, 255)
        return {
            "rgb": rgb.clamp(0, 255),
            "depth": depth,
            "label": label,
            "paired": torch.tensor(paired),
        }


def factory(name: str, split: str, **kw: Any) -> StandInDataset:
    return StandInDataset(name, split, **kw)


def tiny_run(out: Path, *overrides: str) -> RunConfig:
    """A run that trains in about a second: tiny model, 32x32, a few batches."""
    base = [
        f"train.out_dir={out}",
        "model.preset=tiny",
        "data.size=[32, 32]",
        "train.batch_size=4",
        "train.epochs=2",
        "train.progress=false",
        "train.tensorboard=false",
        "train.recipe=paper",  # the mechanics tests were written for plain SGD
        "train.lr=0.01",
        "train.threads=1",
    ]
    return load_run_config(None, [*base, *overrides], datasets=DATASETS)
