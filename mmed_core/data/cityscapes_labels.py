# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""The Cityscapes label table (as published with cityscapesScripts), as data.

Each row: (name, labelId as stored in ``*_gtFine_labelIds.png``, trainId or 255 = ignored).
The 19 train ids follow ``mmed_core.data.classes.CITYSCAPES19_CLASSES``; ``LABEL_TO_TRAIN`` is the
256-entry lookup table applied to label images. Checked by ``pytest test/test_data_cityscapes.py``.
"""

from __future__ import annotations

import numpy as np

from mmed_core.data.classes import CITYSCAPES19_CLASSES, IGNORE_INDEX

__all__ = ["LABELS", "LABEL_TO_TRAIN"]

_I = IGNORE_INDEX
LABELS: tuple[tuple[str, int, int], ...] = (
    ("unlabeled", 0, _I),
    ("ego vehicle", 1, _I),
    ("rectification border", 2, _I),
    ("out of roi", 3, _I),
    ("static", 4, _I),
    ("dynamic", 5, _I),
    ("ground", 6, _I),
    ("road", 7, 0),
    ("sidewalk", 8, 1),
    ("parking", 9, _I),
    ("rail track", 10, _I),
    ("building", 11, 2),
    ("wall", 12, 3),
    ("fence", 13, 4),
    ("guard rail", 14, _I),
    ("bridge", 15, _I),
    ("tunnel", 16, _I),
    ("pole", 17, 5),
    ("polegroup", 18, _I),
    ("traffic light", 19, 6),
    ("traffic sign", 20, 7),
    ("vegetation", 21, 8),
    ("terrain", 22, 9),
    ("sky", 23, 10),
    ("person", 24, 11),
    ("rider", 25, 12),
    ("car", 26, 13),
    ("truck", 27, 14),
    ("bus", 28, 15),
    ("caravan", 29, _I),
    ("trailer", 30, _I),
    ("train", 31, 16),
    ("motorcycle", 32, 17),
    ("bicycle", 33, 18),
    # 'license plate' has labelId -1: it never appears in label images.
)


def _lut() -> np.ndarray:
    lut = np.full(256, IGNORE_INDEX, np.uint8)
    for name, label_id, train_id in LABELS:
        if train_id != IGNORE_INDEX:
            # The table and mmed's class order must agree, or every metric would be mislabelled.
            assert CITYSCAPES19_CLASSES[train_id] == name, (name, train_id)
        lut[label_id] = train_id
    return lut


LABEL_TO_TRAIN = _lut()
