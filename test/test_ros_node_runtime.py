# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""perception_node as a robot runs it (issue 11), over loopback DDS from this process: RGB-D
pairs from one instant, unpaired frames counted, silent topics named on /diagnostics, input QoS
that follows the publishers, the lifecycle, and clear start-up errors.

    python -m pytest test/test_ros_node_runtime.py
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")

from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from lifecycle_msgs.msg import Transition  # noqa: E402
from lifecycle_msgs.srv import ChangeState, GetState  # noqa: E402
from rcl_interfaces.srv import GetParameters  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data  # noqa: E402
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
START_TIMEOUT = 60.0
MS = 1_000_000


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.safetensors")


@pytest.fixture(scope="module")
def probe() -> Iterator[Probe]:
    p = Probe("mmed_runtime_probe")
    yield p
    p.close()


def start(ckpt: Path, ns: str, log: Path, *params: str) -> Any:
    args = ["--ros-args", "-r", f"__ns:={ns}", "-p", f"weights:={ckpt}", "-p", "device:=cpu"]
    for p in params:
        args += ["-p", p]
    return start_module("mmed_ros.perception_node", args, log=log)


class Statuses:
    """Every /diagnostics status of one node, newest last, by name suffix."""

    def __init__(self, probe: Probe, node: str) -> None:
        self.node = node
        self.seen: dict[str, list[Any]] = {}
        self.sub = probe.node.create_subscription(DiagnosticArray, "/diagnostics", self._on, 20)

    def _on(self, msg: Any) -> None:
        for st in msg.status:
            if st.name.startswith(self.node + ":"):
                self.seen.setdefault(st.name.split(": ", 1)[1], []).append(st)

    def last(self, part: str) -> Any:
        return self.seen[part][-1] if self.seen.get(part) else None

    def values(self, part: str) -> dict[str, str]:
        st = self.last(part)
        return {kv.key: kv.value for kv in st.values} if st else {}


