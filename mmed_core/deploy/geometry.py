# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""How an image of any size and aspect ratio is fitted to the network's input, and back.

    python -m pytest test/test_geometry.py

Three ways to fit a W x H image into the network's w x h input (:data:`RESIZE_MODES`):

* ``stretch``: scale x and y independently (aspect ratio changes; the whole image is seen);
* ``letterbox``: scale both axes by min(w/W, h/H) and pad the rest (aspect ratio kept; padded
  network pixels are no part of the image and come out unknown);
* ``crop``: scale both axes by max(w/W, h/H) and cut the centre (aspect ratio kept; the cut
  image borders get no estimate and come out unknown when outputs are at input size).

Outputs are either at the input's size (``output_size: input``, the fit undone) or at the
network's (``output_size: network``, no resize back: smaller messages). :meth:`Fit.intrinsics`
gives the camera matrices that match each output, so depth_image_proc builds a correct point
cloud from either. The mapping from input pixel (u, v) to output pixel is the affine
u' = sx u + ox, v' = sy v + oy, with image_proc's resize convention (K scaled, no half-pixel
shift).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from mmed_core.errors import ConfigError, InputError

__all__ = ["RESIZE_MODES", "OUTPUT_SIZES", "INTERPOLATIONS", "Fit", "resize_image"]

RESIZE_MODES: tuple[str, ...] = ("stretch", "letterbox", "crop")
OUTPUT_SIZES: tuple[str, ...] = ("input", "network")
# 'area' (images: averaging when shrinking, bilinear when enlarging), 'linear', 'nearest' (ids:
# no invented classes at borders), 'valid' (depth: averages valid pixels only, so a gap never
# blends into its neighbours; a pixel is valid when at least half its footprint was).
INTERPOLATIONS: tuple[str, ...] = ("area", "linear", "nearest", "valid")


