# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Random but plausible indoor rooms with the paper's 12 NYUDv2 classes, as boxes.

Furniture stands on the floor against the walls (bed, sofa, cabinets) or in the middle
(tables); windows with blinds or curtains, pictures and tvs at real sizes hang on the walls;
books stand on shelves, tables and cabinets. About half of a real NYUDv2 frame is of no target
class, so the rooms are cluttered with objects that get label 255 as NYUDv2's 'other' pixels
do: chairs, people, bookshelves, boxes, bins, clothes, plants, lamps, pillows, rugs, doors,
whiteboards, things on every surface. Appearance is decoupled from class: every object draws
its material and colour from the same broad distributions (:func:`surface`), so only shape,
size, place and context tell the classes apart, as in real rooms. With ``rounded`` > 0 some
objects take a round shape inscribed in their box (:class:`~mmed_core.data.raycast.Shape`):
pillows, cushions, clothes, plants, heads and some small things become ellipsoids; pots, bins,
lamps, legs, chair seats, tables' tops, rugs, bodies, cups and bottles cylinders; sofa arms and
backs get rolled tops. Those choices come from a stream of their own, so the rooms stay those of
``rounded=0`` (things on a round table move in to stay on it). The knobs are
the fields of :class:`RoomConfig`. Preview with ``mmed-data inspect synthetic --split val``.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import numpy as np

from mmed_core.data.classes import IGNORE_INDEX, NYU12_CLASSES
from mmed_core.data.raycast import Material, Scene, Shape

__all__ = ["random_room", "CLASS_ID", "RoomConfig", "surface"]

CLASS_ID = {name: k for k, name in enumerate(NYU12_CLASSES)}
_WOODS = np.array([[0.55, 0.38, 0.22], [0.7, 0.55, 0.38], [0.36, 0.24, 0.15], [0.8, 0.7, 0.55]])
# Materials any piece of furniture or clutter may have (appearance decoupled from class).
_OBJECT_MATERIALS = (
    Material.WOOD,
    Material.PLAIN,
    Material.FABRIC,
    Material.CABINET,
    Material.PAINT,
    Material.BUSY,
)


@dataclass(frozen=True)
class RoomConfig:
    """Knobs of the room generator (see the module doc)."""

    size_min: float = 3.0  # metres, shortest room side
    size_max: float = 7.5  # metres, longest room side
    decoupled: bool = True  # every class draws material and colour from the same distributions
    clutter: tuple[int, int] = (6, 18)  # objects of no target class on the floor (min, max)
    surface_items: float = 0.9  # chance of small objects on each table / low cabinet
    bookshelves: tuple[int, int] = (0, 3)  # shelves full of books (the shelf itself: label 255)
    people: float = 0.25  # chance of a person in the room
    alcove: float = 0.4  # chance of a wall-coloured pillar / alcove (rooms not a plain box)
    ceiling_tiles: float = 0.35  # chance of a suspended tile ceiling
    night: float = 0.2  # chance that windows are dark (night / no view)
    lights: tuple[int, int] = (1, 4)  # point lights
    printed: float = 1.0  # chance furniture that draws the printed ("busy") material keeps it;
    # below 1 most sofas, beds, cabinets and tables are plain, wood or fabric, as real ones are
    rounded: float = 0.0  # chance an object that can be round is drawn round (pillows, pots,
    # bins, lamps, legs, round tables, sofa arms, heads...); 0: all boxes, as generator v3


_SHAPE_STREAM = 0x5A9E


def _side_stream(rng: np.random.Generator, stream: int) -> np.random.Generator:
    """A generator seeded from ``rng``'s current state and ``stream``; ``rng`` draws nothing."""
    words: list[int] = []

    def walk(x) -> None:
        if isinstance(x, dict):
            for value in x.values():
                walk(value)
        elif isinstance(x, np.ndarray):
            words.extend(int(v) for v in x.ravel())
        elif isinstance(x, (int, np.integer)):
            words.append(int(x))

    walk(rng.bit_generator.state)
    return np.random.default_rng([stream, *words])


def _hsv(h: float, s: float, v: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(h % 1.0, s, v))


def colour(rng: np.random.Generator) -> np.ndarray:
    """An object colour: woods, neutrals, muted and saturated colours (one broad mixture)."""
    k = rng.random()
    if k < 0.3:
        return _WOODS[rng.integers(len(_WOODS))] * rng.uniform(0.6, 1.2)
    if k < 0.6:
        return np.full(3, rng.uniform(0.04, 0.95)) * rng.uniform(0.95, 1.05, 3)
    if k < 0.85:
        return _hsv(rng.random(), rng.uniform(0.1, 0.45), rng.uniform(0.2, 0.9))
    return _hsv(rng.random(), rng.uniform(0.45, 0.95), rng.uniform(0.25, 0.95))


