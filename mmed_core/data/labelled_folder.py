# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Your own labelled frames: a folder of RGB images, label PNGs and (optionally) depth PNGs.

Layout (file stems pair the modalities; depth may be missing for any frame)::

    DIR/rgb/0001.png          RGB, PNG or JPEG
    DIR/label*/0001.png       class ids (8 or 16 bit), e.g. label40/ for NYU-40 ids
    DIR/depth*/0001.png       uint16 millimetres, 0 = no measurement (optional)
    DIR/splits/train.txt      frame stems of each split, one a line (optional; also val.txt,
                              test.txt and extra.txt)

Without ``splits/`` every split gives every frame (scoring a model on all your frames is what
``mmed-eval`` and ``mmed-bag make`` want), so training on such a folder validates on its
training frames: ``mmed-train`` says so in its log and in summary.json
(:func:`same_frames_every_split`). With ``splits/`` a split gives the frames its file lists
(blank lines and ``#`` comments are skipped); asking for a split without a file is an error, a
stem that is not in ``rgb/`` or is listed twice is an error, and train, val and test must not
share a frame. ``extra`` (RGB only) gives ``extra.txt``'s frames, which need no label, or
without that file the train frames; it must not hold val or test frames.

A class map (YAML ``{source id: target class name or null}``, e.g.
``config/class_maps/nyu40_to_nyu12.yaml``) turns the source ids into the model's classes;
unmapped ids are ignored (255). Without one, label values are taken as target ids already
(the paper's 12 NYUDv2 classes, 255 = ignored). Score a model on such a folder with
``mmed-eval --checkpoint M --dataset labelled --root DIR --option class_map=nyu40_to_nyu12``
or ``python scripts/real_check.py DIR --checkpoint M --out OUT``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml

from mmed_core.data.base import DatasetInfo
from mmed_core.data.classes import IGNORE_INDEX, NYU12_CLASSES, NYU12_PALETTE, default_palette
from mmed_core.data.folders import IMAGE_EXTENSIONS, read_rgb
from mmed_core.errors import ConfigError, DatasetError
from mmed_core.imagefile import read_image

__all__ = [
    "CLASS_MAP_DIR",
    "SPLIT_DIR",
    "load_class_map",
    "read_png16",
    "read_split_list",
    "same_frames_every_split",
    "LabelledFolderSource",
    "DEPTH_RANGE",
]

DEPTH_RANGE = (0.5, 10.0)
# Optional split lists: DIR/splits/{train,val,test,extra}.txt, one frame stem a line.
SPLIT_DIR = "splits"
_HELD_OUT = ("val", "test")
# Class maps shipped with the source tree (config/class_maps/NAME.yaml).
CLASS_MAP_DIR = Path(__file__).resolve().parents[2] / "config" / "class_maps"


def _resolve_map(spec: str | os.PathLike[str]) -> Path:
    path = Path(spec)
    if path.is_file():
        return path
    for candidate in (CLASS_MAP_DIR / f"{spec}.yaml", CLASS_MAP_DIR / str(spec)):
        if candidate.is_file():
            return candidate
    shipped = (
        sorted(p.stem for p in CLASS_MAP_DIR.glob("*.yaml")) if CLASS_MAP_DIR.is_dir() else []
    )
    raise ConfigError(
        f"class_map {str(spec)!r}: no such file, and not a shipped map "
        f"(shipped: {', '.join(shipped) or 'none'})"
    )


def load_class_map(
    spec: str | os.PathLike[str] | None,
) -> tuple[tuple[str, ...], tuple[tuple[int, int, int], ...], np.ndarray]:
    """(class names, palette, lookup table source id -> target id) of a class-map file.

    ``spec`` is a YAML path or the name of a shipped map; None means identity over the paper's
    12 classes. The map's classes are numbered like the paper's 12 when they are exactly those,
    otherwise in order of first appearance.
    """
    if spec is None:
        lut = np.full(65536, IGNORE_INDEX, np.uint8)
        lut[: len(NYU12_CLASSES)] = np.arange(len(NYU12_CLASSES))
        return NYU12_CLASSES, NYU12_PALETTE, lut
    path = _resolve_map(spec)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"class_map {path}: cannot parse ({exc})") from exc
    if isinstance(raw, Mapping) and "map" in raw:
        raw = raw["map"]
    if not isinstance(raw, Mapping) or not raw:
        raise ConfigError(
            f"class_map {path}: expected a mapping of source id -> class name (or null), "
            f"got {type(raw).__name__}"
        )
    pairs: list[tuple[int, str]] = []
    for key, value in raw.items():
        if not isinstance(key, int) or not 0 <= key < 65536:
            raise ConfigError(f"class_map {path}: keys must be label ids 0..65535, got {key!r}")
        if value is None:
            continue
        if not isinstance(value, str):
            raise ConfigError(
                f"class_map {path}: id {key} maps to {value!r}; expected a class name or null"
            )
        pairs.append((key, value))
    names = list(dict.fromkeys(v for _, v in pairs))
    if not names:
        raise ConfigError(f"class_map {path}: maps no id to a class")
    if len(names) >= IGNORE_INDEX:
        raise ConfigError(
            f"class_map {path}: at most {IGNORE_INDEX - 1} classes, got {len(names)}"
        )
    if set(names) == set(NYU12_CLASSES):
        classes, palette = NYU12_CLASSES, NYU12_PALETTE
    else:
        classes, palette = tuple(names), default_palette(len(names))
    index = {c: k for k, c in enumerate(classes)}
    lut = np.full(65536, IGNORE_INDEX, np.uint8)
    for key, value in pairs:
        lut[key] = index[value]
    return classes, palette, lut


def _images(folder: Path) -> dict[str, Path]:
    return {
        p.stem: p
        for p in sorted(folder.iterdir())
        if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
    }


def _find_dir(root: Path, explicit: str | None, prefix: str, required: bool) -> Path | None:
    if explicit:
        folder = root / explicit
        if not folder.is_dir():
            raise DatasetError(f"{root}: no folder {explicit!r} (option {prefix}_dir)")
        return folder
    found = sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith(prefix))
    if len(found) > 1:
        raise DatasetError(
            f"{root}: several {prefix}* folders ({', '.join(p.name for p in found)}); "
            f"choose one with --option {prefix}_dir=NAME"
        )
    if not found and required:
        raise DatasetError(
            f"{root}: expected a {prefix}*/ folder of {prefix} PNGs beside rgb/, found none"
        )
    return found[0] if found else None


