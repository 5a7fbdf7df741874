# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Round shapes of the synthetic rooms: cylinders, ellipsoids and rolled tops inscribed in boxes.

Run: pytest test/test_data_shapes.py
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scene_support import grey_room as _room

from mmed_core.data import raycast
from mmed_core.data.classes import IGNORE_INDEX, NYU12_CLASSES
from mmed_core.data.raycast import Lighting, Scene, Shape, _geometry, cast, shade
from mmed_core.data.scenes import RoomConfig, random_room
from mmed_core.data.synthetic import (
    SyntheticConfig,
    config_from_dict,
    describe_config,
    render_frame,
)
from mmed_core.errors import ConfigError

CAMERA = np.array([0.3, 2.0, 1.5], np.float32)  # looking along +x at the room's middle


def _fan(n: int = 41, spread: float = 0.45) -> np.ndarray:
    """Rays (n*n, 3) from CAMERA over a square cone around +x (forward component 1)."""
    a, b = np.meshgrid(np.linspace(-spread, spread, n), np.linspace(-spread, spread, n))
    return np.stack([np.ones(n * n), a.ravel(), b.ravel()], 1).astype(np.float32)


def _sphere_t(centre, radius, dirs) -> np.ndarray:
    """Analytic first hit of the rays from CAMERA with a sphere (nan: miss)."""
    oc = CAMERA.astype(np.float64) - centre
    d = dirs.astype(np.float64)
    a, b, c = (d * d).sum(1), 2 * d @ oc, oc @ oc - radius**2
    disc = b * b - 4 * a * c
    return np.where(disc >= 0, (-b - np.sqrt(np.maximum(disc, 0))) / (2 * a), np.nan)


def test_ray_meets_a_sphere_where_the_algebra_says():
    centre, radius = np.array([2.0, 2.0, 1.5]), 0.5
    scene = _room([(centre - radius, centre + radius)], [Shape.ELLIPSOID])
    dirs = _fan()
    t, idx, axis = cast(scene, CAMERA, dirs)
    expected = _sphere_t(centre, radius, dirs)
    hit = idx == 0
    np.testing.assert_array_equal(hit, np.isfinite(expected))
    assert hit.sum() > 200  # the sphere fills a good part of the fan
    np.testing.assert_allclose(t[hit], expected[hit], atol=1e-5)
    # The normal is the sphere's radius direction, unit length, facing the camera.
    point, normal, *_ = _geometry(scene, CAMERA, dirs, t, idx, axis)
    np.testing.assert_allclose(np.linalg.norm(normal[hit], axis=1), 1, atol=1e-5)
    np.testing.assert_allclose(normal[hit], (point[hit] - centre) / radius, atol=1e-4)
    assert (np.einsum("ij,ij->i", normal[hit], dirs[hit]) < 0).all()


def test_ray_meets_a_vertical_cylinder_side_and_cap():
    # A cylinder of radius 0.4 around x = 2, y = 2 from the floor to 1.2 m, seen from 1.5 m.
    scene = _room([((1.6, 1.6, 0.0), (2.4, 2.4, 1.2))], [Shape.CYLINDER])
    dirs = _fan()
    t, idx, axis = cast(scene, CAMERA, dirs)
    point, normal, u, v, s, r, _ = _geometry(scene, CAMERA, dirs, t, idx, axis)
    hit = idx == 0
    assert hit.sum() > 100
    radial = np.hypot(point[:, 0] - 2, point[:, 1] - 2)
    side, cap = hit & (axis != 2), hit & (axis == 2)
    assert side.any() and cap.any()  # seen from above its top: both
    np.testing.assert_allclose(radial[side], 0.4, atol=1e-4)
    np.testing.assert_allclose(point[cap, 2], 1.2, atol=1e-5)
    assert (radial[cap] <= 0.4 + 1e-4).all()
    # Rays in the vertical plane through the axis meet the side at x = 1.6 exactly.
    mid = hit & (np.abs(dirs[:, 1]) < 1e-6) & (axis != 2)
    np.testing.assert_allclose(point[mid, 0], 1.6, atol=1e-5)
    # Normals: unit, facing the ray, horizontal on the side, up on the cap.
    np.testing.assert_allclose(np.linalg.norm(normal[hit], axis=1), 1, atol=1e-5)
    assert (np.einsum("ij,ij->i", normal[hit], dirs[hit]) < 0).all()
    np.testing.assert_allclose(normal[side, 2], 0, atol=1e-6)
    np.testing.assert_allclose(normal[cap], np.tile([0, 0, 1], (cap.sum(), 1)), atol=1e-6)
    # Face coordinates are finite and in range; u runs around the side, v is the height.
    for x in (u, v, s, r):
        assert np.isfinite(x[hit]).all()
    assert (s[hit] >= -1e-6).all() and (s[hit] <= 1 + 1e-6).all()
    np.testing.assert_allclose(v[side], point[side, 2], atol=1e-6)


