# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0

r"""Checkpoints: weights in safetensors plus a JSON model card. Loading never unpickles.

    python -c "from mmed_core.deploy.checkpoint import load_checkpoint; \
        m, card = load_checkpoint('runs/demo/best.safetensors'); print(card['config'])"

``x.safetensors`` holds the tensors; ``x.json`` beside it (the model card) holds the config,
class names, palette, depth range/units, dataset, method, metrics and the sha256 of the
weights file, verified on every load. ``load_checkpoint`` rebuilds the model from these two
files alone.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import safetensors.torch
import torch
from safetensors import SafetensorError

from mmed_core.atomic import atomic_path
from mmed_core.errors import CheckpointError, ConfigError
from mmed_core.network.base import MultiModalModel
from mmed_core.network.config import ModelConfig
from mmed_core.network.factory import create_model

__all__ = [
    "save_checkpoint",
    "load_checkpoint",
    "load_weights_into",
    "read_card",
    "checkpoint_paths",
    "CARD_FORMAT",
    "ARCHITECTURE_KEYS",
    "SHIPPED_MODEL",
    "shipped_model",
]

CARD_FORMAT = "mmed-model-card/1"
#: The ModelConfig fields a checkpoint must share with a model to initialise it
#: (``load_weights_into``): they fix the tensors and what the outputs mean. The dataset, palette,
#: depth range/units and init_std may differ (fine-tuning on other data).
ARCHITECTURE_KEYS = (
    "method",
    "modalities",
    "targets",
    "widths",
    "latent_channels",
    "skip_modalities",
    "class_names",
    "input_size",
    "mae_grid",
    "mae_hidden",
    "mae_latent",
)
_PICKLE_SUFFIXES = (".pt", ".pth", ".ckpt", ".bin", ".pkl", ".tar")


def checkpoint_paths(path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """(weights, card) for ``x``, ``x.safetensors`` or ``x.json``."""
    p = Path(path)
    if p.suffix.lower() in _PICKLE_SUFFIXES:
        raise CheckpointError(
            f"{p}: pickled PyTorch files ({p.suffix}) are refused because loading them can run "
            "arbitrary code. Convert it once, from a source you trust, with "
            f"`mmed-export convert {p} --config CONFIG.yaml --out model.safetensors` "
            "(it uses torch.load(weights_only=True))."
        )
    stem = p.with_suffix("") if p.suffix in (".safetensors", ".json") else p
    return stem.with_suffix(".safetensors"), stem.with_suffix(".json")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_checkpoint(
    path: str | os.PathLike[str], model: MultiModalModel, **extras: Any
) -> dict[str, Any]:
    """Write ``path`` (.safetensors) and its model card atomically; return the card.

    ``extras`` (dataset, metrics, epoch, ...) are stored in the card as given (JSON types).
    """
    weights, card_path = checkpoint_paths(path)
    config: ModelConfig = model.config
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    # Both files are written in full before either is renamed into place, and the two renames
    # come back to back: a crash or a full disk while writing leaves the previous pair, never new
    # weights beside an old card (which load_checkpoint would refuse by its sha256).
    with atomic_path(card_path) as card_tmp, atomic_path(weights) as tmp:
        # Through the module, not a copied name: the fault tests replace save_file there.
        safetensors.torch.save_file(
            tensors, str(tmp), metadata={"format": CARD_FORMAT, "card": card_path.name}
        )
        card = _card(config, weights.name, _sha256(tmp), len(tensors), extras)
        card_tmp.write_bytes((json.dumps(card, indent=2) + "\n").encode("utf-8"))
    return card


def _card(
    config: ModelConfig, weights_name: str, sha256: str, num_tensors: int, extras: dict[str, Any]
) -> dict[str, Any]:
    return {
        "format": CARD_FORMAT,
        "method": config.method,
        "dataset": config.dataset,
        "class_names": list(config.class_names),
        "palette": [list(c) for c in config.palette],
        "depth_range": list(config.depth_range),
        "depth_units": config.depth_units,
        "input_size": list(config.input_size),
        "paths": [list(p) for p in config.paths()],
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "torch_version": torch.__version__,
        **extras,
        "config": config.to_dict(),
        "weights": {"file": weights_name, "sha256": sha256, "num_tensors": num_tensors},
    }


def read_format_json(path: Path, fmt: str, what: str, missing: str) -> dict[str, Any]:
    """A JSON object whose "format" is ``fmt``, or CheckpointError naming ``path`` and the fault
    (``missing``: the message when the file does not exist)."""
    if not path.is_file():
        raise CheckpointError(f"{path}: {missing}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: not a readable JSON {what} ({exc})") from exc
    if not isinstance(data, dict) or data.get("format") != fmt:
        got = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise CheckpointError(f"{path}: expected format {fmt!r}, got {got!r}")
    return data


def read_card(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check a model card (no weights are loaded)."""
    _, card_path = checkpoint_paths(path)
    card = read_format_json(
        card_path,
        CARD_FORMAT,
        "model card",
        "model card not found (expected next to the .safetensors file)",
    )
    for key in ("config", "weights"):
        if not isinstance(card.get(key), dict):
            raise CheckpointError(
                f"{card_path}: model card lacks the `{key}` entry (expected a "
                f"mapping, got {type(card.get(key)).__name__})"
            )
    return card


