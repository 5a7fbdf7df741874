# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""Export a checkpoint to TorchScript / ONNX, and convert legacy pickled weights to safetensors.

    mmed-export onnx runs/demo/best.safetensors --out exported/rgb.onnx --paths rgb:label,rgb:depth
    mmed-export torchscript runs/demo/best.safetensors --out exported/rgb.ts
    mmed-export convert old.pth --config model.yaml --out model.safetensors

Exports compute fixed paths (:class:`~mmed_core.deploy.backends.FixedPaths`) from *network-unit*
inputs, one per source, named after the source modality (rgb: float32 (B,3,H,W) in [0, 255];
depth: (B,1,H,W) normalised to [0, 255] over the card's depth range; label: (B,K,H,W) one-hot),
and return raw network outputs at the input size (label: logits; depth: [0, 255] units), named
``<source>_<target>``. The model card is copied beside the export as ``<out>.json`` with an
``export`` entry saying all that, and the export is checked against eager before it is written.

``convert`` reads the old file with ``torch.load(weights_only=True)`` and nothing else, so a
pickle that would run code is refused rather than executed.
"""

from __future__ import annotations

import copy
import datetime as _dt
import hashlib
import json
import os
import pickle
import re
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
import yaml

from mmed_core.atomic import atomic_path, atomic_write_bytes, atomic_write_json
from mmed_core.deploy.backends import (
    FixedPaths,
    check_close,
    example_inputs,
    onnx_bytes,
    onnx_function,
    output_names,
    trace,
)
from mmed_core.deploy.checkpoint import load_checkpoint, save_checkpoint
from mmed_core.errors import CheckpointError, ConfigError
from mmed_core.network.base import MultiModalModel
from mmed_core.network.config import PRESETS, ModelConfig
from mmed_core.network.factory import create_model
from mmed_core.network.modalities import get_modality

__all__ = [
    "FORMATS",
    "DEFAULT_PATHS",
    "parse_paths",
    "export_model",
    "export_checkpoint",
    "load_model_config",
    "convert_state_dict",
    "describe_export",
]

FORMATS: tuple[str, ...] = ("torchscript", "onnx")
#: The robot's usual job: one RGB camera, labels and depth from one shared encoding.
DEFAULT_PATHS: tuple[tuple[str, str], ...] = (("rgb", "label"), ("rgb", "depth"))


def parse_paths(text: str) -> tuple[tuple[str, str], ...]:
    """'rgb:label,rgb:depth' (or rgb->label) -> (("rgb", "label"), ("rgb", "depth"))."""
    out = []
    for item in filter(None, (t.strip() for t in text.split(","))):
        parts = item.replace("->", ":").split(":")
        if len(parts) != 2 or not all(parts):
            raise ConfigError(
                f"paths: expected 'src:dst[,src:dst...]' such as 'rgb:label,rgb:depth', "
                f"got item {item!r}"
            )
        out.append((parts[0], parts[1]))
    if not out:
        raise ConfigError(f"paths: expected at least one 'src:dst', got {text!r}")
    return tuple(out)


def export_model(
    model: MultiModalModel,
    fmt: str,
    out: str | os.PathLike[str],
    paths: Iterable[tuple[str, str]] = DEFAULT_PATHS,
    *,
    batch: int = 1,
    card: Mapping[str, Any] | None = None,
    opset: int = 17,
) -> dict[str, Any]:
    """Write ``model``'s ``paths`` as ``fmt`` to ``out`` and its card to ``<out>.json``.

    The export is run on a random input and compared with eager first (ExportError if it
    disagrees). Returns the card written.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"format: expected one of {list(FORMATS)}, got {fmt!r}")
    if batch < 1:
        raise ConfigError(f"batch: expected >= 1, got {batch}")
    model = copy.deepcopy(model).to("cpu", torch.float32).eval()  # leave the caller's model as is
    fixed = FixedPaths(model, paths).eval()
    example = example_inputs(fixed.config, fixed.sources, batch)
    with torch.no_grad():
        want = fixed(*example)
    out = Path(out)
    if fmt == "torchscript":
        scripted = trace(fixed, example)
        check_close("torchscript", scripted(*example), want, fixed.paths)
        with atomic_path(out) as tmp, warnings.catch_warnings():
            warnings.simplefilter(
                "ignore", DeprecationWarning
            )  # torch 2.13 deprecates TorchScript
            torch.jit.save(scripted, str(tmp))
    else:
        data = onnx_bytes(fixed, example, opset=opset)
        run = onnx_function(data, fixed.sources, torch.device("cpu"))
        check_close("onnxruntime", run(*example), want, fixed.paths)
        atomic_write_bytes(out, data)
    h, w = fixed.config.input_size
    new_card = dict(card or {})
    new_card["export"] = {
        "format": fmt,
        "file": out.name,
        "sha256": hashlib.sha256(out.read_bytes()).hexdigest(),
        "paths": [list(p) for p in fixed.paths],
        "inputs": {s: [batch, _channels(fixed, s), h, w] for s in fixed.sources},
        "outputs": {
            name: [batch, _channels(fixed, d), h, w]
            for name, (_, d) in zip(output_names(fixed.paths), fixed.paths)
        },
        "units": "network units: inputs as mmed_core.network.modalities.prepare_inputs gives "
        "them; outputs before postprocess (label: logits, depth: [0, 255] over depth_range)",
        "opset": opset if fmt == "onnx" else None,
        "torch_version": torch.__version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if "config" not in new_card:
        new_card["config"] = fixed.config.to_dict()
    atomic_write_json(Path(str(out) + ".json"), new_card)
    return new_card


def _channels(fixed: FixedPaths, name: str) -> int:

    return get_modality(name).num_channels(fixed.config)


def export_checkpoint(
    checkpoint: str | os.PathLike[str],
    fmt: str,
    out: str | os.PathLike[str],
    paths: Iterable[tuple[str, str]] = DEFAULT_PATHS,
    **kw: Any,
) -> dict[str, Any]:
    """:func:`export_model` of a checkpoint (x.safetensors + x.json); the card travels along."""
    model, card = load_checkpoint(checkpoint)
    card = {
        **card,
        "source_checkpoint": {"file": Path(checkpoint).name, "sha256": card["weights"]["sha256"]},
    }
    return export_model(model, fmt, out, paths, card=card, **kw)


# ---------------------------------------------------------------------------- convert
def load_model_config(path: str | os.PathLike[str]) -> ModelConfig:
    """A ModelConfig from YAML/JSON: its fields at top level (``preset: small`` allowed), a
    training config's ``model`` section, or a model card's ``config`` entry."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))  # YAML is a superset of JSON
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{p}: not a readable YAML/JSON model config ({exc})") from exc
    if not isinstance(data, dict):
        raise ConfigError(
            f"{p}: expected a mapping of ModelConfig fields, got {type(data).__name__}"
        )
    for key in ("config", "model"):  # a model card / a training config
        if isinstance(data.get(key), dict):
            data = data[key]
            break
    data = dict(data)
    preset = data.pop("preset", None)
    if preset is not None and preset not in PRESETS:
        raise ConfigError(f"{p}: wrong preset `{preset}`, supported: {list(PRESETS)}")
    try:
        return ModelConfig.from_dict({**(PRESETS[preset] if preset else {}), **data})
    except ConfigError as exc:
        raise ConfigError(f"{p}: {exc}") from exc


def _state_dict_of(obj: Any, src: Path) -> dict[str, torch.Tensor]:
    """The tensors of a loaded file: a state dict, or one under a usual key; DDP's ``module.``
    prefix is dropped."""
    if isinstance(obj, dict):
        for key in ("state_dict", "model_state_dict", "model"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not obj or not all(torch.is_tensor(v) for v in obj.values()):
        kind = (
            type(obj).__name__
            if not isinstance(obj, dict)
            else f"dict with keys {sorted(map(str, obj))[:6]}"
        )
        raise CheckpointError(
            f"{src}: expected a state dict (name -> tensor), or one under "
            f"'state_dict'/'model_state_dict'/'model', got {kind}"
        )
    keys = list(obj)
    if all(k.startswith("module.") for k in keys):  # saved from a DDP-wrapped model
        obj = {k[len("module.") :]: v for k, v in obj.items()}
    return obj


def convert_state_dict(
    src: str | os.PathLike[str],
    config: ModelConfig | str | os.PathLike[str],
    out: str | os.PathLike[str],
    **extras: Any,
) -> dict[str, Any]:
    """Legacy ``.pt/.pth`` state dict + ModelConfig -> ``out`` (.safetensors) + model card.

    Only ``torch.load(weights_only=True)`` reads ``src``: a file that needs arbitrary
    unpickling is refused with CheckpointError, never executed.
    """

    src = Path(src)
    cfg = config if isinstance(config, ModelConfig) else load_model_config(config)
    if not src.is_file():
        raise CheckpointError(f"{src}: file not found")
    try:
        obj = torch.load(src, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # torch's message goes on to explain how to load it unsafely; keep only what it found.
        found = re.search(r"GLOBAL (\S+)", str(exc))
        raise CheckpointError(
            f"{src}: refused: not a weights-only file "
            "(loading it would need arbitrary unpickling, "
            f"which can run code{'; it names ' + found.group(1) if found else ''}). "
            "Re-save only the state dict from a trusted environment: "
            "torch.save(model.state_dict(), 'weights.pth')"
        ) from exc
    except (RuntimeError, OSError, EOFError, ValueError) as exc:
        raise CheckpointError(f"{src}: not a readable PyTorch file ({exc})") from exc
    tensors = _state_dict_of(obj, src)
    model = create_model(cfg)
    want = model.state_dict()
    missing, unexpected = sorted(set(want) - set(tensors)), sorted(set(tensors) - set(want))
    wrong = [
        f"{k}: {tuple(tensors[k].shape)} != {tuple(v.shape)}"
        for k, v in want.items()
        if k in tensors and tensors[k].shape != v.shape
    ]
    if missing or unexpected or wrong:
        raise CheckpointError(
            f"{src}: weights do not match the config (method={cfg.method}, "
            f"widths={list(cfg.widths)}): missing {missing[:5]}, unexpected "
            f"{unexpected[:5]}, wrong shapes {wrong[:5]}"
        )
    model.load_state_dict({k: tensors[k].to(want[k].dtype) for k in want}, strict=True)
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    return save_checkpoint(
        out, model, converted_from={"file": src.name, "sha256": digest}, **extras
    )


def describe_export(card_path: str | os.PathLike[str]) -> str:
    """One line about an export's card (the CLI prints it)."""
    card = json.loads(Path(card_path).read_text(encoding="utf-8"))
    e = card.get("export", {})
    return (
        f"{e.get('format')} {e.get('file')}: paths "
        f"{','.join(f'{s}->{d}' for s, d in e.get('paths', []))}, inputs {e.get('inputs')}"
    )
