"""Helpers for the ROS tests: a loopback-only environment, tiny checkpoints, node subprocesses.

    python -m pytest test/test_ros_perception_node.py

Every process a test starts gets :func:`ros_env`: DDS discovery limited to localhost (the
workplace forbids traffic off the loopback) and one random ``ROS_DOMAIN_ID`` per test session,
so parallel sessions on one machine do not see each other. ROS-free: importing it starts nothing.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any, Sequence

__all__ = ["ros_env", "apply_ros_env", "tiny_checkpoint", "start_module", "stop_process"]

_SESSION_DOMAIN = random.SystemRandom().randint(1, 100)  # 0 is what a stray robot uses


def ros_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """``base`` (default os.environ) plus loopback-only discovery and this session's domain."""
    env = dict(os.environ if base is None else base)
    env.update({
        "ROS_DOMAIN_ID": str(_SESSION_DOMAIN),
        "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST",   # Iron and later
        "ROS_LOCALHOST_ONLY": "1",                      # Humble
        "RMW_IMPLEMENTATION": env.get("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp"),
        "PYTHONUNBUFFERED": "1",
    })
    return env


def apply_ros_env() -> None:
    """Put :func:`ros_env` into this process's environment (call before ``rclpy.init``)."""
    os.environ.update(ros_env())


def tiny_checkpoint(path: str | os.PathLike[str], *, input_size: tuple[int, int] = (32, 32),
                    seed: int = 0, **config: Any) -> Path:
    """Write an untrained tiny-preset checkpoint (random weights, seeded) and return its path."""
    import torch

    from mmed_core.checkpoint import save_checkpoint
    from mmed_core.config import ModelConfig
    from mmed_core.model import create_model

    torch.manual_seed(seed)
    model = create_model(ModelConfig.preset("tiny", input_size=input_size, **config))
    out = Path(path)
    save_checkpoint(out, model, note="untrained test model")
    return out


def start_module(module: str, args: Sequence[str] = (), *, log: str | os.PathLike[str] | None
                 = None) -> subprocess.Popen:
    """Start ``python -m module args`` with :func:`ros_env`, in its own process group."""
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 - closed by the child
    return subprocess.Popen([sys.executable, "-m", module, *args], env=ros_env(), stdout=out,
                            stderr=subprocess.STDOUT, start_new_session=True)


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
