# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Adapting a model to a camera: BatchNorm statistics re-estimated from unlabelled frames
(mmed_core.deploy.adapt, InferenceEngine.adapt, mmed-adapt)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from mmed_core.cli.adapt import main
from mmed_core.deploy.adapt import ADAPTATION_METHOD, recalibrate_batchnorm
from mmed_core.deploy.checkpoint import load_checkpoint, save_checkpoint
from mmed_core.deploy.inference import InferenceEngine
from mmed_core.errors import ConfigError, InputError
from mmed_core.network.config import ModelConfig
from mmed_core.network.factory import create_model

SIZE = (32, 32)


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return create_model(ModelConfig.preset("tiny", input_size=SIZE)).eval()


def _stats(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {
        k: v.clone()
        for k, v in model.state_dict().items()
        if k.endswith(("running_mean", "running_var", "num_batches_tracked"))
    }


def _rgb(n: int, seed: int = 0, size: tuple[int, int] = SIZE) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    # a camera brighter and bluer than the (random) training distribution
    x = (
        torch.rand((n, 3, *size), generator=g) * 80
        + torch.tensor([120.0, 140.0, 170.0])[:, None, None]
    )
    return x


def test_statistics_of_the_paths_become_the_frames_and_the_rest_stay() -> None:
    model = _model()
    before = _stats(model)
    x = _rgb(6)
    res = recalibrate_batchnorm(model, [{"rgb": x}], [("rgb", "label")])
    after = _stats(model)
    assert res.frames == 6 and res.paths == (("rgb", "label"),)
    assert res.modules and all(
        m.startswith(("encoders.rgb", "decoders.label")) for m in res.modules
    )
    assert any(m.startswith("encoders.rgb") for m in res.modules)
    assert any(m.startswith("decoders.label") for m in res.modules)
    for key, value in before.items():
        layer = key.rsplit(".", 1)[0]
        if layer in res.modules:
            continue
        assert torch.equal(value, after[key]), f"{key} changed though off the path"
    changed = [k for k in before if k.rsplit(".", 1)[0] in res.modules]
    assert changed and all(not torch.equal(before[k], after[k]) for k in changed if "running" in k)
    # in eval mode the first layer now normalises these frames to zero mean: its output's
    # per-channel mean is the layer's bias (cloned: the ReLU after it works in place)
    first = next(m for n, m in model.named_modules() if n == res.modules[0])
    assert not model.training and not first.training and first.momentum == 0.1
    seen: list[torch.Tensor] = []
    hook = first.register_forward_hook(lambda _m, _i, y: seen.append(y.detach().clone()))
    from mmed_core.network.modalities import prepare_inputs

    with torch.no_grad():
        model(prepare_inputs({"rgb": x}, model.config), paths=[("rgb", "label")])
    hook.remove()
    torch.testing.assert_close(seen[0].mean((0, 2, 3)), first.bias.detach(), atol=1e-4, rtol=0)


def test_bad_input_changes_nothing() -> None:
    model = _model()
    before = _stats(model)
    with pytest.raises(InputError, match="no frames given"):
        recalibrate_batchnorm(model, [], [("rgb", "label")])
    with pytest.raises(InputError, match=r"the batch lacks \['depth'\]"):
        recalibrate_batchnorm(
            model, [{"rgb": _rgb(2)}, {"rgb": _rgb(2)}], [("rgb", "label"), ("depth", "label")]
        )
    with pytest.raises(ConfigError, match="not in this model"):
        recalibrate_batchnorm(model, [{"rgb": _rgb(2)}], [("rgb", "normals")])
    with pytest.raises(ConfigError, match="at least one"):
        recalibrate_batchnorm(model, [{"rgb": _rgb(2)}], [])
    after = _stats(model)
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(
        m.momentum == 0.1 and not m.training
        for m in model.modules()
        if isinstance(m, torch.nn.BatchNorm2d)
    )


def test_engine_adapts_frames_of_any_size_in_batches_and_predicts_differently() -> None:
    engine = InferenceEngine(_model())
    frames = [
        {"rgb": _rgb(1, k, size)[0].permute(1, 2, 0).numpy().astype(np.uint8)}
        for k, size in enumerate(((48, 64), (30, 40), (32, 32)))
    ]
    before = engine.infer(frames[0], [("rgb", "label")], probabilities=True)
    res = engine.adapt(frames, [("rgb", "label"), ("rgb", "depth")], batch_size=2)
    assert res.frames == 3
    assert any(m.startswith("decoders.depth") for m in res.modules)
    after = engine.infer(frames[0], [("rgb", "label")], probabilities=True)
    assert not np.allclose(
        before[("rgb", "label")].probabilities, after[("rgb", "label")].probabilities
    )
    with pytest.raises(InputError, match=r"frame 0 lacks \['depth'\]"):
        engine.adapt(frames, [("depth", "label")])
    with pytest.raises(ConfigError, match="batch_size"):
        engine.adapt(frames, [("rgb", "label")], batch_size=0)
    # the same frames give the same statistics (no randomness)
    again = InferenceEngine(_model())
    again.adapt(frames, [("rgb", "label"), ("rgb", "depth")], batch_size=2)
    assert all(
        torch.equal(a, b)
        for a, b in zip(_stats(engine.model).values(), _stats(again.model).values())
    )


@pytest.fixture()
def base(tmp_path: Path) -> Path:
    path = tmp_path / "model" / "base.safetensors"
    save_checkpoint(path, _model(), dataset="synthetic", data={"depth_input": "clean"}, epoch=3)
    return path


@pytest.fixture()
def frames(tmp_path: Path) -> Path:
    rng = np.random.default_rng(1)
    root = tmp_path / "cam"
    for name, (h, w) in (("f0.png", (48, 64)), ("f1.jpg", (48, 64)), ("sub/f2.png", (30, 40))):
        f = root / "rgb" / name
        f.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(f), rng.integers(100, 255, (h, w, 3), dtype=np.uint8))
        d = (root / "depth" / name).with_suffix(".png")
        d.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(d), rng.integers(500, 5000, (h, w)).astype(np.uint16))
    return root


