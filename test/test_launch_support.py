# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""The launch files' logic without ROS: argument checks, overrides, the RViz config, the exit
handlers, the docs tables, package.xml. (test_launch_real.py runs the launches for real.)

    python -m pytest -q test/test_launch_support.py
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from mmed_ros import launch_support as ls
from mmed_ros.launch_support import (
    LaunchArgumentError,
    check_arguments,
    configure_evaluation,
    configure_perception,
    launch_argument_table,
    on_player_exit,
    on_required_exit,
    resolve_perception,
    rviz_config,
    rviz_subscriptions,
)
from mmed_ros.params import PERCEPTION_PARAMS
from mmed_ros.pipeline import output_topics

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "ROS.md").read_text(encoding="utf-8")
LAUNCH_FILES = {
    "perception": ROOT / "launch" / "perception.launch.py",
    "evaluation": ROOT / "launch" / "evaluation.launch.py",
}
TEMPLATE = ROOT / "rviz" / "perception.rviz"
SPECS = {spec.name: spec for spec in PERCEPTION_PARAMS}


@pytest.fixture
def weights(tmp_path: Path) -> Path:
    path = tmp_path / "m.safetensors"
    path.write_bytes(b"x")
    path.with_suffix(".json").write_text("{}")
    return path


def _args(checkpoint: Path, **given: str) -> dict[str, str]:
    """The launch configurations of perception.launch.py: declared defaults + ``given``."""
    args = {
        name: ast.literal_eval(default) if default is not None else ""
        for name, default in _declared(LAUNCH_FILES["perception"]).items()
        if name not in ("weights", "config")
    }
    args.update(weights=str(checkpoint), config=str(ROOT / "config" / "perception.yaml"))
    args.update(given)
    return args


def _declared(path: Path) -> dict[str, ast.AST | None]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "DeclareLaunchArgument":
            kw = {k.arg: k.value for k in node.keywords}
            default = kw.get("default_value")
            out[node.args[0].value] = default if isinstance(default, ast.Constant) else None
    return out


def _everything(name: str, executable: str | None) -> bool:
    return True


def _nothing(name: str, executable: str | None) -> bool:
    return False


# ---------------------------------------------------------------------------- arguments
def test_namespace_resolves_every_name(weights: Path) -> None:
    launch = resolve_perception(
        _args(weights, namespace="robot1", rgb_topic="camera/image"), package_exists=_nothing
    )
    assert launch.node == "/robot1/perception"
    assert launch.inputs == {"rgb": "/robot1/camera/image"}
    assert launch.cloud_topics == {
        "image_rect": "/robot1/perception/rgb/depth",
        "camera_info": "/robot1/perception/rgb/camera_info",
        "points": "/robot1/perception/rgb/points",
    }
    assert resolve_perception(_args(weights, namespace="/a/b/"), package_exists=_nothing).node == (
        "/a/b/perception"
    )
    assert ls.absolute_name("~/in", "/r1") == "/r1/perception/in"
    assert ls.absolute_name("~in", "") == "/perception/in"


def test_none_switches_an_input_off_and_empty_keeps_the_config(weights: Path) -> None:
    depth_only = resolve_perception(
        _args(weights, rgb_topic="none", depth_topic="/cam/depth"), package_exists=_nothing
    )
    assert depth_only.overrides["rgb_topic"] == "" and depth_only.paths == [("depth", "label")]
    assert depth_only.inputs == {"depth": "/cam/depth"}
    # Nothing given: the config file's topic, and no override that would beat it.
    default = resolve_perception(_args(weights), package_exists=_nothing)
    assert "rgb_topic" not in default.overrides and "qos_reliability" not in default.overrides
    assert default.inputs == {"rgb": "/camera/color/image_raw"}
    assert default.overrides == {"weights": str(weights)}


def test_a_custom_config_is_read_for_topics_and_outputs(weights: Path, tmp_path: Path) -> None:
    config = tmp_path / "robot.yaml"
    config.write_text(
        "perception:\n  ros__parameters:\n    rgb_topic: front/color\n"
        "    paths: ['rgb->label']\n    publish_overlay: true\n"
    )
    launch = resolve_perception(
        _args(weights, config=str(config), namespace="r2"), package_exists=_nothing
    )
    assert launch.inputs == {"rgb": "/r2/front/color"} and launch.paths == [("rgb", "label")]
    assert launch.options["publish_overlay"] is True


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"use_sim_time": "yes"}, r"use_sim_time:=yes: expected one of \['true', 'false'\]"),
        ({"log_level": "loud"}, "log_level:=loud"),
        ({"namespace": "1robot"}, "namespace:=1robot: expected a ROS namespace"),
        ({"rgb_topic": "a b"}, "rgb_topic:=a b: expected a ROS topic name or 'none'"),
        ({"rgb_topic": "none"}, "no input"),
        ({"rgb_topic": "none", "depth_topic": "/d", "point_cloud": "true"}, "rgb->depth"),
        ({"config": "/nonexistent.yaml"}, "config:=/nonexistent.yaml: parameter file not found"),
        ({"point_cloud": "true", "container": "a container"}, "container:=a container"),
    ],
)
def test_bad_values_are_named(weights: Path, given: dict[str, str], message: str) -> None:
    with pytest.raises(LaunchArgumentError, match=message):
        resolve_perception(_args(weights, **given), package_exists=_everything)