def wall_colour(rng: np.random.Generator) -> np.ndarray:
    """Walls: mostly off-white and light neutrals, some painted colours."""
    k = rng.random()
    if k < 0.65:
        return _hsv(rng.uniform(0.05, 0.17), rng.uniform(0.0, 0.18), rng.uniform(0.7, 0.97))
    if k < 0.9:
        return _hsv(rng.random(), rng.uniform(0.1, 0.35), rng.uniform(0.5, 0.9))
    return colour(rng)


def surface(
    rng: np.random.Generator,
    decoupled: bool,
    default: tuple[int, np.ndarray],
    printed: float = 1.0,
):
    """(material, colour) of an object: drawn from the shared distributions when ``decoupled``,
    else the class's own ``default``; a drawn printed material is kept with chance ``printed``.
    That choice is derived from the colour already drawn, not drawn itself, so a room's layout
    does not depend on ``printed``."""
    if not decoupled:
        return default
    mat = int(_OBJECT_MATERIALS[rng.integers(len(_OBJECT_MATERIALS))])
    col = colour(rng)
    if mat == Material.BUSY and printed < 1.0:
        u = float(np.sum(col) * 7919.0 % 1.0)  # uniform enough, and fixed by the colour
        if u >= printed:  # another material (BUSY is the last one)
            mat = int(_OBJECT_MATERIALS[int((u - printed) / (1 - printed) * 5) % 5])
    return mat, col


class _Builder:
    """Collects boxes and remembers what occupies the floor and the walls, to avoid overlaps."""

    def __init__(
        self, size: np.ndarray, rng: np.random.Generator, config: RoomConfig | None = None
    ) -> None:
        self.size, self.rng = size, rng
        self.config = config or RoomConfig()
        self.boxes: list[tuple] = []
        self.shapes: list[int] = []
        self.footprints: list[tuple[float, float, float, float]] = []
        self.wall_items: list[tuple[int, float, float, float, float]] = []
        # Round-shape choices come from their own stream (derived from the room's, without
        # drawing from it), so a room's layout and view are the same whatever ``rounded`` is.
        self.shape_rng = _side_stream(rng, _SHAPE_STREAM) if self.config.rounded > 0 else None

    def add(self, lo, hi, cls: str | None, material: int, color, shape: int = Shape.BOX) -> None:
        label = IGNORE_INDEX if cls is None else CLASS_ID[cls]
        self.boxes.append(
            (
                np.asarray(lo, float),
                np.asarray(hi, float),
                label,
                material,
                np.clip(np.broadcast_to(np.asarray(color, float), (3,)), 0, 1),
                self.rng.random(),
            )
        )
        self.shapes.append(int(shape))

    def maybe_round(self, *shapes: int) -> int:
        """One of ``shapes`` with chance ``config.rounded``, else a box (no draw when 0)."""
        if self.shape_rng is None:
            return Shape.BOX
        pick = self.shape_rng.random()
        if pick >= self.config.rounded:
            return Shape.BOX
        return shapes[int(pick / self.config.rounded * len(shapes)) % len(shapes)]

    def move_inside(self, start: int, centre: tuple, half: tuple) -> None:
        """Moves boxes ``start:`` (things on a round table) towards ``centre`` until their
        footprints fit in the ellipse of half axes ``half``; sizes and heights stay."""
        c, r = np.asarray(centre, float), np.maximum(np.asarray(half, float), 1e-3)
        for k in range(start, len(self.boxes)):
            lo, hi, *rest = self.boxes[k]
            mid, size = (lo[:2] + hi[:2]) / 2 - c, (hi[:2] - lo[:2]) / 2
            scale = 1.0
            while scale > 0 and np.sum(((np.abs(mid) * scale + size) / r) ** 2) > 1:
                scale -= 0.05
            shift = np.append(mid * (max(scale, 0.0) - 1), 0.0)
            self.boxes[k] = (lo + shift, hi + shift, *rest)

    def surf(self, default_material: int, default_colour) -> tuple[int, np.ndarray]:
        return surface(
            self.rng,
            self.config.decoupled,
            (default_material, default_colour),
            self.config.printed,
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
        shape = np.array(self.shapes, np.uint8) if any(self.shapes) else None
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
            ambient=float(self.rng.uniform(0.2, 0.5)),
            shape=shape,
        )


