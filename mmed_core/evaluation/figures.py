# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Figure grids like the paper's Fig. 3/4: inputs, ground truth and every cross-modal output.

    mmed-eval --checkpoint runs/synthetic-mmed/best.safetensors --split test   # writes figure.png

One row per sample; columns: input RGB, ground-truth labels and depth (and any other registered
modality the samples carry, e.g. normals), then each path the model has (labels from
RGB/depth, depth from RGB/labels, RGB from depth/labels, then the others). Each modality draws
itself (its registry ``to_display``): labels in the class palette (ignored pixels black), depth
normalised to [0, 255] over the dataset's depth range as in Fig. 4 (invalid pixels black),
normals as (n + 1) / 2 colours. A legend of the class colours closes the figure. Drawn with
OpenCV only (no matplotlib).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from mmed_core.atomic import atomic_write_bytes
from mmed_core.data.classes import IGNORE_INDEX, UNKNOWN_COLOR
from mmed_core.errors import InputError
from mmed_core.network.modalities import MODALITIES, get_modality, normalize_depth, postprocess

__all__ = [
    "figure_columns",
    "render_figure",
    "figure_layout",
    "save_png",
    "legend_strip",
    "colorize_labels",
    "depth_to_gray",
    "GAP",
    "HEADER_H",
    "LEGEND_ROW_H",
    "LEGEND_CELL_W",
]

GAP = 4  # pixels between tiles
HEADER_H = 22  # column titles
LEGEND_ROW_H = 20
LEGEND_CELL_W = 120
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_ORDER = [
    ("rgb", "label"),
    ("depth", "label"),
    ("rgb", "depth"),
    ("label", "depth"),
    ("depth", "rgb"),
    ("label", "rgb"),
]
_TITLES = {"rgb": "RGB", "label": "label", "depth": "depth"}
_TRUTH = ("rgb", "label", "depth")  # the paper's columns; other modalities follow


def _title(name: str) -> str:
    return _TITLES.get(name, name)


