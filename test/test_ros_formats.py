# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""perception_node with the formats cameras and bags use, over real DDS (loopback only):
CompressedImage on <topic>/compressed and <topic>/compressedDepth, letterboxed network-size
outputs with their camera_info, and a corrupt frame that is counted, not fatal.

python -m pytest test/test_ros_formats.py -m ros
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")

from sensor_msgs.msg import CameraInfo, CompressedImage, Image  # noqa: E402

from mmed_ros.conversions import (  # noqa: E402
    compressed_depth_fields,
    compressed_fields,
    msg_stamp_ns,
    set_stamp,
)
from mmed_ros.testing import (  # noqa: E402
    NodeRecorder,
    Probe,
    start_module,
    stop_process,
    tiny_checkpoint,
)

pytestmark = pytest.mark.ros
NS = "/pf"
OUT = f"{NS}/perception"
NET = (32, 32)  # the tiny checkpoint's input size


@pytest.fixture(scope="module")
def probe() -> Iterator[Probe]:
    p = Probe("mmed_formats_probe")
    yield p
    p.close()


def compressed_msg(fields: dict[str, Any], stamp_ns: int, frame: str) -> CompressedImage:
    msg = CompressedImage(format=fields["format"])
    msg.data = bytes(fields["data"])
    msg.header.frame_id = frame
    set_stamp(msg.header.stamp, stamp_ns)
    return msg


def info(width: int, height: int, frame: str) -> CameraInfo:
    msg = CameraInfo(width=width, height=height, distortion_model="plumb_bob")
    msg.k = [50.0, 0.0, width / 2, 0.0, 50.0, height / 2, 0.0, 0.0, 1.0]
    msg.p = [50.0, 0.0, width / 2, 0.0, 0.0, 50.0, height / 2, 0.0, 0.0, 0.0, 1.0, 0.0]
    msg.header.frame_id = frame
    return msg


@pytest.fixture(scope="module")
def node(probe: Probe, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeRecorder]:
    tmp = tmp_path_factory.mktemp("formats")
    ckpt = tiny_checkpoint(tmp / "tiny.safetensors", input_size=NET)
    log = tmp / "perception.log"
    args = {
        "weights": str(ckpt),
        "device": "cpu",
        "rgb_topic": "cam/image",
        "depth_topic": "depth/image",
        "rgb_transport": "compressed",
        "depth_transport": "compressedDepth",
        "paths": "[rgb->label,depth->label]",
        "resize": "letterbox",
        "output_size": "network",
        "publish_confidence": "true",
        "qos_reliability": "reliable",
        "rgbd_sync": "false",  # sources one by one here (pairs: test_ros_node_runtime.py)
    }
    ros_args = ["--ros-args", "-r", f"__ns:={NS}"]
    for key, value in args.items():
        ros_args += ["-p", f"{key}:={value}"]
    proc = start_module("mmed_ros.perception_node", ros_args, log=log)
    topics = {
        "rgb/label": Image,
        "rgb/label_confidence": Image,
        "rgb/camera_info": CameraInfo,
        "depth/label": Image,
        "depth/camera_info": CameraInfo,
    }
    rec = NodeRecorder(proc, log, probe, OUT, topics)
    qos = 10  # reliable, like the node's inputs here
    rec.pubs = {  # type: ignore[attr-defined]
        "rgb": probe.node.create_publisher(CompressedImage, f"{NS}/cam/image/compressed", 10),
        "rgb_info": probe.node.create_publisher(CameraInfo, f"{NS}/cam/camera_info", qos),
        "depth": probe.node.create_publisher(
            CompressedImage, f"{NS}/depth/image/compressedDepth", 10
        ),
        "depth_info": probe.node.create_publisher(CameraInfo, f"{NS}/depth/camera_info", qos),
    }
    try:
        ready = probe.spin_until(
            lambda: (
                proc.poll() is not None
                or (
                    probe.node.count_subscribers(f"{NS}/cam/image/compressed") > 0
                    and probe.node.count_subscribers(f"{NS}/depth/image/compressedDepth") > 0
                    and probe.node.count_publishers(f"{OUT}/rgb/label") > 0
                )
            ),
            60.0,
        )
        assert ready and proc.poll() is None, f"node did not come up:\n{rec.text()}"
        yield rec
    finally:
        code = stop_process(proc)
        assert code == 0, f"perception_node exited with {code}:\n{rec.text()}"


def send_until(node: NodeRecorder, msgs: list[tuple[str, Any]], done: Any) -> bool:
    end = time.monotonic() + 30.0
    while time.monotonic() < end and not done():
        for key, msg in msgs:
            node.pubs[key].publish(msg)  # type: ignore[attr-defined]
        node.probe.spin_until(done, 0.3)
    return bool(done())


