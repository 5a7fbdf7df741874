# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""sensor_msgs/Image and CompressedImage <-> numpy, both ways, without rclpy.

Works on any object with ``height``, ``width``, ``encoding``, ``step``, ``is_bigendian`` and
``data`` (an rclpy message, a ``rosbags`` message or a plain namespace), or with ``format`` and
``data`` (sensor_msgs/CompressedImage), so it is unit-tested without ROS::

    python -m pytest test/test_conversions.py

Decoding: :func:`rgb_from_msg`, :func:`depth_from_msg` and :func:`mono8_from_msg` take a raw
Image or a CompressedImage in image_transport's ``compressed`` (jpeg / png) or
``compressedDepth`` (png: 16UC1 as is, 32FC1 as quantised inverse depth) format. A compressed
frame that does not decode raises :class:`CompressedImageError`. Encoding (cv_bridge's
``cv2_to_imgmsg`` role): :func:`image_msg` builds an Image of any message class (rclpy,
rosbags, a namespace) from an array; :func:`compressed_fields` and
:func:`compressed_depth_fields` give the fields of a CompressedImage. Stamps <-> nanoseconds:
:func:`stamp_to_ns`, :func:`ns_to_stamp`, :func:`msg_stamp_ns`.

Decoding returns zero-copy views of the message buffer where the layout allows it (rgb8, mono8
for labels, little-endian 32FC1 with no row padding); anything that has to change the bytes
(bgr8 -> rgb, 16UC1 millimetres -> metres) copies once. Encodings outside the fast path (Bayer,
YUV) go through cv_bridge when it imports, else through ``rosbags.image``.

