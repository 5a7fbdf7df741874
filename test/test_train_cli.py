# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""mmed-train / mmed-eval / mmed-demo from the command line, on the real synthetic dataset.

python -m pytest test/test_train_cli.py
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest

from mmed_core.cli.demo import STAGES, set_aside
from mmed_core.cli.demo import main as demo_main
from mmed_core.cli.eval import main as eval_main
from mmed_core.cli.train import main as train_main
from mmed_core.errors import ConfigError
from mmed_core.training.config import load_run_config

CONFIG = Path(__file__).resolve().parent.parent / "config"
TINY = [
    "model.preset=tiny",
    "data.size=[32, 32]",
    "train.epochs=1",
    "train.progress=false",
    "train.threads=1",
    "data.options={n_train: 8, n_val: 4, n_test: 4, n_extra: 8, seed: 0, progress: false}",
    "train.batch_size=4",
    "train.tensorboard=false",
]


@pytest.mark.parametrize("name", ["synthetic", "nyudv2", "cityscapes"])
def test_shipped_configs_load_with_their_recipes(name, tmp_path):
    """The real-data configs reproduce the paper (SGD, §3.3); the synthetic rooms' config uses
    the default recipe, adam (docs/EXPERIMENTS.md, "Recipes")."""
    over = [] if name == "synthetic" else [f"data.root={tmp_path}"]
    run = load_run_config(CONFIG / f"train_{name}.yaml", over)
    assert run.data.dataset == name and run.data.size == (96, 96)
    t = run.train
    paper = ("sgd", 0.001, 0.9, 0.0005)
    expected = ("adam", 0.001, 0.9, 0.0001) if name == "synthetic" else paper
    assert (t.optimizer, t.lr, t.momentum, t.weight_decay) == expected
    if name != "synthetic":  # the placeholder path is checked before any work starts
        with pytest.raises(ConfigError, match="does not exist"):
            load_run_config(CONFIG / f"train_{name}.yaml")


def test_train_cli_bad_override_exits_2_naming_the_keys(capsys):
    assert train_main(["--config", str(CONFIG / "train_synthetic.yaml"), "train.lrr=0.1"]) == 2
    err = capsys.readouterr().err
    assert "train.lrr" in err and "valid keys" in err and "'lr'" in err


def test_train_resume_eval_roundtrip_on_synthetic(tmp_path, capsys):
    out = tmp_path / "run"
    args = [
        "--config",
        str(CONFIG / "train_synthetic.yaml"),
        *TINY,
        f"train.out_dir={out}",
        "data.extra=true",
    ]
    assert train_main(args) == 0
    assert train_main([*args, "train.epochs=2", "--resume"]) == 0
    assert json.loads((out / "summary.json").read_text())["epochs_done"] == 2
    assert eval_main(["--checkpoint", str(out / "last.safetensors"), "--figure-samples", "2"]) == 0
    metrics = json.loads((out / "eval-test" / "metrics.json").read_text())
    assert metrics["run_name"] == "mmed+extra" and metrics["num_samples"] == 4
    assert cv2.imread(str(out / "eval-test" / "figure.png")) is not None
    assert "| Method | Rel (per img) | log10 (per img) | RMSE (per img)" in capsys.readouterr().out


def test_demo_quick_runs_every_stage(tmp_path, capsys):
    assert [s.name for s in STAGES][:3] == ["data", "train", "evaluate"]
    assert demo_main(["--quick", "--out", str(tmp_path), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert f"figure: {tmp_path / 'eval' / 'figure.png'}" in text
    assert (tmp_path / "run" / "best.safetensors").is_file() and (
        tmp_path / "eval" / "figure.png"
    ).is_file()


def test_demo_over_a_run_of_other_settings_trains_anew(tmp_path, capsys):
    """A demo folder left by an older version (other defaults) is not an error: that run is
    moved aside, nothing lost, and the demo trains with today's settings."""
    core = STAGES[:2]  # data, train
    assert demo_main(["--quick", "--out", str(tmp_path), "--no-progress"], stages=core) == 0
    state = json.loads((tmp_path / "run" / "state.json").read_text())
    state["run"]["train"]["optimizer"] = "sgd"  # as if trained before adam became the default
    (tmp_path / "run" / "state.json").write_text(json.dumps(state))
    capsys.readouterr()
    assert demo_main(["--quick", "--out", str(tmp_path), "--no-progress"], stages=core) == 0
    assert "moved to" in capsys.readouterr().out
    assert (tmp_path / "run.previous" / "state.json").is_file()
    assert (tmp_path / "run" / "best.safetensors").is_file()
    # An unreadable state is set aside too, beside (not over) the earlier one.
    (tmp_path / "run" / "state.json").write_text("{ half a file")
    assert demo_main(["--quick", "--out", str(tmp_path), "--no-progress"], stages=core) == 0
    assert "cannot be continued" in capsys.readouterr().out
    assert (tmp_path / "run.previous-2" / "state.json").read_text() == "{ half a file"
    assert json.loads((tmp_path / "run.previous" / "state.json").read_text()) == state
    assert (tmp_path / "run" / "best.safetensors").is_file()


def test_demo_sets_runs_aside_without_deleting_any(tmp_path):
    """Each run the demo cannot continue goes to the next free run.previous[-N] with the eval/
    that scored it; nothing earlier is overwritten."""
    run, ev = tmp_path / "run", tmp_path / "eval"
    for n in range(1, 4):
        run.mkdir()
        (run / "best.safetensors").write_text(f"weights {n}")
        if n != 2:  # the second one was never scored
            ev.mkdir()
            (ev / "metrics.json").write_text(f"scores {n}")
        aside = set_aside(run, ev)
        assert aside.name == ("run.previous" if n == 1 else f"run.previous-{n}")
        assert not run.exists() and not ev.exists()
    for n, name in enumerate(("run.previous", "run.previous-2", "run.previous-3"), 1):
        assert (tmp_path / name / "best.safetensors").read_text() == f"weights {n}"
        metrics = tmp_path / name / "eval" / "metrics.json"
        assert metrics.read_text() == f"scores {n}" if n != 2 else not metrics.exists()
    run.mkdir()
    assert set_aside(run).name == "run.previous-4"  # without an eval folder
