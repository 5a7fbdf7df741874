# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Test support shared by the tests, the benchmarks and scripts/soak.py (never by a node).

    python -m pytest test/test_ros_perception_node.py

The tiny checkpoint writer, an rclpy probe node (:class:`Probe`), a recorder of what a node
under test publishes (:class:`NodeRecorder`) and an Image builder for publishers. The node
processes themselves start on a private, loopback-only graph through
``mmed_ros.node_processes`` (re-exported here: :func:`ros_env`, :func:`start_module`, ...),
which the demo uses too; no node, tool or demo module imports this one (test_architecture checks).
Importing it loads no rclpy; only :class:`Probe`, :class:`NodeRecorder` and :func:`image_msg`
do, when used, so tests without ROS can still use :func:`tiny_checkpoint`.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from mmed_core.deploy.checkpoint import save_checkpoint
from mmed_core.network.config import ModelConfig
from mmed_core.network.factory import create_model
from mmed_ros import conversions
from mmed_ros.conversions import msg_stamp_ns
from mmed_ros.node_processes import apply_ros_env, ros_env, start_module, stop_process

__all__ = [
    "ros_env",
    "apply_ros_env",
    "tiny_checkpoint",
    "start_module",
    "stop_process",
    "Probe",
    "NodeRecorder",
    "image_msg",
    "one_torch_thread",
]


@contextlib.contextmanager
def one_torch_thread() -> Iterator[None]:
    """A tiny model on a shared 2-core runner: extra OpenMP threads only spin against load."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def tiny_checkpoint(
    path: str | os.PathLike[str],
    *,
    input_size: tuple[int, int] = (32, 32),
    seed: int = 0,
    **config: Any,
) -> Path:
    """Write an untrained tiny-preset checkpoint (random weights, seeded) and return its path."""
    torch.manual_seed(seed)
    model = create_model(ModelConfig.preset("tiny", input_size=input_size, **config))
    out = Path(path)
    save_checkpoint(out, model, note="untrained test model")
    return out


class Probe:
    """The test side of a ROS test: its own rclpy context, one node, a spin-until helper.

    Uses a private context so it never collides with another test module's rclpy state; call
    :func:`apply_ros_env` first (done here) so discovery stays on the loopback.
    """

    def __init__(self, name: str = "mmed_test_probe") -> None:
        import rclpy
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor

        apply_ros_env()
        self.context = Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node(name, context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)

    def spin_until(self, done: Any, timeout: float) -> bool:
        """Spin until ``done()`` is true or ``timeout`` seconds pass; returns ``done()``."""
        end = time.monotonic() + timeout
        while not done() and time.monotonic() < end:
            self.executor.spin_once(timeout_sec=0.05)
        return bool(done())

    def call(
        self,
        srv_type: Any,
        name: str,
        request: Any,
        timeout: float = 30.0,
        *,
        resend: float | None = 5.0,
    ) -> Any:
        """Call the service ``name`` and return its response, or fail (``AssertionError``
        naming the service) when it is not up or does not answer within ``timeout`` seconds.

        Fast DDS can lose the reply to a request sent right after discovery (the server's reply
        writer not yet matched with this client's reader), and a lost reply never comes: so a
        request without a reply after ``resend`` seconds is sent again. Only for requests that
        may be repeated (queries, setting a value); ``resend=None`` sends once (lifecycle
        transitions)."""
        client = self.node.create_client(srv_type, name)
        try:
            assert self.spin_until(client.service_is_ready, timeout), (
                f"service {name} not available after {timeout} s"
            )
            end = time.monotonic() + timeout
            while True:
                future = client.call_async(request)
                left = end - time.monotonic()
                if self.spin_until(future.done, left if resend is None else min(resend, left)):
                    return future.result()
                client.remove_pending_request(future)
                assert time.monotonic() < end, f"no reply from service {name} in {timeout} s"
        finally:
            self.node.destroy_client(client)

    def close(self) -> None:
        import rclpy

        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


class NodeRecorder:
    """A node process under test, its log, and what a :class:`Probe` received from it: the
    messages on ``topics`` (``{relative name: type}`` below ``out``), each with its arrival
    time, and the node's own ``/diagnostics`` values (statuses named under ``out``)."""

    def __init__(
        self, proc: subprocess.Popen, log: Path, probe: Probe, out: str, topics: dict[str, Any]
    ) -> None:
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.qos import QoSProfile

        self.proc, self.log, self.probe, self.out = proc, log, probe, out
        self.got: dict[str, list[tuple[float, Any]]] = {}
        self.diag: list[dict[str, str]] = []
        qos = QoSProfile(depth=50)
        self.subs = [
            probe.node.create_subscription(
                typ,
                f"{out}/{t}",
                lambda m, t=t: self.got.setdefault(t, []).append((time.monotonic(), m)),
                qos,
            )
            for t, typ in topics.items()
        ]
        self.subs.append(
            probe.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diag, 10)
        )

    def _on_diag(self, msg: Any) -> None:
        for status in msg.status:
            if status.name.startswith(self.out):
                self.diag.append({kv.key: kv.value for kv in status.values})

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def messages(self, topic: str) -> list[Any]:
        return [m for _, m in self.got.get(topic, [])]

    def stamps(self, topic: str) -> set[int]:
        return {msg_stamp_ns(m) for m in self.messages(topic)}


def image_msg(array: Any, encoding: str, stamp_ns: int, frame_id: str) -> Any:
    """An rclpy sensor_msgs/Image of ``array`` (for publishers in tests)."""
    from sensor_msgs.msg import Image
    from std_msgs.msg import Header

    header = Header(frame_id=frame_id)
    conversions.set_stamp(header.stamp, stamp_ns)
    return conversions.image_msg(Image, array, encoding, header)
