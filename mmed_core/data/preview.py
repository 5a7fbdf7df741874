# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Summaries and preview grids of a dataset, for ``mmed-data inspect``.

A grid row is RGB | depth (turbo colour map over the dataset's range, black = invalid) |
label (dataset palette, black = ignored). Run ``mmed-data inspect synthetic --split val`` (module:
mmed_core.data.preview).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from mmed_core.atomic import atomic_path
from mmed_core.data.base import ArrayDataset, MmedDataset
from mmed_core.data.classes import IGNORE_INDEX, UNKNOWN_COLOR
from mmed_core.errors import DatasetError

__all__ = ["collect", "summarise", "preview_grid", "colourise_depth", "colourise_label"]


def collect(
    ds: MmedDataset, limit: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rgb, depth, label) arrays of the first ``limit`` samples (cache arrays are used
    directly)."""
    n = len(ds) if limit is None else min(limit, len(ds))
    if isinstance(ds, ArrayDataset):
        return np.asarray(ds.rgb[:n]), np.asarray(ds.depth[:n]), np.asarray(ds.label[:n])
    samples = [ds[i] for i in range(n)]
    if not samples:
        return (
            np.zeros((0, 1, 1, 3), np.uint8),
            np.zeros((0, 1, 1), np.float32),
            np.zeros((0, 1, 1), np.uint8),
        )
    rgb = np.stack([s["rgb"].numpy().transpose(1, 2, 0) for s in samples]).round().astype(np.uint8)
    depth = np.stack([s["depth"].numpy()[0] for s in samples])
    label = np.stack([s["label"].numpy() for s in samples]).astype(np.uint8)
    return rgb, depth, label


def summarise(title: str, ds: MmedDataset, limit: int | None = None) -> str:
    """Counts, class histogram and depth statistics as printable text."""
    rgb, depth, label = collect(ds, limit)
    info = ds.info
    lines = [
        f"{title}: {len(ds)} samples "
        f"({'paired' if getattr(ds, 'paired', True) else 'unpaired RGB'}), "
        f"size {rgb.shape[1]}x{rgb.shape[2]}, depth in {info.depth_units} "
        f"(range {info.depth_range[0]:g}..{info.depth_range[1]:g})"
    ]
    if not getattr(ds, "paired", True):
        return lines[0]
    counts = np.bincount(label.ravel(), minlength=256)
    total = max(int(counts.sum()), 1)
    lines.append(f"  ignored (255): {100 * counts[IGNORE_INDEX] / total:.1f}% of pixels")
    for k, name in enumerate(info.class_names):
        lines.append(f"  {k:3d} {name:<16s} {100 * counts[k] / total:6.2f}%")
    valid = depth[depth > 0]
    if valid.size:
        lines.append(
            f"  depth: valid {100 * valid.size / max(depth.size, 1):.1f}%, min {valid.min():.3f}, "
            f"mean {valid.mean():.3f}, max {valid.max():.3f}"
        )
    else:
        lines.append("  depth: no valid pixels")
    return "\n".join(lines)


def colourise_depth(depth: np.ndarray, depth_range: tuple[float, float]) -> np.ndarray:
    lo, hi = depth_range
    scaled = np.clip((depth - lo) / max(hi - lo, 1e-6), 0, 1)
    rgb = cv2.applyColorMap((scaled * 255).astype(np.uint8), cv2.COLORMAP_TURBO)[..., ::-1]
    rgb[depth <= 0] = 0
    return rgb


def colourise_label(label: np.ndarray, palette: Sequence[Sequence[int]]) -> np.ndarray:
    lut = np.tile(np.array(UNKNOWN_COLOR, np.uint8), (256, 1))
    lut[: len(palette)] = np.array(palette, np.uint8)
    return lut[label]


def preview_grid(ds: MmedDataset, path: str | os.PathLike[str], rows: int = 6) -> Path:
    """Write a PNG with ``rows`` samples spread over the dataset (RGB | depth | label)."""
    if len(ds) == 0:
        raise DatasetError(f"{ds.info.name}: the dataset is empty, nothing to preview")
    picks = np.unique(np.linspace(0, len(ds) - 1, min(rows, len(ds))).round().astype(int))
    lines = []
    for i in picks:
        s = ds[int(i)]
        rgb = s["rgb"].numpy().transpose(1, 2, 0).round().clip(0, 255).astype(np.uint8)
        lines.append(
            np.concatenate(
                [
                    rgb,
                    colourise_depth(s["depth"].numpy()[0], ds.info.depth_range),
                    colourise_label(s["label"].numpy().astype(np.uint8), ds.info.palette),
                ],
                1,
            )
        )
    grid = np.concatenate(lines, 0)
    path = Path(path)
    with atomic_path(path) as tmp:
        ok, data = cv2.imencode(".png", grid[..., ::-1])
        tmp.write_bytes(data.tobytes())
    return path