def _books(b: _Builder, x0: float, x1: float, y0: float, y1: float, z: float, fill: float = 0.5):
    """A row of upright books along x (or along y if the surface is deeper than wide) at height
    z; ``fill`` is about the fraction of the length they take."""
    rng = b.rng
    along_x = (x1 - x0) >= (y1 - y0)
    start, stop = (x0, x1) if along_x else (y0, y1)
    other0, other1 = (y0, y1) if along_x else (x0, x1)
    span = stop - start
    pos = float(rng.uniform(start, start + max(0.0, 1 - fill) * span))
    end = min(stop - 0.02, pos + fill * span * rng.uniform(0.6, 1.2))
    depth = min(other1 - other0 - 0.02, rng.uniform(0.14, 0.24))
    if depth <= 0.02:
        return
    c0 = (
        float(rng.uniform(other0 + 0.01, other1 - depth - 0.01))
        if other1 - other0 > depth + 0.02
        else other0
    )
    top = rng.uniform(0.18, 0.3)
    while pos < end:
        thick, height = rng.uniform(0.015, 0.06), top * rng.uniform(0.75, 1.0)
        mat = Material.BOOK if rng.random() < 0.7 else Material.BUSY
        c = colour(b.rng)
        lo = (pos, c0, z) if along_x else (c0, pos, z)
        hi = (
            (pos + thick, c0 + depth, z + height)
            if along_x
            else (c0 + depth, pos + thick, z + height)
        )
        b.add(lo, hi, "book", mat, c)
        pos += thick + (0.002 if rng.random() < 0.9 else rng.uniform(0.05, 0.2))


def _book_pile(b: _Builder, x: float, y: float, z: float) -> None:
    """A few books lying flat, stacked."""
    rng = b.rng
    for _ in range(int(rng.integers(1, 5))):
        w, d, t = rng.uniform(0.15, 0.3), rng.uniform(0.2, 0.3), rng.uniform(0.02, 0.05)
        b.add((x, y, z), (x + w, y + d, z + t), "book", Material.BOOK, colour(rng))
        z += t


def _small_items(b: _Builder, x0: float, x1: float, y0: float, y1: float, z: float) -> None:
    """Cups, boxes, papers, a monitor or lamp on a surface (label 255), sometimes books."""
    rng = b.rng
    if x1 - x0 < 0.25 or y1 - y0 < 0.25:
        return
    for _ in range(int(rng.integers(1, 5))):
        w, d = rng.uniform(0.06, 0.4), rng.uniform(0.06, 0.35)
        w, d = min(w, x1 - x0 - 0.02), min(d, y1 - y0 - 0.02)
        x, y = rng.uniform(x0, x1 - w), rng.uniform(y0, y1 - d)
        kind = rng.random()
        if kind < 0.25:  # papers
            b.add((x, y, z), (x + w, y + d, z + 0.005), None, Material.BUSY, np.full(3, 0.9))
        elif kind < 0.4:
            _book_pile(b, x, y, z)
        elif kind < 0.55:  # a monitor or lamp: thin and tall
            h = rng.uniform(0.25, 0.5)
            b.add((x, y, z), (x + w, y + min(d, 0.05), z + h), None, *b.surf(Material.PLAIN, 0.1))
        else:
            h = rng.uniform(0.05, 0.35)
            mat = Material.BUSY if rng.random() < 0.5 else Material.PLAIN
            # cups, bottles, vases, bowls, fruit
            shape = b.maybe_round(Shape.CYLINDER, Shape.CYLINDER, Shape.ELLIPSOID)
            b.add((x, y, z), (x + w, y + d, z + h), None, mat, colour(rng), shape)


