# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""`ros2 launch mmed_ros ...` for real: the package colcon-built into a temporary workspace,
each case a `ros2 launch` subprocess, checked from a second rclpy process (the probe).

    python -m pytest -q test/test_launch_real.py

Needs the real launch stack (launch, launch_ros, ros2cli): a ROS 2 install, or the launch kit
that `./dev setup` installs when ../shared/ros-launch-kit exists (CI). Without it the module
skips, saying so. rviz2 and a component container are stood in for by tiny fake packages
(rclpy scripts) so that what the launch hands them can be checked; depth_image_proc and
rclcpp_components are absent, as on a headless robot.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from colcon_support import colcon_build

from mmed_ros.launch_support import rviz_subscriptions
from mmed_ros.testing import Probe, image_msg, ros_env, tiny_checkpoint

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
COLCON = shutil.which("colcon") or str(BIN / "colcon")
ROS2 = shutil.which("ros2") or str(BIN / "ros2")

_MISSING = [
    m for m in ("launch", "launch_ros", "ros2launch", "rclpy") if not importlib.util.find_spec(m)
]
if _MISSING or not Path(ROS2).exists():
    pytest.skip(
        f"the real ROS 2 launch stack is not installed ({', '.join(_MISSING) or 'no ros2'}): "
        "./dev setup installs the launch kit when ../shared/ros-launch-kit exists, or source "
        "a ROS 2 install",
        allow_module_level=True,
    )
if not Path(COLCON).exists():
    pytest.skip("colcon is not installed (requirements/dev.txt)", allow_module_level=True)

pytestmark = pytest.mark.ros

FAKE_RVIZ = """#!{python}
# Stand-in for rviz2: a node named as launched; saves its arguments and the -d config.
import json, shutil, sys, rclpy, rclpy.executors
config = sys.argv[sys.argv.index('-d') + 1]
shutil.copy(config, {out!r} + '/rviz.rviz')
rclpy.init(args=sys.argv)
node = rclpy.create_node('rviz2_fake')
with open({out!r} + '/rviz.json', 'w') as f:
    json.dump({{'argv': sys.argv, 'name': node.get_fully_qualified_name(),
               'use_sim_time': node.get_parameter('use_sim_time').value}}, f)
try:
    rclpy.spin(node)
except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
    pass
"""

FAKE_CONTAINER = """#!{python}
# Stand-in for a component container: answers LoadNode and saves the request.
import json, sys, rclpy, rclpy.executors
from composition_interfaces.srv import ListNodes, LoadNode, UnloadNode
rclpy.init(args=sys.argv); node = rclpy.create_node('fake_container')
def load(req, resp):
    with open({out!r}, 'w') as f:
        json.dump({{'plugin': req.plugin_name, 'name': req.node_name,
                   'ns': req.node_namespace, 'remaps': list(req.remap_rules),
                   'container': node.get_fully_qualified_name()}}, f)
    resp.success = True; resp.unique_id = 1
    resp.full_node_name = req.node_namespace.rstrip('/') + '/' + req.node_name
    return resp
node.create_service(LoadNode, '~/_container/load_node', load)
node.create_service(ListNodes, '~/_container/list_nodes', lambda q, r: r)
node.create_service(UnloadNode, '~/_container/unload_node', lambda q, r: r)
try:
    rclpy.spin(node)
except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
    pass
"""