@pytest.mark.parametrize("kind", [Shape.CYLINDER, Shape.ELLIPSOID, Shape.ROUNDED_TOP])
def test_round_shapes_stay_inside_their_box_and_let_corner_rays_through(kind):
    lo, hi = np.array([1.5, 1.7, 1.0]), np.array([2.3, 2.2, 2.0])
    box = _room([(lo, hi)], [Shape.BOX])
    shaped = _room([(lo, hi)], [kind])
    dirs = _fan(61, 0.5)
    t_box, i_box, _ = cast(box, CAMERA, dirs)
    t, idx, axis = cast(shaped, CAMERA, dirs)
    hit = idx == 0
    assert hit.any() and (hit <= (i_box == 0)).all()  # only where the box is hit
    point = CAMERA + t[:, None] * dirs
    assert (point[hit] >= lo - 1e-4).all() and (point[hit] <= hi + 1e-4).all()
    assert (t[hit] >= t_box[hit] - 1e-5).all()  # never in front of the box
    # Rays through the box's corners outside the shape go on to the room behind it.
    through = (i_box == 0) & ~hit
    assert through.any()
    assert (idx[through] == -1).all() and (t[through] > t_box[through]).all()
    # The point on the curved surface satisfies its equation.
    point, normal, *_ = _geometry(shaped, CAMERA, dirs, t, idx, axis)
    q = (point[hit] - (lo + hi) / 2) / ((hi - lo) / 2)
    if kind == Shape.ELLIPSOID:
        np.testing.assert_allclose((q**2).sum(1), 1, atol=1e-4)
    elif kind == Shape.CYLINDER:
        assert ((q[:, :2] ** 2).sum(1) <= 1 + 1e-4).all()
    np.testing.assert_allclose(np.linalg.norm(normal[hit], axis=1), 1, atol=1e-5)
    assert (np.einsum("ij,ij->i", normal[hit], dirs[hit]) < 1e-6).all()


def test_a_rounded_top_is_a_box_below_and_a_half_cylinder_above():
    # An arm 0.2 wide (x), 0.9 deep (y), 0.6 high, seen from above: the top 0.1 m is a roll
    # along y.
    lo, hi = np.array([1.9, 1.55, 0.6]), np.array([2.1, 2.45, 1.2])
    scene = _room([(lo, hi)], [Shape.ROUNDED_TOP])
    dirs = _fan(81, 0.5)
    t, idx, axis = cast(scene, CAMERA, dirs)
    point, normal, *_ = _geometry(scene, CAMERA, dirs, t, idx, axis)
    hit = idx == 0
    low = hit & (point[:, 2] < 1.09)
    high = hit & (point[:, 2] > 1.11)
    assert low.sum() > 20 and high.sum() > 20
    np.testing.assert_allclose(point[low, 0], 1.9, atol=1e-5)  # the flat front face
    roll = np.hypot(point[high, 0] - 2.0, point[high, 2] - 1.1)
    np.testing.assert_allclose(roll, 0.1, atol=1e-4)
    assert (normal[high, 2] > 0).all() and np.abs(normal[high, 1]).max() < 1e-6


def _floor_light(scene: Scene, points: np.ndarray, lighting: Lighting | None) -> np.ndarray:
    origin = np.array([3.9, 2.0, 0.3], np.float32)
    target = np.concatenate([points, np.zeros((len(points), 1))], 1)
    dirs = (target - origin).astype(np.float32)
    t, idx, axis = cast(scene, origin, dirs)
    assert (idx == -1).all()  # the floor points are seen
    return shade(scene, origin, dirs, t, idx, axis, lighting)[0].mean(1)