def _furniture(b: _Builder) -> None:
    rng, cfg = b.rng, b.config
    wood = _WOODS[rng.integers(len(_WOODS))] * rng.uniform(0.8, 1.1)
    if rng.random() < 0.6:
        spot = b.place_on_wall(rng.uniform(0.9, 1.9), 2.05)
        if spot:  # bed: mattress, headboard; pillows and clothes (label 255) on it
            w, a, e = spot
            sheet_mat, sheet = b.surf(Material.FABRIC, rng.uniform(0.4, 1.0, 3))
            top = rng.uniform(0.4, 0.65)
            b.add(*b.wall_box(w, a, e, 0, top, 2.0), "bed", sheet_mat, sheet)
            if rng.random() < 0.8:
                b.add(
                    *b.wall_box(w, a, e, 0, rng.uniform(0.8, 1.3), 0.08),
                    "bed",
                    *b.surf(Material.WOOD, wood),
                )
            pill_mat, pill = b.surf(Material.FABRIC, sheet * 1.1)
            pillow = b.wall_box(w, a + 0.1, e - 0.1, top, top + 0.14, 0.45)
            b.add(*pillow, None, pill_mat, pill, b.maybe_round(Shape.ELLIPSOID))
            if rng.random() < 0.5:
                lo, hi = b.wall_box(w, a, e, top, top + 0.08, 2.0)
                cx, cy = rng.uniform(lo[0], hi[0] - 0.5), rng.uniform(lo[1], hi[1] - 0.5)
                b.add(
                    (cx, cy, top),
                    (cx + 0.5, cy + 0.5, top + 0.08),
                    None,
                    Material.BUSY,
                    colour(rng),
                    b.maybe_round(Shape.ELLIPSOID),
                )
    if rng.random() < 0.6:
        spot = b.place_on_wall(rng.uniform(1.4, 2.4), 0.9)
        if spot:  # sofa: seat, back, two arms
            w, a, e = spot
            mat, cloth = b.surf(Material.FABRIC, rng.uniform(0.15, 0.8, 3))
            seat = rng.uniform(0.35, 0.5)
            rolled = b.maybe_round(Shape.ROUNDED_TOP)  # rolled back and arms
            b.add(*b.wall_box(w, a, e, 0, seat, 0.9), "sofa", mat, cloth)
            back = b.wall_box(w, a, e, 0, rng.uniform(0.75, 1.0), 0.25)
            b.add(*back, "sofa", mat, cloth, rolled)
            for arm in (a, e - 0.2):
                b.add(
                    *b.wall_box(w, arm, arm + 0.2, 0, seat + 0.2, 0.9),
                    "sofa",
                    mat,
                    cloth * 0.9,
                    rolled,
                )
            if rng.random() < 0.5:  # cushions (label 255)
                c = a + rng.uniform(0.3, max(0.31, e - a - 0.7))
                b.add(
                    *b.wall_box(w, c, c + 0.4, seat, seat + 0.4, 0.4),
                    None,
                    Material.BUSY,
                    colour(rng),
                    b.maybe_round(Shape.ELLIPSOID),
                )
    for _ in range(int(rng.integers(0, 4))):  # cabinets, books or a tv on the low ones
        depth, height = rng.uniform(0.35, 0.65), rng.uniform(0.45, 2.1)
        spot = b.place_on_wall(rng.uniform(0.5, 2.0), depth)
        if not spot:
            continue
        w, a, e = spot
        mat, col = b.surf(Material.CABINET, wood if rng.random() < 0.6 else colour(rng))
        if not cfg.decoupled or rng.random() < 0.6:
            mat = Material.CABINET  # doors and drawers are what makes a cabinet
        lo, hi = b.wall_box(w, a, e, 0, height, depth)
        b.add(lo, hi, "cabinet", mat, col)
        if height < 1.3 and rng.random() < 0.45:
            tw = min(e - a - 0.1, rng.uniform(0.5, 1.2))
            c = (a + e) / 2
            b.add(
                *b.wall_box(
                    w, c - tw / 2, c + tw / 2, height, height + tw * 0.58, 0.06 + depth / 3
                ),
                "tv",
                Material.TV,
                colour(rng) if cfg.decoupled else rng.uniform(0.05, 0.4) * np.ones(3),
            )
        elif height < 1.7:
            if rng.random() < 0.5:
                _books(b, lo[0], hi[0], lo[1], hi[1], height)
            elif rng.random() < cfg.surface_items:
                _small_items(b, lo[0], hi[0], lo[1], hi[1], height)


def _bookshelf(b: _Builder) -> None:
    """An open shelf unit (label 255, like NYUDv2's 'bookshelf') full of books."""
    rng = b.rng
    depth, height = rng.uniform(0.25, 0.4), rng.uniform(0.9, 2.2)
    spot = b.place_on_wall(rng.uniform(0.6, 1.5), depth)
    if not spot:
        return
    w, a, e = spot
    mat, col = b.surf(Material.WOOD, _WOODS[rng.integers(len(_WOODS))])
    lo, hi = b.wall_box(w, a, e, 0, height, 0.02)  # back panel
    b.add(lo, hi, None, mat, col)
    for side in (a, e - 0.02):  # sides
        b.add(*b.wall_box(w, side, side + 0.02, 0, height, depth), None, mat, col)
    n_shelves = max(2, int(height / rng.uniform(0.3, 0.4)))
    for k in range(n_shelves + 1):
        z = k * (height - 0.02) / n_shelves
        slo, shi = b.wall_box(w, a + 0.02, e - 0.02, z, z + 0.02, depth)
        b.add(slo, shi, None, mat, col)
        if k < n_shelves and rng.random() < 0.85:
            _books(b, slo[0], shi[0], slo[1], shi[1], z + 0.02, fill=rng.uniform(0.5, 1.0))


