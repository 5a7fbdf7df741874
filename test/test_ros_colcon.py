# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""`colcon build` of a copy of the repository installs what `ros2 launch` and `ros2 run` need."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from colcon_support import colcon_build

from mmed_ros.node_processes import ros_env

ROOT = Path(__file__).resolve().parents[1]
COLCON = shutil.which("colcon") or str(Path(sys.executable).with_name("colcon"))


@pytest.fixture(scope="module")
def install(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not Path(COLCON).exists():
        pytest.skip("colcon is not installed (pip install colcon-common-extensions)")
    ws = tmp_path_factory.mktemp("ws")
    result = colcon_build(COLCON, ws, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    return ws / "install" / "mmed_ros"


def test_colcon_installs_executables_launch_config_and_rviz(install: Path) -> None:
    for exe in ("perception_node", "evaluator_node", "mmed-bag"):
        path = install / "lib" / "mmed_ros" / exe
        assert path.is_file() and os.access(path, os.X_OK), exe
    share = install / "share" / "mmed_ros"
    for rel in (
        "launch/perception.launch.py",
        "config/perception.yaml",
        "rviz/perception.rviz",
        "package.xml",
    ):
        assert (share / rel).is_file(), rel
        assert (share / rel).read_bytes() == (ROOT / rel).read_bytes(), rel
    index = install / "share" / "ament_index" / "resource_index" / "packages" / "mmed_ros"
    assert index.is_file()
    # Every mmed_ros executable the installed launch file starts is in the install tree.
    launch = (share / "launch" / "perception.launch.py").read_text(encoding="utf-8")
    named = re.findall(r'package="mmed_ros",\s*executable="([\w-]+)"', launch)
    assert named and all((install / "lib" / "mmed_ros" / exe).is_file() for exe in named)


@pytest.mark.ros
def test_installed_executables_run(install: Path, tmp_path: Path) -> None:
    site = next((install / "lib").glob("python3*/site-packages"))
    env = ros_env()
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")])
    bag = subprocess.run(
        [str(install / "lib" / "mmed_ros" / "mmed-bag"), "--help"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bag.returncode == 0 and "make" in bag.stdout and "eval" in bag.stdout
    node = subprocess.run(
        [
            str(install / "lib" / "mmed_ros" / "perception_node"),
            "--ros-args",
            "-p",
            "weights:=missing.safetensors",
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    # The installed entry point imports and fails the way a user should see it fail.
    assert node.returncode == 1 and "cannot start" in node.stdout + node.stderr
