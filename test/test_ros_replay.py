# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Bag -> `mmed-bag play` -> perception_node -> evaluator_node: the robot workflow, over DDS.

Every frame of the bag must reach the evaluator as a matched (estimate, ground truth) pair.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mmed_ros.bag_cli import main as bag_main
from mmed_ros.testing import apply_ros_env, start_module, stop_process, tiny_checkpoint

pytestmark = pytest.mark.ros


def test_replayed_bag_is_scored_frame_by_frame(tmp_path: Path) -> None:
    ck = tiny_checkpoint(tmp_path / "m.safetensors")
    bag = tmp_path / "bag"
    assert bag_main(["make", str(bag), "--frames", "6", "--size", "48", "64", "--rate", "4"]) == 0
    report = tmp_path / "metrics.json"
    node = start_module(
        "mmed_ros.perception_node",
        [
            "--ros-args",
            "-p",
            f"weights:={ck}",
            "-p",
            "rgb_topic:=/camera/color/image_raw",
            "-p",
            "depth_topic:=/camera/depth/image_raw",
        ],
        log=tmp_path / "node.log",
    )
    evaluator = start_module(
        "mmed_ros.evaluator_node",
        ["--ros-args", "-p", f"output_json:={report}", "-p", f"weights:={ck}"],
        log=tmp_path / "evaluator.log",
    )
    try:
        apply_ros_env()
        assert (
            bag_main(
                [
                    "play",
                    str(bag),
                    "--wait-for",
                    "/camera/color/image_raw",
                    "--wait-timeout",
                    "60",
                    # the node's outputs must also reach the evaluator, a match the player
                    # cannot observe (discovery takes a second or two): as the demo does
                    "--delay",
                    "3",
                ]
            )
            == 0
        )
        import time

        time.sleep(2.0)  # the last frame's estimates are still in flight
    finally:
        assert stop_process(evaluator) == 0, (tmp_path / "evaluator.log").read_text()
        stop_process(node)
    results = json.loads(report.read_text())
    assert results["depth_pairs"] == 6 and results["label_pairs"] == 6, results
    assert 0 <= results["segmentation"]["miou"] <= 1 and results["depth"]["rmse"] > 0


def test_play_refuses_a_folder_that_is_not_a_bag(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert bag_main(["play", str(tmp_path)]) == 1
    assert "not a rosbag2 directory (no metadata.yaml)" in capsys.readouterr().err
    assert os.path.isdir(tmp_path)


def test_play_reports_a_damaged_bag_by_name(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bag = tmp_path / "bag"
    assert bag_main(["make", str(bag), "--frames", "2", "--size", "16", "16"]) == 0
    storage = next(bag.glob("*.mcap"))
    data = bytearray(storage.read_bytes())
    for i in range(64, len(data) - 64, 97):  # garble the records, keep the file's size
        data[i] ^= 0x5A
    storage.write_bytes(bytes(data))
    apply_ros_env()
    assert bag_main(["play", str(bag)]) == 1
    err = capsys.readouterr().err
    assert f"bag {bag}: cannot be read" in err and "damaged or not a rosbag2" in err