def _table(b: _Builder) -> None:
    rng = b.rng
    sx, sy = b.size[0], b.size[1]
    for _ in range(20):
        tw, td = rng.uniform(0.6, 1.8), rng.uniform(0.5, 1.0)
        if sx - tw - 1.2 <= 0 or sy - td - 1.2 <= 0:
            return
        x0, y0 = rng.uniform(0.6, sx - tw - 0.6), rng.uniform(0.6, sy - td - 0.6)
        if b.free_floor(x0 - 0.5, y0 - 0.5, x0 + tw + 0.5, y0 + td + 0.5):
            break
    else:
        return
    b.footprints.append((x0 - 0.45, y0 - 0.45, x0 + tw + 0.45, y0 + td + 0.45))
    mat, wood = b.surf(Material.WOOD, _WOODS[rng.integers(len(_WOODS))] * rng.uniform(0.8, 1.1))
    h = rng.uniform(0.4, 0.78) if rng.random() < 0.3 else rng.uniform(0.7, 0.78)
    top = rng.uniform(0.02, 0.06)
    round_top = b.maybe_round(Shape.CYLINDER)  # a round or oval table
    b.add((x0, y0, h - top), (x0 + tw, y0 + td, h), "table", mat, wood, round_top)
    leg = rng.uniform(0.03, 0.08)
    legs = ((x0, y0), (x0 + tw - leg, y0), (x0, y0 + td - leg), (x0 + tw - leg, y0 + td - leg))
    if round_top:  # the legs move in under the round top (the same draws: the same room)
        cx, cy = x0 + tw / 2, y0 + td / 2
        legs = tuple((cx + 0.6 * (lx - cx), cy + 0.6 * (ly - cy)) for lx, ly in legs)
    round_legs = b.maybe_round(Shape.CYLINDER)
    for lx, ly in legs:
        b.add((lx, ly, 0), (lx + leg, ly + leg, h - top), "table", mat, wood * 0.9, round_legs)
    on_top = len(b.boxes)
    if rng.random() < 0.5:
        _books(b, x0 + 0.05, x0 + tw - 0.05, y0 + 0.05, y0 + td - 0.05, h)
    if rng.random() < b.config.surface_items:
        _small_items(b, x0 + 0.05, x0 + tw - 0.05, y0 + 0.05, y0 + td - 0.05, h)
    if round_top:
        b.move_inside(on_top, (x0 + tw / 2, y0 + td / 2), (tw / 2 - 0.03, td / 2 - 0.03))
    for side in range(int(rng.integers(0, 5))):  # chairs (no class) around the table
        if side % 2 == 0:
            cy = y0 - 0.45 if side == 0 else y0 + td + 0.05
            _chair(b, rng.uniform(x0, x0 + tw - 0.45), cy, facing=1 if side == 0 else 3)
        else:
            cx = x0 - 0.45 if side == 1 else x0 + tw + 0.05
            _chair(b, cx, rng.uniform(y0, y0 + td - 0.45), facing=0 if side == 1 else 2)


def _chair(b: _Builder, x: float, y: float, facing: int) -> None:
    """A chair (label 255): seat, four legs and a back on the side away from ``facing``
    (0: +x, 1: +y, 2: -x, 3: -y)."""
    rng = b.rng
    s, h = rng.uniform(0.38, 0.5), rng.uniform(0.4, 0.5)
    mat, col = b.surf(Material.PLAIN, colour(rng))
    b.add((x, y, h), (x + s, y + s, h + 0.05), None, mat, col, b.maybe_round(Shape.CYLINDER))
    legs = b.maybe_round(Shape.CYLINDER)
    for lx, ly in ((x, y), (x + s - 0.03, y), (x, y + s - 0.03), (x + s - 0.03, y + s - 0.03)):
        b.add((lx, ly, 0), (lx + 0.03, ly + 0.03, h), None, Material.PLAIN, col * 0.7, legs)
    top = h + rng.uniform(0.35, 0.55)
    back = {
        0: ((x, y, h), (x + 0.05, y + s, top)),
        1: ((x, y, h), (x + s, y + 0.05, top)),
        2: ((x + s - 0.05, y, h), (x + s, y + s, top)),
        3: ((x, y + s - 0.05, h), (x + s, y + s, top)),
    }[facing]
    b.add(*back, None, mat, col)


