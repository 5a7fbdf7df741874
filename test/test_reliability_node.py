# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""perception_node faults not covered by test_ros_perception_node.py, over loopback DDS.

    python -m pytest test/test_reliability_node.py

One node process (its own namespace) is driven from this process: bad-input warnings are
throttled while every bad frame is still counted on /diagnostics; depth that is all NaN / inf /
zero; a publisher that comes and goes; the weights file deleted and replaced under the running
node; and a missing GPU without the CPU fallback. After each fault the next good frame must come
out.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")

from rclpy.qos import qos_profile_sensor_data  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402

from mmed_ros.testing import (  # noqa: E402
    NodeRecorder,
    Probe,
    image_msg,
    start_module,
    stop_process,
    tiny_checkpoint,
)

pytestmark = pytest.mark.ros
NS = "/rel"
OUT = f"{NS}/perception"
START_TIMEOUT = 60.0


class NodeUnderTest(NodeRecorder):
    def __init__(self, proc: Any, log: Path, probe: Probe, weights: Path) -> None:
        super().__init__(
            proc, log, probe, OUT, {t: Image for t in ("rgb/label", "depth/label", "depth/depth")}
        )
        self.weights = weights
        self.pubs = {
            "rgb": self.publisher("rgb"),
            "depth": probe.node.create_publisher(Image, f"{NS}/depth", qos_profile_sensor_data),
        }

    def publisher(self, src: str) -> Any:
        return self.probe.node.create_publisher(Image, f"{NS}/{src}", qos_profile_sensor_data)

    def counter(self, key: str) -> int:
        return int(self.diag[-1].get(key, 0)) if self.diag else 0

    def serves(self, src: str, stamp: int, timeout: float = 15.0, pub: Any = None) -> bool:
        """Resend a good frame (best effort may lose one) until its label comes back."""
        good = (
            (np.full((16, 20, 3), 90, np.uint8), "rgb8")
            if src == "rgb"
            else (np.full((16, 20), 2.0, np.float32), "32FC1")
        )
        msg = image_msg(good[0], good[1], stamp, f"{src}_frame")
        pub = pub or self.pubs[src]
        end = time.monotonic() + timeout
        while time.monotonic() < end and stamp not in self.stamps(f"{src}/label"):
            pub.publish(msg)
            self.probe.spin_until(lambda: stamp in self.stamps(f"{src}/label"), 0.3)
        return stamp in self.stamps(f"{src}/label")


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeUnderTest]:
    folder = tmp_path_factory.mktemp("rel_node")
    weights = tiny_checkpoint(folder / "model.safetensors")
    log = folder / "perception.log"
    probe = Probe("mmed_reliability_probe")
    proc = start_module(
        "mmed_ros.perception_node",
        [
            "--ros-args",
            "-r",
            f"__ns:={NS}",
            "-p",
            f"weights:={weights}",
            "-p",
            "device:=cpu",
            "-p",
            "rgb_topic:=rgb",
            "-p",
            "depth_topic:=depth",
            "-p",
            "paths:=[rgb->label, depth->label, depth->depth]",
            "-p",
            "diagnostics_period:=0.2",
        ],
        log=log,
    )
    n = NodeUnderTest(proc, log, probe, weights)
    try:
        assert probe.spin_until(
            lambda: (
                proc.poll() is not None
                or (
                    probe.node.count_subscribers(f"{NS}/rgb") > 0
                    and probe.node.count_publishers(f"{OUT}/rgb/label") > 0
                )
            ),
            START_TIMEOUT,
        ), n.text()
        assert proc.poll() is None, n.text()
        yield n
    finally:
        code = stop_process(proc)
        probe.close()
        assert code == 0, f"exit {code}:\n{n.text()}"


def test_bad_frame_warnings_are_throttled_but_every_bad_frame_is_counted(
    node: NodeUnderTest,
) -> None:
    assert node.serves("rgb", 1_000_000_000)
    before = node.counter("errors_total")
    bad = image_msg(np.zeros((16, 20, 3), np.uint8), "rgb8", 1_500_000_000, "rgb_frame")
    bad.step = 7  # shorter than a row
    logged_before = node.text().count("rgb image skipped")
    sent = 12
    for _ in range(sent):  # spaced so the one-slot mailbox does not merge them
        node.pubs["rgb"].publish(bad)
        node.probe.spin_until(lambda: False, 0.12)
    assert node.probe.spin_until(
        lambda: node.counter("errors_total") >= before + sent // 2, 5.0
    ), node.diag[-1:]
    assert node.serves("rgb", 2_000_000_000)
    assert int(node.diag[-1].get("errors[rgb: ConversionError]", 0)) >= sent // 2
    logged = node.text().count("rgb image skipped") - logged_before
    # One warning per 5 s window at most: the 12 bad frames took ~1.5 s.
    assert 1 <= logged <= 2, node.text()


