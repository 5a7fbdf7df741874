# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Backends and exports agree with eager; `mmed-export convert` never unpickles code."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

from mmed_core.cli.export import main
from mmed_core.deploy.backends import (
    BACKENDS,
    example_inputs,
    make_runner,
    require_onnxruntime,
    select_backend,
)
from mmed_core.deploy.checkpoint import load_checkpoint, save_checkpoint
from mmed_core.deploy.export import (
    convert_state_dict,
    export_checkpoint,
    export_model,
    parse_paths,
)
from mmed_core.errors import CheckpointError, ConfigError, ExportError, InputError
from mmed_core.network.config import ModelConfig
from mmed_core.network.factory import create_model

PATHS = (("rgb", "label"), ("rgb", "depth"))


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    torch.manual_seed(0)
    m = create_model(ModelConfig.preset("tiny", input_size=(32, 32))).eval()
    # Non-trivial BN statistics, so a backend that folds them wrongly would show.
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_mean.uniform_(-1, 1)
                mod.running_var.uniform_(0.5, 2)
    return m


def eager(model: torch.nn.Module, paths=PATHS, seed: int = 5) -> tuple[dict, dict]:
    sources = list(dict.fromkeys(s for s, _ in paths))
    xs = dict(zip(sources, example_inputs(model.config, sources, seed=seed)))
    with torch.no_grad():
        return xs, model(xs, paths=paths)


def assert_match(got: dict, want: dict, rtol: float = 1e-3, atol: float = 1e-4) -> None:
    assert list(got) == list(want)
    for k in want:
        scale = want[k].abs().max()
        torch.testing.assert_close(
            got[k] / scale, want[k] / scale, rtol=rtol, atol=atol, msg=str(k)
        )


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "compile"])
def test_backend_matches_eager_forward(model: torch.nn.Module, backend: str) -> None:
    runner = make_runner(model, PATHS, backend)
    xs, want = eager(model)  # another input than the build-time check used
    assert_match(runner(xs), want)
    assert list(runner(xs, paths=[("rgb", "depth")])) == [("rgb", "depth")]


@pytest.mark.slow  # inductor compiles C++: about a minute on 2 cores
def test_compile_backend_matches_eager(model: torch.nn.Module) -> None:
    runner = make_runner(model, PATHS, "compile")
    xs, want = eager(model)
    assert_match(runner(xs), want)


def test_select_backend_is_called_like_the_model(model: torch.nn.Module) -> None:
    """What the engine swaps in: one source per call, any subset of its paths, model order."""
    paths = (("rgb", "label"), ("depth", "label"), ("rgb", "depth"))
    bm = select_backend(model, paths, "torchscript")
    xs, want = eager(model, paths)
    assert_match(bm(xs, paths=paths), want)
    only = bm({"rgb": xs["rgb"]}, paths=[("rgb", "depth"), ("rgb", "label")])
    assert list(only) == [("rgb", "depth"), ("rgb", "label")]
    with pytest.raises(InputError, match="sources"):
        bm(xs, paths=[("label", "depth")])


def test_runner_refuses_other_paths_and_unknown_backend(model: torch.nn.Module) -> None:
    runner = make_runner(model, PATHS, "torchscript")
    xs, _ = eager(model)
    with pytest.raises(InputError, match="built for"):
        runner(xs, paths=[("depth", "label")])
    with pytest.raises(ConfigError, match="tensorrt"):
        make_runner(model, PATHS, "tensorrt")
    with pytest.raises(ConfigError, match="rgb->normals"):
        make_runner(model, [("rgb", "normals")], "eager")


