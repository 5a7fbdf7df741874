# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Decoding image files and encoded frames: a clear error on a bad one, and no stderr noise.

OpenCV's PNG and JPEG decoders (libpng, libjpeg) print to stderr, past any OpenCV log level,
when they meet a truncated or corrupt file (``libpng error: Read Error``, ``Premature end of
JPEG file``), once per frame; a truncated JPEG even decodes, its missing rows grey. So the bytes
are checked before OpenCV sees them (:func:`encoded_problem`): a PNG must hold every chunk up to
IEND whole, the critical ones (IHDR, PLTE, IDAT, IEND) with a matching CRC; a JPEG must hold its
segments up to the first scan and end with an end-of-image marker after it. What is left to
OpenCV is decoded with its own logging turned down to errors, where this cv2 has
``cv2.utils.logging`` (older builds without it decode as before). Not caught: a JPEG whose
entropy-coded data is damaged but whose markers are whole (libjpeg warns and decodes it).

    read_image(path, cv2.IMREAD_UNCHANGED, "label")   # DatasetError naming the file and fault
    python -m pytest test/test_imagefile.py
"""

from __future__ import annotations

import contextlib
import os
import struct
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from mmed_core.errors import DatasetError

__all__ = ["encoded_problem", "decode_quietly", "read_image", "encode_depth"]

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # markers without a length (TEM, RSTn)


def _png_problem(data: bytes) -> str | None:
    n, pos = len(data), len(_PNG_SIGNATURE)
    while True:
        if pos + 8 > n:
            return f"a PNG cut short after {n} bytes, before its IEND chunk"
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        name = kind.decode("latin-1")
        if length > 2**31 - 1 or not kind.isalpha():
            header = data[pos : pos + 8].hex()
            return f"a PNG with a damaged chunk header at byte {pos} ({header})"
        end = pos + 12 + length
        if end > n:
            return (
                f"a PNG cut short inside its {name} chunk at byte {pos} (the chunk needs "
                f"{12 + length} bytes, the file has {n - pos} left)"
            )
        critical = kind[:1].isupper()  # libpng rejects these on a bad CRC, skips the others
        (crc,) = struct.unpack(">I", data[end - 4 : end])
        if critical and zlib.crc32(memoryview(data)[pos + 4 : end - 4]) != crc:
            return f"a PNG whose {name} chunk at byte {pos} fails its CRC (corrupt data)"
        if kind == b"IEND":
            return None
        pos = end


def _jpeg_problem(data: bytes) -> str | None:
    n, pos = len(data), 2
    while True:
        while pos < n and data[pos] == 0xFF and pos + 1 < n and data[pos + 1] == 0xFF:
            pos += 1  # fill bytes
        if pos + 2 > n:
            return f"a JPEG cut short after {n} bytes, before its image data"
        if data[pos] != 0xFF:
            return f"a JPEG with a damaged segment at byte {pos} (expected a marker)"
        marker = data[pos + 1]
        if marker == 0xD9:
            return "a JPEG that ends before any image data"
        if marker in _JPEG_STANDALONE:
            pos += 2
            continue
        if pos + 4 > n:
            return f"a JPEG cut short after {n} bytes, before its image data"
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if length < 2 or pos + 2 + length > n:
            return f"a JPEG cut short inside its segment at byte {pos}, before its image data"
        pos += 2 + length
        if marker == 0xDA:  # start of scan: the entropy-coded data follows
            break
    # Inside the scans 0xFF is stuffed (FF 00) or a restart/next-scan marker: FF D9 is the end.
    if data.rfind(b"\xff\xd9", pos) < 0:
        return f"a JPEG cut short after {n} bytes (no end-of-image marker after its image data)"
    return None


def encoded_problem(data: bytes) -> str | None:
    """What is wrong with encoded image ``data``, as "a PNG cut short ..." (what came), or None
    when it looks whole. Only PNG and JPEG are checked; other formats give None."""
    if not data:
        return "0 bytes"
    if data[:8] == _PNG_SIGNATURE:
        return _png_problem(data)
    if data[:3] == b"\xff\xd8\xff":
        return _jpeg_problem(data)
    return None


_log_lock = threading.Lock()
_quiet_depth = 0
_saved_level: int | None = None


@contextlib.contextmanager
def _quiet_opencv() -> Iterator[None]:
    """OpenCV's log level at most ERROR inside (its warnings on bad files repeat per frame);
    restored when the last of the threads inside leaves. A no-op where cv2 lacks the API."""
    global _quiet_depth, _saved_level
    logging = getattr(getattr(cv2, "utils", None), "logging", None)
    get, put = getattr(logging, "getLogLevel", None), getattr(logging, "setLogLevel", None)
    error = getattr(logging, "LOG_LEVEL_ERROR", None)
    if get is None or put is None or error is None:
        yield
        return
    with _log_lock:
        if _quiet_depth == 0:
            _saved_level = int(get())
            if _saved_level > error:  # a quieter level the user chose stays
                put(error)
        _quiet_depth += 1
    try:
        yield
    finally:
        with _log_lock:
            _quiet_depth -= 1
            if _quiet_depth == 0 and _saved_level is not None:
                put(_saved_level)


def decode_quietly(data: bytes, flags: int) -> np.ndarray | None:
    """``cv2.imdecode(data, flags)`` with OpenCV's warnings held back; None when it cannot
    decode (call :func:`encoded_problem` first to say why)."""
    if not data:
        return None
    with _quiet_opencv():
        image = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    return None if image is None or image.size == 0 else image


def read_image(path: str | os.PathLike[str], flags: int, what: str) -> np.ndarray:
    """Decode the image file ``path`` (``cv2.IMREAD_*`` ``flags``, as ``cv2.imread``); a
    missing, unreadable, truncated or corrupt file is a :class:`DatasetError` naming it, the
    ``what`` image expected and what the file holds, with nothing printed to stderr."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        found = "nothing" if not path.exists() else f"a file it cannot read ({exc.strerror})"
        raise DatasetError(f"{path}: expected a {what} image file, found {found}") from exc
    problem = encoded_problem(data)
    if problem is not None:
        raise DatasetError(
            f"{path}: cannot decode this {what} image (corrupt or truncated): expected a whole "
            f"image file, got {problem}"
        )
    image = decode_quietly(data, flags)
    if image is None:
        raise DatasetError(
            f"{path}: cannot decode this {what} image (corrupt, truncated or not an image): "
            f"got {len(data)} bytes starting {data[:8].hex()} that OpenCV does not decode"
        )
    return image


def encode_depth(depth: np.ndarray, units: str = "m") -> np.ndarray:
    """A depth image (metres or disparity; NaN, inf or <= 0 = unknown) as 16 bits, as depth
    sensors (16UC1, REP 118) and datasets store it: millimetres for metres, ``disparity * 256 +
    1`` (Cityscapes) for disparity; 0 = no measurement. A known depth never becomes 0: it is
    clipped to 1..65535 (at most 65.535 m)."""
    d = np.asarray(depth, np.float64)
    known = np.isfinite(d) & (d > 0)
    scaled = d * 1000.0 if units == "m" else d * 256.0 + 1.0
    out = np.zeros(d.shape, np.uint16)
    out[known] = np.clip(np.round(scaled[known]), 1, 65535).astype(np.uint16)
    return out