# REP 118: NaN, 0 and negative depth are "no measurement"; +-inf are readings (far / too close)
@pytest.mark.parametrize("fill", [np.nan, -1.0, 0.0])
def test_depth_without_a_single_valid_pixel_gives_unknown_outputs(
    node: NodeUnderTest, fill: float
) -> None:
    stamp = 3_000_000_000 + {0.0: 0, -1.0: 2}.get(fill, 3)
    msg = image_msg(np.full((12, 18), fill, np.float32), "32FC1", stamp, "depth_frame")
    end = time.monotonic() + 15.0
    while time.monotonic() < end and stamp not in node.stamps("depth/depth"):
        node.pubs["depth"].publish(msg)
        node.probe.spin_until(lambda: stamp in node.stamps("depth/depth"), 0.3)
    label = next(
        m
        for m in node.messages("depth/label")
        if m.header.stamp.nanosec + m.header.stamp.sec * 10**9 == stamp
    )
    depth = next(
        m
        for m in node.messages("depth/depth")
        if m.header.stamp.nanosec + m.header.stamp.sec * 10**9 == stamp
    )
    assert (np.frombuffer(bytes(label.data), np.uint8) == 255).all()
    assert np.isnan(np.frombuffer(bytes(depth.data), np.float32)).all()
    assert node.serves("depth", stamp + 10)


def test_a_publisher_that_comes_and_goes_is_served_again(node: NodeUnderTest) -> None:
    for round_ in range(3):
        pub = node.publisher("rgb")
        assert node.serves("rgb", 4_000_000_000 + round_, pub=pub)
        node.probe.node.destroy_publisher(pub)
        node.probe.spin_until(lambda: False, 0.3)  # the node sees the publisher vanish
    assert node.proc.poll() is None
    assert "Traceback" not in node.text()


def _start_expecting_exit(log: Path, ns: str, weights: Path, *params: str) -> tuple[int, str]:
    """Start a node that should refuse to start; its exit code and log."""
    args = ["--ros-args", "-r", f"__ns:={ns}", "-p", f"weights:={weights}"]
    for p in params:
        args += ["-p", p]
    proc = start_module("mmed_ros.perception_node", args, log=log)
    try:
        code = proc.wait(timeout=START_TIMEOUT)
    finally:
        stop_process(proc)
    return code, log.read_text(errors="replace")


def test_weights_deleted_or_replaced_while_running(node: NodeUnderTest, tmp_path: Path) -> None:
    # The node loaded and verified the weights at start; it never reads the file again, so a
    # file that vanishes or is swapped cannot change (or break) what it runs.
    shutil.copy(node.weights, tmp_path / "backup.safetensors")
    node.weights.unlink()
    assert node.serves("rgb", 5_000_000_000)
    node.weights.write_bytes(b"\0" * 1000)  # replaced by garbage
    assert node.serves("rgb", 5_000_000_001)
    labels = {
        m.header.stamp.sec * 10**9 + m.header.stamp.nanosec: bytes(m.data)
        for m in node.messages("rgb/label")
    }
    assert labels[5_000_000_001] == labels[2_000_000_000]  # same input, same model, same output
    # ...and a restart with the swapped file refuses to start instead of running it.
    code, text = _start_expecting_exit(
        tmp_path / "restart.log", "/rel_restart", node.weights, "device:=cpu"
    )
    assert code == 1 and "cannot start" in text and "sha256" in text, text


def test_missing_gpu_without_fallback_refuses_to_start(tmp_path: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present here; the fallback path is tested in test_inference.py")
    weights = tiny_checkpoint(tmp_path / "model.safetensors")
    code, text = _start_expecting_exit(
        tmp_path / "node.log", "/rel_gpu", weights, "device:=cuda:0"
    )
    assert code == 1 and "cannot start" in text and "CUDA is not available" in text, text
    assert "cpu_fallback" in text or "CPU fallback" in text, text
    assert "Traceback" not in text, text