@pytest.fixture(scope="module")
def paired(ckpt: Path, probe: Probe, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    ns = "/rt"
    log = tmp_path_factory.mktemp("paired") / "perception.log"
    proc = start(
        ckpt,
        ns,
        log,
        "rgb_topic:=cam/rgb",
        "depth_topic:=cam/depth",
        "paths:=[rgb->label,depth->label]",
        "sync_slop:=0.01",
        "silence_warn:=2.5",  # above any executor stall of a loaded machine
        "silence_error:=60.0",
        "diagnostics_period:=0.3",
        "qos_recheck_period:=0.3",
        "publish_color:=false",
    )
    rec = NodeRecorder(
        proc, log, probe, f"{ns}/perception", {"rgb/label": Image, "depth/label": Image}
    )
    rec.statuses = Statuses(probe, f"{ns}/perception")  # type: ignore[attr-defined]
    try:
        assert probe.spin_until(
            lambda: proc.poll() is not None or probe.node.count_subscribers(f"{ns}/cam/depth") > 0,
            START_TIMEOUT,
        ), rec.text()
        assert proc.poll() is None, rec.text()
        yield rec
    finally:
        code = stop_process(proc)
        assert code == 0, f"exit {code} on SIGINT:\n{rec.text()}"


def test_silent_inputs_are_named_with_their_publishers_qos(paired: Any) -> None:
    st = paired.statuses
    assert paired.probe.spin_until(
        lambda: st.last("input depth") is not None and st.last("input depth").level != b"\x00",
        10.0,
    ), paired.text()
    msg = st.last("input depth").message
    assert "no message yet on /rt/cam/depth" in msg and "no publisher" in msg, msg
    assert st.last("inference").level != b"\x00"


def test_rgbd_pairs_come_from_one_instant_and_unpaired_frames_are_counted(paired: Any) -> None:
    probe = paired.probe
    rgb_pub = probe.node.create_publisher(Image, "/rt/cam/rgb", qos_profile_sensor_data)
    depth_pub = probe.node.create_publisher(Image, "/rt/cam/depth", qos_profile_sensor_data)
    try:
        _pairs(paired, rgb_pub, depth_pub)
    finally:  # the next test needs these best-effort publishers gone
        probe.node.destroy_publisher(rgb_pub)
        probe.node.destroy_publisher(depth_pub)


def _pairs(paired: Any, rgb_pub: Any, depth_pub: Any) -> None:
    probe = paired.probe
    assert probe.spin_until(lambda: rgb_pub.get_subscription_count() > 0, 10.0)
    assert probe.spin_until(lambda: depth_pub.get_subscription_count() > 0, 10.0)
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
    depth = rng.uniform(0.5, 5.0, (24, 32)).astype(np.float32)
    base = 50 * 10**9
    paired_rgb, lone_rgb = [], []
    for i in range(12):
        t = base + i * 100 * MS
        rgb_pub.publish(image_msg(rgb, "rgb8", t, "c"))
        if i % 4 == 1:
            lone_rgb.append(t)  # its depth frame is "lost upstream"
        else:
            depth_pub.publish(image_msg(depth, "32FC1", t + 4 * MS, "d"))
            paired_rgb.append(t)
        probe.spin_until(lambda: False, 0.12)  # slower than inference: nothing superseded
    # The first frame arrives while depth is still silent: it goes alone (no partner yet).
    paired_rgb = paired_rgb[1:]
    done = set(paired_rgb)
    assert probe.spin_until(lambda: done <= paired.stamps("rgb/label"), 15.0), (
        sorted(paired.stamps("rgb/label")),
        paired.text(),
    )
    assert not set(lone_rgb) & paired.stamps("rgb/label")
    # depth outputs carry the depth stamps of the same instants
    assert {t + 4 * MS for t in paired_rgb} <= paired.stamps("depth/label")
    st = paired.statuses
    assert probe.spin_until(
        lambda: int(st.values("inference").get("dropped[rgb:unpaired]", 0)) >= len(lone_rgb),
        5.0,
    ), {k: v for k, v in st.values("inference").items() if "drop" in k}
    rgb_in = st.values("input rgb")
    assert rgb_in["topic"] == "/rt/cam/rgb" and rgb_in["qos"] == "best_effort"


def test_auto_qos_resubscribes_reliable_when_only_reliable_publishers_exist(paired: Any) -> None:
    probe = paired.probe

    def node_reliability() -> Any:
        # The replaced subscription stays until the new one delivers (Handover): any of them.
        subs = [
            s.qos_profile.reliability
            for s in probe.node.get_subscriptions_info_by_topic("/rt/cam/rgb")
            if s.node_name == "perception"
        ]
        return ReliabilityPolicy.RELIABLE if ReliabilityPolicy.RELIABLE in subs else None

    pub = probe.node.create_publisher(
        Image, "/rt/cam/rgb", QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
    )
    try:
        assert probe.spin_until(lambda: node_reliability() == ReliabilityPolicy.RELIABLE, 10.0), (
            paired.text()
        )
        assert "now call for reliable" in paired.text()
        # The first frame on the new subscription completes the handover: taken once, and the
        # replaced subscription goes at the next re-check.
        rgb = np.zeros((24, 32, 3), np.uint8)
        probe.spin_until(lambda: False, 2.0)  # both ends of the new match discovered
        sent = []
        for k in range(10):  # a new stamp each time: a resend must not look like a duplicate
            sent.append(90 * 10**9 + k * MS)
            pub.publish(image_msg(rgb, "rgb8", sent[-1], "c"))
            if probe.spin_until(lambda: bool(set(sent) & paired.stamps("rgb/label")), 1.5):
                break
        assert set(sent) & paired.stamps("rgb/label"), paired.statuses.values("inference")
        probe.spin_until(lambda: False, 1.0)
        outs = [m for m in paired.messages("rgb/label") if m.header.stamp.sec == 90]
        assert len(outs) == len({(m.header.stamp.sec, m.header.stamp.nanosec) for m in outs})

        def node_subs() -> int:
            infos = probe.node.get_subscriptions_info_by_topic("/rt/cam/rgb")
            return sum(1 for s in infos if s.node_name == "perception")

        assert probe.spin_until(lambda: node_subs() == 1, 10.0), node_subs()
    finally:
        probe.node.destroy_publisher(pub)


def _call(probe: Probe, srv_type: Any, name: str, request: Any) -> Any:
    # Sent once: a lifecycle transition may not be repeated.
    return probe.call(srv_type, name, request, 60.0, resend=None)


def test_lifecycle_configure_activate_deactivate(ckpt: Path, probe: Probe, tmp_path: Path) -> None:
    ns = "/lc"
    log = tmp_path / "node.log"
    proc = start(ckpt, ns, log, "autostart:=false", "rgb_topic:=cam/rgb")
    node = f"{ns}/perception"

    def state() -> str:
        return _call(probe, GetState, f"{node}/get_state", GetState.Request()).current_state.label

    def change(transition: int) -> bool:
        req = ChangeState.Request()
        req.transition.id = transition
        return _call(probe, ChangeState, f"{node}/change_state", req).success

    def subscribed() -> bool:
        return probe.node.count_subscribers(f"{ns}/cam/rgb") > 0

    try:
        assert state() == "unconfigured", log.read_text()
        assert not subscribed()
        assert change(Transition.TRANSITION_CONFIGURE) and state() == "inactive"
        names = _call(
            probe,
            GetParameters,
            f"{node}/get_parameters",
            GetParameters.Request(names=["class_names", "class_palette"]),
        ).values
        assert list(names[0].string_array_value)[:2] == ["book", "cabinet"]
        assert names[1].string_array_value[0].startswith("#")
        assert not subscribed()
        assert change(Transition.TRANSITION_ACTIVATE) and state() == "active"
        assert probe.spin_until(subscribed, 10.0)
        assert change(Transition.TRANSITION_DEACTIVATE) and state() == "inactive"
        assert probe.spin_until(lambda: not subscribed(), 10.0)
        assert change(Transition.TRANSITION_ACTIVATE) and state() == "active"
        assert probe.spin_until(subscribed, 10.0)
    finally:
        code = stop_process(proc)
    assert code == 0, log.read_text()


@pytest.mark.parametrize(
    "params,needle",
    [
        (["rgb_topic:="], "have no value"),
        (["silence_warn:=5.0", "silence_error:=1.0"], "silence_error: expected >="),
        (["qos_reliability:=sometimes"], "qos_reliability: expected one of"),
    ],
)
def test_bad_runtime_settings_exit_non_zero_with_a_clear_line(
    ckpt: Path, tmp_path: Path, params: list[str], needle: str
) -> None:
    log = tmp_path / "node.log"
    proc = start(ckpt, "/rt_bad", log, *params)
    try:
        code = proc.wait(timeout=START_TIMEOUT)
    finally:
        stop_process(proc)
    text = log.read_text(errors="replace")
    assert code == 1, text
    assert "cannot start" in text and needle in text, text
    assert "Traceback" not in text, text
