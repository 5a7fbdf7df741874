# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""One collate for training and evaluation: stack samples of a dataset into a raw-unit batch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from mmed_core.errors import InputError
from mmed_core.network.modalities import MODALITIES, Modality, input_key

__all__ = ["collate"]


def _fill(mod: Modality, h: int, w: int) -> torch.Tensor:
    """The raw value of a sample that lacks ``mod`` (its registry ``missing``: invalid)."""
    if mod.categorical:
        return torch.full((h, w), int(mod.missing or 0), dtype=torch.int64)
    return torch.full((mod.raw_channels or 1, h, w), float(mod.missing or 0.0))


def _stack(
    samples: Sequence[dict[str, Any]], name: str, keys: tuple[str, ...], h: int, w: int
) -> torch.Tensor:
    """Each sample's value of the first of ``keys`` it has, else the registry's ``missing``."""
    mod = MODALITIES[name]
    dtype = torch.int64 if mod.categorical else torch.float32
    items = []
    for i, s in enumerate(samples):
        value = next((s[k] for k in keys if s.get(k) is not None), None)
        if value is None:
            if mod.missing is None:
                raise InputError(f"collate: sample {i} lacks required modality '{name}'")
            value = _fill(mod, h, w)
        items.append(torch.as_tensor(value, dtype=dtype))
    return torch.stack(items)


def collate(samples: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
    """Stack samples into one raw-unit tensor per registered modality they carry.

    A sample without a modality that others have (or without depth/labels, as unpaired extra
    data) gets the registry's ``missing`` value for it (invalid depth 0, ignored labels 255,
    all-zero normals); a modality without a ``missing`` value (rgb) is required in every
    sample. ``paired`` is stacked as a bool flag (default True). A separate input of a modality
    (``depth_input``, ``rgb_input``: :func:`mmed_core.network.modalities.input_key`, made by
    :mod:`mmed_core.data.augment`) is stacked too; a sample without it gives its target there.
    """
    if not samples:
        raise InputError("collate: expected at least one sample, got none")
    rgb = torch.stack([torch.as_tensor(s["rgb"], dtype=torch.float32) for s in samples])
    h, w = rgb.shape[-2:]
    batch: dict[str, torch.Tensor] = {"rgb": rgb}
    for name in MODALITIES:
        if name != "rgb" and any(name in s for s in samples):
            batch[name] = _stack(samples, name, (name,), h, w)
    for name in MODALITIES:
        key = input_key(name)
        if any(key in s for s in samples):
            batch[key] = _stack(samples, name, (key, name), h, w)
    batch["paired"] = torch.tensor([bool(s.get("paired", True)) for s in samples])
    return batch
