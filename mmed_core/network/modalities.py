# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""The modality registry: how each modality enters the network, is decoded, and is scored.

    python -c "from mmed_core.network.modalities import MODALITIES; print(sorted(MODALITIES))"

The network works in *network units* (paper §3.2): RGB in [0, 255], depth normalised linearly
to [0, 255] over the dataset's depth range, labels as K one-hot channels (void pixels all-zero)
in and K logits out. Datasets and users work in *raw units*: RGB float 0..255 (B,3,H,W), depth
in metres or disparity (B,1,H,W, 0 = invalid), labels as ids (B,H,W, 255 = ignore).
``prepare_inputs`` / ``prepare_targets`` / ``postprocess`` convert between the two.

Adding a modality is one :func:`register_modality` call (see ``normals`` below).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from mmed_core.data.classes import IGNORE_INDEX
from mmed_core.errors import ConfigError, InputError

if TYPE_CHECKING:
    from mmed_core.network.config import ModelConfig

__all__ = [
    "Modality",
    "MODALITIES",
    "register_modality",
    "get_modality",
    "prepare_inputs",
    "prepare_targets",
    "postprocess",
    "normalize_depth",
    "denormalize_depth",
]


def normalize_depth(depth: torch.Tensor, depth_range: tuple[float, float]) -> torch.Tensor:
    """Raw depth -> [0, 255]; invalid (<= 0 or non-finite) pixels map to 0."""
    lo, hi = depth_range
    valid = torch.isfinite(depth) & (depth > 0)
    out = (depth.clamp(lo, hi) - lo) * (255.0 / (hi - lo))
    return torch.where(valid, out, torch.zeros_like(out))


def denormalize_depth(y: torch.Tensor, depth_range: tuple[float, float]) -> torch.Tensor:
    lo, hi = depth_range
    return y.clamp(0.0, 255.0) * ((hi - lo) / 255.0) + lo


