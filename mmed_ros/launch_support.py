# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""What the launch files compute: checked arguments, the node's overrides, the RViz config.

    ros2 launch mmed_ros perception.launch.py namespace:=robot1 rgb_topic:=none \
        depth_topic:=/camera/depth/image_raw rviz:=true camera_frame:=camera_depth_optical_frame

The launch files stay flat lists of declared arguments and actions; the few values that must be
computed from several arguments (the parameter overrides, the RViz config that follows the
namespace and topics, the checks that run before anything starts) come from here, through one
``OpaqueFunction``. This module imports neither launch nor rclpy nor torch (a launch file must
start fast, and the tests run it without ROS): the launch context and events are duck-typed.
"""

from __future__ import annotations

import ast
import atexit
import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "LaunchArgumentError",
    "NONE_WORDS",
    "DEFAULT_MODEL",
    "OPTIONAL_PACKAGES",
    "PerceptionLaunch",
    "resolve_perception",
    "configure_perception",
    "configure_evaluation",
    "on_required_exit",
    "on_player_exit",
    "check_arguments",
    "launched_file",
    "rviz_config",
    "rviz_subscriptions",
    "absolute_name",
    "launch_argument_table",
]

# What `rgb_topic:=none` etc. mean: the input is off (the node's parameter gets ''). A launch
# argument cannot be given as an empty string on the command line, hence a word.
NONE_WORDS: tuple[str, ...] = ("none", "off", "''", '""')
# The model the package ships (installed to share/mmed_ros/models/ from models/); the same name
# as mmed_core.deploy.checkpoint.SHIPPED_MODEL, spelled out because this module must not import
# torch (test_launch_support checks they agree).
DEFAULT_MODEL = "nyu12-synthetic.safetensors"
BOOLEANS = ("true", "false")
OWN_CONTAINER = "<own>"  # point_cloud without container:=: the launch starts one (not a name)
BOOLEANS_ARGS = ("use_sim_time", "rviz", "point_cloud")
LOG_LEVELS = ("debug", "info", "warn", "error", "fatal")
# Node parameters a launch argument sets only when given ('' = the config file's value). Their
# values are the node's to check (mmed_ros.params): a bad one stops it with "cannot start: ..."
# naming the value, and that ends the launch with code 1.
NODE_ARGUMENTS = ("device", "precision", "backend", "qos_reliability")
_NAME_RE = re.compile(r"^[~/]?[A-Za-z_][\w/]*$")
# Optional run-time packages (package.xml: conditional exec_depends) and the apt package name.
OPTIONAL_PACKAGES: dict[str, str] = {
    "rviz2": "ros-$ROS_DISTRO-rviz2",
    "depth_image_proc": "ros-$ROS_DISTRO-depth-image-proc",
    "rclcpp_components": "ros-$ROS_DISTRO-rclcpp-components",
}
# Output leaves of perception_node per destination modality (mirrors mmed_ros.pipeline; a test
# checks every RViz topic against pipeline.output_topics).
# (leaf, the option that enables it or None); the class ids (`label`) are not images to look at.
_LEAVES: dict[str, tuple[tuple[str, str | None], ...]] = {
    "label": (("label_color", "publish_color"), ("label_overlay", "publish_overlay")),
    "depth": (("depth", None),),
    "rgb": (("rgb", None),),
}
_NODE_DEFAULTS: dict[str, Any] = {
    "rgb_topic": "rgb/image_raw",
    "depth_topic": "",
    "label_topic": "",
    "paths": ["rgb->label", "rgb->depth", "depth->label"],
    "publish_color": True,
    "publish_overlay": False,
}


class LaunchArgumentError(ValueError):
    """A launch argument is unknown or has a bad value, or an optional part is missing.

    Raised inside the launch: ``ros2 launch`` prints "Caught exception in launch: <message>",
    stops everything it started and exits with code 1.
    """


# ---------------------------------------------------------------------------- names
def absolute_name(name: str, namespace: str, node: str = "perception") -> str:
    """ROS name resolution of a topic: '/a' stays, 'a' -> '/<ns>/a', '~/a' -> '/<ns>/<node>/a'."""
    if name.startswith("/"):
        return name
    ns = namespace.strip("/")
    if name.startswith("~"):
        name = f"{node}/{name[1:].lstrip('/')}"
    return f"/{ns}/{name}" if ns else f"/{name}"


def _node_namespace(namespace: str) -> str:
    ns = namespace.strip("/")
    if ns and not re.match(r"^[A-Za-z_]\w*(/[A-Za-z_]\w*)*$", ns):
        raise LaunchArgumentError(
            f"namespace:={namespace}: expected a ROS namespace such as 'robot1' or '/robot1/cam'"
        )
    return f"/{ns}" if ns else ""


# ---------------------------------------------------------------------------- arguments
def launched_file(argv: Sequence[str] | None = None) -> str | None:
    """Base name of the launch file `ros2 launch` was started with, else None.

    The command-line arguments (``context.argv``) belong to that file: a launch file included
    by another (a robot's bringup, evaluation.launch.py) must not judge them, as the parent
    declares its own."""
    args = list(sys.argv if argv is None else argv)
    if len(args) < 3 or Path(args[0]).name != "ros2" or args[1] != "launch":
        return None
    for arg in args[2:]:
        if ":=" not in arg and arg.endswith((".py", ".xml", ".yaml", ".yml")):
            return Path(arg).name
    return None


def check_arguments(argv: Iterable[str], declared: Iterable[str]) -> None:
    """Reject ``name:=value`` command-line arguments that no launch file declares."""
    known = set(declared)
    given = [a.split(":=", 1)[0] for a in argv if ":=" in a]
    unknown = [name for name in given if name not in known]
    if unknown:
        raise LaunchArgumentError(
            f"unknown launch argument(s) {unknown}; this launch file takes "
            f"{sorted(n for n in known if not n.startswith('_'))} "
            "(see `ros2 launch mmed_ros <file> --show-args`)"
        )


def _choice(args: Mapping[str, str], name: str, choices: Sequence[str], allow_empty: bool) -> str:
    value = str(args.get(name, "")).strip()
    if value == "" and allow_empty:
        return ""
    if value.lower() not in choices:
        raise LaunchArgumentError(f"{name}:={value}: expected one of {list(choices)}")
    return value.lower()


def _topic(args: Mapping[str, str], name: str) -> str | None:
    """None = not given (keep the config's), '' = off (`none`), else the topic name."""
    value = str(args.get(name, "")).strip()
    if value == "":
        return None
    if value.lower() in NONE_WORDS:
        return ""
    if not _NAME_RE.match(value) or "//" in value:
        raise LaunchArgumentError(
            f"{name}:={value}: expected a ROS topic name or 'none' (input off)"
        )
    return value


def _check_weights(weights: str) -> Path:
    if not weights:
        raise LaunchArgumentError(
            "weights: no checkpoint given; pass weights:=/path/model.safetensors"
        )
    path = Path(weights).expanduser()
    if path.suffix not in (".safetensors", ".json", ""):
        raise LaunchArgumentError(
            f"weights:={weights}: expected a .safetensors checkpoint (with its .json card)"
        )
    stem = path.with_suffix("") if path.suffix else path
    tensors, card = stem.with_suffix(".safetensors"), stem.with_suffix(".json")
    if not tensors.is_file():
        hint = ""
        if tensors.name == DEFAULT_MODEL:
            hint = (
                f"; the package's default model {DEFAULT_MODEL} is not installed (models/ "
                "held none when it was built): pass weights:=/path/model.safetensors"
            )
        raise LaunchArgumentError(f"weights:={weights}: weights file {tensors} not found{hint}")
    if not card.is_file():
        raise LaunchArgumentError(
            f"weights:={weights}: model card {card} not found (it must lie next to the "
            ".safetensors file)"
        )
    return tensors


def _config_params(config: str, namespace: str) -> dict[str, Any]:
    """The perception node's parameters set by the YAML ``config`` file (wildcards too)."""
    path = Path(config).expanduser()
    if not path.is_file():
        raise LaunchArgumentError(f"config:={config}: parameter file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise LaunchArgumentError(f"config:={config}: not a readable YAML file ({exc})") from exc
    if not isinstance(data, dict):
        raise LaunchArgumentError(f"config:={config}: expected a mapping of node names")
    ns = namespace.strip("/")
    names = {"/**", "**", "perception", "/perception", f"{ns}/perception", f"/{ns}/perception"}
    out: dict[str, Any] = {}
    for key, section in data.items():
        if str(key) in names and isinstance(section, dict):
            out.update(section.get("ros__parameters") or {})
    return out


@dataclass(frozen=True)
class PerceptionLaunch:
    """What one perception launch resolves to (all names absolute)."""

    namespace: str  # '' or '/robot1'
    node: str  # '/robot1/perception'
    weights: str
    overrides: dict[str, Any]  # node parameters given as launch arguments
    inputs: dict[str, str]  # source modality -> absolute input topic (only those on)
    paths: list[tuple[str, str]]  # the conversion paths the node will run
    options: dict[str, Any]  # publish_color / publish_overlay
    camera_frame: str
    point_cloud: str  # '' = off, OWN_CONTAINER, else the running container to load into
    rviz: bool
    use_sim_time: bool

    def output(self, leaf: str) -> str:
        return f"{self.node}/{leaf}"

    @property
    def cloud_topics(self) -> dict[str, str]:
        """Remappings of depth_image_proc::PointCloudXyzNode onto the rgb->depth outputs."""
        return {
            "image_rect": self.output("rgb/depth"),
            "camera_info": self.output("rgb/camera_info"),
            "points": self.output("rgb/points"),
        }


def resolve_perception(
    args: Mapping[str, str],
    *,
    package_exists: Callable[[str, str | None], bool] | None = None,
) -> PerceptionLaunch:
    """Check the perception launch arguments and derive the launch; LaunchArgumentError on a
    bad value or a missing optional package (before anything is started).

    ``package_exists(package, executable)``: whether the ROS package is installed (with that
    executable, if not None); default: looked up in the ament index."""
    exists = package_exists or _package_exists
    flags = {n: _choice(args, n, BOOLEANS, False) == "true" for n in BOOLEANS_ARGS}
    _choice(args, "respawn", BOOLEANS, False)
    _choice(args, "log_level", LOG_LEVELS, False)
    namespace = _node_namespace(str(args.get("namespace", "")))
    overrides: dict[str, Any] = {}
    for name in NODE_ARGUMENTS:
        value = str(args.get(name, "")).strip()
        if value:
            overrides[name] = value
    for name in ("rgb_topic", "depth_topic"):
        topic = _topic(args, name)
        if topic is not None:
            overrides[name] = topic
    weights = _check_weights(str(args.get("weights", "")).strip())
    overrides["weights"] = str(weights)

    params = {**_NODE_DEFAULTS, **_config_params(str(args.get("config", "")), namespace)}
    params.update(overrides)
    topics = {"rgb": params["rgb_topic"], "depth": params["depth_topic"]}
    topics["label"] = params["label_topic"]
    inputs = {src: absolute_name(t, namespace) for src, t in topics.items() if t}
    paths = []
    for text in params["paths"]:
        src, _, dst = str(text).replace(" ", "").partition("->")
        if src in inputs and (src, dst) not in paths:
            paths.append((src, dst))
    if not paths:
        raise LaunchArgumentError(
            f"no input: rgb_topic={topics['rgb']!r}, depth_topic={topics['depth']!r} leave "
            f"none of the paths {list(params['paths'])} a source; give rgb_topic:=TOPIC "
            "or depth_topic:=TOPIC"
        )

    container = str(args.get("container", "")).strip()
    point_cloud = ""
    if flags["point_cloud"]:
        if ("rgb", "depth") not in paths:
            raise LaunchArgumentError(
                "point_cloud:=true builds the cloud of the rgb->depth estimate, but this "
                f"launch runs only {[f'{s}->{d}' for s, d in paths]} (rgb_topic is off?)"
            )
        if container and (not _NAME_RE.match(container) or container.startswith("~")):
            raise LaunchArgumentError(
                f"container:={container}: expected the node name of a running component "
                "container, e.g. /camera/camera_container"
            )
        point_cloud = container or OWN_CONTAINER
    camera_frame = str(args.get("camera_frame", "")).strip()
    if flags["rviz"] and not re.match(r"^[A-Za-z_][\w/]*$", camera_frame):
        raise LaunchArgumentError(
            f"camera_frame:={camera_frame}: expected a TF frame id such as "
            "camera_color_optical_frame"
        )
    # Checked here, before anything starts: launch_ros fails on a missing package or executable
    # only when it reaches that action, and a node started before it is then left running.
    needed: list[tuple[str, str | None, str]] = []
    if flags["rviz"]:
        needed.append(("rviz2", "rviz2", "rviz:=true"))
    if point_cloud:
        needed.append(("depth_image_proc", None, "point_cloud:=true"))
    if point_cloud == OWN_CONTAINER:
        needed.append(
            ("rclcpp_components", "component_container", "point_cloud:=true without container:=")
        )
    missing = [(pkg, why) for pkg, exe, why in needed if not exists(pkg, exe)]
    if missing:
        raise LaunchArgumentError(
            "; ".join(
                f"{why} needs the ROS package '{pkg}', which is not installed "
                f"(apt install {OPTIONAL_PACKAGES[pkg]})"
                for pkg, why in missing
            )
            + ". Nothing was started."
        )
    return PerceptionLaunch(
        namespace=namespace,
        node=f"{namespace}/perception",
        weights=str(weights),
        overrides=overrides,
        inputs=inputs,
        paths=paths,
        options={k: bool(params.get(k)) for k in ("publish_color", "publish_overlay")},
        camera_frame=camera_frame,
        point_cloud=point_cloud,
        rviz=flags["rviz"],
        use_sim_time=flags["use_sim_time"],
    )


def _package_exists(name: str, executable: str | None = None) -> bool:
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_prefix
    except ImportError:  # no ament index at all: nothing optional is installed
        return False
    try:
        prefix = Path(get_package_prefix(name))
    except PackageNotFoundError:
        return False
    # where launch_ros looks for a package's executables
    return executable is None or os.access(prefix / "lib" / name / executable, os.X_OK)


# ---------------------------------------------------------------------------- RViz
def _image_display(name: str, topic: str, *, depth: bool = False) -> dict[str, Any]:
    return {
        "Class": "rviz_default_plugins/Image",
        "Enabled": True,
        "Name": name,
        "Topic": {
            "Depth": 5,
            "Durability Policy": "Volatile",
            "History Policy": "Keep Last",
            # Best effort subscribes to reliable and best-effort publishers alike.
            "Reliability Policy": "Best Effort",
            "Value": topic,
        },
        "Max Value": 10 if depth else 1,
        "Min Value": 0,
        "Median window": 5,
        "Normalize Range": not depth,
        "Value": True,
    }


def rviz_config(launch: PerceptionLaunch, template: str | os.PathLike[str]) -> dict[str, Any]:
    """The RViz config of ``launch``: ``template`` (rviz/perception.rviz: panels, view, tools)
    with its image and point-cloud displays replaced by those of the topics this launch
    publishes and subscribes to, and the fixed frame set to ``camera_frame``."""
    data = yaml.safe_load(Path(template).read_text(encoding="utf-8"))
    manager = data["Visualization Manager"]
    kept = [d for d in manager["Displays"] if "Topic" not in d]  # grid, axes, ...
    displays = []
    for src, topic in launch.inputs.items():
        if any(s == src for s, _ in launch.paths):
            # inputs normalised: a depth input may be metres or millimetres
            displays.append(_image_display(f"Input {src}", topic))
    for src, dst in launch.paths:
        for leaf, option in _LEAVES[dst]:
            if option and not launch.options.get(option, False):
                continue
            if leaf == "label_overlay" and src != "rgb":
                continue
            displays.append(
                _image_display(
                    f"{src}->{dst} ({leaf})",
                    launch.output(f"{src}/{leaf}"),
                    depth=dst == "depth",
                )
            )
    if launch.point_cloud:
        cloud = next(d for d in manager["Displays"] if d.get("Class", "").endswith("PointCloud2"))
        cloud = {**cloud, "Topic": {**cloud["Topic"], "Value": launch.cloud_topics["points"]}}
        displays.append(cloud)
    manager["Displays"] = kept + displays
    manager["Global Options"]["Fixed Frame"] = launch.camera_frame
    return data


def rviz_subscriptions(config: Mapping[str, Any]) -> dict[str, str]:
    """topic -> display class of every enabled display of an RViz config (what RViz
    subscribes to)."""
    displays = config["Visualization Manager"]["Displays"]
    return {
        d["Topic"]["Value"]: d["Class"]
        for d in displays
        if "Topic" in d and d.get("Enabled", True)
    }


def _write_temp(prefix: str, suffix: str, data: Any) -> str:
    """A new file in the temp dir, removed when the launch process exits (a respawned node
    reads it again, so not earlier)."""
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=suffix)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        yaml.safe_dump(data, out, sort_keys=False)
    atexit.register(_remove, name)
    return name


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


# ---------------------------------------------------------------------------- launch glue
def configure_perception(
    context: Any,
    declared: Sequence[str],
    share: str,
    package_exists: Callable[[str, str | None], bool] | None = None,
) -> None:
    """OpaqueFunction body of perception.launch.py: check the arguments (unknown ones when it
    is the file `ros2 launch` runs), then set the derived launch configurations
    ``_mmed_params`` (parameter file), ``_mmed_rviz_config``, ``_mmed_cloud_*``."""
    cfg = context.launch_configurations
    if launched_file() == "perception.launch.py":
        check_arguments(getattr(context, "argv", []) or [], declared)
    launch = resolve_perception(cfg, package_exists=package_exists)
    # '/**': the node's name may be changed by remapping; these values are meant for it.
    cfg["_mmed_params"] = _write_temp(
        "mmed_perception_", ".yaml", {"/**": {"ros__parameters": launch.overrides}}
    )
    cfg["_mmed_cloud_own"] = str(launch.point_cloud == OWN_CONTAINER).lower()
    cfg["_mmed_cloud_load"] = str(launch.point_cloud not in ("", OWN_CONTAINER)).lower()
    for key, topic in launch.cloud_topics.items():
        cfg[f"_mmed_cloud_{key}"] = topic
    cfg["_mmed_rviz_config"] = ""
    if launch.rviz:
        config = rviz_config(launch, Path(share) / "rviz" / "perception.rviz")
        cfg["_mmed_rviz_config"] = _write_temp("mmed_rviz_", ".rviz", config)


def configure_evaluation(context: Any, declared: Sequence[str]) -> None:
    """OpaqueFunction body of evaluation.launch.py: unknown arguments are rejected here (for
    the included perception launch too) and the bag must exist before anything starts."""
    if launched_file() == "evaluation.launch.py":
        check_arguments(getattr(context, "argv", []) or [], declared)
    cfg = context.launch_configurations
    bag = Path(str(cfg.get("bag", ""))).expanduser()
    if not (bag / "metadata.yaml").is_file():
        raise LaunchArgumentError(
            f"bag:={cfg.get('bag', '')}: not a rosbag2 directory (no metadata.yaml); "
            "write one with `mmed-bag make DIR`"
        )
    if str(cfg.get("rgb_topic", "")).strip().lower() in (*NONE_WORDS, ""):
        raise LaunchArgumentError(
            "rgb_topic: the evaluation scores rgb->depth and rgb->label; give the bag's RGB topic"
        )
    try:
        rate = float(cfg.get("rate", "1.0"))
    except ValueError:
        rate = 0.0
    if rate <= 0:
        raise LaunchArgumentError(f"rate:={cfg.get('rate')}: expected a positive speed factor")


def on_required_exit(event: Any, context: Any) -> Any:
    """OnProcessExit handler of a node the launch exists for (perception_node, evaluator_node):
    its end ends the launch. Non-zero (a start-up failure: bad weights, device, parameters)
    ends it with code 1 and the reason on screen; with respawn:=true only exit code 1 (cannot
    start: respawning cannot help) does."""
    if getattr(context, "is_shutdown", False):
        return None  # Ctrl-C / the launch is already ending: the exit is expected
    code = int(event.returncode)
    name = str(getattr(event, "process_name", "") or "the node")
    respawn = context.launch_configurations.get("respawn", "false").lower() == "true"
    if code != 0 and (not respawn or code == 1):
        raise LaunchArgumentError(
            f"{name} exited with code {code} (its log above says why, e.g. "
            "'cannot start: ...'); stopping the launch"
        )
    if code == 0 and not respawn:
        return _shutdown(f"{name} ended")
    return None


def on_player_exit(event: Any, context: Any) -> Any:
    """OnProcessExit handler of the bag player in evaluation.launch.py: a failed replay fails
    the launch; a finished one ends it after ``settle`` seconds, so the last estimates reach
    the evaluator, which prints its report when it is stopped."""
    if getattr(context, "is_shutdown", False):
        return None
    if int(event.returncode) != 0:
        raise LaunchArgumentError(
            f"the bag replay failed (mmed-bag play exit code {event.returncode}; see above)"
        )
    from launch.actions import TimerAction  # only inside a running launch

    settle = float(context.launch_configurations.get("settle", "3.0"))
    return [TimerAction(period=settle, actions=_shutdown("bag replay finished"))]


def _shutdown(reason: str) -> list[Any]:
    from launch.actions import EmitEvent
    from launch.events import Shutdown

    return [EmitEvent(event=Shutdown(reason=reason))]


# ---------------------------------------------------------------------------- docs
def launch_argument_table(launch_file: str | os.PathLike[str]) -> str:
    """The Markdown table of a launch file's arguments (name, default, description), read from
    its ``DeclareLaunchArgument`` calls without running it; docs/ROS.md embeds it."""
    tree = ast.parse(Path(launch_file).read_text(encoding="utf-8"))
    rows = ["| argument | default | description |", "| --- | --- | --- |"]
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and _call_name(node) == "DeclareLaunchArgument"):
            continue
        name = ast.literal_eval(node.args[0])
        keywords = {k.arg: k.value for k in node.keywords}
        default = keywords.get("default_value")
        shown = "(required)" if default is None else _shown_default(default)
        description = ast.literal_eval(keywords["description"])
        rows.append(f"| `{name}` | {shown} | {description} |")
    return "\n".join(rows)


def _shown_default(default: Any) -> str:
    if isinstance(default, ast.Call) and _call_name(default) == "join":
        # os.path.join(SHARE, "config", "perception.yaml"): the installed file
        parts = [ast.literal_eval(a) for a in default.args[1:]]
        return "`<share>/" + "/".join(parts) + "`"
    value = ast.literal_eval(default)
    return f"`{value}`" if value != "" else "`''`"


def _call_name(call: Any) -> str:
    func = call.func
    return str(getattr(func, "id", None) or getattr(func, "attr", ""))
