# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Procedural textures of the synthetic scenes, one small function per material.

Each function maps face coordinates (metric u, v; normalised s, r in 0..1 across the face)
to an albedo. Materials are not tied to classes: the scenes draw every object's material and
colour from broad, overlapping distributions (see :mod:`mmed_core.data.scenes`). Used by
:mod:`mmed_core.data.raycast`; try it with
``mmed-data synth --out /tmp/s && mmed-data inspect /tmp/s``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["Material", "apply_texture"]


class Material:
    """Texture ids: each one is a small procedural function of the face coordinates."""

    PAINT, WOOD_FLOOR, TILE, CARPET, CEILING, WOOD, FABRIC, CABINET = range(8)
    WINDOW, PICTURE, BLINDS, BOOK, TV, PLAIN = range(8, 14)
    BUSY, CEILING_TILE, NIGHT_WINDOW, LIGHT = range(14, 18)


Noise = Callable[[np.ndarray, np.ndarray, float], np.ndarray]


def _mix(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    return a * (1 - w[:, None]) + b * w[:, None]


def _frame(s: np.ndarray, r: np.ndarray, width: float) -> np.ndarray:
    return (s < width) | (s > 1 - width) | (r < width) | (r > 1 - width)


def _paint(c, u, v, s, r, p, axis, noise):
    # Faint plaster noise, and on some rooms (p > 0.7) wallpaper stripes.
    grain = 0.92 + 0.08 * noise(u + 37 * p, v, 6.0)
    stripes = np.where(p > 0.7, 0.94 + 0.06 * (np.sin(u * 18.0) > 0), 1.0)
    return c * (grain * stripes)[:, None]


def _wood_floor(c, u, v, s, r, p, axis, noise):
    plank = np.floor(u / 0.18)
    tone = 0.8 + 0.35 * noise(plank * 3.1, np.floor(v / 1.2 + plank * 0.5), 1.0)
    grain = 0.9 + 0.1 * np.sin(v * 40 + 6 * noise(u, v, 3.0))
    seam = np.where(np.abs(u / 0.18 - np.round(u / 0.18)) < 0.04, 0.6, 1.0)
    return c * (tone * grain * seam)[:, None]


def _tile(c, u, v, s, r, p, axis, noise):
    size = 0.3 + 0.3 * p
    gu, gv = np.abs(u / size - np.round(u / size)), np.abs(v / size - np.round(v / size))
    grout = (gu < 0.04) | (gv < 0.04)
    check = ((np.floor(u / size) + np.floor(v / size)) % 2) * 0.08
    out = c * (0.95 - check + 0.05 * noise(u, v, 10.0))[:, None]
    out[grout] = 0.55 * c[grout] + 0.3
    return out


def _carpet(c, u, v, s, r, p, axis, noise):
    return c * (0.75 + 0.25 * noise(u, v, 25.0) + 0.1 * noise(u, v, 3.0))[:, None]


def _ceiling(c, u, v, s, r, p, axis, noise):
    return c * (0.95 + 0.05 * noise(u, v, 4.0))[:, None]


def _wood(c, u, v, s, r, p, axis, noise):
    rings = np.sin((u + 0.3 * v) * 25 + 8 * noise(u * 0.5, v, 2.0) + p * 10)
    return c * (0.85 + 0.1 * rings + 0.05 * noise(u, v, 20.0))[:, None]


def _fabric(c, u, v, s, r, p, axis, noise):
    weave = 0.93 + 0.07 * (np.sin(u * 120) * np.sin(v * 120))
    return c * (weave * (0.85 + 0.15 * noise(u, v, 5.0)))[:, None]


def _cabinet(c, u, v, s, r, p, axis, noise):
    out = _wood(c, u, v, s, r, p, axis, noise)
    if not len(c):
        return out
    # Doors and drawers on the vertical faces: dark gaps and a metal handle.
    doors = 2 + (p > 0.5)
    gap = (np.abs(s * doors - np.round(s * doors)) < 0.015) | (r < 0.03) | (r > 0.97)
    handle = (np.abs((s * doors) % 1 - 0.85) < 0.03) & (np.abs(r - 0.6) < 0.08)
    vertical = axis != 2
    out[vertical & gap] *= 0.45
    out[vertical & handle] = 0.75
    return out


def _window(c, u, v, s, r, p, axis, noise):
    # Bright sky with a gradient and a hint of clouds, a white frame and a cross bar.
    sky = np.stack([0.55 + 0.25 * r, 0.7 + 0.2 * r, 0.95 + 0.05 * r], 1)
    sky = sky * (0.9 + 0.15 * noise(u, v, 2.0))[:, None]
    bars = _frame(s, r, 0.06) | (np.abs(s - 0.5) < 0.02) | ((p > 0.5) & (np.abs(r - 0.55) < 0.02))
    sky[bars] = c[bars]
    return np.clip(sky, 0, 1.3)


def _picture(c, u, v, s, r, p, axis, noise):
    # An abstract painting: two colours blended by noise, inside a dark or golden frame.
    other = np.roll(c, 1, axis=1)
    art = (
        _mix(c, other, noise(s * 3 + p * 50, r * 3, 1.5)) * (0.7 + 0.3 * noise(s, r, 9.0))[:, None]
    )
    frame = _frame(s, r, 0.07)
    art[frame] = np.where(p[frame, None] > 0.5, [0.55, 0.42, 0.15], [0.12, 0.1, 0.08])
    return art


def _blinds(c, u, v, s, r, p, axis, noise):
    slat = (v * 40.0) % 1.0
    return c * (0.7 + 0.3 * np.sin(slat * np.pi))[:, None]


def _book(c, u, v, s, r, p, axis, noise):
    # Spines: bands near the top and bottom and a lighter title block.
    band = (np.abs(r - 0.85) < 0.04) | (np.abs(r - 0.12) < 0.03)
    title = (np.abs(r - 0.5) < 0.15) & (np.abs(s - 0.5) < 0.3)
    out = c * (0.9 + 0.1 * noise(u, v, 30.0))[:, None]
    out[band] = 0.85 * out[band] + 0.15
    out[title] = 0.6 * out[title] + 0.35
    return out


def _tv(c, u, v, s, r, p, axis, noise):
    # Dark glossy screen with a reflection streak; grey or black bezel.
    screen = 0.05 + 0.08 * np.clip(1 - np.abs(s - r - 0.2) * 4, 0, 1)
    out = np.repeat(screen[:, None], 3, axis=1) + np.array([0.0, 0.01, 0.03])
    bezel = _frame(s, r, 0.05)
    out[bezel] = c[bezel] * 0.4
    return out


def _plain(c, u, v, s, r, p, axis, noise):
    return c * (0.85 + 0.15 * noise(u + p * 9, v, 8.0))[:, None]


def _busy(c, u, v, s, r, p, axis, noise):
    # Printed / cluttered surfaces (clothes, posters, papers, packaging): blotches of three
    # colours derived from the albedo, with fine detail.
    a = noise(u * 1.3 + p * 71, v * 1.3, 4.0 + 8 * p)
    b = noise(v + p * 13, u, 11.0)
    second = np.clip(1.0 - c, 0, 1) * 0.8 + 0.1
    third = np.roll(c, 1, axis=1) * 0.7
    out = _mix(c, second, (a > 0.55).astype(np.float32))
    out = _mix(out, third, (b > 0.7).astype(np.float32))
    return out * (0.85 + 0.15 * noise(u, v, 40.0))[:, None]


def _ceiling_tile(c, u, v, s, r, p, axis, noise):
    # Suspended acoustic tiles: a 0.6 m grid of metal bars, speckled tiles.
    size = 0.6
    gu, gv = np.abs(u / size - np.round(u / size)), np.abs(v / size - np.round(v / size))
    bars = (gu < 0.03) | (gv < 0.03)
    out = c * (0.9 + 0.1 * noise(u, v, 60.0))[:, None]
    out[bars] = out[bars] * 0.8 + 0.1
    return out


def _night_window(c, u, v, s, r, p, axis, noise):
    # A window at night or onto a dark outside: dark glass with faint reflections.
    glass = (0.05 + 0.12 * noise(u, v, 1.5))[:, None] * np.array([0.9, 1.0, 1.1])
    out = np.repeat(glass, 1, axis=0).astype(np.float32)
    bars = _frame(s, r, 0.06) | (np.abs(s - 0.5) < 0.02)
    out[bars] = c[bars]
    return out


def _light(c, u, v, s, r, p, axis, noise):
    return np.clip(c * 1.4, 0, 1.5)


_TEXTURES = {
    Material.PAINT: _paint,
    Material.WOOD_FLOOR: _wood_floor,
    Material.TILE: _tile,
    Material.CARPET: _carpet,
    Material.CEILING: _ceiling,
    Material.WOOD: _wood,
    Material.FABRIC: _fabric,
    Material.CABINET: _cabinet,
    Material.WINDOW: _window,
    Material.PICTURE: _picture,
    Material.BLINDS: _blinds,
    Material.BOOK: _book,
    Material.TV: _tv,
    Material.PLAIN: _plain,
    Material.BUSY: _busy,
    Material.CEILING_TILE: _ceiling_tile,
    Material.NIGHT_WINDOW: _night_window,
    Material.LIGHT: _light,
}


def apply_texture(
    material: int,
    albedo: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    s: np.ndarray,
    r: np.ndarray,
    param: np.ndarray,
    axis: np.ndarray,
    noise: Noise,
) -> tuple[np.ndarray, np.ndarray]:
    """Textured albedo (n, 3) of the pixels of one material, and whether they emit light."""
    out = _TEXTURES[material](albedo, u, v, s, r, param, axis, noise)
    emissive = np.full(len(albedo), material in (Material.WINDOW, Material.LIGHT))
    return out.astype(np.float32), emissive
