# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""sensor_msgs/Image <-> numpy, without rclpy.

Works on any object with ``height``, ``width``, ``encoding``, ``step``, ``is_bigendian`` and
``data`` (an rclpy message, a ``rosbags`` message or a plain namespace), so it is unit-tested
without ROS::

    python -m pytest test/test_conversions.py

Decoding returns zero-copy views of the message buffer where the layout allows it (rgb8, mono8
for labels, little-endian 32FC1 with no row padding); anything that has to change the bytes
(bgr8 -> rgb, 16UC1 millimetres -> metres) copies once. Encodings outside the fast path (Bayer,
YUV) go through cv_bridge when it imports, else through ``rosbags.image``.

Depth follows REP 118: 32FC1 in metres (NaN = no return, +inf = too far, -inf = too close) and
16UC1 in millimetres (0 = no return). Decoded depth is float32 metres with NaN wherever the
sensor gave no valid measurement, so callers test validity with one ``np.isfinite``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mmed_ros.errors import ConversionError

__all__ = [
    "RGB_ENCODINGS",
    "DEPTH_ENCODINGS",
    "DEFAULT_MAX_PIXELS",
    "EncodingSpec",
    "image_view",
    "rgb_from_msg",
    "depth_from_msg",
    "mono8_from_msg",
    "image_fields",
    "colorize",
    "overlay",
]

# 64 Mpx: larger than any camera a robot carries, small enough that a corrupt header (e.g.
# width = 2**31) is rejected before numpy tries to allocate it.
DEFAULT_MAX_PIXELS = 64 * 1024 * 1024


@dataclass(frozen=True)
class EncodingSpec:
    """Byte layout of one ``sensor_msgs/Image`` encoding."""

    dtype: str  # numpy dtype, little-endian form
    channels: int


_SPECS: dict[str, EncodingSpec] = {
    "rgb8": EncodingSpec("u1", 3),
    "bgr8": EncodingSpec("u1", 3),
    "rgba8": EncodingSpec("u1", 4),
    "bgra8": EncodingSpec("u1", 4),
    "mono8": EncodingSpec("u1", 1),
    "8UC1": EncodingSpec("u1", 1),
    "8UC3": EncodingSpec("u1", 3),
    "mono16": EncodingSpec("<u2", 1),
    "16UC1": EncodingSpec("<u2", 1),
    "32FC1": EncodingSpec("<f4", 1),
}

RGB_ENCODINGS: tuple[str, ...] = ("rgb8", "bgr8", "rgba8", "bgra8", "mono8")
DEPTH_ENCODINGS: tuple[str, ...] = ("32FC1", "16UC1")


def _field(msg: Any, name: str) -> Any:
    try:
        return getattr(msg, name)
    except AttributeError:
        raise ConversionError(
            f"image message: expected a sensor_msgs/Image-like object with field '{name}', "
            f"got {type(msg).__name__} without it"
        ) from None