def test_a_sphere_casts_a_round_shadow():
    # A ball of radius 0.3 at 1.5 m under the light at (2, 2, 2.8): its shadow on the floor is
    # a disc around (2, 2); the floor under its box's corner is lit, as it would not be under
    # a box.
    ball = ((1.7, 1.7, 1.2), (2.3, 2.3, 1.8))
    pts = np.array([[2.0, 2.0], [2.62, 2.62]])  # centre; in the box's shadow, not the ball's
    results = {}
    for kind in (Shape.ELLIPSOID, Shape.BOX):
        scene = _room([ball], [kind])
        plain = _floor_light(scene, pts, None)
        results[kind] = _floor_light(scene, pts, Lighting(shadows=0.8)) / plain
    assert results[Shape.ELLIPSOID][0] < 0.8 and results[Shape.BOX][0] < 0.8
    assert results[Shape.BOX][1] < 0.8
    np.testing.assert_allclose(results[Shape.ELLIPSOID][1], 1.0, rtol=1e-5)


def test_all_box_codes_render_as_no_codes():
    # shape all 0 takes the plain path: the same bytes as shape None.
    scene = random_room(np.random.default_rng(3))
    assert scene.shape is None
    boxed = replace(scene, shape=np.zeros(len(scene.lo), np.uint8))
    a, b = cast(scene, CAMERA, _fan(21)), cast(boxed, CAMERA, _fan(21))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(
        shade(scene, CAMERA, _fan(21), *a)[0], shade(boxed, CAMERA, _fan(21), *b)[0]
    )


def test_default_look_is_unchanged():
    spelled = config_from_dict({"room": {"rounded": 0}}, height=32, width=32, seed=3)
    for i in range(3):
        a = render_frame(i, SyntheticConfig(height=32, width=32, seed=3))
        b = render_frame(i, spelled)
        np.testing.assert_array_equal(a.rgb, b.rgb)
        np.testing.assert_array_equal(a.depth, b.depth)
        np.testing.assert_array_equal(a.label, b.label)


def test_rounded_rooms_are_the_same_rooms_with_round_things():
    plain = [random_room(np.random.default_rng([5, i])) for i in range(6)]
    rounded = [
        random_room(np.random.default_rng([5, i]), config=RoomConfig(rounded=0.6))
        for i in range(6)
    ]
    kinds = np.concatenate([r.shape for r in rounded if r.shape is not None])
    assert {Shape.CYLINDER, Shape.ELLIPSOID} <= set(kinds.tolist())
    assert 0.1 < np.mean(kinds > 0) < 0.6
    for p, r in zip(plain, rounded):
        np.testing.assert_array_equal(p.label, r.label)  # the same objects...
        np.testing.assert_array_equal(p.hi[:, 2] - p.lo[:, 2], r.hi[:, 2] - r.lo[:, 2])
        np.testing.assert_array_equal(p.color, r.color)  # ...and draws


def test_knob_changes_frames_and_labels_stay_class_ids():
    cfg = config_from_dict({"room": {"rounded": 1.0}}, height=32, width=32, seed=3)
    plain = SyntheticConfig(height=32, width=32, seed=3)
    changed = 0
    for i in range(4):
        a, b = render_frame(i, plain), render_frame(i, cfg)
        changed += int((a.label != b.label).any() or (a.depth != b.depth).any())
        valid = (b.label < len(NYU12_CLASSES)) | (b.label == IGNORE_INDEX)
        assert valid.all() and np.isfinite(b.depth).all() and b.rgb.shape == (32, 32, 3)
    assert changed >= 2
    again = render_frame(0, cfg)
    np.testing.assert_array_equal(again.rgb, render_frame(0, cfg).rgb)  # deterministic


@pytest.mark.parametrize("value", [1.5, -0.1, "yes"])
def test_bad_rounded_names_the_option(value):
    with pytest.raises(ConfigError, match="room.rounded must be a chance 0..1"):
        config_from_dict({"room": {"rounded": value}})


def test_chunks_give_the_same_hits(monkeypatch):
    scene = random_room(np.random.default_rng(8), config=RoomConfig(rounded=1.0))
    dirs = _fan(31, 0.6)
    whole = cast(scene, CAMERA, dirs)
    monkeypatch.setattr(raycast, "_CHUNK", 97)  # many chunks, the last one short
    for x, y in zip(whole, cast(scene, CAMERA, dirs)):
        np.testing.assert_array_equal(x, y)


def test_inspect_lists_the_knob():
    assert "rounded=0.0" in describe_config(SyntheticConfig())
    assert "rounded=0.5" in describe_config(config_from_dict({"room": {"rounded": 0.5}}))
