# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Checkpoint round trip (bit-exact), tampering and incompatibility."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from mmed_core.deploy.checkpoint import load_checkpoint, save_checkpoint
from mmed_core.errors import CheckpointError
from mmed_core.network.config import ModelConfig
from mmed_core.network.factory import create_model


@pytest.fixture()
def saved(tmp_path: Path) -> tuple[Path, torch.nn.Module]:
    model = create_model(ModelConfig.preset("tiny"))
    # Non-trivial BatchNorm statistics so the round trip covers buffers too.
    model.train()(dict(rgb=torch.rand(2, 3, 16, 16) * 255))
    path = tmp_path / "best.safetensors"
    save_checkpoint(path, model, dataset="synthetic", metrics={"miou": 0.5})
    return path, model


@pytest.mark.parametrize(
    "method,kw",
    [("mmed", {}), ("mae", {"mae_grid": (4, 4)}), ("enc-dec-u", {"targets": ("label",)})],
)
def test_round_trip_is_bit_exact(tmp_path: Path, method: str, kw: dict) -> None:
    model = create_model(ModelConfig.preset("tiny", method=method, **kw))
    save_checkpoint(tmp_path / "m.safetensors", model)
    loaded, card = load_checkpoint(tmp_path / "m.json")
    assert loaded.config == model.config and card["method"] == method
    for (k, a), (k2, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert k == k2 and a.dtype == b.dtype and torch.equal(a, b), k
    x = {"rgb": torch.rand(1, 3, 16, 16) * 255}
    torch.testing.assert_close(model.eval()(x), loaded(x), rtol=0, atol=0)


def test_card_holds_what_a_user_needs(saved: tuple[Path, torch.nn.Module]) -> None:
    path, _ = saved
    card = json.loads(path.with_suffix(".json").read_text())
    for key in (
        "config",
        "class_names",
        "palette",
        "depth_range",
        "depth_units",
        "dataset",
        "method",
        "metrics",
        "weights",
    ):
        assert key in card
    assert len(card["weights"]["sha256"]) == 64


def test_tampered_weights_are_refused(saved: tuple[Path, torch.nn.Module]) -> None:
    path, _ = saved
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="sha256 .* does not match"):
        load_checkpoint(path)


def test_incompatible_config_is_refused(saved: tuple[Path, torch.nn.Module]) -> None:
    path, _ = saved
    card_path = path.with_suffix(".json")
    card = json.loads(card_path.read_text())
    card["config"]["widths"] = [4, 8, 8]
    card_path.write_text(json.dumps(card))
    with pytest.raises(CheckpointError, match=r"tensors do not match.*mismatched"):
        load_checkpoint(path)
    card["config"]["method"] = "nope"
    card_path.write_text(json.dumps(card))
    with pytest.raises(CheckpointError, match="invalid config.*Wrong method `nope`"):
        load_checkpoint(path)


def test_expected_config_mismatch(saved: tuple[Path, torch.nn.Module]) -> None:
    path, model = saved
    with pytest.raises(CheckpointError, match="differs from the expected"):
        load_checkpoint(path, expect=model.config.replace(dataset="nyudv2"))


def test_pickle_files_are_refused_with_advice(tmp_path: Path) -> None:
    p = tmp_path / "model.pth"
    p.write_bytes(b"not really")
    with pytest.raises(CheckpointError, match="refused.*mmed-export convert"):
        load_checkpoint(p)


def test_missing_files_are_named(tmp_path: Path, saved: tuple[Path, torch.nn.Module]) -> None:
    # Neither file: the .safetensors asked for is what is missing (not its card).
    with pytest.raises(CheckpointError, match=r"nothing\.safetensors: weights file not found$"):
        load_checkpoint(tmp_path / "nothing.safetensors")
    path, _ = saved
    card = path.with_suffix(".json")
    text = card.read_text()
    card.unlink()
    with pytest.raises(CheckpointError, match="model card not found"):
        load_checkpoint(path)
    card.write_text(text)
    path.unlink()
    with pytest.raises(CheckpointError, match="weights file not found"):
        load_checkpoint(path)


def test_corrupt_card(saved: tuple[Path, torch.nn.Module]) -> None:
    path, _ = saved
    path.with_suffix(".json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not a readable JSON model card"):
        load_checkpoint(path)
