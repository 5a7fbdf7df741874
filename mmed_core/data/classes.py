# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Class names and colour palettes of the datasets the paper uses.

The order of the names is the order of the class ids (0..K-1); id 255 means 'unknown / ignored'
everywhere in mmed (the paper's 'other' class is ignored in training and evaluation).
"""

from __future__ import annotations

import colorsys

__all__ = [
    "IGNORE_INDEX",
    "NYU12_CLASSES",
    "NYU12_PALETTE",
    "CITYSCAPES19_CLASSES",
    "CITYSCAPES19_PALETTE",
    "UNKNOWN_COLOR",
    "default_palette",
]

IGNORE_INDEX = 255
UNKNOWN_COLOR = (0, 0, 0)

# Paper §4.1 / Table 2 order.
NYU12_CLASSES: tuple[str, ...] = (
    "book",
    "cabinet",
    "ceiling",
    "floor",
    "table",
    "wall",
    "window",
    "picture",
    "blinds",
    "sofa",
    "bed",
    "tv",
)
NYU12_PALETTE: tuple[tuple[int, int, int], ...] = (
    (255, 187, 120),  # book
    (174, 199, 232),  # cabinet
    (152, 223, 138),  # ceiling
    (31, 119, 180),  # floor
    (255, 127, 14),  # table
    (188, 189, 34),  # wall
    (140, 86, 75),  # window
    (214, 39, 40),  # picture
    (197, 176, 213),  # blinds
    (148, 103, 189),  # sofa
    (44, 160, 44),  # bed
    (23, 190, 207),  # tv
)

# Cityscapes train ids 0..18 (Table 4 order), colours of the official label table.
CITYSCAPES19_CLASSES: tuple[str, ...] = (
    "road",
    "sidewalk",
    "building",
    "wall",
    "fence",
    "pole",
    "traffic light",
    "traffic sign",
    "vegetation",
    "terrain",
    "sky",
    "person",
    "rider",
    "car",
    "truck",
    "bus",
    "train",
    "motorcycle",
    "bicycle",
)
CITYSCAPES19_PALETTE: tuple[tuple[int, int, int], ...] = (
    (128, 64, 128),
    (244, 35, 232),
    (70, 70, 70),
    (102, 102, 156),
    (190, 153, 153),
    (153, 153, 153),
    (250, 170, 30),
    (220, 220, 0),
    (107, 142, 35),
    (152, 251, 152),
    (70, 130, 180),
    (220, 20, 60),
    (255, 0, 0),
    (0, 0, 142),
    (0, 0, 70),
    (0, 60, 100),
    (0, 80, 100),
    (0, 0, 230),
    (119, 11, 32),
)


def default_palette(num_classes: int) -> tuple[tuple[int, int, int], ...]:
    """A deterministic, well-spread palette for ``num_classes`` classes (golden-ratio hues)."""
    colours = []
    for k in range(num_classes):
        r, g, b = colorsys.hsv_to_rgb((k * 0.618033988749895) % 1.0, 0.65, 0.95)
        colours.append((int(r * 255), int(g * 255), int(b * 255)))
    return tuple(colours)