Depth follows REP 118: 32FC1 in metres (NaN = no return, +inf = beyond the sensor's range, a
valid "far" reading, -inf = too close to measure) and 16UC1 in millimetres (0 = no return).
Decoded depth is float32 metres that keeps +inf and -inf and has NaN wherever the sensor gave
no measurement (NaN, 0, negative): ``np.isnan`` finds the invalid pixels, ``np.isfinite`` the
ones with a number (see :func:`depth_invalid`).
"""

from __future__ import annotations

import array as pyarray
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from mmed_core.imagefile import decode_quietly, encoded_problem
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
    "image_msg",
    "compressed_fields",
    "compressed_depth_fields",
    "is_compressed",
    "depth_invalid",
    "stamp_to_ns",
    "ns_to_stamp",
    "msg_stamp_ns",
    "set_stamp",
    "CompressedImageError",
    "colorize",
    "overlay",
]


class CompressedImageError(ConversionError):
    """A sensor_msgs/CompressedImage that cannot be decoded (format, header, codec data)."""


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
    "32FC3": EncodingSpec("<f4", 3),  # e.g. surface normals
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

    rgb8 without row padding comes back as a read-only view of the message buffer. A
    CompressedImage (jpeg / png) is decoded (:class:`CompressedImageError` if it cannot be).
    """
    if is_compressed(msg):
        return _rgb_from_compressed(msg, max_pixels)
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

    No measurement (NaN, 0 mm, 0 or negative metres) becomes NaN; +inf (beyond range) and -inf
    (too close) stay. 32FC1 data without such pixels comes back as a read-only view; otherwise
    one copy is made. A CompressedImage in ``compressedDepth`` (or 16-bit png ``compressed``)
    format is decoded (:class:`CompressedImageError` if it cannot be).
    """
    if is_compressed(msg):
        return _depth_from_compressed(msg, max_pixels)
    encoding = str(_field(msg, "encoding"))
    if encoding not in DEPTH_ENCODINGS:
        raise ConversionError(
            f"depth image encoding: expected one of {list(DEPTH_ENCODINGS)} (REP 118), "
            f"got '{encoding}'"
        )
    arr = image_view(msg, max_pixels=max_pixels)
    if encoding == "16UC1":
        return _mm_to_metres(arr)
    bad = depth_invalid(arr) & ~np.isnan(arr)  # NaN already says "invalid"
    if not bad.any():
        return arr
    metres = arr.astype(np.float32, copy=True)
    metres[bad] = np.nan
    return metres


def mono8_from_msg(msg: Any, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """(H, W) uint8 from a mono8 / 8UC1 image (class-id images: ground truth, estimates).

    A CompressedImage must be lossless (png): jpeg would invent class ids at edges.
    """
    if is_compressed(msg):
        return _mono8_from_compressed(msg, max_pixels)
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
    "32FC3": 3,
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


def depth_invalid(depth: np.ndarray) -> np.ndarray:
    """REP 118: True where a depth image holds no measurement (NaN, 0, negative finite).

    +inf (beyond range) and -inf (too close) are readings, not gaps: they are not invalid.
    """
    d = np.asarray(depth)
    with np.errstate(invalid="ignore"):
        return np.isnan(d) | (np.isfinite(d) & (d <= 0))


# ---------------------------------------------------------------------------- stamps
def stamp_to_ns(stamp: Any) -> int:
    """builtin_interfaces/Time (``sec``, ``nanosec``) -> integer nanoseconds."""
    return int(stamp.sec) * 10**9 + int(stamp.nanosec)


def ns_to_stamp(ns: int) -> tuple[int, int]:
    """Integer nanoseconds -> (sec, nanosec) with 0 <= nanosec < 1e9."""
    sec, nanosec = divmod(int(ns), 10**9)
    return int(sec), int(nanosec)


def msg_stamp_ns(msg: Any) -> int:
    """``msg.header.stamp`` in nanoseconds."""
    return stamp_to_ns(_field(msg, "header").stamp)


def set_stamp(stamp: Any, ns: int) -> None:
    """Write ``ns`` into a builtin_interfaces/Time-like object in place."""
    stamp.sec, stamp.nanosec = ns_to_stamp(ns)


# ---------------------------------------------------------------------------- encoding
def _data_for(msg_type: Any, data: np.ndarray) -> Any:
    """The ``data`` container a message class wants for a flat uint8 array."""
    if hasattr(msg_type, "get_fields_and_field_types"):  # rclpy: array('B'), one copy
        out = pyarray.array("B")
        out.frombytes(data.data)
        return out
    if hasattr(msg_type, "__msgtype__"):  # rosbags dataclass: a numpy uint8 array
        return np.array(data, dtype=np.uint8)
    return data.tobytes()  # anything else: plain bytes, as a received message has


def image_msg(msg_type: Any, array: np.ndarray, encoding: str, header: Any) -> Any:
    """A ``msg_type`` (rclpy / rosbags sensor_msgs/Image class, or e.g. SimpleNamespace)
    holding ``array`` in ``encoding`` with ``header`` (cv_bridge's ``cv2_to_imgmsg``)."""
    f = image_fields(array, encoding)
    return msg_type(
        header=header,
        height=f["height"],
        width=f["width"],
        encoding=f["encoding"],
        is_bigendian=0,
        step=f["step"],
        data=_data_for(msg_type, f["data"]),
    )


_CODECS = {"jpeg": ".jpg", "jpg": ".jpg", "png": ".png"}


def compressed_fields(
    array: np.ndarray, encoding: str, codec: str = "jpeg", quality: int = 95
) -> dict[str, Any]:
    """``format`` and ``data`` of a CompressedImage as image_transport's ``compressed`` plugin
    writes them (e.g. format 'rgb8; jpeg compressed bgr8'); rgb8 / bgr8 / mono8 / (png) 16UC1.
    """
    if codec not in _CODECS:
        raise ConversionError(f"codec: expected one of {sorted(_CODECS)}, got {codec!r}")
    arr = np.asarray(array)
    if encoding == "rgb8":
        img, target = np.ascontiguousarray(arr[:, :, ::-1]), "bgr8"
    elif encoding in ("bgr8", "mono8"):
        img, target = arr, encoding
    elif encoding in ("16UC1", "mono16") and codec == "png":
        img, target = arr.astype(np.uint16), encoding
    else:
        raise ConversionError(
            f"compressed encoding: expected rgb8, bgr8, mono8 (or 16UC1 with png), got "
            f"'{encoding}' with {codec}"
        )
    image_fields(img, target)  # checks shape against the encoding
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)] if _CODECS[codec] == ".jpg" else []
    ok, buf = cv2.imencode(_CODECS[codec], img, params)
    if not ok:
        raise ConversionError(f"compressed: OpenCV could not encode a {encoding} {codec}")
    name = "jpeg" if codec == "jpg" else codec
    return {"format": f"{encoding}; {name} compressed {target}", "data": buf.reshape(-1)}


