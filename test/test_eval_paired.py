# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""``mmed-eval paired A B``: both checkpoints on the same frames, B - A per path with a paired
bootstrap interval over the frames; the point values are the split's metrics as mmed-eval gives.

python -m pytest test/test_eval_paired.py
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_train_support import factory, tiny_run

from mmed_core.cli import eval as eval_cli
from mmed_core.errors import ConfigError
from mmed_core.evaluation.evaluator import evaluate_checkpoint
from mmed_core.evaluation.paired import FrameCounts, paired_bootstrap, paired_checkpoints
from mmed_core.training.trainer import train


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """Two tiny trained mmed runs that differ only in their seed."""
    root = tmp_path_factory.mktemp("runs")
    train(tiny_run(root / "a", "train.epochs=1"), dataset_factory=factory)
    train(tiny_run(root / "b", "train.epochs=1", "train.seed=5"), dataset_factory=factory)
    return root / "a" / "best.safetensors", root / "b" / "best.safetensors"


def _rows(result):
    return {(r["path"], r["metric"]): r for r in result["rows"]}


def test_a_checkpoint_against_itself_differs_by_nothing(checkpoints):
    a, _ = checkpoints
    res = paired_checkpoints(a, a, dataset_factory=factory, boot=200)
    assert res["rows"]
    for r in res["rows"]:
        assert r["a"] == r["b"] and r["diff"] == 0
        assert r["low"] == 0 and r["high"] == 0
        assert r["b_better_share"] == 0


def test_point_values_are_the_splits_metrics(checkpoints, tmp_path):
    a, b = checkpoints
    res = paired_checkpoints(a, b, dataset_factory=factory, boot=200)
    rows = _rows(res)
    for ckpt, side in ((a, "a"), (b, "b")):
        paths = evaluate_checkpoint(
            ckpt, dataset_factory=factory, figure_samples=0, out_dir=tmp_path / side
        )["paths"]
        for (path, metric), row in rows.items():
            assert row[side] == pytest.approx(paths[path][metric], rel=1e-9), (path, metric)
    for row in rows.values():
        assert row["diff"] == pytest.approx(row["b"] - row["a"])
        assert row["low"] <= row["high"]
        assert 0 <= row["b_better_share"] <= 1
    # every label and depth path of the full model, mIoU for labels, Rel and RMSE for depth
    assert {p for p, _ in rows} == {
        f"{s}->{t}" for s in ("rgb", "depth", "label") for t in ("depth", "label")
    }
    # mIoU for labels and, as the tiny split lacks some class, the mean over those it has
    absent = {
        path: len(paths[path]["classes_present"]) < len(paths[path]["iou"])
        for path, _ in rows
        if path.endswith("label")
    }
    for path, lacks in absent.items():
        metrics = {m for p, m in rows if p == path}
        assert metrics == ({"miou", "miou_present"} if lacks else {"miou"}), path
    assert any(absent.values())
    assert {m for p, m in rows if p.endswith("depth")} == {"rel", "rmse"}


def test_same_frames_and_draws_for_both_with_kinect_depth(checkpoints):
    a, _ = checkpoints
    res = paired_checkpoints(
        a,
        a,
        dataset_factory=factory,
        depth_input="kinect",
        seed=2,
        boot=100,
        paths=["depth->label"],
    )
    assert {r["path"] for r in res["rows"]} == {"depth->label"}
    assert all(r["diff"] == 0 for r in res["rows"])
    assert res["depth_input_seed"] == 2


def test_interval_narrows_with_more_frames():
    rng = np.random.default_rng(0)

    def counts(n: int, shift: float) -> FrameCounts:
        err = rng.uniform(0.1, 0.3, n) + shift
        return FrameCounts(
            n, {}, {"rgb->depth": np.stack([err * 100, err * 100, np.full(n, 100.0)], 1)}
        )

    small = paired_bootstrap(counts(10, 0), counts(10, 0.05), boot=500)
    large = paired_bootstrap(counts(400, 0), counts(400, 0.05), boot=500)
    width = {k: r["high"] - r["low"] for k, r in (("s", small[0]), ("l", large[0]))}
    assert width["l"] < width["s"]
    assert large[0]["low"] > 0 or large[0]["high"] < 0  # a 0.05 shift is clear over 400 frames


def test_bad_inputs_say_what_is_wrong(checkpoints):
    a, b = checkpoints
    with pytest.raises(ConfigError, match=r"not scored by both.*rgb->label"):
        paired_checkpoints(a, b, dataset_factory=factory, paths=["rgb->normals"])
    one = FrameCounts(3, {}, {})
    with pytest.raises(ConfigError, match="A has 3, B 4"):
        paired_bootstrap(one, FrameCounts(4, {}, {}))
    with pytest.raises(ConfigError, match="boot must be >= 100"):
        paired_bootstrap(one, one, boot=10)


def test_cli_prints_the_table_and_writes_it(checkpoints, tmp_path, capsys, monkeypatch):
    a, b = checkpoints
    monkeypatch.setattr("mmed_core.evaluation.evaluator.build_dataset", factory)
    out = tmp_path / "cmp"
    rc = eval_cli.main(
        ["paired", str(a), str(b), "--path", "rgb->label", "--boot", "100", "--out", str(out)]
    )
    printed = capsys.readouterr().out
    assert rc == 0
    assert "| rgb->label | miou (higher better) |" in printed
    assert "paired bootstrap over frames, 100 resamples" in printed
    data = json.loads((out / "paired.json").read_text())
    assert {r["path"] for r in data["rows"]} == {"rgb->label"}
    assert (out / "paired.md").read_text() == printed.rstrip("\n") + "\n"
    rc = eval_cli.main(["paired", str(a), str(b), "--path", "nope->label"])
    assert rc == 2
    assert "not scored by both" in capsys.readouterr().err


def test_frames_without_depth_do_not_count_as_perfect_depth():
    """A resample without any frame that has depth has no Rel (NaN, left out), not Rel 0."""
    sums = np.zeros((6, 3))
    sums[2] = (30.0, 90.0, 100.0)  # one frame of six has depth: Rel 0.3
    better = sums.copy()
    better[2] = (20.0, 40.0, 100.0)
    rows = paired_bootstrap(
        FrameCounts(6, {}, {"rgb->depth": sums}),
        FrameCounts(6, {}, {"rgb->depth": better}),
        boot=300,
    )
    rel = next(r for r in rows if r["metric"] == "rel")
    assert rel["diff"] == pytest.approx(-0.1)
    assert rel["low"] == pytest.approx(-0.1) and rel["high"] == pytest.approx(-0.1)
    assert rel["b_better_share"] == 1.0
