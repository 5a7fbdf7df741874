# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""rclpy helpers shared by the nodes: QoS from parameters, described and validated parameters.

Imported by perception_node and evaluator_node; the rules themselves (names, ranges, reasons)
are ROS-free in mmed_ros.params.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import rclpy
from rcl_interfaces.msg import (
    FloatingPointRange,
    IntegerRange,
    ParameterDescriptor,
    SetParametersResult,
)
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException
from rclpy.logging import get_logger
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from mmed_core.errors import MmedError
from mmed_ros.params import ParamSpec

__all__ = ["make_qos", "declare_specs", "validating_callback", "spin_node"]


def make_qos(reliability: str, depth: int) -> QoSProfile:
    """Keep-last QoS; 'best_effort' + volatile is the sensor-data profile cameras publish with."""
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=int(depth),
        reliability=ReliabilityPolicy.BEST_EFFORT
        if reliability == "best_effort"
        else ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.VOLATILE,
    )


def declare_specs(node: Node, specs: tuple[ParamSpec, ...]) -> dict[str, Any]:
    """Declare every spec with a described, ranged ParameterDescriptor; return name -> value."""
    values = {}
    for spec in specs:
        desc = ParameterDescriptor(description=spec.description, read_only=spec.read_only)
        if spec.choices:
            desc.additional_constraints = "one of: " + ", ".join(spec.choices)
        if spec.min_value is not None and isinstance(spec.default, float):
            desc.floating_point_range = [
                FloatingPointRange(
                    from_value=float(spec.min_value), to_value=float(spec.max_value), step=0.0
                )
            ]
        elif spec.min_value is not None and isinstance(spec.default, int):
            desc.integer_range = [
                IntegerRange(from_value=int(spec.min_value), to_value=int(spec.max_value), step=1)
            ]
        values[spec.name] = node.declare_parameter(spec.name, spec.default, desc).value
    return values


def validating_callback(
    specs: tuple[ParamSpec, ...], on_ok: Callable[[dict[str, Any]], None]
) -> Callable[[list[Any]], SetParametersResult]:
    """on-set-parameters callback: reject with the spec's reason, else hand the values on."""
    by_name = {spec.name: spec for spec in specs}

    def callback(params: list[Any]) -> SetParametersResult:
        changed = {}
        for param in params:
            spec = by_name.get(param.name)
            if spec is None:
                continue  # e.g. use_sim_time: rclpy's own parameters
            reason = spec.validate(param.value)
            if reason:
                return SetParametersResult(successful=False, reason=reason)
            changed[param.name] = param.value
        on_ok(changed)
        return SetParametersResult(successful=True)

    return callback


def spin_node(
    factory: Callable[[], Node],
    name: str,
    args: Sequence[str] | None = None,
    finish: Callable[[Any], None] | None = None,
) -> int:
    """The body of a node's ``main``: init, build, spin, clean up; returns the exit code.

    A start-up failure of our own (weights, device, parameters) is one FATAL line and exit
    code 1, not a traceback; Ctrl-C is a clean 0. ``finish(node)`` runs before destroy_node.
    """
    rclpy.init(args=args)
    node = None
    try:
        node = factory()
        rclpy.spin(node)
    except (MmedError, ParameterException) as exc:
        get_logger(name).fatal(f"cannot start: {exc}")
        return 1
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            if finish is not None:
                finish(node)
            node.destroy_node()
        rclpy.try_shutdown()
    return 0
