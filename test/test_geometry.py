# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Fitting images to the network (stretch / letterbox / crop) and back, with intrinsics."""

from __future__ import annotations

import numpy as np
import pytest

from mmed_core.deploy.geometry import Fit, resize_image
from mmed_core.errors import ConfigError, InputError


def project(k: list[float], xyz: tuple[float, float, float]) -> np.ndarray:
    x, y, z = xyz
    return np.array([k[0] * x / z + k[2], k[4] * y / z + k[5]])


def test_fits_of_a_wide_image_into_a_square_network() -> None:
    stretch = Fit.compute("stretch", (48, 96), (32, 32))
    assert stretch.scaled == (32, 32) and stretch.offset == (0, 0)
    box = Fit.compute("letterbox", (48, 96), (32, 32))
    assert box.scaled == (16, 32) and box.offset == (8, 0)  # 8 rows of padding above / below
    crop = Fit.compute("crop", (48, 96), (32, 32))
    assert crop.scaled == (32, 64) and crop.offset == (0, -16)  # 16 columns cut each side
    assert box.covered()[:8].sum() == 0 and box.covered()[8:24].all()
    assert crop.covered().all()


def test_to_network_and_back_keeps_the_content() -> None:
    img = np.tile(np.arange(96, dtype=np.float32)[None, :], (48, 1))  # value = column
    for mode in ("stretch", "letterbox", "crop"):
        fit = Fit.compute(mode, img.shape, (32, 32))
        net, _ = fit.to_network(img, "linear", np.nan)
        assert net.shape == (32, 32)
        back = fit.from_network(net, "linear", np.nan, "input")
        assert back.shape == (48, 96)
        known = np.isfinite(back)
        assert np.abs(back[known] - img[known]).max() < 3.5, mode
        if mode == "crop":
            assert not known[:, :10].any() and known[:, 30:66].all()
        else:
            assert known.all()
        at_net = fit.from_network(net, "linear", np.nan, "network")
        assert at_net.shape == (32, 32)
        if mode == "letterbox":
            assert np.isnan(at_net[:8]).all() and np.isfinite(at_net[8:24]).all()


def test_intrinsics_follow_the_pixels() -> None:
    """A 3-D point projects to the same place in the input and, mapped, in each output."""
    k = [100.0, 0.0, 48.0, 0.0, 110.0, 24.0, 0.0, 0.0, 1.0]
    p = [100.0, 0.0, 48.0, -5.0, 0.0, 110.0, 24.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    point = (0.3, -0.1, 2.0)
    u, v = project(k, point)
    for mode in ("stretch", "letterbox", "crop"):
        fit = Fit.compute(mode, (48, 96), (32, 32))
        assert fit.intrinsics(k, p, "input") == (k, p)
        k2, p2 = fit.intrinsics(k, p, "network")
        (sy, sx), (oy, ox) = fit.scale, fit.offset
        np.testing.assert_allclose(project(k2, point), [sx * u + ox, sy * v + oy])
        assert p2[3] == pytest.approx(-5.0 * sx)  # Tx scales with fx
        assert p2[8:] == [0.0, 0.0, 1.0, 0.0]


def test_valid_interpolation_never_blends_gaps() -> None:
    depth = np.full((8, 8), 2.0, np.float32)
    bad = np.zeros((8, 8), bool)
    bad[:, :4] = True
    depth[bad] = 0.0
    small, small_bad = resize_image(depth, (4, 4), "valid", bad)
    assert small_bad is not None and small_bad[:, :2].all() and not small_bad[:, 2:].any()
    np.testing.assert_allclose(small[:, 2:], 2.0)  # no 0 blended into the valid half


def test_bad_geometry_arguments() -> None:
    with pytest.raises(ConfigError, match="resize: expected one of"):
        Fit.compute("squash", (4, 4), (4, 4))
    with pytest.raises(InputError, match="positive sizes"):
        Fit.compute("crop", (0, 4), (4, 4))
    fit = Fit.compute("letterbox", (4, 8), (4, 4))
    with pytest.raises(ConfigError, match="output_size"):
        fit.output_size("half")
    with pytest.raises(InputError, match="expected an image of"):
        fit.to_network(np.zeros((5, 8)), "area", 0)