def test_check_catches_a_wrong_backend(
    model: torch.nn.Module, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The build-time check is real: a backend that returns something else is refused."""
    import mmed_core.deploy.backends as b

    real = b.trace
    monkeypatch.setattr(
        b, "trace", lambda fixed, ex: lambda *xs: [y + 1.0 for y in real(fixed, ex)(*xs)]
    )
    monkeypatch.setattr(b.torch.jit, "freeze", lambda m: m)
    monkeypatch.setattr(b.torch.jit, "optimize_for_inference", lambda m: m)
    with pytest.raises(ExportError, match="differ from eager"):
        make_runner(model, PATHS, "torchscript")


def test_multi_source_paths(model: torch.nn.Module) -> None:
    paths = (("rgb", "label"), ("depth", "label"), ("depth", "depth"))
    runner = make_runner(model, paths, "onnxruntime")
    xs, want = eager(model, paths)
    assert_match(runner(xs), want)


def test_exported_files_load_and_match(model: torch.nn.Module, tmp_path: Path) -> None:
    ckpt = tmp_path / "m.safetensors"
    save_checkpoint(ckpt, model)
    xs, want = eager(model)
    ts = tmp_path / "out" / "m.ts"
    card = export_checkpoint(ckpt, "torchscript", ts, PATHS)
    assert (tmp_path / "out" / "m.ts.json").is_file() and card["export"]["paths"] == [
        list(p) for p in PATHS
    ]
    assert card["source_checkpoint"]["file"] == "m.safetensors"
    loaded = torch.jit.load(str(ts))
    assert_match(dict(zip(PATHS, loaded(xs["rgb"]))), want)

    ort = require_onnxruntime()
    onnx_file = tmp_path / "m.onnx"
    card = export_checkpoint(ckpt, "onnx", onnx_file, PATHS)
    sess = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == ["rgb"]
    assert (
        [o.name for o in sess.get_outputs()]
        == ["rgb_label", "rgb_depth"]
        == list(card["export"]["outputs"])
    )
    outs = sess.run(None, {"rgb": xs["rgb"].numpy()})
    assert_match(dict(zip(PATHS, map(torch.from_numpy, outs))), want)
    # The same file, through the backend API the engine uses.
    assert_match(make_runner(model, PATHS, "onnxruntime", onnx_path=onnx_file)(xs), want)


def test_export_refuses_bad_arguments(model: torch.nn.Module, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="format"):
        export_model(model, "tflite", tmp_path / "x")
    with pytest.raises(ConfigError, match="src:dst"):
        parse_paths("rgb-label")
    assert parse_paths("rgb->label, rgb:depth") == PATHS


def test_missing_onnxruntime_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, model: torch.nn.Module
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # makes `import onnxruntime` fail
    with pytest.raises(ConfigError, match="pip install"):
        make_runner(model, PATHS, "onnxruntime")


# ---------------------------------------------------------------------------- convert
class _RunsCode:
    """A pickle payload that would create a file if it were ever unpickled."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def write_config(tmp_path: Path) -> Path:
    cfg = tmp_path / "model.yaml"
    cfg.write_text("preset: tiny\ninput_size: [32, 32]\n", encoding="utf-8")
    return cfg


def test_convert_round_trip_and_ddp_prefix(model: torch.nn.Module, tmp_path: Path) -> None:
    src = tmp_path / "old.pth"
    torch.save({"state_dict": {"module." + k: v for k, v in model.state_dict().items()}}, src)
    assert (
        main(
            [
                "convert",
                str(src),
                "--config",
                str(write_config(tmp_path)),
                "--out",
                str(tmp_path / "new.safetensors"),
            ]
        )
        == 0
    )
    loaded, card = load_checkpoint(tmp_path / "new.safetensors")
    assert card["converted_from"]["file"] == "old.pth"
    for k, v in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v), k


def test_convert_refuses_pickled_code_without_running_it(tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    src = tmp_path / "evil.pth"
    torch.save({"weight": torch.zeros(1), "payload": _RunsCode(str(marker))}, src)
    with pytest.raises(CheckpointError, match="weights-only"):
        convert_state_dict(src, write_config(tmp_path), tmp_path / "x.safetensors")
    assert not marker.exists()
    assert not (tmp_path / "x.safetensors").exists()


def test_convert_reports_mismatching_weights_and_configs(
    model: torch.nn.Module, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    src = tmp_path / "old.pth"
    torch.save(model.state_dict(), src)
    small = tmp_path / "small.json"
    small.write_text('{"preset": "small"}', encoding="utf-8")
    with pytest.raises(CheckpointError, match="do not match the config"):
        convert_state_dict(src, small, tmp_path / "x.safetensors")
    bad = tmp_path / "bad.yaml"
    bad.write_text("widht: [1, 2, 3]\n", encoding="utf-8")
    assert (
        main(["convert", str(src), "--config", str(bad), "--out", str(tmp_path / "y.safetensors")])
        == 2
    )
    assert "widht" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "y.safetensors")
