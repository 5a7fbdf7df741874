# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""evaluator_node in its own process: stamp matching over DDS, report service, final report."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")

from rclpy.qos import QoSProfile  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402

from mmed_ros.testing import Probe, image_msg, start_module, stop_process  # noqa: E402

pytestmark = pytest.mark.ros
NS = "/ev"


@pytest.fixture
def probe() -> Iterator[Probe]:
    p = Probe("mmed_eval_probe")
    yield p
    p.close()


def test_matches_by_stamp_and_reports_on_service_and_shutdown(
    probe: Probe, tmp_path: Path
) -> None:
    log, js = tmp_path / "evaluator.log", tmp_path / "metrics.json"
    proc = start_module(
        "mmed_ros.evaluator_node",
        [
            "--ros-args",
            "-r",
            f"__ns:={NS}",
            "-p",
            "class_names:=[a,b]",
            "-p",
            f"output_json:={js}",
        ],
        log=log,
    )
    try:
        topics = {
            "est_label": f"{NS}/perception/rgb/label",
            "gt_label": f"{NS}/gt/label",
            "est_depth": f"{NS}/perception/rgb/depth",
            "gt_depth": f"{NS}/gt/depth",
        }
        pubs = {
            k: probe.node.create_publisher(Image, t, QoSProfile(depth=20))
            for k, t in topics.items()
        }
        assert probe.spin_until(
            lambda: (
                proc.poll() is not None
                # matched by each publisher: a reliable message then reaches the evaluator
                or all(p.get_subscription_count() > 0 for p in pubs.values())
            ),
            30.0,
        ), log.read_text()
        truth = np.array([[0, 1], [1, 255]], np.uint8)
        depth = np.array([[1.0, 2.0], [4.0, np.nan]], np.float32)
        for i in range(3):
            stamp = 1_000_000_000 * (i + 1)
            # Estimates and truth in opposite orders: matching is by stamp, not arrival.
            pubs["gt_label"].publish(image_msg(truth, "mono8", stamp, "cam"))
            pubs["est_label"].publish(
                image_msg(np.array([[0, 1], [0, 0]], np.uint8), "mono8", stamp + 200_000, "cam")
            )  # 0.2 ms later
            pubs["est_depth"].publish(image_msg(depth * 2, "32FC1", stamp, "cam"))
            pubs["gt_depth"].publish(image_msg(depth, "32FC1", stamp, "cam"))
        pubs["est_label"].publish(image_msg(truth, "mono8", 99_000_000_000, "cam"))  # no truth
        pubs["gt_label"].publish(image_msg(np.zeros((3, 3, 3), np.uint8), "rgb8", 5, "cam"))

        report = ""
        end = time.monotonic() + 10.0
        while "Segmentation (3 matched frames)" not in report and time.monotonic() < end:
            report = probe.call(Trigger, f"{NS}/evaluator/report", Trigger.Request()).message
        assert "Segmentation (3 matched frames)" in report, report
        assert "Depth (3 matched frames)" in report
        # gt [[0,1],[1,-]] vs est [[0,1],[0,0]]: IoU(a) = 1/2, IoU(b) = 1/2.
        assert "| a | b | mIoU |" in report and "| 0.500 | 0.500 | 0.500 |" in report
        assert "| 1.000 |" in report  # Rel of a 2x estimate is exactly 1
        # The bad message was published last: its warning may still be on its way.
        end = time.monotonic() + 10.0
        while (
            "label truth image skipped" not in log.read_text(errors="replace")
            and time.monotonic() < end
        ):
            probe.spin_until(lambda: False, 0.2)
    finally:
        code = stop_process(proc)
    text = log.read_text(errors="replace")
    assert code == 0, text
    assert "Segmentation (3 matched frames)" in text  # final report at shutdown
    assert "label truth image skipped" in text and "'rgb8'" in text
    results = json.loads(js.read_text())
    assert results["label_pairs"] == 3 and results["depth"]["rel"] == pytest.approx(1.0)
    assert results["bad_inputs"] == 1


def test_class_names_come_from_the_model_card(probe: Probe, tmp_path: Path) -> None:
    from mmed_ros.testing import tiny_checkpoint

    ckpt = tiny_checkpoint(tmp_path / "xyz.safetensors", class_names=("x", "y", "z"))
    log = tmp_path / "evaluator.log"
    proc = start_module(
        "mmed_ros.evaluator_node",
        [
            "--ros-args",
            "-r",
            "__ns:=/ev2",
            "-p",
            f"weights:={ckpt}",
            "-p",
            "depth_estimate_topic:=''",
        ],
        log=log,
    )
    try:
        client = probe.node.create_client(Trigger, "/ev2/evaluator/report")
        assert probe.spin_until(
            lambda: proc.poll() is not None or client.service_is_ready(), 30.0
        ), log.read_text()
        probe.node.destroy_client(client)
        reply = probe.call(Trigger, "/ev2/evaluator/report", Trigger.Request())
        assert "no matched label frames" in reply.message
    finally:
        assert stop_process(proc) == 0, log.read_text()
    text = log.read_text()
    assert "label:" in text and "depth:" not in text  # depth pair switched off
    assert "classes: x, y, z" in text
    bad = start_module(
        "mmed_ros.evaluator_node",
        ["--ros-args", "-r", "__ns:=/ev3", "-p", f"weights:={tmp_path / 'none.json'}"],
        log=tmp_path / "bad.log",
    )
    try:
        assert bad.wait(timeout=60) == 1
    finally:
        stop_process(bad)
    assert "cannot start" in (tmp_path / "bad.log").read_text()
