# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""sensor_msgs/Image <-> numpy on plain objects: no rclpy, no DDS."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from mmed_ros.conversions import (
    colorize,
    depth_from_msg,
    image_fields,
    image_view,
    mono8_from_msg,
    overlay,
    rgb_from_msg,
)
from mmed_ros.errors import ConversionError

RNG = np.random.default_rng(0)


def msg_of(
    array: np.ndarray, encoding: str, pad: int = 0, bigendian: bool = False
) -> SimpleNamespace:
    """A message-like object; ``pad`` bytes of junk after each row exercise ``step``."""
    f = image_fields(array, encoding)
    rows = f["data"].reshape(f["height"], f["step"])
    if bigendian:
        itemsize = np.asarray(array).dtype.itemsize
        rows = rows.reshape(f["height"], -1, itemsize)[:, :, ::-1].reshape(f["height"], -1)
    rows = np.concatenate([rows, np.full((f["height"], pad), 0xAB, np.uint8)], axis=1)
    return SimpleNamespace(
        height=f["height"],
        width=f["width"],
        encoding=encoding,
        step=f["step"] + pad,
        is_bigendian=int(bigendian),
        data=rows.tobytes(),
    )


@pytest.mark.parametrize("pad", [0, 3, 64])
def test_rgb8_round_trip_with_and_without_row_padding(pad: int) -> None:
    rgb = RNG.integers(0, 256, (7, 5, 3), dtype=np.uint8)
    out = rgb_from_msg(msg_of(rgb, "rgb8", pad))
    np.testing.assert_array_equal(out, rgb)


def test_rgb8_without_padding_is_a_zero_copy_view() -> None:
    rgb = RNG.integers(0, 256, (6, 4, 3), dtype=np.uint8)
    msg = msg_of(rgb, "rgb8")
    msg.data = bytearray(msg.data)
    out = rgb_from_msg(msg)
    assert np.shares_memory(out, np.frombuffer(msg.data, np.uint8))
    assert not out.flags.writeable  # nobody may scribble over a received message


@pytest.mark.parametrize(
    "encoding,make",
    [
        ("bgr8", lambda rgb: rgb[:, :, ::-1]),
        ("rgba8", lambda rgb: np.dstack([rgb, np.full(rgb.shape[:2], 7, np.uint8)])),
        ("bgra8", lambda rgb: np.dstack([rgb[:, :, ::-1], np.full(rgb.shape[:2], 7, np.uint8)])),
    ],
)
def test_colour_encodings_decode_to_rgb(encoding: str, make) -> None:
    rgb = RNG.integers(0, 256, (5, 9, 3), dtype=np.uint8)
    np.testing.assert_array_equal(rgb_from_msg(msg_of(make(rgb), encoding, pad=2)), rgb)


def test_mono8_becomes_grey_rgb() -> None:
    grey = RNG.integers(0, 256, (4, 6), dtype=np.uint8)
    out = rgb_from_msg(msg_of(grey, "mono8"))
    assert out.shape == (4, 6, 3)
    np.testing.assert_array_equal(out[:, :, 1], grey)


def test_yuv_goes_through_the_fallback_converter() -> None:
    # yuv422 (UYVY) of a uniform grey: Y = U = V = 128 -> roughly (128, 128, 128).
    msg = SimpleNamespace(
        height=2,
        width=4,
        encoding="yuv422",
        step=8,
        is_bigendian=0,
        data=np.full(16, 128, np.uint8).tobytes(),
    )
    out = rgb_from_msg(msg)
    assert out.shape == (2, 4, 3) and out.dtype == np.uint8
    assert np.all(np.abs(out.astype(int) - 128) <= 3)


def test_depth_32fc1_metres_and_invalid_values() -> None:
    depth = np.array([[1.5, np.nan, np.inf], [-np.inf, 0.0, 2.25]], np.float32)
    out = depth_from_msg(msg_of(depth, "32FC1"))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(np.isnan(out), [[False, True, True], [True, True, False]])
    assert out[0, 0] == 1.5 and out[1, 2] == 2.25


def test_clean_32fc1_is_a_view_and_big_endian_is_swapped() -> None:
    depth = RNG.uniform(0.5, 5, (3, 4)).astype(np.float32)
    msg = msg_of(depth, "32FC1")
    assert np.shares_memory(depth_from_msg(msg), np.frombuffer(msg.data, np.uint8))
    np.testing.assert_array_equal(depth_from_msg(msg_of(depth, "32FC1", bigendian=True)), depth)


def test_depth_16uc1_millimetres_to_metres_zero_is_invalid() -> None:
    mm = np.array([[0, 1000], [1500, 65535]], np.uint16)
    out = depth_from_msg(msg_of(mm, "16UC1", pad=2))
    assert np.isnan(out[0, 0])
    np.testing.assert_allclose(out[~np.isnan(out)], [1.0, 1.5, 65.535], rtol=1e-6)


def test_label_mono8_round_trip() -> None:
    ids = np.array([[0, 11, 255]], np.uint8)
    np.testing.assert_array_equal(mono8_from_msg(msg_of(ids, "mono8")), ids)


@pytest.mark.parametrize(
    "change,needle",
    [
        ({"encoding": "rgb16"}, "encoding"),
        ({"encoding": "32FC1"}, "depth encoding"),
        ({"height": 0}, "height and width > 0"),
        ({"width": 0}, "height and width > 0"),
        ({"step": 5}, "step"),
        ({"data": b"\x00" * 10}, "data"),
        ({"height": 1 << 16, "width": 1 << 16}, "at most"),
    ],
)
def test_bad_rgb_messages_name_the_field(change: dict, needle: str) -> None:
    msg = msg_of(np.zeros((2, 3, 3), np.uint8), "rgb8")
    for key, value in change.items():
        setattr(msg, key, value)
    with pytest.raises(ConversionError, match=needle):
        rgb_from_msg(msg)


def test_depth_rejects_colour_and_a_missing_field() -> None:
    with pytest.raises(ConversionError, match="REP 118"):
        depth_from_msg(msg_of(np.zeros((2, 2, 3), np.uint8), "rgb8"))
    with pytest.raises(ConversionError, match="'step'"):
        image_view(
            SimpleNamespace(height=1, width=1, encoding="mono8", is_bigendian=0, data=b"\x00")
        )


def test_image_fields_checks_the_array_shape() -> None:
    with pytest.raises(ConversionError, match=r"expected shape \(H, W, 3\)"):
        image_fields(np.zeros((2, 2), np.uint8), "rgb8")
    with pytest.raises(ConversionError, match="output encoding"):
        image_fields(np.zeros((2, 2), np.uint8), "jpeg")


def test_colorize_and_overlay() -> None:
    ids = np.array([[0, 1, 255]], np.uint8)
    colour = colorize(ids, [(10, 20, 30), (40, 50, 60)])
    np.testing.assert_array_equal(colour, [[[10, 20, 30], [40, 50, 60], [0, 0, 0]]])
    rgb = np.full((1, 3, 3), 200, np.uint8)
    blended = overlay(rgb, colour, 0.5, ids=ids)
    np.testing.assert_array_equal(blended[0, 0], [105, 110, 115])
    np.testing.assert_array_equal(blended[0, 2], rgb[0, 2])  # unknown pixels stay the image
