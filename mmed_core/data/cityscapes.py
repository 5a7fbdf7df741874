# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Cityscapes: RGB, 19-class fine labels and disparity (optionally metric depth), as in the paper.

Layout under the root: ``leftImg8bit/{split}/{city}/*_leftImg8bit.png``,
``gtFine/{split}/{city}/*_gtFine_labelIds.png`` (label ids -> train ids, others 255),
``disparity/{split}/{city}/*_disparity.png`` (uint16 p: d = (p - 1) / 256 for p > 0; p = 0 or
d <= 0 is invalid and filled by Telea inpainting as the paper does) and, for metric depth,
``camera/{split}/{city}/*_camera.json`` (depth = baseline * fx / d). The paper's val and test
are seeded halves (250/250) of the official val. Extra RGB: ``leftImg8bit_trainextra``.
Build a cache with ``mmed-data cache cityscapes --root CITYSCAPES --cache-dir DIR``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from mmed_core.data.base import DatasetInfo
from mmed_core.data.cityscapes_labels import LABEL_TO_TRAIN
from mmed_core.data.classes import CITYSCAPES19_CLASSES, CITYSCAPES19_PALETTE
from mmed_core.data.folders import list_images, read_rgb
from mmed_core.data.splits import halves
from mmed_core.errors import ConfigError, DatasetError
from mmed_core.imagefile import read_image

__all__ = [
    "CityscapesSource",
    "disparity_from_png",
    "inpaint_invalid",
    "metric_depth",
    "read_camera",
    "DISPARITY_RANGE",
    "METRIC_RANGE",
    "extra_folder",
    "info",
]

# Baseline * fx is about 0.21 m * 2262 px = 475 px m on Cityscapes' cars: 128 px is ~3.7 m (the
# nearest road in view), 1 px ~ 475 m. Metric depth is kept to the same useful span.
DISPARITY_RANGE = (1.0, 128.0)
METRIC_RANGE = (1.0, 100.0)
INPAINT_RADIUS = 3
_PNG_SCALE = 256.0  # disparity PNG units per pixel of disparity


def info(depth: str) -> DatasetInfo:
    metric = depth == "metric"
    return DatasetInfo(
        name="cityscapes",
        class_names=CITYSCAPES19_CLASSES,
        palette=CITYSCAPES19_PALETTE,
        depth_range=METRIC_RANGE if metric else DISPARITY_RANGE,
        depth_units="m" if metric else "disparity",
    )


def _read_png(path: Path, what: str, dtype: type) -> np.ndarray:
    if not path.is_file():
        raise DatasetError(f"{path}: {what} file not found")
    image = read_image(path, cv2.IMREAD_UNCHANGED, f"{what} PNG")
    if image.ndim != 2 or image.dtype != dtype:
        raise DatasetError(
            f"{path}: {what} must be a single-channel {np.dtype(dtype).name} PNG, "
            f"got {image.dtype} with shape {image.shape}"
        )
    return image


def disparity_from_png(raw: np.ndarray) -> np.ndarray:
    """uint16 disparity PNG values -> float32 disparity in pixels, 0 where invalid."""
    p = raw.astype(np.float32)
    d = np.where(raw > 0, (p - 1.0) / _PNG_SCALE, 0.0).astype(np.float32)
    d[d <= 0] = 0.0
    return d


def inpaint_invalid(disparity: np.ndarray, radius: int = INPAINT_RADIUS) -> np.ndarray:
    """Fill the invalid (0) pixels by Telea's fast-marching inpainting; valid pixels are kept."""
    invalid = (disparity <= 0).astype(np.uint8)
    if not invalid.any() or invalid.all():
        return disparity
    # OpenCV's Telea is off by 1-2 intensity units whatever the scale of the values (a flat
    # field of 3.0 comes back with 4.35 in a hole), so inpaint at the PNG's 1/256 px scale,
    # where that error is below 0.01 px.
    scaled = disparity.astype(np.float32) * _PNG_SCALE
    filled = cv2.inpaint(scaled, invalid, radius, cv2.INPAINT_TELEA) / _PNG_SCALE
    return np.where(invalid > 0, filled, disparity).astype(np.float32)


def read_camera(path: Path) -> tuple[float, float]:
    """(baseline in metres, fx in pixels) from a ``*_camera.json``."""
    try:
        cam = json.loads(path.read_text())
        baseline, fx = float(cam["extrinsic"]["baseline"]), float(cam["intrinsic"]["fx"])
    except FileNotFoundError as exc:
        raise DatasetError(f"{path}: camera file not found (needed for depth='metric')") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise DatasetError(
            f"{path}: expected JSON with extrinsic.baseline and intrinsic.fx ({exc!r})"
        ) from exc
    if baseline <= 0 or fx <= 0:
        raise DatasetError(f"{path}: baseline and fx must be > 0, got {baseline} and {fx}")
    return baseline, fx


def metric_depth(disparity: np.ndarray, baseline: float, fx: float) -> np.ndarray:
    """Depth in metres = baseline * fx / d where d > 0, else 0 (invalid)."""
    valid = disparity > 0
    return np.where(valid, baseline * fx / np.where(valid, disparity, 1.0), 0.0).astype(np.float32)


def extra_folder(root: Path) -> Path:
    """Where the 19,998 extra images live in the usual unpacked layouts."""
    for candidate in (
        root / "leftImg8bit_trainextra" / "train_extra",
        root / "leftImg8bit_trainextra",
        root / "leftImg8bit" / "train_extra",
    ):
        if candidate.is_dir():
            return candidate
    raise DatasetError(
        f"{root}: no leftImg8bit_trainextra/train_extra (or leftImg8bit/train_extra) "
        f"folder for the 'extra' split"
    )


class CityscapesSource:
    """One paired split of Cityscapes at native resolution (1024x2048)."""

    paired = True

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: str,
        *,
        depth: str = "disparity",
        seed: int = 0,
        inpaint: bool = True,
    ) -> None:
        if depth not in ("disparity", "metric"):
            raise ConfigError(f"cityscapes option depth={depth!r}; valid: disparity, metric")
        self.root, self.split, self.depth, self.seed, self.inpaint = (
            Path(root),
            split,
            depth,
            seed,
            inpaint,
        )
        official = "train" if split == "train" else "val"
        images = list_images(self.root / "leftImg8bit" / official, "*_leftImg8bit.png")
        if split in ("val", "test"):
            images = [images[i] for i in halves(np.arange(len(images)), split, seed)]
        self.stems = [(p.parent.name, p.name[: -len("_leftImg8bit.png")]) for p in images]
        self.official, self.info = official, info(depth)
        missing = [
            str(f)
            for city, stem in self.stems
            for f in self._files(city, stem).values()
            if not f.is_file()
        ]
        if missing:
            raise DatasetError(
                f"{self.root}: {len(missing)} file(s) missing for split {split!r}, e.g. "
                + ", ".join(missing[:3])
            )

    def _files(self, city: str, stem: str) -> dict[str, Path]:
        files = {
            "rgb": self.root / "leftImg8bit" / self.official / city / f"{stem}_leftImg8bit.png",
            "label": self.root / "gtFine" / self.official / city / f"{stem}_gtFine_labelIds.png",
            "disparity": self.root / "disparity" / self.official / city / f"{stem}_disparity.png",
        }
        if self.depth == "metric":
            files["camera"] = self.root / "camera" / self.official / city / f"{stem}_camera.json"
        return files

    def __len__(self) -> int:
        return len(self.stems)

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        files = self._files(*self.stems[index])
        rgb = read_rgb(files["rgb"])
        label = LABEL_TO_TRAIN[_read_png(files["label"], "gtFine labelIds", np.uint8)]
        disparity = disparity_from_png(_read_png(files["disparity"], "disparity", np.uint16))
        for what, arr in (("label", label), ("disparity", disparity)):
            if arr.shape != rgb.shape[:2]:
                raise DatasetError(
                    f"{files[what]}: size {arr.shape} differs from the image's {rgb.shape[:2]}"
                )
        if self.inpaint:
            disparity = inpaint_invalid(disparity)
        if self.depth == "metric":
            disparity = metric_depth(disparity, *read_camera(files["camera"]))
        return rgb, disparity, label

    def fingerprint(self) -> dict[str, Any]:
        first = self._files(*self.stems[0])["rgb"].stat() if self.stems else None
        return {
            "kind": "cityscapes",
            "root": str(self.root.resolve()),
            "split": self.split,
            "depth": self.depth,
            "seed": self.seed,
            "inpaint": self.inpaint,
            "inpaint_radius": INPAINT_RADIUS,
            "stems": ["/".join(s) for s in self.stems],
            "first_mtime": first.st_mtime_ns if first else None,
        }
