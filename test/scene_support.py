# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""A hand-made raycast scene for the generator's tests (test_data_realism, test_data_shapes)."""

from __future__ import annotations

import numpy as np

from mmed_core.data.raycast import Material, Scene


def grey_room(boxes: list[tuple[tuple, tuple]], shapes: list[int] | None = None) -> Scene:
    """A 4 x 4 x 3 m grey room with grey objects (``boxes``: (lo, hi) corners; ``shapes``: a
    raycast.Shape each, default all boxes) and one light under the ceiling's centre."""
    n = len(boxes)
    return Scene(
        size=np.array([4.0, 4.0, 3.0]),
        lo=np.array([b[0] for b in boxes], float).reshape(n, 3),
        hi=np.array([b[1] for b in boxes], float).reshape(n, 3),
        label=np.full(n, 255, np.uint8),
        material=np.full(n, Material.PLAIN),
        color=np.full((n, 3), 0.5),
        param=np.linspace(0.1, 0.9, n),
        room_label=(5, 3, 2),
        room_material=(Material.PLAIN, Material.PLAIN, Material.PLAIN),
        room_color=np.full((3, 3), 0.6),
        lights=np.array([[2.0, 2.0, 2.8]]),
        light_power=np.array([1.0]),
        shape=None if shapes is None else np.array(shapes, np.uint8),
    )
