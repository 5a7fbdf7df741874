# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""The whole mmed demo: train -> evaluate -> figure -> bag -> ROS node -> estimates.

    python -m mmed_ros.demo [--out outputs/demo] [--quick]      (what `./dev demo` runs)

The first stages are mmed_core's (``mmed_core.cli.demo``: synthetic data, training, evaluation,
figure). This module appends the robot side, which lives here because mmed_core never touches
ROS: a rosbag2 of a synthetic camera trajectory, a replay of that bag through
``perception_node`` scored live by ``evaluator_node`` (real rclpy over DDS, separate
processes), and an offline pass that writes the estimates into a new bag for RViz/Foxglove.

The nodes run on the loopback only, in a random ROS domain, so the demo neither sees nor
disturbs a robot on the same network.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence

from mmed_core.cli import demo as core_demo
from mmed_core.cli.console import console_main
from mmed_core.cli.demo import DemoContext, Stage
from mmed_core.deploy.checkpoint import shipped_model
from mmed_ros.node_processes import apply_ros_env, start_module, stop_process

__all__ = ["STAGES", "main"]

BAG_FRAMES = 40
BAG_SIZE = (240, 320)  # camera-like resolution; the engine resizes to the model's input
PATHS = "[rgb->label,rgb->depth,depth->label]"


def _bag(ctx: DemoContext) -> None:
    from mmed_ros.bag_cli import write_synthetic_bag

    bag = ctx.out_dir / "bag"
    frames = 16 if ctx.preset == "tiny" else BAG_FRAMES
    # A room the model never saw: training scenes use other seeds.
    counts = write_synthetic_bag(
        bag, frames=frames, size=BAG_SIZE, seed=ctx.seed + 1000, rate=10.0, force=True
    )
    print(f"  {len(counts)} topics, {max(counts.values())} frames at {BAG_SIZE[1]}x{BAG_SIZE[0]}")
    ctx.outputs["bag"] = str(bag)
    ctx.outputs["bag frames"] = max(counts.values())


