# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Random but plausible indoor rooms with the paper's 12 NYUDv2 classes, as boxes.

Furniture stands on the floor against the walls (bed, sofa, cabinets) or in the middle
(table and chairs); windows with blinds, pictures and sometimes the tv hang on the walls;
books lie on tables and cabinets; clutter of no target class (chairs, boxes, lamps, doors)
gets label 255, as NYUDv2's 'other' pixels do. Preview with
``mmed-data synth --out /tmp/s --n-train 16 && mmed-data inspect /tmp/s``.
"""

from __future__ import annotations

import numpy as np

from mmed_core.data.classes import IGNORE_INDEX, NYU12_CLASSES
from mmed_core.data.raycast import Material, Scene

__all__ = ["random_room", "CLASS_ID"]

CLASS_ID = {name: k for k, name in enumerate(NYU12_CLASSES)}
_WOODS = np.array([[0.55, 0.38, 0.22], [0.7, 0.55, 0.38], [0.36, 0.24, 0.15], [0.8, 0.7, 0.55]])


class _Builder:
    """Collects boxes and remembers what occupies the floor and the walls, to avoid overlaps."""

    def __init__(self, size: np.ndarray, rng: np.random.Generator) -> None:
        self.size, self.rng = size, rng
        self.boxes: list[tuple] = []
        self.footprints: list[tuple[float, float, float, float]] = []
        self.wall_items: list[tuple[int, float, float, float, float]] = []

    def add(self, lo, hi, cls: str | None, material: int, color) -> None:
        label = IGNORE_INDEX if cls is None else CLASS_ID[cls]
        self.boxes.append(
            (
                np.asarray(lo, float),
                np.asarray(hi, float),
                label,
                material,
                np.clip(np.asarray(color, float), 0, 1),
                self.rng.random(),
            )
        )

    def wall_length(self, wall: int) -> float:
        return float(self.size[1] if wall < 2 else self.size[0])

    def wall_box(self, wall: int, a: float, b: float, z0: float, z1: float, depth: float):
        """Box spanning [a, b] along ``wall``, from the wall surface ``depth`` metres inwards."""
        sx, sy = self.size[0], self.size[1]
        if wall == 0:
            return (0, a, z0), (depth, b, z1)
        if wall == 1:
            return (sx - depth, a, z0), (sx, b, z1)
        if wall == 2:
            return (a, 0, z0), (b, depth, z1)
        return (a, sy - depth, z0), (b, sy, z1)

    def free_floor(self, x0: float, y0: float, x1: float, y1: float, margin: float = 0.05) -> bool:
        if x0 < 0 or y0 < 0 or x1 > self.size[0] or y1 > self.size[1]:
            return False
        return all(
            x1 + margin <= f[0]
            or f[2] + margin <= x0
            or y1 + margin <= f[1]
            or f[3] + margin <= y0
            for f in self.footprints
        )

    def place_on_wall(self, width: float, depth: float, tries: int = 20):
        """Reserve floor against a random wall; returns (wall, a, b) or None if the room is
        full."""
        for _ in range(tries):
            wall = int(self.rng.integers(4))
            length = self.wall_length(wall)
            if length < width + 0.2:
                continue
            a = float(self.rng.uniform(0.05, length - width - 0.05))
            lo, hi = self.wall_box(wall, a, a + width, 0, 1, depth)
            if self.free_floor(lo[0], lo[1], hi[0], hi[1]):
                self.footprints.append((lo[0], lo[1], hi[0], hi[1]))
                return wall, a, a + width
        return None

    def hang(self, width: float, z0: float, z1: float, tries: int = 20):
        """Reserve a wall rectangle for a picture, window, door...; returns (wall, a, b) or
        None."""
        for _ in range(tries):
            wall = int(self.rng.integers(4))
            length = self.wall_length(wall)
            if length < width + 0.4:
                continue
            a = float(self.rng.uniform(0.2, length - width - 0.2))
            if all(
                w != wall or a + width + 0.1 <= ia or ib + 0.1 <= a or z1 <= iz0 or iz1 <= z0
                for w, ia, ib, iz0, iz1 in self.wall_items
            ):
                self.wall_items.append((wall, a, a + width, z0, z1))
                return wall, a, a + width
        return None

    def scene(self, lights: np.ndarray, power: np.ndarray, room_material, room_color) -> Scene:
        if self.boxes:
            lo, hi, label, mat, color, param = (np.array(x) for x in zip(*self.boxes))
        else:
            lo = hi = color = np.zeros((0, 3))
            label, mat, param = np.zeros(0, np.uint8), np.zeros(0, int), np.zeros(0)
        return Scene(
            size=self.size.astype(np.float32),
            lo=lo,
            hi=hi,
            label=label.astype(np.uint8),
            material=mat.astype(int),
            color=color.astype(np.float32),
            param=param.astype(np.float32),
            room_label=(CLASS_ID["wall"], CLASS_ID["floor"], CLASS_ID["ceiling"]),
            room_material=room_material,
            room_color=np.asarray(room_color, np.float32),
            lights=lights,
            light_power=power,
            ambient=float(self.rng.uniform(0.25, 0.45)),
        )


def _books(b: _Builder, x0: float, x1: float, y0: float, y1: float, z: float) -> None:
    """A row of upright books along x (or along y if the surface is deeper than wide) at height
    z."""
    rng = b.rng
    along_x = (x1 - x0) >= (y1 - y0)
    start, stop = (x0, x1) if along_x else (y0, y1)
    other0, other1 = (y0, y1) if along_x else (x0, x1)
    pos = float(rng.uniform(start, start + 0.4 * (stop - start)))
    end = min(stop - 0.02, pos + rng.uniform(0.2, 0.7))
    depth = min(other1 - other0 - 0.02, rng.uniform(0.14, 0.22))
    c0 = (
        float(rng.uniform(other0 + 0.01, other1 - depth - 0.01))
        if other1 - other0 > depth + 0.02
        else other0
    )
    while pos < end:
        thick, height = rng.uniform(0.02, 0.05), rng.uniform(0.15, 0.28)
        colour = rng.uniform(0.1, 0.9, 3) * rng.uniform(0.6, 1.0)
        if along_x:
            b.add(
                (pos, c0, z), (pos + thick, c0 + depth, z + height), "book", Material.BOOK, colour
            )
        else:
            b.add(
                (c0, pos, z), (c0 + depth, pos + thick, z + height), "book", Material.BOOK, colour
            )
        pos += thick + 0.003


def _furniture(b: _Builder) -> None:
    rng = b.rng
    wood = _WOODS[rng.integers(len(_WOODS))] * rng.uniform(0.8, 1.1)
    spot = b.place_on_wall(rng.uniform(1.3, 1.8), 2.05)
    if spot:  # bed: mattress, headboard, pillow
        w, a, e = spot
        sheet = rng.uniform(0.4, 1.0, 3)
        b.add(*b.wall_box(w, a, e, 0, rng.uniform(0.45, 0.6), 2.0), "bed", Material.FABRIC, sheet)
        b.add(*b.wall_box(w, a, e, 0, rng.uniform(0.9, 1.2), 0.08), "bed", Material.WOOD, wood)
        b.add(
            *b.wall_box(w, a + 0.1, e - 0.1, 0.55, 0.68, 0.45), "bed", Material.FABRIC, sheet * 1.1
        )
    spot = b.place_on_wall(rng.uniform(1.6, 2.4), 0.9)
    if spot:  # sofa: seat, back, two arms
        w, a, e = spot
        cloth = rng.uniform(0.15, 0.8, 3)
        b.add(*b.wall_box(w, a, e, 0, 0.45, 0.9), "sofa", Material.FABRIC, cloth)
        b.add(
            *b.wall_box(w, a, e, 0, rng.uniform(0.8, 0.95), 0.25), "sofa", Material.FABRIC, cloth
        )
        b.add(*b.wall_box(w, a, a + 0.2, 0, 0.65, 0.9), "sofa", Material.FABRIC, cloth * 0.9)
        b.add(*b.wall_box(w, e - 0.2, e, 0, 0.65, 0.9), "sofa", Material.FABRIC, cloth * 0.9)
    for _ in range(int(rng.integers(1, 4))):  # cabinets, books or a tv on the low ones
        depth, height = rng.uniform(0.4, 0.6), rng.uniform(0.5, 2.0)
        spot = b.place_on_wall(rng.uniform(0.6, 1.6), depth)
        if not spot:
            continue
        w, a, e = spot
        colour = wood if rng.random() < 0.6 else rng.uniform(0.5, 0.95, 3)
        lo, hi = b.wall_box(w, a, e, 0, height, depth)
        b.add(lo, hi, "cabinet", Material.CABINET, colour)
        if height < 1.3 and rng.random() < 0.5:
            tw = min(e - a - 0.1, rng.uniform(0.6, 1.1))
            c = (a + e) / 2
            b.add(
                *b.wall_box(
                    w, c - tw / 2, c + tw / 2, height, height + tw * 0.58, 0.1 + depth / 3
                ),
                "tv",
                Material.TV,
                rng.uniform(0.05, 0.4) * np.ones(3),
            )
        elif height < 1.7:
            _books(b, lo[0], hi[0], lo[1], hi[1], height)


def _table(b: _Builder) -> None:
    rng = b.rng
    sx, sy = b.size[0], b.size[1]
    for _ in range(20):
        tw, td = rng.uniform(0.8, 1.6), rng.uniform(0.6, 1.0)
        x0, y0 = rng.uniform(0.6, sx - tw - 0.6), rng.uniform(0.6, sy - td - 0.6)
        if b.free_floor(x0 - 0.5, y0 - 0.5, x0 + tw + 0.5, y0 + td + 0.5):
            break
    else:
        return
    b.footprints.append((x0 - 0.45, y0 - 0.45, x0 + tw + 0.45, y0 + td + 0.45))
    wood = _WOODS[rng.integers(len(_WOODS))] * rng.uniform(0.8, 1.1)
    h = rng.uniform(0.7, 0.78)
    b.add((x0, y0, h - 0.04), (x0 + tw, y0 + td, h), "table", Material.WOOD, wood)
    for lx, ly in (
        (x0, y0),
        (x0 + tw - 0.05, y0),
        (x0, y0 + td - 0.05),
        (x0 + tw - 0.05, y0 + td - 0.05),
    ):
        b.add((lx, ly, 0), (lx + 0.05, ly + 0.05, h - 0.04), "table", Material.WOOD, wood * 0.9)
    _books(b, x0 + 0.05, x0 + tw - 0.05, y0 + 0.05, y0 + td - 0.05, h)
    if rng.random() < 0.7:  # a cup or box on the table (no class)
        cx, cy = rng.uniform(x0 + 0.1, x0 + tw - 0.2), rng.uniform(y0 + 0.1, y0 + td - 0.2)
        b.add((cx, cy, h), (cx + 0.09, cy + 0.09, h + 0.12), None, Material.PLAIN, rng.random(3))
    for side in range(int(rng.integers(0, 3))):  # chairs (no class) beside the table
        cy = y0 - 0.45 if side == 0 else y0 + td + 0.05
        cx = rng.uniform(x0, x0 + tw - 0.4)
        colour = rng.uniform(0.1, 0.9, 3)
        b.add((cx, cy, 0.42), (cx + 0.4, cy + 0.4, 0.46), None, Material.PLAIN, colour)
        back = cy if side == 0 else cy + 0.36
        b.add((cx, back, 0.0), (cx + 0.4, back + 0.04, 0.9), None, Material.PLAIN, colour)


def _walls(b: _Builder) -> None:
    rng = b.rng
    for _ in range(int(rng.integers(1, 3))):  # windows, most with blinds
        width, z0 = rng.uniform(0.8, 1.6), rng.uniform(0.8, 1.0)
        z1 = min(b.size[2] - 0.2, z0 + rng.uniform(1.0, 1.4))
        spot = b.hang(width, z0, z1)
        if not spot:
            continue
        w, a, e = spot
        b.add(
            *b.wall_box(w, a, e, z0, z1, 0.05),
            "window",
            Material.WINDOW,
            np.full(3, rng.uniform(0.8, 1.0)),
        )
        if rng.random() < 0.75:
            low = z1 - (z1 - z0) * rng.uniform(0.2, 0.9)
            b.add(
                *b.wall_box(w, a - 0.05, e + 0.05, low, z1 + 0.05, 0.1),
                "blinds",
                Material.BLINDS,
                rng.uniform(0.6, 0.95, 3),
            )
    for _ in range(int(rng.integers(1, 4))):  # pictures
        width, z0 = rng.uniform(0.3, 1.0), rng.uniform(1.2, 1.7)
        spot = b.hang(width, z0, z0 + width * rng.uniform(0.6, 1.2))
        if spot:
            w, a, e = spot
            b.add(
                *b.wall_box(w, a, e, z0, z0 + (e - a) * 0.8, 0.03),
                "picture",
                Material.PICTURE,
                rng.uniform(0.1, 1.0, 3),
            )
    if rng.random() < 0.5:  # a wall-mounted tv
        width = rng.uniform(0.7, 1.3)
        spot = b.hang(width, 1.1, 1.1 + width * 0.58)
        if spot:
            w, a, e = spot
            b.add(
                *b.wall_box(w, a, e, 1.1, 1.1 + width * 0.58, 0.06),
                "tv",
                Material.TV,
                np.full(3, 0.1),
            )
    spot = b.hang(0.85, 0.0, 2.05)  # a door (no class), kept clear of furniture
    if spot:
        w, a, e = spot
        lo, hi = b.wall_box(w, a, e, 0.0, 2.05, 0.04)
        b.add(lo, hi, None, Material.WOOD, _WOODS[rng.integers(len(_WOODS))])
        flo, fhi = b.wall_box(w, a, e, 0, 1, 0.8)
        b.footprints.append((flo[0], flo[1], fhi[0], fhi[1]))


def _clutter(b: _Builder) -> None:
    rng = b.rng
    for _ in range(int(rng.integers(1, 5))):  # boxes, bins, a lamp: label 255
        w, d, h = rng.uniform(0.2, 0.6), rng.uniform(0.2, 0.6), rng.uniform(0.2, 1.6)
        x, y = rng.uniform(0, b.size[0] - w), rng.uniform(0, b.size[1] - d)
        if b.free_floor(x, y, x + w, y + d):
            b.footprints.append((x, y, x + w, y + d))
            if h > 1.0:  # a standing lamp: thin pole and a shade
                b.add(
                    (x + w / 2 - 0.02, y + d / 2 - 0.02, 0),
                    (x + w / 2 + 0.02, y + d / 2 + 0.02, h),
                    None,
                    Material.PLAIN,
                    (0.2, 0.2, 0.2),
                )
                b.add(
                    (x, y, h),
                    (x + w, y + d, h + 0.3),
                    None,
                    Material.FABRIC,
                    rng.uniform(0.7, 1.0, 3),
                )
            else:
                b.add((x, y, 0), (x + w, y + d, h), None, Material.PLAIN, rng.uniform(0.1, 0.9, 3))


def random_room(rng: np.random.Generator, *, min_size: float = 3.0) -> Scene:
    """One furnished room; ``min_size`` (m) keeps large rooms for camera trajectories."""
    size = np.array(
        [rng.uniform(min_size, 6.5), rng.uniform(min_size, 7.0), rng.uniform(2.4, 3.0)]
    )
    b = _Builder(size, rng)
    _walls(b)
    _furniture(b)
    _table(b)
    _clutter(b)
    wall = rng.uniform(0.55, 0.95, 3) * [1.0, rng.uniform(0.9, 1.0), rng.uniform(0.8, 1.0)]
    floor_mat = int(rng.choice([Material.WOOD_FLOOR, Material.TILE, Material.CARPET]))
    floor = (
        _WOODS[rng.integers(len(_WOODS))]
        if floor_mat == Material.WOOD_FLOOR
        else rng.uniform(0.2, 0.8, 3)
    )
    ceiling = np.full(3, rng.uniform(0.85, 0.98))
    n_lights = int(rng.integers(1, 3))
    lights = np.column_stack(
        [
            rng.uniform(0.5, size[0] - 0.5, n_lights),
            rng.uniform(0.5, size[1] - 0.5, n_lights),
            np.full(n_lights, size[2] - 0.3),
        ]
    )
    power = rng.uniform(1.2, 2.2, n_lights) / n_lights**0.5
    return b.scene(
        lights, power, (Material.PAINT, floor_mat, Material.CEILING), (wall, floor, ceiling)
    )