class Workspace:
    """The built workspace, the environment of a shell that sourced it, test checkpoints."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.fake = root / "fake"  # prefix of the fake optional packages
        self.out = root / "fake_out"
        self.out.mkdir()
        self.weights = tiny_checkpoint(root / "tiny.safetensors")
        self.bad = root / "bad.safetensors"  # exists, with its card, but corrupt
        self.bad.write_bytes(self.weights.read_bytes()[:2000])
        shutil.copy(self.weights.with_suffix(".json"), self.bad.with_suffix(".json"))
        self.env = self._sourced_env()

    def _sourced_env(self) -> dict[str, str]:
        base = ros_env()
        base["OMP_NUM_THREADS"] = "1"
        base["PATH"] = f"{BIN}{os.pathsep}{base.get('PATH', '')}"
        # What `source /opt/ros/$DISTRO/setup.bash` sets; the PyPI wheels do not.
        prefix = base.get("AMENT_PREFIX_PATH", "")
        base["AMENT_PREFIX_PATH"] = os.pathsep.join(p for p in (sys.prefix, prefix) if p)
        # The installed package, not this checkout, must be what runs.
        base["PYTHONPATH"] = os.pathsep.join(
            p for p in base.get("PYTHONPATH", "").split(os.pathsep) if p and Path(p) != ROOT
        )
        dump = subprocess.run(
            ["bash", "-c", f"source {self.root}/install/setup.bash && env -0"],
            env=base,
            capture_output=True,
            check=True,
            timeout=60,
        )
        pairs = (item.split("=", 1) for item in dump.stdout.decode().split("\0") if "=" in item)
        return dict(pairs)

    def add_fake_package(self, name: str, executables: dict[str, str] | None = None) -> None:
        marker = self.fake / "share" / "ament_index" / "resource_index" / "packages" / name
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
        for exe_name, text in (executables or {}).items():
            exe = self.fake / "lib" / name / exe_name
            exe.parent.mkdir(parents=True, exist_ok=True)
            exe.write_text(text)
            exe.chmod(0o755)

    def env_with_fakes(self) -> dict[str, str]:
        env = dict(self.env)
        env["AMENT_PREFIX_PATH"] = f"{self.fake}{os.pathsep}{env['AMENT_PREFIX_PATH']}"
        return env


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    root = tmp_path_factory.mktemp("launch_ws")
    built = colcon_build(COLCON, root, timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr
    return Workspace(root)


@pytest.fixture(scope="module")
def probe() -> Iterator[Probe]:
    p = Probe("mmed_launch_probe")
    yield p
    p.close()


class Launch:
    """One `ros2 launch` process (own session, so SIGINT reaches only it) and its log."""

    def __init__(
        self,
        ws: Workspace,
        args: list[str],
        env: dict[str, str] | None = None,
        file: str = "perception.launch.py",
    ) -> None:
        self.log = ws.root / f"launch_{time.monotonic_ns()}.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                # a package's file, or a path (a robot's own launch file)
                [ROS2, "launch", *([] if Path(file).is_absolute() else ["mmed_ros"]), file, *args],
                env=env or ws.env,
                cwd=ws.root,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def children(self) -> list[int]:
        return [int(p) for p in re.findall(r"process started with pid \[(\d+)\]", self.text())]

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            pytest.fail(f"ros2 launch still running after {timeout} s:\n{self.text()}")

    def stop(self) -> int:
        """SIGINT (Ctrl-C) to the launch only; its exit code. Fails if a child survives."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        rc = self.wait(40)
        survivors = [pid for pid in self.children() if _alive(pid)]
        for pid in survivors:
            os.kill(pid, signal.SIGKILL)
        assert not survivors, f"processes {survivors} outlived their launch:\n{self.text()}"
        return rc


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return not (status.is_file() and "\nState:\tZ" in status.read_text())


def _wait_log(launch: Launch, pattern: str, timeout: float) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if re.search(pattern, launch.text()):
            return
        if launch.proc.poll() is not None:
            break
        time.sleep(0.2)
    launch.stop()
    pytest.fail(f"{pattern!r} not in the launch output:\n{launch.text()}")


def _wait_graph(probe: Probe, check: Any, timeout: float = 30.0) -> bool:
    return probe.spin_until(check, timeout)


def _publishers(probe: Probe, topic: str) -> int:
    return len(probe.node.get_publishers_info_by_topic(topic))


def _subscribers(probe: Probe, topic: str) -> int:
    return len(probe.node.get_subscriptions_info_by_topic(topic))


def _param(probe: Probe, node: str, name: str) -> Any:
    from rcl_interfaces.srv import GetParameters
    from rclpy.parameter import parameter_value_to_python

    reply = probe.call(
        GetParameters, f"{node}/get_parameters", GetParameters.Request(names=[name])
    )
    return parameter_value_to_python(reply.values[0])