def _person(b: _Builder) -> None:
    """A standing person (label 255): legs, body, head; clothes of any colour."""
    rng = b.rng
    for _ in range(10):
        x, y = rng.uniform(0.4, b.size[0] - 0.9), rng.uniform(0.4, b.size[1] - 0.9)
        if b.free_floor(x, y, x + 0.5, y + 0.35):
            break
    else:
        return
    b.footprints.append((x, y, x + 0.5, y + 0.35))
    tall = rng.uniform(1.5, 1.9)
    trousers, shirt = colour(rng), colour(rng)
    skin = _hsv(rng.uniform(0.03, 0.1), rng.uniform(0.25, 0.6), rng.uniform(0.3, 0.9))
    legs = tall * 0.47
    body = b.maybe_round(Shape.CYLINDER)  # round legs and body, an ellipsoid head
    head = Shape.ELLIPSOID if body else Shape.BOX
    b.add(
        (x + 0.05, y + 0.08, 0), (x + 0.45, y + 0.27, legs), None, Material.FABRIC, trousers, body
    )
    b.add((x, y + 0.05, legs), (x + 0.5, y + 0.3, tall - 0.25), None, Material.BUSY, shirt, body)
    b.add(
        (x + 0.15, y + 0.08, tall - 0.25),
        (x + 0.35, y + 0.27, tall),
        None,
        Material.PLAIN,
        skin,
        head,
    )


def _walls(b: _Builder) -> None:
    rng, cfg = b.rng, b.config
    night = rng.random() < cfg.night
    for _ in range(int(rng.integers(0, 3))):  # windows: blinds, curtains or bare
        width, z0 = rng.uniform(0.6, 1.8), rng.uniform(0.7, 1.1)
        z1 = min(b.size[2] - 0.15, z0 + rng.uniform(0.9, 1.5))
        spot = b.hang(width, z0, z1)
        if not spot:
            continue
        w, a, e = spot
        b.add(
            *b.wall_box(w, a, e, z0, z1, 0.05),
            "window",
            Material.NIGHT_WINDOW if night else Material.WINDOW,
            np.full(3, rng.uniform(0.6, 1.0)) if rng.random() < 0.7 else colour(rng),
        )
        k = rng.random()
        if k < 0.5:
            low = z1 - (z1 - z0) * rng.uniform(0.1, 1.0)
            blind = (
                _hsv(rng.uniform(0.05, 0.15), rng.uniform(0, 0.2), rng.uniform(0.6, 0.95))
                if rng.random() < 0.6 or not cfg.decoupled
                else colour(rng)
            )
            b.add(
                *b.wall_box(w, a - 0.05, e + 0.05, low, z1 + 0.05, 0.1),
                "blinds",
                Material.BLINDS,
                blind,
            )
        elif k < 0.8:  # curtains either side (label 255)
            mat, cloth = b.surf(Material.FABRIC, colour(rng))
            cw = rng.uniform(0.2, 0.45)
            for c0 in (a - cw * 0.7, e - cw * 0.3):
                b.add(
                    *b.wall_box(w, c0, c0 + cw, max(0.0, z0 - 0.6), z1 + 0.1, 0.12),
                    None,
                    mat,
                    cloth,
                )
    for _ in range(int(rng.integers(0, 5))):  # pictures and posters
        width = rng.uniform(0.2, 1.1)
        height = width * rng.uniform(0.5, 1.4)
        z0 = rng.uniform(0.9, max(0.95, min(1.9, b.size[2] - height - 0.1)))
        spot = b.hang(width, z0, z0 + height)
        if spot:
            w, a, e = spot
            mat = Material.PICTURE if rng.random() < 0.6 else Material.BUSY
            b.add(
                *b.wall_box(w, a, e, z0, z0 + height, rng.uniform(0.005, 0.04)),
                "picture",
                mat,
                colour(rng),
            )
    if rng.random() < 0.35:  # a whiteboard or notice board (label 255)
        width = rng.uniform(0.8, 2.2)
        z0 = rng.uniform(0.8, 1.1)
        spot = b.hang(width, z0, z0 + width * 0.5)
        if spot:
            w, a, e = spot
            white = rng.random() < 0.6
            b.add(
                *b.wall_box(w, a, e, z0, z0 + width * 0.5, 0.02),
                None,
                Material.PLAIN if white else Material.BUSY,
                np.full(3, 0.93) if white else colour(rng),
            )
    if rng.random() < 0.3:  # a wall-mounted tv
        width = rng.uniform(0.6, 1.4)
        spot = b.hang(width, 1.0, 1.0 + width * 0.58)
        if spot:
            w, a, e = spot
            b.add(
                *b.wall_box(w, a, e, 1.0, 1.0 + width * 0.58, 0.06),
                "tv",
                Material.TV,
                colour(rng) if cfg.decoupled else np.full(3, 0.1),
            )
    for _ in range(int(rng.integers(1, 3))):  # doors (no class), kept clear of furniture
        spot = b.hang(rng.uniform(0.75, 0.95), 0.0, 2.05)
        if not spot:
            continue
        w, a, e = spot
        lo, hi = b.wall_box(w, a, e, 0.0, 2.05, 0.04)
        mat, col = b.surf(Material.WOOD, _WOODS[rng.integers(len(_WOODS))])
        b.add(lo, hi, None, mat, col)
        flo, fhi = b.wall_box(w, a, e, 0, 1, 0.8)
        b.footprints.append((flo[0], flo[1], fhi[0], fhi[1]))