def load_checkpoint(
    path: str | os.PathLike[str],
    map_location: str | torch.device = "cpu",
    expect: ModelConfig | None = None,
) -> tuple[MultiModalModel, dict[str, Any]]:
    """Rebuild the model from ``path`` alone; returns (model in eval mode, card).

    The weights' sha256 must match the card, and every tensor's name, shape and dtype must match
    the config. ``expect`` (optional) must equal the stored config, e.g. when resuming.
    """
    weights, card_path = checkpoint_paths(path)
    if not weights.is_file():  # before the card: a wrong path is a missing .safetensors
        raise CheckpointError(
            f"{weights}: weights file not found"
            + (f" (its card {card_path.name} exists)" if card_path.is_file() else "")
        )
    card = read_card(path)
    digest = _sha256(weights)
    if digest != card["weights"].get("sha256"):
        raise CheckpointError(
            f"{weights}: sha256 {digest[:12]}... does not match the card's "
            f"{str(card['weights'].get('sha256'))[:12]}...; the file was modified or "
            "belongs to another card"
        )
    try:
        config = ModelConfig.from_dict(card["config"])
    except (ConfigError, TypeError, ValueError) as exc:  # any JSON value may sit in any field
        raise CheckpointError(f"{card_path}: invalid config in the model card: {exc}") from exc
    if expect is not None and expect != config:
        diff = {
            k: (v, expect.to_dict()[k])
            for k, v in config.to_dict().items()
            if expect.to_dict()[k] != v
        }
        raise CheckpointError(
            f"{weights}: checkpoint config differs from the expected one "
            f"(key: (checkpoint, expected)): {diff}"
        )
    try:
        tensors = safetensors.torch.load_file(str(weights), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{weights}: not a readable safetensors file ({exc})") from exc
    try:
        # Shapes first, on the meta device: a card describing a huge model must not allocate it.
        with torch.device("meta"):
            wanted = create_model(config).state_dict()
    except (ConfigError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(
            f"{card_path}: the model card's config cannot be built ({exc})"
        ) from exc
    _check_tensors(weights, tensors, wanted)
    model = create_model(config)
    model.load_state_dict(tensors, strict=True)
    return model.to(map_location).eval(), card


def load_weights_into(
    model: MultiModalModel,
    path: str | os.PathLike[str],
    what: str = "checkpoint",
    loaded: tuple[MultiModalModel, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Copy the weights of checkpoint ``path`` into ``model`` (all of them, or none); return the
    checkpoint's card.

    The checkpoint is read and verified by :func:`load_checkpoint` (``loaded``: its result, when
    the caller has it already); its config must agree with ``model.config`` on every
    ``ARCHITECTURE_KEYS`` field and its tensors must match the model's names, shapes and dtypes
    exactly. Every fault is a CheckpointError that starts with ``what`` (e.g. ``train.init``),
    names the file and says what differs.
    """
    if loaded is None:
        try:
            loaded = load_checkpoint(path)
        except CheckpointError as exc:
            raise CheckpointError(f"{what}: {exc}") from exc
    source, card = loaded
    weights, card_path = checkpoint_paths(path)
    saved, now = source.config.to_dict(), model.config.to_dict()
    diff = [
        f"{k}: saved {saved[k]!r}, now {now[k]!r}" for k in ARCHITECTURE_KEYS if saved[k] != now[k]
    ]
    if diff:
        raise CheckpointError(
            f"{what}: {weights} holds another model than this run builds; differing key(s) "
            f"(saved in {card_path.name}, now): {'; '.join(diff)}. Give the run the checkpoint's "
            "model settings (model.* and data.size) or another checkpoint"
        )
    tensors = source.state_dict()
    _check_tensors(weights, tensors, model.state_dict(), f"{what}: ", "this run's model")
    with torch.no_grad():
        model.load_state_dict(tensors, strict=True)
    return card


def _check_tensors(
    path: Path,
    got: dict[str, torch.Tensor],
    want: dict[str, torch.Tensor],
    prefix: str = "",
    against: str = "the card's config",
) -> None:
    missing = sorted(set(want) - set(got))
    unexpected = sorted(set(got) - set(want))
    wrong = [
        f"{k}: {tuple(got[k].shape)} {got[k].dtype} != expected {tuple(v.shape)} {v.dtype}"
        for k, v in want.items()
        if k in got and (got[k].shape != v.shape or got[k].dtype != v.dtype)
    ]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing {missing[:5]}{' ...' if len(missing) > 5 else ''}")
        if unexpected:
            parts.append(f"unexpected {unexpected[:5]}{' ...' if len(unexpected) > 5 else ''}")
        if wrong:
            parts.append("mismatched " + "; ".join(wrong[:5]))
        raise CheckpointError(
            f"{prefix}{path}: tensors do not match {against}: " + ", ".join(parts)
        )


# The indoor model the project ships: models/ of a checkout; colcon installs it to
# share/mmed_ros/models/ (the launch files' default weights).
SHIPPED_MODEL = "nyu12-synthetic.safetensors"


def shipped_model() -> Path | None:
    """The shipped indoor model (``models/`` of a checkout, or ``share/mmed_ros/models/`` of a
    colcon or apt install on ``AMENT_PREFIX_PATH``), or None when none holds it with its card."""
    candidates = [Path(__file__).resolve().parents[2] / "models" / SHIPPED_MODEL]
    # The ament index is plain folders: no ROS import needed to look in the installed share.
    for prefix in filter(None, os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep)):
        candidates.append(Path(prefix) / "share" / "mmed_ros" / "models" / SHIPPED_MODEL)
    return next((c for c in candidates if c.is_file() and c.with_suffix(".json").is_file()), None)