# ------------------------------------------------------------------------------ the cases
def test_namespace_sim_time_rviz_and_frames_through(ws: Workspace, probe: Probe) -> None:
    """namespace:= reaches the node and RViz; use_sim_time too; RViz's config names exactly
    topics that exist under the namespace; a frame goes in and its estimate comes out; Ctrl-C
    ends everything with code 0."""
    from sensor_msgs.msg import Image

    ws.add_fake_package(
        "rviz2", {"rviz2": FAKE_RVIZ.format(python=sys.executable, out=str(ws.out))}
    )
    launch = Launch(
        ws,
        [
            f"weights:={ws.weights}",
            "namespace:=robot1",
            "use_sim_time:=true",
            "rgb_topic:=camera/image",  # relative: resolves in the namespace
            "rviz:=true",
            "camera_frame:=camera_color_optical_frame",
            "log_level:=debug",
        ],
        env=ws.env_with_fakes(),
    )
    try:
        names = lambda: probe.node.get_fully_qualified_node_names()  # noqa: E731
        assert _wait_graph(
            probe, lambda: {"/robot1/perception", "/robot1/rviz2"} <= set(names()), 60
        ), f"{names()}\n{launch.text()}"
        assert _param(probe, "/robot1/perception", "use_sim_time") is True
        assert _param(probe, "/robot1/perception", "rgb_topic") == "camera/image"
        assert _wait_graph(probe, lambda: _subscribers(probe, "/robot1/camera/image") == 1)

        got: list[Image] = []
        probe.node.create_subscription(Image, "/robot1/perception/rgb/label", got.append, 10)
        pub = probe.node.create_publisher(Image, "/robot1/camera/image", 10)
        frame = image_msg(__import__("numpy").zeros((24, 32, 3), "uint8"), "rgb8", 7, "cam")
        assert probe.spin_until(lambda: pub.publish(frame) or bool(got), 30), launch.text()
        assert got[0].header.stamp.nanosec == 7 and (got[0].height, got[0].width) == (24, 32)

        rviz = json.loads((ws.out / "rviz.json").read_text())
        assert rviz["name"] == "/robot1/rviz2" and rviz["use_sim_time"] is True
        config = yaml.safe_load((ws.out / "rviz.rviz").read_text())
        assert config["Visualization Manager"]["Global Options"]["Fixed Frame"] == (
            "camera_color_optical_frame"
        )
        topics = rviz_subscriptions(config)
        assert "/robot1/camera/image" in topics and "/robot1/perception/rgb/label_color" in topics
        # What RViz would subscribe to exists in the graph right now.
        for topic in topics:
            assert _wait_graph(probe, lambda t=topic: _publishers(probe, t) > 0, 10), topic
    finally:
        rc = launch.stop()
    assert rc == 0, launch.text()
    assert "process has finished cleanly" in launch.text()
    assert "[DEBUG]" in launch.text()  # log_level:=debug reached the node


def test_depth_only_from_the_command_line(ws: Workspace, probe: Probe) -> None:
    launch = Launch(ws, [f"weights:={ws.weights}", "rgb_topic:=none", "depth_topic:=/cam/depth"])
    try:
        assert _wait_graph(probe, lambda: _publishers(probe, "/perception/depth/label") > 0, 60), (
            launch.text()
        )
        assert _param(probe, "/perception", "rgb_topic") == ""
        assert _wait_graph(probe, lambda: _subscribers(probe, "/cam/depth") == 1)
        assert _subscribers(probe, "/camera/color/image_raw") == 0
        assert _publishers(probe, "/perception/rgb/label") == 0
    finally:
        assert launch.stop() == 0, launch.text()


BRINGUP = """
import os
from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration

def generate_launch_description():
    perception = os.path.join(
        get_package_share_directory('mmed_ros'), 'launch', 'perception.launch.py')
    return LaunchDescription([
        DeclareLaunchArgument('robot_name'),
        IncludeLaunchDescription(
            PythonLaunchDescriptionSource(perception),
            launch_arguments={{'weights': {weights!r}, 'config': {config!r},
                               'namespace': LaunchConfiguration('robot_name')}}.items()),
    ])
"""


