# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""The figure grid is a valid PNG of the expected size with the class legend.

python -m pytest test/test_figures.py
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from mmed_core.evaluation.figures import (
    GAP,
    HEADER_H,
    figure_columns,
    figure_layout,
    render_figure,
    save_png,
)
from mmed_core.network.config import ModelConfig


def _sample(cfg: ModelConfig, size: int = 32) -> dict:
    label = np.full((size, size), 255, np.int64)
    label[size // 2 :] = 3
    outputs = {}
    for s, d in cfg.paths():
        ch = {"rgb": 3, "depth": 1, "label": cfg.num_classes}[d]
        outputs[(s, d)] = torch.rand(ch, size, size) * 255
    return {
        "rgb": np.random.rand(3, size, size) * 255,
        "depth": np.full((1, size, size), 2.0, np.float32),
        "label": label,
        "outputs": outputs,
    }


def test_figure_is_a_png_of_the_expected_size(tmp_path):
    cfg = ModelConfig.preset("tiny")
    cols = figure_columns(cfg.paths())
    assert cols == [
        "RGB",
        "GT label",
        "GT depth",
        "RGB->label",
        "depth->label",
        "RGB->depth",
        "label->depth",
        "depth->RGB",
        "label->RGB",
    ]
    img = render_figure([_sample(cfg), _sample(cfg), _sample(cfg)], cfg, tile=64)
    path = save_png(tmp_path / "fig.png", img)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    back = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    h, w = figure_layout(3, 9, cfg.num_classes, 64)
    assert back.shape == (h, w, 3)
    assert w == 9 * 64 + 10 * GAP and h > HEADER_H + 3 * 64
    # ground-truth label tile: the floor colour of the palette (RGB) in the lower half
    y, x = HEADER_H + 60, GAP + 64 + GAP + 10
    assert tuple(cv2.cvtColor(back, cv2.COLOR_BGR2RGB)[y, x]) == cfg.palette[3]
    # legend: the swatch of class 0 sits at the bottom-left with the class colour
    legend_top = HEADER_H + 3 * (64 + GAP) + GAP
    assert tuple(cv2.cvtColor(back, cv2.COLOR_BGR2RGB)[legend_top + 10, GAP + 5]) == cfg.palette[0]


def test_single_task_figure_has_only_its_path():
    cfg = ModelConfig.preset("tiny", method="enc-dec", targets=("depth",))
    img = render_figure([_sample(cfg)], cfg, tile=32)
    assert img.shape == (*figure_layout(1, 4, cfg.num_classes, 32), 3) and img.dtype == np.uint8