def read_png16(path: Path, what: str) -> np.ndarray:
    """A one-channel 8- or 16-bit image (ids, millimetres); a DatasetError naming the file
    otherwise."""
    image = read_image(path, cv2.IMREAD_UNCHANGED, what)
    if image.ndim == 3:
        raise DatasetError(
            f"{path}: a {what} image must have one channel (ids / millimetres), "
            f"got {image.shape[2]} channels"
        )
    if image.dtype not in (np.uint8, np.uint16):
        raise DatasetError(f"{path}: a {what} image must be 8 or 16 bit, got {image.dtype}")
    return image


def same_frames_every_split(root: str | os.PathLike[str]) -> bool:
    """True when the folder has no split lists (``DIR/splits/``): every split is every frame."""
    return not (Path(root) / SPLIT_DIR).is_dir()


def read_split_list(root: str | os.PathLike[str], split: str) -> list[str] | None:
    """The frame stems ``DIR/splits/<split>.txt`` lists, in its order; None if that file is
    absent. Blank lines and ``#`` comments are skipped; a stem listed twice is an error."""
    path = Path(root) / SPLIT_DIR / f"{split}.txt"
    if not path.is_file():
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read this split list ({exc})") from exc
    stems: list[str] = []
    seen: set[str] = set()
    for number, line in enumerate(text.splitlines(), 1):
        stem = line.split("#", 1)[0].strip()
        if not stem:
            continue
        stem = Path(stem).stem if Path(stem).suffix.lower() in IMAGE_EXTENSIONS else stem
        if stem in seen:
            raise DatasetError(f"{path}:{number}: frame {stem!r} is listed twice")
        seen.add(stem)
        stems.append(stem)
    return stems


def _split_stems(root: Path, split: str, rgbs: Mapping[str, Path]) -> list[str]:
    """The stems of ``split`` from the split lists (checked against rgb/ and each other)."""
    folder = root / SPLIT_DIR
    lists = {s: read_split_list(root, s) for s in ("train", "val", "test", "extra")}
    wanted = lists[split] if split != "extra" or lists["extra"] is not None else lists["train"]
    if wanted is None:
        present = sorted(f"{s}.txt" for s, v in lists.items() if v is not None)
        raise DatasetError(
            f"{folder}: expected {split}.txt listing the {split} frames (one stem a line), "
            f"found {', '.join(present) or 'no split list'}; list them there, or remove "
            f"{SPLIT_DIR}/ to use every frame for every split"
        )
    for name, stems in lists.items():
        unknown = [s for s in stems or () if s not in rgbs]
        if unknown:
            raise DatasetError(
                f"{folder / f'{name}.txt'}: {len(unknown)} frame(s) not in rgb/: "
                f"{', '.join(unknown[:10])}"
            )
    pairs = [("train", "val"), ("train", "test"), ("val", "test")]
    pairs += [("extra", held) for held in _HELD_OUT]
    for a, b in pairs:
        shared = sorted(set(lists[a] or ()) & set(lists[b] or ()))
        if shared:
            raise DatasetError(
                f"{folder}: {a}.txt and {b}.txt share {len(shared)} frame(s) "
                f"({', '.join(shared[:10])}); a frame belongs to one of train, val and test"
                + (" (extra may repeat train frames only)" if a == "extra" else "")
            )
    return wanted


