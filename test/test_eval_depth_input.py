# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""``mmed-eval --depth-input kinect --seed S``: the depth encoder reads a Kinect-like depth, the
targets stay clean; reproducible per (seed, sample), recorded in metrics.json and tables.md.

python -m pytest test/test_eval_depth_input.py
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import torch
from test_train_support import StandInDataset, factory, tiny_run

from mmed_core.cli.eval import main as eval_main
from mmed_core.data.augment import with_depth_input
from mmed_core.errors import ConfigError
from mmed_core.evaluation import evaluator
from mmed_core.evaluation.compare import compare_runs
from mmed_core.evaluation.evaluator import evaluate_checkpoint
from mmed_core.training.trainer import train


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """One tiny trained mmed run (every path: rgb, depth and label sources)."""
    root = tmp_path_factory.mktemp("run")
    train(tiny_run(root / "mmed", "train.epochs=1"), dataset_factory=factory)
    return root / "mmed" / "best.safetensors"


def _scores(checkpoint, out, **kw: Any) -> dict[str, Any]:
    return evaluate_checkpoint(
        checkpoint, dataset_factory=factory, figure_samples=0, out_dir=out, **kw
    )["paths"]


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Equal scores, NaN (a class absent from the split) equal to NaN."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _flat(scores: dict[str, Any], prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    for k, v in scores.items():
        if isinstance(v, list):  # names (classes_present): one entry each
            out.update({f"{prefix}{k}.{x}": 1.0 for x in v})
        else:
            out.update(_flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {prefix + k: v})
    return out


def test_kinect_input_changes_only_the_depth_source_paths(checkpoint, tmp_path):
    clean = _scores(checkpoint, tmp_path / "clean")
    kinect = _scores(checkpoint, tmp_path / "kinect", depth_input="kinect")
    assert set(clean) == set(kinect)
    for key in clean:
        if key.startswith("depth->"):
            assert _same(kinect[key], clean[key]) is False, key
        else:  # rgb and label sources never read the depth: bit-identical scores
            assert _same(kinect[key], clean[key]), key


def test_same_seed_same_scores_whatever_the_batch_size(checkpoint, tmp_path):
    a = _scores(checkpoint, tmp_path / "a", depth_input="kinect", seed=3, batch_size=16)
    b = _scores(checkpoint, tmp_path / "b", depth_input="kinect", seed=3, batch_size=3)
    other = _scores(checkpoint, tmp_path / "c", depth_input="kinect", seed=4)
    for key in a:
        assert _flat(b[key]) == pytest.approx(_flat(a[key]), rel=1e-5, abs=1e-6, nan_ok=True)
    assert not _same(other["depth->depth"], a["depth->depth"])


def test_draws_depend_on_seed_and_index_only():
    ds = StandInDataset("synthetic", "test", size=(32, 32))
    one, two = with_depth_input(ds, "kinect", seed=7), with_depth_input(ds, "kinect", seed=7)
    for i in (5, 0, 2):  # any order
        s = one[i]
        assert torch.equal(s["depth_input"], two[i]["depth_input"])
        assert torch.equal(s["depth"], ds[i]["depth"])  # the target stays clean
        assert not torch.equal(s["depth_input"], s["depth"])
        assert s["depth_input"].shape == s["depth"].shape
    assert with_depth_input(ds, "clean") is ds


def test_the_choice_is_recorded_and_printed(checkpoint, tmp_path, monkeypatch, capsys):
    # the CLI builds the dataset the checkpoint's card names: the stand-in here
    monkeypatch.setattr(evaluator, "build_dataset", factory)
    out = tmp_path / "eval"
    argv = ["--checkpoint", str(checkpoint), "--out", str(out), "--figure-samples", "0"]
    assert eval_main([*argv, "--depth-input", "kinect", "--seed", "5"]) == 0
    printed = capsys.readouterr().out
    assert "[mmed-eval] Depth input: kinect" in printed and "seed 5" in printed
    m = json.loads((out / "metrics.json").read_text())
    assert m["depth_input"] == "kinect" and m["depth_input_seed"] == 5
    assert "Depth input: kinect" in (out / "tables.md").read_text()
    assert eval_main(argv) == 0
    assert "[mmed-eval] Depth input: clean" in capsys.readouterr().out
    m = json.loads((out / "metrics.json").read_text())
    assert m["depth_input"] == "clean" and m["depth_input_seed"] is None
    assert "Depth input: clean" in (out / "tables.md").read_text()
    # compare says which runs read a kinect depth
    evaluate_checkpoint(checkpoint, figure_samples=0, out_dir=out, depth_input="kinect")
    assert "(synthetic test, kinect depth input)" in compare_runs([out / "metrics.json"])[0]


def test_a_bad_value_is_a_clear_error(checkpoint, capsys):
    assert eval_main(["--checkpoint", str(checkpoint), "--depth-input", "noisy"]) == 2
    err = capsys.readouterr().err
    assert "mmed-eval: error: --depth-input must be one of clean|kinect, got 'noisy'" in err
    with pytest.raises(ConfigError, match=r"depth_input must be one of \['clean', 'kinect'\]"):
        evaluate_checkpoint(checkpoint, dataset_factory=factory, depth_input="Kinect")


def test_kinect_input_needs_metric_depth():
    ds = StandInDataset("synthetic", "test", size=(32, 32))
    ds.info = ds.info._replace(name="cityscapes", depth_units="disparity")
    with pytest.raises(ConfigError, match="dataset `cityscapes` gives depth in 'disparity'"):
        with_depth_input(ds, "kinect", where="--depth-input")