def test_robot_bringup_includes_it_and_its_config_wins(ws: Workspace, probe: Probe) -> None:
    """A robot's own launch file (with its own arguments) includes perception.launch.py with
    a parameter file: the file's values hold where no argument was given."""
    config = ws.root / "robot.yaml"
    config.write_text(
        "/**:\n  ros__parameters:\n    rgb_topic: /front/color\n    qos_reliability: reliable\n"
    )
    bringup = ws.root / "bringup.launch.py"
    bringup.write_text(BRINGUP.format(weights=str(ws.weights), config=str(config)))
    launch = Launch(ws, ["robot_name:=r2"], file=str(bringup))
    try:
        assert _wait_graph(probe, lambda: _subscribers(probe, "/front/color") == 1, 60), (
            launch.text()
        )
        assert _param(probe, "/r2/perception", "qos_reliability") == "reliable"
    finally:
        assert launch.stop() == 0, launch.text()


@pytest.mark.parametrize("fault", ["weights", "qos_reliability"])
def test_node_that_cannot_start_fails_the_launch(ws: Workspace, fault: str) -> None:
    """A corrupt checkpoint, or a value only the node can judge: its reason on screen, the
    launch exits 1 (scripts and systemd see it)."""
    if fault == "qos_reliability":
        launch = Launch(ws, [f"weights:={ws.weights}", "qos_reliability:=fast"])
    else:
        launch = Launch(ws, [f"weights:={ws.bad}"])
    rc = launch.wait(90)
    text = launch.text()
    assert rc == 1, text
    assert "cannot start" in text and "exited with code 1" in text
    assert ("fast" if fault == "qos_reliability" else "sha256") in text
    assert not [pid for pid in launch.children() if _alive(pid)]


@pytest.mark.parametrize("respawn", ["false", "true"])
def test_a_crash_ends_the_launch_unless_respawn(ws: Workspace, respawn: str) -> None:
    launch = Launch(ws, [f"weights:={ws.weights}", f"respawn:={respawn}"])
    _wait_log(launch, r"rgb: /camera/color/image_raw", 60)  # up and subscribed
    first = launch.children()[0]
    os.kill(first, signal.SIGKILL)  # a crash (segfault, OOM killer)
    if respawn == "false":
        assert launch.wait(30) == 1, launch.text()
        assert "exited with code -9" in launch.text()
        return
    end = time.monotonic() + 60
    while len(launch.children()) < 2 and time.monotonic() < end:
        time.sleep(0.2)
    assert len(launch.children()) == 2, launch.text()
    assert _alive(launch.children()[1]) and launch.proc.poll() is None
    assert launch.stop() == 0, launch.text()


def test_missing_weights_are_named_before_anything_starts(ws: Workspace) -> None:
    launch = Launch(ws, [f"weights:={ws.root / 'nothing.safetensors'}"])
    assert launch.wait(60) == 1
    text = launch.text()
    assert "nothing.safetensors not found" in text and "model card" not in text
    assert "process started" not in text


@pytest.mark.parametrize("part", ["point_cloud", "rviz"])
def test_missing_optional_part_leaves_no_orphan(ws: Workspace, part: str) -> None:
    """point_cloud:=true on a machine without rclcpp_components / depth_image_proc, rviz:=true
    with an rviz2 package that lacks its executable: a clear failure before perception_node
    starts, nothing left running."""
    env = ws.env
    if part == "rviz":
        broken = ws.root / "broken"
        marker = broken / "share" / "ament_index" / "resource_index" / "packages" / "rviz2"
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
        env = {**ws.env, "AMENT_PREFIX_PATH": f"{broken}{os.pathsep}{ws.env['AMENT_PREFIX_PATH']}"}
    launch = Launch(ws, [f"weights:={ws.weights}", f"{part}:=true"], env=env)
    assert launch.wait(60) == 1
    text = launch.text()
    if part == "point_cloud":
        assert "'rclcpp_components', which is not installed" in text, text
        assert "depth-image-proc" in text
    else:
        assert "'rviz2', which is not installed (apt install ros-$ROS_DISTRO-rviz2)" in text
    assert "Nothing was started" in text and "process started" not in text
    # Nothing anywhere runs with this launch's weights (an orphan would be re-parented to 1).
    time.sleep(1.0)
    leftovers = [
        p
        for p in Path("/proc").glob("[0-9]*/cmdline")
        if str(ws.weights).encode() in _read(p) and b"perception_node" in _read(p)
    ]
    assert not [p for p in leftovers if _alive(int(p.parent.name))]


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def test_unknown_argument_is_rejected(ws: Workspace) -> None:
    launch = Launch(ws, [f"weights:={ws.weights}", "rgb_topc:=/x"])
    assert launch.wait(60) == 1
    assert "unknown launch argument(s) ['rgb_topc']" in launch.text()


