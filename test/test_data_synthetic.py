# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Synthetic scenes: deterministic, exact geometry, plausible content.

Run: pytest test/test_data_synthetic.py
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mmed_core.data import DATASETS, build_dataset
from mmed_core.data.classes import IGNORE_INDEX, NYU12_CLASSES
from mmed_core.data.synthetic import (
    DEPTH_RANGE,
    RoomConfig,
    SyntheticConfig,
    generate_frames,
    generate_unpaired,
    kinect_depth,
    render_frame,
)
from mmed_core.errors import ConfigError

FLOOR, CEILING = NYU12_CLASSES.index("floor"), NYU12_CLASSES.index("ceiling")


@pytest.fixture(scope="module")
def frames():
    return list(generate_frames(16, seed=3))


def _world_points(frame) -> np.ndarray:
    h, w = frame.depth.shape
    v, u = np.mgrid[0:h, 0:w]
    rays = np.stack([u, v, np.ones_like(u)], -1).reshape(-1, 3) @ np.linalg.inv(frame.K).T
    cam = rays * frame.depth.reshape(-1, 1)
    return (cam @ frame.pose[:3, :3].T + frame.pose[:3, 3]).reshape(h, w, 3)


def test_same_seed_same_bytes_other_seed_other_frames():
    a = list(generate_frames(3, seed=7))
    b = list(generate_frames(3, seed=7))
    c = list(generate_frames(3, seed=8))
    for fa, fb in zip(a, b):
        for key in ("rgb", "depth", "label", "K", "pose"):
            np.testing.assert_array_equal(getattr(fa, key), getattr(fb, key))
    assert not np.array_equal(a[0].rgb, c[0].rgb)
    # Random access gives the same frame as iterating.
    np.testing.assert_array_equal(render_frame(2, SyntheticConfig(seed=7)).rgb, a[2].rgb)


def test_frame_types_and_depth_range(frames):
    f = frames[0]
    assert f.rgb.shape == (96, 96, 3) and f.rgb.dtype == np.uint8
    assert f.depth.shape == (96, 96) and f.depth.dtype == np.float32
    assert f.label.dtype == np.uint8 and f.K.shape == (3, 3) and f.pose.shape == (4, 4)
    depth = np.stack([fr.depth for fr in frames])
    valid = depth[depth > 0]
    assert valid.min() >= DEPTH_RANGE[0] and valid.max() <= DEPTH_RANGE[1]
    assert (depth > 0).mean() > 0.97
    R = f.pose[:3, :3]
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-9)
    assert np.linalg.det(R) == pytest.approx(1.0)


def test_all_twelve_classes_appear_and_content_is_textured(frames):
    labels = np.stack([f.label for f in frames])
    present = set(np.unique(labels).tolist()) - {IGNORE_INDEX}
    assert present == set(range(12)), f"missing classes {set(range(12)) - present}"
    # Not flat colours: pixels of one class in one frame vary (texture, shading).
    f = frames[0]
    wall = f.label == NYU12_CLASSES.index("wall")
    assert f.rgb[wall].std(axis=0).mean() > 3.0


def test_depth_is_exact_metric_geometry(frames):
    """Back-projecting depth with K and pose puts every floor pixel at z = 0 and the ceiling
    flat."""
    for f in frames[:6]:
        points = _world_points(f)
        floor = (f.label == FLOOR) & (f.depth > 0)
        assert floor.any()
        np.testing.assert_allclose(points[floor][:, 2], 0.0, atol=2e-3)
        ceiling = (f.label == CEILING) & (f.depth > 0)
        if ceiling.sum() > 3:
            z = points[ceiling][:, 2]
            assert z.max() - z.min() < 5e-3 and 2.3 < z.mean() < 3.1


def test_sequence_is_one_room_with_a_smooth_path():
    seq = list(generate_frames(6, seed=1, sequence=True))
    steps = [np.linalg.norm(b.pose[:3, 3] - a.pose[:3, 3]) for a, b in zip(seq, seq[1:])]
    assert max(steps) < 0.15 and min(steps) > 1e-4
    turns = [
        np.degrees(
            np.arccos(np.clip((np.trace(a.pose[:3, :3].T @ b.pose[:3, :3]) - 1) / 2, -1, 1))
        )
        for a, b in zip(seq, seq[1:])
    ]
    assert max(turns) < 5.0
    heights = [(_world_points(f)[(f.label == CEILING) & (f.depth > 0)][:, 2]).mean() for f in seq]
    assert np.ptp(heights) < 1e-2  # same room: same ceiling


def test_unpaired_stream_differs_from_paired():
    rgb = next(generate_unpaired(1, seed=0))
    assert rgb.shape == (96, 96, 3)
    assert not np.array_equal(rgb, next(generate_frames(1, seed=0)).rgb)


def test_camera_size_render():
    f = render_frame(0, SyntheticConfig(height=480, width=640))
    assert f.rgb.shape == (480, 640, 3) and f.K[0, 0] == pytest.approx(518.86)


