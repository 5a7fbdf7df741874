# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Safe weights: nothing mmed loads can run code, and every loaded tensor is the one the card
names.

    python -m pytest test/test_reliability_weights.py

Complements test_checkpoint.py / test_export.py (round trip, tampering, convert) with the attacks
a user would not think of: a pickle renamed to .safetensors with a matching card, a card that
names another checkpoint's weights, a dtype swap, a pickled object array in the data cache, and
a scan of the whole code base for loaders that unpickle.
"""

from __future__ import annotations

import ast
import json
import pickle
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from mmed_core.deploy.checkpoint import _sha256, checkpoint_paths, load_checkpoint, read_card
from mmed_core.errors import CheckpointError, DatasetError
from mmed_ros.testing import tiny_checkpoint

REPO = Path(__file__).resolve().parents[1]
# Code that ships or runs on a robot / build machine. Tests may load what they just wrote.
SCANNED = ("mmed_core", "mmed_ros", "scripts", "benchmarks", "launch")


class _RunsCode:
    """A pickle payload that creates ``marker`` if it is ever unpickled."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture()
def ckpt(tmp_path: Path) -> Path:
    return tiny_checkpoint(tmp_path / "model.safetensors")


def _fix_card_sha(path: Path) -> None:
    """Make the card agree with whatever is now in the weights file (an attacker can do this)."""
    weights, card_path = checkpoint_paths(path)
    card = json.loads(card_path.read_text())
    card["weights"]["sha256"] = _sha256(weights)
    card_path.write_text(json.dumps(card))


def test_card_records_the_sha256_of_the_weights(ckpt: Path) -> None:
    card = read_card(ckpt)
    assert card["weights"]["sha256"] == _sha256(ckpt)
    assert card["format"] == "mmed-model-card/1" and card["config"]["method"] == "mmed"


def test_weights_of_another_checkpoint_are_refused(tmp_path: Path, ckpt: Path) -> None:
    other = tiny_checkpoint(tmp_path / "other.safetensors", seed=1)
    ckpt.write_bytes(other.read_bytes())  # same config, same names and shapes: only the hash tells
    with pytest.raises(CheckpointError, match="sha256 .* does not match the card"):
        load_checkpoint(ckpt)


def test_a_pickle_renamed_to_safetensors_is_never_unpickled(tmp_path: Path, ckpt: Path) -> None:
    marker = tmp_path / "executed"
    ckpt.write_bytes(pickle.dumps({"w": _RunsCode(str(marker))}))
    _fix_card_sha(ckpt)
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        load_checkpoint(ckpt)
    assert not marker.exists()


def test_tensor_dtypes_are_checked_against_the_config(ckpt: Path) -> None:
    tensors = load_file(str(ckpt))
    name = next(k for k, v in tensors.items() if v.is_floating_point())
    tensors[name] = tensors[name].double()
    save_file(tensors, str(ckpt))
    _fix_card_sha(ckpt)
    with pytest.raises(
        CheckpointError, match=rf"mismatched {re.escape(name)}: .*float64 != expected"
    ):
        load_checkpoint(ckpt)


def test_extra_and_missing_tensors_are_named(ckpt: Path) -> None:
    tensors = load_file(str(ckpt))
    dropped = sorted(tensors)[0]
    del tensors[dropped]
    tensors["decoders.sonar.weight"] = torch.zeros(1)
    save_file(tensors, str(ckpt))
    _fix_card_sha(ckpt)
    with pytest.raises(
        CheckpointError,
        match=rf"missing \['{re.escape(dropped)}'\].*unexpected "
        r"\['decoders.sonar.weight'\]",
    ):
        load_checkpoint(ckpt)


def test_a_card_describing_a_huge_model_is_refused_before_allocating_it(ckpt: Path) -> None:
    # 10^5 channels per layer would be terabytes of parameters; the shapes are compared on the
    # meta device, so this fails in milliseconds instead of exhausting memory.
    card_path = ckpt.with_suffix(".json")
    card = json.loads(card_path.read_text())
    card["config"]["widths"] = [100_000] * len(card["config"]["widths"])
    card_path.write_text(json.dumps(card))
    with pytest.raises(CheckpointError, match="tensors do not match the card's config"):
        load_checkpoint(ckpt)


@pytest.mark.parametrize(
    "entry,value", [("config", None), ("config", [1]), ("weights", 5), ("weights", "x")]
)
def test_a_card_with_a_malformed_entry_is_a_checkpoint_error(
    ckpt: Path, entry: str, value: object
) -> None:
    card_path = ckpt.with_suffix(".json")
    card = json.loads(card_path.read_text())
    card[entry] = value
    card_path.write_text(json.dumps(card))
    with pytest.raises(CheckpointError, match=f"lacks the `{entry}` entry"):
        load_checkpoint(ckpt)


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".PTH", ".ckpt", ".bin", ".pkl"])
def test_pickled_formats_are_refused_with_the_convert_command(tmp_path: Path, suffix: str) -> None:
    marker = tmp_path / "executed"
    path = tmp_path / f"model{suffix}"
    torch.save({"w": _RunsCode(str(marker))}, path)
    with pytest.raises(
        CheckpointError, match=r"refused .*mmed-export convert .*weights_only=True"
    ):
        load_checkpoint(path)
    assert not marker.exists()