def resize_image(
    image: np.ndarray,
    size_hw: tuple[int, int],
    interpolation: str,
    invalid: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """``image`` resized to ``size_hw`` with one of :data:`INTERPOLATIONS`; with ``invalid``
    (H, W) bool, also the resized invalid mask (nearest, or footprint-weighted for 'valid')."""
    h, w = int(size_hw[0]), int(size_hw[1])
    src_h, src_w = image.shape[:2]
    if (src_h, src_w) == (h, w):
        return image, invalid
    if interpolation not in INTERPOLATIONS:
        raise ConfigError(
            f"interpolation: expected one of {INTERPOLATIONS}, got {interpolation!r}"
        )
    shrink = h < src_h or w < src_w
    if interpolation == "valid" and invalid is not None:
        weight = (~invalid).astype(np.float32)
        mode = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
        data = np.where(invalid[..., None] if image.ndim == 3 else invalid, 0, image)
        num = _cv_resize(np.ascontiguousarray(data, np.float32), (h, w), mode)
        den = _cv_resize(weight, (h, w), mode)
        new_invalid: np.ndarray | None = den < 0.5
        with np.errstate(invalid="ignore", divide="ignore"):
            out = num / (den[..., None] if num.ndim == 3 else den)
        out[new_invalid] = 0
        return out.astype(image.dtype, copy=False), new_invalid
    mode = {
        "area": cv2.INTER_AREA if shrink else cv2.INTER_LINEAR,
        "linear": cv2.INTER_LINEAR,
        "nearest": cv2.INTER_NEAREST,
        "valid": cv2.INTER_LINEAR,
    }[interpolation]
    out = _cv_resize(np.ascontiguousarray(image), (h, w), mode)
    new_invalid = None
    if invalid is not None:
        new_invalid = cv2.resize(
            invalid.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST
        ).astype(bool)
    return out, new_invalid


def _cv_resize(image: np.ndarray, size_hw: tuple[int, int], mode: int) -> np.ndarray:
    out = cv2.resize(image, (size_hw[1], size_hw[0]), interpolation=mode)
    if image.ndim == 3 and out.ndim == 2:  # OpenCV drops a trailing channel axis of 1
        out = out[:, :, None]
    return out


@dataclass(frozen=True)
class Fit:
    """Placement of an (H, W) image in the network's (h, w) input for one resize mode.

    The image is resized to ``scaled`` (rows, cols) and its top-left corner lands at
    ``offset`` (row, col) of the network frame: positive = padding (letterbox), negative =
    cut (crop), zero for stretch.
    """

    mode: str
    image_size: tuple[int, int]
    network_size: tuple[int, int]
    scaled: tuple[int, int]
    offset: tuple[int, int]

    @classmethod
    def compute(cls, mode: str, image_size: Sequence[int], network_size: Sequence[int]) -> Fit:
        if mode not in RESIZE_MODES:
            raise ConfigError(f"resize: expected one of {list(RESIZE_MODES)}, got {mode!r}")
        h, w = int(image_size[0]), int(image_size[1])
        hn, wn = int(network_size[0]), int(network_size[1])
        if min(h, w, hn, wn) <= 0:
            raise InputError(
                f"fit: expected positive sizes, got image {h}x{w} and network {hn}x{wn}"
            )
        if mode == "stretch":
            return cls(mode, (h, w), (hn, wn), (hn, wn), (0, 0))
        s = min(hn / h, wn / w) if mode == "letterbox" else max(hn / h, wn / w)
        hs, ws = max(1, round(h * s)), max(1, round(w * s))
        if mode == "letterbox":
            hs, ws = min(hs, hn), min(ws, wn)
        else:
            hs, ws = max(hs, hn), max(ws, wn)
        return cls(mode, (h, w), (hn, wn), (hs, ws), ((hn - hs) // 2, (wn - ws) // 2))

    # ------------------------------------------------------------------ geometry
    @property
    def scale(self) -> tuple[float, float]:
        """(sy, sx): network pixels per image pixel."""
        return self.scaled[0] / self.image_size[0], self.scaled[1] / self.image_size[1]

    def _window(self) -> tuple[slice, slice, slice, slice]:
        """(network rows, network cols, scaled rows, scaled cols) that the image covers."""
        (hn, wn), (hs, ws), (oy, ox) = self.network_size, self.scaled, self.offset
        y0, y1 = max(oy, 0), min(oy + hs, hn)
        x0, x1 = max(ox, 0), min(ox + ws, wn)
        return (
            slice(y0, y1),
            slice(x0, x1),
            slice(y0 - oy, y1 - oy),
            slice(x0 - ox, x1 - ox),
        )

    def covered(self) -> np.ndarray:
        """(h, w) bool: True where a network pixel shows part of the image (not padding)."""
        mask = np.zeros(self.network_size, bool)
        ny, nx, _, _ = self._window()
        mask[ny, nx] = True
        return mask

    def output_size(self, output_size: str) -> tuple[int, int]:
        """(rows, cols) of the outputs for ``output_size`` 'input' or 'network'."""
        _check_output_size(output_size)
        return self.image_size if output_size == "input" else self.network_size

    def to_network(
        self,
        image: np.ndarray,
        interpolation: str,
        fill: float,
        invalid: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """``image`` (H, W[, C]) -> (h, w[, C]) network frame, padding with ``fill``; with
        ``invalid``, also the network-frame invalid mask (padding is invalid)."""
        if tuple(image.shape[:2]) != self.image_size:
            raise InputError(
                f"fit: expected an image of {self.image_size}, got {tuple(image.shape[:2])}"
            )
        resized, bad = resize_image(image, self.scaled, interpolation, invalid)
        if self.scaled == self.network_size and self.offset == (0, 0):
            return resized, bad
        ny, nx, sy, sx = self._window()
        out = np.full(self.network_size + resized.shape[2:], fill, dtype=resized.dtype)
        out[ny, nx] = resized[sy, sx]
        out_bad = None
        if bad is not None:
            out_bad = np.ones(self.network_size, bool)
            out_bad[ny, nx] = bad[sy, sx]
        return out, out_bad

    def from_network(
        self, output: np.ndarray, interpolation: str, fill: float, output_size: str
    ) -> np.ndarray:
        """A network-frame output (h, w[, C]) -> the output frame of ``output_size``; pixels
        with no estimate (padding, or the image borders a crop cut off) become ``fill``."""
        _check_output_size(output_size)
        ny, nx, sy, sx = self._window()
        if output_size == "network":
            if self.scaled == self.network_size and self.offset == (0, 0):
                return output
            out = np.full_like(output, fill)
            out[ny, nx] = output[ny, nx]
            return out
        if self.scaled == self.network_size and self.offset == (0, 0):
            return resize_image(output, self.image_size, interpolation)[0]
        canvas = np.full(self.scaled + output.shape[2:], fill, dtype=output.dtype)
        canvas[sy, sx] = output[ny, nx]
        if interpolation == "nearest" or self.mode == "letterbox":
            return resize_image(canvas, self.image_size, interpolation)[0]
        # crop: resize with the uncovered borders marked, so they stay 'fill' without
        # bleeding into the estimates next to them
        covered = np.zeros(self.scaled, bool)
        covered[sy, sx] = True
        floating = np.issubdtype(canvas.dtype, np.floating)
        out, gone = resize_image(
            np.where(covered[..., None] if canvas.ndim == 3 else covered, canvas, 0),
            self.image_size,
            "valid" if floating else interpolation,
            ~covered,
        )
        if gone is not None:
            out = out.copy()
            out[gone] = fill
        return out

    def intrinsics(
        self, k: Sequence[float], p: Sequence[float], output_size: str
    ) -> tuple[list[float], list[float]]:
        """K (3x3) and P (3x4), row-major, of the image -> those of the ``output_size`` frame.

        u' = sx u + ox, v' = sy v + oy: rows 0 and 1 become sx row0 + ox row2 and
        sy row1 + oy row2 (image_proc's convention: no half-pixel shift).
        """
        k2, p2 = [float(v) for v in k], [float(v) for v in p]
        if len(k2) != 9 or len(p2) != 12:
            raise InputError(
                f"camera matrices: expected K with 9 and P with 12 values, got {len(k2)} "
                f"and {len(p2)}"
            )
        if self.output_size(output_size) == self.image_size:
            return k2, p2
        (sy, sx), (oy, ox) = self.scale, self.offset
        for mat, cols in ((k2, 3), (p2, 4)):
            row2 = mat[2 * cols : 3 * cols]
            for c in range(cols):
                mat[c] = sx * mat[c] + ox * row2[c]
                mat[cols + c] = sy * mat[cols + c] + oy * row2[c]
        return k2, p2


def _check_output_size(value: Any) -> None:
    if value not in OUTPUT_SIZES:
        raise ConfigError(f"output_size: expected one of {list(OUTPUT_SIZES)}, got {value!r}")
