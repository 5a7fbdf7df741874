# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Fuzzing sensor_msgs/Image -> array (mmed_ros.conversions): only ConversionError may come out.

    python -m pytest test/test_fuzz_conversions.py
    HYPOTHESIS_PROFILE=long python -m pytest test/test_fuzz_conversions.py

Random encodings (known, fallback-only and made up), sizes (zero, negative, huge), steps, byte
lengths, endianness flags and buffer types. Whatever decodes must have the header's shape and
the documented dtype and units; nothing may allocate beyond ``max_pixels``.
"""

from __future__ import annotations

import array
import contextlib
from types import SimpleNamespace

import numpy as np
from fuzz_support import PROJECT_ERRORS, fuzz_settings
from hypothesis import example, given
from hypothesis import strategies as st

from mmed_ros.conversions import (
    compressed_depth_fields,
    compressed_fields,
    depth_from_msg,
    image_view,
    mono8_from_msg,
    rgb_from_msg,
)

MAX_PIXELS = 4096
ENCODINGS = [
    "rgb8",
    "bgr8",
    "rgba8",
    "bgra8",
    "mono8",
    "8UC1",
    "8UC3",
    "mono16",
    "16UC1",
    "32FC1",
    "yuv422",
    "yuv422_yuy2",
    "bayer_rggb8",
    "bayer_bggr16",
    "rgb16",
    "bgra16",
    "32FC3",
    "64FC1",
    "16SC1",
    "jpeg",
    "",
    "RGB8",
    "rgb8\x00",
    "😀",
]
_BYTES_PER_PX = {
    "rgb8": 3,
    "bgr8": 3,
    "rgba8": 4,
    "bgra8": 4,
    "mono8": 1,
    "8UC1": 1,
    "8UC3": 3,
    "mono16": 2,
    "16UC1": 2,
    "32FC1": 4,
    "yuv422": 2,
    "yuv422_yuy2": 2,
    "bayer_rggb8": 1,
    "bayer_bggr16": 2,
    "rgb16": 6,
    "bgra16": 8,
}


@st.composite
def image_messages(draw: st.DrawFn) -> SimpleNamespace:
    encoding = draw(st.sampled_from(ENCODINGS) | st.text(max_size=12))
    small = st.integers(-2, 120)
    height = draw(small | st.sampled_from([2**16, 2**31 - 1, 2**31, 2**32 + 1, 2**63]))
    width = draw(small | st.sampled_from([2**16, 2**31 - 1, 2**32, 2**62]))
    bpp = _BYTES_PER_PX.get(encoding, draw(st.integers(1, 8)))
    natural = max(width, 0) * bpp
    step = draw(
        st.sampled_from([natural, natural + 1, natural + 4, natural - 1, 0, 7])
        | st.integers(-10, 400)
        | st.sampled_from([2**31, 2**32 - 1, 2**64])
    )
    natural_len = max(step, 0) * max(height, 0)
    length = draw(
        st.sampled_from([natural_len, natural_len - 1, natural_len + 3, 0]) | st.integers(0, 30000)
    )
    length = max(0, min(length, 64 * 1024))  # a real message's bytes are already in memory
    payload = draw(st.sampled_from(["random", "nan", "inf", "zero"]))
    if payload == "random":
        raw = draw(st.binary(min_size=min(length, 64), max_size=min(length, 64)))
        data = (raw * (length // max(len(raw), 1) + 1))[:length] if raw else bytes(length)
    else:
        value = {"nan": np.nan, "inf": np.inf, "zero": 0.0}[payload]
        data = np.full(length // 4 + 1, value, "<f4").tobytes()[:length]
    kind = draw(st.sampled_from(["bytes", "bytearray", "array", "numpy"]))
    data = {
        "bytes": bytes,
        "bytearray": bytearray,
        "array": lambda d: array.array("B", d),
        "numpy": lambda d: np.frombuffer(d, np.uint8),
    }[kind](data)
    bigendian = draw(st.sampled_from([0, 1, True, False, 2]))
    return SimpleNamespace(
        encoding=encoding, height=height, width=width, step=step, is_bigendian=bigendian, data=data
    )


def _check(msg: SimpleNamespace, fn, ndim: tuple[int, ...], dtype) -> None:
    try:
        out = fn(msg, max_pixels=MAX_PIXELS)
    except PROJECT_ERRORS:
        return
    assert out.shape[:2] == (msg.height, msg.width)
    assert out.ndim in ndim and out.dtype == dtype
    assert out.size <= MAX_PIXELS * 4


@fuzz_settings(300)
@given(image_messages())
# Found by the long profile: a one-row image with step 2**64 overflowed numpy's strides.
@example(
    SimpleNamespace(encoding="rgb8", height=1, width=1, step=2**64, is_bigendian=0, data=bytes(16))
)
def test_rgb_decoding_raises_only_conversion_errors(msg: SimpleNamespace) -> None:
    _check(msg, rgb_from_msg, (3,), np.uint8)


@fuzz_settings(300)
@given(image_messages())
def test_depth_decoding_raises_only_conversion_errors(msg: SimpleNamespace) -> None:
    try:
        out = depth_from_msg(msg, max_pixels=MAX_PIXELS)
    except PROJECT_ERRORS:
        return
    assert out.shape == (msg.height, msg.width) and out.dtype == np.float32
    valid = out[~np.isnan(out)]
    # REP 118: no measurement is NaN, nothing else; +inf / -inf (far / too close) are readings
    assert (np.isinf(valid) | (valid > 0)).all()


@fuzz_settings(200)
@given(image_messages())
def test_label_and_raw_views_raise_only_conversion_errors(msg: SimpleNamespace) -> None:
    _check(msg, mono8_from_msg, (2,), np.uint8)
    with contextlib.suppress(*PROJECT_ERRORS):
        image_view(msg, max_pixels=MAX_PIXELS)


@fuzz_settings(100)
@given(st.sampled_from(["encoding", "height", "width", "step", "is_bigendian", "data"]))
def test_a_missing_field_is_a_conversion_error(missing: str) -> None:
    fields = dict(encoding="rgb8", height=2, width=2, step=6, is_bigendian=0, data=bytes(12))
    del fields[missing]
    for fn in (rgb_from_msg, depth_from_msg, mono8_from_msg):
        with contextlib.suppress(*PROJECT_ERRORS):
            fn(SimpleNamespace(**fields))


@fuzz_settings(50)
@given(st.sampled_from(sorted(_BYTES_PER_PX)), st.integers(65, 200), st.integers(65, 200))
def test_max_pixels_holds_for_every_encoding(encoding: str, height: int, width: int) -> None:
    # Encodings outside the fast path (YUV, Bayer, 16-bit colour) go to another converter;
    # the size limit must be enforced before it allocates the decoded image.
    step = width * _BYTES_PER_PX[encoding]
    msg = SimpleNamespace(
        encoding=encoding,
        height=height,
        width=width,
        step=step,
        is_bigendian=0,
        data=bytes(step * height),
    )
    for fn in (rgb_from_msg, depth_from_msg, mono8_from_msg):
        try:
            fn(msg, max_pixels=MAX_PIXELS)
        except PROJECT_ERRORS:
            continue
        raise AssertionError(
            f"{fn.__name__} decoded a {height}x{width} {encoding} image "
            f"beyond max_pixels={MAX_PIXELS}"
        )


_GOOD_COMPRESSED = [
    compressed_fields(np.arange(48, dtype=np.uint8).reshape(4, 4, 3), "rgb8", "png"),
    compressed_fields(np.arange(48, dtype=np.uint8).reshape(4, 4, 3), "rgb8", "jpeg"),
    compressed_fields(np.arange(16, dtype=np.uint8).reshape(4, 4), "mono8", "png"),
    compressed_depth_fields(np.linspace(0.5, 9, 16, dtype=np.float32).reshape(4, 4)),
    compressed_depth_fields(np.arange(1, 17, dtype=np.uint16).reshape(4, 4), "16UC1"),
]
FORMATS = [f["format"] for f in _GOOD_COMPRESSED] + [
    "jpeg",
    "png",
    "16UC1; compressedDepth",
    "32FC1; compressedDepth rvl",
    "",
    "😀; compressedDepth png",
]


@st.composite
def compressed_messages(draw: st.DrawFn) -> SimpleNamespace:
    """Valid codec data with bytes flipped, cut or appended, or random bytes, under any format."""
    base = bytes(draw(st.sampled_from(_GOOD_COMPRESSED))["data"])
    how = draw(st.sampled_from(["flip", "cut", "append", "random", "header"]))
    if how == "flip" and base:
        data = bytearray(base)
        for _ in range(draw(st.integers(1, 8))):
            i = draw(st.integers(0, len(data) - 1))
            data[i] = draw(st.integers(0, 255))
        base = bytes(data)
    elif how == "cut":
        base = base[: draw(st.integers(0, len(base)))]
    elif how == "append":
        base = base + draw(st.binary(max_size=64))
    elif how == "random":
        base = draw(st.binary(max_size=256))
    else:  # a png header claiming a huge size
        base = base[:12] + b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x7f\xff\xff\xff\x7f\xff\xff\xff"
    fmt = draw(st.sampled_from(FORMATS) | st.text(max_size=30))
    return SimpleNamespace(format=fmt, data=base)


@fuzz_settings(300)
@given(compressed_messages())
def test_compressed_decoding_raises_only_conversion_errors(msg: SimpleNamespace) -> None:
    for fn in (rgb_from_msg, depth_from_msg, mono8_from_msg):
        try:
            out = fn(msg, max_pixels=MAX_PIXELS)
        except PROJECT_ERRORS:
            continue
        assert out.size <= MAX_PIXELS * 3
        if fn is depth_from_msg:
            assert out.dtype == np.float32 and out.ndim == 2
