# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Vectorised ray casting of axis-aligned boxes inside a room, with textures and shading.

A box may instead hold a round shape inscribed in it (:class:`Shape`: a vertical cylinder, an
ellipsoid, a box with a rounded top); its bounds stay the bounding box, so culling and layout
code see boxes. This is the renderer behind :mod:`mmed_core.data.synthetic`; it has no Python
loop over pixels (only over the few boxes' axes, the shape kinds and the materials). Measure it
with ``python benchmarks/bench_synth.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mmed_core.data.textures import Material, apply_texture

__all__ = ["Lighting", "Material", "Scene", "Shape", "cast", "shade"]

# Rays are cast in chunks so a 640x480 frame never builds (rays x boxes) arrays of gigabytes.
_CHUNK = 32768
# For a face hit along axis a, the two in-plane world axes (u, v); v is height on vertical faces.
_TANGENTS = np.array([[1, 2], [0, 2], [0, 1]])


class Shape:
    """Shape codes of :attr:`Scene.shape`: what a box holds, inscribed in its bounds.

    ``CYLINDER``: a vertical elliptic cylinder filling the box's x-y footprint, flat caps.
    ``ELLIPSOID``: the ellipsoid touching the box's six faces. ``ROUNDED_TOP``: the box with its
    top rounded into a half cylinder along the longer horizontal side (a rolled sofa arm or
    back, a headboard); its radius is half the shorter side (at most half the height).
    """

    BOX, CYLINDER, ELLIPSOID, ROUNDED_TOP = range(4)


@dataclass
class Scene:
    """A room [0, size] (metres, z up) holding axis-aligned boxes, each one with a class id."""

    size: np.ndarray  # (3,) room extent along x, y, z
    lo: np.ndarray  # (B, 3) box minimum corners
    hi: np.ndarray  # (B, 3) box maximum corners
    label: np.ndarray  # (B,) uint8 class id, 255 = clutter of no target class
    material: np.ndarray  # (B,) Material id
    color: np.ndarray  # (B, 3) albedo 0..1
    param: np.ndarray  # (B,) per-box random number that varies the texture
    room_label: tuple[int, int, int]  # class ids of (wall, floor, ceiling)
    room_material: tuple[int, int, int]  # Material of (wall, floor, ceiling)
    room_color: np.ndarray  # (3, 3) albedo of (wall, floor, ceiling)
    lights: np.ndarray  # (L, 3) point-light positions
    light_power: np.ndarray  # (L,)
    ambient: float = 0.35
    extra: dict = field(default_factory=dict)
    shape: np.ndarray | None = None  # (B,) uint8 Shape code of each box; None: all boxes


@dataclass(frozen=True)
class Lighting:
    """Per-frame shading extras; all 0 is the plain look (Lambert + ambient, no shadows).

    ``shadows``: the share of a light's direct light that an object between it and a point takes
    away (0..1; below 1 the shadow is softened by light bounced from elsewhere). ``grime``:
    amplitude of a multi-scale variation of every surface's albedo (stains, wear, uneven paint,
    dust), with a 1/f spectrum like natural images. ``specular``: strength of glossy highlights
    of the lights (Blinn-Phong; how glossy each surface is depends on the surface). ``casters``:
    the boxes that cast shadows (the whole room: the shaded scene may be culled to the view).
    ``shadow_rays``: optional index (P,) of the point whose shadow ray stands for each point
    (a supersampled pixel's rays share one; shadows are soft anyway), to save shadow rays.
    """

    shadows: float = 0.0
    grime: float = 0.0
    specular: float = 0.0
    casters: Scene | None = None
    shadow_rays: np.ndarray | None = None


# Octaves (scale in 1/m, weight) of the grime: large blotches dominate, as in a 1/f spectrum.
_GRIME_OCTAVES = ((0.7, 0.45), (2.2, 0.27), (7.0, 0.17), (22.0, 0.11))
# Glossiness of the room's wall, floor and ceiling (floors are often polished or tiled).
_ROOM_GLOSS = np.array([0.15, 0.6, 0.05], np.float32)


def _noise_table() -> np.ndarray:
    rng = np.random.default_rng(1234)
    return rng.random((256, 256)).astype(np.float32)


_NOISE = _noise_table()


def _noise(u: np.ndarray, v: np.ndarray, scale: float) -> np.ndarray:
    """Bilinear value noise in 0..1 (tileable every 256 cells), cheap and smooth."""
    x, y = u * scale, v * scale
    x0, y0 = np.floor(x), np.floor(y)
    fx, fy = x - x0, y - y0
    i0, j0 = x0.astype(np.int64) & 255, y0.astype(np.int64) & 255
    i1, j1 = (i0 + 1) & 255, (j0 + 1) & 255
    top = _NOISE[i0, j0] * (1 - fx) + _NOISE[i1, j0] * fx
    bot = _NOISE[i0, j1] * (1 - fx) + _NOISE[i1, j1] * fx
    return top * (1 - fy) + bot * fy


def cast(
    scene: Scene, origin: np.ndarray, dirs: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First hit of each ray ``origin + t * dirs`` (P, 3): returns t, box index (-1 = room), axis.

    ``dirs`` need not be unit vectors; with the camera's forward component set to 1, t is the
    z-depth the datasets store.
    """
    out_t, out_i, out_a = [], [], []
    for start in range(0, len(dirs), _CHUNK):
        t, idx, axis = _cast_chunk(scene, origin, dirs[start : start + _CHUNK])
        out_t.append(t)
        out_i.append(idx)
        out_a.append(axis)
    return np.concatenate(out_t), np.concatenate(out_i), np.concatenate(out_a)


def _cast_chunk(
    scene: Scene, o: np.ndarray, d: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    safe = np.where(np.abs(d) < 1e-9, 1e-9, d)
    inv = (1.0 / safe).astype(np.float32)
    # The camera is inside the room, so the room is hit where the ray leaves it.
    far = np.maximum(-o * inv, (scene.size - o) * inv)
    axis = far.argmin(1)
    t = far.min(1)
    idx = np.full(len(d), -1, np.int64)
    if len(scene.lo):
        lo = (scene.lo - o).astype(np.float32)
        hi = (scene.hi - o).astype(np.float32)
        near = exit_ = None
        for a in range(3):
            t1 = np.multiply.outer(inv[:, a], lo[:, a])
            t2 = np.multiply.outer(inv[:, a], hi[:, a])
            if near is None:
                near, exit_ = np.minimum(t1, t2), np.maximum(t1, t2)
            else:
                np.maximum(near, np.minimum(t1, t2), out=near)
                np.minimum(exit_, np.maximum(t1, t2), out=exit_)
        np.putmask(near, (exit_ < near) | (near <= 0), np.inf)
        round_axis = None
        if scene.shape is not None and scene.shape.any():
            round_axis = _cast_round(scene, o, d, near, exit_)
        best = near.argmin(1)
        tb = near[np.arange(len(d)), best]
        hit = tb < t
        t = np.where(hit, tb, t)
        idx = np.where(hit, best, -1)
        if hit.any():
            # The face hit is the axis whose entry distance is the largest (the slab entered last).
            b = best[hit]
            e1 = lo[b] * inv[hit]
            e2 = hi[b] * inv[hit]
            axis[hit] = np.minimum(e1, e2).argmax(1)
            if round_axis is not None:  # on a curved surface: the normal's largest component
                curved = round_axis[np.flatnonzero(hit), b]
                axis[hit] = np.where(curved >= 0, curved, axis[hit])
    return t, idx, axis


def _quadric(
    shape: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Centre c, half size h, weights w and offset f (each (n, 3)) of the round shapes: in
    box coordinates q = (x - c) / h the curved surface is sum((w * (q - f))**2) = 1."""
    c = (lo + hi) / 2
    h = np.maximum((hi - lo) / 2, 1e-9)
    w = np.zeros_like(h)
    f = np.zeros_like(h)
    w[shape == Shape.CYLINDER, :2] = 1.0
    w[shape == Shape.ELLIPSOID] = 1.0
    top = np.flatnonzero(shape == Shape.ROUNDED_TOP)
    if len(top):
        across = (h[top, 0] >= h[top, 1]).astype(np.int64)  # the shorter horizontal side
        radius = np.minimum(h[top, across], h[top, 2])
        w[top, across] = 1.0
        w[top, 2] = h[top, 2] / radius
        f[top, 2] = 1.0 - radius / h[top, 2]
    return c, h, w, f


def _cast_round(
    scene: Scene, o: np.ndarray, d: np.ndarray, near: np.ndarray, exit_: np.ndarray
) -> np.ndarray:
    """Moves the entry distances ``near`` (P, B) of the round boxes' rays to where they meet the
    shape (inf: they miss it); returns (P, B) int8 of the axis of a curved-surface hit's normal
    (-1: a flat face, whose axis is the slab's)."""
    shape = scene.shape
    round_axis = np.full(near.shape, -1, np.int8)
    cols = np.flatnonzero(shape)
    rows, k = np.nonzero(np.isfinite(near[:, cols]))
    if not len(rows):
        return round_axis
    box = cols[k]
    kind = shape[box]
    c, h, w, f = _quadric(kind, scene.lo[box].astype(np.float64), scene.hi[box].astype(np.float64))
    t0 = near[rows, box].astype(np.float64)
    t1 = exit_[rows, box].astype(np.float64)
    ray = d[rows].astype(np.float64)
    # From where the ray enters the box, in box coordinates (well conditioned for thin poles).
    q0 = (o.astype(np.float64) + t0[:, None] * ray - c) / h
    dq = ray / h
    pq, dw = w * (q0 - f), w * dq
    a = np.einsum("ij,ij->i", dw, dw)
    b = 2 * np.einsum("ij,ij->i", pq, dw)
    cc = np.einsum("ij,ij->i", pq, pq) - 1.0
    # Entered through a flat face: a cylinder's cap, the box part of a rounded top, its ends.
    flat = (cc <= 0) & (kind != Shape.ELLIPSOID)
    flat |= (kind == Shape.ROUNDED_TOP) & (q0[:, 2] <= f[:, 2])
    disc = b * b - 4 * a * cc
    meets = (b < 0) & (disc >= 0) & (a > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = 2 * cc / (-b + np.sqrt(np.maximum(disc, 0)))  # the nearer root, stably
    s = np.where((cc <= 0) | ~np.isfinite(s), 0.0, s)  # (not finite: a miss)
    curved = ~flat & (meets | (cc <= 0)) & (s <= t1 - t0 + 1e-9)
    t = np.where(flat, t0, np.where(curved, t0 + s, np.inf))
    near[rows, box] = t.astype(near.dtype)
    grad = w * w * (q0 + s[:, None] * dq - f) / h
    round_axis[rows[curved], box[curved]] = np.abs(grad[curved]).argmax(1)
    return round_axis


def _geometry(
    scene: Scene,
    origin: np.ndarray,
    dirs: np.ndarray,
    t: np.ndarray,
    idx: np.ndarray,
    axis: np.ndarray,
) -> tuple[np.ndarray, ...]:
    """Of each hit of :func:`cast`: the point, the unit normal (towards the ray), the face
    coordinates u, v (metres) and s, r (0..1 across the face) and the surface index (the boxes,
    then the room's wall, floor and ceiling)."""
    n_px = len(t)
    rows = np.arange(n_px)
    point = origin + t[:, None] * dirs
    normal = np.zeros((n_px, 3), np.float32)
    normal[rows, axis] = -np.sign(dirs[rows, axis])
    tan = _TANGENTS[axis]
    u, v = point[rows, tan[:, 0]], point[rows, tan[:, 1]]

    # The room's wall, floor and ceiling join the boxes as three extra entries, so every
    # per-pixel property is one gather instead of a where() per property.
    surface = np.where(axis == 2, np.where(dirs[:, 2] < 0, 1, 2), 0)
    n_box = len(scene.lo)
    sid = np.where(idx < 0, n_box + surface, idx)
    room3 = np.broadcast_to(scene.size, (3, 3))
    lo = np.concatenate([scene.lo.reshape(-1, 3), np.zeros((3, 3))]).astype(np.float32)
    hi = np.concatenate([scene.hi.reshape(-1, 3), room3]).astype(np.float32)
    # Face coordinates in 0..1, for frames, bezels and panels.
    t0, t1 = tan[:, 0], tan[:, 1]
    lo0, lo1 = lo[sid, t0], lo[sid, t1]
    s = (u - lo0) / np.maximum(hi[sid, t0] - lo0, 1e-6)
    r = (v - lo1) / np.maximum(hi[sid, t1] - lo1, 1e-6)
    if scene.shape is not None and scene.shape.any():
        kind = np.concatenate([scene.shape, np.zeros(3, scene.shape.dtype)])[sid]
        on = np.flatnonzero(kind)
        if len(on):
            _round_surface(
                kind[on],
                point[on],
                scene.lo[sid[on]],  # (as cast() reads them, so both see the same shape)
                scene.hi[sid[on]],
                axis[on],
                on,
                dirs,
                normal,
                u,
                v,
                s,
                r,
            )
    return point, normal, u, v, s, r, sid


def shade(
    scene: Scene,
    origin: np.ndarray,
    dirs: np.ndarray,
    t: np.ndarray,
    idx: np.ndarray,
    axis: np.ndarray,
    lighting: Lighting | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Colour (P, 3) in 0..1 (before exposure) and class id (P,) of each hit; ``lighting`` adds
    shadows, grime and highlights (default: none of them)."""
    look = lighting or Lighting()
    n_px = len(t)
    point, normal, u, v, s, r, sid = _geometry(scene, origin, dirs, t, idx, axis)
    label = np.concatenate([scene.label, np.asarray(scene.room_label)]).astype(np.uint8)[sid]
    material = np.concatenate([scene.material, np.asarray(scene.room_material)])[sid]
    albedo = np.concatenate([scene.color.reshape(-1, 3), scene.room_color]).astype(np.float32)[sid]
    param = np.concatenate([scene.param, np.full(3, 0.5)]).astype(np.float32)[sid]

    emissive = np.zeros(n_px, bool)
    for mat in np.unique(material):
        m = material == mat
        albedo[m], emissive[m] = apply_texture(
            int(mat), albedo[m], u[m], v[m], s[m], r[m], param[m], axis[m], _noise
        )
    if look.grime > 0:
        # Offsetting u by the surface's random number gives every box its own pattern.
        shift = param * 113.0 + sid * 7.3
        var = sum(w * (_noise(u + shift, v, f) - 0.5) for f, w in _GRIME_OCTAVES)
        albedo *= np.clip(1.0 + 2.0 * look.grime * var, 0.2, None)[:, None]
    gloss = None
    if look.specular > 0:
        # Per-surface glossiness from its random number (no extra draws: scenes stay the same).
        gloss = np.concatenate([(scene.param * 7919.0) % 1.0, _ROOM_GLOSS])[sid].astype(np.float32)
        to_cam = -dirs / np.linalg.norm(dirs, axis=1, keepdims=True)
        spec = np.zeros(n_px, np.float32)
    light = np.full(n_px, scene.ambient, np.float32)
    reps = None
    if look.shadows > 0 and look.shadow_rays is not None:  # once per frame, not per light
        reps = np.unique(look.shadow_rays, return_inverse=True)
    for pos, power in zip(scene.lights, scene.light_power):
        to_light = pos - point
        dist2 = np.einsum("ij,ij->i", to_light, to_light)
        lambert = np.maximum(np.einsum("ij,ij->i", normal, to_light), 0) / np.sqrt(dist2 + 1e-6)
        if look.shadows > 0:
            direct = power / (1.0 + 0.12 * dist2)
            direct = direct * (1.0 - look.shadows * _occluded(look, scene, pos, point, reps))
            light += direct * lambert
        else:  # (the same sum in the order of the plain look, so its frames stay bit-identical)
            light += power * lambert / (1.0 + 0.12 * dist2)
            direct = power / (1.0 + 0.12 * dist2)
        if gloss is not None:
            half = to_light / np.sqrt(dist2 + 1e-6)[:, None] + to_cam
            half /= np.linalg.norm(half, axis=1, keepdims=True) + 1e-6
            n_dot_h = np.maximum(np.einsum("ij,ij->i", normal, half), 0)
            spec += direct * (lambert > 0) * gloss * n_dot_h ** (4.0 + 60.0 * gloss)
    # Light falls off towards the room's corners a little (cheap ambient occlusion).
    # Distance to the second-nearest room plane: on the floor it is the distance to a wall.
    planes = np.concatenate([point, scene.size - point], axis=1)
    edge = np.partition(planes, 1, axis=1)[:, 1]
    light *= 0.75 + 0.25 * np.clip(edge / 0.4, 0, 1) ** 0.5
    colour = albedo * np.where(emissive, 1.0, light)[:, None]
    if gloss is not None:
        colour += (look.specular * np.where(emissive, 0.0, spec))[:, None]
    return colour, label


def _round_surface(
    kind: np.ndarray,
    point: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    axis: np.ndarray,
    on: np.ndarray,
    dirs: np.ndarray,
    normal: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    s: np.ndarray,
    r: np.ndarray,
) -> None:
    """Normal and face coordinates of the hits ``on`` the curved surfaces of round shapes,
    written into ``normal``, ``u``, ``v``, ``s`` and ``r`` (flat faces keep the box's): u runs
    around (angle x mean radius), v up (height; arc length over a rounded top), s and r are the
    same in 0..1."""
    c, h, w, f = _quadric(kind, lo.astype(np.float64), hi.astype(np.float64))
    q = (point - c) / h
    across = (h[:, 0] >= h[:, 1]).astype(np.int64)  # rounded top: the shorter horizontal side
    along = 1 - across
    rows = np.arange(len(kind))
    curved = kind == Shape.ELLIPSOID
    curved |= (kind == Shape.CYLINDER) & (axis != 2)
    curved |= (kind == Shape.ROUNDED_TOP) & (axis != along) & (q[:, 2] > f[:, 2])
    if not curved.any():
        return
    grad = w * w * (q - f) / h
    grad /= np.maximum(np.linalg.norm(grad, axis=1, keepdims=True), 1e-12)
    facing = np.einsum("ij,ij->i", grad, dirs[on]) > 0
    grad[facing] *= -1  # towards the ray (a grazing hit may land just behind the equator)
    around = np.arctan2(q[:, 1], q[:, 0])
    radius = (h[:, 0] + h[:, 1]) / 2
    lift = np.arcsin(np.clip(q[:, 2], -1, 1))
    # Rounded top: the angle over the roll, 0 at either side, so v joins the flat sides' height.
    z0 = c[:, 2] + f[:, 2] * h[:, 2]
    roll_r = h[:, 2] / np.maximum(w[:, 2], 1e-9)
    roll = np.arcsin(np.clip((point[:, 2] - z0) / np.maximum(roll_r, 1e-9), 0, 1))
    rolled = kind == Shape.ROUNDED_TOP
    cu = np.where(rolled, point[rows, along], around * radius)
    cv = np.where(
        rolled,
        z0 + roll * (roll_r + h[rows, across]) / 2,
        np.where(kind == Shape.ELLIPSOID, c[:, 2] + lift * h[:, 2], point[:, 2]),
    )
    cs = np.where(rolled, (q[rows, along] + 1) / 2, (around + np.pi) / (2 * np.pi))
    cr = np.where(kind == Shape.ELLIPSOID, lift / np.pi + 0.5, (q[:, 2] + 1) / 2)
    at = on[curved]
    normal[at] = grad[curved]
    u[at], v[at], s[at], r[at] = cu[curved], cv[curved], cs[curved], cr[curved]


def _occluded(
    look: Lighting,
    scene: Scene,
    light: np.ndarray,
    point: np.ndarray,
    reps: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """1.0 where a box lies between ``light`` and ``point`` (P, 3), else 0.0: one shadow ray per
    point, or per representative of ``reps`` (the unique ``look.shadow_rays`` and each point's
    index into them), cast from the light; the point itself is reached at t = 1."""
    casters = look.casters or scene
    if not len(casters.lo):
        return np.zeros(len(point), np.float32)
    if reps is None and look.shadow_rays is not None:
        reps = np.unique(look.shadow_rays, return_inverse=True)
    ends = point if reps is None else point[reps[0]]
    origin = np.asarray(light, np.float32)
    t, idx, _ = cast(casters, origin, (ends - origin).astype(np.float32))
    hit = ((idx >= 0) & (t < 0.995)).astype(np.float32)
    return hit if reps is None else hit[reps[1].reshape(-1)]