# compressed_depth_image_transport's ConfigHeader: int32 format enum (INV_DEPTH = 0) and two
# float32 quantisation parameters, in the publisher's (little-endian) byte order, before the png.
_DEPTH_HEADER = struct.Struct("<iff")


def compressed_depth_fields(
    depth: np.ndarray,
    encoding: str = "32FC1",
    depth_max: float = 10.0,
    quantization: float = 100.0,
) -> dict[str, Any]:
    """``format`` and ``data`` of a CompressedImage as compressed_depth_image_transport writes
    them: '16UC1; compressedDepth png' (millimetres as they are, > depth_max -> 0) or
    '32FC1; compressedDepth png' (inverse depth quantised to uint16: q = A / d + B with
    A = z0 (z0 + 1), B = 1 - A / depth_max, z0 = ``quantization``; 0 = no measurement, which
    is also what NaN, +-inf and depths >= depth_max become: the format cannot carry them).
    """
    arr = np.asarray(depth)
    if arr.ndim != 2:
        raise ConversionError(f"compressedDepth: expected an (H, W) depth image, got {arr.shape}")
    if encoding == "16UC1":
        mm = arr.astype(np.uint16, copy=True)
        mm[mm > np.uint16(min(65535, int(depth_max * 1000.0)))] = 0
        header, png = _DEPTH_HEADER.pack(0, 0.0, 0.0), mm
    elif encoding == "32FC1":
        a = np.float32(quantization * (quantization + 1.0))
        b = np.float32(1.0 - a / np.float32(depth_max))
        d = arr.astype(np.float32)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            ok = np.isfinite(d) & (d > 0) & (d < depth_max)
            q = np.where(ok, a / np.where(ok, d, 1.0) + b, 0.0)
        png = np.clip(q, 0, 65535).astype(np.uint16)
        header = _DEPTH_HEADER.pack(0, float(a), float(b))
    else:
        raise ConversionError(
            f"compressedDepth encoding: expected '16UC1' or '32FC1', got '{encoding}'"
        )
    ok_png, buf = cv2.imencode(".png", png)
    if not ok_png:
        raise ConversionError("compressedDepth: OpenCV could not encode the png")
    data = np.concatenate([np.frombuffer(header, np.uint8), buf.reshape(-1)])
    return {"format": f"{encoding}; compressedDepth png", "data": data}


# ---------------------------------------------------------------------------- decoding compressed
def is_compressed(msg: Any) -> bool:
    """True for a sensor_msgs/CompressedImage-like object (``format``, no ``encoding``)."""
    return hasattr(msg, "format") and not hasattr(msg, "encoding")


def _compressed_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a png IHDR or a jpeg SOF marker, without decoding; None if absent."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24 and data[12:16] == b"IHDR":
        return struct.unpack(">II", data[16:24])
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 <= len(data):
            if data[i] != 0xFF:
                return None
            marker = data[i + 1]
            if marker == 0xFF:  # fill byte
                i += 1
                continue
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                h, w = struct.unpack(">HH", data[i + 5 : i + 9])
                return w, h
            i += 2 + struct.unpack(">H", data[i + 2 : i + 4])[0]
    return None