def _ordered(paths: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    have = [(str(p[0]), str(p[1])) for p in paths]
    # cross-modal paths only (the paper's figures show no X->X reconstructions)
    return [p for p in _ORDER if p in have] + [p for p in have if p not in _ORDER and p[0] != p[1]]


def figure_columns(paths: Sequence[tuple[str, str]], truth: Sequence[str] = _TRUTH) -> list[str]:
    """Column titles: the inputs / ground truths (``truth``, registry order after RGB, label
    and depth), then the model's paths (the paper's six first)."""
    shown = [m for m in _TRUTH if m in truth] + [
        m for m in MODALITIES if m in truth and m not in _TRUTH
    ]
    first = ["RGB" if m == "rgb" else f"GT {_title(m)}" for m in shown]
    return [*first, *(f"{_title(s)}->{_title(d)}" for s, d in _ordered(paths))]


def colorize_labels(ids: np.ndarray, palette: Sequence[Sequence[int]]) -> np.ndarray:
    lut = np.zeros((256, 3), np.uint8)
    lut[:] = UNKNOWN_COLOR
    lut[: len(palette)] = np.asarray(palette, np.uint8)
    return lut[np.clip(ids, 0, IGNORE_INDEX).astype(np.int64)]


def depth_to_gray(depth: np.ndarray, depth_range: tuple[float, float]) -> np.ndarray:
    g = (
        normalize_depth(torch.as_tensor(depth, dtype=torch.float32), depth_range)
        .round()
        .byte()
        .numpy()
    )
    return np.repeat(g[..., None], 3, axis=2)


def figure_layout(n_samples: int, n_columns: int, num_classes: int, tile: int) -> tuple[int, int]:
    """(height, width) of the figure in pixels."""
    width = n_columns * tile + (n_columns + 1) * GAP
    per_row = max(1, width // LEGEND_CELL_W)
    legend_rows = math.ceil(num_classes / per_row) if num_classes else 0
    height = (
        HEADER_H
        + n_samples * (tile + GAP)
        + GAP
        + legend_rows * LEGEND_ROW_H
        + (GAP if legend_rows else 0)
    )
    return height, width


def _tile(img: np.ndarray, tile: int) -> np.ndarray:
    return cv2.resize(img, (tile, tile), interpolation=cv2.INTER_NEAREST)


def render_figure(
    samples: Sequence[Mapping[str, Any]], config: Any, *, tile: int = 128
) -> np.ndarray:
    """RGB uint8 image of the grid. Each sample holds raw ``rgb`` (3,H,W), ``depth`` (1,H,W),
    ``label`` (H,W) and ``outputs`` {(src, dst): network-unit tensor (C,H,W)}."""
    if not samples:
        raise InputError("render_figure needs at least one sample, got none")
    paths = _ordered(list(samples[0]["outputs"]))
    truth = [m for m in _TRUTH if m in samples[0]] + [
        m for m in MODALITIES if m in samples[0] and m not in _TRUTH
    ]
    cols = figure_columns(paths, truth)
    h, w = figure_layout(len(samples), len(cols), config.num_classes, tile)
    canvas = np.full((h, w, 3), 255, np.uint8)
    for c, title in enumerate(cols):
        x = GAP + c * (tile + GAP)
        cv2.putText(canvas, title, (x + 2, HEADER_H - 7), _FONT, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    for r, s in enumerate(samples):
        tiles = [_render_truth(m, np.asarray(s[m]), config) for m in truth]
        for p in paths:
            tiles.append(_render_output(p[1], torch.as_tensor(s["outputs"][p]), config))
        y = HEADER_H + r * (tile + GAP)
        for c, img in enumerate(tiles):
            x = GAP + c * (tile + GAP)
            canvas[y : y + tile, x : x + tile] = _tile(img, tile)
    _legend(canvas, config, HEADER_H + len(samples) * (tile + GAP) + GAP)
    return canvas


def _hwc(raw: np.ndarray, mod: Any) -> np.ndarray:
    """A raw array (C, H, W) / (H, W) -> (H, W, C) / (H, W) as ``to_display`` takes it."""
    return raw if mod.categorical or raw.ndim == 2 else raw.transpose(1, 2, 0)


def _render_truth(name: str, raw: np.ndarray, config: Any) -> np.ndarray:
    mod = get_modality(name)
    if mod.to_display is None:
        raise InputError(f"figure: modality '{name}' has no to_display to draw it")
    return mod.to_display(_hwc(raw, mod), config)


def _render_output(dst: str, y: torch.Tensor, config: Any) -> np.ndarray:
    mod = get_modality(dst)
    if mod.to_display is None:
        raise InputError(f"figure: modality '{dst}' has no to_display to draw it")
    raw = postprocess(dst, y.unsqueeze(0).float(), config)[0]
    if mod.categorical:
        return mod.to_display(raw.argmax(0).numpy(), config)
    return mod.to_display(_hwc(raw.numpy(), mod), config)


def _legend(canvas: np.ndarray, config: Any, top: int) -> None:
    per_row = max(1, canvas.shape[1] // LEGEND_CELL_W)
    for k, (name, colour) in enumerate(zip(config.class_names, config.palette)):
        y = top + (k // per_row) * LEGEND_ROW_H
        x = GAP + (k % per_row) * LEGEND_CELL_W
        cv2.rectangle(
            canvas, (x, y + 3), (x + 14, y + LEGEND_ROW_H - 3), tuple(int(v) for v in colour), -1
        )
        cv2.putText(
            canvas,
            str(name)[:16],
            (x + 18, y + LEGEND_ROW_H - 6),
            _FONT,
            0.4,
            (0, 0, 0),
            1,
            cv2.LINE_AA,
        )


def legend_strip(width: int, config: Any) -> np.ndarray:
    """The class legend of a figure (``config``: class_names, palette) as an RGB strip of
    ``width`` pixels, as many rows as the classes need."""
    per_row = max(1, width // LEGEND_CELL_W)
    rows = math.ceil(len(config.class_names) / per_row)
    canvas = np.full((rows * LEGEND_ROW_H + GAP, width, 3), 255, np.uint8)
    _legend(canvas, config, 0)
    return canvas


def save_png(path: str | Path, rgb: np.ndarray) -> Path:
    """Write an RGB uint8 image as PNG, atomically."""
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise InputError(f"could not encode a {rgb.shape} {rgb.dtype} image as PNG for {path}")
    atomic_write_bytes(path, buf.tobytes())
    return Path(path)
