# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""sensor_msgs/Image <-> numpy on plain objects: no rclpy, no DDS."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from mmed_ros.conversions import (
    CompressedImageError,
    colorize,
    compressed_depth_fields,
    compressed_fields,
    depth_from_msg,
    depth_invalid,
    image_fields,
    image_msg,
    image_view,
    mono8_from_msg,
    msg_stamp_ns,
    ns_to_stamp,
    overlay,
    rgb_from_msg,
    set_stamp,
    stamp_to_ns,
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


def test_depth_32fc1_metres_and_rep118_values() -> None:
    """REP 118: NaN / 0 / negative = no measurement; +inf (far) and -inf (too close) stay."""
    depth = np.array([[1.5, np.nan, np.inf], [-np.inf, 0.0, 2.25], [-3.0, 1.0, 1.0]], np.float32)
    out = depth_from_msg(msg_of(depth, "32FC1"))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(
        np.isnan(out), [[False, True, False], [False, True, False], [True, False, False]]
    )
    assert out[0, 2] == np.inf and out[1, 0] == -np.inf
    assert out[0, 0] == 1.5 and out[1, 2] == 2.25
    np.testing.assert_array_equal(depth_invalid(out), np.isnan(out))


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


# ---------------------------------------------------------------------------- building messages
def test_image_msg_builds_a_message_that_decodes_back() -> None:
    header = SimpleNamespace(stamp=SimpleNamespace(sec=0, nanosec=0), frame_id="cam")
    set_stamp(header.stamp, 1_700_000_000_123_456_789)
    rgb = RNG.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    msg = image_msg(SimpleNamespace, rgb, "rgb8", header)
    assert (msg.height, msg.width, msg.step, msg.encoding) == (5, 7, 21, "rgb8")
    assert isinstance(msg.data, bytes) and msg.header.frame_id == "cam"
    np.testing.assert_array_equal(rgb_from_msg(msg), rgb)
    assert msg_stamp_ns(msg) == 1_700_000_000_123_456_789
    normals = RNG.uniform(-1, 1, (3, 4, 3)).astype(np.float32)
    back = image_view(image_msg(SimpleNamespace, normals, "32FC3", header))
    np.testing.assert_array_equal(back, normals)


def test_stamps_to_and_from_nanoseconds() -> None:
    assert ns_to_stamp(1_500_000_000) == (1, 500_000_000)
    assert ns_to_stamp(-1) == (-1, 999_999_999)  # nanosec stays in [0, 1e9)
    assert stamp_to_ns(SimpleNamespace(sec=3, nanosec=7)) == 3_000_000_007
    for ns in (0, 1, 10**9 - 1, 10**9, 1_700_000_000_999_999_999):
        stamp = SimpleNamespace(sec=0, nanosec=0)
        set_stamp(stamp, ns)
        assert stamp_to_ns(stamp) == ns


def test_image_msg_fills_rosbags_and_rclpy_types() -> None:
    rosbags = pytest.importorskip("rosbags.typesys")
    ts = rosbags.get_typestore(rosbags.Stores.ROS2_HUMBLE)
    header = ts.types["std_msgs/msg/Header"](
        stamp=ts.types["builtin_interfaces/msg/Time"](sec=1, nanosec=2), frame_id="f"
    )
    ids = np.array([[0, 1], [2, 255]], np.uint8)
    msg = image_msg(ts.types["sensor_msgs/msg/Image"], ids, "mono8", header)
    assert isinstance(msg.data, np.ndarray) and msg.data.dtype == np.uint8
    raw = ts.serialize_cdr(msg, msg.__msgtype__)
    np.testing.assert_array_equal(
        mono8_from_msg(ts.deserialize_cdr(raw, "sensor_msgs/msg/Image")), ids
    )


# ---------------------------------------------------------------------------- compressed
def compressed(fields: dict) -> SimpleNamespace:
    return SimpleNamespace(format=fields["format"], data=bytes(fields["data"]))


@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "mono8"])
def test_compressed_png_is_lossless_and_jpeg_is_close(encoding: str) -> None:
    rgb = RNG.integers(0, 256, (12, 16, 3), dtype=np.uint8)
    if encoding == "mono8":
        img, want = rgb[:, :, 0], np.repeat(rgb[:, :, :1], 3, axis=2)
    elif encoding == "bgr8":
        img, want = np.ascontiguousarray(rgb[:, :, ::-1]), rgb
    else:
        img, want = rgb, rgb
    png = compressed_fields(img, encoding, "png")
    assert png["format"].startswith(f"{encoding}; png compressed")
    np.testing.assert_array_equal(rgb_from_msg(compressed(png)), want)
    smooth = np.tile(np.linspace(0, 255, 16, dtype=np.uint8)[None, :, None], (12, 1, 3))
    jpeg = compressed_fields(smooth if encoding != "mono8" else smooth[:, :, 0], encoding)
    out = rgb_from_msg(compressed(jpeg))
    assert out.shape == (12, 16, 3) and np.abs(out.astype(int) - smooth).max() <= 8


