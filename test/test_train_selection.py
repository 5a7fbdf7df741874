# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""The fixes of issue 14: the selection criterion, the step-matched "+extra" sampler, loss
balancing and the label encoder's treatment of ids outside the classes."""

from __future__ import annotations

import json

import pytest
import torch
from test_train_support import factory, tiny_run

from mmed_core.errors import ConfigError
from mmed_core.network.config import ModelConfig
from mmed_core.network.modalities import get_modality
from mmed_core.training.balance import LossBalancer
from mmed_core.training.sampler import PairedBatchSampler, StepMatchedSampler
from mmed_core.training.trainer import criterion, train


def test_normalised_criterion_weighs_every_task_alike():
    monitor = (("rgb", "depth"), ("rgb", "label"))
    ref = {"val_rgb2depth": 100.0, "val_rgb2label": 2.0}
    # depth improves by 10 %, labels get 40 % worse: the plain sum calls it progress
    val = {"val_rgb2depth": 90.0, "val_rgb2label": 2.8, "val_rgb2rgb": 5.0}
    assert criterion(val, monitor, ref, "sum") == pytest.approx(92.8)
    assert criterion(val, monitor, ref, "normalised") == pytest.approx((0.9 + 1.4) / 2)
    assert criterion(ref, monitor, ref, "normalised") == pytest.approx(1.0)


def test_training_selects_on_the_normalised_criterion(tmp_path):
    r = train(tiny_run(tmp_path / "run", "train.epochs=3"), dataset_factory=factory)
    rows = r.history
    assert rows[0]["val_score"] == pytest.approx(1.0)
    best = min(range(3), key=lambda i: rows[i]["val_score"])
    assert r.best_epoch == best + 1 and r.best_val == pytest.approx(rows[best]["val_score"])
    card = json.loads((tmp_path / "run" / "best.json").read_text())
    assert card["val_score"] == pytest.approx(rows[best]["val_score"])


def test_step_matched_sampler_keeps_the_paired_batches_and_adds_unpaired():
    paired = [True] * 10 + [False] * 30
    base = PairedBatchSampler([True] * 10, 4, seed=3)
    s = StepMatchedSampler(paired, 4, 3, seed=3)
    assert len(s) == len(base) == 3
    for epoch in (0, 1, 5):
        got, want = s.epoch_batches(epoch), base.epoch_batches(epoch)
        assert [b[: len(w)] for b, w in zip(got, want)] == want
        extra = [i for b, w in zip(got, want) for i in b[len(w) :]]
        assert all(len(b) - len(w) == 3 for b, w in zip(got, want))
        assert all(10 <= i < 40 for i in extra) and len(set(extra)) == len(extra)
    s.set_epoch(2, start=1)
    assert list(s) == s.epoch_batches(2)[1:]
    with pytest.raises(ConfigError, match="paired samples first"):
        StepMatchedSampler([False, True], 2, 1)


def test_step_matched_extra_trains_the_same_number_of_steps(tmp_path):
    plain = train(tiny_run(tmp_path / "a", "train.epochs=1"), dataset_factory=factory)
    matched = train(
        tiny_run(tmp_path / "b", "train.epochs=1", "data.extra=true", "data.extra_per_batch=2"),
        dataset_factory=factory,
    )
    mixed = train(
        tiny_run(tmp_path / "c", "train.epochs=1", "data.extra=true"), dataset_factory=factory
    )
    assert matched.global_step == plain.global_step == 4 and mixed.global_step == 8
    with pytest.raises(ConfigError, match="extra_per_batch"):
        tiny_run(tmp_path / "d", "data.extra_per_batch=2")


def test_uncertainty_weighting_learns_and_resumes_exactly(tmp_path):
    full = train(
        tiny_run(tmp_path / "full", "train.epochs=2", "train.balance=uncertainty"),
        dataset_factory=factory,
    )
    assert "weight_rgb2depth" in full.history[-1]
    assert full.history[-1]["weight_rgb2depth"] != pytest.approx(1.0)

    def interrupt(epoch, step):
        if step == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(
            tiny_run(tmp_path / "part", "train.epochs=2", "train.balance=uncertainty"),
            dataset_factory=factory,
            on_step=interrupt,
        )
    # the epoch-1 state is on disk; resuming replays epoch 2 exactly
    done = train(
        tiny_run(tmp_path / "part", "train.epochs=2", "train.balance=uncertainty"),
        dataset_factory=factory,
        resume=True,
    )
    assert [r["val_loss"] for r in done.history] == [r["val_loss"] for r in full.history]


def test_dwa_weights_follow_the_loss_ratios():
    paths = (("rgb", "depth"), ("rgb", "label"))
    b = LossBalancer("dwa", paths, {})
    b.start_epoch([{"train_rgb2depth": 1.0, "train_rgb2label": 1.0}])
    assert b.describe() == {"rgb2depth": 1.0, "rgb2label": 1.0}
    hist = [
        {"train_rgb2depth": 1.0, "train_rgb2label": 1.0},
        {"train_rgb2depth": 0.5, "train_rgb2label": 1.0},  # depth fell fast, labels stalled
    ]
    b.start_epoch(hist)
    w = b.describe()
    assert w["rgb2label"] > 1.0 > w["rgb2depth"] and sum(w.values()) == pytest.approx(2.0)
    loss = b({paths[0]: torch.tensor(2.0), paths[1]: torch.tensor(3.0)})
    assert float(loss) == pytest.approx(2.0 * w["rgb2depth"] + 3.0 * w["rgb2label"])


def test_label_ids_outside_the_classes_encode_as_void():
    cfg = ModelConfig()
    k = cfg.num_classes
    ids = torch.tensor([[[0, k - 1], [k, 254]], [[255, -1], [3, k + 5]]])
    x = get_modality("label").to_network(ids, cfg)
    assert x.shape == (2, k, 2, 2)
    assert x[0, :, 0, 0].argmax() == 0 and x[0, k - 1, 0, 1] == 1
    for b, i, j in ((0, 1, 0), (0, 1, 1), (1, 0, 0), (1, 0, 1), (1, 1, 1)):
        assert float(x[b, :, i, j].sum()) == 0.0, (b, i, j)
    assert x[1, 3, 1, 0] == 1


def test_recipes_set_defaults_beneath_explicit_values(tmp_path):
    paper = tiny_run(tmp_path / "a")
    assert paper.train.recipe == "paper" and paper.train.balance == "none"
    assert (paper.train.optimizer, paper.train.lr, paper.train.momentum) == ("sgd", 0.01, 0.9)
    uw = tiny_run(tmp_path / "b", "train.recipe=uncertainty")
    assert uw.train.balance == "uncertainty"
    mixed = tiny_run(tmp_path / "c", "train.recipe=uncertainty", "train.balance=dwa")
    assert mixed.train.balance == "dwa"
    with pytest.raises(ConfigError, match=r"unknown train.recipe 'fast'; recipes: \['paper'"):
        tiny_run(tmp_path / "d", "train.recipe=fast")
