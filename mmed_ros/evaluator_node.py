# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""evaluator_node: scores perception_node's estimates against ground-truth topics of a replay.

    ros2 run mmed_ros evaluator_node --ros-args -p depth_truth_topic:=/gt/depth \
        -p label_truth_topic:=/gt/label
    ros2 service call /evaluator/report std_srvs/srv/Trigger

Matching by header stamp and the metrics live in mmed_ros.evaluation (ROS-free); this node only
subscribes, hands the decoded images over, and prints the Table-1 row and IoUs on the
``~/report`` service, every ``report_period`` seconds, and at shutdown.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

from rclpy.node import Node
from sensor_msgs.msg import Image
from std_srvs.srv import Trigger

from mmed_core.atomic import atomic_write_json
from mmed_core.cli.console import console_main
from mmed_core.data.classes import NYU12_CLASSES
from mmed_core.deploy.checkpoint import read_card
from mmed_core.errors import MmedError
from mmed_ros.conversions import depth_from_msg, mono8_from_msg, msg_stamp_ns
from mmed_ros.evaluation import ReplayEvaluation, StampMatcher, format_report
from mmed_ros.node_utils import declare_specs, make_qos, spin_node, validating_callback
from mmed_ros.params import EVALUATOR_PARAMS

__all__ = ["EvaluatorNode", "main"]


class EvaluatorNode(Node):
    """Pairs estimate and truth images by stamp and accumulates the paper's metrics."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("evaluator", **kwargs)
        self.add_on_set_parameters_callback(validating_callback(EVALUATOR_PARAMS, lambda _: None))
        p = declare_specs(self, EVALUATOR_PARAMS)
        self._params = p
        names = tuple(n for n in p["class_names"] if n) or NYU12_CLASSES
        if p["weights"]:
            # The card alone (no weights loaded): the evaluator needs no model.
            names = tuple(read_card(p["weights"])["class_names"])
        self.evaluation = ReplayEvaluation(names, resize_truth=p["resize_truth"])
        self._lock = threading.Lock()  # callbacks and the service may run on other threads
        self.bad_inputs = 0
        tol = int(p["stamp_tolerance"] * 1e9)
        qos = make_qos(p["qos_reliability"], 50)
        self._subs = []
        self._matchers = {}
        for kind, decode in (("depth", depth_from_msg), ("label", mono8_from_msg)):
            est, truth = p[f"{kind}_estimate_topic"], p[f"{kind}_truth_topic"]
            if not est or not truth:
                continue
            self._matchers[kind] = StampMatcher(tolerance_ns=tol, max_pending=p["max_pending"])
            for stream, topic in (("estimate", est), ("truth", truth)):
                self._subs.append(
                    self.create_subscription(
                        Image,
                        topic,
                        lambda m, k=kind, s=stream, d=decode: self._on_image(k, s, d, m),
                        qos,
                    )
                )
            self.get_logger().info(
                f"{kind}: {self.resolve_topic_name(est)} vs {self.resolve_topic_name(truth)}"
            )
        self.get_logger().info(f"classes: {', '.join(names)}")
        if not self._matchers:
            raise MmedError(
                "evaluator: no (estimate, truth) topic pair configured; set "
                "depth_* or label_* topics"
            )
        self._srv = self.create_service(Trigger, "~/report", self._on_report)
        if p["report_period"] > 0:
            self._timer = self.create_timer(p["report_period"], self.log_report)

    def _on_image(self, kind: str, stream: str, decode: Any, msg: Image) -> None:
        stamp = msg_stamp_ns(msg)
        try:
            image = decode(msg)
        except MmedError as exc:
            self.bad_inputs += 1
            self.get_logger().warning(
                f"{kind} {stream} image skipped: {exc}", throttle_duration_sec=5.0
            )
            return
        with self._lock:
            # Copy: the decoded array may be a view of a message rclpy reuses.
            pair = self._matchers[kind].add(stream, stamp, image.copy())
            if pair is not None:
                (self.evaluation.add_depth if kind == "depth" else self.evaluation.add_label)(
                    *pair
                )

    def results(self) -> dict[str, Any]:
        with self._lock:
            out = self.evaluation.results()
            out["unmatched_expired"] = sum(m.expired for m in self._matchers.values())
            out["bad_inputs"] = self.bad_inputs
            return out

    def report(self) -> str:
        return format_report(self.results(), title="mmed evaluator_node")

    def log_report(self) -> None:
        self.get_logger().info("\n" + self.report())

    def _on_report(self, _request: Trigger.Request, response: Trigger.Response) -> Any:
        response.success = True
        response.message = self.report()
        return response

    def finish(self) -> None:
        """Final report (stdout + optional JSON), called once at shutdown."""
        # print, not the logger: after Ctrl-C the rcl context (and its logging) may be gone.
        print(self.report(), flush=True)
        if self._params["output_json"]:
            atomic_write_json(self._params["output_json"], self.results())


@console_main
def main(args: list[str] | None = None) -> int:
    return spin_node(EvaluatorNode, "evaluator", args, finish=EvaluatorNode.finish)


if __name__ == "__main__":
    sys.exit(main())
