# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""perception_node in its own process over real DDS (loopback only), driven from this process.

python -m pytest test/test_ros_perception_node.py -m ros
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")

from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue  # noqa: E402
from rcl_interfaces.srv import SetParameters  # noqa: E402
from rclpy.qos import qos_profile_sensor_data  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402

from mmed_ros.testing import (  # noqa: E402
    NodeRecorder,
    Probe,
    image_msg,
    start_module,
    stop_process,
    tiny_checkpoint,
)

pytestmark = pytest.mark.ros
NS = "/pt"
OUT = f"{NS}/perception"
START_TIMEOUT = 60.0


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.safetensors")


@pytest.fixture(scope="module")
def probe() -> Iterator[Probe]:
    p = Probe()
    yield p
    p.close()


class Node(NodeRecorder):
    """The node process, its log, and what the probe received from it."""

    def __init__(self, proc: Any, log: Path, probe: Probe) -> None:
        topics = {
            "rgb/label": Image,
            "rgb/label_color": Image,
            "rgb/label_overlay": Image,
            "rgb/label_confidence": Image,
            "rgb/depth": Image,
            "rgb/camera_info": CameraInfo,
            "depth/label": Image,
            "depth/label_color": Image,
            "depth/label_confidence": Image,
            "depth/camera_info": CameraInfo,
        }
        super().__init__(proc, log, probe, OUT, topics)
        self.pubs = {
            "rgb": probe.node.create_publisher(Image, f"{NS}/cam/rgb", qos_profile_sensor_data),
            "rgb_info": probe.node.create_publisher(
                CameraInfo, f"{NS}/cam/camera_info", qos_profile_sensor_data
            ),
            "depth": probe.node.create_publisher(
                Image, f"{NS}/depth/image", qos_profile_sensor_data
            ),
            "depth_info": probe.node.create_publisher(
                CameraInfo, f"{NS}/depth/camera_info", qos_profile_sensor_data
            ),
        }


@pytest.fixture(scope="module")
def node(ckpt: Path, probe: Probe, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    log = tmp_path_factory.mktemp("node") / "perception.log"
    # device cuda + cpu_fallback: on a machine without CUDA this also checks the fallback.
    proc = start_module(
        "mmed_ros.perception_node",
        [
            "--ros-args",
            "-r",
            f"__ns:={NS}",
            "-p",
            f"weights:={ckpt}",
            "-p",
            "device:=cuda",
            "-p",
            "cpu_fallback:=true",
            "-p",
            "rgb_topic:=cam/rgb",
            "-p",
            "depth_topic:=depth/image",
            "-p",
            "publish_overlay:=true",
            "-p",
            "publish_confidence:=true",
            "-p",
            "diagnostics_period:=0.5",
            "-p",
            "rgbd_sync:=false",  # sources one by one here; pairs: test_ros_node_runtime.py
            "--log-level",
            "info",
        ],
        log=log,
    )
    n = Node(proc, log, probe)
    try:
        ready = probe.spin_until(
            lambda: (
                proc.poll() is not None
                or (
                    probe.node.count_subscribers(f"{NS}/cam/rgb") > 0
                    and probe.node.count_publishers(f"{OUT}/rgb/label") > 0
                )
            ),
            START_TIMEOUT,
        )
        assert ready and proc.poll() is None, f"node did not come up:\n{n.text()}"
        yield n
    finally:
        code = stop_process(proc)
        assert code == 0, f"perception_node exited with {code} on SIGINT:\n{n.text()}"


def info(width: int, height: int, stamp_ns: int, frame: str) -> CameraInfo:
    msg = CameraInfo(
        width=width,
        height=height,
        distortion_model="plumb_bob",
        k=[40.0, 0, width / 2, 0, 40, height / 2, 0, 0, 1],
        p=[40.0, 0, width / 2, 0, 0, 40, height / 2, 0, 0, 0, 1, 0],
    )
    msg.header.frame_id = frame
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, 10**9)
    return msg