class _OutputWatch:
    """When the node's estimates last arrived, seen from this process (its own rclpy context),
    so the replay's end waits for the estimates still in flight instead of a fixed time."""

    def __init__(self, topic: str) -> None:
        import rclpy
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import qos_profile_sensor_data
        from sensor_msgs.msg import Image

        self.context = Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node("mmed_demo_watch", context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.last = time.monotonic()
        # best effort matches a reliable or best-effort publisher; only arrival times matter
        self.node.create_subscription(Image, topic, self._on_msg, qos_profile_sensor_data)

    def _on_msg(self, _msg: object) -> None:
        self.last = time.monotonic()

    def wait_quiet(self, quiet: float, limit: float) -> None:
        """Spin until no estimate arrived for ``quiet`` seconds (at most ``limit`` seconds)."""
        end = time.monotonic() + limit
        self.last = time.monotonic()
        while time.monotonic() - self.last < quiet and time.monotonic() < end:
            self.executor.spin_once(timeout_sec=0.05)

    def wait_graph(self, wanted: dict[str, tuple[int, int]], limit: float) -> bool:
        """Spin until every topic has at least (publishers, subscribers) in the ROS graph, at
        most ``limit`` seconds; whether it happened. The player can only wait for its own
        subscribers; this sees perception_node's estimates reach evaluator_node's graph."""
        end = time.monotonic() + limit
        while time.monotonic() < end:
            if all(
                self.node.count_publishers(t) >= p and self.node.count_subscribers(t) >= s
                for t, (p, s) in wanted.items()
            ):
                return True
            self.executor.spin_once(timeout_sec=0.1)
        return False

    def close(self) -> None:
        import rclpy

        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


def _node(ctx: DemoContext) -> None:
    try:
        import rclpy  # noqa: F401
    except ImportError:
        print(
            "  skipped: rclpy is not importable (source your ROS 2 setup, or install "
            "requirements/ros-pypi.txt on a machine without ROS)"
        )
        return
    from mmed_ros.bag_cli import main as bag_main

    apply_ros_env()  # loopback only, private domain: see the module docstring
    # The node runs what a user gets on first launch: the shipped indoor model when the
    # checkout has it; the model trained above otherwise (it still drives the estimates stage).
    weights = shipped_model() or ctx.checkpoint
    print(f"  node model: {weights}")
    ctx.outputs["node model"] = str(weights)
    report = ctx.out_dir / "node_metrics.json"
    report.unlink(missing_ok=True)
    logs = ctx.out_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    node = start_module(
        "mmed_ros.perception_node",
        [
            "--ros-args",
            "-p",
            f"weights:={weights}",
            "-p",
            "rgb_topic:=/camera/color/image_raw",
            "-p",
            "depth_topic:=/camera/depth/image_raw",
            "-p",
            f"paths:={PATHS}",
            # The player offers reliable QoS: best-effort loses fragmented images on a busy
            # loopback (docs/ROS.md, "QoS of large images").
            "-p",
            "qos_reliability:=reliable",
            "-p",
            "qos_depth:=20",
        ],
        log=logs / "perception_node.log",
    )
    evaluator = start_module(
        "mmed_ros.evaluator_node",
        ["--ros-args", "-p", f"output_json:={report}", "-p", f"weights:={weights}"],
        log=logs / "evaluator_node.log",
    )
    watch = None
    try:
        watch = _OutputWatch("/perception/rgb/label")  # discovered while the player waits
        # The node's estimates must reach the evaluator before the first frame (a fixed delay
        # alone lost every frame once on a busy machine): one publisher each, the evaluator
        # subscribed (and, on the label, this watch too).
        estimates = {"/perception/rgb/label": (1, 2), "/perception/rgb/depth": (1, 1)}
        if not watch.wait_graph(estimates, limit=60.0):
            print("  note: the estimates were not seen to reach evaluator_node within 60 s")
        # At 1x the recorded 10 Hz; the node keeps only the newest frame, so frames that
        # arrive while it is busy are dropped (and counted on /diagnostics), as on a robot.
        rc = bag_main(
            [
                "play",
                str(ctx.out_dir / "bag"),
                "--wait-for",
                "/camera/color/image_raw",
                "/camera/depth/image_raw",
                "/gt/label",
                "/gt/depth",
                "--wait-timeout",
                "60",
                # Seen in the graph (above) is not yet matched: reliable endpoints match
                # a moment later, and a frame sent before that is lost; once every frame
                # of the quick demo was (its node saw RGB without depth).
                "--delay",
                "5",
                # Half speed: rclpy hands frames to the node in bursts on a busy
                # machine, and the node keeps only the newest of a burst.
                "--rate",
                "0.5",
            ]
        )
        # The last frames' estimates are still in flight: wait until none has come for 1.5 s
        # (the evaluator receives each alongside and scores it on arrival).
        watch.wait_quiet(quiet=1.5, limit=30.0)
    finally:
        if watch is not None:
            watch.close()
        stop_process(evaluator)
        stop_process(node)
    if rc != 0 or not report.is_file():
        print(f"  the replay did not complete; see {logs}")
        return
    res = json.loads(report.read_text())
    d, s = res.get("depth") or {}, res.get("segmentation") or {}
    total = ctx.outputs.get("bag frames", "?")
    # Not every frame gets scored: the node keeps only the newest frame (drops are counted on
    # /diagnostics) and the evaluator only scores estimates whose ground truth it also received.
    print(
        f"  perception_node over DDS, scored by evaluator_node: {res.get('label_pairs', 0)} of "
        f"{total} frames matched; rgb->depth Rel {d.get('rel', float('nan')):.3f}, rgb->label "
        f"mIoU {s.get('miou', float('nan')):.3f}"
    )
    ctx.outputs["node metrics"] = str(report)
    ctx.outputs["node logs"] = str(logs)


def _estimates(ctx: DemoContext) -> None:
    from mmed_core.atomic import atomic_write_json
    from mmed_core.deploy.inference import InferenceEngine
    from mmed_ros.bag_cli import evaluate_bag
    from mmed_ros.params import parse_paths

    engine = InferenceEngine.from_checkpoint(ctx.checkpoint, device="cpu")
    out = ctx.out_dir / "estimates_bag"
    res = evaluate_bag(
        ctx.out_dir / "bag",
        engine,
        out=out,
        force=True,
        paths=parse_paths(["rgb->label", "rgb->depth", "depth->label"]),
    )
    for src in sorted(k for k in res if k not in ("frames", "notes")):
        d, s = res[src].get("depth") or {}, res[src].get("segmentation") or {}
        parts = [f"{src}: {res['frames'][src]} frames"]
        if d:
            parts.append(f"depth Rel {d['rel']:.3f} RMSE {d['rmse']:.3f} m")
        if s:
            parts.append(f"mIoU {s['miou']:.3f}")
        print("  " + ", ".join(parts))
    atomic_write_json(ctx.out_dir / "estimates_metrics.json", res)
    ctx.outputs["estimates bag (RViz/Foxglove)"] = str(out)
    ctx.outputs["estimates metrics"] = str(ctx.out_dir / "estimates_metrics.json")


STAGES: list[Stage] = [
    *core_demo.STAGES,
    Stage("bag", _bag, "write a rosbag2 of a synthetic camera trajectory with ground truth"),
    Stage("node", _node, "replay the bag through perception_node, scored by evaluator_node"),
    Stage("estimates", _estimates, "run the model over the bag offline, write an estimates bag"),
]


@console_main
def main(argv: Sequence[str] | None = None) -> int:
    return core_demo.main(argv, stages=STAGES)


if __name__ == "__main__":
    sys.exit(main())
