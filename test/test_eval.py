# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Evaluator and compare: every column of the paper's tables, the transcribed paper numbers, CLI
errors.

python -m pytest test/test_eval.py
"""

from __future__ import annotations

import json
import math

import pytest
from test_train_support import factory, tiny_run

from mmed_core.cli.eval import main as eval_main
from mmed_core.errors import ConfigError
from mmed_core.evaluation.compare import compare_runs, load_paper_tables
from mmed_core.evaluation.evaluator import evaluate_checkpoint
from mmed_core.training.trainer import train

TABLE1_HEADER = (
    "| Method | Rel (per img) | log10 (per img) | RMSE (per img) | Rel (pooled) | log10 (pooled) "
    "| RMSE (pooled) | δ<1.25 | δ<1.25² | δ<1.25³ | mIoU |"
)
NYU = [
    "book",
    "cabinet",
    "ceiling",
    "floor",
    "table",
    "wall",
    "window",
    "picture",
    "blinds",
    "sofa",
    "bed",
    "tv",
]
CITY = [
    "road",
    "sidewalk",
    "building",
    "wall",
    "fence",
    "pole",
    "traffic light",
    "traffic sign",
    "vegetation",
    "terrain",
    "sky",
    "person",
    "rider",
    "car",
    "truck",
    "bus",
    "train",
    "motorcycle",
    "bicycle",
]
DEPTH = ["rel", "log10", "rmse", "delta1", "delta2", "delta3", "miou"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two tiny trained runs: mmed (all paths) and the depth-only enc-dec."""
    root = tmp_path_factory.mktemp("runs")
    out = {}
    for name, over in (
        ("mmed", ()),
        ("enc-dec-depth", ("model.method=enc-dec", "model.targets=[depth]")),
    ):
        train(tiny_run(root / name, "train.epochs=1", *over), dataset_factory=factory)
        out[name] = evaluate_checkpoint(
            root / name / "best.safetensors", dataset_factory=factory, figure_samples=2
        )
    return root, out


def test_metrics_json_and_tables_have_every_column(runs):
    root, res = runs
    m = json.loads((root / "mmed" / "eval-test" / "metrics.json").read_text())
    assert m["num_samples"] == 8 and m["dataset"] == "synthetic" and m["split"] == "test"
    assert set(m["table1"]) == {*DEPTH, "rel_img", "log10_img", "rmse_img"} and all(
        math.isfinite(v) for v in m["table1"].values()
    )
    assert set(m["paths"]) == {
        f"{s}->{d}" for s in ("rgb", "depth", "label") for d in ("depth", "label")
    }
    assert list(m["paths"]["rgb->label"]["iou"]) == NYU
    md = (root / "mmed" / "eval-test" / "tables.md").read_text()
    assert TABLE1_HEADER in md
    assert "| Method | " + " | ".join(NYU) + " | mean |" in md
    for path in ("image-to-depth", "label-to-depth", "image-to-label", "depth-to-label"):
        assert f"| {path} |" in md
    # a depth-only baseline has no mIoU: '-' as in the paper
    single = res["enc-dec-depth"]
    assert (
        single["table1"]["miou"] is None
        and "| enc-dec-depth | "
        in (root / "enc-dec-depth" / "eval-test" / "tables.md").read_text()
    )


def test_compare_builds_table1_beside_the_paper(runs, tmp_path, capsys):
    root, _ = runs
    assert (
        eval_main(
            ["compare", str(root / "mmed"), str(root / "enc-dec-depth"), "--out", str(tmp_path)]
        )
        == 0
    )
    md = (tmp_path / "compare.md").read_text()
    assert "| Ours | this run: `mmed` (synthetic test) |" in md
    assert "| enc-dec | this run: `enc-dec-depth` (synthetic test) |" in md
    # the paper's errors are per image: its pooled columns stay empty
    assert (
        "|  | paper, NYUDv2 (Table 1) | 0.296 | 0.120 | 1.046 | - | - | - | 0.450 | 0.775 "
        "| 0.810 | 0.411 |" in md
    )
    assert (
        "paper, Cityscapes (Table 3) | 0.380 | 0.125 | 8.983 | - | - | - | 0.602 | 0.780 | 0.870 "
        "| - |" in md
    )
    claims = json.loads((tmp_path / "compare.json").read_text())["claims"]
    assert (
        claims[0]["claim"] == "Ours beats enc-dec on depth"
        and claims[0]["verdict"] != "not tested"
    )
    assert "Table 1: ours beside the paper" in capsys.readouterr().out


def test_paper_tables_have_every_row_and_column():
    t = load_paper_tables()["tables"]
    assert sorted(t) == ["1", "2", "3", "4", "5"]
    methods = ["MAE", "enc-dec (U)", "enc-dec", "enc-decs", "Ours", "Ours (+extra)"]
    for k in ("1", "3"):
        assert t[k]["columns"] == DEPTH and list(t[k]["rows"]) == methods
    assert t["2"]["columns"] == NYU + ["mean"]
    assert list(t["2"]["rows"]) == ["MAE", "enc-dec (U)", "enc-decs", "Ours", "Ours (+extra)"]
    assert t["4"]["columns"] == CITY + ["mean"]
    assert list(t["4"]["rows"]) == ["MAE", "enc-dec", "enc-decs", "Ours", "Ours (+extra)"]
    assert list(t["5"]["rows"]) == [
        "image-to-depth",
        "label-to-depth",
        "image-to-label",
        "depth-to-label",
    ]
    for table in t.values():
        for name, vals in table["rows"].items():
            assert len(vals) == len(table["columns"]), name
    # Cross-checks that catch transcription slips: the tables repeat each other.
    for per_class, main, rename in (("2", "1", {}), ("4", "3", {"enc-dec": "enc-dec (U)"})):
        for name, vals in t[per_class]["rows"].items():
            assert vals[-1] == t[main]["rows"][rename.get(name, name)][-1], (per_class, name)
            assert abs(sum(vals[:-1]) / len(vals[:-1]) - vals[-1]) < 0.0015, (per_class, name)
    assert t["5"]["rows"]["image-to-depth"][:6] == t["1"]["rows"]["Ours (+extra)"][:6]
    assert t["5"]["rows"]["image-to-label"][6] == t["1"]["rows"]["Ours (+extra)"][6]
    assert t["1"]["rows"]["enc-dec"] == [0.340, 0.149, 1.216, 0.396, 0.699, 0.732, None]
    assert t["3"]["rows"]["MAE"][2] == 34.583 and t["5"]["rows"]["depth-to-label"][6] == 0.476


def test_compare_of_a_missing_run_is_a_clear_error(tmp_path, capsys):
    assert eval_main(["compare", str(tmp_path / "nothing")]) == 2
    assert "expected an mmed-eval metrics.json" in capsys.readouterr().err
    assert eval_main(["--checkpoint", str(tmp_path / "none.safetensors")]) == 2
    assert "none.safetensors: weights file not found" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="at least one RUN"):
        compare_runs([])