def publish_until(node: Node, msgs: dict[str, Any], done: Any, timeout: float = 20.0) -> bool:
    """Best-effort inputs may be lost while discovery settles: resend until ``done()``."""
    end = time.monotonic() + timeout
    while time.monotonic() < end and not done():
        for key, msg in msgs.items():
            node.pubs[key].publish(msg)
        node.probe.spin_until(done, 0.3)
    return bool(done())


def test_every_output_has_the_inputs_encoding_size_stamp_and_frame(node: Node) -> None:
    rng = np.random.default_rng(0)
    rgb_stamp, depth_stamp = 1_000_000_123, 2_000_000_456
    depth = rng.uniform(0.6, 6.0, (24, 40)).astype(np.float32)
    depth[:6] = np.nan  # no sensor return
    depth[6:8] = np.inf  # beyond range: a valid far reading
    # Different sizes for RGB and depth, bgr8 input: each source keeps its own resolution.
    msgs = {
        "rgb_info": info(64, 48, rgb_stamp, "rgb_optical"),
        "depth_info": info(80, 48, depth_stamp, "depth_optical"),  # 2x the image: rescaled
        "rgb": image_msg(
            rng.integers(0, 256, (48, 64, 3), dtype=np.uint8), "bgr8", rgb_stamp, "rgb_optical"
        ),
        "depth": image_msg(depth, "32FC1", depth_stamp, "depth_optical"),
    }
    want = {
        "rgb/label": "mono8",
        "rgb/label_color": "rgb8",
        "rgb/label_overlay": "rgb8",
        "rgb/label_confidence": "32FC1",
        "rgb/depth": "32FC1",
        "rgb/camera_info": None,
        "depth/label": "mono8",
        "depth/label_color": "rgb8",
        "depth/label_confidence": "32FC1",
        "depth/camera_info": None,
    }

    def all_in() -> bool:
        return all(node.stamps(t) & {rgb_stamp, depth_stamp} for t in want)

    assert publish_until(node, msgs, all_in), (
        f"missing {[t for t in want if not node.got.get(t)]}\n{node.text()}"
    )
    for topic, encoding in want.items():
        src = topic.split("/")[0]
        stamp, frame, size = (
            (rgb_stamp, "rgb_optical", (48, 64))
            if src == "rgb"
            else (depth_stamp, "depth_optical", (24, 40))
        )
        msg = next(
            m
            for _, m in node.got[topic]
            if m.header.stamp.sec * 10**9 + m.header.stamp.nanosec == stamp
        )
        assert msg.header.frame_id == frame, topic
        assert (msg.height, msg.width) == size, topic
        if encoding:
            assert msg.encoding == encoding, topic
            assert msg.step * msg.height == len(msg.data), topic
    ids = np.frombuffer(bytes(node.got["depth/label"][-1][1].data), np.uint8).reshape(24, 40)
    # no return -> unknown; +inf (REP 118: beyond range) is a reading
    assert np.all(ids[:6] == 255) and np.all(ids[6:] < 12)
    depth_out = node.got["rgb/depth"][-1][1]
    assert np.isfinite(np.frombuffer(bytes(depth_out.data), np.float32)).all()
    cam = next(m for _, m in node.got["depth/camera_info"])
    assert cam.k[0] == pytest.approx(20.0) and cam.k[2] == pytest.approx(20.0)  # 40 -> 20
    assert "falling back" in node.text() or "device=cuda" in node.text()
    assert "model card: method=mmed" in node.text()


