# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""perception_node: live RGB / depth images in, class ids, masks and depth out.

    ros2 run mmed_ros perception_node --ros-args -p weights:=/path/model.safetensors \
        -r rgb/image_raw:=/camera/color/image_raw

A managed (lifecycle) node; with ``autostart`` (default) it configures and activates itself, so
plain ``ros2 run`` / ``ros2 launch`` need nothing else. configure checks the parameters and the
weights (model card), creates the publishers and the read-only ``class_names`` /
``class_palette`` parameters (and ``~/label_info`` when vision_msgs is installed); activate
loads the model onto the device and subscribes; deactivate unsubscribes and frees the model
(device memory); cleanup removes the publishers.

Thin glue around ROS-free pieces: callbacks only record arrivals (mmed_ros.health), pair RGB
with depth by stamp (mmed_ros.sync.ApproxTimePairer) and leave the newest unit of work in a
:class:`~mmed_ros.sync.FairMailbox`; a worker thread decodes (mmed_ros.conversions), runs the
engine through mmed_ros.pipeline and publishes. Every frame that is not processed is counted
with its reason on /diagnostics. Topics and parameters are listed in docs/ROS.md.
"""

from __future__ import annotations

import functools
import gc
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

import rclpy
import torch
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.logging import get_logger
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from mmed_core.cli.console import console_main
from mmed_core.deploy.checkpoint import checkpoint_paths, read_card
from mmed_core.deploy.inference import InferenceEngine
from mmed_core.errors import ConfigError, MmedError
from mmed_core.network.config import ModelConfig
from mmed_ros.conversions import image_msg
from mmed_ros.health import ERROR, OK, WARN, HealthStatus, SourceHealth
from mmed_ros.node_utils import declare_specs, make_qos
from mmed_ros.params import PERCEPTION_PARAMS, cross_check, empty_overrides, parse_paths
from mmed_ros.pipeline import (
    FrameProcessor,
    PipelineStats,
    camera_info_topic,
    output_topics,
    require_metric_depth,
    transport_topic,
)
from mmed_ros.qos import (
    Handover,
    OfferedQoS,
    choose_reliability,
    describe_offered,
    use_fastdds_profile,
)
from mmed_ros.sync import OVERFLOW, ApproxTimePairer, FairMailbox

__all__ = ["PerceptionNode", "main"]

_WARN_PERIOD_S = 5.0
_PAIR = "rgb+depth"  # mailbox key of a synchronised pair
_LEVEL_BYTES = {
    OK: DiagnosticStatus.OK,
    WARN: DiagnosticStatus.WARN,
    ERROR: DiagnosticStatus.ERROR,
}
_SPECS = {spec.name: spec for spec in PERCEPTION_PARAMS}

try:  # optional: vision_msgs is not installed everywhere
    from vision_msgs.msg import LabelInfo, VisionClass
except ImportError:  # pragma: no cover - depends on the installation
    LabelInfo = VisionClass = None


def _stamp_ns(msg: Any) -> int:
    return int(msg.header.stamp.sec) * 10**9 + int(msg.header.stamp.nanosec)


def _reliability_name(policy: Any) -> str:
    if policy == ReliabilityPolicy.RELIABLE:
        return "reliable"
    if policy == ReliabilityPolicy.BEST_EFFORT:
        return "best_effort"
    return str(getattr(policy, "name", policy)).lower()


def _durability_name(policy: Any) -> str:
    return str(getattr(policy, "name", policy)).lower()


class PerceptionNode(LifecycleNode):
    """Subscribes to the configured inputs, runs the model off the executor, publishes."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("perception", **kwargs)
        # Set before anything can fail: rclpy's shutdown calls destroy_node on a half-built node.
        self._stop = threading.Event()
        self._mailbox: FairMailbox[dict[str, tuple[Image, float]]] = FairMailbox()
        self._worker: threading.Thread | None = None
        self._options: dict[str, Any] = {}
        self.engine: Any = None
        self.processor: FrameProcessor | None = None
        self.start_error: str | None = None
        self.stats = PipelineStats()
        self._infos: dict[str, CameraInfo] = {}
        self._pubs: dict[str, Any] = {}
        self._subs: dict[str, list[Any]] = {}
        self._old_subs: dict[str, list[Any]] = {}  # image subscriptions being replaced
        self._handover: dict[str, Handover] = {}
        self._sub_reliability: dict[str, str] = {}
        self._health: dict[str, SourceHealth] = {}
        self._pairer: ApproxTimePairer[tuple[Image, float]] | None = None
        self._paths: list[tuple[str, str]] = []
        self._topics: dict[str, str] = {}
        self._recheck_timer: Any = None
        self._label_info_pub: Any = None
        self._diag_errors_seen = 0
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self._options = dict(declare_specs(self, PERCEPTION_PARAMS))
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._diag_timer = self.create_timer(
            self._options["diagnostics_period"], self._publish_diagnostics
        )

    # ------------------------------------------------------------------ parameters
    def _on_set_parameters(self, params: list[Any]) -> SetParametersResult:
        changed = {}
        for param in params:
            spec = _SPECS.get(param.name)
            if spec is None:
                continue  # use_sim_time, class_names, ...: rclpy's or read-only outputs
            reason = spec.validate(param.value)
            if reason:
                return SetParametersResult(successful=False, reason=reason)
            changed[param.name] = param.value
        reasons = cross_check({**self._options, **changed})
        if reasons:
            return SetParametersResult(successful=False, reason="; ".join(reasons))
        # Replace the dict rather than mutate it: the worker reads it without a lock.
        self._options = {**self._options, **changed}
        for health in self._health.values():
            health.expected_rate = float(self._options["expected_rate"])
            health.silence_warn_s = float(self._options["silence_warn"])
            health.silence_error_s = float(self._options["silence_error"])
        return SetParametersResult(successful=True)

    # ------------------------------------------------------------------ lifecycle
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self._configure()
        except (MmedError, ValueError) as exc:
            return self._failed("configure", exc)
        except Exception as exc:  # noqa: BLE001 - say what, never leave a half-configured node
            self._cleanup()
            return self._failed("configure", RuntimeError(f"{type(exc).__name__}: {exc}"))
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self._activate()
        except (MmedError, ValueError) as exc:
            self._deactivate()
            return self._failed("activate", exc)
        except Exception as exc:  # noqa: BLE001 - e.g. CUDA out of memory while loading
            self._deactivate()
            return self._failed("activate", RuntimeError(f"{type(exc).__name__}: {exc}"))
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._deactivate()
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._cleanup()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._deactivate()
        self._cleanup()
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._deactivate()
        self._cleanup()
        return TransitionCallbackReturn.SUCCESS  # back to unconfigured: configure may retry

    def _failed(self, step: str, exc: Exception) -> TransitionCallbackReturn:
        self.start_error = str(exc)
        if not self._options.get("autostart"):  # with autostart, main() says "cannot start"
            self.get_logger().error(f"{step} failed: {exc}")
        return TransitionCallbackReturn.FAILURE

    def _configure(self) -> None:

        p = dict(self._options)
        reasons = cross_check(p)
        if reasons:
            raise ConfigError("; ".join(reasons))
        weights, _ = checkpoint_paths(p["weights"])
        card = read_card(p["weights"])
        if not weights.is_file():
            raise ConfigError(f"weights: {weights} not found (its model card is there)")
        config = ModelConfig.from_dict(card["config"])
        topics = {"rgb": p["rgb_topic"], "depth": p["depth_topic"], "label": p["label_topic"]}
        paths = [(s, d) for s, d in parse_paths(p["paths"]) if topics.get(s)]
        skipped = [f"{s}->{d}" for s, d in parse_paths(p["paths"]) if not topics.get(s)]
        if skipped:
            self.get_logger().info(f"paths {skipped} skipped: their source topic is empty")
        if not paths:
            raise ConfigError(
                f"paths {p['paths']}: none has a subscribed source (rgb_topic="
                f"{p['rgb_topic']!r}, depth_topic={p['depth_topic']!r}, "
                f"label_topic={p['label_topic']!r})"
            )
        have = list(config.paths())
        for path in paths:
            if path not in have:
                raise ConfigError(
                    f"path {path[0]}->{path[1]}: not in {p['weights']}; it has "
                    f"{[f'{s}->{d}' for s, d in have]}"
                )
        require_metric_depth(config, paths, f"perception_node ({p['weights']})")
        self._paths, self._topics = paths, topics
        self._declare_classes(list(config.class_names), [list(c) for c in config.palette])
        out_qos = make_qos(p["output_reliability"], p["output_depth"])
        # Publishers for every output that may be enabled at runtime, so toggling
        # publish_overlay etc. needs no graph change.
        all_on = {"publish_color": True, "publish_overlay": True, "publish_confidence": True}
        for topic, kind in output_topics(paths, all_on):
            msg_type = CameraInfo if kind == "sensor_msgs/CameraInfo" else Image
            self._pubs[topic] = self.create_publisher(msg_type, f"~/{topic}", out_qos)
        self._publish_label_info(config.class_names, float(p["min_confidence"]))

    def _declare_classes(self, names: list[str], palette: list[list[int]]) -> None:
        """Read-only parameters with the model's classes (ros2 param get ... class_names)."""
        colours = ["#{:02x}{:02x}{:02x}".format(*c[:3]) for c in palette[: len(names)]]
        for name, value, text in (
            ("class_names", names, "Class names of the loaded model, in id order."),
            ("class_palette", colours, "Colour (#rrggbb) of each class in label_color."),
        ):
            if not self.has_parameter(name):
                self.declare_parameter(
                    name, value, ParameterDescriptor(description=text, read_only=True)
                )

    def _publish_label_info(self, names: Sequence[str], threshold: float) -> None:
        if LabelInfo is None:
            self.get_logger().info(
                "vision_msgs is not installed: class names are in the class_names parameter"
            )
            return
        qos = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
        try:  # an older vision_msgs without LabelInfo must not stop the node
            msg = LabelInfo(
                class_map=[VisionClass(class_id=i, class_name=n) for i, n in enumerate(names)],
                threshold=threshold,
            )
            msg.header.stamp = self.get_clock().now().to_msg()
            self._label_info_pub = self.create_publisher(LabelInfo, "~/label_info", qos)
            self._label_info_pub.publish(msg)
        except Exception as exc:  # noqa: BLE001 - optional output
            self.get_logger().warning(f"~/label_info not published: {exc}")

    def _activate(self) -> None:

        p = dict(self._options)
        self.engine = InferenceEngine.from_checkpoint(
            p["weights"],
            device=p["device"],
            precision=p["precision"],
            cpu_fallback=p["cpu_fallback"],
            warn=self.get_logger().warning,
        )
        self.get_logger().info(f"model card: {self.engine.describe()}")
        self.engine.check_paths(self._paths)
        note = self.engine.sensor_depth_note(self._paths)
        if note:
            self.get_logger().info(note)
        self.engine.use_backend(p["backend"], self._paths)
        if p["backend"] != "eager":
            self.get_logger().info(f"backend {p['backend']}: outputs checked against eager")
        self.processor = FrameProcessor(self.engine, self._paths, self.engine.config.palette)
        sources = list(dict.fromkeys(s for s, _ in self._paths))
        self._pairer = None
        if p["rgbd_sync"] and "rgb" in sources and "depth" in sources:
            self._pairer = ApproxTimePairer(
                ("rgb", "depth"), int(p["sync_slop"] * 1e9), int(p["sync_queue"])
            )
        clock = time.monotonic
        for src in sources:
            topic = self.resolve_topic_name(self._in_topic(src))
            health = self._health.get(src)
            if health is None or health.topic != topic:
                health = SourceHealth(src, topic, clock=clock)
                self._health[src] = health
            health.expected_rate = float(p["expected_rate"])
            health.silence_warn_s = float(p["silence_warn"])
            health.silence_error_s = float(p["silence_error"])
            self._subscribe(src)
            health.start()
            info_topic = camera_info_topic(self._topics[src], p["camera_info_suffix"])
            self.get_logger().info(
                f"{src}: {topic} ({self._sub_reliability[src]}) "
                f"(+ {self.resolve_topic_name(info_topic)}) -> "
                f"{', '.join(d for s, d in self._paths if s == src)}"
                + (" [paired by stamp]" if self._pairer and src in self._pairer.keys else "")
            )
        self._stop.clear()
        self._mailbox.reopen()
        self._worker = threading.Thread(target=self._work, name="mmed_inference", daemon=True)
        self._worker.start()
        self._recheck_timer = self.create_timer(p["qos_recheck_period"], self._recheck)

    def _deactivate(self) -> None:
        if self._recheck_timer is not None:
            self.destroy_timer(self._recheck_timer)
            self._recheck_timer = None
        for subs in (self._subs, self._old_subs):
            for src in list(subs):
                for sub in subs.pop(src):
                    self.destroy_subscription(sub)
        self._stop.set()
        self._mailbox.close()
        if self._worker is not None:
            self._worker.join(timeout=10.0)
            self._worker = None
        for unit in self._mailbox.drain().values():
            for src in unit:
                self._dropped(src, "deactivated")
        if self._pairer is not None:
            for drop in self._pairer.clear():
                self._dropped(drop.key, "deactivated")
        device = getattr(self.engine, "device", None)
        self.processor = None
        self.engine = None
        gc.collect()
        if device is not None and device.type == "cuda":
            torch.cuda.empty_cache()  # give the device memory back to other processes

    def _cleanup(self) -> None:
        for pub in self._pubs.values():
            self.destroy_publisher(pub)
        self._pubs = {}
        for pub in (self._label_info_pub,):
            if pub is not None:
                self.destroy_publisher(pub)
        self._label_info_pub = None
        self._infos.clear()

    # ------------------------------------------------------------------ transport
    def _in_topic(self, src: str) -> str:
        """The topic ``src`` arrives on (image_transport's name for its ``<src>_transport``)."""
        return transport_topic(self._topics[src], self._options.get(f"{src}_transport", "raw"))

    def _offered(self, src: str) -> list[OfferedQoS]:
        topic = self.resolve_topic_name(self._in_topic(src))
        return [
            OfferedQoS(
                node=f"{i.node_namespace.rstrip('/')}/{i.node_name}",
                reliability=_reliability_name(i.qos_profile.reliability),
                durability=_durability_name(i.qos_profile.durability),
                depth=int(i.qos_profile.depth),
            )
            for i in self.get_publishers_info_by_topic(topic)
        ]

    def _subscribe(self, src: str) -> None:
        """(Re)create the subscriptions of ``src`` with the reliability its publishers offer."""
        p = self._options
        reliability = choose_reliability(p["qos_reliability"], self._offered(src))
        handover = self._handover.setdefault(src, Handover())
        gen = handover.begin()
        for sub in self._old_subs.pop(src, []):
            self.destroy_subscription(sub)
        old = self._subs.pop(src, [])
        topic = self._topics[src]
        info_topic = camera_info_topic(topic, p["camera_info_suffix"])
        raw = p.get(f"{src}_transport", "raw") == "raw"
        self._subs[src] = [
            self.create_subscription(
                Image if raw else CompressedImage,
                self._in_topic(src),
                lambda msg, s=src, g=gen: self._on_image(s, msg, g),
                make_qos(reliability, p["qos_depth"]),
            ),
            # best effort matches every publisher; camera_info is small and sent per frame
            self.create_subscription(
                CameraInfo,
                info_topic,
                lambda msg, s=src: self._on_info(s, msg),
                make_qos("best_effort", p["qos_depth"]),
            ),
        ]
        if old:  # the old image subscription delivers until the new one does (Handover)
            self._old_subs[src] = old[:1]
            for sub in old[1:]:
                self.destroy_subscription(sub)
        self._sub_reliability[src] = reliability

    def _recheck(self) -> None:
        """qos_reliability auto: follow the publishers as they come and go."""
        for src, handover in self._handover.items():
            if handover.switched and src in self._old_subs:
                for sub in self._old_subs.pop(src):
                    self.destroy_subscription(sub)
        if self._options["qos_reliability"] != "auto":
            return
        for src in list(self._subs):
            want = choose_reliability("auto", self._offered(src))
            if want != self._sub_reliability.get(src):
                self.get_logger().info(
                    f"{src}: publishers of {self.resolve_topic_name(self._in_topic(src))} now "
                    f"call for {want} (was {self._sub_reliability.get(src)}): resubscribing"
                )
                self._subscribe(src)

    # ------------------------------------------------------------------ executor side
    def _dropped(self, src: str, reason: str) -> None:
        self.stats.count("dropped", src)
        health = self._health.get(src)
        if health is not None:
            health.drop(reason)

    def _on_image(self, src: str, msg: Image, generation: int = 0) -> None:
        now = time.monotonic()
        stamp = _stamp_ns(msg)
        handover = self._handover.get(src)
        if handover is not None and not handover.accept(generation, stamp):
            return  # the same frame from the subscription being replaced
        self.stats.count("received", src)
        self._health[src].arrived(stamp)
        pairer = self._pairer
        other = next((k for k in pairer.keys if k != src), "") if pairer else ""
        # A silent partner (silence_warn) does not stop this source: it goes alone meanwhile.
        if other and self._health[other].silent_for() < self._options["silence_warn"]:
            assert pairer is not None
            result = pairer.add(src, stamp, (msg, now))
            for drop in result.drops:
                self._dropped(drop.key, drop.reason)
                if drop.reason == OVERFLOW:
                    self.get_logger().warning(
                        f"{drop.key} frames find no {other} frame within sync_slop="
                        f"{self._options['sync_slop']} s (check {other}'s topic and that both "
                        "stamps come from one clock; rgbd_sync:=false processes them alone)",
                        throttle_duration_sec=_WARN_PERIOD_S,
                    )
            for pair in result.pairs:
                old = self._mailbox.put(_PAIR, pair)
                for key in old or {}:
                    self._dropped(key, "newer_frame")
            return
        old = self._mailbox.put(src, {src: (msg, now)})
        if old is not None:
            self._dropped(src, "newer_frame")

    def _on_info(self, src: str, msg: CameraInfo) -> None:
        # Only the newest is kept: intrinsics rarely change, and the worker copies what it uses.
        self._infos[src] = msg

    def _qos_note(self, src: str) -> str:
        try:
            return describe_offered(self._sub_reliability.get(src, "?"), self._offered(src))
        except Exception as exc:  # noqa: BLE001 - diagnostics must not fail
            return f"publishers unknown ({exc})"

    def _publish_diagnostics(self) -> None:
        name = self.get_fully_qualified_name()
        hardware = str(getattr(self.engine, "device", "none"))
        statuses = []
        worst = OK
        for src, health in self._health.items():
            st = health.status(functools.partial(self._qos_note, src))
            if src not in self._subs:  # inactive: silence is expected
                st = HealthStatus(OK, f"{src}: not subscribed (node inactive)", st.values)
            st.values["qos"] = self._sub_reliability.get(src, "-")
            worst = max(worst, st.level)
            statuses.append(self._status(f"{name}: input {src}", hardware, st))
        snap = self.stats.snapshot()
        errors = snap["errors_total"]
        level = WARN if errors > self._diag_errors_seen else OK
        self._diag_errors_seen = errors
        state = self._state_machine.current_state[1]
        values = {k: f"{v:.3f}" if isinstance(v, float) else str(v) for k, v in snap.items()}
        values["state"] = state
        if self._pairer is not None:
            for src, n in self._pairer.pending().items():
                values[f"pairing_pending[{src}]"] = str(n)
        for src, health in self._health.items():
            for reason, n in health.snapshot()["dropped"].items():
                values[f"dropped[{src}:{reason}]"] = str(n)
            values[f"lost_upstream[{src}]"] = str(health.gaps.missing)
        message = (
            f"{state}: {snap['processed_total']} processed, {snap['dropped_total']} dropped, "
            f"{errors} bad inputs; latency {snap['latency_mean_ms']:.1f} ms"
        )
        if worst > OK:
            message += "; an input needs attention"
        summary = HealthStatus(max(level, worst), message, values)
        # The summary goes last: tools (and the tests) read the newest status of this node.
        statuses.append(self._status(f"{name}: inference", hardware, summary))
        out = DiagnosticArray(status=statuses)
        out.header.stamp = self.get_clock().now().to_msg()
        self._diag_pub.publish(out)

    @staticmethod
    def _status(name: str, hardware: str, st: HealthStatus) -> DiagnosticStatus:
        return DiagnosticStatus(
            level=_LEVEL_BYTES[st.level],
            name=name,
            hardware_id=hardware,
            message=st.message,
            values=[KeyValue(key=k, value=v) for k, v in st.values.items()],
        )

    # ------------------------------------------------------------------ worker side
    def _work(self) -> None:
        while not self._stop.is_set():
            got = self._mailbox.take(timeout=0.2)
            if got is None or self._stop.is_set():
                continue
            _, unit = got
            sizes = {}
            for src, (msg, arrived) in unit.items():
                if self._stop.is_set():
                    self._dropped(src, "deactivated")
                    continue
                size = self._process(src, msg, arrived)
                if size is not None:
                    sizes[src] = size
            if len(unit) > 1:
                self._check_pair(sizes)

    def _check_pair(self, sizes: dict[str, tuple[int, int]]) -> None:
        """Decoded (H, W) of each source of a pair (compressed messages carry no size)."""
        if len(set(sizes.values())) > 1:
            self.stats.count("errors", "pair: size mismatch")
            self.get_logger().warning(
                "RGB-D pair of different sizes "
                + ", ".join(f"{s} {w}x{h}" for s, (h, w) in sizes.items())
                + ": each output keeps its own source's size, pixels do not correspond; use "
                "depth registered to the colour camera (e.g. aligned_depth_to_color)",
                throttle_duration_sec=_WARN_PERIOD_S,
            )

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

    def _process(self, src: str, msg: Any, arrived: float) -> tuple[int, int] | None:
        """Decode, infer, publish one frame; returns its decoded (H, W), None when skipped."""
        options = self._effective_options(src)
        processor = self.processor
        if processor is None:
            self._dropped(src, "deactivated")
            return None
        try:
            image = processor.decode(src, msg, int(options["max_image_pixels"]))
            t0 = time.monotonic()
            outputs = processor.process(src, image, options)
            t1 = time.monotonic()
        except MmedError as exc:  # bad input: say which topic and why, keep running
            self.stats.count("errors", f"{src}: {type(exc).__name__}")
            self._dropped(src, "bad_input")
            self.get_logger().warning(
                f"{src} image skipped: {exc}", throttle_duration_sec=_WARN_PERIOD_S
            )
            return None
        except Exception as exc:  # noqa: BLE001 - an unexpected failure must not kill the node
            self.stats.count("errors", f"{src}: {type(exc).__name__}")
            self._dropped(src, "failed")
            self.get_logger().error(
                f"{src} image failed: {type(exc).__name__}: {exc}",
                throttle_duration_sec=_WARN_PERIOD_S,
            )
            return None
        for out in outputs:
            self._pubs[out.topic].publish(image_msg(Image, out.array, out.encoding, msg.header))
        self._publish_info(src, msg, image.shape[:2], options)
        self.stats.count("processed", src)
        self._health[src].done()
        self.stats.add_timing(time.monotonic() - arrived, t1 - t0)
        return int(image.shape[0]), int(image.shape[1])

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
        processor = self.processor
        if processor is None:
            return
        k, p, (width, height) = processor.camera_info(
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
        self._deactivate()
        super().destroy_node()


@console_main
def main(args: list[str] | None = None) -> int:
    """Run the node; exit code 1 with one 'cannot start' line when it cannot start."""
    log = get_logger("perception")
    argv = list(sys.argv if args is None else args)
    missing = empty_overrides(argv)
    if missing:
        log.fatal(
            f"cannot start: parameter override(s) {', '.join(f'-p {n}:=' for n in missing)} "
            "have no value; write -p NAME:=VALUE, or -p \"NAME:=''\" for an empty string"
        )
        return 1
    profile = use_fastdds_profile()
    try:
        rclpy.init(args=args)
    except Exception as exc:  # noqa: BLE001 - rcl's argument errors are RCLError
        log.fatal(f"cannot start: ROS arguments rejected: {exc}")
        return 1
    node = None
    try:
        node = PerceptionNode()
        if profile:
            node.get_logger().info(
                f"Fast DDS profile {profile}: shared-memory segment large enough for camera "
                "frames (docs/ROS.md, Transport; MMED_FASTDDS_PROFILE=off to skip)"
            )
        if node.get_parameter("autostart").value:
            for step in (node.trigger_configure, node.trigger_activate):
                if step() != TransitionCallbackReturn.SUCCESS:
                    log.fatal(f"cannot start: {node.start_error or step.__name__ + ' failed'}")
                    return 1
        rclpy.spin(node)
    except (MmedError, ParameterException) as exc:
        log.fatal(f"cannot start: {exc}")
        return 1
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
