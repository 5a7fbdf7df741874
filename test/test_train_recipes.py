# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""``train.recipe``: named train settings that take effect (the shipped configs leave the
recipe's keys to it), the indoor model's ``adam`` recipe, and runs that say what they used.

    python -m pytest test/test_train_recipes.py
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from test_train_support import DATASETS, factory, tiny_run

from mmed_core.cli.experiment import check_recipes
from mmed_core.cli.experiment import main as experiment_main
from mmed_core.cli.train import build_parser
from mmed_core.errors import ConfigError
from mmed_core.evaluation import protocol
from mmed_core.training.config import (
    DEFAULT_RECIPE,
    RECIPE_KEYS,
    RECIPES,
    describe_recipe,
    load_run_config,
)
from mmed_core.training.trainer import train

CONFIG = Path(__file__).resolve().parent.parent / "config"


def _spelled_out(shipped: Path, tmp_path: Path, values: dict) -> Path:
    """The shipped config as it read before recipes took effect: the values spelled out."""
    text = shipped.read_text(encoding="utf-8")
    # the default recipe was paper then: name it, as the default has changed since
    lines = "  recipe: paper\n" + "".join(f"  {k}: {json.dumps(v)}\n" for k, v in values.items())
    out = tmp_path / shipped.name
    out.write_text(re.sub(r"(?m)^  recipe: \w+.*\n", lines, text), encoding="utf-8")
    return out


@pytest.mark.parametrize(
    "name", ["experiments/base/synthetic-paper", "train_nyudv2", "train_cityscapes"]
)
def test_shipped_paper_configs_resolve_as_when_they_spelled_the_values_out(name, tmp_path):
    over = ["data.root=null"]
    shipped = CONFIG / f"{name}.yaml"
    run = load_run_config(shipped, over)
    assert run.train.recipe == "paper"
    old = load_run_config(_spelled_out(shipped, tmp_path, RECIPES["paper"]), over)
    assert run.to_dict() == old.to_dict()
    explicit = load_run_config(shipped, [*over, "train.recipe=paper"])
    assert explicit.to_dict() == old.to_dict()


def test_the_default_recipe_is_adam_and_paper_stays_reproducible():
    """adam is the default (a config naming no recipe, and config/train_synthetic.yaml);
    `train.recipe=paper` on train_synthetic.yaml gives the studies' frozen paper base."""
    assert DEFAULT_RECIPE == "adam"
    bare = load_run_config(None, ["train.out_dir=x"], datasets=DATASETS).train
    assert (bare.recipe, bare.optimizer, bare.weight_decay) == ("adam", "adam", 1e-4)
    synthetic = load_run_config(CONFIG / "train_synthetic.yaml").train
    assert synthetic.recipe == "adam" and synthetic.loss_weights == RECIPES["adam"]["loss_weights"]
    paper = load_run_config(CONFIG / "train_synthetic.yaml", ["train.recipe=paper"]).to_dict()
    base = CONFIG / "experiments" / "base" / "synthetic-paper.yaml"
    assert paper == load_run_config(base).to_dict()


def test_shipped_indoor_config_is_the_adam_recipe(tmp_path):
    shipped = CONFIG / "train_indoor.yaml"
    run = load_run_config(shipped)
    t = run.train
    assert t.recipe == "adam"
    assert (t.optimizer, t.lr, t.weight_decay, t.balance) == ("adam", 1e-3, 1e-4, "none")
    assert t.loss_weights == {"rgb": 0.01, "depth": 0.03, "label": 1.0}
    # The same values as the file spelled out before the recipe existed (recipe: paper then).
    spelled = {k: v for k, v in RECIPES["adam"].items() if k not in ("momentum", "balance")}
    old = load_run_config(_spelled_out(shipped, tmp_path, spelled)).to_dict()
    assert old["train"].pop("recipe") == "paper"
    now = run.to_dict()
    now["train"].pop("recipe")
    assert now == old


def test_a_recipe_on_the_command_line_changes_the_optimiser():
    run = load_run_config(CONFIG / "train_synthetic.yaml", ["train.recipe=adam"])
    t = run.train
    assert (t.optimizer, t.weight_decay) == ("adam", 1e-4)
    assert t.loss_weights == {"rgb": 0.01, "depth": 0.03, "label": 1.0}
    # a value written on the command line still wins over the recipe's; null leaves it to it
    run = load_run_config(
        CONFIG / "train_synthetic.yaml", ["train.recipe=adam", "train.lr=0.01", "train.balance="]
    )
    assert (run.train.optimizer, run.train.lr, run.train.balance) == ("adam", 0.01, "none")