def _decode(msg: Any, data: bytes, what: str, max_pixels: int) -> np.ndarray:
    """cv2.imdecode (IMREAD_UNCHANGED) after a size check on the codec header."""
    fmt = str(_field(msg, "format"))
    if not data:
        raise CompressedImageError(f"{what} ({fmt!r}): expected codec data, got 0 bytes")
    size = _compressed_size(data)
    if size is None:
        raise CompressedImageError(
            f"{what} ({fmt!r}): expected png or jpeg data, got {len(data)} bytes starting "
            f"{data[:8].hex()}"
        )
    if size[0] * size[1] > max_pixels or 0 in size:
        raise CompressedImageError(
            f"{what} size: expected 1 to {max_pixels} pixels, got {size[0]}x{size[1]}"
        )
    # Checked before OpenCV sees it: libpng/libjpeg would print to stderr for every bad frame.
    problem = encoded_problem(data)
    if problem is not None:
        raise CompressedImageError(
            f"{what} ({fmt!r}): the {len(data)} bytes do not decode: expected a whole image, "
            f"got {problem}"
        )
    img = decode_quietly(data, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise CompressedImageError(
            f"{what} ({fmt!r}): the {len(data)} bytes do not decode (truncated or corrupt)"
        )
    return img


def _rgb_from_compressed(msg: Any, max_pixels: int) -> np.ndarray:
    fmt = str(_field(msg, "format"))
    if "compressedDepth" in fmt:
        raise ConversionError(
            f"RGB compressed image: expected format 'compressed' (jpeg/png), got depth "
            f"format {fmt!r} (is the rgb topic remapped to a depth topic?)"
        )
    img = _decode(msg, bytes(_field(msg, "data")), "RGB compressed image", max_pixels)
    if img.dtype != np.uint8:
        raise CompressedImageError(
            f"RGB compressed image ({fmt!r}): expected 8-bit colour, got {img.dtype}"
        )
    if img.ndim == 2:
        return np.repeat(img[:, :, None], 3, axis=2)
    # OpenCV decodes to BGR(A) whatever the sender's encoding was ('rgb8; jpeg compressed bgr8')
    return np.ascontiguousarray(img[:, :, 2::-1])


def _mono8_from_compressed(msg: Any, max_pixels: int) -> np.ndarray:
    fmt = str(_field(msg, "format"))
    if "jpeg" in fmt.lower() or "jpg" in fmt.lower():
        raise ConversionError(
            f"label compressed image: expected lossless png class ids, got {fmt!r}"
        )
    img = _decode(msg, bytes(_field(msg, "data")), "label compressed image", max_pixels)
    if img.ndim != 2 or img.dtype != np.uint8:
        raise CompressedImageError(
            f"label compressed image ({fmt!r}): expected single-channel 8-bit ids, got "
            f"{img.dtype} with shape {img.shape}"
        )
    return img


def _depth_from_compressed(msg: Any, max_pixels: int) -> np.ndarray:
    fmt = str(_field(msg, "format"))
    data = bytes(_field(msg, "data"))
    encoding = fmt.split(";")[0].strip()
    if "compressedDepth" not in fmt:
        # image_transport 'compressed' carries 16-bit depth as png millimetres
        img = _decode(msg, data, "depth compressed image", max_pixels)
        if img.ndim != 2 or img.dtype != np.uint16:
            raise CompressedImageError(
                f"depth compressed image ({fmt!r}): expected a 16-bit single-channel png "
                f"(millimetres) or format 'compressedDepth', got {img.dtype} {img.shape}"
            )
        return _mm_to_metres(img)
    if "rvl" in fmt.split(";", 1)[-1]:
        raise CompressedImageError(
            f"depth compressed image: format {fmt!r} (RVL) is not supported; republish as "
            "'compressedDepth png' or raw"
        )
    if encoding not in ("16UC1", "32FC1", "mono16"):
        raise CompressedImageError(
            f"depth compressed image: expected format '16UC1; compressedDepth' or '32FC1; "
            f"compressedDepth', got {fmt!r}"
        )
    if len(data) <= _DEPTH_HEADER.size:
        raise CompressedImageError(
            f"depth compressed image ({fmt!r}): expected a {_DEPTH_HEADER.size}-byte "
            f"ConfigHeader and png data, got {len(data)} bytes"
        )
    _, quant_a, quant_b = _DEPTH_HEADER.unpack(data[: _DEPTH_HEADER.size])
    img = _decode(msg, data[_DEPTH_HEADER.size :], "depth compressed image", max_pixels)
    if img.ndim != 2 or img.dtype != np.uint16:
        raise CompressedImageError(
            f"depth compressed image ({fmt!r}): expected a 16-bit single-channel png, got "
            f"{img.dtype} {img.shape}"
        )
    if encoding != "32FC1":
        return _mm_to_metres(img)
    if not (np.isfinite(quant_a) and np.isfinite(quant_b)) or quant_a <= 0:
        raise CompressedImageError(
            f"depth compressed image ({fmt!r}): expected finite quantisation parameters "
            f"with A > 0 in the ConfigHeader, got A={quant_a}, B={quant_b}"
        )
    q = img.astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        metres = np.float32(quant_a) / (q - np.float32(quant_b))
    metres[(img == 0) | ~(metres > 0)] = np.nan
    return metres.astype(np.float32, copy=False)


def _mm_to_metres(mm: np.ndarray) -> np.ndarray:
    metres = mm.astype(np.float32) * np.float32(0.001)
    metres[mm == 0] = np.nan
    return metres


# ---------------------------------------------------------------------------- masks
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
