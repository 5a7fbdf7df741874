# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""docs/ROS.md, the launch file, the YAML config and the RViz file agree with the code.

launch_ros is not installable on the build machines, so the launch file is parsed with ``ast``
(never executed) and everything it names is checked against setup.py, the install layout and
the node's declared parameters.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import yaml

from mmed_core.network.modalities import MODALITIES
from mmed_ros.params import EVALUATOR_PARAMS, PERCEPTION_PARAMS, parameter_table
from mmed_ros.pipeline import output_topics

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "ROS.md").read_text(encoding="utf-8")
LAUNCH = ROOT / "launch" / "perception.launch.py"
PARAM_NAMES = {spec.name for spec in PERCEPTION_PARAMS}


def _block(name: str) -> str:
    match = re.search(rf"<!-- {name}:begin[^>]*-->\n(.*?)\n<!-- {name}:end -->", DOC, re.S)
    assert match, f"docs/ROS.md lacks the generated block '{name}'"
    return match.group(1)


def test_parameter_tables_are_the_generated_ones() -> None:
    assert _block("perception-params") == parameter_table(PERCEPTION_PARAMS), (
        "regenerate with mmed_ros.params.parameter_table()"
    )
    assert _block("evaluator-params") == parameter_table(EVALUATOR_PARAMS)


def test_topic_table_lists_every_output_kind() -> None:
    every = [(s, d) for s in MODALITIES for d in MODALITIES]  # every registered modality
    on = {"publish_color": True, "publish_overlay": True, "publish_confidence": True}
    leaves = {topic.split("/", 1)[1] for topic, _ in output_topics(every, on)}
    documented = set(re.findall(r"`~/<src>/(\w+)`", DOC))
    assert leaves == documented


def _launch_calls() -> list[ast.Call]:
    tree = ast.parse(LAUNCH.read_text(encoding="utf-8"))
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call)]


def _name(call: ast.Call) -> str:
    return call.func.id if isinstance(call.func, ast.Name) else getattr(call.func, "attr", "")


def _kw(call: ast.Call, key: str) -> ast.AST | None:
    return next((k.value for k in call.keywords if k.arg == key), None)


def test_launch_file_is_flat_and_names_what_exists() -> None:
    calls = _launch_calls()
    source = LAUNCH.read_text(encoding="utf-8")
    for banned in ("eval(", "subprocess", "OpaqueFunction", "import sys"):
        assert banned not in source
    declared = {c.args[0].value for c in calls if _name(c) == "DeclareLaunchArgument"}
    for call in calls:
        if _name(call) == "DeclareLaunchArgument":
            assert isinstance(_kw(call, "description"), (ast.Constant, ast.JoinedStr)), (
                f"launch argument {call.args[0].value} has no description"
            )
    used = {c.args[0].value for c in calls if _name(c) == "LaunchConfiguration"}
    assert used == declared, "every argument is used and every use is declared"
    assert {
        "weights",
        "device",
        "precision",
        "rgb_topic",
        "depth_topic",
        "namespace",
        "rviz",
    } <= declared

    setup = (ROOT / "setup.py").read_text(encoding="utf-8")
    nodes = [
        c
        for c in calls
        if _name(c) == "Node" and ast.literal_eval(_kw(c, "package")) == "mmed_ros"
    ]
    assert nodes, "the launch file starts perception_node"
    for node in nodes:
        exe = ast.literal_eval(_kw(node, "executable"))
        assert re.search(rf'"{exe} = mmed_ros\.\w+:main"', setup), f"{exe} not in setup.py"
        params = _kw(node, "parameters")
        dicts = [e for e in params.elts if isinstance(e, ast.Dict)]
        keys = {ast.literal_eval(k) for d in dicts for k in d.keys}
        assert keys and keys <= PARAM_NAMES, f"undeclared parameters {keys - PARAM_NAMES}"
    joined = [c for c in calls if getattr(c.func, "attr", "") == "join"]
    files = {(c.args[1].value, c.args[2].value) for c in joined if len(c.args) == 3}
    assert files == {("config", "perception.yaml"), ("rviz", "perception.rviz")}
    for folder, name in files:
        assert (ROOT / folder / name).is_file()
        assert f'"share/" + package_name + "/{folder}"' in setup


def test_config_yaml_only_sets_declared_parameters_with_valid_values() -> None:
    data = yaml.safe_load((ROOT / "config" / "perception.yaml").read_text(encoding="utf-8"))
    params = data["/**"]["ros__parameters"]
    assert set(params) <= PARAM_NAMES
    specs = {s.name: s for s in PERCEPTION_PARAMS}
    for name, value in params.items():
        assert type(value) is type(specs[name].default), f"{name}: type differs from default"
        assert specs[name].validate(value) is None, specs[name].validate(value)


def test_rviz_shows_input_mask_depth_and_point_cloud() -> None:
    data = yaml.safe_load((ROOT / "rviz" / "perception.rviz").read_text(encoding="utf-8"))
    displays = data["Visualization Manager"]["Displays"]
    topics = {d["Topic"]["Value"]: d["Class"] for d in displays if "Topic" in d}
    assert topics == {
        "/camera/color/image_raw": "rviz_default_plugins/Image",
        "/perception/rgb/label_color": "rviz_default_plugins/Image",
        "/perception/rgb/label_overlay": "rviz_default_plugins/Image",
        "/perception/rgb/depth": "rviz_default_plugins/Image",
        "/perception/rgb/points": "rviz_default_plugins/PointCloud2",
    }
    assert "perception/rgb/points" in LAUNCH.read_text(encoding="utf-8")