def test_bad_messages_are_logged_counted_and_skipped(node: Node) -> None:
    good = np.zeros((16, 20, 3), np.uint8)
    bad = []
    for change in (
        {"encoding": "jpeg"},
        {"height": 0},
        {"step": 7},
        {"data": b"\x01" * 9},
        {"width": 1 << 20, "height": 1 << 20},
    ):
        msg = image_msg(good, "rgb8", 5_000_000_000, "rgb_optical")
        for key, value in change.items():
            if key == "data":
                msg.data = __import__("array").array("B", value)
            else:
                setattr(msg, key, value)
        bad.append(msg)
    depth_bad = image_msg(np.zeros((4, 4, 3), np.uint8), "rgb8", 5_000_000_000, "d")

    def errors() -> int:
        return int(node.diag[-1].get("errors_total", 0)) if node.diag else 0

    before = errors()
    for msg in bad:
        node.pubs["rgb"].publish(msg)
        node.probe.spin_until(lambda: False, 0.15)  # one at a time: the mailbox keeps 1
    node.pubs["depth"].publish(depth_bad)
    # Still alive: a good frame after the bad ones is processed.
    stamp = 6_000_000_000
    assert publish_until(
        node,
        {"rgb": image_msg(good, "rgb8", stamp, "rgb_optical")},
        lambda: stamp in node.stamps("rgb/label"),
    )
    assert node.probe.spin_until(lambda: errors() >= before + 4, 5.0), node.diag[-1:]
    text = node.text()
    assert "rgb image skipped" in text and "expected" in text
    assert node.proc.poll() is None


def test_flood_drops_frames_and_latency_stays_bounded(node: Node) -> None:
    frame = np.random.default_rng(1).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    base, n = 10_000_000_000, 150
    dropped_before = int(node.diag[-1]["dropped_total"]) if node.diag else 0
    t0 = time.monotonic()
    for i in range(n):  # as fast as we can: far above inference rate
        node.pubs["rgb"].publish(image_msg(frame, "rgb8", base + i, "rgb_optical"))
        if i % 10 == 0:
            node.probe.executor.spin_once(timeout_sec=0)
    sent = time.monotonic()
    last = base + n - 1
    # The newest frame is processed soon after the flood: no backlog of old ones in between.
    assert publish_until(
        node,
        {"rgb": image_msg(frame, "rgb8", last, "rgb_optical")},
        lambda: last in node.stamps("rgb/label"),
        timeout=10.0,
    )
    arrival = max(
        t
        for t, m in node.got["rgb/label"]
        if m.header.stamp.sec * 10**9 + m.header.stamp.nanosec == last
    )
    assert arrival - sent < 3.0
    processed = len({s for s in node.stamps("rgb/label") if base <= s <= last})
    assert processed < n / 2, f"{processed} of {n} processed: frames queue up instead of dropping"
    assert node.probe.spin_until(
        lambda: node.diag and int(node.diag[-1]["dropped_total"]) > dropped_before, 5.0
    )
    assert float(node.diag[-1]["latency_max_ms"]) < 3000.0
    assert time.monotonic() - t0 < 30.0


def _set(probe: Probe, name: str, value: ParameterValue) -> Any:
    request = SetParameters.Request(parameters=[Parameter(name=name, value=value)])
    return probe.call(SetParameters, f"{OUT}/set_parameters", request).results[0]


def test_parameters_are_validated_with_a_reason(node: Node) -> None:
    bad = _set(
        node.probe,
        "min_confidence",
        ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=2.0),
    )
    assert not bad.successful and "min_confidence" in bad.reason
    ro = _set(
        node.probe,
        "device",
        ParameterValue(type=ParameterType.PARAMETER_STRING, string_value="cpu"),
    )
    assert not ro.successful
    ok = _set(
        node.probe,
        "publish_color",
        ParameterValue(type=ParameterType.PARAMETER_BOOL, bool_value=False),
    )
    assert ok.successful


@pytest.mark.parametrize(
    "args,needle",
    [
        (["-p", "weights:=/nonexistent/model.safetensors"], "not found"),
        (["-p", "device:=gpu7"], "device: expected"),
        (["-p", "paths:=[rgb->sonar]"], "path 'rgb->sonar'"),
    ],
)
def test_bad_start_configuration_exits_non_zero_with_a_clear_line(
    ckpt: Path, tmp_path: Path, args: list[str], needle: str
) -> None:
    log = tmp_path / "node.log"
    full = ["--ros-args", "-r", "__ns:=/pt_bad", "-p", f"weights:={ckpt}", *args]
    proc = start_module("mmed_ros.perception_node", full, log=log)
    try:
        code = proc.wait(timeout=START_TIMEOUT)
    finally:
        stop_process(proc)
    text = log.read_text(errors="replace")
    assert code == 1, text
    assert "cannot start" in text and needle in text, text
    assert "Traceback" not in text, text
