# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""train.loss picks the naive or the batched all-paths loss; both train the same model."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file
from test_train_support import factory, tiny_run

from mmed_core.errors import ConfigError
from mmed_core.training.trainer import train


def test_batched_loss_trains_like_the_naive_loop(tmp_path) -> None:
    # One step: the same gradients give the same update; over many steps float round-off in
    # train-mode BatchNorm grows chaotically (test_batched.py checks gradients directly).
    opts = ("train.epochs=1", "train.max_steps_per_epoch=1")
    naive = train(
        tiny_run(tmp_path / "naive", *opts, "train.loss=multipath"), dataset_factory=factory
    )
    batched = train(
        tiny_run(tmp_path / "batched", *opts, "train.loss=batched"), dataset_factory=factory
    )
    assert naive.history[0]["train_loss"] == pytest.approx(
        batched.history[0]["train_loss"], rel=1e-4
    )
    a = load_file(str(tmp_path / "naive" / "last.safetensors"))
    b = load_file(str(tmp_path / "batched" / "last.safetensors"))
    for k in a:
        torch.testing.assert_close(a[k].float(), b[k].float(), rtol=1e-4, atol=1e-5, msg=k)


def test_unknown_loss_mode_is_named(tmp_path) -> None:
    with pytest.raises(
        ConfigError, match="train.loss must be `auto`, `multipath` or `batched`, got 'fast'"
    ):
        train(tiny_run(tmp_path / "x", "train.loss=fast"), dataset_factory=factory)
