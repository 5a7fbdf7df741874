# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Resizing of the three modalities to the training size, each in the way its values allow.

RGB is area-averaged (INTER_AREA), labels take the nearest pixel (ids must not be blended),
depth averages only valid (> 0) pixels so holes neither shrink the values nor spread.
Checked by ``pytest test/test_data_cache.py``.
"""

from __future__ import annotations

import cv2
import numpy as np

from mmed_core.errors import InputError

__all__ = ["resize_rgb", "resize_depth", "resize_label"]


def _check(array: np.ndarray, ndim: int, what: str, size: tuple[int, int]) -> None:
    if array.ndim != ndim or (ndim == 3 and array.shape[2] != 3):
        want = "(H, W, 3)" if ndim == 3 else "(H, W)"
        raise InputError(f"{what} must have shape {want}, got {array.shape}")
    if len(size) != 2 or min(size) < 1:
        raise InputError(f"target size must be (height, width) >= 1, got {size}")


def resize_rgb(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W, 3) uint8 -> size (h, w), area interpolation (the right filter when shrinking)."""
    _check(rgb, 3, "rgb", size)
    if rgb.shape[:2] == tuple(size):
        return np.ascontiguousarray(rgb, dtype=np.uint8)
    return cv2.resize(np.ascontiguousarray(rgb), (size[1], size[0]), interpolation=cv2.INTER_AREA)


def resize_label(label: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W) uint8 class ids -> size, nearest neighbour."""
    _check(label, 2, "label", size)
    if label.shape == tuple(size):
        return np.ascontiguousarray(label, dtype=np.uint8)
    return cv2.resize(
        np.ascontiguousarray(label, dtype=np.uint8),
        (size[1], size[0]),
        interpolation=cv2.INTER_NEAREST,
    )


def resize_depth(depth: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W) float depth with 0 = invalid -> size; each output pixel is the mean of the valid
    input pixels it covers, or 0 if it covers none."""
    _check(depth, 2, "depth", size)
    depth = np.nan_to_num(np.asarray(depth, np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    if depth.shape == tuple(size):
        return np.where(depth > 0, depth, 0).astype(np.float32)
    valid = (depth > 0).astype(np.float32)
    dsize = (size[1], size[0])
    weight = cv2.resize(valid, dsize, interpolation=cv2.INTER_AREA)
    total = cv2.resize(depth * valid, dsize, interpolation=cv2.INTER_AREA)
    out = np.zeros(size, np.float32)
    ok = weight > 1e-6
    out[ok] = total[ok] / weight[ok]
    return out
