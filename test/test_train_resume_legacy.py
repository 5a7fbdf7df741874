# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Resuming a training state written before a setting existed: the missing key stands for its
legacy value (``train.criterion`` absent = ``sum``), and the run continues with it.

    python -m pytest test/test_train_resume_legacy.py
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from test_train_support import factory, tiny_run

from mmed_core.errors import CheckpointError
from mmed_core.training.trainer import train


def _make_old(out: Path, *keys: str) -> None:
    """Rewrite out/state.json as a version before ``keys`` (dotted) existed wrote it."""
    path = out / "state.json"
    state = json.loads(path.read_text())
    for key in keys:
        section, name = key.split(".")
        del state["run"][section][name]
    path.write_text(json.dumps(state))


def test_a_state_without_criterion_resumes_with_the_plain_sum(tmp_path, capsys):
    full = train(tiny_run(tmp_path / "full", "train.criterion=sum"), dataset_factory=factory)
    out = tmp_path / "old"
    train(tiny_run(out, "train.criterion=sum", "train.epochs=1"), dataset_factory=factory)
    _make_old(out, "train.criterion")
    capsys.readouterr()
    # today's default (normalised) on the command line: the old run goes on as it started
    done = train(tiny_run(out), dataset_factory=factory, resume=True)
    log = capsys.readouterr().out
    assert "predates train.criterion: the run continues as it started, with" in log
    assert "train.criterion=sum" in log
    assert done.epochs_done == 2
    assert [r["val_score"] for r in done.history] == [r["val_score"] for r in full.history]
    assert yaml.safe_load((out / "config.yaml").read_text())["train"]["criterion"] == "sum"
    # the state stays one without the key, so the next resume continues the same way
    assert "criterion" not in json.loads((out / "state.json").read_text())["run"]["train"]
    again = train(tiny_run(out, "train.epochs=3"), dataset_factory=factory, resume=True)
    assert again.epochs_done == 3 and "train.criterion=sum" in capsys.readouterr().out


def test_a_missing_key_set_to_a_new_value_is_still_a_difference(tmp_path):
    out = tmp_path / "old"
    train(tiny_run(out, "train.epochs=1"), dataset_factory=factory)
    _make_old(out, "train.balance")
    with pytest.raises(CheckpointError, match=r"'train.balance': \('none', 'uncertainty'\)"):
        train(
            tiny_run(out, "train.epochs=2", "train.balance=uncertainty"),
            dataset_factory=factory,
            resume=True,
        )
    # the legacy value itself resumes without a word
    train(tiny_run(out, "train.epochs=2"), dataset_factory=factory, resume=True)


def test_a_config_that_now_names_its_recipe_resumes(tmp_path):
    # a run started from a config that spelled the Adam values out (recipe: paper then)
    spelled = (
        "train.optimizer=adam",
        "train.weight_decay=0.0001",
        "train.loss_weights={rgb: 0.01, depth: 0.03, label: 1.0}",
    )
    out = tmp_path / "run"
    train(tiny_run(out, *spelled, "train.epochs=1"), dataset_factory=factory)
    # ... continued from the config that names the recipe: the same values under another name
    run = tiny_run(out, "train.recipe=adam", "train.epochs=2")
    assert train(run, dataset_factory=factory, resume=True).epochs_done == 2