class LabelledFolderSource:
    """The frames of one split of a labelled folder: those ``splits/<split>.txt`` lists, or
    every frame when the folder has no ``splits/`` ('extra' gives the RGB alone)."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: str,
        *,
        class_map: str | None = None,
        rgb_dir: str = "rgb",
        label_dir: str | None = None,
        depth_dir: str | None = None,
        depth_scale: float = 0.001,
    ) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetError(
                f"{self.root}: expected a folder with rgb/ and label*/ inside, found "
                f"{'a file' if self.root.exists() else 'nothing'}"
            )
        if depth_scale <= 0:
            raise ConfigError(f"labelled option depth_scale must be > 0, got {depth_scale}")
        rgb_folder = self.root / rgb_dir
        if not rgb_folder.is_dir():
            raise DatasetError(f"{self.root}: no {rgb_dir}/ folder of RGB images")
        label_folder = _find_dir(self.root, label_dir, "label", required=True)
        depth_folder = _find_dir(self.root, depth_dir, "depth", required=False)
        rgbs = _images(rgb_folder)
        labels = _images(label_folder) if label_folder else {}
        depths = _images(depth_folder) if depth_folder else {}
        if not rgbs:
            raise DatasetError(f"{rgb_folder}: no images ({', '.join(IMAGE_EXTENSIONS)})")
        # None: no split lists, every split is every frame (and every frame needs its label).
        self.split_list: Path | None = None
        self.stems = sorted(rgbs)
        if not same_frames_every_split(self.root):
            self.stems = _split_stems(self.root, split, rgbs)
            self.split_list = self.root / SPLIT_DIR / f"{split}.txt"
            if not self.split_list.is_file():  # extra without extra.txt: the train frames
                self.split_list = self.split_list.with_name("train.txt")
        self.paired = split != "extra"
        # RGB-only frames of extra.txt need no label; every other frame does.
        needs_label = self.stems if self.paired or self.split_list is None else []
        missing = [s for s in needs_label if s not in labels]
        if missing:
            raise DatasetError(
                f"{self.root}: {len(missing)} RGB frame(s) without a label in "
                f"{label_folder.name if label_folder else 'label'}/: {', '.join(missing[:10])}"
            )
        if not self.stems:
            raise DatasetError(f"{self.split_list}: lists no frame")
        self.rgb = [rgbs[s] for s in self.stems]
        self.label = [labels.get(s) for s in self.stems]
        self.depth = [depths.get(s) for s in self.stems]
        self.split, self.class_map, self.depth_scale = split, class_map, float(depth_scale)
        classes, palette, self.lut = load_class_map(class_map)
        self.info = DatasetInfo("labelled", classes, palette, DEPTH_RANGE, "m")

    def __len__(self) -> int:
        return len(self.stems)

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        rgb = read_rgb(self.rgb[index])
        if not self.paired:
            return rgb, None, None
        label_path = self.label[index]
        assert label_path is not None  # paired frames have labels (checked in __init__)
        raw = read_png16(label_path, "label")
        if raw.shape != rgb.shape[:2]:
            raise DatasetError(
                f"{self.label[index]}: label is {raw.shape[1]}x{raw.shape[0]} but its RGB "
                f"{self.rgb[index].name} is {rgb.shape[1]}x{rgb.shape[0]}"
            )
        label = self.lut[raw]
        depth = None
        depth_path = self.depth[index]
        if depth_path is not None:
            mm = read_png16(depth_path, "depth")
            if mm.shape != rgb.shape[:2]:
                raise DatasetError(
                    f"{self.depth[index]}: depth is {mm.shape[1]}x{mm.shape[0]} but its RGB "
                    f"is {rgb.shape[1]}x{rgb.shape[0]}"
                )
            depth = mm.astype(np.float32) * self.depth_scale
        return rgb, depth, label

    def has_depth(self, index: int) -> bool:
        return self.depth[index] is not None

    def fingerprint(self) -> dict[str, Any]:
        digest = hashlib.sha256()
        listed = [*self.rgb, *self.label, *self.depth]
        for path in [p for p in listed if p is not None]:
            stat = path.stat()
            digest.update(
                f"{path.relative_to(self.root)}|{stat.st_size}|{stat.st_mtime_ns}\n".encode()
            )
        if self.class_map is not None:
            digest.update(_resolve_map(self.class_map).read_bytes())
        if self.split_list is not None:  # which frames, in which order (absent: all, sorted)
            digest.update(f"split list {self.split_list.name}: {' '.join(self.stems)}".encode())
        return {
            "kind": "labelled",
            "root": str(self.root.resolve()),
            "split": self.split,
            "frames": len(self.stems),
            "depth_scale": self.depth_scale,
            "listing": digest.hexdigest(),
        }