def test_missing_weights_name_the_missing_file(weights: Path) -> None:
    with pytest.raises(
        LaunchArgumentError, match=r"weights file .*nothing\.safetensors not found"
    ):
        resolve_perception(_args(weights.with_name("nothing.safetensors")))
    weights.with_suffix(".json").unlink()
    with pytest.raises(LaunchArgumentError, match=r"model card .*m\.json not found"):
        resolve_perception(_args(weights))
    with pytest.raises(LaunchArgumentError, match="no checkpoint given"):
        resolve_perception(_args(weights, weights=""))
    installed = weights.parent / "share" / "models" / ls.DEFAULT_MODEL
    with pytest.raises(LaunchArgumentError, match="default model .* is not installed"):
        resolve_perception(_args(installed))


def test_default_model_is_the_one_the_library_ships() -> None:
    from mmed_core.deploy.checkpoint import SHIPPED_MODEL

    assert ls.DEFAULT_MODEL == SHIPPED_MODEL


def test_missing_optional_packages_are_named_with_their_apt_package(weights: Path) -> None:
    with pytest.raises(LaunchArgumentError) as err:
        resolve_perception(
            _args(weights, rviz="true", point_cloud="true"), package_exists=_nothing
        )
    text = str(err.value)
    for pkg in ("rviz2", "depth-image-proc", "rclcpp-components"):
        assert f"ros-$ROS_DISTRO-{pkg}" in text
    assert "Nothing was started" in text

    # Into a running container: rclcpp_components is that container's business.
    def has(name: str, executable: str | None) -> bool:
        return name == "depth_image_proc"

    launch = resolve_perception(
        _args(weights, point_cloud="true", container="/cam/container"), package_exists=has
    )
    assert launch.point_cloud == "/cam/container"