@pytest.mark.parametrize("mode", ["own", "existing"])
def test_point_cloud_follows_the_namespace(ws: Workspace, mode: str) -> None:
    """The point-cloud component lands in /robot1 and reads /robot1/perception/rgb/depth,
    whether the launch starts its container or loads it into a running one (container:=)."""
    request = ws.out / f"load_node_{mode}.json"
    fake = FAKE_CONTAINER.format(python=sys.executable, out=str(request))
    ws.add_fake_package("depth_image_proc")  # loaded by the container, not by the launch
    env = ws.env_with_fakes()
    args = [f"weights:={ws.weights}", "namespace:=robot1", "point_cloud:=true"]
    container = None
    if mode == "own":  # launch starts rclcpp_components' component_container
        ws.add_fake_package("rclcpp_components", {"component_container": fake})
    else:
        script = ws.root / "fake_container.py"
        script.write_text(fake)
        container = subprocess.Popen(
            [sys.executable, str(script)], env=env, start_new_session=True
        )
        args.append("container:=/fake_container")
    launch = Launch(ws, args, env=env)
    try:
        end = time.monotonic() + 60
        while not request.is_file() and time.monotonic() < end and launch.proc.poll() is None:
            time.sleep(0.2)
        assert request.is_file(), launch.text()
        time.sleep(0.2)
        got = json.loads(request.read_text())
    finally:
        rc = launch.stop()
        if container is not None:
            container.send_signal(signal.SIGINT)
            container.wait(20)
    assert rc == 0, launch.text()
    assert got["container"] == ("/robot1/mmed_point_cloud" if mode == "own" else "/fake_container")
    assert got["plugin"] == "depth_image_proc::PointCloudXyzNode" and got["ns"] == "/robot1"
    assert set(got["remaps"]) == {
        "image_rect:=/robot1/perception/rgb/depth",
        "camera_info:=/robot1/perception/rgb/camera_info",
        "points:=/robot1/perception/rgb/points",
    }


def test_evaluation_bringup_replays_and_reports(ws: Workspace, probe: Probe) -> None:
    from rosgraph_msgs.msg import Clock

    from mmed_ros.bag_cli import write_synthetic_bag

    bag = ws.root / "bag"
    write_synthetic_bag(bag, frames=5, size=(24, 32), seed=3, rate=10.0, force=True)
    metrics = ws.root / "metrics.json"
    launch = Launch(
        ws,
        [
            f"bag:={bag}",
            f"weights:={ws.weights}",
            f"output_json:={metrics}",
            "settle:=2.0",
            "rate:=0.5",
        ],
        file="evaluation.launch.py",
    )
    clock: list[Clock] = []
    probe.node.create_subscription(Clock, "/clock", clock.append, 10)
    probe.spin_until(lambda: launch.proc.poll() is not None, 150)
    rc = launch.wait(5)
    text = launch.text()
    assert rc == 0, text
    # the replay drove sim time: the bag's stamps came out on /clock
    assert clock and clock[-1].clock.sec > 0
    assert "played 30 messages" in text and "mmed evaluator_node" in text
    results = json.loads(metrics.read_text())
    # every frame scored: the player waits for the subscribers, then half speed
    assert (results["depth_pairs"], results["label_pairs"]) == (5, 5), results
    assert not [pid for pid in launch.children() if _alive(pid)]