def test_resume_state_is_loaded_without_any_unpickling(tmp_path: Path, monkeypatch) -> None:
    from test_train_support import factory, tiny_run

    from mmed_core.training.trainer import train

    out = tmp_path / "run"
    train(tiny_run(out, "train.epochs=1"), dataset_factory=factory)
    calls: list[str] = []

    def refuse(name: str):
        def hook(*args, **kwargs):
            calls.append(name)
            raise AssertionError(f"{name} called while resuming")

        return hook

    for mod, name in ((pickle, "load"), (pickle, "loads"), (torch, "load")):
        monkeypatch.setattr(mod, name, refuse(f"{mod.__name__}.{name}"))
    monkeypatch.setattr(pickle, "Unpickler", refuse("pickle.Unpickler"))
    r = train(tiny_run(out, "train.epochs=2"), dataset_factory=factory, resume=True)
    assert r.epochs_done == 2 and not calls
    # Only JSON and safetensors in the run folder: nothing that a later loader could unpickle.
    assert {p.suffix for p in out.iterdir() if p.is_file()} <= {
        ".json",
        ".safetensors",
        ".yaml",
        ".csv",
    }


def test_tampered_resume_tensors_are_refused(tmp_path: Path) -> None:
    from test_train_support import factory, tiny_run

    from mmed_core.training.trainer import train

    out = tmp_path / "run"
    train(tiny_run(out, "train.epochs=1"), dataset_factory=factory)
    state = json.loads((out / "state.json").read_text())
    tensors = out / state["tensors"]["file"]
    data = bytearray(tensors.read_bytes())
    data[-1] ^= 0xFF
    tensors.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="sha256 does not match state.json"):
        train(tiny_run(out, "train.epochs=2"), dataset_factory=factory, resume=True)


def test_cache_arrays_holding_pickled_objects_are_refused(tmp_path: Path) -> None:
    from mmed_core.data import build_dataset
    from mmed_core.data.cache import load_cache

    opts = {"n_test": 2, "progress": False}
    build_dataset("synthetic", "test", size=(8, 8), cache_dir=tmp_path, options=opts)
    folder = tmp_path / "synthetic-test"
    marker = tmp_path / "executed"
    evil = np.empty((2, 8, 8), dtype=object)
    evil[0, 0, 0] = _RunsCode(str(marker))
    np.save(folder / "label.npy", evil, allow_pickle=True)
    with pytest.raises(DatasetError, match="label.npy: unreadable cache array"):
        load_cache(folder)
    assert not marker.exists()
    # build_dataset notices the damage and rebuilds instead of loading the object array.
    ds = build_dataset("synthetic", "test", size=(8, 8), cache_dir=tmp_path, options=opts)
    assert len(ds) == 2 and not marker.exists()


# ---------------------------------------------------------------------------- code scan
def _calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node, ast.unparse(node.func)


def _kw(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def unsafe_loads(source: str) -> list[str]:
    """Calls that can run code from data: unpickling, eval/exec, unsafe YAML, TorchScript/pickle
    loaders. ``torch.load`` is allowed only with ``weights_only=True``; ``np.load`` only without
    ``allow_pickle=True``."""
    found = []
    for call, func in _calls(ast.parse(source)):
        where = f"line {call.lineno}: {ast.unparse(call)[:80]}"
        if func in (
            "eval",
            "exec",
            "compile",
            "__import__",
            "builtins.eval",
            "builtins.exec",
        ) or re.fullmatch(
            r"(pickle|cPickle|dill|cloudpickle|joblib|marshal|shelve|_pickle)\."
            r"(load|loads|Unpickler|open)",
            func,
        ):
            found.append(where)
        elif func == "torch.load":
            wo = _kw(call, "weights_only")
            if not (isinstance(wo, ast.Constant) and wo.value is True):
                found.append(where)
        elif func in ("torch.jit.load", "jit.load", "torch.package.PackageImporter"):
            found.append(where)
        elif func.endswith("np.load") or func == "numpy.load":
            ap = _kw(call, "allow_pickle")
            if ap is not None and not (isinstance(ap, ast.Constant) and ap.value is False):
                found.append(where)
        elif (
            func
            in (
                "yaml.load",
                "yaml.load_all",
                "yaml.unsafe_load",
                "yaml.full_load",
                "yaml.unsafe_load_all",
                "yaml.full_load_all",
            )
            or func.startswith("subprocess.")
            and isinstance(_kw(call, "shell"), ast.Constant)
            and _kw(call, "shell").value is True
        ):
            found.append(where)
    return found


def test_the_scanner_finds_what_it_looks_for() -> None:
    bad = (
        "import torch, pickle, yaml, numpy as np\n"
        "torch.load(f)\ntorch.load(f, weights_only=False)\npickle.loads(b)\neval(s)\n"
        "yaml.load(t)\nnp.load(p, allow_pickle=True)\ntorch.jit.load(p)\n"
    )
    good = (
        "torch.load(f, weights_only=True)\nnp.load(p, mmap_mode='r')\nyaml.safe_load(t)\n"
        "model.eval()\n"
    )
    assert len(unsafe_loads(bad)) == 7
    assert unsafe_loads(good) == []


def test_no_code_in_the_repo_unpickles_or_evaluates_data() -> None:
    found = {}
    for top in SCANNED:
        for path in sorted((REPO / top).rglob("*.py")):
            hits = unsafe_loads(path.read_text(encoding="utf-8"))
            if hits:
                found[str(path.relative_to(REPO))] = hits
    # The one allowed torch.load is convert's, with weights_only=True (not reported above).
    assert found == {}, found
    export = (REPO / "mmed_core" / "deploy" / "export.py").read_text(encoding="utf-8")
    assert [f for _, f in _calls(ast.parse(export)) if f == "torch.load"] == ["torch.load"]
