# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""The perception node's ROS-free parts: mailbox, stats, outputs, parameters, matching, metrics.

No rclpy.init here: these run anywhere numpy and torch do.
"""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

from mmed_core.deploy.geometry import Fit
from mmed_core.errors import ConfigError
from mmed_ros.conversions import CompressedImageError, compressed_fields
from mmed_ros.evaluation import ReplayEvaluation, StampMatcher, format_report
from mmed_ros.params import PERCEPTION_PARAMS, parse_paths, validate_params
from mmed_ros.pipeline import (
    FrameProcessor,
    LatestMailbox,
    PipelineStats,
    camera_info_topic,
    output_topics,
    require_metric_depth,
    scale_intrinsics,
    transport_topic,
)


def test_mailbox_keeps_only_the_newest_item_per_source_and_counts_drops() -> None:
    box: LatestMailbox[int] = LatestMailbox()
    assert box.put("rgb", 1) is False
    assert box.put("rgb", 2) is True  # 1 was never processed: dropped
    assert box.put("depth", 10) is False
    assert box.take(0.1) == {"rgb": 2, "depth": 10}
    assert box.take(0.05) == {}  # empty after a take; waits at most the timeout


def test_mailbox_wakes_a_waiting_worker_and_close_releases_it() -> None:
    box: LatestMailbox[str] = LatestMailbox()
    got: list[dict] = []
    worker = threading.Thread(target=lambda: got.append(box.take(5.0)))
    worker.start()
    time.sleep(0.05)
    box.put("rgb", "frame")
    worker.join(2.0)
    assert got == [{"rgb": "frame"}]
    t0 = time.monotonic()
    closer = threading.Timer(0.05, box.close)
    closer.start()
    assert box.take(5.0) == {} and time.monotonic() - t0 < 2.0


def test_stats_snapshot() -> None:
    stats = PipelineStats(window=3)
    stats.count("received", "rgb", 5)
    stats.count("dropped", "rgb", 2)
    stats.count("errors", "rgb: ConversionError")
    for lat in (0.01, 0.02, 0.03, 0.04):
        stats.add_timing(lat, lat / 2)
    snap = stats.snapshot()
    assert snap["received[rgb]"] == 5 and snap["dropped_total"] == 2
    assert snap["errors[rgb: ConversionError]"] == 1
    assert snap["latency_mean_ms"] == pytest.approx(30.0)  # window of 3: 0.02..0.04
    assert snap["latency_max_ms"] == pytest.approx(40.0)
    assert np.isnan(PipelineStats().snapshot()["latency_last_ms"])


def test_output_topics_follow_paths_and_options() -> None:
    paths = [("rgb", "label"), ("rgb", "depth"), ("depth", "label")]
    topics = dict(output_topics(paths, {"publish_color": True}))
    assert topics == {
        "rgb/label": "mono8",
        "rgb/label_color": "rgb8",
        "rgb/depth": "32FC1",
        "depth/label": "mono8",
        "depth/label_color": "rgb8",
        "rgb/camera_info": "sensor_msgs/CameraInfo",
        "depth/camera_info": "sensor_msgs/CameraInfo",
    }
    everything = dict(
        output_topics(
            paths, {"publish_color": True, "publish_overlay": True, "publish_confidence": True}
        )
    )
    assert "rgb/label_overlay" in everything and "depth/label_overlay" not in everything
    assert everything["depth/label_confidence"] == "32FC1"


def test_camera_info_topic_and_intrinsics_scaling() -> None:
    assert camera_info_topic("/cam/color/image_raw") == "/cam/color/camera_info"
    assert camera_info_topic("image") == "camera_info"
    k = [500.0, 0, 320, 0, 500, 240, 0, 0, 1]
    p = [500.0, 0, 320, -25, 0, 500, 240, 0, 0, 0, 1, 0]
    k2, p2 = scale_intrinsics(k, p, (640, 480), (320, 240))
    assert k2 == [250.0, 0, 160, 0, 250, 120, 0, 0, 1]
    assert p2[:4] == [250.0, 0, 160, -12.5] and p2[8:] == [0, 0, 1, 0]
    assert scale_intrinsics(k, p, (0, 0), (320, 240))[0] == k  # unset size: unchanged


class FakeEngine:
    """Engine stand-in: label = column index, depth = 2 m, so the processor is checked alone."""

    def infer(self, inputs, paths, min_confidence=0.0, **geometry):
        ((src, image),) = inputs.items()
        h, w = image.shape[:2]
        out = {}
        for s, d in paths:
            if d == "label":
                ids = np.tile(np.arange(w, dtype=np.uint8) % 3, (h, 1))
                out[(s, d)] = SimpleNamespace(
                    array=ids, confidence=np.full((h, w), 0.9, np.float32)
                )
            else:
                out[(s, d)] = SimpleNamespace(array=np.full((h, w), 2.0, np.float32))
        return out


def test_frame_processor_builds_every_enabled_output() -> None:
    proc = FrameProcessor(
        FakeEngine(),
        [("rgb", "label"), ("rgb", "depth"), ("depth", "label")],
        palette=[(255, 0, 0), (0, 255, 0), (0, 0, 255)],
    )
    rgb = np.zeros((4, 6, 3), np.uint8)
    opts = {
        "publish_color": True,
        "publish_overlay": True,
        "publish_confidence": True,
        "overlay_alpha": 1.0,
    }
    outs = {o.topic: o for o in proc.process("rgb", rgb, opts)}
    assert set(outs) == {
        "rgb/label",
        "rgb/label_color",
        "rgb/label_overlay",
        "rgb/label_confidence",
        "rgb/depth",
    }
    np.testing.assert_array_equal(
        outs["rgb/label_color"].array[0, :3], [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    )
    np.testing.assert_array_equal(outs["rgb/label_overlay"].array, outs["rgb/label_color"].array)
    depth_outs = proc.process("depth", np.ones((2, 2), np.float32), {"publish_color": False})
    assert [o.topic for o in depth_outs] == ["depth/label"]
    assert proc.process("label", np.zeros((2, 2), np.uint8), opts) == []


def test_parameter_validation_gives_reasons() -> None:
    assert (
        validate_params(
            PERCEPTION_PARAMS, {"device": "cuda:1", "precision": "bf16", "paths": ["rgb->label"]}
        )
        == []
    )
    reasons = validate_params(
        PERCEPTION_PARAMS,
        {
            "device": "gpu",
            "precision": "int8",
            "paths": ["rgb->sonar"],
            "overlay_alpha": 1.5,
            "qos_depth": 0,
            "weights": "",
            "rgb_topic": "bad topic",
            "nope": 1,
        },
    )
    joined = "\n".join(reasons)
    for needle in (
        "device: expected",
        "precision: expected one of",
        "path 'rgb->sonar'",
        "overlay_alpha: expected <= 1.0",
        "qos_depth: expected >= 1",
        "weights: expected a checkpoint path",
        "rgb_topic: expected a ROS topic",
        "nope: unknown parameter",
    ):
        assert needle in joined
    assert parse_paths(["rgb->label", " rgb -> label ", "depth->depth"]) == [
        ("rgb", "label"),
        ("depth", "depth"),
    ]


def test_stamp_matcher_pairs_in_any_order_and_bounds_memory() -> None:
    m: StampMatcher[str] = StampMatcher(tolerance_ns=1000, max_pending=2)
    assert m.add("estimate", 100, "e1") is None
    assert m.add("truth", 600, "t1") == ("e1", "t1")  # within 1 us
    assert m.add("truth", 5000, "t2") is None
    assert m.add("estimate", 10_000, "e3") is None  # 5 us apart: no match
    for stamp in (20_000, 30_000, 40_000):
        m.add("truth", stamp, f"t{stamp}")
    assert m.pending("truth") == 2 and m.expired == 2  # t2 and t20000 expired
    assert m.add("estimate", 40_500, "e4") == ("e4", "t40000")
    with pytest.raises(ValueError, match="stream"):
        m.add("prediction", 1, "x")


def test_replay_evaluation_and_report() -> None:
    ev = ReplayEvaluation(("a", "b"))
    truth = np.array([[1.0, 2.0], [4.0, np.nan]], np.float32)
    ev.add_depth(truth.copy(), truth)
    ev.add_depth(np.ones((3, 3), np.float32), truth)  # wrong size: skipped, counted
    ev.add_label(np.array([[0, 1], [1, 255]], np.uint8), np.array([[0, 1], [0, 255]], np.uint8))
    res = ev.results()
    assert res["depth"]["rmse"] == 0.0 and res["depth"]["delta1"] == 1.0
    assert res["segmentation"]["iou"] == {"a": 0.5, "b": 0.5}
    assert res["depth_pairs"] == 1 and list(res["skipped"].values()) == [1]
    text = format_report(res)
    assert "| Rel (per img) | log10 (per img) | RMSE (per img) | Rel (pooled) |" in text
    assert "| δ<1.25 | δ<1.25² | δ<1.25³ |" in text and "| a | b | mIoU |" in text
    assert "| 0.500 | 0.500 | 0.500 |" in text
    assert "classes present" not in text  # a and b both in the truth
    ev = ReplayEvaluation(("a", "b", "c"))
    ev.add_label(np.array([[0, 2]], np.uint8), np.array([[0, 1]], np.uint8))  # c: predicted only
    text = format_report(ev.results())
    assert "Mean over the classes present: estimates 0.500 over 2 (absent: c)." in text
    assert "| - | - | - | - | - | - | - | - | - |" in format_report(
        ReplayEvaluation(("a",)).results()
    )


def test_report_shows_depth_per_image_and_pooled() -> None:
    # frames with 4 and 1 scored pixels: the paper's per-image mean (0.75 + 0) / 2 differs
    # from the pooled 3 / 5
    ev = ReplayEvaluation(("a",))
    ev.add_depth(np.array([[2.0, 2.0], [2.0, 1.0]], np.float32), np.ones((2, 2), np.float32))
    ev.add_depth(np.array([[1.0, np.nan], [np.nan, np.nan]], np.float32), np.ones((2, 2)))
    depth = ev.results()["depth"]
    assert depth["rel_img"] == pytest.approx(0.375) and depth["rel"] == pytest.approx(0.6)
    row = format_report(ev.results()).splitlines()
    values = row[row.index(next(r for r in row if r.startswith("| Rel (per img)"))) + 2]
    assert values.startswith("| 0.375 | ") and "| 0.600 |" in values


def test_disparity_models_cannot_publish_metric_depth() -> None:
    disparity = SimpleNamespace(depth_units="disparity")
    require_metric_depth(disparity, [("rgb", "label")], "node")  # no depth: fine
    with pytest.raises(ConfigError, match="node: the model's depth is in 'disparity'"):
        require_metric_depth(disparity, [("rgb", "depth")], "node")
    require_metric_depth(SimpleNamespace(depth_units="m"), [("depth", "depth")], "node")


def test_transport_topics_follow_image_transport() -> None:
    assert transport_topic("/cam/color/image_raw", "raw") == "/cam/color/image_raw"
    assert transport_topic("/cam/color/image_raw", "compressed") == (
        "/cam/color/image_raw/compressed"
    )
    assert transport_topic("depth/image_raw", "compressedDepth") == (
        "depth/image_raw/compressedDepth"
    )
    with pytest.raises(ConfigError, match="transport: expected one of"):
        transport_topic("x", "theora")


def test_processor_decodes_compressed_frames_and_counts_corrupt_ones() -> None:
    proc = FrameProcessor(FakeEngine(), [("rgb", "label")], palette=[(0, 0, 0)] * 3)
    rgb = np.random.default_rng(0).integers(0, 256, (6, 8, 3), dtype=np.uint8)
    f = compressed_fields(rgb, "rgb8", "png")
    good = SimpleNamespace(format=f["format"], data=bytes(f["data"]))
    np.testing.assert_array_equal(proc.decode("rgb", good, 1000), rgb)
    bad = SimpleNamespace(format=f["format"], data=bytes(f["data"])[:20])
    for _ in range(2):
        with pytest.raises(CompressedImageError):
            proc.decode("rgb", bad, 1000)
    assert proc.corrupt == {"rgb": 2}


def test_confidence_is_masked_where_the_label_is_unknown() -> None:
    class Engine(FakeEngine):
        def infer(self, inputs, paths, min_confidence=0.0, **geometry):
            ids = np.array([[0, 255]], np.uint8)
            conf = np.array([[0.9, 0.4]], np.float32)
            return {p: SimpleNamespace(array=ids, confidence=conf) for p in paths}

    proc = FrameProcessor(Engine(), [("rgb", "label")], palette=[(0, 0, 0)])
    outs = {
        o.topic: o
        for o in proc.process("rgb", np.zeros((1, 2, 3), np.uint8), {"publish_confidence": True})
    }
    conf = outs["rgb/label_confidence"].array
    assert conf[0, 0] == pytest.approx(0.9) and np.isnan(conf[0, 1])


def test_camera_info_matches_each_output_size() -> None:
    proc = FrameProcessor(None, [("rgb", "label")], palette=[])
    k = [200.0, 0, 96, 0, 200, 48, 0, 0, 1]
    p = [200.0, 0, 96, 0, 0, 200, 48, 0, 0, 0, 1, 0]
    # no frame processed yet, or outputs at input size: the input's (rescaled) intrinsics
    assert proc.camera_info("rgb", k, p, (192, 96), (96, 48))[2] == (96, 48)
    proc.fits["rgb"] = Fit.compute("letterbox", (48, 96), (32, 32))
    k2, p2, size = proc.camera_info("rgb", k, p, (192, 96), (96, 48), "network")
    assert size == (32, 32)
    # 192x96 info -> 96x48 image (x0.5), letterbox x1/3 with 8 rows of padding on top
    assert k2[0] == pytest.approx(200 * 0.5 / 3) and k2[2] == pytest.approx(96 * 0.5 / 3)
    assert k2[5] == pytest.approx(48 * 0.5 / 3 + 8)
    assert p2[2] == k2[2] and p2[6] == k2[5]


def test_replay_evaluation_resizes_truth_only_when_asked() -> None:
    names = ("a", "b")
    est_ids, truth_ids = np.zeros((4, 6), np.uint8), np.zeros((8, 12), np.uint8)
    est_depth = np.full((4, 6), 2.0, np.float32)
    truth_depth = np.full((8, 12), 2.0, np.float32)
    truth_depth[:, :6] = np.nan  # the left half has no ground truth
    truth_depth[0, 6:] = np.inf  # beyond range: not scorable
    plain = ReplayEvaluation(names)
    assert not plain.add_label(est_ids, truth_ids) and plain.label_pairs == 0
    assert any("label size" in k for k in plain.skipped)
    resized = ReplayEvaluation(names, resize_truth=True)
    assert resized.add_label(est_ids, truth_ids) and resized.add_depth(est_depth, truth_depth)
    res = resized.results()
    assert res["segmentation"]["iou"]["a"] == 1.0
    assert res["depth"]["rel"] == pytest.approx(0.0) and resized.depth.n == 4 * 3