def test_a_package_without_its_executable_counts_as_missing(
    weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A package whose executable is missing would make launch_ros fail only when it reaches
    that action, after perception_node started (the orphan of #12): caught up front."""
    marker = tmp_path / "share" / "ament_index" / "resource_index" / "packages" / "rviz2"
    marker.parent.mkdir(parents=True)
    marker.touch()
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(tmp_path))
    pytest.importorskip("ament_index_python")
    assert ls._package_exists("rviz2") and not ls._package_exists("rviz2", "rviz2")
    with pytest.raises(LaunchArgumentError, match="'rviz2', which is not installed"):
        resolve_perception(_args(weights, rviz="true"))
    exe = tmp_path / "lib" / "rviz2" / "rviz2"
    exe.parent.mkdir(parents=True)
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    assert resolve_perception(_args(weights, rviz="true")).rviz


def test_unknown_arguments_are_rejected() -> None:
    check_arguments(["weights:=x", "rviz:=true"], ["weights", "rviz"])
    with pytest.raises(LaunchArgumentError, match=r"unknown launch argument\(s\) \['rgb_topc'\]"):
        check_arguments(["rgb_topc:=/x"], ["rgb_topic", "_internal"])


# ---------------------------------------------------------------------------- RViz
def _published(launch: ls.PerceptionLaunch) -> set[str]:
    return {f"{launch.node}/{t}" for t, _ in output_topics(launch.paths, launch.options)}


@pytest.mark.parametrize(
    "given",
    [
        {},
        {"namespace": "robot1", "rgb_topic": "cam/rgb", "point_cloud": "true"},
        {"rgb_topic": "none", "depth_topic": "/camera/depth/image_raw"},
    ],
)
def test_rviz_subscribes_to_what_the_launch_publishes(weights: Path, given: dict) -> None:
    launch = resolve_perception(
        _args(weights, rviz="true", camera_frame="camera_color_optical_frame", **given),
        package_exists=_everything,
    )
    config = rviz_config(launch, TEMPLATE)
    topics = rviz_subscriptions(config)
    assert config["Visualization Manager"]["Global Options"]["Fixed Frame"] == (
        "camera_color_optical_frame"
    )
    outputs = {t for t in topics if t.startswith(launch.node + "/")}
    points = {launch.cloud_topics["points"]} if launch.point_cloud else set()
    # every image display is an input of this launch or an output the node publishes
    assert set(topics) - outputs == set(launch.inputs.values())
    assert outputs - points <= _published(launch) and outputs
    assert all(t.startswith(launch.namespace + "/") for t in topics if launch.namespace)
    if launch.point_cloud:
        assert topics[launch.cloud_topics["points"]] == "rviz_default_plugins/PointCloud2"
    else:
        assert "rviz_default_plugins/PointCloud2" not in topics.values()
    if "rgb" not in launch.inputs:
        assert set(topics) == {"/camera/depth/image_raw", "/perception/depth/label_color"}
    # the rest of the template (view, panels, grid) is kept
    assert config["Visualization Manager"]["Views"] and config["Panels"]


def test_rviz_template_opens_on_its_own() -> None:
    data = yaml.safe_load(TEMPLATE.read_text(encoding="utf-8"))
    topics = rviz_subscriptions(data)
    assert topics["/perception/rgb/points"] == "rviz_default_plugins/PointCloud2"
    assert topics["/perception/rgb/label_color"] == "rviz_default_plugins/Image"


# ---------------------------------------------------------------------------- launch glue
def test_only_the_launched_file_judges_the_command_line() -> None:
    ros2 = "/opt/ros/jazzy/bin/ros2"
    assert ls.launched_file([ros2, "launch", "mmed_ros", "perception.launch.py", "a:=b"]) == (
        "perception.launch.py"
    )
    assert ls.launched_file([ros2, "launch", "-d", "/ws/robot.launch.xml"]) == "robot.launch.xml"
    assert ls.launched_file(["python", "-m", "pytest"]) is None


def test_configure_sets_the_derived_configurations(
    weights: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ls.sys, "argv", ["ros2", "launch", "mmed_ros", "perception.launch.py"])
    cfg = _args(weights, namespace="robot1", rviz="true", qos_reliability="reliable")
    context = SimpleNamespace(launch_configurations=cfg, argv=["namespace:=robot1"])
    configure_perception(context, list(cfg), str(ROOT), package_exists=_everything)
    params = yaml.safe_load(Path(cfg["_mmed_params"]).read_text())
    assert params == {
        "/**": {"ros__parameters": {"qos_reliability": "reliable", "weights": str(weights)}}
    }
    rviz = yaml.safe_load(Path(cfg["_mmed_rviz_config"]).read_text())
    assert "/robot1/perception/rgb/depth" in rviz_subscriptions(rviz)
    assert (cfg["_mmed_cloud_own"], cfg["_mmed_cloud_load"]) == ("false", "false")
    # Everything the launch file reads from a configuration is declared or set here.
    used = set(
        re.findall(r'LaunchConfiguration\("(\w+)"\)', LAUNCH_FILES["perception"].read_text())
    )
    assert used <= set(cfg), used - set(cfg)
    with pytest.raises(LaunchArgumentError, match="unknown"):
        configure_perception(
            SimpleNamespace(launch_configurations=cfg, argv=["rviz2:=true"]), list(cfg), str(ROOT)
        )
    # included by a robot's bringup: its arguments are its own
    monkeypatch.setattr(ls.sys, "argv", ["ros2", "launch", "my_robot", "bringup.launch.py"])
    context = SimpleNamespace(launch_configurations=dict(cfg), argv=["robot_name:=r1"])
    configure_perception(context, list(cfg), str(ROOT), package_exists=_everything)


def _exit(code: int, shutdown: bool = False, respawn: str = "false") -> Any:
    event = SimpleNamespace(returncode=code, process_name="perception_node-1")
    context = SimpleNamespace(is_shutdown=shutdown, launch_configurations={"respawn": respawn})
    return on_required_exit(event, context)


def test_the_node_exit_decides_the_launch_result() -> None:
    assert _exit(-2, shutdown=True) is None  # Ctrl-C
    with pytest.raises(LaunchArgumentError, match="perception_node-1 exited with code 1"):
        _exit(1)
    with pytest.raises(LaunchArgumentError, match="code -11"):
        _exit(-11)
    assert _exit(-11, respawn="true") is None  # a crash: launch respawns it
    with pytest.raises(LaunchArgumentError, match="code 1"):
        _exit(1, respawn="true")  # cannot start: respawning would loop
    pytest.importorskip("launch.actions")
    (action,) = _exit(0)  # ended by itself: the launch ends, cleanly
    assert type(action).__name__ == "EmitEvent"


def test_evaluation_checks_its_arguments_before_anything_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ls.sys, "argv", ["ros2", "launch", "mmed_ros", "evaluation.launch.py"])
    declared = list(_declared(LAUNCH_FILES["evaluation"]))
    bag = tmp_path / "bag"
    bag.mkdir()
    (bag / "metadata.yaml").write_text("rosbag2_bagfile_information: {}\n")
    cfg = {"bag": str(bag), "rate": "0.5", "rgb_topic": "/camera/color/image_raw"}

    def run(argv: list[str], **given: str) -> None:
        context = SimpleNamespace(launch_configurations={**cfg, **given}, argv=argv)
        configure_evaluation(context, declared)

    run([f"bag:={bag}"])
    with pytest.raises(LaunchArgumentError, match="not a rosbag2 directory"):
        run([], bag=str(tmp_path))
    with pytest.raises(LaunchArgumentError, match="rate:=0: expected a positive"):
        run([], rate="0")
    with pytest.raises(LaunchArgumentError, match="rgb_topic: the evaluation scores"):
        run([], rgb_topic="none")
    # perception arguments the evaluation does not forward are refused, not ignored
    with pytest.raises(LaunchArgumentError, match=r"\['namespace'\]"):
        run(["namespace:=r1"])