def test_compressed_inputs_give_letterboxed_network_size_outputs(node: NodeRecorder) -> None:
    rng = np.random.default_rng(0)
    stamp = 3_000_000_000
    rgb = rng.integers(0, 256, (24, 48, 3), dtype=np.uint8)  # 2:1 -> 8 rows of padding
    depth = rng.uniform(0.5, 5.0, (24, 48)).astype(np.float32)
    depth[:, :4] = np.nan
    msgs = [
        ("rgb_info", info(48, 24, "rgb_optical")),
        ("depth_info", info(48, 24, "depth_optical")),
        ("rgb", compressed_msg(compressed_fields(rgb, "rgb8", "jpeg"), stamp, "rgb_optical")),
        ("depth", compressed_msg(compressed_depth_fields(depth), stamp, "depth_optical")),
    ]

    def done() -> bool:
        return all(
            any(msg_stamp_ns(m) == stamp for m in node.messages(t))
            for t in ("rgb/label", "rgb/camera_info", "depth/label", "depth/camera_info")
        )

    assert send_until(node, msgs, done), f"no outputs:\n{node.text()}"
    label = next(m for m in node.messages("rgb/label") if msg_stamp_ns(m) == stamp)
    assert (label.height, label.width, label.encoding) == (*NET, "mono8")
    assert label.header.frame_id == "rgb_optical"
    ids = np.frombuffer(bytes(label.data), np.uint8).reshape(NET)
    assert np.all(ids[:8] == 255) and np.all(ids[24:] == 255)  # padding: unknown
    assert np.all(ids[8:24] < 12)
    conf = next(m for m in node.messages("rgb/label_confidence") if msg_stamp_ns(m) == stamp)
    c = np.frombuffer(bytes(conf.data), np.float32).reshape(NET)
    assert np.all(np.isnan(c[:8])) and np.all(np.isfinite(c[8:24]))
    cam = next(m for m in node.messages("rgb/camera_info") if msg_stamp_ns(m) == stamp)
    assert (cam.width, cam.height) == (32, 32)
    scale = 32 / 48  # letterbox: 48x24 -> 32x16 at row 8
    np.testing.assert_allclose(
        cam.k, [50 * scale, 0, 24 * scale, 0, 50 * scale, 12 * scale + 8, 0, 0, 1]
    )
    d_ids = next(m for m in node.messages("depth/label") if msg_stamp_ns(m) == stamp)
    dl = np.frombuffer(bytes(d_ids.data), np.uint8).reshape(NET)
    assert np.all(dl[8:24, :2] == 255) and np.all(dl[8:24, 4:] < 12)  # NaN columns unknown


def test_a_corrupt_compressed_frame_is_skipped_and_the_node_keeps_running(
    node: NodeRecorder,
) -> None:
    good = compressed_fields(np.zeros((24, 48, 3), np.uint8), "rgb8", "png")
    bad = {"format": good["format"], "data": bytes(good["data"])[:30]}
    node.pubs["rgb"].publish(compressed_msg(bad, 7_000_000_000, "rgb_optical"))  # type: ignore[attr-defined]
    node.probe.spin_until(lambda: "CompressedImageError" in node.text(), 10.0)
    assert "CompressedImageError" in node.text() or "do not decode" in node.text()
    stamp = 8_000_000_000
    msgs = [("rgb", compressed_msg(good, stamp, "rgb_optical"))]
    assert send_until(
        node, msgs, lambda: any(msg_stamp_ns(m) == stamp for m in node.messages("rgb/label"))
    ), node.text()
    assert node.proc.poll() is None


def _set(probe: Probe, name: str, value: str) -> Any:
    from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
    from rcl_interfaces.srv import SetParameters

    param = Parameter(
        name=name, value=ParameterValue(type=ParameterType.PARAMETER_STRING, string_value=value)
    )
    request = SetParameters.Request(parameters=[param])
    return probe.call(SetParameters, f"{OUT}/set_parameters", request).results[0]


def test_output_size_changes_at_runtime_with_its_camera_info(node: NodeRecorder) -> None:
    bad = _set(node.probe, "resize", "squash")
    assert not bad.successful and "resize: expected one of" in bad.reason
    assert _set(node.probe, "output_size", "input").successful
    stamp = 9_000_000_000
    rgb = np.zeros((24, 48, 3), np.uint8)
    msgs = [
        ("rgb_info", info(48, 24, "rgb_optical")),
        ("rgb", compressed_msg(compressed_fields(rgb, "rgb8", "png"), stamp, "rgb_optical")),
    ]

    def done() -> bool:
        return all(
            any(msg_stamp_ns(m) == stamp for m in node.messages(t))
            for t in ("rgb/label", "rgb/camera_info")
        )

    assert send_until(node, msgs, done), node.text()
    label = next(m for m in node.messages("rgb/label") if msg_stamp_ns(m) == stamp)
    cam = next(m for m in node.messages("rgb/camera_info") if msg_stamp_ns(m) == stamp)
    assert (label.height, label.width) == (24, 48) and (cam.height, cam.width) == (24, 48)
    np.testing.assert_allclose(cam.k, info(48, 24, "x").k)