def _l1(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Per-sample mean over valid pixels of the channel-summed L1 distance (paper eqs. 3-4)."""
    err = (pred - target).abs().sum(dim=1) * valid  # (B,H,W)
    n = valid.flatten(1).sum(1).clamp_min(1)
    return err.flatten(1).sum(1) / n


def _ce(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Per-sample pixel cross-entropy over non-void pixels (paper eq. 2)."""
    err = F.cross_entropy(pred, target, reduction="none") * valid
    n = valid.flatten(1).sum(1).clamp_min(1)
    return err.flatten(1).sum(1) / n


@dataclass(frozen=True)
class Modality:
    """One registry entry. ``channels`` is a number or a function of the config (labels: K)."""

    name: str
    channels: int | Callable[[ModelConfig], int]
    loss: str  # "l1" or "ce"
    to_network: Callable[[torch.Tensor, ModelConfig], torch.Tensor]
    to_target: Callable[[torch.Tensor, ModelConfig], tuple[torch.Tensor, torch.Tensor]]
    from_network: Callable[[torch.Tensor, ModelConfig], torch.Tensor]
    raw_channels: int | None = None  # channels of the raw tensor (None: ids map (B,H,W))

    def num_channels(self, config: ModelConfig) -> int:
        return self.channels(config) if callable(self.channels) else int(self.channels)

    def loss_per_sample(
        self, pred: torch.Tensor, raw: torch.Tensor, config: ModelConfig
    ) -> torch.Tensor:
        target, valid = self.to_target(raw, config)
        if pred.shape[-2:] != target.shape[-2:]:
            raise InputError(
                f"`{self.name}` prediction is {tuple(pred.shape[-2:])} but target is "
                f"{tuple(target.shape[-2:])}"
            )
        fn = {"l1": _l1, "ce": _ce}[self.loss]
        return fn(pred, target, valid.to(pred.dtype) if self.loss == "l1" else valid.long())


MODALITIES: dict[str, Modality] = {}


def register_modality(modality: Modality) -> Modality:
    if modality.loss not in ("l1", "ce"):
        raise ConfigError(
            f"Modality `{modality.name}`: loss must be 'l1' or 'ce', got {modality.loss!r}"
        )
    MODALITIES[modality.name] = modality
    return modality


def get_modality(name: str) -> Modality:
    try:
        return MODALITIES[name]
    except KeyError:
        raise ConfigError(f"Unknown modality `{name}`, registered: {sorted(MODALITIES)}") from None


# ---------------------------------------------------------------------------- entries
def _all_valid(x: torch.Tensor) -> torch.Tensor:
    return torch.ones(x.shape[0], *x.shape[2:], dtype=torch.bool, device=x.device)


def _label_to_network(ids: torch.Tensor, config: ModelConfig) -> torch.Tensor:
    if ids.dim() == 4:  # already one-hot / soft labels
        return ids.float()
    k = config.num_classes
    # Ids outside the classes (void 255, and any other id >= k or < 0) encode as all-zero, as the
    # loss and the metrics ignore them; clamping would call them the last class.
    valid = (ids != IGNORE_INDEX) & (ids >= 0) & (ids < k)
    onehot = F.one_hot(torch.where(valid, ids, torch.zeros_like(ids)).long(), k)
    return (onehot * valid.unsqueeze(-1)).permute(0, 3, 1, 2).float()


def _label_to_target(ids: torch.Tensor, config: ModelConfig) -> tuple[torch.Tensor, torch.Tensor]:
    ids = ids.long()
    valid = (ids != IGNORE_INDEX) & (ids >= 0) & (ids < config.num_classes)
    return torch.where(valid, ids, torch.zeros_like(ids)), valid


register_modality(
    Modality(
        name="rgb",
        channels=3,
        raw_channels=3,
        loss="l1",
        to_network=lambda x, c: x.float(),
        to_target=lambda x, c: (x.float(), _all_valid(x)),
        from_network=lambda y, c: y.clamp(0.0, 255.0),
    )
)
register_modality(
    Modality(
        name="depth",
        channels=1,
        raw_channels=1,
        loss="l1",
        to_network=lambda x, c: normalize_depth(x.float(), c.depth_range),
        to_target=lambda x, c: (
            normalize_depth(x.float(), c.depth_range),
            (torch.isfinite(x) & (x > 0)).squeeze(1),
        ),
        from_network=lambda y, c: denormalize_depth(y, c.depth_range),
    )
)
register_modality(
    Modality(
        name="label",
        channels=lambda c: c.num_classes,
        raw_channels=None,
        loss="ce",
        to_network=_label_to_network,
        to_target=_label_to_target,
        from_network=lambda y, c: y.softmax(dim=1),
    )
)
# Surface normals (unit vectors in [-1, 1]^3; all-zero = invalid), the paper's "more encoders and
# decoders can be added": one entry, no other code changes.
register_modality(
    Modality(
        name="normals",
        channels=3,
        raw_channels=3,
        loss="l1",
        to_network=lambda x, c: (x.float() + 1.0) * 127.5,
        to_target=lambda x, c: ((x.float() + 1.0) * 127.5, x.abs().sum(1) > 0),
        from_network=lambda y, c: F.normalize(y / 127.5 - 1.0, dim=1),
    )
)


# ---------------------------------------------------------------------------- batch helpers
def check_raw(name: str, x: torch.Tensor, config: ModelConfig) -> None:
    """Raise InputError unless ``x`` is a plausible raw tensor of modality ``name``."""
    mod = get_modality(name)
    if not isinstance(x, torch.Tensor):
        raise InputError(f"input `{name}` must be a torch.Tensor, got {type(x).__name__}")
    if mod.raw_channels is None:  # ids (B,H,W) or one-hot (B,K,H,W)
        k = config.num_classes
        if not (x.dim() == 3 or (x.dim() == 4 and x.shape[1] == k)):
            raise InputError(
                f"input `{name}` must be ids (B,H,W) or one-hot (B,{k},H,W), "
                f"got shape {tuple(x.shape)}"
            )
    elif x.dim() != 4 or x.shape[1] != mod.raw_channels:
        raise InputError(
            f"input `{name}` must have shape (B,{mod.raw_channels},H,W), got {tuple(x.shape)}"
        )
    if x.is_floating_point() and name != "depth" and not torch.isfinite(x).all():
        raise InputError(f"input `{name}` contains NaN or inf values")


def prepare_inputs(
    raw: Mapping[str, torch.Tensor], config: ModelConfig
) -> dict[str, torch.Tensor]:
    """Raw units -> network units for every given modality."""
    out = {}
    for name, x in raw.items():
        check_raw(name, x, config)
        out[name] = get_modality(name).to_network(x, config)
    return out


def prepare_targets(
    raw: Mapping[str, torch.Tensor], config: ModelConfig
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    return {name: get_modality(name).to_target(x, config) for name, x in raw.items()}


def postprocess(name: str, y: torch.Tensor, config: ModelConfig) -> torch.Tensor:
    """Network output -> raw units (label: class probabilities; depth: dataset units)."""
    return get_modality(name).from_network(y, config)
