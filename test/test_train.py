# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Trainer behaviour a user notices: learning, exact resume, early stopping, NaN, Ctrl-C, config
errors.

python -m pytest test/test_train.py
"""

from __future__ import annotations

import json
import math
import signal

import pytest
import torch
from safetensors.torch import load_file
from test_train_support import factory, tiny_run

import mmed_core.training.trainer as train_mod
from mmed_core.deploy.checkpoint import load_checkpoint
from mmed_core.errors import CheckpointError, ConfigError
from mmed_core.training.trainer import DivergedError, train


def _weights(path) -> dict[str, torch.Tensor]:
    return load_file(str(path))


def test_loss_decreases(tmp_path):
    r = train(tiny_run(tmp_path / "run", "train.epochs=4"), dataset_factory=factory)
    losses = [row["train_loss"] for row in r.history]
    assert r.status == "finished" and len(losses) == 4
    assert losses[-1] < 0.85 * losses[0], losses
    model, card = load_checkpoint(tmp_path / "run" / "best.safetensors")
    assert card["epoch"] == r.best_epoch and card["run_name"] == "mmed"
    log = (tmp_path / "run" / "log.csv").read_text().splitlines()
    assert log[0].startswith("epoch,global_step,train_loss,val_loss") and len(log) == 5
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["global_step"] == r.global_step


def _interrupt_at(step: int):
    def hook(epoch: int, global_step: int) -> None:
        if global_step == step:
            signal.raise_signal(signal.SIGINT)  # the real handler: a clean stop, not an exception

    return hook


def test_resume_after_interrupt_equals_uninterrupted(tmp_path):
    # with unpaired extra data, so the sampler's mixing and position must be restored too
    opts = ("train.epochs=2", "data.extra=true")
    full = train(tiny_run(tmp_path / "full", *opts), dataset_factory=factory)
    cut = train(
        tiny_run(tmp_path / "cut", *opts), dataset_factory=factory, on_step=_interrupt_at(4)
    )
    assert cut.status == "interrupted" and cut.global_step == 4
    state = json.loads((tmp_path / "cut" / "state.json").read_text())
    assert state["epoch"] == 0 and state["step_in_epoch"] == 4
    assert {p.suffix for p in (tmp_path / "cut").iterdir() if p.is_file()} <= {
        ".json",
        ".safetensors",
        ".yaml",
        ".csv",
    }
    done = train(tiny_run(tmp_path / "cut", *opts), dataset_factory=factory, resume=True)
    assert done.status == "finished" and done.global_step == full.global_step
    a, b = (
        _weights(tmp_path / "full" / "last.safetensors"),
        _weights(tmp_path / "cut" / "last.safetensors"),
    )
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)
    assert [r["val_loss"] for r in done.history] == [r["val_loss"] for r in full.history]


def test_same_seed_same_weights_on_cpu(tmp_path):
    for name in (
        "a",
        "b",
    ):  # run a also writes TensorBoard events (the log must not change training)
        train(
            tiny_run(
                tmp_path / name, "train.epochs=1", f"train.tensorboard={str(name == 'a').lower()}"
            ),
            dataset_factory=factory,
        )
    assert (
        list((tmp_path / "a" / "tb").glob("events.out.tfevents.*"))
        and not (tmp_path / "b" / "tb").exists()
    )
    a, b = (
        _weights(tmp_path / "a" / "last.safetensors"),
        _weights(tmp_path / "b" / "last.safetensors"),
    )
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_early_stopping_triggers(tmp_path):
    # min_delta so large that no epoch after the first counts as an improvement.
    r = train(
        tiny_run(tmp_path / "run", "train.epochs=10", "train.patience=2", "train.min_delta=1e9"),
        dataset_factory=factory,
    )
    assert r.status == "early_stopped"
    assert r.epochs_done == 3 and r.best_epoch == 1
    # resuming an early-stopped run does not train on; a larger patience does
    again = train(
        tiny_run(tmp_path / "run", "train.epochs=10", "train.patience=2", "train.min_delta=1e9"),
        dataset_factory=factory,
        resume=True,
    )
    assert again.status == "early_stopped" and again.global_step == r.global_step
    more = train(
        tiny_run(tmp_path / "run", "train.epochs=10", "train.patience=3", "train.min_delta=1e9"),
        dataset_factory=factory,
        resume=True,
    )
    assert more.status == "early_stopped" and more.epochs_done == 4


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path, monkeypatch):
    real = train_mod.multipath_loss
    calls = {"n": 0}

    def poisoned(model, batch, paths=None, weights=None):
        total, per_path = real(model, batch, paths, weights)
        if torch.is_grad_enabled():
            calls["n"] += 1
            if calls["n"] == 6:  # in the second epoch (4 steps per epoch)
                return total * float("nan"), {p: v * float("nan") for p, v in per_path.items()}
        return total, per_path

    monkeypatch.setattr(train_mod, "multipath_loss", poisoned)
    out = tmp_path / "run"
    with pytest.raises(DivergedError, match=r"loss became nan at epoch 2.*last good checkpoint"):
        train(tiny_run(out, "train.epochs=3"), dataset_factory=factory)
    model, card = load_checkpoint(out / "last.safetensors")
    assert card["epoch"] == 1
    assert all(
        torch.isfinite(p).all() for p in model.state_dict().values() if p.is_floating_point()
    )
    assert json.loads((out / "state.json").read_text())["epoch"] == 1


@pytest.mark.parametrize(
    "override, match",
    [
        (
            "train.lrr=0.1",
            r"unknown key\(s\) \['train.lrr'\].*valid keys: \['recipe', 'optimizer', 'lr'",
        ),
        ("model.method=unet", r"unknown model.method 'unet'; methods: \['mmed', 'enc-dec'"),
        ("data.dataset=kitti", r"unknown data.dataset 'kitti'; datasets: \['synthetic'\]"),
        ("data.root=/no/such/folder", r"data.root '/no/such/folder' does not exist"),
        ("model.class_names=[a]", r"come from the dataset's info"),
        ("train.batch_size=many", r"train.batch_size` must be a number, got 'many'"),
        ("bogus.key=1", r"unknown section `bogus`"),
        ("train.lr", r"expected key=value"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path, override, match):
    with pytest.raises(ConfigError, match=match):
        tiny_run(tmp_path, override)


def test_single_task_method_needs_one_target(tmp_path):
    run = tiny_run(tmp_path / "run", "model.method=enc-dec")
    with pytest.raises(ConfigError, match="single-task: give exactly one target"):
        train(run, dataset_factory=factory)


def test_resume_refuses_other_config_and_missing_state(tmp_path):
    with pytest.raises(CheckpointError, match="no resumable training state"):
        train(tiny_run(tmp_path / "run"), dataset_factory=factory, resume=True)
    train(tiny_run(tmp_path / "run", "train.epochs=1"), dataset_factory=factory)
    with pytest.raises(CheckpointError, match=r"different config.*'train.lr': \(0.01, 0.02\)"):
        train(tiny_run(tmp_path / "run", "train.lr=0.02"), dataset_factory=factory, resume=True)
    with pytest.raises(ConfigError, match="already holds a run"):
        train(tiny_run(tmp_path / "run"), dataset_factory=factory)
    # epochs may grow on resume: training continues from epoch 1.
    r = train(tiny_run(tmp_path / "run", "train.epochs=2"), dataset_factory=factory, resume=True)
    assert r.epochs_done == 2 and len(r.history) == 2


@pytest.mark.parametrize(
    "method, extra",
    [
        ("model.method=enc-dec model.targets=[depth]", ()),
        ("model.method=enc-dec-u model.targets=[label]", ()),
        ("model.method=enc-decs", ()),
        ("model.method=mae model.mae_grid=[8,8] model.mae_hidden=32 model.mae_latent=8", ()),
        ("model.method=mmed", ("data.extra=true",)),
    ],
)
def test_every_method_trains(tmp_path, method, extra):
    r = train(
        tiny_run(tmp_path / "run", "train.epochs=1", *method.split(), *extra),
        dataset_factory=factory,
    )
    assert r.status == "finished" and math.isfinite(r.best_val)