def test_the_player_exit_ends_the_evaluation() -> None:
    context = SimpleNamespace(is_shutdown=False, launch_configurations={"settle": "2.5"})
    with pytest.raises(LaunchArgumentError, match="bag replay failed"):
        on_player_exit(SimpleNamespace(returncode=1), context)
    assert on_player_exit(SimpleNamespace(returncode=1), SimpleNamespace(is_shutdown=True)) is None
    pytest.importorskip("launch.actions")
    (timer,) = on_player_exit(SimpleNamespace(returncode=0), context)
    assert type(timer).__name__ == "TimerAction"


# ---------------------------------------------------------------------------- files
@pytest.mark.parametrize("name", sorted(LAUNCH_FILES))
def test_launch_argument_tables_are_the_generated_ones(name: str) -> None:
    match = re.search(
        rf"<!-- {name}-launch-args:begin[^>]*-->\n(.*?)\n<!-- {name}-launch-args:end -->",
        DOC,
        re.S,
    )
    assert match, f"docs/ROS.md lacks the generated block '{name}-launch-args'"
    assert match.group(1) == launch_argument_table(LAUNCH_FILES[name]), (
        "regenerate with mmed_ros.launch_support.launch_argument_table()"
    )


@pytest.mark.parametrize("name", sorted(LAUNCH_FILES))
def test_launch_files_stay_declarative(name: str) -> None:
    path = LAUNCH_FILES[name]
    source = path.read_text(encoding="utf-8")
    for banned in ("eval(", "subprocess", "import sys", "PythonExpression", "def _"):
        assert banned not in source, banned
    tree = ast.parse(source)
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    for call in calls:
        if getattr(call.func, "id", "") == "DeclareLaunchArgument":
            assert any(k.arg == "description" for k in call.keywords), ast.unparse(call)
        if getattr(call.func, "id", "") == "OpaqueFunction":  # only the tested functions
            fn = next(k.value for k in call.keywords if k.arg == "function")
            assert getattr(ls, fn.id) in (ls.configure_perception, ls.configure_evaluation)
    # every declared argument is read, by the file or by launch_support
    support = Path(ls.__file__).read_text(encoding="utf-8")
    for arg in _declared(path):
        assert f'LaunchConfiguration("{arg}")' in source or f'"{arg}"' in support, arg
    setup = (ROOT / "setup.py").read_text(encoding="utf-8")
    for exe in re.findall(r'package="mmed_ros",\s*executable="([\w-]+)"', source):
        assert re.search(rf'"{exe} = mmed_ros\.\w+:main"', setup), exe


def test_mirrored_defaults_match_the_node() -> None:
    assert set(ls.NODE_ARGUMENTS) <= set(SPECS)
    for name, value in ls._NODE_DEFAULTS.items():
        assert SPECS[name].default == value, name


def test_optional_parts_are_conditional_exec_depends() -> None:
    xml = (ROOT / "package.xml").read_text(encoding="utf-8")
    for pkg in ls.OPTIONAL_PACKAGES:
        assert re.search(rf'<exec_depend condition="\$MMED_\w+ == 1">{pkg}</exec_depend>', xml)
    for pkg in ("launch", "launch_ros", "rclpy"):
        assert f"<exec_depend>{pkg}</exec_depend>" in xml
    setup = (ROOT / "setup.py").read_text(encoding="utf-8")
    assert '"/models"' in setup and 'glob("models/*.safetensors")' in setup
    assert 'glob("launch/*.launch.py")' in setup
