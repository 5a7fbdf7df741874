# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""``train.init``: a new run starts from a checkpoint's weights (fine-tuning); a resumed one
from its own state.

    python -m pytest test/test_train_init.py
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import safetensors.torch
import torch
import yaml
from test_train_support import factory, tiny_run

from mmed_core.deploy.checkpoint import load_weights_into, read_card
from mmed_core.errors import CheckpointError, ConfigError
from mmed_core.network.config import ModelConfig
from mmed_core.network.factory import create_model
from mmed_core.training import trainer
from mmed_core.training.trainer import train


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """best.safetensors of a tiny one-epoch run (the checkpoint to start from)."""
    out = tmp_path_factory.mktemp("source")
    train(tiny_run(out, "train.epochs=1"), dataset_factory=factory)
    return out / "best.safetensors"


def _first_step_weights(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, torch.Tensor]]:
    """Records the model's weights at each run's first training forward (before any step)."""
    seen: list[dict[str, torch.Tensor]] = []
    real = trainer.multipath_loss

    def spy(model: Any, *args: Any, **kw: Any) -> Any:
        if model.training and not seen:
            seen.append({k: v.detach().clone() for k, v in model.state_dict().items()})
        return real(model, *args, **kw)

    monkeypatch.setattr(trainer, "multipath_loss", spy)
    return seen


def _equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_new_run_starts_from_the_checkpoint_and_trains_on(tmp_path, monkeypatch, source):
    seen = _first_step_weights(monkeypatch)
    out = tmp_path / "ft"
    result = train(
        tiny_run(out, f"train.init={source}", "train.epochs=1", "train.seed=7"),
        dataset_factory=factory,
    )
    saved = safetensors.torch.load_file(str(source))
    assert _equal(seen[0], saved)  # every tensor, BatchNorm statistics included
    # the optimiser and the counts start afresh, and the weights move on
    assert result.history[0]["epoch"] == 1 and result.global_step == 4
    last = safetensors.torch.load_file(str(out / "last.safetensors"))
    assert not _equal(last, saved)
    # where it started from: config.yaml, summary.json and the model cards
    sha = read_card(source)["weights"]["sha256"]
    assert yaml.safe_load((out / "config.yaml").read_text())["train"]["init"] == str(source)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["init"]["path"] == str(source) and summary["init"]["sha256"] == sha
    assert read_card(out / "best.safetensors")["init"]["sha256"] == sha
    # a run without it records none
    plain = tmp_path / "plain"
    train(tiny_run(plain, "train.epochs=1"), dataset_factory=factory)
    assert json.loads((plain / "summary.json").read_text())["init"] is None
    assert "init" not in read_card(plain / "best.safetensors")


def test_another_model_is_refused_naming_the_keys(tmp_path, source):
    with pytest.raises(CheckpointError) as err:
        train(
            tiny_run(tmp_path / "a", f"train.init={source}", "model.preset=small"),
            dataset_factory=factory,
        )
    msg = str(err.value)
    assert msg.startswith(f"train.init: {source}")
    assert "widths: saved [8, 16, 16], now [16, 32, 64]" in msg
    assert "latent_channels: saved 16, now 64" in msg
    with pytest.raises(CheckpointError, match=r"method: saved 'mmed', now 'enc-decs'"):
        train(
            tiny_run(tmp_path / "b", f"train.init={source}", "model.method=enc-decs"),
            dataset_factory=factory,
        )
    with pytest.raises(CheckpointError, match=r"input_size: saved \[32, 32\], now \[64, 64\]"):
        train(
            tiny_run(tmp_path / "c", f"train.init={source}", "data.size=[64, 64]"),
            dataset_factory=factory,
        )
    assert not (tmp_path / "a").exists()  # refused before anything is written


def _no_data(*args: Any, **kw: Any) -> Any:
    raise AssertionError("the datasets were built before train.init was checked")


def test_a_missing_or_bad_init_is_an_error_naming_it(tmp_path, source):
    gone = tmp_path / "nowhere" / "model.safetensors"
    with pytest.raises(CheckpointError, match=f"train.init: {gone}: weights file not found"):
        train(tiny_run(tmp_path / "a", f"train.init={gone}"), dataset_factory=_no_data)
    copy = tmp_path / "copy.safetensors"
    shutil.copy(source, copy)  # without its model card
    with pytest.raises(CheckpointError, match=r"train.init: .*copy.json: model card not found"):
        train(tiny_run(tmp_path / "b", f"train.init={copy}"), dataset_factory=_no_data)
    with pytest.raises(ConfigError, match="train.init must be the path"):
        tiny_run(tmp_path / "c", "train.init=5")


def test_tensors_the_model_lacks_or_adds_are_listed(source):
    card = read_card(source)
    model = create_model(ModelConfig.from_dict(card["config"]))
    model.register_buffer("extra_stat", torch.zeros(3))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(CheckpointError, match=r"missing \['extra_stat'\]"):
        load_weights_into(model, source, what="train.init")
    assert _equal(model.state_dict(), before)  # nothing loaded


def test_resume_continues_its_own_state_not_the_init(tmp_path, monkeypatch, source):
    full = train(tiny_run(tmp_path / "full", f"train.init={source}"), dataset_factory=factory)
    out = tmp_path / "run"
    init = tmp_path / "init.safetensors"
    shutil.copy(source, init)
    shutil.copy(source.with_suffix(".json"), init.with_suffix(".json"))
    train(tiny_run(out, f"train.init={init}", "train.epochs=1"), dataset_factory=factory)
    sha = read_card(init)["weights"]["sha256"]
    after_epoch1 = safetensors.torch.load_file(str(out / "last.safetensors"))
    init.unlink()  # a resume never reads it again
    seen = _first_step_weights(monkeypatch)
    done = train(tiny_run(out, f"train.init={init}"), dataset_factory=factory, resume=True)
    assert _equal(seen[0], after_epoch1)
    assert not _equal(seen[0], safetensors.torch.load_file(str(source)))
    assert done.epochs_done == 2
    assert [r["val_score"] for r in done.history] == [r["val_score"] for r in full.history]
    assert json.loads((out / "summary.json").read_text())["init"]["sha256"] == sha
    # the init is part of the run: another one (or none) is a different run
    with pytest.raises(CheckpointError, match=r"'train.init': \("):
        train(tiny_run(out, "train.epochs=3"), dataset_factory=factory, resume=True)