def test_mmed_adapt_writes_a_loadable_adapted_checkpoint(base, frames, tmp_path, capsys) -> None:
    out = tmp_path / "adapted" / "cam.safetensors"
    rc = main(
        [str(frames / "rgb"), "--checkpoint", str(base), "--out", str(out), "--device", "cpu"]
    )
    stdout = capsys.readouterr().out
    assert (
        rc == 0 and "re-estimated from 3 frames" in stdout and "layers of rgb->label re" in stdout
    )
    model, card = load_checkpoint(out)  # the sha256 of the new weights is checked here
    rec = card["adaptation"]
    assert rec["method"] == ADAPTATION_METHOD and rec["frames"] == 3
    # by default the label paths only: the depth decoder keeps its training statistics
    assert rec["paths"] == [["rgb", "label"]] and rec["resize"] == "stretch"
    assert (
        rec["base_sha256"]
        == json.loads(base.with_suffix(".json").read_text())["weights"]["sha256"]
    )
    assert card["epoch"] == 3 and card["data"] == {"depth_input": "clean"}  # the original's fields
    original, _ = load_checkpoint(base)
    sd_a, sd_o = model.state_dict(), original.state_dict()
    weights_same = all(
        torch.equal(sd_a[k], sd_o[k])
        for k in sd_o
        if "running" not in k and "num_batches" not in k
    )
    assert weights_same  # only statistics change
    assert "adapted_frames=3" in InferenceEngine(model, card).describe()


def test_mmed_adapt_with_depth_adapts_the_depth_encoder_too(
    base, frames, tmp_path, capsys
) -> None:
    out = tmp_path / "rgbd.safetensors"
    rc = main(
        [
            str(frames / "rgb"),
            "--depth",
            str(frames / "depth"),
            "--checkpoint",
            str(base),
            "--out",
            str(out),
            "--device",
            "cpu",
        ]
    )
    assert rc == 0, capsys.readouterr().err
    _, card = load_checkpoint(out)
    assert ["depth", "label"] in card["adaptation"]["paths"]
    assert card["adaptation"]["layers"] > 0 and "depth: " in card["adaptation"]["source"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--batch-size", "0"], "--batch-size: expected >= 1"),
        (["--depth-scale", "0"], "--depth-scale: expected metres per unit > 0"),
        (["--path", "rgb->nothing"], "not in this model"),
        (["--path", "depth->label"], "give the depth images with --depth"),
    ],
)
def test_bad_options_are_named_and_nothing_is_written(
    base, frames, tmp_path, capsys, args, message
) -> None:
    out = tmp_path / "o.safetensors"
    rc = main(
        [
            str(frames / "rgb"),
            "--checkpoint",
            str(base),
            "--out",
            str(out),
            "--device",
            "cpu",
            *args,
        ]
    )
    assert rc == 2 and message in capsys.readouterr().err
    assert not out.exists() and not out.with_suffix(".json").exists()


