# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Nodes as child processes on a private, loopback-only ROS graph (the demo and the tests).

    python -m mmed_ros.demo --quick      (starts perception_node and evaluator_node this way)

Every process started here gets :func:`ros_env`: DDS discovery limited to localhost (the
workplace forbids traffic off the loopback) and one random ``ROS_DOMAIN_ID`` per Python
process, so parallel runs on one machine, and a robot on the same network, do not see each
other. Importing this module loads neither rclpy nor torch.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from collections.abc import Sequence

__all__ = ["ros_env", "apply_ros_env", "start_module", "stop_process"]

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
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)
    return int(proc.returncode)
