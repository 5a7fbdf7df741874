# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Stamp matching of estimates with ground truth, and the paper's metrics over a replay; ROS-free.

Used by evaluator_node (live replay) and ``mmed-bag eval`` (offline)::

    python -m pytest test/test_ros_pipeline.py

Estimates and ground truth arrive on separate topics in any order; :class:`StampMatcher` keeps
the unmatched ones per stream (bounded) and pairs messages whose stamps differ by at most a
tolerance. :class:`ReplayEvaluation` feeds the pairs to ``mmed_core.evaluation.metrics``;
:func:`format_report` lays out a Table-1 row (Rel, log10, RMSE per image as the paper defines
them, and Rel, log10, RMSE, delta < 1.25^k pooled over all pixels, named like mmed-eval's
tables) and per-class IoU / mIoU.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import numpy as np

from mmed_core.deploy.geometry import resize_image
from mmed_core.errors import InputError
from mmed_core.evaluation.evaluator import (
    DEPTH_NOTE,
    HEADERS,
    absent_classes_note,
    markdown_table,
)
from mmed_core.evaluation.metrics import (
    DEPTH_KEYS,
    IMAGE_DEPTH_KEYS,
    DepthMetrics,
    SegmentationMetrics,
)

__all__ = ["StampMatcher", "ReplayEvaluation", "format_report"]

T = TypeVar("T")


@dataclass
class StampMatcher(Generic[T]):
    """Pairs items of an 'estimate' and a 'truth' stream whose stamps (ns) are within tolerance.

    Each stream keeps at most ``max_pending`` unmatched items; the oldest go first (counted in
    ``expired``), because a replay that lost one side of a pair must not grow memory forever.
    """

    tolerance_ns: int = 1_000_000
    max_pending: int = 100
    expired: int = 0
    matched: int = 0
    _pending: dict[str, OrderedDict[int, T]] = field(
        default_factory=lambda: {"estimate": OrderedDict(), "truth": OrderedDict()}
    )

    def add(self, stream: str, stamp_ns: int, item: T) -> tuple[T, T] | None:
        """Add an item; return (estimate, truth) when it completes a pair, else None."""
        if stream not in self._pending:
            raise InputError(f"stream: expected 'estimate' or 'truth', got {stream!r}")
        other = self._pending["truth" if stream == "estimate" else "estimate"]
        best, best_dt = None, None
        for stamp in other:
            dt = abs(stamp - stamp_ns)
            if dt <= self.tolerance_ns and (best_dt is None or dt < best_dt):
                best, best_dt = stamp, dt
        if best is not None:
            partner = other.pop(best)
            self.matched += 1
            return (item, partner) if stream == "estimate" else (partner, item)
        mine = self._pending[stream]
        mine[stamp_ns] = item
        while len(mine) > self.max_pending:
            mine.popitem(last=False)
            self.expired += 1
        return None

    def pending(self, stream: str) -> int:
        return len(self._pending[stream])


class ReplayEvaluation:
    """Depth and segmentation metrics accumulated over matched (estimate, truth) pairs."""

    def __init__(self, class_names: Sequence[str], *, resize_truth: bool = False) -> None:
        """``resize_truth``: ground truth at another resolution than the estimate is resized
        to it (nearest for ids, valid-pixel averaging for depth) instead of skipped."""
        self.class_names = tuple(class_names)
        self.resize_truth = resize_truth
        self.depth = DepthMetrics()
        self.seg = SegmentationMetrics(len(self.class_names), self.class_names)
        self.depth_pairs = 0
        self.label_pairs = 0
        self.skipped: dict[str, int] = {}

    def _skip(self, why: str) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1

    def add_depth(self, estimate: np.ndarray, truth: np.ndarray) -> bool:
        """Add one depth pair (metres, NaN / <= 0 = invalid, +-inf not scored); False when
        shapes differ (and ``resize_truth`` is off)."""
        if estimate.shape != truth.shape and self.resize_truth:
            bad = ~(np.isfinite(truth) & (truth > 0))
            truth, gone = resize_image(
                np.where(bad, 0, truth).astype(np.float32), estimate.shape[:2], "valid", bad
            )
            truth = np.where(gone, np.nan, truth) if gone is not None else truth
        if estimate.shape != truth.shape:
            self._skip(f"depth size {estimate.shape} != truth {truth.shape}")
            return False
        # Pixels without an estimate (NaN) are not scored: the node marks them unknown on
        # purpose (no sensor return), like the ignored pixels of the ground truth.
        self.depth.update(estimate, truth, valid=np.isfinite(estimate))
        self.depth_pairs += 1
        return True

    def add_label(self, estimate: np.ndarray, truth: np.ndarray) -> bool:
        """Add one class-id pair (uint8, 255 = unknown); False when shapes differ (and
        ``resize_truth`` is off)."""
        if estimate.shape != truth.shape and self.resize_truth:
            truth, _ = resize_image(np.asarray(truth), estimate.shape[:2], "nearest")
        if estimate.shape != truth.shape:
            self._skip(f"label size {estimate.shape} != truth {truth.shape}")
            return False
        self.seg.update(estimate, truth)
        self.label_pairs += 1
        return True

    def results(self) -> dict[str, Any]:
        """JSON-ready metrics; depth/segmentation are None when no pair of that kind came."""
        return {
            "depth": self.depth.compute() if self.depth_pairs else None,
            "segmentation": self.seg.compute() if self.label_pairs else None,
            "depth_pairs": self.depth_pairs,
            "label_pairs": self.label_pairs,
            "skipped": dict(self.skipped),
        }


def format_report(results: dict[str, Any], title: str = "mmed evaluation") -> str:
    """Markdown: the Table-1 depth row, per image (the paper's definition) and pooled, and the
    IoU table, with mmed-eval's column names (``mmed_core.evaluation.evaluator``)."""
    columns = (*IMAGE_DEPTH_KEYS, *DEPTH_KEYS)
    depth = results.get("depth") or {}
    lines = [
        f"## {title}",
        "",
        f"Depth ({results.get('depth_pairs', 0)} matched frames). {DEPTH_NOTE}",
        "",
        markdown_table([HEADERS[c] for c in columns], [[depth.get(c) for c in columns]]),
    ]
    seg = results.get("segmentation")
    lines += ["", f"Segmentation ({results.get('label_pairs', 0)} matched frames):", ""]
    if seg:
        names = list(seg["iou"])
        lines.append(
            markdown_table([*names, HEADERS["miou"]], [[*seg["iou"].values(), seg["miou"]]])
        )
        lines += absent_classes_note({"estimates": seg})  # its blank line ends the table
    else:
        lines.append("no matched label frames")
    if results.get("skipped"):
        lines += ["", f"skipped: {results['skipped']}"]
    return "\n".join(lines) + "\n"
