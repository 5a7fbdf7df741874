# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""A camera driver stand-in in its own process: RGB + 16UC1 depth + camera_info at a fixed rate.

    python -m benchmarks.fake_camera --ns /cam --rate 30 --size 480 640 --depth --seconds 20 \
        --report sent.json

Publishes like a RealSense/ZED driver: ``<ns>/color/image_raw`` (rgb8) and
``<ns>/depth/image_rect_raw`` (16UC1, millimetres, some zeros = no return), each with its
``camera_info``, sensor-data QoS (best effort, keep last 5) unless ``--reliable``; RGB and depth
of one frame carry the same stamp (the wall clock at publish, so a subscriber on this machine can
compute stamp-to-output latency), ``--depth-offset-ms`` shifts the depth stamps as an unsynced
camera pair would. The messages are built once, only the stamps change, so the publisher costs
little CPU. ``--report`` writes the stamps it published (JSON) when it ends (after
``--seconds`` or on SIGINT/SIGTERM). Used by ``benchmarks/bench_node.py --robot``.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["main"]


def _stop(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ns", default="/camera")
    ap.add_argument("--rate", type=float, default=30.0)
    ap.add_argument("--size", type=int, nargs=2, default=(480, 640), metavar=("H", "W"))
    ap.add_argument("--depth", action="store_true", help="also publish 16UC1 depth")
    ap.add_argument("--no-rgb", action="store_true", help="depth only")
    ap.add_argument("--depth-offset-ms", type=float, default=0.0)
    ap.add_argument("--reliable", action="store_true", help="reliable instead of sensor data")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--delay", type=float, default=0.0, help="seconds to wait before publishing")
    ap.add_argument("--report", help="write the published stamps (ns) here as JSON")
    args = ap.parse_args(argv)
    signal.signal(signal.SIGTERM, _stop)

    import rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
    from sensor_msgs.msg import CameraInfo

    from mmed_ros.testing import image_msg

    rclpy.init()
    node = rclpy.create_node("fake_camera")
    qos = (
        QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
        if args.reliable
        else qos_profile_sensor_data
    )
    h, w = args.size
    rng = np.random.default_rng(0)
    streams: list[tuple[str, Any, Any, Any, int]] = []
    from sensor_msgs.msg import Image

    def info_msg(frame: str) -> CameraInfo:
        f = 0.8 * w
        msg = CameraInfo(width=w, height=h, distortion_model="plumb_bob")
        msg.k = [f, 0.0, w / 2, 0.0, f, h / 2, 0.0, 0.0, 1.0]
        msg.p = [f, 0.0, w / 2, 0.0, 0.0, f, h / 2, 0.0, 0.0, 0.0, 1.0, 0.0]
        msg.header.frame_id = frame
        return msg

    offset_ns = int(args.depth_offset_ms * 1e6)
    if not args.no_rgb:
        rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        streams.append(
            (
                "rgb",
                node.create_publisher(Image, f"{args.ns}/color/image_raw", qos),
                node.create_publisher(CameraInfo, f"{args.ns}/color/camera_info", qos),
                (image_msg(rgb, "rgb8", 0, "color_optical"), info_msg("color_optical")),
                0,
            )
        )
    if args.depth or args.no_rgb:
        depth = rng.integers(400, 6000, (h, w)).astype(np.uint16)
        depth[: h // 10] = 0  # no return
        streams.append(
            (
                "depth",
                node.create_publisher(Image, f"{args.ns}/depth/image_rect_raw", qos),
                node.create_publisher(CameraInfo, f"{args.ns}/depth/camera_info", qos),
                (image_msg(depth, "16UC1", 0, "depth_optical"), info_msg("depth_optical")),
                offset_ns,
            )
        )
    sent: dict[str, list[int]] = {name: [] for name, *_ in streams}
    period = 1.0 / args.rate
    try:
        end_delay = time.monotonic() + args.delay
        while time.monotonic() < end_delay:
            rclpy.spin_once(node, timeout_sec=0.05)
        start = time.monotonic()
        k = 0
        while time.monotonic() - start < args.seconds:
            wait = start + k * period - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            stamp = time.time_ns()
            for name, pub, info_pub, (img, info), off in streams:
                s = stamp + off
                img.header.stamp.sec, img.header.stamp.nanosec = divmod(s, 10**9)
                info.header.stamp = img.header.stamp
                info_pub.publish(info)
                pub.publish(img)
                sent[name].append(s)
            k += 1
    except KeyboardInterrupt:
        pass
    finally:
        if args.report:
            with open(args.report, "w", encoding="utf-8") as fh:
                json.dump(sent, fh)
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