def test_existing_outputs_and_the_base_itself_are_never_overwritten(
    base, frames, tmp_path, capsys
) -> None:
    out = tmp_path / "o.safetensors"
    out.write_bytes(b"keep")
    args = [str(frames / "rgb"), "--checkpoint", str(base), "--device", "cpu"]
    assert main([*args, "--out", str(out)]) == 2
    assert "already exist; add --force" in capsys.readouterr().err and out.read_bytes() == b"keep"
    sha = base.read_bytes()
    assert main([*args, "--out", str(base), "--force"]) == 2
    assert (
        "is the checkpoint being adapted" in capsys.readouterr().err and base.read_bytes() == sha
    )
    assert main([*args, "--out", str(out), "--force"]) == 0
    assert load_checkpoint(out)[1]["adaptation"]["frames"] == 3


def test_missing_or_unreadable_frames_are_named(base, frames, tmp_path, capsys) -> None:
    out = tmp_path / "o.safetensors"
    empty = tmp_path / "empty"
    empty.mkdir()
    args = ["--checkpoint", str(base), "--out", str(out), "--device", "cpu"]
    assert main([str(empty), *args]) == 2
    err = capsys.readouterr().err
    assert str(empty) in err, err
    broken = frames / "rgb" / "f3.png"
    broken.write_bytes(b"not a png")
    assert main([str(frames / "rgb"), *args]) == 2
    assert "f3.png" in capsys.readouterr().err
    assert not out.exists()


def _synthetic_base(tmp_path: Path, depth_input: str) -> Path:
    path = tmp_path / f"syn-{depth_input}.safetensors"
    data = {"dataset": "synthetic", "options": {"seed": 0}, "depth_input": depth_input}
    save_checkpoint(path, _model(), dataset="synthetic", data=data)
    return path


def test_training_data_adapts_to_unaugmented_frames_of_the_models_own_data(
    tmp_path, capsys
) -> None:
    out = tmp_path / "td.safetensors"
    base = _synthetic_base(tmp_path, "clean")
    argv = ["--training-data", "4", "--checkpoint", str(base), "--out", str(out)]
    assert main([*argv, "--device", "cpu"]) == 0, capsys.readouterr().err
    rec = load_checkpoint(out)[1]["adaptation"]
    assert rec["frames"] == 4 and "synthetic val split" in rec["source"]
    # the data has depth: the label paths from both sources
    assert rec["paths"] == [["rgb", "label"], ["depth", "label"]]
    # a model that read sensor-like depth in training keeps its depth encoder's statistics
    kinect = _synthetic_base(tmp_path, "kinect")
    out2 = tmp_path / "td2.safetensors"
    assert main(["--training-data", "2", "--checkpoint", str(kinect), "--out", str(out2)]) == 0
    assert load_checkpoint(out2)[1]["adaptation"]["paths"] == [["rgb", "label"]]
    out3 = tmp_path / "td3.safetensors"
    argv3 = ["--training-data", "2", "--checkpoint", str(kinect), "--out", str(out3)]
    assert main([*argv3, "--path", "depth->label"]) == 2
    assert "read kinect depth in training" in capsys.readouterr().err and not out3.exists()


def test_frames_come_from_inputs_or_the_training_data_not_both(
    base, frames, tmp_path, capsys
) -> None:
    out = tmp_path / "o.safetensors"
    common = ["--checkpoint", str(base), "--out", str(out)]
    assert main(common) == 2
    assert "give the frames to adapt to" in capsys.readouterr().err
    assert main([str(frames / "rgb"), "--training-data", "3", *common]) == 2
    assert "not both" in capsys.readouterr().err
    assert main(["--training-data", "0", *common]) == 2
    assert "expected N >= 1" in capsys.readouterr().err
    assert not out.exists()


def test_adapting_an_adapted_model_says_what_it_replaces(base, frames, tmp_path, capsys) -> None:
    first, second = tmp_path / "a1.safetensors", tmp_path / "a2.safetensors"
    args = [str(frames / "rgb"), "--device", "cpu", "--checkpoint"]
    assert main([*args, str(base), "--out", str(first)]) == 0
    assert "note:" not in capsys.readouterr().err
    assert main([*args, str(first), "--out", str(second)]) == 0
    assert "were re-estimated before" in capsys.readouterr().err
    rec = load_checkpoint(second)[1]["adaptation"]
    assert rec["previous"]["frames"] == 3 and rec["base"] == str(first)