def image_view(msg: Any, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Return a (H, W) or (H, W, C) array over ``msg.data`` in the message's own encoding.

    The array is a view (no copy) when the data is little-endian or 8-bit; big-endian multi-byte
    data is byte-swapped into a new array. Raises :class:`ConversionError` naming the field
    that is wrong (unknown encoding, zero or huge size, step shorter than a row, data shorter
    than ``step * height``).
    """
    encoding = str(_field(msg, "encoding"))
    height, width = int(_field(msg, "height")), int(_field(msg, "width"))
    step, bigendian = int(_field(msg, "step")), bool(_field(msg, "is_bigendian"))
    spec = _SPECS.get(encoding)
    if spec is None:
        raise ConversionError(
            f"image encoding: expected one of {sorted(_SPECS)}, got '{encoding}'"
        )
    if height <= 0 or width <= 0:
        raise ConversionError(f"image size: expected height and width > 0, got {height}x{width}")
    if height * width > max_pixels:
        raise ConversionError(
            f"image size: expected at most {max_pixels} pixels, got {height}x{width} "
            f"= {height * width}"
        )
    itemsize = np.dtype(spec.dtype).itemsize
    row_bytes = width * spec.channels * itemsize
    if step < row_bytes:
        raise ConversionError(
            f"image step: expected >= width * channels * bytes = {row_bytes} for {width}px "
            f"{encoding}, got {step}"
        )
    if step % itemsize:
        raise ConversionError(
            f"image step: expected a multiple of {itemsize} bytes for {encoding}, got {step}"
        )
    if step >= 2**32:  # uint32 in sensor_msgs/Image; larger strides overflow numpy's
        raise ConversionError(f"image step: expected a uint32 byte count, got {step}")
    buf = np.frombuffer(_field(msg, "data"), dtype=np.uint8)
    # The last row may legally omit its padding; anything shorter is a truncated message.
    needed = step * (height - 1) + row_bytes
    if buf.size < needed:
        raise ConversionError(
            f"image data: expected step * height = {step} * {height} = {step * height} bytes "
            f"for a {width}x{height} {encoding} image, got {buf.size}"
        )
    dtype = np.dtype(spec.dtype)
    if bigendian:
        dtype = dtype.newbyteorder(">")
    # A strided ndarray over the byte buffer honours row padding without copying.
    arr = np.ndarray(
        shape=(height, width, spec.channels),
        dtype=dtype,
        buffer=buf,
        strides=(step, spec.channels * itemsize, itemsize),
    )
    arr.flags.writeable = False  # a view of someone else's message: never write through it
    if spec.channels == 1:
        arr = arr[:, :, 0]
    if bigendian and dtype.itemsize > 1:
        arr = arr.astype(dtype.newbyteorder("<"))
    return arr


def _fallback_to_rgb(msg: Any) -> np.ndarray:
    """Decode encodings outside the fast path (Bayer, YUV, 16-bit colour) to RGB uint8."""
    try:
        from cv_bridge import CvBridge  # the robot's bridge knows every encoding ROS defines

        return np.asarray(CvBridge().imgmsg_to_cv2(msg, desired_encoding="rgb8"))
    except ImportError:
        pass
    except Exception as exc:  # cv_bridge raises its own CvBridgeError
        raise ConversionError(f"image encoding '{msg.encoding}': cv_bridge failed: {exc}") from exc
    try:
        from rosbags.image import image_to_cvimage
    except ImportError:
        raise ConversionError(
            f"image encoding: expected one of {list(RGB_ENCODINGS)} (cv_bridge and "
            f"rosbags.image are unavailable for others), got '{msg.encoding}'"
        ) from None
    try:
        return np.asarray(image_to_cvimage(msg, "rgb8"))
    except Exception as exc:
        raise ConversionError(
            f"image encoding: expected one of {list(RGB_ENCODINGS)} or one rosbags.image "
            f"converts, got '{msg.encoding}' ({exc})"
        ) from exc


def rgb_from_msg(msg: Any, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """(H, W, 3) uint8 RGB from an rgb8 / bgr8 / rgba8 / bgra8 / mono8 image.

    rgb8 without row padding comes back as a read-only view of the message buffer.
    """
    encoding = str(_field(msg, "encoding"))
    if encoding in DEPTH_ENCODINGS:
        raise ConversionError(
            f"RGB image encoding: expected one of {list(RGB_ENCODINGS)}, got depth encoding "
            f"'{encoding}' (is the rgb topic remapped to a depth topic?)"
        )
    if encoding not in RGB_ENCODINGS:
        # The other converter allocates the decoded image itself: check the size first.
        height, width = int(_field(msg, "height")), int(_field(msg, "width"))
        if height * width > max_pixels:
            raise ConversionError(
                f"image size: expected at most {max_pixels} pixels, got {height}x{width} "
                f"= {height * width}"
            )
        return _fallback_to_rgb(msg)
    arr = image_view(msg, max_pixels=max_pixels)
    if encoding == "rgb8":
        return arr
    if encoding == "mono8":
        return np.repeat(arr[:, :, None], 3, axis=2)
    if encoding == "rgba8":
        return arr[:, :, :3]
    # bgr8 / bgra8: reversing the channel axis is a view; torch needs positive strides later,
    # so make the one copy here where the cost is obvious.
    return np.ascontiguousarray(arr[:, :, 2::-1])


def depth_from_msg(msg: Any, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """(H, W) float32 metres from a 32FC1 (metres) or 16UC1 (millimetres) image, REP 118.

    Invalid measurements (NaN, +-inf, 0 mm, negative metres) become NaN. 32FC1 data that is
    already clean comes back as a read-only view; otherwise one copy is made.
    """
    encoding = str(_field(msg, "encoding"))
    if encoding not in DEPTH_ENCODINGS:
        raise ConversionError(
            f"depth image encoding: expected one of {list(DEPTH_ENCODINGS)} (REP 118), "
            f"got '{encoding}'"
        )
    arr = image_view(msg, max_pixels=max_pixels)
    if encoding == "16UC1":
        metres = arr.astype(np.float32) * np.float32(0.001)
        metres[arr == 0] = np.nan
        return metres
    bad = ~np.isfinite(arr) | (arr <= 0)
    if not bad.any():
        return arr
    metres = arr.astype(np.float32, copy=True)
    metres[bad] = np.nan
    return metres


def mono8_from_msg(msg: Any, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """(H, W) uint8 from a mono8 / 8UC1 image (class-id images: ground truth, estimates)."""
    encoding = str(_field(msg, "encoding"))
    if encoding not in ("mono8", "8UC1"):
        raise ConversionError(
            f"label image encoding: expected 'mono8' or '8UC1' class ids, got '{encoding}'"
        )
    return image_view(msg, max_pixels=max_pixels)


_ENCODE_CHANNELS = {
    "rgb8": 3,
    "bgr8": 3,
    "rgba8": 4,
    "bgra8": 4,
    "mono8": 1,
    "8UC1": 1,
    "16UC1": 1,
    "32FC1": 1,
}


def image_fields(array: np.ndarray, encoding: str) -> dict[str, Any]:
    """Fields of a ``sensor_msgs/Image`` holding ``array`` (little-endian, no row padding).

    ``data`` is a flat uint8 numpy array (a view when ``array`` is already C-contiguous); an
    rclpy message wants ``array.array('B', data.tobytes())``, a rosbags message the array.
    """
    spec = _SPECS.get(encoding)
    if spec is None or encoding not in _ENCODE_CHANNELS:
        raise ConversionError(
            f"output encoding: expected one of {sorted(_ENCODE_CHANNELS)}, got '{encoding}'"
        )
    arr = np.asarray(array)
    expected_dims = 2 if spec.channels == 1 else 3
    if arr.ndim != expected_dims or (spec.channels > 1 and arr.shape[2] != spec.channels):
        want = "(H, W)" if spec.channels == 1 else f"(H, W, {spec.channels})"
        raise ConversionError(f"array for '{encoding}': expected shape {want}, got {arr.shape}")
    arr = np.ascontiguousarray(arr, dtype=np.dtype(spec.dtype))
    height, width = arr.shape[:2]
    return {
        "height": int(height),
        "width": int(width),
        "encoding": encoding,
        "is_bigendian": 0,
        "step": int(width * spec.channels * arr.dtype.itemsize),
        "data": arr.reshape(-1).view(np.uint8),
    }


def colorize(
    ids: np.ndarray, palette: Sequence[Sequence[int]], unknown: Sequence[int] = (0, 0, 0)
) -> np.ndarray:
    """(H, W, 3) uint8 RGB mask: class k -> palette[k]; any id without a colour -> ``unknown``."""
    lut = np.empty((256, 3), dtype=np.uint8)
    lut[:] = np.asarray(unknown, dtype=np.uint8)
    pal = np.asarray(palette, dtype=np.uint8).reshape(-1, 3)[:255]
    lut[: len(pal)] = pal
    return lut[np.asarray(ids, dtype=np.uint8)]


def overlay(
    rgb: np.ndarray,
    mask_rgb: np.ndarray,
    alpha: float = 0.5,
    ids: np.ndarray | None = None,
    unknown_id: int = 255,
) -> np.ndarray:
    """Blend a colour mask over an RGB image; pixels whose id is ``unknown_id`` stay unblended."""
    if rgb.shape != mask_rgb.shape:
        raise ConversionError(
            f"overlay: expected image and mask of the same shape, got {rgb.shape} and "
            f"{mask_rgb.shape}"
        )
    out = rgb.astype(np.float32) * (1.0 - alpha) + mask_rgb.astype(np.float32) * alpha
    out = np.clip(out + 0.5, 0, 255).astype(np.uint8)
    if ids is not None:
        keep = ids == unknown_id
        out[keep] = rgb[keep]
    return out
