# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Train/val/test splits: the paper's seeded ones and NYUDv2's official ``splits.mat``.

The paper splits NYUDv2 868/290/290 and halves Cityscapes' official val into val/test
(250/250); the halves are seeded so every run (and every DDP rank) agrees. ``read_mat`` reads
the small MATLAB v5 files NYUDv2 ships (``splits.mat``, ``classMapping40.mat``) with scipy and
falls back to h5py for v7.3 files. Checked by ``pytest test/test_data_nyudv2.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
import scipy.io

from mmed_core.errors import ConfigError, DatasetError

__all__ = ["SPLITS", "read_mat", "seeded_split", "halves", "split_official"]

SPLITS = ("train", "val", "test")
_PAPER_NYU = (868, 290, 290)


def read_mat(path: str | os.PathLike[str], keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The arrays ``keys`` of a .mat file (v5 via scipy, v7.3 via h5py, transposed back)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: .mat file not found")
    try:
        data = scipy.io.loadmat(str(path))
    except NotImplementedError:  # v7.3: scipy refuses, h5py reads it
        try:
            with h5py.File(path, "r") as f:
                data = {k: np.asarray(f[k][()]).T for k in keys if k in f}
        except OSError as exc:
            raise DatasetError(f"{path}: unreadable MATLAB v7.3 file ({exc})") from exc
    except (ValueError, TypeError, OSError) as exc:
        raise DatasetError(f"{path}: not a readable MATLAB .mat file ({exc})") from exc
    missing = [k for k in keys if k not in data]
    if missing:
        found = sorted(k for k in data if not k.startswith("__"))
        raise DatasetError(f"{path}: missing variable(s) {missing}; found {found}")
    return {k: data[k] for k in keys}


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; valid: {', '.join(SPLITS)}")


def halves(indices: np.ndarray, split: str, seed: int) -> np.ndarray:
    """The seeded 'val' or 'test' half of ``indices`` (val gets the extra one if odd)."""
    order = np.random.default_rng([seed, 0x4A1F]).permutation(np.asarray(indices))
    cut = (len(order) + 1) // 2
    return np.sort(order[:cut] if split == "val" else order[cut:])


def seeded_split(
    n: int, split: str, seed: int, sizes: tuple[int, int, int] = _PAPER_NYU
) -> np.ndarray:
    """Indices of ``split`` in a seeded permutation of ``n`` samples; the paper's sizes when
    ``n`` allows (images left over stay unused), else the same proportions."""
    _check_split(split)
    if n >= sum(sizes):
        n_train, n_val, n_test = sizes
    else:
        n_val = n_test = int(round(n * sizes[1] / sum(sizes)))
        n_train = n - n_val - n_test
    order = np.random.default_rng([seed, 0x5B17]).permutation(n)
    bounds = {
        "train": (0, n_train),
        "val": (n_train, n_train + n_val),
        "test": (n_train + n_val, n_train + n_val + n_test),
    }[split]
    return np.sort(order[bounds[0] : bounds[1]])


def split_official(path: str | os.PathLike[str], split: str, n: int, seed: int) -> np.ndarray:
    """0-based indices from ``splits.mat`` (1-based trainNdxs/testNdxs); its test set is halved
    (seeded) into val and test, as the paper does for its held-out images."""
    _check_split(split)
    data = read_mat(path, ("trainNdxs", "testNdxs"))
    out = {}
    for key, arr in data.items():
        idx = np.asarray(arr).ravel().astype(np.int64)
        if idx.size == 0 or idx.min() < 1 or idx.max() > n:
            raise DatasetError(
                f"{path}: '{key}' must hold 1-based indices in 1..{n} (images in the .mat), "
                f"got range {idx.min(initial=0)}..{idx.max(initial=0)}"
            )
        out[key] = idx - 1
    if split == "train":
        return np.sort(out["trainNdxs"])
    return halves(out["testNdxs"], split, seed)