@pytest.mark.parametrize(
    "method, weights",
    [
        (["model.method=mmed"], {"rgb": 0.01, "depth": 0.03, "label": 1.0}),
        (["model.method=enc-decs"], {"depth": 0.03, "label": 1.0}),
        (["model.method=enc-dec", "model.targets=[depth]"], {"depth": 0.03}),
        (["model.method=enc-dec-u", "model.targets=[label]"], {"label": 1.0}),
    ],
)
def test_recipe_weights_keep_only_the_modalities_the_method_decodes(tmp_path, method, weights):
    assert tiny_run(tmp_path, "train.recipe=adam", *method).train.loss_weights == weights


def test_written_weights_for_a_modality_not_decoded_stay_an_error(tmp_path):
    run = tiny_run(tmp_path, "model.method=enc-decs", "train.loss_weights={rgb: 0.1}")
    assert run.train.loss_weights == {"rgb": 0.1}
    with pytest.raises(ConfigError, match=r"train.loss_weights names \['rgb'\]"):
        train(run, dataset_factory=factory)


def test_help_and_shipped_config_list_every_recipe():
    text = build_parser().format_help()
    for name, values in RECIPES.items():
        assert f"{name}: {describe_recipe(values)}" in text
    assert all(key in text for key in RECIPE_KEYS)
    comment = re.search(
        r"# recipe: (.*) \(", (CONFIG / "train_synthetic.yaml").read_text(encoding="utf-8")
    )
    assert comment is not None and comment.group(1).split(" | ") == list(RECIPES)
    assert all(set(v) == set(RECIPE_KEYS) for v in RECIPES.values())


def test_a_run_says_which_recipe_values_it_used(tmp_path, capsys):
    run = load_run_config(
        None,
        [
            f"train.out_dir={tmp_path / 'run'}",
            "model.preset=tiny",
            "model.method=enc-decs",
            "data.size=[32, 32]",
            "train.batch_size=4",
            "train.epochs=1",
            "train.max_steps_per_epoch=1",
            "train.progress=false",
            "train.tensorboard=false",
            "train.threads=1",
            "train.recipe=adam",
        ],
        datasets=DATASETS,
    )
    train(run, dataset_factory=factory)
    out = capsys.readouterr().out
    assert (
        "recipe adam: optimizer=adam lr=0.001 momentum=0.9 weight_decay=0.0001 balance=none "
        "loss_weights={depth: 0.03, label: 1}" in out
    )
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["recipe"] == "adam"
    assert summary["recipe_values"]["loss_weights"] == {"depth": 0.03, "label": 1.0}
    assert summary["recipe_values"]["optimizer"] == "adam"


def test_a_recipe_on_the_command_line_that_the_file_would_beat_is_an_error(tmp_path):
    # a config file of before: the paper's values spelled out, which win over any recipe
    spelled = {k: RECIPES["paper"][k] for k in ("optimizer", "lr", "momentum", "weight_decay")}
    old = _spelled_out(CONFIG / "train_synthetic.yaml", tmp_path, spelled)
    with pytest.raises(
        ConfigError,
        match=r"train.recipe=adam on the command line, but the file sets train.optimizer: 'sgd' "
        r"\(the recipe's: 'adam'\), train.weight_decay: 0.0005 .*remove them from the file",
    ):
        load_run_config(old, ["train.recipe=adam"])
    # a recipe that sets the same values, or the values also given on the line, are fine
    assert load_run_config(old, ["train.recipe=uncertainty"]).train.balance == "uncertainty"
    line = ["train.recipe=adam", "train.optimizer=sgd", "train.weight_decay=5e-4"]
    run = load_run_config(old, [*line, "train.loss_weights={}"])
    assert (run.train.optimizer, run.train.loss_weights) == ("sgd", {})


def test_a_study_whose_common_values_beat_an_arm_recipe_is_refused(tmp_path, capsys):
    study = {
        "name": "clash",
        "seeds": [0],
        "common": {"train.lr": 0.01, "train.epochs": 1},
        "arms": {"mmed": {"model.method": "mmed"}, "mmed-adam": {"train.recipe": "adam"}},
        "out": str(tmp_path / "exp"),
    }
    path = tmp_path / "clash.yaml"
    path.write_text(json.dumps(study))
    assert experiment_main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert "arm `mmed-adam` names train.recipe adam, but common sets train.lr: 0.01" in err
    assert not (tmp_path / "exp").exists()  # refused before any run started
    for shipped in sorted((CONFIG / "experiments").glob("*.yaml")):
        check_recipes(protocol.load_study(shipped))
