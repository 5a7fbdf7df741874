# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""The generator's realism extras (supersampling, auto exposure, shadows, grime, highlights).

Run: pytest test/test_data_realism.py
"""

from __future__ import annotations

import numpy as np
import pytest
from scene_support import grey_room as _room

from mmed_core.data.classes import NYU12_CLASSES
from mmed_core.data.raycast import Lighting, Scene, cast, shade
from mmed_core.data.scenes import RoomConfig, random_room
from mmed_core.data.synthetic import SyntheticConfig, config_from_dict, render_frame
from mmed_core.data.textures import Material as M
from mmed_core.errors import ConfigError

EXTRAS = {
    "supersample": 2,
    "auto_exposure": (0.35, 0.6),
    "shadows": (0.5, 0.9),
    "grime": (0.1, 0.35),
    "specular": (0.1, 0.5),
    "room": {"printed": 0.2},
}


def _shade_floor(scene: Scene, points: np.ndarray, lighting: Lighting | None) -> np.ndarray:
    """Brightness of floor ``points`` (P, 2) seen from low in a corner (under any table)."""
    origin = np.array([3.9, 2.0, 0.3], np.float32)
    target = np.concatenate([points, np.zeros((len(points), 1))], 1)
    dirs = (target - origin).astype(np.float32)
    t, idx, axis = cast(scene, origin, dirs)
    colour, _ = shade(scene, origin, dirs, t, idx, axis, lighting)
    return colour.mean(1)


def test_defaults_are_off_and_leave_frames_unchanged():
    cfg = SyntheticConfig(seed=4)
    assert cfg.supersample == 1
    assert all(getattr(cfg, k)[1] == 0 for k in ("auto_exposure", "shadows", "grime", "specular"))
    spelled = config_from_dict(
        {"supersample": 1, "auto_exposure": [0, 0], "shadows": [0, 0], "grime": [0, 0]}, seed=4
    )
    for i in range(2):
        a, b = render_frame(i, cfg), render_frame(i, spelled)
        np.testing.assert_array_equal(a.rgb, b.rgb)
        np.testing.assert_array_equal(a.depth, b.depth)


def test_supersampled_depth_and_labels_are_the_finer_grids_rays():
    # A 48x48 frame of 2x2 rays per pixel keeps one ray of each 2x2 block for depth and labels:
    # exactly the rays of the 96x96 frame of the same room and view.
    fine = render_frame(1, SyntheticConfig(height=96, width=96, seed=2))
    coarse = render_frame(1, SyntheticConfig(height=48, width=48, seed=2, supersample=2))
    np.testing.assert_array_equal(coarse.label, fine.label[1::2, 1::2])
    np.testing.assert_allclose(coarse.depth, fine.depth[1::2, 1::2], rtol=1e-5)
    assert coarse.rgb.shape == (48, 48, 3)
    np.testing.assert_allclose(coarse.K[:2, 2], [23.5, 23.5])


def test_a_box_casts_a_shadow_on_the_floor():
    table = ((1.5, 1.5, 0.7), (2.5, 2.5, 0.75))
    scene = _room([table])
    # The light is above the table: a floor point just outside the table's footprint is in its
    # shadow, one in the corner is not. Compare each with and without shadows.
    under, beside = np.array([[2.6, 2.0]]), np.array([[3.5, 3.5]])
    pts = np.concatenate([under, beside])
    plain = _shade_floor(scene, pts, None)
    shadowed = _shade_floor(scene, pts, Lighting(shadows=0.8))
    assert shadowed[0] < 0.8 * plain[0]  # in the table's shadow
    np.testing.assert_allclose(shadowed[1], plain[1], rtol=1e-5)  # nothing in the way
    # A shadow ray per representative point gives the same answer when every point is its own.
    reps = Lighting(shadows=0.8, shadow_rays=np.arange(2))
    np.testing.assert_allclose(_shade_floor(scene, pts, reps), shadowed, rtol=1e-6)


def test_grime_varies_albedo_and_highlights_only_brighten():
    scene = _room([])
    g = np.stack(np.meshgrid(np.linspace(0.3, 3.7, 40), np.linspace(0.3, 3.7, 40)), -1)
    pts = g.reshape(-1, 2)
    plain = _shade_floor(scene, pts, None)
    grimy = _shade_floor(scene, pts, Lighting(grime=0.35))
    ratio = grimy / plain
    assert ratio.std() > 0.03 and 0.85 < ratio.mean() < 1.15
    glossy = _shade_floor(scene, pts, Lighting(specular=0.5))
    assert (glossy >= plain - 1e-6).all() and (glossy > plain + 0.01).any()


def test_auto_exposure_sets_the_mean_brightness():
    means = []
    for target in (0.3, 0.55):
        cfg = config_from_dict(
            {"auto_exposure": [target, target], "gamma": [1, 1], "vignetting": [0, 0],
             "white_balance": 0.0, "jpeg_prob": 0.0},
            height=48, width=48, seed=1,
        )  # fmt: skip
        means.append(np.mean([render_frame(i, cfg).rgb.mean() / 255 for i in range(4)]))
    # Clipping of bright windows and lights pulls the mean a little below the target.
    assert 0.24 < means[0] < 0.32 and 0.45 < means[1] < 0.57


def test_fewer_printed_furniture():
    furniture = [NYU12_CLASSES.index(c) for c in ("sofa", "bed", "cabinet", "table")]
    busy, boxes = {}, {}
    for printed in (1.0, 0.0):
        scenes = [
            random_room(np.random.default_rng([5, i]), config=RoomConfig(printed=printed))
            for i in range(12)
        ]
        labelled = np.concatenate([s.material[np.isin(s.label, furniture)] for s in scenes])
        busy[printed] = float(np.mean(labelled == M.BUSY))
        boxes[printed] = np.concatenate([np.concatenate([s.lo, s.hi], 1) for s in scenes])
    assert busy[1.0] > 0.05 and busy[0.0] == 0.0
    np.testing.assert_array_equal(boxes[1.0], boxes[0.0])  # the same rooms, other materials


def test_all_extras_render_and_stay_deterministic():
    cfg = config_from_dict(EXTRAS, height=32, width=32, seed=9)
    a, b = render_frame(0, cfg), render_frame(0, cfg)
    np.testing.assert_array_equal(a.rgb, b.rgb)
    assert a.rgb.shape == (32, 32, 3) and a.depth.shape == (32, 32) and a.label.shape == (32, 32)
    rays_only = render_frame(
        0,
        SyntheticConfig(height=32, width=32, seed=9, supersample=2, room=RoomConfig(printed=0.2)),
    )
    np.testing.assert_array_equal(a.label, rays_only.label)  # the others change only the look
    np.testing.assert_array_equal(a.depth, rays_only.depth)


@pytest.mark.parametrize(
    "opts, needle",
    [
        ({"supersample": 0}, "supersample must be an integer 1..4, got 0"),
        ({"supersample": 2.5}, "supersample must be an integer"),
        ({"shadows": [0.5, 1.5]}, r"shadows must be a range \[lo, hi\].*got \[0.5, 1.5\]"),
        ({"grime": [0.3, 0.1]}, "grime must be a range"),
        ({"specular": [0.1]}, "specular must be a range"),
        ({"room": {"printed": 1.5}}, "room.printed must be a chance 0..1, got 1.5"),
    ],
)
def test_bad_extras_name_the_option(opts, needle):
    with pytest.raises(ConfigError, match=needle):
        config_from_dict(opts)
