# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""docs/ROS.md and the YAML config agree with the code.

The launch files and the RViz config are checked in test_launch_support.py (and run for real in
test_launch_real.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from mmed_core.network.modalities import MODALITIES
from mmed_ros.params import EVALUATOR_PARAMS, PERCEPTION_PARAMS, parameter_table
from mmed_ros.pipeline import output_topics

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "ROS.md").read_text(encoding="utf-8")
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


def test_config_yaml_only_sets_declared_parameters_with_valid_values() -> None:
    data = yaml.safe_load((ROOT / "config" / "perception.yaml").read_text(encoding="utf-8"))
    params = data["/**"]["ros__parameters"]
    assert set(params) <= PARAM_NAMES
    specs = {s.name: s for s in PERCEPTION_PARAMS}
    for name, value in params.items():
        assert type(value) is type(specs[name].default), f"{name}: type differs from default"
        assert specs[name].validate(value) is None, specs[name].validate(value)
