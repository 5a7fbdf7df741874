# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Helpers for the ROS tests: a loopback-only environment, tiny checkpoints, node subprocesses.

    python -m pytest test/test_ros_perception_node.py

Every process a test starts gets :func:`ros_env`: DDS discovery limited to localhost (the
workplace forbids traffic off the loopback) and one random ``ROS_DOMAIN_ID`` per test session,
so parallel sessions on one machine do not see each other. Importing it loads no rclpy; only
:class:`Probe` and :func:`image_msg` do, when used.
"""

from __future__ import annotations

import contextlib
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from mmed_ros.conversions import msg_stamp_ns

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

_SESSION_DOMAIN = random.SystemRandom().randint(1, 100)  # 0 is what a stray robot uses


def ros_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """``base`` (default os.environ) plus loopback-only discovery and this session's domain."""
    env = dict(os.environ if base is None else base)
    env.update(
        {
            "ROS_DOMAIN_ID": str(_SESSION_DOMAIN),
            "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST",  # Iron and later
            "ROS_LOCALHOST_ONLY": "1",  # Humble
            "RMW_IMPLEMENTATION": env.get("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp"),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def apply_ros_env() -> None:
    """Put :func:`ros_env` into this process's environment (call before ``rclpy.init``)."""
    os.environ.update(ros_env())


@contextlib.contextmanager
def one_torch_thread() -> Iterator[None]:
    """A tiny model on a shared 2-core runner: extra OpenMP threads only spin against load."""
    import torch

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
    import torch

    from mmed_core.deploy.checkpoint import save_checkpoint
    from mmed_core.network.config import ModelConfig
    from mmed_core.network.factory import create_model

    torch.manual_seed(seed)
    model = create_model(ModelConfig.preset("tiny", input_size=input_size, **config))
    out = Path(path)
    save_checkpoint(out, model, note="untrained test model")
    return out


def start_module(
    module: str, args: Sequence[str] = (), *, log: str | os.PathLike[str] | None = None
) -> subprocess.Popen:
    """Start ``python -m module args`` with :func:`ros_env`, in its own process group."""
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 - closed by the child
    env = ros_env()
    # One torch thread: on a shared 2-core runner spinning OpenMP threads cost 50x per conv.
    env["OMP_NUM_THREADS"] = "1"
    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop_process(proc: subprocess.Popen, timeout: float = 10.0) -> int:
    """SIGINT (clean shutdown), then SIGKILL after ``timeout``; returns the exit code."""
    import signal

    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)
    return int(proc.returncode)


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
        import time

        end = time.monotonic() + timeout
        while not done() and time.monotonic() < end:
            self.executor.spin_once(timeout_sec=0.05)
        return bool(done())

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

    from mmed_ros import conversions

    header = Header(frame_id=frame_id)
    conversions.set_stamp(header.stamp, stamp_ns)
    return conversions.image_msg(Image, array, encoding, header)