def _wall_clutter(b: _Builder) -> None:
    """Small things on the walls of no class: switches, clocks, shelves, boards, vents."""
    rng = b.rng
    for _ in range(int(rng.integers(1, 7))):
        w = rng.uniform(0.08, 0.6)
        h = w * rng.uniform(0.3, 1.5)
        z0 = rng.uniform(0.3, max(0.35, float(b.size[2]) - h - 0.2))
        spot = b.hang(w, z0, z0 + h, tries=5)
        if spot:
            wall, a, e = spot
            mat = Material.BUSY if rng.random() < 0.4 else Material.PLAIN
            depth = rng.uniform(0.01, 0.25)
            b.add(*b.wall_box(wall, a, e, z0, z0 + h, depth), None, mat, colour(rng))


def _alcove(b: _Builder, wall_mat: int, wall_col: np.ndarray) -> None:
    """A wall-coloured pillar or a corner block (label wall): the room is no plain box."""
    rng = b.rng
    w, d = rng.uniform(0.3, 1.2), rng.uniform(0.2, 0.8)
    spot = b.place_on_wall(w, d)
    if spot:
        wall, a, e = spot
        b.add(*b.wall_box(wall, a, e, 0, float(b.size[2]), d), "wall", wall_mat, wall_col)


def _clutter(b: _Builder) -> None:
    rng, cfg = b.rng, b.config
    for _ in range(int(rng.integers(cfg.clutter[0], cfg.clutter[1] + 1))):
        kind = rng.random()
        w, d = rng.uniform(0.2, 0.7), rng.uniform(0.2, 0.7)
        for _ in range(6):  # find free floor
            x, y = rng.uniform(0, b.size[0] - w), rng.uniform(0, b.size[1] - d)
            if b.free_floor(x, y, x + w, y + d, margin=0.02):
                break
        else:
            continue
        b.footprints.append((x, y, x + w, y + d))
        if kind < 0.25:
            _chair(b, x, y, int(rng.integers(4)))
        elif kind < 0.35:  # a standing lamp: thin pole and a shade
            h = rng.uniform(1.2, 1.7)
            cx, cy = x + w / 2, y + d / 2
            lamp = b.maybe_round(Shape.CYLINDER)
            b.add(
                (cx - 0.02, cy - 0.02, 0),
                (cx + 0.02, cy + 0.02, h),
                None,
                Material.PLAIN,
                colour(rng),
                lamp,
            )
            b.add(
                (cx - 0.2, cy - 0.2, h),
                (cx + 0.2, cy + 0.2, h + 0.3),
                None,
                Material.FABRIC,
                rng.uniform(0.7, 1.0, 3),
                lamp,
            )
        elif kind < 0.45:  # a plant in a pot
            h = rng.uniform(0.4, 1.4)
            b.add(
                (x + w / 4, y + d / 4, 0),
                (x + 3 * w / 4, y + 3 * d / 4, 0.3),
                None,
                *b.surf(Material.PLAIN, colour(rng)),
                b.maybe_round(Shape.CYLINDER),
            )
            green = _hsv(rng.uniform(0.2, 0.4), rng.uniform(0.4, 0.8), rng.uniform(0.2, 0.6))
            b.add(
                (x, y, 0.3),
                (x + w, y + d, 0.3 + h),
                None,
                Material.BUSY,
                green,
                b.maybe_round(Shape.ELLIPSOID),
            )
        elif kind < 0.6:  # clothes or a bag on the floor
            b.add(
                (x, y, 0),
                (x + w, y + d, rng.uniform(0.05, 0.25)),
                None,
                Material.BUSY,
                colour(rng),
                b.maybe_round(Shape.ELLIPSOID),
            )
        elif kind < 0.7:  # a rug
            rw, rd = rng.uniform(1.0, 2.5), rng.uniform(0.8, 2.0)
            rw, rd = min(rw, b.size[0] - x), min(rd, b.size[1] - y)
            b.add(
                (x, y, 0),
                (x + rw, y + rd, 0.01),
                None,
                Material.BUSY if rng.random() < 0.5 else Material.CARPET,
                colour(rng),
                b.maybe_round(Shape.CYLINDER),  # a round rug
            )
        else:  # boxes, bins, appliances, desks of no class
            h = rng.uniform(0.2, 1.3)
            b.add(
                (x, y, 0),
                (x + w, y + d, h),
                None,
                *b.surf(Material.PLAIN, colour(rng)),
                b.maybe_round(Shape.CYLINDER, Shape.ROUNDED_TOP),
            )
            if rng.random() < 0.3:
                _small_items(b, x, x + w, y, y + d, h)