def test_compressed_depth_16uc1_is_exact_and_zero_is_invalid() -> None:
    mm = RNG.integers(1, 9000, (9, 11)).astype(np.uint16)
    mm[0, 0] = 0
    f = compressed_depth_fields(mm, "16UC1")
    assert f["format"] == "16UC1; compressedDepth png"
    assert bytes(f["data"][:4]) == b"\x00\x00\x00\x00"  # ConfigHeader: INV_DEPTH
    out = depth_from_msg(compressed(f))
    assert np.isnan(out[0, 0])
    np.testing.assert_allclose(out[1:], mm[1:] / 1000.0, rtol=1e-6)


def test_compressed_depth_32fc1_inverse_depth_quantisation() -> None:
    depth = RNG.uniform(0.5, 9.5, (10, 12)).astype(np.float32)
    depth[0, :4] = [np.nan, np.inf, -np.inf, 12.0]  # none fits the format: all come back NaN
    f = compressed_depth_fields(depth, "32FC1", depth_max=10.0, quantization=100.0)
    a, b = np.frombuffer(bytes(f["data"][4:12]), "<f4")
    assert a == pytest.approx(100 * 101) and b == pytest.approx(1 - 100 * 101 / 10.0)
    out = depth_from_msg(compressed(f))
    assert np.all(np.isnan(out[0, :4]))
    ok = np.isfinite(depth) & (depth < 10)
    # inverse-depth steps: a relative error of at most d / A * (1 + ...) ~ 0.1% at 10 m
    np.testing.assert_allclose(out[ok], depth[ok], rtol=2e-3)


def test_compressed_16bit_png_depth_on_the_compressed_transport() -> None:
    mm = np.array([[0, 1000], [2500, 4000]], np.uint16)
    out = depth_from_msg(compressed(compressed_fields(mm, "16UC1", "png")))
    assert np.isnan(out[0, 0])
    np.testing.assert_allclose(out.ravel()[1:], [1.0, 2.5, 4.0], rtol=1e-6)


def test_compressed_labels_must_be_png() -> None:
    ids = np.array([[0, 3], [7, 255]], np.uint8)
    np.testing.assert_array_equal(
        mono8_from_msg(compressed(compressed_fields(ids, "mono8", "png"))), ids
    )
    with pytest.raises(ConversionError, match="lossless png"):
        mono8_from_msg(compressed(compressed_fields(ids, "mono8", "jpeg")))


@pytest.mark.parametrize(
    "fmt,data,needle",
    [
        ("rgb8; jpeg compressed bgr8", b"", "0 bytes"),
        ("rgb8; jpeg compressed bgr8", b"not an image at all", "png or jpeg"),
        ("rgb8; png compressed bgr8", None, "do not decode"),  # truncated png
        ("32FC1; compressedDepth png", b"\x00" * 8, "ConfigHeader"),
        ("32FC1; compressedDepth rvl", b"\x00" * 20, "RVL"),
        ("8UC3; compressedDepth png", b"\x00" * 20, "expected format"),
    ],
)
def test_corrupt_compressed_frames_raise_compressed_image_error(fmt, data, needle) -> None:
    if data is None:
        good = compressed_fields(RNG.integers(0, 256, (32, 32, 3), dtype=np.uint8), "rgb8", "png")
        data = bytes(good["data"])[: len(good["data"]) // 2]
    decode = depth_from_msg if "compressedDepth" in fmt else rgb_from_msg
    with pytest.raises(CompressedImageError, match=needle):
        decode(SimpleNamespace(format=fmt, data=data))


def test_compressed_size_is_checked_before_decoding() -> None:
    f = compressed_fields(np.zeros((64, 64, 3), np.uint8), "rgb8", "png")
    with pytest.raises(CompressedImageError, match="at most|1 to 100 pixels"):
        rgb_from_msg(compressed(f), max_pixels=100)
    jpeg = compressed_fields(np.zeros((64, 64, 3), np.uint8), "rgb8", "jpeg")
    with pytest.raises(CompressedImageError, match="64x64"):
        rgb_from_msg(compressed(jpeg), max_pixels=100)


def test_depth_compressed_on_the_rgb_decoder_is_named() -> None:
    f = compressed_depth_fields(np.ones((4, 4), np.float32))
    with pytest.raises(ConversionError, match="rgb topic remapped"):
        rgb_from_msg(compressed(f))
