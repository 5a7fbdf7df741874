# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""The README's main job, end to end in its --quick form: every stage runs and leaves its files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmed_ros.demo import main

pytestmark = pytest.mark.ros


def test_quick_demo_runs_every_stage(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "demo"
    assert main(["--quick", "--no-progress", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    for stage in ("data", "train", "evaluate", "bag", "node", "estimates"):
        assert f"stage {stage} done" in printed
    for rel in (
        "run/best.safetensors",
        "run/best.json",
        "eval/figure.png",
        "bag/metadata.yaml",
        "estimates_bag/metadata.yaml",
        "estimates_metrics.json",
    ):
        assert (out / rel).is_file(), rel
    node = json.loads((out / "node_metrics.json").read_text())
    assert node["label_pairs"] >= 1 and node["depth_pairs"] >= 1
    assert str(out / "eval" / "figure.png") in printed  # the summary says where outputs are
