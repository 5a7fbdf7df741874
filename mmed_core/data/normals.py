# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Surface normals derived from depth and the camera intrinsics: the ``normals`` modality's data.

    python -m pytest test/test_normals.py

No dataset renders normals; :class:`WithNormals` adds them to any dataset's samples (a data
transform, so the generators stay as they are): each pixel is back-projected with K, and the
normal is the cross product of the horizontal and vertical differences of neighbouring 3-D
points, in the camera frame (x right, y down, z forward), pointing towards the camera. Pixels
whose depth or whose neighbours' depth is invalid get the all-zero vector (= invalid, the
registry's convention).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from mmed_core.data.base import WrappedDataset
from mmed_core.data.synthetic import intrinsics
from mmed_core.errors import ConfigError, InputError

__all__ = ["normals_from_depth", "WithNormals", "with_normals"]


def normals_from_depth(depth: np.ndarray, K: np.ndarray) -> np.ndarray:
    """(H, W) depth in metres (<= 0 / non-finite = invalid) and 3x3 K -> (H, W, 3) float32 unit
    normals in the camera frame, all-zero where they cannot be computed."""
    d = np.asarray(depth, dtype=np.float64)
    if d.ndim != 2 or min(d.shape) < 2:
        raise InputError(f"normals: expected an (H, W) depth map with H, W >= 2, got {d.shape}")
    k = np.asarray(K, dtype=np.float64).reshape(3, 3)
    h, w = d.shape
    valid = np.isfinite(d) & (d > 0)
    z = np.where(valid, d, 0.0)
    u, v = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    pts = np.stack([(u - k[0, 2]) * z / k[0, 0], (v - k[1, 2]) * z / k[1, 1], z], axis=-1)
    # central differences inside, one-sided at the borders
    du = np.gradient(pts, axis=1)
    dv = np.gradient(pts, axis=0)
    n = np.cross(du, dv)
    norm = np.linalg.norm(n, axis=-1, keepdims=True)
    ok = valid & (norm[..., 0] > 1e-12)
    # a neighbour without depth makes the difference meaningless
    pad = np.pad(valid, 1, constant_values=False)
    ok &= pad[:-2, 1:-1] | (np.arange(h)[:, None] == 0)
    ok &= pad[2:, 1:-1] | (np.arange(h)[:, None] == h - 1)
    ok &= pad[1:-1, :-2] | (np.arange(w)[None, :] == 0)
    ok &= pad[1:-1, 2:] | (np.arange(w)[None, :] == w - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        n = np.where(ok[..., None], n / norm, 0.0)
    flip = np.sum(n * pts, axis=-1) > 0  # facing away from the camera: turn around
    n[flip] *= -1
    return n.astype(np.float32)


class WithNormals(WrappedDataset):
    """A dataset whose samples also hold ``normals`` (3, H, W) derived from their depth.

    ``camera(h, w)`` gives the 3x3 K of a sample of that size (default: the synthetic
    generator's pinhole, NYUDv2's field of view). Samples without depth (unpaired) get all-zero
    (invalid) normals. Attributes of the wrapped dataset (``info``, ...) pass through.
    """

    def __init__(
        self, dataset: Any, camera: Callable[[int, int], np.ndarray] = intrinsics
    ) -> None:
        self.dataset = dataset
        self.camera = camera

    def __getitem__(self, index: int) -> dict[str, Any]:
        sample = dict(self.dataset[index])
        depth = np.asarray(sample["depth"], dtype=np.float32)
        depth = depth[0] if depth.ndim == 3 else depth
        h, w = depth.shape
        normals = normals_from_depth(depth, self.camera(h, w))
        sample["normals"] = torch.from_numpy(np.ascontiguousarray(normals.transpose(2, 0, 1)))
        return sample


def with_normals(dataset: Any, where: str) -> Any:
    """``dataset`` as a model with the ``normals`` modality needs it: its own ``normals`` if its
    samples have them, else :class:`WithNormals` over its metric depth.

    Raises ConfigError (naming ``where``, e.g. the dataset and split) when the samples have no
    depth or the depth is not metric (Cityscapes' disparity): normals need 3-D points.
    """
    if len(dataset) == 0:
        return dataset
    first = dataset[0]
    if "normals" in first:
        return dataset
    if "depth" not in first:
        raise ConfigError(
            f"{where}: the model has the `normals` modality, which is derived from depth, but the "
            f"samples have no depth (keys {sorted(first)})"
        )
    units = getattr(getattr(dataset, "info", None), "depth_units", "m")
    if units != "m":
        raise ConfigError(
            f"{where}: the model has the `normals` modality, which is derived from metric depth "
            f"(metres), but this dataset's depth is in {units!r}"
        )
    return WithNormals(dataset)