def random_room(
    rng: np.random.Generator, *, min_size: float = 3.0, config: RoomConfig | None = None
) -> Scene:
    """One furnished room; ``min_size`` (m) keeps large rooms for camera trajectories."""
    cfg = config or RoomConfig()
    lo = max(min_size, cfg.size_min)
    hi = max(lo + 0.5, cfg.size_max)
    size = np.array([rng.uniform(lo, hi), rng.uniform(lo, hi), rng.uniform(2.4, 3.1)])
    b = _Builder(size, rng, cfg)
    if cfg.decoupled:
        wall = wall_colour(rng)
        wall_mat = int(Material.PAINT if rng.random() < 0.85 else Material.PLAIN)
    else:
        wall = rng.uniform(0.55, 0.95, 3) * [1.0, rng.uniform(0.9, 1.0), rng.uniform(0.8, 1.0)]
        wall_mat = int(Material.PAINT)
    if rng.random() < cfg.alcove:
        _alcove(b, wall_mat, wall)
    _walls(b)
    if rng.random() < 0.5:
        _furniture(b)
        for _ in range(int(rng.integers(cfg.bookshelves[0], cfg.bookshelves[1] + 1))):
            _bookshelf(b)
    else:
        for _ in range(int(rng.integers(cfg.bookshelves[0], cfg.bookshelves[1] + 1))):
            _bookshelf(b)
        _furniture(b)
    if rng.random() < 0.75:
        _table(b)
    if rng.random() < cfg.people:
        _person(b)
    _clutter(b)
    _wall_clutter(b)
    floor_mat = int(rng.choice([Material.WOOD_FLOOR, Material.TILE, Material.CARPET]))
    floor = (
        _WOODS[rng.integers(len(_WOODS))] * rng.uniform(0.7, 1.2)
        if floor_mat == Material.WOOD_FLOOR
        else (colour(rng) if cfg.decoupled else rng.uniform(0.2, 0.8, 3))
    )
    tiles = rng.random() < cfg.ceiling_tiles
    ceiling_mat = int(Material.CEILING_TILE if tiles else Material.CEILING)
    ceiling = np.full(3, rng.uniform(0.75, 0.98)) * rng.uniform(0.97, 1.03, 3)
    n_lights = int(rng.integers(cfg.lights[0], cfg.lights[1] + 1))
    lights = np.column_stack(
        [
            rng.uniform(0.5, size[0] - 0.5, n_lights),
            rng.uniform(0.5, size[1] - 0.5, n_lights),
            np.full(n_lights, size[2] - 0.3),
        ]
    )
    for x, y, _ in lights[: int(rng.integers(0, n_lights + 1))]:  # visible fittings
        h = 0.3 if tiles else 0.15
        b.add(
            (x - h, y - h, size[2] - 0.02),
            (x + h, y + h, size[2]),
            None,
            Material.LIGHT,
            np.full(3, 0.95),
            b.maybe_round(Shape.CYLINDER),
        )
    power = rng.uniform(0.8, 2.4, n_lights) / n_lights**0.5
    return b.scene(lights, power, (wall_mat, floor_mat, ceiling_mat), (wall, floor, ceiling))
