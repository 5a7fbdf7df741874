# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Which NYUDv2 fine names (894 of them) become which target classes.

Default: the paper's 12 classes by name ('book' and 'books' -> book, 'television' -> tv,
everything else ignored = 255). Or a YAML/JSON file {fine name: class name or null}, whose
classes are numbered in order of first appearance, or the 40-class ``classMapping40.mat``
(allClassName -> className[mapClass - 1]). Checked by ``pytest test/test_data_nyudv2.py``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import yaml

from mmed_core.data.classes import IGNORE_INDEX, NYU12_CLASSES, NYU12_PALETTE, default_palette
from mmed_core.data.splits import read_mat
from mmed_core.errors import ConfigError

__all__ = ["DEFAULT_MAPPING", "load_class_mapping", "label_lut"]

DEFAULT_MAPPING: dict[str, str] = {
    **{c: c for c in NYU12_CLASSES},
    "books": "book",
    "television": "tv",
}
Palette = tuple[tuple[int, int, int], ...]


def _normalise(name: str) -> str:
    return " ".join(str(name).lower().split())


def _classes_palette(names: list[str]) -> tuple[tuple[str, ...], Palette]:
    if set(names) == set(NYU12_CLASSES):
        return NYU12_CLASSES, NYU12_PALETTE
    return tuple(names), default_palette(len(names))


def _from_mat(path: Path) -> tuple[tuple[str, ...], Palette, dict[str, str]]:
    data = read_mat(path, ("className", "mapClass", "allClassName"))
    classes = [str(np.asarray(c).ravel()[0]) for c in data["className"].ravel()]
    fine = [
        str(np.asarray(c).ravel()[0]) if np.asarray(c).size else ""
        for c in data["allClassName"].ravel()
    ]
    target = np.asarray(data["mapClass"]).ravel().astype(int)
    if len(target) != len(fine) or target.max(initial=0) > len(classes):
        raise ConfigError(
            f"{path}: mapClass ({len(target)} entries, max {target.max(initial=0)}) does not "
            f"match allClassName ({len(fine)}) / className ({len(classes)})"
        )
    mapping = {f: classes[t - 1] for f, t in zip(fine, target) if t > 0}
    return tuple(classes), default_palette(len(classes)), mapping


def load_class_mapping(path: str | None) -> tuple[tuple[str, ...], Palette, dict[str, str]]:
    """(class names, palette, {fine name: class name}) for ``path`` or the paper's default."""
    if not path:
        return NYU12_CLASSES, NYU12_PALETTE, dict(DEFAULT_MAPPING)
    file = Path(path)
    if not file.is_file():
        raise ConfigError(
            f"class_mapping {file}: file not found "
            f"(expected .yaml/.yml/.json or classMapping40.mat)"
        )
    if file.suffix.lower() == ".mat":
        return _from_mat(file)
    try:
        text = file.read_text()
        raw = json.loads(text) if file.suffix.lower() == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"class_mapping {file}: cannot parse ({exc})") from exc
    if not isinstance(raw, Mapping) or not all(
        isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in raw.items()
    ):
        raise ConfigError(
            f"class_mapping {file}: expected a mapping of fine name -> class name (or null), "
            f"got {type(raw).__name__}"
        )
    names = list(dict.fromkeys(v for v in raw.values() if v is not None))
    if not names:
        raise ConfigError(f"class_mapping {file}: maps no fine name to a class")
    classes, palette = _classes_palette(names)
    return classes, palette, {k: v for k, v in raw.items() if v is not None}


def label_lut(
    fine_names: list[str], mapping: Mapping[str, str], classes: tuple[str, ...]
) -> np.ndarray:
    """Lookup table from the .mat's label values (0 = unlabeled, k = fine_names[k-1]) to class
    ids."""
    if len(classes) >= IGNORE_INDEX:
        raise ConfigError(f"at most {IGNORE_INDEX} classes fit uint8 labels, got {len(classes)}")
    index = {c: k for k, c in enumerate(classes)}
    wanted = {_normalise(k): index[v] for k, v in mapping.items()}
    lut = np.full(len(fine_names) + 1, IGNORE_INDEX, np.uint8)
    for k, name in enumerate(fine_names, start=1):
        lut[k] = wanted.get(_normalise(name), IGNORE_INDEX)
    return lut
