# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""perception_node: live RGB / depth images in, class ids, masks and depth out.

    ros2 run mmed_ros perception_node --ros-args -p weights:=/path/model.safetensors \
        -r rgb/image_raw:=/camera/color/image_raw

Thin glue: callbacks decode nothing, they put the newest message of each source into a
one-slot mailbox; a worker thread decodes it (mmed_ros.conversions), runs the engine
(mmed_core.deploy.inference) through mmed_ros.pipeline and publishes. Topics and parameters are
listed in docs/ROS.md.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from mmed_core.errors import MmedError
from mmed_ros.conversions import image_msg
from mmed_ros.node_utils import declare_specs, make_qos, spin_node, validating_callback
from mmed_ros.params import PERCEPTION_PARAMS, parse_paths
from mmed_ros.pipeline import (
    FrameProcessor,
    LatestMailbox,
    PipelineStats,
    camera_info_topic,
    output_topics,
    require_metric_depth,
    transport_topic,
)

__all__ = ["PerceptionNode", "main"]

_WARN_PERIOD_S = 5.0


class PerceptionNode(Node):
    """Subscribes to the configured inputs, runs the model off the executor, publishes."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("perception", **kwargs)
        # Set before anything can fail: rclpy's shutdown calls destroy_node on a half-built node.
        self._stop = threading.Event()
        self._mailbox: LatestMailbox[tuple[Image, float]] = LatestMailbox()
        self._worker: threading.Thread | None = None
        self._options: dict[str, Any] = {}
        self.add_on_set_parameters_callback(
            validating_callback(PERCEPTION_PARAMS, self._apply_options)
        )
        p = declare_specs(self, PERCEPTION_PARAMS)
        self._options = dict(p)
        self.stats = PipelineStats()
        self._infos: dict[str, CameraInfo] = {}

        from mmed_core.deploy.inference import InferenceEngine

        self.engine = InferenceEngine.from_checkpoint(
            p["weights"],
            device=p["device"],
            precision=p["precision"],
            cpu_fallback=p["cpu_fallback"],
            warn=self.get_logger().warning,
        )
        self.get_logger().info(f"model card: {self.engine.describe()}")
        topics = {"rgb": p["rgb_topic"], "depth": p["depth_topic"], "label": p["label_topic"]}
        paths = [(s, d) for s, d in parse_paths(p["paths"]) if topics.get(s)]
        skipped = [f"{s}->{d}" for s, d in parse_paths(p["paths"]) if not topics.get(s)]
        if skipped:
            self.get_logger().info(f"paths {skipped} skipped: their source topic is empty")
        if not paths:
            raise MmedError(
                f"paths {p['paths']}: none has a subscribed source (rgb_topic="
                f"{p['rgb_topic']!r}, depth_topic={p['depth_topic']!r}, "
                f"label_topic={p['label_topic']!r})"
            )
        self.engine.check_paths(paths)
        require_metric_depth(self.engine.config, paths, f"perception_node ({p['weights']})")
        self.engine.use_backend(p["backend"], paths)
        if p["backend"] != "eager":
            self.get_logger().info(f"backend {p['backend']}: outputs checked against eager")
        self.processor = FrameProcessor(self.engine, paths, self.engine.config.palette)
        self._create_graph(p, topics, paths)
        self._worker = threading.Thread(target=self._work, name="mmed_inference", daemon=True)
        self._worker.start()

    # ------------------------------------------------------------------ setup
    def _create_graph(
        self, p: dict[str, Any], topics: dict[str, str], paths: list[tuple[str, str]]
    ) -> None:
        in_qos = make_qos(p["qos_reliability"], p["qos_depth"])
        out_qos = make_qos(p["output_reliability"], p["output_depth"])
        # Publishers for every output that may be enabled at runtime, so toggling
        # publish_overlay etc. needs no graph change.
        all_on = {"publish_color": True, "publish_overlay": True, "publish_confidence": True}
        self._pubs: dict[str, Any] = {}
        for topic, kind in output_topics(paths, all_on):
            msg_type = CameraInfo if kind == "sensor_msgs/CameraInfo" else Image
            self._pubs[topic] = self.create_publisher(msg_type, f"~/{topic}", out_qos)
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._subs = []
        for src in dict.fromkeys(s for s, _ in paths):
            transport = p[f"{src}_transport"]
            self._subs.append(
                self.create_subscription(
                    Image if transport == "raw" else CompressedImage,
                    transport_topic(topics[src], transport),
                    lambda msg, s=src: self._on_image(s, msg),
                    in_qos,
                )
            )
            info_topic = camera_info_topic(topics[src], p["camera_info_suffix"])
            self._subs.append(
                self.create_subscription(
                    CameraInfo, info_topic, lambda msg, s=src: self._on_info(s, msg), in_qos
                )
            )
            self.get_logger().info(
                f"{src}: {self.resolve_topic_name(transport_topic(topics[src], transport))} "
                f"(+ {self.resolve_topic_name(info_topic)}) -> "
                f"{', '.join(d for s, d in paths if s == src)}"
            )
        self._diag_timer = self.create_timer(p["diagnostics_period"], self._publish_diagnostics)
        self._diag_errors_seen = 0

    def _apply_options(self, changed: dict[str, Any]) -> None:
        # Replace the dict rather than mutate it: the worker reads it without a lock.
        self._options = {**self._options, **changed}

    # ------------------------------------------------------------------ executor side
    def _on_image(self, src: str, msg: Image) -> None:
        self.stats.count("received", src)
        if self._mailbox.put(src, (msg, time.monotonic())):
            self.stats.count("dropped", src)

    def _on_info(self, src: str, msg: CameraInfo) -> None:
        # Only the newest is kept: intrinsics rarely change, and the worker copies what it uses.
        self._infos[src] = msg

    def _publish_diagnostics(self) -> None:
        snap = self.stats.snapshot()
        errors = snap["errors_total"]
        level = DiagnosticStatus.WARN if errors > self._diag_errors_seen else DiagnosticStatus.OK
        self._diag_errors_seen = errors
        status = DiagnosticStatus(
            level=level,
            name=f"{self.get_fully_qualified_name()}: inference",
            hardware_id=str(self.engine.device),
            message=(
                f"{snap['processed_total']} processed, {snap['dropped_total']} dropped, "
                f"{errors} bad inputs; latency {snap['latency_mean_ms']:.1f} ms"
            ),
            values=[
                KeyValue(key=k, value=f"{v:.3f}" if isinstance(v, float) else str(v))
                for k, v in snap.items()
            ],
        )
        out = DiagnosticArray(status=[status])
        out.header.stamp = self.get_clock().now().to_msg()
        self._diag_pub.publish(out)

    # ------------------------------------------------------------------ worker side
    def _work(self) -> None:
        while not self._stop.is_set():
            for src, (msg, arrived) in self._mailbox.take(timeout=0.2).items():
                if self._stop.is_set():
                    return
                self._process(src, msg, arrived)

    def _effective_options(self, src: str) -> dict[str, Any]:
        """The options, with the optional label images off while nobody subscribes to them:
        colourising and blending a 640x480 mask costs milliseconds per frame."""
        options = dict(self._options)
        for key, suffix in (
            ("publish_color", "label_color"),
            ("publish_overlay", "label_overlay"),
            ("publish_confidence", "label_confidence"),
        ):
            pub = self._pubs.get(f"{src}/{suffix}")
            if options.get(key) and pub is not None and pub.get_subscription_count() == 0:
                options[key] = False
        return options

    def _process(self, src: str, msg: Image, arrived: float) -> None:
        options = self._effective_options(src)
        try:
            image = self.processor.decode(src, msg, int(options["max_image_pixels"]))
            t0 = time.monotonic()
            outputs = self.processor.process(src, image, options)
            t1 = time.monotonic()
        except MmedError as exc:  # bad input: say which topic and why, keep running
            self.stats.count("errors", f"{src}: {type(exc).__name__}")
            self.get_logger().warning(
                f"{src} image skipped: {exc}", throttle_duration_sec=_WARN_PERIOD_S
            )
            return
        except Exception as exc:  # noqa: BLE001 - an unexpected failure must not kill the node
            self.stats.count("errors", f"{src}: {type(exc).__name__}")
            self.get_logger().error(
                f"{src} image failed: {type(exc).__name__}: {exc}",
                throttle_duration_sec=_WARN_PERIOD_S,
            )
            return
        for out in outputs:
            self._pubs[out.topic].publish(image_msg(Image, out.array, out.encoding, msg.header))
        self._publish_info(src, msg, image.shape[:2], options)
        self.stats.count("processed", src)
        self.stats.add_timing(time.monotonic() - arrived, t1 - t0)

    def _publish_info(
        self, src: str, msg: Any, image_hw: tuple[int, ...], options: dict[str, Any]
    ) -> None:
        info = self._infos.get(src)
        if info is None:
            self.get_logger().warning(
                f"{src}: no camera_info received yet; outputs go out without one",
                throttle_duration_sec=_WARN_PERIOD_S,
            )
            return
        k, p, (width, height) = self.processor.camera_info(
            src,
            info.k,
            info.p,
            (info.width, info.height),
            (int(image_hw[1]), int(image_hw[0])),
            options.get("output_size", "input"),
        )
        out = CameraInfo(
            header=msg.header,
            height=height,
            width=width,
            distortion_model=info.distortion_model,
            d=info.d,
            r=info.r,
            binning_x=info.binning_x,
            binning_y=info.binning_y,
            roi=info.roi,
        )
        out.k, out.p = k, p
        self._pubs[f"{src}/camera_info"].publish(out)

    def destroy_node(self) -> None:
        self._stop.set()
        self._mailbox.close()
        if self._worker is not None:
            self._worker.join(timeout=5.0)
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    return spin_node(PerceptionNode, "perception", args)


if __name__ == "__main__":
    sys.exit(main())
