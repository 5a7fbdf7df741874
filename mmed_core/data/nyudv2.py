# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""NYUDv2 labeled set (``nyu_depth_v2_labeled.mat``, MATLAB v7.3 = HDF5) read with h5py.

MATLAB stores arrays column-major, so h5py sees them transposed: ``images`` is (N, 3, W, H),
``depths``/``rawDepths``/``labels`` are (N, W, H); ``names`` holds object references to uint16
character arrays (label k > 0 is ``names[k-1]``, 0 = unlabeled). Fine names map to target
classes by name (see :mod:`mmed_core.data.nyu_classes`). Splits: the official ``splits.mat``
(1-based trainNdxs/testNdxs) or a seeded 868/290/290 split as in the paper.
Build its cache with ``mmed-data cache nyudv2 --root nyu_depth_v2_labeled.mat --cache-dir DIR``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from mmed_core.data.base import DatasetInfo
from mmed_core.data.nyu_classes import label_lut, load_class_mapping
from mmed_core.data.splits import seeded_split, split_official
from mmed_core.errors import DatasetError

__all__ = ["NyuMat", "NyuSource", "DEPTH_RANGE"]

DEPTH_RANGE = (0.5, 10.0)
_KEYS = ("images", "depths", "labels", "names")


def _decode_name(file: h5py.File, ref: Any, where: str) -> str:
    try:
        obj = file[ref]
    except (ValueError, KeyError, TypeError) as exc:
        raise DatasetError(
            f"{where}: 'names' must hold object references to char arrays ({exc})"
        ) from exc
    if obj.attrs.get("MATLAB_empty", 0):
        return ""
    chars = np.asarray(obj[()]).ravel()
    if chars.dtype.kind not in "ui":
        raise DatasetError(
            f"{where}: a 'names' entry is {chars.dtype}, expected uint16 characters"
        )
    return "".join(map(chr, chars.tolist()))


class NyuMat:
    """The labeled .mat file; reopened lazily in each process (DataLoader workers fork)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise DatasetError(f"{self.path}: NYUDv2 labeled .mat file not found")
        self._pid, self._file = -1, None
        f = self.file
        missing = [k for k in _KEYS if k not in f]
        if missing:
            raise DatasetError(
                f"{self.path}: missing dataset(s) {missing}; expected {list(_KEYS)} "
                f"(found {sorted(f.keys())})"
            )
        images, depths, labels = f["images"], f["depths"], f["labels"]
        if images.ndim != 4 or images.shape[1] != 3:
            raise DatasetError(
                f"{self.path}: 'images' must be (N, 3, W, H) as MATLAB v7.3 stores it, "
                f"got {images.shape}"
            )
        n, _, w, h = images.shape
        for key in ("depths", "labels") + (("rawDepths",) if "rawDepths" in f else ()):
            if f[key].shape != (n, w, h):
                raise DatasetError(
                    f"{self.path}: '{key}' must be {(n, w, h)} to match 'images' "
                    f"{images.shape}, got {f[key].shape}"
                )
        self.count, self.height, self.width = n, h, w
        self.names = [
            _decode_name(f, ref, str(self.path)) for ref in np.asarray(f["names"][()]).ravel()
        ]
        if labels.dtype.kind not in "ui" or depths.dtype.kind != "f":
            raise DatasetError(
                f"{self.path}: expected integer 'labels' and float 'depths', got "
                f"{labels.dtype} and {depths.dtype}"
            )

    @property
    def file(self) -> h5py.File:
        if self._file is None or self._pid != os.getpid():
            try:
                self._file = h5py.File(self.path, "r")
            except OSError as exc:
                raise DatasetError(
                    f"{self.path}: not a readable HDF5 (MATLAB v7.3) file ({exc})"
                ) from exc
            self._pid = os.getpid()
        return self._file

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_file": None, "_pid": -1}

    def image(self, i: int) -> np.ndarray:
        return np.ascontiguousarray(self.file["images"][i].transpose(2, 1, 0), dtype=np.uint8)

    def depth(self, i: int, key: str = "depths") -> np.ndarray:
        if key not in self.file:
            raise DatasetError(f"{self.path}: no '{key}' dataset in this file")
        return np.ascontiguousarray(self.file[key][i].T, dtype=np.float32)

    def label(self, i: int) -> np.ndarray:
        return np.ascontiguousarray(self.file["labels"][i].T)


class NyuSource:
    """One split of NYUDv2 at native resolution (480x640 for the real file)."""

    paired = True

    def __init__(
        self,
        mat_path: str | os.PathLike[str],
        split: str,
        *,
        splits_mat: str | None = None,
        class_mapping: str | None = None,
        seed: int = 0,
        depth_key: str = "depths",
    ) -> None:
        self.mat = NyuMat(mat_path)
        self.split, self.depth_key = split, depth_key
        self.splits_mat, self.class_mapping, self.seed = splits_mat, class_mapping, seed
        class_names, palette, mapping = load_class_mapping(class_mapping)
        self.lut = label_lut(self.mat.names, mapping, class_names)
        if splits_mat:
            self.indices = split_official(splits_mat, split, self.mat.count, seed)
        else:
            self.indices = seeded_split(self.mat.count, split, seed)
        self.info = DatasetInfo(
            name="nyudv2",
            class_names=class_names,
            palette=palette,
            depth_range=DEPTH_RANGE,
            depth_units="m",
        )

    def __len__(self) -> int:
        return len(self.indices)

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        i = int(self.indices[index])
        label = self.mat.label(i)
        if label.max(initial=0) >= len(self.lut):
            raise DatasetError(
                f"{self.mat.path}: image {i + 1} has label {int(label.max())} but 'names' "
                f"has only {len(self.lut) - 1} entries"
            )
        return self.mat.image(i), self.mat.depth(i, self.depth_key), self.lut[label]

    def fingerprint(self) -> dict[str, Any]:
        def stamp(path: str | None) -> Any:
            if not path:
                return None
            stat = Path(path).stat()
            return [str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns]

        return {
            "kind": "nyudv2",
            "mat": stamp(str(self.mat.path)),
            "split": self.split,
            "splits_mat": stamp(self.splits_mat),
            "class_mapping": stamp(self.class_mapping),
            "seed": self.seed,
            "depth_key": self.depth_key,
            "lut": self.lut.tolist(),
            "indices": np.asarray(self.indices).tolist(),
        }
