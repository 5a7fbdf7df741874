# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Datasets of mmed: synthetic rooms (the default), NYUDv2, Cityscapes and your own labelled
frames (``labelled``: :mod:`mmed_core.data.labelled_folder`), behind one factory.

    from mmed_core.data import build_dataset
    ds = build_dataset("synthetic", "train", size=(96, 96))
    ds[0]  # {"rgb": (3,H,W) float 0..255, "depth": (1,H,W), "label": (H,W) int64, "paired": bool}

Split "extra" is the unpaired RGB of the paper (paired=False, depth 0, label 255). From the
shell: ``mmed-data --help``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mmed_core.data import cityscapes
from mmed_core.data.base import ArrayDataset, DatasetInfo, LazyDataset, materialize
from mmed_core.data.cache import cached_dataset
from mmed_core.data.folders import ImageFolderSource
from mmed_core.data.labelled_folder import LabelledFolderSource
from mmed_core.data.nyu_classes import load_class_mapping
from mmed_core.data.nyudv2 import DEPTH_RANGE, NyuSource
from mmed_core.data.synthetic import SyntheticSource
from mmed_core.errors import ConfigError
from mmed_core.progress import progress as progress_report

__all__ = ["DATASETS", "SPLITS", "OPTIONS", "DatasetInfo", "build_dataset", "build_source"]

DATASETS = ("synthetic", "nyudv2", "cityscapes", "labelled")
SPLITS = ("train", "val", "test", "extra")
# Valid options per dataset, with their defaults. Common to all: "progress" reports a cache
# build or an in-memory render (a bar on a terminal, a line every 30 s in a log); "workers" > 1
# decodes/renders in that many processes (results do not change).
OPTIONS: dict[str, dict[str, Any]] = {
    "synthetic": {
        "n_train": 600,
        "n_val": 100,
        "n_test": 100,
        "n_extra": 600,
        "seed": 0,
        "generator": None,  # {SyntheticConfig field: value, room: {RoomConfig field: value}}
        "progress": True,
        "workers": 1,
    },
    "nyudv2": {
        "splits_mat": None,
        "class_mapping": None,
        "extra_dir": None,
        "seed": 0,
        "depth_key": "depths",
        "progress": True,
        "workers": 1,
    },
    "cityscapes": {
        "depth": "disparity",
        "extra": None,
        "seed": 0,
        "inpaint": True,
        "progress": True,
        "workers": 1,
    },
    "labelled": {
        "class_map": None,
        "rgb_dir": "rgb",
        "label_dir": None,
        "depth_dir": None,
        "depth_scale": 0.001,
        "seed": 0,
        "progress": True,
        "workers": 1,
    },
}


def _options(name: str, options: dict[str, Any] | None) -> dict[str, Any]:
    valid = OPTIONS[name]
    unknown = sorted(set(options or {}) - set(valid))
    if unknown:
        raise ConfigError(
            f"unknown option(s) {unknown} for dataset {name!r}; valid: {', '.join(valid)}"
        )
    return {**valid, **(options or {})}


def _need_root(name: str, root: str | os.PathLike[str] | None) -> str:
    if root is None:
        what = {
            "nyudv2": "the nyu_depth_v2_labeled.mat file",
            "labelled": "the folder holding rgb/ and label*/",
        }.get(name, "the dataset folder")
        raise ConfigError(f"dataset {name!r} needs root= {what}")
    return os.fspath(root)


def build_source(
    name: str,
    split: str,
    *,
    root: str | os.PathLike[str] | None = None,
    size: tuple[int, int] = (96, 96),
    options: dict[str, Any] | None = None,
) -> Any:
    """The native-resolution source of one split (see :class:`mmed_core.data.base.Source`)."""
    if name not in DATASETS:
        raise ConfigError(f"unknown dataset {name!r}; valid: {', '.join(DATASETS)}")
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; valid: {', '.join(SPLITS)}")
    opts = _options(name, options)
    if name == "synthetic":
        n = int(opts[f"n_{split}"])
        if n < 0:
            raise ConfigError(f"synthetic option n_{split} must be >= 0, got {n}")
        return SyntheticSource(split, size, n, seed=int(opts["seed"]), generator=opts["generator"])
    if name == "labelled":
        return LabelledFolderSource(
            _need_root(name, root),
            split,
            class_map=opts["class_map"],
            rgb_dir=str(opts["rgb_dir"]),
            label_dir=opts["label_dir"],
            depth_dir=opts["depth_dir"],
            depth_scale=float(opts["depth_scale"]),
        )

    if name == "nyudv2":
        if opts["depth_key"] not in ("depths", "rawDepths"):
            raise ConfigError(
                f"nyudv2 option depth_key={opts['depth_key']!r}; valid: depths, rawDepths"
            )
        if split == "extra":
            if not opts["extra_dir"]:
                raise ConfigError(
                    "nyudv2 split 'extra' needs options={'extra_dir': folder of RGB images}"
                )
            classes, palette, _ = load_class_mapping(opts["class_mapping"])
            info = DatasetInfo("nyudv2", classes, palette, DEPTH_RANGE, "m")
            return ImageFolderSource(opts["extra_dir"], info)
        return NyuSource(
            _need_root(name, root),
            split,
            splits_mat=opts["splits_mat"],
            class_mapping=opts["class_mapping"],
            seed=int(opts["seed"]),
            depth_key=opts["depth_key"],
        )

    if split == "extra":
        if opts["depth"] not in ("disparity", "metric"):
            raise ConfigError(
                f"cityscapes option depth={opts['depth']!r}; valid: disparity, metric"
            )
        folder = opts["extra"] or cityscapes.extra_folder(Path(_need_root(name, root)))
        return ImageFolderSource(folder, cityscapes.info(opts["depth"]))
    return cityscapes.CityscapesSource(
        _need_root(name, root),
        split,
        depth=opts["depth"],
        seed=int(opts["seed"]),
        inpaint=bool(opts["inpaint"]),
    )


def build_dataset(
    name: str,
    split: str,
    *,
    root: str | os.PathLike[str] | None = None,
    size: tuple[int, int] = (96, 96),
    cache_dir: str | os.PathLike[str] | None = None,
    options: dict[str, Any] | None = None,
) -> ArrayDataset | LazyDataset:
    """One split of a dataset as a torch Dataset with ``.info`` (a :class:`DatasetInfo`).

    With ``cache_dir`` the split is resized once into memory-mapped arrays there (rebuilt when
    its inputs or ``size`` change). Without it, synthetic frames are rendered into memory and
    real datasets are read and resized on the fly.
    """
    size = (int(size[0]), int(size[1]))
    if min(size) < 1:
        raise ConfigError(f"size must be (height, width) >= 1, got {size}")
    source = build_source(name, split, root=root, size=size, options=options)
    opts = _options(name, options)
    workers = int(opts["workers"])
    if cache_dir is not None:
        return cached_dataset(
            source, size, cache_dir, split, progress=bool(opts["progress"]), workers=workers
        )
    if name == "synthetic":
        with progress_report(
            len(source), f"render synthetic-{split}", "img", enabled=bool(opts["progress"])
        ) as bar:
            arrays = materialize(source, size, progress=bar, workers=workers)
        return ArrayDataset(source.info, *arrays, paired=source.paired)
    return LazyDataset(source, size)
