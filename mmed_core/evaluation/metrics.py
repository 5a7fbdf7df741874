# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0

r"""The paper's metrics (§4), accumulated over a whole set (streaming).

    python -c "import numpy as np; \
        from mmed_core.evaluation.metrics import SegmentationMetrics as S; \
        m=S(2); m.update(np.array([0,1]), np.array([0,0])); print(m.compute())"

Depth, in original units (metres or disparity), two ways, both reported and named:

- per image, as the paper defines them (§4, after Eigen et al.): Rel, log10 and RMSE computed
  over each image's valid pixels, then averaged over the images (``rel_img``, ``log10_img``,
  ``rmse_img``; an image without valid pixels is left out);
- pooled: Rel, log10, RMSE and delta < 1.25^k over every valid pixel of the set at once
  (``rel``, ``log10``, ``rmse``, ``delta1..3``); pooled RMSE weighs the images with large errors
  more, so it is the larger of the two.

An array with 3 or more dimensions is a batch of images along its first axis; a 1- or 2-D array
is one image. Segmentation: IoU = TP / (TP + FP + FN) from one confusion matrix
over the whole set, per class and mean (classes absent from both prediction and ground truth
are NaN and left out of the mean). Surface normals (the registry's example modality, not in
the paper): the angle between predicted and true normal, its mean and median in degrees and
the share of pixels within 11.25, 22.5 and 30 degrees (the usual normal-estimation columns).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mmed_core.data.classes import IGNORE_INDEX
from mmed_core.errors import InputError

__all__ = [
    "DepthMetrics",
    "SegmentationMetrics",
    "iou_from_confusion",
    "present_in_truth",
    "NormalsMetrics",
    "DEPTH_KEYS",
    "IMAGE_DEPTH_KEYS",
    "NORMALS_KEYS",
]

#: Pooled over every valid pixel of the set.
DEPTH_KEYS = ("rel", "log10", "rmse", "delta1", "delta2", "delta3")
#: Per image, then averaged over the images (the paper's definition).
IMAGE_DEPTH_KEYS = ("rel_img", "log10_img", "rmse_img")
NORMALS_KEYS = ("mean_angle", "median_angle", "within_11", "within_22", "within_30")


def _np(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().float().cpu().numpy()
    return np.asarray(x)


class DepthMetrics:
    """Streaming depth metrics; ``min_depth`` guards log/ratio against non-positive predictions."""

    def __init__(self, min_depth: float = 1e-3) -> None:
        self.min_depth = min_depth
        self.reset()

    def reset(self) -> None:
        self.n = 0
        self.sums = dict.fromkeys(("abs_rel", "log10", "sq", "d1", "d2", "d3"), 0.0)
        self.images = 0
        self.image_sums = dict.fromkeys(IMAGE_DEPTH_KEYS, 0.0)

    def update(self, pred: Any, gt: Any, valid: Any | None = None) -> None:
        p, g = _np(pred).astype(np.float64), _np(gt).astype(np.float64)
        if p.shape != g.shape:
            raise InputError(
                f"depth prediction has shape {p.shape} but ground truth has {g.shape}"
            )
        mask = np.isfinite(g) & (g > 0)
        if valid is not None:
            mask &= _np(valid).astype(bool).reshape(g.shape)
        if p.ndim < 3:  # one image
            p, g, mask = p[None], g[None], mask[None]
        for pi, gi, mi in zip(p, g, mask):
            if mi.any():
                self._add_image(pi[mi], gi[mi])

    def _add_image(self, p: np.ndarray, g: np.ndarray) -> None:
        p = np.where(np.isfinite(p), p, self.min_depth).clip(self.min_depth, None)
        ratio = np.maximum(p / g, g / p)
        abs_rel = np.abs(g - p) / g
        log10 = np.abs(np.log10(g) - np.log10(p))
        sq = (g - p) ** 2
        self.n += g.size
        s = self.sums
        s["abs_rel"] += float(abs_rel.sum())
        s["log10"] += float(log10.sum())
        s["sq"] += float(sq.sum())
        for k in (1, 2, 3):
            s[f"d{k}"] += float((ratio < 1.25**k).sum())
        self.images += 1
        im = self.image_sums
        im["rel_img"] += float(abs_rel.mean())
        im["log10_img"] += float(log10.mean())
        im["rmse_img"] += float(np.sqrt(sq.mean()))

    def compute(self) -> dict[str, float]:
        if self.n == 0:
            return {k: float("nan") for k in (*DEPTH_KEYS, *IMAGE_DEPTH_KEYS)}
        s, n = self.sums, self.n
        return {
            "rel": s["abs_rel"] / n,
            "log10": s["log10"] / n,
            "rmse": float(np.sqrt(s["sq"] / n)),
            "delta1": s["d1"] / n,
            "delta2": s["d2"] / n,
            "delta3": s["d3"] / n,
            **{k: v / self.images for k, v in self.image_sums.items()},
        }


class NormalsMetrics:
    """Angular error of surface normals in degrees, over every valid pixel of the set.

    Inputs are (B, 3, H, W) or (3, H, W) vectors (any length; normalised here); a ground-truth
    pixel is valid when its vector is finite and non-zero, a prediction that is not (NaN,
    unknown) counts as 180 degrees, so masking cannot flatter a model. The median is over a
    1/10-degree histogram (streaming).
    """

    BINS = 1800

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.n = 0
        self.sum = 0.0
        self.hist = np.zeros(self.BINS, np.int64)

    def update(self, pred: Any, gt: Any) -> None:
        p, g = _np(pred).astype(np.float64), _np(gt).astype(np.float64)
        if p.shape != g.shape or p.ndim not in (3, 4) or p.shape[-3] != 3:
            raise InputError(
                f"normals: expected prediction and ground truth of one shape (B, 3, H, W) or "
                f"(3, H, W), got {p.shape} and {g.shape}"
            )
        p, g = np.moveaxis(p, -3, -1).reshape(-1, 3), np.moveaxis(g, -3, -1).reshape(-1, 3)
        gn = np.linalg.norm(g, axis=1)
        valid = np.isfinite(gn) & (gn > 0)
        if not valid.any():
            return
        p, g, gn = p[valid], g[valid], gn[valid]
        pn = np.linalg.norm(p, axis=1)
        ok = np.isfinite(pn) & (pn > 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            cos = np.sum(p * g, axis=1) / (pn * gn)
        angle = np.where(ok, np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))), 180.0)
        self.n += angle.size
        self.sum += float(angle.sum())
        idx = np.minimum((angle * 10).astype(np.int64), self.BINS - 1)
        self.hist += np.bincount(idx, minlength=self.BINS)

    def compute(self) -> dict[str, float]:
        if self.n == 0:
            return {k: float("nan") for k in NORMALS_KEYS}
        cum = np.cumsum(self.hist)
        median_bin = int(np.searchsorted(cum, (self.n + 1) / 2))
        edges = np.arange(self.BINS + 1) / 10.0
        return {
            "mean_angle": self.sum / self.n,
            "median_angle": float(edges[median_bin] + 0.05),
            "within_11": float(cum[112] / self.n),  # bins [0, 11.25)
            "within_22": float(cum[224] / self.n),
            "within_30": float(cum[299] / self.n),
        }


def iou_from_confusion(confusion: np.ndarray, unknown_fn: np.ndarray) -> np.ndarray:
    """Per-class IoU of a confusion matrix (..., K, K) (rows: truth) and the labelled pixels
    predicted 'unknown' (..., K); NaN for a class neither in the truth nor predicted. Leading
    dimensions are kept (e.g. many bootstrap resamples at once)."""

    cm = np.asarray(confusion)
    tp = np.diagonal(cm, axis1=-2, axis2=-1).astype(np.float64)
    fp = cm.sum(-2) - tp
    fn = cm.sum(-1) - tp + np.asarray(unknown_fn)
    denom = tp + fp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, tp / np.maximum(denom, 1), np.nan)


def present_in_truth(confusion: np.ndarray, unknown_fn: np.ndarray) -> np.ndarray:
    """Which classes have ground-truth pixels (..., K), from the same counts as
    :func:`iou_from_confusion` (a pixel predicted 'unknown' still counts for its true class)."""
    return (np.asarray(confusion).sum(-1) + np.asarray(unknown_fn)) > 0


class SegmentationMetrics:
    """Streaming confusion matrix (rows: ground truth, columns: prediction)."""

    def __init__(self, num_classes: int, class_names: tuple[str, ...] | None = None) -> None:
        if num_classes < 1:
            raise InputError(f"num_classes must be >= 1, got {num_classes}")
        if class_names is not None and len(class_names) != num_classes:
            raise InputError(f"{len(class_names)} class names for {num_classes} classes")
        self.num_classes = num_classes
        self.class_names = (
            tuple(class_names) if class_names else tuple(str(k) for k in range(num_classes))
        )
        self.confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
        # Labelled pixels predicted as 'unknown' (255): misses outside the K x K matrix.
        self.unknown_fn = np.zeros(num_classes, dtype=np.int64)

    def reset(self) -> None:
        self.confusion[:] = 0
        self.unknown_fn[:] = 0

    def update(self, pred: Any, gt: Any) -> None:
        p, g = _np(pred), _np(gt)
        if p.shape != g.shape:
            raise InputError(
                f"label prediction has shape {p.shape} but ground truth has {g.shape}"
            )
        p, g = p.astype(np.int64).ravel(), g.astype(np.int64).ravel()
        k = self.num_classes
        keep = (g != IGNORE_INDEX) & (g >= 0) & (g < k)
        bad = keep & ((p < 0) | (p >= k))
        ok = keep & ~bad
        self.confusion += np.bincount(g[ok] * k + p[ok], minlength=k * k).reshape(k, k)
        self.unknown_fn += np.bincount(g[bad], minlength=k)

    def iou(self) -> np.ndarray:
        return iou_from_confusion(self.confusion, self.unknown_fn)

    def compute(self) -> dict[str, Any]:
        """``miou``: the mean over every class in the truth or the predictions (the paper's
        and the usual definition: a class absent from the truth but predicted on labelled
        pixels counts with IoU 0). ``miou_present`` / ``classes_present``: the mean over the
        classes that have ground-truth pixels, and which those are; on a large test set every
        class is present and the two agree, on a handful of frames they tell apart missing a
        class from predicting one that is not there."""
        iou = self.iou()
        valid = ~np.isnan(iou)
        present = present_in_truth(self.confusion, self.unknown_fn)
        total = self.confusion.sum() + self.unknown_fn.sum()
        return {
            "miou": float(iou[valid].mean()) if valid.any() else float("nan"),
            "miou_present": float(iou[present].mean()) if present.any() else float("nan"),
            "classes_present": [n for n, p in zip(self.class_names, present) if p],
            "pixel_acc": float(np.trace(self.confusion) / total) if total else float("nan"),
            "iou": {name: float(v) for name, v in zip(self.class_names, iou)},
        }