def test_build_dataset_synthetic_contract():
    opts = {"n_train": 3, "n_val": 2, "n_extra": 2}
    train = build_dataset("synthetic", "train", options=opts)
    val = build_dataset("synthetic", "val", options=opts)
    extra = build_dataset("synthetic", "extra", options=opts)
    assert "synthetic" in DATASETS and len(train) == 3 and len(val) == 2
    s = train[0]
    assert (
        s["rgb"].shape == (3, 96, 96) and s["rgb"].dtype == torch.float32 and s["rgb"].max() <= 255
    )
    assert (
        s["depth"].shape == (1, 96, 96) and s["label"].dtype == torch.int64 and bool(s["paired"])
    )
    assert not torch.equal(train[0]["rgb"], val[0]["rgb"])  # splits use different seeds
    e = extra[0]
    assert not bool(e["paired"]) and e["depth"].abs().sum() == 0 and (e["label"] == 255).all()
    assert train.info.depth_units == "m" and train.info.depth_range == (0.5, 10.0)
    small = build_dataset("synthetic", "train", size=(32, 48), options={"n_train": 1})
    assert small[0]["rgb"].shape == (3, 32, 48)


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({"name": "kitti", "split": "train"}, "synthetic, nyudv2, cityscapes, labelled"),
        ({"name": "synthetic", "split": "dev"}, "train, val, test, extra"),
        ({"name": "synthetic", "split": "train", "options": {"n_trian": 3}}, "n_train"),
    ],
)
def test_bad_names_list_valid_values(kwargs, needle):
    name, split = kwargs.pop("name"), kwargs.pop("split")
    with pytest.raises(ConfigError, match=needle):
        build_dataset(name, split, **kwargs)


def test_kinect_field_of_view_squeezes_a_640x480_view_into_any_size():
    K = render_frame(0, SyntheticConfig(height=96, width=96)).K
    # 96x96 holds NYUDv2's 63 x 50 degree view: fewer pixels per radian vertically.
    assert K[0, 0] == pytest.approx(518.86 * 96 / 640) and K[1, 1] == pytest.approx(
        519.47 * 96 / 480
    )
    square = render_frame(0, SyntheticConfig(kinect_fov=False)).K
    assert square[0, 0] == square[1, 1]


def test_clutter_of_no_class_and_appearance_decoupled_from_class(frames):
    labels = np.stack([f.label for f in frames])
    # Real NYUDv2 frames are about half 'other' pixels; the rooms are cluttered too.
    assert 0.08 < (labels == IGNORE_INDEX).mean() < 0.6
    bare = SyntheticConfig(
        seed=3,
        room=RoomConfig(clutter=(0, 0), bookshelves=(0, 0), people=0.0, surface_items=0.0),
    )
    bare_labels = np.stack([render_frame(i, bare).label for i in range(8)])
    assert (bare_labels == IGNORE_INDEX).mean() < (labels[:8] == IGNORE_INDEX).mean()


def test_photometric_camera_is_deterministic_and_varies():
    plain = SyntheticConfig(
        seed=5,
        exposure=(1.0, 1.0),
        white_balance=0.0,
        gamma=(1.0, 1.0),
        vignetting=(0.0, 0.0),
        blur=(0.0, 0.0),
        noise_std=0.0,
        jpeg_prob=0.0,
    )
    a, b = render_frame(0, plain), render_frame(0, plain)
    np.testing.assert_array_equal(a.rgb, b.rgb)
    varied = [render_frame(i, SyntheticConfig(seed=5)).rgb.mean() for i in range(6)]
    assert np.ptp(varied) > 10  # exposure and white balance differ between frames
    np.testing.assert_array_equal(
        render_frame(0, plain).depth, render_frame(0, SyntheticConfig(seed=5)).depth
    )


def test_kinect_depth_has_holes_and_noise_ground_truth_does_not(frames):
    f = frames[0]
    raw = kinect_depth(f.depth, f.rgb, np.random.default_rng(0))
    valid = raw > 0
    assert 0.5 < valid.mean() < (f.depth > 0).mean()
    err = np.abs(raw[valid] - f.depth[valid])
    assert 0 < err.mean() < 0.05
    assert (f.depth > 0).mean() > 0.97  # the frame's own depth stays exact


def test_generator_knobs_through_the_dataset_option():
    opts = {"n_val": 2, "generator": {"jpeg_prob": 0.0, "room": {"clutter": [0, 0]}}}
    ds = build_dataset("synthetic", "val", size=(32, 32), options=opts)
    assert len(ds) == 2
    plain = build_dataset("synthetic", "val", size=(32, 32), options={"n_val": 2})
    assert not np.array_equal(ds.rgb, plain.rgb)
    with pytest.raises(ConfigError, match=r"room\.clutterr.*valid"):
        build_dataset(
            "synthetic", "val", options={"n_val": 1, "generator": {"room": {"clutterr": 1}}}
        )
