# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Metrics equal hand-computed values on small arrays."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mmed_core.errors import InputError
from mmed_core.evaluation.metrics import DepthMetrics, SegmentationMetrics


def test_depth_metrics_hand_computed() -> None:
    gt = np.array([[1.0, 2.0], [4.0, 0.0]])  # last pixel invalid
    pred = np.array([[1.0, 3.0], [2.0, 7.0]])
    m = DepthMetrics()
    m.update(pred, gt)
    r = m.compute()
    assert r["rel"] == pytest.approx((0 + 0.5 + 0.5) / 3)
    assert r["log10"] == pytest.approx((0 + math.log10(1.5) + math.log10(2)) / 3)
    assert r["rmse"] == pytest.approx(math.sqrt((0 + 1 + 4) / 3))
    assert r["delta1"] == pytest.approx(1 / 3)
    assert r["delta2"] == pytest.approx(2 / 3)  # 1.5 < 1.5625
    assert r["delta3"] == pytest.approx(2 / 3)  # 2 > 1.953


def test_depth_metrics_stream_over_pixels_not_images() -> None:
    a, b = DepthMetrics(), DepthMetrics()
    g1, p1 = np.array([1.0]), np.array([2.0])
    g2, p2 = np.array([1.0, 1.0, 1.0]), np.array([1.0, 1.0, 1.0])
    a.update(p1, g1)
    a.update(p2, g2)
    b.update(np.concatenate([p1, p2]), np.concatenate([g1, g2]))
    pooled = ("rel", "log10", "rmse", "delta1", "delta2", "delta3")
    assert [a.compute()[k] for k in pooled] == [b.compute()[k] for k in pooled]
    assert a.compute()["rel"] == pytest.approx(0.25)


def test_depth_metrics_per_image_as_the_paper() -> None:
    # Two images in one batch (leading axis): image 1 has Rel 1.0 over 1 pixel, image 2 Rel 0
    # over 3 pixels. Per image: mean(1.0, 0) = 0.5; pooled: 1/4. RMSE per image mean(1, 0).
    gt = np.array([[[1.0, 0.0], [0.0, 0.0]], [[1.0, 1.0], [1.0, 0.0]]])
    pred = np.array([[[2.0, 5.0], [5.0, 5.0]], [[1.0, 1.0], [1.0, 9.0]]])
    m = DepthMetrics()
    m.update(pred, gt)
    r = m.compute()
    assert r["rel_img"] == pytest.approx(0.5) and r["rel"] == pytest.approx(0.25)
    assert r["rmse_img"] == pytest.approx(0.5) and r["rmse"] == pytest.approx(math.sqrt(1 / 4))
    assert r["log10_img"] == pytest.approx(math.log10(2) / 2)
    # streaming image by image gives the same as the batch; an all-invalid image is left out
    s = DepthMetrics()
    s.update(pred[0], gt[0])
    s.update(pred[1], gt[1])
    s.update(np.ones((2, 2)), np.zeros((2, 2)))
    assert s.compute() == pytest.approx(r)


def test_iou_from_one_confusion_matrix() -> None:
    m = SegmentationMetrics(3, ("a", "b", "c"))
    m.update(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 255]))  # 255 ignored
    m.update(np.array([2, 255]), np.array([1, 0]))  # predicting unknown is a miss
    r = m.compute()
    # a: TP1 FP1(gt b pred a) FN1 (pred unknown) -> 1/3; b: TP1 FP0 FN2 -> 1/3; c: TP0 FP1 -> 0
    assert r["iou"]["a"] == pytest.approx(1 / 3)
    assert r["iou"]["b"] == pytest.approx(1 / 3)
    assert r["iou"]["c"] == pytest.approx(0.0)
    assert r["miou"] == pytest.approx((1 / 3 + 1 / 3 + 0) / 3)


def test_absent_class_is_nan_and_left_out_of_mean() -> None:
    m = SegmentationMetrics(3)
    m.update(np.array([0, 1]), np.array([0, 1]))
    r = m.compute()
    assert math.isnan(r["iou"]["2"]) and r["miou"] == pytest.approx(1.0)


def test_mean_over_present_classes_leaves_out_a_predicted_absent_class() -> None:
    """c has no ground-truth pixel but is predicted: IoU 0 in the usual mean, left out of the
    mean over the present classes (what a handful of frames can speak for)."""
    m = SegmentationMetrics(3, ("a", "b", "c"))
    m.update(np.array([0, 0, 1, 2]), np.array([0, 0, 1, 1]))
    r = m.compute()
    assert r["iou"] == pytest.approx({"a": 1.0, "b": 0.5, "c": 0.0})
    assert r["miou"] == pytest.approx(0.5)
    assert r["miou_present"] == pytest.approx(0.75) and r["classes_present"] == ["a", "b"]
    unknown = SegmentationMetrics(2, ("a", "b"))
    unknown.update(np.array([255, 0]), np.array([1, 0]))  # b only missed as unknown: present
    assert unknown.compute()["classes_present"] == ["a", "b"]


def test_shape_mismatch_is_named() -> None:
    with pytest.raises(InputError, match=r"shape \(2,\) but ground truth has \(3,\)"):
        SegmentationMetrics(2).update(np.zeros(2), np.zeros(3))
    with pytest.raises(InputError, match="depth prediction"):
        DepthMetrics().update(np.zeros(2), np.zeros(3))
